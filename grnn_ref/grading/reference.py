"""The correct outputs of every check, computed with the reference (grader side).

Imports grnn_ref's numpy reference when called, never at import time of the kernel-side modules.
`reference_outputs(check, inputs)` returns name -> ndarray for the names the check records.
Exercise-specific checks register their reference with `REFERENCES[family] = fn(spec, inputs)`.
"""
import importlib

import numpy as np

from grnn_ref.grading.cases import GRAD_NAMES, PARAM_NAMES, get_spec, params_of

def _numgrad_reference(spec, inputs):
    """The analytic gradient of sum(tanh(x @ A + b) * df) with respect to x."""
    y = np.tanh(inputs["x"] @ inputs["A"] + inputs["b"])
    return {"dx": ((1 - y * y) * inputs["df"]) @ inputs["A"].T}


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
    from grnn_ref.grading.cases import ex03_experiment
    from grnn_ref.rnn import rnn_forward

    p, xs, h0 = ex03_experiment()
    hs, _ = rnn_forward(xs, h0, p)
    logs = np.log(jacobian_norms(hs, p.W_hh)).mean(axis=1)
    t = np.arange(len(logs))
    return float(np.exp(np.polyfit(t[10:], logs[10:], 1)[0]))


# ---------------------------------------------------------------- ex07
def _trace_reference(spec, inputs):
    from grnn_ref.lstm import lstm_forward, lstm_gates

    hs, cs, cache = lstm_forward(inputs["xs"], inputs["h0"], inputs["c0"], params_of(inputs))
    return {"hs": hs, "cs": cs, **lstm_gates(cache)}


EX07_WEIGHTS = "ex07_trained_lstm.npz"
EX07_EVAL = dict(n=500, T=10, seed=7)


def ex07_weights():
    """The trained LSTM of Exercise 7 (the instructor's copy in solutions/, never the student's)."""
    from pathlib import Path

    from grnn_ref.grading.cases import Params

    here = Path(__file__).resolve().parents[2] / "solutions" / "ex07_gates" / EX07_WEIGHTS
    for path in (here, Path.cwd() / "solutions" / "ex07_gates" / EX07_WEIGHTS):
        if path.exists():
            d = np.load(path)
            return Params(d["W_ih"], d["W_hh"], d["b_ih"], d["b_hh"])
    raise FileNotFoundError(f"{EX07_WEIGHTS} not found in solutions/ex07_gates")


def ex07_analysis():
    """The three numbers Exercise 7 asks for, by the notebook's procedure."""
    from grnn_ref.grading.cases import adding_problem

    p = ex07_weights()
    xs, ys = adding_problem(**EX07_EVAL)
    xs = xs.astype(np.float64)
    B, H = xs.shape[1], p.W_hh.shape[1]
    tr = _trace_reference(None, {"xs": xs, "h0": np.zeros((B, H)), "c0": np.zeros((B, H)),
                                 "W_ih": p.W_ih, "W_hh": p.W_hh, "b_ih": p.b_ih, "b_hh": p.b_hh})
    corr = [abs(np.corrcoef(tr["cs"][-1][:, u], ys[:, 0])[0, 1]) for u in range(H)]
    unit = int(np.argmax(corr))
    marked = xs[:, :, 1] == 1
    return {"ex07_memory_unit": unit,
            "ex07_input_gate_at_marker": float(tr["i"][:, :, unit][marked].mean()),
            "ex07_time_constant": float(1 / (1 - tr["f"][:, :, unit].mean()))}


# name -> (function giving the expected value, relative tolerance or 0 for an exact integer)
ANSWERS = {"ex03_decay_rate": (ex03_decay_rate, 0.01),
           "ex07_memory_unit": (lambda: ex07_analysis()["ex07_memory_unit"], 0),
           "ex07_input_gate_at_marker": (lambda: ex07_analysis()["ex07_input_gate_at_marker"], 0.02),
           "ex07_time_constant": (lambda: ex07_analysis()["ex07_time_constant"], 0.03)}


def expected_answer(name):
    """(expected value, rtol) of a numeric answer."""
    fn, rtol = ANSWERS[name]
    return fn(), rtol


REFERENCES = {"trace": _trace_reference, "torch_cell": lambda spec, inputs: reference_outputs("lstm_step_backward", inputs),
              "numgrad": _numgrad_reference, "jacobian": _ex03_reference,
              "jacobian_norms": _ex03_reference, "bound": _ex03_reference,
              "clip": _ex03_reference}


def _module(kind):
    return importlib.import_module(f"grnn_ref.{kind}")


def _grads(dp):
    return {"d" + n: a for n, a in zip(PARAM_NAMES, dp)}


def reference_outputs(check, inputs):
    """name -> ndarray of the correct outputs of one case of `check`."""
    spec = get_spec(check)
    if spec.family in REFERENCES:
        return REFERENCES[spec.family](spec, inputs)
    kind, fam = spec.kind, spec.family
    m = _module(kind)
    p = params_of(inputs)
    if fam in ("step_forward", "step_backward"):
        fwd = getattr(m, f"{kind}_step_forward")
        if kind == "lstm":
            h, c, cache = fwd(inputs["x"], inputs["h_prev"], inputs["c_prev"], p)
            out = {"h_next": h, "c_next": c}
        else:
            h, cache = fwd(inputs["x"], inputs["h_prev"], p)
            out = {"h_next": h}
        if fam == "step_backward":
            bwd = getattr(m, f"{kind}_step_backward")
            if kind == "lstm":
                dx, dh, dc, dp = bwd(inputs["dh_next"], inputs["dc_next"], cache)
                out.update(dx=dx, dh_prev=dh, dc_prev=dc)
            else:
                dx, dh, dp = bwd(inputs["dh_next"], cache)
                out.update(dx=dx, dh_prev=dh)
            out.update(_grads(dp))
        return out
    fwd = getattr(m, f"{kind}_forward")
    if kind == "lstm":
        hs, cs, cache = fwd(inputs["xs"], inputs["h0"], inputs["c0"], p)
        out = {"hs": hs, "cs": cs}
    else:
        hs, cache = fwd(inputs["xs"], inputs["h0"], p)
        out = {"hs": hs}
    if fam == "backward":
        bwd = getattr(m, f"{kind}_backward")
        if kind == "lstm":
            dxs, dh0, dc0, dp = bwd(inputs["dhs"], cache, dcs=inputs.get("dcs"))
            out.update(dxs=dxs, dh0=dh0, dc0=dc0)
        else:
            dxs, dh0, dp = bwd(inputs["dhs"], cache)
            out.update(dxs=dxs, dh0=dh0)
        out.update(_grads(dp))
    return out
