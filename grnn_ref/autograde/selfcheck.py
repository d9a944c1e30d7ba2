"""The sandbox self-check run before the first student: can the grading kernel start and run code?

A sandbox that cannot start a kernel (bubblewrap missing or refused by the host, a venv the
sandbox cannot launch, limits too tight for Python to start) would otherwise fail every student
one by one, each with "Kernel died before replying to kernel_info" and the cause buried in a
per-student log. `require_sandbox()` starts the grading kernel once, exactly as grading does
(GradingExecute, the same environment), on a one-cell notebook in a throwaway folder, in a child
Python whose output is captured; when it does not print the expected line, SandboxUnavailable
carries the kernel's and the launcher's own messages (e.g. "setpriv: failed to execute ...").

Run directly (`python -m grnn_ref.autograde.selfcheck`) it is the child: exit 0 and OK_LINE when
the kernel ran the cell.
"""
import os
import subprocess
import sys
import tempfile

OK_LINE = "grnn-sandbox-self-check: the grading kernel ran a cell"
PROBE = "print('grnn-sandbox-self-check: the grading kernel ' + 'ran a cell')"


class SandboxUnavailable(RuntimeError):
    """The grading kernel cannot start or run code here; str() says why, with its messages."""


def _child():
    from nbformat.v4 import new_code_cell, new_notebook

    from grnn_ref.autograde.execute import GradingExecute
    with tempfile.TemporaryDirectory(prefix="grnn-selfcheck-") as d:
        nb = new_notebook(cells=[new_code_cell(PROBE)])
        ep = GradingExecute(timeout=60, startup_timeout=60,
                            secret_file=os.path.join(d, "secret"))
        nb, _ = ep.preprocess(nb, {"metadata": {"path": d},
                                   "nbgrader": {"student": "self-check",
                                                "assignment": "self-check"}})
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    if OK_LINE in text:
        print(OK_LINE)
        return 0
    for o in outputs:
        if o.get("output_type") == "error":
            print(f"the probe cell failed: {o.get('ename')}: {o.get('evalue')}", file=sys.stderr)
    print(f"the probe cell printed {text.strip()!r} instead of the expected line", file=sys.stderr)
    return 1


def _cause(output, limit=12):
    """The lines of the child's output that say why (tracebacks' frames and blank lines left out)."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(("  File ", "    ")) and "Traceback" not in ln]
    return lines[-limit:]


def require_sandbox(timeout=180.0, env=None):
    """Start the grading kernel once; raise SandboxUnavailable (with its messages) if it fails."""
    with tempfile.TemporaryDirectory(prefix="grnn-selfcheck-run-") as cwd:
        try:
            proc = subprocess.run([sys.executable, "-m", "grnn_ref.autograde.selfcheck"],
                                  cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SandboxUnavailable(
                f"the grading kernel did not run a one-line cell within {timeout:.0f} s") from None
    if proc.returncode == 0 and OK_LINE in proc.stdout:
        return
    cause = _cause(proc.stderr + "\n" + proc.stdout) or [f"exit status {proc.returncode}"]
    raise SandboxUnavailable(
        "the sandbox self-check failed: the grading kernel (grnn-grading: bubblewrap + rlimits) "
        "could not run a one-line cell, so no student was graded. Its messages:\n    "
        + "\n    ".join(cause)
        + "\nCheck the sandbox with `python -m grnn_ref.autograde check-sandbox` (see the "
          "instructor guide, \"Trust\").")


if __name__ == "__main__":
    sys.exit(_child())
