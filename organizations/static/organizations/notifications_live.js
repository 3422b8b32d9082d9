// Live notifications in the back office: an unread badge and a toast per new notification,
// fed by the Server-Sent Events stream (GET /api/v1/notifications/stream/, session auth).
// Loaded on every admin page through UNFOLD["SCRIPTS"]; does nothing when logged out.
(function () {
  "use strict";
  if (window.__notificationsLive || !window.EventSource || !window.fetch) return;
  window.__notificationsLive = true;

  var english = (document.documentElement.lang || "").toLowerCase().indexOf("en") === 0;
  var text = english
    ? { unread: "Unread notifications", fresh: "New notification" }
    : { unread: "Notificações não lidas", fresh: "Nova notificação" };
  var API = "/api/v1/notifications/";

  function el(tag, style, content) {
    var node = document.createElement(tag);
    node.setAttribute("style", style);
    if (content !== undefined) node.textContent = content;
    return node;
  }

  var badge = el(
    "a",
    "position:fixed;right:16px;bottom:16px;z-index:1000;display:none;padding:6px 12px;" +
      "border-radius:999px;background:#7c3aed;color:#fff;font:600 13px/1.4 sans-serif;" +
      "text-decoration:none;box-shadow:0 2px 8px rgba(0,0,0,.25)"
  );
  badge.id = "notifications-live-badge";
  badge.href = "/admin/organizations/notification/?read_at__isnull=True";
  badge.title = text.unread;
  var toasts = el(
    "div",
    "position:fixed;right:16px;bottom:56px;z-index:1000;display:flex;flex-direction:column;gap:8px"
  );
  toasts.id = "notifications-live-toasts";

  function setUnread(count) {
    badge.textContent = "\uD83D\uDD14 " + count;
    badge.style.display = count > 0 ? "inline-block" : "none";
  }

  function toast(notification) {
    var box = el(
      "div",
      "max-width:320px;padding:10px 14px;border-radius:8px;background:#111827;color:#f9fafb;" +
        "font:13px/1.4 sans-serif;box-shadow:0 4px 12px rgba(0,0,0,.3)"
    );
    box.setAttribute("role", "status");
    box.appendChild(el("strong", "display:block;margin-bottom:2px", text.fresh));
    box.appendChild(el("span", "", notification.titulo));
    toasts.appendChild(box);
    setTimeout(function () {
      box.remove();
    }, 6000);
  }

  function start(initial) {
    document.body.appendChild(toasts);
    document.body.appendChild(badge);
    setUnread(initial);
    var source = new EventSource(API + "stream/", { withCredentials: true });
    source.addEventListener("notification", function (event) {
      var notification = JSON.parse(event.data);
      setUnread(notification.unread);
      toast(notification);
    });
    // EventSource reconnects by itself, sending Last-Event-ID: missed events are replayed.
  }

  document.addEventListener("DOMContentLoaded", function () {
    fetch(API + "?unread=true&limit=1", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (body) {
        if (body && body.pagination) start(body.pagination.total);
      })
      .catch(function () {});
  });
})();
