"""Chapter 9's measurements: minGRU/minLSTM against the GRU/LSTM, and bidirectional RNNs.

    python -m grnn_ref.experiments revival            # 26 min wall, 1 thread, shared 2 cores
    res = revival_experiment("quick")                 # seconds (tests)

Three parts, one run, one torch thread (as every training run of the course):

timing   time per training step (forward + backward of sum(hs)) of minGRU by doubling scan,
         minGRU by the sequential loop, torch.nn.GRU and grnn_ref.modules.GRU at T = 64 ... 4096,
         B = 16, D = H = 64, the median of `repeats` steps after one warm-up step; as milliseconds
         and as ratios to nn.GRU measured in the same run. The clock is the process's CPU time
         (one torch thread), not wall time: on the course's shared 2-core machine other jobs
         stretch wall time by factors of several, while the CPU time a step needs barely moves.
tasks    the adding problem and the copy task at T = 100 (grnn_ref.tasks, the harness of
         grnn_ref.experiments.training: fresh batches of 64, Adam at lr 1e-2 for every model,
         norm clipping at 1, the same fixed test set): GRU, LSTM (forget bias 1), minGRU, minLSTM
         with H = 64, and minGRU with two layers. Short runs (`steps` updates): what these cells
         reach in a fixed small budget.
future   bidirectionality: random symbols in, the target at step t is the symbol seen at step
         t + 3 (the future) or t - 3 (the past); a unidirectional GRU against a bidirectional one
         with about the same number of parameters.

Results: grnn_ref/data/revival_results.json and revival_*.md (written by `save_committed`, read
by chapter 9).
"""
import json
import math
import os
import time

import numpy as np

__all__ = ["revival_experiment", "timing", "train_task", "future_task", "save_committed",
           "load_committed", "PAPER", "RESULTS_PATH", "charlm_comparison", "charlm_table",
           "save_charlm", "load_charlm", "CHARLM_SIZES", "CHARLM_MODELS", "CHARLM_PATH"]

RESULTS_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data",
                            "revival_results.json")

#: figures quoted from Feng et al. (2024), arXiv 2410.01201 (their measurements, on a GPU)
PAPER = {"speedup_T512": 175}   # abstract: "175x faster for a sequence of length 512"

SIZES = {
    "quick": dict(lr=1e-2, Ts=(16, 64), repeats=2, batch=4, hidden=16, steps={"adding": 30, "copy": 30},
                  task_T=20, future_steps=30, future_T=12),
    "book": dict(lr=1e-2, Ts=(64, 256, 1024), repeats=3, batch=16, hidden=64,
                 steps={"adding": 300, "copy": 200}, task_T=100, future_steps=300, future_T=30),
    # adding: at lr 1e-2 the LSTM leaves the plateau at T = 100 after ~1000 steps (long_lag.py's
    # measurement); copy at T = 100 is far harder (an LSTM is barely below the baseline after
    # 3000 steps there), so its short budget shows only where each cell starts
    "full": dict(lr=1e-2, Ts=(64, 256, 1024, 4096), repeats=3, batch=16, hidden=64,
                 steps={"adding": 1500, "copy": 1000}, task_T=100, future_steps=600,
                 future_T=30),
}

TIMED = ("mingru_scan", "mingru_seq", "nn_gru", "ours_gru")
TIMED_LABEL = {"mingru_scan": "minGRU, scan", "mingru_seq": "minGRU, loop",
               "nn_gru": "torch.nn.GRU", "ours_gru": "grnn_ref.modules.GRU"}
MODELS = ("gru", "lstm", "mingru", "minlstm", "mingru2")
MODEL_LABEL = {"gru": "GRU", "lstm": "LSTM (forget bias 1)", "mingru": "minGRU",
               "minlstm": "minLSTM", "mingru2": "minGRU, 2 layers"}


def _torch():
    import torch
    return torch


# ------------------------------------------------------------------ timing
def _timed_layer(name, D, H):
    torch = _torch()
    from grnn_ref import modules
    from grnn_ref.min_modules import MinGRU
    if name == "mingru_scan":
        return MinGRU(D, H, mode="scan")
    if name == "mingru_seq":
        return MinGRU(D, H, mode="sequential")
    if name == "nn_gru":
        return torch.nn.GRU(D, H)
    return modules.GRU(D, H)


def timing(Ts, *, batch=16, hidden=64, repeats=5, seed=0, say=None):
    """Median seconds per training step (forward + backward) of each TIMED layer at each T.
    Returns rows: {"T", "<name>_ms", "<name>_vs_nn_gru"} per T."""
    torch = _torch()
    rows = []
    for T in Ts:
        torch.manual_seed(seed)
        xs = torch.randn(T, batch, hidden)
        row = {"T": int(T), "rounds": int(math.ceil(math.log2(T))) if T > 1 else 0}
        for name in TIMED:
            layer = _timed_layer(name, hidden, hidden)
            times = []
            for r in range(repeats + 1):
                t0 = time.process_time()
                out = layer(xs)[0]
                out.sum().backward()
                times.append(time.process_time() - t0)
                layer.zero_grad(set_to_none=True)
            row[f"{name}_ms"] = 1e3 * float(np.median(times[1:]))
        for name in TIMED:
            row[f"{name}_vs_nn_gru"] = row[f"{name}_ms"] / row["nn_gru_ms"]
        row["loop_vs_scan"] = row["mingru_seq_ms"] / row["mingru_scan_ms"]
        rows.append(row)
        if say:
            say(f"T={T}: " + ", ".join(f"{n} {row[n + '_ms']:.1f} ms" for n in TIMED))
    return rows


def growth_exponents(rows):
    """The slope of log(time) against log(T) between the shortest and the longest T: 1 means
    time proportional to T."""
    if len(rows) < 2:
        return {}
    first, last = rows[0], rows[-1]
    span = math.log(last["T"] / first["T"])
    return {name: math.log(last[f"{name}_ms"] / first[f"{name}_ms"]) / span for name in TIMED}


# ------------------------------------------------------------------ long-lag tasks
def _make_model(kind, task, hidden):
    torch = _torch()
    nn = torch.nn
    from grnn_ref.experiments.training import _task_sizes
    from grnn_ref.min_modules import MinGRU, MinLSTM
    D, out = _task_sizes(task)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            if kind in ("gru", "lstm"):
                self.layers = nn.ModuleList([{"gru": nn.GRU, "lstm": nn.LSTM}[kind](D, hidden)])
            else:
                # the loop: the same function as the scan, and faster on one CPU core (timing)
                cls = MinLSTM if kind == "minlstm" else MinGRU
                n = 2 if kind == "mingru2" else 1
                self.layers = nn.ModuleList([cls(D if k == 0 else hidden, hidden,
                                                 mode="sequential") for k in range(n)])
            self.readout = nn.Linear(hidden, out)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)[0]
            return self.readout(x) if task == "copy" else self.readout(x[-1])

    model = Model()
    if kind == "lstm":
        from grnn_ref.modules import set_forget_bias
        set_forget_bias(model.layers[0], 1.0)
    return model


def train_task(kind, task, T, *, steps, hidden=64, batch=64, lr=1e-3, seed=0, n_test=1000):
    """Train `kind` (MODELS) on "adding" or "copy" at length T; returns a dict with the final test
    loss, the baseline, the parameter count, seconds per step and the test curve."""
    torch = _torch()
    from grnn_ref.experiments.clipping import clip_grad_norm_
    from grnn_ref.experiments.training import TEST_SEED, _baseline, _loss_fn, make_batch
    torch.manual_seed(seed)
    model = _make_model(kind, task, hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = _loss_fn(task)
    test_x, test_y = make_batch(task, n_test, T, np.random.default_rng(TEST_SEED))
    test_x, test_y = torch.as_tensor(test_x), torch.as_tensor(test_y)
    rng = np.random.default_rng([seed, 1])

    def test_loss():
        with torch.no_grad():
            return float(loss_fn(model(test_x), test_y))

    curve = []
    every = max(steps // 10, 1)
    t0 = time.process_time()
    for step in range(steps):
        if step % every == 0:
            curve.append((step, test_loss()))
        x, y = make_batch(task, batch, T, rng)
        loss = loss_fn(model(torch.as_tensor(x)), torch.as_tensor(y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_grad_norm_(list(model.parameters()), 1.0)
        opt.step()
    seconds = time.process_time() - t0          # CPU time (one thread), see `timing`
    final = test_loss()
    curve.append((steps, final))
    return {"model": kind, "task": task, "T": int(T), "steps": int(steps),
            "params": int(sum(p.numel() for p in model.parameters())),
            "test_loss": final, "baseline": float(_baseline(task, T)),
            "ms_per_step": 1e3 * seconds / steps, "curve": curve}


# ------------------------------------------------------------------ bidirectionality
def _future_batch(n, T, shift, rng, n_symbols=8):
    ids = rng.integers(0, n_symbols, (T, n))
    x = np.eye(n_symbols, dtype=np.float32)[ids]
    y = np.full((T, n), -100, dtype=np.int64)      # ignored where the answer is off the end
    if shift > 0:
        y[:T - shift] = ids[shift:]
    else:
        y[-shift:] = ids[:T + shift]
    return x, y


def future_task(direction, shift, *, T=30, steps=1500, batch=64, lr=3e-3, seed=0):
    """Train a GRU (unidirectional, H = 64, or bidirectional, H = 44 per direction: 14,728 and
    14,968 weights with the readout) to output at step t the symbol of step t + shift.
    Returns the test cross-entropy (nats per scored step), accuracy and chance levels."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)
    bi = direction == "bidirectional"
    H = 44 if bi else 64
    rnn = nn.GRU(8, H, bidirectional=bi)
    readout = nn.Linear(H * (2 if bi else 1), 8)
    params = list(rnn.parameters()) + list(readout.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    rng = np.random.default_rng([seed, 2])
    test_x, test_y = (torch.as_tensor(a) for a in _future_batch(1000, T, shift,
                                                                np.random.default_rng(7)))

    def run(x, y):
        logits = readout(rnn(x)[0])
        return nn.functional.cross_entropy(logits.reshape(-1, 8), y.reshape(-1),
                                           ignore_index=-100), logits

    for _ in range(steps):
        x, y = (torch.as_tensor(a) for a in _future_batch(batch, T, shift, rng))
        loss, _ = run(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        loss, logits = run(test_x, test_y)
        mask = test_y >= 0
        acc = float((logits.argmax(-1)[mask] == test_y[mask]).float().mean())
    return {"direction": direction, "shift": int(shift), "T": int(T), "steps": int(steps),
            "params": int(sum(p.numel() for p in params)), "test_ce": float(loss),
            "accuracy": acc, "chance_ce": math.log(8), "chance_accuracy": 1 / 8,
            "weights": sorted(name for name, _ in rnn.named_parameters())}


# ------------------------------------------------------------------ the experiment
def revival_experiment(size="full", *, seed=0, progress=None):
    """All three parts at `size` ("quick", "book", "full"); returns a dict of rows and config."""
    if size not in SIZES:
        raise ValueError(f"revival_experiment: size must be one of {tuple(SIZES)}, got {size!r}")
    cfg = dict(SIZES[size])
    torch = _torch()
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        def say(msg):
            if progress is not False:
                print(f"[{time.perf_counter() - t0:7.1f} s] {msg}", flush=True)
        timing_rows = timing(cfg["Ts"], batch=cfg["batch"], hidden=cfg["hidden"],
                             repeats=cfg["repeats"], seed=seed, say=say)
        say("timing done")
        task_rows = []
        for task in ("adding", "copy"):
            for kind in MODELS:
                r = train_task(kind, task, cfg["task_T"], steps=cfg["steps"][task],
                               hidden=cfg["hidden"], lr=cfg["lr"], seed=seed)
                task_rows.append(r)
                say(f"{kind} {task}: {r['test_loss']:.4f} (baseline {r['baseline']:.4f})")
        future_rows = []
        for shift in (3, -3):
            for direction in ("unidirectional", "bidirectional"):
                r = future_task(direction, shift, T=cfg["future_T"], steps=cfg["future_steps"],
                                seed=seed)
                future_rows.append(r)
                say(f"{direction} shift {shift}: acc {r['accuracy']:.3f}")
    finally:
        torch.set_num_threads(old)
    return {"timing": timing_rows, "growth": growth_exponents(timing_rows), "tasks": task_rows,
            "future": future_rows, "paper": PAPER,
            "config": dict(cfg, size=size, seed=seed, torch_threads=1,
                           torch_version=torch.__version__, wall_s=time.perf_counter() - t0)}


# ------------------------------------------------------------------ tables and files
def timing_table(res):
    rows = []
    for r in res["timing"]:
        row = {"T": r["T"], "scan rounds (log2 T)": r["rounds"]}
        for name in TIMED:
            row[f"{TIMED_LABEL[name]} (ms)"] = round(r[f"{name}_ms"], 2)
        for name in ("mingru_scan", "mingru_seq", "ours_gru"):
            row[f"{TIMED_LABEL[name]} / nn.GRU"] = round(r[f"{name}_vs_nn_gru"], 3)
        row["loop / scan"] = round(r["loop_vs_scan"], 2)
        rows.append(row)
    return rows


def task_table(res):
    return [{"task": r["task"], "model": MODEL_LABEL[r["model"]], "parameters": r["params"],
             "steps": r["steps"], "test loss": float(f"{r['test_loss']:.3g}"),
             "baseline": round(r["baseline"], 4),
             "test / baseline": float(f"{r['test_loss'] / r['baseline']:.2g}"),
             "ms per step": round(r["ms_per_step"], 1)} for r in res["tasks"]]


def future_table(res):
    return [{"target": f"symbol at t {'+' if r['shift'] > 0 else '-'} {abs(r['shift'])}",
             "GRU": r["direction"], "parameters": r["params"],
             "test cross-entropy": round(r["test_ce"], 3), "accuracy": round(r["accuracy"], 3),
             "chance": round(r["chance_accuracy"], 3)} for r in res["future"]]


def _markdown(rows):
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def save_committed(res, folder=None):
    """Write revival_results.json and the three Markdown tables into `folder` (default
    grnn_ref/data)."""
    folder = folder or os.path.dirname(RESULTS_PATH)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "revival_results.json"), "w") as f:
        json.dump(res, f, indent=1)
    for name, rows in (("timing", timing_table(res)), ("tasks", task_table(res)),
                       ("future", future_table(res))):
        with open(os.path.join(folder, f"revival_{name}.md"), "w") as f:
            f.write(_markdown(rows))


def load_committed(path=RESULTS_PATH):
    """The committed results of `python -m grnn_ref.experiments revival` (full size)."""
    with open(path) as f:
        return json.load(f)


# ------------------------------------------------------------------ the character model
#: Chapter 8's character model (grnn_ref.experiments.charlm) with the minimal cells: every model
#: at the parameter count of chapter 8's LSTM with H = `lstm_hidden` (its "full" equal-parameter
#: comparison), the same split, batch, bptt, learning rate and seed; `steps` updates each.
CHARLM_SIZES = {
    "quick": dict(lstm_hidden=32, embed=16, batch=8, bptt=32, steps=20, val_subset=4096),
    "book": dict(lstm_hidden=64, embed=32, batch=16, bptt=64, steps=250, val_subset=20000),
    "full": dict(lstm_hidden=256, embed=64, batch=32, bptt=64, steps=600, val_subset=20000),
}
#: (label, cell, layers), in the order of the table
CHARLM_MODELS = (("GRU", "gru", 1), ("LSTM", "lstm", 1), ("minGRU", "mingru", 1),
                 ("minLSTM", "minlstm", 1), ("minGRU, 2 layers", "mingru", 2))
#: the order in which they start, longest first (measured per step at the full size: one wide
#: minimal layer is the slowest here, its loop runs over a (32, ~1500) state)
_CHARLM_START = (3, 2, 0, 4, 1)
CHARLM_PATH = os.path.join(os.path.dirname(RESULTS_PATH), "revival_charlm.json")


def _charlm_run(label, cell, layers, n_params, cfg, seed):
    """One equal-parameter run (in a worker process): its record, with the CPU seconds of the
    process spent in `train` (one torch thread; the final evaluation included)."""
    from grnn_ref.experiments import charlm
    cfg = dict(cfg)
    cfg.pop("lstm_hidden")
    H = charlm.hidden_for_params(cell, n_params, cfg["embed"], layers=layers)
    c0 = time.process_time()
    r = charlm.train(cell, hidden=H, layers=layers, seed=seed, num_threads=1, progress=False,
                     sample_length=120, **cfg)
    cpu = time.process_time() - c0
    return {"label": label, "cell": cell, "layers": layers, "H": H, "parameters": r.n_params,
            "steps": r.steps_done, "val_loss": r.val_loss, "val_curve": r.val_curve,
            "cpu_s": cpu, "train_wall_s": r.train_time,
            "sample": r.samples[-1][1]}


def charlm_comparison(size="full", *, seed=0, workers=2, say=None):
    """GRU, LSTM, minGRU, minLSTM and a 2-layer minGRU on chapter 8's character model at
    equal parameter count (short runs: CHARLM_SIZES[size]["steps"] updates each).
    workers: processes running at once (each one torch thread); 1 runs them here in turn.
    Returns {"rows": [...], "config": {...}, "baselines": {...}, "chapter8": [...]}."""
    if size not in CHARLM_SIZES:
        raise ValueError(f"charlm_comparison: size must be one of {tuple(CHARLM_SIZES)}, "
                         f"got {size!r}")
    from grnn_ref.experiments import charlm
    cfg = dict(CHARLM_SIZES[size])
    n_params = charlm.count_params("lstm", cfg["lstm_hidden"], cfg["embed"])
    jobs = [(label, cell, layers, n_params, cfg, seed) for label, cell, layers in CHARLM_MODELS]
    t0 = time.perf_counter()
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as ex:
            futures = {k: ex.submit(_charlm_run, *jobs[k]) for k in _CHARLM_START}
            rows = []
            for k in range(len(jobs)):
                rows.append(futures[k].result())
                if say:
                    say(f"charlm {rows[-1]['label']}: {rows[-1]['val_loss']:.4f}")
    else:
        rows = []
        for job in jobs:
            rows.append(_charlm_run(*job))
            if say:
                say(f"charlm {rows[-1]['label']}: {rows[-1]['val_loss']:.4f}")
    text = charlm.load_text()
    vocab = charlm.Vocab.from_text(text)
    train_ids, val_ids = charlm.split(vocab.encode(text))
    baselines = {"uniform ln 65": charlm.UNIFORM_BASELINE,
                 "unigram": charlm.unigram_entropy(val_ids, len(vocab), train_ids)}
    return {"rows": rows, "baselines": baselines,
            "config": dict(cfg, size=size, seed=seed, params=n_params, workers=workers,
                           torch_threads=1, torch_version=_torch().__version__,
                           wall_s=time.perf_counter() - t0,
                           command="OMP_NUM_THREADS=1 nice python -m grnn_ref.experiments "
                                   f"revival_charlm --size {size}")}


def charlm_table(res):
    return [{"model": r["label"], "H": r["H"], "parameters": r["parameters"],
             "steps": r["steps"], "val loss (nats/char)": round(r["val_loss"], 3),
             "CPU s": round(r["cpu_s"]), "ms per step": round(1000 * r["cpu_s"] / r["steps"])}
            for r in res["rows"]]


def save_charlm(res, folder=None):
    """Write revival_charlm.json and revival_charlm.md into `folder` (default grnn_ref/data)."""
    folder = folder or os.path.dirname(CHARLM_PATH)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "revival_charlm.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(folder, "revival_charlm.md"), "w") as f:
        f.write(_markdown(charlm_table(res)))


def load_charlm(path=CHARLM_PATH):
    """The committed results of `python -m grnn_ref.experiments revival_charlm`."""
    with open(path) as f:
        return json.load(f)
