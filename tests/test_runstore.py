"""The chapters' stored training runs (grnn_ref/experiments/runstore.py) are what the current code
trains: every stored run carries the current code's fingerprint, a stored run retrained from
scratch gives the same result, and `book_train` answers from the store only for the exact
configuration and code that made it (otherwise it trains live and logs the miss)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from grnn_ref.experiments import runstore  # noqa: E402
from grnn_ref.experiments.training import train  # noqa: E402

STORED = runstore.stored_runs()


def test_the_store_holds_the_chapters_runs_and_every_one_is_current():
    assert len(STORED) >= 10, "grnn_ref/data/chapter_runs/ should hold the chapters' runs"
    current = runstore.code_fingerprint()
    stale = [p.name for p, _, fingerprint, _ in STORED if fingerprint != current]
    assert not stale, (
        f"{len(stale)} stored run(s) were trained by other code than the current "
        f"{runstore.TRAINING_SOURCES}: run `{runstore.REFRESH_COMMAND}` and commit "
        f"grnn_ref/data/chapter_runs/ ({stale[:5]})")
    for path, config, _, result in STORED:
        assert path.stem == runstore.run_key(config)
        assert (result.cell, result.task, result.T) == (config["cell"], config["task"],
                                                        config["T"])
        assert len(result.curve) == config["steps"] and np.isfinite(result.test_loss)


def test_a_stored_run_retrained_from_scratch_gives_the_same_result():
    # the cheapest stored run (by the CPU time it took), trained again by `train` itself
    path, config, _, stored = min(STORED, key=lambda s: s[3].cpu_time)
    fresh = train(**config, progress=False)
    assert fresh.test_loss == pytest.approx(stored.test_loss, rel=1e-4, abs=1e-7)
    np.testing.assert_allclose([v for _, v in fresh.curve], [v for _, v in stored.curve],
                               rtol=1e-4, atol=1e-7)
    for name, tensor in fresh.state_dict.items():
        np.testing.assert_allclose(tensor.numpy(), stored.state_dict[name].numpy(),
                                   rtol=1e-4, atol=1e-6, err_msg=name)


TINY = dict(cell="gru", task="adding", T=5, steps=3, hidden=4, batch=2, n_test=4, seed=1)


@pytest.fixture
def empty_store(tmp_path, monkeypatch):
    monkeypatch.setattr(runstore, "STORE_DIR", tmp_path / "store")
    log = tmp_path / "misses.jsonl"
    monkeypatch.setenv(runstore.LOG_ENV, str(log))
    return log


def _misses(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_book_train_trains_live_and_logs_a_miss_then_answers_from_the_refreshed_store(
        empty_store):
    live = runstore.book_train(**TINY)
    assert live.stored is False
    (miss,) = _misses(empty_store)
    assert miss["reason"] == "not stored" and miss["train_config"]["hidden"] == 4

    written = runstore.refresh(log=empty_store, jobs=1, out=open("/dev/null", "w"))
    assert [p.parent for p in written] == [runstore.STORE_DIR]

    empty_store.unlink()
    again = runstore.book_train(**TINY, progress=False)   # progress is not part of the key
    assert again.stored is True and not _misses(empty_store)
    assert again.test_loss == pytest.approx(live.test_loss, rel=1e-6)
    assert [s for s, _ in again.curve] == [s for s, _ in live.curve]
    np.testing.assert_allclose([v for _, v in again.curve], [v for _, v in live.curve],
                               rtol=1e-6)


def test_book_train_does_not_answer_another_configuration_or_other_code(empty_store,
                                                                        monkeypatch):
    runstore._save(runstore._normalise((), TINY), train(**TINY), runstore.code_fingerprint())

    other = runstore.book_train(**{**TINY, "lr": 2e-3})
    assert other.stored is False
    assert _misses(empty_store)[-1]["reason"] == "not stored"

    monkeypatch.setattr(runstore, "code_fingerprint", lambda: "changed-code")
    stale = runstore.book_train(**TINY)
    assert stale.stored is False
    assert _misses(empty_store)[-1]["reason"].startswith("stored by other code")


def test_arguments_that_cannot_be_stored_are_refused_with_the_reason(empty_store):
    with pytest.raises(TypeError, match="plain value"):
        runstore.book_train(**{**TINY, "fixed_gates": {"f": object()}})


def test_book_train_all_answers_stored_runs_without_training_and_trains_only_the_misses(
        empty_store, monkeypatch):
    runstore._save(runstore._normalise((), TINY), train(**TINY), runstore.code_fingerprint())
    other = {**TINY, "seed": 2}
    out = runstore.book_train_all({"stored": TINY, "new": other}, processes=1)
    assert list(out) == ["stored", "new"]
    assert out["stored"].stored is True and out["new"].stored is False
    assert [m["train_config"]["seed"] for m in _misses(empty_store)] == [2]
    assert out["new"].test_loss == pytest.approx(train(**other).test_loss, rel=1e-6)

    # all stored: nothing trains (a training call here would fail the test)
    monkeypatch.setattr(runstore, "_train_live", None)
    again = runstore.book_train_all({"stored": TINY})
    assert again["stored"].stored is True
