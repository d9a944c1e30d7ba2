"""The grading core: cases, result records, comparison, the checks and their messages."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import grnn_ref as R
import grnn_ref.grading as G
from grnn_ref.grading import cases, compare, feedback, record

REPO = Path(__file__).resolve().parents[1]
CONTRACT = [n for n, c in cases.REGISTRY.items()
            if c.family in ("step_forward", "forward", "step_backward", "backward")]


def _check_fn(check):
    return getattr(G, f"check_{check}")


def _reference_fns(check):
    return (getattr(R, check),)


# ------------------------------------------------------------------------------------- cases
def test_cases_are_deterministic_and_fresh_arrays():
    lstm_backward = cases.get_check("lstm_backward")
    a = lstm_backward.make_inputs("hidden-6")
    b = lstm_backward.make_inputs("hidden-6")
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]) and a[k] is not b[k]


def test_hidden_cases_depend_on_the_grading_secret_visible_ones_do_not(monkeypatch):
    rnn_forward = cases.get_check("rnn_forward")
    v0, h0 = rnn_forward.make_inputs("visible-0"), rnn_forward.make_inputs("hidden-1")
    monkeypatch.setenv(cases.SEED_ENV, "instructor-secret-for-alice")
    v1, h1 = rnn_forward.make_inputs("visible-0"), rnn_forward.make_inputs("hidden-1")
    assert np.array_equal(v0["xs"], v1["xs"])
    assert not np.array_equal(h0["xs"], h1["xs"])


def test_hidden_cases_cover_the_edge_cases():
    lstm_forward, rnn_step_forward = cases.get_check("lstm_forward"), cases.get_check("rnn_step_forward")
    shapes = [lstm_forward.case_shape(c) for c in lstm_forward.case_ids(True)]
    assert any(s["T"] == 1 for s in shapes) and any(s["B"] == 1 for s in shapes)
    assert any(s["H"] != s["D"] for s in shapes) and any(s["H"] == s["D"] for s in shapes)
    assert {s["dtype"] for s in shapes} >= {"float32", "float64"}
    visible = [rnn_step_forward.case_shape(c) for c in rnn_step_forward.case_ids()]
    assert any(s["D"] == s["H"] for s in visible), "a square visible case makes W_ih.T mistakes visible"


# ------------------------------------------------------------------------------------- records
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_records_carry_arrays_exactly(dtype):
    a = (np.random.default_rng(0).standard_normal((3, 2, 4)) * 1e-30).astype(dtype)
    rec = record.make_record("rnn_forward", "visible-0", {"hs": a})
    back = record.decode_outputs(json.loads(json.dumps(rec)))["hs"]
    assert back.dtype == a.dtype and np.array_equal(back, a)


def test_malformed_records_are_rejected():
    good = record.encode_array(np.zeros((2, 2)))
    for bad in ({**good, "shape": [3, 3]}, {**good, "b64": "!!"}, {**good, "dtype": "O"}, {}):
        with pytest.raises(ValueError):
            record.decode_array(bad)


def test_records_are_found_in_notebook_outputs():
    rec = record.make_record("x", "visible-0", {"a": np.ones(2)})
    outputs = [{"output_type": "stream", "text": "hi"},
               {"output_type": "display_data", "data": {record.MIME: rec, "text/plain": ""}}]
    assert record.records_from_outputs(outputs) == [rec]


# ------------------------------------------------------------------------------------- compare
def test_compare_names_the_output_the_index_and_the_error():
    ref = {"h_next": np.array([[0.5, -0.25], [0.1, 0.2]])}
    wrong = {"h_next": ref["h_next"].copy()}
    wrong["h_next"][1, 0] = 0.3
    rep = compare.compare_outputs(wrong, ref, 1e-6)
    assert not rep.ok and rep.failed_names() == ["h_next"]
    text = rep.describe()
    assert "h_next" in text and "(1, 0)" in text and "shape (2, 2)" in text


def test_compare_reports_shape_nan_and_missing():
    ref = {"a": np.zeros((2, 3)), "b": np.ones(2), "c": np.ones(1)}
    rep = compare.compare_outputs({"a": np.zeros((3, 2)), "b": np.array([1, np.nan])}, ref, 1e-6)
    assert [r.problem for r in rep.results] == ["shape", "nonfinite", "missing"]


def test_float32_tolerance_accepts_rounding_but_not_mistakes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    W = rng.standard_normal((5, 6)).astype(np.float32)
    ref = {"y": np.tanh(x @ W)}
    as64 = {"y": np.tanh(x.astype(np.float64) @ W.astype(np.float64)).astype(np.float32)}
    assert compare.matches(as64, ref, compare.rtol_for(np.float32))
    assert not compare.matches({"y": np.tanh(x @ W * 1.01)}, ref, compare.rtol_for(np.float32))


# ------------------------------------------------------------------------------------- checks
@pytest.mark.parametrize("check", CONTRACT)
def test_the_reference_passes_its_own_checks(check, capsys):
    for hidden in (False, True):
        _check_fn(check)(*_reference_fns(check), hidden=hidden)
    assert "pass" in capsys.readouterr().out


@pytest.mark.parametrize("check", CONTRACT)
def test_one_record_per_case_holding_what_the_function_returned(check):
    record.LAST_RECORDS.clear()
    _check_fn(check)(*_reference_fns(check), hidden=True)
    recs = record.LAST_RECORDS
    the_check = cases.get_check(check)
    assert [r["case"] for r in recs] == list(the_check.case_ids(True))
    for rec in recs:
        assert rec["status"] == "ok" and rec["check"] == check
        outs = record.decode_outputs(rec)
        assert set(outs) == set(the_check.outputs)
        inputs = the_check.make_inputs(rec["case"])
        assert feedback.evaluate(the_check, rec["case"], inputs, outs).ok


def test_an_unimplemented_function_fails_with_a_clear_message():
    def rnn_step_forward(x, h_prev, p):
        raise NotImplementedError()
    with pytest.raises(AssertionError, match="raise NotImplementedError"):
        G.check_rnn_step_forward(rnn_step_forward)


def test_a_wrong_return_type_is_explained():
    with pytest.raises(AssertionError, match=r"expected it to return \(h_next, cache\)"):
        G.check_rnn_step_forward(lambda x, h, p: np.tanh(x @ p.W_ih.T + h @ p.W_hh.T))


def test_a_shape_error_on_one_case_is_diagnosed_on_the_square_case():
    def rnn_step_forward(x, h_prev, p):
        h_next = np.tanh(x @ p.W_ih + p.b_ih + h_prev @ p.W_hh + p.b_hh)
        return h_next, G.RNNStepCache(x, h_prev, h_next, p)
    with pytest.raises(AssertionError) as e:
        G.check_rnn_step_forward(rnn_step_forward)
    msg = str(e.value)
    assert "ValueError" in msg and "neither W_ih nor W_hh is transposed" in msg
    assert isinstance(e.value.__cause__, ValueError)   # the student's traceback is kept


def test_float64_results_for_float32_inputs_fail_naming_the_dtype():
    """The contract: float32 in, float32 out. A visible case is float32, so this shows before
    submission."""
    def rnn_forward(xs, h0, p):
        hs, cache = R.rnn_forward(xs, h0, p)
        return hs.astype(np.float64), cache
    with pytest.raises(AssertionError) as e:
        G.check_rnn_forward(rnn_forward)
    assert "hs has the right values but dtype float64; the inputs are float32" in str(e.value)


def test_a_backward_is_graded_whatever_the_forward_does():
    """No cascade: a backward check never calls the student's forward; it passes its own caches,
    in the cache contract, to the backward."""
    seen = []

    def lstm_step_backward(dh_next, dc_next, cache):
        seen.append(type(cache))
        return R.lstm_step_backward(dh_next, dc_next, cache)
    G.check_lstm_step_backward(lstm_step_backward)
    assert seen and set(seen) == {G.LSTMStepCache}

    def gru_backward(dhs, cache):
        assert isinstance(cache, list) and len(cache) == len(dhs)
        assert all(isinstance(c, G.GRUStepCache) for c in cache)
        return R.gru_backward(dhs, cache)
    G.check_gru_backward(gru_backward, hidden=True)


def test_a_forward_whose_cache_breaks_the_contract_fails_saying_so():
    def lstm_step_forward(x, h_prev, c_prev, p):
        h, c, cache = R.lstm_step_forward(x, h_prev, c_prev, p)
        return h, c, tuple(cache)[:-1]     # p left out
    with pytest.raises(AssertionError, match=r"the cache is a tuple of length 8; expected a "
                                             r"LSTMStepCache\(x, h_prev, c_prev, i, f, g, o, "):
        G.check_lstm_step_forward(lstm_step_forward)

    def lstm_forward(xs, h0, c0, p):
        hs, cs, caches = R.lstm_forward(xs, h0, c0, p)
        return hs, cs, [c._replace(tanh_c=np.tanh(c.c_prev)) for c in caches]   # a wrong field
    with pytest.raises(AssertionError, match=r"cache\.tanh_c \(shape"):
        G.check_lstm_forward(lstm_forward)


def test_answers_are_checked_without_revealing_the_expected_value():
    from grnn_ref.grading.reference import ex03_decay_rate
    right = ex03_decay_rate()
    G.check_answer("ex03_decay_rate", right * 1.001)
    with pytest.raises(AssertionError) as e:
        G.check_answer("ex03_decay_rate", 0.5)
    assert f"{right:.3g}"[:4] not in str(e.value)
    with pytest.raises(AssertionError, match="one number"):
        G.check_answer("ex03_decay_rate", [1, 2])


def test_custom_checks_accept_correct_implementations():
    from grnn_ref.gradcheck import numerical_gradient
    from grnn_ref.grading import reference as ref
    G.check_numerical_gradient(numerical_gradient, hidden=True)
    G.check_rnn_jacobian(lambda h, p: ref.rnn_jacobian(h, p.W_hh), hidden=True)
    G.check_jacobian_norms(lambda hs, p: ref.jacobian_norms(hs, p.W_hh), hidden=True)
    G.check_gradient_bound(lambda p, T: ref.gradient_bound(p.W_hh, T), hidden=True)
    G.check_clip_gradients(lambda g, m: G.Params(*ref.clip_by_global_norm(g, m)), hidden=True)

    def trace(xs, h0, c0, p):
        hs, cs, cache = R.lstm_forward(xs, h0, c0, p)
        return {"hs": hs, "cs": cs, **R.lstm.lstm_gates(cache)}
    G.check_lstm_gate_trace(trace, hidden=True)


def test_the_adding_problem_has_the_baseline_one_sixth():
    xs, ys = G.adding_problem(20000, 10, seed=0)
    assert xs.shape == (10, 20000, 2) and ys.shape == (20000, 1)
    assert np.all(xs[:, :, 1].sum(axis=0) == 2)
    assert abs(float(np.mean((ys - 1) ** 2)) - G.ADDING_BASELINE_MSE) < 0.005


def test_kernel_side_modules_work_without_the_reference(tmp_path):
    """In the grading sandbox only the staged kernel-side files exist: checks record and do not
    judge. Staged by production's own function; run with `python -I -S` (no site-packages
    processing, so the editable install of grnn_ref cannot be found), numpy added by hand."""
    from grnn_ref.autograde.sandbox import stage_grading_modules

    stage_grading_modules(str(tmp_path), str(REPO / "grnn_ref"), allow_torch=False)
    numpy_site = str(Path(np.__file__).resolve().parents[1])
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(tmp_path)!r}, {numpy_site!r}]\n"
        "import numpy as np, grnn_ref\n"
        f"assert grnn_ref.__file__.startswith({str(tmp_path)!r}), grnn_ref.__file__\n"
        "from grnn_ref.grading import check_rnn_step_forward, check_torch_lstm_cell, record\n"
        "from grnn_ref.params import RNNStepCache\n"
        "def step(x, h, p):\n"
        "    h_next = np.zeros((x.shape[0], h.shape[1]), dtype=x.dtype)\n"
        "    return h_next, RNNStepCache(x, h, h_next, p)\n"
        "check_rnn_step_forward(step)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('grnn_ref'))\n"
        "for reference in ('grnn_ref.rnn', 'grnn_ref.lstm', 'grnn_ref.grading.feedback',\n"
        "                  'grnn_ref.grading.reference', 'grnn_ref.grading.misconceptions'):\n"
        "    assert reference not in loaded, loaded\n"
        "    try:\n"
        "        __import__(reference)\n"
        "    except ImportError:\n"
        "        pass\n"
        "    else:\n"
        "        raise AssertionError(reference + ' is importable in the sandbox')\n"
        "print(len(record.LAST_RECORDS))\n")
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    visible = len(cases.get_check("rnn_step_forward").case_ids())
    assert proc.stdout.strip() == str(visible)   # one record per visible case, judged elsewhere


def test_a_registered_check_needs_no_hand_written_function(monkeypatch, capsys):
    """Adding an exercise: its notebook, its grading/exercises/ module (a Check registered there)
    and its reference maths. `from grnn_ref.grading import check_<name>` finds the check."""
    class DoubleCheck(cases.Check):
        family = "double"

        def build(self, shape, rng):
            return {"x": rng.standard_normal((shape["B"], 3)).astype(shape["dtype"])}

        def call(self, fns, inputs):
            return {"y": fns[0](inputs["x"])}

        def reference(self, inputs):
            return {"y": 2 * inputs["x"]}

    check = DoubleCheck("double_it", ("y",), (cases.size(B=2),), (cases.size(B=1),))
    monkeypatch.setitem(cases.REGISTRY, "double_it", check)
    from grnn_ref.grading import check_double_it

    check_double_it(lambda x: 2 * x)
    check_double_it(lambda x: 2 * x, hidden=True)
    assert "double_it: all 1 hidden cases pass." in capsys.readouterr().out
    with pytest.raises(AssertionError, match="double_it is not right yet"):
        check_double_it(lambda x: 3 * x)
    with pytest.raises(ImportError):
        from grnn_ref.grading import check_not_registered  # noqa: F401
