"""The parallel grading command: same grades as plain nbgrader, idempotent, resumable, interruptible.

One small class (correct, buggy, blank, a kernel killer) in throwaway copies of the course.
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


# The interrupt test's bo waits in his first solution cell until a file named GO appears in his
# folder (at most HOLD_SECONDS): a run can be interrupted while bo is being graded however loaded
# the machine is, and the resumed run, given the file, does not wait at all.
HOLD_SECONDS = 15  # under the cell time limit (ENV): at worst, bo is graded late
HOLD = ("import os, time\n_t0 = time.time()\n"
        f"while not os.path.exists('GO') and time.time() - _t0 < {HOLD_SECONDS}:\n"
        "    time.sleep(0.05)\n")


def _course_with_class(root, hold_bo=False):
    """A course copy in root with the class submitted: ada, bo, cy, di (graded in that order)."""
    classroom.copy_course(root, ["ex01_rnn"])
    release = classroom.read_release(root, "ex01_rnn")
    sols = classroom.solution_cells(root, "ex01_rnn")
    buggy = {k: classroom.buggy_code(v) for k, v in sols.items()}
    if hold_bo:
        buggy["rnn_step_forward"] = HOLD + buggy["rnn_step_forward"]
    classroom.submit(root, "ex01_rnn", "ada", classroom.filled(release, sols))
    classroom.submit(root, "ex01_rnn", "bo", classroom.filled(release, buggy))
    classroom.submit(root, "ex01_rnn", "cy", classroom.filled(release, {}))
    classroom.submit(root, "ex01_rnn", "di", classroom.filled(release, {
        **sols, "rnn_forward": "import os\ndef rnn_forward(xs, h0, p):\n    os._exit(1)"}))
    return root


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = _course_with_class(str(tmp_path_factory.mktemp("parallel_course")))
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
    """Plain nbgrader, one process, none of the parallel grader's speed-ups (shared gradebook
    engine, the pre-convert hook run once) and the kernel shut down gracefully as nbclient does by
    default: the same grade for every student and cell."""
    plain = _run([sys.executable, "-m", "nbgrader", "autograde", "ex01_rnn", "--force",
                  "--GradingExecute.shutdown_kernel=graceful"], course["root"])
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert classroom.grades(course["root"], "ex01_rnn") == course["grades"]


def test_an_interrupted_run_loses_nothing_and_resume_grades_the_rest(course, tmp_path):
    root = _course_with_class(str(tmp_path / "course"), hold_bo=True)
    state_dir = os.path.join(root, ".grnn_autograde", "ex01_rnn")
    # the grader must start with SIGINT's default action: a child inherits an ignored SIGINT (as
    # some pytest-xdist workers leave it), and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen(OURS + ["--jobs", "1"], cwd=root, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # one job grades in name order and starts bo only once ada's result is recorded: interrupt
    # as soon as bo's log appears, while bo's notebook is still running (it waits for GO)
    deadline = time.time() + 300
    while (time.time() < deadline and proc.poll() is None
           and not os.path.exists(os.path.join(state_dir, "bo.log"))):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, out + err[-3000:]
    assert "1 graded, 0 failed, 0 unchanged (resumed), 3 not run" in out, out
    assert "INTERRUPTED" in out, out
    assert sorted(f for f in os.listdir(state_dir) if f.endswith(".json")) == ["ada.json"]
    # the gradebook is neither locked nor corrupt, and ada's grades are written and right
    db = sqlite3.connect(os.path.join(root, "gradebook.db"), timeout=1)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.execute("BEGIN IMMEDIATE")  # would raise "database is locked" if a lock had leaked
    db.rollback()
    db.close()
    assert classroom.grades(root, "ex01_rnn")["ada"] == course["grades"]["ada"]
    with open(os.path.join(state_dir, "ada.json")) as f:
        ada_state = f.read()

    # bo's notebook may go on now: nbgrader copies the file with his submission
    open(os.path.join(root, "submitted", "bo", "ex01_rnn", "GO"), "w").close()
    resumed = _run(OURS + ["--jobs", "2", "--resume"], root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-3000:]
    # ada is kept as she was; the other three are graded now
    assert "4 graded, 0 failed, 1 unchanged (resumed), 0 not run" in resumed.stdout, resumed.stdout
    with open(os.path.join(state_dir, "ada.json")) as f:
        assert f.read() == ada_state
    # the same grades as the uninterrupted run of the same class
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
