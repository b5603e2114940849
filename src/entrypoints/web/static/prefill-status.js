// Pre-fill status page: polls the status endpoint every 2 seconds and reloads the page when a
// source's state changes (the page itself then shows « Continuer » once every source has ended).
// Without JavaScript, the page refreshes itself through a <noscript> meta refresh.
(function () {
  var holder = document.getElementById("prefill-status");
  if (!holder || !holder.dataset.url || holder.dataset.finished === "true") { return; }
  var shown = {};
  holder.querySelectorAll("tr[data-source]").forEach(function (row) {
    shown[row.dataset.source] = row.dataset.status;
  });
  var timer = window.setInterval(function () {
    fetch(holder.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        var changed = body.finished || body.sources.some(function (s) { return shown[s.source] !== s.status; });
        if (changed) { window.clearInterval(timer); window.location.reload(); }
      })
      .catch(function () { /* a network hiccup: the next tick tries again */ });
  }, 2000);
})();
