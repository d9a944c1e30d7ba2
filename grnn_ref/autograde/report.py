"""Honest summaries: what happened to each student, on the terminal and in a JSON report.

nbgrader's exit status says only whether a notebook could be processed: a student whose loop ran
into the cell timeout is "graded", a notebook that waits for hand grading is "graded", and a
truncated notebook is an error like any infrastructure fault. Each student's outcome here is one
of OUTCOMES, decided from the grading process's result and nbgrader's log:

  graded          every cell ran, every point is decided
  timed_out       a cell ran past the cell time limit (Execute.timeout) and was interrupted, or the
                  whole student past --student-timeout; the limit is named
  not_valid       the submission could not be graded as submitted (not valid JSON, e.g. a
                  truncated upload; not a notebook; no notebook of the assignment)
  pending_manual  autograded, but some points wait for hand grading (formgrader)
  failed          an infrastructure failure (the grader crashed, the gradebook was unreachable):
                  nothing says anything about the submission

`flags` lists every condition that applies (a timed-out student may also wait for hand grading).
The report is written next to the gradebook (the SQLite file's folder, else the course root) as
autograde_report_<assignment>.json: one entry per student with outcome, flags, score, max_score,
reasons and whether a previous grade was kept.
"""
import json
import os
import re
import time

OUTCOMES = {
    "graded": "graded",
    "timed_out": "timed out",
    "not_valid": "not valid",
    "pending_manual": "pending hand grading",
    "failed": "infrastructure failure",
}
# precedence of the outcome when several flags apply
PRECEDENCE = ("failed", "not_valid", "timed_out", "pending_manual", "graded")

NOT_VALID = ("does not appear to be JSON", "NotJSONError", "ValidationError",
             "No notebooks found", "Skipping unknown notebook:", "No submitted file:",
             "Notebook JSON is invalid", "Unreadable Notebook")
CELL_TIMEOUT_RE = re.compile(r"Timeout waiting for execute reply \((\d+)s\)")
GRNN_TIMEOUT_RE = re.compile(r"did not finish within (\d+) s")
STUDENT_TIMEOUT_RE = re.compile(r"grading took longer than (\d+) s")


def _log_text(log_path):
    try:
        with open(log_path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def classify(state, log_path):
    """Add "outcome", "flags" and, for a timeout, "time_limit_s" to a student's state dict."""
    text = _log_text(log_path)
    reasons = " ".join(state.get("reasons") or [])
    flags = []
    if any(n in text or n in reasons for n in NOT_VALID):
        flags.append("not_valid")
    limit = None
    m = STUDENT_TIMEOUT_RE.search(reasons)
    if m:
        limit = (int(m.group(1)), "the whole student (--student-timeout)")
    else:
        m = CELL_TIMEOUT_RE.search(text) or GRNN_TIMEOUT_RE.search(text)
        if m:
            limit = (int(m.group(1)), "one cell (Execute.timeout)")
    if limit:
        flags.append("timed_out")
    if state.get("status") != "graded" and "not_valid" not in flags and not limit:
        flags.append("failed")
    if state.get("status") == "graded" and state.get("needs_manual_grade"):
        flags.append("pending_manual")
    outcome = next((o for o in PRECEDENCE if o in flags), "graded")
    state["outcome"] = outcome
    state["flags"] = flags
    if limit:
        state["time_limit_s"] = limit[0]
        note = (f"timed out: {limit[1]} ran past the {limit[0]} s limit and was stopped; what "
                "it had not computed scores 0")
        if note not in state.setdefault("reasons", []):
            state["reasons"].insert(0, note)
    if outcome == "not_valid" and not state.get("previous_kept"):
        note = ("not valid: nbgrader could not grade the notebook as submitted, so there is no "
                "autograded notebook and no feedback page; ask the student to resubmit or grade "
                "it by hand")
        if note not in state.setdefault("reasons", []):
            state["reasons"].append(note)
    return state


def report_path(coursedir, root, assignment, shard=None):
    """autograde_report_<assignment>[.shard-K-of-N].json next to the gradebook."""
    db = coursedir.db_url
    folder = os.path.dirname(db[len("sqlite:///"):]) if db.startswith("sqlite:///") else root
    suffix = f".shard-{shard[0]}-of-{shard[1]}" if shard else ""
    return os.path.join(folder or root, f"autograde_report_{assignment}{suffix}.json")


def counts(results):
    out = {k: 0 for k in OUTCOMES}
    for r in results.values():
        out[r.get("outcome", "graded" if r.get("status") == "graded" else "failed")] += 1
    return out


def write_report(path, summary):
    """Write the summary as JSON (atomically); returns the path."""
    keep = ("status", "outcome", "flags", "score", "max_score", "needs_manual_grade",
            "time_limit_s", "reasons", "previous_kept", "skipped", "regraded_because", "seconds")
    data = {
        "assignment": summary["assignment"], "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "students": summary["students"], "interrupted": summary["interrupted"],
        "not_run": summary["not_run"], "outcomes": counts(summary["results"]),
        "results": {s: {k: r[k] for k in keep if k in r} for s, r in summary["results"].items()},
    }
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return path


def outcome_lines(summary):
    """The summary's per-outcome line and one line per student whose outcome is not "graded"."""
    c = counts(summary["results"])
    lines = ["  outcomes: " + ", ".join(f"{c[k]} {label}" for k, label in OUTCOMES.items())]
    for s, r in summary["results"].items():
        outcome = r.get("outcome")
        if outcome in (None, "graded"):
            continue
        score = r.get("score")
        got = (f" {score:g}/{r.get('max_score') or 0:g}" if score is not None
               and r.get("status") == "graded" else "")
        kept = ""
        if r.get("previous_kept"):
            k = r["previous_kept"]
            kept = (f" -- regrade FAILED, the previous grade {k['score']:g}/{k['max_score']:g} "
                    "and its autograded files are kept")
        why = "; ".join(r.get("reasons") or [])[:300]
        lines.append(f"  {OUTCOMES[outcome].upper()} {s}:{got}{kept}" + (f" ({why})" if why else ""))
    return lines
