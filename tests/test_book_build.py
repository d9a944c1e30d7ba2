"""The website builds with warnings as errors, and everything a page loads comes from the build.

The build is shared with test_site.py and test_browser.py (see site_fixtures.py): it runs
once per test run, with the command of `make book`.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from site_fixtures import (  # noqa: F401 - fixtures are used by name
    NEEDS_SITE,
    REPO,
    RUNSTORE_MISSES,
    built_site,
    released_exercises,
    site_build,
)


pytestmark = NEEDS_SITE

#: Attributes by which a page *loads* something (as opposed to <a href>, a link a reader
#: may follow). Any of these pointing off the site breaks the offline promise.
LOADING_ATTRIBUTES = {
    "script": ("src",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
}
LOADING_LINK_RELS = {"stylesheet", "preload", "modulepreload", "icon", "prefetch", "preconnect"}
REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)


class _LoadedURLs(HTMLParser):
    """Collect (tag, attribute, url) for everything a page loads by itself."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in LOADING_ATTRIBUTES.get(tag, ()):
            if attrs.get(name):
                self.loaded.append((tag, name, attrs[name]))
        if tag == "link" and attrs.get("href"):
            rels = set((attrs.get("rel") or "").lower().split())
            if rels & LOADING_LINK_RELS:
                self.loaded.append((tag, "href", attrs["href"]))


def html_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_the_site_builds_without_a_single_warning(site_build):
    problems = [
        line
        for line in site_build.log.splitlines()
        # Sphinx's "path:line: WARNING: ..." (not the kernel's "[IPKernelApp] WARNING |")
        if re.search(r"(^|[\s:])(WARNING|ERROR|SEVERE|CRITICAL): ", line)
    ]
    assert site_build.ok and not problems, (
        f"`jupyter-book build . -W --keep-going` exited {site_build.returncode} with "
        f"{len(problems)} warning/error line(s):\n" + "\n".join(problems[:40])
    )


def test_the_chapters_took_every_training_run_from_the_store(site_build):
    """A chapter's `book_train` call trains live only when its run is not stored or was stored
    by other training code (grnn_ref/experiments/runstore.py): then the store must be refreshed.
    (A chapter whose execution jupyter-cache kept from an earlier build calls nothing: a clean
    build, as on a fresh clone, checks every chapter.)"""
    lines = (RUNSTORE_MISSES.read_text(encoding="utf-8").splitlines()
             if RUNSTORE_MISSES.is_file() else [])
    misses = [json.loads(line) for line in lines if line.strip()]
    described = [f"{m['reason']}: {m['train_config']}" for m in misses]
    assert not misses, (
        f"{len(misses)} training run(s) of the chapters were trained live during the build:\n"
        + "\n".join(described[:10])
        + "\nrefresh the store with: python -m grnn_ref.experiments chapter-runs "
          f"--log {RUNSTORE_MISSES.relative_to(REPO)}  (then commit grnn_ref/data/chapter_runs/)")


def test_no_page_loads_a_script_style_font_or_image_from_another_host(built_site):
    offenders = []
    for page in html_pages(built_site):
        parser = _LoadedURLs()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, attribute, url in parser.loaded:
            candidates = url.split(",") if attribute == "srcset" else [url]
            if any(REMOTE.match(candidate) for candidate in candidates):
                offenders.append(f"{page.relative_to(built_site)}: <{tag} {attribute}={url!r}>")
    assert not offenders, "pages load from the internet:\n" + "\n".join(offenders)


def test_no_stylesheet_imports_fonts_or_css_from_another_host(built_site):
    remote_css = re.compile(r"(@import\s+(url\()?|url\()\s*['\"]?\s*(https?:)?//", re.IGNORECASE)
    offenders = [
        str(css.relative_to(built_site))
        for css in sorted((built_site / "_static").rglob("*.css"))
        if remote_css.search(css.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not offenders, f"stylesheets reach out to the internet: {offenders}"


def test_mathjax_is_served_from_the_site_itself(built_site):
    mathjax = built_site / "_static" / "mathjax"
    # the loader and every component it loads at once or on demand (the menu)
    for component in ("startup.js", "core.js", "input/tex.js", "output/chtml.js",
                      "output/chtml/fonts/tex.js", "a11y/assistive-mml.js", "ui/menu.js"):
        assert (mathjax / component).is_file(), f"MathJax's {component} is not in _static/mathjax"
    fonts = sorted((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("MathJax_*.woff"))
    assert any(font.name == "MathJax_Main-Regular.woff" for font in fonts), (
        f"MathJax's CHTML fonts are missing from the build (found {len(fonts)})"
    )
    # \boldsymbol and friends are loaded on demand by MathJax's autoload extension.
    assert (mathjax / "input" / "tex" / "extensions" / "boldsymbol.js").is_file()

    pages_with_math = [
        page for page in html_pages(built_site)
        if 'class="math notranslate' in page.read_text(encoding="utf-8")
    ]
    assert pages_with_math, "no page has math; the notation page at least should"
    for page in pages_with_math:
        scripts = _LoadedURLs()
        scripts.feed(page.read_text(encoding="utf-8"))
        sources = [url for tag, _, url in scripts.loaded if tag == "script"]
        assert any(
            re.fullmatch(r"(\.\./)*_static/mathjax/startup\.js(\?.*)?", url) for url in sources
        ), f"{page.relative_to(built_site)} does not load the local MathJax: {sources}"
        assert any(re.fullmatch(r"(\.\./)*_static/mathjax-menu\.js(\?.*)?", url) for url in sources), (
            f"{page.relative_to(built_site)} cannot load MathJax's menu on demand: {sources}"
        )


def test_exercise_pages_are_shown_without_being_run(built_site):
    exercises = released_exercises()
    if not exercises:
        pytest.skip("no exercise has been released into exercises/ yet")
    for notebook in exercises:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        stored_outputs = sum(
            1 for cell in cells if cell["cell_type"] == "code" and cell.get("outputs")
        )
        page = built_site / notebook.relative_to(REPO).with_suffix(".html")
        html = page.read_text(encoding="utf-8")
        assert "Download this exercise" in html, f"{page.name} has no download box"
        kits = re.findall(rf'href="([^"]*/{notebook.stem}\.zip)"', html)
        assert kits, f"{page.name} does not link its student kit {notebook.stem}.zip"
        assert all((page.parent / kit).resolve().is_file() for kit in kits), kits
        # Running a skeleton would add outputs (a NotImplementedError at least).
        shown_outputs = html.count('<div class="cell_output')
        assert shown_outputs == stored_outputs, (
            f"{page.name} shows {shown_outputs} cell output(s) but the released notebook "
            f"stores {stored_outputs}: the exercise was executed during the build"
        )


def _icon_subset():
    import importlib.util

    from site_fixtures import REPO

    spec = importlib.util.spec_from_file_location("icon_subset", REPO / "book" / "_ext" / "icon_subset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_icon_font_is_cut_to_the_glyphs_the_stylesheet_draws(tmp_path):
    """icon_subset keeps the glyphs a stylesheet puts on the page itself (the admonition icons,
    set in variables) and drops whole icon-class rules only, never part of a selector."""
    import pydata_sphinx_theme
    from fontTools.ttLib import TTFont

    icons = _icon_subset()
    css = ('a{b:c}:root{--pst-icon-bell:"\uf0f3";--pst-icon-lightbulb:"\uf0eb"}'
           '.fa-bars:before,.fa-navicon:before{content:"\\f0c9"}.x .fa-q:before{content:"\\f128"}'
           '.fa-star:before{content:"\uf005"}.d{e:f}')
    assert icons.stylesheet_glyphs(css) == {0xF0F3, 0xF0EB}  # the class rules' glyphs are not kept
    assert icons.ICON_CLASS_RULE.sub("", css) == (
        'a{b:c}:root{--pst-icon-bell:"\uf0f3";--pst-icon-lightbulb:"\uf0eb"}'
        '.x .fa-q:before{content:"\\f128"}.d{e:f}')
    theme = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
    font = theme / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.ttf"
    size = icons.write_font_subset(font, {0xF0F3, 0xF0EB}, tmp_path / "subset.woff")
    subset = TTFont(str(tmp_path / "subset.woff"))
    assert subset.flavor == "woff" and set(subset.getBestCmap()) == {0xF0F3, 0xF0EB}
    assert size < 10_000 < font.stat().st_size
