"""Speed benchmarks: `python -m grnn_ref.bench` (what `make bench` runs).

Sections (each a function taking the parsed arguments and printing its own table):

    cells    forward + backward time of torch.nn.RNN/LSTM/GRU, grnn_ref.modules.RNN/LSTM/GRU and
             the numpy reference (rnn_forward + rnn_backward, ...) on the same inputs, with
             ratios against torch.nn and the course's targets (modules <= 1.5x, numpy <= 3x).
    grading  grading throughput of a generated class (grnn_ref.autograde.bench), ours against
             sequential `nbgrader autograde`; 40 submissions, 10 with --quick.

Method: every implementation gets the same inputs (float32 like torch.nn's default, plus the
numpy reference in float64 for information), the same upstream gradient dL/dhs and a zero
initial state; one timed "run" is a forward pass and a full backward pass (gradients of the
input and of every parameter). Runs are interleaved round-robin, the starting implementation
rotating every repetition, after untimed warm-up runs, so that a slow patch of a shared machine
hits every implementation alike; the table shows medians and the 25-75 % range. Threads are
left at their defaults (printed in the header).
"""
import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

import grnn_ref

TARGETS = {"grnn_ref.modules": 1.5, "numpy float32": 3.0}
BIG = dict(T=100, B=32, D=128, H=128)
SMALL = dict(T=20, B=4, D=16, H=16)


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


def header(torch):
    """Lines describing the machine and the libraries, printed above the tables."""
    cpus = os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__} (BLAS: {numpy_blas()}), "
        f"torch {torch.__version__} (BLAS: {torch_blas(torch)})",
        f"CPU: {cpus} logical cores ({platform.machine()}); torch.get_num_threads() = "
        f"{torch.get_num_threads()} (default, not changed); 1-minute load average {load:.1f}",
    ]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        lines.append(f"note: OPENBLAS_CORETYPE={coretype} is set in the environment; it can "
                     f"slow numpy's BLAS (left as is)")
    if cpus and load > cpus:
        lines.append(f"warning: the load average ({load:.1f}) exceeds the number of cores: "
                     f"other processes share the CPU, absolute times are inflated and noisy")
    return lines


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


def time_interleaved(runners, repeats, warmup=2):
    """Median-ready timings: {name: [seconds, ...]} from round-robin runs.

    Every repetition runs each implementation once, starting at a different one each time
    (rotation), so no implementation always runs right after a particular other one.
    """
    names = list(runners)
    times = {name: [] for name in names}
    for rep in range(warmup + repeats):
        start = rep % len(names)
        for name in names[start:] + names[:start]:
            t0 = time.perf_counter()
            runners[name]()
            elapsed = time.perf_counter() - t0
            if rep >= warmup:
                times[name].append(elapsed)
    return times


def run_cells(cases, kinds=("RNN", "LSTM", "GRU"), repeats=15, warmup=2, on_rows=None):
    """Time every implementation; returns a list of row dicts (kind, case, impl, median_ms,
    p25_ms, p75_ms, ratio, target, verdict). on_rows(rows) is called after each cell and size
    (to print as the benchmark goes)."""
    rows = []
    for case_name, size in cases:
        for kind in kinds:
            times = time_interleaved(make_runners(kind, **size), repeats, warmup)
            base = statistics.median(times["torch.nn"])
            new = []
            for impl, ts in times.items():
                med = statistics.median(ts)
                q = (statistics.quantiles(ts, n=4, method="inclusive") if len(ts) > 1
                     else [med, med, med])
                ratio = med / base
                target = TARGETS.get(impl)
                verdict = "" if target is None else ("PASS" if ratio <= target else "MISS")
                new.append(dict(kind=kind, case=case_name, impl=impl, median_ms=med * 1e3,
                                p25_ms=q[0] * 1e3, p75_ms=q[2] * 1e3, ratio=ratio,
                                target=target, verdict=verdict))
            rows += new
            if on_rows is not None:
                on_rows(new)
    return rows


_COLUMNS = (("cell", 5), ("case", 23), ("implementation", 17), ("median ms", 10),
            ("25-75 % ms", 18), ("x torch.nn", 11), ("target", 7), ("", 4))


def _line(cells):
    return "".join(str(c).ljust(w) for c, (_, w) in zip(cells, _COLUMNS)).rstrip()


def table_head():
    """The table's two header lines."""
    return _line([name for name, _ in _COLUMNS]) + "\n" + _line(
        ["-" * (w - 1) for _, w in _COLUMNS])


def format_rows(rows):
    """Rows (dicts from run_cells) as fixed-width table lines."""
    return "\n".join(_line((
        r["kind"], r["case"], r["impl"], f"{r['median_ms']:.2f}",
        f"{r['p25_ms']:.2f}-{r['p75_ms']:.2f}", f"{r['ratio']:.2f}",
        "" if r["target"] is None else f"<= {r['target']:g}", r["verdict"])) for r in rows)


# --------------------------------------------------------------------------- sections
def cells_section(args):
    """Forward + backward of the three cells: torch.nn vs grnn_ref.modules vs numpy."""
    import torch

    repeats = args.repeats if args.repeats else (5 if args.quick else 15)
    big = "T={T} B={B} D={D} H={H}".format(**BIG)
    small = "T={T} B={B} D={D} H={H}".format(**SMALL)
    print("== cells: forward + backward, median of", repeats, "interleaved runs ==")
    for line in header(torch):
        print(line)
    print("inputs float32 (torch.nn's default) with requires_grad; 'numpy float64' is for "
          "information (no target)")
    print()
    t0 = time.perf_counter()
    print(table_head())

    def show(rows):
        print(format_rows(rows) + "\n", flush=True)
    rows = run_cells([(big, BIG), (small, SMALL)], repeats=repeats, on_rows=show)
    missed = [r for r in rows if r["verdict"] == "MISS"]
    print(f"{sum(r['verdict'] == 'PASS' for r in rows)} PASS, {len(missed)} MISS "
          f"({time.perf_counter() - t0:.0f} s)")
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
    return grading_throughput(n_students=10 if args.quick else 40)


SECTIONS = {"cells": cells_section, "grading": grading_section}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grnn_ref.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=0,
                        help="timed runs per implementation (default 15, 5 with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke test")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default: {','.join(SECTIONS)})")
    args = parser.parse_args(argv)
    if args.repeats < 0:
        parser.error(f"--repeats {args.repeats}: expected a positive number")
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"--sections: unknown {unknown}, expected some of {list(SECTIONS)}")
    return args


def main(argv=None):
    """Run the selected sections in order; returns 0."""
    args = parse_args(argv)
    for i, name in enumerate(args.sections):
        if i:
            print()
        SECTIONS[name](args)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
