"""The inputs every check feeds to a student's function: a pure function of (check, case id, seed).

Kernel side (numpy only): the grading kernel and the grader process both call `make_inputs` and get
bit-identical arrays, so the grader can recompute the reference without trusting the kernel.

    check names     the contract's function names ("rnn_forward", "lstm_step_backward", ...) and a
                    few exercise-specific ones ("numerical_gradient", "clip_gradients", ...)
    case ids        "visible-0", "visible-1", ... (fixed seeds, shown to students) and
                    "hidden-0", ... (seeds derived from the grading secret, see `case_seed`)
    shapes          time-major as in the contract: xs (T, B, D), h/c (B, H), hs (T, B, H)

Visible cases are small, float64, with D != H so that a transposed weight fails loudly, plus one
square case (D == H) in which transposition mistakes are shape-valid and can be diagnosed.
Hidden cases add fresh sizes, float32, and the edge cases T = 1, B = 1, H != D.
"""
import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

try:  # the contract's parameter container (a NamedTuple, no reference maths in it)
    from grnn_ref.params import Params
except ImportError:  # a staged, reference-free copy of the grading modules: same fields
    from typing import NamedTuple

    class Params(NamedTuple):
        """W_ih (G*H, D), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,); PyTorch layout and gate order."""
        W_ih: np.ndarray
        W_hh: np.ndarray
        b_ih: np.ndarray
        b_hh: np.ndarray

NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")
GRAD_NAMES = tuple("d" + n for n in PARAM_NAMES)

# The environment variable holding the grading secret. The grading kernel's launcher sets it (from
# an instructor-side secret and the student's id), so hidden inputs cannot be precomputed from this
# public package. On a student's machine it is unset and hidden cases use a fixed default seed.
SEED_ENV = "GRNN_GRADING_SEED"
_DEFAULT_SECRET = "grnn-public-default"


@dataclass(frozen=True)
class CheckSpec:
    """What one check runs: the student functions it calls, the outputs it records, its cases."""
    name: str
    family: str              # step_forward, forward, step_backward, backward, or a custom family
    kind: str = ""           # rnn, lstm, gru (empty for custom checks)
    outputs: tuple = ()
    visible: tuple = ()      # case shape specs (dicts), see _shape_of
    hidden: tuple = ()
    rtol: dict = field(default_factory=dict)  # dtype name -> rtol override (compare.py defaults)


def _c(T=None, B=2, D=3, H=4, dtype="float64", **extra):
    d = dict(B=B, D=D, H=H, dtype=dtype, **extra)
    if T is not None:
        d["T"] = T
    return d


# Visible cases: small, float64. Hidden: float32 and float64, B = 1, T = 1, H != D, H == D, one
# case whose sizes are drawn from the seed ("random").
_STEP_VISIBLE = (_c(B=2, D=3, H=4), _c(B=3, D=4, H=4))
_STEP_HIDDEN = (_c(B=1, D=5, H=3), _c(B=4, D=2, H=6, dtype="float32"), _c(B=3, D=5, H=5),
                _c(B=2, D=3, H=2, dtype="float32"), _c(random=True))
_SEQ_VISIBLE = (_c(T=3, B=2, D=3, H=4), _c(T=4, B=2, D=4, H=4))
_SEQ_HIDDEN = (_c(T=1, B=2, D=3, H=5), _c(T=5, B=1, D=4, H=3), _c(T=6, B=3, D=2, H=2, dtype="float32"),
               _c(T=4, B=2, D=5, H=5), _c(T=7, B=2, D=3, H=4, dtype="float32"), _c(T=0, random=True))

_FWD_OUT = {"rnn": ("h_next",), "lstm": ("h_next", "c_next"), "gru": ("h_next",)}
_SEQ_OUT = {"rnn": ("hs",), "lstm": ("hs", "cs"), "gru": ("hs",)}
_STEP_GRADS = {"rnn": ("dx", "dh_prev"), "lstm": ("dx", "dh_prev", "dc_prev"), "gru": ("dx", "dh_prev")}
_SEQ_GRADS = {"rnn": ("dxs", "dh0"), "lstm": ("dxs", "dh0", "dc0"), "gru": ("dxs", "dh0")}

SPECS = {}


def _register(spec):
    SPECS[spec.name] = spec
    return spec


for _kind in ("rnn", "lstm", "gru"):
    _register(CheckSpec(f"{_kind}_step_forward", "step_forward", _kind, _FWD_OUT[_kind],
                        _STEP_VISIBLE, _STEP_HIDDEN))
    _register(CheckSpec(f"{_kind}_forward", "forward", _kind, _SEQ_OUT[_kind],
                        _SEQ_VISIBLE, _SEQ_HIDDEN))
    _register(CheckSpec(f"{_kind}_step_backward", "step_backward", _kind,
                        _FWD_OUT[_kind] + _STEP_GRADS[_kind] + GRAD_NAMES,
                        _STEP_VISIBLE, _STEP_HIDDEN))
    _seq_hidden = _SEQ_HIDDEN
    if _kind == "lstm":  # lstm_backward(dhs, cache, dcs=None): also with upstream cell gradients
        _seq_hidden = _SEQ_HIDDEN + (_c(T=3, B=2, D=3, H=4, dcs=True),
                                     _c(T=4, B=1, D=2, H=3, dcs=True, dtype="float32"))
    _register(CheckSpec(f"{_kind}_backward", "backward", _kind,
                        _SEQ_OUT[_kind] + _SEQ_GRADS[_kind] + GRAD_NAMES,
                        _SEQ_VISIBLE, _seq_hidden))


# ---------------------------------------------------------------------------------------- seeds
def grading_secret():
    """The secret hidden seeds derive from: $GRNN_GRADING_SEED, or a public default."""
    return os.environ.get(SEED_ENV) or _DEFAULT_SECRET


def case_ids(check, hidden=False):
    """The case ids a check runs: ("visible-0", ...) or ("hidden-0", ...)."""
    spec = get_spec(check)
    prefix, cases = ("hidden", spec.hidden) if hidden else ("visible", spec.visible)
    return tuple(f"{prefix}-{i}" for i in range(len(cases)))


def case_seed(check, case_id, secret=None):
    """A 63-bit seed for one case: visible cases from public constants, hidden ones from `secret`
    (default: `grading_secret()`)."""
    if case_id.startswith("hidden"):
        secret = grading_secret() if secret is None else secret
    else:
        secret = "visible"
    digest = hashlib.sha256(f"{secret}|{check}|{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def get_spec(check):
    try:
        return SPECS[check]
    except KeyError:
        raise ValueError(f"unknown check {check!r}; known checks: {sorted(SPECS)}") from None


def case_shape(check, case_id, secret=None):
    """The size spec of a case (dict with B, D, H, dtype and T for sequences), sizes drawn from the
    seed for "random" cases."""
    spec = get_spec(check)
    prefix, _, idx = case_id.partition("-")
    cases = {"visible": spec.visible, "hidden": spec.hidden}.get(prefix)
    if cases is None or not idx.isdigit() or int(idx) >= len(cases):
        raise ValueError(f"unknown case {case_id!r} for check {check!r}; "
                         f"expected one of {case_ids(check) + case_ids(check, True)}")
    shape = dict(cases[int(idx)])
    if shape.pop("random", False):
        rng = np.random.default_rng(case_seed(check, case_id, secret) ^ 0x5EED)
        shape.update(B=int(rng.integers(1, 5)), D=int(rng.integers(1, 7)), H=int(rng.integers(1, 7)),
                     dtype=str(rng.choice(["float32", "float64"])))
        if "T" in shape:
            shape["T"] = int(rng.integers(1, 9))
    return shape


# ---------------------------------------------------------------------------------------- inputs
def random_params(kind, D, H, rng, dtype=np.float64, scale=None):
    """Parameters drawn from U(-s, s), s = 1.5 / sqrt(H) (a bit wider than torch's 1/sqrt(H), so the
    gates leave their linear range and mistakes in the nonlinearities show)."""
    G = NUM_GATES[kind]
    s = 1.5 / np.sqrt(H) if scale is None else scale
    shapes = [(G * H, D), (G * H, H), (G * H,), (G * H,)]
    return Params(*(rng.uniform(-s, s, size=sh).astype(dtype) for sh in shapes))


def _state(rng, shape, dtype, bound=0.9):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _contract_inputs(spec, shape, rng):
    kind, fam = spec.kind, spec.family
    dt = np.dtype(shape["dtype"])
    B, D, H = shape["B"], shape["D"], shape["H"]
    p = random_params(kind, D, H, rng, dt)
    seq = fam in ("forward", "backward")
    inputs = {}
    if seq:
        T = shape["T"]
        inputs["xs"] = rng.standard_normal((T, B, D)).astype(dt)
        inputs["h0"] = _state(rng, (B, H), dt)
        if kind == "lstm":
            inputs["c0"] = rng.standard_normal((B, H)).astype(dt)
    else:
        inputs["x"] = rng.standard_normal((B, D)).astype(dt)
        inputs["h_prev"] = _state(rng, (B, H), dt)
        if kind == "lstm":
            inputs["c_prev"] = rng.standard_normal((B, H)).astype(dt)
    inputs.update(zip(PARAM_NAMES, p))
    if fam == "step_backward":
        inputs["dh_next"] = rng.standard_normal((B, H)).astype(dt)
        if kind == "lstm":
            inputs["dc_next"] = rng.standard_normal((B, H)).astype(dt)
    elif fam == "backward":
        inputs["dhs"] = rng.standard_normal((shape["T"], B, H)).astype(dt)
        if kind == "lstm" and shape.get("dcs"):
            inputs["dcs"] = rng.standard_normal((shape["T"], B, H)).astype(dt)
    return inputs


# Custom families register a builder: (spec, shape, rng) -> inputs dict.
CUSTOM_BUILDERS = {}


# ---------------------------------------------------------------- ex02: finite-difference gradient
# numerical_gradient(f, x, df, h=1e-5): the centred-difference gradient of L(x) = sum(f(x) * df).
# The check's f is f(x) = tanh(x @ A + b), x (B, D), A (D, H), b (H,), df (B, H), float64 only:
# finite differences in float32 cannot resolve a gradient (chapter 2).
def _numgrad_inputs(spec, shape, rng):
    B, D, H = shape["B"], shape["D"], shape["H"]
    return {"x": rng.standard_normal((B, D)), "A": rng.uniform(-1, 1, (D, H)),
            "b": rng.uniform(-0.5, 0.5, H), "df": rng.standard_normal((B, H))}


def numgrad_function(inputs):
    """The f of a numerical_gradient case: f(x) = tanh(x @ A + b) (new closure over copies)."""
    A, b = np.array(inputs["A"]), np.array(inputs["b"])
    return lambda x: np.tanh(x @ A + b)


CUSTOM_BUILDERS["numgrad"] = _numgrad_inputs
_register(CheckSpec("numerical_gradient", "numgrad", "", ("dx",),
                    (_c(B=2, D=3, H=4), _c(B=1, D=2, H=2)),
                    (_c(B=3, D=4, H=2), _c(B=1, D=1, H=3), _c(B=2, D=5, H=5)),
                    # centred differences with h ~ 1e-5 agree with the analytic gradient to ~1e-8
                    # in our error measure; one-sided differences are off by ~1e-5 and more.
                    rtol={"float64": 1e-6}))


# ---------------------------------------------------------------- ex03: vanishing and exploding
def _ex03_inputs(spec, shape, rng):
    dt = np.dtype(shape.get("dtype", "float64"))
    B, H = shape.get("B", 2), shape["H"]
    p = random_params("rnn", shape.get("D", 3), H, rng, dt)
    inputs = dict(zip(PARAM_NAMES, p))
    if spec.family == "jacobian":
        inputs["h_next"] = rng.uniform(-0.95, 0.95, (B, H)).astype(dt)
    elif spec.family == "jacobian_norms":
        inputs["hs"] = rng.uniform(-0.95, 0.95, (shape["T"], B, H)).astype(dt)
    elif spec.family == "bound":
        inputs["T"] = np.array(shape["T"])
    elif spec.family == "clip":
        grads = [rng.standard_normal(a.shape).astype(dt) for a in p]
        total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))
        inputs = dict(zip(GRAD_NAMES, grads))
        inputs["max_norm"] = np.array(total * shape["ratio"])
    return inputs


for _name, _fam, _vis, _hid in (
        ("rnn_jacobian", "jacobian", (_c(B=2, H=3), _c(B=1, H=4)),
         (_c(B=3, H=5), _c(B=1, H=1), _c(B=2, H=6, dtype="float32"))),
        ("jacobian_norms", "jacobian_norms", (_c(T=4, B=2, H=3), _c(T=3, B=1, H=4)),
         (_c(T=1, B=2, H=3), _c(T=6, B=3, H=5), _c(T=5, B=1, H=2, dtype="float32"))),
        ("gradient_bound", "bound", (_c(T=5, H=4), _c(T=3, H=3)), (_c(T=1, H=5), _c(T=8, H=6))),
        ("clip_gradients", "clip", (_c(H=3, ratio=0.5), _c(H=4, ratio=2.0)),
         (_c(H=5, ratio=0.1), _c(H=2, ratio=1.5), _c(H=3, ratio=0.7, dtype="float32")))):
    CUSTOM_BUILDERS[_fam] = _ex03_inputs
    _register(CheckSpec(_name, _fam, "rnn", {"jacobian": ("J",), "jacobian_norms": ("norms",),
                                              "bound": ("bound",), "clip": GRAD_NAMES}[_fam],
                        _vis, _hid,
                        # clipping as torch does it, max_norm / (norm + 1e-6), differs from the
                        # exact max_norm / norm by ~1e-6 relative: allowed
                        rtol={"float64": 1e-5} if _fam == "clip" else {}))


def adding_problem(n, T, seed=0):
    """The adding problem (Hochreiter & Schmidhuber 1997; the variant of Arjovsky et al. 2016).

    Each of n sequences has T steps of 2 features: a value drawn from U(0, 1) and a marker, 1 at
    exactly two steps (one in each half of the sequence) and 0 elsewhere. The target is the sum
    of the two marked values. Predicting the mean, 1, gives the baseline MSE 1/6.
    Returns xs (T, n, 2) and ys (n, 1), float32. (numpy only, so grading kernels have it.)
    """
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 1, (T, n)).astype(np.float32)
    first = rng.integers(0, max(T // 2, 1), n)
    second = rng.integers(T // 2, T, n)
    markers = np.zeros((T, n), np.float32)
    markers[first, np.arange(n)] = 1
    markers[second, np.arange(n)] = 1
    xs = np.stack([values, markers], axis=-1)
    ys = (values[first, np.arange(n)] + values[second, np.arange(n)])[:, None]
    return xs, ys.astype(np.float32)


ADDING_BASELINE_MSE = 1 / 6


# ---------------------------------------------------------------- ex06: a torch LSTM cell
CUSTOM_BUILDERS["torch_cell"] = lambda spec, shape, rng: _contract_inputs(
    get_spec("lstm_step_backward"), shape, rng)
_register(CheckSpec("torch_lstm_cell", "torch_cell", "lstm",
                    SPECS["lstm_step_backward"].outputs, _STEP_VISIBLE, _STEP_HIDDEN))

ADDING_T = 10
ADDING_N = 256


def _adding_inputs(spec, shape, rng):
    xs, ys = adding_problem(ADDING_N, ADDING_T, seed=int(rng.integers(2 ** 31)))
    return {"xs": xs, "ys": ys}


CUSTOM_BUILDERS["adding"] = _adding_inputs
_register(CheckSpec("adding_model", "adding", "", ("y_pred",), ({"dtype": "float32"},),
                    ({"dtype": "float32"},)))


# ---------------------------------------------------------------- ex07: inside the gates
CUSTOM_BUILDERS["trace"] = lambda spec, shape, rng: _contract_inputs(
    get_spec("lstm_forward"), shape, rng)
_register(CheckSpec("lstm_gate_trace", "trace", "lstm", ("hs", "cs", "i", "f", "g", "o"),
                    _SEQ_VISIBLE, _SEQ_HIDDEN))


def ex03_experiment():
    """The fixed RNN of Exercise 3's measurement (the notebook builds the same, in plain sight).

    Returns p (Params, H = 32, D = 4, W_hh = 0.9 * a random orthogonal matrix, zero biases),
    xs (T = 60, B = 8, D) and h0 (B, H) zeros. float64.
    """
    rng = np.random.default_rng(2013)
    H, D, T, B = 32, 4, 60, 8
    Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    p = Params(rng.uniform(-0.5, 0.5, (H, D)), 0.9 * Q, np.zeros(H), np.zeros(H))
    xs = rng.standard_normal((T, B, D))
    return p, xs, np.zeros((B, H))


# ---------------------------------------------------------------- numeric answers
# check_answer(name, value): one case, no inputs; the expected value is computed grader-side.
ANSWERS = ("ex03_decay_rate", "ex07_memory_unit", "ex07_input_gate_at_marker",
           "ex07_time_constant")
for _name in ANSWERS:
    _register(CheckSpec(_name, "answer", "", ("value",), ({"dtype": "float64"},), ()))
CUSTOM_BUILDERS["answer"] = lambda spec, shape, rng: {}


def make_inputs(check, case_id, secret=None):
    """The inputs of one case: an ordered dict name -> ndarray (parameters as W_ih, W_hh, b_ih, b_hh).

    Deterministic in (check, case_id, secret); new arrays on every call.
    """
    spec = get_spec(check)
    shape = case_shape(check, case_id, secret)
    rng = np.random.default_rng(case_seed(check, case_id, secret))
    if spec.family in CUSTOM_BUILDERS:
        return CUSTOM_BUILDERS[spec.family](spec, shape, rng)
    return _contract_inputs(spec, shape, rng)


def params_of(inputs):
    """The Params held in an inputs dict."""
    return Params(*(inputs[n] for n in PARAM_NAMES))


def describe_case(check, case_id, secret=None):
    """A short human description, e.g. "T=3, B=2, D=3, H=4, float64"."""
    shape = case_shape(check, case_id, secret)
    keys = [k for k in ("T", "B", "D", "H") if k in shape]
    parts = [f"{k}={shape[k]}" for k in keys]
    if shape.get("dcs"):
        parts.append("with dcs")
    if "dtype" in shape:
        parts.append(shape["dtype"])
    parts += [f"{k}={v}" for k, v in shape.items() if k not in keys + ["dcs", "dtype"]]
    return ", ".join(parts)
