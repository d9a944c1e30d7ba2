"""Show the released exercise notebooks on the site, unexecuted, with a download link.

Design: ``_toc.yml`` lists the exercises with one glob entry, ``exercises/*/*``, so a
notebook the release step has not produced yet is simply absent, and a new one appears
on the next build without editing the toc. The notebooks are parsed by MyST-NB like any
page but excluded from execution (``execute.exclude_patterns`` in ``_config.yml``):
students see the skeleton they will download, with its ``# YOUR CODE HERE`` cells.

This extension adds what the glob alone does not:

* a "Download this exercise" box, inserted after the notebook's title cell when the
  page is read (the notebook file itself is untouched), linking to the exercise's
  student kit: a zip with the notebook, its data files and the checks, which
  ``student_kits`` builds when the build starts and Sphinx copies into ``_downloads/``;
* the ``exercise-list`` directive, which lists the released exercises with their
  chapter and kit download links (used on the Exercises landing page);
* a link from a chapter to an exercise not released yet leads to the Exercises page
  rather than failing the build;
* when exercise notebooks appear or disappear: a re-read of the root document (which
  holds the toctrees) and of every page using ``exercise-list``, because Sphinx only
  re-reads its own glob toctrees, not sphinx-external-toc's; then a rewrite of every
  page, whose sidebars list the exercises.

The ``solutions/`` folder is never read: it is in ``exclude_patterns``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from student_kits import kit_target

logger = logging.getLogger(__name__)

#: Docname of a released notebook: exercises/<name>/<name> (nbgrader's release layout).
EXERCISE_DOCNAME = re.compile(r"^exercises/(?P<name>[^/]+)/(?P=name)$")
#: Exercise names start with the chapter number: ex04_lstm goes with book/04-*.md.
EXERCISE_NUMBER = re.compile(r"^ex(?P<number>\d\d)_")

DOWNLOAD_CELL_ID = "course-site-download"
#: The Exercises landing page (lists the released exercises).
EXERCISES_INDEX = "book/exercises/index"


def released_notebooks(srcdir: Path) -> list[Path]:
    """Return ``exercises/<name>/<name>.ipynb`` files under ``srcdir``, sorted by name."""
    found = []
    for folder in sorted((srcdir / "exercises").glob("*/")):
        notebook = folder / f"{folder.name}.ipynb"
        if notebook.is_file():
            found.append(notebook)
    return found


def notebook_title(notebook: Path) -> str:
    """Return the text of the first Markdown heading in ``notebook`` (or its name)."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return notebook.stem
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else source
        for line in text.splitlines():
            match = re.match(r"^#{1,6}\s+(.*\S)", line)
            if match:
                return match.group(1)
    return notebook.stem


def chapter_for(name: str, srcdir: Path) -> str | None:
    """Return the docname of the chapter an exercise belongs to, e.g. ``book/04-lstm``."""
    match = EXERCISE_NUMBER.match(name)
    if not match:
        return None
    chapters = sorted((srcdir / "book").glob(f"{match.group('number')}-*.md"))
    return f"book/{chapters[0].stem}" if chapters else None


def download_box(name: str) -> str:
    """MyST source of the box put at the top of an exercise page."""
    return "\n".join(
        [
            ":::{admonition} Download this exercise",
            ":class: tip",
            "",
            f"{{download}}`Download the kit {name}.zip <{kit_target(name)}>`: the notebook,",
            "its data files and the checks its test cells call, with a README that says how",
            "to install them and open the notebook in Jupyter (Linux, macOS, Windows).",
            "This page shows the notebook as you receive it: it is not run here.",
            "Fill in the cells marked `# YOUR CODE HERE`, then run the test cells below",
            "them; the {doc}`student guide </book/student-guide>` explains how to set up,",
            "run the visible tests and read the feedback.",
            ":::",
        ]
    )


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    match = EXERCISE_DOCNAME.match(docname)
    if not match:
        return
    try:
        notebook = json.loads(source[0])
    except ValueError:
        return  # not JSON (e.g. a Markdown page in an exercise folder): leave it alone
    cells = notebook.get("cells", [])
    if any(cell.get("id") == DOWNLOAD_CELL_ID for cell in cells):
        return
    cell = {
        "cell_type": "markdown",
        "id": DOWNLOAD_CELL_ID,
        "metadata": {},
        "source": download_box(match.group("name")),
    }
    # After the title cell, so the page still opens with the exercise's own title.
    position = 1 if cells and cells[0].get("cell_type") == "markdown" else 0
    cells.insert(position, cell)
    notebook["cells"] = cells
    source[0] = json.dumps(notebook)


class ExerciseListDirective(SphinxDirective):
    """List the released exercises: title, chapter, page and download links."""

    has_content = False

    def run(self):
        srcdir = Path(self.env.srcdir)
        self.env.exercise_list_docs = getattr(self.env, "exercise_list_docs", set())
        self.env.exercise_list_docs.add(self.env.docname)
        lines = []
        for notebook in released_notebooks(srcdir):
            name = notebook.stem
            self.env.note_dependency(str(notebook))
            chapter = chapter_for(name, srcdir)
            title = notebook_title(notebook)
            line = f"- {{doc}}`{title} </exercises/{name}/{name}>`"
            if chapter:
                line += f", with {{doc}}`/{chapter}`"
            line += f" ({{download}}`{name}.zip <{kit_target(name)}>`)"
            lines.append(line)
        if not lines:
            lines = ["No exercise has been released yet."]
        # Sphinx 7.4: parsed by the document's own parser, so MyST roles work here.
        return self.parse_text_to_nodes("\n".join(lines))


def _on_env_get_outdated(app, env, added, changed, removed) -> set[str]:
    exercise_docs_changed = any(
        EXERCISE_DOCNAME.match(doc) for doc in (set(added) | set(removed))
    )
    if not exercise_docs_changed:
        return set()
    app.exercise_pages_changed = True
    again = set(getattr(env, "exercise_list_docs", set()))
    again.add(app.config.root_doc)
    return {doc for doc in again if doc not in removed}


def _on_env_updated(app, env):
    # Every page's sidebar lists the exercises, but Sphinx rewrites only the pages it
    # re-read; without this, old pages would keep a navigation without the new exercise.
    if getattr(app, "exercise_pages_changed", False):
        return sorted(env.found_docs)
    return []


def _on_missing_reference(app, env, node, contnode):
    """Point a link to an exercise that is not released yet at the Exercises page.

    Chapters link to their exercise with ``{doc}`` (``/exercises/ex04_lstm/ex04_lstm``);
    until the release step has produced that notebook, the link leads to the list of
    released exercises instead of failing the build. Once released, Sphinx resolves the
    link to the exercise itself and this handler is not called.
    """
    if node.get("refdomain") != "std" or node.get("reftype") != "doc":
        return None
    target = node.get("reftarget", "").lstrip("/")
    match = EXERCISE_DOCNAME.match(target)
    if not match or EXERCISES_INDEX not in env.found_docs:
        return None
    logger.info("exercise %s is not released yet: linking to the Exercises page", target)
    reference = nodes.reference("", "", internal=True)
    reference["refuri"] = app.builder.get_relative_uri(node["refdoc"], EXERCISES_INDEX)
    reference.append(contnode)
    return reference


def _on_env_purge_doc(app, env, docname) -> None:
    getattr(env, "exercise_list_docs", set()).discard(docname)


def _on_env_merge_info(app, env, docnames, other) -> None:
    env.exercise_list_docs = getattr(env, "exercise_list_docs", set()) | getattr(
        other, "exercise_list_docs", set()
    )


def setup(app: Sphinx) -> dict:
    app.connect("source-read", _on_source_read)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("env-updated", _on_env_updated)
    app.connect("missing-reference", _on_missing_reference)
    app.connect("env-purge-doc", _on_env_purge_doc)
    app.connect("env-merge-info", _on_env_merge_info)
    app.add_directive("exercise-list", ExerciseListDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
