// The review page's Clusters view (templates/training/review_clusters.html and
// review_cluster.html). The list: j/k move, o or Enter opens a cluster. A cluster:
// j/k move, x or Space excludes the current query (unchecks it) or includes it
// again, l opens the label palette and 1-9 use the Data page's intent keys to label
// every checked query at once, n marks them None, s skips, d discards, c creates
// the suggested intent; u goes back to the list. One action per page: the form is
// posted once and the server answers with the list.
(function () {
  "use strict";

  var currentIndex = 0;

  function rows() {
    return Array.prototype.slice.call(
      document.querySelectorAll("tr.cluster-row, tr.cluster-item")
    );
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

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target && event.target.id === "review-clusters") setCurrent(0, false);
  });

  function open() {
    var row = currentRow();
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
    var row = currentRow();
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
  var palette = document.getElementById("intent-palette");
  var input = document.getElementById("intent-palette-input");
  var list = document.getElementById("intent-palette-list");
  var dataBlock = document.getElementById("intent-palette-data");
  var data = dataBlock ? JSON.parse(dataBlock.textContent) : { intents: [], keys: {} };
  var state = null; // {items, active}
  var SHOWN = 12;

  function matches(query) {
    var q = query.trim().toLowerCase();
    if (!q) return data.intents.slice();
    var starts = [], contains = [];
    data.intents.forEach(function (name) {
      var n = name.toLowerCase();
      if (n.indexOf(q) === 0) starts.push(name);
      else if (n.indexOf(q) > 0) contains.push(name);
    });
    return starts.concat(contains);
  }

  function render() {
    state.items = matches(input.value);
    if (state.active >= Math.min(state.items.length, SHOWN)) state.active = 0;
    list.textContent = "";
    state.items.slice(0, SHOWN).forEach(function (name, index) {
      var item = document.createElement("li");
      item.id = "intent-palette-option-" + index;
      item.className = "palette__item" + (index === state.active ? " is-active" : "");
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", index === state.active ? "true" : "false");
      item.dataset.choice = name;
      item.textContent = name;
      list.appendChild(item);
    });
    if (!state.items.length) {
      var none = document.createElement("li");
      none.className = "palette__more muted";
      none.textContent = "No intent matches.";
      list.appendChild(none);
    }
    var active = document.getElementById("intent-palette-option-" + state.active);
    if (active) input.setAttribute("aria-activedescendant", active.id);
    else input.removeAttribute("aria-activedescendant");
  }

  function openPalette() {
    if (!palette || !canLabel || sent) return;
    state = { items: [], active: 0 };
    input.value = "";
    palette.hidden = false;
    render();
    input.focus();
  }

  function closePalette() {
    if (!state) return;
    state = null;
    palette.hidden = true;
    var row = currentRow();
    if (row) row.focus({ preventScroll: true });
  }

  function choose(name) {
    if (!state || !name) return;
    closePalette();
    submit("label", name);
  }

  if (palette) {
    input.addEventListener("input", function () { state.active = 0; render(); });
    input.addEventListener("keydown", function (event) {
      if (!state) return;
      var shown = Math.min(state.items.length, SHOWN);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (shown) {
          state.active = (state.active + (event.key === "ArrowDown" ? 1 : -1) + shown) % shown;
          render();
        }
      } else if (event.key === "Enter") {
        choose(state.items[state.active]);
      } else if (event.key === "Escape") {
        closePalette();
      } else if (event.key !== "Tab") {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    });
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var item = event.target.closest("[data-choice]");
      if (item) choose(item.dataset.choice);
    });
    input.addEventListener("blur", function () {
      window.setTimeout(function () {
        if (state && document.activeElement !== input) closePalette();
      }, 0);
    });
  }

  // ------------------------------------------------------------ mouse and keys
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-cluster-palette]");
    if (button) openPalette();
  });
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("tr.cluster-row, tr.cluster-item");
    if (row) {
      var index = rows().indexOf(row);
      if (index >= 0 && index !== currentIndex) setCurrent(index, false);
    }
  });

  // Space and Enter act only on a focused row (elsewhere they keep their usual
  // meaning: pressing a button, ticking a box).
  document.addEventListener("keydown", function (event) {
    var row = event.target.closest && event.target.closest("tr.cluster-row, tr.cluster-item");
    if (!row || event.target !== row || state) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Enter") open();
    else if (event.key === " ") toggle();
    else if (event.key === "ArrowDown") setCurrent(currentIndex + 1);
    else if (event.key === "ArrowUp") setCurrent(currentIndex - 1);
    else return;
    event.preventDefault();
  });

  function onlyOnRows(fn) {
    return function (event) {
      var tag = event.target && event.target.tagName;
      if (tag === "BUTTON" || tag === "A" || tag === "SELECT") return;
      fn(event);
    };
  }

  if (window.Studio && rows().length) {
    Studio.shortcut("j", onlyOnRows(function () { setCurrent(currentIndex + 1); }));
    Studio.shortcut("k", onlyOnRows(function () { setCurrent(currentIndex - 1); }));
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
      for (var digit = 1; digit <= 9; digit++) {
        (function (key) {
          Studio.shortcut(key, onlyOnRows(function () {
            var name = data.keys[key];
            if (name) submit("label", name);
          }));
        })(String(digit));
      }
    }
    setCurrent(0, false);
  }
  if (window.Studio && document.getElementById("cluster-back")) {
    Studio.shortcut("u", function () {
      window.location.href = document.getElementById("cluster-back").href;
    });
  }
})();
