"""The website read in a real browser: Debian's Chromium, headless, driven by Playwright.

Every page of the toc (plus search and the index) is opened from a server on 127.0.0.1 and
must load with no console error, request nothing from another host, typeset all its math,
and load all its images. Previous/next navigation walks the whole book in toc order and
back; the search page finds a word; each chapter is screenshotted to _build/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from site_fixtures import (  # noqa: F401 - fixtures are used by name
    NEEDS_SITE,
    EXTRA_PAGES,
    SCREENSHOT_DIR,
    built_site,
    page_path,
    site_build,
    site_url,
    toc_docnames,
)

pytestmark = [pytest.mark.browser, *NEEDS_SITE]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Generous: a page waits for MathJax, which typesets long chapters on a busy 2-core box.
PAGE_TIMEOUT_MS = 60_000
#: Chromium cannot paint taller than this in one go; longer pages are cut (only for review).
MAX_SCREENSHOT_HEIGHT = 16_000
#: Pages that are chapters (screenshotted for review): the welcome page and book/NN-*.
CHAPTER = re.compile(r"^book/(intro|\d\d-[^/]+)$")
#: The two screens the site is read on: a laptop and a phone (an iPhone 12-15's CSS viewport).
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
#: How long a toggle may take to show its effect (the themes animate for 0.2-0.4 s).
TOGGLE_TIMEOUT_MS = 5_000
#: Raw math delimiters left in a page's text mean MathJax (or the Markdown parser) missed them.
RAW_MATH = re.compile(r"\$\$|\\\(|\\\[|\\begin\{")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium "
            "(`make system` installs it; `make test` runs that step)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=PAGE_TIMEOUT_MS
        )
        try:
            yield browser
        finally:
            browser.close()


class PageWatch:
    """A browser page that records console errors and every request it makes."""

    def __init__(self, browser, site_url: str, viewport: dict | None = None) -> None:
        self.host = urlsplit(site_url).netloc
        self.context = browser.new_context(viewport=viewport or DESKTOP)
        self.page = self.context.new_page()
        self.page.set_default_timeout(PAGE_TIMEOUT_MS)
        self.errors: list[str] = []
        self.remote_requests: list[str] = []
        self.failed_responses: list[str] = []
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        self.page.on("response", self._on_response)
        self.page.route("**/*", self._route)

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def _on_response(self, response) -> None:
        if response.status >= 400:
            self.failed_responses.append(f"{response.status} {response.url}")

    def _route(self, route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("http", "https") and parts.netloc != self.host:
            self.remote_requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watch(browser, site_url):
    watched = PageWatch(browser, site_url)
    yield watched
    watched.close()


def _wait_for_math(page) -> None:
    """Wait until MathJax (if the page loads it) has typeset everything."""
    if not page.evaluate("() => document.querySelector('.math') !== null"):
        return
    page.wait_for_function(
        "() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise"
    )
    page.evaluate("() => window.MathJax.startup.promise.then(() => true)")


def _load_all_images(page) -> list[dict]:
    """Force lazy images to load, wait for all of them; return their load state."""
    return page.evaluate(
        """async () => {
            const images = [...document.images];
            images.forEach(img => { img.loading = 'eager'; });
            await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
                img.addEventListener('load', done, {once: true});
                img.addEventListener('error', done, {once: true});
            })));
            return images.map(img => ({src: img.currentSrc || img.src,
                                       width: img.naturalWidth, complete: img.complete}));
        }"""
    )


def _screenshot_whole_page(page, target: Path) -> None:
    """Save the whole page as one PNG, as a reader scrolling through it would see it.

    Playwright's ``full_page=True`` shifts this theme's layout sideways (its sidebars are
    sized to the viewport); a viewport as tall as the page renders it as a reader sees it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": min(height, MAX_SCREENSHOT_HEIGHT)})
    try:
        page.screenshot(path=str(target))
    finally:
        page.set_viewport_size(viewport)


PAGES = [page_path(name) for name in toc_docnames()] + list(EXTRA_PAGES)


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_cleanly_offline_with_math_and_images(watch, site_url, path):
    page = watch.page
    response = page.goto(f"{site_url}/{path}", wait_until="load")
    assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
    _wait_for_math(page)

    math_report = page.evaluate(
        """() => {
            const math = [...document.querySelectorAll('.math')];
            const untypeset = math.filter(m => !m.querySelector('mjx-container'))
                                  .map(m => m.textContent.slice(0, 80));
            const errors = [...document.querySelectorAll('mjx-merror')]
                                  .map(e => e.getAttribute('data-mjx-error') || e.textContent);
            // The reader's text, without code (where $$ or \\( may be legitimate).
            const clone = document.querySelector('main, .bd-main, body').cloneNode(true);
            clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight')
                 .forEach(e => e.remove());
            return {count: math.length, untypeset, errors, text: clone.textContent};
        }"""
    )
    assert not math_report["untypeset"], f"{path}: math not typeset: {math_report['untypeset'][:5]}"
    assert not math_report["errors"], f"{path}: MathJax errors: {math_report['errors'][:5]}"
    raw = RAW_MATH.findall(math_report["text"])
    if raw:
        at = RAW_MATH.search(math_report["text"]).start()
        context = math_report["text"][max(0, at - 60): at + 60]
        pytest.fail(f"{path}: raw math delimiters {raw[:5]} in the page text, e.g. ...{context}...")

    images = _load_all_images(page)
    broken = [image["src"] for image in images if not image["complete"] or image["width"] == 0]
    assert not broken, f"{path}: images that did not load: {broken}"

    page.evaluate("() => document.fonts.ready.then(() => true)")
    if CHAPTER.match(path.removesuffix(".html")):
        _screenshot_whole_page(page, SCREENSHOT_DIR / (path.removesuffix(".html").replace("/", "__") + ".png"))

    assert not watch.remote_requests, f"{path}: requests left 127.0.0.1: {watch.remote_requests}"
    assert not watch.failed_responses, f"{path}: failed requests: {watch.failed_responses}"
    assert not watch.errors, f"{path}: console errors:\n" + "\n".join(watch.errors)


def _here(page) -> str:
    return urlsplit(page.url).path.lstrip("/")


def _link_target(page, selector: str) -> str | None:
    """Site path the first ``selector`` link points to (resolved by the browser), or None."""
    link = page.locator(selector)
    if link.count() == 0:
        return None
    return urlsplit(link.first.evaluate("a => a.href")).path.lstrip("/")


def test_previous_and_next_walk_the_book_in_toc_order(watch, site_url):
    page = watch.page
    page.goto(f"{site_url}/", wait_until="load")
    # index.html is a redirect to the welcome page
    page.wait_for_url(re.compile(r".*/book/intro\.html$"))
    expected = [page_path(name) for name in toc_docnames()]

    # Click "next" from the first page to the last; on the way, every "previous" link must
    # point at the page we came from (clicking each would double the walk for no more news).
    visited, previous_links = [_here(page)], [_link_target(page, "a.left-prev")]
    for _ in range(len(expected) + 5):  # a loop in the links must not hang the test
        link = page.locator("a.right-next")
        if link.count() == 0:
            break
        with page.expect_navigation(wait_until="domcontentloaded"):
            link.first.click()
        visited.append(_here(page))
        previous_links.append(_link_target(page, "a.left-prev"))
    assert visited == expected, "the 'next' links do not follow the toc"
    assert previous_links == [None] + expected[:-1], "the 'previous' links do not go back one page"

    with page.expect_navigation(wait_until="domcontentloaded"):
        page.locator("a.left-prev").first.click()
    assert _here(page) == expected[-2], "clicking 'previous' on the last page goes elsewhere"
    assert not watch.remote_requests and not watch.errors, watch.remote_requests + watch.errors


def _wait_for_search(page) -> None:
    """Wait until Sphinx's search has listed every result (it adds them one by one)."""
    page.wait_for_function(
        "() => (document.querySelector('#search-results p.search-summary') || {}).textContent"
        "?.includes('found')",
        timeout=PAGE_TIMEOUT_MS,
    )


def _search(page, site_url: str, query: str) -> list[str]:
    """The links of the search page's results for ``query``, in rank order."""
    page.goto(f"{site_url}/search.html?q={query.replace(' ', '+')}", wait_until="load")
    _wait_for_search(page)
    return page.eval_on_selector_all(
        "#search-results ul.search li a", "links => links.map(a => a.getAttribute('href'))"
    )


def test_search_finds_the_forget_gate(watch, site_url):
    page = watch.page
    hits = _search(page, site_url, "forget")
    assert any("notation" in hit for hit in hits), f"'forget' not found on the notation page: {hits}"
    assert not watch.remote_requests and not watch.errors, watch.remote_requests + watch.errors


def test_search_box_on_a_page_leads_to_results(watch, site_url):
    page = watch.page
    page.goto(f"{site_url}/book/notation.html", wait_until="load")
    page.keyboard.press("Control+k")  # the theme's search shortcut opens its search dialog
    search_input = page.locator("#pst-search-dialog input[name=q]")
    search_input.fill("forget")
    with page.expect_navigation(wait_until="load"):
        search_input.press("Enter")
    assert "search.html" in page.url and "q=forget" in page.url
    page.wait_for_selector("#search-results ul.search li", timeout=PAGE_TIMEOUT_MS)
    assert not watch.remote_requests and not watch.errors, watch.remote_requests + watch.errors


# ------------------------------------------------------------ what a reader touches (issue 12)

CHAPTER_PAGES = [page_path(name) for name in toc_docnames() if CHAPTER.match(name)]


@pytest.fixture
def phone(browser, site_url):
    watched = PageWatch(browser, site_url, viewport=PHONE)
    yield watched
    watched.close()


def _dialog_open(page, dialog_id: str) -> bool:
    return page.evaluate(f"() => document.getElementById('{dialog_id}').open")


def _wait_dialog(page, dialog_id: str, is_open: bool) -> None:
    page.wait_for_function(
        f"() => document.getElementById('{dialog_id}').open === {str(is_open).lower()}",
        timeout=TOGGLE_TIMEOUT_MS,
    )


#: Whether a dropdown shows anything besides its title (sphinx-togglebutton collapses the rest
#: to zero height rather than hiding it).
ANSWER_SHOWN_JS = """window.answerShown = (dropdown) => [...dropdown.children].some(child =>
    !child.classList.contains('admonition-title')
    && child.checkVisibility({opacityProperty: true, visibilityProperty: true})
    && child.getBoundingClientRect().height > 1);"""


@pytest.mark.parametrize("path", CHAPTER_PAGES)
def test_check_your_understanding_answers_stay_hidden_until_asked(watch, site_url, path):
    page = watch.page
    page.goto(f"{site_url}/{path}", wait_until="load")
    page.add_script_tag(content=ANSWER_SHOWN_JS)
    questions = page.evaluate(
        """() => [...document.querySelectorAll('.admonition.dropdown')].map(d => ({
            title: (d.querySelector('.admonition-title') || {}).innerText || '',
            answerShown: window.answerShown(d),
        }))"""
    )
    shown = [q["title"] for q in questions if q["answerShown"]]
    assert not shown, f"{path}: answers visible before the reader asks: {shown}"
    if questions:  # and a click on the question shows its answer
        page.locator(".admonition.dropdown .admonition-title").first.click()
        page.wait_for_function(
            "() => window.answerShown(document.querySelector('.admonition.dropdown'))",
            timeout=TOGGLE_TIMEOUT_MS,
        )
    assert not watch.errors, watch.errors


def test_menu_button_hides_and_restores_the_sidebar_on_a_desktop(watch, site_url):
    page = watch.page
    page.goto(f"{site_url}/book/04-lstm.html", wait_until="load")
    sidebar_visibility = "() => getComputedStyle(document.getElementById('pst-primary-sidebar')).visibility"
    assert page.evaluate(sidebar_visibility) == "visible"
    button = page.locator(".bd-header-article .primary-toggle")
    assert button.is_visible(), "no visible menu button in the article header"
    button.click()
    page.wait_for_function(f"() => ({sidebar_visibility})() === 'hidden'", timeout=TOGGLE_TIMEOUT_MS)
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    page.wait_for_function(f"() => ({sidebar_visibility})() === 'visible'", timeout=TOGGLE_TIMEOUT_MS)
    assert button.get_attribute("aria-expanded") == "true"
    assert page.locator("#pst-primary-sidebar nav.bd-docs-nav a").first.is_visible()
    assert not watch.errors, watch.errors


def _phone_toggle(phone, site_url, kind: str):
    """The LSTM chapter on a phone; its visible ``kind`` ("primary", "secondary") toggle."""
    page = phone.page
    page.goto(f"{site_url}/book/04-lstm.html", wait_until="load")
    button = page.locator(f".bd-header-article .{kind}-toggle")
    assert button.is_visible(), f"no visible {kind} sidebar button on a phone"
    return page, button, f"pst-{kind}-sidebar-modal"


def test_phone_menu_button_opens_the_course_contents_and_closes_again(phone, site_url):
    page, button, dialog_id = _phone_toggle(phone, site_url, "primary")
    assert not page.locator("#pst-primary-sidebar nav.bd-docs-nav a").first.is_visible()

    button.click()
    _wait_dialog(page, dialog_id, True)
    link = page.locator(f"#{dialog_id} nav.bd-docs-nav a", has_text="Gated RNNs compared")
    assert link.first.is_visible(), "the opened menu does not show the chapters"
    box = page.locator(f"#{dialog_id}").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] - 20, (
        f"the menu leaves no backdrop to tap: {box}"
    )
    page.keyboard.press("Escape")
    _wait_dialog(page, dialog_id, False)

    button.click()  # and a tap beside the menu closes it too
    _wait_dialog(page, dialog_id, True)
    page.mouse.click(PHONE["width"] - 5, PHONE["height"] // 2)
    _wait_dialog(page, dialog_id, False)
    # the sidebar's content went back where the theme keeps it
    assert page.locator("#pst-primary-sidebar nav.bd-docs-nav a").count() > 0
    assert not phone.errors and not phone.remote_requests, phone.errors + phone.remote_requests


def test_phone_contents_button_opens_this_pages_outline_and_closes_again(phone, site_url):
    page, button, dialog_id = _phone_toggle(phone, site_url, "secondary")
    button.click()
    _wait_dialog(page, dialog_id, True)
    outline = page.locator(f"#{dialog_id} a", has_text="Why the forget gate matters")
    assert outline.first.is_visible(), "the opened contents do not show the page's sections"
    page.mouse.click(5, PHONE["height"] // 2)
    _wait_dialog(page, dialog_id, False)
    assert not phone.errors and not phone.remote_requests, phone.errors + phone.remote_requests


def test_search_ranks_the_chapter_on_a_term_first_and_shows_text_snippets(watch, site_url):
    page = watch.page
    hits = _search(page, site_url, "forget gate")
    assert hits and "book/04-lstm.html" in hits[0], f"'forget gate' does not lead to the LSTM chapter first: {hits[:6]}"
    page.wait_for_selector("#search-results ul.search li:first-child p.context", timeout=PAGE_TIMEOUT_MS)
    snippet = page.inner_text("#search-results ul.search li:first-child p.context")
    assert "forget" in snippet.lower(), f"the snippet does not show the term: {snippet!r}"
    # page chrome: the download menu (.pdf, .md), the outline's "Contents" heading
    chrome = [word for word in (".pdf", ".ipynb", "Contents", "Toggle", "Ctrl") if word in snippet]
    assert not chrome, f"the snippet shows page chrome {chrome}: {snippet!r}"
    assert not watch.remote_requests and not watch.errors, watch.remote_requests + watch.errors


#: Elements of the article that end past the right edge of the screen and are not inside a
#: container that scrolls sideways (MathJax's assistive MathML is visually hidden: skipped).
OVERFLOWING_JS = """() => {
    const width = document.documentElement.clientWidth;
    const scrolls = (element) => {
        for (let e = element.parentElement; e; e = e.parentElement) {
            const overflow = getComputedStyle(e).overflowX;
            if (overflow === 'auto' || overflow === 'scroll') return true;
        }
        return false;
    };
    return [...document.querySelectorAll('article *')]
        .filter(e => !e.closest('mjx-assistive-mml') && e.checkVisibility())
        .filter(e => e.getBoundingClientRect().right > width + 1 && !scrolls(e))
        .map(e => `<${e.tagName.toLowerCase()} class="${e.className}"> `
                  + `${(e.textContent || '').trim().slice(0, 50)}`);
}"""


@pytest.mark.parametrize("path", CHAPTER_PAGES + ["book/notation.html"])
def test_nothing_runs_off_a_phone_screen(phone, site_url, path):
    page = phone.page
    page.goto(f"{site_url}/{path}", wait_until="load")
    _wait_for_math(page)
    overflowing = page.evaluate(OVERFLOWING_JS)
    assert not overflowing, (
        f"{path} at {PHONE['width']} px: {len(overflowing)} element(s) cut off or wider than the "
        "screen outside a scroll container:\n" + "\n".join(overflowing[:10])
    )
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize(
    "path, figure",
    [("book/04-lstm.html", "forget-gate-slider"), ("book/05-gru.html", "update-gate-slider")],
)
def test_interactive_figure_slider_moves_the_curves_offline(watch, site_url, path, figure):
    page = watch.page
    page.goto(f"{site_url}/{path}", wait_until="load")
    root = page.locator(f"#{figure}")
    root.scroll_into_view_if_needed()
    assert root.locator("svg polyline").count() >= 2, f"{figure}: no curves drawn"
    curves = "lines => lines.map(line => line.getAttribute('points'))"
    before = root.locator("svg polyline").evaluate_all(curves)
    readout = root.locator(".slider-figure-readout").inner_text()
    slider = root.locator("input[type=range]")
    slider.focus()
    page.keyboard.press("ArrowRight")  # as a reader using the keyboard would
    after = root.locator("svg polyline").evaluate_all(curves)
    assert all(a != b for a, b in zip(after, before)), f"{figure}: the slider did not move every curve"
    assert root.locator(".slider-figure-readout").inner_text() != readout
    assert root.locator("output").inner_text() == slider.get_attribute("aria-valuetext")
    figcaption = page.locator(f"figure:has(#{figure}) figcaption .caption-number")
    assert figcaption.count() == 1, f"{figure} has no numbered caption"
    assert not watch.remote_requests and not watch.errors, watch.remote_requests + watch.errors

def test_the_interpretable_cells_render_as_coloured_text(watch, site_url):
    """Chapter 8's cell visualisation: every character a span, coloured by a unit's activation."""
    page = watch.page
    page.goto(f"{site_url}/book/08-char-language-model.html", wait_until="load")
    report = page.evaluate(
        """() => {
            const blocks = [...document.querySelectorAll('pre.charlm-cells')];
            const spans = blocks.flatMap(b => [...b.querySelectorAll('span')]);
            const colours = new Set(spans.map(s => getComputedStyle(s).backgroundColor));
            const box = blocks.length ? blocks[0].getBoundingClientRect() : {height: 0};
            return {blocks: blocks.length, spans: spans.length, colours: colours.size,
                    height: box.height};
        }"""
    )
    assert report["blocks"] >= 2 and report["spans"] >= 1000, report
    assert report["colours"] > 50 and report["height"] > 100, report
    assert not watch.errors, "console errors:\n" + "\n".join(watch.errors)


def test_the_theme_icons_are_drawn_from_the_small_icon_script(watch, site_url):
    page = watch.page
    page.goto(f"{site_url}/book/04-lstm.html", wait_until="load")
    icons = page.evaluate(
        """() => [...document.querySelectorAll('.bd-header-article svg.svg-inline--fa')].map(svg => ({
            icon: svg.dataset.icon, width: svg.getBoundingClientRect().width}))"""
    )
    drawn = {icon["icon"] for icon in icons if icon["width"] > 4}
    assert {"bars", "download", "expand", "sun"} <= drawn, f"icons drawn: {icons}"
    assert not page.locator("i.fa-solid, span.fa-solid").count(), "icons left undrawn"
    assert not watch.errors, watch.errors


# ------------------------------------------------ code blocks, dark mode, figure type (issue 12)

#: Opens every collapsed block (hidden code cells, dropdowns) so that its code is measured too.
OPEN_ALL_DETAILS_JS = "() => document.querySelectorAll('article details').forEach(d => { d.open = true; })"

#: Code blocks (inputs and outputs) of the article that are wider than their box: they scroll.
SCROLLING_CODE_JS = """() => [...document.querySelectorAll('article pre')]
    .filter(pre => pre.checkVisibility() && pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => {
        const lines = pre.textContent.split('\\n');
        const longest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
        return `${pre.scrollWidth} > ${pre.clientWidth} px: ${longest.trim().slice(0, 70)}`;
    })"""


def _edge_shade(page, pre_handle) -> dict:
    """How much darker (light theme) the left and right edges of a code block's top padding
    are than its middle, in 0-255 grey levels, as painted on screen."""
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(pre_handle.screenshot())).convert("L")
    width = image.width
    rows = range(6, 13)  # inside the 16 px top padding: background only, no text

    def mean(x: int) -> float:
        return sum(image.getpixel((x, y)) for y in rows) / len(rows)

    middle = mean(width // 2)
    return {"left": middle - mean(4), "right": middle - mean(width - 5)}


def test_code_that_scrolls_on_a_phone_shows_a_shadow_where_more_is_hidden(phone, site_url):
    """On a phone code scrolls sideways inside its block; a shadow at the edge shows that there
    is more (issue 12: no visible affordance), and moves to the other edge at the end."""
    page = phone.page
    page.goto(f"{site_url}/book/04-lstm.html", wait_until="load")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    blocks = page.locator("article div.cell_input pre")
    scrolling = [i for i in range(blocks.count())
                 if blocks.nth(i).evaluate("p => p.scrollWidth > p.clientWidth + 1")]
    assert scrolling, "no code block scrolls on a phone: nothing to test"
    block = blocks.nth(scrolling[0])
    block.scroll_into_view_if_needed()
    at_start = _edge_shade(page, block)
    block.evaluate("p => { p.scrollLeft = p.scrollWidth; }")
    at_end = _edge_shade(page, block)
    assert at_start["right"] >= 8 and abs(at_start["left"]) < 3, f"at the start: {at_start}"
    assert at_end["left"] >= 8 and abs(at_end["right"]) < 3, f"scrolled to the end: {at_end}"
    assert not phone.errors, phone.errors


TABLE_EDGES_JS = """box => ({more: box.scrollWidth - box.clientWidth,
    left: box.classList.contains('scroll-more-left'),
    right: box.classList.contains('scroll-more-right'),
    mask: getComputedStyle(box).maskImage || getComputedStyle(box).webkitMaskImage})"""


def test_a_wide_table_on_a_phone_fades_the_edge_where_more_is_hidden(phone, site_url):
    """Tables scroll inside the theme's container; the edge with more columns behind it fades
    (table-scroll.js + course.css), on the left once scrolled, and a table that fits is left
    alone."""
    page = phone.page
    page.goto(f"{site_url}/book/06-gated-rnns-compared.html", wait_until="load")
    boxes = page.locator("article .pst-scrollable-table-container")
    states = [boxes.nth(i).evaluate(TABLE_EDGES_JS) for i in range(boxes.count())]
    wide = [i for i, st in enumerate(states) if st["more"] > 1]
    assert wide, "no table scrolls on a phone in chapter 6: nothing to test"
    for i, st in enumerate(states):
        if st["more"] > 1:
            assert st["right"] and not st["left"] and "gradient" in st["mask"], (i, st)
        else:
            assert not st["right"] and not st["left"] and st["mask"] == "none", (i, st)
    box = boxes.nth(wide[0])
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; b.dispatchEvent(new Event('scroll')); }")
    page.wait_for_function("b => b.classList.contains('scroll-more-left')", arg=box.element_handle())
    end = box.evaluate(TABLE_EDGES_JS)
    assert end["left"] and not end["right"] and "gradient" in end["mask"], end
    assert not phone.errors, phone.errors


#: WCAG 2 contrast of every piece of text in the article against what is painted behind it (the
#: first opaque background up the tree, with translucent ones blended over it), and whether
#: every image sits on a light background: its own (opaque light corners, read back through a
#: canvas) or the page's behind it. Math (coloured like its paragraph) and the text inside SVG
#: figures (drawn on the figure's own white) are not walked.
READABILITY_JS = """() => {
    const parse = (s) => {
        const m = (s || '').match(/rgba?\\(([^)]+)\\)/);
        if (!m) return null;
        const p = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const luminance = (c) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const ratio = (a, b) => {
        const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
        return (hi + 0.05) / (lo + 0.05);
    };
    const behind = (element) => {
        const layers = [];
        for (let e = element; e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
        }
        let colour = [255, 255, 255, 1];  // the canvas of a page that paints nothing
        for (let i = layers.length - 1; i >= 0; i--) {
            const [r, g, b, a] = layers[i];
            colour = [r * a + colour[0] * (1 - a), g * a + colour[1] * (1 - a), b * a + colour[2] * (1 - a), 1];
        }
        return colour;
    };
    const ownText = (e) => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const poor = [];
    let texts = 0;
    for (const e of document.querySelectorAll('article *')) {
        if (e.closest('mjx-container, svg, script, style') || !ownText(e)) continue;
        if (!e.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
        texts += 1;
        const fg = parse(getComputedStyle(e).color);
        const bg = behind(e);
        const r = ratio(fg, bg);
        if (r < 4.5) poor.push(`${r.toFixed(2)}:1 <${e.tagName.toLowerCase()} class="${e.className}"> `
                               + `${e.textContent.trim().slice(0, 40)} (${fg} on ${bg.map(Math.round)})`);
    }
    const images = [...document.querySelectorAll('article img')].filter(i => i.checkVisibility());
    const dark = images.filter(img => {
        if (luminance(behind(img)) >= 0.8) return false;
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const corners = [[1, 1], [canvas.width - 2, 1], [1, canvas.height - 2], [canvas.width - 2, canvas.height - 2]];
        return !corners.every(([x, y]) => {
            const [r, g, b, a] = ctx.getImageData(x, y, 1, 1).data;
            return a === 255 && luminance([r, g, b]) >= 0.8;
        });
    }).map(img => img.getAttribute('src'));
    return {mode: document.documentElement.dataset.mode, theme: document.documentElement.dataset.theme,
            texts, poor, images: images.length, dark};
}"""


def _choose_colour_mode(page, mode: str) -> None:
    """Click the theme's light/dark switch until it is set to ``mode`` (light, dark or auto)."""
    button = page.locator(".theme-switch-button").first
    for _ in range(3):
        if page.evaluate("() => document.documentElement.dataset.mode") == mode:
            break
        button.click()
    assert page.evaluate("() => document.documentElement.dataset.mode") == mode, f"no {mode} mode"
    # the theme fades colours over a few tenths of a second: measure the colours it ends with
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter(a => a.effect && a.effect.getTiming().iterations !== Infinity)
        .map(a => a.finished)).then(() => true)""")


def _assert_readable(report: dict, path: str, theme: str) -> None:
    assert report["theme"] == theme, f"{path}: the page is in the {report['theme']} theme, not {theme}"
    assert report["texts"] > 50, f"{path}: only {report['texts']} pieces of text found"
    assert not report["poor"], (
        f"{path} ({theme}): {len(report['poor'])} text(s) below 4.5:1 contrast:\n"
        + "\n".join(report["poor"][:15])
    )
    assert not report["dark"], f"{path} ({theme}): images on a dark background: {report['dark']}"


def test_a_system_dark_preference_is_followed_in_auto_mode_and_stays_readable(browser, site_url):
    """With the switch on auto the page follows the reader's system (prefers-color-scheme: dark);
    the light theme, the default, is checked the same way."""
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(f"{site_url}/book/08-char-language-model.html", wait_until="load")
        _load_all_images(page)
        _assert_readable(page.evaluate(READABILITY_JS), "chapter 8, default mode", "light")
        _choose_colour_mode(page, "auto")
        _assert_readable(page.evaluate(READABILITY_JS), "chapter 8, auto mode", "dark")
    finally:
        context.close()


#: Issue 12's goal for a chapter page, everything it loads counted (HTML, scripts, styles, fonts,
#: images, MathJax's components and fonts), as the browser received it (no compression here).
PAGE_WEIGHT_GOAL_MB = 2.0


@pytest.fixture(scope="module")
def weight_report():
    """_build/page-weight-browser.txt, emptied once per run; the tests add a line per page."""
    report = SCREENSHOT_DIR.parent / "page-weight-browser.txt"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("", encoding="utf-8")
    return report


def test_the_mathjax_menu_is_loaded_when_a_reader_right_clicks_a_formula(watch, site_url):
    """The context menu is not part of the page's weight, but it is still there when asked for."""
    page = watch.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{site_url}/book/04-lstm.html", wait_until="load")
    _wait_for_math(page)
    assert not [url for url in requested if "ui/menu.js" in url], "the menu was loaded at once"
    count = page.locator("mjx-container").count()
    formula = page.locator("mjx-container").nth(2)
    formula.scroll_into_view_if_needed()
    formula.click(button="right")
    page.wait_for_selector(".CtxtMenu_Menu", timeout=PAGE_TIMEOUT_MS)
    items = page.locator(".CtxtMenu_Menu .CtxtMenu_MenuItem").all_inner_texts()
    assert any("Show Math As" in item for item in items), items
    assert [url for url in requested if "ui/menu.js" in url]
    # the page was typeset again with the menu: every formula is still there, none left as TeX
    assert page.locator("mjx-container").count() == count
    assert page.evaluate("() => [...document.querySelectorAll('.math')]"
                         ".every(m => m.querySelector('mjx-container'))")
    page.keyboard.press("Escape")
    assert not watch.errors and not watch.remote_requests, watch.errors + watch.remote_requests


#: Smallest type a plot may show at 100% zoom on a laptop (1280 px), in CSS pixels: the book's
#: style sets 9.5-11 pt for a figure drawn at 6.4-9 inches; scaled to the column it must stay
#: this large (issue 12 found legends and ticks of two-panel figures at about 6 px).
MIN_FIGURE_TEXT_PX = 9.0
#: matplotlib draws each text of an SVG as glyph paths in a group scaled by font size / 100
#: (flipped: ``scale(s -s)``); sub- and superscripts are nested, relative scales (not matched).
SVG_TEXT_SCALE = re.compile(r'transform="translate\([^)]*\) scale\(([\d.]+) -([\d.]+)\)"')
SVG_VIEWBOX = re.compile(r'viewBox="0 0 ([\d.]+) ([\d.]+)"')


def svg_text_sizes(svg: str) -> tuple[float, list[float]]:
    """(width of the figure in its own units, font sizes of its texts in those units)."""
    box = SVG_VIEWBOX.search(svg)
    assert box, "not a matplotlib SVG: no viewBox"
    return float(box.group(1)), [round(100 * float(a), 3) for a, b in SVG_TEXT_SCALE.findall(svg) if a == b]


def test_svg_text_sizes_reads_matplotlib_type():
    import matplotlib

    matplotlib.use("Agg")
    from io import StringIO

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_xlabel("steps", fontsize=13)
    ax.set_title(r"$\sigma_{\max}$ falls", fontsize=7)
    buffer = StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    width, sizes = svg_text_sizes(buffer.getvalue())
    assert width == 288  # 4 inches of 72 pt
    assert 13 in sizes and 7 in sizes and min(sizes) == 7


def _page_weight(path: str, sizes: dict, weight_report: Path) -> list[str]:
    """Issue 12's page weight goal, with the line written to _build/page-weight-browser.txt."""
    total = sum(sizes.values()) / 1e6
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:3]
    line = (f"{path:40s} {total:5.2f} MB in {len(sizes):3d} files; largest: "
            + ", ".join(f"{urlsplit(url).path.rsplit('/', 1)[-1]} {size / 1e3:.0f} kB" for url, size in largest))
    print(line)
    with open(weight_report, "a", encoding="utf-8") as report:
        report.write(line + "\n")
    problems = [] if total < PAGE_WEIGHT_GOAL_MB else [f"weighs {line} (goal: under {PAGE_WEIGHT_GOAL_MB} MB)"]
    if any("mathjax/ui/menu.js" in url for url in sizes):
        problems.append("the MathJax menu was loaded unasked")
    if any("fa-solid-900" in url for url in sizes):
        problems.append("the whole icon font was loaded")
    return problems


def _plot_text(page, built_site: Path, path: str) -> list[str]:
    """Plots whose smallest text, as shown, is under MIN_FIGURE_TEXT_PX."""
    plots = page.evaluate(
        """() => [...document.querySelectorAll('article div.cell_output img')]
            .filter(img => /\\.svg$/.test(img.getAttribute('src')))
            .map(img => ({src: img.getAttribute('src'), width: img.getBoundingClientRect().width}))"""
    )
    small, report = [], []
    for plot in plots:
        svg = (built_site / Path(path).parent / plot["src"]).resolve().read_text(encoding="utf-8")
        width, sizes = svg_text_sizes(svg)
        if not sizes:
            small.append(f"{plot['src']}: no text found")
            continue
        px = min(sizes) * plot["width"] / width
        report.append(f"{plot['src'].rsplit('/', 1)[-1][:12]}: {px:.1f} px")
        if px < MIN_FIGURE_TEXT_PX:
            small.append(f"plot text {report[-1]} (under {MIN_FIGURE_TEXT_PX} px)")
    print(f"{path}: smallest plot text: " + ", ".join(report))
    return small


@pytest.mark.parametrize("path", CHAPTER_PAGES)
def test_a_chapter_page_reads_well_at_desktop_width(watch, site_url, built_site, path, weight_report):
    """One visit per chapter page at 1280 px, four checks (issue 12), all reported together:

    - weight: every response the page needs until its math is typeset and its images loaded,
      as Chromium received it, under 2 MB (MathJax's menu and the whole icon font not among them);
    - plot text: each plot's smallest text (ticks, legends), as the page scales the figure, is
      at least MIN_FIGURE_TEXT_PX (on a phone every figure is scaled to the screen; readers zoom);
    - code: no code block, shown or collapsed, input or output, scrolls sideways (issue 12: 42
      of 64 did; the chapters keep code lines to 76 characters, what the 684 px column holds);
    - light and dark mode (the theme's switch set to dark): every text has a contrast of at
      least 4.5:1 and every image keeps a light background, so the plots' black labels stay
      readable.
    """
    page = watch.page
    sizes: dict[str, int] = {}

    def record(response) -> None:
        try:
            sizes[response.url] = len(response.body())
        except Exception:  # a redirect or an aborted request has no body
            sizes.setdefault(response.url, 0)

    page.on("response", record)
    page.goto(f"{site_url}/{path}", wait_until="load")
    _wait_for_math(page)
    _load_all_images(page)
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.wait_for_load_state("networkidle")
    problems = _page_weight(path, sizes, weight_report)
    if page.locator("article .admonition-title").count():  # its icon is drawn from the subset
        if not any(url.endswith("fonts/fa-solid-subset.woff") for url in sizes) or not page.evaluate(
                "() => [...document.fonts].some(f => f.family.includes('Font Awesome') && f.status === 'loaded')"):
            problems.append("the admonitions' icon font (the subset) did not load")
    if re.search(r"/\d\d-", path):
        problems += _plot_text(page, built_site, path)

    page.evaluate(OPEN_ALL_DETAILS_JS)
    scrolling = page.evaluate(SCROLLING_CODE_JS)
    print(f"{path}: {len(scrolling)} code block(s) scroll sideways at {DESKTOP['width']} px")
    problems += [f"code block wider than the column: {block}" for block in scrolling]

    for mode in ("light", "dark"):  # the site opens in light mode; then the switch to dark
        _choose_colour_mode(page, mode)
        report = page.evaluate(READABILITY_JS)
        if report["theme"] != mode or report["texts"] < 50:
            problems.append(f"{mode} mode: theme {report['theme']}, {report['texts']} texts found")
        problems += [f"{mode} mode, contrast {poor}" for poor in report["poor"][:15]]
        problems += [f"{mode} mode, image on a dark background: {src}" for src in report["dark"]]
    assert not problems, f"{path} at {DESKTOP['width']} px:\n" + "\n".join(problems)
    assert not watch.errors and not watch.remote_requests, watch.errors + watch.remote_requests
