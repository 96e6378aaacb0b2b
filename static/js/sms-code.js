// 重新获取验证码: the button waits out the resend interval the server gave (it refuses an earlier
// resend anyway), showing the seconds left; without JavaScript it is simply enabled.
(function () {
  "use strict";
  var button = document.querySelector("button[data-resend-wait]");
  if (!button) { return; }
  var left = parseInt(button.getAttribute("data-resend-wait"), 10) || 0;
  var label = button.getAttribute("data-label");
  var waitLabel = button.getAttribute("data-wait-label");
  function show() {
    if (left > 0) {
      button.disabled = true;
      button.textContent = waitLabel.replace("{s}", String(left));
      left -= 1;
      setTimeout(show, 1000);
    } else {
      button.disabled = false;
      button.textContent = label;
    }
  }
  show();
})();
