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


def _input_dtype(inputs):
    for name in ("W_ih", "x", "xs"):
        if name in inputs:
            return inputs[name].dtype
    return next(iter(inputs.values())).dtype


def compare_with_reference(check, case_id, inputs, outputs, secret=None):
    """The default verdict: the student's outputs against `check.reference(inputs)`, within the
    dtype's tolerance, with the misconception the outputs match (if any) named."""
    where = f"case {case_id} ({check.describe_case(case_id, secret)})"
    dtype = _input_dtype(inputs)
    rtol = compare.rtol_for(dtype, check.rtol)
    ref = check.reference(inputs)
    report = compare.compare_outputs(outputs, ref, rtol, input_dtype=dtype)
    if report.ok:
        return Verdict(True)
    header = f"{check.name} is not right yet: {where}."
    # A backward is checked on the cache of the student's forward: judge the forward first.
    forward = [n for n in getattr(check, "forward_outputs", ()) if n in ref]
    if len(forward) < len(ref) and set(report.failed_names()) & set(forward):
        forward_name = getattr(check, "forward_name", None)
        if forward_name and forward_name != check.name:
            header = (f"{check.name} cannot be checked yet: the forward pass ({forward_name}) "
                      f"gives wrong outputs on {where}, and the backward is checked on your "
                      f"forward's cache. Fix {forward_name} first.")
        else:
            header = (f"{check.name}: the forward outputs are wrong on {where} (the gradients are "
                      f"judged once the forward is right).")
    m = misconceptions.diagnose(check.diagnose_as, inputs, outputs, reference_outputs=ref,
                                rtol=rtol)
    lines = [header, report.describe()]
    if m is not None:
        lines.append(m.message())
    notes = report.notes()
    if notes:
        lines.append("Note: " + "; ".join(notes[:2]) + ".")
    return Verdict(False, "\n".join(lines), m)


def evaluate(check, case_id, inputs, outputs, error=None, secret=None):
    """The Verdict on one case of `check` (a Check object)."""
    if error is not None:
        return Verdict(False, f"{check.name}: case {case_id} "
                              f"({check.describe_case(case_id, secret)}): your code raised {error}")
    return check.evaluate(case_id, inputs, outputs, secret)
