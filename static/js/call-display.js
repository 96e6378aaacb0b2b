// The hall's call display (叫号屏): polls for new calls, shows them large and speaks each one.
(function () {
  "use strict";
  var root = document.querySelector(".call-display");
  if (!root) { return; }
  var url = root.getAttribute("data-calls-url");
  var last = parseInt(root.getAttribute("data-last") || "0", 10);
  var every = parseInt(root.getAttribute("data-poll-ms") || "2000", 10);
  var lang = root.getAttribute("data-lang") === "en" ? "en-GB" : "zh-CN";
  var now = root.querySelector("[data-now]");
  var list = root.querySelector("[data-list]");
  var KEEP = 6;

  function speak(text) {
    if (!("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") { return; }
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = lang;
    utterance.rate = 0.9;
    window.speechSynthesis.speak(utterance);  // queued after any announcement still speaking
  }

  function row(call) {
    var tr = document.createElement("tr");
    var code = document.createElement("td");
    code.textContent = call.code;
    var win = document.createElement("td");
    win.textContent = call.window_label;
    tr.appendChild(code);
    tr.appendChild(win);
    return tr;
  }

  function show(calls) {
    // calls come newest first; announce them oldest first
    calls.slice().reverse().forEach(function (call) {
      if (call.id <= last) { return; }
      last = call.id;
      now.textContent = call.text;
      list.insertBefore(row(call), list.firstChild);
      speak(call.text);
    });
    while (list.children.length > KEEP) { list.removeChild(list.lastChild); }
  }

  function poll() {
    fetch(url + "?after=" + last, { headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : { calls: [] }; })
      .then(function (data) { show(data.calls || []); })
      .catch(function () { /* the network is back at the next poll */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
})();
