// Schema, orchestration and knowledge-base screens: a single key focuses the field
// that declares it with data-shortcut="<key>". The field is looked up when the key is
// pressed, so forms that htmx swapped in keep working.
(function () {
  "use strict";
  if (!window.Studio) return;

  var keys = {};
  document.querySelectorAll("[data-shortcut]").forEach(function (el) {
    keys[el.getAttribute("data-shortcut")] = true;
  });
  Object.keys(keys).forEach(function (key) {
    window.Studio.shortcut(key, function () {
      var el = document.querySelector('[data-shortcut="' + key + '"]');
      if (!el) return;
      var details = el.closest("details");
      if (details) details.open = true;
      el.focus();
      if (el.select) el.select();
    });
  });
})();
