// Knowledge-base screen: the follow-up picker and the focus after a form comes back
// with errors. No inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // A choice of the follow-up picker fills its prompt's "Leads to" field with
  // "#12 question" (the server reads the #12) and closes the list.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-pick-for]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-pick-for"));
    if (!field) return;
    field.value = button.getAttribute("data-pick-value");
    field.removeAttribute("aria-invalid");
    var list = button.closest(".picker");
    if (list) list.textContent = "";
    field.focus();
  });

  // The first problem of a form gets the focus (which scrolls it into view), so
  // an error is never left above the viewport with the focus on <body>.
  function focusError(root) {
    if (!root || !root.querySelector) return false;
    var bad = root.querySelector("[data-error-focus], [aria-invalid='true']");
    if (!bad) return false;
    bad.focus();
    if (bad.scrollIntoView) bad.scrollIntoView({ block: "center" });
    return true;
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.isConnected) focusError(elt);
  });

  // A plain (non-htmx) post that came back with errors.
  document.addEventListener("DOMContentLoaded", function () {
    focusError(document.getElementById("main"));
  });
})();
