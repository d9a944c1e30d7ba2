"""python -m grnn_ref.autograde ASSIGNMENT --jobs N [--resume] [--students ...] [--shard K/N]
python -m grnn_ref.autograde install-kernel [--user | --sys-prefix | --prefix DIR]
python -m grnn_ref.autograde check-sandbox
python -m grnn_ref.autograde bench [--students 40] [--jobs 2] [--assignment ex01_rnn]
python -m grnn_ref.autograde bench-distributed [--workers 2] [--students 5] [--cell-timeout 10]
"""
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "install-kernel":
        from grnn_ref.autograde.kernelspec import main as run
        return run(argv[1:])
    if argv and argv[0] == "check-sandbox":
        from grnn_ref.autograde.kernelspec import check_sandbox_main as run
        return run(argv[1:])
    if argv and argv[0] == "bench-distributed":
        from grnn_ref.autograde.distributed import bench_main as run
        return run(argv[1:])
    if argv and argv[0] == "bench":
        from grnn_ref.autograde.bench import main as run
        return run(argv[1:])
    from grnn_ref.autograde.parallel import main as run
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
