"""Learning platforms: `nbgrader zip_collect` reads Canvas and Moodle downloads, `nbgrader export`
writes per-task columns, flags, and Canvas and Moodle gradebook CSVs (grnn_ref.autograde.export,
grnn_ref.autograde.zipcollect, selected in nbgrader_config.py).

The real nbgrader commands run on a course copy with two assignments (ex01_rnn, autograded only;
ex03_vanishing, with a hand-graded written answer). Grades are put in the gradebook with
nbgrader's API (grading itself is tested elsewhere): what is tested here is what the platforms
receive.
"""
import csv
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest

from grnn_ref.autograde import classroom

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("lms")]

ROSTER = """student_id,name,canvas_user_id,sis_user_id,sis_login_id,section,moodle_idnumber,email,full_name
jdoe,"Doe, Jane",3143,S100,jdoe@uni.example,Lab A,M-100,jane.doe@uni.example,Jane Doe
bsmith,"Smith, Bob",3144,S101,bsmith@uni.example,Lab A,M-101,bob.smith@uni.example,Bob Smith
cwu,"Wu, Chen",3145,S102,cwu@uni.example,Lab B,M-102,chen.wu@uni.example,Chen Wu
dlee,"Lee, Dana",3146,S103,dlee@uni.example,Lab B,M-103,dana.lee@uni.example,Dana Lee
"""


def _nbgrader(course, *args):
    r = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("lms_course"))
    classroom.copy_course(root, ["ex01_rnn", "ex03_vanishing"])
    with open(os.path.join(root, "roster.csv"), "w") as f:
        f.write(ROSTER)
    # records both assignments and their graded cells in the gradebook
    _nbgrader(root, "generate_assignment", "*", "--force",
              f"--CourseDirectory.release_directory={tmp_path_factory.mktemp('release')}")
    return root


def test_zip_collect_reads_canvas_moodle_and_blackboard_downloads(course, tmp_path):
    release = classroom.read_release(course, "ex01_rnn")
    body = nbformat.writes(release)
    archive = os.path.join(course, "downloaded", "ex01_rnn", "archive")
    os.makedirs(archive)
    # Canvas: <name>_<user id>_<file id>_<file>, LATE_ before the id, -1 for a re-upload
    with zipfile.ZipFile(os.path.join(archive, "submissions.zip"), "w") as z:
        z.writestr("doejane_3143_207797_ex01_rnn.ipynb", body)
        z.writestr("smithbob_LATE_3144_207798_ex01_rnn-1.ipynb", body)
        z.writestr("strangerx_9999_207799_ex01_rnn.ipynb", body)    # not on the roster
    # Moodle: flat names, and "download submissions in folders"
    with zipfile.ZipFile(os.path.join(archive, "moodle-ex01_rnn.zip"), "w") as z:
        z.writestr("Chen Wu_81234_assignsubmission_file_ex01_rnn.ipynb", body)
        z.writestr("Dana Lee_81235_assignsubmission_file_/ex01_rnn.ipynb", body)
    # Blackboard, through the configured named_regexp
    blackboard = "ex01_rnn_bbstudent_attempt_2026-11-20-10-00-00_ex01_rnn.ipynb"
    with open(os.path.join(archive, blackboard), "w") as f:
        f.write(body)
    out = _nbgrader(course, "zip_collect", "ex01_rnn")
    submitted = os.path.join(course, "submitted")
    got = sorted(d for d in os.listdir(submitted)
                 if os.path.exists(os.path.join(submitted, d, "ex01_rnn", "ex01_rnn.ipynb")))
    assert got == ["bbstudent", "bsmith", "cwu", "dlee", "jdoe"], out[-3000:]
    assert "Canvas user id 9999" in out and "not in the roster" in out
    assert "late" in out.lower()
    collected = nbformat.read(os.path.join(submitted, "dlee", "ex01_rnn", "ex01_rnn.ipynb"),
                              as_version=4)
    assert [c.source for c in collected.cells] == [c.source for c in release.cells]


HALF_WRONG = {"test_rnn_forward", "test_rnn_jacobian", "test_gradient_bound"}


def _grade(course):
    """Scores through nbgrader's API: jdoe full marks, bsmith half, cwu ex01 only, dlee none;
    ex03's written answer is hand-graded for jdoe and pending for bsmith."""
    from nbgrader.api import Gradebook
    from grnn_ref.autograde.parallel import load_course
    coursedir, _ = load_course(course)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for s in ("jdoe", "bsmith", "cwu", "dlee"):
            gb.update_or_create_student(s)
        plan = {("jdoe", "ex01_rnn"): 1.0, ("bsmith", "ex01_rnn"): 0.5, ("cwu", "ex01_rnn"): 1.0,
                ("jdoe", "ex03_vanishing"): 1.0, ("bsmith", "ex03_vanishing"): 0.5}
        for (s, a), frac in plan.items():
            sub = gb.update_or_create_submission(a, s)
            for nb in sub.notebooks:
                for g in nb.grades:
                    if g.cell_type == "markdown":        # the written answer
                        if s == "jdoe":
                            g.manual_score = 2.0
                            g.needs_manual_grade = False
                        continue
                    wrong = frac < 1 and g.name in HALF_WRONG
                    g.auto_score = 0.0 if wrong else g.max_score
                    g.needs_manual_grade = False
        gb.db.commit()


def test_export_writes_task_columns_flags_and_platform_gradebooks(course):
    _grade(course)
    _nbgrader(course, "export", "--to", "grades.csv")
    rows = list(csv.DictReader(open(os.path.join(course, "grades.csv"))))
    by = {(r["student_id"], r["assignment"]): r for r in rows}
    header = list(rows[0])
    # nbgrader's columns first, unchanged, then the flags and one column per graded task
    assert header[:11] == ["assignment", "duedate", "timestamp", "student_id", "last_name",
                           "first_name", "email", "raw_score", "late_submission_penalty",
                           "score", "max_score"]
    assert "ex01_rnn/ex01_rnn/test_rnn_forward" in header
    assert "ex03_vanishing/ex03_vanishing/written_answer" in header
    assert by["jdoe", "ex01_rnn"]["score"] == "10"
    assert by["bsmith", "ex01_rnn"]["ex01_rnn/ex01_rnn/test_rnn_forward"] == "0"
    assert by["bsmith", "ex01_rnn"]["ex01_rnn/ex01_rnn/test_rnn_step_forward"] == "5"
    assert by["jdoe", "ex03_vanishing"]["ex03_vanishing/ex03_vanishing/written_answer"] == "2"
    assert by["bsmith", "ex03_vanishing"]["needs_manual_grade"] == "true"
    assert "needs manual grade" in by["bsmith", "ex03_vanishing"]["flags"]
    assert by["jdoe", "ex03_vanishing"]["flags"] == ""
    assert by["dlee", "ex01_rnn"]["flags"] == "not submitted"

    canvas = list(csv.reader(open(os.path.join(course, "grades.canvas.csv"))))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ex01_rnn",
                         "ex03_vanishing"]
    c = {r[1]: r for r in canvas[1:]}
    assert c["3143"] == ["Doe, Jane", "3143", "S100", "jdoe@uni.example", "Lab A", "10", "14"]
    # bsmith's hand-graded answer is pending: his ex03 stays empty, never a provisional score
    assert c["3144"][5:] == ["5", ""]
    assert c["3145"][5:] == ["10", "0"] and c["3146"][5:] == ["0", "0"]

    moodle = list(csv.reader(open(os.path.join(course, "grades.moodle.csv"))))
    assert moodle[0] == ["ID number", "Email address", "Full name", "ex01_rnn", "ex03_vanishing"]
    m = {r[0]: r for r in moodle[1:]}
    assert m["M-100"] == ["M-100", "jane.doe@uni.example", "Jane Doe", "10", "14"]
    assert m["M-101"][3:] == ["5", ""]


def test_export_refuses_a_graded_student_missing_from_the_roster(course, tmp_path):
    roster = tmp_path / "short_roster.csv"
    roster.write_text("\n".join(ROSTER.splitlines()[:2]) + "\n")   # jdoe only
    r = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to",
                        str(tmp_path / "g.csv"), f"--LmsExportPlugin.roster={roster}"],
                       cwd=course, capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "not in the roster" in r.stdout + r.stderr and "bsmith" in r.stdout + r.stderr
    assert not (tmp_path / "g.canvas.csv").exists()
