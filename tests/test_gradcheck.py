"""Finite differences agree with every analytic backward, and the checker catches a wrong one."""
import numpy as np
import pytest

from grnn_ref import (Params, gru_step_backward, gru_step_forward, init_params,
                      lstm_step_backward, lstm_step_forward, rnn_backward, rnn_forward,
                      rnn_step_backward, rnn_step_forward)
from grnn_ref.gradcheck import (check_gradients, numerical_gradient, numerical_gradient_params,
                                rel_error)

# Measured largest CS231n error over these cases with h = 1e-5: about 1.5e-7 (see gradcheck's
# docstring). A wrong backward is off by 1e-2 or more (test_a_wrong_gradient_is_caught below).
GRADCHECK_TOL = 1e-6
SHAPES = [(4, 2, 3, 5), (1, 1, 2, 3), (6, 3, 4, 4)]


def test_rel_error_is_cs231n_s_measure():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(0.5)
    # entries that are both ~0 are judged against the 1e-8 floor, not divided by zero
    assert rel_error(np.array([0.0]), np.array([1e-12])) == pytest.approx(1e-4)
    p = init_params("gru", 2, 3, seed=0)
    q = p.copy()
    q.b_hh[0] += 1.0
    assert rel_error(p, p) == 0.0 and rel_error(p, q) > 0.1
    with pytest.raises(ValueError, match=r"x has shape \(2,\), y has shape \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))


def test_numerical_gradient_of_a_known_function_and_x_restored_exactly():
    x = np.random.default_rng(0).standard_normal((3, 4))
    before = x.copy()
    df = np.random.default_rng(1).standard_normal((3, 4))
    grad = numerical_gradient(lambda a: a ** 3, x, df)
    assert rel_error(grad, 3 * before ** 2 * df) < 1e-8
    np.testing.assert_array_equal(x, before)
    assert grad.shape == x.shape and grad.dtype == x.dtype


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}B{}D{}H{}".format(*s))
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_check_gradients_sequence_backward_agrees_with_finite_differences(kind, shape, seed):
    errors = check_gradients(kind, *shape, seed=seed)
    expected = {"dxs", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"} | ({"dc0"} if kind == "lstm" else set())
    assert set(errors) == expected
    assert max(errors.values()) < GRADCHECK_TOL, errors


def _step_case(kind, B=3, D=4, H=5, seed=0):
    rng = np.random.default_rng(seed)
    p = init_params(kind, D, H, rng=rng)
    x, h, c, dh, dc = (rng.standard_normal(s) for s in [(B, D), (B, H), (B, H), (B, H), (B, H)])
    return p, x, h, c, dh, dc


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_step_backward_agrees_with_finite_differences(kind):
    forward, backward = {"rnn": (rnn_step_forward, rnn_step_backward),
                         "gru": (gru_step_forward, gru_step_backward)}[kind]
    p, x, h, _, dh, _ = _step_case(kind)
    _, cache = forward(x, h, p)
    dx, dh_prev, dp = backward(dh, cache)
    assert rel_error(dx, numerical_gradient(lambda a: forward(a, h, p)[0], x, dh)) < GRADCHECK_TOL
    assert rel_error(dh_prev, numerical_gradient(lambda a: forward(x, a, p)[0], h, dh)) < GRADCHECK_TOL
    dp_num = numerical_gradient_params(lambda q: forward(x, h, q)[0], p, dh)
    assert isinstance(dp_num, Params)
    assert rel_error(dp, dp_num) < GRADCHECK_TOL


def test_lstm_step_backward_agrees_with_finite_differences_through_h_and_c():
    p, x, h, c, dh, dc = _step_case("lstm")
    _, _, cache = lstm_step_forward(x, h, c, p)
    dx, dh_prev, dc_prev, dp = lstm_step_backward(dh, dc, cache)
    d_out = np.concatenate([dh, dc])

    def both(x_, h_, c_, p_):
        h_next, c_next, _ = lstm_step_forward(x_, h_, c_, p_)
        return np.concatenate([h_next, c_next])

    assert rel_error(dx, numerical_gradient(lambda a: both(a, h, c, p), x, d_out)) < GRADCHECK_TOL
    assert rel_error(dh_prev, numerical_gradient(lambda a: both(x, a, c, p), h, d_out)) < GRADCHECK_TOL
    assert rel_error(dc_prev, numerical_gradient(lambda a: both(x, h, a, p), c, d_out)) < GRADCHECK_TOL
    assert rel_error(dp, numerical_gradient_params(lambda q: both(x, h, c, q), p, d_out)) < GRADCHECK_TOL


def test_a_wrong_gradient_is_caught():
    """Gradient checking is only worth something if it fails on a mistake: W_hh's gradient
    transposed (a classic slip, da^T h vs h^T da) and the gradient of a single step instead
    of the sum over steps are both far above the tolerance."""
    rng = np.random.default_rng(0)
    p = init_params("rnn", 3, 4, rng=rng)
    xs, h0, dhs = rng.standard_normal((5, 2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((5, 2, 4))
    _, cache = rnn_forward(xs, h0, p)
    _, _, dp = rnn_backward(dhs, cache)
    dp_num = numerical_gradient_params(lambda q: rnn_forward(xs, h0, q)[0], p, dhs)
    assert rel_error(dp.W_hh, dp_num.W_hh) < GRADCHECK_TOL
    assert rel_error(dp.W_hh.T, dp_num.W_hh) > 1e-2
    _, last_cache = rnn_forward(xs[-1:], h0, p)          # forgetting to sum over time
    _, _, dp_one = rnn_backward(dhs[-1:], last_cache)
    assert rel_error(dp_one.W_ih, dp_num.W_ih) > 1e-2


def test_check_gradients_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind='lstmm'"):
        check_gradients("lstmm", 2, 1, 2, 2, seed=0)
