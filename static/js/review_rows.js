// What the review pages share (review.js: the queue; review_clusters.js: the
// clusters and one cluster; each page loads palette.js, this file, then its own):
// a cursor over the page's rows, single-key shortcuts that act only on rows, and
// the label palette as both use it (intents by prefix, then substring, 12 shown;
// a pick labels, closing returns to the current row; 1-9 label with the Data
// page's intent keys).
(function () {
  "use strict";

  // The current row among rows() (called each time: htmx swaps the rows), marked
  // is-current; it follows focus into any row that matches selector (Tab, a click).
  function cursor(rows, selector) {
    var index = 0;

    function current() { return rows()[index] || null; }

    function set(next, focus) {
      var list = rows();
      list.forEach(function (row) { row.classList.remove("is-current"); });
      if (!list.length) { index = 0; return; }
      index = Math.max(0, Math.min(next, list.length - 1));
      var row = list[index];
      row.classList.add("is-current");
      if (focus !== false) {
        row.focus({ preventScroll: true });
        row.scrollIntoView({ block: "nearest" });
      }
    }

    document.addEventListener("focusin", function (event) {
      var row = event.target.closest && event.target.closest(selector);
      if (row) {
        var at = rows().indexOf(row);
        if (at >= 0 && at !== index) set(at, false);
      }
    });

    return {
      current: current,
      set: set,
      index: function () { return index; },
      move: function (delta) { set(index + delta); },
    };
  }

  // A shortcut that does nothing when its key was pressed on a button, link or
  // select (they keep their own meaning).
  function onlyOnRows(fn) {
    return function (event) {
      var tag = event.target && event.target.tagName;
      if (tag === "BUTTON" || tag === "A" || tag === "SELECT") return;
      fn(event);
    };
  }

  // The page's label palette (null without one): label(name) is what a pick does.
  function palette(rowCursor, label) {
    var intents = LabelPalette.readData().intents;
    var created = LabelPalette.create({
      shown: 12,
      matches: function (query) { return LabelPalette.prefixMatches(intents, query); },
      onChoose: function (name) {
        created.close();
        label(name);
      },
      onClose: function () {
        var row = rowCursor.current();
        if (row) row.focus({ preventScroll: true });
      },
    });
    return created;
  }

  // 1-9 label with the Data page's intent keys.
  function keyShortcuts(label) {
    var keys = LabelPalette.readData().keys;
    for (var digit = 1; digit <= 9; digit++) {
      (function (key) {
        Studio.shortcut(key, onlyOnRows(function () {
          var name = keys[key];
          if (name) label(name);
        }));
      })(String(digit));
    }
  }

  window.ReviewRows = {
    cursor: cursor,
    onlyOnRows: onlyOnRows,
    palette: palette,
    keyShortcuts: keyShortcuts,
  };
})();
