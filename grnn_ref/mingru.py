"""minGRU, minLSTM and the linear recurrence they reduce to, in numpy (chapter 9, Exercise 9).

Feng et al. (2024, "Were RNNs All We Needed?") take the hidden state out of the gates of the GRU
and the LSTM. What is left is a recurrence that is *linear* in the state,

    h_t = a_t * h_{t-1} + b_t        (elementwise; a_t, b_t computed from x_t alone),

and such a recurrence can be solved for every t at once by a parallel prefix scan (Blelloch 1990;
Martin and Cundy 2018), in O(log T) parallel steps instead of T.

    hs = linear_recurrence(a, b, h0)                 # the sequential loop, T steps
    hs = linear_scan(a, b, h0, method="doubling")    # Hillis-Steele doubling: log2 T rounds
    hs = linear_scan(a, b, h0, method="blelloch")    # up-sweep / down-sweep, O(T) work
    hs = linear_scan_log(log_a, b, h0)               # the paper's log-space form (logcumsumexp)
    da, db, dh0 = linear_recurrence_backward(dhs, a, h0, hs)   # itself a reversed recurrence

    hs, cache = mingru_forward(xs, h0, W, bias, method="doubling")
    dxs, dh0, dW, dbias = mingru_backward(dhs, cache)
    hs, cache = minlstm_forward(xs, h0, W, bias)  # and minlstm_backward(dhs, cache)

Conventions (the course's, chapter 5): minGRU keeps PyTorch's update gate, z_t near 1 keeps the
old state:

    z_t = sigmoid(W_z x_t + b_z),   n_t = W_n x_t + b_n,   h_t = z_t * h_{t-1} + (1 - z_t) * n_t

so a_t = z_t and b_t = (1 - z_t) n_t. (The paper writes h_t = (1 - z_t) h_{t-1} + z_t h~_t: its
z is our 1 - z.) minLSTM:

    f_t = sigmoid(W_f x_t + b_f),  i_t = sigmoid(W_i x_t + b_i),  n_t = W_n x_t + b_n
    f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t),  h_t = f'_t * h_{t-1} + i'_t * n_t

Shapes (time-major, as in the rest of the course): xs (T, B, D), h0 (B, H), hs (T, B, H);
a, b (T, B, H) (any trailing shape works for the scans); W (G*H, D) and bias (G*H,) with the
blocks stacked in the order z, n (minGRU, G = 2) or f, i, n (minLSTM, G = 3). float32 in,
float32 out; inputs are never modified.
"""
import numpy as np

from grnn_ref.activations import sigmoid as _sigmoid

__all__ = ["linear_recurrence", "linear_scan", "linear_scan_log", "linear_scan_cumprod",
           "linear_recurrence_backward", "SCAN_METHODS",
           "mingru_forward", "mingru_backward", "minlstm_forward", "minlstm_backward",
           "init_min_params", "MIN_GATES"]

SCAN_METHODS = ("sequential", "doubling", "blelloch", "log")
#: the gate blocks stacked in W and bias, in order
MIN_GATES = {"mingru": ("z", "n"), "minlstm": ("f", "i", "n")}


# ------------------------------------------------------------------ argument checks
def _floats(fn, **arrays):
    out = []
    for name, x in arrays.items():
        if x is None:
            raise ValueError(f"{fn}: {name} is None, expected a float32 or float64 numpy array")
        x = np.asarray(x)
        if x.dtype not in (np.float32, np.float64):
            raise ValueError(f"{fn}: {name} has dtype {x.dtype}, expected float32 or float64")
        out.append(x)
    return out


def _recurrence_args(fn, a, b, h0):
    a, b, h0 = _floats(fn, a=a, b=b, h0=h0)
    if a.ndim < 1 or a.shape[0] < 1:
        raise ValueError(f"{fn}: a has shape {a.shape}, expected (T, ...) with T >= 1")
    if b.shape != a.shape:
        raise ValueError(f"{fn}: b has shape {b.shape}, expected a's shape {a.shape}")
    if h0.shape != a.shape[1:]:
        raise ValueError(f"{fn}: h0 has shape {h0.shape}, expected a's shape without its time "
                         f"axis, {a.shape[1:]}")
    return a, b, h0


def _compose(A1, B1, A2, B2):
    """The map h -> A2 (A1 h + B1) + B2: first (A1, B1), then (A2, B2). Associative."""
    return A2 * A1, A2 * B1 + B2


# ------------------------------------------------------------------ the linear recurrence
def linear_recurrence(a, b, h0):
    """h_t = a_t * h_{t-1} + b_t for t = 1..T, one step after the other (T sequential steps).

    a, b (T, ...); h0 (...) -> hs (T, ...), hs[t] the state after step t + 1."""
    a, b, h0 = _recurrence_args("linear_recurrence", a, b, h0)
    hs = np.empty(np.broadcast_shapes(a.shape, b.shape), dtype=np.result_type(a, b, h0))
    h = h0
    for t in range(a.shape[0]):
        h = a[t] * h + b[t]
        hs[t] = h
    return hs


def _scan_doubling(a, b):
    """Inclusive prefix composition (A_t, B_t) of the maps (a_k, b_k), k <= t, by recursive
    doubling (Hillis and Steele 1986): after round r, entry t holds the composition of the
    2^r maps ending at t. ceil(log2 T) rounds, each a vectorised O(T) update: depth O(log T),
    work O(T log T)."""
    A, B = a.copy(), b.copy()
    T, d = a.shape[0], 1
    while d < T:
        # entry t absorbs the block ending at t - d (evaluated on the old values, then stored)
        B[d:] = A[d:] * B[:-d] + B[d:]
        A[d:] = A[d:] * A[:-d]
        d *= 2
    return A, B


def _scan_blelloch(a, b):
    """Inclusive prefix composition by Blelloch's (1990) work-efficient scan: an up-sweep builds
    the compositions of blocks of 2, 4, 8, ... maps in a balanced tree, a down-sweep hands each
    node the composition of everything before it (an exclusive scan), and one last compose adds
    each element. Depth 2 log2 T, work O(T). The length is padded to a power of two with the
    identity map (1, 0)."""
    T = a.shape[0]
    N = 1 << max(0, (T - 1).bit_length())
    A = np.ones((N,) + a.shape[1:], dtype=a.dtype)
    B = np.zeros((N,) + b.shape[1:], dtype=b.dtype)
    A[:T], B[:T] = a, b
    levels = N.bit_length() - 1
    for k in range(levels):                         # up-sweep
        step = 2 << k
        right = np.arange(step - 1, N, step)
        left = right - (step >> 1)
        A[right], B[right] = _compose(A[left], B[left], A[right], B[right])
    A[N - 1], B[N - 1] = 1, 0                       # the identity: nothing comes before the root
    for k in reversed(range(levels)):               # down-sweep
        step = 2 << k
        right = np.arange(step - 1, N, step)
        left = right - (step >> 1)
        before_A, before_B = A[right].copy(), B[right].copy()   # everything before the node
        left_A, left_B = A[left].copy(), B[left].copy()         # the left child's block
        A[left], B[left] = before_A, before_B
        A[right], B[right] = _compose(before_A, before_B, left_A, left_B)
    # A, B now hold the exclusive prefixes; compose each element on top
    return _compose(A[:T], B[:T], a, b)


def linear_scan(a, b, h0, method="doubling"):
    """All states of h_t = a_t * h_{t-1} + b_t at once, by a parallel prefix scan.

    The map h -> a h + b composes with another into a map of the same form,
    (a2, b2) after (a1, b1) = (a2 a1, a2 b1 + b2), an associative operation, so the compositions
    of every prefix, h_t = A_t h0 + B_t, can be computed by any prefix-scan algorithm.
    method: "doubling" (Hillis-Steele, log2 T rounds), "blelloch" (up-sweep / down-sweep),
    "sequential" (the loop) or "log" (linear_scan_log on log a; needs a > 0).
    a, b (T, ...); h0 (...) -> hs (T, ...). Equal to `linear_recurrence` up to rounding."""
    if method not in SCAN_METHODS:
        raise ValueError(f"linear_scan: method must be one of {SCAN_METHODS}, got {method!r}")
    a, b, h0 = _recurrence_args("linear_scan", a, b, h0)
    if method == "sequential":
        return linear_recurrence(a, b, h0)
    if method == "log":
        if np.any(a <= 0):
            raise ValueError("linear_scan: method 'log' needs every a_t > 0 (it takes log a); "
                             "use 'doubling' or 'blelloch' for a <= 0")
        return linear_scan_log(np.log(a), b, h0)
    A, B = (_scan_doubling if method == "doubling" else _scan_blelloch)(a, b)
    return A * h0 + B


def _log_positive_recurrence(log_a, log_b, log_h0):
    """log h_t for h_t = a_t h_{t-1} + b_t with a, b, h0 >= 0 given by their logs (-inf for 0):
    h_t = exp(s_t) (h0 + sum_{k<=t} b_k exp(-s_k)) with s_t = sum_{j<=t} log a_j, so
    log h_t = s_t + logcumsumexp([log h0, log b_k - s_k]) -- a cumulative sum and a cumulative
    log-sum-exp, both prefix scans, and nothing that overflows."""
    s = np.cumsum(log_a, axis=0)
    terms = np.concatenate([log_h0[None], log_b - s], axis=0)
    with np.errstate(invalid="ignore"):     # -inf - -inf where a term and s are both -inf
        terms = np.where(np.isnan(terms), -np.inf, terms)
    lse = np.logaddexp.accumulate(terms, axis=0)[1:]
    return s + lse


def linear_scan_log(log_a, b, h0):
    """The log-space scan of Feng et al. (2024), after Heinsen (2023): h_t = a_t h_{t-1} + b_t
    with the coefficients given as log a_t (so a_t > 0, e.g. log z_t = -softplus(-k_t) straight
    from the gate's pre-activation, which never underflows to log 0).

    The paper keeps b_t > 0 (its g(.) makes the candidate positive) so that log b_t exists; here a
    signed b_t is split as b+ - b- (both >= 0) and the two positive recurrences are solved in log
    space: h = exp(log h+) - exp(log h-). Work O(T); cumsum and logcumsumexp are prefix scans.
    log_a, b (T, ...); h0 (...) -> hs (T, ...)."""
    log_a, b, h0 = _recurrence_args("linear_scan_log", log_a, b, h0)
    with np.errstate(divide="ignore"):
        out = 0
        for sign in (1, -1):
            part_b, part_h0 = np.maximum(sign * b, 0), np.maximum(sign * h0, 0)
            out = out + sign * np.exp(_log_positive_recurrence(log_a, np.log(part_b),
                                                               np.log(part_h0)))
    return out.astype(np.result_type(log_a, b, h0), copy=False)


def linear_scan_cumprod(a, b, h0):
    """The closed form taken literally: A_t = cumprod(a), h_t = A_t (h0 + cumsum(b_k / A_k)).
    Correct in exact arithmetic but numerically useless at long T: A_t underflows to 0 (with
    a_t = 0.9, 0.9^t < 1e-38 after ~830 steps in float32) and b_k / A_k overflows. Kept to show
    why the paper works in log space (chapter 9)."""
    a, b, h0 = _recurrence_args("linear_scan_cumprod", a, b, h0)
    with np.errstate(all="ignore"):
        A = np.cumprod(a, axis=0)
        return A * (h0 + np.cumsum(b / A, axis=0))


def linear_recurrence_backward(dhs, a, h0, hs, method="doubling"):
    """Backward of h_t = a_t * h_{t-1} + b_t, given dhs = dL/dh_t from outside (T, ...).

    The total gradient reaching h_t is g_t = dhs_t + a_{t+1} g_{t+1} (g_T = dhs_T): the same
    linear recurrence run backwards in time, with coefficients a shifted by one, so it is solved
    by the same scan. Then da_t = g_t h_{t-1}, db_t = g_t, dh0 = a_1 g_1.
    Returns (da, db, dh0) shaped like a, b and h0."""
    dhs, a, h0 = _recurrence_args("linear_recurrence_backward", dhs, a, h0)
    hs = np.asarray(hs)
    if hs.shape != a.shape:
        raise ValueError(f"linear_recurrence_backward: hs has shape {hs.shape}, expected a's "
                         f"shape {a.shape}")
    a_next = np.ones_like(a)         # the last entry multiplies a zero state: any value
    a_next[:-1] = a[1:]
    g = linear_scan(a_next[::-1], dhs[::-1], np.zeros_like(h0), method)[::-1]
    h_prev = np.concatenate([h0[None], hs[:-1]], axis=0)
    return g * h_prev, g, a[0] * g[0]


# ------------------------------------------------------------------ minGRU and minLSTM
def init_min_params(kind, D, H, seed=0, dtype=np.float64):
    """W (G*H, D) and bias (G*H,) from U(-1/sqrt(H), 1/sqrt(H)) (torch.nn.Linear-like), G = 2 for
    "mingru" (z, n) and 3 for "minlstm" (f, i, n)."""
    if kind not in MIN_GATES:
        raise ValueError(f"init_min_params: kind must be one of {tuple(MIN_GATES)}, got {kind!r}")
    G = len(MIN_GATES[kind])
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    return (rng.uniform(-k, k, (G * H, D)).astype(dtype),
            rng.uniform(-k, k, (G * H,)).astype(dtype))


def _min_args(fn, kind, xs, h0, W, bias):
    xs, h0, W, bias = _floats(fn, xs=xs, h0=h0, W=W, bias=bias)
    if xs.ndim != 3 or xs.shape[0] < 1:
        raise ValueError(f"{fn}: xs has shape {xs.shape}, expected (T, B, D) with T >= 1")
    T, B, D = xs.shape
    G = len(MIN_GATES[kind])
    if W.ndim != 2 or W.shape[1] != D or W.shape[0] % G:
        raise ValueError(f"{fn}: W has shape {W.shape}, expected ({G}*H, D) with D = {D} "
                         f"(blocks {', '.join(MIN_GATES[kind])})")
    H = W.shape[0] // G
    if bias.shape != (G * H,):
        raise ValueError(f"{fn}: bias has shape {bias.shape}, expected ({G}*H,) = ({G * H},)")
    if h0.shape != (B, H):
        raise ValueError(f"{fn}: h0 has shape {h0.shape}, expected (B, H) = ({B}, {H})")
    if len({xs.dtype, h0.dtype, W.dtype, bias.dtype}) != 1:
        raise ValueError(f"{fn}: xs, h0, W and bias must share one dtype, got {xs.dtype}, "
                         f"{h0.dtype}, {W.dtype}, {bias.dtype}")
    return xs, h0, W, bias, H


def _log_sigmoid(u):
    """log sigmoid(u) = -softplus(-u), computed without overflow."""
    return -np.logaddexp(0, -u)


def mingru_forward(xs, h0, W, bias, method="doubling"):
    """minGRU over a sequence: every gate from x_t alone, then one linear scan.

    k = xs W^T + bias (all steps at once); z = sigmoid(k_z), n = k_n;
    h_t = z_t * h_{t-1} + (1 - z_t) * n_t, i.e. a = z, b = (1 - z) n, solved by `method`
    (SCAN_METHODS; "log" feeds log z = -softplus(-k_z) to linear_scan_log).
    Returns hs (T, B, H) and a cache for mingru_backward."""
    if method not in SCAN_METHODS:
        raise ValueError(f"mingru_forward: method must be one of {SCAN_METHODS}, got {method!r}")
    xs, h0, W, bias, H = _min_args("mingru_forward", "mingru", xs, h0, W, bias)
    k = xs @ W.T + bias
    z, n = _sigmoid(k[..., :H]), k[..., H:]
    b = (1 - z) * n
    if method == "log":
        hs = linear_scan_log(_log_sigmoid(k[..., :H]), b, h0)
    else:
        hs = linear_scan(z, b, h0, method)
    return hs.astype(xs.dtype, copy=False), ("mingru", xs, h0, W, z, n, hs)


def mingru_backward(dhs, cache, method="doubling"):
    """Backward of mingru_forward: dhs (T, B, H) -> (dxs, dh0, dW, dbias)."""
    kind, xs, h0, W, z, n, hs = _cache("mingru_backward", cache, "mingru")
    (dhs,) = _floats("mingru_backward", dhs=dhs)
    if dhs.shape != hs.shape:
        raise ValueError(f"mingru_backward: dhs has shape {dhs.shape}, expected hs's shape "
                         f"{hs.shape} (T, B, H)")
    da, db, dh0 = linear_recurrence_backward(dhs, z, h0, hs, method)
    dz = da - db * n                      # a = z, b = (1 - z) n
    dn = db * (1 - z)
    dk = np.concatenate([dz * z * (1 - z), dn], axis=-1)
    return _linear_grads(dk, xs, W, dh0)


def minlstm_forward(xs, h0, W, bias, method="doubling"):
    """minLSTM over a sequence: f, i from x_t alone, normalised so that f' + i' = 1.

    k = xs W^T + bias; f = sigmoid(k_f), i = sigmoid(k_i), n = k_n;
    f' = f / (f + i), i' = i / (f + i); h_t = f'_t * h_{t-1} + i'_t * n_t (a = f', b = i' n).
    ("log" uses log f' = log f - log(f + i), computed from the pre-activations.)
    Returns hs (T, B, H) and a cache for minlstm_backward."""
    if method not in SCAN_METHODS:
        raise ValueError(f"minlstm_forward: method must be one of {SCAN_METHODS}, got {method!r}")
    xs, h0, W, bias, H = _min_args("minlstm_forward", "minlstm", xs, h0, W, bias)
    k = xs @ W.T + bias
    f, i, n = _sigmoid(k[..., :H]), _sigmoid(k[..., H:2 * H]), k[..., 2 * H:]
    fp, ip = f / (f + i), i / (f + i)
    if method == "log":
        log_f, log_i = _log_sigmoid(k[..., :H]), _log_sigmoid(k[..., H:2 * H])
        hs = linear_scan_log(log_f - np.logaddexp(log_f, log_i), ip * n, h0)
    else:
        hs = linear_scan(fp, ip * n, h0, method)
    return hs.astype(xs.dtype, copy=False), ("minlstm", xs, h0, W, (f, i), n, hs)


def minlstm_backward(dhs, cache, method="doubling"):
    """Backward of minlstm_forward: dhs (T, B, H) -> (dxs, dh0, dW, dbias)."""
    kind, xs, h0, W, (f, i), n, hs = _cache("minlstm_backward", cache, "minlstm")
    (dhs,) = _floats("minlstm_backward", dhs=dhs)
    if dhs.shape != hs.shape:
        raise ValueError(f"minlstm_backward: dhs has shape {dhs.shape}, expected hs's shape "
                         f"{hs.shape} (T, B, H)")
    s = f + i
    fp, ip = f / s, i / s
    da, db, dh0 = linear_recurrence_backward(dhs, fp, h0, hs, method)
    dfp, dip, dn = da, db * n, db * ip
    # f' = f / s, i' = i / s with s = f + i: df = (dfp - (dfp f' + dip i')) / s, same for di
    common = (dfp * fp + dip * ip) / s
    df, di = dfp / s - common, dip / s - common
    dk = np.concatenate([df * f * (1 - f), di * i * (1 - i), dn], axis=-1)
    return _linear_grads(dk, xs, W, dh0)


def _cache(fn, cache, kind):
    if not (isinstance(cache, tuple) and len(cache) == 7 and cache[0] == kind):
        raise ValueError(f"{fn}: cache is not the cache {kind}_forward returned")
    return cache


def _linear_grads(dk, xs, W, dh0):
    D = xs.shape[-1]
    dxs = dk @ W
    dW = dk.reshape(-1, dk.shape[-1]).T @ xs.reshape(-1, D)
    dbias = dk.reshape(-1, dk.shape[-1]).sum(axis=0)
    dt = xs.dtype
    return dxs.astype(dt), dh0.astype(dt), dW.astype(dt), dbias.astype(dt)


# ---------------------------------------------------------------- grader side: Exercise 9's checks
def _doubling_variant(a, b, h0, mistake):
    """The doubling scan with one of the known mistakes (float64)."""
    A, B = a.copy(), b.copy()
    T, d = a.shape[0], 1
    while (2 * d < T) if mistake == "too_few_rounds" else (d < T):
        if mistake == "b_not_scaled":
            B[d:] = B[:-d] + B[d:]
        elif mistake == "compose_order":             # the earlier block applied after the later
            B[d:] = A[:-d] * B[d:] + B[:-d]
        elif mistake == "A_updated_first":
            A[d:] = A[d:] * A[:-d]
            B[d:] = A[d:] * B[:-d] + B[d:]
            d *= 2
            continue
        else:
            B[d:] = A[d:] * B[:-d] + B[d:]
        A[d:] = A[d:] * A[:-d]
        d *= 2
    if mistake == "ignores_h0":
        return B
    return A * h0 + B


def misconceptions():
    """Exercise 9's known mistakes, as Misconception objects: its checks name this module as their
    `catalogue`, and grading.misconceptions adds these to the catalogue (grader side only)."""
    from grnn_ref.grading.misconceptions import Misconception

    found = []

    def _extra(id, title, fix, checks, fn):
        found.append(Misconception(id, title, fix, tuple(checks), fn))

    def _scan(mistake):
        def variant(check, inputs):
            a, b, h0 = (np.asarray(inputs[n], dtype=np.float64) for n in ("a", "b", "h0"))
            if mistake == "exclusive":
                ref = linear_recurrence(a, b, h0)
                return {"hs": np.concatenate([h0[None], ref[:-1]], axis=0)}
            if mistake == "cumprod":
                # the mistake shows where the closed form overflows in the case's own dtype;
                # elsewhere it is the right answer up to rounding, so the variant is the
                # reference there
                hs = linear_scan_cumprod(inputs["a"], inputs["b"], inputs["h0"])
                return {"hs": hs if not np.all(np.isfinite(hs)) else linear_recurrence(a, b, h0)}
            return {"hs": _doubling_variant(a, b, h0, mistake)}
        return variant

    _S = ("linear_scan",)
    _extra("scan_exclusive", "your scan is exclusive: hs[t] holds the state before step t + 1 "
           "(h0 first, the last state missing)",
           "hs[t] must include the map of step t itself: h_1 = a_1 h0 + b_1 comes first, h_T "
           "last (an inclusive scan, chapter 9). Symptom: your hs[0] equals h0.", _S,
           _scan("exclusive"))
    _extra("scan_ignores_h0", "the initial state h0 is left out: the states are computed as if "
           "h0 = 0",
           "the prefix compositions give h_t = A_t h0 + B_t (A_t the product of a_1..a_t): the "
           "A_t h0 term carries the initial state (chapter 9). Symptom: right only when h0 = 0.",
           _S, _scan("ignores_h0"))
    _extra("scan_b_not_scaled", "when two blocks are combined, the earlier block's offset is "
           "added without being multiplied by the later block's coefficient",
           "applying (a1, b1) and then (a2, b2) gives h -> a2 (a1 h + b1) + b2 = (a2 a1) h + "
           "(a2 b1 + b2): the earlier offset b1 is scaled by a2 (chapter 9). Symptom: your scan "
           "adds up the b's, as if every a were 1.", _S, _scan("b_not_scaled"))
    _extra("scan_compose_order", "the two blocks are combined in the wrong order: the earlier "
           "block is applied after the later one",
           "the operator is associative but not commutative: the block ending at t - d happens "
           "first, so entry t becomes (a_t a_{t-d}, a_t b_{t-d} + b_t), not "
           "(.., a_{t-d} b_t + b_{t-d}) (chapter 9).", _S, _scan("compose_order"))
    _extra("scan_A_updated_first", "within a round the coefficients A are updated before the "
           "offsets B, so B is combined with the new A instead of the old one",
           "in one doubling round both updates must read the values of the previous round: "
           "compute the new B from the old A (or update B first), then A (chapter 9). Symptom: "
           "right for T <= 2.", _S, _scan("A_updated_first"))
    _extra("scan_too_few_rounds", "one doubling round too few: entries more than 2^(rounds) "
           "steps from the start never receive the earliest maps",
           "after round r each entry holds the composition of the 2^r maps ending at it; T "
           "states need ceil(log2 T) rounds, i.e. go on while the offset d < T (chapter 9). "
           "Symptom: right for the first states, wrong further on.", _S,
           _scan("too_few_rounds"))
    _extra("scan_cumprod_closed_form", "the closed form h_t = A_t (h0 + sum_k b_k / A_k) with "
           "A_t = cumprod(a) overflows: A_t underflows to 0 and b_k / A_k to inf",
           "the formula is exact but not computable in floating point for long sequences "
           "(0.9^t < 1e-38 after ~830 steps in float32): combine neighbouring maps instead "
           "(doubling or Blelloch), which never divides, or work in log space (chapter 9).", _S,
           _scan("cumprod"))

    def _gru(mistake):
        def variant(check, inputs):
            xs, h0, W, bias = (np.asarray(inputs[n], dtype=np.float64)
                               for n in ("xs", "h0", "W", "bias"))
            H = h0.shape[1]
            k = xs @ W.T + bias
            kz, kn = (k[..., H:], k[..., :H]) if mistake == "blocks_swapped" else (k[..., :H],
                                                                                   k[..., H:])
            z, n = _sigmoid(kz), kn
            if mistake == "tanh_candidate":
                n = np.tanh(n)
            if mistake == "gate_swapped":
                return {"hs": linear_recurrence(1 - z, z * n, h0)}
            if mistake == "b_not_gated":
                return {"hs": linear_recurrence(z, n, h0)}
            if mistake == "h0_ignored":
                h0 = np.zeros_like(h0)
            return {"hs": linear_recurrence(z, (1 - z) * n, h0)}
        return variant

    _G = ("mingru_forward",)
    _extra("mingru_gate_swapped", "z and 1 - z are swapped: z weighs the candidate and 1 - z the "
           "old state",
           "in the course's convention (PyTorch's, chapter 5) z_t near 1 keeps the old state: "
           "h_t = z_t h_{t-1} + (1 - z_t) n_t. The paper writes it the other way round, with its "
           "z our 1 - z (chapter 9).", _G, _gru("gate_swapped"))
    _extra("mingru_tanh_candidate", "the candidate is squashed with tanh: n_t = tanh(W_n x_t + "
           "b_n)",
           "minGRU's candidate is the linear map n_t = W_n x_t + b_n with no tanh (Feng et al. "
           "drop the bounded activation along with the reset gate, chapter 9).", _G,
           _gru("tanh_candidate"))
    _extra("mingru_blocks_swapped", "the blocks of W and bias are read in the wrong order: the "
           "gate from the second H rows and the candidate from the first",
           "W stacks the blocks in the order z, n: rows 0..H-1 give the update gate's "
           "pre-activation, rows H..2H-1 the candidate (chapter 9).", _G,
           _gru("blocks_swapped"))
    _extra("mingru_b_not_gated", "the candidate enters without its weight 1 - z: b_t = n_t "
           "instead of (1 - z_t) n_t",
           "h_t = z_t h_{t-1} + (1 - z_t) n_t is the recurrence h_t = a_t h_{t-1} + b_t with "
           "a_t = z_t and b_t = (1 - z_t) n_t (chapter 9). Symptom: the states grow far beyond "
           "the candidates.", _G, _gru("b_not_gated"))
    _extra("mingru_h0_ignored", "the initial state h0 is not used: the recurrence starts from "
           "zeros",
           "the first state is h_1 = z_1 h0 + (1 - z_1) n_1: pass h0 to your scan (chapter 9).",
           _G, _gru("h0_ignored"))
    return found
