"""The LSTM, forward and backward, in numpy (chapter 4). PyTorch's torch.nn.LSTM math.

One step for a batch of B rows; the four gate blocks are stacked in the order i, f, g, o
(rows k*H:(k+1)*H of W_ih, W_hh, b_ih, b_hh belong to gate k):

    a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh      (B, 4H)   all pre-activations at once
    i = sigma(a_i)          input gate               (B, H)
    f = sigma(a_f)          forget gate
    g = tanh(a_g)           candidate cell values
    o = sigma(a_o)          output gate
    c_next = f * c_prev + i * g                      the cell state: an additive path
    h_next = o * tanh(c_next)

Shapes: x (B, D), h and c (B, H), xs (T, B, D), hs and cs (T, B, H); Params W_ih (4H, D),
W_hh (4H, H), b_ih (4H,), b_hh (4H,).

A step's cache is an `LSTMStepCache` (grnn_ref.params: the course's cache contract) and a
sequence forward's cache is the list of its step caches; a backward computes from the
caches' fields alone. To look at the gates of a forward pass use `lstm_gates(cache)`.
"""
import numpy as np

from grnn_ref import _validate as V
from grnn_ref.activations import dsigmoid_from_output, dtanh_from_output, sigmoid
from grnn_ref.params import LSTMStepCache, Params


def lstm_step_forward(x, h_prev, c_prev, p):
    """One LSTM step.

        a = x W_ih^T + b_ih + h_prev W_hh^T + b_hh,   split into a_i, a_f, a_g, a_o (each (B, H))
        i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
        c_next = f * c_prev + i * g
        h_next = o * tanh(c_next)

    x: (B, D); h_prev: (B, H); c_prev: (B, H); p: Params with G = 4 (i, f, g, o).
    Returns h_next (B, H), c_next (B, H) and a cache for lstm_step_backward.
    """
    p, x, h_prev, c_prev = V.check_step_inputs("lstm_step_forward", p, "lstm", x,
                                               h_prev=h_prev, c_prev=c_prev)
    return _step_forward(x, h_prev, c_prev, p)


def _step_forward(x, h_prev, c_prev, p):
    """The maths of lstm_step_forward, without the checks (the sequence forward checks once)."""
    H = p.hidden_size
    a = x @ p.W_ih.T + p.b_ih + h_prev @ p.W_hh.T + p.b_hh   # (B, 4H): blocks a_i, a_f, a_g, a_o
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    c_next = f * c_prev + i * g
    tanh_c = np.tanh(c_next)
    h_next = o * tanh_c
    return h_next, c_next, LSTMStepCache(x, h_prev, c_prev, i, f, g, o, tanh_c, p)


def lstm_step_backward(dh_next, dc_next, cache):
    """Backward of one LSTM step: the forward's equations in reverse order.

        do = dh_next * tanh(c_next)
        dc = dc_next + dh_next * o * (1 - tanh(c_next)**2)     both paths into c_next
        df = dc * c_prev     di = dc * g     dg = dc * i     dc_prev = dc * f
        da_i = di * i(1-i)   da_f = df * f(1-f)   da_g = dg * (1-g**2)   da_o = do * o(1-o)
        dx = da W_ih         dh_prev = da W_hh
        dW_ih = da^T x       dW_hh = da^T h_prev      db_ih = db_hh = sum_b da

    dh_next: (B, H); dc_next: (B, H) gradient w.r.t. c_next from outside this step (zeros if
    c_next is used only through h_next); cache: from lstm_step_forward.
    Returns dx (B, D), dh_prev (B, H), dc_prev (B, H), dp (Params, same shapes as p).
    """
    fn = "lstm_step_backward"
    V.check_cache(fn, cache, LSTMStepCache, "lstm_step_forward")
    shape, dtype = cache.tanh_c.shape, cache.tanh_c.dtype
    dh_next = V.check_upstream(fn, "dh_next", dh_next, shape, "(B, H)", dtype)
    dc_next = V.check_upstream(fn, "dc_next", dc_next, shape, "(B, H)", dtype)
    return _step_backward(dh_next, dc_next, cache)


def _step_backward(dh_next, dc_next, cache):
    """The maths of lstm_step_backward, without the checks (the sequence backward checks once)."""
    x, h_prev, c_prev, i, f, g, o, tanh_c, p = cache
    do = dh_next * tanh_c
    dc = dc_next + dh_next * o * dtanh_from_output(tanh_c)
    df = dc * c_prev
    di = dc * g
    dg = dc * i
    dc_prev = dc * f
    da_i = di * dsigmoid_from_output(i)
    da_f = df * dsigmoid_from_output(f)
    da_g = dg * dtanh_from_output(g)
    da_o = do * dsigmoid_from_output(o)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)   # (B, 4H), PyTorch's gate order
    dx = da @ p.W_ih
    dh_prev = da @ p.W_hh
    dp = Params(da.T @ x, da.T @ h_prev, da.sum(axis=0), da.sum(axis=0))
    return dx, dh_prev, dc_prev, dp


def lstm_forward(xs, h0, c0, p):
    """The LSTM over a whole sequence: lstm_step_forward for t = 1..T.

    xs: (T, B, D) inputs, time-major; h0, c0: (B, H) initial states; p: Params with G = 4.
    Returns hs (T, B, H) and cs (T, B, H), with hs[t], cs[t] the states after input xs[t]
    (torch.nn.LSTM returns hs as its output and (hs[-1], cs[-1]) as (h_n, c_n)),
    and a cache for lstm_backward (and for lstm_gates).
    """
    p, xs, h0, c0 = V.check_sequence_inputs("lstm_forward", p, "lstm", xs, h0=h0, c0=c0)
    T, B, _ = xs.shape
    hs = np.empty((T, B, p.hidden_size), dtype=xs.dtype)
    cs = np.empty_like(hs)
    steps = []
    h, c = h0, c0
    for t in range(T):
        h, c, step_cache = _step_forward(xs[t], h, c, p)
        hs[t], cs[t] = h, c
        steps.append(step_cache)
    return hs, cs, steps


def lstm_backward(dhs, cache, dcs=None):
    """Backpropagation through time for lstm_forward.

    Loops backwards over the steps. The gradient reaching h_t is dhs[t] plus what flows back from
    step t+1 through W_hh; the gradient reaching c_t is dcs[t] (if given) plus what flows back
    from step t+1 through c_{t+1} = f_{t+1} * c_t + ... (the additive path of chapter 4).

    dhs: (T, B, H) gradient w.r.t. every hs[t]; cache: from lstm_forward;
    dcs: optional (T, B, H) gradient w.r.t. every cs[t] (None means zeros).
    Returns dxs (T, B, D), dh0 (B, H), dc0 (B, H), dp (Params, same shapes as p).
    """
    fn = "lstm_backward"
    steps = V.check_step_caches(fn, cache, LSTMStepCache, "lstm_forward")
    p = steps[0].p
    T, (B, D), H = len(steps), steps[0].x.shape, p.hidden_size
    dhs = V.check_upstream(fn, "dhs", dhs, (T, B, H), "(T, B, H)", p.dtype)
    if dcs is not None:
        dcs = V.check_upstream(fn, "dcs", dcs, (T, B, H), "(T, B, H)", p.dtype)
    dxs = np.empty((T, B, D), dtype=p.dtype)
    dp = Params(*(np.zeros_like(a) for a in p))
    dh = np.zeros((B, H), dtype=p.dtype)   # flowing back into h_t from step t+1
    dc = np.zeros((B, H), dtype=p.dtype)   # flowing back into c_t from step t+1
    for t in reversed(range(T)):
        dc_t = dc if dcs is None else dcs[t] + dc
        dxs[t], dh, dc, dp_t = _step_backward(dhs[t] + dh, dc_t, steps[t])
        for total, d in zip(dp, dp_t):   # the same weights at every step: gradients add up
            total += d
    return dxs, dh, dc, dp


def lstm_gates(cache):
    """The gate activations of a forward pass, by name.

    cache: from lstm_forward (gives arrays (T, B, H)) or lstm_step_forward (gives (B, H)).
    Returns {"i": input gate, "f": forget gate, "g": candidate, "o": output gate}, new arrays
    (after the nonlinearities: i, f, o in (0, 1), g in (-1, 1)).
    """
    return V.gates_of("lstm_gates", cache, "lstm", LSTMStepCache)
