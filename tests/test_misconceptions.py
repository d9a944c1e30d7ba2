"""Feedback that names the mistake: every catalogued misconception is recognised, and every
realistic mistake planted in a solution is named by the check it fails."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from grnn_ref.grading import cases, coursekit, feedback
from grnn_ref.grading import misconceptions as M
from grnn_ref.grading.mutations import MUTATIONS
from grnn_ref.params import GATES

REPO = Path(__file__).resolve().parents[1]
CONTRACT = [n for n, c in cases.REGISTRY.items()
            if c.family in ("step_forward", "forward", "step_backward", "backward")]
ALL_CASES = [(c, k) for c in CONTRACT
             for k in cases.get_check(c).case_ids() + cases.get_check(c).case_ids(True)]


def _inputs_and_reference(check, case_id):
    c = cases.get_check(check)
    inputs = c.make_inputs(case_id)
    return inputs, c.reference(inputs)


def _mistake_free_variants(check):
    """Each way of building a variant with no mistake selected: (variant, is it a backward's)."""
    kind = cases.get_check(check).kind
    order = "".join(GATES[kind])
    step, step_backward = {"rnn": (M.rnn_step, M.rnn_step_backward),
                           "lstm": (M.lstm_step, M.lstm_step_backward),
                           "gru": (M.gru_step, M.gru_step_backward)}[kind]
    if "backward" in check:   # a backward check runs on its own caches: backward variants only
        yield M.backward_variant(), True                               # the BPTT loop
        yield M.backward_variant(step_backward()), True                # the own step backward
        yield M.gradients_variant(lambda grads, B, H: {}), True        # an outputs change
    else:
        yield M.forward_variant(), False                                   # the sequence loop
        yield M.forward_variant(params=M.gate_order(order, order)), False  # a parameter change
        yield M.forward_variant(step()), False                             # the step's own maths


@pytest.mark.parametrize("check,case_id", ALL_CASES)
def test_each_kind_of_variant_without_its_mistake_is_the_reference(check, case_id):
    """So a variant differs from the reference by exactly its mistake."""
    inputs, ref = _inputs_and_reference(check, case_id)
    forward_names = [n for n in ref if n in ("h_next", "c_next", "hs", "cs")]
    # float64: agreement to 1e-9; float32: the rounding tolerance of the checks
    rtol = 1e-9 if inputs["W_ih"].dtype == np.float64 else feedback.compare.rtol_for(np.float32)
    for variant, backward in _mistake_free_variants(check):
        mine = variant(check, inputs)
        names = list(ref) if backward else forward_names
        assert sorted(mine) == sorted(names)
        assert feedback.compare.compare_outputs(mine, ref, rtol, names=names).ok


def _catalogue():
    for m in M.CATALOG + M.EXTRA:
        for check in m.checks:
            yield pytest.param(m, check, id=f"{m.id}-{check}")


@pytest.mark.parametrize("m,check", list(_catalogue()))
def test_each_misconception_is_named_when_the_outputs_match_it(m, check):
    """Outputs computed with exactly this mistake fail, and the message names it and its fix."""
    named = 0
    for case_id in cases.get_check(check).case_ids():
        inputs, ref = _inputs_and_reference(check, case_id)
        try:
            var = m.variant(check, inputs)
        except M.ShapeInvalid:
            continue
        if feedback.compare.compare_outputs(var, ref, 1e-9, names=list(var)).ok:
            continue  # on this case the mistake does not change the result (e.g. no clipping)
        student = {**ref, **var}
        verdict = feedback.evaluate(cases.get_check(check), case_id, inputs, student)
        assert not verdict.ok
        if verdict.misconception is not None and verdict.misconception.id == m.id:
            assert m.title in verdict.message and m.fix in verdict.message
            named += 1
    assert named, f"{m.id} was not recognised on any visible case of {check}"


def test_the_common_mistakes_of_each_cell_are_catalogued():
    ids = set(M.BY_ID)
    required = ["lstm_gate_order_fogi", "gru_update_flipped", "gru_reset_before_matrix",
                "lstm_no_cell_tanh", "lstm_candidate_sigmoid", "gru_candidate_sigmoid",
                "rnn_W_hh_not_transposed", "lstm_W_hh_not_transposed", "gru_W_hh_not_transposed",
                "rnn_missing_b_hh", "lstm_missing_b_ih", "rnn_state_not_carried",
                "lstm_state_not_carried", "gru_state_not_carried", "rnn_bptt_no_carry",
                "lstm_bptt_no_carry", "gru_bptt_no_carry", "rnn_params_not_summed_first",
                "lstm_params_not_summed_last", "gru_params_not_summed_first"]
    assert not [r for r in required if r not in ids]
    assert sum(i.startswith("lstm_gate_order_") for i in ids) == 23  # every other order


def test_a_correct_answer_is_never_diagnosed():
    for check in CONTRACT:
        inputs, ref = _inputs_and_reference(check, "visible-0")
        assert M.diagnose(check, inputs, ref) is None


# ------------------------------------------------------------- mistakes planted in the solutions
def _run_cells(nb):
    """Execute a notebook's code cells in one namespace; return {test grade_id: message or None}."""
    ns, results = {}, {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        try:
            exec(compile(src, meta.get("grade_id", "<cell>"), "exec"), ns)
            outcome = None
        except Exception as e:  # noqa: BLE001 - a failing cell is a result here
            outcome = f"{type(e).__name__}: {e}"
        if meta.get("grade"):
            results[meta["grade_id"]] = outcome
    if "matplotlib.pyplot" in sys.modules:   # the Try-it cells' figures
        sys.modules["matplotlib.pyplot"].close("all")
    return results


def _solution(assignment):
    src = json.loads((REPO / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    rel = json.loads((REPO / "exercises" / assignment / f"{assignment}.ipynb").read_text())
    return coursekit.solution_submission(src, rel)


PLANTED = [pytest.param(a, k, id=f"{a}-{m.expect or k}")
           for a, muts in MUTATIONS.items() for k, m in enumerate(muts)
           if a != "ex06_torch"]  # ex06 trains a torch model: covered by the nbgrader workflow test


@pytest.mark.parametrize("assignment,k", PLANTED)
def test_a_planted_mistake_fails_and_is_named(assignment, k, monkeypatch, capsys):
    monkeypatch.chdir(REPO / "solutions" / assignment)   # data files (ex07's weights)
    mutation = MUTATIONS[assignment][k]
    results = _run_cells(coursekit.plant(_solution(assignment), mutation))
    failed = {g: msg for g, msg in results.items() if msg is not None}
    assert failed, f"{mutation} did not fail any test"
    if mutation.expect:
        title = M.BY_ID[mutation.expect].title
        assert any(title in msg for msg in failed.values()), failed


@pytest.mark.parametrize("assignment", [a for a in MUTATIONS if a != "ex06_torch"])
def test_the_unmutated_solution_passes_in_process(assignment, monkeypatch, capsys):
    monkeypatch.chdir(REPO / "solutions" / assignment)
    results = _run_cells(_solution(assignment))
    assert results and all(msg is None for msg in results.values()), results
