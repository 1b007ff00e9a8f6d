// The label palette: one dialog of names (intents; on the Data page entities too)
// filtered as the analyst types, shared by the Data page (labeling.js) and the
// review pages (review.js, review_clusters.js), which load this file first.
// It owns the dialog's list and keys: ↑ ↓ move, Enter or a click picks, Esc or
// leaving the field closes, Tab stays inside. The page says which names match a
// query, what a pick does and what closing does (each page acts differently).
// Markup: templates/includes/_intent_palette.html (ids intent-palette*).
(function () {
  "use strict";

  // The page's intents and the keys 1-9, once per page (a JSON data block: the
  // CSP allows no inline script).
  function readData() {
    var block = document.getElementById("intent-palette-data");
    return block ? JSON.parse(block.textContent) : { intents: [], keys: {} };
  }

  // The names that start with the query, then those that contain it elsewhere,
  // each in the project's order.
  function prefixMatches(names, query) {
    var q = query.trim().toLowerCase();
    if (!q) return names.slice();
    var starts = [], contains = [];
    names.forEach(function (name) {
      var n = name.toLowerCase();
      if (n.indexOf(q) === 0) starts.push(name);
      else if (n.indexOf(q) > 0) contains.push(name);
    });
    return starts.concat(contains);
  }

  // options: shown (how many items the list shows), matches(query, state),
  // onChoose(name, state), onClose(state); optional keyOf(name, state) (the digit
  // shown beside a name), emptyText(state), moreHint (say how many are not shown),
  // onKey(event, state) (true when it handled a key the palette does not know).
  // Returns null on a page without the palette.
  function create(options) {
    var element = document.getElementById("intent-palette");
    if (!element) return null;
    var input = document.getElementById("intent-palette-input");
    var list = document.getElementById("intent-palette-list");
    var state = null; // the page's state plus {items, active} while open

    function render() {
      state.items = options.matches(input.value, state);
      if (state.active >= state.items.length) state.active = state.items.length - 1;
      if (state.active < 0 && state.items.length) state.active = 0;
      list.textContent = "";
      state.items.slice(0, options.shown).forEach(function (name, index) {
        var item = document.createElement("li");
        item.id = "intent-palette-option-" + index;
        item.className = "palette__item" + (index === state.active ? " is-active" : "");
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", index === state.active ? "true" : "false");
        item.dataset.choice = name;
        var label = document.createElement("span");
        label.textContent = name;
        item.appendChild(label);
        var key = options.keyOf ? options.keyOf(name, state) : "";
        if (key) {
          var kbd = document.createElement("kbd");
          kbd.textContent = key;
          item.appendChild(kbd);
        }
        list.appendChild(item);
      });
      if (options.moreHint && state.items.length > options.shown) {
        var more = document.createElement("li");
        more.className = "palette__more muted";
        more.textContent = "… " + (state.items.length - options.shown) + " more: keep typing";
        list.appendChild(more);
      }
      if (!state.items.length) {
        var none = document.createElement("li");
        none.className = "palette__more muted";
        none.textContent = options.emptyText ? options.emptyText(state) : "No intent matches.";
        list.appendChild(none);
      }
      var active = document.getElementById("intent-palette-option-" + state.active);
      if (active) {
        input.setAttribute("aria-activedescendant", active.id);
        active.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    // Open with the page's state; title (if given) fills the dialog's
    // [data-palette-for], typed starts the filter.
    function open(pageState, title, typed) {
      state = pageState;
      state.items = [];
      state.active = 0;
      if (title !== undefined && title !== null) {
        element.querySelector("[data-palette-for]").textContent = title;
      }
      input.value = typed || "";
      element.hidden = false;
      render();
      input.focus();
    }

    // Hide without the page's onClose (a pick that moves on by itself).
    function hide() {
      state = null;
      element.hidden = true;
    }

    function close() {
      if (!state) return;
      var closed = state;
      hide();
      options.onClose(closed);
    }

    // The one place a name is picked: an explicit Enter or click, never a
    // keystroke of the filter.
    function choose(name) {
      if (!state || !name) return;
      options.onChoose(name, state);
    }

    input.addEventListener("input", function () {
      state.active = 0;
      render();
    });
    input.addEventListener("keydown", function (event) {
      if (!state) return;
      var shown = Math.min(state.items.length, options.shown);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (shown) {
          state.active = (state.active + (event.key === "ArrowDown" ? 1 : -1) + shown) % shown;
          render();
        }
      } else if (event.key === "Enter") {
        choose(state.items[state.active]);
      } else if (options.onKey && options.onKey(event, state)) {
        // The page's own key (the Data page pins an intent to a digit).
      } else if (event.key === "Escape") {
        close();
      } else if (event.key === "Tab") {
        // Focus stays in the palette while it is open.
      } else {
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
        if (state && document.activeElement !== input) close();
      }, 0);
    });

    return {
      element: element,
      input: input,
      list: list,
      open: open,
      close: close,
      hide: hide,
      render: function () { if (state) render(); },
      isOpen: function () { return state !== null; },
      state: function () { return state; },
    };
  }

  window.LabelPalette = { create: create, readData: readData, prefixMatches: prefixMatches };
})();
