// The clerk's desk (叫号台): refreshes the waiting counts and the kiosk help requests in place.
// The regions are aria-live="polite"; nothing takes the focus, and a region the clerk is
// working in (focus inside it) is left alone until they leave it.
(function () {
  "use strict";
  var root = document.querySelector("[data-desk-status]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-desk-status");
  var every = parseInt(root.getAttribute("data-poll-ms") || "5000", 10);
  var regions = { waiting: document.querySelector("[data-desk-waiting]"),
                  help: document.querySelector("[data-desk-help]") };
  var shown = {};

  function text(html) {
    var box = document.createElement("template");
    box.innerHTML = html;
    return box.content.textContent.replace(/\s+/g, " ").trim();
  }

  function update(data) {
    Object.keys(regions).forEach(function (key) {
      var region = regions[key];
      var html = data[key];
      if (!region || typeof html !== "string") { return; }
      if (html === shown[key] || region.contains(document.activeElement)) { return; }
      if (shown[key] === undefined && text(html) === text(region.innerHTML)) {
        shown[key] = html;  // the page was rendered with this already: nothing to announce
        return;
      }
      shown[key] = html;
      region.innerHTML = html;
    });
  }

  function poll() {
    if (document.hidden) { window.setTimeout(poll, every); return; }
    // marked as a background request: polling does not keep an idle session alive
    fetch(url, { headers: { "Accept": "application/json", "X-Requested-With": "autosave" },
                 credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        if (!response.ok || !json) { throw new Error("stop"); }  // logged out: stop polling
        return response.json();
      })
      .then(function (data) { update(data); window.setTimeout(poll, every); },
            function (error) { if (error.message !== "stop") { window.setTimeout(poll, every); } });
  }
  window.setTimeout(poll, every);
})();
