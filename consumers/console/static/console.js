// Live refresh: every few seconds, re-read this page and swap in its [data-live] sections.
// A section holding the focus or a half-typed field is left alone. Pages work without this.
(function () {
  "use strict";
  var poller = document.querySelector("[data-poll]");
  if (!poller || !window.fetch || !window.DOMParser) { return; }
  var seconds = Math.max(2, parseInt(poller.getAttribute("data-poll"), 10) || 5);

  function busy(section) {
    if (section.contains(document.activeElement) && document.activeElement !== document.body) { return true; }
    var fields = section.querySelectorAll("input[type=text], input:not([type]), textarea");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }

  function refresh() {
    if (document.visibilityState === "hidden") { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Console-Poll": "1" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (section) {
          var twin = section.id && fresh.getElementById(section.id);
          if (twin && !busy(section) && twin.innerHTML !== section.innerHTML) { section.innerHTML = twin.innerHTML; }
        });
        document.documentElement.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  window.setInterval(refresh, seconds * 1000);
}());
