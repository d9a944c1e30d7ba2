"""Install the `grnn-grading` kernel spec, and report what the sandbox can do on this machine.

The grading executor (GradingExecute) resolves `grnn-grading` in code and needs no installed spec;
installing it makes the same kernel visible to `jupyter kernelspec list` and to tools that only
read installed specs.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def install(user=False, prefix=None):
    """Install the spec; returns its directory."""
    from jupyter_client.kernelspec import KernelSpecManager

    from grnn_ref.autograde.execute import KERNEL_NAME, kernel_spec_dict
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "kernel.json"), "w") as f:
            json.dump(kernel_spec_dict(), f, indent=1)
        return KernelSpecManager().install_kernel_spec(d, KERNEL_NAME, user=user, prefix=prefix)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m grnn_ref.autograde install-kernel")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--user", action="store_true")
    g.add_argument("--sys-prefix", action="store_true")
    g.add_argument("--prefix")
    a = p.parse_args(argv)
    prefix = sys.prefix if a.sys_prefix else a.prefix
    print("installed grnn-grading kernel spec in", install(user=a.user, prefix=prefix))
    return 0


PROBES = {
    "runs": "print('ok')",
    "network blocked": "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    print('no')\nexcept OSError:\n    print('ok')",
    "repo hidden": "import os\nprint('ok' if not os.path.exists(%r) else 'no')",
    "reference hidden": "try:\n    import grnn_ref.rnn\n    print('no')\nexcept ImportError:\n    print('ok')",
    "torch hidden": "try:\n    import torch\n    print('no')\nexcept ImportError:\n    print('ok')",
    "memory capped": "import resource\nprint('ok' if resource.getrlimit(resource.RLIMIT_AS)[0] > 0 else 'no')",
    "not root": "import os\nprint('ok' if os.getuid() != 0 else 'no')",
}


def check_sandbox_main(argv=None):
    """Start the grading kernel on probe snippets and print what holds."""
    from nbformat.v4 import new_code_cell, new_notebook

    from grnn_ref.autograde.execute import GradingExecute
    repo_file = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "rnn.py"))
    names = list(PROBES)
    cells = [new_code_cell(PROBES[n] % repo_file if "%r" in PROBES[n] else PROBES[n])
             for n in names]
    nb = new_notebook(cells=cells)
    with tempfile.TemporaryDirectory() as d:
        ep = GradingExecute(timeout=60, secret_file=os.path.join(d, "secret"))
        nb, _ = ep.preprocess(nb, {"metadata": {"path": d},
                                   "nbgrader": {"student": "probe", "assignment": "probe"}})
    ok = True
    for n, c in zip(names, nb.cells):
        text = "".join(o.get("text", "") for o in c.outputs).strip()
        good = text == "ok"
        ok &= good
        print(f"{'PASS' if good else 'FAIL'}  {n}" + ("" if good else f"  ({text or c.outputs})"))
    bw = subprocess.run(["which", "bwrap"], capture_output=True, text=True).stdout.strip()
    print("bwrap:", bw or "not installed")
    return 0 if ok else 1
