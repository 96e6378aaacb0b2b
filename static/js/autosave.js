// Periodic autosave of long application forms: every 20 s when something changed.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch) { return; }
  var status = form.querySelector(".autosave-status");
  var dirty = false;
  form.addEventListener("input", function () { dirty = true; });
  form.addEventListener("change", function () { dirty = true; });
  function save() {
    if (!dirty) { return; }
    dirty = false;
    fetch(form.getAttribute("data-autosave"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-Requested-With": "autosave" }
    }).then(function (r) {
      if (r.ok && status) { status.textContent = status.getAttribute("data-saved") || "草稿已自动保存"; }
      if (!r.ok) { dirty = true; }
    }).catch(function () { dirty = true; });
  }
  setInterval(save, 20000);
  window.addEventListener("pagehide", save);
})();
