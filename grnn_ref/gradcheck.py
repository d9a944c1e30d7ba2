"""Gradient checking with centred finite differences (chapter 2).

For a function f and an upstream gradient df of the same shape as f's output, the scalar
L(x) = sum(f(x) * df) has dL/dx equal to what a backward pass returns when given df. Its centred
difference along coordinate k is

    dL/dx_k ~ (L(x + h e_k) - L(x - h e_k)) / (2h),

with a truncation error of order h**2 * L''' and a rounding error of order eps * |L| / h.

Why float64 and h = 1e-5: the total error is about eps * |L| / h + h**2 * |L'''| / 6, smallest
near h = eps**(1/3) ~ 1e-5 for eps = 2.2e-16 (float64). Measured on the three cells (3 shapes x 5
seeds each, largest CS231n error over all gradients): h = 1e-4 gives 1.8e-5, h = 1e-5 gives 1.5e-7,
h = 1e-6 gives 3.2e-6 (there rounding dominates: a gradient entry of 1e-4 loses its last digits).
So a correct backward agrees to about 1e-7, while a wrong one is off by 1e-2 to 1. In float32
(eps = 1.2e-7) the best achievable agreement is only about 1e-3: a bug that is off by a little
would hide in that noise. Hence check in float64, with h = 1e-5.

The relative error is CS231n's: max over elements of |a - n| / max(1e-8, |a| + |n|).

numpy only: importing this module does not import torch.
"""
import numpy as np

from grnn_ref.params import GATES, Params, init_params


def rel_error(x, y):
    """CS231n's relative error: max over elements of |x - y| / max(1e-8, |x| + |y|).

    x, y: arrays of the same shape (or Params, compared field by field: the max is returned).
    Returns a float; about 1e-7 or below means agreement in float64 gradient checks.
    """
    if isinstance(x, Params) and isinstance(y, Params):
        return max(rel_error(a, b) for a, b in zip(x, y))
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"rel_error: x has shape {x.shape}, y has shape {y.shape}; expected equal")
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_gradient(f, x, df, h=1e-5):
    """Centred-difference gradient of L(x) = sum(f(x) * df) with respect to the array x.

    f: a function of x returning an array shaped like df; it is called as f(x) with x perturbed
    in place (so f may also read x through a closure). x: float array, any shape; it is restored
    exactly after each perturbation. df: upstream gradient, the shape of f(x). h: step.
    Returns an array shaped like x (dtype of x).
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        k = it.multi_index
        old = x[k]
        x[k] = old + h
        plus = np.array(f(x), copy=True)
        x[k] = old - h
        minus = np.array(f(x), copy=True)
        x[k] = old
        grad[k] = np.sum((plus - minus) * df) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_params(f, p, df, h=1e-5):
    """Centred-difference gradient of L(p) = sum(f(p) * df) with respect to every array of p.

    f: a function of a Params returning an array shaped like df; p's arrays are perturbed in place
    one element at a time and restored. Returns a Params of gradients, shaped like p.
    """
    return Params(*(numerical_gradient(lambda _a: f(p), a, df, h) for a in p))


def check_gradients(kind, T, B, D, H, seed, h=1e-5):
    """Compare `kind`'s analytic backward with finite differences, in float64.

    Builds random xs (T, B, D), h0 (B, H) (and c0 for the LSTM), parameters from init_params and
    random upstream gradients dhs (T, B, H) (and dcs for the LSTM, so that the gradient along the
    cell state is checked too), all from np.random.default_rng(seed), then compares
    <kind>_backward with numerical_gradient of L = sum(hs * dhs) (+ sum(cs * dcs)).

    kind: "rnn", "lstm" or "gru". h: finite-difference step (1e-5: see the module docstring).
    Returns {"dxs": err, "dh0": err, ("dc0": err,) "dW_ih": err, "dW_hh": err, "db_ih": err,
    "db_hh": err}, each CS231n's rel_error; a correct backward gives about 2e-7 or less.
    Cost: 2 forward passes per input and parameter element, so keep the sizes small.
    """
    from grnn_ref import gru, lstm, rnn

    if kind not in GATES:
        raise ValueError(f"check_gradients: kind={kind!r}, expected one of {tuple(GATES)}")
    rng = np.random.default_rng(seed)
    p = init_params(kind, D, H, rng=rng)
    xs = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    dhs = rng.standard_normal((T, B, H))
    if kind == "lstm":
        c0 = rng.standard_normal((B, H))
        dcs = rng.standard_normal((T, B, H))
        # One output array holding both hs and cs, so the scalar includes sum(cs * dcs).
        def run(xs_, h0_, c0_, p_):
            hs, cs, _ = lstm.lstm_forward(xs_, h0_, c0_, p_)
            return np.concatenate([hs, cs])
        d_out = np.concatenate([dhs, dcs])
        _, _, cache = lstm.lstm_forward(xs, h0, c0, p)
        dxs, dh0, dc0, dp = lstm.lstm_backward(dhs, cache, dcs=dcs)
        numeric = {
            "dxs": numerical_gradient(lambda a: run(a, h0, c0, p), xs, d_out, h),
            "dh0": numerical_gradient(lambda a: run(xs, a, c0, p), h0, d_out, h),
            "dc0": numerical_gradient(lambda a: run(xs, h0, a, p), c0, d_out, h),
        }
        analytic = {"dxs": dxs, "dh0": dh0, "dc0": dc0}
        dp_num = numerical_gradient_params(lambda q: run(xs, h0, c0, q), p, d_out, h)
    else:
        module = rnn if kind == "rnn" else gru
        forward = getattr(module, f"{kind}_forward")
        backward = getattr(module, f"{kind}_backward")

        def run(xs_, h0_, p_):
            return forward(xs_, h0_, p_)[0]
        _, cache = forward(xs, h0, p)
        dxs, dh0, dp = backward(dhs, cache)
        numeric = {
            "dxs": numerical_gradient(lambda a: run(a, h0, p), xs, dhs, h),
            "dh0": numerical_gradient(lambda a: run(xs, a, p), h0, dhs, h),
        }
        analytic = {"dxs": dxs, "dh0": dh0}
        dp_num = numerical_gradient_params(lambda q: run(xs, h0, q), p, dhs, h)
    errors = {name: rel_error(analytic[name], numeric[name]) for name in analytic}
    for field, a, n in zip(Params._fields, dp, dp_num):
        errors["d" + field] = rel_error(a, n)
    return errors
