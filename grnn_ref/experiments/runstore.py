"""Stored training runs for the chapters: each run trained once, by the current code, and kept.

Chapters 3, 4, 6 and 7 train the same kinds of small models (800 steps on the adding and copy
tasks), some of them in more than one chapter. Training them at every clean build of the website
cost most of the build's CPU time. `book_train` is `training.train` with a store:

    from grnn_ref.experiments.runstore import book_train
    run = book_train("lstm", "adding", 50, steps=800, forget_bias=1.0, ...)   # a TrainResult
    runs = book_train_all({"a": dict(cell="lstm", ...), "b": ...})   # {label: TrainResult}

- the store is ``grnn_ref/data/chapter_runs/<key>.pt``, one file per run, keyed by the complete
  configuration (every argument of `train`, defaults filled in);
- each file records the *fingerprint* of the code that trained it: a hash of the source files
  that training reads (see `TRAINING_SOURCES`) and the torch version. A stored run is used only
  while the fingerprint still matches; otherwise, or when the configuration is not stored,
  `book_train` trains live, exactly as `train` would, so a chapter is never shown a run the
  current code did not produce;
- every live run (a *miss*) is appended to the file named by ``$GRNN_RUNSTORE_LOG``, if set. The
  site tests set it for the book build and fail on a miss, naming the command that refreshes the
  store: ``python -m grnn_ref.experiments chapter-runs`` (retrain every stored configuration whose
  fingerprint is stale, and every configuration in the log).

The stored results are the complete `TrainResult` (curves, gradient norms, weights) of a real
run; `tests/test_runstore.py` retrains one stored configuration and compares.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
from dataclasses import fields
from pathlib import Path

__all__ = ["book_train", "book_train_all", "run_key", "code_fingerprint", "STORE_DIR", "TRAINING_SOURCES",
           "stored_runs", "refresh", "main"]

_PKG = Path(__file__).resolve().parents[1]
STORE_DIR = _PKG / "data" / "chapter_runs"
#: The source files a training run reads (relative to grnn_ref/): a change to any of them
#: (even a comment) makes every stored run stale.
TRAINING_SOURCES = ("experiments/training.py", "experiments/clipping.py", "tasks.py",
                    "modules.py", "experiments/jacobians.py")
#: Arguments of `train` that do not change the result.
_IGNORED = ("progress",)
LOG_ENV = "GRNN_RUNSTORE_LOG"
REFRESH_COMMAND = "python -m grnn_ref.experiments chapter-runs"


def code_fingerprint() -> str:
    """Hash of the training sources and the torch version (torch is imported)."""
    import torch

    h = hashlib.sha256()
    for rel in TRAINING_SOURCES:
        h.update(rel.encode())
        h.update((_PKG / rel).read_bytes())
    h.update(f"torch {torch.__version__}".encode())
    return h.hexdigest()[:20]


def _normalise(args, kwargs) -> dict:
    """The complete configuration of a `train` call (defaults filled in), as JSON-able values."""
    from grnn_ref.experiments.training import train

    bound = inspect.signature(train).bind(*args, **kwargs)
    bound.apply_defaults()
    config = {k: v for k, v in bound.arguments.items() if k not in _IGNORED}
    try:
        json.dumps(config, sort_keys=True)
    except TypeError as e:
        raise TypeError(f"book_train: every argument must be a plain value (numbers, strings, "
                        f"None, dicts of those) so that the run can be stored; got {config!r}"
                        ) from e
    return config


def run_key(config: dict) -> str:
    """The store key of a complete configuration."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _path(config: dict, store=None) -> Path:
    return Path(store or STORE_DIR) / f"{run_key(config)}.pt"


def _save(config: dict, result, fingerprint: str, store=None) -> Path:
    import torch

    Path(store or STORE_DIR).mkdir(parents=True, exist_ok=True)
    state = {f.name: getattr(result, f.name) for f in fields(result)}
    # curves as float64 arrays: much smaller pickled than lists of (step, loss) tuples
    import numpy as np
    for name in ("curve", "test_curve"):
        state[name] = np.asarray(state[name], dtype=np.float64)
    payload = {"format": 1, "fingerprint": fingerprint, "train_config": config,
               "result": state}
    path = _path(config, store)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _load(path: Path):
    """(train_config, fingerprint, TrainResult) of a stored run."""
    import torch

    from grnn_ref.experiments.training import TrainResult

    # the course's own files (a TrainResult's fields: lists, arrays, tensors, plain values)
    payload = torch.load(path, map_location="cpu", weights_only=False)
    state = dict(payload["result"])
    for name in ("curve", "test_curve"):
        state[name] = [(int(s), float(v)) for s, v in state[name]]
    return payload["train_config"], payload["fingerprint"], TrainResult(**state)


def stored_runs():
    """[(path, train_config, fingerprint, TrainResult)] of every stored run."""
    return [(p, *_load(p)) for p in sorted(STORE_DIR.glob("*.pt"))]


def _log_miss(config: dict, reason: str):
    log = os.environ.get(LOG_ENV)
    if not log:
        return
    with open(log, "a", encoding="utf-8") as f:
        f.write(json.dumps({"train_config": config, "reason": reason}, sort_keys=True) + "\n")


def book_train(*args, **kwargs):
    """`training.train(*args, **kwargs)`, answered from the store when the current code trained
    this exact configuration before; otherwise trained live (and the miss logged).

    The result's `stored` attribute says which: True (from the store) or False (trained now).
    """
    from grnn_ref.experiments.training import train

    config = _normalise(args, kwargs)
    result, reason = _stored(config)
    if result is not None:
        return result
    _log_miss(config, reason)
    result = train(**config, progress=kwargs.get("progress"))
    result.stored = False
    return result


def _stored(config):
    """(the stored TrainResult of a complete configuration, None), or (None, why no stored run
    may answer it)."""
    path = _path(config)
    if not path.exists():
        return None, "not stored"
    stored_config, fingerprint, result = _load(path)
    if stored_config != config:    # a key collision: never answer another run
        return None, "key collision"
    if fingerprint != code_fingerprint():
        return None, "stored by other code (stale fingerprint)"
    result.stored = True
    return result, None


def _train_live(config):
    from grnn_ref.experiments.training import train

    result = train(**config, progress=False)
    result.stored = False
    return result


def book_train_all(runs, processes=2):
    """{label: keyword arguments of `train`} -> {label: TrainResult}, in the same order.

    Each run is answered from the store as by `book_train`; the runs that are not (each logged
    as a miss) train live, `processes` at a time, each in its own process (one torch thread per
    run; a process is started only when a run must train)."""
    configs = {label: _normalise((), kw) for label, kw in runs.items()}
    results, missing = {}, {}
    for label, config in configs.items():
        results[label], reason = _stored(config)
        if results[label] is None:
            _log_miss(config, reason)
            missing[label] = config
    if missing:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(max(1, min(processes, len(missing))),
                                 mp_context=get_context("spawn")) as pool:
            futures = {label: pool.submit(_train_live, c) for label, c in missing.items()}
            for label, fut in futures.items():
                results[label] = fut.result()
    return {label: results[label] for label in runs}


def _train_and_store(config, store):
    from grnn_ref.experiments.training import train

    result = train(**config, progress=False)
    return _save(config, result, code_fingerprint(), store), result


def refresh(*, log=None, all_runs=False, jobs=2, out=sys.stdout):
    """Retrain every stored run whose fingerprint is stale (all of them with all_runs) and every
    configuration listed in the miss log `log`; returns the paths written."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    current = code_fingerprint()
    todo = {}
    for path, config, fingerprint, _ in stored_runs():
        if all_runs or fingerprint != current:
            todo[run_key(config)] = config
    if log and Path(log).exists():
        for line in Path(log).read_text(encoding="utf-8").splitlines():
            if line.strip():
                config = json.loads(line)["train_config"]
                todo[run_key(config)] = config
    print(f"{len(todo)} run(s) to train (code fingerprint {current})", file=out, flush=True)
    written = []
    with ProcessPoolExecutor(max(1, jobs), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_train_and_store, c, STORE_DIR) for c in todo.values()]
        for fut in futures:
            path, result = fut.result()
            written.append(path)
            print(f"  {path.name}: {result.cell} {result.task} T={result.T} "
                  f"test loss {result.test_loss:.4g} ({result.cpu_time:.0f} s CPU)",
                  file=out, flush=True)
    return written


def main(argv=None):
    import argparse

    p = argparse.ArgumentParser(
        prog=REFRESH_COMMAND,
        description="Train the chapters' stored runs again where the training code changed "
                    "(grnn_ref/data/chapter_runs/), and the runs a book build had to train live "
                    "(the log of $GRNN_RUNSTORE_LOG; the site tests write "
                    "_build/.runstore-misses.jsonl).")
    p.add_argument("--log", default=os.path.join("_build", ".runstore-misses.jsonl"),
                   help="miss log of a book build (default: %(default)s)")
    p.add_argument("--all", action="store_true", help="retrain every stored run")
    p.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    a = p.parse_args(argv)
    refresh(log=a.log, all_runs=a.all, jobs=a.jobs)
    return 0
