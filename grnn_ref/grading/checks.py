"""The checks a notebook's test cells call, e.g. `check_lstm_step_forward(lstm_step_forward)`.

Kernel side. For each case of the check (visible, or hidden with hidden=True) a check

1. builds the case's inputs (`cases.make_inputs`, numpy only) and calls the student's function on
   copies of them;
2. emits a result record of what the function returned (`record.emit`), always: the grader process
   re-checks those records against a reference it computes itself (`grnn_ref.grading.verify`);
3. if the reference is importable here (a student's machine, `nbgrader validate`), compares with it
   and raises AssertionError with a message that names the mistake (`feedback.evaluate`).
   Where it is not (the grading sandbox), it prints that the results are graded outside the kernel.

A function that raises fails the check at once (AssertionError chained to the student's error, so
the traceback shows the line in their code). Nothing of the reference is imported at import time.
"""
import importlib

import numpy as np

from grnn_ref.grading import cases, record
from grnn_ref.grading.cases import GRAD_NAMES, PARAM_NAMES, Params, get_spec


class CheckFailed(AssertionError):
    """A check found a wrong output or an error in the student's code."""


# ---------------------------------------------------------------------- calling student functions
class _BadOutput(Exception):
    pass


def _tuple_of(result, n, what):
    """Unpack a function's result into n items; _BadOutput naming what was expected."""
    if not isinstance(result, (tuple, list)) or len(result) != n:
        got = (f"a {type(result).__name__} of length {len(result)}"
               if isinstance(result, (tuple, list)) else f"a {type(result).__name__}")
        raise _BadOutput(f"expected it to return {what}, got {got}")
    return tuple(result)


def _grads_of(dp, fn_name):
    """name -> array of a gradient 'Params' (Params, 4-tuple, object with attributes or dict)."""
    if isinstance(dp, dict):
        vals = [dp.get(n, dp.get("d" + n)) for n in PARAM_NAMES]
    elif isinstance(dp, (tuple, list)) and len(dp) == 4:
        vals = list(dp)
    elif all(hasattr(dp, n) for n in PARAM_NAMES):
        vals = [getattr(dp, n) for n in PARAM_NAMES]
    else:
        raise _BadOutput(f"{fn_name}: expected dp to be a Params(dW_ih, dW_hh, db_ih, db_hh), "
                         f"got a {type(dp).__name__}")
    return dict(zip(GRAD_NAMES, vals))


def _copy(inputs):
    return {k: np.array(v, copy=True) for k, v in inputs.items()}


def _call_forward(spec, fwd, inp):
    """Run the student's forward; returns (outputs dict, cache)."""
    kind, p = spec.kind, Params(*(inp[n] for n in PARAM_NAMES))
    name = fwd_name = getattr(fwd, "__name__", "the forward function")
    if spec.family in ("step_forward", "step_backward"):
        if kind == "lstm":
            h, c, cache = _tuple_of(fwd(inp["x"], inp["h_prev"], inp["c_prev"], p), 3,
                                    "(h_next, c_next, cache)")
            return {"h_next": h, "c_next": c}, cache
        h, cache = _tuple_of(fwd(inp["x"], inp["h_prev"], p), 2, "(h_next, cache)")
        return {"h_next": h}, cache
    if kind == "lstm":
        hs, cs, cache = _tuple_of(fwd(inp["xs"], inp["h0"], inp["c0"], p), 3, "(hs, cs, cache)")
        return {"hs": hs, "cs": cs}, cache
    del name, fwd_name
    hs, cache = _tuple_of(fwd(inp["xs"], inp["h0"], p), 2, "(hs, cache)")
    return {"hs": hs}, cache


def _call_contract(spec, fns, inp):
    """Call the student's function(s) of a contract check; returns the outputs to record."""
    fwd = fns[0]
    out, cache = _call_forward(spec, fwd, inp)
    if spec.family in ("step_forward", "forward"):
        return out
    bwd = fns[1]
    bname = getattr(bwd, "__name__", "backward")
    if spec.family == "step_backward":
        if spec.kind == "lstm":
            dx, dh, dc, dp = _tuple_of(bwd(inp["dh_next"], inp["dc_next"], cache), 4,
                                       "(dx, dh_prev, dc_prev, dp)")
            out.update(dx=dx, dh_prev=dh, dc_prev=dc)
        else:
            dx, dh, dp = _tuple_of(bwd(inp["dh_next"], cache), 3, "(dx, dh_prev, dp)")
            out.update(dx=dx, dh_prev=dh)
    else:
        if spec.kind == "lstm":
            args = (inp["dhs"], cache) + ((inp["dcs"],) if "dcs" in inp else ())
            dxs, dh0, dc0, dp = _tuple_of(bwd(*args), 4, "(dxs, dh0, dc0, dp)")
            out.update(dxs=dxs, dh0=dh0, dc0=dc0)
        else:
            dxs, dh0, dp = _tuple_of(bwd(inp["dhs"], cache), 3, "(dxs, dh0, dp)")
            out.update(dxs=dxs, dh0=dh0)
    out.update(_grads_of(dp, bname))
    return out


def _call_numgrad(spec, fns, inp):
    f = cases.numgrad_function(inp)
    x = inp["x"]
    grad = fns[0](f, x, inp["df"])
    return {"dx": grad}


def _params(inp):
    return Params(*(inp[n] for n in PARAM_NAMES))


def _call_ex03(spec, fns, inp):
    fn = fns[0]
    if spec.family == "jacobian":
        return {"J": fn(inp["h_next"], _params(inp))}
    if spec.family == "jacobian_norms":
        return {"norms": fn(inp["hs"], _params(inp))}
    if spec.family == "bound":
        return {"bound": fn(_params(inp), int(inp["T"]))}
    grads = Params(*(inp[n] for n in GRAD_NAMES))
    return _grads_of(fn(grads, float(inp["max_norm"])), getattr(fn, "__name__", "clip"))


def _call_answer(spec, fns, inp):
    value = fns[0]
    if value is None or value is Ellipsis:
        raise _BadOutput("the answer is not set yet (assign a number to it)")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _BadOutput(f"the answer must be a number, got {type(value).__name__}") from None
    if arr.size != 1:
        raise _BadOutput(f"the answer must be one number, got an array of shape {arr.shape}")
    return {"value": arr.reshape(())}


def _call_torch_cell(spec, fns, inp):
    """Build the student's cell class with (D, H), load the case's weights through load_state_dict
    (torch.nn.LSTMCell's names), run forward and backward with autograd."""
    import torch

    cls = fns[0]
    dtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        inp["x"].dtype]
    D, H = inp["x"].shape[1], inp["h_prev"].shape[1]
    cell = cls(D, H)
    # to the case's dtype first: load_state_dict copies into the parameters' current dtype
    cell.to(dtype)
    cell.load_state_dict({k: torch.tensor(inp[n]) for k, n in (
        ("weight_ih", "W_ih"), ("weight_hh", "W_hh"), ("bias_ih", "b_ih"), ("bias_hh", "b_hh"))})
    x, h, c = (torch.tensor(inp[n], requires_grad=True) for n in ("x", "h_prev", "c_prev"))
    out = cell(x, (h, c))
    h_next, c_next = _tuple_of(out, 2, "(h_next, c_next)")
    loss = (h_next * torch.tensor(inp["dh_next"])).sum() + (c_next * torch.tensor(inp["dc_next"])).sum()
    loss.backward()
    params = dict(cell.named_parameters())

    def grad(t):
        return (t.grad if t.grad is not None else torch.zeros_like(t)).detach().numpy()
    res = {"h_next": h_next.detach().numpy(), "c_next": c_next.detach().numpy(),
           "dx": grad(x), "dh_prev": grad(h), "dc_prev": grad(c)}
    for n, k in zip(GRAD_NAMES, ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
        res[n] = grad(params[k])
    return res


def _call_adding(spec, fns, inp):
    import torch

    model = fns[0]
    if not isinstance(model, torch.nn.Module):
        raise _BadOutput(f"expected your trained model (a torch.nn.Module), got {type(model).__name__}")
    with torch.no_grad():
        y = model(torch.from_numpy(inp["xs"]))
    return {"y_pred": y.detach().numpy()}


def _call_trace(spec, fns, inp):
    trace = fns[0](inp["xs"], inp["h0"], inp["c0"], _params(inp))
    if not isinstance(trace, dict):
        raise _BadOutput(f"expected a dict with keys 'hs', 'cs', 'i', 'f', 'g', 'o', got a "
                         f"{type(trace).__name__}")
    return {k: trace.get(k) for k in spec.outputs if trace.get(k) is not None}


# Exercise-specific families: (spec, fns, inputs) -> outputs dict.
CALLERS = {"numgrad": _call_numgrad, "jacobian": _call_ex03, "jacobian_norms": _call_ex03,
           "bound": _call_ex03, "clip": _call_ex03, "answer": _call_answer,
           "torch_cell": _call_torch_cell, "adding": _call_adding, "trace": _call_trace}


# ---------------------------------------------------------------------- feedback (lazy, optional)
def _feedback():
    """grnn_ref.grading.feedback if the reference is importable here, else None."""
    try:
        return importlib.import_module("grnn_ref.grading.feedback")
    except ImportError:
        return None


def _fn_label(fns):
    return " / ".join(getattr(f, "__name__", "your function") for f in fns)


def run_check(check, fns, hidden=False):
    """Run every case of `check` on the student's callables `fns`; see the module docstring.

    Returns a CheckFailed (an AssertionError) describing the first failure, or None; the public
    check raises it, so that the traceback ends in the student's frames and one line of ours.
    """
    spec = get_spec(check)
    for f in fns if spec.family not in ("answer", "adding") else ():
        if not callable(f):
            return CheckFailed(f"{check}: expected a function, got {type(f).__name__} "
                               f"(did you run the cell that defines it?)")
    caller = CALLERS.get(spec.family, _call_contract)
    runs = []   # (case_id, inputs, outputs or None, failure or None, modified inputs)
    for case_id in cases.case_ids(check, hidden):
        inputs = cases.make_inputs(check, case_id)
        given = _copy(inputs)
        where = f"{check}: case {case_id} ({cases.describe_case(check, case_id)})"
        try:
            with np.errstate(all="ignore"):
                outputs = caller(spec, fns, given)
        except _BadOutput as e:
            record.emit(record.make_record(check, case_id, status="bad_output", error=str(e)))
            runs.append((case_id, inputs, None, CheckFailed(f"{where}: {_fn_label(fns)}: {e}"), []))
            continue
        except Exception as e:  # the student's code raised: fail with their traceback attached
            err = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            record.emit(record.make_record(check, case_id, status="error", error=err))
            hint = ""
            if isinstance(e, NotImplementedError):
                hint = " (replace `raise NotImplementedError()` with your implementation)"
            failure = CheckFailed(f"{where}: {_fn_label(fns)} raised {err}{hint}")
            failure.__cause__ = e  # the traceback shows the line in the student's code
            runs.append((case_id, inputs, None, failure, []))
            if isinstance(e, NotImplementedError):
                break  # nothing to learn from the other cases
            continue
        rec = record.make_record(check, case_id, outputs)
        record.emit(rec)
        failure = None
        if rec["status"] != "ok":
            failure = CheckFailed(f"{where}: {rec.get('error')}")
        modified = [k for k in inputs if k in given and not np.array_equal(
            given[k], inputs[k], equal_nan=True)]
        runs.append((case_id, inputs, outputs, failure, modified))
    fb = _feedback()
    if fb is None:
        first = next((f for *_, f, _m in runs if f is not None), None)
        if first is None:
            print(f"{check}: {len(runs)} case(s) recorded; they are graded outside this kernel.")
        return first
    failures, diagnosis = [], None
    for case_id, inputs, outputs, failure, _ in runs:
        if failure is None:
            verdict = fb.evaluate(check, case_id, inputs, outputs)
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
            msg = (f"{failure.args[0]}\nOn case {other} ({cases.describe_case(check, other)}) "
                   f"your function ran, and its outputs show the mistake. {m.message()}")
            cause = failure.__cause__
            failure = CheckFailed(msg)
            failure.__cause__ = cause
        return failure
    if spec.family in ("answer", "adding"):
        print(f"{check}: correct.")
        return None
    kind = "hidden" if hidden else "visible"
    note = ""
    mods = sorted({k for *_, modified in runs for k in modified})
    if mods:
        note = f" (note: your code modified its input(s) {', '.join(mods)} in place; avoid that)"
    print(f"{check}: all {len(runs)} {kind} cases pass.{note}")
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


def check_rnn_step_backward(rnn_step_forward, rnn_step_backward, hidden=False):
    """Check rnn_step_backward(dh_next, cache) -> (dx, dh_prev, dp) on your forward's cache."""
    _raise_if_failed(run_check("rnn_step_backward", (rnn_step_forward, rnn_step_backward), hidden))


def check_rnn_backward(rnn_forward, rnn_backward, hidden=False):
    """Check rnn_backward(dhs, cache) -> (dxs, dh0, dp) on your forward's cache."""
    _raise_if_failed(run_check("rnn_backward", (rnn_forward, rnn_backward), hidden))


def check_lstm_step_forward(lstm_step_forward, hidden=False):
    """Check lstm_step_forward(x, h_prev, c_prev, p) -> (h_next, c_next, cache)."""
    _raise_if_failed(run_check("lstm_step_forward", (lstm_step_forward,), hidden))


def check_lstm_forward(lstm_forward, hidden=False):
    """Check lstm_forward(xs, h0, c0, p) -> (hs, cs, cache)."""
    _raise_if_failed(run_check("lstm_forward", (lstm_forward,), hidden))


def check_lstm_step_backward(lstm_step_forward, lstm_step_backward, hidden=False):
    """Check lstm_step_backward(dh_next, dc_next, cache) -> (dx, dh_prev, dc_prev, dp)."""
    _raise_if_failed(run_check("lstm_step_backward", (lstm_step_forward, lstm_step_backward), hidden))


def check_lstm_backward(lstm_forward, lstm_backward, hidden=False):
    """Check lstm_backward(dhs, cache, dcs=None) -> (dxs, dh0, dc0, dp)."""
    _raise_if_failed(run_check("lstm_backward", (lstm_forward, lstm_backward), hidden))


def check_gru_step_forward(gru_step_forward, hidden=False):
    """Check gru_step_forward(x, h_prev, p) -> (h_next, cache)."""
    _raise_if_failed(run_check("gru_step_forward", (gru_step_forward,), hidden))


def check_gru_forward(gru_forward, hidden=False):
    """Check gru_forward(xs, h0, p) -> (hs, cache)."""
    _raise_if_failed(run_check("gru_forward", (gru_forward,), hidden))


def check_gru_step_backward(gru_step_forward, gru_step_backward, hidden=False):
    """Check gru_step_backward(dh_next, cache) -> (dx, dh_prev, dp) on your forward's cache."""
    _raise_if_failed(run_check("gru_step_backward", (gru_step_forward, gru_step_backward), hidden))


def check_gru_backward(gru_forward, gru_backward, hidden=False):
    """Check gru_backward(dhs, cache) -> (dxs, dh0, dp) on your forward's cache."""
    _raise_if_failed(run_check("gru_backward", (gru_forward, gru_backward), hidden))


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
