"""Jacobian products against the bound of Pascanu, Mikolov & Bengio (2013), measured exactly."""
import math

import numpy as np
import pytest

import grnn_ref as R
from grnn_ref.experiments import jacobians as J


def _fd_jacobian(f, x0, eps=1e-6):
    """Central finite differences of a vector function f at x0: (out, in)."""
    cols = []
    for j in range(x0.size):
        e = np.zeros_like(x0)
        e[j] = eps
        cols.append((f(x0 + e) - f(x0 - e)) / (2 * eps))
    return np.stack(cols, axis=1)


def _rng_state(H, seed):
    return np.random.default_rng(seed).uniform(-0.8, 0.8, H)


def test_rnn_step_jacobian_is_diag_tanh_prime_times_w_hh_and_matches_finite_differences():
    p = R.init_params("rnn", 3, 6, seed=0)
    x, h = np.array([0.3, -1.0, 0.5]), _rng_state(6, 1)
    Jx = J.step_jacobian("rnn", x, h, p)
    h_next, _ = R.rnn_step_forward(x[None], h[None], p)
    np.testing.assert_allclose(Jx, J.rnn_step_jacobian_closed_form(h_next[0], p.W_hh), atol=1e-12)
    fd = _fd_jacobian(lambda v: R.rnn_step_forward(x[None], v[None], p)[0][0], h)
    np.testing.assert_allclose(Jx, fd, atol=1e-8)


def test_gru_step_jacobian_matches_finite_differences():
    p = R.init_params("gru", 3, 5, seed=2)
    x, h = np.array([0.3, -1.0, 0.5]), _rng_state(5, 3)
    fd = _fd_jacobian(lambda v: R.gru_step_forward(x[None], v[None], p)[0][0], h)
    np.testing.assert_allclose(J.step_jacobian("gru", x, h, p), fd, atol=1e-8)


def test_lstm_joint_jacobian_matches_finite_differences_and_its_cell_block_is_diag_f():
    H = 4
    p = R.init_params("lstm", 3, H, seed=4)
    x, h, c = np.array([0.3, -1.0, 0.5]), _rng_state(H, 5), _rng_state(H, 6) * 2

    def step(v):
        hn, cn, _ = R.lstm_step_forward(x[None], v[None, :H], v[None, H:], p)
        return np.concatenate([hn[0], cn[0]])

    Jx = J.step_jacobian("lstm", x, h, p, c)
    assert Jx.shape == (2 * H, 2 * H)
    np.testing.assert_allclose(Jx, _fd_jacobian(step, np.concatenate([h, c])), atol=1e-8)
    _, _, cache = R.lstm_step_forward(x[None], h[None], c[None], p)
    f = R.lstm.lstm_gates(cache)["f"][0]
    np.testing.assert_allclose(Jx[H:, H:], np.diag(f), atol=1e-12)


def test_scaled_orthogonal_has_every_singular_value_equal_to_sigma():
    W = J.scaled_orthogonal(16, 1.5, seed=0)
    np.testing.assert_allclose(np.linalg.svd(W, compute_uv=False), 1.5, rtol=1e-12)
    assert J.spectral_norm(W) == pytest.approx(1.5)
    assert J.spectral_radius(W) == pytest.approx(1.5)


def test_the_bound_uses_the_spectral_norm_not_the_frobenius_norm():
    W = np.random.default_rng(0).standard_normal((10, 10)) / math.sqrt(10)
    s_max = np.linalg.svd(W, compute_uv=False)[0]
    np.testing.assert_allclose(J.pascanu_bound(W, [0, 1, 5]), [1, s_max, s_max ** 5], rtol=1e-12)
    assert J.pascanu_bound(W, [1])[0] < 0.9 * np.linalg.norm(W, "fro")


@pytest.mark.parametrize("sigma", [0.5, 0.9, 1.5, 3.0])
def test_linear_regime_measured_log_slope_is_within_5_percent_of_log_sigma(sigma):
    (row,) = J.bound_experiment([sigma], H=32, T=40, n_examples=2, regimes=("linear",))
    assert row["max_abs_h"] < 0.05                   # the state really stayed in the linear regime
    assert row["measured_slope"] == pytest.approx(math.log(sigma), rel=0.05)
    # the predicted slope is log(sigma_max) with the spectral norm; the Frobenius norm would
    # predict log(sigma * sqrt(32)) and miss the measurement by log(sqrt(32)) ~ 1.7 per step
    assert row["measured_slope"] == pytest.approx(row["predicted_slope"], rel=0.05)
    assert row["bound_holds"]


def test_linear_regime_at_sigma_one_neither_vanishes_nor_explodes():
    (row,) = J.bound_experiment([1.0], H=32, T=40, n_examples=2, regimes=("linear",))
    assert abs(row["measured_slope"]) < 1e-3
    assert 0.95 < row["norms"][-1].min() <= 1.0 + 1e-9


@pytest.mark.parametrize("sigma", [0.9, 1.5, 3.0])
def test_saturation_pulls_the_measured_slope_below_the_bound(sigma):
    (row,) = J.bound_experiment([sigma], H=32, T=40, n_examples=2, regimes=("saturated",))
    assert row["mean_tanh_prime"] < 0.8
    assert row["bound_holds"]
    assert row["measured_slope"] < row["predicted_slope"] - 0.1


def test_general_w_hh_decays_at_the_spectral_radius_and_stays_below_the_sigma_max_bound():
    # a Gaussian W_hh is far from normal: sigma_max ~ 2 * spectral radius
    rows = J.general_matrix_experiment(gains=(0.9, 1.1), H=32, T=100, n_examples=1)
    for row in rows:
        assert row["sigma_max"] > 1.5 * row["spectral_radius"]
        assert row["bound_holds"]
        assert row["measured_slope"] == pytest.approx(row["log_spectral_radius"], abs=0.03)
        assert row["measured_slope"] < row["predicted_slope"] - 0.3


def test_tanh_rnn_gradient_at_lag_50_is_below_1e_3_of_lag_1_at_sigma_max_one_half():
    H, T = 32, 50
    p = R.init_params("rnn", 4, H, seed=0)
    p = p._replace(W_hh=J.scaled_orthogonal(H, 0.5, seed=1))
    xs = np.random.default_rng(2).standard_normal((T, 2, 4))
    norms = J.jacobian_products("rnn", p, xs)
    assert np.all(norms[50] < 1e-3 * norms[1])
    assert np.all(norms <= J.pascanu_bound(p.W_hh, np.arange(T + 1))[:, None] * (1 + 1e-9))


def _lstm_with_forget_bias(H, D, fb, seed=0):
    return R.init_params("lstm", D, H, seed=seed, forget_bias=fb)


def test_lstm_cell_path_keeps_more_than_half_its_gradient_over_50_steps_when_f_above_099():
    H, D, T = 16, 2, 50
    p = _lstm_with_forget_bias(H, D, 7.0)
    xs, _ = R.tasks.adding_problem(2, T, seed=0, dtype=np.float64)
    hs, cs, cache = R.lstm_forward(xs, np.zeros((2, H)), np.zeros((2, H)), p)
    f = R.lstm.lstm_gates(cache)["f"]
    assert f.min() >= 0.99
    path = J.cell_path_products(f)                  # prod_{s>t} f_s
    assert path[0].min() > 0.5
    # the same through the exact joint Jacobian (every route from c_0 to c_50, not just the cell's)
    dc = J.jacobian_products("lstm", p, xs, path="c")
    assert dc[T].min() > 0.5


def test_lstm_cell_path_vanishes_at_the_default_forget_gate_near_one_half():
    H, D, T = 16, 2, 50
    p = R.init_params("lstm", D, H, seed=0)
    xs, _ = R.tasks.adding_problem(2, T, seed=0, dtype=np.float64)
    cell = J.jacobian_products("lstm", p, xs, path="cell")
    assert np.all(cell[T] < 1e-6)                    # ~0.5^50
    dc = J.jacobian_products("lstm", p, xs, path="c")
    assert np.all(dc[T] < 1e-6)


def test_measured_log_slope_recovers_a_known_rate_and_ignores_underflow():
    k = np.arange(60)
    norms = 0.7 ** k
    assert J.measured_log_slope(norms) == pytest.approx(math.log(0.7))
    norms[40:] = 0.0
    assert J.measured_log_slope(norms) == pytest.approx(math.log(0.7))
    with pytest.raises(ValueError, match="usable points"):
        J.measured_log_slope(np.zeros(10))


def test_bad_arguments_raise_clear_value_errors():
    p = R.init_params("rnn", 2, 4, seed=0)
    with pytest.raises(ValueError, match="path"):
        J.jacobian_products("rnn", p, np.zeros((3, 2)), path="c")
    with pytest.raises(ValueError, match="kind"):
        J.step_jacobian("lstmm", np.zeros(2), np.zeros(4), p)
    with pytest.raises(ValueError, match="c_prev"):
        J.step_jacobian("lstm", np.zeros(2), np.zeros(4), R.init_params("lstm", 2, 4, seed=0))
    with pytest.raises(ValueError, match="H must be"):
        J.scaled_orthogonal(0, 1.0)
