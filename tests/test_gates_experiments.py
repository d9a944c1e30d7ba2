"""Inside the gates (chapter 7), and the experiments' command line and presets."""
import os
import subprocess
import sys

import numpy as np
import pytest

import grnn_ref as R
from grnn_ref.experiments import gates as GT


def _hand_built_adding_lstm(H=1, write_at_marker=20.0, hold_bias=10.0, value_gain=0.1):
    """An LSTM whose gates solve the adding problem by construction: the input gate opens only
    at a marker, the forget gate is held near 1, so the cell adds up tanh(0.1 * marked value)."""
    D = 2
    W_ih = np.zeros((4 * H, D))
    W_hh = np.zeros((4 * H, H))
    b = np.zeros(4 * H)
    W_ih[0:H, 1] = write_at_marker           # i = sigma(20 m - 10): open only at the markers
    b[0:H] = -write_at_marker / 2
    b[H:2 * H] = hold_bias                   # f = sigma(10) ~ 1 - 4.5e-5: hold
    W_ih[2 * H:3 * H, 0] = value_gain        # g = tanh(0.1 v)
    b[3 * H:] = hold_bias                    # o ~ 1
    return R.Params(W_ih, W_hh, b, np.zeros(4 * H))


def test_a_forget_gate_held_near_one_keeps_the_marked_values_in_the_cell():
    T = 60
    xs, ys = R.tasks.adding_problem(16, T, seed=0, dtype=np.float64)
    p = _hand_built_adding_lstm()
    trace = GT.gate_trace(p, xs)
    marks = xs[:, :, 1] == 1
    expected = np.tanh(0.1 * np.where(marks, xs[:, :, 0], 0.0)).sum(axis=0)
    # after 60 steps with f = sigma(10) the cell has lost at most 60 * 4.5e-5 of what it holds
    np.testing.assert_allclose(trace["cs"][-1, :, 0], expected, rtol=5e-3)
    stats = GT.marker_gate_stats(trace, xs)
    assert stats["i"]["marked"] > 0.99 and stats["i"]["unmarked"] < 0.01
    assert stats["f"]["unmarked_after_first_mark"] > 0.9999
    tau = GT.time_constants(trace)
    assert tau[0] == pytest.approx(1 / (1 - 1 / (1 + np.exp(-10.0))), rel=1e-6)
    # the cell recursion c_t = f c_{t-1} + i g holds in the recorded trace
    g = trace["gates"]
    c_prev = np.concatenate([np.zeros((1,) + trace["cs"].shape[1:]), trace["cs"][:-1]])
    np.testing.assert_allclose(trace["cs"], g["f"] * c_prev + g["i"] * g["g"], atol=1e-12)


def test_a_forget_gate_at_one_half_loses_the_first_value_within_a_few_steps():
    T, B = 60, 16
    xs, _ = R.tasks.adding_problem(B, T, seed=0, dtype=np.float64)
    trace = GT.gate_trace(_hand_built_adding_lstm(hold_bias=0.0), xs)   # f = sigma(0) = 1/2
    rows = np.arange(B)
    marks = xs[:, :, 1] == 1
    second = T - 1 - np.argmax(marks[::-1], axis=0)
    g_second = np.tanh(0.1 * xs[second, rows, 0])
    # what is left is the second value halved once per step since it was written; the first
    # value (>= 30 steps earlier) contributes < 0.1 * 0.5^30
    np.testing.assert_allclose(trace["cs"][-1, :, 0], g_second * 0.5 ** (T - 1 - second),
                               atol=1e-4)
    assert GT.time_constants(trace)[0] == pytest.approx(2.0, rel=1e-6)


torch = pytest.importorskip("torch")


def test_post_hoc_ablation_changes_the_trained_model_and_gru_traces_are_gates():
    from grnn_ref.experiments import training
    r = training.train("lstm", "adding", 10, steps=30, hidden=8, batch=16, n_test=100,
                       forget_bias=1.0, seed=0)
    base = r.test_loss
    no_f = GT.ablate_post_hoc(r, {"f": 1.0})
    no_o = GT.ablate_post_hoc(r, {"o": 1.0})
    assert np.isfinite(no_f) and np.isfinite(no_o)
    assert no_f != pytest.approx(base, rel=1e-3) and no_o != pytest.approx(base, rel=1e-3)
    with pytest.raises(ValueError, match="gated cell"):
        training.train("rnn", "adding", 5, steps=1, fixed_gates={"f": 1.0})
    g = training.train("gru", "adding", 10, steps=5, hidden=8, batch=8, n_test=20, seed=0)
    xs, _ = R.tasks.adding_problem(3, 10, seed=1, dtype=np.float64)
    tr = GT.gate_trace(g, xs)
    assert set(tr["gates"]) == {"r", "z", "n"}
    assert all(tr["gates"][k].shape == (10, 3, 8) for k in tr["gates"])
    assert np.all((tr["gates"]["z"] > 0) & (tr["gates"]["z"] < 1))


def test_gates_experiment_quick_gives_tables_and_figures(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    from grnn_ref.experiments import run
    res = run("gates", "quick", out=str(tmp_path))
    assert [r["cell"] for r in res.rows] == ["LSTM (forget bias 1)", "GRU"]
    assert {r["ablation"] for r in res.tables["ablation"]} >= {
        "none", "f = 1 (no forget gate, NFG)", "o = 1 (no output gate, NOG)"}
    for name in ("lstm_forget_gate", "gru_update_gate", "time_constants"):
        fig = res.figures[name]
        assert all(ax.get_ylabel() for ax in fig.axes)
        assert any(ax.get_xlabel() for ax in fig.axes)
        assert (tmp_path / f"{name}.svg").exists() and (tmp_path / f"{name}.png").exists()
    assert (tmp_path / "ablation.md").exists() and (tmp_path / "table.json").exists()


# ------------------------------------------------------------------ the command and the presets

def test_importing_the_experiments_does_not_import_torch():
    code = ("import sys, grnn_ref.experiments as E, grnn_ref.tasks; "
            "assert 'torch' not in sys.modules, 'torch imported'; print(E.experiment_names())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "bound" in out.stdout


def test_help_lists_every_experiment():
    from grnn_ref.experiments import experiment_names
    out = subprocess.run([sys.executable, "-m", "grnn_ref.experiments", "--help"],
                         capture_output=True, text=True, check=True)
    for name in experiment_names():
        assert name in out.stdout
    assert "--quick" in out.stdout and "--out" in out.stdout


def test_command_runs_an_experiment_and_saves_table_and_figures(tmp_path):
    out = tmp_path / "bound"
    proc = subprocess.run([sys.executable, "-m", "grnn_ref.experiments", "bound", "--quick",
                           "--out", str(out)], capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert proc.returncode == 0, proc.stderr
    assert "| matrix | regime |" in proc.stdout
    for f in ("table.md", "table.csv", "table.json", "bound.svg", "bound.png", "slopes.svg"):
        assert (out / f).exists(), f


def test_unknown_experiment_and_size_are_rejected():
    from grnn_ref.experiments import run
    with pytest.raises(ValueError, match="unknown experiment"):
        run("nope")
    with pytest.raises(ValueError, match="size"):
        run("bound", size="huge")
