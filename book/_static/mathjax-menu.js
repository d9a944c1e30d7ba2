/* MathJax's context menu (right-click on a formula: show it as TeX, copy it, zoom, accessibility
 * settings), loaded the first time a reader asks for it. The menu is 426 kB, more than a third
 * of MathJax; pages load MathJax without it (book/_ext/offline_site.py).
 *
 * On the first right-click on a formula: load ui/menu, put every formula's TeX back, let
 * MathJax rebuild its document (now with the menu's handler) and typeset the page again, then
 * open the menu where the reader clicked. Later right-clicks go to MathJax's own menu. */
(function () {
  "use strict";
  var state = "none";  // none -> loading -> ready
  document.addEventListener("contextmenu", function (event) {
    var math = event.target.closest ? event.target.closest("mjx-container") : null;
    if (!math || state !== "none" || !window.MathJax || !window.MathJax.loader) { return; }
    event.preventDefault();
    event.stopPropagation();
    state = "loading";
    var index = Array.prototype.indexOf.call(document.querySelectorAll("mjx-container"), math);
    window.MathJax.loader.load("ui/menu").then(function () {
      Array.from(window.MathJax.startup.document.math).forEach(function (item) {
        item.removeFromDocument(true);  // true: put the original TeX back in the page
      });
      window.MathJax.startup.getComponents();
      return window.MathJax.typesetPromise();
    }).then(function () {
      state = "ready";
      document.documentElement.dataset.mathjaxMenu = "loaded";
      var again = document.querySelectorAll("mjx-container")[index];
      if (again) {
        again.dispatchEvent(new MouseEvent("contextmenu", {
          bubbles: true, cancelable: true, view: window,
          clientX: event.clientX, clientY: event.clientY, button: 2}));
      }
    }).catch(function (error) {
      state = "none";
      console.error("MathJax menu could not be loaded:", error);
    });
  }, true);
})();
