"""Jacobian products and the bound of Pascanu, Mikolov and Bengio (2013) (chapter 3), in numpy.

Backpropagation through time multiplies the gradient by one Jacobian per step,

    dh_t/dh_{t-k} = J_t J_{t-1} ... J_{t-k+1},     J_s = dh_s/dh_{s-1},

and for the tanh RNN J_s = diag(1 - h_s^2) W_hh. Since |tanh'| <= gamma = 1 and the spectral norm
is submultiplicative, ||dh_t/dh_{t-k}|| <= (gamma * sigma_max(W_hh))^k: the gradient must vanish
when sigma_max < 1 and can explode only if sigma_max > 1 (Pascanu et al. 2013, section 2.1).
`||.||` is the spectral norm (largest singular value), never the Frobenius norm, which would make
the "bound" a factor up to sqrt(H) per step looser.

Every Jacobian here is exact: `step_jacobian` runs the numpy reference's own step forward on B
identical copies of one example and its step backward with the identity as dh_next, so row i of
the result is d h_next_i / d h_prev (one backward pass gives all rows). The tests check it against
the closed form diag(1 - h^2) W_hh and against finite differences.

For the LSTM the state is the pair (h, c), so the per-step Jacobian is the 2H x 2H block matrix

    d(h_t, c_t)/d(h_{t-1}, c_{t-1}) = [[dh_t/dh_{t-1}, dh_t/dc_{t-1}],
                                       [dc_t/dh_{t-1}, dc_t/dc_{t-1}]],   dc_t/dc_{t-1} = diag(f_t)

and the cell path (the constant error carousel) alone contributes prod_s diag(f_s).

Shapes: one example per trajectory in `step_jacobian` (x (D,), h (H,)); sequences xs (T, D) or
(T, B, D), in which case every example gets its own product and norms come back as (T + 1, B).
"""
import math

import numpy as np

__all__ = [
    "scaled_orthogonal", "spectral_norm", "spectral_radius", "step_jacobian",
    "rnn_step_jacobian_closed_form", "jacobian_products", "cell_path_products",
    "measured_log_slope", "pascanu_bound", "linear_input_scale", "bound_experiment",
    "general_matrix_experiment", "BOUND_SIGMAS", "BOUND_SIZES",
]

#: The regimes of chapter 3: vanishing (0.5, 0.9), the edge (1.0), exploding (1.5, 3).
BOUND_SIGMAS = (0.5, 0.9, 1.0, 1.5, 3.0)

BOUND_SIZES = {
    "quick": dict(H=16, T=30, n_examples=2),
    "book": dict(H=64, T=60, n_examples=4),
    "full": dict(H=128, T=100, n_examples=16),
}


def scaled_orthogonal(H, sigma, seed=None):
    """A random orthogonal (H, H) matrix times sigma: every singular value equals sigma.

    Q from the QR decomposition of a Gaussian matrix, with the signs fixed so that Q is Haar
    distributed. sigma_max = spectral radius = sigma, and ||W^k|| = sigma^k exactly.
    """
    if isinstance(H, bool) or not isinstance(H, (int, np.integer)) or H < 1:
        raise ValueError(f"scaled_orthogonal: H must be a positive integer, got {H!r}")
    if not (isinstance(sigma, (int, float, np.floating)) and sigma >= 0):
        raise ValueError(f"scaled_orthogonal: sigma must be a number >= 0, got {sigma!r}")
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((H, H)))
    Q = Q * np.sign(np.diag(R))
    return float(sigma) * Q


def spectral_norm(A):
    """sigma_max(A), the largest singular value (the operator 2-norm), of a 2-D array."""
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"spectral_norm: A has shape {A.shape}, expected a 2-D matrix")
    return float(np.linalg.norm(A, 2))


def spectral_radius(A):
    """max |eigenvalue| of a square matrix: the asymptotic growth rate of ||A^k||^(1/k)."""
    A = np.asarray(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"spectral_radius: A has shape {A.shape}, expected a square matrix")
    return float(np.max(np.abs(np.linalg.eigvals(A))))


def pascanu_bound(W_hh, ks, gamma=1.0):
    """(gamma * sigma_max(W_hh))^k for each k in ks: the bound on ||dh_t/dh_{t-k}|| of a tanh RNN.

    W_hh: (H, H). gamma: bound on the activation's derivative (1 for tanh, 1/4 for the sigmoid).
    Returns an array shaped like ks (float64).
    """
    return (gamma * spectral_norm(W_hh)) ** np.asarray(ks, dtype=np.float64)


def _ref(kind):
    import grnn_ref as R
    if kind == "rnn":
        return R.rnn_step_forward, R.rnn_step_backward
    if kind == "gru":
        return R.gru_step_forward, R.gru_step_backward
    if kind == "lstm":
        return R.lstm_step_forward, R.lstm_step_backward
    raise ValueError(f"kind must be 'rnn', 'lstm' or 'gru', got {kind!r}")


def step_jacobian(kind, x, h_prev, p, c_prev=None):
    """The exact Jacobian of one step, from the reference's step forward and backward.

    kind: "rnn", "gru" -> dh_next/dh_prev, (H, H).
          "lstm"       -> the joint d(h_next, c_next)/d(h_prev, c_prev), (2H, 2H), blocks
                          [[dh/dh, dh/dc], [dc/dh, dc/dc]] (c_prev required).
    x: (D,) one input; h_prev, c_prev: (H,). J[i, j] = d out_i / d in_j.
    """
    fwd, bwd = _ref(kind)
    x = np.asarray(x)
    h_prev = np.asarray(h_prev)
    if x.ndim != 1 or h_prev.ndim != 1:
        raise ValueError(f"step_jacobian: x has shape {x.shape} and h_prev {h_prev.shape}, "
                         f"expected one example: x (D,), h_prev (H,)")
    H = h_prev.shape[0]
    dtype = np.result_type(x, h_prev, p.W_hh)
    if kind != "lstm":
        X = np.repeat(x[None], H, axis=0)
        Hp = np.repeat(h_prev[None], H, axis=0)
        _, cache = fwd(X, Hp, p)
        _, dh_prev, _ = bwd(np.eye(H, dtype=dtype), cache)
        return dh_prev
    if c_prev is None:
        raise ValueError("step_jacobian: kind='lstm' needs c_prev (H,)")
    c_prev = np.asarray(c_prev)
    n = 2 * H
    X = np.repeat(x[None], n, axis=0)
    Hp = np.repeat(h_prev[None], n, axis=0)
    Cp = np.repeat(c_prev[None], n, axis=0)
    _, _, cache = fwd(X, Hp, Cp, p)
    eye = np.eye(n, dtype=dtype)
    # rows 0..H-1 seed dh_next = e_i (rows of dh/d.), rows H..2H-1 seed dc_next = e_i
    _, dh_prev, dc_prev, _ = bwd(eye[:, :H], eye[:, H:], cache)
    return np.concatenate([dh_prev, dc_prev], axis=1)


def rnn_step_jacobian_closed_form(h_next, W_hh):
    """diag(1 - h_next^2) W_hh: the tanh RNN's dh_t/dh_{t-1} (h_next (H,), W_hh (H, H))."""
    return (1.0 - np.asarray(h_next) ** 2)[:, None] * W_hh


def _as_batch(xs, h0, c0, p, kind):
    xs = np.asarray(xs)
    single = xs.ndim == 2
    if single:
        xs = xs[:, None, :]
    if xs.ndim != 3:
        raise ValueError(f"jacobian_products: xs has shape {xs.shape}, expected (T, D) or (T, B, D)")
    T, B, _ = xs.shape
    H = p.hidden_size
    dtype = xs.dtype

    def state(s, name):
        if s is None:
            return np.zeros((B, H), dtype=dtype)
        s = np.asarray(s, dtype=dtype)
        if s.ndim == 1:
            s = np.broadcast_to(s, (B, H)).copy()
        if s.shape != (B, H):
            raise ValueError(f"jacobian_products: {name} has shape {s.shape}, expected (B, H) = "
                             f"{(B, H)} or (H,)")
        return s

    return xs, state(h0, "h0"), state(c0, "c0") if kind == "lstm" else None, single


def jacobian_products(kind, p, xs, h0=None, c0=None, *, path="h", return_info=False):
    """Spectral norms of the Jacobian products along a trajectory: norms[k] = ||d s_k / d s_0||.

    kind: "rnn", "lstm" or "gru"; p: Params; xs: (T, D) or (T, B, D); h0, c0: (H,) or (B, H),
    zeros by default.
    path (LSTM only; RNN and GRU have only h):
        "h"     the block dh_k/dh_0 of the joint product (all routes, c_0 held fixed)
        "c"     the block dc_k/dc_0 of the joint product
        "joint" the whole 2H x 2H product d(h_k, c_k)/d(h_0, c_0)
        "cell"  the cell path alone, prod_s diag(f_s): its norm is max_j prod_s f_s[j]
    Returns norms (T + 1,) for xs (T, D) or (T + 1, B) for (T, B, D); norms[0] = 1.
    With return_info=True also a dict with "dtanh_mean" (mean of 1 - h^2 along the trajectory,
    RNN) and "max_abs_h" (max |h_t|), to tell the linear from the saturated regime.
    """
    fwd, _ = _ref(kind)
    if kind != "lstm" and path != "h":
        raise ValueError(f"jacobian_products: path={path!r} is for the LSTM; use path='h' for {kind}")
    if path not in ("h", "c", "joint", "cell"):
        raise ValueError(f"jacobian_products: path must be 'h', 'c', 'joint' or 'cell', got {path!r}")
    xs, h, c, single = _as_batch(xs, h0, c0, p, kind)
    T, B, _ = xs.shape
    H = p.hidden_size
    norms = np.empty((T + 1, B))
    norms[0] = 1.0
    dim = 2 * H if kind == "lstm" else H
    P = np.broadcast_to(np.eye(dim), (B, dim, dim)).copy()
    cell = np.ones((B, H))
    dtanh, max_h = [], 0.0
    for t in range(T):
        for b in range(B):
            if kind == "lstm":
                J = step_jacobian(kind, xs[t, b], h[b], p, c[b])
            else:
                J = step_jacobian(kind, xs[t, b], h[b], p)
            P[b] = J @ P[b]
        if kind == "lstm":
            h_new, c_new, cache = fwd(xs[t], h, c, p)
            if path == "cell":
                from grnn_ref.lstm import lstm_gates
                cell = cell * lstm_gates(cache)["f"]
            c = c_new
        else:
            h_new, _ = fwd(xs[t], h, p)
        h = h_new
        dtanh.append(np.mean(1.0 - h ** 2))
        max_h = max(max_h, float(np.max(np.abs(h))))
        for b in range(B):
            if path == "h":
                M = P[b][:H, :H]
            elif path == "c":
                M = P[b][H:, H:]
            elif path == "joint":
                M = P[b]
            else:
                norms[t + 1, b] = np.max(np.abs(cell[b]))
                continue
            norms[t + 1, b] = np.linalg.norm(M, 2)
    out = norms[:, 0] if single else norms
    if return_info:
        return out, {"dtanh_mean": float(np.mean(dtanh)), "max_abs_h": max_h}
    return out


def cell_path_products(gate):
    """Cumulative products of a gate along time, from the end: the cell (or update-gate) path.

    gate: (T, ...) activations, e.g. the LSTM forget gate f_t or the GRU update gate z_t.
    Returns (T + 1, ...) with out[t] = prod_{s=t+1}^{T} gate_s (1-based s; out[T] = 1), i.e.
    dc_T/dc_t along the cell path for f (and dh_T/dh_t along the z-path for the GRU).
    """
    g = np.asarray(gate, dtype=np.float64)
    T = g.shape[0]
    out = np.ones((T + 1,) + g.shape[1:])
    for t in range(T - 1, -1, -1):
        out[t] = out[t + 1] * g[t]
    return out


def measured_log_slope(norms, k_min=1, k_max=None):
    """Least-squares slope of log(norms[k]) against k over k_min <= k <= k_max (per step).

    norms: (K,) or (K, B) (then the slope of the mean log-norm over B). Entries that are zero,
    non-finite or below 1e-280 (underflow) are left out of the fit. For a product that behaves
    like rho^k the slope is log(rho); compare with log(gamma * sigma_max).
    """
    n = np.asarray(norms, dtype=np.float64)
    if n.ndim == 2:
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(n).mean(axis=1)
    elif n.ndim == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(n)
    else:
        raise ValueError(f"measured_log_slope: norms has shape {n.shape}, expected (K,) or (K, B)")
    K = logs.shape[0]
    k_max = K - 1 if k_max is None else min(k_max, K - 1)
    ks = np.arange(k_min, k_max + 1)
    y = logs[k_min:k_max + 1]
    ok = np.isfinite(y) & (y > math.log(1e-280))
    if ok.sum() < 2:
        raise ValueError(f"measured_log_slope: fewer than 2 usable points in k = {k_min}..{k_max}")
    return float(np.polyfit(ks[ok], y[ok], 1)[0])


def linear_input_scale(sigma, T, target=1e-3):
    """Input size that keeps a tanh RNN with sigma_max = sigma in its linear regime for T steps:
    the state grows at most like sigma^t, so inputs of target / max(1, sigma)^T keep |h| ~< target
    (and tanh'(a) = 1 - O(target^2))."""
    return target / max(1.0, float(sigma)) ** T


def _rnn_params(W_hh, D, seed, biases, input_gain):
    from grnn_ref.params import Params
    rng = np.random.default_rng([seed, 7])
    H = W_hh.shape[0]
    W_ih = rng.standard_normal((H, D)) * (input_gain / math.sqrt(D))
    if biases:
        k = 1.0 / math.sqrt(H)
        b_ih, b_hh = rng.uniform(-k, k, H), rng.uniform(-k, k, H)
    else:
        b_ih, b_hh = np.zeros(H), np.zeros(H)
    return Params(W_ih, W_hh.astype(np.float64), b_ih, b_hh)


def _bound_row(W_hh, sigma, regime, T, n_examples, D, seed, matrix, saturated_input_scale=1.0):
    rng = np.random.default_rng([seed, 11])
    if regime == "linear":
        p = _rnn_params(W_hh, D, seed, biases=False, input_gain=1.0)
        scale = linear_input_scale(spectral_norm(W_hh), T)
    elif regime == "saturated":
        # inputs strong enough that pre-activations are O(1): tanh' < 1 along the trajectory
        p = _rnn_params(W_hh, D, seed, biases=True, input_gain=1.0)
        scale = saturated_input_scale
    else:
        raise ValueError(f"bound_experiment: regime must be 'linear' or 'saturated', got {regime!r}")
    xs = scale * rng.standard_normal((T, n_examples, D))
    norms, info = jacobian_products("rnn", p, xs, return_info=True)
    smax, rho = spectral_norm(W_hh), spectral_radius(W_hh)
    ks = np.arange(T + 1)
    bound = pascanu_bound(W_hh, ks)
    slope = measured_log_slope(norms, k_min=T // 2 if matrix == "gaussian" else 1)
    predicted = math.log(smax)
    return {
        "matrix": matrix, "regime": regime, "sigma": float(sigma), "sigma_max": smax,
        "spectral_radius": rho, "predicted_slope": predicted,
        "log_spectral_radius": math.log(rho) if rho > 0 else float("-inf"),
        "measured_slope": slope,
        "ratio": slope / predicted if abs(predicted) > 1e-12 else float("nan"),
        "bound_holds": bool(np.all(norms <= bound[:, None] * (1 + 1e-9) + 1e-300)),
        "mean_tanh_prime": info["dtanh_mean"], "max_abs_h": info["max_abs_h"],
        "norms": norms, "bound": bound,
    }


def bound_experiment(sigmas=BOUND_SIGMAS, *, H=64, T=60, n_examples=4, D=8,
                     regimes=("linear", "saturated"), saturated_input_scale=1.0, seed=0):
    """Measured Jacobian-product decay/growth of a tanh RNN against Pascanu's bound.

    For each sigma and regime: W_hh = scaled_orthogonal(H, sigma) (all singular values = sigma),
    random W_ih (H, D) with N(0, 1/D) entries, and n_examples random input sequences of length T:
      "linear":    zero biases, inputs scaled by `linear_input_scale` so |h| stays ~1e-3:
                   tanh' ~ 1 and the bound should be tight (measured slope ~ log sigma);
      "saturated": PyTorch-style biases and inputs N(0, saturated_input_scale^2): tanh' < 1
                   along the trajectory pulls the measured slope below the bound.
    Returns a list of row dicts: matrix, regime, sigma, sigma_max, spectral_radius,
    predicted_slope = log(sigma_max) (gamma = 1), measured_slope (per step, mean log-norm over
    examples), ratio, bound_holds (norms[k] <= sigma_max^k for every k and example),
    mean_tanh_prime, max_abs_h, and the arrays norms (T + 1, n_examples) and bound (T + 1,).
    """
    rows = []
    for sigma in sigmas:
        W = scaled_orthogonal(H, sigma, seed=seed)
        for regime in regimes:
            rows.append(_bound_row(W, sigma, regime, T, n_examples, D, seed, "orthogonal",
                                   saturated_input_scale))
    return rows


def general_matrix_experiment(gains=(0.9, 1.1), *, H=64, T=100, n_examples=2, D=8, seed=0):
    """Linear-regime decay rates for a general (non-normal) W_hh = gain * N(0, 1/H).

    For such a matrix sigma_max ~ 2 * gain while the spectral radius is ~ gain; the measured
    rate (slope over the second half of the lags) follows log(spectral radius), as
    ||W^k||^(1/k) -> rho(W) (Gelfand's formula), and stays below the bound log(sigma_max).
    Returns rows like `bound_experiment` with matrix = "gaussian" and sigma = gain.
    """
    rows = []
    for gain in gains:
        rng = np.random.default_rng([seed, 3])
        W = gain * rng.standard_normal((H, H)) / math.sqrt(H)
        rows.append(_bound_row(W, gain, "linear", T, n_examples, D, seed, "gaussian"))
    return rows
