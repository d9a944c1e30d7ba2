"""Exercise 3 (vanishing and exploding gradients): the RNN's Jacobian, the norms of Jacobian
products, Pascanu et al.'s bound, clipping by the global norm, and the measured decay rate."""
import numpy as np

from grnn_ref.grading.cases import (GRAD_NAMES, PARAM_NAMES, AnswerCheck, Check, grads_of,
                                    params_of, random_params, register, size)


def ex03_experiment():
    """The fixed RNN of Exercise 3's measurement (the notebook builds the same, in plain sight).

    Returns p (Params, H = 32, D = 4, W_hh = 0.9 * a random orthogonal matrix, zero biases),
    xs (T = 60, B = 8, D) and h0 (B, H) zeros. float64.
    """
    from grnn_ref.params import Params

    rng = np.random.default_rng(2013)
    H, D, T, B = 32, 4, 60, 8
    Q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    p = Params(rng.uniform(-0.5, 0.5, (H, D)), 0.9 * Q, np.zeros(H), np.zeros(H))
    xs = rng.standard_normal((T, B, D))
    return p, xs, np.zeros((B, H))


class Ex03Check(Check):
    """The exercise's functions of an RNN's parameters; `build_extra` adds what each one reads."""

    def build(self, shape, rng):
        dt = np.dtype(shape.get("dtype", "float64"))
        p = random_params("rnn", shape.get("D", 3), shape["H"], rng, dt)
        inputs = dict(zip(PARAM_NAMES, p))
        inputs.update(self.build_extra(shape, rng, dt, p))
        return inputs


class JacobianCheck(Ex03Check):
    family = "jacobian"

    def build_extra(self, shape, rng, dt, p):
        return {"h_next": rng.uniform(-0.95, 0.95, (shape.get("B", 2), shape["H"])).astype(dt)}

    def call(self, fns, inputs):
        return {"J": fns[0](inputs["h_next"], params_of(inputs))}

    def reference(self, inputs):
        from grnn_ref.grading.reference import rnn_jacobian
        return {"J": rnn_jacobian(inputs["h_next"], inputs["W_hh"])}


class JacobianNormsCheck(Ex03Check):
    family = "jacobian_norms"

    def build_extra(self, shape, rng, dt, p):
        T, B, H = shape["T"], shape.get("B", 2), shape["H"]
        return {"hs": rng.uniform(-0.95, 0.95, (T, B, H)).astype(dt)}

    def call(self, fns, inputs):
        return {"norms": fns[0](inputs["hs"], params_of(inputs))}

    def reference(self, inputs):
        from grnn_ref.grading.reference import jacobian_norms
        return {"norms": jacobian_norms(inputs["hs"], inputs["W_hh"])}


class BoundCheck(Ex03Check):
    family = "bound"

    def build_extra(self, shape, rng, dt, p):
        return {"T": np.array(shape["T"])}

    def call(self, fns, inputs):
        return {"bound": fns[0](params_of(inputs), int(inputs["T"]))}

    def reference(self, inputs):
        from grnn_ref.grading.reference import gradient_bound
        return {"bound": gradient_bound(inputs["W_hh"], int(inputs["T"]))}


class ClipCheck(Ex03Check):
    """clip_gradients(grads, max_norm): the case's gradients are a Params of an RNN's shapes, and
    max_norm is `ratio` times their global norm (ratio < 1 clips, ratio >= 1 must not)."""
    family = "clip"

    def build(self, shape, rng):
        dt = np.dtype(shape.get("dtype", "float64"))
        p = random_params("rnn", shape.get("D", 3), shape["H"], rng, dt)
        grads = [rng.standard_normal(a.shape).astype(dt) for a in p]
        total = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads)))
        inputs = dict(zip(GRAD_NAMES, grads))
        inputs["max_norm"] = np.array(total * shape["ratio"])
        return inputs

    def call(self, fns, inputs):
        from grnn_ref.params import Params

        grads = Params(*(inputs[n] for n in GRAD_NAMES))
        clip = fns[0]
        return grads_of(clip(grads, float(inputs["max_norm"])), getattr(clip, "__name__", "clip"))

    def reference(self, inputs):
        from grnn_ref.grading.reference import clip_by_global_norm
        grads = [inputs[n] for n in GRAD_NAMES]
        return dict(zip(GRAD_NAMES, clip_by_global_norm(grads, float(inputs["max_norm"]))))


def _decay_rate():
    from grnn_ref.grading.reference import ex03_decay_rate
    return ex03_decay_rate()


register(JacobianCheck("rnn_jacobian", ("J",),
                       (size(B=2, H=3), size(B=1, H=4), size(B=2, H=2, dtype="float32")),
                       (size(B=3, H=5), size(B=1, H=1), size(B=2, H=6, dtype="float32")),
                       kind="rnn"))
register(JacobianNormsCheck("jacobian_norms", ("norms",),
                            (size(T=4, B=2, H=3), size(T=3, B=1, H=4), size(T=1, B=3, H=2),
                             size(T=3, B=2, H=2, dtype="float32")),
                            (size(T=1, B=2, H=3), size(T=6, B=3, H=5),
                             size(T=5, B=1, H=2, dtype="float32")), kind="rnn"))
register(BoundCheck("gradient_bound", ("bound",), (size(T=5, H=4), size(T=3, H=3), size(T=1, H=2)),
                    (size(T=1, H=5), size(T=8, H=6)), kind="rnn"))
register(ClipCheck("clip_gradients", GRAD_NAMES, (size(H=3, ratio=0.5), size(H=4, ratio=2.0),
                                                     size(H=2, ratio=0.3, dtype="float32")),
                   (size(H=5, ratio=0.1), size(H=2, ratio=1.5), size(H=3, ratio=0.7, dtype="float32")),
                   kind="rnn",
                   # clipping as torch does it, max_norm / (norm + 1e-6), differs from the exact
                   # max_norm / norm by ~1e-6 relative: allowed
                   rtol={"float64": 1e-5}))
register(AnswerCheck("ex03_decay_rate", _decay_rate, 0.01))
