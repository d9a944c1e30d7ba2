"""The student kit: one zip per exercise with everything a student needs and nothing of the
reference (the student guide's "Setting up" says how to use it).

    <assignment>.zip
      <assignment>/README.md                    install on Linux, macOS and Windows; open; what
                                                the test cells judge
      <assignment>/<assignment>.ipynb           the released notebook (exercises/<assignment>/)
      <assignment>/<data files>                 the rest of the release folder (ex07's weights)
      <assignment>/grnn_kit-<version>-py3-none-any.whl
          grnn_ref/...                          the kernel-side modules the grading sandbox stages
                                                (sandbox.kernel_side_files: one list for both),
                                                under a grnn_ref/__init__.py that imports no
                                                reference
          grnn_ref/grading/visible_cases.json   expected outputs and mistake fingerprints of every
                                                visible case (read by grading/offline.py)

The wheel is the same in every kit (every check's visible cases): one virtual environment serves
the whole course, and installing a later kit's wheel replaces an earlier one. Its version carries
a digest of its content, so pip replaces a changed kit and keeps an identical one. The grading
kernel (grnn_ref.autograde) is not in it: it is the instructors'.

Grader side: building the data runs the reference and the misconception catalogue. Deterministic:
the same sources give byte-identical zips (fixed timestamps, sorted entries), so the website's
build (book/_ext/student_kits.py) can rebuild them every time.

    python -m grnn_ref.studentkit [--out DIR] [ASSIGNMENT ...]     (default: every released one)
"""
import argparse
import base64
import hashlib
import io
import json
import re
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np

import grnn_ref
from grnn_ref.autograde.sandbox import kernel_side_files
from grnn_ref.grading import offline

COURSE_ROOT = Path(grnn_ref.__file__).resolve().parents[1]
RELEASE_DIR = "exercises"          # nbgrader_config.py's release_directory
DIST_NAME = "grnn_kit"
PYTHON_REQUIRES = ">=3.11"
# The kit's Jupyter front end; see the student guide's "Setting up" for the measured sizes.
FRONT_END = "jupyterlab"
# Packages a notebook's code may import that the kit's wheel does not bring, and how to install
# them: only the kits whose notebook imports one list it. torch as pyproject.toml pins it.
OPTIONAL = {"matplotlib": "matplotlib", "torch": tomllib.loads(
    (COURSE_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["torch"][0]}
# Plain PyPI's Linux torch brings GPU libraries of several GB; PyTorch's CPU index does not.
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)

KIT_INIT = '''"""grnn_ref as the student kit installs it: the checks your exercises' test cells call.

Only the kernel-side modules are here (grnn_ref.grading, the Params container, the adding-problem
generator); the course's reference implementation stays with your instructor. Your visible test
cases are judged from expected outputs computed in advance (grnn_ref.grading.offline).
"""
from grnn_ref.params import Params, GATES, init_params  # noqa: F401

__version__ = "{version}"
'''


# ---------------------------------------------------------------------- the data
def _case_data(check, case_id):
    """The kit's data of one visible case (see grading/offline.py)."""
    from grnn_ref.grading import compare, misconceptions, record

    inputs = check.make_inputs(case_id)
    dtype = compare.input_dtype(inputs)
    rtol = compare.rtol_for(dtype, check.rtol)
    # matched as misconceptions.diagnose matches them when feedback.py calls it
    match_rtol = misconceptions.match_tolerance(check.diagnose_as, inputs, rtol)
    expected = check.reference(inputs)
    mistakes = [{"id": m.id, "title": m.title, "fix": m.fix, "message": m.message(),
                 "outputs": {n: record.encode_array(a) for n, a in outputs.items()}}
                for m, outputs in misconceptions.fingerprints(check.diagnose_as, inputs, expected,
                                                              match_rtol)]
    return {"inputs": offline.inputs_digest(inputs), "input_dtype": np.dtype(dtype).name,
            "rtol": rtol, "match_rtol": match_rtol,
            "expected": {n: record.encode_array(a) for n, a in expected.items()},
            "mistakes": mistakes}


def judged_by_data(check):
    """Whether the kit judges `check` from precomputed data: its verdict is the default one (a
    comparison with the reference's outputs, and the misconception catalogue)."""
    from grnn_ref.grading.cases import Check

    return type(check).evaluate is Check.evaluate


def visible_case_data():
    """The kit's data file (a dict): every visible case of every check judged by data."""
    from grnn_ref.grading import cases

    checks = {name: {case_id: _case_data(check, case_id) for case_id in check.case_ids()}
              for name, check in sorted(cases.REGISTRY.items()) if judged_by_data(check)}
    return {"format": offline.FORMAT, "checks": checks}


# ---------------------------------------------------------------------- the wheel
def _record_hash(data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _write_zip(path_or_file, files):
    """A zip of {name: bytes}, sorted, with fixed timestamps: identical input, identical bytes."""
    with zipfile.ZipFile(path_or_file, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, files[name])


def wheel_files():
    """(version, {path in the wheel: bytes}) of the kit's package, dist-info excluded."""
    pkg_dir = Path(grnn_ref.__file__).resolve().parent
    files = {f"grnn_ref/{rel}": (pkg_dir / rel).read_bytes() for rel in kernel_side_files(pkg_dir)}
    data = json.dumps(visible_case_data(), sort_keys=True, separators=(",", ":"))
    files[f"grnn_ref/grading/{offline.DATA_FILE}"] = data.encode()
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    version = f"{grnn_ref.__version__}+{digest.hexdigest()[:12]}"
    files["grnn_ref/__init__.py"] = KIT_INIT.format(version=version).encode()
    return version, files


def build_wheel():
    """(file name, bytes) of the kit's wheel: a pure-Python wheel written directly (no build
    backend, nothing downloaded)."""
    version, files = wheel_files()
    info = f"{DIST_NAME}-{version}.dist-info"
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {DIST_NAME.replace('_', '-')}\nVersion: {version}\n"
        f"Summary: The checks of the course 'Gated Recurrent Networks, Demystified' for "
        f"students: grnn_ref.grading without the reference\nRequires-Python: {PYTHON_REQUIRES}\n"
        f"Requires-Dist: numpy\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: grnn_ref.studentkit\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    files[f"{info}/top_level.txt"] = b"grnn_ref\n"
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in sorted(files.items())]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    buf = io.BytesIO()
    _write_zip(buf, files)
    return f"{DIST_NAME}-{version}-py3-none-any.whl", buf.getvalue()


# ---------------------------------------------------------------------- the kit
def released(course_root=COURSE_ROOT):
    """The released assignments: names of exercises/<name>/<name>.ipynb, sorted."""
    root = Path(course_root) / RELEASE_DIR
    return sorted(d.name for d in root.glob("*/") if (d / f"{d.name}.ipynb").is_file())


def _code(notebook):
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"]
            yield "".join(source) if isinstance(source, list) else source


def checks_used(notebook):
    """The checks the notebook's test cells call (visible), in order, each once."""
    from grnn_ref.grading.verify import expected_checks

    found = {}
    for source in _code(notebook):
        for check, hidden in expected_checks(source):
            if not hidden:
                found.setdefault(check.name, check)
    return list(found.values())


def imported_packages(notebook):
    """The OPTIONAL packages the notebook's code imports."""
    code = "\n".join(_code(notebook))
    return [name for name in OPTIONAL
            if re.search(rf"^\s*(import|from)\s+{name}\b", code, re.MULTILINE)]


README = """# {assignment}: the student kit

- `{notebook}`: the exercise. Keep its name: the grading matches submissions by it.
{data_lines}- `{wheel}`: the course's checks (`grnn_ref.grading`), which the notebook's test cells
  call. It holds no solution and no reference implementation.

## Install and open

You need Python 3.11 or newer (`python3 --version`; on Windows `py --version`). Unzip the kit
into a folder for the course, say `grnn-course`: it makes its own folder `{assignment}` there.
Open a terminal in `grnn-course` and run (the first line once for the whole course):

Linux and macOS:

```bash
python3 -m venv .venv
.venv/bin/python -m pip install {assignment}/{wheel} {packages}
{torch_unix}.venv/bin/python -m {front_end} {assignment}/{notebook}
```

Windows (PowerShell or Command Prompt; where `py` is missing, use `python`):

```bat
py -m venv .venv
.venv\\Scripts\\python -m pip install {assignment}\\{wheel} {packages}
{torch_windows}.venv\\Scripts\\python -m {front_end} {assignment}\\{notebook}
```

The last line opens the notebook in your browser; run it again to come back to it. For the next
exercise, unzip its kit into the same `grnn-course` folder and run its last lines (no new
`venv`): its `.whl` file replaces this one. If you already work with Jupyter or VS Code, you can
instead install the `.whl` file and {packages_and} into the Python environment of your kernel
(with `ipykernel` for VS Code).
{plots}
## Running the tests

Each function you write is followed by a test cell that calls a check (`check_...`). Run it
after your function's cell: it runs your function on the visible cases and says `all N visible
cases pass`, or raises `CheckFailed` saying which output differs, by how much, and, when your
output matches a known mistake, which one and how to fix it. The kit judges the visible cases on
your computer from expected outputs computed in advance; the grading runs them again, with
hidden cases (other sizes, float32, a single step, ...).
{answers}
Before you submit, restart the kernel and run all cells (*Kernel > Restart Kernel and Run All
Cells*): every test cell should pass. That is the check to run before submitting (`nbgrader
validate` is not part of the kit).
"""

PLOTS = """
The notebook's *Try it* cells draw their plots with matplotlib when it is installed, and print
their numbers without it. To see the plots, add it (about 100 MB more):
`.venv/bin/python -m pip install matplotlib` (Windows: `.venv\\Scripts\\python -m pip install
matplotlib`), then restart the notebook's kernel.
"""

ANSWERS = """
The kit does not judge the numeric answers ({names}): their expected values are the exercise's
results, so they are not shipped. Their test cells say that your answer is recorded; it is
judged when your notebook is graded.
"""

TORCH = {
    "unix": ".venv/bin/python -m pip install {torch} --index-url {index}   # Linux: the CPU build\n"
            ".venv/bin/python -m pip install {torch}                       # macOS\n",
    "windows": ".venv\\Scripts\\python -m pip install {torch}\n",
}


def readme(assignment, wheel, data_files, checks, extras):
    """The kit's README.md: `data_files` beside the notebook, the `checks` its test cells call,
    the OPTIONAL packages (`extras`) its code imports."""
    # matplotlib only draws the Try-it plots (the cells print their numbers without it): it is
    # offered, not installed by the command, so the kit stays within its size (see the guide)
    packages = ["numpy"] + [OPTIONAL[e] for e in extras if e not in ("torch", "matplotlib")]
    torch = {k: v.format(torch=OPTIONAL["torch"], index=TORCH_CPU_INDEX) if "torch" in extras
             else "" for k, v in TORCH.items()}
    answers = [f"`{c.name}`" for c in checks if c.family == "answer"]
    return README.format(
        assignment=assignment, notebook=f"{assignment}.ipynb", wheel=wheel,
        data_lines="".join(f"- `{n}`: data the notebook reads; keep it beside the notebook.\n"
                           for n in data_files),
        packages=" ".join(packages + [FRONT_END]), front_end=FRONT_END,
        torch_unix=torch["unix"], torch_windows=torch["windows"],
        packages_and=", ".join(f"`{p}`" for p in packages + [OPTIONAL[e] for e in extras
                                                             if e == "torch"]),
        answers=ANSWERS.format(names=", ".join(answers)) if answers else "",
        plots=PLOTS if "matplotlib" in extras else "")


def build_kit(assignment, out_dir, course_root=COURSE_ROOT, wheel=None):
    """Write <out_dir>/<assignment>.zip; returns its path. `wheel`: (name, bytes) from
    build_wheel() to share one build among kits."""
    release = Path(course_root) / RELEASE_DIR / assignment
    notebook_path = release / f"{assignment}.ipynb"
    notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
    checks = checks_used(notebook)
    wheel_name, wheel_bytes = wheel or build_wheel()
    data_files = sorted(p.relative_to(release).as_posix() for p in release.rglob("*")
                        if p.is_file() and p != notebook_path
                        and ".ipynb_checkpoints" not in p.parts)
    files = {f"{assignment}/{name}": (release / name).read_bytes() for name in data_files}
    files[f"{assignment}/{notebook_path.name}"] = notebook_path.read_bytes()
    files[f"{assignment}/{wheel_name}"] = wheel_bytes
    files[f"{assignment}/README.md"] = readme(assignment, wheel_name, data_files, checks,
                                              imported_packages(notebook)).encode()
    out = Path(out_dir) / f"{assignment}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    _write_zip(buf, files)
    if not out.is_file() or out.read_bytes() != buf.getvalue():   # unchanged: left as it is
        out.write_bytes(buf.getvalue())
    return out


def build_kits(out_dir, assignments=None, course_root=COURSE_ROOT):
    """Build the kits of `assignments` (default: every released one); returns their paths."""
    wheel = build_wheel()
    return [build_kit(a, out_dir, course_root, wheel)
            for a in (assignments or released(course_root))]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m grnn_ref.studentkit", description=__doc__.split(
        "\n")[0])
    p.add_argument("--out", default=str(COURSE_ROOT / "_build" / "student-kits"))
    p.add_argument("assignments", nargs="*")
    a = p.parse_args(argv)
    for path in build_kits(a.out, a.assignments or None):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
