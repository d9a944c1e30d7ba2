"""Exercise 9's checks: the reference scans pass (doubling and Blelloch), every planted mistake
fails and is named, the closed form with cumprod is caught in float32, and the notebook's try-it
runs with the solution and agrees in float32."""
import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from grnn_ref import mingru as Mg
from grnn_ref.grading import CheckFailed, check_linear_scan, check_mingru_forward
from grnn_ref.grading import misconceptions as M
from grnn_ref.grading.mutations import MUTATIONS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "solutions" / "ex09_mingru" / "ex09_mingru.ipynb"


def _cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _namespace(mutation=None):
    """The solution notebook's setup and solution cells executed (one mutation applied)."""
    ns = {}
    for cell in _cells():
        gid = _grade_id(cell)
        if cell["cell_type"] != "code" or not (gid.startswith("setup") or
                                               gid in ("linear_scan", "mingru_forward")):
            continue
        src = "".join(cell["source"])
        if mutation is not None and gid == mutation.cell:
            assert mutation.old in src, f"mutation {mutation.expect} does not apply"
            src = src.replace(mutation.old, mutation.new)
        exec(src, ns)
    return ns


@pytest.mark.parametrize("method", ["doubling", "blelloch"])
def test_the_reference_scans_pass_every_case(method):
    check_linear_scan(lambda a, b, h0: Mg.linear_scan(a, b, h0, method))
    check_linear_scan(lambda a, b, h0: Mg.linear_scan(a, b, h0, method), hidden=True)


def test_the_reference_mingru_and_the_solution_notebook_pass_every_case():
    fwd = lambda xs, h0, W, bias: Mg.mingru_forward(xs, h0, W, bias)[0]   # noqa: E731
    ns = _namespace()
    for scan, gru in ((None, fwd), (ns["linear_scan"], ns["mingru_forward"])):
        if scan is not None:
            check_linear_scan(scan, hidden=True)
        check_mingru_forward(gru)
        check_mingru_forward(gru, hidden=True)


@pytest.mark.parametrize("mutation", MUTATIONS["ex09_mingru"], ids=lambda m: m.expect)
def test_every_planted_mistake_fails_and_is_named(mutation):
    ns = _namespace(mutation)
    check = {"linear_scan": check_linear_scan, "mingru_forward": check_mingru_forward}
    with pytest.raises(CheckFailed) as info:
        check[mutation.cell](ns[mutation.cell])
    assert M.BY_ID[mutation.expect].title in str(info.value)


@pytest.mark.parametrize("mistake", ["scan_compose_order", "scan_exclusive",
                                     "scan_cumprod_closed_form"])
def test_other_scan_mistakes_are_named(mistake):
    fn = {
        "scan_compose_order": lambda a, b, h0: Mg._doubling_variant(a, b, h0, "compose_order"),
        "scan_exclusive": lambda a, b, h0: np.concatenate(
            [h0[None], Mg.linear_recurrence(a, b, h0)[:-1]]),
        "scan_cumprod_closed_form": Mg.linear_scan_cumprod,
    }[mistake]
    with pytest.raises(CheckFailed) as info:
        check_linear_scan(fn)
    assert M.BY_ID[mistake].title in str(info.value)


@pytest.mark.parametrize("mistake", ["blocks_swapped", "b_not_gated", "h0_ignored"])
def test_other_mingru_mistakes_are_named(mistake):
    def fn(xs, h0, W, bias):
        inputs = {"xs": xs, "h0": h0, "W": W, "bias": bias}
        variant = {m.id: m for m in Mg.misconceptions()}[f"mingru_{mistake}"].variant
        return variant(None, inputs)["hs"].astype(xs.dtype)
    with pytest.raises(CheckFailed) as info:
        check_mingru_forward(fn)
    assert M.BY_ID[f"mingru_{mistake}"].title in str(info.value)


def test_a_loop_over_time_is_not_mistaken_for_a_known_mistake():
    # the checks judge values: the loop itself passes (the notebook asks for a scan in words)
    check_linear_scan(lambda a, b, h0: Mg.linear_recurrence(a, b, h0))


def test_the_try_it_runs_with_the_solution_and_agrees_in_float32():
    ns, out = {}, io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in _cells():
            if cell["cell_type"] == "code":
                exec("".join(cell["source"]), ns)
    text = out.getvalue()
    rows = re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+([\d.e+-]+)\s*$",
                      text, flags=re.M)
    assert [(int(r[0]), int(r[1]), int(r[2])) for r in rows] == [
        (n, T, k) for n in (1, 512) for T, k in ((256, 8), (1024, 10), (4096, 12))]
    assert all(float(r[3]) < 1e-5 for r in rows)
    # the small comparison: loop and scan print the same 12 decimals
    pairs = re.findall(r"loop\s+(-?\d+\.\d+)\s+scan\s+(-?\d+\.\d+)", text)
    assert len(pairs) == 6 and all(p == q for p, q in pairs)
