"""GradingExecute: nbgrader's Execute preprocessor, run in the sandboxed grading kernel.

Registered in nbgrader_config.py in place of nbgrader's Execute, so that plain `nbgrader autograde`
and `python -m grnn_ref.autograde` execute every submission the same way:

- the kernel is always the `grnn-grading` spec built here in code (the sandbox launcher of
  grnn_ref/autograde/sandbox.py), whatever kernelspec the notebook names, and it needs no
  `jupyter kernelspec install` (the installable spec of `install-kernel` is the same one);
- ZeroMQ over ipc sockets, so the kernel can run without any network (bwrap --unshare-net);
- the hidden-case seed, derived from the instructor's secret and the student id, is passed to the
  kernel in GRNN_GRADING_SEED; torch is hidden unless the assignment is in `torch_assignments`;
- output is capped per cell while it arrives (a flood cannot fill the grader's memory or the
  gradebook), except the grading result records, which have their own, larger cap;
- a kernel that dies (os._exit, a segfault, the memory limit) or ignores the interrupt after a
  timeout does not abort the notebook: that cell gets an error saying why, the cells after it are
  marked as not run (so they score 0), and the notebook is still saved and scored;
- the kernel is ended at once after the last cell (shutdown_kernel = "immediate"): it is thrown
  away with its sandbox, nothing in it is to be saved, and a graceful shutdown cost about a
  second of waiting per notebook;
- matplotlib's font list is built once per grader (font_cache) and given to every kernel
  read-only: the kernel's HOME and MPLCONFIGDIR are its own empty /tmp, where matplotlib would
  otherwise rebuild it (1-2 s) in every notebook that plots.
"""
import glob
import os
import subprocess
import sys
import uuid

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Enum, Integer, List, Unicode

from grnn_ref.autograde import sandbox, secret
from grnn_ref.grading.record import MIME as RECORD_MIME

KERNEL_NAME = "grnn-grading"
SANDBOX_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.py")


def kernel_spec_dict(python=None):
    """The grading kernel spec as a dict (kernel.json)."""
    return {
        "argv": [python or sys.executable, SANDBOX_SCRIPT, "{connection_file}"],
        # listed in Jupyter's kernel picker where the spec is installed (the instructors' venv)
        "display_name": "grnn-grading: instructors' autograder (not for exercises)",
        "language": "python",
        # bwrap runs the kernel in its own session, so a SIGINT to the process group would not
        # reach it: interrupts go as control messages instead.
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }


_font_cache = {}


def font_cache(cache_dir=None):
    """Path of matplotlib's font list (fontlist-v*.json) built by this Python, or None.

    Built once into cache_dir (default: <jupyter runtime dir>/grnn-mpl-<matplotlib version>) by a
    subprocess and reused; the sandbox launcher binds it read-only into the kernel's /tmp (its
    MPLCONFIGDIR). None when matplotlib is not installed or the build fails (the kernel then
    builds its own, as before)."""
    if "path" in _font_cache:
        return _font_cache["path"]
    path = None
    try:
        from importlib.metadata import version
        mpl_version = version("matplotlib")
    except Exception:  # noqa: BLE001 - no matplotlib: nothing to cache
        mpl_version = None
    if mpl_version:
        cache_dir = cache_dir or os.path.join(jupyter_runtime_dir(), f"grnn-mpl-{mpl_version}")
        found = sorted(glob.glob(os.path.join(cache_dir, "fontlist-v*.json")))
        if not found:
            os.makedirs(cache_dir, mode=0o755, exist_ok=True)
            env = dict(os.environ, MPLCONFIGDIR=cache_dir, MPLBACKEND="Agg")
            subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                           capture_output=True, timeout=300)
            found = sorted(glob.glob(os.path.join(cache_dir, "fontlist-v*.json")))
        if found:
            path = found[-1]
            os.chmod(path, 0o644)   # readable by the kernel's own uid
    _font_cache["path"] = path
    return path


class GradingKernelSpecManager(KernelSpecManager):
    """Resolves `grnn-grading` to the spec above (no install needed); other names as usual."""

    def get_kernel_spec(self, kernel_name):
        if kernel_name == KERNEL_NAME:
            return KernelSpec(resource_dir=os.path.dirname(SANDBOX_SCRIPT), **kernel_spec_dict())
        return super().get_kernel_spec(kernel_name)


def _size(msg):
    """Approximate size in bytes of an iopub message's payload."""
    content = msg.get("content", {})
    n = len(content.get("text", "") or "")
    for value in (content.get("data") or {}).values():
        n += len(value) if isinstance(value, str) else len(str(value))
    for line in content.get("traceback", []) or []:
        n += len(line)
    return n


class GradingExecute(Execute):
    """nbgrader's Execute in the sandboxed `grnn-grading` kernel, robust to hostile notebooks."""

    kernel_name = Unicode(KERNEL_NAME, help="Kernel used for grading (always the sandbox).").tag(
        config=True)
    torch_assignments = List(
        Unicode(), ["ex06_torch", "ex07_gates"],
        help="Assignments whose grading kernel may import torch; all others have it hidden.",
    ).tag(config=True)
    secret_file = Unicode(
        "", help="Instructor-side secret for hidden-case seeds (default: "
                 "$GRNN_GRADING_SECRET_FILE or <course root>/.grnn_grading_secret).",
    ).tag(config=True)
    max_output_bytes_per_cell = Integer(
        200_000, help="Text/display output kept per cell; the rest is dropped with a note.",
    ).tag(config=True)
    shutdown_kernel = Enum(
        ["graceful", "immediate"], default_value="immediate",
        help="How the kernel is ended after the notebook: at once (default; the sandbox and "
             "everything in it are thrown away) or gracefully (waits for it to exit).",
    ).tag(config=True)
    max_record_bytes_per_cell = Integer(
        32_000_000, help="Grading result records kept per cell (they carry arrays, base64).",
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        info = (resources or {}).get("nbgrader", {})
        student = info.get("student") or ""
        assignment = info.get("assignment") or ""
        self._grading_env = {
            "GRNN_GRADING_SEED": str(secret.hidden_seed(assignment, student, self.secret_file)),
            "GRNN_ASSIGNMENT": assignment,
            "GRNN_ALLOW_TORCH": "1" if assignment in self.torch_assignments else "0",
        }
        self._kernel_gone = None
        try:
            return super().preprocess(nb, resources, km=km)
        finally:
            sandbox.sweep_stale()

    def create_kernel_manager(self):
        self.km = AsyncKernelManager(
            kernel_name=self.kernel_name, kernel_spec_manager=GradingKernelSpecManager(),
            transport="ipc", config=self.config)
        # ipc socket paths derive from the connection file; fix both before the kernel starts
        # (the default would be a path relative to the notebook's directory).
        runtime = jupyter_runtime_dir()
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        self.km.connection_file = os.path.join(runtime, f"kernel-grnn-{uuid.uuid4()}.json")
        self.km.ip = os.path.splitext(self.km.connection_file)[0] + "-ipc"
        return self.km

    async def async_start_new_kernel(self, **kwargs):
        env = dict(os.environ)
        env.update(getattr(self, "_grading_env", {}))
        fonts = font_cache()
        if fonts:
            env["GRNN_MPL_FONTLIST"] = fonts
        kwargs["env"] = env
        await super().async_start_new_kernel(**kwargs)

    # nbclient binds the sync wrappers to its own coroutines: rebind them to the overrides.
    start_new_kernel = run_sync(async_start_new_kernel)

    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count,
                                                    store_history)
        if self._kernel_gone is not None:
            cell.outputs = [self._error("KernelDied", f"not run: {self._kernel_gone}")]
            return cell
        self._out_bytes = 0
        self._rec_bytes = 0
        self._truncated = False
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count,
                                                    store_history)
        except DeadKernelError:
            reason = ("the grading kernel died while running this cell (os._exit, a crash such "
                      "as a segfault, or the memory limit)")
        except CellTimeoutError:
            reason = (f"this cell did not finish within {self.timeout} s and the kernel did not "
                      "respond to the interrupt")
        self.log.error("grnn: cell %d: %s", cell_index, reason)
        self._kernel_gone = f"an earlier cell (#{cell_index}) stopped the kernel: {reason}"
        cell.outputs.append(self._error("KernelDied", reason))
        try:
            await self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - already dead is fine
            pass
        return cell

    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg)
        data = msg.get("content", {}).get("data") or {}
        if RECORD_MIME in data:
            self._rec_bytes += size
            if self._rec_bytes > self.max_record_bytes_per_cell:
                return None
            return super().output(outs, msg, display_id, cell_index)
        self._out_bytes += size
        if self._out_bytes > self.max_output_bytes_per_cell:
            if not self._truncated:
                self._truncated = True
                self.log.warning("grnn: cell %d: output truncated at %d bytes", cell_index,
                                 self.max_output_bytes_per_cell)
                outs.append(new_output(
                    "stream", name="stdout",
                    text=f"\n... output truncated: more than {self.max_output_bytes_per_cell} "
                         "bytes in this cell ...\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    @staticmethod
    def _error(ename, evalue):
        return new_output("error", ename=ename, evalue=evalue,
                          traceback=[f"{ename}: {evalue}"])
