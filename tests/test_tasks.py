"""The long-lag tasks: layout, seeding and the memoryless baselines the course quotes."""
import math

import numpy as np
import pytest

from grnn_ref import tasks


def test_adding_problem_layout_one_marker_in_each_half():
    xs, ys = tasks.adding_problem(500, 40, seed=0)
    assert xs.shape == (40, 500, 2) and ys.shape == (500, 1)
    assert xs.dtype == np.float32 and ys.dtype == np.float32
    marks = xs[:, :, 1]
    assert set(np.unique(marks)) == {0.0, 1.0}
    assert np.all(marks[:20].sum(axis=0) == 1) and np.all(marks[20:].sum(axis=0) == 1)
    assert np.all((xs[:, :, 0] >= 0) & (xs[:, :, 0] < 1))
    np.testing.assert_allclose(ys[:, 0], (xs[:, :, 0] * marks).sum(axis=0), rtol=1e-6)


def test_adding_problem_is_seeded():
    a = tasks.adding_problem(8, 30, seed=3)
    b = tasks.adding_problem(8, 30, seed=3)
    c = tasks.adding_problem(8, 30, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    d = tasks.adding_problem(8, 30, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], d[0])
    assert tasks.adding_problem(2, 5, seed=0, dtype=np.float64)[0].dtype == np.float64


def test_constant_predictor_on_the_adding_problem_scores_one_sixth():
    # the best constant is the mean target, 1; its MSE is Var(U1 + U2) = 1/6
    _, ys = tasks.adding_problem(200_000, 20, seed=1, dtype=np.float64)
    mse = float(np.mean((ys - 1.0) ** 2))
    # standard error of a mean of squared errors: sd((y-1)^2) / sqrt(n) ~ 0.18 / 447 ~ 4e-4
    assert abs(mse - tasks.ADDING_BASELINE_MSE) < 2e-3
    assert abs(float(ys.mean()) - 1.0) < 5e-3
    assert tasks.ADDING_BASELINE_MSE == pytest.approx(1 / 6)


def test_hochreiter_variant_layout_and_baseline():
    xs, ys = tasks.adding_problem(100_000, 100, seed=2, variant="hochreiter", dtype=np.float64)
    marks = xs[:, :, 1]
    assert np.all((marks == 1).sum(axis=0) == 2)
    first = np.argmax(marks == 1, axis=0)
    assert first.max() < 10                    # first mark among the first ten pairs
    last_mark = 99 - np.argmax((marks == 1)[::-1], axis=0)
    assert last_mark.max() < 100 // 2 - 1      # second among the first T/2 - 1 pairs
    assert np.all((xs[:, :, 0] >= -1) & (xs[:, :, 0] <= 1))
    assert np.all((ys >= 0) & (ys <= 1))
    mse = float(np.mean((ys - 0.5) ** 2))
    assert abs(mse - tasks.HOCHREITER_BASELINE_MSE) < 1e-3


def test_copy_task_layout():
    T, n_copy = 7, 10
    inputs, targets = tasks.copy_task(5, T, seed=0)
    L = T + 2 * n_copy
    assert inputs.shape == (L, 5) and targets.shape == (L, 5)
    blank, delim = 8, 9
    assert np.all(inputs[:n_copy] < 8)
    assert np.all(inputs[n_copy:n_copy + T - 1] == blank)
    assert np.all(inputs[n_copy + T - 1] == delim)
    assert np.all(inputs[n_copy + T:] == blank)
    assert np.all(targets[:T + n_copy] == blank)
    np.testing.assert_array_equal(targets[T + n_copy:], inputs[:n_copy])
    oh, _ = tasks.copy_task(5, T, seed=0, one_hot_inputs=True)
    assert oh.shape == (L, 5, 10) and oh.dtype == np.float32
    np.testing.assert_array_equal(oh.argmax(-1), inputs)


def test_copy_baseline_is_the_memoryless_cross_entropy():
    T = 100
    assert tasks.copy_baseline_ce(T) == pytest.approx(10 * math.log(8) / 120)
    # the memoryless strategy: blank with certainty, then uniform over the 8 data symbols
    inputs, targets = tasks.copy_task(2000, T, seed=5)
    probs = np.zeros(targets.shape + (10,))
    probs[:T + 10, :, 8] = 1.0
    probs[T + 10:, :, :8] = 1.0 / 8
    p_true = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
    ce = float(np.mean(-np.log(p_true)))
    assert ce == pytest.approx(tasks.copy_baseline_ce(T), rel=1e-12)


@pytest.mark.parametrize("call, match", [
    (lambda: tasks.adding_problem(0, 10), "n must be"),
    (lambda: tasks.adding_problem(4, 1), "T must be"),
    (lambda: tasks.adding_problem(4, 10, variant="x"), "variant"),
    (lambda: tasks.adding_problem(4, 10, seed=1, rng=np.random.default_rng(1)), "not both"),
    (lambda: tasks.copy_task(4, 0), "T must be"),
])
def test_bad_arguments_raise_clear_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
