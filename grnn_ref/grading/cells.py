"""The checks of the numpy cells' contract (COURSE.md): step and sequence, forward and backward, for
the tanh RNN, the LSTM and the GRU. Exercises 1, 2, 4 and 5 grade these twelve functions.

Kernel side. One `CellCheck` covers all twelve: a cell is described by its states ("h" for the RNN
and the GRU, "h" and "c" for the LSTM) and its step cache (grnn_ref.params.STEP_CACHES), and every
function of the contract follows from them:

    step forward      f(x, h_prev[, c_prev], p)         -> (h_next[, c_next], cache)
    step backward     f(dh_next[, dc_next], cache)      -> (dx, dh_prev[, dc_prev], dp)
    sequence forward  f(xs, h0[, c0], p)                -> (hs[, cs], cache)
    sequence backward f(dhs, cache[, dcs])              -> (dxs, dh0[, dc0], dp)

A forward check records the states and the cache's fields ("cache.i", ...: a step cache, or the
list of T step caches stacked over time). A backward check never runs the student's forward: it
draws a cache itself (its fields are inputs of the case, gate values drawn in their ranges, not
computed from x and p) and calls the student's backward on it, so a mistake in a forward costs
only the forward's points. The reference's outputs come from calling grnn_ref's own functions the
same way (`call`), so the student's code and the reference are driven by one piece of code.
"""
import numpy as np

from grnn_ref.grading.cases import (GRAD_NAMES, PARAM_NAMES, BadOutput, Check, grads_of,
                                    params_of, random_params, register, size, tuple_of)
from grnn_ref.params import STEP_CACHES

STATES = {"rnn": ("h",), "lstm": ("h", "c"), "gru": ("h",)}

# Every kind of hidden case has a visible representative (other seeds): float64 and float32, B = 1,
# T = 1, H != D and D == H (where transposition mistakes are shape-valid and can be diagnosed),
# and for lstm_backward the optional upstream dcs. Hidden cases add one whose sizes and dtype are
# drawn from the seed. `python -m grnn_ref.grading.coverage` measures how well the visible cases
# predict the hidden ones over the misconception catalogue.
STEP_VISIBLE = (size(B=2, D=3, H=4), size(B=3, D=4, H=4), size(B=1, D=2, H=3, dtype="float32"),
                size(B=4, D=5, H=2))
STEP_HIDDEN = (size(B=1, D=5, H=3), size(B=4, D=2, H=6, dtype="float32"), size(B=3, D=5, H=5),
               size(B=2, D=3, H=2, dtype="float32"), size(random=True))
SEQ_VISIBLE = (size(T=3, B=2, D=3, H=4), size(T=4, B=2, D=4, H=4), size(T=1, B=3, D=2, H=3),
               size(T=5, B=1, D=3, H=2, dtype="float32"))
SEQ_HIDDEN = (size(T=1, B=2, D=3, H=5), size(T=5, B=1, D=4, H=3),
              size(T=6, B=3, D=2, H=2, dtype="float32"), size(T=4, B=2, D=5, H=5),
              size(T=7, B=2, D=3, H=4, dtype="float32"), size(T=0, random=True))
# lstm_backward(dhs, cache, dcs=None): also with upstream cell-state gradients
LSTM_DCS_VISIBLE = (size(T=3, B=2, D=2, H=3, dcs=True),)
LSTM_DCS_HIDDEN = (size(T=3, B=2, D=3, H=4, dcs=True),
                   size(T=4, B=1, D=2, H=3, dcs=True, dtype="float32"))


def _state(rng, shape, dtype, bound=0.9):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _gate(rng, shape, dtype):
    """Values a sigmoid gate can take, away from 0 and 1."""
    return rng.uniform(0.05, 0.95, size=shape).astype(dtype)


class CellCheck(Check):
    """A function of the cell contract: `kind` (rnn, lstm, gru), step or sequence, forward or
    backward. Backward checks run on caches they draw themselves (see the module docstring)."""

    def __init__(self, kind, sequence, backward, visible, hidden, **kw):
        states = STATES[kind]
        self.sequence, self.backward = sequence, backward
        self.cache_type = STEP_CACHES[kind]
        self.cache_fields = self.cache_type._fields[:-1]    # all but p
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
        if backward:
            outputs = self.gradients + GRAD_NAMES
        else:
            outputs = self.forward_outputs + tuple(f"cache.{f}" for f in self.cache_fields)
        super().__init__(name, outputs, visible, hidden, kind=kind, **kw)

    # ------------------------------------------------------------------ kernel side
    def build(self, shape, rng):
        dt = np.dtype(shape["dtype"])
        B, D, H = shape["B"], shape["D"], shape["H"]
        p = random_params(self.kind, D, H, rng, dt)
        inputs = dict(zip(PARAM_NAMES, p))
        if self.backward:
            T = shape["T"] if self.sequence else None
            inputs.update(self._draw_cache(rng, T, B, D, H, dt))
            lead = (T,) if self.sequence else ()
            for name in self.upstream:
                if self.sequence and name == "dcs" and not shape.get("dcs"):
                    continue   # the optional dcs of lstm_backward: only where the case asks
                inputs[name] = rng.standard_normal(lead + (B, H)).astype(dt)
            return inputs
        lead = (shape["T"],) if self.sequence else ()
        x_name, *state_names = self.state_inputs
        inputs[x_name] = rng.standard_normal(lead + (B, D)).astype(dt)
        for name in state_names:   # h: inside tanh's range; c: unbounded
            inputs[name] = (_state(rng, (B, H), dt) if name[0] == "h"
                            else rng.standard_normal((B, H)).astype(dt))
        return inputs

    def _draw_cache(self, rng, T, B, D, H, dt):
        """The fields of a cache (each (B, ...) for a step, (T, B, ...) for a sequence): inputs,
        states and gate values in their ranges, the states carried from step to step, the gates
        drawn, not computed from x and p (a backward computes from the cache alone)."""
        steps = []
        h = _state(rng, (B, H), dt)
        c = rng.standard_normal((B, H)).astype(dt)
        for _ in range(T or 1):
            x = rng.standard_normal((B, D)).astype(dt)
            if self.kind == "rnn":
                h_next = _state(rng, (B, H), dt, 0.95)
                steps.append(dict(x=x, h_prev=h, h_next=h_next))
            elif self.kind == "lstm":
                i, f, o = (_gate(rng, (B, H), dt) for _ in range(3))
                g = _state(rng, (B, H), dt, 0.95)
                c_next = f * c + i * g
                tanh_c = np.tanh(c_next)
                steps.append(dict(x=x, h_prev=h, c_prev=c, i=i, f=f, g=g, o=o, tanh_c=tanh_c))
                h_next, c = o * tanh_c, c_next
            else:
                r, z = (_gate(rng, (B, H), dt) for _ in range(2))
                n = _state(rng, (B, H), dt, 0.95)
                hn = rng.standard_normal((B, H)).astype(dt)
                steps.append(dict(x=x, h_prev=h, r=r, z=z, n=n, hn=hn))
                h_next = (1 - z) * n + z * h
            h = h_next
        if T is None:
            return steps[0]
        return {f: np.stack([s[f] for s in steps]) for f in self.cache_fields}

    def caches(self, inputs):
        """The cache a backward check passes: a step cache, or the list of T step caches."""
        p = params_of(inputs)
        if not self.sequence:
            return self.cache_type(*(inputs[f] for f in self.cache_fields), p)
        T = len(inputs[self.cache_fields[0]])
        return [self.cache_type(*(inputs[f][t] for f in self.cache_fields), p) for t in range(T)]

    def _signature(self, names):
        return "(" + ", ".join(names) + ")"

    def _cache_outputs(self, cache, T):
        """The fields of the student's cache, checked against the contract; "cache.<field>"."""
        want = (f"{self.cache_type.__name__}({', '.join(self.cache_type._fields)}), the cache "
                f"contract of the notebook")

        def fields_of(step_cache):
            names = getattr(step_cache, "_fields", None)
            if names is not None and tuple(names) != self.cache_type._fields:
                raise BadOutput(f"{self.forward_name}: the cache has fields ({', '.join(names)}); "
                                f"expected a {want}")
            if not isinstance(step_cache, (tuple, list)) or len(step_cache) != len(
                    self.cache_type._fields):
                got = (f"a {type(step_cache).__name__} of length {len(step_cache)}"
                       if isinstance(step_cache, (tuple, list)) else
                       f"a {type(step_cache).__name__}")
                raise BadOutput(f"{self.forward_name}: the cache is {got}; expected a {want}")
            return dict(zip(self.cache_fields, step_cache))

        if T is None:
            return {f"cache.{f}": v for f, v in fields_of(cache).items()}
        if not isinstance(cache, (list, tuple)) or len(cache) != T:
            got = (f"a {type(cache).__name__} of length {len(cache)}"
                   if isinstance(cache, (list, tuple)) else f"a {type(cache).__name__}")
            raise BadOutput(f"{self.forward_name}: the cache is {got}; expected the list of the "
                            f"{T} step caches, each a {want}")
        steps = [fields_of(step) for step in cache]
        try:
            return {f"cache.{f}": np.stack([np.asarray(s[f]) for s in steps])
                    for f in self.cache_fields}
        except ValueError as e:   # fields of different shapes at different steps
            raise BadOutput(f"{self.forward_name}: the step caches do not stack over time ({e})")

    def call(self, fns, inputs):
        if self.backward:
            return self._call_backward(fns[0], inputs)
        result = fns[0](*(inputs[n] for n in self.state_inputs), params_of(inputs))
        *states, cache = tuple_of(result, len(self.forward_outputs) + 1,
                                  self._signature(self.forward_outputs + ("cache",)))
        outputs = dict(zip(self.forward_outputs, states))
        T = len(inputs["xs"]) if self.sequence else None
        outputs.update(self._cache_outputs(cache, T))
        return outputs

    def _call_backward(self, backward, inputs):
        upstream = [inputs[n] for n in self.upstream if n in inputs]
        cache = self.caches(inputs)
        if self.sequence:   # f(dhs, cache[, dcs])
            args = (upstream[0], cache, *upstream[1:])
        else:               # f(dh_next[, dc_next], cache)
            args = (*upstream, cache)
        *grads, dp = tuple_of(backward(*args), len(self.gradients) + 1,
                              self._signature(self.gradients + ("dp",)))
        outputs = dict(zip(self.gradients, grads))
        outputs.update(grads_of(dp, getattr(backward, "__name__", "backward")))
        return outputs

    # ------------------------------------------------------------------ grader side
    def reference_functions(self):
        """grnn_ref's function for this check."""
        import importlib

        module = importlib.import_module(f"grnn_ref.{self.kind}")
        return (getattr(module, self.name),)

    def reference(self, inputs):
        return self.call(self.reference_functions(), inputs)


CELL_CHECKS = {}
for _kind in STATES:
    for _sequence, _visible, _hidden in ((False, STEP_VISIBLE, STEP_HIDDEN),
                                         (True, SEQ_VISIBLE, SEQ_HIDDEN)):
        for _backward in (False, True):
            _dcs = _kind == "lstm" and _sequence and _backward
            _check = register(CellCheck(_kind, _sequence, _backward,
                                        _visible + (LSTM_DCS_VISIBLE if _dcs else ()),
                                        _hidden + (LSTM_DCS_HIDDEN if _dcs else ())))
            CELL_CHECKS[_check.name] = _check
