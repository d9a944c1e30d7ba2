/* Make the article header's menu and contents buttons work (served locally like everything else).
 *
 * pydata-sphinx-theme 0.17.1 and sphinx-book-theme 1.3.0 bind their sidebar handlers to
 * `document.querySelector(".primary-toggle")` and `(".secondary-toggle")`: the first such
 * button in the page, which is pydata's navbar icon that sphinx-book-theme hides. The buttons a
 * reader sees, in the article header, have the same classes but no handler, so they did nothing
 * (issue 12). A click on a visible button is passed on to the hidden one, so the themes' own code
 * does what it was written to do: on a wide screen the menu button collapses and restores the
 * left sidebar (sphinx-book-theme), on a narrow one it opens the sidebar as a dialog (pydata),
 * which a tap on the backdrop, Escape or a link closes; the contents button opens the page's
 * table of contents the same way. The buttons also report their state (aria-expanded).
 *
 * tests/test_browser.py clicks them at 1280 px and on a 390x844 phone.
 */
(function () {
  "use strict";

  function bind() {
    var pairs = [
      ["primary", "#pst-primary-sidebar", "#pst-primary-sidebar-modal"],
      ["secondary", "#pst-secondary-sidebar", "#pst-secondary-sidebar-modal"],
    ];
    pairs.forEach(function (pair) {
      var kind = pair[0];
      var hidden = document.querySelector("." + kind + "-toggle");
      var sidebar = document.querySelector(pair[1]);
      var dialog = document.querySelector(pair[2]);
      var visible = document.querySelectorAll(".bd-header-article ." + kind + "-toggle");
      if (!hidden || !sidebar) {
        return;
      }
      var expanded = function () {
        if (dialog && dialog.open) {
          return true;
        }
        if (kind === "primary" && window.matchMedia("(min-width: 992px)").matches) {
          // the class sphinx-book-theme toggles (its visibility changes only after a transition)
          return !sidebar.classList.contains("pst-sidebar-hidden");
        }
        return window.getComputedStyle(sidebar).display !== "none";
      };
      var report = function () {
        var state = expanded() ? "true" : "false";
        visible.forEach(function (button) {
          button.setAttribute("aria-expanded", state);
        });
      };
      visible.forEach(function (button) {
        if (button === hidden) {
          return; // the theme's handler is on this very button: nothing to pass on
        }
        button.setAttribute("aria-controls", sidebar.id);
        button.setAttribute(
          "aria-label",
          kind === "primary" ? "Show or hide the course contents" : "Show the contents of this page"
        );
        button.addEventListener("click", function (event) {
          event.preventDefault();
          event.stopPropagation();
          hidden.click();
          button.blur(); // or its tooltip stays up over the page
          report();
        });
      });
      if (dialog) {
        dialog.addEventListener("close", function () {
          window.setTimeout(report, 0);
        });
      }
      window.addEventListener("resize", report);
      report();
    });
  }

  if (document.readyState === "complete") {
    bind();
  } else {
    // After DOMContentLoaded, when both themes have bound their handlers.
    window.addEventListener("load", bind);
  }
})();
