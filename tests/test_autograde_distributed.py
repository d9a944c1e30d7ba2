"""Grading across machines: `python -m grnn_ref.autograde A --scheduler tcp://...` on a Dask cluster
of separate worker processes (`dask scheduler` + 2 `dask worker`), each in a folder of its own with
its own copy of the secret and no course folder, writing to a real PostgreSQL server that the test
starts (tests/pg_server.py): the same grades as plain `nbgrader autograde` on the same class.

One assignment, three students (correct, buggy, blank), graded once; the other tests reuse it.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from grnn_ref.autograde import classroom, course_secret, distributed, secret

from pg_server import PostgresServer

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("distributed")]

A = "ex01_rnn"
ENV = {**os.environ, "GRNN_CELL_TIMEOUT": "20", "OMP_NUM_THREADS": "1"}


def _class(root):
    classroom.copy_course(root, [A])
    release = classroom.read_release(root, A)
    sols = classroom.solution_cells(root, A)
    classroom.submit(root, A, "ada", classroom.filled(release, sols))
    classroom.submit(root, A, "bo", classroom.filled(release, {
        k: classroom.buggy_code(v) for k, v in sols.items()}))
    classroom.submit(root, A, "cy", classroom.filled(release, {}))
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """PostgreSQL, a Dask scheduler and two workers, each worker in a folder of its own with a
    copy of the course's secret; yields their addresses and folders."""
    base = tmp_path_factory.mktemp("dask")
    secret_src = str(base / "course-secret")
    secret.load_or_create(secret_src)
    pg = PostgresServer().start()
    try:
        with distributed.LocalCluster(base, 2, secret_src, ENV) as c:
            yield {"pg": pg, "address": c.address, "workers": c.workers, "secret": secret_src}
    finally:
        pg.stop()


@pytest.fixture(scope="module")
def graded(cluster, tmp_path_factory):
    """The class graded on the cluster (course on PostgreSQL) and by plain nbgrader (SQLite)."""
    dist_root = _class(str(tmp_path_factory.mktemp("dist_course")))
    plain_root = _class(str(tmp_path_factory.mktemp("plain_course")))
    for root in (dist_root, plain_root):   # the workers' secret, so the same hidden cases
        shutil.copy(cluster["secret"], os.path.join(root, ".grnn_grading_secret"))
    dist_env = {**ENV, "GRNN_GRADEBOOK_URL": cluster["pg"].url}
    # both at once: the plain run on this machine, the other on the workers
    plain = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", A], cwd=plain_root,
                             env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dist = subprocess.run([sys.executable, "-m", "grnn_ref.autograde", A, "--no-progress",
                           "--scheduler", cluster["address"]], cwd=dist_root, env=dist_env,
                          capture_output=True, text=True, timeout=900)
    plain_out = plain.communicate(timeout=900)[0]
    assert plain.returncode == 0, plain_out[-3000:]
    assert dist.returncode == 0, dist.stdout[-3000:] + dist.stderr[-3000:]
    return {"dist": dist_root, "plain": plain_root, "out": dist.stdout, "env": dist_env}


def _grades(root, env, monkeypatch):
    monkeypatch.setenv("GRNN_GRADEBOOK_URL", env.get("GRNN_GRADEBOOK_URL", "sqlite:///"
                                                     + os.path.join(root, "gradebook.db")))
    return classroom.grades(root, A)


def test_the_cluster_grades_as_plain_nbgrader(graded, monkeypatch):
    dist = _grades(graded["dist"], graded["env"], monkeypatch)
    plain = _grades(graded["plain"], {}, monkeypatch)
    assert dist == plain
    cells = (f"{A}/test_rnn_step_forward", f"{A}/test_rnn_forward")
    assert [dist["ada"][c] for c in cells] == [5.0, 5.0]
    assert [dist["bo"][c] for c in cells] == [0.0, 0.0]
    assert [dist["cy"][c] for c in cells] == [0.0, 0.0]
    assert "3 graded, 0 failed" in graded["out"], graded["out"]
    # the writer has the graded notebooks; the gradebook is the PostgreSQL one
    for s in ("ada", "bo", "cy"):
        assert os.path.exists(os.path.join(graded["dist"], "autograded", s, A, f"{A}.ipynb"))
    assert not os.path.exists(os.path.join(graded["dist"], "gradebook.db"))


def test_workers_graded_in_their_own_folders(graded, cluster):
    states = {}
    for s in ("ada", "bo", "cy"):
        with open(os.path.join(graded["dist"], ".grnn_autograde", A, f"{s}.json")) as f:
            states[s] = json.load(f)
    assert all(st["status"] == "graded" and st["worker"] for st in states.values())
    # no course folder ever reached a worker's folder (its throw-away course is removed)
    for w in cluster["workers"]:
        left = [os.path.join(d, f) for d, _, fs in os.walk(w) for f in fs]
        assert not [p for p in left if p.endswith(".ipynb") or "submitted" in p], left


def test_a_worker_with_another_secret_refuses(tmp_path, monkeypatch):
    other = tmp_path / "other-secret"
    other.write_text("f" * 64 + "\n")
    monkeypatch.setenv("GRNN_GRADING_SECRET_FILE", str(other))
    result = distributed.grade_submission({
        "assignment": A, "student": "ada", "config": b"", "source": {}, "submission": {},
        "fingerprint": "0123456789abcdef", "env": {}, "timeout": 60})
    assert result["status"] == "refused"
    assert "0123456789abcdef" in result["reasons"][0]


def test_a_second_secret_for_the_course_is_refused(graded, cluster, tmp_path):
    other = tmp_path / "other-secret"
    other.write_text("e" * 64 + "\n")
    with pytest.raises(course_secret.SecretMismatch, match="not the secret course"):
        course_secret.check_gradebook(cluster["pg"].url, "grnn-demystified", str(other))
    r = subprocess.run([sys.executable, "-m", "grnn_ref.autograde", A, "--no-progress",
                        "--scheduler", cluster["address"]], cwd=graded["dist"],
                       env={**graded["env"], "GRNN_GRADING_SECRET_FILE": str(other)},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert "not the secret course" in r.stdout + r.stderr
    assert "students to the workers" not in r.stdout   # stopped before sending anyone


def test_the_guides_postgresql_url_names_the_installed_driver():
    """The instructor guide's URL works with the pinned SQLAlchemy and driver (the one this test
    module's server is reached with); a bare postgresql:// fails as the guide says."""
    import re

    import sqlalchemy
    guide = open(os.path.join(classroom.repo_root(), "book", "instructor-guide.md")).read()
    urls = re.findall(r"GRNN_GRADEBOOK_URL=(\S+)", guide)
    assert urls and all(u.startswith("postgresql+psycopg2://") for u in urls), urls
    for u in urls:
        assert sqlalchemy.create_engine(u).dialect.driver == "psycopg2"
    with pytest.raises(ModuleNotFoundError, match="psycopg"):
        sqlalchemy.create_engine("postgresql://grader@db.example.org/grnn")
