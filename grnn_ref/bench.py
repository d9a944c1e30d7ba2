"""Speed benchmarks: `python -m grnn_ref.bench` (what `make bench` runs).

Sections (each a function taking the parsed arguments, printing its own table and returning its
rows; every table is also written to results/bench/<section>.md and .json):

    cells     forward + backward time of torch.nn.RNN/LSTM/GRU, grnn_ref.modules.RNN/LSTM/GRU and
              the numpy reference (rnn_forward + rnn_backward, ...) on the same inputs, with
              ratios against torch.nn and the course's targets (modules <= 1.5x, numpy <= 3x).
    training  training throughput (characters per second) of the chapter 8 character model
              (grnn_ref.experiments.charlm) with torch.nn's recurrent layer and with ours.
    grading   grading throughput of a generated class (grnn_ref.autograde.bench), ours against
              sequential `nbgrader autograde`; 40 submissions, 10 with --quick.

Method (cells and training). Every implementation gets the same inputs (float32 like torch.nn's
default, plus the numpy reference in float64 for information), the same upstream gradient and a
zero initial state; one timed "run" is a forward pass and a full backward pass (gradients of the
input and of every parameter). Runs are interleaved round-robin, the starting implementation
rotating every repetition, after untimed warm-up runs, so that a slow patch of a shared machine
hits every implementation alike.

The clock. By default (--clock cpu) a run is timed by the CPU time of the benchmarking thread
(time.thread_time), with torch and the BLAS libraries limited to that one thread (--threads 1,
and OMP/OpenBLAS/MKL_NUM_THREADS=1, set by re-executing the benchmark if the environment does not
already say so). On a machine shared with other work this measures the work done, not the time
spent waiting for a core, which is what makes two runs agree; --clock wall times by the wall clock
(time.perf_counter) instead and allows --threads N.

The decision. For every repetition k the ratio r_k = t_impl,k / t_torch.nn,k is taken between the
runs of that same repetition (adjacent in time); the reported ratio is the median of the r_k,
printed with their 25-75 % range and a 95 % bootstrap confidence interval of that median (seeded,
2000 resamples). PASS when the median is at or below the target, MISS otherwise. While the
interval of some targeted row still contains its target, more repetitions are run (up to
--max-repeats) so that a verdict is not decided by noise; a verdict whose interval still contains
the target at the end is marked "(close)".
"""
import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

import numpy as np

import grnn_ref

TARGETS = {"grnn_ref.modules": 1.5, "numpy float32": 3.0}
BIG = dict(T=100, B=32, D=128, H=128)
SMALL = dict(T=20, B=4, D=16, H=16)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT_OUT = os.path.join("results", "bench")
CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


# --------------------------------------------------------------------------- environment
def numpy_blas():
    """A short name of the BLAS numpy was built with, e.g. 'scipy-openblas 0.3.31'."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:                      # an older numpy without mode="dicts"
        return "unknown"


def torch_blas(torch):
    """torch's BLAS and whether oneDNN (mkldnn) kernels are available."""
    info = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in info.replace(",", " ").split()
                 if part.startswith("BLAS_INFO=")), "unknown")
    mkldnn = "oneDNN available" if torch.backends.mkldnn.is_available() else "no oneDNN"
    return f"{blas}, {mkldnn}"


def load_average():
    """The 1, 5 and 15-minute load averages (nan where the OS has none)."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else [float("nan")] * 3


def environment(torch, clock="cpu"):
    """What the tables depend on, as a dict (also written into the JSON files)."""
    return {
        "python": platform.python_version(), "numpy": np.__version__,
        "numpy_blas": numpy_blas(), "torch": torch.__version__, "torch_blas": torch_blas(torch),
        "cpus": os.cpu_count(), "machine": platform.machine(),
        "torch_threads": torch.get_num_threads(), "clock": clock,
        "thread_env": {v: os.environ.get(v) for v in THREAD_VARS},
        "load_average": load_average(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def header(torch, clock="cpu"):
    """Lines describing the machine and the libraries, printed above the tables."""
    env = environment(torch, clock)
    load = env["load_average"]
    cpus = env["cpus"]
    what = ("CPU time of the benchmarking thread (time.thread_time)" if clock == "cpu"
            else "wall time (time.perf_counter)")
    lines = [
        f"python {env['python']}, numpy {env['numpy']} (BLAS: {env['numpy_blas']}), "
        f"torch {env['torch']} (BLAS: {env['torch_blas']})",
        f"CPU: {cpus} logical cores ({env['machine']}); torch threads {env['torch_threads']}; "
        f"clock: {what}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (1, 5, 15 min)",
    ]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        lines.append(f"note: OPENBLAS_CORETYPE={coretype} is set in the environment; it can "
                     f"slow numpy's BLAS (left as is)")
    if cpus and load[0] > cpus:
        lines.append(f"note: the load average ({load[0]:.1f}) exceeds the number of cores: other "
                     f"processes share the CPU" + (
                         "; the CPU-time clock leaves out the waiting, but they still share "
                         "caches and memory bandwidth" if clock == "cpu"
                         else ": wall times are inflated and noisy"))
    return lines


# --------------------------------------------------------------------------- statistics
def quartiles(xs):
    """(25 %, 50 %, 75 %) of a non-empty list (inclusive method; all equal for one value)."""
    if len(xs) == 1:
        return xs[0], xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def bootstrap_median_ci(xs, level=0.95, resamples=2000, seed=0):
    """A percentile bootstrap confidence interval (low, high) of the median of xs (seeded)."""
    if len(xs) < 2:
        return xs[0], xs[0]
    rng = random.Random(seed)
    n = len(xs)
    meds = sorted(statistics.median(rng.choices(xs, k=n)) for _ in range(resamples))
    lo = int((1 - level) / 2 * resamples)
    return meds[lo], meds[min(resamples - 1, resamples - 1 - lo)]


def ratio_stats(times, base, target=None):
    """Per-pair ratios times[k] / base[k] summarised: dict ratio (median), ratio_p25,
    ratio_p75, ratio_ci (95 % bootstrap of the median), verdict ('' without a target), close
    (the interval still contains the target)."""
    ratios = [t / b for t, b in zip(times, base)]
    p25, med, p75 = quartiles(ratios)
    lo, hi = bootstrap_median_ci(ratios)
    out = dict(ratio=med, ratio_p25=p25, ratio_p75=p75, ratio_ci=[lo, hi], verdict="",
               close=False)
    if target is not None:
        out["verdict"] = "PASS" if med <= target else "MISS"
        out["close"] = lo <= target <= hi
    return out


# --------------------------------------------------------------------------- implementations
def make_runners(kind, T, B, D, H, seed=0):
    """The implementations to time for one cell and size, as {name: run()}.

    Each run() does one forward and one backward pass on the same data: xs (T, B, D), zero
    initial state(s), upstream gradient dhs (T, B, H) on the outputs. torch.nn and our module
    share their weights; the numpy reference gets the same weights as Params.
    """
    import torch

    from grnn_ref import modules

    torch.manual_seed(seed)
    ref = getattr(torch.nn, kind)(D, H)
    ours = getattr(modules, kind)(D, H)
    ours.load_state_dict(ref.state_dict())
    gen = torch.Generator().manual_seed(seed + 1)
    xs = torch.randn(T, B, D, generator=gen)
    dhs = torch.randn(T, B, H, generator=gen)

    def torch_runner(module):
        params = list(module.parameters())

        def run():
            for p in params:
                p.grad = None
            x = xs.detach().requires_grad_(True)
            out, _ = module(x)
            out.backward(dhs)
        return run

    runners = {"torch.nn": torch_runner(ref), "grnn_ref.modules": torch_runner(ours)}
    lower = kind.lower()
    forward = getattr(grnn_ref, f"{lower}_forward")
    backward = getattr(grnn_ref, f"{lower}_backward")
    for dtype, name in ((np.float32, "numpy float32"), (np.float64, "numpy float64")):
        p = grnn_ref.Params.from_torch(ref, dtype=dtype)
        xs_np = xs.numpy().astype(dtype)
        dhs_np = dhs.numpy().astype(dtype)
        h0 = np.zeros((B, H), dtype=dtype)

        def run(p=p, xs_np=xs_np, dhs_np=dhs_np, h0=h0):
            if lower == "lstm":
                _, _, cache = forward(xs_np, h0, h0, p)
            else:
                _, cache = forward(xs_np, h0, p)
            backward(dhs_np, cache)
        runners[name] = run
    return runners


def time_interleaved(runners, repeats, warmup=2, clock="cpu", times=None, rep0=0):
    """Timings {name: [seconds, ...]} from round-robin runs, one list entry per repetition.

    Every repetition runs each implementation once, starting at a different one each time
    (rotation), so no implementation always runs right after a particular other one. `times`
    (from an earlier call) is extended in place when given; rep0 continues its rotation.
    """
    tick = CLOCKS[clock]
    names = list(runners)
    times = {name: [] for name in names} if times is None else times
    for rep in range(rep0, rep0 + warmup + repeats):
        start = rep % len(names)
        for name in names[start:] + names[:start]:
            t0 = tick()
            runners[name]()
            elapsed = tick() - t0
            if rep >= rep0 + warmup:
                times[name].append(elapsed)
    return times


def _cell_rows(kind, case_name, times):
    base = times["torch.nn"]
    rows = []
    for impl, ts in times.items():
        p25, med, p75 = quartiles(ts)
        row = dict(kind=kind, case=case_name, impl=impl, median_ms=med * 1e3, p25_ms=p25 * 1e3,
                   p75_ms=p75 * 1e3, target=TARGETS.get(impl), n=len(ts))
        row.update(ratio_stats(ts, base, row["target"]))
        rows.append(row)
    return rows


def run_cells(cases, kinds=("RNN", "LSTM", "GRU"), repeats=15, warmup=2, on_rows=None,
              clock="cpu", max_repeats=None):
    """Time every implementation; returns a list of row dicts (kind, case, impl, median_ms,
    p25_ms, p75_ms, n, ratio, ratio_p25, ratio_p75, ratio_ci, target, verdict, close).

    After `repeats` repetitions, while some targeted row's confidence interval contains its
    target, `repeats` more are run, up to max_repeats in all (default: repeats, i.e. none).
    on_rows(rows) is called after each cell and size (to print as the benchmark goes)."""
    max_repeats = max(repeats, max_repeats or repeats)
    rows = []
    for case_name, size in cases:
        for kind in kinds:
            runners = make_runners(kind, **size)
            times = time_interleaved(runners, repeats, warmup, clock)
            new = _cell_rows(kind, case_name, times)
            while (any(r["close"] for r in new) and len(times["torch.nn"]) < max_repeats):
                more = min(repeats, max_repeats - len(times["torch.nn"]))
                time_interleaved(runners, more, 0, clock, times, rep0=len(times["torch.nn"]))
                new = _cell_rows(kind, case_name, times)
            rows += new
            if on_rows is not None:
                on_rows(new)
    return rows


_COLUMNS = (("cell", 5), ("case", 23), ("implementation", 17), ("median ms", 10),
            ("25-75 % ms", 16), ("x torch.nn", 11), ("ratio 25-75 %", 14), ("95 % CI", 12),
            ("target", 7), ("", 4))


def _line(cells):
    return "".join(str(c).ljust(w) for c, (_, w) in zip(cells, _COLUMNS)).rstrip()


def table_head():
    """The table's two header lines."""
    return _line([name for name, _ in _COLUMNS]) + "\n" + _line(
        ["-" * (w - 1) for _, w in _COLUMNS])


def _cells_of(r):
    verdict = r["verdict"] + (" (close)" if r.get("close") else "")
    if r["impl"] == "torch.nn":
        rq = ci = ""
    else:
        rq = f"{r['ratio_p25']:.2f}-{r['ratio_p75']:.2f}"
        ci = f"{r['ratio_ci'][0]:.2f}-{r['ratio_ci'][1]:.2f}"
    return (r["kind"], r["case"], r["impl"], f"{r['median_ms']:.2f}",
            f"{r['p25_ms']:.2f}-{r['p75_ms']:.2f}", f"{r['ratio']:.2f}", rq, ci,
            "" if r["target"] is None else f"<= {r['target']:g}", verdict)


def format_rows(rows):
    """Rows (dicts from run_cells) as fixed-width table lines."""
    return "\n".join(_line(_cells_of(r)) for r in rows)


def markdown_table(head, rows):
    """A Markdown table from a header tuple and rows of cell tuples."""
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def write_results(out_dir, name, title, env, markdown, data):
    """results/bench/<name>.md (title, environment, table) and <name>.json; returns the paths
    (none when out_dir is empty)."""
    if not out_dir:
        return []
    os.makedirs(out_dir, exist_ok=True)
    md_path = os.path.join(out_dir, f"{name}.md")
    json_path = os.path.join(out_dir, f"{name}.json")
    load = env["load_average"]
    with open(md_path, "w") as f:
        f.write(f"# {title}\n\n`{env['command']}`, {env['date']}: python {env['python']}, "
                f"torch {env['torch']}, numpy {env['numpy']}; {env['cpus']} logical cores, "
                f"torch threads {env['torch_threads']}, clock {env['clock']}; load average "
                f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the start.\n\n{markdown}\n")
    with open(json_path, "w") as f:
        json.dump({"environment": env, **data}, f, indent=1)
    return [md_path, json_path]


# --------------------------------------------------------------------------- sections
def _command(args):
    return " ".join(["python -m grnn_ref.bench", *args.argv])


def cells_section(args):
    """Forward + backward of the three cells: torch.nn vs grnn_ref.modules vs numpy."""
    import torch

    repeats = args.repeats if args.repeats else (5 if args.quick else 15)
    max_repeats = args.max_repeats if args.max_repeats else 4 * repeats
    big = "T={T} B={B} D={D} H={H}".format(**BIG)
    small = "T={T} B={B} D={D} H={H}".format(**SMALL)
    env = dict(environment(torch, args.clock), command=_command(args))
    print(f"== cells: forward + backward, median of {repeats} interleaved runs (up to "
          f"{max_repeats} while a verdict is close) ==")
    for line in header(torch, args.clock):
        print(line)
    print("inputs float32 (torch.nn's default) with requires_grad; 'numpy float64' is for "
          "information (no target); x torch.nn: median of the per-repetition ratios")
    print()
    t0 = time.perf_counter()
    print(table_head())

    def show(rows):
        print(format_rows(rows) + "\n", flush=True)
    rows = run_cells([(big, BIG), (small, SMALL)], repeats=repeats, on_rows=show,
                     clock=args.clock, max_repeats=max_repeats)
    missed = [r for r in rows if r["verdict"] == "MISS"]
    close = [r for r in rows if r["close"]]
    summary = (f"{sum(r['verdict'] == 'PASS' for r in rows)} PASS, {len(missed)} MISS"
               + (f" ({len(close)} close: the 95 % interval contains the target)" if close
                  else "") + f" ({time.perf_counter() - t0:.0f} s)")
    print(summary)
    env["load_average_end"] = load_average()
    md = markdown_table([name or "verdict" for name, _ in _COLUMNS],
                        [_cells_of(r) for r in rows]) + "\n\n" + summary
    for path in write_results(args.out, "cells", "Cells: forward + backward", env, md,
                              {"rows": rows}):
        print("wrote", path)
    return rows


def training_section(args):
    """Training throughput of the chapter 8 character model, torch.nn vs grnn_ref.modules."""
    import torch

    from grnn_ref.experiments import charlm

    steps = args.repeats if args.repeats else (3 if args.quick else 10)
    env = dict(environment(torch, args.clock), command=_command(args))
    cfg = dict(charlm.CHARLM_SIZES["full"]["compare"])
    if args.quick:
        cfg = dict(charlm.CHARLM_SIZES["book"]["compare"])
    print(f"== training: the chapter 8 character model, characters per second, median of "
          f"{steps} interleaved steps ==")
    for line in header(torch, args.clock):
        print(line)
    rows = training_throughput(cfg, steps, clock=args.clock)
    head = ("cell", "H", "batch x bptt", "torch.nn chars/s", "grnn_ref.modules chars/s",
            "ours / torch.nn", "ratio 25-75 %", "95 % CI")
    table = [(r["cell"], r["hidden"], f"{r['batch']} x {r['bptt']}",
              f"{r['torch.nn_chars_per_s']:,.0f}", f"{r['grnn_ref.modules_chars_per_s']:,.0f}",
              f"{r['ratio']:.2f}", f"{r['ratio_p25']:.2f}-{r['ratio_p75']:.2f}",
              f"{r['ratio_ci'][0]:.2f}-{r['ratio_ci'][1]:.2f}") for r in rows]
    print(markdown_table(head, table))
    print("one step: embedding, recurrent layer, linear head, cross-entropy, backward, "
          "gradient clipping, Adam; stateful truncated BPTT on tiny Shakespeare; "
          "ratio > 1: ours is faster")
    env["load_average_end"] = load_average()
    for path in write_results(args.out, "training", "Training throughput, chapter 8 "
                              "character model", env, markdown_table(head, table),
                              {"config": cfg, "rows": rows}):
        print("wrote", path)
    return rows


def training_throughput(cfg, steps, warmup=2, clock="cpu", cells=("lstm", "gru", "rnn")):
    """Characters per second of charlm training steps with torch.nn's recurrent layer and with
    grnn_ref.modules' (same initial weights, same batches, steps interleaved). cfg: a charlm
    "compare" size (lstm_hidden, embed, batch, bptt); each cell gets the hidden size of the
    same parameter count, as in chapter 8. Returns one row dict per cell."""
    import torch

    from grnn_ref import modules
    from grnn_ref.experiments import charlm

    tick = CLOCKS[clock]
    text = charlm.load_text()
    vocab = charlm.Vocab.from_text(text)
    train_ids, _ = charlm.split(vocab.encode(text))
    E, batch, bptt = cfg["embed"], cfg["batch"], cfg["bptt"]
    n_params = charlm.count_params("lstm", cfg["lstm_hidden"], E, len(vocab))
    chunks = charlm._streams(train_ids, batch, bptt)
    F = torch.nn.functional
    CharLM = charlm.CharLM
    rows = []
    for cell in cells:
        H = charlm.hidden_for_params(cell, n_params, E, len(vocab))
        torch.manual_seed(0)
        ref = CharLM(cell, len(vocab), H, E)
        ours = CharLM(cell, len(vocab), H, E)
        ours.rnn = getattr(modules, {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[cell])(E, H)
        ours.load_state_dict(ref.state_dict())
        models = {"torch.nn": ref, "grnn_ref.modules": ours}
        opts = {k: torch.optim.Adam(m.parameters(), lr=3e-3) for k, m in models.items()}
        states = {k: None for k in models}
        times = {k: [] for k in models}
        for step in range(warmup + steps):
            x, y = (torch.as_tensor(a) for a in chunks[step % len(chunks)])
            order = list(models) if step % 2 == 0 else list(models)[::-1]
            for k in order:
                model, opt = models[k], opts[k]
                t0 = tick()
                logits, state = model(x, states[k])
                states[k] = model.detach_state(state)
                loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                elapsed = tick() - t0
                if step >= warmup:
                    times[k].append(elapsed)
        # ratio of throughputs = torch.nn's time / ours, per step pair
        row = dict(cell=cell, hidden=H, embed=E, batch=batch, bptt=bptt, steps=steps)
        for k, ts in times.items():
            row[f"{k}_chars_per_s"] = batch * bptt / statistics.median(ts)
            row[f"{k}_median_ms"] = statistics.median(ts) * 1e3
        row.update(ratio_stats(times["torch.nn"], times["grnn_ref.modules"]))
        rows.append(row)
    return rows


def grading_section(args):
    """Grading throughput: grnn_ref.autograde.bench.grading_throughput (ours with --jobs 2
    against sequential `nbgrader autograde` on the same generated class)."""
    try:
        from grnn_ref.autograde.bench import grading_throughput
    except ImportError as err:
        print(f"== grading: skipped (grnn_ref.autograde.bench is not available: {err}) ==")
        return None
    print("== grading: throughput of a generated class ==", flush=True)
    return grading_throughput(n_students=10 if args.quick else 40, out_dir=args.out,
                              command=_command(args))


SECTIONS = {"cells": cells_section, "training": training_section, "grading": grading_section}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grnn_ref.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=0,
                        help="timed runs per implementation (default 15, 5 with --quick; "
                             "training: steps, default 10, 3 with --quick)")
    parser.add_argument("--max-repeats", type=int, default=0,
                        help="cells: at most this many runs while a verdict is close "
                             "(default 4 x --repeats)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke test")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: CPU time of the benchmarking thread, one thread (default); "
                             "wall: wall-clock time")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1; more than 1 needs --clock wall)")
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help=f"directory for the .md and .json tables (default {DEFAULT_OUT}; "
                             f"'' writes none)")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default: {','.join(SECTIONS)})")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    for name in ("repeats", "max_repeats"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: expected a "
                         f"positive number")
    if args.threads < 1:
        parser.error(f"--threads {args.threads}: expected at least 1")
    if args.threads > 1 and args.clock == "cpu":
        parser.error(f"--threads {args.threads} with --clock cpu: the CPU time of one thread "
                     f"would leave out the others' work; use --clock wall")
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {unknown}, expected some of {list(SECTIONS)}")
    return args


def _single_threaded_env():
    """True when the BLAS/OpenMP thread-count variables all say 1."""
    return all(os.environ.get(v) == "1" for v in THREAD_VARS)


def main(argv=None):
    """Run the selected sections in order; returns 0."""
    args = parse_args(argv)
    if args.threads == 1 and not _single_threaded_env() and argv is None:
        # numpy's BLAS reads its thread count when it loads: start again with it set to 1
        env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "grnn_ref.bench", *args.argv], env)
    import torch
    torch.set_num_threads(args.threads)
    for i, name in enumerate(args.sections):
        if i:
            print()
        SECTIONS[name](args)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
