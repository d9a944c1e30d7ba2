"""Throughput of grading: plain sequential `nbgrader autograde` vs `python -m grnn_ref.autograde`.

`grading_throughput(n_students=40, assignment="ex01_rnn", jobs=None)` builds two identical
throwaway courses with the same generated class (half correct, 30 % buggy, 20 % blank), grades one
with plain `nbgrader autograde ASSIGNMENT --force` and the other with our parallel command, twice
each, in the order plain, ours, ..., ours, plain (so that a steady drift of the machine's load
weighs on both alike), in the same run,
checks that both wrote the same grade for every student and cell, and prints submissions per minute
and the ratio. jobs=None: ours with --jobs <cores + 1> (its default: one worker's kernel starts
while the others' notebooks run), which decides the verdict, then again with --jobs <cores>, for
information. It also measures the per-notebook floor (sandboxed kernel start + the notebook's imports,
no student code) and checks that the assignment's solution does not load torch in the kernel.

Run: `python -m grnn_ref.autograde bench [--students 40] [--jobs N] [--assignment ex01_rnn]`.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from grnn_ref.autograde import classroom


def _register(course, assignment):
    """Record the assignment in the course's gradebook (not part of either timing)."""
    with tempfile.TemporaryDirectory(prefix="grnn-release-") as tmp:
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
                        "--force", "--log-level=WARN",
                        f"--CourseDirectory.release_directory={tmp}"],
                       cwd=course, check=True, capture_output=True)


def _timed(cmd, cwd, env):
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def kernel_floor(assignment, repeats=3):
    """Median seconds to start the sandboxed grading kernel and run the notebook's import cell."""
    from nbformat.v4 import new_code_cell, new_notebook

    from grnn_ref.autograde.execute import GradingExecute
    src = "import numpy as np\nimport grnn_ref.grading\nfrom grnn_ref.grading import Params"
    times = []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(repeats):
            nb = new_notebook(cells=[new_code_cell(src)])
            t0 = time.perf_counter()
            GradingExecute(timeout=120, secret_file=os.path.join(d, "secret")).preprocess(
                nb, {"metadata": {"path": d},
                     "nbgrader": {"student": "bench", "assignment": assignment}})
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


_PROFILE_CODE = r"""
import json, sys, time
from grnn_ref.autograde import execute as ex
from nbconvert.preprocessors.base import Preprocessor
marks = []
def mark(what):
    marks.append((time.perf_counter(), what))
orig_cell = ex.GradingExecute.async_execute_cell
async def cell(self, c, i, *a, **k):
    if c.cell_type == "code" and c.source.strip():
        mark("cell start")
    r = await orig_cell(self, c, i, *a, **k)
    if c.cell_type == "code" and c.source.strip():
        mark("cell end")
    return r
ex.GradingExecute.async_execute_cell = cell
ex.GradingExecute.execute_cell = ex.run_sync(cell)
orig_call = Preprocessor.__call__
def call(self, nb, res):
    mark("begin " + type(self).__name__)
    r = orig_call(self, nb, res)
    mark("end " + type(self).__name__)
    return r
Preprocessor.__call__ = call
from nbgrader.apps.autogradeapp import AutogradeApp
import grnn_ref.grading.verify
ex.font_cache()
mark("start")
app = AutogradeApp()
app.initialize([sys.argv[1], "--student", sys.argv[2], "--force"])
app.start()
mark("done")
print("PROFILE" + json.dumps(marks))
"""


def profile_notebook(course, assignment, student):
    """Where the time of grading one student goes: plain `nbgrader autograde ASSIGNMENT --student
    S --force` run once in a fresh process in `course` (imports excluded), timed at the boundaries
    of nbgrader's preprocessors and of every executed cell. Returns a list of (stage, seconds)."""
    proc = subprocess.run([sys.executable, "-c", _PROFILE_CODE, assignment, student], cwd=course,
                          capture_output=True, text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("PROFILE")), None)
    if line is None:
        raise RuntimeError(f"profiling {student} failed: {proc.stderr[-2000:]}")
    marks = json.loads(line[len("PROFILE"):])
    at = {}
    for t, what in marks:
        at.setdefault(what, []).append(t)
    t0, t_end = at["start"][0], at["done"][0]
    ex_begin, ex_end = at["begin GradingExecute"][0], at["end GradingExecute"][0]
    cells = list(zip(at.get("cell start", []), at.get("cell end", [])))
    first_sanitize = min(t for what, ts in at.items() if what.startswith("begin ") for t in ts)
    stages = [
        ("nbgrader set-up: app, gradebook rows, pre-convert hook", first_sanitize - t0),
        ("sanitizing preprocessors", ex_begin - first_sanitize),
        ("sandboxed kernel start (to the first cell)", (cells[0][0] if cells else ex_end)
         - ex_begin),
        ("first cell (the notebook's imports)", cells[0][1] - cells[0][0] if cells else 0.0),
        ("other cells (the student's code and checks)",
         sum(e - b for b, e in cells[1:]) + sum(c[0] - p[1] for p, c in zip(cells, cells[1:]))),
        ("kernel shutdown", ex_end - (cells[-1][1] if cells else ex_end)),
        ("verification (VerifyChecks)", at["end VerifyChecks"][0] - at["begin VerifyChecks"][0]
         if "end VerifyChecks" in at else 0.0),
    ]
    stages.append(("the rest: gradebook writes, saving", (t_end - t0) - sum(v for _, v in stages)))
    stages.append(("total", t_end - t0))
    return stages


def torch_loaded_by_solution(course, assignment):
    """Run the solution notebook in the grading kernel; True if torch ended up in sys.modules."""
    import nbformat
    from nbformat.v4 import new_code_cell

    from grnn_ref.autograde.execute import GradingExecute
    name = classroom.notebook_names(course, assignment)[0]
    nb = nbformat.read(os.path.join(course, "solutions", assignment, name), as_version=4)
    nb.cells.append(new_code_cell("import sys\nprint('torch' in sys.modules)"))
    ep = GradingExecute(timeout=120, secret_file=os.path.join(course, ".grnn_grading_secret"))
    nb, _ = ep.preprocess(
        nb, {"metadata": {"path": os.path.join(course, "solutions", assignment)},
             "nbgrader": {"student": "bench", "assignment": assignment}})
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    return text != "False"


def grading_throughput(n_students=40, assignment="ex01_rnn", jobs=None, keep=False,
                       out=sys.stdout, out_dir=None, command=None):
    """Grade the same generated class both ways and print/return the figures (dict); with
    out_dir, also write them to out_dir/grading.md and grading.json."""
    load_start = os.getloadavg()
    base = tempfile.mkdtemp(prefix="grnn-bench-")
    try:
        plain = classroom.copy_course(os.path.join(base, "plain"), [assignment])
        ours = classroom.copy_course(os.path.join(base, "ours"), [assignment])
        kinds = classroom.make_class(plain, assignment, n_students)
        classroom.make_class(ours, assignment, n_students)
        for course in (plain, ours):
            _register(course, assignment)
        env = dict(os.environ)
        env.pop("GRNN_GRADING_SECRET_FILE", None)
        cpus = os.cpu_count() or 1
        job_counts = [jobs] if jobs else [cpus + 1, cpus]
        plain_cmd = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"]

        def ours_cmd(j):   # the same course again each time: our command regrades everyone
            return [sys.executable, "-m", "grnn_ref.autograde", assignment, "--jobs", str(j),
                    "--no-progress"]
        # A B .. B A: plain, ours with each job count, the headline job count again, plain
        # again; each side's two runs straddle the others, so a load that rises or falls
        # steadily during the bench weighs on both alike.
        t_plain1, p1 = _timed(plain_cmd, plain, env)
        runs = []
        for j in job_counts + job_counts[:1]:
            t, proc = _timed(ours_cmd(j), ours, env)
            runs.append((j, t, proc, classroom.grades(ours, assignment)))
        t_plain2, p1b = _timed(plain_cmd, plain, env)
        t_plain = (t_plain1 + t_plain2) / 2
        head = [r for r in runs if r[0] == job_counts[0]]
        jobs, p2, g_ours = head[0][0], head[-1][2], head[-1][3]
        t_ours = sum(r[1] for r in head) / len(head)
        if p1.returncode == 0:
            p1 = p1b
        g_plain = classroom.grades(plain, assignment)
        # the two courses have different secrets, hence different hidden cases: grades must still
        # agree, since every generated submission is either right on all inputs or wrong on all
        same = all(g_plain == g for *_, g in runs)
        # one correct student, profiled on the plain course after its run (the gradebook rows
        # exist, as for every student but the first)
        correct = sorted(s for s, k in kinds.items() if k == "correct")
        stages = profile_notebook(plain, assignment, correct[0]) if correct else []
        floor = kernel_floor(assignment)
        torch_loaded = torch_loaded_by_solution(plain, assignment)
        res = {
            "assignment": assignment, "students": n_students, "jobs": jobs,
            "kinds": {k: list(kinds.values()).count(k) for k in ("correct", "buggy", "blank")},
            "plain_seconds": t_plain, "ours_seconds": t_ours,
            "plain_per_minute": 60 * n_students / t_plain,
            "ours_per_minute": 60 * n_students / t_ours,
            "ratio": t_plain / t_ours, "same_grades": same,
            "kernel_floor_seconds": floor, "torch_loaded_in_numpy_exercise": torch_loaded,
            "plain_returncode": p1.returncode, "ours_returncode": p2.returncode,
            "cpus": os.cpu_count(), "load_average": load_start,
            "load_average_end": os.getloadavg(), "profile": stages,
            "command": command or "python -m grnn_ref.autograde bench",
            "plain_runs_seconds": [t_plain1, t_plain2],
            "ours_runs_seconds": [r[1] for r in head],
            "other_runs": [{"jobs": j, "seconds": t, "ratio": t_plain / t,
                            "returncode": proc.returncode}
                           for j, t, proc, _ in runs if j != jobs],
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        print(format_result(res), file=out)
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "grading.md"), "w") as f:
                f.write(f"# Grading throughput\n\n`{res['command']}`, {res['date']}\n\n"
                        + format_result(res) + "\n")
            with open(os.path.join(out_dir, "grading.json"), "w") as f:
                json.dump(res, f, indent=1)
            print("wrote", os.path.join(out_dir, "grading.md"), file=out)
        if not same:
            diff = {s: (g_plain.get(s), g_ours.get(s)) for s in set(g_plain) | set(g_ours)
                    if g_plain.get(s) != g_ours.get(s)}
            print("GRADES DIFFER:", diff, file=out)
            print("plain nbgrader's log (last 40 lines):", file=out)
            print("\n".join(p1.stderr.splitlines()[-40:]), file=out)
            res["plain_log"] = p1.stderr
        return res
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def format_result(r):
    k = r["kinds"]
    return "\n".join([
        f"Grading throughput, {r['assignment']}: {r['students']} submissions "
        f"({k['correct']} correct, {k['buggy']} buggy, {k['blank']} blank), "
        f"{r['cpus']} CPUs, load average before/at start {r['load_average'][0]:.1f}",
        "| command | seconds | submissions/min |",
        "| --- | ---: | ---: |",
        f"| nbgrader autograde (sequential), mean of 2 runs "
        f"({', '.join(f'{t:.1f}' for t in r.get('plain_runs_seconds', []))}) | "
        f"{r['plain_seconds']:.1f} | {r['plain_per_minute']:.1f} |",
        f"| python -m grnn_ref.autograde --jobs {r['jobs']}, mean of 2 runs "
        f"({', '.join(f'{t:.1f}' for t in r.get('ours_runs_seconds', []))}) | "
        f"{r['ours_seconds']:.1f} | {r['ours_per_minute']:.1f} |",
    ] + [f"| python -m grnn_ref.autograde --jobs {o['jobs']} (information) | {o['seconds']:.1f} | "
         f"{60 * r['students'] / o['seconds']:.1f} |" for o in r.get("other_runs", [])] + [
        f"ratio (ours / plain throughput): {r['ratio']:.2f}x (target >= 3x on 2 cores): "
        f"{'PASS' if r['ratio'] >= 3 else 'MISS'}",
        f"same grades per student and cell: {r['same_grades']}",
        f"per-notebook floor (sandboxed kernel start + imports, shutdown): "
        f"{r['kernel_floor_seconds']:.2f} s (target <= 2 s): "
        f"{'PASS' if r['kernel_floor_seconds'] <= 2 else 'MISS'}",
        f"torch loaded by the {r['assignment']} solution in the grading kernel: "
        f"{r['torch_loaded_in_numpy_exercise']}",
        f"load average at the start {r['load_average'][0]:.1f}, at the end "
        f"{r['load_average_end'][0]:.1f}",
    ] + ([f"where one correct student's time goes (plain nbgrader autograde --student, once):",
          "| stage | seconds |", "| --- | ---: |"]
         + [f"| {name} | {sec:.2f} |" for name, sec in r.get("profile") or []]
         if r.get("profile") else []))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m grnn_ref.autograde bench")
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--jobs", type=int, default=None,
                   help="our workers (default: cores + 1, then cores for information)")
    p.add_argument("--assignment", default="ex01_rnn")
    p.add_argument("--keep", action="store_true", help="keep the throwaway courses")
    a = p.parse_args(argv)
    r = grading_throughput(a.students, a.assignment, a.jobs, keep=a.keep)
    return 0 if r["same_grades"] else 1
