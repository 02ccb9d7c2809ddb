// Keyboard shortcuts for the queue (listed on the page). A static file, not inline, so the
// Content-Security-Policy can forbid inline script.
//   j / k      next / previous comment, across page edges
//   a / r      approve / reject the current comment
//   1 / 2      cycle the current comment's abusive / off-topic label (as model, yes, no)
//   x          select the current comment for bulk
//   A / R      approve / reject every selected comment (shift+a, shift+r)
//   u          undo the last decision
//   /          search
(function () {
  "use strict";
  function items() { return Array.prototype.slice.call(document.querySelectorAll("li.item")); }
  function current() { return document.querySelector("li.item.current"); }
  function select(li) {
    items().forEach(function (other) { other.classList.remove("current"); });
    li.classList.add("current");
    li.focus();
    li.scrollIntoView({block: "nearest"});
  }
  function follow(id, hash) {
    var link = document.getElementById(id);
    if (link) { window.location.href = link.href + (hash || ""); return true; }
    return false;
  }
  function move(step) {
    var list = items();
    if (!list.length) { return; }
    var index = list.indexOf(current());
    var target = index < 0 ? 0 : index + step;
    // past the last item: the next page, at its first; before the first: the previous page, at its last
    if (target >= list.length && follow("next-page")) { return; }
    if (target < 0 && follow("prev-page", "#last")) { return; }
    select(list[Math.max(0, Math.min(list.length - 1, target))]);
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (el) { el.click(); }
  }
  function decide(action) {
    var li = current();
    if (li) { click("#" + li.id + " form.decide button[value='" + action + "']"); }
  }
  function cycle(name) {
    var li = current();
    var box = li && li.querySelector("form.decide select[name='" + name + "']");
    if (!box) { return; }
    box.selectedIndex = (box.selectedIndex + 1) % box.options.length;
    box.dispatchEvent(new Event("change", {bubbles: true}));
    li.focus();
  }
  function toggle() {
    var li = current();
    var box = li && li.querySelector("input[type=checkbox]");
    if (box) { box.checked = !box.checked; }
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    var handlers = {
      j: function () { move(1); },
      k: function () { move(-1); },
      a: function () { decide("approve"); },
      r: function () { decide("reject"); },
      A: function () { click("#bulk button[value=approve]"); },
      R: function () { click("#bulk button[value=reject]"); },
      "1": function () { cycle("abusive"); },
      "2": function () { cycle("off_topic"); },
      "3": function () { cycle("spam"); },
      x: toggle,
      u: function () { click("#undo-last button[type=submit]"); },
      "/": function () { follow("search-link"); }
    };
    if (handlers[event.key]) { event.preventDefault(); handlers[event.key](); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var list = items();
    if (list.length) { select(window.location.hash === "#last" ? list[list.length - 1] : list[0]); }
  });
}());
