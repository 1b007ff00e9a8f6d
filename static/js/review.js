// The review queue (templates/training/review.html): keyboard triage like the Data
// page. j/k move; a accepts, n marks None, s skips, d discards, l or Enter opens the
// label palette, 1-9 label with the Data page's intent keys. Each action posts the
// row's form through htmx and gets the queue back without the item; actions run one
// after the other, each on the row that is current when its turn comes, so fast
// typing never acts twice on the same item.
(function () {
  "use strict";

  var currentIndex = 0;
  var queue = Promise.resolve();

  function section() { return document.getElementById("review-queue"); }
  function canLabel() { var s = section(); return s && s.dataset.canLabel === "true"; }
  function rows() {
    var s = section();
    return s ? Array.prototype.slice.call(s.querySelectorAll("tr.review-row")) : [];
  }
  function currentRow() { return rows()[currentIndex] || null; }

  function setCurrent(index, focus) {
    var list = rows();
    list.forEach(function (row) { row.classList.remove("is-current"); });
    if (!list.length) { currentIndex = 0; return; }
    currentIndex = Math.max(0, Math.min(index, list.length - 1));
    var row = list[currentIndex];
    row.classList.add("is-current");
    if (focus !== false) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function act(action, intent) {
    if (!canLabel()) return;
    queue = queue.then(function () {
      var row = currentRow();
      if (!row) return undefined;
      var form = row.querySelector("form");
      var values = { action: action, intent: intent || "" };
      return htmx.ajax("POST", row.dataset.url, {
        source: form, target: "#review-queue", swap: "outerHTML", values: values,
      });
    }).catch(function () { return undefined; });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "review-queue") setCurrent(currentIndex);
  });

  // ------------------------------------------------------------ label palette
  var data = LabelPalette.readData();
  var palette = LabelPalette.create({
    shown: 12,
    matches: function (query) { return LabelPalette.prefixMatches(data.intents, query); },
    onChoose: function (name) {
      palette.close();
      act("label", name);
    },
    onClose: function () {
      var row = currentRow();
      if (row) row.focus({ preventScroll: true });
    },
  });

  function openPalette() {
    var row = currentRow();
    if (!palette || !row || !canLabel()) return;
    palette.open({}, row.dataset.text);
  }

  // ------------------------------------------------------------ mouse and keys
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-review-palette]");
    if (!button) return;
    setCurrent(rows().indexOf(button.closest("tr.review-row")), false);
    openPalette();
  });
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("tr.review-row");
    if (row) {
      var index = rows().indexOf(row);
      if (index >= 0 && index !== currentIndex) setCurrent(index, false);
    }
  });
  // A mouse click on Accept/None/Skip/Discard acts on that row: it becomes current
  // first, so the queue's cursor stays where the analyst works.
  document.addEventListener("mousedown", function (event) {
    var row = event.target.closest && event.target.closest("tr.review-row");
    if (row) setCurrent(rows().indexOf(row), false);
  });

  function onlyOnRows(fn) {
    return function (event) {
      var tag = event.target && event.target.tagName;
      if (tag === "BUTTON" || tag === "A" || tag === "SELECT") return;
      fn(event);
    };
  }

  // Enter and the arrows act only on a focused row (elsewhere they keep their
  // usual meaning: Enter presses a button, arrows scroll).
  document.addEventListener("keydown", function (event) {
    var row = event.target.closest && event.target.closest("tr.review-row");
    if (!row || event.target !== row || (palette && palette.isOpen())) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter") openPalette();
    else if (event.key === "ArrowDown") setCurrent(currentIndex + 1);
    else if (event.key === "ArrowUp") setCurrent(currentIndex - 1);
    else return;
    event.preventDefault();
  });

  if (window.Studio && section()) {
    Studio.shortcut("j", onlyOnRows(function () { setCurrent(currentIndex + 1); }));
    Studio.shortcut("k", onlyOnRows(function () { setCurrent(currentIndex - 1); }));
    Studio.shortcut("a", onlyOnRows(function () { act("accept"); }));
    Studio.shortcut("n", onlyOnRows(function () { act("none"); }));
    Studio.shortcut("s", onlyOnRows(function () { act("skip"); }));
    Studio.shortcut("d", onlyOnRows(function () { act("discard"); }));
    Studio.shortcut("l", onlyOnRows(openPalette));
    for (var digit = 1; digit <= 9; digit++) {
      (function (key) {
        Studio.shortcut(key, onlyOnRows(function () {
          var name = data.keys[key];
          if (name) act("label", name);
        }));
      })(String(digit));
    }
    setCurrent(0, false);
  }
})();
