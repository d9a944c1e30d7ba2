"""The grading kernel's sandbox: what student code can and cannot reach (one kernel, probes)."""
import os
import shutil
import subprocess
import sys

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grnn_ref.autograde import classroom, selfcheck
from grnn_ref.autograde.execute import GradingExecute
from grnn_ref.autograde.sandbox import kernel_side_files

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBES = {
    "no network": "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
                  "    print('reached')\nexcept OSError:\n    print('ok')",
    # the venv may live inside the repository: only it is mounted, nothing else of the checkout
    "no repository": "import os\nleft = [n for n in ('grnn_ref', 'solutions', 'nbgrader_config.py',"
                     f" 'gradebook.db') if os.path.exists(os.path.join({REPO!r}, n))]\n"
                     "print('ok' if not left else left)",
    "no reference": "try:\n    import grnn_ref.rnn\n    print('imported')\nexcept ImportError:\n"
                    "    print('ok')",
    "no grader side": "try:\n    import grnn_ref.grading.feedback\n    print('imported')\n"
                      "except ImportError:\n    print('ok')",
    "no torch in a numpy exercise": "try:\n    import torch\n    print('imported')\n"
                                    "except ImportError:\n    print('ok')",
    "kernel-side checks import": "from grnn_ref.grading import check_rnn_forward, Params\n"
                                 "print('ok')",
    "not root": "import os\nprint('ok' if os.getuid() != 0 else 'root')",
    "read-only venv": "import numpy, os\ntry:\n    open(os.path.join(os.path.dirname(numpy.__file__),"
                      " 'x'), 'w')\n    print('writable')\nexcept OSError:\n    print('ok')",
    "memory capped": "import numpy as np\ntry:\n    a = np.ones(2 ** 31)\n    print('allocated')\n"
                     "except MemoryError:\n    print('ok')",
    "seed passed in": "import os\nprint('ok' if os.environ.get('GRNN_GRADING_SEED') else 'none')",
    # matplotlib's font list, built once by the grader, is there and read-only: the kernel does
    # not rebuild it, and no notebook can change what the next one reads
    "font list given read-only": "import glob, os\nf = glob.glob('/tmp/fontlist-v*.json')\n"
                                 "print('ok' if len(f) == 1 and not os.access(f[0], os.W_OK) "
                                 "else f)",
}


def test_sandbox_probes(tmp_path):
    nb = new_notebook(cells=[new_code_cell(src) for src in PROBES.values()])
    ep = GradingExecute(timeout=60, secret_file=str(tmp_path / "secret"))
    nb, _ = ep.preprocess(nb, {"metadata": {"path": str(tmp_path)},
                               "nbgrader": {"student": "probe", "assignment": "ex01_rnn"}})
    got = {name: "".join(o.get("text", "") for o in c.outputs).strip() or str(c.outputs)
           for name, c in zip(PROBES, nb.cells)}
    assert got == {name: "ok" for name in PROBES}


def test_torch_is_available_where_the_exercise_needs_it(tmp_path):
    nb = new_notebook(cells=[new_code_cell("import torch\nprint(torch.ones(2).sum().item())")])
    ep = GradingExecute(timeout=120, secret_file=str(tmp_path / "secret"))
    nb, _ = ep.preprocess(nb, {"metadata": {"path": str(tmp_path)},
                               "nbgrader": {"student": "probe", "assignment": "ex06_torch"}})
    assert "".join(o.get("text", "") for o in nb.cells[0].outputs).strip() == "2.0"


def test_only_kernel_side_modules_are_staged():
    files = kernel_side_files(os.path.join(REPO, "grnn_ref"))
    assert "grading/checks.py" in files and "grading/record.py" in files
    for grader_side in ("grading/feedback.py", "grading/reference.py",
                        "grading/misconceptions.py", "grading/verify.py", "rnn.py", "lstm.py"):
        assert grader_side not in files


def test_the_kernel_starts_from_a_venv_reached_through_a_symlink(tmp_path):
    # the sandbox mounts the venv's resolved path: it must launch the resolved python too
    link = tmp_path / "venv-link"
    os.symlink(sys.prefix, link)
    python = link / "bin" / os.path.basename(sys.executable)
    r = subprocess.run([str(python), "-m", "grnn_ref.autograde.selfcheck"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and selfcheck.OK_LINE in r.stdout, r.stderr[-3000:]


def test_a_sandbox_that_cannot_start_a_kernel_stops_the_batch_before_the_first_student(tmp_path):
    course = str(tmp_path / "course")
    classroom.copy_course(course, ["ex01_rnn"])
    classroom.submit(course, "ex01_rnn", "ada", classroom.read_release(course, "ex01_rnn"))
    # an address-space limit too small for Python: the kernel cannot start
    env = {**os.environ, "GRNN_KERNEL_MEMORY": str(60 * 1024 ** 2)}
    env.pop("GRNN_GRADEBOOK_URL", None)
    r = subprocess.run([sys.executable, "-m", "grnn_ref.autograde", "ex01_rnn", "--no-progress"],
                       cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "the sandbox self-check failed" in r.stderr, r.stderr
    assert "Kernel died before replying to kernel_info" in r.stderr, r.stderr  # the cause itself
    assert not os.path.exists(os.path.join(course, "autograded"))
    state = os.path.join(course, ".grnn_autograde", "ex01_rnn")
    assert not [f for f in os.listdir(state) if f.endswith((".json", ".log"))]
