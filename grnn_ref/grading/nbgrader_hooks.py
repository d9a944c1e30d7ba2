"""nbgrader hooks used by the course's nbgrader_config.py (grader side).

`ensure_in_gradebook(root)` returns a pre-convert hook for `nbgrader autograde`: if the assignment
or its notebooks' grade cells are not in the gradebook yet (a fresh clone: gradebook.db is never
committed), it records them by running `nbgrader generate_assignment` into a throw-away release
folder, so that autograde works with no other setup and the committed release is left untouched.
"""
import fnmatch
import os
import subprocess
import sys
import tempfile


def _needs_generate(db_url, course_id, assignment, notebooks):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, course_id) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            return True
        have = {nb.name for nb in a.notebooks if nb.grade_cells or nb.task_cells}
    return not set(notebooks) <= have


def ensure_in_gradebook(root):
    """A pre_convert_hook(assignment, student, notebooks) for Autograde (see the module docstring)."""

    def hook(assignment, student, notebooks, **_):
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
        missing = []
        for name in names:
            nbs = [os.path.splitext(f)[0] for f in os.listdir(os.path.join(source_root, name))
                   if f.endswith(".ipynb")]
            if _needs_generate(cd.db_url, cd.course_id, name, nbs):
                missing.append(name)
        if not missing:
            return
        # one nbgrader run for all of them (its start-up costs seconds)
        pattern = missing[0] if len(missing) == 1 else (assignment or "*")
        with tempfile.TemporaryDirectory(prefix="grnn-release-") as tmp:
            subprocess.run(
                [sys.executable, "-m", "nbgrader", "generate_assignment", pattern, "--force",
                 "--log-level=WARN", f"--CourseDirectory.release_directory={tmp}"],
                cwd=root, check=True)

    return hook
