"""The grading kernel's sandbox: ipykernel under rlimits inside bubblewrap, launched by nbclient.

Run as a script by the `grnn-grading` kernel spec (argv: python sandbox.py {connection_file});
it is deliberately stdlib-only and imports nothing of grnn_ref, so that starting a kernel costs one
small Python start plus bwrap, and so that nothing of the reference is loaded next to it.
The kernel is the instructors' (the student kit has no grnn_ref.autograde). Started by anything
but the grading executor, which always passes GRNN_GRADING_SEED (say, a person who picked it in
Jupyter), it runs no code and answers every cell with what it is for.

What the kernel sees (everything else of the host is absent, not merely read-only):
  /usr /bin /lib* and a few files of /etc        read-only, for the dynamic loader and Python
  the Python installation and the venv            read-only (torch replaced by an empty directory
                                                  unless GRNN_ALLOW_TORCH=1)
  the STAGED kernel-side grading modules          read-only, first on PYTHONPATH: a stub grnn_ref
                                                  package with grnn_ref.grading's kernel side only
  the notebook's own directory                    read-only, the working directory
  /tmp                                            a private size-limited tmpfs (HOME points there)
  the kernel's private runtime directory          its connection file and its ZeroMQ ipc sockets
No network namespace but loopback (--unshare-net): the kernel talks to nbclient over ipc sockets
in its private runtime directory, made visible outside through symlinks at the paths nbclient uses.

Limits (setrlimit, inherited by bwrap and the kernel): address space, CPU seconds, file size,
processes (counted per uid: the kernel runs as `nobody` when the grader is root), open files,
no core dumps. Wall time per cell is nbclient's timeout (nbgrader's Execute.timeout).
"""
import json
import os
import resource
import shutil
import stat
import sys
import tempfile

# Defaults, each overridable by an environment variable of the grader process (see LIMIT_ENV).
LIMITS = {
    # 3 GiB of address space: numpy exercises need < 300 MiB; torch's CPU build maps ~1 GiB of
    # virtual memory at import (measured: ex06 runs under 2 GiB). 3 GiB x 2 workers stays far below
    # the 24 GiB machine. RLIMIT_AS needs no cgroups, so it works in any container.
    "as_bytes": 3 * 1024 ** 3,
    "cpu_seconds": 900,          # whole-kernel backstop; per-cell wall time is Execute.timeout
    "fsize_bytes": 64 * 1024 ** 2,
    "nproc": 256,                # fork bombs; only effective for a non-root uid (the kernel's)
    "nofile": 1024,
    "tmp_bytes": 256 * 1024 ** 2,  # size of the private /tmp tmpfs
}
LIMIT_ENV = {
    "as_bytes": "GRNN_KERNEL_MEMORY", "cpu_seconds": "GRNN_KERNEL_CPU",
    "fsize_bytes": "GRNN_KERNEL_FSIZE", "nproc": "GRNN_KERNEL_NPROC",
    "nofile": "GRNN_KERNEL_NOFILE", "tmp_bytes": "GRNN_KERNEL_TMP",
}
NOBODY = 65534
# Each kernel gets a uid of its own, in a range no real account uses: RLIMIT_NPROC counts all
# processes and threads of a uid, so with one shared uid (nobody) many kernels grading at once
# would exhaust one limit together; per kernel it bounds a fork bomb to that kernel.
KERNEL_UID_BASE = 1_000_000_000
STAGE_MOUNT = "/opt/grnn-grading"
# Variables passed from the grader into the kernel (all others are cleared by --clearenv).
PASS_ENV = ("GRNN_GRADING_SEED", "GRNN_ASSIGNMENT")


def limits():
    """The effective limits: LIMITS overridden by GRNN_KERNEL_* environment variables (ints)."""
    out = dict(LIMITS)
    for key, var in LIMIT_ENV.items():
        if os.environ.get(var):
            out[key] = int(os.environ[var])
    return out


def kernel_python():
    """This interpreter as the sandbox can launch it: its directory resolved, its name kept.

    The sandbox mounts the resolved paths of the Python installation and the venv
    (`_python_roots`); a venv reached through a symlink (or any symlinked folder above it) is not
    at its unresolved path inside, so launching `sys.executable` as given fails ("setpriv: failed
    to execute"). The file name itself is kept: a venv's `bin/python` is a symlink to the base
    interpreter, and only when started by the venv's own path does Python find pyvenv.cfg.
    """
    exe = os.path.abspath(sys.executable)
    return os.path.join(os.path.realpath(os.path.dirname(exe)), os.path.basename(exe))


def bwrap_path():
    """The bwrap executable, or None if bubblewrap is not installed."""
    return shutil.which("bwrap")


def _python_roots():
    """Directories that must be visible for this interpreter and its venv to run (read-only)."""
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                           sys.base_exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    # keep only top-most directories, system dirs are bound anyway
    roots = sorted(r for r in roots if not r.startswith(("/usr/", "/lib")) and r != "/usr")
    out = []
    for r in roots:
        if not any(r == o or r.startswith(o + "/") for o in out):
            out.append(r)
    return out


def _torch_dirs():
    """site-packages entries of torch and its companions, to be hidden in numpy-only exercises."""
    import sysconfig
    site = sysconfig.get_paths()["purelib"]
    names = ("torch", "functorch", "torchgen")
    return [os.path.join(site, n) for n in names if os.path.isdir(os.path.join(site, n))]


def bwrap_argv(*, cwd, runtime_dir, private_dir, stage_dir, allow_torch, seed_env,
               share_net=False):
    """The bwrap command line (without the program to run inside) for one grading kernel."""
    lim = limits()
    # No user namespace when root: the kernel then drops to `nobody` inside with setpriv (a uid
    # that is not mapped in a new user namespace could not be switched to).
    argv = [bwrap_path(), "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try"]
    if not share_net:
        argv.append("--unshare-net")
    if os.getuid() != 0:
        argv.append("--unshare-user")
    mounted = []  # destinations so far: their subtrees exist already
    created = set()  # empty directories made with --dir
    empty = set()  # tmpfs mount points: they exist, but nothing below them does

    def mount(opt, src, dest, *extra):
        # bwrap creates missing parents of a destination with mode 0700, which `nobody` could not
        # traverse: create them 0755 first (they are empty, only mount points inside).
        parts = dest.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            anc = "/" + "/".join(parts[:i])
            if anc in created or anc in empty or any(anc == m or anc.startswith(m + "/")
                                                     for m in mounted):
                continue
            argv.extend(["--perms", "0755", "--dir", anc])
            created.add(anc)
        argv.extend([*extra, opt] + ([src] if src is not None else []) + [dest])
        if opt == "--tmpfs":
            empty.add(dest)
        else:
            mounted.append(dest)

    for top in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            mount("--ro-bind", top, top)
    for etc in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives",
                "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/localtime",
                "/etc/fonts"):   # fontconfig, for matplotlib in the Try-it cells
        if os.path.exists(etc):
            mount("--ro-bind", etc, etc)
    argv += ["--dev", "/dev", "--proc", "/proc"]
    mounted += ["/dev", "/proc"]
    # The private /tmp first, and everything else on top of it: the venv, the staged modules
    # and the submission may themselves live under /tmp (a CI clone, a temporary course).
    mount("--tmpfs", None, "/tmp", "--perms", "1777", "--size", str(lim["tmp_bytes"]))
    for root in _python_roots():
        mount("--ro-bind", root, root)
    if not allow_torch:
        for d in _torch_dirs():
            mount("--tmpfs", None, d)
    mount("--ro-bind", stage_dir, STAGE_MOUNT)
    mount("--bind", private_dir, runtime_dir)
    mount("--ro-bind", cwd, cwd)
    fonts = os.environ.get("GRNN_MPL_FONTLIST")
    if fonts and os.path.isfile(fonts):
        # matplotlib's font list, built once by the grader (execute.font_cache), read-only in
        # MPLCONFIGDIR (/tmp): the kernel does not rebuild it (1-2 s) in every notebook
        mount("--ro-bind", fonts, "/tmp/" + os.path.basename(fonts))
    argv += ["--chdir", cwd,
             "--clearenv",
             "--setenv", "PATH", os.path.dirname(kernel_python()) + ":/usr/bin:/bin",
             "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "MPLBACKEND", "Agg", "--setenv", "MPLCONFIGDIR", "/tmp",
             "--setenv", "PYTHONPATH", STAGE_MOUNT,
             "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             # one BLAS thread per kernel: parallel grading runs one kernel per core
             "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "OPENBLAS_NUM_THREADS", "1",
             "--setenv", "MKL_NUM_THREADS", "1",
             "--setenv", "GRNN_GRADING_SANDBOX", "1",
             # a nonzero parent pid that ipykernel does not poll (1): no standalone-kernel banner;
             # --die-with-parent ends the kernel with its launcher instead
             "--setenv", "JPY_PARENT_PID", "1",
             "--setenv", "GRNN_ALLOW_TORCH", "1" if allow_torch else "0"]
    for k, v in seed_env.items():
        argv += ["--setenv", k, v]
    return argv


def set_limits():
    """Apply the rlimits to this process (inherited across exec by bwrap and the kernel)."""
    lim = limits()
    for res, value in ((resource.RLIMIT_AS, lim["as_bytes"]),
                       (resource.RLIMIT_CPU, lim["cpu_seconds"]),
                       (resource.RLIMIT_FSIZE, lim["fsize_bytes"]),
                       (resource.RLIMIT_NPROC, lim["nproc"]),
                       (resource.RLIMIT_NOFILE, lim["nofile"]),
                       (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value))


def sweep_stale(base=None):
    """Remove private dirs of kernels whose launcher is gone (the launcher execs bwrap, so nothing
    of it is left to clean up after the kernel ends)."""
    base = base or tempfile.gettempdir()
    for name in os.listdir(base):
        if not name.startswith("grnn-kernel-"):
            continue
        try:
            pid = int(name.split("-")[2])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            pass


def stage_grading_modules(dest, source_pkg_dir, allow_torch=True):
    """Copy the kernel-side grading modules (and only them) into dest/grnn_ref/.

    The stub grnn_ref/__init__.py exports the parameter container only; the reference
    (rnn, lstm, gru, ...) is not copied, so `import grnn_ref.rnn` fails in the kernel.
    """
    pkg = os.path.join(dest, "grnn_ref")
    for rel in kernel_side_files(source_pkg_dir):
        os.makedirs(os.path.dirname(os.path.join(pkg, rel)), exist_ok=True)
        shutil.copyfile(os.path.join(source_pkg_dir, rel), os.path.join(pkg, rel))
    with open(os.path.join(pkg, "__init__.py"), "w") as f:
        f.write(STUB_INIT)
    if not allow_torch:
        # torch's directory is an empty tmpfs in the sandbox, which would import as an empty
        # namespace package; this stub, first on sys.path, says why instead.
        os.makedirs(os.path.join(dest, "torch"), exist_ok=True)
        with open(os.path.join(dest, "torch", "__init__.py"), "w") as f:
            f.write(TORCH_STUB)


# The kernel-side files, relative to the grnn_ref package directory: the one list of them. They import
# nothing of the reference at import time (grnn_ref/grading/__init__.py says which module runs
# where). params.py and _validate.py hold the Params container and argument checks, part of the
# public contract the exercises use, not an answer; tasks.py generates the adding problem that
# exercises 6 and 7 train and probe on. grading/exercises/ holds one module of checks per exercise
# and is staged whole, so a new exercise needs no change here. The student kit
# (grnn_ref.studentkit) installs this same set, plus the visible cases' expected outputs that
# grading/offline.py reads (never staged here: in the sandbox the checks record, the grader judges).
KERNEL_SIDE_FILES = ("params.py", "_validate.py", "tasks.py", "grading/__init__.py",
                     "grading/cases.py", "grading/cells.py", "grading/checks.py",
                     "grading/record.py", "grading/compare.py", "grading/offline.py")
KERNEL_SIDE_FOLDERS = ("grading/exercises",)


def kernel_side_files(source_pkg_dir):
    """KERNEL_SIDE_FILES and the .py files of KERNEL_SIDE_FOLDERS, relative to source_pkg_dir."""
    files = list(KERNEL_SIDE_FILES)
    for folder in KERNEL_SIDE_FOLDERS:
        files += sorted(f"{folder}/{name}" for name in os.listdir(os.path.join(source_pkg_dir, folder))
                        if name.endswith(".py"))
    return files


STUB_INIT = '''"""grnn_ref inside the grading sandbox: the reference is not available here.

Grading happens outside this kernel: the checks only record what your functions return.
"""
from grnn_ref.params import Params, GATES, init_params  # noqa: F401

__version__ = "sandbox"
'''


TORCH_STUB = '''raise ImportError(
    "torch is not available when grading this exercise: implement it with numpy only")
'''


NOT_FOR_STUDENTS = (
    "This is the grnn-grading kernel: the course's sandboxed autograder, which the instructors' "
    "`nbgrader autograde` starts to grade submissions; started from Jupyter, it runs nothing. "
    "To work on an exercise, choose another kernel (Kernel > Change Kernel...), such as "
    "\"Python 3 (ipykernel)\" of the environment where you installed the course's kit.")


def refuse(conn_file):
    """Started outside the grader (someone picked the kernel in Jupyter): a kernel that runs no
    code and answers every cell with NOT_FOR_STUDENTS. Never returns."""
    here = os.path.dirname(os.path.abspath(__file__))
    # this script's folder is sys.path[0]: its modules must not shadow the kernel's imports
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    from ipykernel.kernelapp import IPKernelApp

    print(NOT_FOR_STUDENTS, file=sys.stderr)
    app = IPKernelApp.instance()
    app.initialize(["-f", conn_file, "--HistoryManager.enabled=False"])
    refusal = f"raise RuntimeError({NOT_FOR_STUDENTS!r})\n"
    app.shell.input_transformers_cleanup.append(lambda lines: [refusal])
    app.start()
    sys.exit(0)


def _ipc_ports(info):
    return [info[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]


def main(argv=None):
    """Kernel-spec entry point: python sandbox.py CONNECTION_FILE."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit("usage: sandbox.py CONNECTION_FILE")
    conn_file = os.path.abspath(argv[0])
    if "GRNN_GRADING_SEED" not in os.environ:   # the grading executor always sets it
        refuse(conn_file)
    with open(conn_file) as f:
        info = json.load(f)
    runtime_dir = os.path.dirname(conn_file)
    cwd = os.getcwd()
    python = kernel_python()
    if bwrap_path() is None:
        if os.environ.get("GRNN_ALLOW_UNSANDBOXED") == "1":
            print("grnn-grading: bwrap not found; running the kernel WITHOUT a sandbox "
                  "(GRNN_ALLOW_UNSANDBOXED=1), limits only", file=sys.stderr)
            set_limits()
            os.execv(python, [python, "-m", "ipykernel_launcher", "-f", conn_file,
                              "--HistoryManager.enabled=False"])
        sys.exit("grnn-grading: bubblewrap (bwrap) is not installed: refusing to run untrusted "
                 "code unsandboxed (`make system` installs it, or set GRNN_ALLOW_UNSANDBOXED=1)")

    base = tempfile.gettempdir()
    sweep_stale(base)
    private = tempfile.mkdtemp(prefix=f"grnn-kernel-{os.getpid()}-", dir=base)
    stage = os.path.join(private, "stage")
    sockets = os.path.join(private, "run")
    os.makedirs(sockets)
    pkg_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    allow_torch = os.environ.get("GRNN_ALLOW_TORCH", "1") == "1"
    stage_grading_modules(stage, pkg_dir, allow_torch)
    inner_conn = os.path.join(sockets, os.path.basename(conn_file))
    shutil.copyfile(conn_file, inner_conn)

    share_net = info.get("transport", "tcp") != "ipc"
    if share_net:
        print("grnn-grading: tcp transport: the kernel keeps the host network (use the grading "
              "executor, which selects ipc, for network isolation)", file=sys.stderr)
    else:
        # nbclient connects to f"{ip}-{port}" on the host; the kernel binds the same path inside
        # the sandbox, where runtime_dir is our private directory. Symlinks join the two.
        ip = info["ip"]
        if os.path.dirname(os.path.abspath(ip)) != runtime_dir:
            sys.exit(f"grnn-grading: ipc path {ip!r} is not in the runtime dir {runtime_dir!r}")
        for port in _ipc_ports(info):
            link = f"{os.path.abspath(ip)}-{port}"
            target = os.path.join(sockets, os.path.basename(link))
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(target, link)

    seed_env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    cmd = bwrap_argv(cwd=cwd, runtime_dir=runtime_dir, private_dir=sockets, stage_dir=stage,
                     allow_torch=allow_torch, seed_env=seed_env, share_net=share_net)
    cmd.append("--")
    if os.getuid() == 0:
        # The kernel runs as an unprivileged uid of its own with no capabilities: RLIMIT_NPROC
        # then applies (root is exempt from it), and host files of mode 0600 stay unreadable
        # even if a bind exposed one.
        uid = KERNEL_UID_BASE + os.getpid()
        os.chown(sockets, uid, NOBODY)
        os.chown(inner_conn, uid, NOBODY)
        cmd += [shutil.which("setpriv") or "/usr/bin/setpriv", f"--reuid={uid}",
                f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                "--no-new-privs", "--"]
    os.chmod(inner_conn, stat.S_IRUSR | stat.S_IWUSR)
    # inside, the private run dir is mounted at the runtime dir: conn_file names our copy there
    cmd += [python, "-m", "ipykernel_launcher", "-f", conn_file, "--HistoryManager.enabled=False"]
    set_limits()
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main()
