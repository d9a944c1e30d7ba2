"""The training harness: determinism, results, and a short run where a gated cell beats the RNN."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import grnn_ref as R  # noqa: E402
from grnn_ref import tasks  # noqa: E402
from grnn_ref.experiments import training  # noqa: E402

TINY = dict(T=8, steps=15, hidden=8, batch=8, n_test=50, eval_every=5)


def test_same_seed_same_run_different_seed_different_run():
    a = training.train("lstm", "adding", seed=1, **TINY)
    b = training.train("lstm", "adding", seed=1, **TINY)
    c = training.train("lstm", "adding", seed=2, **TINY)
    assert a.curve == b.curve and a.test_loss == b.test_loss
    for k in a.state_dict:
        assert torch.equal(a.state_dict[k], b.state_dict[k])
    assert a.curve != c.curve


def test_result_holds_curves_flags_and_a_loadable_model():
    threads = torch.get_num_threads()
    r = training.train("gru", "adding", seed=0, **TINY)
    assert torch.get_num_threads() == threads            # the harness restores torch's setting
    assert [s for s, _ in r.curve] == list(range(15))
    assert [s for s, _ in r.test_curve] == [5, 10, 15]
    assert r.test_curve[-1][1] == r.test_loss and np.isfinite(r.test_loss)
    assert not r.diverged and r.diverged_at is None
    assert r.baseline == pytest.approx(tasks.ADDING_BASELINE_MSE)
    assert r.grad_norms.shape == (15,) and np.all(r.grad_norms > 0)
    assert r.wall_time > 0
    # the trained cell loads into torch.nn.GRU and into the numpy reference, same outputs
    p = r.params()
    assert isinstance(p, R.Params) and p.kind == "gru"
    xs, _ = tasks.adding_problem(3, 8, seed=9, dtype=np.float64)
    gru = torch.nn.GRU(2, 8).double()
    p.load_into(gru)
    hs_torch, _ = gru(torch.as_tensor(xs))
    hs_ref, _ = R.gru_forward(xs, np.zeros((3, 8)), p)
    np.testing.assert_allclose(hs_torch.detach().numpy(), hs_ref, atol=1e-10)
    assert set(r.summary()) >= {"cell", "task", "T", "test_loss", "baseline", "diverged"}


def test_copy_task_runs_with_cross_entropy_and_its_baseline():
    r = training.train("lstm", "copy", seed=0, **dict(TINY, T=5))
    assert r.baseline == pytest.approx(tasks.copy_baseline_ce(5))
    # the first batch: near-uniform predictions over 10 classes give ~log 10
    assert r.curve[0][1] == pytest.approx(np.log(10), rel=0.15)


def test_forget_bias_sets_the_total_forget_gate_bias():
    # grnn_ref.modules.set_forget_bias itself is tested in test_modules.py
    r = training.train("lstm", "adding", forget_bias=3.0, seed=0, **dict(TINY, steps=1))
    p = r.params()
    # one Adam step of lr 1e-3 moves each bias by at most ~1e-3
    np.testing.assert_allclose(p.gate("f", "b_ih") + p.gate("f", "b_hh"), 3.0, atol=3e-3)


def test_progress_bar_is_quiet_when_stderr_is_not_a_terminal(capsys):
    training.train("rnn", "adding", seed=0, **TINY)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_a_gated_cell_beats_the_tanh_rnn_on_a_short_adding_run():
    # seconds on one core: T = 20, 300 Adam steps at lr 1e-2, H = 16
    cfg = dict(T=20, steps=300, hidden=16, batch=32, lr=1e-2, n_test=500, seed=0)
    rnn = training.train("rnn", "adding", **cfg)
    gru = training.train("gru", "adding", **cfg)
    assert gru.test_loss < 0.2 * rnn.test_loss
    assert gru.test_loss < 0.1 * tasks.ADDING_BASELINE_MSE
    assert rnn.test_loss > 0.8 * tasks.ADDING_BASELINE_MSE


@pytest.mark.parametrize("kw, match", [
    (dict(cell="cnn"), "cell must be"),
    (dict(task="sort"), "task must be"),
    (dict(steps=0), "steps must be"),
    (dict(forget_bias=1.0), "forget_bias is for the LSTM"),
    (dict(clip=0.0), "clip must be"),
    (dict(optimizer="rmsprop"), "optimizer must be"),
])
def test_bad_arguments_raise_clear_value_errors(kw, match):
    args = dict(cell="rnn", task="adding", T=5, steps=2)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        training.train(args.pop("cell"), args.pop("task"), args.pop("T"), **args)


@pytest.mark.slow
@pytest.mark.parametrize("cell, kw, below", [
    ("rnn", {}, None),
    ("gru", {}, 0.01),
    ("lstm", {"forget_bias": 1.0, "lr": 3e-3}, 0.01),
])
def test_full_size_adding_problem_at_t100(cell, kw, below):
    r = training.train(cell, "adding", 100, steps=3000, seed=0, **kw)
    if below is None:
        # the tanh RNN stays at the memoryless baseline 1/6
        assert abs(r.test_loss - tasks.ADDING_BASELINE_MSE) < 0.01
    else:
        assert r.test_loss < below


@pytest.mark.slow
def test_full_size_copy_task_at_t100_gated_cell_beats_the_memoryless_baseline():
    cfg = dict(steps=3000, lr=3e-3, seed=0)
    lstm = training.train("lstm", "copy", 100, forget_bias=1.0, **cfg)
    rnn = training.train("rnn", "copy", 100, **cfg)
    assert lstm.test_loss < 0.97 * tasks.copy_baseline_ce(100)
    assert rnn.test_loss > 0.99 * tasks.copy_baseline_ce(100)
