"""The committed releases in exercises/ are exactly what `nbgrader generate_assignment` makes from
solutions/, and hold no solution code and no hidden tests."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (REPO / "solutions").iterdir()
                     if (p / f"{p.name}.ipynb").exists())


def _cells(nb):
    """What must match: cell type, source and nbgrader metadata (ids and outputs are volatile)."""
    out = []
    for c in nb["cells"]:
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        out.append((c["cell_type"], src, c.get("metadata", {}).get("nbgrader")))
    return out


# one worker runs the module: its module fixture is built once
pytestmark = pytest.mark.xdist_group("release_sync")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    course = tmp_path_factory.mktemp("release")
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions", course / "solutions")
    env = dict(os.environ)
    env.pop("GRNN_GRADEBOOK_URL", None)
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "*", "--force"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course / "exercises"


def test_every_solution_has_a_release():
    released = sorted(p.name for p in (REPO / "exercises").iterdir() if p.is_dir())
    assert released == ASSIGNMENTS
    for a in ASSIGNMENTS:
        assert (REPO / "exercises" / a / f"{a}.ipynb").exists()


@pytest.mark.nbgrader
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_matches_generate_assignment(regenerated, assignment):
    fresh = json.loads((regenerated / assignment / f"{assignment}.ipynb").read_text())
    committed = json.loads((REPO / "exercises" / assignment / f"{assignment}.ipynb").read_text())
    assert _cells(committed) == _cells(fresh), (
        f"exercises/{assignment} is out of date: run "
        f"`.venv/bin/nbgrader generate_assignment {assignment} --force`")
    # data files (e.g. trained weights) are released too, byte for byte
    for f in (REPO / "solutions" / assignment).iterdir():
        if f.is_file() and f.suffix != ".ipynb":
            assert (REPO / "exercises" / assignment / f.name).read_bytes() == f.read_bytes()


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    nb = json.loads((REPO / "exercises" / assignment / f"{assignment}.ipynb").read_text())
    source = json.loads((REPO / "solutions" / assignment / f"{assignment}.ipynb").read_text())
    text = "\n".join(src for _, src, _ in _cells(nb))
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden=True"):
        assert marker not in text
    # no line of a solution region survives in the release's code (the instructions in markdown
    # may quote a formula on purpose)
    code = "\n".join(src for kind, src, _ in _cells(nb) if kind == "code")
    for _, src, meta in _cells(source):
        if not (meta or {}).get("solution"):
            continue
        inside = False
        for line in src.split("\n"):
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 12:
                assert line.strip() not in code, f"solution line in release: {line.strip()!r}"
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
