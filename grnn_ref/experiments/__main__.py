"""Command line: python -m grnn_ref.experiments <name> [--size full|book|quick] [--out DIR],
or python -m grnn_ref.experiments chapter-runs [--all] (the chapters' stored runs)."""
import argparse
import os
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["chapter-runs"]:
        # the chapters' stored training runs (grnn_ref/experiments/runstore.py)
        from grnn_ref.experiments.runstore import main as runstore_main
        return runstore_main(argv[1:])
    from grnn_ref.experiments.runner import EXPERIMENTS, SIZES

    listing = "\n".join(f"  {name:<14} {desc}" for name, (_, desc) in EXPERIMENTS.items())
    parser = argparse.ArgumentParser(
        prog="python -m grnn_ref.experiments",
        description="Rerun an experiment of the course and save its tables (markdown, CSV, "
                    "JSON) and figures (SVG, PNG) into results/<name>/.",
        epilog="experiments:\n" + listing + "\n\nchapter-runs: retrain the chapters' stored "
               "training runs where the code changed (python -m grnn_ref.experiments "
               "chapter-runs --help)",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=list(EXPERIMENTS) + ["all"], metavar="name",
                        help="experiment to run (listed below), or 'all'")
    parser.add_argument("--size", choices=SIZES, default="full",
                        help="preset: full (default; minutes), book (< 90 s), quick (seconds)")
    parser.add_argument("--quick", action="store_true", help="same as --size quick")
    parser.add_argument("--out", default=None,
                        help="output directory (default results/<name>)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    import matplotlib
    matplotlib.use("Agg")
    from grnn_ref.experiments.runner import run

    size = "quick" if args.quick else args.size
    names = list(EXPERIMENTS) if args.name == "all" else [args.name]
    for name in names:
        out = args.out if (args.out and len(names) == 1) else os.path.join(
            args.out or "results", name)
        print(f"== {name} ({size}) -> {out}", file=sys.stderr, flush=True)
        res = run(name, size, seed=args.seed, progress=False if args.no_progress else None,
                  out=out)
        print(res.table())
        print(f"({res.wall_time:.1f} s; saved in {out})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
