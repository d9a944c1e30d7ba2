"""A regrade that fails keeps the previous grade: its autograded files and its gradebook rows.

nbgrader's autograde --force removes autograded/<student>/<assignment> when grading fails
(BaseConverter._handle_failure) while the gradebook keeps whatever rows the failed run left (the
old scores, or rows it began to rewrite): the two no longer agree, and feedback cannot be
regenerated. Before a student who has a previous grade is regraded, `snapshot()` copies the
autograded folder and the student's grades and comments of the assignment into the state
directory; when the regrade fails, `restore()` puts both back, so the previous, consistent grade
stands, and the summary says that it was kept. A regrade that succeeds `discard()`s the copy.
"""
import json
import os
import shutil


def _autograded_dir(coursedir, assignment, student):
    return coursedir.format_path(coursedir.autograded_directory, student, assignment)


def _backup_dir(state_dir, student):
    return os.path.join(state_dir, f"{student}.previous")


def snapshot(coursedir, assignment, student, state_dir):
    """Copy the previous grade aside; returns its folder, or None when there is none to keep."""
    from nbgrader.api import Gradebook, MissingEntry

    src = _autograded_dir(coursedir, assignment, student)
    if not os.path.isdir(src):
        return None
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        rows = {"score": float(sub.score), "max_score": float(sub.max_score),
                "grades": [], "comments": []}
        for nb in sub.notebooks:
            for g in nb.grades:
                rows["grades"].append([nb.name, g.name, g.auto_score, g.manual_score,
                                       g.extra_credit])
            for c in nb.comments:
                rows["comments"].append([nb.name, c.name, c.auto_comment, c.manual_comment])
    dest = _backup_dir(state_dir, student)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, os.path.join(dest, "files"), symlinks=True)
    with open(os.path.join(dest, "gradebook.json"), "w") as f:
        json.dump(rows, f)
    return dest


def restore(coursedir, assignment, student, state_dir):
    """Put the snapshot back (files and gradebook rows); returns (score, max_score) or None."""
    from nbgrader.api import Gradebook, MissingEntry

    dest = _backup_dir(state_dir, student)
    try:
        with open(os.path.join(dest, "gradebook.json")) as f:
            rows = json.load(f)
    except (OSError, ValueError):
        return None
    target = _autograded_dir(coursedir, assignment, student)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copytree(os.path.join(dest, "files"), target, symlinks=True)
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for nb_name, name, auto, manual, extra in rows["grades"]:
            try:
                g = gb.find_grade(name, nb_name, assignment, student)
            except MissingEntry:
                continue
            g.auto_score, g.manual_score, g.extra_credit = auto, manual, extra
        for nb_name, name, auto, manual in rows["comments"]:
            try:
                c = gb.find_comment(name, nb_name, assignment, student)
            except MissingEntry:
                continue
            c.auto_comment, c.manual_comment = auto, manual
        gb.db.commit()
    discard(state_dir, student)
    return rows["score"], rows["max_score"]


def discard(state_dir, student):
    shutil.rmtree(_backup_dir(state_dir, student), ignore_errors=True)
