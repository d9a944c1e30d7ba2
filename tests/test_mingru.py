"""Chapter 9's reference: the linear recurrence by loop and by scan, minGRU/minLSTM forward and
backward (gradient-checked), and the torch modules against the numpy reference."""
import json
import math

import numpy as np
import pytest

from grnn_ref import mingru as M
from grnn_ref.gradcheck import numerical_gradient, rel_error


def _recurrence(T, seed, shape=(3, 4), low=0.5):
    rng = np.random.default_rng(seed)
    return (rng.uniform(low, 1.0, (T,) + shape), rng.standard_normal((T,) + shape),
            rng.standard_normal(shape))


@pytest.mark.parametrize("T", [1, 2, 3, 7, 64, 1000])
@pytest.mark.parametrize("method", ["doubling", "blelloch", "log"])
def test_scan_equals_the_loop_to_1e_10_in_float64(T, method):
    a, b, h0 = _recurrence(T, seed=T)
    ref = M.linear_recurrence(a, b, h0)
    out = M.linear_scan(a, b, h0, method)
    assert out.shape == ref.shape and out.dtype == np.float64
    assert np.max(np.abs(out - ref)) < 1e-10


def test_the_loop_is_the_recurrence_written_out():
    a, b, h0 = _recurrence(3, seed=0, shape=(2,))
    hs = M.linear_recurrence(a, b, h0)
    h1 = a[0] * h0 + b[0]
    h2 = a[1] * h1 + b[1]
    np.testing.assert_allclose(hs, [h1, h2, a[2] * h2 + b[2]], rtol=0, atol=0)


@pytest.mark.parametrize("method", ["doubling", "blelloch"])
def test_float32_scans_are_as_accurate_as_the_float32_loop_at_T_4096(method):
    a, b, h0 = _recurrence(4096, seed=1, low=0.8)
    exact = M.linear_recurrence(a, b, h0)
    f32 = [x.astype(np.float32) for x in (a, b, h0)]
    scale = np.abs(exact).max()
    loop_err = np.abs(M.linear_recurrence(*f32) - exact).max() / scale
    out = M.linear_scan(*f32, method=method)
    assert out.dtype == np.float32
    assert np.abs(out - exact).max() / scale < max(4 * loop_err, 1e-6)


def test_log_space_scan_stays_finite_in_float32_where_the_literal_closed_form_gives_nan():
    a, b, h0 = _recurrence(4096, seed=2, low=0.8)
    exact = M.linear_recurrence(a, b, h0)
    f32 = [x.astype(np.float32) for x in (a, b, h0)]
    naive = M.linear_scan_cumprod(*f32)
    assert not np.all(np.isfinite(naive))      # cumprod(a) underflows, b / A overflows
    logspace = M.linear_scan(*f32, method="log")
    assert np.all(np.isfinite(logspace))
    # finite and close, with a few digits lost to the cancellation s_t + logcumsumexp (measured
    # 6.6e-5 relative at T = 4096 in float32)
    assert np.abs(logspace - exact).max() / np.abs(exact).max() < 1e-3


def test_scan_handles_zero_and_negative_coefficients_except_in_log_space():
    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 1, (9, 2))
    a[4] = 0.0                                  # a reset: h_5 = b_5
    b, h0 = rng.standard_normal((9, 2)), rng.standard_normal(2)
    ref = M.linear_recurrence(a, b, h0)
    for method in ("doubling", "blelloch"):
        np.testing.assert_allclose(M.linear_scan(a, b, h0, method), ref, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="needs every a_t > 0"):
        M.linear_scan(a, b, h0, "log")


@pytest.mark.parametrize("T", [1, 5, 17])
def test_recurrence_backward_is_gradient_checked(T):
    a, b, h0 = _recurrence(T, seed=10 + T, shape=(2, 3))
    dhs = np.random.default_rng(T).standard_normal(a.shape)
    hs = M.linear_recurrence(a, b, h0)
    da, db, dh0 = M.linear_recurrence_backward(dhs, a, h0, hs)
    for x, analytic in ((a, da), (b, db), (h0, dh0)):
        numeric = numerical_gradient(lambda _: M.linear_recurrence(a, b, h0), x, dhs)
        assert rel_error(analytic, numeric) < 1e-7
    # the backward scan by each method agrees with the sequential one
    seq = M.linear_recurrence_backward(dhs, a, h0, hs, method="sequential")
    for method in ("blelloch", "log"):
        for g1, g2 in zip(M.linear_recurrence_backward(dhs, a, h0, hs, method=method), seq):
            assert np.max(np.abs(g1 - g2)) < 1e-10


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
@pytest.mark.parametrize("T", [1, 6])
def test_min_cells_backward_is_gradient_checked(kind, T):
    fwd, bwd = {"mingru": (M.mingru_forward, M.mingru_backward),
                "minlstm": (M.minlstm_forward, M.minlstm_backward)}[kind]
    rng = np.random.default_rng(T)
    B, D, H = 2, 3, 4
    W, bias = M.init_min_params(kind, D, H, seed=T)
    W *= 3                                          # gates away from 1/2
    xs, h0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H))
    dhs = rng.standard_normal((T, B, H))
    hs, cache = fwd(xs, h0, W, bias)
    grads = bwd(dhs, cache)
    for x, analytic in zip((xs, h0, W, bias), grads):
        numeric = numerical_gradient(lambda _: fwd(xs, h0, W, bias)[0], x, dhs)
        assert analytic.shape == x.shape
        assert rel_error(analytic, numeric) < 1e-7


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_min_cells_give_the_same_states_by_every_method(kind):
    fwd = {"mingru": M.mingru_forward, "minlstm": M.minlstm_forward}[kind]
    rng = np.random.default_rng(4)
    W, bias = M.init_min_params(kind, 3, 5, seed=4)
    xs, h0 = rng.standard_normal((300, 2, 3)), rng.standard_normal((2, 5))
    ref = fwd(xs, h0, W, bias, method="sequential")[0]
    for method in ("doubling", "blelloch", "log"):
        assert np.max(np.abs(fwd(xs, h0, W, bias, method=method)[0] - ref)) < 1e-10


def test_mingru_is_the_written_out_cell():
    rng = np.random.default_rng(5)
    W, bias = M.init_min_params("mingru", 2, 3, seed=5)
    xs, h0 = rng.standard_normal((4, 1, 2)), rng.standard_normal((1, 3))
    hs, _ = M.mingru_forward(xs, h0, W, bias)
    h = h0
    for t in range(4):
        k = xs[t] @ W.T + bias
        z = 1 / (1 + np.exp(-k[:, :3]))
        h = z * h + (1 - z) * k[:, 3:]
        np.testing.assert_allclose(hs[t], h, rtol=1e-12)


def test_minlstm_gates_are_normalised_so_a_constant_input_is_a_weighted_average():
    # f' + i' = 1: with the same candidate n at every step the state moves monotonically from h0
    # to n and never overshoots (a plain f * h + i * n could grow past n)
    W, bias = M.init_min_params("minlstm", 1, 2, seed=6)
    xs = np.ones((50, 1, 1))
    h0 = np.zeros((1, 2))
    hs, cache = M.minlstm_forward(xs, h0, W, bias)
    n = cache[5][0, 0]
    assert np.all(np.abs(hs[:, 0]) <= np.abs(n) + 1e-12)
    assert np.all(np.diff(np.abs(hs[:, 0]), axis=0) >= -1e-12)


def test_bad_input_is_named():
    a, b, h0 = _recurrence(4, seed=0)
    with pytest.raises(ValueError, match="b has shape"):
        M.linear_scan(a, b[:3], h0)
    with pytest.raises(ValueError, match="h0 has shape"):
        M.linear_recurrence(a, b, h0[:2])
    with pytest.raises(ValueError, match="method must be one of"):
        M.linear_scan(a, b, h0, method="fast")
    with pytest.raises(ValueError, match="dtype int64"):
        M.linear_scan(a.astype(np.int64), b, h0)
    W, bias = M.init_min_params("mingru", 3, 4)
    with pytest.raises(ValueError, match=r"W has shape \(8, 3\), expected \(2\*H, D\) with D = 5"):
        M.mingru_forward(np.zeros((2, 1, 5)), np.zeros((1, 4)), W, bias)


# ------------------------------------------------------------------ torch modules
torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cls_name,kind", [("MinGRU", "mingru"), ("MinLSTM", "minlstm")])
@pytest.mark.parametrize("mode", ["scan", "sequential"])
def test_torch_modules_match_the_numpy_reference_forward_and_backward(cls_name, kind, mode):
    from grnn_ref import min_modules
    torch.manual_seed(0)
    T, B, D, H = 37, 2, 3, 4
    layer = getattr(min_modules, cls_name)(D, H, mode=mode, dtype=torch.float64)
    xs = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    dhs = torch.randn(T, B, H, dtype=torch.float64)
    hs, h_T = layer(xs, h0)
    (hs * dhs).sum().backward()
    W, bias = layer.linear.weight.detach().numpy(), layer.linear.bias.detach().numpy()
    fwd, bwd = {"mingru": (M.mingru_forward, M.mingru_backward),
                "minlstm": (M.minlstm_forward, M.minlstm_backward)}[kind]
    ref, cache = fwd(xs.detach().numpy(), h0.detach().numpy(), W, bias, method="sequential")
    np.testing.assert_allclose(hs.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    assert torch.equal(h_T, hs[-1])
    dxs, dh0, dW, dbias = bwd(dhs.numpy(), cache)
    for got, want in ((xs.grad, dxs), (h0.grad, dh0), (layer.linear.weight.grad, dW),
                      (layer.linear.bias.grad, dbias)):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)


def test_torch_scan_equals_the_torch_loop_in_float32_at_T_1000():
    from grnn_ref.min_modules import scan_linear, sequential_linear
    g = torch.Generator().manual_seed(1)
    a = torch.rand(1000, 2, 3, generator=g) * 0.2 + 0.8
    b, h0 = torch.randn(1000, 2, 3, generator=g), torch.randn(2, 3, generator=g)
    seq, scan = sequential_linear(a, b, h0), scan_linear(a, b, h0)
    assert scan.dtype == torch.float32
    assert float((scan - seq).abs().max() / seq.abs().max()) < 1e-5


def test_torch_module_rejects_bad_input():
    from grnn_ref.min_modules import MinGRU
    with pytest.raises(ValueError, match="mode must be one of"):
        MinGRU(2, 3, mode="parallel")
    with pytest.raises(ValueError, match=r"expected \(T, B, input_size=2\)"):
        MinGRU(2, 3)(torch.zeros(4, 2))


# ------------------------------------------------------------------ chapter 9's experiment
def test_the_revival_experiment_runs_at_a_tiny_size():
    from grnn_ref.experiments import revival
    rows = revival.timing((4, 8), batch=2, hidden=4, repeats=1)
    assert [r["T"] for r in rows] == [4, 8] and [r["rounds"] for r in rows] == [2, 3]
    assert all(r["nn_gru_vs_nn_gru"] == 1.0 and r["mingru_scan_ms"] > 0 for r in rows)
    task = revival.train_task("mingru2", "copy", 5, steps=2, hidden=4, batch=4, n_test=8)
    assert task["steps"] == 2 and math.isfinite(task["test_loss"]) and len(task["curve"]) == 3
    fut = revival.future_task("bidirectional", 3, T=8, steps=2, batch=4)
    assert fut["params"] == 14968 and "weight_hh_l0_reverse" in fut["weights"]
    assert revival.future_task("unidirectional", -3, T=8, steps=1, batch=4)["params"] == 14728


def test_the_committed_results_hold_what_chapter_9_reads():
    from grnn_ref.experiments import revival
    res = revival.load_committed()
    assert [r["T"] for r in res["timing"]] == [64, 256, 1024, 4096]
    assert res["config"]["size"] == "full" and res["config"]["torch_threads"] == 1
    assert res["paper"] == {"speedup_T512": 175}
    assert {(r["task"], r["model"]) for r in res["tasks"]} == {
        (t, m) for t in ("adding", "copy") for m in revival.MODELS}
    assert {(r["direction"], r["shift"]) for r in res["future"]} == {
        (d, s) for d in ("unidirectional", "bidirectional") for s in (3, -3)}
    for table in (revival.timing_table(res), revival.task_table(res), revival.future_table(res)):
        assert table and all(len(row) == len(table[0]) for row in table)
    # what the chapter's prose says of these numbers
    last = res["timing"][-1]
    assert last["loop_vs_scan"] < 1            # on one core the loop beats the scan
    assert last["mingru_seq_vs_nn_gru"] < 1    # the minimal cell's loop is cheaper than nn.GRU
    fut = {(r["direction"], r["shift"]): r["accuracy"] for r in res["future"]}
    assert fut[("unidirectional", 3)] < 0.2 and fut[("bidirectional", 3)] > 0.9
    assert min(fut[("unidirectional", -3)], fut[("bidirectional", -3)]) > 0.9


# ------------------------------------------------------------------ chapter 8's model, minimal cells
def test_the_character_model_takes_the_minimal_cells_with_their_parameter_count():
    from grnn_ref.experiments import charlm as C
    for cell, layers in (("mingru", 1), ("minlstm", 1), ("mingru", 2), ("gru", 2)):
        m = C.CharLM(cell, 65, 37, 11, layers=layers)
        assert C.count_params(cell, 37, 11, layers=layers) == sum(
            p.numel() for p in m.parameters())
    budget = C.count_params("lstm", 256, 64)
    Hs = {}
    for cell, layers in (("mingru", 1), ("minlstm", 1), ("mingru", 2)):
        H = Hs[(cell, layers)] = C.hidden_for_params(cell, budget, 64, layers=layers)
        assert abs(C.count_params(cell, H, 64, layers=layers) - budget) / budget < 0.01
    # no H x H matrix: one minimal layer gets a far larger state than the LSTM's 256
    assert Hs[("mingru", 1)] > Hs[("minlstm", 1)] > 1000 > Hs[("mingru", 2)] > 256
    with pytest.raises(ValueError, match="cell must be one of"):
        C.CharLM("minrnn")
    with pytest.raises(ValueError, match="layers must be a positive int"):
        C.CharLM("mingru", layers=0)


@pytest.mark.parametrize("cell,layers", [("mingru", 2), ("minlstm", 1)])
def test_a_minimal_cells_carried_state_continues_the_sequence(cell, layers):
    from grnn_ref.experiments import charlm as C
    torch.manual_seed(0)
    m = C.CharLM(cell, 65, 12, 6, layers=layers).double()
    ids = torch.randint(0, 65, (9, 3))
    whole, s_whole = m(ids)
    first, s = m(ids[:4])
    assert s.shape == (layers, 3, 12)
    rest, s_rest = m(ids[4:], s)
    torch.testing.assert_close(torch.cat([first, rest]), whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s_rest, s_whole, rtol=1e-12, atol=1e-12)


def test_a_short_minimal_cell_language_model_run_is_deterministic_and_learns():
    from grnn_ref.experiments import charlm as C
    text = C.load_text()[:40_000]
    kw = dict(hidden=24, embed=8, batch=8, bptt=16, steps=30, lr=1e-2, val_subset=2000,
              num_threads=1, progress=False, text=text, sample_length=20, layers=2)
    a = C.train("mingru", **kw)
    b = C.train("mingru", **kw)
    assert a.val_loss == b.val_loss and a.samples == b.samples
    V = len(C.Vocab.from_text(text))              # the characters of this excerpt
    assert a.config["layers"] == 2 and a.n_params == C.count_params("mingru", 24, 8, V, 2)
    assert a.val_loss < C.UNIFORM_BASELINE and a.curve[-1][1] < a.curve[0][1]
    assert a.model()(torch.zeros(3, 1, dtype=torch.int64))[1].shape == (2, 1, 24)


def test_the_committed_character_model_results_hold_what_chapter_9_says():
    from grnn_ref.experiments import charlm as C
    from grnn_ref.experiments import revival
    res = revival.load_charlm()
    cfg = res["config"]
    assert cfg["size"] == "full" and cfg["torch_threads"] == 1 and cfg["seed"] == 0
    assert [(r["label"], r["cell"], r["layers"]) for r in res["rows"]] == list(
        revival.CHARLM_MODELS)
    budget = C.count_params("lstm", 256, 64)          # chapter 8's equal-parameter budget
    assert cfg["params"] == budget
    assert revival.charlm_table(res) and res["baselines"]["unigram"] == pytest.approx(
        3.3473284841065922)
    for r in res["rows"]:
        assert r["steps"] == cfg["steps"] and r["cpu_s"] > 0
        assert r["H"] == C.hidden_for_params(r["cell"], budget, 64, layers=r["layers"])
        assert r["parameters"] == C.count_params(r["cell"], r["H"], 64, layers=r["layers"])
        assert abs(r["parameters"] - budget) / budget < 0.002      # "to within 0.2%"
        assert r["val_loss"] < res["baselines"]["unigram"]
    loss = {r["label"]: r["val_loss"] for r in res["rows"]}
    # what the chapter's prose says of these numbers
    assert max(loss["GRU"], loss["LSTM"]) < min(loss["minGRU"], loss["minLSTM"],
                                                 loss["minGRU, 2 layers"])
    # a second layer recovers part of the gap, not all of it
    assert loss["LSTM"] < loss["minGRU, 2 layers"] < min(loss["minGRU"], loss["minLSTM"])
    H = {r["label"]: r["H"] for r in res["rows"]}
    assert 5 <= H["minLSTM"] / H["LSTM"] < H["minGRU"] / H["LSTM"] <= 7
    ms = {r["label"]: r["cpu_s"] / r["steps"] for r in res["rows"]}
    assert min(ms["minGRU"], ms["minLSTM"]) > ms["LSTM"]
    with open(C.DATA_DIR / "charlm_results.json") as f:     # chapter 8's 3000 steps
        ch8 = {r["run"]: r for r in json.load(f)["rows"]}
    assert ch8["LSTM"]["steps"] == 3000 > cfg["steps"]
    assert ch8["LSTM"]["val loss (nats/char)"] < loss["GRU"]


def test_the_character_model_comparison_runs_at_the_quick_size_and_saves(tmp_path):
    from grnn_ref.experiments import revival
    with pytest.raises(ValueError, match="size must be one of"):
        revival.charlm_comparison("huge")
    res = revival.charlm_comparison("quick", workers=1)
    assert [r["steps"] for r in res["rows"]] == [20] * 5
    assert all(math.isfinite(r["val_loss"]) for r in res["rows"])
    revival.save_charlm(res, tmp_path)
    back = revival.load_charlm(tmp_path / "revival_charlm.json")
    assert back["rows"][2]["H"] == res["rows"][2]["H"] and back["config"]["size"] == "quick"
    assert (tmp_path / "revival_charlm.md").read_text().startswith("| model | H |")
