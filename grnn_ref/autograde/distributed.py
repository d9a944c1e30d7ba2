"""Grade a class across machines with Dask distributed.

    python -m grnn_ref.autograde ASSIGNMENT --scheduler tcp://host:8786

The grading command becomes the *writer*; the workers of an existing Dask cluster (started with
`dask scheduler` on one machine and `dask worker tcp://host:8786` on each grading machine) do the
grading. Nothing is shared between them but the scheduler's connection and the grading secret:

1. The writer checks its secret against the fingerprint the gradebook recorded for the course
   (`course_secret`), records the assignment in the gradebook if needed, and sends every student
   as one task: the bytes of nbgrader_config.py, of the assignment's source folder and of the
   student's submitted folder, the secret's fingerprint and the cell timeout.
2. A worker (`grade_submission`) checks that its own copy of the secret (the file named by
   $GRNN_GRADING_SECRET_FILE in the worker's environment; the secret itself never travels) has
   that fingerprint, builds a throw-away course folder of its own from the bytes, runs
   `nbgrader autograde A --student S --force` there (the same configuration: the sandboxed kernel,
   the verifier, the hidden tests) on a throw-away SQLite gradebook, and returns the graded
   notebook files and, per cell, the automatic score and comment.
3. The writer, the only process that writes the course's gradebook, records each result as it
   arrives, as nbgrader's SaveAutoGrades would (an existing manual score is kept and still wins),
   applies the course's late-penalty plugin, writes autograded/<student>/<assignment>/ and the
   outcome file .grnn_autograde/<assignment>/<student>.json, and prints the same summary as the
   local parallel command.

A worker that dies or a task that raises is reported as that student's failure; the rest of the
class is graded. See the instructor guide, "Grading across machines".
"""
import fnmatch
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from grnn_ref.autograde import course_secret
from grnn_ref.autograde import secret as grading_secret

LOG_TAIL = 6000


# ------------------------------------------------------------------ packing folders as bytes
def pack_folder(path, ignore=()):
    """{relative path: bytes} of every file under path, skipping names matching `ignore`."""
    out = {}
    for dirpath, dirnames, files in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not any(fnmatch.fnmatch(d, p) for p in ignore))
        for f in sorted(files):
            if any(fnmatch.fnmatch(f, p) for p in ignore):
                continue
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, path)] = fh.read()
    return out


def unpack_folder(files, dest):
    """Write {relative path: bytes} under dest; refuses paths that leave dest."""
    dest = os.path.abspath(dest)
    for rel, data in files.items():
        full = os.path.abspath(os.path.join(dest, rel))
        if os.path.isabs(rel) or not full.startswith(dest + os.sep):
            raise ValueError(f"refusing to write {rel!r} outside {dest!r}")
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as fh:
            fh.write(data)


# ------------------------------------------------------------------ the worker side
def grade_submission(payload):
    """Grade one student's submission on a Dask worker; returns a picklable result dict.

    payload: assignment, student, config (nbgrader_config.py bytes), source ({path: bytes}),
    submission ({path: bytes}), fingerprint (of the course's secret), env (extra environment for
    nbgrader, e.g. GRNN_CELL_TIMEOUT), timeout (seconds for the whole nbgrader run).
    """
    a, s = payload["assignment"], payload["student"]
    base = {"assignment": a, "student": s, "worker": socket.gethostname(), "pid": os.getpid()}
    secret_file = os.environ.get("GRNN_GRADING_SECRET_FILE", "")
    try:
        if not secret_file:
            raise FileNotFoundError(
                "this worker has no grading secret: start `dask worker` with "
                "GRNN_GRADING_SECRET_FILE=/path/to/the/course/.grnn_grading_secret (a copy of the "
                "course's secret, mode 0600)")
        mine = course_secret.secret_file_fingerprint(secret_file)
    except (OSError, ValueError) as e:
        return {**base, "status": "refused", "reasons": [str(e)]}
    if mine != payload["fingerprint"]:
        return {**base, "status": "refused", "reasons": [
            f"worker {base['worker']}: its grading secret {secret_file} has fingerprint {mine}, "
            f"the course's is {payload['fingerprint']}: copy the course's secret to this worker"]}

    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix=f"grnn-worker-{a}-")
    try:
        _write_course(tmp, payload)
        unpack_folder(payload["submission"], os.path.join(tmp, "submitted", s, a))
        db = os.path.join(tmp, "gradebook.db")
        env = {**os.environ, **payload.get("env", {}),
               "GRNN_GRADEBOOK_URL": "sqlite:///" + db, "GRNN_GRADING_SECRET_FILE": secret_file}
        shutil.copy(_gradebook_template(payload, env), db)
        log_path = os.path.join(tmp, "nbgrader.log")
        stopped = None
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "nbgrader", "autograde", a, "--student", s, "--force"],
                cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                rc = proc.wait(timeout=payload.get("timeout", 1800))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)   # nbgrader and its kernel: its own session
                rc = proc.wait()
                stopped = (f"grading took longer than {payload.get('timeout')} s on the worker "
                           "and was stopped")
        from grnn_ref.autograde.parallel import _reasons_from_log
        reasons = ([stopped] if stopped else []) + _reasons_from_log(log_path, failed=rc != 0)
        with open(log_path, errors="replace") as f:
            log_tail = f.read()[-LOG_TAIL:]
        result = {**base, "status": "graded" if rc == 0 else "failed", "returncode": rc,
                  "reasons": reasons, "log_tail": log_tail,
                  "seconds": round(time.time() - t0, 2)}
        graded_dir = os.path.join(tmp, "autograded", s, a)
        result["autograded"] = pack_folder(graded_dir) if os.path.isdir(graded_dir) else {}
        result.update(_read_grades(db, a, s))
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_course(dest, payload):
    with open(os.path.join(dest, "nbgrader_config.py"), "wb") as f:
        f.write(payload["config"])
    unpack_folder(payload["source"], os.path.join(dest, "solutions", payload["assignment"]))


def _gradebook_template(payload, env):
    """A gradebook with the assignment recorded from its source (nbgrader generate_assignment),
    made once per worker machine and assignment version and copied for each student: recording
    costs an nbgrader run of its own."""
    import fcntl
    import hashlib

    h = hashlib.sha256(payload["config"])
    for rel in sorted(payload["source"]):
        h.update(rel.encode() + b"\0" + hashlib.sha256(payload["source"][rel]).digest())
    top = os.path.join(tempfile.gettempdir(), f"grnn-worker-cache-{os.getuid()}")
    os.makedirs(top, mode=0o700, exist_ok=True)
    st = os.lstat(top)
    if st.st_uid != os.getuid() or not os.path.isdir(top) or os.path.islink(top):
        raise PermissionError(f"{top} is not a folder of this user's: remove it")
    cache = os.path.join(top, f"{payload['assignment']}-{h.hexdigest()[:16]}")
    os.makedirs(cache, exist_ok=True)
    template = os.path.join(cache, "gradebook.db")
    with open(os.path.join(cache, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # one maker per machine; the others wait and reuse
        if not os.path.exists(template):
            course = tempfile.mkdtemp(prefix="grnn-template-", dir=cache)
            try:
                _write_course(course, payload)
                db = os.path.join(course, "gradebook.db")
                subprocess.run(
                    [sys.executable, "-m", "nbgrader", "generate_assignment", payload["assignment"],
                     "--force", "--log-level=WARN"],
                    cwd=course, env={**env, "GRNN_GRADEBOOK_URL": "sqlite:///" + db},
                    check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=600)
                os.replace(db, template + ".tmp")
                os.replace(template + ".tmp", template)
            finally:
                shutil.rmtree(course, ignore_errors=True)
    return template


def _read_grades(db, assignment, student):
    """Per-notebook automatic scores and comments of the submission in the worker's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry
    if not os.path.exists(db):
        return {"notebooks": None, "timestamp": None}
    with Gradebook("sqlite:///" + db) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return {"notebooks": None, "timestamp": None}
        notebooks = {}
        for nb in sub.notebooks:
            notebooks[nb.name] = {
                "grades": {g.name: g.auto_score for g in nb.grades},
                "comments": {c.name: c.auto_comment for c in nb.comments},
            }
        return {"notebooks": notebooks, "timestamp": sub.timestamp,
                "score": float(sub.score), "max_score": float(sub.max_score)}


# ------------------------------------------------------------------ the writer side
def record_result(coursedir, config, result):
    """Record a worker's grades in the course's gradebook (the writer's only job); returns
    (score, max_score, needs_manual_grade) as the gradebook now says."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties

    a, s = result["assignment"], result["student"]
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        gb.update_or_create_student(s)
        if result.get("timestamp"):
            gb.update_or_create_submission(a, s, timestamp=result["timestamp"])
        else:
            gb.update_or_create_submission(a, s)
        for nb_name, cells in result["notebooks"].items():
            for name, auto in cells["grades"].items():
                grade = gb.find_grade(name, nb_name, a, s)
                grade.auto_score = auto
                # as SaveAutoGrades: a grader's score, or no automatic one, needs a human
                grade.needs_manual_grade = grade.manual_score is not None or auto is None
            for name, text in cells["comments"].items():
                gb.find_comment(name, nb_name, a, s).auto_comment = text
        gb.db.commit()
    # the course's late-penalty plugin, on the notebooks nbgrader graded (as its pipeline does)
    graded = {os.path.splitext(os.path.basename(p))[0] for p in result["autograded"]
              if p.endswith(".ipynb") and os.sep not in p}
    for nb_name in sorted(graded & set(result["notebooks"])):
        AssignLatePenalties(config=config).preprocess(nbformat.v4.new_notebook(), {"nbgrader": {
            "notebook": nb_name, "assignment": a, "student": s, "db_url": coursedir.db_url}})
    from grnn_ref.autograde.parallel import student_score
    return student_score(coursedir.db_url, a, s)


def _write_autograded(coursedir, result):
    dest = coursedir.format_path(coursedir.autograded_directory, result["student"],
                                 result["assignment"])
    if os.path.isdir(dest):
        os.chmod(dest, 0o755)
        for dirpath, dirnames, _ in os.walk(dest):   # nbgrader leaves graded files read-only
            for d in dirnames:
                os.chmod(os.path.join(dirpath, d), 0o755)
        shutil.rmtree(dest)
    unpack_folder(result["autograded"], dest)


def course_payload(coursedir, config, assignment):
    """What every task of `assignment` carries besides the submission."""
    root = coursedir.root
    with open(os.path.join(root, "nbgrader_config.py"), "rb") as f:
        cfg_bytes = f.read()
    source = coursedir.format_path(coursedir.source_directory, ".", assignment)
    if not os.path.isdir(source):
        raise ValueError(f"no source folder {source!r} for assignment {assignment!r}")
    env = {}
    timeout = config.Execute.get("timeout") if "Execute" in config else None
    if timeout:
        env["GRNN_CELL_TIMEOUT"] = str(int(timeout))
    return {"config": cfg_bytes, "source": pack_folder(source, coursedir.ignore), "env": env}


def course_secret_file(config, root):
    configured = ""
    if "GradingExecute" in config:
        configured = config.GradingExecute.get("secret_file", "") or ""
    return grading_secret.secret_path(configured or os.path.join(root, grading_secret.DEFAULT_NAME))


def grade_class_distributed(assignment, scheduler, root=".", students=None, shard=None,
                            student_timeout=1800.0, progress=True, out=sys.stdout,
                            connect_timeout=30):
    """Grade every submitted student of `assignment` on the workers of the Dask scheduler."""
    from distributed import Client, as_completed

    from grnn_ref.autograde import parallel

    root = os.path.abspath(root)
    coursedir, config = parallel.load_course(root)
    todo = parallel.select_students(coursedir, assignment, students, shard)
    state_dir = os.path.join(root, parallel.STATE_DIR, assignment)
    os.makedirs(state_dir, exist_ok=True)

    fingerprint = course_secret.check_gradebook(coursedir.db_url, coursedir.course_id,
                                                course_secret_file(config, root))
    parallel.run_pre_convert_hook(config, assignment)   # records the assignment if needed
    common = course_payload(coursedir, config, assignment)

    results = {}
    t_start = time.time()
    print(f"{assignment}: {len(todo)} students to the workers of {scheduler} "
          f"(secret {fingerprint})", file=out, flush=True)
    client = Client(scheduler, timeout=connect_timeout)
    try:
        n_workers = len(client.scheduler_info().get("workers", {}))
        futures = {}
        run = uuid.uuid4().hex[:8]
        for s in todo:
            sub_dir = coursedir.format_path(coursedir.submitted_directory, s, assignment)
            payload = {**common, "assignment": assignment, "student": s,
                       "submission": pack_folder(sub_dir, coursedir.ignore),
                       "fingerprint": fingerprint, "timeout": student_timeout}
            fut = client.submit(grade_submission, payload, key=f"grnn-{assignment}-{s}-{run}",
                                pure=False)
            futures[fut] = (s, parallel.submission_fingerprint(coursedir, assignment, s))
        for fut in as_completed(list(futures)):
            s, sub_fp = futures[fut]
            try:
                result = fut.result()
            except Exception as e:  # noqa: BLE001 - a lost worker, a task that raised
                result = {"assignment": assignment, "student": s, "status": "failed",
                          "reasons": [f"the task failed on the cluster: {type(e).__name__}: {e}"]}
            state = _record(coursedir, config, result, sub_fp)
            parallel._write_state(os.path.join(state_dir, f"{s}.json"), state)
            results[s] = state
            if progress:
                print(parallel._status_line(state), file=out, flush=True)
            fut.release()
    finally:
        client.close()
    summary = parallel._summary(assignment, todo, results, time.time() - t_start, False,
                                n_workers)
    summary["scheduler"] = scheduler
    print(parallel.format_summary(summary), file=out)
    return summary


def _record(coursedir, config, result, sub_fp):
    """The outcome state of one student, after recording what can be recorded."""
    state = {"student": result["student"], "assignment": result["assignment"],
             "status": result.get("status", "failed"), "score": None, "max_score": None,
             "needs_manual_grade": None, "reasons": list(result.get("reasons") or []),
             "seconds": result.get("seconds"), "worker": result.get("worker"),
             "fingerprint": sub_fp, "finished": time.time()}
    if state["status"] not in ("graded", "failed"):   # "refused": the worker's secret differs
        state["status"] = "failed"
    if result.get("notebooks") is None:
        if state["status"] == "graded":
            state["status"] = "failed"
            state["reasons"].append("the worker returned no grades")
        return state
    try:
        _write_autograded(coursedir, result)
        score, max_score, manual = record_result(coursedir, config, result)
    except Exception as e:  # noqa: BLE001 - the writer goes on with the class
        state["status"] = "failed"
        state["reasons"].append(f"recording in the gradebook failed: {type(e).__name__}: {e}")
        return state
    state.update(score=score, max_score=max_score, needs_manual_grade=manual)
    return state


# ------------------------------------------------------------------ a local cluster (tests, bench)
class LocalCluster:
    """`dask scheduler` and n `dask worker` processes on 127.0.0.1, each worker in its own folder
    under `base` (no course there) with its own copy of the secret `secret_src`.

    For the tests and `python -m grnn_ref.autograde bench-distributed`; a real deployment starts
    the same commands on its machines (see the instructor guide).
    """

    def __init__(self, base, n_workers, secret_src, env=None):
        self.base, self.n, self.secret_src = str(base), n_workers, secret_src
        self.env = {**os.environ, **(env or {})}
        self.procs, self.workers, self.address = [], [], None

    def _spawn(self, args, cwd, env, log):
        bindir = os.path.dirname(sys.executable)
        self.procs.append(subprocess.Popen(
            [os.path.join(bindir, "dask"), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
            stderr=open(log, "w"), stdin=subprocess.DEVNULL, start_new_session=True))

    def __enter__(self):
        import json
        try:
            sched_file = os.path.join(self.base, "scheduler.json")
            self._spawn(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", sched_file], self.base, self.env,
                        os.path.join(self.base, "scheduler.log"))
            deadline = time.time() + 120
            while not os.path.exists(sched_file):
                if time.time() > deadline or self.procs[0].poll() is not None:
                    raise RuntimeError("the dask scheduler did not start: see "
                                       + os.path.join(self.base, "scheduler.log"))
                time.sleep(0.2)
            time.sleep(0.2)   # the file is written whole, but give it a moment
            with open(sched_file) as f:
                self.address = json.load(f)["address"]
            for i in range(self.n):
                wdir = os.path.join(self.base, f"worker{i}")
                os.makedirs(wdir)
                secret = os.path.join(wdir, "secret")
                shutil.copy(self.secret_src, secret)
                os.chmod(secret, 0o600)
                self.workers.append(wdir)
                self._spawn(["worker", self.address, "--nthreads", "1", "--no-dashboard",
                             "--local-directory", wdir, "--name", f"w{i}"], wdir,
                            {**self.env, "GRNN_GRADING_SECRET_FILE": secret, "TMPDIR": wdir},
                            os.path.join(wdir, "worker.log"))
            from distributed import Client
            with Client(self.address, timeout=60) as c:
                c.wait_for_workers(self.n, timeout=180)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
                except ProcessLookupError:
                    pass
        self.procs = []


def bench_main(argv=None):
    """python -m grnn_ref.autograde bench-distributed: grade a small class, with one endless loop,
    on a local cluster; prints each student's seconds on a worker (the guide's capacity table)."""
    import argparse
    import json

    from grnn_ref.autograde import classroom

    p = argparse.ArgumentParser(prog="python -m grnn_ref.autograde bench-distributed")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--students", type=int, default=5, help="normal students (plus one loop)")
    p.add_argument("--cell-timeout", type=int, default=10)
    p.add_argument("--assignment", default="ex01_rnn")
    a = p.parse_args(argv)
    env = {"GRNN_CELL_TIMEOUT": str(a.cell_timeout), "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="grnn-bench-dist-") as tmp:
        course = classroom.copy_course(os.path.join(tmp, "course"), [a.assignment])
        release = classroom.read_release(course, a.assignment)
        sols = classroom.solution_cells(course, a.assignment)
        for i in range(a.students):
            kind = ("correct", "buggy", "blank")[i % 3]
            code = {"correct": sols, "blank": {},
                    "buggy": {k: classroom.buggy_code(v) for k, v in sols.items()}}[kind]
            classroom.submit(course, a.assignment, f"{kind}{i:02d}",
                             classroom.filled(release, code))
        first = next(iter(sols))
        classroom.submit(course, a.assignment, "loop", classroom.filled(release, {
            **sols, first: sols[first].replace("return ", "while True:\n        pass\n    return ",
                                               1)}))
        secret_file = os.path.join(course, grading_secret.DEFAULT_NAME)
        grading_secret.load_or_create(secret_file)
        os.makedirs(os.path.join(tmp, "cluster"))
        with LocalCluster(os.path.join(tmp, "cluster"), a.workers, secret_file, env) as cluster:
            cmd = [sys.executable, "-m", "grnn_ref.autograde", a.assignment, "--no-progress",
                   "--scheduler", cluster.address]
            walls = []
            for _ in range(2):   # the second run finds each worker's recorded assignment
                t0 = time.time()
                r = subprocess.run(cmd, cwd=course, env={**os.environ, **env},
                                   capture_output=True, text=True)
                walls.append(time.time() - t0)
                if r.returncode:
                    print(r.stdout[-3000:], r.stderr[-3000:])
                    return r.returncode
        state_dir = os.path.join(course, ".grnn_autograde", a.assignment)
        print(f"{a.assignment}, {a.workers} workers, cell timeout {a.cell_timeout} s, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"whole command: {walls[0]:.1f} s (first run), {walls[1]:.1f} s (second run)")
        print("student            status  score  seconds on a worker (second run)")
        for f in sorted(os.listdir(state_dir)):
            if f.endswith(".json"):
                with open(os.path.join(state_dir, f)) as fh:
                    st = json.load(fh)
                print(f"{st['student']:18s} {st['status']:7s} {st['score']!s:6s} {st['seconds']}")
    return 0
