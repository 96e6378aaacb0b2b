// The self-service kiosk (自助终端): after a while without input, a countdown dialog; when it
// runs out, the kiosk logs out, forgets everything and returns to its start page.
// Also the ticket page's print button.
(function () {
  "use strict";
  if (window.__portalKiosk) { return; }
  window.__portalKiosk = true;

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var dialog = document.getElementById("kiosk-idle");
  if (!dialog) { return; }
  var idleSeconds = parseInt(dialog.getAttribute("data-idle-seconds") || "120", 10);
  var countdownSeconds = parseInt(dialog.getAttribute("data-countdown-seconds") || "20", 10);
  var remaining = dialog.querySelector("[data-remaining]");
  var resetForm = dialog.querySelector("[data-reset-form]");
  var idleTimer = null;
  var tick = null;
  var left = countdownSeconds;
  var returnFocus = null;

  function hideDialog() {
    window.clearInterval(tick);
    tick = null;
    dialog.hidden = true;
    dialog.setAttribute("aria-hidden", "true");
    if (returnFocus && returnFocus.focus) { returnFocus.focus(); }
  }

  function finish() {
    window.clearInterval(tick);
    tick = null;
    resetForm.submit();
  }

  function showDialog() {
    left = countdownSeconds;
    remaining.textContent = String(left);
    returnFocus = document.activeElement;
    dialog.hidden = false;
    dialog.setAttribute("aria-hidden", "false");
    dialog.querySelector("[data-action=continue]").focus();
    tick = window.setInterval(function () {
      left -= 1;
      remaining.textContent = String(Math.max(left, 0));
      if (left <= 0) { finish(); }
    }, 1000);
  }

  function restart() {
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(showDialog, idleSeconds * 1000);
  }

  function activity() {
    if (tick !== null) { return; }  // while counting down, only "继续使用" keeps the session
    restart();
  }

  ["pointerdown", "keydown", "input", "touchstart", "wheel"].forEach(function (name) {
    document.addEventListener(name, activity, { passive: true, capture: true });
  });
  dialog.querySelector("[data-action=continue]").addEventListener("click", function () {
    hideDialog();
    restart();
  });
  restart();
})();
