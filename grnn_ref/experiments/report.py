"""Tables and figures of the experiments: markdown/CSV/JSON writers and matplotlib plots.

Every plot function returns a `matplotlib.figure.Figure` (it never calls plt.show()), with labelled
axes and units, a log scale where the quantity decays or grows exponentially, and a legend.
"""
import csv
import io
import json
import math
import os

import numpy as np

__all__ = [
    "format_table", "ResultTable", "use_book_style", "save_table", "save_figure", "plot_bound", "plot_bound_slopes",
    "plot_gradient_flow", "plot_learning_curves", "plot_clipping", "plot_gate_trace",
    "plot_time_constants", "plot_charlm_curves",
]


#: Okabe & Ito's palette, "Color universal design" (2008): told apart under the common colour
#: vision deficiencies. Their yellow is left out (faint on white), and black (the axes' colour).
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
#: With each colour of the cycle its own line style and marker: no two series are told apart by
#: hue alone (issue 12 found LSTM and GRU told apart by an orange/green pair only).
CYCLE_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1)))
SERIES_MARKERS = ("o", "s", "^", "D", "v", "P")


def use_book_style():
    """Set matplotlib's defaults for the book's figures: the colour-blind-safe cycle, each colour
    with its own line style, and type that stays readable once a figure is scaled to the page's
    width (the chapters call this in their setup cell)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({
        "axes.prop_cycle": cycler(color=OKABE_ITO) + cycler(linestyle=CYCLE_LINESTYLES),
        "font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11, "legend.fontsize": 9.5,
        "xtick.labelsize": 10, "ytick.labelsize": 10, "lines.linewidth": 2,
    })


def _series(i, every=None):
    """Colour, line style and marker of the i-th series (see use_book_style)."""
    return dict(color=OKABE_ITO[i % len(OKABE_ITO)], ls=CYCLE_LINESTYLES[i % len(CYCLE_LINESTYLES)],
                marker=SERIES_MARKERS[i % len(SERIES_MARKERS)], markevery=every)


def _fmt(v):
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.4g}"
    return str(v).replace("|", "\\|")          # a bare | would end the markdown cell


def _columns(rows):
    cols = []
    for r in rows:
        for k, v in r.items():
            if k not in cols and not isinstance(v, (np.ndarray, list, dict)):
                cols.append(k)
    return cols


def format_table(rows, columns=None):
    """A GitHub-flavoured markdown table of a list of row dicts (array-valued fields skipped)."""
    cols = columns or _columns(rows)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(lines)


class ResultTable:
    """Result rows to *display* as a table: in a notebook and on the website it renders as a table
    (its text/markdown representation, which the book parses as MyST); printed, it is the same
    Markdown pipe text as `format_table`. Printing `format_table(rows)` in a chapter showed readers
    monospace pipe text, cut off on narrow screens (issue 12).

    rows: list of dicts (array-valued fields skipped); columns: their order (default: first seen).
    """

    def __init__(self, rows, columns=None):
        self.rows = list(rows)
        self.columns = list(columns) if columns else _columns(self.rows)

    def __str__(self):
        return format_table(self.rows, self.columns)

    __repr__ = __str__

    def _repr_markdown_(self):
        return str(self)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


def save_table(rows, out_dir, name="table", meta=None, notes=None):
    """Write rows as name.md (with optional notes), name.csv and name.json into out_dir.
    Returns the list of paths written."""
    os.makedirs(out_dir, exist_ok=True)
    cols = _columns(rows)
    paths = []
    md = format_table(rows, cols)
    if notes:
        md = md + "\n\n" + notes.strip() + "\n"
    p = os.path.join(out_dir, name + ".md")
    with open(p, "w") as f:
        f.write(md + "\n")
    paths.append(p)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c) for c in cols})
    p = os.path.join(out_dir, name + ".csv")
    with open(p, "w") as f:
        f.write(buf.getvalue())
    paths.append(p)
    p = os.path.join(out_dir, name + ".json")
    with open(p, "w") as f:
        json.dump(_jsonable({"rows": [{c: r.get(c) for c in cols} for r in rows],
                             "meta": meta or {}}), f, indent=1)
    paths.append(p)
    return paths


def save_figure(fig, out_dir, name):
    """Save fig as name.svg and name.png (150 dpi) into out_dir; returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ext, kw in (("svg", {}), ("png", {"dpi": 150})):
        p = os.path.join(out_dir, f"{name}.{ext}")
        fig.savefig(p, bbox_inches="tight", **kw)
        paths.append(p)
    return paths


def _figure(ncols=1, nrows=1, width=6.4, height=4.0, **kw):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def _geo_mean(norms):
    n = np.asarray(norms, dtype=np.float64)
    if n.ndim == 1:
        return n
    with np.errstate(divide="ignore"):
        return np.exp(np.log(np.maximum(n, 1e-300)).mean(axis=1))


def plot_bound(rows):
    """Measured ||dh_k/dh_0|| (solid) against the bound sigma_max^k (dashed), one panel per regime.

    rows: from jacobians.bound_experiment (they carry "norms" and "bound")."""
    regimes = list(dict.fromkeys(r["regime"] for r in rows))
    fig, axes = _figure(len(regimes), 1, width=4.6, squeeze=False)
    sigmas = sorted({r["sigma"] for r in rows})
    styles = {s: _series(i, every=0.1) for i, s in enumerate(sigmas)}
    for ax, regime in zip(axes[0], regimes):
        for r in (r for r in rows if r["regime"] == regime):
            k = np.arange(len(r["bound"]))
            style = dict(styles[r["sigma"]], ls="-")
            ax.semilogy(k, _geo_mean(r["norms"]), lw=2, ms=5, **style,
                        label=f"measured, $\\sigma_{{max}}$ = {r['sigma_max']:.3g}")
            ax.semilogy(k, r["bound"], color=style["color"], ls="--", lw=1)
        ax.set_title(f"{regime} regime (dashed: bound $\\sigma_{{max}}^k$)")
        ax.set_xlabel("lag k (steps)")
        ax.set_ylabel(r"$\|\partial h_k / \partial h_0\|_2$ (spectral norm)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    return fig


def plot_bound_slopes(rows):
    """Measured log-slope per step against the predicted log(sigma_max), per regime; y = x line."""
    fig, ax = _figure(width=5.0)
    markers = {"linear": "o", "saturated": "s"}
    for regime in dict.fromkeys(r["regime"] for r in rows):
        sub = [r for r in rows if r["regime"] == regime]
        ax.plot([r["predicted_slope"] for r in sub], [r["measured_slope"] for r in sub],
                markers.get(regime, "^"), ms=7, label=f"{regime} regime ({sub[0]['matrix']} W_hh)")
    lo = min(min(r["predicted_slope"], r["measured_slope"]) for r in rows)
    hi = max(max(r["predicted_slope"], r["measured_slope"]) for r in rows)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label=r"bound: slope = log $\sigma_{max}$")
    ax.set_xlabel(r"predicted log($\gamma\,\sigma_{max}$) per step (nats)")
    ax.set_ylabel("measured log-slope per step (nats)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def plot_gradient_flow(curves, show_path=True):
    """||dL/dh_t|| / ||dL/dh_T|| against the lag T - t (log y): geometric mean over seeds
    (line), min-max over seeds (band); dashed: the gate path prod f (LSTM) or prod z (GRU).

    curves: {label: gradient_flow(...) result}."""
    fig, ax = _figure(width=6.4)
    for i, (label, res) in enumerate(curves.items()):
        style = dict(_series(i, every=10), ls="-")
        color = style["color"]
        lag = res["lag"][::-1]
        ratio = res["ratio"][:, ::-1]
        g = np.exp(np.log(np.maximum(ratio, 1e-300)).mean(axis=0))
        ax.semilogy(lag, g, lw=2, ms=5, label=f"{label}: ||dL/dh||", **style)
        ax.fill_between(lag, ratio.min(axis=0), ratio.max(axis=0), color=color, alpha=0.2)
        if show_path and res.get("path") is not None:
            gate = "f" if "LSTM" in label else "z"
            ax.semilogy(lag, res["path"].mean(axis=0)[::-1], color=color, ls="--", lw=1,
                        marker=style["marker"], markevery=10, fillstyle="none", ms=5,
                        label=f"{label}: gate path prod {gate}")
    ax.set_xlabel("lag T - t (steps back from the loss)")
    ax.set_ylabel("gradient norm relative to the last step")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig


def plot_learning_curves(results, baseline=None, what="test", title=None, ylabel=None):
    """Loss against training step for several runs (log y), with the memoryless baseline.

    results: {label: TrainResult}; what: "test" (test_curve) or "train" (curve, smoothed over
    50 steps)."""
    fig, ax = _figure(width=6.4)
    for i, (label, r) in enumerate(results.items()):
        if what == "test":
            steps, loss = zip(*r.test_curve) if r.test_curve else ((), ())
        else:
            steps, loss = zip(*r.curve)
            w = min(50, len(loss))
            loss = np.convolve(loss, np.ones(w) / w, mode="valid")
            steps = steps[w - 1:]
        style = _series(i)
        if what != "test":
            style["marker"] = None
        ax.semilogy(steps, loss, lw=2, ms=4, label=label + (" (diverged)" if r.diverged else ""),
                    **style)
        if baseline is None:
            baseline = r.baseline
    if baseline is not None:
        ax.axhline(baseline, color="k", ls="--", lw=1, label=f"memoryless baseline {baseline:.3g}")
    ax.set_xlabel("training step (batches)")
    ax.set_ylabel(ylabel or ("test loss" if what == "test" else "training loss (50-step mean)"))
    if title:
        ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    return fig


def plot_clipping(results, threshold=None):
    """Two panels: training loss per step (log y) and gradient norm before clipping (log y),
    for runs with and without clipping. results: {label: TrainResult}."""
    fig, (ax1, ax2) = _figure(2, 1, width=4.6)
    for i, (label, r) in enumerate(results.items()):
        steps, loss = zip(*r.curve)
        loss = np.array(loss, dtype=np.float64)
        loss[~np.isfinite(loss)] = np.nan
        style = dict(_series(i), marker=None)
        ax1.semilogy(steps, loss, lw=1.5,
                     label=label + (f" (diverged at step {r.diverged_at})" if r.diverged else ""),
                     **style)
        ax2.semilogy(np.arange(len(r.grad_norms)), r.grad_norms, lw=1.5, label=label, **style)
    if threshold is not None:
        ax2.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:g}")
    ax1.set_xlabel("training step")
    ax1.set_ylabel("training loss (MSE)")
    ax2.set_xlabel("training step")
    ax2.set_ylabel("gradient norm ||g|| before clipping")
    for ax in (ax1, ax2):
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
    return fig


def plot_gate_trace(trace, xs, *, gate="f", units=None, example=0, title=None):
    """One adding-problem sequence: the inputs with the two markers (top) and a gate's activation
    for a few units over time (bottom).

    trace: {gate name: (T, B, H)} (e.g. gates.gate_trace(...)["gates"]); xs: (T, B, 2);
    gate: "f" (LSTM forget gate) or "z" (GRU update gate); units: indices (default: the 4 units
    with the largest mean gate over the batch)."""
    g = np.asarray(trace[gate])[:, example, :]
    if units is None:
        # the memory units: largest mean gate over the whole batch (as gates.memory_units)
        units = np.argsort(np.asarray(trace[gate]).mean(axis=(0, 1)))[::-1][:4]
    T = g.shape[0]
    t = np.arange(T)
    fig, (ax1, ax2) = _figure(1, 2, width=7.0, height=2.4, sharex=True,
                              gridspec_kw={"height_ratios": [1, 1.5]})
    ax1.plot(t, xs[:, example, 0], color="0.5", lw=1, label="value")
    marks = np.flatnonzero(xs[:, example, 1] == 1)
    ax1.plot(marks, xs[marks, example, 0], "r^", ms=8, label="marked values")
    ax1.set_ylabel("input value")
    ax1.legend(loc="upper right")
    for u in units:
        ax2.plot(t, g[:, u], lw=1.5, label=f"unit {u}")
    for m in marks:
        ax1.axvline(m, color="r", lw=0.5, alpha=0.5)
        ax2.axvline(m, color="r", lw=0.5, alpha=0.5)
    name = {"f": "forget gate f", "z": "update gate z", "i": "input gate i",
            "o": "output gate o", "r": "reset gate r"}.get(gate, gate)
    ax2.set_ylabel(f"{name} (0..1)")
    ax2.set_xlabel("time step t")
    ax2.set_ylim(-0.02, 1.02)
    ax2.legend(ncol=2)
    if title:
        ax1.set_title(title)
    return fig


def plot_time_constants(taus):
    """Histogram of effective time constants 1/(1 - gate) per unit (log x).

    taus: {label: (H,) array of per-unit time constants in steps}."""
    fig, ax = _figure(width=5.5)
    finite = np.concatenate([np.asarray(v)[np.isfinite(v)] for v in taus.values()])
    lo, hi = max(finite.min(), 1.0), max(finite.max(), 2.0)
    bins = np.logspace(np.log10(lo), np.log10(hi) + 1e-9, 25)
    for i, (label, tau) in enumerate(taus.items()):
        ax.hist(np.clip(tau, lo, hi), bins=bins, alpha=0.6, color=OKABE_ITO[i % len(OKABE_ITO)],
                hatch=("", "//", "\\\\", "..")[i % 4], edgecolor="0.25", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("effective time constant 1/(1 - gate) (steps)")
    ax.set_ylabel("number of units")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def plot_charlm_curves(curves, baselines, anchors=(("nanoGPT, 10.7M Transformer, A100", 1.4697),
                                                   ("nanoGPT CPU recipe", 1.88))):
    """Validation loss (nats/char) against characters of training text read, one line per run,
    with the unigram baseline and nanoGPT's reported losses as horizontal lines. A run that was
    evaluated on a validation subset during training has its final loss on the whole validation
    text drawn apart, as a star.

    curves: {label: record} as charlm.charlm_experiment's "curves" (val_curve, config)."""
    fig, ax = _figure(width=6.4)
    for i, (label, rec) in enumerate(curves.items()):
        if not rec["val_curve"]:
            continue
        per_step = rec["config"]["batch"] * rec["config"]["bptt"]
        steps, loss = (np.array(v, dtype=np.float64) for v in zip(*rec["val_curve"]))
        chars = steps * per_step / 1e6
        name = f"{label} ({rec['n_params'] / 1e3:.0f}k parameters)"
        if rec["config"].get("val_subset"):
            # the evaluations during training read the first val_subset characters; the last
            # point (a star) is the whole validation text: not the same curve
            ax.plot(chars[:-1], loss[:-1], color=f"C{i}", lw=2, marker="o", ms=3, label=name)
            ax.plot(chars[-1:], loss[-1:], color=f"C{i}", marker="*", ms=10, ls="none")
        else:
            ax.plot(chars, loss, color=f"C{i}", lw=2, marker="o", ms=3, label=name)
    ax.axhline(baselines["unigram"], color="k", ls="--", lw=1,
               label=f"unigram baseline {baselines['unigram']:.2f}")
    for j, (name, value) in enumerate(anchors):
        ax.axhline(value, color="0.5", ls=":" if j else "-.", lw=1, label=f"{name}: {value:.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("characters of training text read (millions, log scale)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    return fig
