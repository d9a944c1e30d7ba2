"""Keep the website offline: MathJax from the build, no Thebe loader.

The site must work offline (a reader on a train, a classroom without internet).

MathJax comes from the pinned PyPI package ``django-static-mathjax``, which ships the
MathJax 3 ``es5`` distribution under ``<site-packages>/mathjax/static/mathjax/es5``.

At ``build-finished`` the parts of that distribution the pages can load are copied to
``_static/mathjax/`` in the HTML output, and ``mathjax_path`` points at
``mathjax/startup.js`` (Sphinx resolves a path without ``://`` against ``_static``).
MathJax finds its components, fonts and on-demand TeX extensions relative to the script it
was loaded from, so they are served from the same place.

A page loads MathJax's loader and the components the combined ``tex-chtml.js`` is made of
(TeX input with its usual packages, CommonHTML output and its font data, the assistive MathML
that screen readers read), all but one: the context menu (``ui/menu``, 426 kB of the
combined file's 1.16 MB). ``_static/mathjax-menu.js`` loads it the first time a reader
right-clicks a formula and opens it there, so no feature is lost (issue 12: page weight).

pydata-sphinx-theme puts Sphinx's search scripts and the whole search index
(``searchtools.js``, ``language_data.js``, ``searchindex.js``) on every page, for its
search-as-you-type box; that box is off here (the search dialog opens search.html, which
loads them itself), so at ``build-finished`` they are dropped from every other page.

Thebe (live code cells run on Binder) is switched off in ``_config.yml``, but
sphinx-thebe, which Jupyter Book always loads, still puts on every page an inline
script naming its CDN bundle, twice (``const THEBE_JS_URL = "https://unpkg.com/..."``;
the second declaration is a JavaScript error in the reader's console). Those scripts and
sphinx-thebe's files are dropped from every page.
"""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the script lives, relative to ``_static``; also the value of ``mathjax_path``.
MATHJAX_PATH = "mathjax/startup.js"
#: The components startup.js loads at once (it adds ``core`` and the output's font data
#: itself); ``ui/menu`` is loaded on demand by _static/mathjax-menu.js.
MATHJAX_COMPONENTS = ["input/tex", "output/chtml", "a11y/assistive-mml"]

#: The parts of the es5 distribution a page can ask for: the loader and the components
#: it loads (MATHJAX_COMPONENTS, core, the font data), the TeX extensions that ``autoload`` fetches (e.g. ``\boldsymbol``),
#: the CHTML web fonts, and the menu / accessibility / speech modules the MathJax
#: context menu loads on request. The other combined components (SVG output, MathML
#: input) are never referenced by our pages, so they are not copied.
MATHJAX_PARTS = (
    "startup.js",
    "core.js",
    "input/tex.js",
    "output/chtml.js",
    "output/chtml/fonts/tex.js",
    "input/tex/extensions",
    "output/chtml/fonts/woff-v2",
    "ui",
    "a11y",
    "sre",
)


def mathjax_source_dir() -> Path:
    """Return the es5 directory of the installed MathJax 3 distribution."""
    try:
        import mathjax  # the module shipped by django-static-mathjax
    except ImportError as err:  # pragma: no cover - environment problem
        raise ExtensionError(
            "offline_site: the package 'django-static-mathjax' is not installed; "
            "it provides MathJax 3 for the offline site (see requirements.txt)"
        ) from err
    es5 = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise ExtensionError(f"offline_site: no tex-chtml.js under {es5}")
    return es5


def _copy_if_changed(src: Path, dst: Path) -> int:
    """Copy ``src`` to ``dst`` unless an identical file is there; return 1 if copied."""
    if dst.exists() and filecmp.cmp(src, dst, shallow=True):
        return 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return 1


def copy_mathjax(outdir: Path, es5: Path) -> int:
    """Copy the MathJax parts into ``outdir/_static/mathjax``; return files copied."""
    target = outdir / "_static" / "mathjax"
    copied = 0
    for part in MATHJAX_PARTS:
        src = es5 / part
        if src.is_file():
            copied += _copy_if_changed(src, target / part)
            continue
        for file in src.rglob("*"):
            if file.is_file():
                copied += _copy_if_changed(file, target / file.relative_to(es5))
    return copied


def _on_config_inited(app: Sphinx, config) -> None:
    # A CDN URL here would silently break the offline promise, so insist on ours.
    if config.mathjax_path and config.mathjax_path != MATHJAX_PATH:
        raise ExtensionError(
            f"offline_site: mathjax_path is {config.mathjax_path!r}; "
            f"expected {MATHJAX_PATH!r} (MathJax is served from the build, not a CDN)"
        )
    config.mathjax_path = MATHJAX_PATH
    # myst_parser adds its options to this dict later and keeps what is here
    mathjax3_config = dict(config.mathjax3_config or {})
    mathjax3_config["loader"] = {"load": list(MATHJAX_COMPONENTS)}
    config.mathjax3_config = mathjax3_config
    mathjax_source_dir()  # fail early, before any notebook is executed


#: The search scripts the theme adds to every page (its layout.html, block extrahead).
SEARCH_SCRIPT = re.compile(
    r'[ \t]*<script src="[^"]*?(_static/searchtools\.js|_static/language_data\.js|searchindex\.js)'
    r'(\?[^"]*)?"></script>\n?'
)


def drop_search_scripts(outdir: Path, search_as_you_type: bool) -> int:
    """Remove the search scripts from every page but search.html; return pages changed."""
    if search_as_you_type:
        return 0  # the theme's inline search needs them everywhere
    changed = 0
    for page in outdir.rglob("*.html"):
        if page.relative_to(outdir).as_posix() == "search.html":
            continue
        text = page.read_text(encoding="utf-8")
        slimmer = SEARCH_SCRIPT.sub("", text)
        if slimmer != text:
            page.write_text(slimmer, encoding="utf-8")
            changed += 1
    return changed


def _on_build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    copied = copy_mathjax(Path(app.outdir), mathjax_source_dir())
    logger.info("offline_site: %d MathJax file(s) copied to _static/mathjax", copied)
    options = app.config.html_theme_options or {}
    pages = drop_search_scripts(Path(app.outdir), bool(options.get("search_as_you_type")))
    logger.info("offline_site: search scripts dropped from %d page(s) (search.html keeps them)", pages)


def _is_thebe_asset(asset) -> bool:
    filename = getattr(asset, "filename", None) or str(asset) or ""
    body = (getattr(asset, "attributes", None) or {}).get("body", "") or ""
    return "sphinx-thebe" in filename or "THEBE_JS_URL" in body


def _on_html_page_context(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe_asset(asset)]


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _on_config_inited)
    app.connect("build-finished", _on_build_finished)
    # After every other handler has added its files (default priority is 500).
    app.connect("html-page-context", _on_html_page_context, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
