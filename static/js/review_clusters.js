// The review page's Clusters view (templates/training/review_clusters.html and
// review_cluster.html). The list: j/k move, o or Enter opens a cluster. A cluster:
// j/k move, x or Space excludes the current query (unchecks it) or includes it
// again, l opens the label palette and 1-9 use the Data page's intent keys to label
// every checked query at once, n marks them None, s skips, d discards, c creates
// the suggested intent; u goes back to the list. One action per page: the form is
// posted once and the server answers with the list. Rows, palette and keys:
// review_rows.js.
(function () {
  "use strict";

  var ROWS = "tr.cluster-row, tr.cluster-item";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll(ROWS));
  }
  var cursor = ReviewRows.cursor(rows, ROWS);
  var onlyOnRows = ReviewRows.onlyOnRows;

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "review-clusters") cursor.set(0, false);
  });

  function open() {
    var row = cursor.current();
    if (row && row.classList.contains("cluster-row")) window.location.href = row.dataset.url;
  }

  // ------------------------------------------------------------ one cluster
  var form = document.getElementById("cluster-form");
  var canLabel = form && form.dataset.canLabel === "true";
  var sent = false;

  function checkboxes() {
    return form ? Array.prototype.slice.call(form.querySelectorAll("input[name=item]")) : [];
  }

  function showIncluded() {
    var out = document.getElementById("cluster-included");
    if (!out) return;
    var boxes = checkboxes();
    var on = boxes.filter(function (box) { return box.checked; }).length;
    out.textContent = on + " of " + boxes.length + " checked";
    boxes.forEach(function (box) {
      box.closest("tr").classList.toggle("is-excluded", !box.checked);
    });
  }

  function toggle() {
    var row = cursor.current();
    var box = row && row.querySelector("input[name=item]");
    if (!box) return;
    box.checked = !box.checked;
    showIncluded();
  }

  function submit(action, intent) {
    if (!form || !canLabel || sent) return;
    if (action === "label") {
      if (!intent) return;
      form.querySelector("input[type=hidden][name=intent]").value = intent;
      var hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "action";
      hidden.value = "label";
      form.appendChild(hidden);
      sent = true;
      form.submit();
      return;
    }
    var button = form.querySelector('button[name=action][value="' + action + '"]');
    if (!button) return;
    sent = true;
    form.requestSubmit(button);
  }

  if (form) {
    form.addEventListener("change", function (event) {
      if (event.target.name === "item") showIncluded();
    });
    form.addEventListener("submit", function () { sent = true; });
    var newName = document.getElementById("cluster-new-intent");
    var shownName = form.querySelector("[data-new-intent-name]");
    if (newName && shownName) {
      newName.addEventListener("input", function () {
        shownName.textContent = newName.value.trim() || "…";
      });
    }
    showIncluded();
  }

  // ------------------------------------------------------------ label palette
  function label(name) { submit("label", name); }
  var palette = ReviewRows.palette(cursor, label);

  function openPalette() {
    if (!palette || !canLabel || sent) return;
    palette.open({});
  }

  // ------------------------------------------------------------ mouse and keys
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-cluster-palette]");
    if (button) openPalette();
  });

  // Space and Enter act only on a focused row (elsewhere they keep their usual
  // meaning: pressing a button, ticking a box).
  document.addEventListener("keydown", function (event) {
    var row = event.target.closest && event.target.closest(ROWS);
    if (!row || event.target !== row || (palette && palette.isOpen())) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter") open();
    else if (event.key === " ") toggle();
    else if (event.key === "ArrowDown") cursor.move(1);
    else if (event.key === "ArrowUp") cursor.move(-1);
    else return;
    event.preventDefault();
  });

  if (window.Studio && rows().length) {
    Studio.shortcut("j", onlyOnRows(function () { cursor.move(1); }));
    Studio.shortcut("k", onlyOnRows(function () { cursor.move(-1); }));
    Studio.shortcut("o", onlyOnRows(open));
    if (form) {
      Studio.shortcut("x", onlyOnRows(toggle));
      Studio.shortcut("l", onlyOnRows(openPalette));
      Studio.shortcut("n", onlyOnRows(function () { submit("none"); }));
      Studio.shortcut("s", onlyOnRows(function () { submit("skip"); }));
      Studio.shortcut("d", onlyOnRows(function () { submit("discard"); }));
      if (form.dataset.suggestion) {
        Studio.shortcut("c", onlyOnRows(function () { submit("create"); }));
      }
      ReviewRows.keyShortcuts(label);
    }
    cursor.set(0, false);
  }
  if (window.Studio && document.getElementById("cluster-back")) {
    Studio.shortcut("u", function () {
      window.location.href = document.getElementById("cluster-back").href;
    });
  }
})();
