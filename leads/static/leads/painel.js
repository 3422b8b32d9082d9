// Painel charts (Chart.js, shipped in unfold's static files and loaded by its base template).
// The numbers come from the page's JSON (the same figures as the tables beside each chart).
(function () {
  "use strict";

  function read(id) {
    var el = document.getElementById(id);
    if (!el) return null;
    try {
      return JSON.parse(el.textContent);
    } catch (e) {
      return null;
    }
  }

  function init() {
    if (!window.Chart) return; // the tables still show every figure
    var lang = document.documentElement.lang || "pt-BR";
    var count = new Intl.NumberFormat(lang);
    var money = new Intl.NumberFormat(lang, { style: "currency", currency: "BRL" });
    var primary = "#7c3aed";
    var secondary = "#16a34a";
    var base = {
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return count.format(v); } } } },
    };

    function chart(id, config) {
      var canvas = document.getElementById(id);
      if (canvas) new window.Chart(canvas, config);
    }

    var sales = read("painel-sales-data");
    if (sales && sales.funnel) {
      chart("chart-funnel", {
        type: "bar",
        data: {
          labels: sales.funnel.labels,
          datasets: [
            { label: sales.series.entraram, data: sales.funnel.entraram, backgroundColor: primary },
            { label: sales.series.avancaram, data: sales.funnel.avancaram, backgroundColor: secondary },
          ],
        },
        options: base,
      });
      chart("chart-weeks", {
        type: "line",
        data: {
          labels: sales.weeks.labels,
          datasets: [
            { label: "Leads", data: sales.weeks.leads, borderColor: primary, backgroundColor: primary, tension: 0.2 },
            { label: sales.series.convertidos, data: sales.weeks.convertidos, borderColor: secondary, backgroundColor: secondary, tension: 0.2 },
          ],
        },
        options: base,
      });
      chart("chart-origens", {
        type: "bar",
        data: {
          labels: sales.origens.labels,
          datasets: [
            { label: "Leads", data: sales.origens.leads, backgroundColor: primary },
            { label: sales.series.convertidos, data: sales.origens.convertidos, backgroundColor: secondary },
          ],
        },
        options: Object.assign({}, base, { indexAxis: "y", scales: { x: { beginAtZero: true } } }),
      });
      chart("chart-closers", {
        type: "bar",
        data: {
          labels: sales.closers.labels,
          datasets: [{ label: sales.series.valor, data: sales.closers.valor, backgroundColor: primary }],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: "y",
          plugins: {
            legend: { display: false },
            tooltip: { callbacks: { label: function (ctx) { return money.format(ctx.parsed.x); } } },
          },
          scales: { x: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } } },
        },
      });
    }
    var mentees = read("painel-mentees-data");
    if (mentees && mentees.nps) {
      chart("chart-nps", {
        type: "line",
        data: {
          labels: mentees.labels,
          datasets: [{ label: "NPS", data: mentees.nps, borderColor: primary, backgroundColor: primary, spanGaps: true, tension: 0.2 }],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          plugins: { legend: { display: false } },
          scales: { y: { suggestedMin: -100, suggestedMax: 100 } },
        },
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
