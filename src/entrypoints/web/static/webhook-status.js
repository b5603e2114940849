// Reloads the confirmation page once the webhook's status changes (without JavaScript, the page
// refreshes itself through a <noscript> meta refresh).
(function () {
  var holder = document.getElementById("webhook-status");
  if (!holder || !holder.dataset.url) { return; }
  var initial = holder.dataset.status;
  var timer = window.setInterval(function () {
    fetch(holder.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.webhook_status !== initial) { window.clearInterval(timer); window.location.reload(); }
      })
      .catch(function () { window.clearInterval(timer); });
  }, 2000);
})();
