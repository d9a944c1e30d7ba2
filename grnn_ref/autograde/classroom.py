"""Build throwaway courses and classes of submissions (for the benchmark and the tests).

A course copy holds what an instructor's checkout needs to grade one assignment: nbgrader_config.py,
solutions/<assignment>/ and exercises/<assignment>/; the gradebook starts empty (nbgrader's
pre-convert hook of nbgrader_config.py records the assignment on first use).
"""
import os
import re
import shutil

import nbformat

SOLUTION_RE = re.compile(r"[ \t]*### BEGIN SOLUTION\n(.*?)[ \t]*### END SOLUTION\n?", re.S)


def repo_root():
    """The repository (course root) this package lives in."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def copy_course(dest, assignments, src=None):
    """Copy nbgrader_config.py and the assignments' solutions/ and exercises/ into dest."""
    src = src or repo_root()
    os.makedirs(dest, exist_ok=True)
    shutil.copy(os.path.join(src, "nbgrader_config.py"), dest)
    for a in assignments:
        for d in ("solutions", "exercises"):
            shutil.copytree(os.path.join(src, d, a), os.path.join(dest, d, a), dirs_exist_ok=True)
    return dest


def notebook_names(course, assignment):
    return sorted(f for f in os.listdir(os.path.join(course, "exercises", assignment))
                  if f.endswith(".ipynb"))


def read_release(course, assignment, name=None):
    name = name or notebook_names(course, assignment)[0]
    return nbformat.read(os.path.join(course, "exercises", assignment, name), as_version=4)


def solution_cells(course, assignment, name=None):
    """grade_id -> the full solution code of each solution cell (markers removed)."""
    name = name or notebook_names(course, assignment)[0]
    nb = nbformat.read(os.path.join(course, "solutions", assignment, name), as_version=4)
    out = {}
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if c.cell_type == "code" and meta.get("solution"):
            out[meta["grade_id"]] = SOLUTION_RE.sub(lambda m: m.group(1), c.source)
    return out


def cell_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def filled(release, code_by_id):
    """A copy of the release notebook with solution cells replaced by code_by_id[grade_id]."""
    nb = nbformat.from_dict(release)
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)
    for c in nb.cells:
        if cell_id(c) in code_by_id:
            c.source = code_by_id[cell_id(c)]
    return nb


def submit(course, assignment, student, nb, name=None):
    """Write nb as the student's submission (nbformat node, or raw text for broken files)."""
    d = os.path.join(course, "submitted", student, assignment)
    os.makedirs(d, exist_ok=True)
    name = name or notebook_names(course, assignment)[0]
    path = os.path.join(d, name)
    if isinstance(nb, str):
        with open(path, "w") as f:
            f.write(nb)
    else:
        nbformat.write(nb, path)
    return path


def buggy_code(code):
    """A realistic bug planted in correct code: the tanh dropped, else outputs scaled by 1.01."""
    if "np.tanh(" in code:
        return code.replace("np.tanh(", "(", 1)
    return code.replace("return ", "return 1.01 * ", 1)


def make_class(course, assignment, n_students=40, seed=0):
    """A class of n submissions: half correct, 30 % with a bug, 20 % blank (the release as is).

    Returns {student: "correct" | "buggy" | "blank"}.
    """
    import random
    rng = random.Random(seed)
    release = read_release(course, assignment)
    sols = solution_cells(course, assignment)
    kinds = (["correct"] * (n_students // 2) + ["buggy"] * (n_students * 3 // 10))
    kinds += ["blank"] * (n_students - len(kinds))
    rng.shuffle(kinds)
    out = {}
    for i, kind in enumerate(kinds):
        student = f"student{i:03d}"
        if kind == "blank":
            nb = filled(release, {})
        elif kind == "correct":
            nb = filled(release, sols)
        else:
            first = next(iter(sols))
            nb = filled(release, {**sols, first: buggy_code(sols[first])})
        submit(course, assignment, student, nb)
        out[student] = kind
    return out


def grades(course, assignment):
    """{student: {grade cell name: auto_score}} from the course's gradebook (nbgrader's db_url)."""
    from grnn_ref.autograde.parallel import load_course
    from nbgrader.api import Gradebook
    coursedir, _ = load_course(course)
    out = {}
    with Gradebook(coursedir.db_url) as gb:
        for sub in gb.assignment_submissions(assignment):
            cells = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    cells[f"{nb.name}/{g.name}"] = g.auto_score
            out[sub.student_id] = cells
    return out
