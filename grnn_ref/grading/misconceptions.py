"""Known mistakes, recognised by comparing a student's outputs with those of code with the mistake.

Each `Misconception` has an id, a title that names the mistake, a fix (one to three sentences: the
concept, the equation and the symptom, not the code) and a
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
from grnn_ref.grading.compare import compare_outputs, matches, rtol_for
from grnn_ref.params import Params


@dataclass(frozen=True)
class Misconception:
    """A known mistake: `title` names it, `fix` says how to correct it by naming the concept, the
    equation (in words or maths, in the book's symbols) and the symptom, never the line to type."""
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


def lstm_step_backward(cell_gradient="right", dc_prev_times_f=True, da_order="ifgo"):
    """The LSTM step backward with dc as _CELL_GRADIENT[cell_gradient], dc_prev = dc (no f), or
    the gate blocks of da stacked in the order `da_order` instead of i, f, g, o."""
    def back(s, dh_next, dc_next):
        gate = lstm.lstm_gates(s.cache)
        i, f, g, o = gate["i"], gate["f"], gate["g"], gate["o"]
        tanh_c = np.tanh(s.c_next)
        dc = _CELL_GRADIENT[cell_gradient](dc_next, dh_next, o, tanh_c)
        blocks = {"i": dc * g * i * (1 - i),             # input gate
                  "f": dc * s.c_prev * f * (1 - f),      # forget gate
                  "g": dc * i * (1 - g ** 2),            # candidate
                  "o": dh_next * tanh_c * o * (1 - o)}   # output gate
        da = np.concatenate([blocks[k] for k in da_order], axis=1)
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
         f"W_hh is used as stored, without its transpose{_W}",
         "PyTorch stores a weight as (out_features, in_features), so with one example per row the "
         "hidden term of the pre-activation is h_{t-1} W_hh^T (chapter 1's batch form; the same "
         "holds for W_ih). Symptom: no shape error warns you, because every H-row block of W_hh is "
         "square; only the values are wrong.",
         _ALL[_k], forward_variant(params=not_transposed("W_hh")))
    _add(f"{_k}_W_ih_not_transposed",
         "W_ih is used as stored, without its transpose",
         "PyTorch stores W_ih as (out_features, in_features), so with one example per row the "
         "input term is x_t W_ih^T, of shape (B, D) times (D, out) = (B, out). Symptom: a shape "
         "error whenever D != H, and wrong values when D = H.",
         _ALL[_k], forward_variant(params=not_transposed("W_ih")))
    _add(f"{_k}_no_transpose",
         "neither W_ih nor W_hh is transposed",
         "PyTorch stores weights as (out_features, in_features): with one example per row both "
         "terms multiply by the transpose, x_t W_ih^T and h_{t-1} W_hh^T. Check the shape of each "
         "product: it must hold for any D and H, not only when D = H.",
         _ALL[_k], forward_variant(params=not_transposed("W_ih", "W_hh")))
    _add(f"{_k}_missing_b_hh", "the hidden bias b_hh is missing",
         "PyTorch's pre-activation has two biases, one on the input side (b_ih) and one on the "
         "hidden side (b_hh), both added before the nonlinearity (the cell's equations). Symptom: "
         "your outputs are off by a shift inside the nonlinearity that does not depend on the "
         "input.",
         _ALL[_k], forward_variant(params=without("b_hh")))
    _add(f"{_k}_missing_b_ih", "the input bias b_ih is missing",
         "PyTorch's pre-activation has two biases, one on the input side (b_ih) and one on the "
         "hidden side (b_hh), both added before the nonlinearity (the cell's equations). Symptom: "
         "your outputs are off by a shift inside the nonlinearity that does not depend on the "
         "input.",
         _ALL[_k], forward_variant(params=without("b_ih")))
    _add(f"{_k}_missing_biases", "both biases (b_ih and b_hh) are missing",
         "the pre-activation is the sum of the input term, the hidden term and both biases, b_ih "
         "and b_hh (the cell's equations). Symptom: right only when the biases are zero.",
         _ALL[_k], forward_variant(params=without("b_ih", "b_hh")))
    _add(f"{_k}_state_not_carried",
         "the hidden state is not carried between steps: every step starts again from h0",
         "the recurrence: step t starts from the state h_{t-1} that step t-1 produced, and only "
         "the first step starts from h0. Symptom: hs[0] is right and every later step is wrong.",
         _SEQ[_k], forward_variant(carry_h=False, carry_c=False))
    _add(f"{_k}_stores_previous_state",
         "hs[t] stores the state before step t (h_{t-1}) instead of the new state h_t",
         "hs holds h_1, ..., h_T, the state after each step (as torch.nn's output), not "
         "h_0, ..., h_{T-1}. Symptom: your hs[0] is h0 and your hs[t] is the right hs[t-1].",
         _SEQ[_k], forward_variant(store_prev=True))

# --- RNN forward
_add("rnn_sigmoid", "sigmoid is used instead of tanh", "the simple RNN's nonlinearity is tanh "
     "(chapter 1's step equation), whose values lie in (-1, 1). Symptom: your states are never "
     "negative.", _ALL["rnn"], forward_variant(rnn_step(_sigmoid)))
_add("rnn_no_tanh", "the tanh is missing (h_next is the pre-activation)",
     "the new state is the tanh of the pre-activation, h_t = tanh(a_t) (chapter 1). Symptom: "
     "your states are linear in the inputs and not confined to (-1, 1).",
     _ALL["rnn"], forward_variant(rnn_step(_identity)))

# --- LSTM forward
for _perm in itertools.permutations("ifgo"):
    _order = "".join(_perm)
    if _order == "ifgo":
        continue
    _add(f"lstm_gate_order_{_order}",
         f"the gate blocks are read in the order ({', '.join(_order)}) instead of PyTorch's (i, f, g, o)",
         "PyTorch stacks the four gate blocks by rows in the order i, f, g, o: the first H rows of "
         "W_ih, W_hh and the biases belong to the input gate, the next H to the forget gate, then "
         "the candidate, then the output gate (the notation page). Symptom: wrong values even "
         "when each gate's formula is right.",
         _ALL["lstm"], forward_variant(params=gate_order(_order, "ifgo")))
_add("lstm_no_cell_tanh", "the tanh on the cell state is missing (h_t = o_t * c_t)",
     "the output squashes the new cell state before the output gate scales it, "
     "h_t = o_t * tanh(c_t) (chapter 4). Symptom: c_next is right, h_next is not and can leave "
     "(-1, 1).", _ALL["lstm"],
     forward_variant(lstm_step(cell=_identity)))
_add("lstm_cell_sigmoid", "sigmoid instead of tanh on the cell state in h_next",
     "the output is h_t = o_t * tanh(c_t) (chapter 4): the cell state goes through tanh, values "
     "in (-1, 1). Symptom: c_next is right and h_next is never negative.", _ALL["lstm"],
     forward_variant(lstm_step(cell=_sigmoid)))
_add("lstm_candidate_sigmoid", "sigmoid is used for the candidate g instead of tanh",
     "the candidate g_t is a tanh of its pre-activation, with values in (-1, 1), so that a write "
     "can decrease the cell as well as increase it; only i, f and o are sigmoids (chapter 4). "
     "Symptom: your writes i_t * g_t are never negative.",
     _ALL["lstm"], forward_variant(lstm_step(candidate=_sigmoid)))
_add("lstm_candidate_linear", "the candidate g has no tanh",
     "the candidate g_t is the tanh of its block of the pre-activation (chapter 4). Symptom: "
     "the values written into the cell are not confined to (-1, 1).",
     _ALL["lstm"], forward_variant(lstm_step(candidate=_identity)))
_add("lstm_h_from_c_prev", "h_next is computed from the previous cell state c_{t-1} instead of c_t",
     "the order of the two updates: first the new cell state c_t, then the output h_t from c_t "
     "(chapter 4). Symptom: c_next is right and h_next is not.",
     _ALL["lstm"], forward_variant(lstm_step(h_from_c_prev=True)))
_add("lstm_cell_not_carried",
     "the cell state is not carried between steps: every step starts again from c0",
     "the cell state is carried like the hidden state: step t starts from the c_{t-1} that "
     "step t-1 produced, only the first step from c0. Symptom: cs[0] is right, later steps "
     "are not.",
     _SEQ["lstm"], forward_variant(carry_c=False))

# --- GRU forward
for _perm in itertools.permutations("rzn"):
    _order = "".join(_perm)
    if _order == "rzn":
        continue
    _add(f"gru_gate_order_{_order}",
         f"the gate blocks are read in the order ({', '.join(_order)}) instead of PyTorch's (r, z, n)",
         "PyTorch stacks the three gate blocks by rows in the order r, z, n: the first H rows of "
         "W_ih, W_hh and the biases belong to the reset gate, the next H to the update gate, the "
         "last H to the candidate (the notation page). Symptom: wrong values even when each "
         "gate's formula is right.", _ALL["gru"], forward_variant(params=gate_order(_order, "rzn")))
_add("gru_update_flipped",
     "the update gate is applied the wrong way round, z_t weighting the candidate "
     "(Chung et al.'s convention)",
     "in PyTorch's convention z_t = 1 keeps the old state: h_t = (1 - z_t) * n_t + z_t * h_{t-1} "
     "(chapter 5). Symptom: your state follows the candidate where the gate says hold.",
     _ALL["gru"], forward_variant(gru_step(flipped_update=True)))
_add("gru_reset_before_matrix",
     "the reset gate is applied to h_{t-1} before the matrix product (Cho et al. 2014's form)",
     "PyTorch applies r_t after the product, to W_hn h_{t-1} + b_hn, inside the candidate's tanh "
     "(chapter 5). Symptom: the two forms agree only where r_t = 1.",
     _ALL["gru"], forward_variant(gru_step(reset="before")))
_add("gru_b_hn_outside_reset",
     "b_hn is added outside the reset gate's product",
     "in PyTorch the reset gate scales W_hn h_{t-1} + b_hn, bias included, which is why the "
     "GRU's two candidate biases are not interchangeable (chapter 5). Symptom: right only where "
     "r_t = 1 or b_hn = 0.",
     _ALL["gru"], forward_variant(gru_step(reset="bias_outside")))
_add("gru_no_reset", "the reset gate is not used in the candidate",
     "the reset gate r_t scales the hidden part of the candidate, W_hn h_{t-1} + b_hn, before "
     "the input part is added (chapter 5's candidate equation). Symptom: right only where "
     "r_t = 1.", _ALL["gru"], forward_variant(gru_step(reset="none")))
_add("gru_candidate_sigmoid", "sigmoid is used for the candidate n instead of tanh",
     "the candidate n_t is a tanh, with values in (-1, 1); only r and z are sigmoids "
     "(chapter 5). Symptom: your candidate is never negative.",
     _ALL["gru"], forward_variant(gru_step(candidate=_sigmoid)))
_add("gru_update_flipped_reset_before",
     "two convention mix-ups: the update gate the wrong way round and the reset gate before the matrix",
     "follow PyTorch's GRU (chapter 5): z_t = 1 keeps the old state, and the reset gate scales "
     "W_hn h_{t-1} + b_hn after the matrix product.", _ALL["gru"],
     forward_variant(gru_step(reset="before", flipped_update=True)))

# --- backward mistakes inside one step (they also show in the sequence backward that calls it)
_add("rnn_no_tanh_derivative",
     "the tanh derivative is missing (the gradient passes tanh unchanged)",
     "local derivative times upstream gradient (chapter 2): the gradient of a_t is that of h_t "
     "times tanh'(a_t) = 1 - h_t^2, elementwise, from the stored output. Symptom: every gradient "
     "is too large where |h_next| is near 1.",
     _BWD["rnn"], backward_variant(rnn_step_backward(derivative="missing")))
_add("rnn_derivative_of_h_prev", "tanh' is evaluated at the previous state h_{t-1} instead of h_t",
     "the tanh being differentiated is this step's, h_t = tanh(a_t), so its derivative "
     "1 - h_t^2 uses this step's output, not the state the step started from (chapter 2).",
     _BWD["rnn"], backward_variant(rnn_step_backward(derivative="at_h_prev")))
_add("rnn_derivative_not_squared", "tanh' is taken as 1 - h instead of 1 - h^2",
     "d tanh(a)/da = 1 - tanh(a)^2 (chapter 2). Symptom: the error is largest where h_next is "
     "negative.",
     _BWD["rnn"], backward_variant(rnn_step_backward(derivative="not_squared")))
_add("rnn_dh_prev_transposed",
     "dh_prev multiplies by the transpose of W_hh: one transpose too many",
     "h_{t-1} entered the forward through h_{t-1} W_hh^T. The shape check cannot tell the two "
     "orders apart because W_hh is square: derive one entry instead, "
     "a[b, j] = sum_k h_prev[b, k] W_hh[j, k], and differentiate it with respect to h_prev[b, k].",
     _BWD["rnn"], backward_variant(rnn_step_backward(dh_prev_transposed=True)))
_add("rnn_dW_hh_uses_h_next", "dW_hh is computed from h_next instead of h_prev",
     "a weight's gradient pairs the gradient of the pre-activation with the array the weight "
     "multiplied in the forward, and W_hh multiplied h_{t-1}, the state the step started from "
     "(chapter 2's sum-over-uses rule, applied as for W_ih).",
     _BWD["rnn"], backward_variant(rnn_step_backward(dW_hh_from_h_next=True)))
_add("lstm_dc_ignores_dh",
     "the gradient reaching c_t ignores the path through h_t (only dc_next is used)",
     "c_t is used twice, in c_{t+1} and in h_t = o_t * tanh(c_t): by the sum-over-uses rule its "
     "gradient is dc_next plus what comes back through h_t, which passes the output gate and the "
     "tanh (chapter 4). Symptom: dc_prev is wrong, and of the gates' gradients only the output "
     "gate's block is right.",
     _BWD["lstm"], backward_variant(lstm_step_backward(cell_gradient="ignores_dh")))
_add("lstm_dc_ignores_dc_next", "the upstream cell gradient dc_next is dropped",
     "dc_next is the gradient reaching c_t from outside the step; by the sum-over-uses rule "
     "the total gradient of c_t is dc_next plus what comes back through h_t (chapter 4). "
     "Symptom: right when dc_next is zero, wrong otherwise.",
     ("lstm_step_backward",), backward_variant(lstm_step_backward(cell_gradient="ignores_dc_next")))
_add("lstm_no_tanh_derivative_c", "the derivative of tanh(c_next) is missing in dc",
     "on the path through h_t = o_t * tanh(c_t) the gradient passes a tanh, so it is multiplied "
     "by tanh'(c_t) = 1 - tanh(c_t)^2; the cache keeps tanh(c_t) for this (chapter 4).",
     _BWD["lstm"], backward_variant(lstm_step_backward(cell_gradient="no_tanh_derivative")))
for _order in ("figo", "ifog", "gifo"):
    _add(f"lstm_da_blocks_{_order}",
         f"the gate blocks of the gradient da are stacked in the order ({', '.join(_order)}) "
         f"instead of the weights' (i, f, g, o)",
         "da must line up with the rows of W_ih, W_hh and the biases, whose blocks are i, f, g, o "
         "(the forward's order). Symptom: dc_prev is right, but dx, dh_prev and the weight "
         "gradients are wrong block by block.",
         _BWD["lstm"], backward_variant(lstm_step_backward(da_order=_order)))
_add("lstm_dc_prev_without_f", "dc_prev is not multiplied by the forget gate",
     "c_t = f_t * c_{t-1} + i_t * g_t, so along the cell path the local derivative of c_t with "
     "respect to c_{t-1} is f_t, elementwise (chapter 4's constant error carousel). Symptom: "
     "only dc_prev is wrong, too large in magnitude.",
     _BWD["lstm"], backward_variant(lstm_step_backward(dc_prev_times_f=False)))
_add("gru_no_direct_path", "dh_prev misses the direct path through z_t * h_{t-1}",
     "h_{t-1} reaches h_t by three routes (chapter 5): directly, through the term "
     "z_t * h_{t-1}, through the gates and through the candidate; its gradient is the sum over "
     "the three, and the direct route's local derivative is z_t. Symptom: only dh_prev is "
     "wrong.",
     _BWD["gru"], backward_variant(gru_step_backward(direct_path=False)))
_add("gru_no_r_in_dhn", "the gradient of W_hn h_{t-1} + b_hn forgets the reset gate",
     "the candidate's pre-activation contains the product r_t * (W_hn h_{t-1} + b_hn), so the "
     "gradient reaching the second factor is multiplied by the first, r_t (product rule, "
     "chapter 5). Symptom: dx, dW_ih and db_ih are right; dh_prev and the candidate's blocks of "
     "dW_hh and db_hh are not.",
     _BWD["gru"], backward_variant(gru_step_backward(r_in_dhn=False)))

# --- backward mistakes: changed gradients, a changed BPTT loop
for _k in _KINDS:
    _add(f"{_k}_dW_hh_transposed", "dW_hh is transposed",
         "a gradient has the shape and the layout of its array: W_hh is stored (out, in), so "
         "entry [j, k] of its gradient sums, over the batch, the pre-activation gradient of "
         "output unit j times input k. Symptom: for a square block the shape is right and only "
         "the values show the mistake.",
         _BWD[_k], gradients_variant(
             lambda grads, B, H: {"dW_hh": _transposed_blocks(grads["dW_hh"], H)}))
    _add(f"{_k}_grads_averaged", "the parameter gradients are averaged over the batch",
         "the loss is a sum over the batch (chapter 2), so each parameter gradient is a sum over "
         "the B examples, not a mean. Symptom: your parameter gradients are exactly 1/B of the "
         "right ones.",
         _BWD[_k], gradients_variant(lambda grads, B, H: {n: g / B for n, g in grads.items()}))
    _add(f"{_k}_db_hh_missing", "the gradient of b_hh is zero (b_hh's gradient is missing)",
         "b_hh is added to the hidden side of the pre-activation, so its gradient is that side's "
         "gradient summed over the batch, like b_ih's on the input side (chapter 2).",
         _BWD[_k], gradients_variant(lambda grads, B, H: {"db_hh": np.zeros_like(grads["db_hh"])}))
    _add(f"{_k}_bptt_no_carry",
         "BPTT drops the gradient from later steps: each step gets only dhs[t]",
         "chapter 2's recursion: the gradient reaching h_t is its upstream gradient dhs[t] plus "
         "what step t+1 sends back to its h_prev, carried from each step to the one before. "
         "Symptom: the last step's dxs are right, the earlier ones are not.",
         (f"{_k}_backward",), backward_variant(carry_dh=False, carry_dc=False))
    _add(f"{_k}_bptt_last_only",
         "BPTT uses only the last step's upstream gradient dhs[T-1] (the other dhs[t] are ignored)",
         "the loss is a sum of per-step terms, so every output hs[t] has its own upstream "
         "gradient dhs[t], which adds to what comes back from step t+1 (chapter 2). Symptom: "
         "right only when dhs is zero before the last step.",
         (f"{_k}_backward",), backward_variant(last_upstream_only=True))
    _add(f"{_k}_params_not_summed_first",
         "the parameter gradients are not summed over time: only the first step's (t = 0) remain "
         "(overwritten in the loop)",
         "the same weights are used at every step, so by the sum-over-uses rule their gradient "
         "is the sum of every step's share (chapter 2). Symptom: your parameter gradients are "
         "the first step's share alone.",
         (f"{_k}_backward",), backward_variant(param_grads="first"))
    _add(f"{_k}_params_not_summed_last",
         "the parameter gradients are not summed over time: only the last step's (t = T-1) remain",
         "the same weights are used at every step, so by the sum-over-uses rule their gradient "
         "is the sum of every step's share (chapter 2). Symptom: your parameter gradients are "
         "the last step's share alone.",
         (f"{_k}_backward",), backward_variant(param_grads="last"))
_add("lstm_bptt_ignores_dcs", "the upstream cell-state gradients dcs are ignored",
     "when dcs is given, the gradient reaching c_t is dcs[t] plus what flows back from step t+1.",
     ("lstm_backward",), backward_variant(use_dcs=False))
_add("lstm_bptt_no_dc_carry",
     "BPTT does not carry the cell-state gradient: dc_prev of step t+1 is dropped",
     "c_t feeds c_{t+1}, so the gradient reaching c_t is its upstream gradient dcs[t] (zero "
     "when not given) plus what step t+1 sends back along the cell path, carried like the "
     "hidden-state gradient (chapter 4). Symptom: the last step is right, earlier ones are not.",
     ("lstm_backward",), backward_variant(carry_dc=False))
_add("lstm_bptt_no_dh_carry",
     "BPTT drops the hidden-state gradient from later steps (the cell gradient is carried)",
     "chapter 2's recursion: the gradient reaching h_t is dhs[t] plus what step t+1 sends back "
     "to its h_prev. Symptom: the last step is right, earlier ones are not.",
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
       "the centred difference (L(x + h e_k) - L(x - h e_k)) / (2h) of chapter 2 divides by the "
       "distance between its two points, which is 2h.", _G,
       lambda check, inputs: _numgrad(inputs, mode="half"))
_extra("numgrad_one_sided", "a one-sided difference (L(x + h) - L(x)) / h is used; its error is "
       "of order h, too large for a gradient check",
       "the centred difference (L(x + h e_k) - L(x - h e_k)) / (2h) of chapter 2 has an error of "
       "order h^2. Symptom: relative errors of order h (about 1e-5) instead of 1e-8.",
       _G, lambda check, inputs: _numgrad(inputs, mode="forward"))
_extra("numgrad_one_sided_2h", "a one-sided difference divided by 2h: (L(x + h) - L(x)) / (2h) "
       "(about half the true gradient)",
       "the centred difference of chapter 2 evaluates L on both sides of x, at x + h e_k and "
       "x - h e_k, and divides by the distance 2h between them.",
       _G, lambda check, inputs: _numgrad(inputs, mode="forward2h"))
_extra("numgrad_not_restored", "x is not restored after each perturbation, so later entries are "
       "measured at a shifted point",
       "every coordinate's difference must be measured around the original point: after "
       "perturbing an entry of x, give it back its original value before the next entry (f may "
       "read x in place). Symptom: the first entry is right, later ones are slightly off.",
       _G, lambda check, inputs: _numgrad(inputs, restore=False))
_extra("numgrad_not_weighted", "the upstream gradient df is ignored: you differentiate the sum of "
       "f(x) instead of the sum of f(x) * df",
       "the scalar whose gradient a backward pass returns is L(x), the sum over all entries of "
       "f(x) times df, elementwise (chapter 2). Symptom: right only when df is all ones.", _G,
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
_extra("jacobian_W_hh_transposed", "the Jacobian uses the transpose of W_hh",
       "for one example h_t = tanh(W_hh h_{t-1} + ...), so d h_t / d h_{t-1} = "
       "diag(1 - h_t^2) W_hh (chapter 3): entry [i, j] is the derivative of unit i of h_t with "
       "respect to unit j of h_{t-1}.", _J,
       lambda c, i: {"J": _JACOBIAN["transposed"](i["h_next"], i["W_hh"])})
_extra("jacobian_scales_columns",
       "the tanh derivative scales the columns of W_hh instead of its rows",
       "the derivative tanh'(a_i) = 1 - h_{t,i}^2 belongs to the output unit i, so it scales "
       "row i: diag(1 - h_t^2) stands to the left of W_hh (chapter 3). Symptom: none in the shape; "
       "only the values differ.", _J,
       lambda c, i: {"J": _JACOBIAN["cols"](i["h_next"], i["W_hh"])})
_extra("jacobian_no_derivative", "the tanh derivative is missing: J = W_hh",
       "h_t = tanh(a_t): the chain rule through the tanh contributes tanh'(a_t) = 1 - h_t^2, "
       "one factor per output unit, diag(1 - h_t^2) W_hh (chapter 3).", _J,
       lambda c, i: {"J": _JACOBIAN["no_derivative"](i["h_next"], i["W_hh"])})
_extra("jacobian_one_minus_h", "tanh' is taken as 1 - h instead of 1 - h^2",
       "d tanh(a)/da = 1 - tanh(a)^2 (chapter 2). Symptom: the error is largest where h_next is "
       "negative.", _J,
       lambda c, i: {"J": _JACOBIAN["one_minus_h"](i["h_next"], i["W_hh"])})
_N = ("jacobian_norms",)
_extra("norms_product_reversed", "the Jacobians are multiplied in the wrong order (J_0 J_1 ... J_t)",
       "by the chain rule d h_t / d h_0 = J_t J_{t-1} ... J_1, the latest step's Jacobian on the "
       "left (chapter 3); matrix products do not commute, so the order changes the norms.", _N,
       lambda c, i: {"norms": _jac_norms(i["hs"], i["W_hh"], order="right")})
_extra("norms_frobenius", "the Frobenius norm is used instead of the spectral norm",
       "the bound of chapter 3 is about the spectral norm, the largest singular value, not the "
       "Frobenius norm. Symptom: your norms are larger (up to sqrt(H) times) and can exceed the "
       "bound.", _N,
       lambda c, i: {"norms": _jac_norms(i["hs"], i["W_hh"], norm="fro")})
_extra("norms_not_cumulative", "each step's Jacobian is measured alone instead of the product "
       "over all steps so far", "d h_t / d h_0 is the product of all the Jacobians up to step t "
       "(chapter 3): measure the norm of that running product, not of each factor alone.", _N,
       lambda c, i: {"norms": _jac_norms(i["hs"], i["W_hh"], cumulative=False)})
_Bd = ("gradient_bound",)
_extra("bound_off_by_one", "the exponent is t instead of t + 1 (bound[0] should be sigma_max, "
       "one step)", "entry t bounds the product of t + 1 Jacobians, so its exponent is t + 1: "
       "the first entry is sigma_max(W_hh) itself (chapter 3).", _Bd,
       lambda c, i: {"bound": np.linalg.norm(i["W_hh"], 2) ** np.arange(int(i["T"]))})
_extra("bound_frobenius", "the Frobenius norm of W_hh is used instead of its largest singular "
       "value", "the bound (gamma sigma_max(W_hh))^k uses the spectral norm, the largest singular "
       "value, which is submultiplicative (chapter 3). Symptom: your bound is too loose, by up "
       "to sqrt(H) per step.", _Bd,
       lambda c, i: {"bound": np.linalg.norm(i["W_hh"], "fro") ** np.arange(1, int(i["T"]) + 1)})
_extra("bound_spectral_radius", "the spectral radius (largest |eigenvalue|) is used instead of "
       "the largest singular value", "the bound needs the operator norm sigma_max(W_hh), the "
       "largest singular value (chapter 3); the spectral radius can be smaller, and then the "
       "'bound' can fail to bound.", _Bd,
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
       "Pascanu et al.'s clipping (chapter 3) treats all the gradients as one vector g: its norm "
       "runs over every entry of every array, and one common factor rescales them all, which "
       "keeps the direction. Symptom: the arrays' sizes relative to each other change.", _C,
       lambda c, i: _clip_variant(i, "per_array"))
_extra("clip_elementwise", "the entries are clipped one by one (np.clip) instead of rescaling by "
       "the norm", "clipping by the norm (chapter 3) rescales the whole gradient, as one vector, "
       "to length max_norm when it is longer, which keeps its direction; capping entries one by "
       "one changes the direction.", _C,
       lambda c, i: _clip_variant(i, "elementwise"))
_extra("clip_always", "the gradients are rescaled even when their norm is already below max_norm",
       "clipping only caps the length (chapter 3): a gradient whose global norm is at most "
       "max_norm is returned unchanged. Symptom: short gradients are scaled up.", _C,
       lambda c, i: _clip_variant(i, "always"))


# ================================================================ the exercises' own catalogues
def _exercise_catalogues():
    """An exercise whose mistakes need maths of their own keeps them beside its reference: a Check
    whose `catalogue` names a grader-side module (its reference module) adds what that module's
    `misconceptions()` returns (Misconception objects) to EXTRA. Imported here, never in the
    kernel."""
    import importlib

    from grnn_ref.grading.cases import REGISTRY

    for name in sorted({c.catalogue for c in REGISTRY.values() if c.catalogue}):
        EXTRA.extend(importlib.import_module(name).misconceptions())


_exercise_catalogues()
BY_ID = {m.id: m for m in CATALOG + EXTRA}


# ================================================================ diagnosis
def for_check(check):
    """The misconceptions that apply to a check, in diagnosis order."""
    check = _catalogue_of(check)
    return [m for m in CATALOG + EXTRA if check in m.checks]


def match_tolerance(check, inputs, rtol=None):
    """The tolerance of a diagnosis: ten times the case's (a variant computed in float64 is
    compared with outputs that may be float32)."""
    first = next(iter(inputs.values()))
    dtype = inputs.get("W_ih", first).dtype
    return (rtol if rtol is not None else rtol_for(dtype, getattr(get_check(check), "rtol", None))) * 10


def fingerprints(check, inputs, reference_outputs, tol):
    """(Misconception, its outputs in float64) for each misconception of `check` that applies to
    this case and differs from the reference on the outputs it is judged on, in diagnosis order."""
    for m in for_check(check):
        try:
            with np.errstate(all="ignore"):
                var = m.variant(check, inputs)
        except ShapeInvalid:
            continue
        names = [n for n in var if n in reference_outputs]
        if not names:
            continue
        var64 = {n: np.asarray(var[n], dtype=np.float64) for n in names}
        with np.errstate(all="ignore"):     # a variant may overflow (ex08's softmax without max)
            if compare_outputs(var64, reference_outputs, tol, names=names).ok:
                continue  # indistinguishable from the right answer on this case
        yield m, var64


def diagnose(check, inputs, student_outputs, reference_outputs=None, rtol=None):
    """The Misconception the student's outputs match on this case, or None.

    check: a check name; inputs: the case's inputs; student_outputs: name -> array as recorded;
    reference_outputs: the correct outputs (optional for the cell checks: the mistake-free variant
    otherwise). A variant counts only if it differs from the reference on the outputs it is judged
    on, and the student matches it on all of them.
    """
    if not for_check(check):
        return None
    tol = match_tolerance(check, inputs, rtol)
    if reference_outputs is None:
        reference_outputs = _default_reference(check, inputs)
    for m, var64 in fingerprints(check, inputs, reference_outputs, tol):
        if matches(student_outputs, var64, tol, names=list(var64)):
            return m
    return None


def _default_reference(check, inputs):
    family = get_check(_catalogue_of(check)).family
    if family in ("step_forward", "forward"):
        return forward_variant()(check, inputs)
    if family in ("step_backward", "backward"):
        return backward_variant()(check, inputs)
    raise ValueError(f"diagnose: give reference_outputs for check {check!r}")
