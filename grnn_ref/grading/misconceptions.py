"""Known mistakes, detected by comparing a student's outputs with VARIANTS of the reference maths.

Each `Misconception` has an id, a title that names the mistake, a fix (one or two sentences) and a
`variant(check, inputs) -> {output name: array}` that computes what code with exactly that mistake
returns on a case. `diagnose` runs the variants that apply to a check and returns the first one the
student's outputs match (and the correct maths does not). Nothing here reads the student's source.

The maths is re-derived here with switches (knobs) for each mistake. With every knob at its default
the functions below give the contract's results (tests/test_misconceptions.py compares them with
grnn_ref), so a variant differs from the reference by exactly one mistake.

Pure numpy, no imports of the reference: usable in the kernel and in the grader process.

Shape-validity. A mistake can only be seen if the wrong code runs. `h @ W_hh` (not transposed) runs
for the RNN (W_hh is H x H) and, block by block, for the LSTM/GRU (each gate's W_h? is H x H), so
those variants apply to every case. `x @ W_ih` runs only when D == H per block, so that variant
applies only to square cases (the checks include one); on other cases the student's code raises a
shape error, which the check reports with its traceback.
"""
import itertools
from dataclasses import dataclass

import numpy as np

from grnn_ref.grading.cases import GRAD_NAMES, PARAM_NAMES, get_spec
from grnn_ref.grading.compare import compare_outputs, rtol_for


@dataclass(frozen=True)
class Misconception:
    """A known mistake: `title` names it, `fix` says how to correct it."""
    id: str
    title: str
    fix: str
    checks: tuple
    variant: object  # callable(check, inputs) -> dict name -> ndarray, or None if not applicable

    def message(self):
        return f"Likely mistake: {self.title}. How to fix: {self.fix}"


# ============================================================================ the maths, with knobs
def _sig(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))   # stable logistic, same values as 1 / (1 + exp(-a))


_ACT = {"tanh": np.tanh, "sigmoid": _sig, "identity": lambda a: a}


def _dact(name, out):
    if name == "tanh":
        return 1 - out * out
    if name == "sigmoid":
        return out * (1 - out)
    return np.ones_like(out)


class ShapeInvalid(Exception):
    """The mistaken code would raise on this case's shapes: the variant does not apply."""


def _affine(v, W, b, H, transposed=True, bias=True):
    """v W^T + b, or with transposed=False each gate block used as v @ W_k (valid if W_k square)."""
    if transposed:
        out = v @ W.T
    else:
        if W.shape[1] != H:
            raise ShapeInvalid
        G = W.shape[0] // H
        out = np.concatenate([v @ W[k * H:(k + 1) * H] for k in range(G)], axis=1)
    return out + b if bias else out


def _pre(x, h, p, H, kn):
    """Input and hidden pre-activations (B, G*H) each."""
    W_ih, W_hh, b_ih, b_hh = p
    gi = _affine(x, W_ih, b_ih, H, kn.get("W_ih_T", True), kn.get("b_ih", True))
    gh = _affine(h, W_hh, b_hh, H, kn.get("W_hh_T", True), kn.get("b_hh", True))
    return gi, gh


def _blocks(a, order, H):
    """Split (B, G*H) into named gate blocks; `order` is how the (mistaken) code reads them."""
    return {name: a[:, k * H:(k + 1) * H] for k, name in enumerate(order)}


def rnn_step(x, h, p, kn):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh); returns dict with h_next and intermediates."""
    H = p[1].shape[1]
    gi, gh = _pre(x, h, p, H, kn)
    act = kn.get("act", "tanh")
    return {"h_next": _ACT[act](gi + gh), "act": act}


def lstm_step(x, h, c, p, kn):
    """i, f, g, o = sigma, sigma, tanh, sigma of the blocks; c' = f c + i g; h' = o tanh(c')."""
    H = p[1].shape[1]
    gi, gh = _pre(x, h, p, H, kn)
    blk = _blocks(gi + gh, kn.get("order", "ifgo"), H)
    cand = kn.get("cand", "tanh")
    i, f, o = _sig(blk["i"]), _sig(blk["f"]), _sig(blk["o"])
    g = _ACT[cand](blk["g"])
    c_next = f * c + i * g
    cell_act = kn.get("cell_act", "tanh")
    c_for_h = c if kn.get("h_from_c_prev") else c_next
    tc = _ACT[cell_act](c_for_h)
    return {"h_next": o * tc, "c_next": c_next, "i": i, "f": f, "g": g, "o": o, "tc": tc,
            "cand": cand, "cell_act": cell_act}


def gru_step(x, h, p, kn):
    """r, z = sigma(...); n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - z) n + z h."""
    H = p[1].shape[1]
    W_ih, W_hh, b_ih, b_hh = p
    order = kn.get("order", "rzn")
    gi, gh = _pre(x, h, p, H, kn)
    bi, bh = _blocks(gi, order, H), _blocks(gh, order, H)
    r = _sig(bi["r"] + bh["r"])
    z = _sig(bi["z"] + bh["z"])
    k_n = order.index("n")
    W_hn, b_hn = W_hh[k_n * H:(k_n + 1) * H], b_hh[k_n * H:(k_n + 1) * H]
    use_bhh = kn.get("b_hh", True)
    reset = kn.get("reset", "after")
    if reset == "before":      # Cho et al. (2014): r multiplies h before the matrix
        hn = _affine(r * h, W_hn, b_hn, H, kn.get("W_hh_T", True), use_bhh)
    elif reset == "bias_outside":  # r * (W_hn h) + b_hn: b_hn escapes the reset gate
        hn = _affine(h, W_hn, b_hn, H, kn.get("W_hh_T", True), False)
        hn = r * hn + (b_hn if use_bhh else 0)
        reset = "after_nobias"
    elif reset == "none":
        hn = bh["n"]
    else:
        hn = r * bh["n"]
    cand = kn.get("cand", "tanh")
    n = _ACT[cand](bi["n"] + hn)
    if kn.get("z_flip"):       # Chung et al. (2014): h' = (1 - z) h + z n
        h_next = z * n + (1 - z) * h
    else:
        h_next = (1 - z) * n + z * h
    return {"h_next": h_next}


# ------------------------------------------------------------------------------------ backward
def rnn_step_back(x, h, p, dh_next, kn):
    """Gradients of one tanh RNN step, with knobs for the usual mistakes."""
    W_ih, W_hh, _, _ = p
    h_next = rnn_step(x, h, p, {})["h_next"]
    deriv = kn.get("deriv", "output")
    if deriv == "output":
        da = dh_next * (1 - h_next ** 2)
    elif deriv == "none":
        da = dh_next
    elif deriv == "prev":          # tanh' evaluated at the previous state
        da = dh_next * (1 - h ** 2)
    elif deriv == "no_square":     # 1 - h instead of 1 - h**2
        da = dh_next * (1 - h_next)
    dx = da @ W_ih
    dh_prev = da @ W_hh
    if kn.get("dh_prev_T"):
        dh_prev = da @ W_hh.T
    dW_hh = da.T @ (h_next if kn.get("dW_hh_uses_h_next") else h)
    grads = {"dx": dx, "dh_prev": dh_prev, "dW_ih": da.T @ x, "dW_hh": dW_hh,
             "db_ih": da.sum(0), "db_hh": da.sum(0)}
    return grads


def lstm_step_back(x, h, c, p, dh_next, dc_next, kn):
    """Gradients of one LSTM step, with knobs for the usual mistakes."""
    W_ih, W_hh, _, _ = p
    s = lstm_step(x, h, c, p, {})
    i, f, g, o, tc = s["i"], s["f"], s["g"], s["o"], s["tc"]
    dtc = dh_next * o
    if not kn.get("tanh_deriv_c", True):
        dc = dtc
    else:
        dc = dtc * (1 - tc ** 2)
    if not kn.get("dc_from_h", True):
        dc = 0 * dc
    if kn.get("dc_next", True):
        dc = dc + dc_next
    do = dh_next * tc
    di, dg = dc * g, dc * i
    df = dc * c
    dc_prev = dc * f if kn.get("dc_prev_f", True) else dc
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)],
                        axis=1)
    return {"dx": da @ W_ih, "dh_prev": da @ W_hh, "dc_prev": dc_prev, "dW_ih": da.T @ x,
            "dW_hh": da.T @ h, "db_ih": da.sum(0), "db_hh": da.sum(0)}


def gru_step_back(x, h, p, dh_next, kn):
    """Gradients of one GRU step (PyTorch convention), with knobs for the usual mistakes."""
    W_ih, W_hh, b_ih, b_hh = p
    H = h.shape[1]
    gi = x @ W_ih.T + b_ih
    gh = h @ W_hh.T + b_hh
    r = _sig(gi[:, :H] + gh[:, :H])
    z = _sig(gi[:, H:2 * H] + gh[:, H:2 * H])
    hn = gh[:, 2 * H:]
    n = np.tanh(gi[:, 2 * H:] + r * hn)
    dn = dh_next * (1 - z)
    dz = dh_next * (h - n)
    dh_direct = dh_next * z if kn.get("dh_direct", True) else 0 * h
    dan = dn * (1 - n ** 2)              # gradient of n's pre-activation
    dr = dan * hn
    dar = dr * r * (1 - r)
    daz = dz * z * (1 - z)
    dhn = dan * r if kn.get("r_in_dhn", True) else dan
    dgi = np.concatenate([dar, daz, dan], axis=1)
    dgh = np.concatenate([dar, daz, dhn], axis=1)
    return {"dx": dgi @ W_ih, "dh_prev": dgh @ W_hh + dh_direct, "dW_ih": dgi.T @ x,
            "dW_hh": dgh.T @ h, "db_ih": dgi.sum(0), "db_hh": dgh.sum(0)}


# ------------------------------------------------------------------------ sequences (forward)
def _step_fn(kind):
    return {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}[kind]


def seq_forward(kind, inputs, kn, seq_kn=None):
    """hs (and cs) of a sequence, with step knobs `kn` and sequence knobs `seq_kn`:
    carry_h / carry_c (default True: the state of step t feeds step t+1), store ("next" | "prev")."""
    seq_kn = seq_kn or {}
    p = tuple(inputs[n] for n in PARAM_NAMES)
    xs, h0 = inputs["xs"], inputs["h0"]
    c0 = inputs.get("c0")
    step = _step_fn(kind)
    h, c = h0, c0
    hs, cs = [], []
    for t in range(xs.shape[0]):
        h_in = h if seq_kn.get("carry_h", True) else h0
        c_in = c if seq_kn.get("carry_c", True) else c0
        if kind == "lstm":
            out = step(xs[t], h_in, c_in, p, kn)
        else:
            out = step(xs[t], h_in, p, kn)
        if seq_kn.get("store") == "prev":
            hs.append(h_in)
            cs.append(c_in)
        else:
            hs.append(out["h_next"])
            cs.append(out.get("c_next"))
        h, c = out["h_next"], out.get("c_next")
    res = {"hs": np.stack(hs)}
    if kind == "lstm":
        res["cs"] = np.stack(cs)
    return res


def seq_backward(kind, inputs, kn=None, seq_kn=None):
    """dxs, dh0, (dc0), parameter gradients of a sequence (correct forward), with knobs:
    step-backward knobs `kn`; seq_kn: carry_dh / carry_dc (gradient from later steps added),
    upstream ("all" | "last": only dhs[T-1] is used), params ("sum" | "first" | "last")."""
    kn, seq_kn = kn or {}, seq_kn or {}
    p = tuple(inputs[n] for n in PARAM_NAMES)
    xs, h0, dhs = inputs["xs"], inputs["h0"], inputs["dhs"]
    T = xs.shape[0]
    dcs = inputs.get("dcs")
    # the correct forward: the states each step started from
    hs_in, cs_in = [h0], [inputs.get("c0")]
    for t in range(T):
        if kind == "lstm":
            out = lstm_step(xs[t], hs_in[-1], cs_in[-1], p, {})
        else:
            out = _step_fn(kind)(xs[t], hs_in[-1], p, {})
        hs_in.append(out["h_next"])
        cs_in.append(out.get("c_next"))
    dh = np.zeros_like(h0)
    dc = np.zeros_like(h0)
    dxs = np.zeros_like(xs)
    per_step = []
    for t in reversed(range(T)):
        up = dhs[t] if seq_kn.get("upstream", "all") == "all" or t == T - 1 else 0 * dhs[t]
        dh_in = up + dh if seq_kn.get("carry_dh", True) else up
        if kind == "lstm":
            up_c = dcs[t] if dcs is not None else 0 * dh
            dc_in = up_c + dc if seq_kn.get("carry_dc", True) else up_c
            g = lstm_step_back(xs[t], hs_in[t], cs_in[t], p, dh_in, dc_in, kn)
            dc = g["dc_prev"]
        elif kind == "rnn":
            g = rnn_step_back(xs[t], hs_in[t], p, dh_in, kn)
        else:
            g = gru_step_back(xs[t], hs_in[t], p, dh_in, kn)
        dxs[t] = g["dx"]
        dh = g["dh_prev"]
        per_step.append((t, g))
    mode = seq_kn.get("params", "sum")
    res = {"dxs": dxs, "dh0": dh}
    if kind == "lstm":
        res["dc0"] = dc
    for name in GRAD_NAMES:
        if mode == "sum":
            res[name] = sum(g[name] for _, g in per_step)
        else:
            want = 0 if mode == "first" else T - 1
            res[name] = next(g[name] for t, g in per_step if t == want)
    return res


# ============================================================================ outputs by check
def _p(inputs):
    return tuple(inputs[n] for n in PARAM_NAMES)


def forward_outputs(check, inputs, kn=None, seq_kn=None):
    """The forward outputs a check records (h_next/c_next or hs/cs), computed with knobs."""
    spec = get_spec(check)
    kn = kn or {}
    kind = spec.kind
    if spec.family in ("forward", "backward", "trace"):
        return seq_forward(kind, inputs, kn, seq_kn)
    p = _p(inputs)
    if kind == "lstm":
        out = lstm_step(inputs["x"], inputs["h_prev"], inputs["c_prev"], p, kn)
        return {"h_next": out["h_next"], "c_next": out["c_next"]}
    return {"h_next": _step_fn(kind)(inputs["x"], inputs["h_prev"], p, kn)["h_next"]}


def backward_outputs(check, inputs, kn=None, seq_kn=None):
    """Forward outputs (correct) plus gradients computed with knobs, for *_backward checks."""
    spec = get_spec(check)
    kind = spec.kind
    kn = kn or {}
    res = forward_outputs(check, inputs)
    if spec.family == "backward":
        res.update(seq_backward(kind, inputs, kn, seq_kn))
        return res
    p = _p(inputs)
    if kind == "lstm":
        g = lstm_step_back(inputs["x"], inputs["h_prev"], inputs["c_prev"], p,
                           inputs["dh_next"], inputs["dc_next"], kn)
    elif kind == "rnn":
        g = rnn_step_back(inputs["x"], inputs["h_prev"], p, inputs["dh_next"], kn)
    else:
        g = gru_step_back(inputs["x"], inputs["h_prev"], p, inputs["dh_next"], kn)
    res.update({k: v for k, v in g.items()})
    return res


def _transform_grads(check, inputs, fn):
    """Correct outputs with the parameter gradients passed through fn(name, array, H, B)."""
    res = backward_outputs(check, inputs)
    x = inputs.get("x", inputs.get("xs"))
    H = inputs["W_hh"].shape[1]
    B = x.shape[-2]
    out = dict(res)
    for name in GRAD_NAMES:
        out[name] = fn(name, res[name], H, B)
    return out


def _blockwise_T(W, H):
    if W.shape[1] != H:
        raise ShapeInvalid
    G = W.shape[0] // H
    return np.concatenate([W[k * H:(k + 1) * H].T for k in range(G)], axis=0)


# ============================================================================ the catalogue
CATALOG = []

_KINDS = ("rnn", "lstm", "gru")
_FWD = {k: (f"{k}_step_forward", f"{k}_forward") for k in _KINDS}
_BWD = {k: (f"{k}_step_backward", f"{k}_backward") for k in _KINDS}
_ALL = {k: _FWD[k] + _BWD[k] for k in _KINDS}


def _add(id, title, fix, checks, variant):
    CATALOG.append(Misconception(id, title, fix, tuple(checks), variant))


def _fwd_variant(kn=None, seq_kn=None):
    """A forward mistake; on backward checks it shows in the forward outputs they record."""
    def variant(check, inputs):
        return forward_outputs(check, inputs, kn, seq_kn)
    return variant


def _bwd_variant(kn=None, seq_kn=None):
    def variant(check, inputs):
        return backward_outputs(check, inputs, kn, seq_kn)
    return variant


# --- forward mistakes shared by the three cells
for _k in _KINDS:
    _W = "" if _k == "rnn" else " (for each gate's block of W_hh)"
    _add(f"{_k}_W_hh_not_transposed",
         f"W_hh is used without transposing: h_prev @ W_hh instead of h_prev @ W_hh.T{_W}",
         "PyTorch stores weights as (out_features, in_features), so the hidden term is "
         "h_prev @ p.W_hh.T (the same for W_ih: x @ p.W_ih.T).",
         _ALL[_k], _fwd_variant({"W_hh_T": False}))
    _add(f"{_k}_W_ih_not_transposed",
         "W_ih is used without transposing: x @ W_ih instead of x @ W_ih.T",
         "PyTorch stores weights as (out_features, in_features): use x @ p.W_ih.T.",
         _ALL[_k], _fwd_variant({"W_ih_T": False}))
    _add(f"{_k}_no_transpose",
         "neither W_ih nor W_hh is transposed (x @ W_ih + h_prev @ W_hh)",
         "PyTorch stores weights as (out_features, in_features): use x @ p.W_ih.T + h_prev @ p.W_hh.T.",
         _ALL[_k], _fwd_variant({"W_ih_T": False, "W_hh_T": False}))
    _add(f"{_k}_missing_b_hh", "the hidden bias b_hh is missing",
         "PyTorch adds two biases: x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh; add p.b_hh.",
         _ALL[_k], _fwd_variant({"b_hh": False}))
    _add(f"{_k}_missing_b_ih", "the input bias b_ih is missing",
         "PyTorch adds two biases: x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh; add p.b_ih.",
         _ALL[_k], _fwd_variant({"b_ih": False}))
    _add(f"{_k}_missing_biases", "both biases (b_ih and b_hh) are missing",
         "add p.b_ih to the input term and p.b_hh to the hidden term.",
         _ALL[_k], _fwd_variant({"b_ih": False, "b_hh": False}))
    _add(f"{_k}_state_not_carried",
         "the hidden state is not carried between steps: every step starts again from h0",
         "inside the loop, feed the state you just computed into the next step "
         "(h = step(xs[t], h, ...)), not h0.",
         (f"{_k}_forward", f"{_k}_backward"), _fwd_variant(None, {"carry_h": False, "carry_c": False}))
    _add(f"{_k}_stores_previous_state",
         "hs[t] stores the state before step t (h_{t-1}) instead of the new state h_t",
         "store the output of step t: compute h = step(xs[t], h, ...) first, then hs[t] = h.",
         (f"{_k}_forward", f"{_k}_backward"), _fwd_variant(None, {"store": "prev"}))

_add("rnn_sigmoid", "sigmoid is used instead of tanh", "the simple RNN's nonlinearity is tanh: "
     "h_next = np.tanh(a).", _ALL["rnn"], _fwd_variant({"act": "sigmoid"}))
_add("rnn_no_tanh", "the tanh is missing (h_next is the pre-activation)",
     "apply the nonlinearity: h_next = np.tanh(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).",
     _ALL["rnn"], _fwd_variant({"act": "identity"}))

# --- LSTM forward
for _perm in itertools.permutations("ifgo"):
    _order = "".join(_perm)
    if _order == "ifgo":
        continue
    _add(f"lstm_gate_order_{_order}",
         f"the gate blocks are read in the order ({', '.join(_order)}) instead of PyTorch's (i, f, g, o)",
         "rows 0:H of W_ih/W_hh/b are the input gate i, H:2H the forget gate f, 2H:3H the "
         "candidate g, 3H:4H the output gate o.",
         _ALL["lstm"], _fwd_variant({"order": _order}))
_add("lstm_no_cell_tanh", "the tanh on the cell state is missing: h_next = o * c_next",
     "the output is h_next = o * np.tanh(c_next).", _ALL["lstm"], _fwd_variant({"cell_act": "identity"}))
_add("lstm_cell_sigmoid", "sigmoid instead of tanh on the cell state in h_next",
     "the output is h_next = o * np.tanh(c_next).", _ALL["lstm"], _fwd_variant({"cell_act": "sigmoid"}))
_add("lstm_candidate_sigmoid", "sigmoid is used for the candidate g instead of tanh",
     "the candidate is g = np.tanh(...) (values in (-1, 1), so the cell can decrease); only i, f, "
     "o are sigmoids.", _ALL["lstm"], _fwd_variant({"cand": "sigmoid"}))
_add("lstm_candidate_linear", "the candidate g has no tanh",
     "the candidate is g = np.tanh(...) of its pre-activation block.",
     _ALL["lstm"], _fwd_variant({"cand": "identity"}))
_add("lstm_h_from_c_prev", "h_next uses the previous cell state: o * tanh(c_prev)",
     "compute c_next first, then h_next = o * np.tanh(c_next).",
     _ALL["lstm"], _fwd_variant({"h_from_c_prev": True}))
_add("lstm_cell_not_carried",
     "the cell state is not carried between steps: every step starts again from c0",
     "feed the c you just computed into the next step (h, c = step(xs[t], h, c, p)), not c0.",
     ("lstm_forward", "lstm_backward"), _fwd_variant(None, {"carry_c": False}))

# --- GRU forward
for _perm in itertools.permutations("rzn"):
    _order = "".join(_perm)
    if _order == "rzn":
        continue
    _add(f"gru_gate_order_{_order}",
         f"the gate blocks are read in the order ({', '.join(_order)}) instead of PyTorch's (r, z, n)",
         "rows 0:H of W_ih/W_hh/b are the reset gate r, H:2H the update gate z, 2H:3H the "
         "candidate n.", _ALL["gru"], _fwd_variant({"order": _order}))
_add("gru_update_flipped",
     "the update gate is applied the wrong way round: h' = z * n + (1 - z) * h "
     "(Chung et al.'s convention)",
     "PyTorch keeps the old state where z is 1: h_next = (1 - z) * n + z * h_prev.",
     _ALL["gru"], _fwd_variant({"z_flip": True}))
_add("gru_reset_before_matrix",
     "the reset gate is applied before the matrix, (r * h) @ W_hn.T + b_hn (Cho et al. 2014)",
     "PyTorch applies it after: n = tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn)).",
     _ALL["gru"], _fwd_variant({"reset": "before"}))
_add("gru_b_hn_outside_reset",
     "b_hn is added outside the reset gate: r * (h @ W_hn.T) + b_hn",
     "in PyTorch b_hn is inside: n = tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn)).",
     _ALL["gru"], _fwd_variant({"reset": "bias_outside"}))
_add("gru_no_reset", "the reset gate is not used in the candidate",
     "multiply the hidden part of the candidate by r: n = tanh(x @ W_in.T + b_in + "
     "r * (h_prev @ W_hn.T + b_hn)).", _ALL["gru"], _fwd_variant({"reset": "none"}))
_add("gru_candidate_sigmoid", "sigmoid is used for the candidate n instead of tanh",
     "the candidate is n = np.tanh(...); only r and z are sigmoids.",
     _ALL["gru"], _fwd_variant({"cand": "sigmoid"}))
_add("gru_update_flipped_reset_before",
     "two convention mix-ups: the update gate the wrong way round and the reset gate before the matrix",
     "follow PyTorch: n = tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn)) and "
     "h_next = (1 - z) * n + z * h_prev.", _ALL["gru"], _fwd_variant({"z_flip": True, "reset": "before"}))

# --- backward mistakes, one step (they also show in the sequence backward that calls the step)
_add("rnn_no_tanh_derivative", "the tanh derivative is missing: da = dh_next",
     "multiply by tanh'(a) = 1 - h_next**2: da = dh_next * (1 - h_next**2).",
     _BWD["rnn"], _bwd_variant({"deriv": "none"}))
_add("rnn_derivative_of_h_prev", "tanh' is evaluated at h_prev: da = dh_next * (1 - h_prev**2)",
     "the derivative belongs to this step's output: da = dh_next * (1 - h_next**2).",
     _BWD["rnn"], _bwd_variant({"deriv": "prev"}))
_add("rnn_derivative_not_squared", "tanh' is written 1 - h instead of 1 - h**2",
     "d tanh(a)/da = 1 - tanh(a)**2: da = dh_next * (1 - h_next**2).",
     _BWD["rnn"], _bwd_variant({"deriv": "no_square"}))
_add("rnn_dh_prev_transposed", "dh_prev is computed with W_hh.T: da @ W_hh.T",
     "h_prev entered as h_prev @ W_hh.T, so its gradient is da @ p.W_hh.",
     _BWD["rnn"], _bwd_variant({"dh_prev_T": True}))
_add("rnn_dW_hh_uses_h_next", "dW_hh is computed from h_next instead of h_prev",
     "W_hh multiplied h_prev in the forward: dW_hh = da.T @ h_prev.",
     _BWD["rnn"], _bwd_variant({"dW_hh_uses_h_next": True}))
_add("lstm_dc_ignores_dh", "the cell gradient ignores the path through h_next: dc = dc_next only",
     "c_next also reaches the loss through h_next = o * tanh(c_next): "
     "dc = dc_next + dh_next * o * (1 - tanh(c_next)**2).",
     _BWD["lstm"], _bwd_variant({"dc_from_h": False}))
_add("lstm_dc_ignores_dc_next", "the upstream cell gradient dc_next is dropped",
     "add the gradient arriving at c_next: dc = dc_next + dh_next * o * (1 - tanh(c_next)**2).",
     ("lstm_step_backward",), _bwd_variant({"dc_next": False}))
_add("lstm_no_tanh_derivative_c", "the derivative of tanh(c_next) is missing in dc",
     "dc = dc_next + dh_next * o * (1 - tanh(c_next)**2).",
     _BWD["lstm"], _bwd_variant({"tanh_deriv_c": False}))
_add("lstm_dc_prev_without_f", "dc_prev is not multiplied by the forget gate",
     "c_next = f * c_prev + i * g, so dc_prev = dc * f.",
     _BWD["lstm"], _bwd_variant({"dc_prev_f": False}))
_add("gru_no_direct_path", "dh_prev misses the direct path z * dh_next",
     "h_prev enters h_next = (1 - z) * n + z * h_prev directly: add dh_next * z to dh_prev.",
     _BWD["gru"], _bwd_variant({"dh_direct": False}))
_add("gru_no_r_in_dhn", "the gradient of W_hn h + b_hn forgets the reset gate",
     "n's pre-activation holds r * (W_hn h + b_hn): its gradient there is da_n * r.",
     _BWD["gru"], _bwd_variant({"r_in_dhn": False}))

for _k in _KINDS:
    _add(f"{_k}_dW_hh_transposed", "dW_hh is transposed (h_prev.T @ da instead of da.T @ h_prev)",
         "a weight of shape (out, in) gets da.T @ input, of the same shape (out, in).",
         _BWD[_k], lambda check, inputs: _transform_grads(
             check, inputs, lambda n, g, H, B: _blockwise_T(g, H) if n == "dW_hh" else g))
    _add(f"{_k}_grads_averaged", "the parameter gradients are averaged over the batch",
         "the loss is a sum over the batch, so sum the gradients over the batch axis (no / B).",
         _BWD[_k], lambda check, inputs: _transform_grads(check, inputs, lambda n, g, H, B: g / B))
    _add(f"{_k}_db_hh_missing", "the gradient of b_hh is zero (b_hh's gradient is missing)",
         "both biases are added to the pre-activation, so db_hh gets the same sum of da as db_ih.",
         _BWD[_k], lambda check, inputs: _transform_grads(
             check, inputs, lambda n, g, H, B: 0 * g if n == "db_hh" else g))
    # sequence backward (BPTT)
    _add(f"{_k}_bptt_no_carry",
         "BPTT drops the gradient from later steps: each step gets only dhs[t]",
         "keep a running gradient dh: at step t call the step backward with dhs[t] + dh, where dh "
         "is the dh_prev returned by step t+1.",
         (f"{_k}_backward",), _bwd_variant(None, {"carry_dh": False, "carry_dc": False}))
    _add(f"{_k}_bptt_last_only",
         "BPTT uses only the last step's upstream gradient dhs[T-1] (the other dhs[t] are ignored)",
         "every output hs[t] receives its own upstream gradient: at step t use dhs[t] + dh.",
         (f"{_k}_backward",), _bwd_variant(None, {"upstream": "last"}))
    _add(f"{_k}_params_not_summed_first",
         "the parameter gradients are not summed over time: only the first step's (t = 0) remain "
         "(overwritten in the loop)",
         "the same weights are used at every step, so add each step's dp into running totals "
         "(dW_ih += ..., and so on) instead of assigning.",
         (f"{_k}_backward",), _bwd_variant(None, {"params": "first"}))
    _add(f"{_k}_params_not_summed_last",
         "the parameter gradients are not summed over time: only the last step's (t = T-1) remain",
         "the same weights are used at every step, so add each step's dp into running totals.",
         (f"{_k}_backward",), _bwd_variant(None, {"params": "last"}))
_add("lstm_bptt_no_dc_carry",
     "BPTT does not carry the cell-state gradient: dc_prev of step t+1 is dropped",
     "carry dc like dh: at step t use dc = dcs[t] (or 0) + the dc_prev returned by step t+1.",
     ("lstm_backward",), _bwd_variant(None, {"carry_dc": False}))
_add("lstm_bptt_no_dh_carry",
     "BPTT drops the hidden-state gradient from later steps (the cell gradient is carried)",
     "at step t call the step backward with dhs[t] + dh, where dh is step t+1's dh_prev.",
     ("lstm_backward",), _bwd_variant(None, {"carry_dh": False}))

# Outputs a forward mistake is judged on in a backward check: the forward outputs it records.
_FORWARD_NAMES = ("h_next", "c_next", "hs", "cs")


# Checks that share another check's catalogue.
ALIASES = {"torch_lstm_cell": "lstm_step_backward", "lstm_gate_trace": "lstm_forward"}


def for_check(check):
    """The misconceptions that apply to a check, in diagnosis order."""
    check = ALIASES.get(check, check)
    return [m for m in CATALOG if check in m.checks] + [
        m for m in EXTRA if check in m.checks]


# Exercise-specific catalogues (ex02, ex03, ...) register here.
EXTRA = []


def _numgrad(inputs, h=1e-5, mode="central", restore=True, weight=True):
    """Finite differences of L(x) = sum(f(x) * df) with the usual mistakes as knobs."""
    from grnn_ref.grading.cases import numgrad_function
    f = numgrad_function(inputs)
    x = np.array(inputs["x"], dtype=np.float64)
    df = inputs["df"] if weight else np.ones_like(inputs["df"])
    L = lambda: np.sum(f(x) * df)  # noqa: E731
    grad = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        old = x[k]
        x[k] = old + h
        plus = L()
        if mode == "central":
            x[k] = old - h
            minus = L()
            grad[k] = (plus - minus) / (2 * h)
        elif mode == "half":        # (L(x+h) - L(x-h)) / h
            x[k] = old - h
            grad[k] = (plus - L()) / h
        else:                       # one-sided: (L(x+h) - L(x)) / h, or / 2h
            x[k] = old
            grad[k] = (plus - L()) / (2 * h if mode == "forward2h" else h)
        if restore:
            x[k] = old
    return {"dx": grad}


def _extra(id, title, fix, checks, fn):
    EXTRA.append(Misconception(id, title, fix, tuple(checks), fn))


_extra("numgrad_divided_by_h", "the centred difference is divided by h instead of 2h "
       "(your gradient is twice the true one)",
       "(L(x + h) - L(x - h)) spans 2h: divide by 2 * h.", ("numerical_gradient",),
       lambda check, inputs: _numgrad(inputs, mode="half"))
_extra("numgrad_one_sided", "a one-sided difference (L(x + h) - L(x)) / h is used; its error is "
       "of order h, too large for a gradient check",
       "use the centred difference (L(x + h) - L(x - h)) / (2h), whose error is of order h**2.",
       ("numerical_gradient",), lambda check, inputs: _numgrad(inputs, mode="forward"))
_extra("numgrad_one_sided_2h", "a one-sided difference divided by 2h: (L(x + h) - L(x)) / (2h) "
       "(about half the true gradient)",
       "either evaluate L(x - h) for the second term (centred difference) or divide by h; the "
       "centred difference (L(x + h) - L(x - h)) / (2h) is the accurate one.",
       ("numerical_gradient",), lambda check, inputs: _numgrad(inputs, mode="forward2h"))
_extra("numgrad_not_restored", "x is not restored after each perturbation, so later entries are "
       "measured at a shifted point",
       "save old = x[k] before perturbing and set x[k] = old again before moving to the next entry.",
       ("numerical_gradient",), lambda check, inputs: _numgrad(inputs, restore=False))
_extra("numgrad_not_weighted", "the upstream gradient df is ignored: you differentiate sum(f(x)) "
       "instead of sum(f(x) * df)",
       "the scalar to differentiate is L(x) = np.sum(f(x) * df).", ("numerical_gradient",),
       lambda check, inputs: _numgrad(inputs, weight=False))


def diagnose(check, inputs, student_outputs, reference_outputs=None, rtol=None):
    """The Misconception the student's outputs match on this case, or None.

    check: a check name; inputs: the case's inputs (cases.make_inputs); student_outputs: name ->
    array as recorded; reference_outputs: the correct outputs (optional, computed with the knob-free
    maths otherwise). A variant counts only if it differs from the reference on the outputs it is
    judged on, and the student matches it on all of them.
    """
    first = next(iter(inputs.values()))
    dtype = inputs.get("W_ih", first).dtype
    spec = get_spec(check)
    tol = (rtol if rtol is not None else rtol_for(dtype, spec.rtol)) * 10
    candidates = for_check(check)
    if not candidates:
        return None
    if reference_outputs is None:
        reference_outputs = _default_reference(check, inputs)
    for m in candidates:
        try:
            with np.errstate(all="ignore"):
                var = m.variant(check, inputs)
        except ShapeInvalid:
            continue
        if not var:
            continue
        names = [n for n in var if n in reference_outputs]
        if not names:
            continue
        var64 = {n: np.asarray(var[n], dtype=np.float64) for n in names}
        if compare_outputs(var64, reference_outputs, tol, names=names).ok:
            continue  # indistinguishable from the right answer on this case
        if compare_outputs(student_outputs, var64, tol, names=names).ok:
            return m
    return None


def _default_reference(check, inputs):
    spec = get_spec(check)
    if spec.family in ("step_forward", "forward"):
        return forward_outputs(check, inputs)
    if spec.family in ("step_backward", "backward", "torch_cell"):
        return backward_outputs(check, inputs)
    raise ValueError(f"diagnose: give reference_outputs for check {check!r}")


# ---------------------------------------------------------------- ex03
def _jac(h, W, mode="rows"):
    d = 1 - h ** 2
    if mode == "rows":
        return d[:, :, None] * W[None]
    if mode == "cols":       # W diag(d): the derivative scales columns
        return W[None] * d[:, None, :]
    if mode == "transposed":
        return d[:, :, None] * W.T[None]
    if mode == "no_derivative":
        return np.broadcast_to(W, (h.shape[0],) + W.shape).copy()
    if mode == "one_minus_h":
        return (1 - h)[:, :, None] * W[None]


def _jac_norms(hs, W, order="left", norm=2, cumulative=True):
    T, B, H = hs.shape
    P = np.broadcast_to(np.eye(H), (B, H, H))
    out = np.empty((T, B))
    for t in range(T):
        J = _jac(hs[t], W)
        if not cumulative:
            P = J
        else:
            P = J @ P if order == "left" else P @ J
        out[t] = np.linalg.norm(P, ord=norm, axis=(1, 2))
    return out


_J = ("rnn_jacobian",)
_extra("jacobian_W_hh_transposed", "the Jacobian uses W_hh.T: diag(1 - h**2) @ W_hh.T",
       "h_next = tanh(... + h_prev @ W_hh.T), so d h_next / d h_prev = diag(1 - h_next**2) @ W_hh "
       "(row i of W_hh scaled by 1 - h_next[i]**2).", _J,
       lambda c, i: {"J": _jac(i["h_next"], i["W_hh"], "transposed")})
_extra("jacobian_scales_columns", "the tanh derivative scales the columns: W_hh @ diag(1 - h**2)",
       "the derivative belongs to the output index: J[b] = (1 - h_next[b]**2)[:, None] * W_hh.", _J,
       lambda c, i: {"J": _jac(i["h_next"], i["W_hh"], "cols")})
_extra("jacobian_no_derivative", "the tanh derivative is missing: J = W_hh",
       "multiply row i of W_hh by tanh'(a_i) = 1 - h_next[i]**2.", _J,
       lambda c, i: {"J": _jac(i["h_next"], i["W_hh"], "no_derivative")})
_extra("jacobian_one_minus_h", "tanh' is written 1 - h instead of 1 - h**2",
       "d tanh(a)/da = 1 - tanh(a)**2.", _J,
       lambda c, i: {"J": _jac(i["h_next"], i["W_hh"], "one_minus_h")})
_N = ("jacobian_norms",)
_extra("norms_product_reversed", "the Jacobians are multiplied in the wrong order (J_0 J_1 ... J_t)",
       "the chain rule puts the latest step on the left: P_t = J_t @ P_{t-1}.", _N,
       lambda c, i: {"norms": _jac_norms(i["hs"], i["W_hh"], order="right")})
_extra("norms_frobenius", "the Frobenius norm is used instead of the spectral norm",
       "use the largest singular value: np.linalg.norm(P, ord=2, axis=(1, 2)).", _N,
       lambda c, i: {"norms": _jac_norms(i["hs"], i["W_hh"], norm="fro")})
_extra("norms_not_cumulative", "each step's Jacobian is measured alone instead of the product "
       "over all steps so far", "keep a running product P = J_t @ P and take the norm of P.", _N,
       lambda c, i: {"norms": _jac_norms(i["hs"], i["W_hh"], cumulative=False)})
_Bd = ("gradient_bound",)
_extra("bound_off_by_one", "the exponent is t instead of t + 1 (bound[0] should be sigma_max, "
       "one step)", "after t + 1 steps the bound is sigma_max(W_hh) ** (t + 1).", _Bd,
       lambda c, i: {"bound": np.linalg.norm(i["W_hh"], 2) ** np.arange(int(i["T"]))})
_extra("bound_frobenius", "the Frobenius norm of W_hh is used instead of its largest singular "
       "value", "use sigma_max = np.linalg.norm(W_hh, ord=2).", _Bd,
       lambda c, i: {"bound": np.linalg.norm(i["W_hh"], "fro") ** np.arange(1, int(i["T"]) + 1)})
_extra("bound_spectral_radius", "the spectral radius (largest |eigenvalue|) is used instead of "
       "the largest singular value", "the bound needs the operator norm, sigma_max = "
       "np.linalg.norm(W_hh, ord=2); the spectral radius can be smaller.", _Bd,
       lambda c, i: {"bound": np.max(np.abs(np.linalg.eigvals(i["W_hh"]))) **
                     np.arange(1, int(i["T"]) + 1)})


def _clip_variant(inputs, mode):
    grads = [np.asarray(inputs[n], dtype=np.float64) for n in GRAD_NAMES]
    m = float(inputs["max_norm"])
    if mode == "per_array":
        out = [g * min(1.0, m / np.linalg.norm(g)) for g in grads]
    elif mode == "elementwise":
        out = [np.clip(g, -m, m) for g in grads]
    else:  # always rescaled to norm max_norm
        total = np.sqrt(sum(np.sum(g ** 2) for g in grads))
        out = [g * m / total for g in grads]
    return dict(zip(GRAD_NAMES, out))


_C = ("clip_gradients",)
_extra("clip_per_array", "each gradient array is clipped by its own norm",
       "clip by the global norm: total = sqrt(sum of all squared entries of all arrays); if "
       "total > max_norm, multiply every array by max_norm / total.", _C,
       lambda c, i: _clip_variant(i, "per_array"))
_extra("clip_elementwise", "the entries are clipped one by one (np.clip) instead of rescaling by "
       "the norm", "rescale all arrays together by max_norm / total when the global norm total "
       "exceeds max_norm; that keeps the gradient's direction.", _C,
       lambda c, i: _clip_variant(i, "elementwise"))
_extra("clip_always", "the gradients are rescaled even when their norm is already below max_norm",
       "only rescale when total > max_norm (scale = min(1, max_norm / total)).", _C,
       lambda c, i: _clip_variant(i, "always"))


BY_ID = {m.id: m for m in CATALOG + EXTRA}
