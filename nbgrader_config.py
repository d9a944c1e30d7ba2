"""nbgrader configuration of the course "Gated Recurrent Networks, Demystified".

The course root is the directory of this file (the repository root): every nbgrader command works
from there with no other setup, e.g.

    nbgrader generate_assignment ex01_rnn --force   # solutions/ex01_rnn -> exercises/ex01_rnn
    nbgrader autograde ex01_rnn                      # submitted/<student>/ex01_rnn -> autograded/
    nbgrader generate_feedback ex01_rnn              # -> feedback/<student>/ex01_rnn/*.html
    nbgrader export --to grades.csv                  # + grades.canvas.csv, grades.moodle.csv

Environment overrides (optional): GRNN_GRADEBOOK_URL (any SQLAlchemy URL, e.g.
postgresql+psycopg2://grader@db.example.org/grnn for a large course: name the psycopg2 driver,
a bare postgresql:// means psycopg 3, which is not installed; default: SQLite gradebook.db in the
course root), GRNN_CELL_TIMEOUT (seconds), GRNN_GRADING_SECRET_FILE (default: .grnn_grading_secret in the
course root).
"""
import os
import sys

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "grnn-demystified"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = os.environ.get(
    "GRNN_GRADEBOOK_URL", "sqlite:///" + os.path.join(ROOT, "gradebook.db"))

# nbgrader's gradebook runs the `alembic` command found on PATH: make it the one next to the Python
# running nbgrader, so `.venv/bin/nbgrader ...` works without activating the venv.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

# Students are added to the gradebook the first time a submission of theirs is autograded.
c.Autograde.create_student = True
c.GenerateAssignment.create_assignment = True

# Per-cell timeout. The slowest cell is ex06_torch's short training run (a few seconds on one core);
# every numpy test cell takes well under a second. 120 s leaves room for a loaded grading machine
# while a student's endless loop costs a bounded amount of grading time.
c.Execute.timeout = int(os.environ.get("GRNN_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True

# A student who deletes or edits a test cell gets the instructor's version back.
c.OverwriteCells.add_missing_cells = True

# What students see in place of the solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Files nbgrader never copies between steps.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# A fresh clone has no gradebook: before autograding, record the assignment and its grade cells
# (from solutions/) if they are missing, so `nbgrader autograde` needs no prior step.
# Before that, the grading secret (hidden-case seeds) is checked against the fingerprint the
# gradebook recorded the first time the course was graded: a machine with another secret stops
# with the exact remedy instead of grading with different hidden cases (see the instructor guide).
from grnn_ref.autograde.course_secret import checked_hook  # noqa: E402
from grnn_ref.grading.nbgrader_hooks import ensure_in_gradebook  # noqa: E402

# The secret lives in the course root (whatever the working directory), unless
# $GRNN_GRADING_SECRET_FILE names another file.
SECRET_FILE = os.path.join(ROOT, ".grnn_grading_secret")
c.GradingExecute.secret_file = SECRET_FILE
c.VerifyChecks.secret_file = SECRET_FILE
c.Autograde.pre_convert_hook = checked_hook(ROOT, SECRET_FILE, ensure_in_gradebook(ROOT))

# --- Trusted grading (grnn_ref.autograde; see the instructor guide, "Trust") ---------------------
# Student code runs in the sandboxed `grnn-grading` kernel (bubblewrap + rlimits, no network, no
# repository, no reference); the grader process then re-checks every test cell's results against
# the reference it computes itself (VerifyChecks) before nbgrader saves the scores. RestoreCells is
# OverwriteCells restoring deleted cells without nbgrader 0.9.6's KeyError on gutted notebooks.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "grnn_ref.autograde.sanitize.RestoreCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.RestoreCells.add_missing_cells = True
c.Autograde.autograde_preprocessors = [
    "grnn_ref.autograde.execute.GradingExecute",
    "grnn_ref.grading.verify.VerifyChecks",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Exercises whose grading kernel may import torch (all others have it hidden).
c.GradingExecute.torch_assignments = ["ex06_torch", "ex07_gates"]

# Mark schemes for hand-graded answers: a "### BEGIN MARK SCHEME" ... "### END MARK SCHEME" region
# in the locked instruction cell just above the answer (nbgrader only allows such regions in task
# cells by default; this course's hand-graded answers are solution cells, and a task cell would
# carry points of its own). generate_assignment removes the region from the release; the
# gradebook keeps the full cell, which autograde restores, so formgrader shows the scheme above
# the student's answer; feedback removes it again (students see their answer and score, not the
# scheme).
c.ClearMarkScheme.enforce_metadata = False
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "nbgrader.preprocessors.ClearMarkScheme",
]

# Feedback pages that work offline: nbgrader's feedback template with MathJax 3 served from the
# student's feedback folder (copied there after each page is written) and long lines wrapped
# (grnn_ref/grading/feedback_page.py).
from grnn_ref.grading import feedback_page  # noqa: E402

feedback_page.configure(c)
c.GenerateFeedback.post_convert_hook = feedback_page.mathjax_hook(ROOT)

# `nbgrader zip_collect ASSIGNMENT` reads a learning platform's download placed in
# downloaded/ASSIGNMENT/archive/ (zip files or loose notebooks). LmsFileNameCollector reads
# Canvas names (<name>_[LATE_]<canvas user id>_<file id>_<notebook>[-N].ipynb) and Moodle names
# (<Full Name>_<participant id>_assignsubmission_file_<notebook>.ipynb, or in such a folder),
# mapping them to student ids through roster.csv in the course root, and any other name with
# named_regexp below, Blackboard's
#     <anything>_<student_id>_attempt_<YYYY-MM-DD-hh-mm-ss>_<notebook>.ipynb
# e.g. ex01_rnn_jdoe_attempt_2026-11-20-10-00-00_ex01_rnn.ipynb -> submitted/jdoe/ex01_rnn/ex01_rnn.ipynb
c.ZipCollectApp.collector_plugin = "grnn_ref.autograde.zipcollect.LmsFileNameCollector"
c.FileNameCollectorPlugin.named_regexp = (
    r".*_(?P<student_id>[A-Za-z0-9]+)_attempt_(?P<timestamp>[0-9\-]+)_(?P<file_id>\w+)")

# `nbgrader export --to grades.csv` writes grades.csv (nbgrader's columns, then
# needs_manual_grade, status, flags and one column per graded task) and, with a roster.csv in the
# course root, grades.canvas.csv and grades.moodle.csv in those platforms' gradebook import formats
# (grnn_ref/autograde/export.py; the instructor guide, "Exporting to a learning platform").
c.ExportApp.plugin_class = "grnn_ref.autograde.export.LmsExportPlugin"
c.LmsExportPlugin.roster = os.path.join(ROOT, "roster.csv")
c.LmsFileNameCollector.roster = os.path.join(ROOT, "roster.csv")
