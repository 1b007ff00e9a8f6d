// Evaluation page: the confusion matrix is one tab stop; the arrow keys move
// between its non-zero cells (the only interactive ones), Home/End to the first and
// last cell of the row, Ctrl+Home/End to the first and last cell of the grid.
// Enter follows the focused cell's link (htmx lists its utterances).
(function () {
  "use strict";

  var GRID = "#confusion-matrix";

  function cellsOf(grid) {
    return Array.prototype.map.call(grid.querySelectorAll("a[data-col]"), function (a) {
      return { el: a, row: Number(a.dataset.row), col: Number(a.dataset.col) };
    });
  }

  // The cell of the nearest row above (step -1) or below (+1) that has one,
  // closest to column ``col``.
  function vertical(cells, from, step) {
    var rows = {};
    cells.forEach(function (c) {
      (rows[c.row] = rows[c.row] || []).push(c);
    });
    var keys = Object.keys(rows).map(Number).filter(function (r) {
      return step > 0 ? r > from.row : r < from.row;
    });
    if (!keys.length) return null;
    var target = step > 0 ? Math.min.apply(null, keys) : Math.max.apply(null, keys);
    return rows[target].reduce(function (best, c) {
      return Math.abs(c.col - from.col) < Math.abs(best.col - from.col) ? c : best;
    });
  }

  function next(cells, from, key, ctrl) {
    var row = cells.filter(function (c) { return c.row === from.row; });
    switch (key) {
      case "ArrowRight":
        return row.filter(function (c) { return c.col > from.col; })[0] || null;
      case "ArrowLeft":
        return row.filter(function (c) { return c.col < from.col; }).pop() || null;
      case "ArrowDown":
        return vertical(cells, from, 1);
      case "ArrowUp":
        return vertical(cells, from, -1);
      case "Home":
        return ctrl ? cells[0] : row[0];
      case "End":
        return ctrl ? cells[cells.length - 1] : row[row.length - 1];
    }
    return undefined;
  }

  function focusCell(grid, target) {
    grid.querySelectorAll('a[data-col][tabindex="0"]').forEach(function (a) {
      a.setAttribute("tabindex", "-1");
    });
    target.setAttribute("tabindex", "0");
    target.focus();
  }

  document.addEventListener("keydown", function (event) {
    var link = event.target.closest ? event.target.closest(GRID + " a[data-col]") : null;
    if (!link || event.altKey || event.metaKey) return;
    var grid = link.closest(GRID);
    var cells = cellsOf(grid);
    var from = cells.filter(function (c) { return c.el === link; })[0];
    var target = next(cells, from, event.key, event.ctrlKey);
    if (target === undefined) return;
    event.preventDefault();
    if (target) focusCell(grid, target.el);
  });

  // A click (or a focus by any other means) makes that cell the tab stop.
  document.addEventListener("focusin", function (event) {
    var link = event.target.closest ? event.target.closest(GRID + " a[data-col]") : null;
    if (link && link.getAttribute("tabindex") !== "0") focusCell(link.closest(GRID), link);
  });
})();

// A fix-the-label row whose utterance someone else changed since it was drawn
// comes back as 409 with their change, its new version and a message: swap it in
// (base.html's htmx-config swaps 2xx and 422 only).
document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  if (event.detail.xhr.status === 409 && target && target.matches &&
      target.matches("tr[id^='cell-result-'], tr[id^='errors-result-']")) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
