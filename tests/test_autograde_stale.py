"""Stale grades and honest summaries of `python -m grnn_ref.autograde`.

One small class is graded once (module fixture): ada (correct), lo (a loop that runs into the
cell time limit) and tr (a truncated upload). Each test copies that graded course (gradebook,
autograded files, state) into its own folder, changes one grading input and regrades only ada,
so a test costs one student's grading, not the class's.
"""
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from grnn_ref.autograde import classroom

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("autograde_stale")]

CELL_TIMEOUT = 6
ENV = {**os.environ, "GRNN_CELL_TIMEOUT": str(CELL_TIMEOUT)}
ENV.pop("GRNN_GRADEBOOK_URL", None)
OURS = [sys.executable, "-m", "grnn_ref.autograde", "ex01_rnn", "--no-progress"]
TEST_CELL = "ex01_rnn/test_rnn_forward"


def _run(cmd, course, env=ENV):
    return subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("stale_course") / "course")
    classroom.copy_course(root, ["ex01_rnn"])
    release = classroom.read_release(root, "ex01_rnn")
    sols = classroom.solution_cells(root, "ex01_rnn")
    classroom.submit(root, "ex01_rnn", "ada", classroom.filled(release, sols))
    classroom.submit(root, "ex01_rnn", "lo", classroom.filled(release, {
        **sols, "rnn_forward": "import time\nwhile True:\n    time.sleep(0.01)\n"
        + sols["rnn_forward"]}))  # an endless loop that waits rather than spins (same timeout)
    text = nbformat.writes(classroom.filled(release, sols))
    classroom.submit(root, "ex01_rnn", "tr", text[: len(text) // 2])  # an upload cut in half
    first = _run(OURS + ["--jobs", "2"], root)
    return {"root": root, "out": first.stdout + first.stderr, "rc": first.returncode,
            "grades": classroom.grades(root, "ex01_rnn")}


def _copy(graded, tmp_path):
    dest = str(tmp_path / "course")
    shutil.copytree(graded["root"], dest, symlinks=True)
    return dest


def _edit_source(course, edit):
    """Apply edit(cell) to the source notebook's test cell of rnn_forward."""
    path = os.path.join(course, "solutions", "ex01_rnn", "ex01_rnn.ipynb")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_rnn_forward":
            edit(cell)
    nbformat.write(nb, path)


def _report(course):
    with open(os.path.join(course, "autograde_report_ex01_rnn.json")) as f:
        return json.load(f)


# ------------------------------------------------------------------ honest summaries
def test_each_student_has_an_honest_outcome_in_the_summary_and_the_report(graded):
    out = graded["out"]
    assert graded["grades"]["ada"][TEST_CELL] == 5.0
    results = _report(graded["root"])["results"]
    assert {s: r["outcome"] for s, r in results.items()} == {
        "ada": "graded", "lo": "timed_out", "tr": "not_valid"}, out
    assert results["lo"]["time_limit_s"] == CELL_TIMEOUT
    assert "1 graded, 1 timed out, 1 not valid, 0 pending hand grading, 0 infrastructure " \
           "failure" in out, out
    assert f"TIMED OUT lo" in out and f"{CELL_TIMEOUT} s limit" in out, out
    # the truncated upload is flagged, with why it has no feedback page, not a silent 0
    assert "NOT VALID tr" in out and "not valid JSON" in out and "no feedback page" in out, out
    assert graded["rc"] == 1  # a run with a student it could not grade is not a clean run


# ------------------------------------------------------------------ --resume and stale inputs
def test_resume_regrades_when_the_points_change(graded, tmp_path):
    course = _copy(graded, tmp_path)
    _edit_source(course, lambda c: c.metadata["nbgrader"].update(points=7))
    r = _run(OURS + ["--resume", "--students", "ada"], course)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the gradebook's test cells or points" in r.stdout, r.stdout
    assert "updating the gradebook" in r.stderr, r.stderr
    assert classroom.grades(course, "ex01_rnn")["ada"][TEST_CELL] == 7.0


def test_resume_regrades_when_only_a_hidden_test_changes(graded, tmp_path):
    course = _copy(graded, tmp_path)
    # the hidden test now calls another check (which ada's rnn_forward cannot pass)
    _edit_source(course, lambda c: setattr(c, "source", c.source.replace(
        "check_rnn_forward(rnn_forward, hidden=True)",
        "check_rnn_step_forward(rnn_forward, hidden=True)")))
    r = _run(OURS + ["--resume", "--students", "ada"], course)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 graded" in r.stdout and "0 unchanged (resumed)" in r.stdout, r.stdout
    assert classroom.grades(course, "ex01_rnn")["ada"][TEST_CELL] == 0.0


def test_resume_regrades_when_the_secret_changes(graded, tmp_path):
    course = _copy(graded, tmp_path)
    with open(os.path.join(course, ".grnn_grading_secret"), "w") as f:
        f.write("ab" * 32 + "\n")
    # a second secret is refused (grnn_ref/autograde/course_secret.py) ...
    refused = _run(OURS + ["--resume", "--students", "ada"], course)
    assert refused.returncode != 0 and "is not the secret course" in (
        refused.stdout + refused.stderr), refused.stdout + refused.stderr
    # ... until the instructor starts the course over with it, as the message says
    import sqlite3
    with sqlite3.connect(os.path.join(course, "gradebook.db")) as db:
        db.execute("DELETE FROM grnn_secret_fingerprint")
    r = _run(OURS + ["--resume", "--students", "ada"], course)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the grading secret" in r.stdout and "0 unchanged (resumed)" in r.stdout, r.stdout
    # and with nothing changed since, --resume skips her
    again = _run(OURS + ["--resume", "--students", "ada"], course)
    assert "1 unchanged (resumed)" in again.stdout, again.stdout


def test_the_export_flags_what_the_grading_command_found(graded, tmp_path):
    """nbgrader export (the course's LmsExportPlugin) reads each student's outcome."""
    course = _copy(graded, tmp_path)
    r = _run([sys.executable, "-m", "nbgrader", "export", "--to", "grades.csv"], course)
    assert r.returncode == 0, r.stdout + r.stderr
    import csv
    with open(os.path.join(course, "grades.csv")) as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert rows["ada"]["status"] == "graded" and rows["ada"]["flags"] == ""
    assert rows["lo"]["status"] == "timed_out", rows["lo"]
    assert f"ran past the {CELL_TIMEOUT} s limit" in rows["lo"]["flags"], rows["lo"]
    assert rows["tr"]["status"] == "not_valid", rows["tr"]
    assert "not valid" in rows["tr"]["flags"], rows["tr"]


def test_a_failed_regrade_keeps_the_previous_grade_and_files(graded, tmp_path):
    course = _copy(graded, tmp_path)
    autograded = os.path.join(course, "autograded", "ada", "ex01_rnn", "ex01_rnn.ipynb")
    with open(autograded) as f:
        before = f.read()
    path = os.path.join(course, "submitted", "ada", "ex01_rnn", "ex01_rnn.ipynb")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text[:100])
    r = _run(OURS + ["--students", "ada"], course)
    assert r.returncode == 1
    assert "the previous grade 10/10 and its autograded files are kept" in r.stdout, r.stdout
    assert classroom.grades(course, "ex01_rnn")["ada"] == graded["grades"]["ada"]
    with open(autograded) as f:
        assert f.read() == before
    ada = _report(course)["results"]["ada"]
    assert ada["outcome"] == "not_valid" and ada["previous_kept"] == {"score": 10.0,
                                                                       "max_score": 10.0}


def test_grading_is_refused_with_the_command_when_the_gradebook_cannot_be_updated(graded,
                                                                                   tmp_path):
    course = _copy(graded, tmp_path)
    # a test cell renamed after students submitted: nbgrader will not drop the old cell
    _edit_source(course, lambda c: c.metadata["nbgrader"].update(grade_id="test_rnn_forward2"))
    r = _run(OURS + ["--students", "ada"], course)
    assert r.returncode != 0
    assert "nbgrader generate_assignment ex01_rnn --force" in r.stdout + r.stderr, r.stderr
    # with nbgrader's own reason
    assert "Cannot add or remove cells" in r.stderr, r.stderr
    assert classroom.grades(course, "ex01_rnn")["ada"] == graded["grades"]["ada"]
