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
    var row = currentRow();
    if (!palette || !row || !canLabel()) return;
    state = { items: [], active: 0 };
    palette.querySelector("[data-palette-for]").textContent = row.dataset.text;
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
    act("label", name);
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
    if (!row || event.target !== row || state) return;
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
