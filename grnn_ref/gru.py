"""The GRU, forward and backward, in numpy (chapter 5). PyTorch's torch.nn.GRU math.

One step for a batch of B rows; the three gate blocks are stacked in the order r, z, n
(rows k*H:(k+1)*H of W_ih, W_hh, b_ih, b_hh belong to gate k):

    r = sigma(x W_ir^T + b_ir + h_prev W_hr^T + b_hr)          reset gate        (B, H)
    z = sigma(x W_iz^T + b_iz + h_prev W_hz^T + b_hz)          update gate
    n = tanh(x W_in^T + b_in + r * (h_prev W_hn^T + b_hn))     candidate state
    h_next = (1 - z) * n + z * h_prev

PyTorch applies r after the matrix product (r * (W_hn h + b_hn)); Cho et al. (2014) apply it
before (W_hn (r * h)). The two are different functions; chapter 5 compares them.

Shapes: x (B, D), h (B, H), xs (T, B, D), hs (T, B, H); Params W_ih (3H, D), W_hh (3H, H),
b_ih (3H,), b_hh (3H,).

A step's cache is a `GRUStepCache` (grnn_ref.params: the course's cache contract) and a
sequence forward's cache is the list of its step caches; a backward computes from the
caches' fields alone. To look at the gates of a forward pass use `gru_gates(cache)`.
"""
import numpy as np

from grnn_ref import _validate as V
from grnn_ref.activations import dsigmoid_from_output, dtanh_from_output, sigmoid
from grnn_ref.params import GRUStepCache, Params


def gru_step_forward(x, h_prev, p):
    """One GRU step (PyTorch convention).

        r = sigma(x W_ir^T + b_ir + h_prev W_hr^T + b_hr)
        z = sigma(x W_iz^T + b_iz + h_prev W_hz^T + b_hz)
        n = tanh(x W_in^T + b_in + r * (h_prev W_hn^T + b_hn))
        h_next = (1 - z) * n + z * h_prev

    x: (B, D); h_prev: (B, H); p: Params with G = 3 (r, z, n).
    Returns h_next (B, H) and a cache for gru_step_backward.
    """
    p, x, h_prev = V.check_step_inputs("gru_step_forward", p, "gru", x, h_prev=h_prev)
    return _step_forward(x, h_prev, p)


def _step_forward(x, h_prev, p):
    """The maths of gru_step_forward, without the checks (the sequence forward checks once)."""
    H = p.hidden_size
    ax = x @ p.W_ih.T + p.b_ih            # (B, 3H): the input's share of every pre-activation
    ah = h_prev @ p.W_hh.T + p.b_hh       # (B, 3H): the hidden state's share
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    hn = ah[:, 2 * H:]                    # h_prev W_hn^T + b_hn: the term r scales
    n = np.tanh(ax[:, 2 * H:] + r * hn)
    h_next = (1 - z) * n + z * h_prev
    return h_next, GRUStepCache(x, h_prev, r, z, n, hn, p)


def gru_step_backward(dh_next, cache):
    """Backward of one GRU step: the forward's equations in reverse order.

        dn = dh_next * (1 - z)      dz = dh_next * (h_prev - n)
        da_n = dn * (1 - n**2)                         pre-activation of n
        dr = da_n * (h_prev W_hn^T + b_hn)             dhn = da_n * r
        da_r = dr * r(1-r)          da_z = dz * z(1-z)
        input side:  dax = [da_r, da_z, da_n]   dx = dax W_ih
                     dW_ih = dax^T x            db_ih = sum_b dax
        hidden side: dah = [da_r, da_z, dhn]    dh_prev = dh_next * z + dah W_hh
                     dW_hh = dah^T h_prev       db_hh = sum_b dah

    dh_next: (B, H); cache: from gru_step_forward.
    Returns dx (B, D), dh_prev (B, H), dp (Params, same shapes as p).
    """
    fn = "gru_step_backward"
    V.check_cache(fn, cache, GRUStepCache, "gru_step_forward")
    dh_next = V.check_upstream(fn, "dh_next", dh_next, cache.hn.shape, "(B, H)", cache.hn.dtype)
    return _step_backward(dh_next, cache)


def _step_backward(dh_next, cache):
    """The maths of gru_step_backward, without the checks (the sequence backward checks once)."""
    x, h_prev, r, z, n, hn, p = cache
    dn = dh_next * (1 - z)
    dz = dh_next * (h_prev - n)
    da_n = dn * dtanh_from_output(n)
    dr = da_n * hn
    dhn = da_n * r
    da_r = dr * dsigmoid_from_output(r)
    da_z = dz * dsigmoid_from_output(z)
    dax = np.concatenate([da_r, da_z, da_n], axis=1)   # (B, 3H): x W_ih^T + b_ih's share
    dah = np.concatenate([da_r, da_z, dhn], axis=1)    # (B, 3H): h_prev W_hh^T + b_hh's share
    dx = dax @ p.W_ih
    dh_prev = dh_next * z + dah @ p.W_hh
    dp = Params(dax.T @ x, dah.T @ h_prev, dax.sum(axis=0), dah.sum(axis=0))
    return dx, dh_prev, dp


def gru_forward(xs, h0, p):
    """The GRU over a whole sequence: gru_step_forward for t = 1..T.

    xs: (T, B, D) inputs, time-major; h0: (B, H) initial hidden state; p: Params with G = 3.
    Returns hs (T, B, H), hs[t] the state after input xs[t] (torch.nn.GRU's output),
    and a cache for gru_backward (and for gru_gates).
    """
    p, xs, h0 = V.check_sequence_inputs("gru_forward", p, "gru", xs, h0=h0)
    T, B, _ = xs.shape
    hs = np.empty((T, B, p.hidden_size), dtype=xs.dtype)
    steps = []
    h = h0
    for t in range(T):
        h, step_cache = _step_forward(xs[t], h, p)
        hs[t] = h
        steps.append(step_cache)
    return hs, steps


def gru_backward(dhs, cache):
    """Backpropagation through time for gru_forward.

    Loops backwards over the steps; the gradient reaching h_t is dhs[t] plus what flows back from
    step t+1 (through z * h directly, and through the gates' W_hh).

    dhs: (T, B, H) gradient w.r.t. every hs[t]; cache: from gru_forward.
    Returns dxs (T, B, D), dh0 (B, H), dp (Params, same shapes as p).
    """
    fn = "gru_backward"
    steps = V.check_step_caches(fn, cache, GRUStepCache, "gru_forward")
    p = steps[0].p
    T, (B, D), H = len(steps), steps[0].x.shape, p.hidden_size
    dhs = V.check_upstream(fn, "dhs", dhs, (T, B, H), "(T, B, H)", p.dtype)
    dxs = np.empty((T, B, D), dtype=p.dtype)
    dp = Params(*(np.zeros_like(a) for a in p))
    dh = np.zeros((B, H), dtype=p.dtype)   # flowing back into h_t from step t+1
    for t in reversed(range(T)):
        dxs[t], dh, dp_t = _step_backward(dhs[t] + dh, steps[t])
        for total, d in zip(dp, dp_t):   # the same weights at every step: gradients add up
            total += d
    return dxs, dh, dp


def gru_gates(cache):
    """The gate activations of a forward pass, by name.

    cache: from gru_forward (gives arrays (T, B, H)) or gru_step_forward (gives (B, H)).
    Returns {"r": reset gate, "z": update gate, "n": candidate state}, new arrays
    (r, z in (0, 1), n in (-1, 1)).
    """
    return V.gates_of("gru_gates", cache, "gru", GRUStepCache)
