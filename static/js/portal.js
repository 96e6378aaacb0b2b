// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var body = document.body;

  // Move focus to the error summary so screen readers announce it and keyboard users start there.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // ---- 菜单 on narrow screens: the header folds the account links and the navigation behind
  // one button (CSS shows the button only on narrow screens); without this file all stays open.
  var header = document.querySelector(".site-header");
  var menuToggle = header && header.querySelector(".menu-toggle");
  if (menuToggle) {
    var nav = header.querySelector(".site-nav");
    if (nav) {
      nav.id = nav.id || "site-nav";
      menuToggle.setAttribute("aria-controls", "header-extra " + nav.id);
    }
    var setMenu = function (open) {
      menuToggle.setAttribute("aria-expanded", open ? "true" : "false");
      header.classList.toggle("menu-closed", !open);
    };
    menuToggle.hidden = false;
    header.classList.add("menu-ready");
    setMenu(false);
    menuToggle.addEventListener("click", function () {
      setMenu(menuToggle.getAttribute("aria-expanded") !== "true");
    });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menuToggle.getAttribute("aria-expanded") === "true") {
        setMenu(false);
        menuToggle.focus();
      }
    });
  }

  // ---- dates and codes in running text (2026-12-09, SHA-256) never break at their hyphen: the
  // browser may wrap after any "-", which on a phone leaves "2026-12-" on one line and "09" on
  // the next. Pages written by the templates already mark theirs; this covers text from data
  // (never inside an SVG chart: its text does not wrap, and an HTML span there is not drawn).
  var main = document.getElementById("main");
  var HYPHENATED = /\d{4}-\d{1,2}-\d{1,2}|[A-Za-z]{2,}-\d+/g;
  if (main && document.createTreeWalker) {
    var walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    var found = [];
    for (var n = walker.nextNode(); n; n = walker.nextNode()) {
      HYPHENATED.lastIndex = 0;
      if (HYPHENATED.test(n.nodeValue) && !n.parentElement.closest(".nowrap, .time-range, option, script, style, textarea, pre, svg")) {
        found.push(n);
      }
    }
    found.forEach(function (node) {
      var text = node.nodeValue;
      var piece = document.createDocumentFragment();
      var last = 0;
      text.replace(HYPHENATED, function (match, offset) {
        piece.appendChild(document.createTextNode(text.slice(last, offset)));
        var span = document.createElement("span");
        span.className = "nowrap";
        span.textContent = match;
        piece.appendChild(span);
        last = offset + match.length;
        return match;
      });
      piece.appendChild(document.createTextNode(text.slice(last)));
      node.parentNode.replaceChild(piece, node);
    });
  }

  // ---- 朗读 (read aloud): the main content in order, never the navigation ----------------
  var readButtons = document.querySelectorAll("[data-read-aloud]");
  function readableText(box) {
    var target = box && box.getAttribute("data-read-target");
    var main = (target && document.querySelector(target)) || document.getElementById("main");
    var clone = main.cloneNode(true);
    clone.querySelectorAll("[data-no-read], script, style, form input[type=hidden], .read-aloud")
      .forEach(function (el) { el.remove(); });
    return clone.innerText.replace(/\s+\n/g, "\n").trim();
  }
  function setState(state) {
    readButtons.forEach(function (box) {
      box.setAttribute("data-state", state);
      var start = box.querySelector("[data-action=start]");
      var pause = box.querySelector("[data-action=pause]");
      var stop = box.querySelector("[data-action=stop]");
      if (start) { start.setAttribute("aria-pressed", state === "speaking" ? "true" : "false"); }
      if (pause) { pause.disabled = state === "idle"; pause.textContent = state === "paused" ? pause.getAttribute("data-resume") : pause.getAttribute("data-pause"); }
      if (stop) { stop.disabled = state === "idle"; }
    });
  }
  if (readButtons.length && "speechSynthesis" in window) {
    readButtons.forEach(function (box) {
      box.hidden = false;
      box.addEventListener("click", function (event) {
        var action = event.target.closest("[data-action]");
        if (!action) { return; }
        var synth = window.speechSynthesis;
        var what = action.getAttribute("data-action");
        if (what === "start") {
          synth.cancel();
          var utterance = new SpeechSynthesisUtterance(readableText(box));
          utterance.lang = document.documentElement.lang === "en" ? "en-GB" : "zh-CN";
          utterance.rate = document.documentElement.classList.contains("elder") ? 0.85 : 1;
          utterance.onend = function () { setState("idle"); };
          synth.speak(utterance);
          setState("speaking");
        } else if (what === "pause") {
          if (synth.paused) { synth.resume(); setState("speaking"); } else { synth.pause(); setState("paused"); }
        } else if (what === "stop") {
          synth.cancel();
          setState("idle");
        }
      });
    });
    setState("idle");
  }

  // ---- session timeout: warn 2 minutes ahead, extend with one key, never lose work ---------
  var lifetime = parseInt(body.getAttribute("data-session-seconds") || "0", 10);
  var dialog = document.getElementById("timeout-dialog");
  if (lifetime > 0 && dialog) {
    var warnAhead = Math.min(120, Math.floor(lifetime / 2));
    var expiresAt, warnTimer, saveTimer, endTimer, tick;
    var remaining = dialog.querySelector("[data-remaining]");
    var extendButton = dialog.querySelector("[data-action=extend]");
    var lastFocus = null;
    var csrf = document.querySelector("meta[name=csrf-token]");

    var schedule = function () {
      expiresAt = Date.now() + lifetime * 1000;
      clearTimeout(warnTimer); clearTimeout(saveTimer); clearTimeout(endTimer);
      warnTimer = setTimeout(openDialog, (lifetime - warnAhead) * 1000);
      // the last save happens while the session still holds; autosaves never extend it
      saveTimer = setTimeout(saveDrafts, Math.max(0, lifetime - 2) * 1000);
      endTimer = setTimeout(expire, lifetime * 1000 + 1500);
    };
    var saveDrafts = function () {
      var form = document.querySelector("form[data-autosave]");
      if (!form || !window.fetch) { return Promise.resolve(); }
      return fetch(form.getAttribute("data-autosave"), {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-Requested-With": "autosave" }
      }).catch(function () {});
    };
    var openDialog = function () {
      lastFocus = document.activeElement;
      dialog.hidden = false;
      dialog.setAttribute("aria-hidden", "false");
      saveDrafts();
      tick = setInterval(function () {
        var secs = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
        remaining.textContent = Math.floor(secs / 60) + ":" + String(secs % 60).padStart(2, "0");
      }, 1000);
      extendButton.focus();
    };
    var closeDialog = function () {
      dialog.hidden = true;
      dialog.setAttribute("aria-hidden", "true");
      clearInterval(tick);
      if (lastFocus && lastFocus.focus) { lastFocus.focus(); }
    };
    var expire = function () {
      window.location.href = dialog.getAttribute("data-login") + "?next=" +
        encodeURIComponent(window.location.pathname + window.location.search) + "&expired=1";
    };
    var extend = function () {
      fetch(dialog.getAttribute("data-extend"), {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": csrf ? csrf.getAttribute("content") : "" }
      }).then(function (r) {
        if (r.ok) { closeDialog(); schedule(); }
      });
    };
    extendButton.addEventListener("click", extend);
    dialog.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); extend(); }
      if (event.key === "Tab") { event.preventDefault(); extendButton.focus(); }
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && Date.now() >= expiresAt) { expire(); }
    });
    schedule();
  }
})();
