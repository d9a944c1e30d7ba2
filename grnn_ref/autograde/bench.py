"""Throughput of grading: plain sequential `nbgrader autograde` vs `python -m grnn_ref.autograde`.

`grading_throughput(n_students=40, assignment="ex01_rnn", jobs=2)` builds two identical throwaway
courses with the same generated class (half correct, 30 % buggy, 20 % blank), grades one with plain
`nbgrader autograde ASSIGNMENT` and the other with our parallel command, in the same run, checks
that both wrote the same grade for every student and cell, and prints submissions per minute and
the ratio. It also measures the per-notebook floor (sandboxed kernel start + the notebook's imports,
no student code) and checks that the assignment's solution does not load torch in the kernel.

Run: `python -m grnn_ref.autograde bench [--students 40] [--jobs 2] [--assignment ex01_rnn]`.
"""
import argparse
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


def grading_throughput(n_students=40, assignment="ex01_rnn", jobs=2, keep=False,
                       out=sys.stdout):
    """Grade the same generated class both ways and print/return the figures (dict)."""
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
        t_plain, p1 = _timed([sys.executable, "-m", "nbgrader", "autograde", assignment],
                             plain, env)
        t_ours, p2 = _timed([sys.executable, "-m", "grnn_ref.autograde", assignment,
                             "--jobs", str(jobs), "--no-progress"], ours, env)
        g_plain = classroom.grades(plain, assignment)
        g_ours = classroom.grades(ours, assignment)
        # the two courses have different secrets, hence different hidden cases: grades must still
        # agree, since every generated submission is either right on all inputs or wrong on all
        same = g_plain == g_ours
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
            "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        }
        print(format_result(res), file=out)
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
        f"| nbgrader autograde (sequential) | {r['plain_seconds']:.1f} | "
        f"{r['plain_per_minute']:.1f} |",
        f"| python -m grnn_ref.autograde --jobs {r['jobs']} | {r['ours_seconds']:.1f} | "
        f"{r['ours_per_minute']:.1f} |",
        f"ratio (ours / plain throughput): {r['ratio']:.2f}x (target >= 1.8x on 2 cores)",
        f"same grades per student and cell: {r['same_grades']}",
        f"per-notebook floor (sandboxed kernel start + imports): {r['kernel_floor_seconds']:.2f} s",
        f"torch loaded by the {r['assignment']} solution in the grading kernel: "
        f"{r['torch_loaded_in_numpy_exercise']}",
    ])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m grnn_ref.autograde bench")
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--assignment", default="ex01_rnn")
    p.add_argument("--keep", action="store_true", help="keep the throwaway courses")
    a = p.parse_args(argv)
    r = grading_throughput(a.students, a.assignment, a.jobs, keep=a.keep)
    return 0 if r["same_grades"] else 1
