// Phone list cards: unfold labels each cell from its `data-label` (the column's verbose name,
// lower case). Capital first letter only, as the column headers show it; admin.css stops the
// CSS title-casing ("Nome De Exibição").
(function () {
  "use strict";
  function fix(root) {
    root.querySelectorAll("[data-label]").forEach(function (cell) {
      var label = cell.getAttribute("data-label") || "";
      var fixed = label.charAt(0).toLocaleUpperCase("pt-BR") + label.slice(1);
      if (fixed !== label) cell.setAttribute("data-label", fixed);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      fix(document);
    });
  } else {
    fix(document);
  }
})();
