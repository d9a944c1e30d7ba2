"""The named experiments behind `grnn_ref.experiments.run(name, size)` and the command line.

Each entry builds its table rows and its figures at one of three sizes:
    "quick"  seconds; a smoke test of the code path (numbers not meaningful)
    "book"   what a chapter executes at build time: < 90 s per chapter on 2 cores
    "full"   the full-size run quoted in the results table (minutes)
"""
import time
from dataclasses import dataclass, field

SIZES = ("quick", "book", "full")


@dataclass
class ExperimentResult:
    """What `run` returns.

    name, size: the experiment and preset. rows: the main table (list of dicts).
    tables: every table by name ({"table": rows, ...}); figures: {name: matplotlib Figure}.
    data: the raw results (TrainResults, curves, arrays) for further plotting.
    notes: markdown written under the table (sources, definitions). wall_time: seconds.
    """
    name: str
    size: str
    rows: list
    tables: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    notes: str = ""
    config: dict = field(default_factory=dict)
    wall_time: float = 0.0

    def table(self, name="table"):
        """The named table as GitHub markdown."""
        from grnn_ref.experiments.report import format_table
        return format_table(self.tables.get(name, self.rows))

    def save(self, out_dir):
        """Write every table (.md/.csv/.json) and figure (.svg/.png) into out_dir; returns paths."""
        from grnn_ref.experiments.report import save_figure, save_table
        paths = []
        for tname, rows in (self.tables or {"table": self.rows}).items():
            paths += save_table(rows, out_dir, tname,
                                meta={"experiment": self.name, "size": self.size,
                                      "config": self.config,
                                      "wall_time_s": round(self.wall_time, 1)},
                                notes=self.notes if tname == "table" else None)
        for fname, fig in self.figures.items():
            paths += save_figure(fig, out_dir, fname)
        return paths


def _bound(size, seed, progress, **kw):
    from grnn_ref.experiments import jacobians as J
    from grnn_ref.experiments.report import plot_bound, plot_bound_slopes
    cfg = dict(J.BOUND_SIZES[size])
    cfg.update(kw)
    rows = J.bound_experiment(seed=seed, **cfg)
    general = J.general_matrix_experiment(H=cfg["H"], T=max(cfg["T"], 60), D=8, seed=seed)
    table = [{k: v for k, v in r.items() if k not in ("norms", "bound")} for r in rows + general]
    notes = ("Slopes are per step, in nats: a product that behaves like rho^k has slope log rho. "
             "predicted_slope = log(gamma * sigma_max(W_hh)) with gamma = 1 (tanh) and sigma_max "
             "the spectral norm (Pascanu, Mikolov & Bengio 2013). Orthogonal rows: W_hh = sigma Q; "
             "gaussian rows: W_hh = sigma N(0, 1/H), whose spectral radius is ~sigma and sigma_max "
             "~2 sigma (slope fitted over the second half of the lags).")
    return dict(rows=table, figures={"bound": plot_bound(rows), "slopes": plot_bound_slopes(
        rows + general)}, data={"rows": rows, "general": general}, notes=notes, config=cfg)


def _gradient_flow(size, seed, progress, **kw):
    from grnn_ref.experiments.gradient_flow import gradient_flow_experiment
    from grnn_ref.experiments.report import plot_gradient_flow
    res = gradient_flow_experiment(size, **kw)
    notes = ("grad ratio lag k: ||dL/dh_{T-k}|| / ||dL/dh_T|| for L = w . h_T, geometric mean "
             "over seeds (PyTorch's default initialisation, adding-problem inputs), with min and "
             "max over seeds; gate path: mean over units of prod f (LSTM) or prod z (GRU) over "
             "the same k steps. Forget bias 1: Jozefowicz, Zaremba & Sutskever (2015).")
    return dict(rows=res["rows"], figures={"gradient_flow": plot_gradient_flow(res["curves"])},
                data=res, notes=notes, config=res["config"])


def _papers_notes(papers):
    return "Reported outcomes:\n\n" + "\n".join(
        f"- {p['source']}: {p['reported']}." for p in papers)


def _long_lag_task(task, size, seed, progress, **kw):
    from grnn_ref.experiments import long_lag
    from grnn_ref.experiments.report import plot_learning_curves
    experiment, title, ylabel = {
        "adding": (long_lag.adding_experiment, "Adding problem", "test MSE"),
        "copy": (long_lag.copy_experiment, "Copy task", "test cross-entropy (nats per step)"),
    }[task]
    res = experiment(size, seed=seed, progress=progress, **kw)
    fig = plot_learning_curves(res["results"], res["baseline"],
                               title=f"{title}, T = {res['rows'][0]['T']}", ylabel=ylabel)
    return dict(rows=res["rows"], tables={"table": res["rows"], "papers": res["papers"]},
                figures={task: fig}, data=res, notes=_papers_notes(res["papers"]),
                config={"size": size, "seed": seed, **kw})


def _adding(size, seed, progress, **kw):
    return _long_lag_task("adding", size, seed, progress, **kw)


def _copy(size, seed, progress, **kw):
    return _long_lag_task("copy", size, seed, progress, **kw)


def _lstm_t100(size, seed, progress, **kw):
    from grnn_ref.experiments.long_lag import lstm_t100_experiment
    from grnn_ref.experiments.report import plot_learning_curves
    res = lstm_t100_experiment(size, seed=seed, progress=progress, **kw)
    fig = plot_learning_curves(res["results"], res["baseline"],
                               title="LSTM on the adding problem, T = 100", ylabel="test MSE")
    return dict(rows=res["rows"], figures={"lstm_t100": fig}, data=res,
                config={"size": size, "seed": seed})


def _clipping(size, seed, progress, **kw):
    from grnn_ref.experiments.exploding import exploding_experiment
    from grnn_ref.experiments.report import plot_clipping
    threshold = kw.pop("threshold", 1.0)
    res = exploding_experiment(size, seed=seed, progress=progress, threshold=threshold, **kw)
    notes = ("Clipping: Pascanu, Mikolov & Bengio (2013), Algorithm 1: if ||g|| >= threshold, "
             "g <- threshold / ||g|| * g (`grnn_ref.experiments.clipping.clip_grad_norm_`).")
    return dict(rows=res["rows"], figures={"clipping": plot_clipping(res["results"], threshold)},
                data=res, notes=notes, config=res["config"])


def _gates(size, seed, progress, **kw):
    from grnn_ref.experiments.gates import gates_experiment, memory_units
    from grnn_ref.experiments.report import plot_gate_trace, plot_time_constants
    res = gates_experiment(size, seed=seed, progress=progress, **kw)
    figs = {
        "lstm_forget_gate": plot_gate_trace(res["traces"]["lstm"]["gates"], res["xs"], gate="f",
                                            title="Trained LSTM: forget gate of the memory units"),
        "lstm_input_gate": plot_gate_trace(res["traces"]["lstm"]["gates"], res["xs"], gate="i",
                                           title="Trained LSTM: input gate of the same units",
                                           units=memory_units(res["traces"]["lstm"])),
        "gru_update_gate": plot_gate_trace(res["traces"]["gru"]["gates"], res["xs"], gate="z",
                                           title="Trained GRU: update gate of the memory units"),
        "time_constants": plot_time_constants({"LSTM 1/(1-f)": res["taus"]["lstm"],
                                               "GRU 1/(1-z)": res["taus"]["gru"]}),
    }
    notes = ("Hold gate: f (LSTM, c_t = f c_{t-1} + i g) or z (GRU, h_t = (1-z) n + z h_{t-1}); "
             "memory units: the 4 units with the largest mean hold gate (those plotted). Time constant "
             "1/(1 - mean gate), in steps. Ablation in the spirit of Greff et al. (2017), who "
             "found the forget gate and the output activation the most critical LSTM parts.")
    return dict(rows=res["rows"], tables={"table": res["rows"], "ablation": res["ablation_rows"]},
                figures=figs, data=res, notes=notes, config=res["config"])


def _charlm(size, seed, progress, out=None, **kw):
    from grnn_ref.experiments import charlm
    from grnn_ref.experiments.report import plot_charlm_curves
    res = charlm.charlm_experiment(size, seed=seed, progress=progress, out=out, **kw)
    figs = {"charlm_curves": plot_charlm_curves(res["curves"], res["baselines"])}
    return dict(rows=res["rows"], tables={"table": res["rows"], "anchors": res["anchors"],
                                          "samples": res["sample_rows"]},
                figures=figs, data=res, notes=charlm.NOTES, config=res["config"])


def _revival(size, seed, progress, out=None, **kw):
    from grnn_ref.experiments import revival
    res = revival.revival_experiment(size, seed=seed, progress=progress, **kw)
    if out is not None:
        revival.save_committed(res, out)
    return dict(rows=revival.timing_table(res),
                tables={"timing": revival.timing_table(res), "tasks": revival.task_table(res),
                        "future": revival.future_table(res)},
                figures={}, data=res, config=res["config"])


def _revival_charlm(size, seed, progress, out=None, **kw):
    from grnn_ref.experiments import revival
    say = None if progress is False else (lambda msg: print(msg, flush=True))
    res = revival.charlm_comparison(size, seed=seed, say=say, **kw)
    if out is not None:
        revival.save_charlm(res, out)
    table = revival.charlm_table(res)
    return dict(rows=table, tables={"table": table}, figures={}, data=res,
                config=res["config"])


#: name -> (function, one-line description)
EXPERIMENTS = {
    "bound": (_bound, "Jacobian products of the tanh RNN vs Pascanu's bound (sigma_max)^k"),
    "gradient_flow": (_gradient_flow, "||dL/dh_t|| against t in RNN, LSTM, GRU; cell/update paths"),
    "adding": (_adding, "adding problem: RNN vs LSTM (forget bias 1) vs GRU, baseline 1/6"),
    "copy": (_copy, "copy-memory task: RNN vs LSTM vs GRU, baseline 10 log 8/(T+20)"),
    "lstm_t100": (_lstm_t100, "what the LSTM needs at T = 100 on the adding problem"),
    "clipping": (_clipping, "exploding gradients: training with and without norm clipping"),
    "gates": (_gates, "inside the gates of trained LSTM/GRU models; time constants; ablations"),
    "charlm": (_charlm, "character-level language model on tiny Shakespeare: RNN/LSTM/GRU, "
                        "3-minute and long LSTM runs, checkpoint"),
    "revival": (_revival, "minGRU/minLSTM (scan vs loop) vs GRU/LSTM: time per step at T = 64.."
                          "4096, adding and copy at T = 100; bidirectional GRU"),
    "revival_charlm": (_revival_charlm, "minGRU/minLSTM vs GRU/LSTM on chapter 8's character "
                                        "model at equal parameter count (short runs)"),
}

#: experiments that write files of their own (a checkpoint) into `out` while they run
_TAKES_OUT = {"charlm", "revival", "revival_charlm"}


def run(name, size="book", *, seed=0, progress=None, out=None, **overrides):
    """Run experiment `name` at `size` ("quick", "book", "full") and return an ExperimentResult.

    out: if given, save tables and figures into that directory. overrides: passed to the
    experiment (e.g. cells=("rnn",) or T=50 for "adding"/"copy").
    """
    if name not in EXPERIMENTS:
        raise ValueError(f"run: unknown experiment {name!r}; expected one of {tuple(EXPERIMENTS)}")
    if size not in SIZES:
        raise ValueError(f"run: size must be one of {SIZES}, got {size!r}")
    t0 = time.perf_counter()
    if name in _TAKES_OUT:
        overrides["out"] = out
    parts = EXPERIMENTS[name][0](size, seed, progress, **overrides)
    rows = parts.pop("rows")
    tables = parts.pop("tables", None) or {"table": rows}
    result = ExperimentResult(name=name, size=size, rows=rows, tables=tables, **parts)
    result.wall_time = time.perf_counter() - t0
    if out is not None:
        result.save(out)
    return result
