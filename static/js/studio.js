// Orchestration Studio: the few behaviours HTML and htmx cannot express.
// No framework. Screens register their own shortcuts with Studio.shortcut(key, fn, help).
(function () {
  "use strict";

  var shortcuts = {};
  var pendingG = false;

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
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
  document.addEventListener("htmx:afterSwap", function (event) {
    Studio.focusFirstError(event.detail.target);
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
  studioToggleDependentFields(event.detail.target);
});
