"""Grade a class in parallel: `python -m grnn_ref.autograde ASSIGNMENT --jobs N [--resume]`.

Each student is graded by nbgrader's own AutogradeApp (the same config, preprocessors and
gradebook code as plain `nbgrader autograde ASSIGNMENT --student S --force`) in a child process
forked from this one, so that

- one student's failure (an nbgrader exception, a crash, a hang past --student-timeout) ends only
  that child: the rest of the class is graded and the summary says why it failed;
- N children run at once; nbgrader, jupyter and the grading code are imported once, before forking,
  so a child costs a fork, not a Python start;
- the gradebook is written by one child at a time when it is SQLite (an inter-process flock held
  from opening to closing each nbgrader Gradebook session; the kernel runs outside those sessions),
  and by all at once on a server database (db_url), which serialises transactions itself;
- each student's outcome is written atomically to <root>/.grnn_autograde/<assignment>/<student>.json
  only after nbgrader has committed; `--resume` skips students whose outcome is "graded" and whose
  grade inputs are unchanged: the submitted files and everything else a grade depends on (the
  source notebook, the gradebook's test cells and points, the secret, the grading code:
  freshness.grading_inputs), so an interrupted run continues where it stopped, a changed test
  regrades whoever it affects, and a rerun without --resume regrades everyone to the same result
  (idempotent);
- before the first student, the grading kernel is started once (selfcheck): a sandbox that cannot
  start a kernel stops the batch with the kernel's own messages; and the pre-convert hook brings a
  gradebook older than solutions/ up to date, or refuses with the command (nbgrader_hooks);
- a regrade that fails puts the student's previous autograded files and gradebook rows back
  (previous), and says so;
- every student gets an outcome (report: graded, timed out, not valid, pending hand grading,
  infrastructure failure), on the terminal and in autograde_report_<assignment>.json next to the
  gradebook.

Nothing here assumes one host: paths come from nbgrader's CourseDirectory, the database from its
db_url, and `--shard K/N` splits the class deterministically between N machines sharing the course
directory (see the instructor guide, "Scaling to a large course").
"""
import argparse
import fcntl
import glob
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter

from grnn_ref.autograde import freshness, previous, report, selfcheck

STATE_DIR = ".grnn_autograde"
REASON_TAG = "grnn:"


# ------------------------------------------------------------------ nbgrader configuration
def load_course(root):
    """(coursedir, config) from nbgrader's own config loading in `root` (nbgrader_config.py).

    The process's working directory is left alone: like nbgrader's formgrader opening a course
    by path, the config is read from `root`, not from the working directory.
    """
    from nbgrader.apps.baseapp import NbGrader
    root = os.path.abspath(root)
    app = NbGrader()
    app.load_cwd_config = False
    app.config_dir = root
    app.initialize([], root=root)
    return app.coursedir, app.config


def submitted_students(coursedir, assignment):
    """Student ids that have a submission of `assignment` (as nbgrader's directory layout says)."""
    pattern = coursedir.format_path(coursedir.submitted_directory, "*", assignment)
    prefix, _, _ = pattern.partition("*")
    out = []
    for path in glob.glob(pattern):
        if os.path.isdir(path):
            out.append(path[len(prefix):].split(os.sep)[0])
    return sorted(set(out))


def submission_fingerprint(coursedir, assignment, student):
    """Hash of the submitted files' names, sizes and mtimes (resume skips unchanged ones)."""
    d = coursedir.format_path(coursedir.submitted_directory, student, assignment)
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(d)):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            h.update(f"{os.path.relpath(p, d)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def in_shard(student, shard):
    """True when `student` belongs to shard (k, n): a stable hash, the same on every machine."""
    if shard is None:
        return True
    k, n = shard
    return int(hashlib.sha256(student.encode()).hexdigest(), 16) % n == k


# ------------------------------------------------------------------ the gradebook lock
_lock_depth = 0
_lock_fd = None


def _acquire_lock():
    """Take the gradebook lock (re-entrant within the process)."""
    global _lock_depth
    if _lock_depth == 0:
        fcntl.flock(_lock_fd, fcntl.LOCK_EX)
    _lock_depth += 1


def _release_lock():
    global _lock_depth
    _lock_depth -= 1
    if _lock_depth == 0:
        fcntl.flock(_lock_fd, fcntl.LOCK_UN)


def install_gradebook_lock(lock_path):
    """Serialise nbgrader Gradebook sessions of this process with others (flock on lock_path).

    Held from Gradebook.__init__ to Gradebook.close (nbgrader opens one per short step: creating
    the submission, reading the source cells, saving grades), re-entrant within the process.
    """
    from nbgrader import api

    global _lock_fd
    _lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    orig_init, orig_close = api.Gradebook.__init__, api.Gradebook.close

    def __init__(self, *args, **kwargs):
        _acquire_lock()  # released by close(), or now if the session cannot open
        try:
            orig_init(self, *args, **kwargs)
        except BaseException:
            _release_lock()
            raise
        self._grnn_locked = True

    def close(self):
        try:
            orig_close(self)
        finally:
            if getattr(self, "_grnn_locked", False):
                self._grnn_locked = False
                _release_lock()

    api.Gradebook.__init__ = __init__
    api.Gradebook.close = close


def _locked(fn):
    """fn wrapped so that it runs holding the gradebook lock (if one is installed)."""
    def wrapper(*args, **kwargs):
        if _lock_fd is None:
            return fn(*args, **kwargs)
        _acquire_lock()
        try:
            return fn(*args, **kwargs)
        finally:
            _release_lock()
    return wrapper


def _wrap_hooks(config):
    """Run the configured pre/post convert hooks under the gradebook lock: a hook may set up the
    gradebook (this course's records the assignment on a fresh clone) in another process."""
    for section in ("Autograde", "BaseConverter"):
        for name in ("pre_convert_hook", "post_convert_hook"):
            if section in config and callable(config[section].get(name)):
                config[section][name] = _locked(config[section][name])


def run_pre_convert_hook(config, assignment):
    """Run the configured Autograde pre-convert hook once, before any worker starts."""
    for section in ("Autograde", "BaseConverter"):
        hook = config[section].get("pre_convert_hook") if section in config else None
        if callable(hook):
            hook(assignment=assignment, student=None, notebooks=[])
            return


def sqlite_path(db_url):
    """The file of a sqlite:/// URL, or None for a server database."""
    if db_url.startswith("sqlite:///"):
        return db_url[len("sqlite:///"):]
    return None


# ------------------------------------------------------------------ one student (child process)
def student_score(db_url, assignment, student):
    from nbgrader.api import Gradebook
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        return float(sub.score), float(sub.max_score), bool(sub.needs_manual_grade)


KNOWN_FAILURES = (
    # (text in nbgrader's log, reason shown to the instructor; {path} is the file named in the line)
    ("does not appear to be JSON", "the submitted notebook is not valid JSON: nothing could run, "
                                   "0 points (nbgrader keeps it for manual grading)"),
    ("NotJSONError", "the submitted notebook is not valid JSON: nothing could run, 0 points "
                     "(nbgrader keeps it for manual grading)"),
    ("ValidationError", "the submitted notebook does not follow the notebook format"),
    ("Skipping unknown notebook:", "{path} is not a notebook of this assignment (renamed?) and "
                                   "was not graded"),
    ("No submitted file:", "{path} was not submitted: its cells score 0"),
    ("No notebooks found", "no notebook of the assignment was submitted under its name: nothing "
                           "ran, 0 points (nbgrader keeps it for manual grading)"),
)


def _reasons_from_log(log_path, limit=4, failed=False):
    """Short reasons from a child's log: our tagged lines, then known nbgrader failures (and, for
    a failed student, nbgrader's last exception line if nothing else explains it)."""
    try:
        with open(log_path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for ln in lines:
        reason = None
        if REASON_TAG in ln:
            reason = ln.split(REASON_TAG, 1)[1].strip()
        else:
            for needle, text in KNOWN_FAILURES:
                if needle in ln:
                    path = ln.split(needle, 1)[1].strip()
                    reason = text.format(path=os.path.basename(path) or path)
                    break
        if reason and reason not in out:
            out.append(reason[:300])
    if not out and failed:
        # an unexpected failure: nbgrader's last exception line
        exc = [ln.strip() for ln in lines if ln.strip() and ("Error" in ln or "Exception" in ln)
               and "There was an error processing" not in ln and "Please see the" not in ln]
        out = exc[-1:]
    return out[:limit]


def _write_state(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def grade_one(root, assignment, student, state_dir, lock_path, fingerprint, hook_done=False):
    """Body of a child: nbgrader autograde for one student, then its outcome file. Never returns.

    hook_done: the parent has run the pre-convert hook for the class (worker.skip_pre_convert_hook).
    """
    code = 1
    log_path = os.path.join(state_dir, f"{student}.log")
    try:
        os.setpgid(0, 0)  # our own group: the parent can stop us and our kernel at once
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # This child runs as `nbgrader autograde` run in the course root: nbgrader reads the config
        # there and paths like the grading secret's default are relative to it. The parent's
        # working directory is untouched (this process ends with os._exit below).
        os.chdir(root)
        from grnn_ref.autograde import worker
        worker.share_gradebook_engine()   # before the lock wraps Gradebook.__init__
        if lock_path:
            install_gradebook_lock(lock_path)
        from nbgrader.apps.autogradeapp import AutogradeApp
        t0 = time.time()
        app = AutogradeApp()
        app.initialize([assignment, "--student", student, "--force"])
        if hook_done:
            worker.skip_pre_convert_hook(app.config)
        _wrap_hooks(app.config)
        kept = previous.snapshot(app.coursedir, assignment, student, state_dir)
        try:
            app.start()
            rc = 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        reasons = _reasons_from_log(log_path, failed=rc != 0)
        previous_kept = None
        if kept and rc != 0:
            score_max = previous.restore(app.coursedir, assignment, student, state_dir)
            if score_max:
                previous_kept = {"score": score_max[0], "max_score": score_max[1]}
        elif kept:
            previous.discard(state_dir, student)
        try:
            score, max_score, manual = student_score(app.coursedir.db_url, assignment, student)
        except Exception as e:  # noqa: BLE001 - no submission row: nbgrader failed early
            score, max_score, manual = 0.0, None, True
            reasons.append(f"no grades in the gradebook ({type(e).__name__})")
        _write_state(os.path.join(state_dir, f"{student}.json"), {
            "student": student, "assignment": assignment,
            "status": "graded" if rc == 0 else "failed",
            "score": score, "max_score": max_score, "needs_manual_grade": manual,
            "reasons": reasons, "seconds": round(time.time() - t0, 2),
            "fingerprint": fingerprint, "finished": time.time(),
            **({"previous_kept": previous_kept} if previous_kept else {}),
        })
        code = 0
    except BaseException as e:  # noqa: BLE001 - report, the parent records the failure
        try:
            print(f"{REASON_TAG} grading process crashed: {type(e).__name__}: {e}", file=sys.stderr)
        except Exception:  # noqa: BLE001
            pass
        code = 3
    finally:
        os._exit(code)


# ------------------------------------------------------------------ the parent
def _preimport():
    """Import what every child needs, once, before forking."""
    import nbgrader.apps.autogradeapp  # noqa: F401
    import nbgrader.preprocessors  # noqa: F401
    import nbclient  # noqa: F401
    import zmq  # noqa: F401
    import grnn_ref.autograde.execute  # noqa: F401
    import grnn_ref.autograde.sanitize  # noqa: F401
    import grnn_ref.grading.verify  # noqa: F401
    import grnn_ref.grading.feedback  # noqa: F401
    import grnn_ref.autograde.worker  # noqa: F401
    import sqlalchemy.orm  # noqa: F401
    from grnn_ref.autograde.execute import font_cache
    font_cache()  # matplotlib's font list for the kernels, built once (see execute.py)


def select_students(coursedir, assignment, students=None, shard=None):
    """The submitted students of `assignment` to grade: those named (all if None; a name with no
    submission is a ValueError), then those of `shard`."""
    all_students = submitted_students(coursedir, assignment)
    if students:
        unknown = sorted(set(students) - set(all_students))
        if unknown:
            raise ValueError(f"students={unknown}: no submission of {assignment!r} in "
                             f"{coursedir.submitted_directory!r} (found {len(all_students)})")
        all_students = [s for s in all_students if s in set(students)]
    return [s for s in all_students if in_shard(s, shard)]


def grade_class(assignment, jobs=2, resume=False, students=None, shard=None, root=".",
                student_timeout=1800.0, progress=True, out=sys.stdout):
    """Grade every submitted student of `assignment`; returns the summary dict (see module doc)."""
    root = os.path.abspath(root)
    coursedir, _config = load_course(root)
    todo = select_students(coursedir, assignment, students, shard)
    state_dir = os.path.join(root, STATE_DIR, assignment)
    os.makedirs(state_dir, exist_ok=True)
    db_file = sqlite_path(coursedir.db_url)
    lock_path = (db_file + ".grnn-lock") if db_file else None

    results = {}
    _preimport()
    if todo:
        selfcheck.require_sandbox()  # SandboxUnavailable stops the batch before the first student
        # e.g. record a fresh clone's assignment in the gradebook once, not in every worker at
        # once, and bring a stale gradebook up to date with solutions/ before anything is compared
        run_pre_convert_hook(_config, assignment)
    fingerprints, regrade_because = _fingerprints(root, coursedir, _config, assignment, todo)
    queue = []
    for s in todo:
        state = _read_state(state_dir, s)
        if (resume and state and state.get("status") == "graded"
                and state.get("fingerprint") == fingerprints[s]):
            state["skipped"] = True
            results[s] = state
        else:
            if resume and state and state.get("status") == "graded":
                regrade_because[s] = freshness.changed_inputs(state.get("fingerprint"),
                                                              fingerprints[s])
            queue.append(s)
    if resume and regrade_because:
        changed = sorted({c for cs in regrade_because.values() for c in cs})
        print(f"{assignment}: regrading {len(regrade_because)} student(s) graded before, because "
              f"these changed since: {', '.join(changed)}", file=out)
    hook_done = bool(todo)  # the pre-convert hook ran above, once for the class
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), initial=len(results), desc=f"grading {assignment}",
                   unit="student", file=out, dynamic_ncols=True, mininterval=0.2)
        bar.monitor_interval = 0
    t_start = time.time()
    running = {}  # pid -> (student, started)
    interrupted = False

    def finish(student, status_override=None, reason=None):
        state = _read_state(state_dir, student) or {}
        if status_override or not state or state.get("fingerprint") != fingerprints[student] \
                or state.get("finished", 0) < started_at[student]:
            state = {"student": student, "assignment": assignment, "status": "failed",
                     "score": None, "max_score": None,
                     "reasons": [reason or "the grading process ended without a result"]
                     + _reasons_from_log(os.path.join(state_dir, f"{student}.log"), failed=True),
                     "fingerprint": fingerprints[student]}
            kept = _restore_previous(coursedir, assignment, student, state_dir, lock_path)
            if kept:
                state["previous_kept"] = kept
        if student in regrade_because:
            state["regraded_because"] = regrade_because[student]
        report.classify(state, os.path.join(state_dir, f"{student}.log"))
        _write_state(os.path.join(state_dir, f"{student}.json"), state)
        results[student] = state
        if bar is not None:
            line = _status_line(state)
            bar.set_postfix_str(line[:60])
            bar.write(line)
            bar.update(1)

    started_at = {}
    # Ctrl-C (SIGINT) only sets a flag, read at the top of every round: a KeyboardInterrupt raised
    # wherever the signal lands could be swallowed (e.g. inside logging's at-fork handler, where
    # Python ignores exceptions), and the run would then grade everyone as if never interrupted.
    sigint = []
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        old_handler = signal.signal(signal.SIGINT, lambda signum, frame: sigint.append(signum))
    try:
        while queue or running:
            if sigint:
                raise KeyboardInterrupt
            while queue and len(running) < max(1, jobs):
                s = queue.pop(0)
                started_at[s] = time.time()
                if bar is not None:
                    bar.set_postfix_str(f"{s}: grading")
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    grade_one(root, assignment, s, state_dir, lock_path, fingerprints[s],
                              hook_done)
                running[pid] = (s, time.time())
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                now = time.time()
                for p, (s, t0) in list(running.items()):
                    if now - t0 > student_timeout:
                        _kill_group(p)
                        os.waitpid(p, 0)
                        del running[p]
                        finish(s, "failed", f"grading took longer than {student_timeout:.0f} s "
                                            "and was stopped")
                time.sleep(0.05)
                continue
            if pid in running:
                s, _ = running.pop(pid)
                code = os.waitstatus_to_exitcode(status)
                finish(s, None if code == 0 else "failed",
                       None if code == 0 else f"grading process exited with {code}")
    except KeyboardInterrupt:
        interrupted = True
        for p in running:
            _kill_group(p)
        for p in list(running):
            try:
                os.waitpid(p, 0)
            except ChildProcessError:
                pass
        for s, _ in running.values():  # stopped mid-regrade: the previous grade stands
            _restore_previous(coursedir, assignment, s, state_dir, lock_path)
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
        if bar is not None:
            bar.close()
    summary = _summary(assignment, todo, results, time.time() - t_start, interrupted, jobs)
    summary["report"] = report.write_report(
        report.report_path(coursedir, root, assignment, shard), summary)
    print(format_summary(summary), file=out)
    return summary


def _fingerprints(root, coursedir, config, assignment, students):
    """{student: {"submission": hash, <grading input>: hash, ...}} (freshness.grading_inputs),
    and an empty dict for the reasons of regrades."""
    inputs = freshness.grading_inputs(root, coursedir, config, assignment) if students else {}
    return ({s: {"submission": submission_fingerprint(coursedir, assignment, s), **inputs}
             for s in students}, {})


def _restore_previous(coursedir, assignment, student, state_dir, lock_path):
    """After a grading process died: put back the student's previous grade, if one was kept."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600) if lock_path else None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        got = previous.restore(coursedir, assignment, student, state_dir)
    finally:
        if fd is not None:
            os.close(fd)  # releases the flock
    return {"score": got[0], "max_score": got[1]} if got else None


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _read_state(state_dir, student):
    try:
        with open(os.path.join(state_dir, f"{student}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _status_line(state):
    s = state["student"]
    label = report.OUTCOMES.get(state.get("outcome"), "graded")
    if state.get("status") == "graded":
        txt = f"{s}: {label} {state.get('score', 0):g}/{state.get('max_score') or 0:g}"
    else:
        txt = f"{s}: FAILED ({label})"
    if state.get("reasons"):
        txt += " (" + "; ".join(state["reasons"])[:200] + ")"
    return txt


def _summary(assignment, todo, results, seconds, interrupted, jobs):
    statuses = Counter(r.get("status") for r in results.values())
    return {
        "assignment": assignment, "students": len(todo), "jobs": jobs,
        "graded": statuses.get("graded", 0), "failed": statuses.get("failed", 0),
        "skipped": sum(1 for r in results.values() if r.get("skipped")),
        "not_run": len([s for s in todo if s not in results]),
        "interrupted": interrupted, "seconds": round(seconds, 2),
        "outcomes": report.counts(results),
        "results": {s: results[s] for s in sorted(results)},
    }


def format_summary(summary):
    lines = [f"{summary['assignment']}: {summary['graded']} graded, {summary['failed']} failed, "
             f"{summary['skipped']} unchanged (resumed), {summary['not_run']} not run, "
             f"{summary['students']} students, {summary['jobs']} jobs, "
             f"{summary['seconds']:.1f} s" + (" -- INTERRUPTED (rerun with --resume)"
                                             if summary["interrupted"] else "")]
    lines += report.outcome_lines(summary)
    if summary.get("report"):
        lines.append(f"  report: {summary['report']}")
    return "\n".join(lines)


def parse_shard(text):
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: expected K/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= k < n):
        raise argparse.ArgumentTypeError(f"--shard {text!r}: need 0 <= K < N")
    return k, n


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m grnn_ref.autograde",
        description="Grade every submitted student of an assignment with N parallel workers "
                    "(nbgrader autograde per student, same config and gradebook).")
    p.add_argument("assignment")
    # one more worker than cores: while the others' notebooks run, one worker's sandboxed kernel
    # starts and nbgrader sets it up (python -m grnn_ref.autograde bench measures both)
    p.add_argument("--jobs", "-j", type=int, default=(os.cpu_count() or 1) + 1,
                   help="parallel workers (default: the number of cores + 1)")
    p.add_argument("--resume", action="store_true",
                   help="skip students already graded whose submission did not change")
    p.add_argument("--students", nargs="+", help="grade only these students")
    p.add_argument("--shard", type=parse_shard, help="K/N: grade only shard K of N (machines)")
    p.add_argument("--root", default=".", help="course root (where nbgrader_config.py is)")
    p.add_argument("--student-timeout", type=float, default=1800.0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--scheduler", metavar="tcp://HOST:8786",
                   help="grade on the workers of this Dask scheduler (grnn_ref.autograde."
                        "distributed) instead of local processes; --jobs is then ignored")
    a = p.parse_args(argv)
    if a.jobs < 1:
        p.error(f"--jobs {a.jobs}: expected at least 1")
    if a.scheduler:
        from grnn_ref.autograde.distributed import grade_class_distributed
        if a.resume:
            p.error("--resume with --scheduler: not supported; rerun without --resume (a rerun "
                    "regrades everyone to the same grades) or with --students")
        try:
            summary = grade_class_distributed(
                a.assignment, a.scheduler, root=a.root, students=a.students, shard=a.shard,
                student_timeout=a.student_timeout, progress=not a.no_progress)
        except ValueError as e:
            p.error(str(e))
        return 0 if summary["failed"] == 0 else 1
    try:
        summary = grade_class(a.assignment, jobs=a.jobs, resume=a.resume, students=a.students,
                              shard=a.shard, root=a.root, student_timeout=a.student_timeout,
                              progress=not a.no_progress)
    except (selfcheck.SandboxUnavailable, freshness.StaleGradebook) as e:
        print(f"{a.assignment}: NOT GRADED: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        p.error(str(e))
    return 0 if summary["failed"] == 0 and not summary["interrupted"] else 1
