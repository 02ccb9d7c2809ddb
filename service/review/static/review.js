// Keyboard shortcuts for the queue: j / k move, a approves, r rejects, x selects for bulk.
// A static file (not inline) so the Content-Security-Policy can forbid inline script.
(function () {
  "use strict";
  function items() { return Array.prototype.slice.call(document.querySelectorAll("li.item")); }
  function current() { return document.querySelector("li.item.current"); }
  function move(step) {
    var list = items();
    if (!list.length) { return; }
    var index = list.indexOf(current());
    var next = list[Math.max(0, Math.min(list.length - 1, index < 0 ? 0 : index + step))];
    list.forEach(function (li) { li.classList.remove("current"); });
    next.classList.add("current");
    next.focus();
    next.scrollIntoView({block: "nearest"});
  }
  function decide(action) {
    var li = current();
    if (!li) { return; }
    var button = li.querySelector("form.decide button[value='" + action + "']");
    if (button) { button.click(); }
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
      x: function () { var li = current(); if (li) { var box = li.querySelector("input[type=checkbox]"); box.checked = !box.checked; } }
    };
    if (handlers[event.key]) { event.preventDefault(); handlers[event.key](); }
  });
  document.addEventListener("DOMContentLoaded", function () { if (items().length) { move(0); } });
}());
