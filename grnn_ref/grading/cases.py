"""What a check is: one `Check` object knows its cases, how to call the student's code, the correct
outputs and how to judge them. One registry maps a check's name to its object.

Kernel side (numpy only at import time): the grading kernel and the grader process both build a
case's inputs with `Check.make_inputs` and get bit-identical arrays, so the grader can recompute the
reference without trusting the kernel. The grader-side methods (`reference`, `evaluate`,
`misconceptions`) import the reference only when called, which never happens in the sandbox.

    check names     the contract's function names ("rnn_forward", "lstm_step_backward", ...) and a
                    few exercise-specific ones ("numerical_gradient", "clip_gradients", ...)
    case ids        "visible-0", "visible-1", ... (fixed seeds, shown to students) and
                    "hidden-0", ... (seeds derived from the grading secret, see `Check.case_seed`)
    shapes          time-major as in the contract: xs (T, B, D), h/c (B, H), hs (T, B, H)

Where the checks are defined: `grnn_ref.grading.cells` (the numpy cells' contract, shared by
exercises 1, 2, 4 and 5) and one module per exercise in `grnn_ref.grading.exercises`. A new exercise
adds its module there (its checks, their inputs and how they call the student's code) and its
reference maths where the reference lives; nothing else needs to know about it.
"""
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from grnn_ref.params import Params

NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")
GRAD_NAMES = tuple("d" + n for n in PARAM_NAMES)

# The environment variable holding the grading secret. The grading kernel's launcher sets it (from
# an instructor-side secret and the student's id), so hidden inputs cannot be precomputed from this
# public package. On a student's machine it is unset and hidden cases use a fixed default seed.
SEED_ENV = "GRNN_GRADING_SEED"
_DEFAULT_SECRET = "grnn-public-default"


def grading_secret():
    """The secret hidden seeds derive from: $GRNN_GRADING_SEED, or a public default."""
    return os.environ.get(SEED_ENV) or _DEFAULT_SECRET


def size(T=None, B=2, D=3, H=4, dtype="float64", **extra):
    """A case's size spec: B, D, H, dtype (and T for sequences), plus flags such as random=True
    (sizes drawn from the case's seed) or dcs=True (an upstream cell-state gradient)."""
    d = dict(B=B, D=D, H=H, dtype=dtype, **extra)
    if T is not None:
        d["T"] = T
    return d


@dataclass
class Verdict:
    """The judgement of one case: ok, the message a student reads, the mistake recognised."""
    ok: bool
    message: str = ""
    misconception: object = None


class BadOutput(Exception):
    """The student's function returned something of the wrong kind (not a wrong value)."""


def tuple_of(result, n, what):
    """Unpack a function's result into n items; BadOutput naming what was expected."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = (f"a {type(result).__name__} of length {len(result)}"
               if isinstance(result, (tuple, list)) else f"a {type(result).__name__}")
        raise BadOutput(f"expected it to return {what}, got {got}")
    return tuple(result)


def grads_of(dp, fn_name):
    """name -> array of a gradient 'Params' (Params, 4-tuple, object with attributes or dict)."""
    if isinstance(dp, dict):
        vals = [dp.get(n, dp.get("d" + n)) for n in PARAM_NAMES]
    elif isinstance(dp, (tuple, list)) and len(dp) == 4:
        vals = list(dp)
    elif all(hasattr(dp, n) for n in PARAM_NAMES):
        vals = [getattr(dp, n) for n in PARAM_NAMES]
    else:
        raise BadOutput(f"{fn_name}: expected dp to be a Params(dW_ih, dW_hh, db_ih, db_hh), "
                        f"got a {type(dp).__name__}")
    return dict(zip(GRAD_NAMES, vals))


def params_of(inputs):
    """The Params held in an inputs dict."""
    return Params(*(inputs[n] for n in PARAM_NAMES))


def random_params(kind, D, H, rng, dtype=np.float64, scale=None):
    """Parameters drawn from U(-s, s), s = 1.5 / sqrt(H) (a bit wider than torch's 1/sqrt(H), so the
    gates leave their linear range and mistakes in the nonlinearities show)."""
    G = NUM_GATES[kind]
    s = 1.5 / np.sqrt(H) if scale is None else scale
    shapes = [(G * H, D), (G * H, H), (G * H,), (G * H,)]
    return Params(*(rng.uniform(-s, s, size=sh).astype(dtype) for sh in shapes))


class Check:
    """One check: its cases (sizes and seeds), the inputs of each case, how it calls the student's
    code (kernel side), and the correct outputs and the verdict (grader side).

    Subclasses define `build(shape, rng)` and `call(fns, inputs)`, and `reference(inputs)` unless
    they override `evaluate`. `family` groups checks that share these methods (used in messages and
    by the misconception catalogue); `kind` is the cell ("rnn", "lstm", "gru") where there is one.
    """
    family = ""
    #: the student's objects passed to the check are functions (not a value or a trained model)
    takes_functions = True
    #: say "correct." instead of "all N cases pass." (a single answer or a trained model)
    single_verdict = False
    #: the verdict is a comparison with the reference's outputs; False for a verdict of its own
    #: (a trained model's MSE, a statistical test), which the student kit does not judge from
    #: precomputed outputs
    compared_with_reference = True
    #: a grader-side module (the exercise's reference) whose misconceptions() lists the
    #: exercise's own mistakes, where the catalogue in misconceptions.py does not hold them
    catalogue = None

    def __init__(self, name, outputs, visible, hidden, *, kind="", rtol=None, diagnose_as=None):
        self.name = name
        self.outputs = tuple(outputs)
        self.visible = tuple(visible)
        self.hidden = tuple(hidden)
        self.kind = kind
        self.rtol = dict(rtol or {})     # dtype name -> rtol override (compare.py's defaults)
        self.diagnose_as = diagnose_as or name   # whose misconception catalogue applies

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    # ------------------------------------------------------------------ cases (both sides)
    def case_ids(self, hidden=False):
        """The case ids this check runs: ("visible-0", ...) or ("hidden-0", ...)."""
        prefix, shapes = ("hidden", self.hidden) if hidden else ("visible", self.visible)
        return tuple(f"{prefix}-{i}" for i in range(len(shapes)))

    def case_seed(self, case_id, secret=None):
        """A 63-bit seed for one case: visible cases from public constants, hidden ones from
        `secret` (default: `grading_secret()`)."""
        if case_id.startswith("hidden"):
            secret = grading_secret() if secret is None else secret
        else:
            secret = "visible"
        digest = hashlib.sha256(f"{secret}|{self.name}|{case_id}".encode()).digest()
        return int.from_bytes(digest[:8], "little") >> 1

    def case_shape(self, case_id, secret=None):
        """The size spec of a case, sizes drawn from the seed for "random" cases."""
        prefix, _, idx = case_id.partition("-")
        shapes = {"visible": self.visible, "hidden": self.hidden}.get(prefix)
        if shapes is None or not idx.isdigit() or int(idx) >= len(shapes):
            raise ValueError(f"unknown case {case_id!r} for check {self.name!r}; "
                             f"expected one of {self.case_ids() + self.case_ids(True)}")
        shape = dict(shapes[int(idx)])
        if shape.pop("random", False):
            rng = np.random.default_rng(self.case_seed(case_id, secret) ^ 0x5EED)
            shape.update(B=int(rng.integers(1, 5)), D=int(rng.integers(1, 7)),
                         H=int(rng.integers(1, 7)), dtype=str(rng.choice(["float32", "float64"])))
            if "T" in shape:
                shape["T"] = int(rng.integers(1, 9))
        return shape

    def make_inputs(self, case_id, secret=None):
        """The inputs of one case: a dict name -> ndarray (parameters as W_ih, W_hh, b_ih, b_hh).
        Deterministic in (check, case_id, secret); new arrays on every call."""
        shape = self.case_shape(case_id, secret)
        return self.build(shape, np.random.default_rng(self.case_seed(case_id, secret)))

    def describe_case(self, case_id, secret=None):
        """A short human description, e.g. "T=3, B=2, D=3, H=4, float64"."""
        shape = self.case_shape(case_id, secret)
        keys = [k for k in ("T", "B", "D", "H") if k in shape]
        parts = [f"{k}={shape[k]}" for k in keys]
        if shape.get("dcs"):
            parts.append("with dcs")
        if "dtype" in shape:
            parts.append(shape["dtype"])
        parts += [f"{k}={v}" for k, v in shape.items() if k not in keys + ["dcs", "dtype"]]
        return ", ".join(parts)

    # ------------------------------------------------------------------ kernel side
    def build(self, shape, rng):
        """The inputs of a case of size `shape`, drawn from `rng`."""
        raise NotImplementedError

    def call(self, fns, inputs):
        """Call the student's function(s) `fns` on `inputs`; the outputs to record (name -> array).
        BadOutput when what they return has the wrong form."""
        raise NotImplementedError

    # ------------------------------------------------------------------ grader side
    def reference(self, inputs):
        """The correct outputs of a case (name -> ndarray), computed with grnn_ref's reference."""
        raise NotImplementedError

    def evaluate(self, case_id, inputs, outputs, secret=None):
        """The Verdict on what the student's code returned for one case: compared with the
        reference, the mistake named when the misconception catalogue recognises it."""
        from grnn_ref.grading import feedback

        return feedback.compare_with_reference(self, case_id, inputs, outputs, secret)

    def misconceptions(self):
        """The known mistakes to look for when this check fails, in diagnosis order."""
        from grnn_ref.grading import misconceptions

        return misconceptions.for_check(self.diagnose_as)



class AnswerCheck(Check):
    """A numeric answer the notebook's procedure produces (one case, no inputs). The expected value
    is computed grader-side by `expected()` and never revealed; `rtol` 0 means an exact integer."""
    family = "answer"
    takes_functions = False
    single_verdict = True

    def __init__(self, name, expected, rtol):
        super().__init__(name, ("value",), ({"dtype": "float64"},), ())
        self.expected, self.answer_rtol = expected, rtol

    def build(self, shape, rng):
        return {}

    def call(self, fns, inputs):
        value = fns[0]
        if value is None or value is Ellipsis:
            raise BadOutput("the answer is not set yet (assign a number to it)")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise BadOutput(f"the answer must be a number, got {type(value).__name__}") from None
        if arr.size != 1:
            raise BadOutput(f"the answer must be one number, got an array of shape {arr.shape}")
        return {"value": arr.reshape(())}

    def evaluate(self, case_id, inputs, outputs, secret=None):
        expected, rtol = self.expected(), self.answer_rtol
        value = outputs.get("value")
        try:
            value = float(value)
        except (TypeError, ValueError):
            return Verdict(False, f"{self.name}: the answer must be one number, got {value!r}.")
        if not np.isfinite(value):
            return Verdict(False, f"{self.name}: your answer is {value}, not a number. Look for a "
                                  f"NaN or an infinity in the steps that produce it.")
        if rtol == 0:
            ok = value == round(value) and int(round(value)) == int(expected)
            want = "the right whole number"
        else:
            ok = abs(value - expected) <= rtol * abs(expected)
            want = f"within {rtol:.0%} of the value the procedure above gives"
        if ok:
            return Verdict(True)
        return Verdict(False, f"{self.name}: your answer {value:.6g} is not {want}. Follow the "
                              f"steps in the notebook exactly (same data, same formula) and check "
                              f"each intermediate result.")


REGISTRY = {}


def register(check):
    """Add a Check to the registry (its name must be new); returns it."""
    if check.name in REGISTRY:
        raise ValueError(f"a check named {check.name!r} is already registered")
    REGISTRY[check.name] = check
    return check


def get_check(name):
    """The registered Check called `name`; ValueError listing the known names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown check {name!r}; known checks: {sorted(REGISTRY)}") from None


