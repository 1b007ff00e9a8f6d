// The Data (labeling) screen: keyboard navigation, shortcuts that post through htmx,
// bulk selection and entity labeling by text selection (mouse or keyboard).
//
// Offsets: the server stores code points. JS strings are UTF-16, so every offset
// crosses cpToU16 / u16ToCp (Array.from iterates code points) and a selection edge
// that falls inside a surrogate pair is widened to the whole character.
(function () {
  "use strict";

  var root = document.getElementById("labeling");
  if (!root || !window.htmx || !window.Studio) return;
  var canLabel = root.dataset.canLabel === "true";
  var canEntities = root.dataset.canEntities === "true";

  // Validation errors come back as fragments with status 422: swap them in.
  htmx.config.responseHandling.unshift({ code: "422", swap: true, error: false });
  // A row changed by someone else since it was rendered comes back as 409 with
  // their change and a message: swap it in too (the page's htmx-config, read after
  // this script, would drop a responseHandling entry added here).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  var currentId = null;
  var focusAfterTableSwap = null; // "first" | "last" after paging with j/k

  // ------------------------------------------------------------ offsets

  function cpToU16(text, cp) {
    return Array.from(text).slice(0, cp).join("").length;
  }

  function u16ToCp(text, u16) {
    return Array.from(text.slice(0, u16)).length;
  }

  function isHigh(code) { return code >= 0xd800 && code <= 0xdbff; }
  function isLow(code) { return code >= 0xdc00 && code <= 0xdfff; }

  // The selection inside el as code points, trimmed of surrounding white space.
  function selectionOffsets(el) {
    var sel = window.getSelection();
    if (!sel || !sel.rangeCount || sel.isCollapsed) return null;
    var range = sel.getRangeAt(0);
    if (!el.contains(range.startContainer) || !el.contains(range.endContainer)) return null;
    var pre = document.createRange();
    pre.selectNodeContents(el);
    pre.setEnd(range.startContainer, range.startOffset);
    var text = el.textContent;
    var s = pre.toString().length;
    var e = s + range.toString().length;
    while (s < e && /\s/.test(text[s])) s++;
    while (e > s && /\s/.test(text[e - 1])) e--;
    if (s < text.length && isLow(text.charCodeAt(s)) && s > 0) s--;
    if (e > 0 && e < text.length && isHigh(text.charCodeAt(e - 1))) e++;
    if (s >= e) return null;
    var start = u16ToCp(text, s);
    return { start: start, end: start + Array.from(text.slice(s, e)).length };
  }

  // A text node and UTF-16 offset inside el for a UTF-16 offset of its text.
  function locate(el, u16) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    var node = null;
    var last = null;
    var remaining = u16;
    while ((node = walker.nextNode())) {
      last = node;
      if (remaining <= node.length) return { node: node, offset: remaining };
      remaining -= node.length;
    }
    return last ? { node: last, offset: last.length } : { node: el, offset: 0 };
  }

  function selectCodePoints(el, start, end) {
    var text = el.textContent;
    var a = locate(el, cpToU16(text, start));
    var b = locate(el, cpToU16(text, end));
    window.getSelection().setBaseAndExtent(a.node, a.offset, b.node, b.offset);
  }

  // Words as [start, end) code point ranges: runs of letters/digits, or any single
  // other non-space character (punctuation, emoji).
  function words(text) {
    var result = [];
    var re = /[\p{L}\p{N}\p{M}_'’-]+|\S/gu;
    var match;
    while ((match = re.exec(text))) {
      var start = u16ToCp(text, match.index);
      result.push([start, start + Array.from(match[0]).length]);
    }
    return result;
  }

  // A mouse selection grows to whole words: one that starts or ends inside a word
  // takes all of it ("ari" of "Paris" labels "Paris"). The "character precision"
  // switch keeps the selection as drawn.
  function snapToWords(text, range) {
    var start = range.start;
    var end = range.end;
    words(text).forEach(function (w) {
      if (w[0] < start && start < w[1]) start = w[0];
      if (w[0] < end && end < w[1]) end = w[1];
    });
    return { start: start, end: end };
  }

  var CHAR_MODE_KEY = "studio.entity-char-mode";
  var charBox = document.getElementById("char-mode");

  function charMode() { return !!(charBox && charBox.checked); }

  if (charBox) {
    try { charBox.checked = window.localStorage.getItem(CHAR_MODE_KEY) === "1"; } catch (e) { /* no storage */ }
    charBox.addEventListener("change", function () {
      try { window.localStorage.setItem(CHAR_MODE_KEY, charBox.checked ? "1" : "0"); } catch (e) { /* no storage */ }
    });
  }

  // ------------------------------------------------------------ rows

  function table() { return document.getElementById("utterance-table"); }

  function rows() {
    var t = table();
    return t ? Array.prototype.slice.call(t.querySelectorAll("tr.utt-row")) : [];
  }

  function currentRow() {
    return currentId ? document.getElementById("utterance-" + currentId) : null;
  }

  function setCurrent(row, focus) {
    var previous = currentRow();
    if (previous) previous.classList.remove("is-current");
    if (!row) { currentId = null; return; }
    currentId = row.dataset.id;
    row.classList.add("is-current");
    if (focusMode) showWhere();
    if (focus !== false) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(delta) {
    var list = rows();
    if (!list.length) return;
    var index = list.indexOf(currentRow());
    if (index < 0) { setCurrent(delta > 0 ? list[0] : list[list.length - 1]); return; }
    var target = list[index + delta];
    if (target) { setCurrent(target); return; }
    var link = document.querySelector(".pager a[rel=" + (delta > 0 ? "next" : "prev") + "]");
    if (link) {
      focusAfterTableSwap = delta > 0 ? "first" : "last";
      link.click();
    }
  }

  function rowOrFirst() {
    var row = currentRow();
    if (!row) { move(1); row = currentRow(); }
    return row;
  }

  // Edits run one after the other, each against the row as it is when its turn
  // comes: htmx drops a request from an element that already has one in flight,
  // and a fast "2 then t" must not lose the t.
  var queue = Promise.resolve();

  // Any other step (undo, opening a row's edit box) waits its turn too.
  function enqueue(step) {
    queue = queue.then(step).catch(function () { return undefined; });
    return queue;
  }

  function post(row, url, values) {
    var id = row.id;
    queue = queue.then(function () {
      var el = document.getElementById(id);
      if (!el) return undefined;
      // The version of the row as it is now (an earlier queued edit may have
      // replaced it): the server refuses the edit if someone else changed it since.
      var sent = Object.assign({ version: el.dataset.version }, values);
      return htmx.ajax("POST", url, { source: el, target: el, swap: "outerHTML", values: sent });
    }).catch(function () { return undefined; });
    return queue;
  }

  // ------------------------------------------------------------ intent palette

  // The project's intents and the keys 1-9, once per page (a JSON data block: the
  // CSP allows no inline script, and a select in every row made a 50-row page
  // 576 KB at 150 intents and posted on every typed letter).
  var paletteData = LabelPalette.readData();
  // The page's state while the palette is open: {kind: "intent" | "entity", rows:
  //  [row ids] | null (all matching), returnTo}. The same palette labels entities:
  //  Enter while a span is selected (e, or a mouse selection) opens it over the
  //  project's entities.
  var PALETTE_SHOWN = 60;
  var recentKey = "studio.recent-intents." + window.location.pathname;
  var recentEntityKey = "studio.recent-entities." + window.location.pathname;

  function recentNames(key) {
    try {
      var list = JSON.parse(window.localStorage.getItem(key || recentKey) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  function recentIntents() { return recentNames(recentKey); }

  function rememberName(key, name) {
    var list = recentNames(key).filter(function (n) { return n !== name; });
    list.unshift(name);
    try {
      window.localStorage.setItem(key, JSON.stringify(list.slice(0, 12)));
    } catch (e) { /* storage full or disabled: no recents */ }
  }

  function rememberIntent(name) { rememberName(recentKey, name); }

  function keyOf(name, state) {
    if (state && state.kind === "entity") return "";
    for (var key in paletteData.keys) {
      if (paletteData.keys[key] === name) return key;
    }
    return "";
  }

  // How well one query word matches a name, lower is better; -1 for no match.
  // Prefix, then the start of a word (after _ - . or space), then anywhere, then
  // the letters in order with gaps ("trnsfr" finds "transfer").
  function wordScore(name, word) {
    var at = name.indexOf(word);
    if (at === 0) return 0;
    if (at > 0) {
      var boundary = new RegExp("(^|[_\\-. ])" + word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      return boundary.test(name) ? 1 : 2;
    }
    var from = 0;
    var gaps = 0;
    for (var i = 0; i < word.length; i++) {
      var found = name.indexOf(word[i], from);
      if (found < 0) return -1;
      gaps += found - from;
      from = found + 1;
    }
    return 3 + gaps / 100;
  }

  // Every word of the query must match; recently used intents first, then the
  // project's order.
  function spaced(text) { return text.toLowerCase().replace(/[_\-.\s]+/g, " ").trim(); }

  function paletteMatches(query, state) {
    var words = query.toLowerCase().split(/\s+/).filter(Boolean);
    var phrase = spaced(query);
    var entity = state && state.kind === "entity";
    var recent = recentNames(entity ? recentEntityKey : recentKey);
    var names = entity ? paletteData.entities || [] : paletteData.intents;
    var scored = [];
    names.forEach(function (name, order) {
      var lower = name.toLowerCase();
      // The words in the order typed ("balance tran" -> balance_transfer) beat
      // the same words in another order (transfer_balance).
      var whole = spaced(name);
      var score = !phrase ? 0 : whole.indexOf(phrase) === 0 ? -20 : whole.indexOf(phrase) > 0 ? -10 : 0;
      for (var i = 0; i < words.length; i++) {
        var one = wordScore(lower, words[i]);
        if (one < 0) return;
        score += one;
      }
      var r = recent.indexOf(name);
      scored.push({ name: name, score: score, recent: r < 0 ? recent.length : r, order: order });
    });
    scored.sort(function (a, b) {
      return a.score - b.score || a.recent - b.recent || a.order - b.order;
    });
    return scored.map(function (s) { return s.name; });
  }

  var palette = LabelPalette.create({
    shown: PALETTE_SHOWN,
    moreHint: true,
    matches: paletteMatches,
    keyOf: keyOf,
    emptyText: function (state) {
      return state.kind === "entity" ? "No entity matches." : "No intent matches.";
    },
    onChoose: choose,
    onClose: paletteClosed,
    // Alt+1-9 pins the highlighted intent to that key.
    onKey: function (event, state) {
      if (!(event.altKey && /^Digit[1-9]$/.test(event.code) && state.kind === "intent")) {
        return false;
      }
      if (state.items[state.active]) pinKey(event.code.slice(5), state.items[state.active]);
      return true;
    },
  });

  function paletteOpen() { return !!(palette && palette.isOpen()); }

  // Open the palette for the checked rows, every matching row ("all N matching"
  // checked), or the current row.
  function openPalette(row, typed) {
    if (!palette || !canLabel) return;
    var all = document.getElementById("bulk-all");
    var target = null;
    var title;
    if (all && all.checked) {
      title = "every matching utterance";
    } else if (selected.size && !row) {
      target = Array.from(selected).map(function (id) { return "utterance-" + id; });
      title = selected.size + " selected utterance" + (selected.size === 1 ? "" : "s");
    } else {
      row = row || rowOrFirst();
      if (!row) return;
      setCurrent(row, false);
      target = [row.id];
      var text = row.querySelector(".utt-text").textContent;
      title = text.length > 80 ? text.slice(0, 79) + "…" : text;
    }
    showPalette({ kind: "intent", rows: target, returnTo: currentId }, "Intent for", title, typed);
  }

  var PALETTE_WORDS = {
    intent: ["Type to filter intents…", "Intents", "Intent name"],
    entity: ["Type to filter entities…", "Entities", "Entity name"],
  };

  function showPalette(state, lead, title, typed) {
    var words = PALETTE_WORDS[state.kind];
    palette.element.querySelector("[data-palette-lead]").textContent = lead;
    palette.input.placeholder = words[0];
    palette.list.setAttribute("aria-label", words[1]);
    palette.element.querySelector("label[for=intent-palette-input]").textContent = words[2];
    palette.open(state, title, typed);
  }

  // The entity palette over the span being labeled (labeling.start/end).
  function openEntityPalette() {
    if (!palette || !labeling || !(paletteData.entities || []).length) return;
    var slice = Array.from(labeling.text).slice(labeling.start, labeling.end).join("");
    if (picker) picker.hidden = true;
    showPalette({ kind: "entity", rows: null, returnTo: currentId }, "Entity for", slice, "");
  }

  function paletteClosed(state) {
    if (state.kind === "entity" && labeling) stopLabeling();
    var row = currentRow();
    if (row) setCurrent(row);
  }

  // A name picked in the palette (Enter or a click).
  function choose(name, state) {
    if (state.kind === "entity") {
      palette.hide();
      rememberName(recentEntityKey, name);
      pick(name);
      return;
    }
    palette.close();
    assign(state.rows, name);
    if (focusMode && state.rows && state.rows.length === 1) move(1);
  }

  function assign(rowIds, name) {
    rememberIntent(name);
    if (rowIds === null) {
      var form = document.getElementById("bulk-form");
      document.getElementById("bulk-intent").value = name;
      form.requestSubmit(document.getElementById("bulk-assign"));
      return;
    }
    // One post per row, each with the version its row was drawn with: a row
    // someone else changed answers 409 and shows their change and a message.
    rowIds.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) post(el, el.dataset.url + "intent/", { intent: name });
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-palette], [data-palette-bulk]");
    if (!button) return;
    if (button.hasAttribute("data-palette-bulk")) openPalette(null);
    else openPalette(button.closest("tr.utt-row"));
  });

  // Alt+1-9 in the palette pins the highlighted intent to that key for the whole
  // project (the server keeps it; the palette's data block comes back).
  function pinKey(key, name) {
    var values = { key: key, intent: name };
    htmx.ajax("POST", root.dataset.keysUrl, {
      source: root, target: "#intent-palette-data", swap: "outerHTML", values: values,
    }).then(function () {
      var block = document.getElementById("intent-palette-data");
      if (block) paletteData = JSON.parse(block.textContent);
      if (palette) palette.render();
    });
  }

  // Typing a letter on a row's intent button starts the palette's filter with it
  // (the old select took every letter as a new value and posted it): the
  // screen's single-key shortcuts do not apply there.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!target.matches || !target.matches("[data-palette]")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key.length !== 1 || event.key === " ") return;
    event.preventDefault();
    event.stopPropagation();
    openPalette(target.closest("tr.utt-row"), event.key);
  }, true);

  function assignIntent(n) {
    var row = rowOrFirst();
    var name = paletteData.keys[String(n)];
    if (!row || !canLabel || !name) return;
    rememberIntent(name);
    post(row, row.dataset.url + "intent/", { intent: name });
    if (focusMode) move(1);
  }

  // Pre-labels (Pre-label on): the deployed model's intent for the page's
  // unlabeled rows, as one data block per table ({row id: [intent, percent]});
  // each row gets its button here (a viewer: the text), again after htmx swapped
  // the row in. y (or the button) accepts: the same POST as any assignment.
  var prelabels = {};

  function loadPrelabels() {
    var block = document.getElementById("prelabel-data");
    prelabels = block ? JSON.parse(block.textContent) : {};
  }

  function showPrelabels() {
    rows().forEach(function (row) {
      var found = prelabels[row.dataset.id];
      var cell = row.querySelector("td.utt-intent");
      if (!found || !cell || cell.dataset.intent !== "None" || cell.querySelector(".prelabel")) return;
      var label = "✓ " + found[0] + " " + found[1] + "%";
      var el = document.createElement(canLabel ? "button" : "span");
      el.className = "prelabel";
      el.dataset.prelabel = found[0];
      if (canLabel) {
        el.type = "button";
        el.title = "Accept the deployed model's intent (y)";
        el.setAttribute("aria-keyshortcuts", "y");
      } else {
        label = "→ " + found[0] + " " + found[1] + "%";
      }
      el.textContent = label;
      cell.appendChild(document.createTextNode(" "));
      cell.appendChild(el);
    });
  }

  function acceptPrelabel(row) {
    var button = row && row.querySelector("button.prelabel[data-prelabel]");
    if (!button || !canLabel) return;
    var name = button.dataset.prelabel;
    rememberIntent(name);
    post(row, row.dataset.url + "intent/", { intent: name });
    if (focusMode) move(1);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.prelabel[data-prelabel]");
    if (button) acceptPrelabel(button.closest("tr.utt-row"));
  });

  loadPrelabels();
  showPrelabels();

  // ------------------------------------------------------------ focus mode

  // f: one utterance at a time in large type (CSS hides the rest); labeling it
  // with the palette or a number key moves on to the next, across pages.
  var focusMode = false;
  var FOCUS_KEY = "studio.focus-mode";
  var focusToggle = document.getElementById("focus-toggle");
  var focusBar = document.getElementById("focus-bar");

  function showWhere() {
    var where = document.getElementById("focus-where");
    var t = table();
    if (!where || !t) return;
    var list = rows();
    var index = list.indexOf(currentRow());
    where.textContent = list.length
      ? "Utterance " + (index + 1) + " of " + list.length + " on page " + t.dataset.page + " of " + t.dataset.pages
      : "No utterances match.";
  }

  function setFocusMode(on) {
    if (!canLabel || !focusToggle) return;
    focusMode = on;
    root.classList.toggle("is-focus", on);
    focusToggle.setAttribute("aria-pressed", on ? "true" : "false");
    focusBar.hidden = !on;
    try { window.sessionStorage.setItem(FOCUS_KEY, on ? "1" : "0"); } catch (e) { /* no storage */ }
    var row = rowOrFirst();
    if (row) setCurrent(row);
    if (on) showWhere();
  }

  if (focusToggle) {
    focusToggle.addEventListener("click", function () { setFocusMode(!focusMode); });
    try {
      if (window.sessionStorage.getItem(FOCUS_KEY) === "1") setFocusMode(true);
    } catch (e) { /* no storage */ }
  }

  function toggleDataset() {
    var row = rowOrFirst();
    if (row && canLabel) post(row, row.dataset.url + "dataset/", { toggle: "1" });
  }

  // The row's dataset form is a plain form (it works without JavaScript: its
  // noscript Save, and the golden star, a submit button of the same form with
  // formaction golden/). Here its select and star post through the queue like
  // every other row edit, with the row's version of the moment, and swap the row.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!canLabel || !select.matches || !select.matches("select.row-dataset")) return;
    var row = select.closest("tr.utt-row");
    if (row) post(row, row.dataset.url + "dataset/", { dataset: select.value });
  });

  // m, or a click on the row's star: mark the row golden, or unmark it (a toggle
  // on the server, so that two quick presses are two changes). A star that had
  // the focus gets it back once the row is swapped.
  function toggleGolden(row, refocus) {
    if (!row || !canLabel || !row.querySelector("[data-golden]")) return;
    var id = row.id;
    post(row, row.dataset.url + "golden/", { toggle: "1" }).then(function () {
      var star = refocus && document.querySelector("#" + id + " [data-golden]");
      if (star) star.focus();
    });
  }

  document.addEventListener("click", function (event) {
    var star = event.target.closest && event.target.closest("tr.utt-row [data-golden]");
    if (!star) return;
    event.preventDefault();
    var row = star.closest("tr.utt-row");
    setCurrent(row, false);
    toggleGolden(row, document.activeElement === star);
  });

  function toggleSelected() {
    var row = rowOrFirst();
    var box = row && row.querySelector(".row-select");
    if (!box) return;
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
  }

  // ------------------------------------------------------------ bulk selection

  // Checked rows by id: a row re-rendered by an edit (2, t, e...) keeps its
  // checkbox even when the edit's response arrives after the x.
  var selected = new Set();

  function restoreSelection() {
    rows().forEach(function (r) {
      var box = r.querySelector(".row-select");
      if (box) box.checked = selected.has(r.dataset.id);
    });
  }

  function updateSelection() {
    var boxes = rows().map(function (r) { return r.querySelector(".row-select"); }).filter(Boolean);
    var checked = boxes.filter(function (b) { return b.checked; });
    boxes.forEach(function (b) { b.closest("tr").classList.toggle("is-selected", b.checked); });
    var all = document.getElementById("bulk-all");
    var count = document.getElementById("bulk-count");
    if (count) {
      count.textContent = all && all.checked
        ? "All matching selected"
        : checked.length + " selected";
    }
    var pageBox = document.getElementById("select-page");
    if (pageBox) {
      pageBox.checked = boxes.length > 0 && checked.length === boxes.length;
      pageBox.indeterminate = checked.length > 0 && checked.length < boxes.length;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.id === "select-page") {
      rows().forEach(function (r) {
        var box = r.querySelector(".row-select");
        if (box) box.checked = target.checked;
        if (box && box.checked) selected.add(r.dataset.id);
        else selected.delete(r.dataset.id);
      });
    }
    if (target.classList.contains("row-select")) {
      var id = target.closest("tr").dataset.id;
      if (target.checked) selected.add(id);
      else selected.delete(id);
    }
    if (target.id === "select-page" || target.id === "bulk-all" || target.classList.contains("row-select")) {
      updateSelection();
    }
  });

  // ------------------------------------------------------------ entity labeling

  var picker = document.getElementById("entity-picker");
  var labeling = null; // {row, el, text, words, start, end}

  function showPicker() {
    if (!picker || !labeling) return;
    var slice = Array.from(labeling.text).slice(labeling.start, labeling.end).join("");
    picker.querySelector("[data-picker-text]").textContent = slice;
    var box = labeling.el.getBoundingClientRect();
    picker.style.top = window.scrollY + box.bottom + 6 + "px";
    picker.style.left = Math.max(8, window.scrollX + box.left) + "px";
    picker.hidden = false;
  }

  function stopLabeling() {
    if (!labeling) return;
    labeling.row.classList.remove("is-labeling");
    labeling = null;
    if (picker) picker.hidden = true;
    var sel = window.getSelection();
    if (sel) sel.removeAllRanges();
  }

  function startLabeling(row, range) {
    if (!canLabel || !canEntities || !row) return;
    if (!picker) {
      var hint = document.getElementById("entity-hint");
      if (hint) hint.hidden = false;
      return;
    }
    stopLabeling();
    var el = row.querySelector(".utt-text");
    var text = el.textContent;
    var ws = words(text);
    if (!ws.length) return;
    range = range || { start: ws[0][0], end: ws[0][1] };
    labeling = { row: row, el: el, text: text, words: ws, start: range.start, end: range.end };
    row.classList.add("is-labeling");
    setCurrent(row, false);
    selectCodePoints(el, labeling.start, labeling.end);
    showPicker();
  }

  // Arrow keys move the selection by word; with Shift they grow or shrink its end
  // (and grow its start when it is one word and Shift+Left is pressed).
  function adjust(key, shift) {
    var ws = labeling.words;
    var next = ws.filter(function (w) { return w[0] >= labeling.end; })[0];
    var before = ws.filter(function (w) { return w[1] <= labeling.start; });
    var previous = before[before.length - 1];
    if (!shift) {
      var word = key === "ArrowRight" ? next : previous;
      if (word) { labeling.start = word[0]; labeling.end = word[1]; }
    } else if (key === "ArrowRight") {
      if (next) labeling.end = next[1];
    } else {
      var inner = ws.filter(function (w) { return w[1] < labeling.end && w[1] > labeling.start; });
      if (inner.length) labeling.end = inner[inner.length - 1][1];
      else if (previous) labeling.start = previous[0];
    }
    selectCodePoints(labeling.el, labeling.start, labeling.end);
    showPicker();
  }

  function pick(entity) {
    if (!labeling) return;
    var row = labeling.row;
    var values = { entity: entity, offset: labeling.start, length: labeling.end - labeling.start };
    stopLabeling();
    setCurrent(row);
    post(row, row.dataset.url + "spans/", values);
  }

  if (picker) {
    picker.addEventListener("mousedown", function (event) { event.preventDefault(); });
    picker.addEventListener("click", function (event) {
      var button = event.target.closest("[data-entity]");
      if (button) pick(button.dataset.entity);
      else if (event.target.closest("[data-entity-search]")) openEntityPalette();
    });
  }

  document.addEventListener("mouseup", function (event) {
    if (!canLabel || !canEntities || (picker && picker.contains(event.target))) return;
    var el = event.target.closest && event.target.closest("#utterance-table .utt-text");
    if (!el) { if (labeling) stopLabeling(); return; }
    window.setTimeout(function () {
      var range = selectionOffsets(el);
      if (range && !charMode()) range = snapToWords(el.textContent, range);
      if (range) startLabeling(el.closest("tr.utt-row"), range);
    }, 0);
  });

  // Captures keys while labeling, before studio.js's shortcut handler (not while
  // the entity palette is open: its input takes the keys).
  document.addEventListener("keydown", function (event) {
    if (!labeling || paletteOpen()) return;
    var key = event.key;
    var handled = true;
    if (key === "Escape") {
      var row = labeling.row;
      stopLabeling();
      setCurrent(row);
    } else if (key === "ArrowLeft" || key === "ArrowRight") {
      adjust(key, event.shiftKey);
    } else if (key === "Enter" && picker.querySelectorAll("[data-entity]").length === 1) {
      pick(picker.querySelector("[data-entity]").dataset.entity);
    } else if (key === "Enter" || key === "/") {
      openEntityPalette();
    } else {
      var button = picker.querySelector('[data-key="' + CSS.escape(key.toLowerCase()) + '"]');
      if (button) pick(button.dataset.entity);
      else handled = key !== "Tab" && key.length === 1;
    }
    if (handled) { event.preventDefault(); event.stopPropagation(); }
  }, true);

  // ------------------------------------------------------------ edit text

  // r (or the row's ✎ button) swaps the row for an edit box; Enter saves (the
  // form posts through htmx), Esc or Cancel puts the row back unchanged.
  function editRow(row) {
    if (!row || !canLabel) return;
    var id = row.id;
    setCurrent(row, false);
    enqueue(function () {
      var el = document.getElementById(id);
      if (!el) return undefined;
      return htmx.ajax("GET", el.dataset.url + "text/", { source: el, target: el, swap: "outerHTML" });
    }).then(function () {
      var input = document.querySelector("#" + id + " .edit-text__input");
      if (input) {
        input.focus();
        input.setSelectionRange(input.value.length, input.value.length);
      }
    });
  }

  function cancelEdit(row) {
    var id = row.id;
    enqueue(function () {
      var el = document.getElementById(id);
      if (!el) return undefined;
      return htmx.ajax("GET", el.dataset.url, { source: el, target: el, swap: "outerHTML" });
    }).then(function () {
      var el = document.getElementById(id);
      if (el) setCurrent(el);
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-edit], [data-edit-cancel]");
    if (!target) return;
    var row = target.closest("tr.utt-row");
    if (!row) return;
    if (target.hasAttribute("data-edit")) editRow(row);
    else cancelEdit(row);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var form = event.target.closest("form.edit-text");
    if (!form) return;
    event.preventDefault();
    event.stopPropagation();
    cancelEdit(form.closest("tr.utt-row"));
  }, true);

  // u: undo the newest step of the user's history (a bulk action or a single
  // edit), after any edit still on its way; pressed again, the one before.
  function undo() {
    if (!canLabel) return;
    enqueue(function () {
      var t = table();
      return htmx.ajax("POST", root.dataset.undoUrl, {
        source: root, target: "#utterance-table", swap: "outerHTML",
        values: { next: t ? t.dataset.query : "" },
      });
    });
  }

  document.addEventListener("submit", function (event) {
    if (event.target.id !== "undo-form") return;
    event.preventDefault();
    undo();
  }, true);

  // ------------------------------------------------------------ shortcuts

  Studio.shortcut("j", function () { move(1); });
  Studio.shortcut("k", function () { move(-1); });
  for (var n = 1; n <= 9; n++) {
    (function (k) { Studio.shortcut(String(k), function () { assignIntent(k); }); })(n);
  }
  Studio.shortcut("l", function () { openPalette(null); });
  Studio.shortcut("t", toggleDataset);
  Studio.shortcut("m", function () { toggleGolden(rowOrFirst(), false); });
  Studio.shortcut("y", function () { acceptPrelabel(rowOrFirst()); });
  Studio.shortcut("x", toggleSelected);
  Studio.shortcut("/", function () {
    var q = document.getElementById("filter-q");
    if (q) { q.focus(); q.select(); }
  });
  Studio.shortcut("e", function () { startLabeling(rowOrFirst()); });
  Studio.shortcut("u", undo);
  Studio.shortcut("f", function () { setFocusMode(!focusMode); });
  Studio.shortcut("r", function () { editRow(rowOrFirst()); });
  Studio.shortcut("n", function () {
    var link = document.querySelector(".pager a[rel=next]");
    if (link) link.click();
  });
  Studio.shortcut("p", function () {
    var link = document.querySelector(".pager a[rel=prev]");
    if (link) link.click();
  });
  Studio.shortcut("a", function () {
    var box = document.querySelector("#add-lines textarea");
    if (box) box.focus();
  });

  // ------------------------------------------------------------ keyboard model

  // Enter on a row opens the palette for it (a row is reached by j/k or Tab).
  // Esc in any field of the screen (search, filters, forms) leaves it and goes
  // back to the row the user came from, or the first row after the filter
  // replaced the table; the search box keeps its text (Chrome would clear it).
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || paletteOpen() || labeling) return;
    var target = event.target;
    if (event.key === "Enter" && target.matches && target.matches("tr.utt-row")) {
      event.preventDefault();
      openPalette(target);
      return;
    }
    if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
    if (focusMode && target.matches && target.matches("tr.utt-row, body")) {
      event.preventDefault();
      setFocusMode(false);
      return;
    }
    if (!target.closest || !target.closest("#labeling") || !target.matches("input, select, textarea, button, a")) return;
    if (target.closest("tr.utt-row") && !target.matches("input, select, textarea")) return;
    event.preventDefault();
    target.blur();
    var row = currentRow() || rows()[0];
    if (row) setCurrent(row);
  });

  // Clicking or tabbing into a row makes it the current one.
  document.addEventListener("focusin", function (event) {
    var row = event.target.closest && event.target.closest("tr.utt-row");
    if (row && row.dataset.id !== currentId) setCurrent(row, false);
  });

  // After htmx replaced a row or the table: keep the current row current (and
  // focused, when the focus was on it), and the selection count right.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.elt;
    // A form swapped back: the cursor goes to the first bad field, or (lines were
    // added) to the fresh text box for the next batch.
    if (target && (target.id === "add-lines" || target.id === "upload")) {
      var bad = target.querySelector("[aria-invalid='true']");
      var box = target.id === "add-lines" ? target.querySelector("textarea") : null;
      if (bad) bad.focus();
      else if (box && event.detail.requestConfig && event.detail.requestConfig.verb === "post") box.focus();
    }
    // A new table (page, filter, bulk action) starts with nothing selected.
    if (target && target.id === "utterance-table") { selected.clear(); loadPrelabels(); }
    else restoreSelection();
    showPrelabels();
    if (focusAfterTableSwap && target && target.id === "utterance-table") {
      var list = rows();
      var row = focusAfterTableSwap === "first" ? list[0] : list[list.length - 1];
      focusAfterTableSwap = null;
      if (row) setCurrent(row);
    } else {
      var current = currentRow();
      if (current) {
        current.classList.add("is-current");
        if (document.activeElement === document.body || !document.activeElement) {
          current.focus({ preventScroll: true });
        }
      }
    }
    updateSelection();
    if (focusMode) showWhere();
  });

  // Exposed for the browser tests and the console.
  window.Labeling = { cpToU16: cpToU16, u16ToCp: u16ToCp, words: words, snapToWords: snapToWords };
})();
