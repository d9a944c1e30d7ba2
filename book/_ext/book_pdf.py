"""The whole course as one PDF, printed by Chromium from the built site (no LaTeX).

At ``build-finished`` (HTML builder) the pages a reader reads in order, the welcome page, the
chapters (``book/NN-*`` in toc order), the notation page and the bibliography, are joined into one
print page, ``_static/print/course.html``: the article of each page, under the site's own
stylesheets and MathJax, with the answers of the "Check your understanding" questions moved to an
appendix at the end (in the chapters they stay closed; on paper they would be in plain view).
Debian's Chromium, driven by Playwright as in the browser tests, opens that page from a local
server, waits for MathJax, and prints it to ``_static/<PDF_NAME>``, which the welcome page links.

The PDF is printed again only when the print page's content changed (printing takes tens of
seconds; the build rewrites every page each time). Without Chromium the build warns (and ``-W`` fails it): the site would link a PDF it
does not have.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from bs4 import BeautifulSoup
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

PDF_NAME = "gated-recurrent-networks-demystified.pdf"
PRINT_PAGE = "_static/print/course.html"
CHROMIUM = Path("/usr/bin/chromium")
#: Printing waits for MathJax on a page of every chapter at once: generous on a busy machine.
PRINT_TIMEOUT_MS = 300_000


def pdf_documents(toc_file: Path) -> list[str]:
    """Docnames joined into the PDF, in reading order."""
    toc = yaml.safe_load(toc_file.read_text(encoding="utf-8"))
    files = []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(re.sub(r"\.(md|ipynb)$", "", entry["file"]))
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    chapters = [name for name in files if re.fullmatch(r"book/\d\d-[^/]+", name)]
    extras = [name for name in ("book/notation", "book/bibliography") if name in files]
    return [toc["root"], *chapters, *extras]


def _answers_to_appendix(article, soup, chapter: str, answers: list) -> None:
    """Move each dropdown question's answer out of the chapter into ``answers``."""
    for dropdown in article.select("div.admonition.dropdown"):
        title = dropdown.select_one(".admonition-title")
        number = len(answers) + 1
        body = [child for child in list(dropdown.children) if child is not title]
        answers.append((chapter, copy.copy(title), [child.extract() for child in body]))
        dropdown["class"] = ["admonition", "print-question"]
        note = soup.new_tag("p")
        note.string = f"Answer {number}, in the appendix."
        dropdown.append(note)


def write_print_page(outdir: Path, docnames: list[str]) -> Path:
    """Join the pages' articles into one print page; return its path."""
    pages = {name: outdir / f"{name}.html" for name in docnames}
    shell = BeautifulSoup(pages[docnames[0]].read_text(encoding="utf-8"), "html.parser")
    # The print page lives in _static/print/; every joined page lives in book/.
    base = shell.new_tag("base", href="../../book/")
    shell.head.insert(0, base)
    target = shell.select_one("article.bd-article")
    target.clear()
    answers: list = []
    for name in docnames:
        page = BeautifulSoup(pages[name].read_text(encoding="utf-8"), "html.parser")
        article = page.select_one("article.bd-article")
        heading = article.find("h1")
        chapter = heading.get_text(" ", strip=True).rstrip("#").strip() if heading else name
        _answers_to_appendix(article, shell, chapter, answers)
        section = shell.new_tag("section", attrs={"class": "print-page", "data-page": name})
        for child in list(article.children):
            section.append(child.extract())
        target.append(section)
    appendix = shell.new_tag("section", attrs={"class": "print-page", "id": "answers"})
    title = shell.new_tag("h1")
    title.string = "Appendix: answers to the questions"
    appendix.append(title)
    for number, (chapter, question, body) in enumerate(answers, start=1):
        box = shell.new_tag("div", attrs={"class": "admonition print-answer"})
        question["class"] = ["admonition-title"]
        prefix = shell.new_string(f"{number}. {chapter}: ")
        question.insert(0, prefix)
        box.append(question)
        for child in body:
            box.append(child)
        appendix.append(box)
    target.append(appendix)
    for image in shell.find_all("img"):
        image.attrs.pop("loading", None)  # a lazy image is not loaded before printing
    style = shell.new_tag("style")
    style.string = (
        ".print-page { break-before: page; } .print-page:first-child { break-before: auto; }"
        " .print-answer { break-inside: avoid; }"
        # the theme hides a page's h1 in print (it prints the title in a header instead)
        " @media print { .print-page h1 { display: block !important; } }"
    )
    shell.head.append(style)
    path = outdir / PRINT_PAGE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(shell), encoding="utf-8")
    return path


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


def print_pdf(outdir: Path, pdf: Path) -> None:
    """Print the print page with Chromium (served from 127.0.0.1, as the browser tests do)."""
    from playwright.sync_api import sync_playwright

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(outdir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            try:
                page = browser.new_page()
                page.set_default_timeout(PRINT_TIMEOUT_MS)
                page.route(
                    "**/*",
                    lambda route: route.continue_()
                    if route.request.url.startswith(("http://127.0.0.1", "data:"))
                    else route.abort(),
                )
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/{PRINT_PAGE}", wait_until="load")
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
                page.evaluate("() => MathJax.startup.promise.then(() => document.fonts.ready).then(() => true)")
                page.emulate_media(media="print")
                page.pdf(
                    path=str(pdf),
                    format="A4",
                    print_background=True,
                    margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=(
                        '<div style="font-size:8px;width:100%;text-align:center">'
                        '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
                    ),
                )
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


def _on_build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    docnames = pdf_documents(Path(app.srcdir) / "_toc.yml")
    pdf = outdir / "_static" / PDF_NAME
    page = write_print_page(outdir, docnames)
    # The pages are rewritten by every build; print again only when what they say changed.
    digest = hashlib.sha256(page.read_bytes()).hexdigest()
    stamp = page.with_suffix(".sha256")
    if pdf.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        logger.info("book_pdf: %s is up to date", PDF_NAME)
        return
    if not CHROMIUM.exists():
        logger.warning("book_pdf: %s is missing, so %s was not printed", CHROMIUM, PDF_NAME)
        return
    print_pdf(outdir, pdf)
    stamp.write_text(digest + "\n")
    logger.info("book_pdf: printed %s (%d pages joined)", PDF_NAME, len(docnames))


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", _on_build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
