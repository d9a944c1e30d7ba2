"""`nbgrader export` for a learning platform: per-task columns, flags, Canvas and Moodle gradebooks.

nbgrader_config.py selects `LmsExportPlugin` (nbgrader's ExportPlugin API,
`c.ExportApp.plugin_class`), so the plain command

    nbgrader export --to grades.csv

writes three files:

- `grades.csv`: nbgrader's own columns (one row per student and assignment, in nbgrader's order,
  so what read nbgrader's CSV still reads it), then `needs_manual_grade`, `status` (the outcome
  the grading command recorded in .grnn_autograde/, when there is one: graded, timed_out,
  not_valid, pending_manual or failed, see grnn_ref/autograde/report.py), `flags` (what an
  instructor must look at: "not submitted", "needs manual grade", "late", a grading failure and
  its reason) and one column per graded task, `<assignment>/<notebook>/<cell>`: the points of
  that test or hand-graded answer (a grader's score where there is one, else the automatic one).
- `grades.canvas.csv`: Canvas's gradebook import format: `Student, ID, SIS User ID, SIS Login
  ID, Section`, then one column per assignment, headed `<assignment> (<Canvas assignment id>)`
  when `canvas_assignment_ids` names it (Canvas then updates that assignment) or by name alone
  (Canvas then creates an assignment of that name).
- `grades.moodle.csv`: for Moodle's "Import grades / CSV file": `ID number, Email address, Full
  name`, then one column per assignment; at import, map "ID number" to `useridnumber` (or "Email
  address" to `useremail`) and each assignment column to its grade item.

The learning platforms' user ids come from a roster, `roster.csv` in the course root
(`LmsExportPlugin.roster`), one row per student: `student_id` (the id nbgrader uses: the folder
name under submitted/), and whichever of `name` ("Last, First", Canvas's Student column),
`canvas_user_id`, `sis_user_id`, `sis_login_id`, `section`, `moodle_idnumber`, `email`,
`full_name` ("First Last" as Moodle writes it in download file names) the platforms need.
Without a roster only grades.csv is written (with a warning); a graded student missing from the
roster is an error, so that no grade is silently left out of an upload.

A submission that still needs hand grading is left empty in the Canvas and Moodle files (both
platforms leave an empty cell ungraded) until it is graded, so a provisional score never
reaches students; grades.csv has its provisional score and the flag.
"""
import csv
import json
import os

from nbgrader.api import MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Bool, Dict, List, Unicode

ROSTER_COLUMNS = ("student_id", "name", "canvas_user_id", "sis_user_id", "sis_login_id",
                  "section", "moodle_idnumber", "email", "full_name")
NBGRADER_KEYS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                 "email", "raw_score", "late_submission_penalty", "score", "max_score"]


class RosterError(ValueError):
    pass


def read_roster(path):
    """{student_id: row} from a roster CSV (see the module docstring); clear errors on bad input."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "student_id" not in reader.fieldnames:
            raise RosterError(f"roster {path}: the header must name a student_id column (found "
                              f"{reader.fieldnames}); known columns: {', '.join(ROSTER_COLUMNS)}")
        unknown = [c for c in reader.fieldnames if c not in ROSTER_COLUMNS]
        if unknown:
            raise RosterError(f"roster {path}: unknown columns {unknown}; expected some of "
                              f"{', '.join(ROSTER_COLUMNS)}")
        out = {}
        for lineno, row in enumerate(reader, 2):
            sid = (row.get("student_id") or "").strip()
            if not sid:
                raise RosterError(f"roster {path}, line {lineno}: empty student_id")
            if sid in out:
                raise RosterError(f"roster {path}, line {lineno}: student_id {sid!r} twice")
            out[sid] = {k: (v or "").strip() for k, v in row.items() if k}
    return out


def _num(x):
    """A score as Canvas and Moodle read it: 7.5, 10 (no trailing .0)."""
    return f"{x:g}" if x is not None else ""


def _state(root, assignment, student):
    try:
        with open(os.path.join(root, ".grnn_autograde", assignment, f"{student}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class LmsExportPlugin(ExportPlugin):
    """Grades as nbgrader's CSV plus per-task columns and flags, and Canvas and Moodle gradebook
    CSVs (see grnn_ref.autograde.export)."""

    roster = Unicode("", help="Roster CSV mapping nbgrader student ids to the learning "
                              "platforms' ids (default: roster.csv in the course root).").tag(
        config=True)
    lms = List(["canvas", "moodle"], help="Which platform files to write next to --to.").tag(
        config=True)
    canvas_assignment_ids = Dict({}, help="assignment name -> Canvas assignment id, for the "
                                          "column headers Canvas matches on.").tag(config=True)
    pending_as_blank = Bool(True, help="Leave a submission that needs hand grading empty in the "
                                       "platform files.").tag(config=True)
    missing_as_zero = Bool(True, help="A student with no submission gets 0 in the platform "
                                      "files (else an empty cell).").tag(config=True)

    def _root(self):
        parent = self.parent
        coursedir = getattr(parent, "coursedir", None)
        return os.path.abspath(coursedir.root if coursedir is not None else ".")

    def export(self, gradebook):
        dest = self.to or "grades.csv"
        root = self._root()
        wanted_a = [str(a) for a in self.assignment]
        wanted_s = [str(s) for s in self.student]
        assignments = [a for a in gradebook.assignments if not wanted_a or a.name in wanted_a]
        students = [s for s in gradebook.students if not wanted_s or s.id in wanted_s]

        roster_path = self.roster or os.path.join(root, "roster.csv")
        roster = read_roster(roster_path) if os.path.exists(roster_path) else None
        if roster is not None:
            missing = sorted(s.id for s in students if s.id not in roster)
            if missing:
                raise RosterError(
                    f"students {missing} are in the gradebook but not in the roster "
                    f"{roster_path}: add a row for each (student_id and the platform ids), or "
                    "their grades would be missing from the Canvas/Moodle files")

        # the tasks of each assignment, in notebook and cell order
        tasks = []
        for a in assignments:
            for nb in a.notebooks:
                for cell in sorted(list(nb.grade_cells) + list(nb.task_cells),
                                   key=lambda c: (c.cell_type != "code", c.name)):
                    tasks.append((a.name, nb.name, cell.name))
        task_cols = [f"{a}/{nb}/{c}" for a, nb, c in tasks]

        rows = []
        totals = {}   # (student, assignment) -> score for the platform files ("" = leave empty)
        for a in assignments:
            for st in students:
                row = {"assignment": a.name, "duedate": a.duedate or "", "student_id": st.id,
                       "last_name": st.last_name or "", "first_name": st.first_name or "",
                       "email": st.email or "", "max_score": _num(a.max_score)}
                flags = []
                state = _state(root, a.name, st.id)
                try:
                    sub = gradebook.find_submission(a.name, st.id)
                except MissingEntry:
                    sub = None
                if sub is None:
                    row.update(timestamp="", raw_score="0", late_submission_penalty="0",
                               score="0", needs_manual_grade="")
                    flags.append("not submitted")
                    totals[st.id, a.name] = "0" if self.missing_as_zero else ""
                else:
                    penalty = sub.late_submission_penalty or 0.0
                    score = max(0.0, sub.score - penalty)
                    row.update(timestamp=sub.timestamp or "", raw_score=_num(sub.score),
                               late_submission_penalty=_num(penalty), score=_num(score),
                               needs_manual_grade=str(bool(sub.needs_manual_grade)).lower())
                    if sub.needs_manual_grade:
                        flags.append("needs manual grade")
                    if penalty > 0 or (sub.total_seconds_late or 0) > 0:
                        flags.append("late")
                    for nb in sub.notebooks:
                        for g in nb.grades:
                            row[f"{a.name}/{nb.name}/{g.name}"] = _num(g.score)
                    pending = sub.needs_manual_grade and self.pending_as_blank
                    totals[st.id, a.name] = "" if pending else _num(score)
                if state is not None:
                    # the grading command's outcome (grnn_ref/autograde/report.py): graded,
                    # timed_out, not_valid, pending_manual or failed; older state files have
                    # only a status
                    outcome = state.get("outcome") or state.get("status", "")
                    row["status"] = outcome
                    if outcome not in ("", "graded", "pending_manual"):
                        reasons = "; ".join(state.get("reasons") or [])
                        flags.append(f"grading {outcome}"
                                     + (f": {reasons}" if reasons else ""))
                else:
                    row["status"] = ""
                row["flags"] = "; ".join(flags)
                rows.append(row)

        header = NBGRADER_KEYS + ["needs_manual_grade", "status", "flags"] + task_cols
        self.log.info("Exporting grades with per-task columns to %s", dest)
        with open(dest, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=header, restval="")
            w.writeheader()
            for row in rows:
                w.writerow({k: ("" if v is None else str(v)) for k, v in row.items()})

        if roster is None:
            if self.lms:
                self.log.warning("No roster %s: the Canvas and Moodle files are not written "
                                 "(see the instructor guide, 'Exporting to a learning platform')",
                                 roster_path)
            return
        stem = os.path.splitext(dest)[0]
        names = [a.name for a in assignments]
        order = [sid for sid in roster if not wanted_s or sid in wanted_s]
        missing = "0" if self.missing_as_zero else ""   # on the roster, never graded
        for lms in self.lms:
            if lms == "canvas":
                path = stem + ".canvas.csv"
                head = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + [
                    f"{n} ({self.canvas_assignment_ids[n]})" if n in self.canvas_assignment_ids
                    else n for n in names]
                body = [[r.get("name", ""), r.get("canvas_user_id", ""), r.get("sis_user_id", ""),
                         r.get("sis_login_id", ""), r.get("section", "")]
                        + [totals.get((sid, n), missing) for n in names]
                        for sid, r in ((sid, roster[sid]) for sid in order)]
            elif lms == "moodle":
                path = stem + ".moodle.csv"
                head = ["ID number", "Email address", "Full name"] + names
                body = [[r.get("moodle_idnumber", ""), r.get("email", ""), r.get("full_name", "")]
                        + [totals.get((sid, n), missing) for n in names]
                        for sid, r in ((sid, roster[sid]) for sid in order)]
            else:
                raise ValueError(f"LmsExportPlugin.lms: unknown platform {lms!r}; expected "
                                 "'canvas' or 'moodle'")
            self.log.info("Exporting the %s gradebook to %s", lms, path)
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(head)
                w.writerows(body)
