// Live progress of a lead import: polls the admin's progress.json until the job finishes,
// then reloads once so the page shows the result and the first errors.
(function () {
  "use strict";
  const box = document.getElementById("import-status");
  if (!box || box.dataset.finished === "1") return;
  const url = box.dataset.progressUrl;
  const bar = document.getElementById("import-bar");
  // Counts grouped as the page's language writes them ("1.500" in pt-BR), as the server renders.
  const count = new Intl.NumberFormat(document.documentElement.lang || "pt-BR");
  function show(p) {
    bar.max = p.total_rows;
    bar.value = p.processed_rows;
    bar.textContent = p.percent + "%";
    document.getElementById("import-done").textContent = count.format(p.processed_rows);
    document.getElementById("import-total").textContent = count.format(p.total_rows);
    document.getElementById("import-percent").textContent = p.percent;
    document.getElementById("import-state").textContent = p.status_display;
    document.getElementById("import-created").textContent = count.format(p.created);
    document.getElementById("import-duplicates").textContent = count.format(p.duplicates_skipped);
    document.getElementById("import-invalid").textContent = count.format(p.invalid_rows);
    document.getElementById("import-failed").hidden = p.status !== "failed";
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (p) {
        show(p);
        if (p.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
