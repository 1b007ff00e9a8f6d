// The review queue (templates/training/review.html): keyboard triage like the Data
// page. j/k move; a accepts, n marks None, s skips, d discards, l or Enter opens the
// label palette, 1-9 label with the Data page's intent keys. Each action posts the
// row's form through htmx and gets the queue back without the item; actions run one
// after the other, each on the row that is current when its turn comes, so fast
// typing never acts twice on the same item. Rows, palette and keys: review_rows.js.
(function () {
  "use strict";

  var queue = Promise.resolve();

  function section() { return document.getElementById("review-queue"); }
  function canLabel() { var s = section(); return s && s.dataset.canLabel === "true"; }
  function rows() {
    var s = section();
    return s ? Array.prototype.slice.call(s.querySelectorAll("tr.review-row")) : [];
  }
  var cursor = ReviewRows.cursor(rows, "tr.review-row");
  var onlyOnRows = ReviewRows.onlyOnRows;

  function act(action, intent) {
    if (!canLabel()) return;
    queue = queue.then(function () {
      var row = cursor.current();
      if (!row) return undefined;
      var form = row.querySelector("form");
      var values = { action: action, intent: intent || "" };
      return htmx.ajax("POST", row.dataset.url, {
        source: form, target: "#review-queue", swap: "outerHTML", values: values,
      });
    }).catch(function () { return undefined; });
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "review-queue") cursor.set(cursor.index());
  });

  // ------------------------------------------------------------ label palette
  function label(name) { act("label", name); }
  var palette = ReviewRows.palette(cursor, label);

  function openPalette() {
    var row = cursor.current();
    if (!palette || !row || !canLabel()) return;
    palette.open({}, row.dataset.text);
  }

  // ------------------------------------------------------------ mouse and keys
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-review-palette]");
    if (!button) return;
    cursor.set(rows().indexOf(button.closest("tr.review-row")), false);
    openPalette();
  });
  // A mouse click on Accept/None/Skip/Discard acts on that row: it becomes current
  // first, so the queue's cursor stays where the analyst works.
  document.addEventListener("mousedown", function (event) {
    var row = event.target.closest && event.target.closest("tr.review-row");
    if (row) cursor.set(rows().indexOf(row), false);
  });

  // Enter and the arrows act only on a focused row (elsewhere they keep their
  // usual meaning: Enter presses a button, arrows scroll).
  document.addEventListener("keydown", function (event) {
    var row = event.target.closest && event.target.closest("tr.review-row");
    if (!row || event.target !== row || (palette && palette.isOpen())) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter") openPalette();
    else if (event.key === "ArrowDown") cursor.move(1);
    else if (event.key === "ArrowUp") cursor.move(-1);
    else return;
    event.preventDefault();
  });

  if (window.Studio && section()) {
    Studio.shortcut("j", onlyOnRows(function () { cursor.move(1); }));
    Studio.shortcut("k", onlyOnRows(function () { cursor.move(-1); }));
    Studio.shortcut("a", onlyOnRows(function () { act("accept"); }));
    Studio.shortcut("n", onlyOnRows(function () { act("none"); }));
    Studio.shortcut("s", onlyOnRows(function () { act("skip"); }));
    Studio.shortcut("d", onlyOnRows(function () { act("discard"); }));
    Studio.shortcut("l", onlyOnRows(openPalette));
    ReviewRows.keyShortcuts(label);
    cursor.set(0, false);
  }
})();
