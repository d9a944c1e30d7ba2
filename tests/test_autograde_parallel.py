"""The parallel grading command: same grades as plain nbgrader, idempotent, resumable, interruptible.

One small class (correct, buggy, blank, a kernel killer) in a throwaway copy of the course.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from grnn_ref.autograde import classroom
from grnn_ref.autograde.parallel import in_shard, parse_shard

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("autograde_parallel")]

ENV = {**os.environ, "GRNN_CELL_TIMEOUT": "20"}
OURS = [sys.executable, "-m", "grnn_ref.autograde", "ex01_rnn", "--no-progress"]


def _run(cmd, course, **kw):
    return subprocess.run(cmd, cwd=course, env=ENV, capture_output=True, text=True, timeout=900,
                          **kw)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("parallel_course"))
    classroom.copy_course(root, ["ex01_rnn"])
    release = classroom.read_release(root, "ex01_rnn")
    sols = classroom.solution_cells(root, "ex01_rnn")
    classroom.submit(root, "ex01_rnn", "ada", classroom.filled(release, sols))
    classroom.submit(root, "ex01_rnn", "bo", classroom.filled(
        release, {k: classroom.buggy_code(v) for k, v in sols.items()}))
    classroom.submit(root, "ex01_rnn", "cy", classroom.filled(release, {}))
    classroom.submit(root, "ex01_rnn", "di", classroom.filled(release, {
        **sols, "rnn_forward": "import os\ndef rnn_forward(xs, h0, p):\n    os._exit(1)"}))
    first = _run(OURS + ["--jobs", "2"], root)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return {"root": root, "grades": classroom.grades(root, "ex01_rnn"), "out": first.stdout}


def test_grades_are_what_each_submission_deserves(course):
    g = course["grades"]
    cells = ("ex01_rnn/test_rnn_step_forward", "ex01_rnn/test_rnn_forward")
    assert [g["ada"][c] for c in cells] == [5.0, 5.0]
    assert [g["bo"][c] for c in cells] == [0.0, 0.0]
    assert [g["cy"][c] for c in cells] == [0.0, 0.0]
    assert [g["di"][c] for c in cells] == [5.0, 0.0]
    assert "4 graded, 0 failed" in course["out"]


def test_rerun_is_idempotent_and_resume_skips_unchanged(course):
    again = _run(OURS + ["--jobs", "2"], course["root"])
    assert again.returncode == 0
    assert classroom.grades(course["root"], "ex01_rnn") == course["grades"]
    resumed = _run(OURS + ["--jobs", "2", "--resume"], course["root"])
    assert "4 unchanged (resumed)" in resumed.stdout, resumed.stdout
    assert classroom.grades(course["root"], "ex01_rnn") == course["grades"]


def test_plain_nbgrader_autograde_writes_the_same_grades(course):
    plain = _run([sys.executable, "-m", "nbgrader", "autograde", "ex01_rnn", "--force"],
                 course["root"])
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert classroom.grades(course["root"], "ex01_rnn") == course["grades"]


def test_an_interrupted_run_loses_nothing_and_resume_finishes(course):
    root = course["root"]
    state_dir = os.path.join(root, ".grnn_autograde", "ex01_rnn")
    before = {f: os.path.getmtime(os.path.join(state_dir, f))
              for f in os.listdir(state_dir) if f.endswith(".json")}
    proc = subprocess.Popen(OURS + ["--jobs", "1"], cwd=root, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # stop it as soon as one student has been regraded (the others are then mid-way or queued)
    deadline = time.time() + 300
    while time.time() < deadline:
        done = [f for f, t in before.items()
                if os.path.getmtime(os.path.join(state_dir, f)) > t]
        if done or proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert "INTERRUPTED" in out or "4 graded" in out, out
    # the gradebook is neither locked nor corrupt, and the grades already written are intact
    db = sqlite3.connect(os.path.join(root, "gradebook.db"), timeout=1)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.execute("BEGIN IMMEDIATE")  # would raise "database is locked" if a lock had leaked
    db.rollback()
    db.close()
    graded_now = classroom.grades(root, "ex01_rnn")
    assert set(graded_now) == set(course["grades"])
    resumed = _run(OURS + ["--jobs", "2", "--resume"], root)
    assert resumed.returncode == 0, resumed.stdout
    assert classroom.grades(root, "ex01_rnn") == course["grades"]


def test_shards_partition_the_class():
    students = [f"s{i}" for i in range(50)]
    shards = [parse_shard(f"{k}/3") for k in range(3)]
    parts = [{s for s in students if in_shard(s, sh)} for sh in shards]
    assert set().union(*parts) == set(students)
    assert sum(len(p) for p in parts) == len(students)


def test_bad_arguments_are_refused(course):
    r = _run(OURS + ["--students", "nobody_here"], course["root"])
    assert r.returncode != 0 and "nobody_here" in r.stderr
    r = _run(OURS + ["--jobs", "0"], course["root"])
    assert r.returncode != 0 and "--jobs 0" in r.stderr
