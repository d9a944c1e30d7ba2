"""Judging visible cases without the reference: the student kit's verdicts.

The student kit (`grnn_ref.studentkit` builds it) installs the kernel-side grading modules and, in
`visible_cases.json` beside this file, for every visible case of every check whose verdict is a
comparison with the reference (the default `Check.evaluate`):

    expected      the reference's outputs on the case (arrays as in result records, exact)
    mistakes      the mistake fingerprints: for each misconception of the check that applies to
                  the case, in diagnosis order, the outputs of code with that mistake, kept only
                  where they differ from the expected outputs (as `misconceptions.diagnose` keeps
                  them), with the misconception's message
    inputs        a digest of the case's inputs: data built from other cases is refused, not used
    rtol, match_rtol, input_dtype   the tolerances and dtype the grader's verdict uses on the case

so a test cell on a student's machine passes or fails with the grader's message (which output,
how far off, and the likely mistake with its fix) while the reference stays with the instructor.
`feedback.compare_with_reference` composes the same message from the reference itself;
tests/test_student_kit.py checks that both give the same verdict on every fingerprint.

What the kit does not judge:
    numeric answers (family "answer")  the expected value is the exercise's result and is not
                                        shipped: the value is recorded, and judged when graded
    hidden cases                        recorded only, as in the grading sandbox
A check with a verdict of its own that needs no reference (ex06's trained model: an MSE on fresh
adding-problem sequences from grnn_ref.tasks) is judged by its own `evaluate`.

Kernel side: numpy and the standard library. The grading sandbox stages the modules but not the
data file, so there the checks record and the grader judges.
"""
import functools
import hashlib
import json
import os

import numpy as np

from grnn_ref.grading import compare, record
from grnn_ref.grading.cases import Verdict

DATA_FILE = "visible_cases.json"
FORMAT = 1


def inputs_digest(inputs):
    """sha256 of a case's inputs (names, dtypes, shapes and bytes), hex."""
    h = hashlib.sha256()
    for name in sorted(inputs):
        a = np.ascontiguousarray(inputs[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _data(path=None):
    """The kit's data (a dict), or None where there is none (the repository, the sandbox)."""
    if os.environ.get("GRNN_GRADING_SANDBOX") == "1":
        return None
    path = path or os.path.join(os.path.dirname(os.path.abspath(__file__)), DATA_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    if data.get("format") != FORMAT:
        raise RuntimeError(f"{path}: format {data.get('format')!r}, this kit reads {FORMAT}; "
                           f"reinstall the kit that came with your notebook")
    return data


class Fingerprint:
    """A misconception as the kit knows it: its id, title and the message the grader gives."""

    def __init__(self, entry):
        self.id, self.title, self.fix = entry["id"], entry["title"], entry["fix"]
        self._message = entry["message"]
        self.outputs = {k: record.decode_array(v) for k, v in entry["outputs"].items()}

    def message(self):
        return self._message


def judge(check, hidden=False):
    """How the kit judges `check`'s cases here: a function (case_id, inputs, outputs) -> Verdict,
    or None where this kernel only records (no kit installed, the grading sandbox, hidden cases)."""
    data = _data()
    if data is None or hidden:
        return None
    if check.family == "answer":
        return functools.partial(_answer_recorded, check)
    cases = data["checks"].get(check.name)
    if cases is None:
        return functools.partial(_own_verdict, check, data)
    return functools.partial(_compare, check, cases, data)


def _reinstall(data):
    return ("Install the kit that came with this notebook again: `python -m pip install "
            "--force-reinstall grnn_kit-....whl`, with the name of the .whl file in its folder.")


def _compare(check, cases, data, case_id, inputs, outputs):
    """The grader's verdict (feedback.compare_with_reference), from the kit's data."""
    case = cases.get(case_id)
    where = f"case {case_id} ({check.describe_case(case_id)})"
    if case is None or case["inputs"] != inputs_digest(inputs):
        return Verdict(False, f"{check.name}: {where}: the kit's expected outputs were made for "
                              f"other inputs than this version of the checks gives. "
                              f"{_reinstall(data)}")
    expected = {k: record.decode_array(v) for k, v in case["expected"].items()}
    dtype = np.dtype(case["input_dtype"])
    report = compare.compare_outputs(outputs, expected, case["rtol"], input_dtype=dtype)
    if report.ok:
        return Verdict(True)
    mistake = None
    for entry in case["mistakes"]:
        fingerprint = Fingerprint(entry)
        if compare.matches(outputs, fingerprint.outputs, case["match_rtol"],
                           names=list(fingerprint.outputs)):
            mistake = fingerprint
            break
    return Verdict(False, compare.failure_message(check, where, report, mistake), mistake)


def _answer_recorded(check, case_id, inputs, outputs):
    """A numeric answer: recorded, not judged (its expected value is not in the kit)."""
    value = float(outputs["value"])
    if not np.isfinite(value):
        return Verdict(False, f"{check.name}: your answer is {value}, not a number. Look for a "
                              f"NaN or an infinity in the steps that produce it.")
    return Verdict(True, f"{check.name}: your answer {value:.6g} is recorded. The kit does not "
                         f"judge it (its expected value is the exercise's result, not shipped "
                         f"with the kit): it is judged when your notebook is graded.")


def _own_verdict(check, data, case_id, inputs, outputs):
    """A check the kit has no data for: its own verdict where that needs no reference."""
    try:
        return check.evaluate(case_id, inputs, outputs)
    except ImportError:   # its verdict needs the reference (ex08's statistical sampling check)
        if check.compared_with_reference:   # the kit should have shipped data for it
            return Verdict(False, f"{check.name}: the kit has no expected outputs for this "
                                  f"check. {_reinstall(data)}")
        return Verdict(True, f"{check.name}: what your code returned is recorded. The kit cannot "
                             f"judge this check on your computer (its verdict needs the course's "
                             f"reference): it is judged when your notebook is graded.")
