/* The site search's ranking and snippets (Sphinx's `html_search_scorer` hook: this file is appended
 * to language_data.js, which every page loads after searchtools.js).
 *
 * Ranking. Sphinx matches a query against headings only when the query is at least half as long as
 * the heading, so "forget gate" never matched the LSTM chapter's "Why the forget gate matters",
 * and pages that merely repeat the words (exercises, the notation page) came first (issue 12).
 * Here a page whose title or one of whose headings contains every word of the query is lifted
 * above pages that only mention them, the more so the more of the heading the query covers (a
 * section titled "Why the forget gate matters" before a long quiz question that mentions the
 * forget gate), and a chapter a little more than other pages.
 *
 * Snippets. Sphinx cuts a result's snippet out of the page's [role=main] element, which in this
 * theme also holds the page's buttons and outline, around the first place of the query's *last*
 * word. The snippet is cut from the article alone, without code cells, their outputs or hidden
 * answers, around the whole query where the page has it.
 */

var Scorer = {
  // Sphinx 7.4's defaults (searchtools.js)
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,

  // added to a result whose page has every query word in its title or a heading ...
  headingBoost: 20,
  // ... plus this much times the share of the heading's length that the query covers
  headingCoverageBoost: 60,
  // and, on top of that, when the page is a chapter (book/NN-...)
  chapterBoost: 5,

  _headings: null,
  _queryWords: () =>
    (new URLSearchParams(window.location.search).get("q") || "")
      .toLowerCase()
      .split(/\s+/)
      .filter((word) => word.length > 1 && !word.startsWith("-")),
  _headingsOf: (docname) => {
    if (Scorer._headings === null) {
      Scorer._headings = {};
      const index = Search._index;
      index.docnames.forEach((name, file) => {
        Scorer._headings[name] = [String(index.titles[file]).toLowerCase()];
      });
      for (const [heading, places] of Object.entries(index.alltitles)) {
        for (const [file] of places) {
          Scorer._headings[index.docnames[file]].push(heading.toLowerCase());
        }
      }
    }
    return Scorer._headings[docname] || [];
  },

  score: (result) => {
    const [docname, , , , score] = result;
    const words = Scorer._queryWords();
    if (words.length === 0 || typeof Search === "undefined" || !Search._index) {
      return score;
    }
    const queryLength = words.join(" ").length;
    const coverages = Scorer._headingsOf(docname)
      .filter((heading) => words.every((word) => heading.includes(word)))
      .map((heading) => Math.min(1, queryLength / heading.length));
    if (coverages.length === 0) {
      return score;
    }
    return (
      score +
      Scorer.headingBoost +
      Scorer.headingCoverageBoost * Math.max(...coverages) +
      (/^book\/\d\d-/.test(docname) ? Scorer.chapterBoost : 0)
    );
  },
};

if (typeof Search !== "undefined") {
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    const article = page.querySelector("article.bd-article") || page.querySelector('[role="main"]');
    if (!article) {
      return "";
    }
    article
      .querySelectorAll(".headerlink, script, style, .cell_input, .cell_output, .toggle-hidden")
      .forEach((element) => element.remove());
    const section = anchor ? article.querySelector(anchor) : null;
    return (section || article).textContent.replace(/\s+/g, " ");
  };

  Search.makeSearchSummary = (htmlText, keywords, anchor) => {
    const text = Search.htmlToText(htmlText, anchor);
    if (text === "") {
      return null;
    }
    const lower = text.toLowerCase();
    const query = (new URLSearchParams(window.location.search).get("q") || "").toLowerCase().trim();
    let at = query ? lower.indexOf(query) : -1;
    if (at < 0) {
      const places = [...keywords].map((k) => lower.indexOf(k.toLowerCase())).filter((i) => i > -1);
      at = places.length ? Math.min(...places) : 0;
    }
    const start = Math.max(at - 120, 0);
    const summary = document.createElement("p");
    summary.classList.add("context");
    summary.textContent =
      (start === 0 ? "" : "...") + text.substr(start, 240).trim() + (start + 240 < text.length ? "..." : "");
    return summary;
  };
}
