"""Properties of the numpy reference for random sizes and both float dtypes (hypothesis).

Every output and gradient has the documented shape and the inputs' dtype; no input (arrays,
parameters, upstream gradients) is modified; the sequence functions equal a loop over the public
step functions; gates lie in their ranges; the sigmoid is stable; init_params follows torch.nn.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grnn_ref import (GATES, dsigmoid_from_output, dtanh_from_output, gru_backward, gru_forward,
                      gru_step_backward, gru_step_forward, init_params, lstm_backward,
                      lstm_forward, lstm_step_backward, lstm_step_forward, rnn_backward,
                      rnn_forward, rnn_step_backward, rnn_step_forward, sigmoid)
from grnn_ref.gru import gru_gates
from grnn_ref.lstm import lstm_gates

sizes = st.integers(min_value=1, max_value=5)
dtypes = st.sampled_from([np.float32, np.float64])
kinds = st.sampled_from(["rnn", "lstm", "gru"])


def _case(kind, T, B, D, H, dtype, seed):
    rng = np.random.default_rng(seed)
    p = init_params(kind, D, H, rng=rng, dtype=dtype)
    a = {name: rng.standard_normal(shape).astype(dtype) for name, shape in
         [("xs", (T, B, D)), ("h0", (B, H)), ("c0", (B, H)), ("dhs", (T, B, H)), ("dcs", (T, B, H))]}
    return p, a


def _snapshot(p, a):
    return [x.copy() for x in p], {k: v.copy() for k, v in a.items()}


def _assert_unchanged(p, a, snapshot):
    p_before, a_before = snapshot
    for x, y in zip(p, p_before):
        np.testing.assert_array_equal(x, y)
    for k in a:
        np.testing.assert_array_equal(a[k], a_before[k], err_msg=k)


def _assert_grads_like(dp, p):
    for g, w in zip(dp, p):
        assert g.shape == w.shape and g.dtype == w.dtype


@settings(max_examples=25, deadline=None)
@given(kind=kinds, T=sizes, B=sizes, D=sizes, H=sizes, dtype=dtypes, seed=st.integers(0, 2**16))
def test_sequence_outputs_have_documented_shapes_and_dtype_and_inputs_are_unchanged(
        kind, T, B, D, H, dtype, seed):
    p, a = _case(kind, T, B, D, H, dtype, seed)
    before = _snapshot(p, a)
    if kind == "lstm":
        hs, cs, cache = lstm_forward(a["xs"], a["h0"], a["c0"], p)
        dxs, dh0, dc0, dp = lstm_backward(a["dhs"], cache, dcs=a["dcs"])
        outs = [(hs, (T, B, H)), (cs, (T, B, H)), (dc0, (B, H))]
        gates = lstm_gates(cache)
    else:
        forward, backward, gate_fn = {"rnn": (rnn_forward, rnn_backward, None),
                                      "gru": (gru_forward, gru_backward, gru_gates)}[kind]
        hs, cache = forward(a["xs"], a["h0"], p)
        dxs, dh0, dp = backward(a["dhs"], cache)
        outs = [(hs, (T, B, H))]
        gates = gate_fn(cache) if gate_fn else {}
    outs += [(dxs, (T, B, D)), (dh0, (B, H))]
    for out, shape in outs:
        assert out.shape == shape and out.dtype == dtype
        assert np.all(np.isfinite(out))
    _assert_grads_like(dp, p)
    for name, gate in gates.items():
        assert gate.shape == (T, B, H) and gate.dtype == dtype
        lo = -1 if name in ("g", "n") else 0
        assert np.all((gate >= lo) & (gate <= 1)), name
    _assert_unchanged(p, a, before)


@settings(max_examples=25, deadline=None)
@given(kind=kinds, B=sizes, D=sizes, H=sizes, dtype=dtypes, seed=st.integers(0, 2**16))
def test_step_outputs_have_documented_shapes_and_dtype_and_inputs_are_unchanged(
        kind, B, D, H, dtype, seed):
    p, a = _case(kind, 1, B, D, H, dtype, seed)
    x, h, c, dh, dc = a["xs"][0], a["h0"], a["c0"], a["dhs"][0], a["dcs"][0]
    before = _snapshot(p, a)
    if kind == "lstm":
        h_next, c_next, cache = lstm_step_forward(x, h, c, p)
        dx, dh_prev, dc_prev, dp = lstm_step_backward(dh, dc, cache)
        outs = [h_next, c_next, dh_prev, dc_prev]
    else:
        forward, backward = {"rnn": (rnn_step_forward, rnn_step_backward),
                             "gru": (gru_step_forward, gru_step_backward)}[kind]
        h_next, cache = forward(x, h, p)
        dx, dh_prev, dp = backward(dh, cache)
        outs = [h_next, dh_prev]
    for out in outs:
        assert out.shape == (B, H) and out.dtype == dtype
    assert dx.shape == (B, D) and dx.dtype == dtype
    _assert_grads_like(dp, p)
    _assert_unchanged(p, a, before)


@settings(max_examples=25, deadline=None)
@given(kind=kinds, T=sizes, B=sizes, D=sizes, H=sizes, seed=st.integers(0, 2**16))
def test_the_sequence_functions_are_a_loop_over_the_step_functions(kind, T, B, D, H, seed):
    p, a = _case(kind, T, B, D, H, np.float64, seed)
    h, c = a["h0"], a["c0"]
    step_hs, caches = [], []
    for t in range(T):
        if kind == "lstm":
            h, c, cache = lstm_step_forward(a["xs"][t], h, c, p)
        else:
            h, cache = {"rnn": rnn_step_forward, "gru": gru_step_forward}[kind](a["xs"][t], h, p)
        step_hs.append(h)
        caches.append(cache)
    if kind == "lstm":
        hs, _, seq_cache = lstm_forward(a["xs"], a["h0"], a["c0"], p)
        _, dh0, _, dp = lstm_backward(a["dhs"], seq_cache)
    else:
        forward, backward = {"rnn": (rnn_forward, rnn_backward),
                             "gru": (gru_forward, gru_backward)}[kind]
        hs, seq_cache = forward(a["xs"], a["h0"], p)
        _, dh0, dp = backward(a["dhs"], seq_cache)
    np.testing.assert_array_equal(hs, np.stack(step_hs))
    # BPTT by hand with the public step backward: dh_t = dhs[t] + (what flows back from t+1)
    dh, dc = np.zeros((B, H)), np.zeros((B, H))
    dW_hh = np.zeros_like(p.W_hh)
    for t in reversed(range(T)):
        if kind == "lstm":
            _, dh, dc, dp_t = lstm_step_backward(a["dhs"][t] + dh, dc, caches[t])
        else:
            step_backward = {"rnn": rnn_step_backward, "gru": gru_step_backward}[kind]
            _, dh, dp_t = step_backward(a["dhs"][t] + dh, caches[t])
        dW_hh += dp_t.W_hh
    np.testing.assert_allclose(dh0, dh, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dp.W_hh, dW_hh, rtol=1e-12, atol=1e-14)


def test_step_gates_from_a_step_cache():
    p, a = _case("lstm", 1, 2, 3, 4, np.float64, 0)
    _, c_next, cache = lstm_step_forward(a["xs"][0], a["h0"], a["c0"], p)
    g = lstm_gates(cache)
    assert list(g) == list(GATES["lstm"]) and g["f"].shape == (2, 4)
    np.testing.assert_allclose(c_next, g["f"] * a["c0"] + g["i"] * g["g"], rtol=1e-14)
    p, a = _case("gru", 1, 2, 3, 4, np.float64, 0)
    h_next, cache = gru_step_forward(a["xs"][0], a["h0"], p)
    g = gru_gates(cache)
    assert list(g) == list(GATES["gru"])
    np.testing.assert_allclose(h_next, (1 - g["z"]) * g["n"] + g["z"] * a["h0"], rtol=1e-14)


# --------------------------------------------------------------------------- activations
@settings(max_examples=25, deadline=None)
@given(dtype=dtypes, scale=st.sampled_from([1.0, 30.0, 1e3, 1e4]), seed=st.integers(0, 2**16))
def test_sigmoid_is_stable_keeps_dtype_and_is_symmetric(dtype, scale, seed):
    x = (np.random.default_rng(seed).uniform(-1, 1, 200) * scale).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # any overflow RuntimeWarning fails the test
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s = sigmoid(x)
    assert s.dtype == dtype and s.shape == x.shape
    assert np.all((s >= 0) & (s <= 1))
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(sigmoid(-x), 1 - s, atol=2 * eps)


def test_sigmoid_matches_the_textbook_formula_where_that_is_safe():
    x = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    assert sigmoid(np.array([1e4, -1e4])).tolist() == [1.0, 0.0]
    # tiny but not zero far in the negative tail, where 1 - sigma(-x) would round to 0
    assert sigmoid(np.array([-700.0]))[0] == pytest.approx(np.exp(-700.0), rel=1e-12)


def test_derivatives_from_outputs():
    """sigma'(a) = e^-a / (1 + e^-a)^2 and tanh'(a) = 1 / cosh(a)^2, written from the outputs."""
    a = np.linspace(-8, 8, 161)
    np.testing.assert_allclose(dsigmoid_from_output(sigmoid(a)),
                               np.exp(-a) / (1 + np.exp(-a)) ** 2, rtol=1e-12)
    np.testing.assert_allclose(dtanh_from_output(np.tanh(a)), 1 / np.cosh(a) ** 2, rtol=1e-9)


# --------------------------------------------------------------------------- init_params
@settings(max_examples=25, deadline=None)
@given(kind=kinds, D=st.integers(1, 40), H=st.integers(1, 40), dtype=dtypes, seed=st.integers(0, 2**16))
def test_init_params_shapes_dtype_and_torch_bounds(kind, D, H, dtype, seed):
    p = init_params(kind, D, H, seed=seed, dtype=dtype)
    G = len(GATES[kind])
    assert [a.shape for a in p] == [(G * H, D), (G * H, H), (G * H,), (G * H,)]
    assert all(a.dtype == dtype for a in p)
    bound = dtype(1 / np.sqrt(H))        # the bound as the array's dtype rounds it
    for a in p:
        assert np.all(np.abs(a) <= bound)
    np.testing.assert_array_equal(p.W_ih, init_params(kind, D, H, seed=seed, dtype=dtype).W_ih)


def test_init_params_fills_the_range_like_torch():
    """U(-1/sqrt(H), 1/sqrt(H)): with 64*65*4 draws the extremes come within 1% of the bound."""
    p = init_params("lstm", 64, 64, seed=0)
    everything = np.concatenate([a.ravel() for a in p])
    bound = 1 / 8
    assert everything.max() > 0.99 * bound and everything.min() < -0.99 * bound
    assert abs(everything.mean()) < 0.01 * bound


def test_init_params_rng_and_seed():
    a = init_params("gru", 3, 4, rng=np.random.default_rng(7))
    b = init_params("gru", 3, 4, seed=7)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="seed or rng, not both"):
        init_params("gru", 3, 4, seed=1, rng=np.random.default_rng(1))


def test_forget_bias_sets_the_total_forget_bias_torch_sees():
    p = init_params("lstm", 3, 4, seed=0, forget_bias=1.0)
    np.testing.assert_array_equal(p.gate("f", "b_ih"), np.ones(4))
    np.testing.assert_array_equal(p.gate("f", "b_hh"), np.zeros(4))
    # other gates keep their random biases
    q = init_params("lstm", 3, 4, seed=0)
    np.testing.assert_array_equal(p.gate("i", "b_ih"), q.gate("i", "b_ih"))
    # with h = c = 0 and x = 0 the forget gate is sigma(b_if + b_hf) = sigma(1)
    zeros = np.zeros((1, 3)), np.zeros((1, 4)), np.zeros((1, 4))
    _, _, cache = lstm_step_forward(*zeros, p)
    np.testing.assert_allclose(lstm_gates(cache)["f"], sigmoid(np.ones((1, 4))), rtol=1e-15)
    with pytest.raises(ValueError, match="forget_bias is for the LSTM only"):
        init_params("gru", 3, 4, seed=0, forget_bias=1.0)


def test_params_gate_slices_the_documented_block():
    p = init_params("lstm", 3, 4, seed=0)
    np.testing.assert_array_equal(p.gate("f", "W_hh"), p.W_hh[4:8])
    np.testing.assert_array_equal(p.gate("o"), p.W_ih[12:16])
    assert (p.input_size, p.hidden_size, p.num_gates, p.kind, p.dtype) == (3, 4, 4, "lstm", np.float64)
    assert init_params("rnn", 2, 5, seed=0).gate("h", "b_hh").shape == (5,)
