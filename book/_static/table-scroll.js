// Wide tables scroll sideways inside the theme's table container (on a phone, most do). The
// container's rows paint their own backgrounds, so the scroll shadow that code blocks get from
// course.css would be hidden under them; instead this marks each container with the side(s)
// where more of the table is hidden (scroll-more-left / scroll-more-right), and course.css
// fades that edge. Nothing is marked when the table fits.
(function () {
  "use strict";
  function mark(box) {
    var more = box.scrollWidth - box.clientWidth;
    box.classList.toggle("scroll-more-left", more > 1 && box.scrollLeft > 1);
    box.classList.toggle("scroll-more-right", more > 1 && box.scrollLeft < more - 1);
  }
  function markAll() {
    document.querySelectorAll("article .pst-scrollable-table-container").forEach(mark);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("article .pst-scrollable-table-container").forEach(function (box) {
      box.addEventListener("scroll", function () { mark(box); }, { passive: true });
    });
    markAll();
  });
  window.addEventListener("resize", markAll);
  window.addEventListener("load", markAll);
})();
