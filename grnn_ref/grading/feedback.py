"""The verdict on one case and the message a student reads: compare, diagnose, report.

Grader side (and in the kernel when the reference is installed, e.g. on a student's machine):
`evaluate(check, case_id, inputs, outputs, error=None)` -> Verdict(ok, message, misconception).
`inputs` are the case's inputs (cases.make_inputs), `outputs` what the student's code returned
(name -> array, e.g. decoded from a result record). The same function serves `check_*` in the
kernel and `grnn_ref.grading.verify` in the grader, so both reach the same verdict.
"""
from dataclasses import dataclass

from grnn_ref.grading import cases, compare, misconceptions
from grnn_ref.grading.reference import reference_outputs

# Outputs of the forward pass recorded by backward checks: judged first, because a backward can
# only be right on the cache of a right forward.
FORWARD_OUTPUTS = ("h_next", "c_next", "hs", "cs")


@dataclass
class Verdict:
    ok: bool
    message: str = ""
    misconception: object = None


def _input_dtype(inputs):
    for name in ("W_ih", "x", "xs"):
        if name in inputs:
            return inputs[name].dtype
    return next(iter(inputs.values())).dtype


def _evaluate_answer(check, outputs):
    """A numeric answer: within its tolerance of the expected value (never revealed)."""
    from grnn_ref.grading.reference import expected_answer

    expected, rtol = expected_answer(check)
    value = outputs.get("value")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return Verdict(False, f"{check}: the answer must be one number, got {value!r}.")
    if rtol == 0:
        ok = value == round(value) and int(round(value)) == int(expected)
        want = "the right whole number"
    else:
        ok = abs(value - expected) <= rtol * abs(expected)
        want = f"within {rtol:.0%} of the value the procedure above gives"
    if ok:
        return Verdict(True)
    return Verdict(False, f"{check}: your answer {value:.6g} is not {want}. Follow the steps in "
                          f"the notebook exactly (same data, same formula) and check each "
                          f"intermediate result.")


# A trained adding-problem model passes if its MSE on fresh sequences is below this: under a third
# of the baseline 1/6 (always predicting 1). The notebook's 300 Adam steps reach about 0.01.
ADDING_MAX_MSE = 0.05


def _evaluate_adding(check, case_id, inputs, outputs):
    import numpy as np

    y = outputs.get("y_pred")
    want = inputs["ys"]
    if y is None or np.shape(y) != want.shape:
        return Verdict(False, f"{check}: your model's output has shape {np.shape(y)}, expected "
                              f"{want.shape} (one prediction per sequence).")
    y = np.asarray(y, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        return Verdict(False, f"{check}: your model's predictions contain NaN or inf.")
    mse = float(np.mean((y - want) ** 2))
    if mse < ADDING_MAX_MSE:
        return Verdict(True)
    return Verdict(False, f"{check}: on {len(want)} fresh adding-problem sequences (T = "
                          f"{inputs['xs'].shape[0]}) your model's MSE is {mse:.4f}; it must be below "
                          f"{ADDING_MAX_MSE} (the baseline of always predicting 1 is 1/6 = 0.1667). "
                          f"Check your cell against the torch test above, and that the model reads "
                          f"the hidden state after the last step.")


# Families judged by something other than comparing arrays with a reference.
EVALUATORS = {"answer": lambda check, case_id, inputs, outputs: _evaluate_answer(check, outputs),
              "adding": _evaluate_adding}


def evaluate(check, case_id, inputs, outputs, error=None, secret=None):
    """Compare the student's outputs of one case with the reference; name the mistake if known."""
    spec = cases.get_spec(check)
    where = f"case {case_id} ({cases.describe_case(check, case_id, secret)})"
    if error is not None:
        return Verdict(False, f"{check}: {where}: your code raised {error}")
    if spec.family in EVALUATORS:
        return EVALUATORS[spec.family](check, case_id, inputs, outputs)
    dtype = _input_dtype(inputs)
    rtol = compare.rtol_for(dtype, spec.rtol)
    ref = reference_outputs(check, inputs)
    fwd_names = [n for n in ref if n in FORWARD_OUTPUTS]
    is_backward = (spec.family in ("step_backward", "backward", "torch_cell")
                   and len(fwd_names) < len(ref))
    report = compare.compare_outputs(outputs, ref, rtol, input_dtype=dtype)
    if report.ok:
        return Verdict(True)
    header = f"{check} is not right yet: {where}."
    failed = set(report.failed_names())
    if is_backward and failed & set(fwd_names):
        if "_backward" in check:
            forward = check.replace("_backward", "_forward")
            header = (f"{check} cannot be checked yet: the forward pass ({forward}) gives wrong "
                      f"outputs on {where}, and the backward is checked on your forward's cache. "
                      f"Fix {forward} first.")
        else:
            header = (f"{check}: the forward outputs are wrong on {where} (the gradients are "
                      f"judged once the forward is right).")
    m = misconceptions.diagnose(check, inputs, outputs, reference_outputs=ref, rtol=rtol)
    lines = [header, report.describe()]
    if m is not None:
        lines.append(m.message())
    notes = report.notes()
    if notes:
        lines.append("Note: " + "; ".join(notes[:2]) + ".")
    return Verdict(False, "\n".join(lines), m)
