"""Hand grading and feedback: ex03 (one hand-graded answer) graded once, then looked at.

One course, graded once by the parallel command (module fixture: ana submits the solution, bea the
blank release) and given feedback with `nbgrader generate_feedback`; then

- the summary and the JSON report say that ana waits for hand grading;
- the feedback pages load nothing from the network (MathJax is next to them), typeset the maths
  and wrap long lines in a real (headless) Chromium, and carry no "no result was recorded" lines
  for cases a stopped check never reached;
- formgrader (nbgrader's server extension in `jupyter server`, run from the course root as the
  instructor guide says) lists ana's submission as needing a manual grade, shows the mark scheme
  above her answer, and a manual grade set through its HTTP API on 127.0.0.1 lands in nbgrader's
  gradebook.
"""
import html
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from grnn_ref.autograde import classroom
from grnn_ref.grading import coursekit

pytestmark = [pytest.mark.nbgrader, pytest.mark.xdist_group("autograde_handgrading")]

A = "ex03_vanishing"
CHROMIUM = Path("/usr/bin/chromium")
ENV = dict(os.environ)
ENV.pop("GRNN_GRADEBOOK_URL", None)


def _run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("handgrading") / "course")
    classroom.copy_course(root, [A])
    with open(os.path.join(root, "solutions", A, f"{A}.ipynb")) as f:
        source = json.load(f)
    with open(os.path.join(root, "exercises", A, f"{A}.ipynb")) as f:
        release = json.load(f)
    classroom.submit(root, A, "ana", nbformat.from_dict(
        coursekit.solution_submission(source, release)))
    classroom.submit(root, A, "bea", nbformat.from_dict(release))
    graded = _run([sys.executable, "-m", "grnn_ref.autograde", A, "--no-progress", "-j", "2"],
                  root)
    feedback = _run([sys.executable, "-m", "nbgrader", "generate_feedback", A], root)
    assert feedback.returncode == 0, feedback.stderr[-3000:]
    return {"root": root, "out": graded.stdout + graded.stderr, "rc": graded.returncode}


def _page(course, student):
    return Path(course["root"], "feedback", student, A, f"{A}.html")


def _text(page):
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_a_hand_graded_answer_is_reported_as_pending(course):
    with open(os.path.join(course["root"], f"autograde_report_{A}.json")) as f:
        results = json.load(f)["results"]
    assert results["ana"]["outcome"] == "pending_manual", course["out"]
    assert results["ana"]["score"] == 12.0 and results["ana"]["max_score"] == 15.0
    assert results["bea"]["outcome"] == "graded"
    assert "1 graded, 0 timed out, 0 not valid, 1 pending hand grading" in course["out"]
    assert "PENDING HAND GRADING ana: 12/15" in course["out"], course["out"]
    assert course["rc"] == 0


def test_feedback_pages_have_local_mathjax_wrapping_and_no_noise(course):
    for student in ("ana", "bea"):
        page = _page(course, student)
        source = page.read_text()
        assert "cdnjs" not in source and "https://cdn" not in source
        assert '<script async="" src="mathjax/tex-chtml.js"></script>' in source \
            or '<script src="mathjax/tex-chtml.js" async></script>' in source
        assert (page.parent / "mathjax" / "tex-chtml.js").is_file()
        assert "white-space: pre-wrap" in source
        assert "MARK SCHEME" not in source and "Mark scheme" not in source  # graders only
    text = _text(_page(course, "bea"))
    assert "NotImplementedError" in text
    # the cases a check never reached after one raised are not listed one by one (the noise of
    # two such lines per test cell); a check that never ran at all still says so once
    noise = re.findall(r"case (?:visible-[1-9]|hidden-\d+): no result was recorded", text)
    assert noise == [], noise
    assert text.count("no result was recorded") <= 1  # only the decay-rate cell: NameError


def _open_feedback_page(url):
    """Load the page with every request but file:// refused; returns what the page did."""
    from playwright.sync_api import sync_playwright

    requested, failed = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 700, "height": 900})

            def route(r):
                requested.append(r.request.url)
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    r.abort()
            page.route("**/*", route)
            page.on("requestfailed", lambda req: failed.append(req.url))
            page.goto(url)
            page.wait_for_selector("mjx-container", timeout=60_000)
            n_math = page.evaluate("document.querySelectorAll('mjx-container').length")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        finally:
            browser.close()
    return requested, failed, n_math, overflow


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_feedback_page_typesets_offline_and_wraps_in_a_browser(course):
    # In a thread of its own: Playwright's sync API refuses to start in a thread whose asyncio
    # loop is running, as it is on a pytest-xdist worker that also holds the website tests'
    # browser session open.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        requested, failed, n_math, overflow = pool.submit(
            _open_feedback_page, _page(course, "bea").as_uri()).result()
    assert [u for u in requested if not u.startswith("file://")] == []
    assert failed == []
    assert n_math > 10
    assert overflow <= 1, f"the page is {overflow} px wider than the window"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """`jupyter server` with nbgrader's formgrader, in the course root, on 127.0.0.1."""

    def __init__(self, root):
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
             f"--port={self.port}", "--port-retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={root}"] + (["--allow-root"] if os.getuid() == 0 else []),
            cwd=root, env={**ENV, "JUPYTER_RUNTIME_DIR": os.path.join(root, ".runtime")},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while True:
            try:
                self.get("/formgrader/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    raise RuntimeError("jupyter server with formgrader did not start: "
                                       + self.proc.stderr.read()[-3000:])
                time.sleep(0.5)

    def request(self, path, method="GET", body=None):
        req = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read().decode()

    def get(self, path):
        return self.request(path)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_formgrader_shows_the_mark_scheme_and_records_a_manual_grade(course):
    from nbgrader.api import Gradebook

    root = course["root"]
    server = _Server(root)
    try:
        subs = {s["student"]: s for s in json.loads(server.get(f"/formgrader/api/submissions/{A}"))}
        assert subs["ana"]["needs_manual_grade"] is True
        assert subs["bea"]["needs_manual_grade"] is False
        nbs = {n["student"]: n for n in json.loads(
            server.get(f"/formgrader/api/submitted_notebooks/{A}/{A}"))}
        ana_nb = nbs["ana"]["id"]
        # the grader's page: the mark scheme above ana's answer
        page = html.unescape(re.sub(r"<[^>]+>", "", server.get(f"/formgrader/submissions/{ana_nb}")))
        scheme, answer = page.find("Mark scheme (3 points)"), page.find("The measured rate (about")
        assert 0 <= scheme < answer, "the mark scheme is not shown above the answer"
        grades = {g["name"]: g for g in json.loads(
            server.get(f"/formgrader/api/grades?submission_id={ana_nb}"))}
        written = grades["written_answer"]
        assert written["needs_manual_grade"] is True and written["max_score"] == 3.0
        server.request(f"/formgrader/api/grade/{written['id']}", "PUT",
                       {"manual_score": 2.5, "extra_credit": 0})
    finally:
        server.stop()
    with Gradebook(f"sqlite:///{root}/gradebook.db") as gb:
        sub = gb.find_submission(A, "ana")
        assert gb.find_grade("written_answer", A, A, "ana").manual_score == 2.5
        assert sub.needs_manual_grade is False
        assert float(sub.score) == 14.5
