"""Grading checks for the course's nbgrader exercises.

A test cell calls one public check on the student's function(s), e.g.

    check_lstm_step_forward(lstm_step_forward)                 # visible cases
    check_lstm_step_forward(lstm_step_forward, hidden=True)    # hidden cases (### BEGIN HIDDEN TESTS)

Every check is one `Check` object, registered once under its name; from the test cell to the
verdict the code passes that object (why the grader, not the kernel, decides: book/instructor-guide.md,
"Trust: the threat model and its limits"). Pieces:

    cases.py          the Check class and the registry: cases, seeds, inputs               [kernel]
    cells.py          the checks of the numpy cells' contract (RNN, LSTM, GRU)            [kernel]
    exercises/        one module per exercise with checks of its own                      [kernel]
    checks.py         run_check and the public check_* functions                          [kernel]
    record.py         result records (mime application/vnd.grnn.check+json)               [kernel]
    compare.py        compare outputs with reference outputs -> Report                    [kernel]
    feedback.py       the default verdict: compare with the reference + diagnose          [grader]
    misconceptions.py known mistakes as transforms of the reference -> the named mistake  [grader]
    reference.py      the exercise-specific reference maths and expected answers          [grader]
    verify.py         nbgrader preprocessor: re-judges the kernel's records               [grader]

The kernel-side modules import nothing of the reference at import time; the grading sandbox stages
exactly them (grnn_ref.autograde.sandbox.KERNEL_SIDE_FILES).
"""
from grnn_ref.grading import cells, exercises  # noqa: F401 - registers the checks
from grnn_ref.grading.cases import Params
from grnn_ref.params import GRUStepCache, LSTMStepCache, RNNStepCache
from grnn_ref.grading.checks import (
    CheckFailed,
    check_adding_model,
    check_answer,
    check_clip_gradients,
    check_ex03_decay_rate,
    check_ex07_input_gate_at_marker,
    check_ex07_memory_correlation,
    check_ex07_memory_unit,
    check_ex07_time_constant,
    check_gradient_bound,
    check_gru_backward,
    check_gru_forward,
    check_gru_step_backward,
    check_gru_step_forward,
    check_jacobian_norms,
    check_lstm_backward,
    check_lstm_forward,
    check_lstm_gate_trace,
    check_lstm_step_backward,
    check_lstm_step_forward,
    check_numerical_gradient,
    check_rnn_backward,
    check_rnn_forward,
    check_rnn_jacobian,
    check_rnn_step_backward,
    check_rnn_step_forward,
    check_torch_lstm_cell,
)
from grnn_ref.grading.exercises.ex08 import (
    check_output_backward,
    check_sample_with_temperature,
    check_softmax_cross_entropy,
)
from grnn_ref.tasks import ADDING_BASELINE_MSE, adding_problem

__all__ = [
    "Params", "RNNStepCache", "LSTMStepCache", "GRUStepCache", "CheckFailed",
    "check_rnn_step_forward", "check_rnn_forward", "check_rnn_step_backward", "check_rnn_backward",
    "check_lstm_step_forward", "check_lstm_forward", "check_lstm_step_backward",
    "check_lstm_backward",
    "check_gru_step_forward", "check_gru_forward", "check_gru_step_backward", "check_gru_backward",
    "check_numerical_gradient", "check_rnn_jacobian", "check_jacobian_norms",
    "check_gradient_bound", "check_clip_gradients", "check_answer",
    "check_torch_lstm_cell", "check_adding_model", "check_lstm_gate_trace",
    "check_ex03_decay_rate", "check_ex07_memory_unit", "check_ex07_memory_correlation",
    "check_ex07_input_gate_at_marker",
    "check_ex07_time_constant", "check_softmax_cross_entropy", "check_output_backward",
    "check_sample_with_temperature", "adding_problem", "ADDING_BASELINE_MSE",
]
