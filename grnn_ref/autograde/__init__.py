"""Trusted, parallel autograding for the course's nbgrader assignments.

- `sandbox`: the grading kernel's launcher (bubblewrap + rlimits), stdlib only.
- `execute`: `GradingExecute`, nbgrader's Execute preprocessor in that kernel (set in
  nbgrader_config.py, so plain `nbgrader autograde` uses it too).
- `secret`: the instructor-side secret and the hidden-case seeds.
- `parallel`: `python -m grnn_ref.autograde ASSIGNMENT --jobs N`, the parallel grading command.
- `bench`: the throughput benchmark against plain sequential `nbgrader autograde`.

The grader-side verification of results is `grnn_ref.grading.verify`.
"""
