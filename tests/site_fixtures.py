"""Fixtures and helpers shared by the website tests (test_book_build, test_site, test_browser).

The site is built once per test run, however many pytest-xdist workers ask for it: the
first worker to take the file lock runs ``jupyter-book build . -W --keep-going --all``
(``make book``'s command, re-reading every page) and records the outcome, stamped with the run's id, in
``_build/.site-build-run.json``; every other worker waits on the lock, reads the record
and reuses the build. A record from an earlier run is never trusted, so every run tests
the current sources (the build itself is incremental and its execution cached, so a
rebuild with nothing changed takes seconds).

Import the fixtures into a test module with ``from site_fixtures import ...``.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

REPO = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO / "_build"
HTML_DIR = BUILD_DIR / "html"
SCREENSHOT_DIR = BUILD_DIR / "screenshots"
BUILD_LOCK = BUILD_DIR / ".site-build.lock"
BUILD_RECORD = BUILD_DIR / ".site-build-run.json"
#: Training runs the chapters could not take from grnn_ref/data/chapter_runs/ during this run's
#: build (grnn_ref/experiments/runstore.py), one JSON line each.
RUNSTORE_MISSES = BUILD_DIR / ".runstore-misses.jsonl"
# `make book`'s command plus --all: every page is re-read (notebook execution stays
# cached), so every warning shows up in every run, not only on the run that made it.
BUILD_COMMAND = ["build", ".", "-W", "--keep-going", "--all"]
#: A clean build with the chapters takes a few minutes; waiting workers give up after this.
BUILD_LOCK_TIMEOUT_S = 30 * 60

# pytest-xdist gives every worker of one run the same id; a plain run makes its own.
_RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"local-{uuid.uuid4().hex}"

#: Every test that needs the built site carries this mark. Under `make test`
#: (--dist loadgroup) they all run on one worker, one after the other, so the other worker
#: keeps running the rest of the suite instead of waiting for the build; the file lock
#: above still makes a single build if they are spread over workers (--dist load).
NEEDS_SITE = [pytest.mark.book, pytest.mark.xdist_group("website")]

#: Pages Sphinx writes besides the toc's documents.
EXTRA_PAGES = ("search.html", "genindex.html")


# ---------------------------------------------------------------------------- the toc


def _toc_entries(entries: list[dict]) -> list[tuple[str, str]]:
    """Flatten the ``file``/``glob`` entries of a toc level (and their sections)."""
    out = []
    for entry in entries or []:
        if "file" in entry:
            out.append(("file", entry["file"]))
        elif "glob" in entry:
            out.append(("glob", entry["glob"]))
        out.extend(_toc_entries(entry.get("sections", [])))
    return out


def toc_items() -> list[tuple[str, str]]:
    """Return the toc as ``(kind, value)`` pairs in reading order; kind is file or glob."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    items = [("file", toc["root"])]
    for part in toc.get("parts", []):
        items.extend(_toc_entries(part.get("chapters", [])))
    items.extend(_toc_entries(toc.get("chapters", [])))
    return items


def glob_docnames(pattern: str) -> list[str]:
    """Docnames (paths without suffix) of the source files a toc glob matches, sorted.

    Sphinx's glob ``*`` does not cross ``/``; only .md and .ipynb files are sources.
    """
    depth = pattern.count("/")
    found = []
    for suffix in (".md", ".ipynb"):
        for path in REPO.glob(pattern + suffix):
            docname = path.relative_to(REPO).with_suffix("").as_posix()
            if docname.count("/") == depth and fnmatch.fnmatchcase(docname, pattern):
                found.append(docname)
    return sorted(set(found))


def source_file(docname: str) -> Path | None:
    """The .md or .ipynb source of a docname, or None when neither exists."""
    for suffix in (".md", ".ipynb"):
        path = REPO / f"{docname}{suffix}"
        if path.is_file():
            return path
    return None


def toc_docnames() -> list[str]:
    """Every document of the site in reading (previous/next) order."""
    names: list[str] = []
    for kind, value in toc_items():
        if kind == "file":
            names.append(re.sub(r"\.(md|ipynb)$", "", value))
        else:
            names.extend(glob_docnames(value))
    return names


def released_exercises() -> list[Path]:
    """Released notebooks in nbgrader's layout: exercises/<name>/<name>.ipynb."""
    return sorted(
        folder / f"{folder.name}.ipynb"
        for folder in (REPO / "exercises").glob("*/")
        if (folder / f"{folder.name}.ipynb").is_file()
    )


def page_path(docname: str) -> str:
    """URL path of a docname's page, relative to the site root."""
    return f"{docname}.html"


# ---------------------------------------------------------------------------- the build


@dataclass(frozen=True)
class SiteBuild:
    run_id: str
    returncode: int
    started: float  # time.time() when the build began
    seconds: float
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _run_build() -> SiteBuild:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        pytest.fail(f"jupyter-book not found next to {sys.executable}: run `make venv`")
    RUNSTORE_MISSES.unlink(missing_ok=True)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0",
               GRNN_RUNSTORE_LOG=str(RUNSTORE_MISSES))
    started, start = time.time(), time.monotonic()
    proc = subprocess.run(
        [str(jupyter_book), *BUILD_COMMAND],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)  # drop colour codes
    return SiteBuild(_RUN_ID, proc.returncode, started, time.monotonic() - start, log)


def build_site_once() -> SiteBuild:
    """Build the site unless this run already did; return the build's record."""
    BUILD_DIR.mkdir(exist_ok=True)
    with FileLock(str(BUILD_LOCK), timeout=BUILD_LOCK_TIMEOUT_S):
        if BUILD_RECORD.is_file():
            record = json.loads(BUILD_RECORD.read_text(encoding="utf-8"))
            if record.get("run_id") == _RUN_ID:
                return SiteBuild(**record)
        build = _run_build()
        BUILD_RECORD.write_text(json.dumps(build.__dict__), encoding="utf-8")
        return build


def _log_tail(log: str, lines: int = 60) -> str:
    return "\n".join(log.splitlines()[-lines:])


@pytest.fixture(scope="session")
def site_build() -> SiteBuild:
    """The record of this run's site build (built here if no worker has yet)."""
    return build_site_once()


@pytest.fixture(scope="session")
def built_site(site_build: SiteBuild) -> Path:
    """``_build/html`` as this run's build left it.

    A build with warnings still writes every page (``--keep-going``), and the tests of the
    pages say more about it than one repeated "the build failed"; the warnings themselves
    fail test_book_build.py. Only a build that wrote no site (or left an older one in
    place) fails every test here.
    """
    index = HTML_DIR / "searchindex.js"  # written last, by every build that writes pages
    if not index.is_file() or index.stat().st_mtime < site_build.started:
        pytest.fail(
            "the website build wrote no site (jupyter-book build . -W --keep-going --all, exit "
            f"{site_build.returncode}); end of its log:\n{_log_tail(site_build.log)}",
            pytrace=False,
        )
    return HTML_DIR


# ---------------------------------------------------------------------------- serving


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


@pytest.fixture(scope="session")
def site_url(built_site: Path):
    """Base URL (no trailing slash) of ``_build/html`` served on 127.0.0.1, free port."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
