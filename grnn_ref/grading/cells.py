"""The checks of the numpy cells' contract (COURSE.md): step and sequence, forward and backward, for
the tanh RNN, the LSTM and the GRU. Exercises 1, 2, 4 and 5 grade these twelve functions.

Kernel side. One `CellCheck` covers all twelve: a cell is described by its states ("h" for the RNN
and the GRU, "h" and "c" for the LSTM), and every function of the contract follows from them:

    step forward      f(x, h_prev[, c_prev], p)         -> (h_next[, c_next], cache)
    step backward     f(dh_next[, dc_next], cache)      -> (dx, dh_prev[, dc_prev], dp)
    sequence forward  f(xs, h0[, c0], p)                -> (hs[, cs], cache)
    sequence backward f(dhs, cache[, dcs])              -> (dxs, dh0[, dc0], dp)

The reference's outputs come from calling grnn_ref's own functions the same way (`call`), so the
student's code and the reference are driven by one piece of code.
"""
import numpy as np

from grnn_ref.grading.cases import (GRAD_NAMES, PARAM_NAMES, Check, grads_of, params_of,
                                    random_params, register, size, tuple_of)

STATES = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}

# Visible cases: small, float64, D != H so that a transposed weight fails loudly, plus a
# square case (D == H) in which transposition mistakes are shape-valid and can be diagnosed. Hidden:
# float32 and float64, B = 1, T = 1, H != D, H == D, one case whose sizes are drawn from the seed.
STEP_VISIBLE = (size(B=2, D=3, H=4), size(B=3, D=4, H=4))
STEP_HIDDEN = (size(B=1, D=5, H=3), size(B=4, D=2, H=6, dtype="float32"), size(B=3, D=5, H=5),
               size(B=2, D=3, H=2, dtype="float32"), size(random=True))
SEQ_VISIBLE = (size(T=3, B=2, D=3, H=4), size(T=4, B=2, D=4, H=4))
SEQ_HIDDEN = (size(T=1, B=2, D=3, H=5), size(T=5, B=1, D=4, H=3),
              size(T=6, B=3, D=2, H=2, dtype="float32"), size(T=4, B=2, D=5, H=5),
              size(T=7, B=2, D=3, H=4, dtype="float32"), size(T=0, random=True))
# lstm_backward(dhs, cache, dcs=None): also with upstream cell-state gradients
LSTM_DCS_HIDDEN = (size(T=3, B=2, D=3, H=4, dcs=True),
                   size(T=4, B=1, D=2, H=3, dcs=True, dtype="float32"))


def _state(rng, shape, dtype, bound=0.9):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class CellCheck(Check):
    """A function of the cell contract: `kind` (rnn, lstm, gru), step or sequence, forward or
    backward. Backward checks call the student's forward first, for its cache."""

    def __init__(self, kind, sequence, backward, visible, hidden, **kw):
        states = STATES[kind]
        self.sequence, self.backward = sequence, backward
        if sequence:
            self.state_inputs = ("xs",) + tuple(f"{s}0" for s in states)
            self.forward_outputs = tuple(f"{s}s" for s in states)
            self.upstream = tuple(f"d{s}s" for s in states)
            self.gradients = ("dxs",) + tuple(f"d{s}0" for s in states)
        else:
            self.state_inputs = ("x",) + tuple(f"{s}_prev" for s in states)
            self.forward_outputs = tuple(f"{s}_next" for s in states)
            self.upstream = tuple(f"d{s}_next" for s in states)
            self.gradients = ("dx",) + tuple(f"d{s}_prev" for s in states)
        level = "" if sequence else "step_"
        self.forward_name = f"{kind}_{level}forward"
        self.family = f"{level}{'backward' if backward else 'forward'}"
        name = f"{kind}_{self.family}"
        outputs = self.forward_outputs + (self.gradients + GRAD_NAMES if backward else ())
        super().__init__(name, outputs, visible, hidden, kind=kind, **kw)

    # ------------------------------------------------------------------ kernel side
    def build(self, shape, rng):
        dt = np.dtype(shape["dtype"])
        B, D, H = shape["B"], shape["D"], shape["H"]
        p = random_params(self.kind, D, H, rng, dt)
        lead = (shape["T"],) if self.sequence else ()
        inputs = {}
        x_name, *state_names = self.state_inputs
        inputs[x_name] = rng.standard_normal(lead + (B, D)).astype(dt)
        for name in state_names:   # h: inside tanh's range; c: unbounded
            inputs[name] = (_state(rng, (B, H), dt) if name[0] == "h"
                            else rng.standard_normal((B, H)).astype(dt))
        inputs.update(zip(PARAM_NAMES, p))
        if self.backward:
            for name in self.upstream:
                if self.sequence and name == "dcs" and not shape.get("dcs"):
                    continue   # the optional dcs of lstm_backward: only where the case asks
                inputs[name] = rng.standard_normal(lead + (B, H)).astype(dt)
        return inputs

    def _signature(self, names):
        return "(" + ", ".join(names) + ")"

    def call(self, fns, inputs):
        forward = fns[0]
        result = forward(*(inputs[n] for n in self.state_inputs), params_of(inputs))
        *states, cache = tuple_of(result, len(self.forward_outputs) + 1,
                                  self._signature(self.forward_outputs + ("cache",)))
        outputs = dict(zip(self.forward_outputs, states))
        if not self.backward:
            return outputs
        backward = fns[1]
        upstream = [inputs[n] for n in self.upstream if n in inputs]
        if self.sequence:   # f(dhs, cache[, dcs])
            args = (upstream[0], cache, *upstream[1:])
        else:               # f(dh_next[, dc_next], cache)
            args = (*upstream, cache)
        *grads, dp = tuple_of(backward(*args), len(self.gradients) + 1,
                              self._signature(self.gradients + ("dp",)))
        outputs.update(zip(self.gradients, grads))
        outputs.update(grads_of(dp, getattr(backward, "__name__", "backward")))
        return outputs

    # ------------------------------------------------------------------ grader side
    def reference_functions(self):
        """grnn_ref's forward (and backward) for this check."""
        import importlib

        module = importlib.import_module(f"grnn_ref.{self.kind}")
        forward = getattr(module, self.forward_name)
        if not self.backward:
            return (forward,)
        return forward, getattr(module, f"{self.kind}_{self.family}")

    def reference(self, inputs):
        return self.call(self.reference_functions(), inputs)


CELL_CHECKS = {}
for _kind in STATES:
    for _sequence, _visible, _hidden in ((False, STEP_VISIBLE, STEP_HIDDEN),
                                         (True, SEQ_VISIBLE, SEQ_HIDDEN)):
        for _backward in (False, True):
            _extra = LSTM_DCS_HIDDEN if _kind == "lstm" and _sequence and _backward else ()
            _check = register(CellCheck(_kind, _sequence, _backward, _visible, _hidden + _extra))
            CELL_CHECKS[_check.name] = _check
