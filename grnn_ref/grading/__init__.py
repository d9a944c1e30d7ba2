"""Grading checks for the course's nbgrader exercises.

A test cell calls one public check on the student's function(s), e.g.

    check_lstm_step_forward(lstm_step_forward)                 # visible cases
    check_lstm_step_forward(lstm_step_forward, hidden=True)    # hidden cases (### BEGIN HIDDEN TESTS)

Pieces (small and composable; why the grader, not the kernel, decides: book/instructor-guide.md,
"Trust: the threat model and its limits"):
    cases.py          the inputs of every case: pure function of (check, case id, seed)   [kernel]
    record.py         result records (mime application/vnd.grnn.check+json)              [kernel]
    checks.py         the check_* functions: call, record, and give feedback when possible [kernel]
    compare.py        compare outputs with reference outputs -> Report                     [both]
    misconceptions.py variants of the reference maths -> the named mistake                 [both]
    reference.py      the correct outputs, from grnn_ref's reference                      [grader]
    feedback.py       evaluate one case: compare + diagnose -> message                    [grader]

The kernel-side modules import nothing of the reference (grnn_ref.rnn/lstm/gru/...) at import time.
"""
from grnn_ref.grading.cases import ADDING_BASELINE_MSE, Params, adding_problem
from grnn_ref.grading.checks import (
    CheckFailed,
    check_adding_model,
    check_answer,
    check_torch_lstm_cell,
    check_clip_gradients,
    check_ex03_decay_rate,
    check_ex07_input_gate_at_marker,
    check_ex07_memory_unit,
    check_ex07_time_constant,
    check_gradient_bound,
    check_jacobian_norms,
    check_lstm_gate_trace,
    check_rnn_jacobian,
    check_gru_backward,
    check_gru_forward,
    check_gru_step_backward,
    check_gru_step_forward,
    check_lstm_backward,
    check_lstm_forward,
    check_lstm_step_backward,
    check_lstm_step_forward,
    check_numerical_gradient,
    check_rnn_backward,
    check_rnn_forward,
    check_rnn_step_backward,
    check_rnn_step_forward,
)

# The files of this package a grading kernel needs (staged into the sandbox), relative to grnn_ref/.
KERNEL_SIDE_FILES = ("grading/__init__.py", "grading/cases.py", "grading/checks.py",
                     "grading/record.py")

__all__ = [
    "Params", "CheckFailed",
    "check_rnn_step_forward", "check_rnn_forward", "check_rnn_step_backward", "check_rnn_backward",
    "check_lstm_step_forward", "check_lstm_forward", "check_lstm_step_backward",
    "check_lstm_backward",
    "check_gru_step_forward", "check_gru_forward", "check_gru_step_backward", "check_gru_backward",
    "check_numerical_gradient", "check_rnn_jacobian", "check_jacobian_norms",
    "check_gradient_bound", "check_clip_gradients", "check_answer",
    "check_torch_lstm_cell", "check_adding_model", "check_lstm_gate_trace",
    "check_ex03_decay_rate", "check_ex07_memory_unit", "check_ex07_input_gate_at_marker",
    "check_ex07_time_constant", "adding_problem", "ADDING_BASELINE_MSE",
]
