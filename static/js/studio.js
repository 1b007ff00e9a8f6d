// Orchestration Studio: the few behaviours HTML and htmx cannot express.
// No framework. Screens register their own shortcuts with Studio.shortcut(key, fn, help).
(function () {
  "use strict";

  var shortcuts = {};
  var pendingG = false;

  var NOT_TYPED = ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"];

  // Whether a key pressed in target is text for it rather than a shortcut. A
  // checkbox or radio takes no letters; the selects of a bar marked
  // data-keep-shortcuts (the Data screen's filters) give up type-ahead so the
  // screen's keys keep working after a filter was picked.
  function isTyping(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName;
    if (tag === "INPUT") return NOT_TYPED.indexOf((target.type || "").toLowerCase()) === -1;
    if (tag === "SELECT") return !target.closest("[data-keep-shortcuts]");
    return tag === "TEXTAREA" || target.isContentEditable;
  }

  function helpDialog() {
    return document.getElementById("shortcut-help");
  }

  function openHelp() {
    var dialog = helpDialog();
    if (dialog && !dialog.open) dialog.showModal();
  }

  var Studio = {
    // Register a single-key shortcut for the current page. fn(event) runs when the
    // key is pressed outside form fields and no dialog is open.
    shortcut: function (key, fn) {
      shortcuts[key] = fn;
    },
    openHelp: openHelp,
    // Focus the first invalid field inside root (after a form comes back with errors).
    focusFirstError: function (root) {
      var field = (root || document).querySelector("[aria-invalid='true']");
      if (field) field.focus();
    },
  };
  window.Studio = Studio;

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (pendingG) {
      pendingG = false;
      if (event.key === "p") {
        window.location.href = "/";
        event.preventDefault();
      }
      return;
    }
    if (event.key === "?") {
      openHelp();
      event.preventDefault();
      return;
    }
    if (event.key === "g") {
      pendingG = true;
      window.setTimeout(function () { pendingG = false; }, 1000);
      return;
    }
    var fn = shortcuts[event.key];
    if (fn) {
      fn(event);
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-shortcut-help]");
    if (button) openHelp();
  });

  // Forms swapped in by htmx with errors: put the cursor on the first bad field.
  // After an outerHTML swap event.detail.target is the old, detached element:
  // the new content is the element the event fires on (studioSwapped).
  document.addEventListener("htmx:afterSwap", function (event) {
    Studio.focusFirstError(studioSwapped(event));
  });

  // Buttons with data-confirm ask before submitting a plain (non-htmx) form.
  document.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    var message = submitter && submitter.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();

// A secret shown once (a new API key): focusing the field selects it for copying.
document.addEventListener("focusin", function (event) {
  var target = event.target;
  if (target && target.hasAttribute && target.hasAttribute("data-select-on-focus")) {
    target.select();
  }
});

// The element an htmx swap put in the page: the swap target while it is still in the
// document (innerHTML), else the new element the event was dispatched on (outerHTML
// replaced the target, which htmx still reports as event.detail.target).
function studioSwapped(event) {
  var target = event.detail && event.detail.target;
  if (target && target.isConnected) return target;
  return event.target && event.target.isConnected ? event.target : document;
}

// Fields that only apply to some choices of another field (the create form shows the
// confidence threshold for conversation kinds, the default answer for knowledge
// bases): <div data-show-when="kind" data-show-values="A B">. Without JS all show.
function studioToggleDependentFields(root) {
  (root || document).querySelectorAll("[data-show-when]").forEach(function (el) {
    var form = el.closest("form");
    if (!form) return;
    var name = el.getAttribute("data-show-when");
    var checked = form.querySelector("[name='" + name + "']:checked") ||
      form.querySelector("select[name='" + name + "']");
    var values = (el.getAttribute("data-show-values") || "").split(" ");
    el.hidden = checked ? values.indexOf(checked.value) === -1 : false;
  });
}
document.addEventListener("change", function (event) {
  if (event.target && event.target.name) studioToggleDependentFields(event.target.form);
});
document.addEventListener("DOMContentLoaded", function () { studioToggleDependentFields(); });
document.addEventListener("htmx:afterSwap", function (event) {
  studioToggleDependentFields(studioSwapped(event));
});

// Sizes and colours computed on the server (bar widths, heat-map shades, entity
// underlines) arrive as data attributes and are set here through the CSSOM: the
// Content-Security-Policy forbids style attributes in the markup.
function studioApplyMeasures(root) {
  var scope = root && root.querySelectorAll ? root : document;
  var pick = function (selector) {
    var found = Array.prototype.slice.call(scope.querySelectorAll(selector));
    if (scope.matches && scope.matches(selector)) found.push(scope);
    return found;
  };
  // A stacked Train/Test/unassigned bar as one attribute of the cell it goes in
  // (data-bar="60 20 20"): the Data screen draws one per intent, and its spans
  // in the markup would weigh down a page of 150 intents. Decoration: the counts
  // are in the row.
  pick("[data-bar]").forEach(function (el) {
    var parts = el.getAttribute("data-bar").split(" ");
    el.removeAttribute("data-bar");
    var bar = document.createElement("span");
    bar.className = "bar";
    bar.setAttribute("aria-hidden", "true");
    ["train", "test", "none"].forEach(function (name, index) {
      var piece = document.createElement("span");
      piece.className = "bar__" + name;
      piece.setAttribute("data-width", parts[index] || "0");
      bar.appendChild(piece);
    });
    el.appendChild(bar);
  });
  pick("[data-width]").forEach(function (el) {
    var percent = parseFloat(el.getAttribute("data-width"));
    if (!isNaN(percent)) el.style.width = Math.max(0, Math.min(100, percent)) + "%";
  });
  pick("[data-heat]").forEach(function (el) {
    var heat = parseFloat(el.getAttribute("data-heat"));
    if (!isNaN(heat)) el.style.setProperty("--heat", String(heat));
  });
  pick("[data-underlines]").forEach(function (el) {
    var lanes = el.getAttribute("data-underlines").split(" ");
    el.style.boxShadow = lanes.map(function (lane, index) {
      var colour = lane === "-" ? "var(--seg-gap)" : "var(--ent-" + parseInt(lane, 10) + ")";
      return "0 " + 3 * (index + 1) + "px 0 0 " + colour;
    }).join(", ");
    el.style.marginBottom = 3 * lanes.length + "px";
  });
}
document.addEventListener("DOMContentLoaded", function () { studioApplyMeasures(document); });
document.addEventListener("htmx:load", function (event) { studioApplyMeasures(event.target); });

// An htmx request that failed swaps nothing (base.html's htmx-config): without a
// word the click would seem ignored. Say what happened in the page's message area.
(function () {
  "use strict";

  var MESSAGES = {
    0: "The studio could not be reached. Check that it is running and try again.",
    400: "The studio could not accept this request. Reload the page and try again.",
    403: "You are not allowed to do this (or your session expired: reload the page).",
    404: "This item no longer exists. Reload the page to see the current state.",
    409: "Someone else changed this in the meantime. Reload the page and try again.",
    413: "This is too large for the studio to accept.",
    429: "Too many requests right now. Wait a moment and try again.",
  };

  function describe(status) {
    if (MESSAGES[status]) return MESSAGES[status];
    if (status >= 500) {
      return "Something went wrong on the studio's side (error " + status +
        "). Try again in a moment.";
    }
    return "The request failed (error " + status + "). Reload the page and try again.";
  }

  // The message floats at the bottom of the window (studio.css), so it is seen on a
  // long screen scrolled far below the page's message area, until dismissed.
  function show(text) {
    var area = document.getElementById("messages");
    if (!area) return;
    var previous = document.querySelector("[data-request-error]");
    if (previous) previous.remove();
    var message = document.createElement("div");
    message.className = "message message--error message--floating";
    message.setAttribute("role", "alert");
    message.setAttribute("data-request-error", "");
    var words = document.createElement("p");
    words.textContent = text;
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "button button--quiet";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", function () { message.remove(); });
    message.appendChild(words);
    message.appendChild(dismiss);
    area.appendChild(message);
  }

  document.addEventListener("htmx:responseError", function (event) {
    show(describe(event.detail.xhr ? event.detail.xhr.status : 0));
  });
  document.addEventListener("htmx:sendError", function () { show(describe(0)); });
})();
