"""Stale grades: what a grade depends on besides the submission, and whether the gradebook is current.

A grade is a function of the submitted files AND of the grading inputs:

- the source notebook(s) in solutions/<assignment>/ (test cells, hidden tests, points);
- what nbgrader's gradebook holds for the assignment: the grade cells' points and the test/locked
  cells' sources that autograde restores into every submission (OverwriteCells) -- recorded by
  `nbgrader generate_assignment`, so they go stale when solutions/ changes after the release;
- the grading secret (the hidden cases' inputs derive from it);
- the grading code (the checks, their hidden-case generators, the reference, the grader's config).

`grading_inputs()` fingerprints each of them, so that `--resume` regrades a student whenever any of
them changed (not only the submission), and says which. `stale_cells()` compares the gradebook with
solutions/ cell by cell; the course's pre-convert hook (grnn_ref.grading.nbgrader_hooks) uses it to
update the gradebook (`generate_assignment` into a throwaway release folder) before anyone is
graded, or to refuse with the exact command when that fails.
"""
import glob
import hashlib
import json
import os

import nbformat

# Grading code whose change can change a grade (relative to the grnn_ref package directory):
# the reference (top-level modules), the checks and their case generators, the verifier, the
# sandbox and executor. Experiments and the book's helpers are not in it.
GRADER_CODE = ("*.py", "grading/*.py", "grading/exercises/*.py", "autograde/execute.py",
               "autograde/sandbox.py", "autograde/sanitize.py", "autograde/secret.py")


class StaleGradebook(RuntimeError):
    """The gradebook is older than solutions/ and could not be updated; str() has the command."""


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _files_hash(paths, base):
    h = hashlib.sha256()
    for p in sorted(paths):
        with open(p, "rb") as f:
            h.update(f"{os.path.relpath(p, base)}\0".encode() + _sha(f.read()).encode() + b"\n")
    return h.hexdigest()


def source_dir(coursedir, assignment):
    return coursedir.format_path(coursedir.source_directory, ".", assignment)


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def expected_cells(path):
    """What generate_assignment records for the source notebook at `path`:
    {grade_id: {"grade": bool, "points": float|None, "source": str|None}}.

    Solution cells' sources are not compared (the gradebook holds them with the solution
    replaced by the stub); every other recorded cell's source is (test cells with their hidden
    tests, locked setup and task cells): autograde restores those from the gradebook.
    """
    nb = nbformat.read(path, as_version=4)
    out = {}
    for cell in nb.cells:
        m = _meta(cell)
        if not m.get("grade_id") or not (m.get("grade") or m.get("solution") or m.get("locked")
                                         or m.get("task")):
            continue
        out[m["grade_id"]] = {
            "grade": bool(m.get("grade")),
            "points": float(m.get("points", 0)) if m.get("grade") else None,
            "source": None if m.get("solution") else cell.source,
        }
    return out


def gradebook_cells(gb, assignment, notebook):
    """The gradebook's record of one notebook, as expected_cells() describes it (None: absent)."""
    from nbgrader.api import MissingEntry
    try:
        nb = gb.find_notebook(notebook, assignment)
    except MissingEntry:
        return None
    out = {}
    for c in nb.source_cells:
        out[c.name] = {"grade": False, "points": None, "source": c.source}
    for c in nb.task_cells:
        out.setdefault(c.name, {"grade": False, "points": None, "source": None})
    for c in nb.grade_cells:
        out.setdefault(c.name, {"grade": True, "points": None, "source": None})
        out[c.name]["grade"] = True
        out[c.name]["points"] = float(c.max_score)
    return out


def stale_cells(db_url, course_id, src_dir, assignment):
    """Why the gradebook's record of `assignment` differs from solutions/ (empty list: current).

    A notebook of solutions/ missing from the gradebook is reported as "not recorded".
    """
    from nbgrader.api import Gradebook, MissingEntry

    reasons = []
    paths = sorted(glob.glob(os.path.join(src_dir, "*.ipynb")))
    with Gradebook(db_url, course_id) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return [f"{assignment} is not recorded in the gradebook"]
        for path in paths:
            name = os.path.splitext(os.path.basename(path))[0]
            want = expected_cells(path)
            have = gradebook_cells(gb, assignment, name)
            if have is None or not have:
                reasons.append(f"{name}.ipynb is not recorded in the gradebook")
                continue
            for gid in sorted(set(want) | set(have)):
                w, h = want.get(gid), have.get(gid)
                if w is None:
                    reasons.append(f"{name}: cell {gid} is in the gradebook but no longer in "
                                   "solutions/")
                elif h is None:
                    reasons.append(f"{name}: cell {gid} is new in solutions/")
                elif w["grade"] != h["grade"]:
                    reasons.append(f"{name}: cell {gid} is {'now' if w['grade'] else 'no longer'}"
                                   " a graded cell")
                elif w["points"] != h["points"]:
                    reasons.append(f"{name}: cell {gid} is worth {w['points']:g} points in "
                                   f"solutions/, {h['points']:g} in the gradebook")
                elif w["source"] is not None and w["source"] != (h["source"] or ""):
                    reasons.append(f"{name}: cell {gid}'s source (e.g. its hidden tests) "
                                   "changed in solutions/")
    return reasons


def secret_file(root, config):
    """The grading secret's path as the graders in `root` resolve it (see grnn_ref.autograde.secret)."""
    from grnn_ref.autograde import secret
    configured = ""
    for section in ("GradingExecute", "VerifyChecks"):
        if section in config and config[section].get("secret_file"):
            configured = config[section]["secret_file"]
            break
    # as secret.secret_path(), with the course root where the graders run (they chdir there)
    path = (os.environ.get("GRNN_GRADING_SECRET_FILE") or configured
            or os.path.join(root, secret.DEFAULT_NAME))
    return path if os.path.isabs(path) else os.path.join(root, path)


def _gradebook_digest(db_url, course_id, assignment):
    from nbgrader.api import Gradebook, MissingEntry
    rows = []
    with Gradebook(db_url, course_id) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            return "absent"
        for nb in sorted(a.notebooks, key=lambda n: n.name):
            cells = gradebook_cells(gb, assignment, nb.name) or {}
            rows.append([nb.name, sorted((k, v["grade"], v["points"], v["source"])
                                         for k, v in cells.items())])
    return _sha(json.dumps(rows).encode())


def grading_inputs(root, coursedir, config, assignment):
    """{component: hash} of everything but the submission that a grade of `assignment` depends on.

    Call it after the gradebook is brought up to date (the pre-convert hook): then "gradebook"
    is what the graders will restore and score with.
    """
    from grnn_ref.autograde import secret
    src = source_dir(coursedir, assignment)
    src_files = [p for p in glob.glob(os.path.join(src, "**", "*"), recursive=True)
                 if os.path.isfile(p) and ".ipynb_checkpoints" not in p]
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = sorted({p for pat in GRADER_CODE for p in glob.glob(os.path.join(pkg, pat))})
    config_file = os.path.join(root, "nbgrader_config.py")
    if os.path.isfile(config_file):
        code.append(config_file)
    key = secret.load_or_create(secret_file(root, config))  # grading would create it anyway
    return {
        "source": _files_hash(src_files, src),
        "gradebook": _gradebook_digest(coursedir.db_url, coursedir.course_id, assignment),
        "secret": _sha(b"grnn-grading-secret\0" + key),
        "grader": _files_hash(code, os.path.dirname(pkg)),
    }


INPUT_NAMES = {
    "submission": "the submitted files",
    "source": "the source notebook in solutions/",
    "gradebook": "the gradebook's test cells or points",
    "secret": "the grading secret (hidden cases)",
    "grader": "the grading code or nbgrader_config.py",
}


def changed_inputs(old, new):
    """Names (INPUT_NAMES' words) of the components that differ between two fingerprints."""
    if not isinstance(old, dict):
        return ["the grading inputs (graded before they were fingerprinted)"]
    return [INPUT_NAMES.get(k, k) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
