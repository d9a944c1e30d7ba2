"""Exercise 7's answers accept the notebook's procedure and reject the wrong ones a student may
follow by mistake: a signed correlation, the hidden state instead of the cell state, and an argmax
over NaN correlations (numpy's argmax of all-NaN is 0). The trained LSTM's units were permuted and
its memory unit's sign flipped (an exact symmetry of the network: same predictions) so that each of
these procedures gives a different answer from the right one."""
from pathlib import Path

import numpy as np
import pytest

import grnn_ref.grading as G
from grnn_ref.grading import reference as R
from grnn_ref.lstm import lstm_forward
from grnn_ref.tasks import adding_problem


def _trace():
    p = R.ex07_weights()
    xs, ys = adding_problem(**R.EX07_EVAL)
    xs = xs.astype(np.float64)
    B, H = xs.shape[1], p.W_hh.shape[1]
    hs, cs, _ = lstm_forward(xs, np.zeros((B, H)), np.zeros((B, H)), p)
    return hs, cs, ys[:, 0], H


def _answers(states, ys, H, signed=False):
    corr = [np.corrcoef(states[-1][:, u], ys)[0, 1] for u in range(H)]
    if not signed:
        corr = [abs(c) for c in corr]
    unit = int(np.argmax(corr))
    return unit, float(corr[unit])


def _passes(unit, correlation):
    try:
        G.check_ex07_memory_unit(unit)
        G.check_ex07_memory_correlation(correlation)
    except AssertionError:
        return False
    return True


def test_the_notebooks_procedure_passes(capsys):
    hs, cs, ys, H = _trace()
    assert _passes(*_answers(cs, ys, H))


@pytest.mark.parametrize("mistake", ["signed correlation", "hidden state", "argmax over NaN"])
def test_a_wrong_procedure_is_rejected(mistake, capsys):
    hs, cs, ys, H = _trace()
    if mistake == "signed correlation":
        answer = _answers(cs, ys, H, signed=True)
    elif mistake == "hidden state":
        answer = _answers(hs, ys, H)
    else:
        answer = (int(np.argmax([np.nan] * H)), float("nan"))
    assert not _passes(*answer)


def test_the_permuted_weights_still_solve_the_adding_problem():
    hs, cs, ys, H = _trace()
    w = np.load(Path(G.__file__).resolve().parents[2] / "solutions" / "ex07_gates"
                / R.EX07_WEIGHTS)
    y = hs[-1] @ w["w_out"].T + w["b_out"]
    assert float(np.mean((y[:, 0] - ys) ** 2)) < 0.001    # the baseline is 1/6
    unit, _ = _answers(cs, ys, H)
    assert unit != 0                                        # not numpy's all-NaN argmax
