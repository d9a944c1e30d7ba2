"""Inside the gates (chapter 7): what the gates of trained LSTM and GRU models do on the adding
problem, their effective time constants, and gate ablations in the spirit of Greff et al. (2017).

The models are trained with `training.train` (torch.nn cells); their recurrent weights are then
read into the numpy reference (`TrainResult.params()` -> `grnn_ref.Params`) and the gates are
recorded by `grnn_ref.lstm_forward` / `gru_forward` (`grnn_ref.lstm.lstm_gates`,
`grnn_ref.gru.gru_gates`): the same code the book derives.

How a gate holds a value:
    LSTM  c_t = f_t * c_{t-1} + i_t * g_t: f near 1 and i near 0 keep c; i opens to write.
    GRU   h_t = (1 - z_t) * n_t + z_t * h_{t-1} (PyTorch's convention): z near 1 keeps h;
          z drops towards 0 to write the candidate n_t.
A gate held at a value a keeps a fraction a^k of what it holds after k steps, ~exp(-k (1 - a)),
so 1/(1 - a) is the unit's effective time constant in steps.

Ablations: "post hoc" forces a gate to a constant in the trained model (what the trained network
relies on); "retrained" trains the variant from scratch with the gate fixed, as Greff et al.
(2017) did (NFG: no forget gate, f = 1; NOG: no output gate, o = 1), using `grnn_ref.modules`
with `fixed_gates`.
"""
import numpy as np

__all__ = ["gate_trace", "memory_units", "marker_gate_stats", "time_constants",
           "ablate_post_hoc", "gates_experiment", "GATES_SIZES", "HOLD_GATE"]

#: The gate whose value near 1 holds the memory: LSTM forget gate, GRU update gate.
HOLD_GATE = {"lstm": "f", "gru": "z"}

# Learning rates as in long_lag.ADDING_RUNS["book"]: they solve T = 50 within 800 steps.
GATES_SIZES = {
    "quick": dict(T=20, steps=150, hidden=16, batch=32, retrain=False,
                  lstm=dict(forget_bias=1.0, lr=1e-2), gru=dict(lr=3e-3)),
    "book": dict(T=50, steps=800, hidden=64, batch=64, retrain=False,
                 lstm=dict(forget_bias=1.0, lr=1e-2), gru=dict(lr=3e-3)),
    "full": dict(T=100, steps=3000, hidden=64, batch=64, retrain=True,
                 lstm=dict(forget_bias=1.0, lr=3e-3), gru=dict(lr=1e-3)),
}


def gate_trace(model, xs):
    """Run the trained cell (numpy reference) on xs and return its gates and states.

    model: a training.TrainResult, or a grnn_ref.Params (LSTM or GRU).
    xs: (T, B, D) inputs (e.g. an adding-problem batch).
    Returns {"kind", "gates": {name: (T, B, H)}, "hs": (T, B, H), and "cs": (T, B, H) for the LSTM}.
    """
    import grnn_ref as R
    from grnn_ref.params import Params

    p = model if isinstance(model, Params) else model.params()
    kind = p.kind
    xs = np.asarray(xs, dtype=p.dtype)
    B, H = xs.shape[1], p.hidden_size
    h0 = np.zeros((B, H), dtype=p.dtype)
    if kind == "lstm":
        hs, cs, cache = R.lstm_forward(xs, h0, h0.copy(), p)
        return {"kind": kind, "gates": R.lstm.lstm_gates(cache), "hs": hs, "cs": cs}
    if kind == "gru":
        hs, cache = R.gru_forward(xs, h0, p)
        return {"kind": kind, "gates": R.gru.gru_gates(cache), "hs": hs}
    raise ValueError(f"gate_trace: expected an LSTM or GRU, got a {kind}")


def memory_units(trace, n=4):
    """Indices of the n units with the largest mean hold gate (f or z): the ones that keep values."""
    hold = trace["gates"][HOLD_GATE[trace["kind"]]]
    return np.argsort(hold.mean(axis=(0, 1)))[::-1][:n]


def marker_gate_stats(trace, xs, n_memory=4):
    """Mean gate activations at the marked steps of the adding problem and at the other steps.

    trace: from gate_trace; xs: (T, B, 2) with markers in channel 1 (== 1 at the marked steps).
    Returns {gate: {"marked": mean over marked steps, "unmarked": mean elsewhere,
    "unmarked_after_first_mark": mean over steps after the first mark (the holding period)}},
    averaged over the batch and over the n_memory `memory_units` (largest mean hold gate).
    """
    marks = np.asarray(xs)[:, :, 1] == 1.0                  # (T, B)
    first = np.argmax(marks, axis=0)                         # (B,)
    after = np.arange(marks.shape[0])[:, None] > first[None, :]
    units = memory_units(trace, n_memory)
    out = {}
    for name, g in trace["gates"].items():
        if name in ("g", "n"):
            continue
        gm = g[:, :, units].mean(axis=-1)                    # (T, B)
        out[name] = {"marked": float(gm[marks].mean()),
                     "unmarked": float(gm[~marks].mean()),
                     "unmarked_after_first_mark": float(gm[after & ~marks].mean())}
    out["memory_units"] = units
    return out


def time_constants(trace):
    """Per-unit effective time constant 1/(1 - mean hold gate), in steps: (H,) array.

    The mean is over time and batch of the forget gate (LSTM) or update gate (GRU)."""
    from grnn_ref.experiments.gradient_flow import effective_time_constant
    g = trace["gates"][HOLD_GATE[trace["kind"]]]
    return effective_time_constant(g.mean(axis=(0, 1)))


def ablate_post_hoc(result, fixed, inputs=None, targets=None):
    """Test loss of a trained model with gates forced to constants (grnn_ref.modules' fixed_gates).

    result: training.TrainResult of an LSTM or GRU; fixed: e.g. {"f": 1.0}; inputs/targets:
    a test batch (default: the training harness's test set for the same task and T).
    Returns the test loss (MSE for the adding problem)."""
    import torch
    from grnn_ref import modules
    from grnn_ref.experiments import training

    if inputs is None:
        inputs, targets = training.make_batch(result.task, result.config["n_test"], result.T,
                                              np.random.default_rng(training.TEST_SEED))
    model = training.SequenceModel(result.cell, result.task, result.config["hidden"],
                                   fixed_gates=dict(fixed))
    model.load_state_dict(result.state_dict)
    with torch.no_grad():
        return training.evaluate(model, inputs, targets)[0]


def gates_experiment(size="book", *, seed=0, progress=None, trained=None):
    """Train an LSTM (forget bias 1) and a GRU on the adding problem, look inside their gates,
    and ablate the LSTM's forget and output gates.

    size: "quick", "book" or "full" (GATES_SIZES); trained: optional {"lstm": TrainResult,
    "gru": TrainResult} to reuse trained models (their T is used).
    Returns {"rows": table rows, "ablation_rows": rows, "traces": {cell: trace},
    "xs": the inspected batch (T, 8, 2), "taus": {cell: (H,)}, "results": {...TrainResult}}.
    """
    from grnn_ref.experiments.training import train
    from grnn_ref.tasks import adding_problem

    cfg = dict(GATES_SIZES[size])
    retrain = cfg.pop("retrain")
    cell_kw = {"lstm": cfg.pop("lstm"), "gru": cfg.pop("gru")}
    common = dict(steps=cfg["steps"], hidden=cfg["hidden"], batch=cfg["batch"], seed=seed,
                  progress=progress)
    results = dict(trained or {})
    if "lstm" not in results:
        results["lstm"] = train("lstm", "adding", cfg["T"], **cell_kw["lstm"], **common)
    if "gru" not in results:
        results["gru"] = train("gru", "adding", cfg["T"], **cell_kw["gru"], **common)
    T = results["lstm"].T
    xs, _ = adding_problem(8, T, seed=12345, dtype=np.float64)
    traces, taus, rows = {}, {}, []
    for cell, r in results.items():
        tr = gate_trace(r, xs)
        traces[cell] = tr
        taus[cell] = time_constants(tr)
        stats = marker_gate_stats(tr, xs)
        hold = HOLD_GATE[cell]
        write = "i" if cell == "lstm" else "z"
        mem_tau = taus[cell][stats["memory_units"]]
        rows.append({
            "cell": cell.upper() + (" (forget bias 1)" if cell == "lstm" else ""),
            "test MSE": r.test_loss,
            "hold gate": hold,
            "hold gate, 4 memory units, after 1st mark": stats[hold]["unmarked_after_first_mark"],
            "hold gate, 4 memory units, at marks": stats[hold]["marked"],
            "write gate": f"{write} (open = {'high' if cell == 'lstm' else 'low'})",
            "write gate at marks": stats[write]["marked"],
            "write gate elsewhere": stats[write]["unmarked"],
            "time constants of the 4 memory units (steps)": ", ".join(
                f"{t:.0f}" for t in mem_tau),
            "median time constant, all units (steps)": float(np.median(taus[cell])),
        })
    ablation_rows = [{"model": "LSTM (forget bias 1)", "ablation": "none",
                      "how": "trained", "test MSE": results["lstm"].test_loss}]
    for fixed, name in (({"f": 1.0}, "f = 1 (no forget gate, NFG)"),
                        ({"o": 1.0}, "o = 1 (no output gate, NOG)")):
        ablation_rows.append({"model": "LSTM (forget bias 1)", "ablation": name,
                              "how": "post hoc (trained model, gate forced)",
                              "test MSE": ablate_post_hoc(results["lstm"], fixed)})
        if retrain:
            # same recipe as the full LSTM (forget bias 1 is moot when f itself is pinned)
            rr = train("lstm", "adding", T, fixed_gates=fixed, **cell_kw["lstm"], **common)
            results["lstm " + name] = rr
            ablation_rows.append({"model": "LSTM (forget bias 1)", "ablation": name,
                                  "how": "retrained with the gate fixed (Greff et al. 2017)",
                                  "test MSE": rr.test_loss})
    for r in ablation_rows:
        r["baseline"] = results["lstm"].baseline
    return {"rows": rows, "ablation_rows": ablation_rows, "traces": traces, "xs": xs,
            "taus": taus, "results": results,
            "config": dict(cfg, T=T, retrain=retrain, **{f"{k} kwargs": v
                                                           for k, v in cell_kw.items()})}
