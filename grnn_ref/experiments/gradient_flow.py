"""How far back the gradient reaches: ||dL/dh_t|| against t in RNN, LSTM and GRU (chapters 3-5).

A loss that reads only the last hidden state, L = sum_b w . h_T[b] with a random unit vector w,
is backpropagated step by step with the numpy reference's own step backward functions, and the
norm of dL/dh_t is recorded at every t (for the LSTM also dL/dc_t). Inputs are adding-problem
sequences (D = 2); weights come from `grnn_ref.init_params`, which draws them as torch.nn does
(U(-1/sqrt(H), 1/sqrt(H))), optionally with the LSTM forget bias set (Jozefowicz et al. 2015
recommend 1).

Alongside the full gradient: the gate paths that carry it without a weight matrix in the way,
    LSTM:  dc_T/dc_t along the cell path = prod_{s=t+1}^{T} f_s         (elementwise)
    GRU:   dh_T/dh_t along the z path    = prod_{s=t+1}^{T} z_s          (h' = (1-z) n + z h)
At PyTorch's default initialisation f and z sit near sigmoid(0) = 1/2, so even these paths halve
the gradient every step; a forget bias b pushes f towards sigmoid(b) (0.73 for b = 1, 0.99 for
b = 4.6) and the cell path then keeps the gradient for ~1/(1 - f) steps.
"""
import numpy as np

__all__ = ["backprop_norms", "gradient_flow", "gradient_flow_experiment",
           "effective_time_constant", "FLOW_CONFIGS", "FLOW_SIZES"]

#: (label, kind, forget_bias) of the chapter's comparison.
FLOW_CONFIGS = (
    ("RNN (tanh)", "rnn", None),
    ("LSTM", "lstm", None),
    ("LSTM, forget bias 1", "lstm", 1.0),
    ("GRU", "gru", None),
)

FLOW_SIZES = {
    "quick": dict(T=30, H=16, B=4, seeds=2),
    "book": dict(T=100, H=64, B=16, seeds=5),
    "full": dict(T=200, H=64, B=64, seeds=20),
}


def backprop_norms(kind, p, xs, w=None, h0=None, c0=None):
    """Backpropagate L = sum_b w . h_T[b] through the reference's steps; record gradient norms.

    kind: "rnn", "lstm" or "gru"; p: Params; xs: (T, B, D); w: (H,) readout direction (a random
    unit vector by default); h0, c0: (B, H) (zeros by default).
    Returns a dict of arrays (T + 1, B), index t = 0..T (t = T is the last state):
        "dh": ||dL/dh_t|| per example; for the LSTM also "dc": ||dL/dc_t||,
        "path": the gate path, prod_{s>t} f_s (LSTM) or prod_{s>t} z_s (GRU), averaged over units;
    and "gates": the forward's gate activations {name: (T, B, H)} (empty for the RNN).
    """
    import grnn_ref as R

    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 3:
        raise ValueError(f"backprop_norms: xs has shape {xs.shape}, expected (T, B, D)")
    T, B, _ = xs.shape
    H = p.hidden_size
    h = np.zeros((B, H)) if h0 is None else np.asarray(h0, dtype=np.float64)
    c = np.zeros((B, H)) if c0 is None else np.asarray(c0, dtype=np.float64)
    if w is None:
        w = np.random.default_rng(0).standard_normal(H)
        w /= np.linalg.norm(w)
    caches = []
    for t in range(T):
        if kind == "rnn":
            h, cache = R.rnn_step_forward(xs[t], h, p)
        elif kind == "gru":
            h, cache = R.gru_step_forward(xs[t], h, p)
        elif kind == "lstm":
            h, c, cache = R.lstm_step_forward(xs[t], h, c, p)
        else:
            raise ValueError(f"backprop_norms: kind must be 'rnn', 'lstm' or 'gru', got {kind!r}")
        caches.append(cache)
    dh = np.broadcast_to(np.asarray(w, dtype=np.float64), (B, H)).copy()
    dc = np.zeros((B, H))
    out = {"dh": np.empty((T + 1, B))}
    out["dh"][T] = np.linalg.norm(dh, axis=1)
    if kind == "lstm":
        out["dc"] = np.empty((T + 1, B))
        out["dc"][T] = 0.0
    for t in range(T - 1, -1, -1):
        if kind == "rnn":
            _, dh, _ = R.rnn_step_backward(dh, caches[t])
        elif kind == "gru":
            _, dh, _ = R.gru_step_backward(dh, caches[t])
        else:
            _, dh, dc, _ = R.lstm_step_backward(dh, dc, caches[t])
            out["dc"][t] = np.linalg.norm(dc, axis=1)
        out["dh"][t] = np.linalg.norm(dh, axis=1)
    gates = {}
    if kind == "lstm":
        gates = _stack_gates([R.lstm.lstm_gates(cc) for cc in caches])
        path_gate = gates["f"]
    elif kind == "gru":
        gates = _stack_gates([R.gru.gru_gates(cc) for cc in caches])
        path_gate = gates["z"]
    if kind != "rnn":
        from grnn_ref.experiments.jacobians import cell_path_products
        out["path"] = cell_path_products(path_gate).mean(axis=-1)
    out["gates"] = gates
    return out


def _stack_gates(step_dicts):
    return {k: np.stack([d[k] for d in step_dicts]) for k in step_dicts[0]}


def gradient_flow(kind, *, T=100, H=64, B=16, seeds=5, forget_bias=None, D=2):
    """||dL/dh_t|| / ||dL/dh_T|| against t over several random initialisations.

    For each seed s in range(seeds): p = init_params(kind, D, H, seed=s, forget_bias=...), and B
    adding-problem sequences of length T (seed s). Per seed the ratio is averaged over examples
    in log space (a geometric mean, since the norms span many decades).
    Returns a dict:
        "t": (T + 1,) steps; "lag": T - t.
        "ratio": (seeds, T + 1) ||dL/dh_t|| / ||dL/dh_T|| per seed;
        "path": (seeds, T + 1) mean gate-path product (LSTM f, GRU z), None for the RNN;
        "gate_mean": mean of f (LSTM) or z (GRU) over the run, None for the RNN.
    """
    from grnn_ref import init_params
    from grnn_ref.tasks import adding_problem

    ratios, paths, gate_means = [], [], []
    for s in range(seeds):
        p = init_params(kind, D, H, seed=s, forget_bias=forget_bias) if kind == "lstm" \
            else init_params(kind, D, H, seed=s)
        xs, _ = adding_problem(B, T, seed=10_000 + s, dtype=np.float64)
        r = backprop_norms(kind, p, xs)
        with np.errstate(divide="ignore"):
            ratios.append(np.exp(np.mean(np.log(r["dh"] / r["dh"][-1]), axis=1)))
        if kind != "rnn":
            paths.append(r["path"].mean(axis=1))
            gate_means.append(float(np.mean(r["gates"]["f" if kind == "lstm" else "z"])))
    t = np.arange(T + 1)
    return {"t": t, "lag": T - t, "ratio": np.array(ratios),
            "path": np.array(paths) if paths else None,
            "gate_mean": float(np.mean(gate_means)) if gate_means else None}


def _geo_stats(a):
    logs = np.log(np.maximum(a, 1e-300))
    return float(np.exp(logs.mean())), float(a.min()), float(a.max())


def gradient_flow_experiment(size="book", configs=FLOW_CONFIGS, lags=(10, 50, 100)):
    """The chapter's comparison at a given size ("quick", "book", "full"; see FLOW_SIZES).

    Returns {"rows": [...], "curves": {label: gradient_flow(...) result}, "config": sizes}; a row
    has the label, the mean gate (f or z), and for each lag k <= T the geometric mean over seeds
    of ||dL/dh_{T-k}|| / ||dL/dh_T|| with its min and max, and the gate-path product.
    """
    cfg = dict(FLOW_SIZES[size])
    curves, rows = {}, []
    for label, kind, fb in configs:
        res = gradient_flow(kind, T=cfg["T"], H=cfg["H"], B=cfg["B"], seeds=cfg["seeds"],
                            forget_bias=fb)
        curves[label] = res
        row = {"cell": label, "mean gate (f or z)": res["gate_mean"]}
        T = cfg["T"]
        for k in lags:
            if k > T:
                continue
            g, lo, hi = _geo_stats(res["ratio"][:, T - k])
            row[f"grad ratio lag {k}"] = g
            row[f"lag {k} min"] = lo
            row[f"lag {k} max"] = hi
            row[f"gate path lag {k}"] = (float(res["path"][:, T - k].mean())
                                         if res["path"] is not None else None)
        rows.append(row)
    return {"rows": rows, "curves": curves, "config": cfg}


def effective_time_constant(f):
    """1 / (1 - f): the number of steps over which a gate value f keeps a fraction 1/e of a
    quantity (f^k = exp(k log f) ~ exp(-k (1 - f)) for f near 1). Works elementwise on arrays;
    f = 1 gives inf."""
    f = np.asarray(f, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 1.0 / (1.0 - f)

