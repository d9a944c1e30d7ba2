"""Known mistakes, recognised by comparing a student's outputs with those of code with the mistake.

Each `Misconception` has an id, a title that names the mistake, a fix (one or two sentences) and a
`variant(check, inputs) -> {output name: array}`: the outputs of code with exactly that mistake on
a case. `diagnose` runs the variants that apply to a failed check and returns the first one the
student's outputs match (and the correct outputs do not). Nothing here reads the student's source.

A variant is the reference (grnn_ref.rnn, .lstm, .gru) with one thing changed, where the mistake
is such a change:
    its parameters   gate order, untransposed weights, missing biases: the reference run on
                     changed Params computes what the mistaken code computes (`forward_variant`)
    its outputs      gradients averaged over the batch, transposed, or missing (`gradients_variant`)
    its loop         a sequence loop over the reference's step functions, with the usual loop
                     mistakes as switches (`forward_variant`, `backward_variant`)
Only the mistakes inside a step (a wrong activation, a wrong derivative) have their own maths, as
step functions that the same loops run (`rnn_step`, ..., `gru_step_backward`); with no mistake
selected each gives the reference's result (tests/test_misconceptions.py).

Grader side: it imports the reference, so it is never staged into the grading sandbox.

Shape validity. A mistake can only be seen if the wrong code runs. `h @ W_hh` (not transposed) runs
for the RNN (W_hh is H x H) and, block by block, for the LSTM/GRU (each gate's W_h? is H x H), so
those variants apply to every case. `x @ W_ih` runs only when D == H, so that variant applies only
to square cases (the checks include one): elsewhere it raises ShapeInvalid, as the student's code
raises a shape error, which the check reports with its traceback.
"""
import itertools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from grnn_ref import gru, lstm, rnn
from grnn_ref.grading.cases import GRAD_NAMES, PARAM_NAMES, get_check
from grnn_ref.grading.compare import compare_outputs, rtol_for
from grnn_ref.params import Params


@dataclass(frozen=True)
class Misconception:
    """A known mistake: `title` names it, `fix` says how to correct it."""
    id: str
    title: str
    fix: str
    checks: tuple
    variant: object  # callable(check, inputs) -> dict name -> ndarray

    def message(self):
        return f"Likely mistake: {self.title}. How to fix: {self.fix}"


class ShapeInvalid(Exception):
    """The mistaken code would raise on this case's shapes: the variant does not apply."""


def _catalogue_of(check):
    """The check whose catalogue applies (a Check's diagnose_as: ex07's gate trace uses
    lstm_forward's)."""
    return get_check(check).diagnose_as


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))   # stable logistic, same values as 1 / (1 + exp(-a))


def _identity(a):
    return a


# ================================================================ the reference, step by step
class Step(NamedTuple):
    """One step of a forward pass: its inputs, its outputs and the reference's cache of it."""
    kind: str
    x: np.ndarray
    h_prev: np.ndarray
    c_prev: object       # (B, H) for the LSTM, None for the others
    p: Params
    h_next: np.ndarray
    c_next: object
    cache: object


def reference_step(kind):
    """The reference's step forward as step(x, h_prev, c_prev, p) -> Step (c_prev unused but by
    the LSTM)."""
    def step(x, h_prev, c_prev, p):
        if kind == "lstm":
            h_next, c_next, cache = lstm.lstm_step_forward(x, h_prev, c_prev, p)
        else:
            c_next = None
            h_next, cache = {"rnn": rnn.rnn_step_forward, "gru": gru.gru_step_forward}[kind](
                x, h_prev, p)
        return Step(kind, x, h_prev, c_prev, p, h_next, c_next, cache)
    return step


def reference_step_backward(s, dh_next, dc_next=None):
    """The reference's step backward of Step s: dx, dh_prev (dc_prev) and dW_ih, ..., db_hh."""
    if s.kind == "lstm":
        dx, dh_prev, dc_prev, dp = lstm.lstm_step_backward(dh_next, dc_next, s.cache)
        out = {"dx": dx, "dh_prev": dh_prev, "dc_prev": dc_prev}
    else:
        backward = {"rnn": rnn.rnn_step_backward, "gru": gru.gru_step_backward}[s.kind]
        dx, dh_prev, dp = backward(dh_next, s.cache)
        out = {"dx": dx, "dh_prev": dh_prev}
    out.update(zip(GRAD_NAMES, dp))
    return out


def _params(inputs):
    return Params(*(inputs[n] for n in PARAM_NAMES))


def _shape_of(check):
    """(kind, sequence?) of a check, aliases resolved."""
    spec = get_check(_catalogue_of(check))
    return spec.kind, spec.family in ("forward", "backward")


def _loop(step, inputs, p, carry_h=True, carry_c=True):
    """The Steps of a sequence: step t starts from the state step t-1 returned (from h0/c0 when
    that state is not carried)."""
    h0, c0 = inputs["h0"], inputs.get("c0")
    h, c, steps = h0, c0, []
    for x in inputs["xs"]:
        s = step(x, h if carry_h else h0, c if carry_c else c0, p)
        h, c = s.h_next, s.c_next
        steps.append(s)
    return steps


def _forward_outputs(kind, steps, sequence, store_prev=False):
    """What a check records of a forward pass: h_next (c_next), or hs (cs) of every step."""
    if not sequence:
        s = steps[0]
        return {"h_next": s.h_next, "c_next": s.c_next} if kind == "lstm" else {"h_next": s.h_next}
    hs = np.stack([s.h_prev if store_prev else s.h_next for s in steps])
    if kind != "lstm":
        return {"hs": hs}
    return {"hs": hs, "cs": np.stack([s.c_prev if store_prev else s.c_next for s in steps])}


def forward_variant(step=None, params=None, carry_h=True, carry_c=True, store_prev=False):
    """A variant: the forward outputs of code whose step is `step` (default the reference's), run
    on params(p) instead of p, and whose sequence loop may not carry the hidden state (carry_h) or
    the cell state (carry_c), or may store the state before each step (store_prev).

    On a backward check a forward mistake shows in the forward outputs it records (h_next/c_next
    or hs/cs), so the variant gives those only.
    """
    def variant(check, inputs):
        kind, sequence = _shape_of(check)
        p = _params(inputs) if params is None else params(_params(inputs))
        step_fn = step or reference_step(kind)
        if sequence:
            steps = _loop(step_fn, inputs, p, carry_h, carry_c)
        else:
            steps = [step_fn(inputs["x"], inputs["h_prev"], inputs.get("c_prev"), p)]
        return _forward_outputs(kind, steps, sequence, store_prev)
    variant.forward = True
    return variant


def _cached_steps(check, inputs):
    """The Steps a backward check's case describes: from the cache it passes (the check's
    `caches`), or, for a check without one (ex06's torch cell), from the reference's forward."""
    kind, sequence = _shape_of(check)
    c = get_check(_catalogue_of(check))
    if not hasattr(c, "caches") or c.cache_fields[0] not in inputs:
        p = _params(inputs)
        if sequence:
            return _loop(reference_step(kind), inputs, p)
        return [reference_step(kind)(inputs["x"], inputs["h_prev"], inputs.get("c_prev"), p)]
    caches = c.caches(inputs)
    steps = []
    for cache in (caches if sequence else [caches]):
        c_prev = c_next = None
        if kind == "rnn":
            h_next = cache.h_next
        elif kind == "lstm":
            c_prev, c_next = cache.c_prev, cache.f * cache.c_prev + cache.i * cache.g
            h_next = cache.o * cache.tanh_c
        else:
            h_next = (1 - cache.z) * cache.n + cache.z * cache.h_prev
        steps.append(Step(kind, cache.x, cache.h_prev, c_prev, cache.p, h_next, c_next, cache))
    return steps


def backward_variant(step_backward=None, carry_dh=True, carry_dc=True, last_upstream_only=False,
                     param_grads="sum", use_dcs=True):
    """A variant: the gradients a backward check records, from code whose step backward is
    `step_backward(Step, dh_next, dc_next)` (default the reference's), and whose BPTT loop may not
    carry dh or dc from step t+1 to step t (carry_dh, carry_dc), may use only the last upstream
    gradient dhs[T-1], and may keep only the parameter gradients of the "first" or "last" step
    instead of their "sum", or may ignore the upstream cell gradients dcs (`use_dcs`). The steps
    are those of the case's cache (`_cached_steps`).
    """
    def variant(check, inputs):
        kind, sequence = _shape_of(check)
        back = step_backward or reference_step_backward
        steps = _cached_steps(check, inputs)
        if not sequence:
            return back(steps[0], inputs["dh_next"], inputs.get("dc_next"))
        dhs, dcs, T = inputs["dhs"], inputs.get("dcs") if use_dcs else None, len(steps)
        dh = np.zeros_like(dhs[0])     # flowing back into h_t from step t+1
        dc = np.zeros_like(dhs[0])     # flowing back into c_t from step t+1 (LSTM)
        dxs, grads = [None] * T, [None] * T
        for t in reversed(range(T)):
            upstream = dhs[t] if t == T - 1 or not last_upstream_only else np.zeros_like(dh)
            dc_in = None
            if kind == "lstm":
                dc_upstream = np.zeros_like(dh) if dcs is None else dcs[t]
                dc_in = dc_upstream + dc if carry_dc else dc_upstream
            grads[t] = back(steps[t], upstream + dh if carry_dh else upstream, dc_in)
            dxs[t], dh, dc = grads[t]["dx"], grads[t]["dh_prev"], grads[t].get("dc_prev")
        out = {"dxs": np.stack(dxs), "dh0": dh}
        if kind == "lstm":
            out["dc0"] = dc
        kept = {"sum": grads, "first": grads[:1], "last": grads[-1:]}[param_grads]
        for name in GRAD_NAMES:
            out[name] = sum(g[name] for g in reversed(kept))
        return out
    return variant


def gradients_variant(change):
    """A variant: the reference's outputs of a backward check with the parameter gradients
    replaced by change(grads, B, H) (a dict of the gradients it changes)."""
    def variant(check, inputs):
        out = backward_variant()(check, inputs)
        B = inputs["x"].shape[-2]
        return {**out, **change({n: out[n] for n in GRAD_NAMES}, B, inputs["W_hh"].shape[1])}
    return variant


# ================================================================ mistakes in the parameters
def _blocks(a, H):
    """The gate blocks of a parameter array (rows k*H:(k+1)*H belong to gate k)."""
    return [a[k * H:(k + 1) * H] for k in range(len(a) // H)]


def _gate_params(p, k):
    """The Params of gate block k alone (W_ih (H, D), W_hh (H, H), b_ih (H,), b_hh (H,))."""
    return Params(*(_blocks(a, p.W_hh.shape[1])[k] for a in p))


def gate_order(order, pytorch_order):
    """Code that reads block k as gate order[k] computes what the reference computes on parameters
    whose block j is the block that code reads as gate pytorch_order[j]."""
    take = [order.index(gate_name) for gate_name in pytorch_order]

    def change(p):
        H = p.W_hh.shape[1]
        return Params(*(np.concatenate([_blocks(a, H)[k] for k in take]) for a in p))
    return change


def _transposed_blocks(W, H):
    """Each gate's block transposed: what `v @ W_k` uses in place of `v @ W_k.T` (W_k square)."""
    if W.shape[1] != H:
        raise ShapeInvalid
    return np.concatenate([block.T for block in _blocks(W, H)])


def not_transposed(*names):
    """Code that multiplies by the weights `names` untransposed (block by block)."""
    return lambda p: p._replace(**{n: _transposed_blocks(getattr(p, n), p.W_hh.shape[1])
                                   for n in names})


def without(*names):
    """Code that leaves out the biases `names`."""
    return lambda p: p._replace(**{n: np.zeros_like(getattr(p, n)) for n in names})


# ================================================================ mistakes inside a step
# Forward steps: step(x, h_prev, c_prev, p) -> Step, the reference's step with the mistake; only
# h_next and c_next change (the cache stays the reference's, which forward variants never read).
def rnn_step(activation=np.tanh):
    """The RNN step with `activation` in place of tanh: h_next = activation(a)."""
    def step(x, h_prev, c_prev, p):
        a = x @ p.W_ih.T + p.b_ih + h_prev @ p.W_hh.T + p.b_hh
        return reference_step("rnn")(x, h_prev, c_prev, p)._replace(h_next=activation(a))
    return step


def lstm_step(candidate=np.tanh, cell=np.tanh, h_from_c_prev=False):
    """The LSTM step with `candidate` in place of g's tanh, `cell` in place of tanh(c_next) in
    h_next, or h_next computed from c_prev (the gates i, f, o are the reference's)."""
    def step(x, h_prev, c_prev, p):
        s = reference_step("lstm")(x, h_prev, c_prev, p)
        gate = lstm.lstm_gates(s.cache)
        g_p = _gate_params(p, 2)    # the candidate's block
        g = candidate(x @ g_p.W_ih.T + g_p.b_ih + h_prev @ g_p.W_hh.T + g_p.b_hh)
        c_next = gate["f"] * c_prev + gate["i"] * g
        h_next = gate["o"] * cell(c_prev if h_from_c_prev else c_next)
        return s._replace(h_next=h_next, c_next=c_next)
    return step


# Where the reset gate r meets the hidden part of the GRU's candidate n (chapter 5).
_RESET = {
    "after": lambda r, h, W, b: r * (h @ W.T + b),        # PyTorch
    "before": lambda r, h, W, b: (r * h) @ W.T + b,       # Cho et al. (2014)
    "bias_outside": lambda r, h, W, b: r * (h @ W.T) + b,
    "none": lambda r, h, W, b: h @ W.T + b,
}


def gru_step(reset="after", candidate=np.tanh, flipped_update=False):
    """The GRU step with the reset gate applied as _RESET[reset], `candidate` in place of n's tanh,
    or the update gate the wrong way round (Chung et al. 2014); r and z are the reference's."""
    def step(x, h_prev, c_prev, p):
        s = reference_step("gru")(x, h_prev, c_prev, p)
        gate = gru.gru_gates(s.cache)
        r, z = gate["r"], gate["z"]
        n_p = _gate_params(p, 2)    # the candidate's block
        n = candidate(x @ n_p.W_ih.T + n_p.b_ih + _RESET[reset](r, h_prev, n_p.W_hh, n_p.b_hh))
        h_next = z * n + (1 - z) * h_prev if flipped_update else (1 - z) * n + z * h_prev
        return s._replace(h_next=h_next)
    return step


# Backward steps: back(Step, dh_next, dc_next) -> gradients, as reference_step_backward.
_TANH_DERIVATIVE = {   # what multiplies dh_next to give da, from h_prev and h_next = tanh(a)
    "right": lambda h_prev, h_next: 1 - h_next ** 2,
    "missing": lambda h_prev, h_next: 1,
    "at_h_prev": lambda h_prev, h_next: 1 - h_prev ** 2,
    "not_squared": lambda h_prev, h_next: 1 - h_next,
}


def rnn_step_backward(derivative="right", dh_prev_transposed=False, dW_hh_from_h_next=False):
    """The RNN step backward with tanh' as _TANH_DERIVATIVE[derivative], dh_prev = da @ W_hh.T,
    or dW_hh = da.T @ h_next."""
    def back(s, dh_next, dc_next=None):
        da = dh_next * _TANH_DERIVATIVE[derivative](s.h_prev, s.h_next)
        return {"dx": da @ s.p.W_ih,
                "dh_prev": da @ (s.p.W_hh.T if dh_prev_transposed else s.p.W_hh),
                "dW_ih": da.T @ s.x,
                "dW_hh": da.T @ (s.h_next if dW_hh_from_h_next else s.h_prev),
                "db_ih": da.sum(axis=0), "db_hh": da.sum(axis=0)}
    return back


_CELL_GRADIENT = {   # dc, the gradient reaching c_next: from outside and through h = o tanh(c)
    "right": lambda dc_next, dh_next, o, tanh_c: dc_next + dh_next * o * (1 - tanh_c ** 2),
    "ignores_dh": lambda dc_next, dh_next, o, tanh_c: dc_next,
    "ignores_dc_next": lambda dc_next, dh_next, o, tanh_c: dh_next * o * (1 - tanh_c ** 2),
    "no_tanh_derivative": lambda dc_next, dh_next, o, tanh_c: dc_next + dh_next * o,
}


def lstm_step_backward(cell_gradient="right", dc_prev_times_f=True):
    """The LSTM step backward with dc as _CELL_GRADIENT[cell_gradient], or dc_prev = dc (no f)."""
    def back(s, dh_next, dc_next):
        gate = lstm.lstm_gates(s.cache)
        i, f, g, o = gate["i"], gate["f"], gate["g"], gate["o"]
        tanh_c = np.tanh(s.c_next)
        dc = _CELL_GRADIENT[cell_gradient](dc_next, dh_next, o, tanh_c)
        da = np.concatenate([dc * g * i * (1 - i),              # input gate
                             dc * s.c_prev * f * (1 - f),       # forget gate
                             dc * i * (1 - g ** 2),             # candidate
                             dh_next * tanh_c * o * (1 - o)],   # output gate
                            axis=1)
        return {"dx": da @ s.p.W_ih, "dh_prev": da @ s.p.W_hh,
                "dc_prev": dc * f if dc_prev_times_f else dc,
                "dW_ih": da.T @ s.x, "dW_hh": da.T @ s.h_prev,
                "db_ih": da.sum(axis=0), "db_hh": da.sum(axis=0)}
    return back


def gru_step_backward(direct_path=True, r_in_dhn=True):
    """The reference's GRU step backward without the direct path z * dh_next in dh_prev, or
    without the reset gate in the gradient of W_hn h + b_hn (it gets da_n instead of da_n * r)."""
    def back(s, dh_next, dc_next=None):
        out = reference_step_backward(s, dh_next)
        gate = gru.gru_gates(s.cache)
        r, z, n = gate["r"], gate["z"], gate["n"]
        if not direct_path:
            out["dh_prev"] = out["dh_prev"] - dh_next * z
        if not r_in_dhn:
            da_n = dh_next * (1 - z) * (1 - n ** 2)
            zeros = np.zeros_like(da_n)
            extra = np.concatenate([zeros, zeros, da_n * (1 - r)], axis=1)   # n's block of dah
            out["dh_prev"] = out["dh_prev"] + extra @ s.p.W_hh
            out["dW_hh"] = out["dW_hh"] + extra.T @ s.h_prev
            out["db_hh"] = out["db_hh"] + extra.sum(axis=0)
        return out
    return back


# ================================================================ the catalogue
CATALOG = []
# Exercise-specific catalogues (ex02, ex03, ...) register here.
EXTRA = []

_KINDS = ("rnn", "lstm", "gru")
_FWD = {k: (f"{k}_step_forward", f"{k}_forward") for k in _KINDS}
_BWD = {k: (f"{k}_step_backward", f"{k}_backward") for k in _KINDS}
_ALL = {k: _FWD[k] + _BWD[k] for k in _KINDS}
_SEQ = {k: (f"{k}_forward", f"{k}_backward") for k in _KINDS}


_BACKWARD_CHECKS = {c for k in _KINDS for c in _BWD[k]}
_LSTM_STEP = {"lstm_step_forward", "lstm_step_backward"}


def _add(id, title, fix, checks, variant):
    checks = tuple(checks)
    if getattr(variant, "forward", False):
        # the backward checks run on caches they build: a forward mistake cannot reach them
        checks = tuple(c for c in checks if c not in _BACKWARD_CHECKS)
    if _LSTM_STEP & set(checks):
        checks += ("torch_lstm_cell",)   # ex06's cell runs the LSTM step forward and backward
    CATALOG.append(Misconception(id, title, fix, checks, variant))


# --- forward mistakes shared by the three cells: changed parameters, a changed loop
for _k in _KINDS:
    _W = "" if _k == "rnn" else " (for each gate's block of W_hh)"
    _add(f"{_k}_W_hh_not_transposed",
         f"W_hh is used without transposing: h_prev @ W_hh instead of h_prev @ W_hh.T{_W}",
         "PyTorch stores weights as (out_features, in_features), so the hidden term is "
         "h_prev @ p.W_hh.T (the same for W_ih: x @ p.W_ih.T).",
         _ALL[_k], forward_variant(params=not_transposed("W_hh")))
    _add(f"{_k}_W_ih_not_transposed",
         "W_ih is used without transposing: x @ W_ih instead of x @ W_ih.T",
         "PyTorch stores weights as (out_features, in_features): use x @ p.W_ih.T.",
         _ALL[_k], forward_variant(params=not_transposed("W_ih")))
    _add(f"{_k}_no_transpose",
         "neither W_ih nor W_hh is transposed (x @ W_ih + h_prev @ W_hh)",
         "PyTorch stores weights as (out_features, in_features): use x @ p.W_ih.T + h_prev @ p.W_hh.T.",
         _ALL[_k], forward_variant(params=not_transposed("W_ih", "W_hh")))
    _add(f"{_k}_missing_b_hh", "the hidden bias b_hh is missing",
         "PyTorch adds two biases: x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh; add p.b_hh.",
         _ALL[_k], forward_variant(params=without("b_hh")))
    _add(f"{_k}_missing_b_ih", "the input bias b_ih is missing",
         "PyTorch adds two biases: x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh; add p.b_ih.",
         _ALL[_k], forward_variant(params=without("b_ih")))
    _add(f"{_k}_missing_biases", "both biases (b_ih and b_hh) are missing",
         "add p.b_ih to the input term and p.b_hh to the hidden term.",
         _ALL[_k], forward_variant(params=without("b_ih", "b_hh")))
    _add(f"{_k}_state_not_carried",
         "the hidden state is not carried between steps: every step starts again from h0",
         "inside the loop, feed the state you just computed into the next step "
         "(h = step(xs[t], h, ...)), not h0.",
         _SEQ[_k], forward_variant(carry_h=False, carry_c=False))
    _add(f"{_k}_stores_previous_state",
         "hs[t] stores the state before step t (h_{t-1}) instead of the new state h_t",
         "store the output of step t: compute h = step(xs[t], h, ...) first, then hs[t] = h.",
         _SEQ[_k], forward_variant(store_prev=True))

# --- RNN forward
_add("rnn_sigmoid", "sigmoid is used instead of tanh", "the simple RNN's nonlinearity is tanh: "
     "h_next = np.tanh(a).", _ALL["rnn"], forward_variant(rnn_step(_sigmoid)))
_add("rnn_no_tanh", "the tanh is missing (h_next is the pre-activation)",
     "apply the nonlinearity: h_next = np.tanh(x @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).",
     _ALL["rnn"], forward_variant(rnn_step(_identity)))

# --- LSTM forward
for _perm in itertools.permutations("ifgo"):
    _order = "".join(_perm)
    if _order == "ifgo":
        continue
    _add(f"lstm_gate_order_{_order}",
         f"the gate blocks are read in the order ({', '.join(_order)}) instead of PyTorch's (i, f, g, o)",
         "rows 0:H of W_ih/W_hh/b are the input gate i, H:2H the forget gate f, 2H:3H the "
         "candidate g, 3H:4H the output gate o.",
         _ALL["lstm"], forward_variant(params=gate_order(_order, "ifgo")))
_add("lstm_no_cell_tanh", "the tanh on the cell state is missing: h_next = o * c_next",
     "the output is h_next = o * np.tanh(c_next).", _ALL["lstm"],
     forward_variant(lstm_step(cell=_identity)))
_add("lstm_cell_sigmoid", "sigmoid instead of tanh on the cell state in h_next",
     "the output is h_next = o * np.tanh(c_next).", _ALL["lstm"],
     forward_variant(lstm_step(cell=_sigmoid)))
_add("lstm_candidate_sigmoid", "sigmoid is used for the candidate g instead of tanh",
     "the candidate is g = np.tanh(...) (values in (-1, 1), so the cell can decrease); only i, f, "
     "o are sigmoids.", _ALL["lstm"], forward_variant(lstm_step(candidate=_sigmoid)))
_add("lstm_candidate_linear", "the candidate g has no tanh",
     "the candidate is g = np.tanh(...) of its pre-activation block.",
     _ALL["lstm"], forward_variant(lstm_step(candidate=_identity)))
_add("lstm_h_from_c_prev", "h_next uses the previous cell state: o * tanh(c_prev)",
     "compute c_next first, then h_next = o * np.tanh(c_next).",
     _ALL["lstm"], forward_variant(lstm_step(h_from_c_prev=True)))
_add("lstm_cell_not_carried",
     "the cell state is not carried between steps: every step starts again from c0",
     "feed the c you just computed into the next step (h, c = step(xs[t], h, c, p)), not c0.",
     _SEQ["lstm"], forward_variant(carry_c=False))

# --- GRU forward
for _perm in itertools.permutations("rzn"):
    _order = "".join(_perm)
    if _order == "rzn":
        continue
    _add(f"gru_gate_order_{_order}",
         f"the gate blocks are read in the order ({', '.join(_order)}) instead of PyTorch's (r, z, n)",
         "rows 0:H of W_ih/W_hh/b are the reset gate r, H:2H the update gate z, 2H:3H the "
         "candidate n.", _ALL["gru"], forward_variant(params=gate_order(_order, "rzn")))
_add("gru_update_flipped",
     "the update gate is applied the wrong way round: h' = z * n + (1 - z) * h "
     "(Chung et al.'s convention)",
     "PyTorch keeps the old state where z is 1: h_next = (1 - z) * n + z * h_prev.",
     _ALL["gru"], forward_variant(gru_step(flipped_update=True)))
_add("gru_reset_before_matrix",
     "the reset gate is applied before the matrix, (r * h) @ W_hn.T + b_hn (Cho et al. 2014)",
     "PyTorch applies it after: n = tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn)).",
     _ALL["gru"], forward_variant(gru_step(reset="before")))
_add("gru_b_hn_outside_reset",
     "b_hn is added outside the reset gate: r * (h @ W_hn.T) + b_hn",
     "in PyTorch b_hn is inside: n = tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn)).",
     _ALL["gru"], forward_variant(gru_step(reset="bias_outside")))
_add("gru_no_reset", "the reset gate is not used in the candidate",
     "multiply the hidden part of the candidate by r: n = tanh(x @ W_in.T + b_in + "
     "r * (h_prev @ W_hn.T + b_hn)).", _ALL["gru"], forward_variant(gru_step(reset="none")))
_add("gru_candidate_sigmoid", "sigmoid is used for the candidate n instead of tanh",
     "the candidate is n = np.tanh(...); only r and z are sigmoids.",
     _ALL["gru"], forward_variant(gru_step(candidate=_sigmoid)))
_add("gru_update_flipped_reset_before",
     "two convention mix-ups: the update gate the wrong way round and the reset gate before the matrix",
     "follow PyTorch: n = tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn)) and "
     "h_next = (1 - z) * n + z * h_prev.", _ALL["gru"],
     forward_variant(gru_step(reset="before", flipped_update=True)))

# --- backward mistakes inside one step (they also show in the sequence backward that calls it)
_add("rnn_no_tanh_derivative", "the tanh derivative is missing: da = dh_next",
     "multiply by tanh'(a) = 1 - h_next**2: da = dh_next * (1 - h_next**2).",
     _BWD["rnn"], backward_variant(rnn_step_backward(derivative="missing")))
_add("rnn_derivative_of_h_prev", "tanh' is evaluated at h_prev: da = dh_next * (1 - h_prev**2)",
     "the derivative belongs to this step's output: da = dh_next * (1 - h_next**2).",
     _BWD["rnn"], backward_variant(rnn_step_backward(derivative="at_h_prev")))
_add("rnn_derivative_not_squared", "tanh' is written 1 - h instead of 1 - h**2",
     "d tanh(a)/da = 1 - tanh(a)**2: da = dh_next * (1 - h_next**2).",
     _BWD["rnn"], backward_variant(rnn_step_backward(derivative="not_squared")))
_add("rnn_dh_prev_transposed", "dh_prev is computed with W_hh.T: da @ W_hh.T",
     "h_prev entered as h_prev @ W_hh.T, so its gradient is da @ p.W_hh.",
     _BWD["rnn"], backward_variant(rnn_step_backward(dh_prev_transposed=True)))
_add("rnn_dW_hh_uses_h_next", "dW_hh is computed from h_next instead of h_prev",
     "W_hh multiplied h_prev in the forward: dW_hh = da.T @ h_prev.",
     _BWD["rnn"], backward_variant(rnn_step_backward(dW_hh_from_h_next=True)))
_add("lstm_dc_ignores_dh", "the cell gradient ignores the path through h_next: dc = dc_next only",
     "c_next also reaches the loss through h_next = o * tanh(c_next): "
     "dc = dc_next + dh_next * o * (1 - tanh(c_next)**2).",
     _BWD["lstm"], backward_variant(lstm_step_backward(cell_gradient="ignores_dh")))
_add("lstm_dc_ignores_dc_next", "the upstream cell gradient dc_next is dropped",
     "add the gradient arriving at c_next: dc = dc_next + dh_next * o * (1 - tanh(c_next)**2).",
     ("lstm_step_backward",), backward_variant(lstm_step_backward(cell_gradient="ignores_dc_next")))
_add("lstm_no_tanh_derivative_c", "the derivative of tanh(c_next) is missing in dc",
     "dc = dc_next + dh_next * o * (1 - tanh(c_next)**2).",
     _BWD["lstm"], backward_variant(lstm_step_backward(cell_gradient="no_tanh_derivative")))
_add("lstm_dc_prev_without_f", "dc_prev is not multiplied by the forget gate",
     "c_next = f * c_prev + i * g, so dc_prev = dc * f.",
     _BWD["lstm"], backward_variant(lstm_step_backward(dc_prev_times_f=False)))
_add("gru_no_direct_path", "dh_prev misses the direct path z * dh_next",
     "h_prev enters h_next = (1 - z) * n + z * h_prev directly: add dh_next * z to dh_prev.",
     _BWD["gru"], backward_variant(gru_step_backward(direct_path=False)))
_add("gru_no_r_in_dhn", "the gradient of W_hn h + b_hn forgets the reset gate",
     "n's pre-activation holds r * (W_hn h + b_hn): its gradient there is da_n * r.",
     _BWD["gru"], backward_variant(gru_step_backward(r_in_dhn=False)))

# --- backward mistakes: changed gradients, a changed BPTT loop
for _k in _KINDS:
    _add(f"{_k}_dW_hh_transposed", "dW_hh is transposed (h_prev.T @ da instead of da.T @ h_prev)",
         "a weight of shape (out, in) gets da.T @ input, of the same shape (out, in).",
         _BWD[_k], gradients_variant(
             lambda grads, B, H: {"dW_hh": _transposed_blocks(grads["dW_hh"], H)}))
    _add(f"{_k}_grads_averaged", "the parameter gradients are averaged over the batch",
         "the loss is a sum over the batch, so sum the gradients over the batch axis (no / B).",
         _BWD[_k], gradients_variant(lambda grads, B, H: {n: g / B for n, g in grads.items()}))
    _add(f"{_k}_db_hh_missing", "the gradient of b_hh is zero (b_hh's gradient is missing)",
         "both biases are added to the pre-activation, so db_hh gets the same sum of da as db_ih.",
         _BWD[_k], gradients_variant(lambda grads, B, H: {"db_hh": np.zeros_like(grads["db_hh"])}))
    _add(f"{_k}_bptt_no_carry",
         "BPTT drops the gradient from later steps: each step gets only dhs[t]",
         "keep a running gradient dh: at step t call the step backward with dhs[t] + dh, where dh "
         "is the dh_prev returned by step t+1.",
         (f"{_k}_backward",), backward_variant(carry_dh=False, carry_dc=False))
    _add(f"{_k}_bptt_last_only",
         "BPTT uses only the last step's upstream gradient dhs[T-1] (the other dhs[t] are ignored)",
         "every output hs[t] receives its own upstream gradient: at step t use dhs[t] + dh.",
         (f"{_k}_backward",), backward_variant(last_upstream_only=True))
    _add(f"{_k}_params_not_summed_first",
         "the parameter gradients are not summed over time: only the first step's (t = 0) remain "
         "(overwritten in the loop)",
         "the same weights are used at every step, so add each step's dp into running totals "
         "(dW_ih += ..., and so on) instead of assigning.",
         (f"{_k}_backward",), backward_variant(param_grads="first"))
    _add(f"{_k}_params_not_summed_last",
         "the parameter gradients are not summed over time: only the last step's (t = T-1) remain",
         "the same weights are used at every step, so add each step's dp into running totals.",
         (f"{_k}_backward",), backward_variant(param_grads="last"))
_add("lstm_bptt_ignores_dcs", "the upstream cell-state gradients dcs are ignored",
     "when dcs is given, the gradient reaching c_t is dcs[t] plus what flows back from step t+1.",
     ("lstm_backward",), backward_variant(use_dcs=False))
_add("lstm_bptt_no_dc_carry",
     "BPTT does not carry the cell-state gradient: dc_prev of step t+1 is dropped",
     "carry dc like dh: at step t use dc = dcs[t] (or 0) + the dc_prev returned by step t+1.",
     ("lstm_backward",), backward_variant(carry_dc=False))
_add("lstm_bptt_no_dh_carry",
     "BPTT drops the hidden-state gradient from later steps (the cell gradient is carried)",
     "at step t call the step backward with dhs[t] + dh, where dh is step t+1's dh_prev.",
     ("lstm_backward",), backward_variant(carry_dh=False))


# ================================================================ ex02: numerical gradient
def _extra(id, title, fix, checks, fn):
    EXTRA.append(Misconception(id, title, fix, tuple(checks), fn))


def _numgrad(inputs, h=1e-5, mode="central", restore=True, weight=True):
    """Finite differences of L(x) = sum(f(x) * df) with the usual mistakes as switches."""
    from grnn_ref.grading.exercises.ex02 import numgrad_function
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
            grad[k] = (plus - L()) / (2 * h)
        elif mode == "half":        # (L(x+h) - L(x-h)) / h
            x[k] = old - h
            grad[k] = (plus - L()) / h
        else:                       # one-sided: (L(x+h) - L(x)) / h, or / 2h
            x[k] = old
            grad[k] = (plus - L()) / (2 * h if mode == "forward2h" else h)
        if restore:
            x[k] = old
    return {"dx": grad}


_G = ("numerical_gradient",)
_extra("numgrad_divided_by_h", "the centred difference is divided by h instead of 2h "
       "(your gradient is twice the true one)",
       "(L(x + h) - L(x - h)) spans 2h: divide by 2 * h.", _G,
       lambda check, inputs: _numgrad(inputs, mode="half"))
_extra("numgrad_one_sided", "a one-sided difference (L(x + h) - L(x)) / h is used; its error is "
       "of order h, too large for a gradient check",
       "use the centred difference (L(x + h) - L(x - h)) / (2h), whose error is of order h**2.",
       _G, lambda check, inputs: _numgrad(inputs, mode="forward"))
_extra("numgrad_one_sided_2h", "a one-sided difference divided by 2h: (L(x + h) - L(x)) / (2h) "
       "(about half the true gradient)",
       "either evaluate L(x - h) for the second term (centred difference) or divide by h; the "
       "centred difference (L(x + h) - L(x - h)) / (2h) is the accurate one.",
       _G, lambda check, inputs: _numgrad(inputs, mode="forward2h"))
_extra("numgrad_not_restored", "x is not restored after each perturbation, so later entries are "
       "measured at a shifted point",
       "save old = x[k] before perturbing and set x[k] = old again before moving to the next entry.",
       _G, lambda check, inputs: _numgrad(inputs, restore=False))
_extra("numgrad_not_weighted", "the upstream gradient df is ignored: you differentiate sum(f(x)) "
       "instead of sum(f(x) * df)",
       "the scalar to differentiate is L(x) = np.sum(f(x) * df).", _G,
       lambda check, inputs: _numgrad(inputs, weight=False))


# ================================================================ ex03: Jacobians, bound, clipping
_JACOBIAN = {   # d h_next / d h_prev for each row, from h_next (B, H) and W_hh (H, H)
    "right": lambda h, W: (1 - h ** 2)[:, :, None] * W[None],
    "cols": lambda h, W: W[None] * (1 - h ** 2)[:, None, :],        # W diag(d): scales columns
    "transposed": lambda h, W: (1 - h ** 2)[:, :, None] * W.T[None],
    "no_derivative": lambda h, W: np.broadcast_to(W, (h.shape[0],) + W.shape).copy(),
    "one_minus_h": lambda h, W: (1 - h)[:, :, None] * W[None],
}


def _jac_norms(hs, W, order="left", norm=2, cumulative=True):
    T, B, H = hs.shape
    P = np.broadcast_to(np.eye(H), (B, H, H))
    out = np.empty((T, B))
    for t in range(T):
        J = _JACOBIAN["right"](hs[t], W)
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
       lambda c, i: {"J": _JACOBIAN["transposed"](i["h_next"], i["W_hh"])})
_extra("jacobian_scales_columns", "the tanh derivative scales the columns: W_hh @ diag(1 - h**2)",
       "the derivative belongs to the output index: J[b] = (1 - h_next[b]**2)[:, None] * W_hh.", _J,
       lambda c, i: {"J": _JACOBIAN["cols"](i["h_next"], i["W_hh"])})
_extra("jacobian_no_derivative", "the tanh derivative is missing: J = W_hh",
       "multiply row i of W_hh by tanh'(a_i) = 1 - h_next[i]**2.", _J,
       lambda c, i: {"J": _JACOBIAN["no_derivative"](i["h_next"], i["W_hh"])})
_extra("jacobian_one_minus_h", "tanh' is written 1 - h instead of 1 - h**2",
       "d tanh(a)/da = 1 - tanh(a)**2.", _J,
       lambda c, i: {"J": _JACOBIAN["one_minus_h"](i["h_next"], i["W_hh"])})
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


# ================================================================ diagnosis
def for_check(check):
    """The misconceptions that apply to a check, in diagnosis order."""
    check = _catalogue_of(check)
    return [m for m in CATALOG + EXTRA if check in m.checks]


def diagnose(check, inputs, student_outputs, reference_outputs=None, rtol=None):
    """The Misconception the student's outputs match on this case, or None.

    check: a check name; inputs: the case's inputs; student_outputs: name -> array as recorded;
    reference_outputs: the correct outputs (optional for the cell checks: the mistake-free variant
    otherwise). A variant counts only if it differs from the reference on the outputs it is judged
    on, and the student matches it on all of them.
    """
    candidates = for_check(check)
    if not candidates:
        return None
    first = next(iter(inputs.values()))
    dtype = inputs.get("W_ih", first).dtype
    spec = get_check(check)
    tol = (rtol if rtol is not None else rtol_for(dtype, getattr(spec, "rtol", None))) * 10
    if reference_outputs is None:
        reference_outputs = _default_reference(check, inputs)
    for m in candidates:
        try:
            with np.errstate(all="ignore"):
                var = m.variant(check, inputs)
        except ShapeInvalid:
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
    family = get_check(_catalogue_of(check)).family
    if family in ("step_forward", "forward"):
        return forward_variant()(check, inputs)
    if family in ("step_backward", "backward"):
        return backward_variant()(check, inputs)
    raise ValueError(f"diagnose: give reference_outputs for check {check!r}")
