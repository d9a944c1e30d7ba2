"""nbgrader hooks used by the course's nbgrader_config.py (grader side).

`ensure_in_gradebook(root)` returns a pre-convert hook for `nbgrader autograde`: if the assignment
or its notebooks' grade cells are not in the gradebook yet (a fresh clone: gradebook.db is never
committed), it records them by running `nbgrader generate_assignment` into a throw-away release
folder, so that autograde works with no other setup and the committed release is left untouched.
It does the same when solutions/ changed since the gradebook recorded the assignment (points, test
cells with their hidden tests, locked cells: grnn_ref.autograde.freshness.stale_cells), and
refuses to grade, with the exact command, when that update fails.
"""
import fnmatch
import os
import subprocess
import sys
import tempfile


def _released_cells(folder):
    """{notebook: [(cell_type, source, points)]} of the release notebooks in `folder`."""
    import nbformat

    out = {}
    if not os.path.isdir(folder):
        return out
    for f in sorted(os.listdir(folder)):
        if f.endswith(".ipynb"):
            nb = nbformat.read(os.path.join(folder, f), as_version=4)
            out[f] = [(c.cell_type, c.source, c.get("metadata", {}).get("nbgrader", {}).get(
                "points")) for c in nb.cells]
    return out


def _say(msg):
    print(f"grnn: {msg}", file=sys.stderr, flush=True)


def ensure_in_gradebook(root):
    """A pre_convert_hook(assignment, student, notebooks) for Autograde (see the module docstring).

    Also when solutions/ changed since the release (points, test cells, hidden tests, locked
    cells: freshness.stale_cells), the gradebook is updated by rerunning generate_assignment
    (into a throwaway release folder: the students' release in exercises/ is left as it is, with
    a warning and the command when it differs from what solutions/ now generates). When that
    fails, grading is refused with the exact command to run.
    """

    def hook(assignment, student, notebooks, **_):
        from grnn_ref.autograde import freshness

        source_root = os.path.join(root, "solutions")
        if not os.path.isdir(source_root):
            return
        names = [d for d in sorted(os.listdir(source_root))
                 if fnmatch.fnmatch(d, assignment or "*")
                 and os.path.isdir(os.path.join(source_root, d))]
        from nbgrader.coursedir import CourseDirectory  # the configured db_url and course id
        from traitlets.config.loader import PyFileConfigLoader

        cfg = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
        cd = CourseDirectory(config=cfg)
        todo = {}
        for name in names:
            reasons = freshness.stale_cells(cd.db_url, cd.course_id,
                                            os.path.join(source_root, name), name)
            if reasons:
                todo[name] = reasons
        if not todo:
            return
        for name, reasons in todo.items():
            if not all("not recorded" in r for r in reasons):
                _say(f"solutions/{name} changed since it was recorded in the gradebook ("
                     + "; ".join(reasons[:4]) + (f"; {len(reasons) - 4} more" if len(reasons) > 4
                                                 else "")
                     + "): updating the gradebook with nbgrader generate_assignment before "
                       "grading")
        # one nbgrader run for all of them (its start-up costs seconds)
        pattern = next(iter(todo)) if len(todo) == 1 else (assignment or "*")
        release = os.path.join(root, cd.release_directory)
        with tempfile.TemporaryDirectory(prefix="grnn-release-") as tmp:
            proc = subprocess.run(
                [sys.executable, "-m", "nbgrader", "generate_assignment", pattern, "--force",
                 "--log-level=WARN", f"--CourseDirectory.release_directory={tmp}"],
                cwd=root, capture_output=True, text=True)
            left = {name: freshness.stale_cells(cd.db_url, cd.course_id,
                                                os.path.join(source_root, name), name)
                    for name in todo}
            left = {k: v for k, v in left.items() if v}
            if proc.returncode != 0 or left:
                lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
                cause = [ln for ln in lines if ("Error:" in ln or "Exception:" in ln)][-1:] \
                    or lines[-1:] or ["(no message)"]
                raise freshness.StaleGradebook(
                    f"the gradebook's record of {', '.join(sorted(left or todo))} is older than "
                    "solutions/ and could not be updated (nbgrader generate_assignment: "
                    + " / ".join(cause) + "). Grading it now would use the old tests and "
                    "points. Run, in " + root + ":\n    nbgrader generate_assignment "
                    + " ".join(sorted(left or todo)) + " --force\nthen grade again.")
            for name in todo:
                if os.path.isdir(os.path.join(release, name)) and \
                        _released_cells(os.path.join(tmp, name)) != \
                        _released_cells(os.path.join(release, name)):
                    _say(f"the released notebook in {cd.release_directory}/{name} differs from "
                         f"what solutions/{name} generates now (students have the old version; "
                         f"grading uses the new one). To release the new version run: nbgrader "
                         f"generate_assignment {name} --force")

    return hook
