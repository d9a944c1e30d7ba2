"""Serve only the icons the site shows: a 1.5 MB icon script becomes a few kilobytes.

pydata-sphinx-theme loads Font Awesome's whole SVG+JS bundle (``_static/scripts/fontawesome.js``,
1.49 MB, every free icon) on every page, to draw about fifteen icons: the menu and contents
buttons, search, the light/dark switch, download, full screen, previous/next. It was the largest
file a chapter page loaded (issue 12: 3.7 MB per page).

At ``build-finished`` the icon names the pages use (``fa-bars``, ``fa-magnifying-glass``, ...) are
collected from the written HTML, their SVG paths are read from the theme's own bundle, and the
bundle in the output is replaced by a small script that draws those icons the way Font Awesome
does (an inline ``<svg class="svg-inline--fa">`` in place of each ``<i>``/``<span>``), for the
elements present at load and those added later. An icon name missing from the bundle fails the
build: a button would lose its icon.

The theme's stylesheet also draws about fifteen glyphs of Font Awesome's solid *font* (156 kB)
itself: the icons of admonitions (the light bulb of a tip, the bell of a question), of external
links, of the previous/next arrows, set in its ``--pst-icon-*`` variables. The font is cut to
those glyphs (fontTools, already installed with matplotlib) and written as
``_static/fonts/fa-solid-subset.woff`` (2 kB), which book/_static/course.css declares for the
same family after the theme, so the browser loads it instead of the whole font. The theme's
1,400 rules that give each icon class its glyph (``.fa-bars:before{content:"\f0c9"}``, 86 kB of
its stylesheet) are dropped: the script draws those icons, and course.css blanks ``::before``.

Font Awesome Free (https://fontawesome.com): icons CC BY 4.0, fonts SIL OFL 1.1, code MIT; the
licence notice is kept in the script, and the font's name table (copyright, licence) in the
subset.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

SCRIPT = Path("_static") / "scripts" / "fontawesome.js"
#: Classes that style an icon rather than name one.
STYLE_CLASSES = {"fa-solid", "fa-regular", "fa-brands", "fa-lg", "fa-xs", "fa-sm", "fa-fw",
                 "fa-2x", "fa-3x", "fa-spin", "fa-pulse"}

RUNTIME = """/*! Font Awesome Free (subset: the icons this site shows) - https://fontawesome.com
 * License - https://fontawesome.com/license/free (Icons: CC BY 4.0, Code: MIT License)
 * Written by book/_ext/icon_subset.py from pydata-sphinx-theme's bundle. */
(function () {
  "use strict";
  var ICONS = __ICONS__;
  var style = document.createElement("style");
  style.textContent = ".svg-inline--fa{display:inline-block;height:1em;overflow:visible;"
    + "vertical-align:-.125em;fill:currentColor}.svg-inline--fa.fa-lg{height:1.25em;"
    + "vertical-align:-.2em}";
  document.head.appendChild(style);
  function draw(element) {
    var name = null;
    element.classList.forEach(function (cls) {
      if (ICONS[cls.slice(3)] && cls.indexOf("fa-") === 0) { name = cls.slice(3); }
    });
    if (!name) { return; }
    var icon = ICONS[name];
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    // keep the element's own attributes: the theme's CSS picks icons by them (data-mode)
    Array.prototype.forEach.call(element.attributes, function (attribute) {
      svg.setAttribute(attribute.name, attribute.value);
    });
    svg.setAttribute("viewBox", "0 0 " + icon[0] + " " + icon[1]);
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "svg-inline--fa " + element.className);
    svg.setAttribute("data-icon", name);
    var path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", icon[2]);
    svg.appendChild(path);
    element.replaceWith(svg);
  }
  function drawAll(root) {
    root.querySelectorAll("i[class*='fa-'], span[class*='fa-']").forEach(draw);
  }
  function start() {
    drawAll(document);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.nodeType === 1) {
            if (node.matches("i[class*='fa-'], span[class*='fa-']")) { draw(node); }
            drawAll(node);
          }
        });
      });
    }).observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
"""


def used_icons(outdir: Path) -> set[str]:
    """Icon names (``bars`` for ``fa-bars``) in the classes of the written pages."""
    names = set()
    for page in outdir.rglob("*.html"):
        for classes in re.findall(r'class="([^"]*\bfa-[^"]*)"', page.read_text(encoding="utf-8")):
            names.update(c[3:] for c in classes.split() if c.startswith("fa-") and c not in STYLE_CLASSES)
    return names


def icon_paths(bundle: str, names: set[str]) -> dict[str, list]:
    """{name: [width, height, svg path]} for every name, from Font Awesome's bundle."""
    icons = {}
    for name in sorted(names):
        # "magnifying-glass":[512,512,[...],"f002","M416 ..."] (or bars:[...]: a bare key)
        key = rf'(?<=[{{,])(?:"{re.escape(name)}"|{re.escape(name)})'
        # The bundle holds the brands, regular and solid packs in that order; the site's icons
        # are fa-solid ones, so the last definition of a name is the one drawn.
        matches = list(re.finditer(key + r':\[(\d+),(\d+),\[[^\]]*\],"[0-9a-f]*","([^"]+)"\]', bundle))
        match = matches[-1] if matches else None
        if not match:
            raise ExtensionError(f"icon_subset: the page uses fa-{name}, which the icon bundle lacks")
        icons[name] = [int(match.group(1)), int(match.group(2)), match.group(3)]
    return icons


FONT = Path("_static") / "vendor" / "fontawesome" / "webfonts" / "fa-solid-900.ttf"
THEME_CSS = Path("_static") / "styles" / "pydata-sphinx-theme.css"
SUBSET_FONT = Path("_static") / "fonts" / "fa-solid-subset.woff"
#: The escaped icon-class rules (``.fa-bars:before{content:"\f0c9"}``): drawn by the script.
#: Whole rules only: the selector starts right after the previous rule's ``}``.
ICON_CLASS_RULE = re.compile(
    r'(?:(?<=\})|^)(?:\.fa-[\w-]+:{1,2}(?:before|after),?)+\{content:"[^"]*"\}', re.M)


def stylesheet_glyphs(css: str) -> set[int]:
    """Code points of Font Awesome's private-use area that a stylesheet puts on the page itself
    (not through an icon class, which the script draws as SVG)."""
    rest = ICON_CLASS_RULE.sub("", css)
    return {ord(c) for c in rest if 0xE000 <= ord(c) <= 0xF8FF}


def write_font_subset(font: Path, codepoints: set[int], target: Path) -> int:
    """Write the glyphs of ``codepoints`` that ``font`` has as a WOFF file; return its size."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]  # keep the copyright and licence records
    subsetter = subset.Subsetter(options=options)
    subsetter.populate(unicodes=sorted(codepoints))
    ttf = TTFont(str(font))
    subsetter.subset(ttf)
    ttf.flavor = "woff"  # zlib-compressed: woff2 would need the brotli package
    target.parent.mkdir(parents=True, exist_ok=True)
    ttf.save(str(target))
    return target.stat().st_size


def _theme_bundle() -> str:
    import pydata_sphinx_theme

    path = Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"
    return (path / "scripts" / "fontawesome.js").read_text(encoding="utf-8")


def _on_build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    target = outdir / SCRIPT
    if not target.is_file():
        return
    icons = icon_paths(_theme_bundle(), used_icons(outdir))
    target.write_text(RUNTIME.replace("__ICONS__", json.dumps(icons)), encoding="utf-8")
    map_file = target.with_name(target.name + ".map")
    if map_file.is_file():
        map_file.unlink()  # the bundle's source map no longer matches
    logger.info("icon_subset: %d icon(s) in %s (%d bytes)", len(icons), SCRIPT, target.stat().st_size)
    if (outdir / THEME_CSS).is_file():
        if not (outdir / FONT).is_file():
            raise ExtensionError(f"icon_subset: the theme's icon font {FONT} is missing")
        css = (outdir / THEME_CSS).read_text(encoding="utf-8")
        glyphs = stylesheet_glyphs(css)
        size = write_font_subset(outdir / FONT, glyphs, outdir / SUBSET_FONT)
        logger.info("icon_subset: %d glyph(s) of the icon font in %s (%d bytes)", len(glyphs),
                    SUBSET_FONT, size)
        slimmer = ICON_CLASS_RULE.sub("", css)
        if slimmer != css:
            (outdir / THEME_CSS).write_text(slimmer, encoding="utf-8")
            css_map = (outdir / THEME_CSS).with_name(THEME_CSS.name + ".map")
            if css_map.is_file():
                css_map.unlink()  # the stylesheet's source map no longer matches
            logger.info("icon_subset: %d bytes of icon-class rules dropped from %s",
                        len(css) - len(slimmer), THEME_CSS)


def setup(app: Sphinx) -> dict:
    # Before book_pdf's handler (priority 500) prints the course, so the print page, which
    # loads the site's stylesheets, finds the icon font subset already written.
    app.connect("build-finished", _on_build_finished, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
