"""The output side of a character-level language model, in numpy (chapter 8, Exercise 8).

    logits = output_forward(hs, W_hy, b_y)                     # (T, B, V)
    loss, dlogits = softmax_cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    dhs, dW_hy, db_y = output_backward(dlogits.reshape(T, B, V), hs, W_hy)
    # dhs feeds lstm_backward(dhs, cache) (chapter 4)
    next_id = sample_with_temperature(logits[-1, 0], 0.8, rng)

Shapes: hs (T, B, H); W_hy (V, H) and b_y (V,) (torch.nn.Linear's layout); logits (..., V);
targets integer ids. float32 in, float32 out; inputs are never modified.
"""
import numpy as np

__all__ = ["output_forward", "output_backward", "softmax_cross_entropy", "softmax",
           "sample_with_temperature"]


def output_forward(hs, W_hy, b_y):
    """z_t = W_hy h_t + b_y at every step: hs (T, B, H) -> logits (T, B, V)."""
    return hs @ W_hy.T + b_y


def output_backward(dlogits, hs, W_hy):
    """Backward of output_forward. dlogits (T, B, V), hs (T, B, H), W_hy (V, H) ->
    dhs (T, B, H) = dlogits W_hy, dW_hy (V, H) = sum over t, b of dz h^T, db_y (V,) = sum of dz."""
    V, H = W_hy.shape
    dz = dlogits.reshape(-1, V)
    dhs = dlogits @ W_hy
    dW_hy = dz.T @ hs.reshape(-1, H)
    db_y = dz.sum(axis=0)
    return dhs, dW_hy, db_y


def softmax(logits, temperature=1.0):
    """softmax(z / temperature) over the last axis, with the maximum subtracted first (chapter 8:
    exp never overflows, and the largest term is exp(0) = 1, so the sum is never 0)."""
    z = logits / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of softmax(logits) against integer targets, and its gradient.

    logits (N, V), targets (N,) integer ids in [0, V). Returns loss (a 0-d array of the logits'
    dtype): -(1/N) sum_n log softmax(z_n)[y_n], computed as log-sum-exp(z_n) - z_n[y_n] with the
    maximum subtracted; and dlogits (N, V) = (softmax(z_n) - onehot(y_n)) / N."""
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum_exp = np.log(np.exp(shifted).sum(axis=1))
    loss = np.mean(log_sum_exp - shifted[rows, targets])
    dlogits = np.exp(shifted - log_sum_exp[:, None])      # softmax(z)
    dlogits[rows, targets] -= 1
    return np.asarray(loss, dtype=logits.dtype), (dlogits / N).astype(logits.dtype, copy=False)


def sample_with_temperature(logits, temperature, rng):
    """One id drawn from softmax(logits / temperature); temperature 0 is greedy (argmax).

    logits (V,); temperature >= 0; rng a numpy Generator. Returns an int."""
    if temperature == 0:
        return int(np.argmax(logits))
    p = softmax(np.asarray(logits, dtype=np.float64), temperature)
    return int(rng.choice(len(p), p=p))
