"""The numpy reference computes what torch.nn computes: outputs and every gradient.

Error measure used throughout: err(ours, torch) = max |ours - torch| / max |torch|, the largest
difference relative to the scale of torch's array (it does not blow up on entries near zero,
unlike an elementwise relative error). In float64 both sides round differently only in the last
bits, so the claim is err <= 1e-10.
"""
import numpy as np
import pytest
import torch

from grnn_ref import (GATES, Params, gru_backward, gru_forward, gru_step_backward,
                      gru_step_forward, init_params, lstm_backward, lstm_forward,
                      lstm_step_backward, lstm_step_forward, rnn_backward, rnn_forward,
                      rnn_step_backward, rnn_step_forward)

TORCH_SEQUENCE = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
TORCH_CELL = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}
# (T, B, D, H): T = 1, B = 1, H != D, H == D, H < D
SHAPES = [(1, 1, 3, 5), (1, 4, 2, 2), (6, 1, 4, 3), (5, 3, 2, 7), (9, 2, 6, 4)]
SEEDS = [0, 1, 2]
F64_TOL = 1e-10
# float32: eps = 1.2e-7 per operation; through T <= 9 steps of products of sums over D, H <= 8
# terms the worst case seen is a few 1e-7 relative to the array's scale. 1e-5 leaves room for
# different summation orders in the BLAS while still failing on any real mistake (those are O(1e-2)).
F32_TOL = 1e-5


def err(ours, ref):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-300))


def make_inputs(kind, T, B, D, H, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    p = init_params(kind, D, H, rng=rng, dtype=dtype)
    arrays = {name: rng.standard_normal(shape).astype(dtype) for name, shape in
              [("xs", (T, B, D)), ("h0", (B, H)), ("c0", (B, H)), ("dhs", (T, B, H)),
               ("dcs", (T, B, H))]}
    return p, arrays


def ours_sequence(kind, p, a, use_dcs=False):
    """Our forward and backward; returns a dict of named arrays."""
    if kind == "lstm":
        hs, cs, cache = lstm_forward(a["xs"], a["h0"], a["c0"], p)
        dxs, dh0, dc0, dp = lstm_backward(a["dhs"], cache, dcs=a["dcs"] if use_dcs else None)
        out = {"hs": hs, "cs": cs, "dc0": dc0}
    else:
        forward, backward = {"rnn": (rnn_forward, rnn_backward),
                             "gru": (gru_forward, gru_backward)}[kind]
        hs, cache = forward(a["xs"], a["h0"], p)
        dxs, dh0, dp = backward(a["dhs"], cache)
        out = {"hs": hs}
    out.update(dxs=dxs, dh0=dh0, dW_ih=dp.W_ih, dW_hh=dp.W_hh, db_ih=dp.b_ih, db_hh=dp.b_hh)
    return out


def torch_tensors(a, names):
    return {n: torch.tensor(a[n], requires_grad=True) for n in names}


def torch_sequence(kind, p, a):
    """torch.nn.RNN/LSTM/GRU with p's weights; loss = sum(hs * dhs)."""
    module = TORCH_SEQUENCE[kind](p.input_size, p.hidden_size).to(torch.from_numpy(p.W_ih).dtype)
    p.load_into(module)
    t = torch_tensors(a, ["xs", "h0", "c0"])
    if kind == "lstm":
        hs, (h_n, c_n) = module(t["xs"], (t["h0"][None], t["c0"][None]))
    else:
        hs, h_n = module(t["xs"], t["h0"][None])
    (hs * torch.from_numpy(a["dhs"])).sum().backward()
    out = {"hs": hs.detach().numpy(), "h_n": h_n[0].detach().numpy(),
           "dxs": t["xs"].grad.numpy(), "dh0": t["h0"].grad.numpy()}
    if kind == "lstm":
        out["c_n"] = c_n[0].detach().numpy()
        out["dc0"] = t["c0"].grad.numpy()
    for field, key in [("dW_ih", "weight_ih_l0"), ("dW_hh", "weight_hh_l0"),
                       ("db_ih", "bias_ih_l0"), ("db_hh", "bias_hh_l0")]:
        out[field] = getattr(module, key).grad.numpy()
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}B{}D{}H{}".format(*s))
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_forward_and_every_gradient_match_torch_nn_in_float64(kind, shape, seed):
    p, a = make_inputs(kind, *shape, seed)
    ours = ours_sequence(kind, p, a)
    ref = torch_sequence(kind, p, a)
    names = ["hs", "dxs", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh"]
    if kind == "lstm":
        names.append("dc0")
        assert err(ours["cs"][-1], ref["c_n"]) <= F64_TOL
    assert err(ours["hs"][-1], ref["h_n"]) <= F64_TOL
    errors = {n: err(ours[n], ref[n]) for n in names}
    assert max(errors.values()) <= F64_TOL, errors


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_float32_agrees_with_torch_float32_and_stays_float32(kind):
    p, a = make_inputs(kind, 9, 3, 5, 6, seed=3, dtype=np.float32)
    ours = ours_sequence(kind, p, a)
    ref = torch_sequence(kind, p, a)
    for name, ref_value in ref.items():
        if name in ours:
            assert ours[name].dtype == np.float32, name
            assert err(ours[name], ref_value) <= F32_TOL, (name, err(ours[name], ref_value))


def torch_lstm_unrolled(p, a):
    """torch.nn.LSTMCell unrolled over time, so that every c_t can carry an upstream gradient."""
    cell = torch.nn.LSTMCell(p.input_size, p.hidden_size).double()
    p.load_into(cell)
    t = torch_tensors(a, ["xs", "h0", "c0"])
    h, c = t["h0"], t["c0"]
    loss = 0
    for step in range(a["xs"].shape[0]):
        h, c = cell(t["xs"][step], (h, c))
        loss = loss + (h * torch.from_numpy(a["dhs"][step])).sum() \
            + (c * torch.from_numpy(a["dcs"][step])).sum()
    loss.backward()
    return {"dxs": t["xs"].grad.numpy(), "dh0": t["h0"].grad.numpy(),
            "dc0": t["c0"].grad.numpy(), "dW_ih": cell.weight_ih.grad.numpy(),
            "dW_hh": cell.weight_hh.grad.numpy(), "db_ih": cell.bias_ih.grad.numpy(),
            "db_hh": cell.bias_hh.grad.numpy()}


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "T{}B{}D{}H{}".format(*s))
def test_lstm_backward_with_an_upstream_gradient_on_every_cell_state(shape):
    p, a = make_inputs("lstm", *shape, seed=7)
    ours = ours_sequence("lstm", p, a, use_dcs=True)
    ref = torch_lstm_unrolled(p, a)
    errors = {n: err(ours[n], ref[n]) for n in ref}
    assert max(errors.values()) <= F64_TOL, errors
    # and dcs really is used: without it the gradients differ
    without = ours_sequence("lstm", p, a, use_dcs=False)
    assert err(without["dc0"], ref["dc0"]) > 1e-3


def test_lstm_dcs_on_the_last_step_only_is_torch_nn_lstm_with_a_loss_on_c_n():
    p, a = make_inputs("lstm", 6, 3, 4, 5, seed=11)
    a["dcs"][:-1] = 0
    ours = ours_sequence("lstm", p, a, use_dcs=True)
    module = torch.nn.LSTM(4, 5).double()
    p.load_into(module)
    t = torch_tensors(a, ["xs", "h0", "c0"])
    hs, (h_n, c_n) = module(t["xs"], (t["h0"][None], t["c0"][None]))
    ((hs * torch.from_numpy(a["dhs"])).sum()
     + (c_n[0] * torch.from_numpy(a["dcs"][-1])).sum()).backward()
    assert err(ours["dxs"], t["xs"].grad.numpy()) <= F64_TOL
    assert err(ours["dc0"], t["c0"].grad.numpy()) <= F64_TOL
    assert err(ours["dW_hh"], module.weight_hh_l0.grad.numpy()) <= F64_TOL


STEP = {
    "rnn": (rnn_step_forward, rnn_step_backward),
    "lstm": (lstm_step_forward, lstm_step_backward),
    "gru": (gru_step_forward, gru_step_backward),
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("B,D,H", [(1, 3, 5), (4, 2, 2), (3, 6, 4)])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_step_functions_match_torch_cells(kind, B, D, H, seed):
    p, a = make_inputs(kind, 1, B, D, H, seed)
    x, h, c, dh, dc = a["xs"][0], a["h0"], a["c0"], a["dhs"][0], a["dcs"][0]
    forward, backward = STEP[kind]
    cell = TORCH_CELL[kind](D, H).double()
    p.load_into(cell)
    tx, th, tc = (torch.tensor(v, requires_grad=True) for v in (x, h, c))
    if kind == "lstm":
        h_next, c_next, cache = forward(x, h, c, p)
        dx, dh_prev, dc_prev, dp = backward(dh, dc, cache)
        th_next, tc_next = cell(tx, (th, tc))
        ((th_next * torch.from_numpy(dh)).sum() + (tc_next * torch.from_numpy(dc)).sum()).backward()
        assert err(c_next, tc_next.detach().numpy()) <= F64_TOL
        assert err(dc_prev, tc.grad.numpy()) <= F64_TOL
    else:
        h_next, cache = forward(x, h, p)
        dx, dh_prev, dp = backward(dh, cache)
        th_next = cell(tx, th)
        (th_next * torch.from_numpy(dh)).sum().backward()
    assert err(h_next, th_next.detach().numpy()) <= F64_TOL
    assert err(dx, tx.grad.numpy()) <= F64_TOL
    assert err(dh_prev, th.grad.numpy()) <= F64_TOL
    for ours, key in zip(dp, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]):
        assert err(ours, getattr(cell, key).grad.numpy()) <= F64_TOL, key


# --------------------------------------------------------------------------- Params <-> torch
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("cell", [False, True])
def test_params_from_torch_and_back_round_trip_exactly(kind, cell):
    torch.manual_seed(0)
    module = (TORCH_CELL if cell else TORCH_SEQUENCE)[kind](3, 4).double()
    p = Params.from_torch(module)
    assert p.kind == kind and p.num_gates == len(GATES[kind])
    assert (p.input_size, p.hidden_size, p.dtype) == (3, 4, np.float64)
    state = p.to_torch_state_dict(cell=cell)
    assert state.keys() == module.state_dict().keys()
    for key, value in module.state_dict().items():
        assert torch.equal(state[key], value), key
    # the other way: numpy params into a fresh torch module and back
    q = init_params(kind, 3, 4, seed=5)
    fresh = (TORCH_CELL if cell else TORCH_SEQUENCE)[kind](3, 4).double()
    assert q.load_into(fresh) is fresh
    back = Params.from_torch(fresh)
    for a, b in zip(q, back):
        np.testing.assert_array_equal(a, b)
    fresh.load_state_dict(q.to_torch_state_dict(cell=cell))
    for a, b in zip(q, Params.from_torch(fresh)):
        np.testing.assert_array_equal(a, b)


def test_from_torch_dtype_float64_by_default_and_kept_with_none():
    module = torch.nn.GRU(2, 3)                      # float32 module
    p64 = Params.from_torch(module)
    p32 = Params.from_torch(module, dtype=None)
    assert p64.dtype == np.float64 and p32.dtype == np.float32
    np.testing.assert_array_equal(p64.W_hh.astype(np.float32), p32.W_hh)
    # copies, not views of the module's memory
    p32.W_hh[:] = 0
    assert module.weight_hh_l0.abs().sum() > 0


def test_from_torch_accepts_any_module_with_the_same_state_dict_keys():
    class Mine(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight_ih_l0 = torch.nn.Parameter(torch.randn(12, 2, dtype=torch.float64))
            self.weight_hh_l0 = torch.nn.Parameter(torch.randn(12, 4, dtype=torch.float64))
            self.bias_ih_l0 = torch.nn.Parameter(torch.randn(12, dtype=torch.float64))
            self.bias_hh_l0 = torch.nn.Parameter(torch.randn(12, dtype=torch.float64))

    mine = Mine()
    p = Params.from_torch(mine)
    assert p.kind == "gru"
    np.testing.assert_array_equal(p.b_hh, mine.bias_hh_l0.detach().numpy())
    q = init_params("gru", 2, 4, seed=1)
    q.load_into(mine)
    np.testing.assert_array_equal(mine.weight_ih_l0.detach().numpy(), q.W_ih)


def test_from_torch_bias_false_gives_zero_biases():
    module = torch.nn.LSTM(3, 2, bias=False)
    p = Params.from_torch(module)
    assert p.b_ih.shape == (8,) and not p.b_ih.any() and not p.b_hh.any()
    p.load_into(module)   # zero biases fit a module without biases
    with pytest.raises(ValueError, match="no parameter 'bias_ih_l0'"):
        init_params("lstm", 3, 2, seed=0).load_into(module)


@pytest.mark.parametrize("module, phrase", [
    (lambda: torch.nn.RNN(3, 4, nonlinearity="relu"), "nonlinearity='relu'"),
    (lambda: torch.nn.RNNCell(3, 4, nonlinearity="relu"), "nonlinearity='relu'"),
    (lambda: torch.nn.LSTM(3, 4, num_layers=2), "num_layers=2"),
    (lambda: torch.nn.GRU(3, 4, bidirectional=True), "bidirectional"),
    (lambda: torch.nn.LSTM(3, 4, proj_size=2), "proj_size=2"),
    (lambda: torch.nn.Linear(3, 4), "expected weight_ih_l0"),
])
def test_from_torch_rejects_what_the_reference_does_not_implement(module, phrase):
    with pytest.raises(ValueError, match=phrase.replace("(", r"\(")):
        Params.from_torch(module())


def test_load_into_rejects_a_module_of_another_size():
    with pytest.raises(ValueError, match=r"weight_ih_l0 has shape \(16, 3\) in the module, but "
                                         r"p.W_ih has shape \(16, 5\)"):
        init_params("lstm", 5, 4, seed=0).load_into(torch.nn.LSTM(3, 4))


def test_load_into_casts_to_the_modules_dtype_and_matches_its_forward():
    p = init_params("lstm", 3, 4, seed=2)
    module = p.load_into(torch.nn.LSTM(3, 4))        # float32 module stays float32
    assert module.weight_ih_l0.dtype == torch.float32
    xs = np.random.default_rng(0).standard_normal((5, 2, 3))
    hs, _, _ = lstm_forward(xs, np.zeros((2, 4)), np.zeros((2, 4)), p)
    with torch.no_grad():
        ths, _ = module(torch.tensor(xs, dtype=torch.float32))
    assert err(hs, ths.numpy()) <= F32_TOL
