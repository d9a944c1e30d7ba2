"""The hostile-submission corpus (tests/hostile/ex01_corpus.py), graded by the real commands.

One class of ~33 hostile and broken ex01_rnn submissions is graded once with
`python -m grnn_ref.autograde ex01_rnn --jobs 2`; every trick must get exactly its stated score
per test cell, the batch must complete, and a subset graded again with plain
`nbgrader autograde` (the committed nbgrader_config.py) must get the same grades.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from grnn_ref.autograde import classroom

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "hostile"))
import ex01_corpus  # noqa: E402

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("hostile")]

REPO = classroom.repo_root()
NAMES = [t.name for t in ex01_corpus.tricks("", "", {"rnn_step_forward": {}, "rnn_forward": {}})]
PLAIN_SUBSET = ["correct", "reference_import", "patch_checks", "hide_custom_exc", "lookup_table",
                "os_exit_in_test", "output_flood", "invalid_json", "lost_cells"]
# Short per-cell timeout so that the endless loops cost seconds (the config reads it).
ENV = {**os.environ, "GRNN_CELL_TIMEOUT": "6"}


def _grade_cells(course):
    return classroom.grades(str(course), "ex01_rnn")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("hostile_course")
    classroom.copy_course(str(course), ["ex01_rnn"])
    corpus = ex01_corpus.build(str(course), REPO)
    proc = subprocess.run([sys.executable, "-m", "grnn_ref.autograde", "ex01_rnn", "--jobs", "2",
                           "--no-progress"], cwd=course, env=ENV, capture_output=True, text=True,
                          timeout=1200)
    states = {}
    state_dir = course / ".grnn_autograde" / "ex01_rnn"
    for name in corpus:
        with open(state_dir / f"{name}.json") as f:
            states[name] = json.load(f)
    return {"course": course, "corpus": corpus, "proc": proc, "grades": _grade_cells(course),
            "states": states}


def test_the_batch_completes_with_a_summary(graded):
    out = graded["proc"].stdout
    assert f"{len(graded['corpus'])} students" in out, out[-2000:]
    # exactly the two ungradable files fail, and the summary says why
    failed = sorted(n for n, s in graded["states"].items() if s["status"] != "graded")
    assert failed == ["invalid_json", "renamed"], graded["proc"].stdout[-3000:]
    assert "not valid JSON" in " ".join(graded["states"]["invalid_json"]["reasons"])
    assert "my_ex01_rnn.ipynb" in " ".join(graded["states"]["renamed"]["reasons"])


@pytest.mark.parametrize("name", NAMES)
def test_trick_gets_exactly_its_score(graded, name):
    trick = graded["corpus"][name]
    got = graded["grades"].get(name, {})
    for cell, expected in trick.expected.items():
        score = got.get(f"ex01_rnn/{cell}")
        assert score == expected, (
            f"{name} ({trick.covers}): {cell} scored {score}, expected {expected}; "
            f"log: {graded['states'][name].get('reasons')}")


def test_kernel_killers_are_reported(graded):
    for name in ("os_exit_in_test", "segfault", "loop_ignoring_interrupt"):
        reasons = " ".join(graded["states"][name]["reasons"])
        assert "kernel" in reasons, (name, reasons)


def test_flood_is_truncated_in_the_autograded_notebook(graded):
    path = graded["course"] / "autograded" / "output_flood" / "ex01_rnn" / "ex01_rnn.ipynb"
    assert path.stat().st_size < 2_000_000
    assert "output truncated" in path.read_text()


def test_plain_nbgrader_gives_the_same_grades(graded, tmp_path):
    """The subset, copied into a course of its own with the same secret, graded by one plain
    `nbgrader autograde ex01_rnn` (one process for all of them)."""
    course, plain = graded["course"], tmp_path / "plain_course"
    classroom.copy_course(str(plain), ["ex01_rnn"])
    for secret in course.glob(".grnn_grading_secret*"):
        shutil.copy(secret, plain / secret.name)
    for name in PLAIN_SUBSET:
        shutil.copytree(course / "submitted" / name, plain / "submitted" / name)
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "ex01_rnn", "--force"],
                   cwd=plain, env=ENV, capture_output=True, timeout=600)
    ours, theirs = graded["grades"], _grade_cells(plain)
    for name in PLAIN_SUBSET:
        assert theirs[name] == ours[name], (name, theirs[name], ours[name])
