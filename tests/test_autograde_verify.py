"""Grader-side verification (grnn_ref.grading.verify) without a kernel: records in, verdict out."""
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_output

from grnn_ref import rnn_step_forward
from grnn_ref.autograde import secret as grading_secret
from grnn_ref.grading import cases, record
from grnn_ref.params import RNNStepCache
from grnn_ref.grading.verify import VerifyChecks, expected_checks, verify_cell_outputs

SECRET = "test-secret"
SRC = ("check_rnn_step_forward(rnn_step_forward)\n### BEGIN HIDDEN TESTS\n"
       "check_rnn_step_forward(rnn_step_forward, hidden=True)\n### END HIDDEN TESTS")


def _records(fn, hidden, secret=SECRET, check="rnn_step_forward"):
    outs = []
    the_check = cases.get_check(check)
    for case_id in the_check.case_ids(hidden):
        inp = the_check.make_inputs(case_id, secret)
        rec = record.make_record(check, case_id,
                                 the_check.call((fn,), {k: v.copy() for k, v in inp.items()}))
        outs.append(new_output("display_data", data={record.MIME: rec, "text/plain": ""}))
    return outs


def test_expected_checks_are_parsed_in_order_with_the_hidden_flag():
    assert [(c.name, hidden) for c, hidden in expected_checks(SRC)] == [
        ("rnn_step_forward", False), ("rnn_step_forward", True)]
    assert expected_checks("print(1)") == []


def test_unknown_check_fails_closed():
    with pytest.raises(ValueError, match="cannot verify"):
        expected_checks("check_something_new(f)")


def test_correct_records_verify():
    outs = _records(rnn_step_forward, False) + _records(rnn_step_forward, True)
    ok, msg, _ = verify_cell_outputs(SRC, outs, SECRET)
    assert ok, msg
    assert "5 hidden cases pass" in msg


def test_missing_hidden_records_fail():
    ok, msg, _ = verify_cell_outputs(SRC, _records(rnn_step_forward, False), SECRET)
    assert ok is False and "hidden-0: no result was recorded" in msg


def test_records_made_with_another_seed_fail():
    # a kernel that guessed the public default seed answers other inputs than the grader's
    outs = _records(rnn_step_forward, False) + _records(rnn_step_forward, True, secret="guess")
    ok, msg, _ = verify_cell_outputs(SRC, outs, SECRET)
    assert ok is False and "hidden" in msg


def test_wrong_values_fail_with_the_named_mistake():
    def no_tanh(x, h, p):
        h_next = x @ p.W_ih.T + p.b_ih + h @ p.W_hh.T + p.b_hh
        return h_next, RNNStepCache(x, h, h_next, p)
    ok, msg, _ = verify_cell_outputs(SRC, _records(no_tanh, False) + _records(no_tanh, True),
                                     SECRET)
    assert ok is False and "visible-0" in msg


def test_duplicated_records_count_as_tampering():
    outs = _records(rnn_step_forward, False)
    outs = outs + outs[:1] + _records(rnn_step_forward, True)
    ok, msg, _ = verify_cell_outputs(SRC, outs, SECRET)
    assert ok is False and "tampered" in msg


def test_preprocessor_rewrites_outputs_so_nbgrader_scores_what_was_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("GRNN_GRADING_SECRET_FILE", str(tmp_path / "secret"))
    seed = str(grading_secret.hidden_seed("ex01_rnn", "alice"))
    meta = {"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 5,
                         "locked": True}}
    good = new_code_cell(SRC, metadata=meta)
    good.outputs = (_records(rnn_step_forward, False, seed) + _records(rnn_step_forward, True, seed)
                    + [new_output("error", ename="X", evalue="", traceback=[])])
    # a hidden error does not matter when every case verified; a cheat's clean output does not help
    cheat = new_code_cell(SRC, metadata=meta)
    cheat.outputs = [new_output("stream", name="stdout", text="all tests pass\n"),
                     new_output("execute_result", data={"text/plain": "5"}, execution_count=1)]
    from nbformat.v4 import new_notebook
    nb = new_notebook(cells=[good, cheat])
    nb, _ = VerifyChecks().preprocess(nb, {"nbgrader": {"student": "alice",
                                                        "assignment": "ex01_rnn"}})
    from nbgrader.utils import determine_grade
    assert determine_grade(nb.cells[0]) == (5.0, 5.0)
    assert determine_grade(nb.cells[1]) == (0, 5.0)
    assert all(o.output_type != "execute_result" for o in nb.cells[1].outputs)


def test_hidden_seed_depends_on_secret_student_and_assignment(tmp_path, monkeypatch):
    monkeypatch.setenv("GRNN_GRADING_SECRET_FILE", str(tmp_path / "s1"))
    a = grading_secret.hidden_seed("ex01_rnn", "alice")
    assert a == grading_secret.hidden_seed("ex01_rnn", "alice")
    assert a != grading_secret.hidden_seed("ex01_rnn", "bob")
    assert a != grading_secret.hidden_seed("ex02_bptt", "alice")
    assert oct((tmp_path / "s1").stat().st_mode)[-3:] == "600"
    monkeypatch.setenv("GRNN_GRADING_SECRET_FILE", str(tmp_path / "s2"))
    assert a != grading_secret.hidden_seed("ex01_rnn", "alice")
    assert np.issubdtype(type(a), np.integer) or isinstance(a, int)
