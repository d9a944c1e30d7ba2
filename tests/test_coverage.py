"""The visible cases predict the grade: over the misconception catalogue and the contract mistakes
(float64 outputs, sizes written into the code), the mistakes the visible cases catch are at least
95% of those the hidden cases catch (`python -m grnn_ref.grading.coverage` prints the table)."""
from grnn_ref.grading import coverage
from grnn_ref.grading.cases import get_check


def test_the_visible_cases_catch_what_the_hidden_cases_catch():
    cov = coverage.measure()
    assert cov.caught_hidden > 250          # the whole catalogue was measured
    assert cov.ratio >= 0.95, [f"{m.id} on {m.check}" for m in cov.missed()]


def test_every_kind_of_hidden_cell_case_has_a_visible_representative():
    for name in ("rnn_step_forward", "lstm_step_backward", "gru_forward", "lstm_backward"):
        check = get_check(name)
        visible = [check.case_shape(c) for c in check.case_ids()]
        assert {s["dtype"] for s in visible} == {"float32", "float64"}
        assert any(s["B"] == 1 for s in visible)
        assert any(s["D"] == s["H"] for s in visible) and any(s["D"] != s["H"] for s in visible)
        if "T" in visible[0]:
            assert any(s["T"] == 1 for s in visible)
    assert any(s.get("dcs") for s in (get_check("lstm_backward").case_shape(c)
                                      for c in get_check("lstm_backward").case_ids()))


def test_a_mistake_only_a_float32_case_shows_is_caught_by_the_visible_cases():
    """The contract mistake "returns float64" is in the measure and caught before submission."""
    cov = coverage.measure()
    rows = [m for m in cov.mistakes if m.id == "returns_float64" and m.check == "lstm_forward"]
    assert rows and rows[0].visible and rows[0].hidden
