"""The simple (Elman) RNN with tanh, forward and backward, in numpy (chapters 1 and 2).

One step, PyTorch's torch.nn.RNN(nonlinearity="tanh") math, for a batch of B rows:

    a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh        (B, H)   pre-activation
    h_t = tanh(a_t)                                         (B, H)

Shapes: x_t (B, D), h (B, H), xs (T, B, D), hs (T, B, H); Params W_ih (H, D), W_hh (H, H),
b_ih (H,), b_hh (H,).

A step's cache is an `RNNStepCache` (grnn_ref.params: the course's cache contract) and a
sequence forward's cache is the list of its step caches; a backward computes from the
caches' fields alone.
"""
import numpy as np

from grnn_ref import _validate as V
from grnn_ref.activations import dtanh_from_output
from grnn_ref.params import Params, RNNStepCache


def rnn_step_forward(x, h_prev, p):
    """One step of the tanh RNN.

        a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh
        h_next = tanh(a)

    x: (B, D) input; h_prev: (B, H) previous hidden state; p: Params with G = 1.
    Returns h_next (B, H) and a cache for rnn_step_backward.
    """
    p, x, h_prev = V.check_step_inputs("rnn_step_forward", p, "rnn", x, h_prev=h_prev)
    return _step_forward(x, h_prev, p)


def _step_forward(x, h_prev, p):
    """The maths of rnn_step_forward, without the checks (the sequence forward checks once)."""
    a = x @ p.W_ih.T + p.b_ih + h_prev @ p.W_hh.T + p.b_hh
    h_next = np.tanh(a)
    return h_next, RNNStepCache(x, h_prev, h_next, p)


def rnn_step_backward(dh_next, cache):
    """Backward of one step: the forward's equations in reverse order.

        da = dh_next * (1 - h_next**2)              tanh'(a) from the output
        dx = da W_ih          dh_prev = da W_hh
        dW_ih = da^T x        dW_hh = da^T h_prev    db_ih = db_hh = sum_b da

    dh_next: (B, H) gradient of the loss w.r.t. h_next; cache: from rnn_step_forward.
    Returns dx (B, D), dh_prev (B, H), dp (Params of gradients, same shapes as p).
    """
    V.check_cache("rnn_step_backward", cache, RNNStepCache, "rnn_step_forward")
    dh_next = V.check_upstream("rnn_step_backward", "dh_next", dh_next, cache.h_next.shape,
                               "(B, H)", cache.h_next.dtype)
    return _step_backward(dh_next, cache)


def _step_backward(dh_next, cache):
    """The maths of rnn_step_backward, without the checks (the sequence backward checks once)."""
    x, h_prev, h_next, p = cache
    da = dh_next * dtanh_from_output(h_next)
    dx = da @ p.W_ih
    dh_prev = da @ p.W_hh
    dp = Params(da.T @ x, da.T @ h_prev, da.sum(axis=0), da.sum(axis=0))
    return dx, dh_prev, dp


def rnn_forward(xs, h0, p):
    """The tanh RNN over a whole sequence: rnn_step_forward for t = 1..T.

        h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),   h_0 given

    xs: (T, B, D) inputs, time-major; h0: (B, H) initial hidden state; p: Params with G = 1.
    Returns hs (T, B, H) with hs[t] = h_{t+1} (h0 is not included, as in torch.nn.RNN's output),
    and a cache for rnn_backward.
    """
    p, xs, h0 = V.check_sequence_inputs("rnn_forward", p, "rnn", xs, h0=h0)
    T, B, _ = xs.shape
    hs = np.empty((T, B, p.hidden_size), dtype=xs.dtype)
    steps = []
    h = h0
    for t in range(T):
        h, step_cache = _step_forward(xs[t], h, p)
        hs[t] = h
        steps.append(step_cache)
    return hs, steps


def rnn_backward(dhs, cache):
    """Backpropagation through time for rnn_forward.

    Loops backwards over the steps; the gradient reaching h_t is the upstream dhs[t] plus what
    flows back from step t+1 through W_hh. Parameter gradients are summed over the steps
    (the same W is used at every step).

    dhs: (T, B, H) gradient of the loss w.r.t. every output hs[t]; cache: from rnn_forward.
    Returns dxs (T, B, D), dh0 (B, H), dp (Params of gradients, same shapes as p).
    """
    steps = V.check_step_caches("rnn_backward", cache, RNNStepCache, "rnn_forward")
    p = steps[0].p
    T, (B, D), H = len(steps), steps[0].x.shape, p.hidden_size
    dhs = V.check_upstream("rnn_backward", "dhs", dhs, (T, B, H), "(T, B, H)", p.dtype)
    dxs = np.empty((T, B, D), dtype=p.dtype)
    dp = Params(*(np.zeros_like(a) for a in p))
    dh = np.zeros((B, H), dtype=p.dtype)   # gradient flowing back into h_t from step t+1
    for t in reversed(range(T)):
        dxs[t], dh, dp_t = _step_backward(dhs[t] + dh, steps[t])
        for total, d in zip(dp, dp_t):   # the same weights at every step: gradients add up
            total += d
    return dxs, dh, dp
