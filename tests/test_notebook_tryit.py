"""Every cell of every solved notebook runs, the ungraded "Try it" experiments included.

A solved notebook is the release with the solutions filled in, what a student who solved every
task holds (`grnn_ref.grading.coursekit.solution_submission`). It is executed cell by cell in one
namespace by a fresh Python process, in the assignment's release folder (ex07 reads its weights
there), with matplotlib's Agg backend. ex06 is included: it trains its small torch model in a few
seconds (measured: the whole notebook takes about 5 s on one core, 3.5 s of it training).

ex04 and ex05 have a cell where students may paste their code of Exercise 2 (tagged
"paste-earlier-exercises"): they run once as released, with that cell empty (the experiments that
need Exercise 2 must skip and say so), and once with the solved Exercise 2 pasted in.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grnn_ref.grading import coursekit

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir()
                     if (p / f"{p.name}.ipynb").exists())
PASTE_TAG = "paste-earlier-exercises"

# Runs the code cells it reads (a JSON list of sources) in one namespace and writes, per cell, the
# printed output and the traceback if it raised, to the JSON file named by argv[1].
RUNNER = r"""
import contextlib, io, json, sys, traceback
sources = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
results = []
for source in sources:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(source, "<cell>", "exec"), namespace)
            error = None
        except BaseException:
            error = traceback.format_exc(limit=4)
    results.append({"output": out.getvalue(), "error": error})
with open(sys.argv[1], "w") as f:
    json.dump(results, f)
"""


def _text(source):
    return "".join(source) if isinstance(source, list) else source


def _read(folder, assignment):
    return json.loads((REPO / folder / assignment / f"{assignment}.ipynb").read_text())


def _solved(assignment):
    return coursekit.solution_submission(_read("solutions", assignment), _read("exercises", assignment))


def _exercise_2_code():
    """What a student who solved Exercise 2 pastes: its set-up cell and its three functions."""
    nb = _solved("ex02_bptt")
    return "\n\n".join(_text(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
                       and "nbgrader" in c.get("metadata", {})
                       and not c["metadata"]["nbgrader"].get("grade"))


def _paste_cells(nb):
    return [c for c in nb["cells"] if PASTE_TAG in c.get("metadata", {}).get("tags", [])]


def _run(assignment, nb, tmp_path):
    """Execute nb's code cells; returns [(cell, {"output", "error"})] for the code cells."""
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    result_file = tmp_path / f"{assignment}-results.json"
    env = dict(os.environ, MPLBACKEND="Agg", MPLCONFIGDIR=str(tmp_path / "mpl"))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(result_file)],
                          input=json.dumps([_text(c["source"]) for c in cells]),
                          cwd=REPO / "exercises" / assignment, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return list(zip(cells, json.loads(result_file.read_text())))


def _name(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or _text(cell["source"])[:60]


def _failures(ran):
    return {_name(cell): res["error"] for cell, res in ran if res["error"] is not None}


def _output(ran):
    return "".join(res["output"] for _, res in ran)


def _is_try_it(cell):
    """An ungraded code cell: no nbgrader metadata, or a locked cell that is neither a solution
    nor a test."""
    md = cell.get("metadata", {}).get("nbgrader", {})
    return cell["cell_type"] == "code" and not md.get("grade") and not md.get("solution")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_notebook_has_ungraded_try_it_cells_after_a_graded_task(assignment):
    cells = _read("exercises", assignment)["cells"]
    first_test = min(k for k, c in enumerate(cells)
                     if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
    assert any(_is_try_it(c) and not _paste_cells({"cells": [c]}) for c in cells[first_test:])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_cell_of_the_solved_notebook_runs_try_its_included(assignment, tmp_path):
    ran = _run(assignment, _solved(assignment), tmp_path)
    assert not _failures(ran), _failures(ran)
    output = _output(ran)
    if _paste_cells(_solved(assignment)):
        # nothing pasted: the experiments that need Exercise 2 skip, and say what to paste
        assert "Skipped: paste your numerical_gradient" in output
        assert "Paste your Exercise 2" in output


def _relative_errors(output):
    return [float(x) for x in re.findall(r"relative error (\S+)$", output, flags=re.M)]


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS
                                        if _paste_cells(_read("exercises", a))])
def test_with_exercise_2_pasted_the_try_its_check_every_gradient_and_draw_the_rnn(
        assignment, tmp_path):
    nb = _solved(assignment)
    for cell in _paste_cells(nb):
        cell["source"] = _exercise_2_code()
    ran = _run(assignment, nb, tmp_path)
    assert not _failures(ran), _failures(ran)
    output = _output(ran)
    assert "Skipped" not in output and "tanh RNN (yours, Exercise 2)" in output
    # xs, h0, (c0), W_ih, W_hh, b_ih, b_hh: each agrees with the numerical gradient
    errors = _relative_errors(output)
    assert len(errors) == (7 if assignment == "ex04_lstm" else 6), output
    assert max(errors) < 1e-6, output


def test_the_ex02_try_it_checks_every_gradient_of_the_solution(tmp_path):
    output = _output(_run("ex02_bptt", _solved("ex02_bptt"), tmp_path))
    errors = _relative_errors(output)
    assert len(errors) == 6 and max(errors) < 1e-6, output
