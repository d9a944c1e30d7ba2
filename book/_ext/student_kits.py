"""Build the student kits with the website, for the exercise pages' download links.

A kit (``grnn_ref.studentkit``) is one zip per released exercise: the notebook, its data
files, a README with the install commands, and the wheel of the kernel-side checks with the
visible cases' expected outputs. When the builder starts, before any page is read, every
released exercise's kit is built into ``_build/student-kits/<name>.zip`` (a few seconds; a kit
whose bytes are unchanged is not rewritten). ``exercise_pages`` links each exercise page to its
kit with Sphinx's ``download`` role, which copies the zip into the site's ``_downloads/``.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the kits are built, relative to the source directory (the course root).
KITS_DIR = "_build/student-kits"


def kit_target(name: str) -> str:
    """The ``download`` role's target of exercise ``name``'s kit (relative to the source dir)."""
    return f"/{KITS_DIR}/{name}.zip"


def _build_kits(app: Sphinx) -> None:
    from grnn_ref import studentkit

    paths = studentkit.build_kits(Path(app.srcdir) / KITS_DIR, course_root=app.srcdir)
    logger.info("student kits: %s", ", ".join(path.name for path in paths) or "none released")


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _build_kits)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
