"""The gate nonlinearities and their derivatives, written in terms of the outputs.

The backward passes only need sigma'(a) and tanh'(a) at pre-activations whose outputs the forward
pass already computed, so the derivatives take the output, not the input:

    s = sigmoid(a)  ->  ds/da = s * (1 - s)
    t = tanh(a)     ->  dt/da = 1 - t**2
"""
import numpy as np


def sigmoid(x):
    """Logistic function sigma(x) = 1 / (1 + exp(-x)), elementwise, without overflow.

    The textbook form overflows in exp(-x) for x below about -710 (float64) or -89 (float32).
    We only ever evaluate exp(-|x|), which lies in (0, 1]:

        x >= 0:  sigma(x) = 1 / (1 + e)      with e = exp(-x)
        x <  0:  sigma(x) = e / (1 + e)      with e = exp(x)

    Both branches are accurate to a few ulps, including in the tails where sigma is tiny.

    x: array of any shape, float32 or float64. Returns an array of the same shape and dtype
    (Python floats and integer arrays give float64).
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    one_over = 1.0 / (1.0 + e)
    # np.where keeps the dtype of its float operands; for x < 0 sigma(x) = e * sigma(-x).
    return np.where(x >= 0, one_over, e * one_over)


def dsigmoid_from_output(s):
    """Derivative of the sigmoid given its output s = sigmoid(a): d s / d a = s * (1 - s). Same shape."""
    return s * (1 - s)


def dtanh_from_output(t):
    """Derivative of tanh given its output t = tanh(a): d t / d a = 1 - t**2. Same shape."""
    return 1 - t * t
