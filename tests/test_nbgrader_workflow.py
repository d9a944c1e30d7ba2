"""The instructor's workflow end to end, with real nbgrader commands in a temporary course.

For every assignment: generate_assignment -> submissions (copied into submitted/, and for ex01 one
collected with zip_collect from an LMS-style download) -> autograde (all students of the
assignment in one run) -> generate_feedback -> export to CSV. Then:

- the solution scores full marks (all autograded points; a hand-graded answer waits for a human);
- the blank release scores 0, and the batch goes on;
- every planted mistake (grnn_ref.grading.mutations) loses points, and the misconception it is an
  instance of is named in that student's feedback HTML.

The course is a copy of nbgrader_config.py and solutions/<assignment> in a temporary directory:
nothing (gradebook.db, submitted/, ...) is written into the repository.
"""
import csv
import html
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grnn_ref.grading import coursekit
from grnn_ref.grading.misconceptions import BY_ID
from grnn_ref.grading.mutations import MUTATIONS

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir()
                     if (p / f"{p.name}.ipynb").exists())

pytestmark = pytest.mark.nbgrader


def nbgrader(course, *args):
    """Run one nbgrader command in `course`; returns its combined output (fails the test on a
    non-zero exit)."""
    env = dict(os.environ)
    env.pop("GRNN_GRADEBOOK_URL", None)  # the course's own SQLite gradebook
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{out[-4000:]}"
    return out


def read_nb(path):
    return json.loads(Path(path).read_text())


def write_nb(path, nb):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))


def manual_points(source_nb):
    """Points of hand-graded cells (grade and solution both set)."""
    total = 0.0
    for cell in source_nb["cells"]:
        md = cell.get("metadata", {}).get("nbgrader", {})
        if md.get("grade") and md.get("solution"):
            total += float(md.get("points", 0))
    return total


def feedback_text(course, student, assignment):
    """The feedback HTML of one student as plain text (tags and ANSI colour spans removed)."""
    page = (course / "feedback" / student / assignment / f"{assignment}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# Three courses graded by three tests, which pytest-xdist's workers take in turn (nbgrader's
# start-up costs seconds of CPU per command, so each course grades all its assignments with one
# command per step); ex06 trains a torch model per submission and gets a course of its own.
GROUPS = {"nbgrader-a": ("ex01_rnn", "ex02_bptt", "ex03_vanishing", "ex08_charlm"),
          "nbgrader-b": ("ex04_lstm", "ex05_gru", "ex07_gates"),
          "nbgrader-torch": ("ex06_torch", "ex09_mingru")}


def _submit(course, student, assignment, nb):
    folder = course / "submitted" / student / assignment
    write_nb(folder / f"{assignment}.ipynb", nb)
    for extra in (course / "solutions" / assignment).iterdir():  # data files, e.g. weights
        if extra.suffix != ".ipynb" and extra.is_file():
            shutil.copy(extra, folder / extra.name)


def grade_group(group, tmp_root):
    """Build, submit, autograde, feed back and export one course; returns its results."""
    assignments = [a for a in GROUPS[group] if a in ASSIGNMENTS]
    course = tmp_root / group
    course.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    for a in assignments:
        shutil.copytree(REPO / "solutions" / a, course / "solutions" / a)
    nbgrader(course, "generate_assignment", "*", "--force")
    if group == "nbgrader-b":
        # A fresh gradebook (as after a clone): autograde must record the assignments itself.
        (course / "gradebook.db").unlink()
    info = {"course": course, "planted": {}, "source": {}}
    for a in assignments:
        release = read_nb(course / "exercises" / a / f"{a}.ipynb")
        source = read_nb(course / "solutions" / a / f"{a}.ipynb")
        info["source"][a] = source
        solution = coursekit.solution_submission(source, release)
        _submit(course, "solution", a, solution)
        _submit(course, "blank", a, release)
        planted = {}
        for k, mutation in enumerate(MUTATIONS.get(a, [])):
            student = f"mistake{k:02d}"
            _submit(course, student, a, coursekit.plant(solution, mutation))
            planted[student] = mutation
        info["planted"][a] = planted
        if a == "ex01_rnn":
            # An LMS download: a zip of files named <anything>_<student>_attempt_<time>_<nb>.
            archive = course / "downloaded" / a / "archive"
            archive.mkdir(parents=True)
            name = f"{a}_lmsstudent_attempt_2026-11-20-10-00-00_{a}.ipynb"
            with zipfile.ZipFile(archive / "class-download.zip", "w") as z:
                z.writestr(name, json.dumps(solution))
            nbgrader(course, "zip_collect", a)
    nbgrader(course, "autograde", "*")
    nbgrader(course, "generate_feedback", "*")
    nbgrader(course, "export", "--to", "grades.csv")
    info["rows"] = {(r["assignment"], r["student_id"]): r
                    for r in csv.DictReader(open(course / "grades.csv"))}
    return info


def _score(info, assignment, student):
    row = info["rows"][(assignment, student)]
    return float(row["raw_score"]), float(row["max_score"])


def _problems(info, assignment):
    """Everything wrong with one graded assignment, as sentences (empty: all good)."""
    course, problems = info["course"], []
    score, max_score = _score(info, assignment, "solution")
    auto_max = max_score - manual_points(info["source"][assignment])
    if max_score <= 0 or score != auto_max:
        problems.append(f"solution scored {score} of {auto_max} autograded points")
    blank = _score(info, assignment, "blank")[0]
    if blank != 0.0:
        problems.append(f"blank release scored {blank}, expected 0")
    if "NotImplementedError" not in feedback_text(course, "blank", assignment):
        problems.append("the blank release's feedback does not show NotImplementedError")
    for student, mutation in info["planted"][assignment].items():
        label = mutation.expect or repr(mutation.new)
        score = _score(info, assignment, student)[0]
        if score >= auto_max:
            problems.append(f"planted {label}: no points lost ({score})")
            continue
        text = feedback_text(course, student, assignment)
        if mutation.expect and BY_ID[mutation.expect].title not in text:
            problems.append(f"planted {label}: the feedback does not name it "
                            f"({BY_ID[mutation.expect].title!r})")
        if "relative error" not in text and "raised" not in text and "answer" not in text:
            problems.append(f"planted {label}: the feedback shows no error and no difference")
    if assignment == "ex01_rnn":
        if not (course / "submitted" / "lmsstudent" / assignment / "timestamp.txt").exists():
            problems.append("zip_collect did not collect the LMS download")
        elif _score(info, assignment, "lmsstudent")[0] != max_score:
            problems.append("the solution collected by zip_collect lost points")
    return [f"{assignment}: {p}" for p in problems]


# One test per course, so that pytest-xdist's two workers grade the two courses in parallel.
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_release_submit_autograde_feedback_export(group, tmp_path):
    """Solutions get every autograded point, blanks 0 (graded and given feedback like everyone),
    every planted mistake loses points and, when it is a known misconception, the feedback HTML
    names it; an LMS download is collected with zip_collect; grades are exported to CSV."""
    info = grade_group(group, tmp_path)
    problems = []
    for assignment in GROUPS[group]:
        if assignment in ASSIGNMENTS:
            problems += _problems(info, assignment)
    assert not problems, "\n".join(problems)
