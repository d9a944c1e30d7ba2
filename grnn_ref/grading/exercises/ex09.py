"""Exercise 9 (the recurrent revival): the parallel scan of the linear recurrence
h_t = a_t * h_{t-1} + b_t, and minGRU's forward pass built on it.

The reference is grnn_ref.mingru (imported only inside the grader-side methods); the mistakes
these checks name are its `misconceptions()` (`catalogue`). The scan is judged against the
sequential loop computed in float64 from the case's inputs, so a float32 case asks for float32
accuracy over up to a thousand steps.
"""
import numpy as np

from grnn_ref.grading.cases import BadOutput, Check, register


def _single(result, name, shape):
    if isinstance(result, (tuple, list)):
        raise BadOutput(f"expected it to return the array hs of shape {shape}, got a "
                        f"{type(result).__name__} of length {len(result)}")
    return {"hs": result}


class LinearScanCheck(Check):
    """linear_scan(a (T, B, H), b (T, B, H), h0 (B, H)) -> hs (T, B, H). a_t in (low, 1) (a gate),
    b_t standard normal."""
    family = "linear_scan"
    catalogue = "grnn_ref.mingru"

    def build(self, shape, rng):
        dt = np.dtype(shape["dtype"])
        T, B, H = shape["T"], shape["B"], shape["H"]
        low = shape.get("low", 0.3)
        return {"a": rng.uniform(low, 1.0, (T, B, H)).astype(dt),
                "b": rng.standard_normal((T, B, H)).astype(dt),
                "h0": rng.standard_normal((B, H)).astype(dt)}

    def call(self, fns, inputs):
        shape = inputs["a"].shape
        return _single(fns[0](inputs["a"].copy(), inputs["b"].copy(), inputs["h0"].copy()),
                       self.name, shape)

    def reference(self, inputs):
        from grnn_ref.mingru import linear_recurrence
        a, b, h0 = (inputs[n].astype(np.float64) for n in ("a", "b", "h0"))
        return {"hs": linear_recurrence(a, b, h0).astype(inputs["a"].dtype)}


class MinGRUForwardCheck(Check):
    """mingru_forward(xs (T, B, D), h0 (B, H), W (2H, D), bias (2H,)) -> hs (T, B, H)."""
    family = "mingru_forward"
    catalogue = "grnn_ref.mingru"

    def build(self, shape, rng):
        dt = np.dtype(shape["dtype"])
        T, B, D, H = shape["T"], shape["B"], shape["D"], shape["H"]
        s = 1.5 / np.sqrt(H)
        return {"xs": rng.standard_normal((T, B, D)).astype(dt),
                "h0": rng.uniform(-1, 1, (B, H)).astype(dt),
                "W": rng.uniform(-s, s, (2 * H, D)).astype(dt) * 2,
                "bias": rng.uniform(-s, s, (2 * H,)).astype(dt)}

    def call(self, fns, inputs):
        T, B, _ = inputs["xs"].shape
        H = inputs["h0"].shape[1]
        return _single(fns[0](*(inputs[n].copy() for n in ("xs", "h0", "W", "bias"))),
                       self.name, (T, B, H))

    def reference(self, inputs):
        from grnn_ref.mingru import mingru_forward
        args = (inputs[n].astype(np.float64) for n in ("xs", "h0", "W", "bias"))
        return {"hs": mingru_forward(*args, method="sequential")[0].astype(inputs["xs"].dtype)}


def _case(**spec):
    spec.setdefault("dtype", "float64")
    return spec


# T = 1 (no round at all), powers of two and not, float32 over a thousand steps (a near 1, so the
# early maps still matter at the end), and float32 where the product of the a's underflows (a
# formula that divides by cumprod(a) overflows there: 0.65^300 ~ 1e-56).
register(LinearScanCheck(
    "linear_scan", ("hs",),
    (_case(T=1, B=2, H=3), _case(T=5, B=2, H=3), _case(T=8, B=1, H=4),
     _case(T=1000, B=2, H=3, dtype="float32", low=0.98), _case(T=300, B=2, H=2, dtype="float32")),
    (_case(T=1, B=1, H=1, dtype="float32"), _case(T=2, B=3, H=2), _case(T=13, B=2, H=5),
     _case(T=64, B=2, H=2, dtype="float32"), _case(T=1500, B=1, H=3, dtype="float32", low=0.99),
     _case(T=777, B=2, H=2), _case(T=400, B=1, H=3, dtype="float32", low=0.5))))
register(MinGRUForwardCheck(
    "mingru_forward", ("hs",),
    (_case(T=1, B=2, D=3, H=4), _case(T=6, B=2, D=3, H=4), _case(T=9, B=1, D=2, H=3,
                                                                 dtype="float32")),
    (_case(T=1, B=1, D=1, H=2, dtype="float32"), _case(T=7, B=3, D=4, H=2),
     _case(T=33, B=2, D=2, H=5, dtype="float32"), _case(T=300, B=1, D=3, H=3))))
