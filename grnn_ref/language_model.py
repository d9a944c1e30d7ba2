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


# ---------------------------------------------------------------- grader side: Exercise 8's checks
def sampling_probs(logits, temperature, mistake=None):
    """The distribution a sampler draws from, with one of the known mistakes if given."""
    z = np.asarray(logits, dtype=np.float64)
    if temperature == 0 or mistake == "always_greedy":
        p = np.zeros_like(z)
        p[np.argmax(z)] = 1.0
        return p
    if mistake == "temperature_after_softmax":      # softmax(z) / T, renormalised: softmax(z)
        scaled = z
    elif mistake == "temperature_multiplies":       # softmax(z * T)
        scaled = z * temperature
    else:
        scaled = z / temperature
    e = np.exp(scaled - scaled.max())
    return e / e.sum()


def misconceptions():
    """Exercise 8's known mistakes, as Misconception objects: its checks name this module as their
    `catalogue`, and grading.misconceptions adds these to the catalogue (grader side only)."""
    from grnn_ref.grading.misconceptions import Misconception, ShapeInvalid

    found = []

    def _extra(id, title, fix, checks, fn):
        found.append(Misconception(id, title, fix, tuple(checks), fn))

    def _ce_variant(inputs, mistake):
        """softmax_cross_entropy's outputs with one mistake (grnn_ref.language_model is the right one)."""
        z = np.asarray(inputs["logits"])
        y = inputs["targets"]
        N = z.shape[0]
        rows = np.arange(N)
        with np.errstate(all="ignore"):
            if mistake == "no_max" and not np.all(np.isfinite(np.exp(z))):
                # the mistake shows only when exp overflows; elsewhere it is the right answer up to
                # rounding, so the variant is the reference there
                e = np.exp(z)
                p = e / e.sum(axis=1, keepdims=True)
                loss = np.mean(np.log(e.sum(axis=1)) - z[rows, y])
            else:
                shifted = z - z.max(axis=1, keepdims=True)
                lse = np.log(np.exp(shifted).sum(axis=1))
                p = np.exp(shifted - lse[:, None])
                loss = np.mean(lse - shifted[rows, y])
        onehot = np.zeros_like(p)
        onehot[rows, y] = 1
        grad = (p - onehot) / N
        if mistake == "grad_not_divided":
            grad = p - onehot
        elif mistake == "loss_summed":
            loss = loss * N
        elif mistake == "no_minus_one":
            grad = p / N
        elif mistake == "grad_sign":
            grad = -grad
        return {"loss": np.asarray(loss, dtype=z.dtype), "dlogits": grad.astype(z.dtype)}


    _CE = ("softmax_cross_entropy",)
    _extra("softmax_no_max_subtraction", "exp of the raw logits overflows: the largest logit is not "
           "subtracted before exponentiating",
           "log sum_k exp(z_k) = m + log sum_k exp(z_k - m) for any m; with m = max_k z_k no exponent "
           "is positive and the sum is at least 1 (the log-sum-exp trick, chapter 8). Softmax is "
           "unchanged by the shift. Symptom: NaN or inf once a logit exceeds ~88 (float32) or ~709 "
           "(float64).", _CE, lambda c, i: _ce_variant(i, "no_max"))
    _extra("ce_gradient_not_divided", "the loss is the mean over the N predictions but dlogits is "
           "not divided by N",
           "the gradient of the loss you return: L = (1/N) sum_n (logsumexp(z_n) - z_n[y_n]) has "
           "dL/dz_n = (softmax(z_n) - onehot(y_n)) / N (chapter 8). Symptom: dlogits is N times too "
           "large; right only when N = 1.", _CE, lambda c, i: _ce_variant(i, "grad_not_divided"))
    _extra("ce_loss_summed", "the loss is summed over the N predictions instead of averaged (the "
           "gradient is divided by N)",
           "the loss is the mean cross-entropy per character, (1/N) sum_n, so that it reads in nats "
           "per character and matches its gradient (softmax - onehot) / N (chapter 8).", _CE,
           lambda c, i: _ce_variant(i, "loss_summed"))
    _extra("ce_no_minus_one", "the -1 at the target is missing: dlogits is softmax(z) / N",
           "d/dz_j of -log softmax(z)[y] is softmax(z)_j - [j = y]: the target's entry also gets -1 "
           "(chapter 8). Symptom: every row of your dlogits sums to 1/N instead of 0.", _CE,
           lambda c, i: _ce_variant(i, "no_minus_one"))
    _extra("ce_gradient_sign", "dlogits has the wrong sign: onehot - softmax instead of softmax - "
           "onehot",
           "raising the target's logit lowers the loss, so dL/dz_y = (p_y - 1) / N is negative "
           "(chapter 8). Symptom: gradient descent would make the model worse.", _CE,
           lambda c, i: _ce_variant(i, "grad_sign"))


    def _output_backward_variant(inputs, mistake):
        dz, hs, W = inputs["dlogits"], inputs["hs"], inputs["W_hy"]
        T, B, V = dz.shape
        H = hs.shape[2]
        flat = dz.reshape(-1, V)
        out = {"dhs": dz @ W, "dW_hy": flat.T @ hs.reshape(-1, H), "db_y": flat.sum(axis=0)}
        if mistake == "averaged":
            out["dW_hy"] = out["dW_hy"] / (T * B)
            out["db_y"] = out["db_y"] / (T * B)
        elif mistake == "last_step_only":
            out["dW_hy"] = dz[-1].T @ hs[-1]
            out["db_y"] = dz[-1].sum(axis=0)
        elif mistake == "dhs_W_transposed":
            if V != H:
                raise ShapeInvalid
            out["dhs"] = dz @ W.T
        elif mistake == "dW_transposed":
            if V != H:
                raise ShapeInvalid
            out["dW_hy"] = out["dW_hy"].T
        return out


    _OB = ("output_backward",)
    _extra("output_grads_averaged", "dW_hy and db_y are averaged over the T * B positions instead of "
           "summed",
           "the output layer is shared by every step and every sequence, so its gradient is the sum "
           "of the contributions of all positions (as for W_hh in chapter 2); any averaging is "
           "already in dlogits.", _OB, lambda c, i: _output_backward_variant(i, "averaged"))
    _extra("output_grads_last_step", "dW_hy and db_y use only the last time step",
           "there is a prediction, and so a gradient, at every step: dW_hy = sum over t and b of "
           "dz_t h_t^T, db_y = sum of dz_t (chapter 8).", _OB,
           lambda c, i: _output_backward_variant(i, "last_step_only"))
    _extra("output_dhs_W_transposed", "dhs multiplies dlogits by W_hy transposed",
           "z_t = W_hy h_t + b_y with W_hy (V, H), so dL/dh_t = W_hy^T dz_t: for row vectors, "
           "dz (.., V) times W_hy (V, H). Symptom: a shape error unless V = H.", _OB,
           lambda c, i: _output_backward_variant(i, "dhs_W_transposed"))
    _extra("output_dW_transposed", "dW_hy is transposed: (H, V) instead of W_hy's (V, H)",
           "a gradient has the shape of its parameter: dW_hy[j, k] = sum over positions of "
           "dz[j] h[k].", _OB, lambda c, i: _output_backward_variant(i, "dW_transposed"))


    def _sampling_variant(mistake):
        def variant(check, inputs):
            from grnn_ref.grading.exercises.ex08 import N_DRAWS
            q = sampling_probs(inputs["logits"], float(inputs["temperature"]), mistake)
            return {"counts": N_DRAWS * q}       # the expected counts of the draws
        return variant


    _S = ("sample_with_temperature",)
    _extra("temperature_after_softmax", "the temperature is applied to the probabilities after the "
           "softmax (dividing them by T and renormalising changes nothing: you sample at "
           "temperature 1)",
           "the temperature divides the logits before the softmax, p_j = exp(z_j / T) / "
           "sum_k exp(z_k / T) (chapter 8); dividing probabilities by T is undone by the "
           "normalisation.", _S, _sampling_variant("temperature_after_softmax"))
    _extra("temperature_multiplies", "the logits are multiplied by the temperature instead of "
           "divided by it",
           "p_j is proportional to exp(z_j / T): a temperature below 1 must sharpen the distribution "
           "and above 1 flatten it (chapter 8); multiplying does the opposite.", _S,
           _sampling_variant("temperature_multiplies"))
    _extra("sampling_always_greedy", "you always return the most likely character (argmax), "
           "whatever the temperature",
           "greedy decoding is only the limit T -> 0; for T > 0 draw one id at random from "
           "softmax(z / T) with the generator you are given (chapter 8).", _S,
           _sampling_variant("always_greedy"))
    return found
