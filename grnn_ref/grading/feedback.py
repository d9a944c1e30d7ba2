"""The verdict on one case and the message a student reads: compare, diagnose, report.

Grader side (and in the kernel when the reference is installed, e.g. on a student's machine):
`evaluate(check, case_id, inputs, outputs, error=None)` -> Verdict(ok, message, misconception), for
a Check object (grading.cases). `inputs` are the case's inputs (`check.make_inputs`), `outputs` what
the student's code returned (name -> array, e.g. decoded from a result record). The same function
serves `check_*` in the kernel and `grnn_ref.grading.verify` in the grader, so both reach the same
verdict.
"""
from grnn_ref.grading import compare, misconceptions
from grnn_ref.grading.cases import Verdict


def compare_with_reference(check, case_id, inputs, outputs, secret=None):
    """The default verdict: the student's outputs against `check.reference(inputs)`, within the
    dtype's tolerance, with the misconception the outputs match (if any) named."""
    where = f"case {case_id} ({check.describe_case(case_id, secret)})"
    dtype = compare.input_dtype(inputs)
    rtol = compare.rtol_for(dtype, check.rtol)
    ref = check.reference(inputs)
    report = compare.compare_outputs(outputs, ref, rtol, input_dtype=dtype)
    if report.ok:
        return Verdict(True)
    m = misconceptions.diagnose(check.diagnose_as, inputs, outputs, reference_outputs=ref,
                                rtol=rtol)
    return Verdict(False, compare.failure_message(check, where, report, m), m)


def evaluate(check, case_id, inputs, outputs, error=None, secret=None):
    """The Verdict on one case of `check` (a Check object)."""
    if error is not None:
        return Verdict(False, f"{check.name}: case {case_id} "
                              f"({check.describe_case(case_id, secret)}): your code raised {error}")
    return check.evaluate(case_id, inputs, outputs, secret)
