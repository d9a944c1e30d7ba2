"""Bad input fails early with a message naming the function, the argument, what was seen and
what was expected (not a numpy broadcasting error three lines into the maths)."""
import re

import numpy as np
import pytest

import grnn_ref as g
from grnn_ref import Params, init_params

B, D, H, T = 3, 5, 4, 2


def zeros(*shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


def raises(match):
    return pytest.raises(ValueError, match=re.escape(match))


P = {kind: init_params(kind, D, H, seed=0) for kind in ("rnn", "lstm", "gru")}


def test_the_message_of_the_course_example():
    with raises("lstm_step_forward: h_prev has shape (3, 5), expected (B, H) = (3, 4)"):
        g.lstm_step_forward(zeros(B, D), zeros(B, 5), zeros(B, H), P["lstm"])


# (function, args builder, message): every input argument of every forward, wrong in one place.
FORWARD_SHAPE_CASES = [
    (g.rnn_step_forward, lambda: (zeros(B, D + 1), zeros(B, H), P["rnn"]),
     "rnn_step_forward: x has shape (3, 6), expected (B, D) = (3, 5)"),
    (g.rnn_step_forward, lambda: (zeros(B, D), zeros(B + 1, H), P["rnn"]),
     "rnn_step_forward: h_prev has shape (4, 4), expected (B, H) = (3, 4)"),
    (g.rnn_step_forward, lambda: (zeros(D), zeros(B, H), P["rnn"]),
     "rnn_step_forward: x has shape (5,), expected a 2-D array (B, D)"),
    (g.lstm_step_forward, lambda: (zeros(B, D), zeros(B, H), zeros(H, B), P["lstm"]),
     "lstm_step_forward: c_prev has shape (4, 3), expected (B, H) = (3, 4)"),
    (g.gru_step_forward, lambda: (zeros(B, D), zeros(B, 2 * H), P["gru"]),
     "gru_step_forward: h_prev has shape (3, 8), expected (B, H) = (3, 4)"),
    (g.rnn_forward, lambda: (zeros(B, D), zeros(B, H), P["rnn"]),
     "rnn_forward: xs has shape (3, 5), expected a 3-D array (T, B, D)"),
    (g.rnn_forward, lambda: (zeros(T, B, D), zeros(1, B, H), P["rnn"]),
     "rnn_forward: h0 has shape (1, 3, 4), expected (B, H) = (3, 4)"),
    (g.lstm_forward, lambda: (zeros(T, B, D - 1), zeros(B, H), zeros(B, H), P["lstm"]),
     "lstm_forward: xs has shape (2, 3, 4), expected (T, B, D) = (2, 3, 5)"),
    (g.lstm_forward, lambda: (zeros(T, B, D), zeros(B, H), zeros(B, H + 1), P["lstm"]),
     "lstm_forward: c0 has shape (3, 5), expected (B, H) = (3, 4)"),
    (g.gru_forward, lambda: (zeros(T, B, D), zeros(B, H - 1), P["gru"]),
     "gru_forward: h0 has shape (3, 3), expected (B, H) = (3, 4)"),
    (g.gru_forward, lambda: (zeros(0, B, D), zeros(B, H), P["gru"]),
     "gru_forward: xs has shape (0, 3, 5): T = 0 time steps, expected T >= 1"),
]


@pytest.mark.parametrize("fn, args, message", FORWARD_SHAPE_CASES,
                         ids=[m.split(":")[0] + "-" + m.split()[1] for _, _, m in FORWARD_SHAPE_CASES])
def test_wrong_input_shapes_name_argument_seen_and_expected(fn, args, message):
    with raises(message):
        fn(*args())


@pytest.mark.parametrize("kind, other, message", [
    ("lstm", "gru", "lstm_forward: p.W_ih has 12 rows, expected 4*H = 16 for an LSTM"),
    ("gru", "lstm", "gru_forward: p.W_ih has 16 rows, expected 3*H = 12 for a GRU"),
    ("rnn", "lstm", "rnn_forward: p.W_ih has 16 rows, expected 1*H = 4 for an RNN"),
])
def test_parameters_of_another_cell_are_named(kind, other, message):
    forward = getattr(g, f"{kind}_forward")
    states = (zeros(B, H), zeros(B, H)) if kind == "lstm" else (zeros(B, H),)
    with raises(message) as info:
        forward(zeros(T, B, D), *states, P[other])
    assert info.match("look like the parameters of")


@pytest.mark.parametrize("field, bad, message", [
    # H is read from W_hh's columns, so a W_hh with 5 columns makes W_ih's 16 rows wrong
    ("W_hh", zeros(16, 5), "p.W_ih has 16 rows, expected 4*H = 20 for an LSTM (H = 5 from p.W_hh.shape[1])"),
    ("W_hh", zeros(12, 4), "p.W_hh has 12 rows, expected 4*H = 16 for an LSTM"),
    ("W_ih", zeros(12, D), "p.W_ih has 12 rows, expected 4*H = 16 for an LSTM"),
    ("b_ih", zeros(16, 1), "p.b_ih has shape (16, 1), expected (4*H,) = (16,)"),
    ("b_hh", zeros(15), "p.b_hh has shape (15,), expected (4*H,) = (16,)"),
    ("W_ih", zeros(16), "p.W_ih has shape (16,), expected a 2-D array (G*H, D)"),
])
def test_mismatched_parameter_sizes(field, bad, message):
    p = P["lstm"]._replace(**{field: bad})
    with raises("lstm_step_forward: " + message):
        g.lstm_step_forward(zeros(B, D), zeros(B, H), zeros(B, H), p)


def test_input_size_mismatch_between_x_and_parameters():
    p = init_params("gru", 7, H, seed=0)
    with raises("gru_step_forward: x has shape (3, 5), expected (B, D) = (3, 7)"):
        g.gru_step_forward(zeros(B, D), zeros(B, H), p)


@pytest.mark.parametrize("name", ["xs", "h0", "c0"])
def test_mixed_float_dtypes_name_the_argument_and_both_dtypes(name):
    args = {"xs": zeros(T, B, D), "h0": zeros(B, H), "c0": zeros(B, H)}
    args[name] = args[name].astype(np.float32)
    with raises(f"lstm_forward: {name} has dtype float32, but p has dtype float64"):
        g.lstm_forward(args["xs"], args["h0"], args["c0"], P["lstm"])


def test_float32_inputs_with_float64_params_and_mixed_params():
    with raises("rnn_step_forward: x has dtype float32, but p has dtype float64"):
        g.rnn_step_forward(zeros(B, D, dtype=np.float32), zeros(B, H, dtype=np.float32), P["rnn"])
    p = P["rnn"]._replace(b_hh=P["rnn"].b_hh.astype(np.float32))
    with raises("rnn_step_forward: p.b_hh has dtype float32, but p.W_ih has dtype float64"):
        g.rnn_step_forward(zeros(B, D), zeros(B, H), p)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128, bool])
def test_non_float_inputs_are_rejected(dtype):
    with raises(f"gru_forward: xs has dtype {np.dtype(dtype)}, expected float32 or float64"):
        g.gru_forward(np.zeros((T, B, D), dtype=dtype), zeros(B, H), P["gru"])


def test_none_and_non_params_are_rejected():
    with raises("rnn_forward: h0 is None, expected a float32 or float64 numpy array"):
        g.rnn_forward(zeros(T, B, D), None, P["rnn"])
    with raises("rnn_forward: p must be a Params(W_ih, W_hh, b_ih, b_hh), got tuple"):
        g.rnn_forward(zeros(T, B, D), zeros(B, H), tuple(P["rnn"])[:3])
    # a plain 4-tuple in the right order is accepted
    hs, _ = g.rnn_forward(zeros(T, B, D), zeros(B, H), tuple(P["rnn"]))
    assert hs.shape == (T, B, H)


# --------------------------------------------------------------------------- backward checks
def _caches():
    xs, h0, c0 = zeros(T, B, D), zeros(B, H), zeros(B, H)
    return {
        "rnn": g.rnn_forward(xs, h0, P["rnn"])[1],
        "lstm": g.lstm_forward(xs, h0, c0, P["lstm"])[2],
        "gru": g.gru_forward(xs, h0, P["gru"])[1],
        "rnn_step": g.rnn_step_forward(xs[0], h0, P["rnn"])[1],
        "lstm_step": g.lstm_step_forward(xs[0], h0, c0, P["lstm"])[2],
        "gru_step": g.gru_step_forward(xs[0], h0, P["gru"])[1],
    }


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_upstream_gradient_shapes_and_dtype(kind):
    caches = _caches()
    backward = getattr(g, f"{kind}_backward")
    with raises(f"{kind}_backward: dhs has shape (2, 3, 5), expected (T, B, H) = (2, 3, 4)"):
        backward(zeros(T, B, H + 1), caches[kind])
    with raises(f"{kind}_backward: dhs has dtype float32, but the forward pass ran in float64"):
        backward(zeros(T, B, H, dtype=np.float32), caches[kind])
    step_backward = getattr(g, f"{kind}_step_backward")
    extra = (zeros(B, H),) if kind == "lstm" else ()
    with raises(f"{kind}_step_backward: dh_next has shape (3,), expected (B, H) = (3, 4)"):
        step_backward(zeros(B), *extra, caches[f"{kind}_step"])


def test_lstm_backward_dcs_and_dc_next_shapes():
    caches = _caches()
    with raises("lstm_backward: dcs has shape (3, 4), expected (T, B, H) = (2, 3, 4)"):
        g.lstm_backward(zeros(T, B, H), caches["lstm"], dcs=zeros(B, H))
    with raises("lstm_step_backward: dc_next has shape (3, 5), expected (B, H) = (3, 4)"):
        g.lstm_step_backward(zeros(B, H), zeros(B, H + 1), caches["lstm_step"])


@pytest.mark.parametrize("backward, cache_of, forward_name", [
    ("rnn_backward", "lstm", "rnn_forward"),
    ("gru_backward", "gru_step", "gru_forward"),
    ("lstm_step_backward", "lstm", "lstm_step_forward"),
    ("rnn_step_backward", "gru_step", "rnn_step_forward"),
])
def test_a_backward_only_takes_its_own_forwards_cache(backward, cache_of, forward_name):
    fn = getattr(g, backward)
    extra = (zeros(B, H),) if backward == "lstm_step_backward" else ()
    upstream = zeros(B, H) if "step" in backward else zeros(T, B, H)
    with raises(f"{backward}: cache is a ") as info:
        fn(upstream, *extra, _caches()[cache_of])
    assert info.match(re.escape(f"expected the cache returned by grnn_ref's {forward_name}"))


# --------------------------------------------------------------------------- params helpers
def test_init_params_bad_arguments():
    with raises("init_params: kind='lsmt', expected one of ('rnn', 'lstm', 'gru')"):
        init_params("lsmt", 3, 4)
    with raises("init_params: hidden_size=0, expected a positive integer"):
        init_params("gru", 3, 0)
    with raises("init_params: input_size=2.5, expected a positive integer"):
        init_params("gru", 2.5, 4)
    with raises("init_params: dtype="):
        init_params("gru", 3, 4, dtype=np.int32)


def test_params_gate_bad_names():
    with raises("Params.gate: gate 'f' is not one of ('r', 'z', 'n') for a gru"):
        P["gru"].gate("f")
    with raises("Params.gate: which='W_xh'"):
        P["lstm"].gate("f", "W_xh")
    assert isinstance(P["lstm"], Params)
