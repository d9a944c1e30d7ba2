"""Exercise 2 (backpropagation through time): numerical_gradient, the finite-difference gradient.

numerical_gradient(f, x, df, h=1e-5): the centred-difference gradient of L(x) = sum(f(x) * df).
The check's f is f(x) = tanh(x @ A + b), x (B, D), A (D, H), b (H,), df (B, H), float64 only:
finite differences in float32 cannot resolve a gradient (chapter 2). The exercise's other checks
are the RNN's step and sequence backward (grading.cells).
"""
import numpy as np

from grnn_ref.grading.cases import Check, register, size


def numgrad_function(inputs):
    """The f of a numerical_gradient case: f(x) = tanh(x @ A + b) (a new closure over copies)."""
    A, b = np.array(inputs["A"]), np.array(inputs["b"])
    return lambda x: np.tanh(x @ A + b)


class NumericalGradientCheck(Check):
    family = "numgrad"

    def build(self, shape, rng):
        B, D, H = shape["B"], shape["D"], shape["H"]
        return {"x": rng.standard_normal((B, D)), "A": rng.uniform(-1, 1, (D, H)),
                "b": rng.uniform(-0.5, 0.5, H), "df": rng.standard_normal((B, H))}

    def call(self, fns, inputs):
        return {"dx": fns[0](numgrad_function(inputs), inputs["x"], inputs["df"])}

    def reference(self, inputs):
        """The analytic gradient of sum(tanh(x @ A + b) * df) with respect to x."""
        y = np.tanh(inputs["x"] @ inputs["A"] + inputs["b"])
        return {"dx": ((1 - y * y) * inputs["df"]) @ inputs["A"].T}


register(NumericalGradientCheck(
    "numerical_gradient", ("dx",),
    (size(B=2, D=3, H=4), size(B=1, D=2, H=2)),
    (size(B=3, D=4, H=2), size(B=1, D=1, H=3), size(B=2, D=5, H=5)),
    # centred differences with h ~ 1e-5 agree with the analytic gradient to ~1e-8 in our error
    # measure; one-sided differences are off by ~1e-5 and more.
    rtol={"float64": 1e-6}))
