"""The README's two commands set up a fresh machine: what they install, and where it is named."""
import hashlib
import os
import re
import subprocess
import sys
import sysconfig
import time
from importlib.metadata import distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PACKAGES = ("chromium", "bubblewrap", "postgresql")


def _tracked_files():
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / f for f in out.stdout.splitlines() if (REPO / f).is_file()]


def _makefile_variable(name):
    m = re.search(rf"^{name} :=(.*)$", (REPO / "Makefile").read_text(), re.M)
    assert m, f"the Makefile defines no {name}"
    return m.group(1).split()


def test_the_makefile_names_the_system_packages_the_tests_drive():
    assert tuple(_makefile_variable("SYSTEM_PACKAGES")) == SYSTEM_PACKAGES
    assert _makefile_variable("SYSTEM_COMMANDS") == ["chromium", "bwrap", "pg_ctlcluster"]


def test_the_makefiles_system_step_is_the_only_place_that_installs_system_packages():
    """A second install step (in .ci/run, say) would let CI pass where a newcomer's `make test`
    fails: only the Makefile may run apt-get or name the packages in an install command."""
    install = re.compile(r"apt(-get)?\s+(-\S+\s+)*install")
    offenders = []
    for path in _tracked_files():
        if path.suffix in (".png", ".npz", ".svg", ".ipynb") or path.name == "Makefile":
            continue
        if path.resolve() == Path(__file__).resolve():
            continue   # this file quotes the command in its assertions
        text = path.read_text(errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            if install.search(line) or re.search(r"\bapt-get\b", line) and path.suffix != ".md":
                offenders.append(f"{path.relative_to(REPO)}:{lineno}: {line.strip()}")
    assert not offenders, "system packages installed outside the Makefile:\n" + "\n".join(offenders)


def test_ci_runs_only_the_readmes_test_command():
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    commands = [ln for ln in lines if not ln.startswith(("set ", "cd "))]
    assert commands == ["make test </dev/null"]
    assert "make test" in (REPO / "README.md").read_text()


@pytest.mark.parametrize("target", ["test", "book", "grade"])
def test_make_as_a_normal_user_stops_at_once_with_the_exact_command(target):
    """Without root and without the packages (PATH hides them), `make test` (and `make book`, which
    prints the PDF with Chromium, and `make grade`) stops in seconds, before creating or touching
    the venv, and names the command that brings what is missing."""
    env = {"PATH": "/nonexistent", "HOME": os.environ.get("HOME", "/tmp")}
    start = time.monotonic()
    proc = subprocess.run(["/usr/bin/make", "-C", str(REPO), target, "USER_ID=1000"], env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    took = time.monotonic() - start
    assert proc.returncode != 0
    assert "sudo apt-get update && sudo apt-get install -y chromium bubblewrap postgresql" in proc.stderr
    assert "pip" not in proc.stdout + proc.stderr   # stopped before the venv step
    assert took < 10, f"took {took:.1f} s"


def test_make_test_as_root_with_everything_present_has_nothing_to_install():
    if os.geteuid() != 0:
        pytest.skip("the root path is exercised by make test itself as root")
    proc = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "system"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Installing" not in proc.stdout   # make test already brought them


def test_a_fresh_clone_does_not_reinstall_the_venv(tmp_path):
    """The venv's stamp is named by a hash of requirements.txt and pyproject.toml, not by their
    times, so files newer than the stamp (every file of a fresh clone) do not reinstall."""
    digest = hashlib.sha256((REPO / "requirements.txt").read_bytes()
                            + (REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = REPO / ".venv" / f".installed-{digest}"
    if not stamp.exists():
        pytest.skip("the venv was not installed by make")
    old = time.time() - 3600
    os.utime(stamp, (old, old))   # older than every file of the working tree
    proc = subprocess.run(["make", "-C", str(REPO), "-q", "venv"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, "make would reinstall the venv: " + proc.stdout + proc.stderr


def test_xdist_groups_keep_their_tests_on_one_worker(tmp_path):
    """`make test` relies on --dist loadgroup: one worker builds the site, grades the hostile
    class, ... while the other runs the rest. Run a small suite with this conftest and check
    that a group's tests ran in one process, with its module fixture set up once."""
    import shutil

    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_grouped.py").write_text(
        "import os, pytest\n"
        "pytestmark = pytest.mark.xdist_group('g')\n"
        "SETUPS = []\n"
        "@pytest.fixture(scope='module')\n"
        "def fx():\n"
        "    SETUPS.append(1)\n"
        "    return os.getpid()\n"
        "@pytest.mark.parametrize('i', range(6))\n"
        "def test_in_group(fx, i):\n"
        "    with open('pids.txt', 'a') as f:\n"
        "        f.write(f'{fx} {os.getpid()} {len(SETUPS)}\\n')\n")
    (tmp_path / "test_other.py").write_text(
        "import pytest, time\n"
        "@pytest.mark.parametrize('i', range(12))\n"
        "def test_other(i):\n"
        "    time.sleep(0.02)\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup",
                           "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split() for line in (tmp_path / "pids.txt").read_text().splitlines()]
    assert len(rows) == 6
    assert len({pid for _, pid, _ in rows}) == 1, rows       # one worker ran the group
    assert {setups for _, _, setups in rows} == {"1"}, rows  # and set the fixture up once


def _pins():
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned as name==version"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_the_venv_is_exactly_requirements_txt():
    """The Makefile installs requirements.txt with --no-deps: every installed distribution is
    pinned there at its installed version (grnn_ref itself and pip aside), every pin is
    installed, and the packages it leaves out on purpose are absent."""
    from packaging.specifiers import SpecifierSet

    pins, left_out = _pins(), _makefile_variable("LEFT_OUT")
    # the venv's site-packages only: setuptools puts its vendored copies on sys.path when imported
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version
                 for d in distributions(path=site)}
    installed.pop("grnn-ref", None)
    installed.pop("pip", None)
    unpinned = sorted(set(installed) - set(pins))
    missing = sorted(set(pins) - set(installed))
    wrong = sorted(f"{n} {installed[n]} (pinned {pins[n]})" for n in set(pins) & set(installed)
                   if not SpecifierSet(f"=={pins[n]}").contains(installed[n]))
    assert not unpinned and not missing and not wrong, (
        f"installed but not pinned: {unpinned}; pinned but not installed: {missing}; "
        f"other versions: {wrong}. Run `make venv`.")
    assert not set(left_out) & set(pins), "a LEFT_OUT package is pinned in requirements.txt"
    assert all(n not in installed for n in left_out), left_out


def test_reading_a_notebook_compiles_no_grammar():
    """Why rfc3987-syntax is left out: with it, `import nbformat` (via jsonschema) compiled 38
    lark grammars, 0.9 s of CPU in every process that reads a notebook."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, nbformat; "
         "print(sorted({'lark', 'rfc3987_syntax'} & set(sys.modules)))"],
        capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout
