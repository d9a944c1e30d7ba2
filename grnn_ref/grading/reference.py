"""Reference maths of the exercise-specific checks (grader side), besides grnn_ref's cells.

The cells' contract needs nothing here: `CellCheck.reference` calls grnn_ref.rnn / lstm / gru
directly. What is here: Exercise 3's Jacobian, Jacobian-product norms, bound and clipping, and the
expected answers of Exercises 3 and 7. Each check's `reference` method imports what it needs from
this module when the grader calls it.
"""
import numpy as np

# ---------------------------------------------------------------- ex03
def rnn_jacobian(h_next, W_hh):
    """d h_next / d h_prev for each row: diag(1 - h_next[b]**2) @ W_hh. (B, H, H)."""
    return (1 - h_next ** 2)[:, :, None] * W_hh[None, :, :]


def jacobian_norms(hs, W_hh):
    """Spectral norms of d hs[t] / d h0 = J_t ... J_0, for every t and row. (T, B)."""
    T, B, H = hs.shape
    P = np.broadcast_to(np.eye(H), (B, H, H))
    norms = np.empty((T, B))
    for t in range(T):
        P = rnn_jacobian(hs[t], W_hh) @ P
        norms[t] = np.linalg.norm(P, ord=2, axis=(1, 2))
    return norms


def gradient_bound(W_hh, T):
    """Pascanu et al. (2013): ||d h_t / d h_0|| <= (gamma * sigma_max(W_hh)) ** (t + 1), gamma = 1
    for tanh, for t = 0..T-1. (T,). The experiments' bound, in the exercise's signature."""
    from grnn_ref.experiments.jacobians import pascanu_bound
    return pascanu_bound(W_hh, np.arange(1, T + 1))


def clip_by_global_norm(grads, max_norm):
    total = np.sqrt(sum(np.sum(np.asarray(g, dtype=np.float64) ** 2) for g in grads))
    scale = min(1.0, max_norm / total) if total > 0 else 1.0
    return [g * scale for g in grads]


def _ex03_reference(spec, inputs):
    if spec.family == "jacobian":
        return {"J": rnn_jacobian(inputs["h_next"], inputs["W_hh"])}
    if spec.family == "jacobian_norms":
        return {"norms": jacobian_norms(inputs["hs"], inputs["W_hh"])}
    if spec.family == "bound":
        return {"bound": gradient_bound(inputs["W_hh"], int(inputs["T"]))}
    grads = [inputs[n] for n in GRAD_NAMES]
    return dict(zip(GRAD_NAMES, clip_by_global_norm(grads, float(inputs["max_norm"]))))


def ex03_decay_rate():
    """The decay rate Exercise 3 asks for: exp(slope) of a least-squares line through the
    batch-mean log Jacobian norms for t = 10 .. T-1, on cases.ex03_experiment()."""
    from grnn_ref.grading.exercises.ex03 import ex03_experiment
    from grnn_ref.rnn import rnn_forward

    p, xs, h0 = ex03_experiment()
    hs, _ = rnn_forward(xs, h0, p)
    logs = np.log(jacobian_norms(hs, p.W_hh)).mean(axis=1)
    t = np.arange(len(logs))
    return float(np.exp(np.polyfit(t[10:], logs[10:], 1)[0]))


# ---------------------------------------------------------------- ex07
EX07_WEIGHTS = "ex07_trained_lstm.npz"
EX07_EVAL = dict(n=500, T=10, seed=7)


def ex07_weights():
    """The trained LSTM of Exercise 7 (the instructor's copy in solutions/, never the student's)."""
    from pathlib import Path

    from grnn_ref.params import Params

    here = Path(__file__).resolve().parents[2] / "solutions" / "ex07_gates" / EX07_WEIGHTS
    for path in (here, Path.cwd() / "solutions" / "ex07_gates" / EX07_WEIGHTS):
        if path.exists():
            d = np.load(path)
            return Params(d["W_ih"], d["W_hh"], d["b_ih"], d["b_hh"])
    raise FileNotFoundError(f"{EX07_WEIGHTS} not found in solutions/ex07_gates")


def ex07_analysis():
    """The three numbers Exercise 7 asks for, by the notebook's procedure."""
    from grnn_ref.grading.cases import get_check
    from grnn_ref.tasks import adding_problem

    p = ex07_weights()
    xs, ys = adding_problem(**EX07_EVAL)
    xs = xs.astype(np.float64)
    B, H = xs.shape[1], p.W_hh.shape[1]
    tr = get_check("lstm_gate_trace").reference(
        {"xs": xs, "h0": np.zeros((B, H)), "c0": np.zeros((B, H)), **p._asdict()})
    corr = [abs(np.corrcoef(tr["cs"][-1][:, u], ys[:, 0])[0, 1]) for u in range(H)]
    unit = int(np.argmax(corr))
    marked = xs[:, :, 1] == 1
    return {"ex07_memory_unit": unit, "ex07_memory_correlation": float(corr[unit]),
            "ex07_input_gate_at_marker": float(tr["i"][:, :, unit][marked].mean()),
            "ex07_time_constant": float(1 / (1 - tr["f"][:, :, unit].mean()))}
