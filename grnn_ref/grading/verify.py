"""Grader-side verification of autograded test cells (an nbgrader preprocessor).

The grading kernel is untrusted: student code runs there and can patch numpy, builtins, IPython's
error display or the checks themselves. So the score of a test cell is decided here, in the
nbgrader process, after execution and before SaveAutoGrades:

1. the expected checks are parsed from the test cell's source, which nbgrader has restored from
   the gradebook (OverwriteCells), e.g. `check_rnn_forward(rnn_forward, hidden=True)`;
2. for every case those checks must run, the inputs are regenerated with `Check.make_inputs` from
   the same hidden-case seed the kernel got (derived from the instructor's secret and the student);
3. the result record the kernel emitted for that case (mime application/vnd.grnn.check+json) is
   decoded, and `feedback.evaluate` compares it with the reference computed here, in this process,
   and names the misconception when it recognises one;
4. the cell's outputs are rewritten: a cell whose every case verified gets one clean stdout line
   (full marks), any other cell ends with an error output carrying the reason (0 marks).

Only the numbers the student's functions returned are taken from the kernel; whatever else it
printed, raised or hid does not decide the score. Cells with no `check_*` call are left as they are.
"""
import ast
from collections import Counter

from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from grnn_ref.autograde import secret as grading_secret
from grnn_ref.grading import cases, record

CHECK_PREFIX = "check_"


def expected_checks(source):
    """The check calls of a test cell: list of (Check object, hidden) in source order.

    Raises ValueError when a call cannot be verified (an unknown check, or `hidden` not a literal).
    A source that does not parse yields [] (nbgrader restores test cells, so this does not happen
    for a real test cell).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else None)
        if not name or not name.startswith(CHECK_PREFIX):
            continue
        check = cases.REGISTRY.get(name[len(CHECK_PREFIX):])
        if check is None:
            raise ValueError(f"the test cell calls {name}, which the grader cannot verify "
                             f"(no check of that name in grnn_ref.grading's registry)")
        hidden = False
        for kw in node.keywords:
            if kw.arg == "hidden":
                if not isinstance(kw.value, ast.Constant):
                    raise ValueError(f"{name}: hidden= must be a literal True/False")
                hidden = bool(kw.value.value)
        found.append((node.lineno, node.col_offset, check, hidden))
    return [(check, hidden) for *_, check, hidden in sorted(found)]


def verify_cell_outputs(source, outputs, secret):
    """Verify one test cell. Returns (ok, message, problems).

    source: the (restored) test-cell source; outputs: its nbformat outputs (dicts);
    secret: the hidden-case secret string the kernel got in GRNN_GRADING_SEED.
    """
    try:
        calls = expected_checks(source)
    except ValueError as e:
        return False, str(e), [str(e)]
    if not calls:
        return None, "", []
    records = record.records_from_outputs(outputs)
    by_case = {}
    for rec in records:
        by_case.setdefault((str(rec.get("check")), str(rec.get("case"))), []).append(rec)
    # A check called k times in the cell must leave exactly k records per case.
    wanted = Counter()
    for check, hidden in calls:
        for case_id in check.case_ids(hidden):
            wanted[(check, case_id)] += 1
    from grnn_ref.grading import feedback  # grader side: imports the reference

    # A check stops at a case that raised (e.g. NotImplementedError): the cases it did not reach
    # have no record, and saying so for each of them is noise next to the error that explains
    # it (the cell fails on that error anyway).
    stopped = {str(rec.get("check")) for rec in records if rec.get("status") in ("error",
                                                                                 "bad_output")}
    problems = []
    for (check, case_id), n in wanted.items():
        name = check.name
        got = by_case.get((name, case_id), [])
        if not got and name in stopped:
            continue
        if not got:
            problems.append(f"{name}: case {case_id}: no result was recorded (the check did not "
                            "run to the end: an error or a stop earlier in the cell, or the check "
                            "was replaced)")
            continue
        if len(got) != n:
            problems.append(f"{name}: case {case_id}: {len(got)} results were recorded where "
                            f"the check records {n}: the check's output was tampered with")
            continue
        inputs = check.make_inputs(case_id, secret)
        for rec in got:
            status = rec.get("status")
            if status != "ok":
                err = rec.get("error") or status
                problems.append(f"{name}: case {case_id} "
                                f"({check.describe_case(case_id, secret)}): {err}")
                continue
            try:
                outs = record.decode_outputs(rec)
            except ValueError as e:
                problems.append(f"{name}: case {case_id}: unreadable result ({e})")
                continue
            try:
                verdict = feedback.evaluate(check, case_id, inputs, outs, secret=secret)
            except Exception as e:  # noqa: BLE001 - malformed outputs must not stop the batch
                problems.append(f"{name}: case {case_id}: the result could not be checked "
                                f"({type(e).__name__}: {e})")
                continue
            if not verdict.ok:
                problems.append(verdict.message)
    if problems:
        return False, "\n\n".join(problems[:3]) + (
            f"\n\n(and {len(problems) - 3} more problems)" if len(problems) > 3 else ""), problems
    summary = "; ".join(
        f"{check.name}: all {len(check.case_ids(hidden))} {'hidden' if hidden else 'visible'} "
        "cases pass" for check, hidden in calls)
    return True, f"Verified by the grader: {summary}.", []


def _kernel_outputs_for_feedback(outputs):
    """The kernel's outputs worth showing next to a failure: no records, no execute_result
    (nbgrader would read a number there as partial credit)."""
    kept = []
    for out in outputs:
        data = out.get("data") or {}
        if record.MIME in data or out.get("output_type") == "execute_result":
            continue
        kept.append(out)
    return kept


class VerifyChecks(NbGraderPreprocessor):
    """Rewrite autograded test cells' outputs from grader-side verification (module docstring)."""

    secret_file = Unicode(
        "", help="Grading secret file (default: $GRNN_GRADING_SECRET_FILE or "
                 "<course root>/.grnn_grading_secret); must match GradingExecute.secret_file.",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        info = resources.get("nbgrader", {})
        self._secret = str(grading_secret.hidden_seed(
            info.get("assignment") or "", info.get("student") or "", self.secret_file))
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        try:
            ok, message, _ = verify_cell_outputs(cell.source, cell.outputs, self._secret)
        except Exception as e:  # noqa: BLE001 - a grader bug must fail the cell, not the batch
            self.log.exception("verification of cell %s failed", cell_index)
            ok, message = False, f"the grader could not verify this cell ({type(e).__name__}: {e})"
        if ok is None:
            return cell, resources
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", cell_index)
        if ok:
            cell.outputs = [new_output("stream", name="stdout", text=message + "\n")]
        else:
            self.log.info("cell %s: not verified: %s", grade_id, message.splitlines()[0])
            cell.outputs = _kernel_outputs_for_feedback(cell.outputs) + [new_output(
                "error", ename="CheckFailed", evalue=message,
                traceback=["CheckFailed (verified by the grader, outside your kernel):"]
                + message.splitlines())]
        return cell, resources
