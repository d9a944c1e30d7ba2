"""The student kit: from its zip alone, in a fresh virtual environment holding only what its README
installs, a student runs the exercise; the solutions pass every visible case, a planted mistake is
named, the blank release says NotImplementedError, and nothing of the reference is installed.

One kit (ex01) and one virtual environment serve the tests that execute notebooks (pip reaches
the package index: about 15 s). The kit's offline verdicts are also compared with the grader's on
every mistake fingerprint of every check, in this process.
"""
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell

import grnn_ref
from grnn_ref import studentkit
from grnn_ref.autograde.sandbox import kernel_side_files
from grnn_ref.grading import cases, checks, offline, record
from grnn_ref.grading.coursekit import plant, solution_submission
from grnn_ref.grading.misconceptions import BY_ID
from grnn_ref.grading.mutations import MUTATIONS

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ex01_rnn"
MISTAKE = "rnn_state_not_carried"   # in rnn_forward: rnn_step_forward still passes
# Never installed by a kit: the reference, the grader side, the instructors' grading kernel.
REFERENCE = ("grnn_ref.rnn", "grnn_ref.lstm", "grnn_ref.gru", "grnn_ref.gradcheck",
             "grnn_ref.grading.feedback", "grnn_ref.grading.misconceptions",
             "grnn_ref.grading.reference", "grnn_ref.grading.verify", "grnn_ref.autograde")
# The README's front end is replaced by what executes a notebook without a browser.
HEADLESS = ["ipykernel", "nbclient"]

RUNNER = """\
import sys
import nbformat
from nbclient import NotebookClient

path, out, folder = sys.argv[1:]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": folder}}).execute()
nbformat.write(nb, out)
"""
PROBE = """\
import importlib.util, json, sys
import grnn_ref
print(json.dumps({"executable": sys.executable, "grnn_ref": grnn_ref.__file__,
                  "importable": [m for m in %r if importlib.util.find_spec(m)]}))
""" % (REFERENCE,)


# one worker runs the module: its module fixture is built once
pytestmark = pytest.mark.xdist_group("student_kit")


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    """(the zip, the folder it unzips to in an empty directory)."""
    (zip_path,) = studentkit.build_kits(tmp_path_factory.mktemp("kits"), [ASSIGNMENT])
    student = tmp_path_factory.mktemp("student")
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(student)
    return zip_path, student / ASSIGNMENT


def readme_install_line(folder):
    """The Linux/macOS pip command of the README, as a list of its packages."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    (line,) = re.findall(r"^\.venv/bin/python -m pip install (.+)$", text, re.MULTILINE)
    return line.split()


@pytest.fixture(scope="module")
def venv(kit, tmp_path_factory):
    """A fresh venv with the README's packages (its front end replaced by HEADLESS): its python."""
    _, folder = kit
    env_dir = tmp_path_factory.mktemp("venv") / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    packages = [p for p in readme_install_line(folder) if p != studentkit.FRONT_END] + HEADLESS
    proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages],
                          cwd=folder.parent, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return python


def run_in_kit(python, folder, nb, name):
    """Execute `nb` beside the kit's notebook in the venv, with nothing else on the path."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.cells.append(new_code_cell(PROBE))
    path, out = folder / f"{name}.ipynb", folder / f"{name}.out.ipynb"
    nbformat.write(nb, path)
    (folder.parent / "runner.py").write_text(RUNNER)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env["PYTHONNOUSERSITE"] = "1"
    proc = subprocess.run([str(python), "-I", str(folder.parent / "runner.py"), str(path),
                           str(out), str(folder)], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    executed = nbformat.read(out, as_version=4)
    probe = json.loads("".join(o.get("text", "") for o in executed.cells[-1].outputs))
    venv_dir = str(python.parent.parent)
    assert probe["executable"].startswith(venv_dir), probe
    assert probe["grnn_ref"].startswith(venv_dir), f"grnn_ref came from elsewhere: {probe}"
    assert probe["importable"] == [], f"the kit installed the reference: {probe['importable']}"
    return executed.cells[:-1]


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def test_the_kit_holds_the_notebook_a_readme_and_the_checks_but_no_reference(kit):
    zip_path, folder = kit
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    (wheel,) = [n for n in names if n.endswith(".whl")]
    assert names == sorted(["README.md", f"{ASSIGNMENT}.ipynb", wheel])
    assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == (
        REPO / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    with zipfile.ZipFile(folder / wheel) as z:
        packaged = {n[len("grnn_ref/"):] for n in z.namelist() if n.startswith("grnn_ref/")}
        init = z.read("grnn_ref/__init__.py").decode()
    pkg_dir = Path(grnn_ref.__file__).parent
    assert packaged == set(kernel_side_files(pkg_dir)) | {"__init__.py",
                                                          f"grading/{offline.DATA_FILE}"}
    assert "grnn_ref.rnn" not in init and "import grnn_ref.grading" not in init


def test_every_kit_carries_its_release_folder_and_says_how_to_install_on_every_system(tmp_path):
    for path in studentkit.build_kits(tmp_path):
        name = path.stem
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            text = z.read(f"{name}/README.md").decode()
        release = REPO / "exercises" / name
        for f in release.iterdir():   # ex07's trained weights, say
            assert f"{name}/{f.name}" in names, f"{path.name} lacks {f.name}"
        for words in ("Linux and macOS", "python3 -m venv .venv", "Windows", "py -m venv .venv",
                      f".venv\\Scripts\\python -m {studentkit.FRONT_END} {name}\\{name}.ipynb"):
            assert words in text, f"{name}'s README lacks {words!r}"
        nb = (release / f"{name}.ipynb").read_text(encoding="utf-8")
        assert ("torch==2.13.0" in text) == ("import torch" in nb), name
    guide = (REPO / "book" / "student-guide.md").read_text(encoding="utf-8")
    for command in ("python3 -m venv .venv", f"-m pip install ex01_rnn/grnn_kit-*.whl numpy "
                    f"{studentkit.FRONT_END}", f".venv/bin/python -m {studentkit.FRONT_END} "
                    "ex01_rnn/ex01_rnn.ipynb", "py -m venv .venv"):
        assert command in guide, f"the student guide's set-up lacks {command!r}"


def test_a_kit_built_twice_is_the_same_bytes(kit, tmp_path):
    zip_path, _ = kit
    (again,) = studentkit.build_kits(tmp_path, [ASSIGNMENT])
    assert again.read_bytes() == zip_path.read_bytes()


def test_the_kits_verdict_is_the_graders_on_every_mistake_fingerprint(monkeypatch):
    """Offline, the kit judges from stored outputs what the grader judges with the reference:
    same pass/fail, same message, same misconception, on the right answer and on every mistake."""
    data = studentkit.visible_case_data()
    monkeypatch.setattr(offline, "_data", lambda: data)
    compared = 0
    for name, per_case in data["checks"].items():
        check = cases.get_check(name)
        judge = offline.judge(check)
        for case_id, case in per_case.items():
            inputs = check.make_inputs(case_id)
            expected = {k: record.decode_array(v) for k, v in case["expected"].items()}
            tries = [expected] + [
                {**expected, **{k: record.decode_array(v).astype(expected[k].dtype)
                                for k, v in m["outputs"].items()}} for m in case["mistakes"]]
            for outputs in tries:
                kit_verdict = judge(case_id, inputs, outputs)
                grader = check.evaluate(case_id, inputs, outputs)
                assert (kit_verdict.ok, kit_verdict.message) == (grader.ok, grader.message)
                assert (getattr(kit_verdict.misconception, "id", None)
                        == getattr(grader.misconception, "id", None))
                compared += 1
    assert compared > 500


def test_without_the_reference_the_kit_judges_functions_and_records_answers(monkeypatch, capsys):
    from grnn_ref.rnn import rnn_step_forward

    data = studentkit.visible_case_data()
    monkeypatch.setattr(offline, "_data", lambda: data)
    monkeypatch.setattr(checks, "_reference_available", lambda: False)
    checks.check_rnn_step_forward(rnn_step_forward)
    assert "all" in capsys.readouterr().out

    def no_b_hh(x, h_prev, p):
        return rnn_step_forward(x, h_prev, p._replace(b_hh=np.zeros_like(p.b_hh)))
    with pytest.raises(checks.CheckFailed, match="Likely mistake: " + re.escape(
            BY_ID["rnn_missing_b_hh"].title)):
        checks.check_rnn_step_forward(no_b_hh)
    checks.check_ex03_decay_rate(0.93)
    out = capsys.readouterr().out
    assert "0.93 is recorded" in out and "judged when your notebook is graded" in out
    with pytest.raises(checks.CheckFailed, match="not a number"):
        checks.check_ex03_decay_rate(float("nan"))
    # hidden cases: recorded, not judged (as in the grading sandbox)
    checks.check_rnn_step_forward(no_b_hh, hidden=True)


def test_the_solutions_pass_every_visible_case_with_the_kit_alone(kit, venv):
    _, folder = kit
    release = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    cells = run_in_kit(venv, folder, solution_submission(source, release), "solved")
    tests = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert tests
    for cell in cells:
        assert not errors(cell), (grade_id(cell), errors(cell))
    for cell in tests:
        text = "".join(o.get("text", "") for o in cell.outputs)
        assert re.search(r"all \d+ visible cases pass", text), (grade_id(cell), text)


def test_a_planted_mistake_is_named_with_the_kit_alone(kit, venv):
    _, folder = kit
    release = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    (mutation,) = [m for m in MUTATIONS[ASSIGNMENT] if m.expect == MISTAKE]
    cells = {grade_id(c): c for c in run_in_kit(
        venv, folder, plant(solution_submission(source, release), mutation), "mistaken")}
    assert not errors(cells["test_rnn_step_forward"])
    (failure,) = errors(cells["test_rnn_forward"])
    assert failure["ename"] == "CheckFailed"
    assert "rnn_forward is not right yet" in failure["evalue"]
    assert f"Likely mistake: {BY_ID[MISTAKE].title}" in failure["evalue"]


def test_the_blank_release_says_not_implemented_with_the_kit_alone(kit, venv):
    _, folder = kit
    release = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
    cells = run_in_kit(venv, folder, release, "blank")
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            (failure,) = errors(cell)
            assert failure["ename"] == "CheckFailed", failure
            assert "raised NotImplementedError" in failure["evalue"], failure["evalue"]
        elif meta.get("locked"):   # the set-up cells: the kit's imports work
            assert not errors(cell), (grade_id(cell), errors(cell))


def test_the_kit_judges_nothing_in_the_grading_sandbox(monkeypatch, tmp_path):
    """The sandbox stages the modules without the data; even with a data file, it only records."""
    path = tmp_path / offline.DATA_FILE
    path.write_text(json.dumps({"format": offline.FORMAT, "checks": {}}))
    read = offline._data.__wrapped__   # uncached
    assert read(str(path)) is not None
    monkeypatch.setenv("GRNN_GRADING_SANDBOX", "1")
    assert read(str(path)) is None


def test_the_grading_kernel_picked_in_jupyter_runs_nothing_and_says_what_it_is_for(monkeypatch,
                                                                                    tmp_path):
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbformat.v4 import new_notebook

    from grnn_ref.autograde.execute import KERNEL_NAME, GradingKernelSpecManager, kernel_spec_dict

    assert "not for exercises" in kernel_spec_dict()["display_name"]
    for var in ("GRNN_GRADING_SEED", "GRNN_ASSIGNMENT"):   # what the grader alone passes
        monkeypatch.delenv(var, raising=False)
    marker = tmp_path / "ran"
    nb = new_notebook(cells=[new_code_cell(f"open({str(marker)!r}, 'w').close()")])
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=GradingKernelSpecManager())
    NotebookClient(nb, km=km, timeout=60, allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    (failure,) = errors(nb.cells[0])
    assert "instructors' `nbgrader autograde`" in failure["evalue"]
    assert "choose another kernel" in failure["evalue"]
    assert not marker.exists(), "the grading kernel ran a cell outside the grader"
