"""grnn_ref.modules.RNN/LSTM/GRU against torch.nn.RNN/LSTM/GRU (and the numpy reference).

The claim: with the same state_dict, our modules compute the same outputs, final states and
gradients (of every parameter, of the input and of the initial states) as torch.nn, for both
the fast hand-written backward and the plain autograd path; they are initialised like torch.nn;
fixed_gates and gate_trace do what their docstrings say.
"""
import subprocess
import sys

import numpy as np
import pytest
import torch

import grnn_ref
from grnn_ref import modules as M

KINDS = ("RNN", "LSTM", "GRU")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These tests use tiny tensors: on a loaded 2-core machine, waking a second OpenMP thread
    for each small op costs milliseconds (measured: a 16x8 matmul at 13 ms), so run them on one
    thread and restore the caller's setting afterwards (pytest-xdist reuses the process)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
IMPLS = ("fused", "autograd")
# float64: the two implementations differ only by rounding; float32: by float32 rounding over
# a few dozen steps.
TOL = {torch.float64: 1e-12, torch.float32: 2e-5}


def rel_err(ours, ref):
    """max |ours - ref| / max |ref|: relative to the tensor's scale."""
    scale = ref.abs().max().item()
    return (ours - ref).abs().max().item() / (scale if scale > 0 else 1.0)


def make_pair(kind, D, H, dtype=torch.float64, impl="fused", seed=0, fixed_gates=None, **kwargs):
    """torch.nn's module and ours with the same weights (ours loaded from nn's state_dict)."""
    torch.manual_seed(seed)
    ref = getattr(torch.nn, kind)(D, H, **kwargs).to(dtype)
    extra = {} if fixed_gates is None else {"fixed_gates": fixed_gates}
    ours = getattr(M, kind)(D, H, **kwargs, **extra).to(dtype)
    ours.load_state_dict(ref.state_dict())
    ours.use_autograd = impl == "autograd"
    return ref, ours


def states_of(kind, hx):
    if hx is None:
        return []
    return list(hx) if kind == "LSTM" else [hx]


def run_with_grads(module, kind, x, hx, seed=1):
    """Forward, then backward of a random linear function of every output; returns
    [outputs..., grads of x, of every parameter (state_dict order), of every initial state]."""
    x = x.detach().clone().requires_grad_(True)
    states = [s.detach().clone().requires_grad_(True) for s in states_of(kind, hx)]
    hx = None if not states else (tuple(states) if kind == "LSTM" else states[0])
    out, final = module(x, hx)
    outs = [out] + (list(final) if kind == "LSTM" else [final])
    gen = torch.Generator().manual_seed(seed)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    for p in module.parameters():
        p.grad = None
    loss.backward()
    named = dict(module.named_parameters())
    grads = [x.grad] + [named[k].grad for k in module.state_dict()] + [s.grad for s in states]
    return [o.detach() for o in outs], grads


def assert_same(kind, ref, ours, x, hx, tol):
    ref_out, ref_grads = run_with_grads(ref, kind, x, hx)
    our_out, our_grads = run_with_grads(ours, kind, x, hx)
    names = ["output", "h_n", "c_n"][:len(ref_out)]
    for name, a, b in zip(names, our_out, ref_out):
        assert a.shape == b.shape and a.dtype == b.dtype, (name, a.shape, b.shape)
        assert rel_err(a, b) <= tol, f"{name}: relative error {rel_err(a, b):.2e} > {tol}"
    grad_names = (["input"] + list(ref.state_dict())
                  + ["h_0", "c_0"][:len(states_of(kind, hx))])
    for name, a, b in zip(grad_names, our_grads, ref_grads):
        assert a is not None and b is not None, name
        assert rel_err(a, b) <= tol, f"d{name}: relative error {rel_err(a, b):.2e} > {tol}"


def random_inputs(kind, T, B, D, H, dtype, with_state, L=1, seed=2):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, D, generator=gen, dtype=dtype)
    if not with_state:
        return x, None
    h0 = torch.randn(L, B, H, generator=gen, dtype=dtype)
    if kind == "LSTM":
        return x, (h0, torch.randn(L, B, H, generator=gen, dtype=dtype))
    return x, h0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T,B,D,H,with_state", [
    (7, 3, 5, 4, False),     # H != D, zero initial state
    (7, 3, 5, 4, True),      # with h0 (and c0)
    (1, 1, 3, 6, True),      # T = 1, B = 1
    (12, 2, 8, 8, True),
])
def test_same_outputs_and_gradients_as_torch_nn(kind, dtype, impl, T, B, D, H, with_state):
    ref, ours = make_pair(kind, D, H, dtype, impl)
    x, hx = random_inputs(kind, T, B, D, H, dtype, with_state)
    assert_same(kind, ref, ours, x, hx, TOL[dtype])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("config", [
    dict(num_layers=2),
    dict(bidirectional=True),
    dict(num_layers=2, bidirectional=True, bias=False),
    dict(batch_first=True),
], ids=["2layers", "bidir", "2layers-bidir-nobias", "batch_first"])
def test_layers_directions_and_batch_first_match_torch_nn(kind, impl, config):
    T, B, D, H = 6, 3, 4, 5
    ref, ours = make_pair(kind, D, H, torch.float64, impl, **config)
    L = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    x, hx = random_inputs(kind, T, B, D, H, torch.float64, True, L=L)
    if config.get("batch_first"):
        x = x.transpose(0, 1).contiguous()
    assert_same(kind, ref, ours, x, hx, 1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_relu_rnn_matches_torch_nn(impl):
    ref, ours = make_pair("RNN", 4, 6, torch.float64, impl, nonlinearity="relu")
    x, hx = random_inputs("RNN", 9, 3, 4, 6, torch.float64, True)
    assert_same("RNN", ref, ours, x, hx, 1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input_matches_torch_nn(kind):
    ref, ours = make_pair(kind, 4, 5, torch.float64)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    h0 = torch.randn(1, 5, generator=gen, dtype=torch.float64)
    hx = (h0, torch.randn(1, 5, generator=gen, dtype=torch.float64)) if kind == "LSTM" else h0
    for state in (None, hx):
        (ref_out, ref_final), (our_out, our_final) = ref(x, state), ours(x, state)
        assert our_out.shape == ref_out.shape == (6, 5)
        assert rel_err(our_out, ref_out) < 1e-12
        for a, b in zip(states_of(kind, our_final), states_of(kind, ref_final)):
            assert a.shape == b.shape == (1, 5) and rel_err(a, b) < 1e-12


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("config", [dict(), dict(bias=False), dict(num_layers=3, bidirectional=True)])
def test_state_dict_keys_and_shapes_are_torch_nn_s(kind, config):
    ref = getattr(torch.nn, kind)(3, 7, **config)
    ours = getattr(M, kind)(3, 7, **config)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():
        assert ours.state_dict()[key].shape == value.shape, key
    ref.load_state_dict(ours.state_dict())      # and back


@pytest.mark.parametrize("kind", KINDS)
def test_default_init_is_uniform_within_one_over_sqrt_h_like_torch_nn(kind):
    H = 16
    bound = 1 / np.sqrt(H)
    torch.manual_seed(5)
    ours = getattr(M, kind)(10, H, num_layers=2)
    torch.manual_seed(5)
    ref = getattr(torch.nn, kind)(10, H, num_layers=2)
    for name, p in ours.named_parameters():
        assert p.abs().max().item() <= bound, name
        # a uniform draw of this many numbers reaches close to both ends of the interval
        assert p.max().item() > 0.8 * bound and p.min().item() < -0.8 * bound, name
    # same registration order and the same draws: identical to torch.nn from the same seed
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("kind", KINDS)
def test_against_the_numpy_reference(kind):
    """The modules (float64) and grnn_ref's numpy forward/backward agree."""
    T, B, D, H = 5, 3, 4, 6
    ours = getattr(M, kind)(D, H).double()
    p = grnn_ref.Params.from_torch(ours)
    rng = np.random.default_rng(7)
    xs = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    c0 = rng.standard_normal((B, H))
    dhs = rng.standard_normal((T, B, H))
    x_t = torch.tensor(xs, requires_grad=True)
    h0_t = torch.tensor(h0[None], requires_grad=True)
    c0_t = torch.tensor(c0[None], requires_grad=True)
    if kind == "LSTM":
        hs, _, cache = grnn_ref.lstm_forward(xs, h0, c0, p)
        dxs, dh0, dc0, dp = grnn_ref.lstm_backward(dhs, cache)
        out, _ = ours(x_t, (h0_t, c0_t))
    else:
        forward = grnn_ref.rnn_forward if kind == "RNN" else grnn_ref.gru_forward
        backward = grnn_ref.rnn_backward if kind == "RNN" else grnn_ref.gru_backward
        hs, cache = forward(xs, h0, p)
        dxs, dh0, dp = backward(dhs, cache)
        out, _ = ours(x_t, h0_t)
    (out * torch.tensor(dhs)).sum().backward()
    assert rel_err(out.detach(), torch.tensor(hs)) < 1e-12
    assert rel_err(x_t.grad, torch.tensor(dxs)) < 1e-12
    assert rel_err(h0_t.grad[0], torch.tensor(dh0)) < 1e-12
    if kind == "LSTM":
        assert rel_err(c0_t.grad[0], torch.tensor(dc0)) < 1e-12
    for field, key in zip(dp._fields, ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")):
        grad = dict(ours.named_parameters())[key].grad
        assert rel_err(grad, torch.tensor(getattr(dp, field))) < 1e-12, field


# ----------------------------------------------------------------------------- fixed gates
def gate_rows(kind, gate, H):
    k = {"LSTM": "ifgo", "GRU": "rzn"}[kind].index(gate)
    return slice(k * H, (k + 1) * H)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind,fixed", [
    ("LSTM", {"f": 1.0}), ("LSTM", {"i": 0.0, "o": 1.0}), ("LSTM", {"g": -1.0}),
    ("GRU", {"z": 0.0}), ("GRU", {"r": 1.0}), ("GRU", {"n": 1.0, "r": 0.0}),
])
def test_fixed_gate_equals_a_saturated_gate_in_torch_nn(kind, fixed, impl):
    """A gate fixed at 0 or 1 (-1 or 1 for tanh) is what torch.nn computes when that gate's
    bias is +-1000: sigma(1000) == 1 and sigma'(1000) == 0 exactly in float64. So outputs and
    every gradient must agree, including the zero gradient of the fixed gate's weights."""
    D, H = 4, 5
    ref, ours = make_pair(kind, D, H, torch.float64, impl, fixed_gates=fixed)
    sigmoid_gates = {"LSTM": "ifo", "GRU": "rz"}[kind]
    with torch.no_grad():
        for gate, value in fixed.items():
            if gate in sigmoid_gates:
                saturating = 1000.0 if value == 1.0 else -1000.0
            else:
                saturating = 1000.0 * value
            ref.bias_ih_l0[gate_rows(kind, gate, H)] = saturating
    x, hx = random_inputs(kind, 8, 3, D, H, torch.float64, True)
    assert_same(kind, ref, ours, x, hx, 1e-12)
    _, grads = run_with_grads(ours, kind, x, hx)
    W_ih_grad = grads[1 + list(ours.state_dict()).index("weight_ih_l0")]
    for gate in fixed:
        assert torch.all(W_ih_grad[gate_rows(kind, gate, H)] == 0), gate


@pytest.mark.parametrize("impl", IMPLS)
def test_lstm_that_never_forgets_and_never_writes_keeps_its_cell_state(impl):
    m = M.LSTM(3, 4, fixed_gates={"f": 1.0, "i": 0.0}).double()
    m.use_autograd = impl == "autograd"
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(10, 2, 3, generator=gen, dtype=torch.float64)
    c0 = torch.randn(1, 2, 4, generator=gen, dtype=torch.float64)
    trace = m.gate_trace(x, (torch.zeros_like(c0), c0))
    assert torch.equal(trace["c"], c0.expand(10, 2, 4))
    assert torch.allclose(trace["h"], trace["o"] * torch.tanh(c0), rtol=0, atol=1e-15)


def test_fixed_gates_can_be_set_changed_and_removed():
    torch.manual_seed(0)
    m = M.GRU(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    free, _ = m(x)
    m.fixed_gates = {"z": 1.0}                 # the update gate always keeps h: h stays h_0 = 0
    kept, h_n = m(x)
    assert torch.equal(kept, torch.zeros_like(kept))
    m.fixed_gates = None
    assert torch.equal(m(x)[0], free)
    assert m.fixed_gates == {}


def test_training_with_a_fixed_gate_reduces_the_loss():
    torch.manual_seed(0)
    m = M.LSTM(2, 8, fixed_gates={"o": 1.0})
    x, y = torch.randn(12, 16, 2), torch.randn(16, 8)
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        out, _ = m(x)
        loss = ((out[-1] - y.tanh() * 0.5) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert torch.all(m.weight_ih_l0.grad[3 * 8:] == 0)   # the fixed o gate learns nothing


# ----------------------------------------------------------------------------- gate_trace
def test_lstm_gate_trace_is_consistent_with_the_equations_and_the_forward():
    torch.manual_seed(0)
    T, B, D, H = 6, 3, 4, 5
    m = M.LSTM(D, H).double()
    x = torch.randn(T, B, D, dtype=torch.float64)
    h0, c0 = torch.randn(1, B, H, dtype=torch.float64), torch.randn(1, B, H, dtype=torch.float64)
    tr = m.gate_trace(x, (h0, c0))
    assert set(tr) == {"i", "f", "g", "o", "c", "h"}
    assert all(v.shape == (T, B, H) and not v.requires_grad for v in tr.values())
    out, (h_n, c_n) = m(x, (h0, c0))
    assert torch.allclose(tr["h"], out, rtol=0, atol=1e-14)
    assert torch.allclose(tr["c"][-1], c_n[0], rtol=0, atol=1e-14)
    assert torch.allclose(tr["h"], tr["o"] * torch.tanh(tr["c"]), rtol=0, atol=1e-14)
    c_prev = torch.cat((c0, tr["c"][:-1]))
    assert torch.allclose(tr["c"], tr["f"] * c_prev + tr["i"] * tr["g"], rtol=0, atol=1e-14)
    # the first step's gates from the weights directly
    a = x[0] @ m.weight_ih_l0.T + m.bias_ih_l0 + h0[0] @ m.weight_hh_l0.T + m.bias_hh_l0
    a_i, a_f, a_g, a_o = a.detach().chunk(4, dim=1)
    for name, expected in (("i", a_i.sigmoid()), ("f", a_f.sigmoid()), ("g", a_g.tanh()),
                           ("o", a_o.sigmoid())):
        assert torch.allclose(tr[name][0], expected, rtol=0, atol=1e-14), name


def test_gru_gate_trace_is_consistent_with_the_equations_and_the_forward():
    torch.manual_seed(1)
    T, B, D, H = 6, 3, 4, 5
    m = M.GRU(D, H, batch_first=True).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    h0 = torch.randn(1, B, H, dtype=torch.float64)
    tr = m.gate_trace(x, h0)
    assert set(tr) == {"r", "z", "n", "h"}
    assert all(v.shape == (B, T, H) for v in tr.values())      # batch_first like the output
    out, _ = m(x, h0)
    assert torch.allclose(tr["h"], out, rtol=0, atol=1e-14)
    r, z, n, h = (tr[k].transpose(0, 1) for k in "rznh")
    h_prev = torch.cat((h0, h[:-1]))
    assert torch.allclose(h, (1 - z) * n + z * h_prev, rtol=0, atol=1e-14)
    W_in, W_hn = m.weight_ih_l0[2 * H:], m.weight_hh_l0[2 * H:]
    b_in, b_hn = m.bias_ih_l0[2 * H:], m.bias_hh_l0[2 * H:]
    xs = x.transpose(0, 1)
    n_expected = torch.tanh(xs @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn))
    assert torch.allclose(n, n_expected.detach(), rtol=0, atol=1e-14)


def test_rnn_gate_trace_has_only_the_hidden_states():
    torch.manual_seed(3)
    m = M.RNN(3, 4)
    x = torch.randn(5, 2, 3)
    tr = m.gate_trace(x)
    assert set(tr) == {"h"} and torch.equal(tr["h"], m(x)[0].detach())


def test_gate_trace_of_a_chosen_layer_and_direction():
    torch.manual_seed(2)
    m = M.LSTM(3, 4, num_layers=2, bidirectional=True).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    out, (h_n, _) = m(x)
    last_forward = m.gate_trace(x)                     # layer -1, direction 0
    last_reverse = m.gate_trace(x, layer=1, direction=1)
    assert torch.allclose(last_forward["h"], out[..., :4], rtol=0, atol=1e-14)
    assert torch.allclose(last_reverse["h"], out[..., 4:], rtol=0, atol=1e-14)
    # the reverse direction ends at t = 0: its final state is h at time 0
    assert torch.allclose(last_reverse["h"][0], h_n[3], rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="layer=2"):
        m.gate_trace(x, layer=2)


# ----------------------------------------------------------------------------- forget bias
@pytest.mark.parametrize("cls", [M.LSTM, torch.nn.LSTM], ids=["ours", "torch.nn"])
def test_set_forget_bias(cls):
    m = cls(3, 4, num_layers=2)
    M.set_forget_bias(m, 1.0)
    for layer in range(2):
        b_ih, b_hh = getattr(m, f"bias_ih_l{layer}"), getattr(m, f"bias_hh_l{layer}")
        assert torch.all(b_ih[4:8] == 1.0) and torch.all(b_hh[4:8] == 0.0)
        assert torch.all(b_ih[:4] != 1.0)                  # the other gates are untouched
    with pytest.raises(ValueError, match="expected grnn_ref.modules.LSTM or torch.nn.LSTM"):
        M.set_forget_bias(M.GRU(3, 4), 1.0)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make,call,match", [
    (lambda: M.LSTM(3, 4), lambda m: m(torch.zeros(5, 2, 7)), r"input has shape \(5, 2, 7\)"),
    (lambda: M.GRU(3, 4), lambda m: m(torch.zeros(5, 2, 3), torch.zeros(2, 2, 4)),
     r"h_0 has shape \(2, 2, 4\), expected \(1, 2, 4\)"),
    (lambda: M.LSTM(3, 4), lambda m: m(torch.zeros(5, 2, 3), torch.zeros(1, 2, 4)),
     r"hx must be a tuple"),
    (lambda: M.RNN(3, 4), lambda m: m(torch.zeros(5, 2, 3, dtype=torch.float64)), "dtype"),
    (lambda: M.LSTM(3, 4), lambda m: m(torch.zeros(0, 2, 3)), "at least 1"),
    (lambda: M.LSTM(3, 4, proj_size=2), None, "proj_size=2"),
    (lambda: M.RNN(3, 4, nonlinearity="sigmoid"), None, "nonlinearity='sigmoid'"),
    (lambda: M.LSTM(3, 0), None, "hidden_size=0"),
    (lambda: M.LSTM(3, 4, fixed_gates={"z": 1.0}), None, "fixed_gates has key 'z'"),
    (lambda: M.GRU(3, 4, fixed_gates={"z": float("nan")}), None, "finite"),
])
def test_bad_input_raises_a_clear_value_error(make, call, match):
    with pytest.raises(ValueError, match=match):
        m = make()
        call(m)


def test_inputs_are_not_modified_and_no_grad_inference_works():
    torch.manual_seed(0)
    for kind in KINDS:
        m = getattr(M, kind)(3, 4)
        x = torch.randn(5, 2, 3)
        x_copy = x.clone()
        with torch.no_grad():
            out, _ = m(x)
        assert torch.equal(x, x_copy) and not out.requires_grad


def test_autograd_path_supports_double_backward():
    """The step-by-step path (use_autograd = True) is differentiable twice, e.g. for a
    gradient-norm penalty; the hand-written backward is not (once_differentiable)."""
    torch.manual_seed(0)
    m = M.GRU(3, 4).double()
    m.use_autograd = True
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    out, _ = m(x)
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    g.square().sum().backward()
    assert m.weight_hh_l0.grad is not None and m.weight_hh_l0.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- lazy torch
def test_import_grnn_ref_does_not_import_torch_but_modules_does():
    code = ("import sys, grnn_ref; assert 'torch' not in sys.modules, 'torch imported'; "
            "import grnn_ref.modules; assert 'torch' in sys.modules; "
            "assert grnn_ref.modules.LSTM is not None; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# ----------------------------------------------------------------------------- the benchmark
def test_bench_times_every_implementation_on_a_tiny_case():
    """The benchmark's machinery (no timing is asserted): every cell gets a torch.nn row, a
    grnn_ref.modules row and two numpy rows, with a verdict where there is a target."""
    from grnn_ref import bench

    rows = bench.run_cells([("tiny", dict(T=2, B=1, D=3, H=2))], repeats=1, warmup=0)
    assert [(r["kind"], r["impl"]) for r in rows] == [
        (kind, impl) for kind in KINDS
        for impl in ("torch.nn", "grnn_ref.modules", "numpy float32", "numpy float64")]
    for r in rows:
        assert r["median_ms"] > 0 and r["p25_ms"] <= r["median_ms"] <= r["p75_ms"]
        assert r["verdict"] == ("" if r["target"] is None else
                                ("PASS" if r["ratio"] <= r["target"] else "MISS"))
    assert "numpy float32" in bench.format_rows(rows)
    with pytest.raises(SystemExit):
        bench.parse_args(["--sections", "nonsense"])
