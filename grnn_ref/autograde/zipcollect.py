"""`nbgrader zip_collect` for Canvas, Moodle and Blackboard downloads.

nbgrader_config.py selects `LmsFileNameCollector` (`c.ZipCollectApp.collector_plugin`): put the
platform's bulk download (the zip file, or its files) in downloaded/<assignment>/archive/ and run
`nbgrader zip_collect <assignment>`. Each file name is read in the platform's own form:

- Canvas ("Download Submissions"): `<name>_<canvas user id>_<file id>_<file name>`, with `LATE_`
  before the user id for a late submission and `-1`, `-2`, ... before the extension when the
  student uploaded a file of that name again, e.g. `doejane_LATE_3143_207797_ex01_rnn-1.ipynb`.
  The student is the roster's row whose `canvas_user_id` is that id (without a roster, the Canvas
  id itself).
- Moodle ("Download all submissions"): `<Full Name>_<participant id>_assignsubmission_file_<file
  name>`, or, with "Download submissions in folders", a folder
  `<Full Name>_<participant id>_assignsubmission_file[_]/` holding the file under its own name.
  Moodle's participant id differs between assignments, so the student is the roster's row whose
  `full_name` is that name (a roster is required; a name that matches no row, or two, is skipped
  with an error naming it).
- Anything else: nbgrader's FileNameCollectorPlugin with the configured `named_regexp`
  (Blackboard's `<anything>_<student>_attempt_<YYYY-MM-DD-hh-mm-ss>_<file name>`).

The roster is the one the export uses (`roster.csv` in the course root; see
grnn_ref.autograde.export).
"""
import os
import re

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

from grnn_ref.autograde.export import read_roster

CANVAS_RE = re.compile(
    r"^(?P<name>[^_/]+)_(?:(?P<late>late)_)?(?P<canvas_id>\d+)_(?P<file_no>\d+)_"
    r"(?P<file>.+?)(?:-(?P<copy>\d+))?(?P<ext>\.[A-Za-z0-9]+)$", re.I)
MOODLE_FILE_RE = re.compile(
    r"^(?P<full_name>.+?)_(?P<participant>\d+)_assignsubmission_file_(?P<file>.+)$")
MOODLE_DIR_RE = re.compile(r"^(?P<full_name>.+?)_(?P<participant>\d+)_assignsubmission_file_?$")


def _norm(name):
    return " ".join(name.split()).casefold()


class LmsFileNameCollector(FileNameCollectorPlugin):
    """Collects Canvas, Moodle and (through named_regexp) Blackboard submission files."""

    roster = Unicode("", help="Roster CSV (default: roster.csv in the course root)").tag(
        config=True)

    _roster_cache = None

    def _roster(self):
        if self._roster_cache is None:
            path = self.roster
            if not path:
                coursedir = getattr(self.parent, "coursedir", None)
                root = coursedir.root if coursedir is not None else "."
                path = os.path.join(root, "roster.csv")
            self._roster_cache = (path, read_roster(path) if os.path.exists(path) else None)
        return self._roster_cache

    def collect(self, submitted_file):
        _, ext = os.path.splitext(submitted_file)
        if ext not in self.valid_ext:
            return None
        base = os.path.basename(submitted_file)
        parent = os.path.basename(os.path.dirname(submitted_file))
        m = CANVAS_RE.match(base)
        if m:
            return self._canvas(submitted_file, m)
        m = MOODLE_FILE_RE.match(base)
        if m:
            return self._moodle(submitted_file, m.group("full_name"), m.group("file"))
        m = MOODLE_DIR_RE.match(parent)
        if m:
            return self._moodle(submitted_file, m.group("full_name"), base)
        return super().collect(submitted_file)

    def _canvas(self, path, m):
        canvas_id = m.group("canvas_id")
        file_id = m.group("file") + m.group("ext")
        path_r, roster = self._roster()
        if roster is None:
            student = canvas_id
        else:
            hits = [sid for sid, row in roster.items() if row.get("canvas_user_id") == canvas_id]
            if len(hits) != 1:
                self.log.error("Canvas user id %s (%s) is %s in the roster %s: skipped. Add a "
                               "row with canvas_user_id=%s.", canvas_id, os.path.basename(path),
                               "not" if not hits else "more than once", path_r, canvas_id)
                return None
            student = hits[0]
        if m.group("late"):
            self.log.warning("Canvas marks %s's submission %s as late", student,
                             os.path.basename(path))
        return {"student_id": student, "file_id": file_id}

    def _moodle(self, path, full_name, file_id):
        path_r, roster = self._roster()
        if roster is None:
            self.log.error("%s: a Moodle download names students by full name and a participant "
                           "id that differs between assignments; add a roster %s with "
                           "student_id and full_name columns: skipped.", os.path.basename(path),
                           path_r)
            return None
        hits = [sid for sid, row in roster.items()
                if _norm(row.get("full_name", "")) == _norm(full_name)]
        if len(hits) != 1:
            self.log.error("Moodle student %r (%s) is %s in the roster %s: skipped.", full_name,
                           os.path.basename(path), "not" if not hits else "more than once",
                           path_r)
            return None
        return {"student_id": hits[0], "file_id": file_id}
