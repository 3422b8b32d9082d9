// Pipeline board: drag and drop (HTML5) and a per-card "Mover para" select move a lead
// through the REST API (PATCH /api/v1/leads/{id}/, session + CSRF), so the API's validation
// and status service apply; "Carregar mais" fetches the next cards of a column.
(function () {
  "use strict";

  function init() {
    var board = document.getElementById("bo-board");
    if (!board) return;
    var cfg = board.dataset;
    var feedback = document.getElementById("bo-feedback");
    var dialog = document.getElementById("bo-lost-dialog");
    var mayMove = cfg.mayMove === "1";
    var lang = document.documentElement.lang || "pt-BR";
    var money = new Intl.NumberFormat(lang, { style: "currency", currency: "BRL" });
    var count = new Intl.NumberFormat(lang);

    function say(text, isError) {
      feedback.textContent = text;
      feedback.className = "bo-feedback " + (isError ? "is-error" : "is-ok");
      feedback.setAttribute("role", isError ? "alert" : "status");
    }

    function column(status) {
      return board.querySelector('.bo-column[data-status="' + status + '"]');
    }

    function label(status) {
      var head = column(status).querySelector("h2");
      return head ? head.textContent.trim() : status;
    }

    function adjust(status, deltaCount, deltaValue) {
      var col = column(status);
      var countEl = col.querySelector(".bo-count");
      var sumEl = col.querySelector(".bo-sum");
      var n = parseInt(countEl.dataset.count, 10) + deltaCount;
      var sum = parseFloat(sumEl.dataset.sum) + deltaValue;
      countEl.dataset.count = String(n);
      sumEl.dataset.sum = sum.toFixed(2);
      countEl.textContent = count.format(n);
      sumEl.textContent = money.format(sum).replace(/\u00a0/g, " ");
    }

    function errorText(body) {
      if (!body || typeof body !== "object") return cfg.msgError;
      var parts = [];
      if (body.error) parts.push(body.error);
      var details = body.details || {};
      Object.keys(details).forEach(function (key) {
        var value = details[key];
        (Array.isArray(value) ? value : [value]).forEach(function (item) {
          if (typeof item === "string" && parts.indexOf(item) === -1) parts.push(item);
        });
      });
      return parts.join(" ") || cfg.msgError;
    }

    function askReason() {
      return new Promise(function (resolve) {
        var reason = document.getElementById("bo-lost-reason");
        reason.value = "";
        dialog.returnValue = "";
        dialog.addEventListener(
          "close",
          function () {
            resolve(dialog.returnValue === "ok" ? reason.value.trim() : null);
          },
          { once: true }
        );
        dialog.showModal();
        reason.focus();
      });
    }

    function move(card, to) {
      var from = card.dataset.status;
      if (!mayMove || from === to) return;
      var select = card.querySelector(".bo-move-select");
      var ask = to === cfg.lost ? askReason() : Promise.resolve("");
      ask.then(function (reason) {
        if (reason === null) {
          if (select) select.value = from;
          return;
        }
        var body = { status: to };
        if (to === cfg.lost) body.motivo_perda = reason;
        card.classList.add("is-busy");
        fetch(cfg.api + card.dataset.id + "/", {
          method: "PATCH",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRFToken": cfg.csrf,
            "X-Organization-Id": cfg.org,
          },
          body: JSON.stringify(body),
        })
          .then(function (response) {
            return response
              .json()
              .catch(function () {
                return null;
              })
              .then(function (data) {
                return { ok: response.ok, data: data };
              });
          })
          .then(function (result) {
            card.classList.remove("is-busy");
            if (!result.ok) {
              if (select) select.value = from;
              say(errorText(result.data), true);
              return;
            }
            var valor = parseFloat(card.dataset.valor) || 0;
            adjust(from, -1, -valor);
            adjust(to, 1, valor);
            card.dataset.status = to;
            if (select) select.value = to;
            var days = card.querySelector(".bo-days");
            if (days) days.textContent = cfg.msgDaysOne;
            var target = column(to).querySelector(".bo-cards");
            target.insertBefore(card, target.firstChild);
            card.focus();
            say(cfg.msgMoved.replace("%(status)s", label(to)), false);
          })
          .catch(function () {
            card.classList.remove("is-busy");
            if (select) select.value = from;
            say(cfg.msgNetwork, true);
          });
      });
    }

    // Each card's "Mover para" select gets every status from one <template> (rendering the
    // options server-side for every card was most of the page's rendering time).
    var options = document.getElementById("bo-move-options");
    function fillMenus(root) {
      if (!options) return;
      root.querySelectorAll("select.bo-move-select").forEach(function (select) {
        if (select.options.length > 1) return;
        var current = select.value;
        select.innerHTML = "";
        select.appendChild(options.content.cloneNode(true));
        select.value = current;
      });
    }
    fillMenus(board);

    // Drag and drop.
    var dragged = null;
    board.addEventListener("dragstart", function (event) {
      var card = event.target.closest && event.target.closest(".bo-card");
      if (!card || !mayMove) return;
      dragged = card;
      card.classList.add("is-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.id);
    });
    board.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("is-dragging");
      dragged = null;
      board.querySelectorAll(".is-over").forEach(function (el) {
        el.classList.remove("is-over");
      });
    });
    board.addEventListener("dragover", function (event) {
      if (!dragged) return;
      // Scroll the board while a card is held near its left or right edge.
      var box = board.getBoundingClientRect();
      if (event.clientX > box.right - 60) board.scrollLeft += 24;
      else if (event.clientX < box.left + 60) board.scrollLeft -= 24;
      var col = event.target.closest && event.target.closest(".bo-column");
      if (!col) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      col.classList.add("is-over");
    });
    board.addEventListener("dragleave", function (event) {
      var col = event.target.closest && event.target.closest(".bo-column");
      if (col && !col.contains(event.relatedTarget)) col.classList.remove("is-over");
    });
    board.addEventListener("drop", function (event) {
      var col = event.target.closest && event.target.closest(".bo-column");
      if (!col) return;
      event.preventDefault();
      col.classList.remove("is-over");
      var id = event.dataTransfer.getData("text/plain");
      var card = dragged || document.getElementById("card-" + id);
      if (card) move(card, col.dataset.status);
    });

    // Keyboard / menu alternative.
    board.addEventListener("change", function (event) {
      if (!event.target.classList.contains("bo-move-select")) return;
      var card = event.target.closest(".bo-card");
      move(card, event.target.value);
    });

    // More cards on demand.
    board.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest(".bo-more");
      if (!button) return;
      button.disabled = true;
      var url =
        cfg.columnUrl +
        "?" +
        cfg.filters +
        "&status=" +
        encodeURIComponent(button.dataset.status) +
        "&offset=" +
        encodeURIComponent(button.dataset.offset);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (result) {
          button.disabled = false;
          if (!result.ok) {
            say(errorText(result.data), true);
            return;
          }
          var list = column(button.dataset.status).querySelector(".bo-cards");
          var holder = document.createElement("div");
          holder.innerHTML = result.data.html;
          Array.prototype.slice.call(holder.children).forEach(function (card) {
            // A card moved here by this page is already shown: keep one.
            if (!document.getElementById(card.id)) list.appendChild(card);
          });
          fillMenus(list);
          if (result.data.next_offset === null) button.remove();
          else button.dataset.offset = String(result.data.next_offset);
        })
        .catch(function () {
          button.disabled = false;
          say(cfg.msgNetwork, true);
        });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
