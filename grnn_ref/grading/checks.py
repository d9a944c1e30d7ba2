"""The checks a notebook's test cells call, e.g. `check_lstm_step_forward(lstm_step_forward)`.

Kernel side. `run_check` takes the check's object from the registry once (grading.cases) and, for
each case of the check (visible, or hidden with hidden=True),

1. builds the case's inputs (`Check.make_inputs`, numpy only) and calls the student's function on
   copies of them (`Check.call`);
2. emits a result record of what the function returned (`record.emit`), always: the grader process
   re-checks those records against a reference it computes itself (`grnn_ref.grading.verify`);
3. judges the outputs where it can (`_judge`) and raises CheckFailed with a message that names
   the mistake: with the reference where it is importable (an instructor's machine), with the
   student kit's precomputed visible cases where the kit is installed (`grading.offline`).
   Where neither is (the grading sandbox), the records are judged outside the kernel.

A function that raises fails the check at once (CheckFailed chained to the student's error, so
the traceback shows the line in their code). Nothing of the reference is imported at import time.
"""
import importlib.util

import numpy as np

from grnn_ref.grading import record
from grnn_ref.grading.cases import BadOutput, get_check


class CheckFailed(AssertionError):
    """A check found a wrong output or an error in the student's code."""


def _copy(inputs):
    return {k: np.array(v, copy=True) for k, v in inputs.items()}


def _reference_available():
    """Whether the grader-side modules (and so the reference) can be imported here."""
    try:
        return importlib.util.find_spec("grnn_ref.grading.feedback") is not None
    except (ImportError, ValueError):
        return False


def _judge(check, hidden):
    """How this kernel judges the cases: (case_id, inputs, outputs) -> Verdict, or None to record
    only (module docstring, step 3)."""
    if _reference_available():
        return check.evaluate
    from grnn_ref.grading import offline

    return offline.judge(check, hidden)


def _fn_label(fns):
    return " / ".join(getattr(f, "__name__", "your function") for f in fns)


def _run_case(check, fns, case_id):
    """Run one case: (inputs, outputs or None, failure or None, names of inputs modified)."""
    inputs = check.make_inputs(case_id)
    given = _copy(inputs)
    where = f"{check.name}: case {case_id} ({check.describe_case(case_id)})"
    try:
        with np.errstate(all="ignore"):
            outputs = check.call(fns, given)
    except BadOutput as e:
        record.emit(record.make_record(check.name, case_id, status="bad_output", error=str(e)))
        return inputs, None, CheckFailed(f"{where}: {_fn_label(fns)}: {e}"), []
    except Exception as e:  # the student's code raised: fail with their traceback attached
        err = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        record.emit(record.make_record(check.name, case_id, status="error", error=err))
        hint = ""
        if isinstance(e, NotImplementedError):
            hint = " (replace `raise NotImplementedError()` with your implementation)"
        failure = CheckFailed(f"{where}: {_fn_label(fns)} raised {err}{hint}")
        failure.__cause__ = e  # the traceback shows the line in the student's code
        return inputs, None, failure, []
    rec = record.make_record(check.name, case_id, outputs)
    record.emit(rec)
    failure = CheckFailed(f"{where}: {rec.get('error')}") if rec["status"] != "ok" else None
    modified = [k for k in inputs if k in given and not np.array_equal(
        given[k], inputs[k], equal_nan=True)]
    return inputs, outputs, failure, modified


def run_check(name, fns, hidden=False):
    """Run every case of the check `name` on the student's objects `fns`; see the module docstring.

    Returns a CheckFailed (an AssertionError) describing the first failure, or None; the public
    check raises it, so that the traceback ends in the student's frames and one line of ours.
    """
    check = get_check(name)
    for f in fns if check.takes_functions else ():
        if not callable(f):
            return CheckFailed(f"{name}: expected a function, got {type(f).__name__} "
                               f"(did you run the cell that defines it?)")
    runs = []   # (case_id, inputs, outputs or None, failure or None, modified inputs)
    for case_id in check.case_ids(hidden):
        inputs, outputs, failure, modified = _run_case(check, fns, case_id)
        runs.append((case_id, inputs, outputs, failure, modified))
        if failure is not None and isinstance(failure.__cause__, NotImplementedError):
            break  # nothing to learn from the other cases
    judge = _judge(check, hidden)
    if judge is None:
        return next((failure for _, _, _, failure, _ in runs if failure is not None), None)
    failures, diagnosis, said = [], None, None
    for case_id, inputs, outputs, failure, _ in runs:
        if failure is None:
            verdict = judge(case_id, inputs, outputs)
            if verdict.ok and verdict.message and said is None:
                said = verdict.message   # e.g. the kit: "recorded, judged when graded"
            if not verdict.ok:
                failure = CheckFailed(verdict.message)
                if diagnosis is None and verdict.misconception is not None:
                    diagnosis = (case_id, verdict.misconception)
        if failure is not None:
            failures.append((case_id, failure))
    if failures:
        case_id, failure = failures[0]
        if diagnosis is not None and diagnosis[0] != case_id:
            # e.g. a transposed W_ih fails with a shape error when D != H, but on a square case
            # it runs and its outputs show which mistake it is
            other, m = diagnosis
            msg = (f"{failure.args[0]}\nOn case {other} ({check.describe_case(other)}) "
                   f"your function ran, and its outputs show the mistake. {m.message()}")
            cause = failure.__cause__
            failure = CheckFailed(msg)
            failure.__cause__ = cause
        return failure
    if said is not None or check.single_verdict:   # a passing verdict that says more wins
        print(said or f"{name}: correct.")
        return None
    note = ""
    mods = sorted({k for *_, modified in runs for k in modified})
    if mods:
        note = f" (note: your code modified its input(s) {', '.join(mods)} in place; avoid that)"
    print(f"{name}: all {len(runs)} {'hidden' if hidden else 'visible'} cases pass.{note}")
    return None


# ---------------------------------------------------------------------- the public checks
def _raise_if_failed(failure):
    if failure is not None:
        raise failure


def check_rnn_step_forward(rnn_step_forward, hidden=False):
    """Check rnn_step_forward(x, h_prev, p) -> (h_next, cache)."""
    _raise_if_failed(run_check("rnn_step_forward", (rnn_step_forward,), hidden))


def check_rnn_forward(rnn_forward, hidden=False):
    """Check rnn_forward(xs, h0, p) -> (hs, cache)."""
    _raise_if_failed(run_check("rnn_forward", (rnn_forward,), hidden))


def check_rnn_step_backward(rnn_step_backward, hidden=False):
    """Check rnn_step_backward(dh_next, cache) -> (dx, dh_prev, dp), on caches the check
    builds (the cache contract: grnn_ref.params), so it is graded whatever your forward does."""
    _raise_if_failed(run_check("rnn_step_backward", (rnn_step_backward,), hidden))


def check_rnn_backward(rnn_backward, hidden=False):
    """Check rnn_backward(dhs, cache) -> (dxs, dh0, dp), on caches the check
    builds (the cache contract: grnn_ref.params), so it is graded whatever your forward does."""
    _raise_if_failed(run_check("rnn_backward", (rnn_backward,), hidden))


def check_lstm_step_forward(lstm_step_forward, hidden=False):
    """Check lstm_step_forward(x, h_prev, c_prev, p) -> (h_next, c_next, cache)."""
    _raise_if_failed(run_check("lstm_step_forward", (lstm_step_forward,), hidden))


def check_lstm_forward(lstm_forward, hidden=False):
    """Check lstm_forward(xs, h0, c0, p) -> (hs, cs, cache)."""
    _raise_if_failed(run_check("lstm_forward", (lstm_forward,), hidden))


def check_lstm_step_backward(lstm_step_backward, hidden=False):
    """Check lstm_step_backward(dh_next, dc_next, cache) -> (dx, dh_prev, dc_prev, dp), on caches the check
    builds (the cache contract: grnn_ref.params), so it is graded whatever your forward does."""
    _raise_if_failed(run_check("lstm_step_backward", (lstm_step_backward,), hidden))


def check_lstm_backward(lstm_backward, hidden=False):
    """Check lstm_backward(dhs, cache, dcs=None) -> (dxs, dh0, dc0, dp), on caches the check
    builds (the cache contract: grnn_ref.params), so it is graded whatever your forward does."""
    _raise_if_failed(run_check("lstm_backward", (lstm_backward,), hidden))


def check_gru_step_forward(gru_step_forward, hidden=False):
    """Check gru_step_forward(x, h_prev, p) -> (h_next, cache)."""
    _raise_if_failed(run_check("gru_step_forward", (gru_step_forward,), hidden))


def check_gru_forward(gru_forward, hidden=False):
    """Check gru_forward(xs, h0, p) -> (hs, cache)."""
    _raise_if_failed(run_check("gru_forward", (gru_forward,), hidden))


def check_gru_step_backward(gru_step_backward, hidden=False):
    """Check gru_step_backward(dh_next, cache) -> (dx, dh_prev, dp), on caches the check
    builds (the cache contract: grnn_ref.params), so it is graded whatever your forward does."""
    _raise_if_failed(run_check("gru_step_backward", (gru_step_backward,), hidden))


def check_gru_backward(gru_backward, hidden=False):
    """Check gru_backward(dhs, cache) -> (dxs, dh0, dp), on caches the check
    builds (the cache contract: grnn_ref.params), so it is graded whatever your forward does."""
    _raise_if_failed(run_check("gru_backward", (gru_backward,), hidden))


def check_numerical_gradient(numerical_gradient, hidden=False):
    """Check numerical_gradient(f, x, df) -> gradient of sum(f(x) * df) w.r.t. x, shaped like x."""
    _raise_if_failed(run_check("numerical_gradient", (numerical_gradient,), hidden))


def check_rnn_jacobian(rnn_jacobian, hidden=False):
    """Check rnn_jacobian(h_next, p) -> J (B, H, H), J[b] = d h_next[b] / d h_prev[b]."""
    _raise_if_failed(run_check("rnn_jacobian", (rnn_jacobian,), hidden))


def check_jacobian_norms(jacobian_norms, hidden=False):
    """Check jacobian_norms(hs, p) -> norms (T, B): spectral norms of d hs[t] / d h0."""
    _raise_if_failed(run_check("jacobian_norms", (jacobian_norms,), hidden))


def check_gradient_bound(gradient_bound, hidden=False):
    """Check gradient_bound(p, T) -> bound (T,): sigma_max(W_hh) ** (t + 1)."""
    _raise_if_failed(run_check("gradient_bound", (gradient_bound,), hidden))


def check_clip_gradients(clip_gradients, hidden=False):
    """Check clip_gradients(grads, max_norm) -> Params: clipped by the global norm."""
    _raise_if_failed(run_check("clip_gradients", (clip_gradients,), hidden))


def check_function(name):
    """The public check of a registered check without a hand-written one below: a function
    `check_<name>(*objects, hidden=False)` that runs the check on the student's objects (functions,
    a class, a model or an answer, as the Check's `call` takes them). An exercise module that
    registers a check in grading/exercises/ gets its `check_<name>` this way
    (`from grnn_ref.grading import check_<name>` works for every registered name)."""
    check = get_check(name)

    def check_fn(*objects, hidden=False):
        _raise_if_failed(run_check(name, objects, hidden))
    check_fn.__name__ = check_fn.__qualname__ = f"check_{name}"
    check_fn.__doc__ = f"Check {name} (grnn_ref.grading.exercises): {type(check).__doc__ or ''}"
    return check_fn


def check_answer(name, value):
    """Check a numeric answer (e.g. check_answer("ex03_decay_rate", decay_rate)).

    Test cells call the named forms below (check_ex03_decay_rate(decay_rate), ...), whose check
    name the grader reads from the call itself."""
    _raise_if_failed(run_check(name, (value,), False))


def check_ex03_decay_rate(decay_rate):
    """Exercise 3: the measured decay rate of the Jacobian norms per step."""
    check_answer("ex03_decay_rate", decay_rate)


def check_ex07_memory_unit(memory_unit):
    """Exercise 7: the unit whose final cell state holds the marked values."""
    check_answer("ex07_memory_unit", memory_unit)


def check_ex07_memory_correlation(memory_correlation):
    """Exercise 7: the absolute correlation of the memory unit's final cell state with the target."""
    check_answer("ex07_memory_correlation", memory_correlation)


def check_ex07_input_gate_at_marker(input_gate_at_marker):
    """Exercise 7: the memory unit's mean input gate at the marked steps."""
    check_answer("ex07_input_gate_at_marker", input_gate_at_marker)


def check_ex07_time_constant(time_constant):
    """Exercise 7: 1 / (1 - mean forget gate) of the memory unit."""
    check_answer("ex07_time_constant", time_constant)


def check_torch_lstm_cell(LSTMCell, hidden=False):
    """Check an LSTM cell nn.Module class: LSTMCell(input_size, hidden_size), state_dict keys of
    torch.nn.LSTMCell, forward(x, (h, c)) -> (h_next, c_next); outputs and gradients."""
    _raise_if_failed(run_check("torch_lstm_cell", (LSTMCell,), hidden))


def check_adding_model(model, hidden=False):
    """Check a trained adding-problem model: model(xs (T, n, 2)) -> (n, 1), MSE well below 1/6."""
    _raise_if_failed(run_check("adding_model", (model,), hidden))


def check_lstm_gate_trace(lstm_gate_trace, hidden=False):
    """Check lstm_gate_trace(xs, h0, c0, p) -> {"hs", "cs", "i", "f", "g", "o"}, each (T, B, H)."""
    _raise_if_failed(run_check("lstm_gate_trace", (lstm_gate_trace,), hidden))
