// 离线受理: the counter's intake that keeps working without a connection.
// Intakes are kept in IndexedDB (scans as Blobs) as staff type, queued with "保存待发送",
// and sent — each with its own idempotency key — when the connection is back. Refusals stay
// here, with the server's messages next to the fields, until staff resend or discard them.
// Every user-facing string comes from the page (#offline-strings), translated on the server.
(function () {
  "use strict";
  var form = document.getElementById("intake-form");
  if (!form || !window.indexedDB) { return; }
  var T = JSON.parse(document.getElementById("offline-strings").textContent);
  var URLS = JSON.parse(form.getAttribute("data-urls"));
  var STAFF = form.getAttribute("data-staff");
  var banner = document.getElementById("offline-banner");
  var notice = document.getElementById("offline-notice");
  var savedNote = document.getElementById("intake-saved");
  var parts = document.getElementById("item-parts");
  var itemSelect = document.getElementById("item");
  var summary = document.getElementById("intake-errors");
  var PERSON = ["name", "id_number", "phone", "address"];
  var catalogue = [];
  var current = null;   // the intake being edited
  var sending = false;

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return values[k] !== undefined ? values[k] : m; });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] === null || attrs[k] === undefined || attrs[k] === false) { return; }
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k] === true ? "" : attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function maskName(name) {
    if (!name) { return T.unknown; }
    if (name.length <= 2) { return name.charAt(0) + (name.length === 2 ? "*" : ""); }
    return name.charAt(0) + new Array(name.length - 1).join("*") + name.charAt(name.length - 1);
  }
  // GB 11643: 17 digits, a check character, a real birth date
  function residentIdOk(value) {
    var id = (value || "").trim().toUpperCase();
    if (!/^\d{17}[\dX]$/.test(id)) { return false; }
    var weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += parseInt(id.charAt(i), 10) * weights[i]; }
    if ("10X98765432".charAt(sum % 11) !== id.charAt(17)) { return false; }
    var y = +id.slice(6, 10), m = +id.slice(10, 12), d = +id.slice(12, 14);
    var born = new Date(Date.UTC(y, m - 1, d));
    return born.getUTCFullYear() === y && born.getUTCMonth() === m - 1 && born.getUTCDate() === d && born <= new Date();
  }

  // ---- IndexedDB -------------------------------------------------------------------------
  var dbPromise = new Promise(function (resolve, reject) {
    var req = indexedDB.open("offline-intake", 1);
    req.onupgradeneeded = function () { req.result.createObjectStore("intakes", {keyPath: "key"}); };
    req.onsuccess = function () { resolve(req.result); };
    req.onerror = function () { reject(req.error); };
  });
  function tx(mode, fn) {
    return dbPromise.then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction("intakes", mode);
        var result = fn(t.objectStore("intakes"));
        t.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function put(record) { record.updated = Date.now(); return tx("readwrite", function (s) { s.put(record); }); }
  function remove(key) { return tx("readwrite", function (s) { s["delete"](key); }); }
  function all() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (rows) {
      return rows.filter(function (r) { return r.staff === STAFF; })
        .sort(function (a, b) { return b.updated - a.updated; });
    });
  }
  function storageFailed() { showNotice(T.storage); }

  // ---- the form, built from the cached catalogue -----------------------------------------
  function itemByCode(code) {
    return catalogue.filter(function (i) { return i.code === code; })[0] || null;
  }
  function fieldBox(fid, label, required, control, hint) {
    var box = el("div", {"class": "field", "data-field": fid});
    box.appendChild(el("label", {"for": fid, text: label}, [required ? el("span", {"class": "req", text: T.required_mark}) : null]));
    if (hint) { box.appendChild(el("p", {"class": "hint", id: fid + "-hint", text: hint})); control.setAttribute("aria-describedby", fid + "-hint"); }
    box.appendChild(control);
    return box;
  }
  function question(q) {
    var fid = "q_" + q.key;
    var options = q.options || [];
    if (q.type === "multiselect") {
      var set = el("fieldset", {"class": "field", "data-field": fid, id: fid, tabindex: "-1"},
        [el("legend", {text: q.label}, [q.required ? el("span", {"class": "req", text: T.required_mark}) : null])]);
      options.forEach(function (o, i) {
        set.appendChild(el("div", {"class": "checkbox-row"}, [
          el("input", {type: "checkbox", name: fid, id: fid + "-" + i, value: o[0]}),
          el("label", {"for": fid + "-" + i, text: o[1]})]));
      });
      return set;
    }
    if (q.type === "checkbox") {
      return el("div", {"class": "field", "data-field": fid}, [el("div", {"class": "checkbox-row"}, [
        el("input", {type: "checkbox", name: fid, id: fid, value: "y"}),
        el("label", {"for": fid, text: q.label}, [q.required ? el("span", {"class": "req", text: T.required_mark}) : null])])]);
    }
    var control;
    if (q.type === "select") {
      control = el("select", {name: fid, id: fid}, [el("option", {value: "", text: T.choose})]);
      options.forEach(function (o) { control.appendChild(el("option", {value: o[0], text: o[1]})); });
    } else {
      control = el("input", {type: {date: "date", phone: "tel"}[q.type] || "text", name: fid, id: fid, autocomplete: "off",
        inputmode: {number: "numeric", money: "decimal", phone: "tel"}[q.type] || null, maxlength: q.max_length || null});
    }
    return fieldBox(fid, q.label, q.required, control, q.help);
  }
  function conditionSet(c) {
    var fid = "c_" + c.key;
    var set = el("fieldset", {"class": "field", "data-field": fid, id: fid, tabindex: "-1"}, [el("legend", {text: c.label})]);
    (c.options || []).forEach(function (o, i) {
      set.appendChild(el("div", {"class": "radio-row"}, [
        el("input", {type: "radio", name: fid, id: fid + "-" + i, value: o[0]}),
        el("label", {"for": fid + "-" + i, text: o[1]})]));
    });
    return set;
  }
  function materialBox(m) {
    var fid = "m_" + m.id;
    var set = el("fieldset", {"class": "field offline-material", "data-field": fid, id: fid, tabindex: "-1",
      "data-condition": m.condition ? JSON.stringify(m.condition) : null},
      [el("legend", {text: T["necessity_" + m.necessity] ? fmt(T.material, {name: m.name, necessity: T["necessity_" + m.necessity]}) : m.name})]);
    if (m.notes) { set.appendChild(el("p", {"class": "hint", text: m.notes})); }
    if (m.necessity === "shared") { set.appendChild(el("p", {text: T.shared})); return set; }
    var ways = [["", T.way_scan]];
    if (m.necessity === "deferrable") { ways.push(["deferred", T.way_deferred]); }
    if (m.commitment) { ways.push(["commitment", T.way_commitment]); }
    if (ways.length > 1) {
      var select = el("select", {id: fid + "-way", name: fid + "-way"});
      ways.forEach(function (w) { select.appendChild(el("option", {value: w[0], text: w[1]})); });
      set.appendChild(fieldBox(fid + "-way", T.way, false, select));
    }
    set.appendChild(fieldBox(fid + "-file", T.scan, false,
      el("input", {type: "file", id: fid + "-file", name: fid + "-file", accept: ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"})));
    set.appendChild(el("p", {"class": "hint", id: fid + "-kept", "aria-live": "polite"}));
    if (m.validity === "months") {
      set.appendChild(fieldBox(fid + "-issued", T.issued_on, false, el("input", {type: "date", id: fid + "-issued", name: fid + "-issued"})));
    } else if (m.validity === "own_expiry") {
      set.appendChild(fieldBox(fid + "-until", T.valid_until, false, el("input", {type: "date", id: fid + "-until", name: fid + "-until"})));
    }
    return set;
  }
  function renderItem(item) {
    parts.textContent = "";
    if (!item) { return; }
    if ((item.conditions || []).length) {
      parts.appendChild(el("h3", {text: T.conditions}));
      item.conditions.forEach(function (c) { parts.appendChild(conditionSet(c)); });
    }
    var own = (item.questions || []).filter(function (q) { return ["name", "id_number", "phone", "address"].indexOf(q.prefill) < 0; });
    if (own.length) {
      parts.appendChild(el("h3", {text: T.questions}));
      own.forEach(function (q) { parts.appendChild(question(q)); });
    }
    if ((item.materials || []).length) {
      parts.appendChild(el("h3", {text: T.materials}));
      item.materials.forEach(function (m) { parts.appendChild(materialBox(m)); });
    }
    showApplicable();
  }
  function showApplicable() {
    parts.querySelectorAll("[data-condition]").forEach(function (box) {
      var cond = JSON.parse(box.getAttribute("data-condition"));
      var chosen = form.querySelector("input[name='c_" + cond.question + "']:checked");
      box.hidden = !chosen || chosen.value !== cond.equals;
    });
  }
  function fillCatalogue() {
    var chosen = itemSelect.value;
    while (itemSelect.options.length > 1) { itemSelect.remove(1); }
    catalogue.forEach(function (item) {
      itemSelect.appendChild(el("option", {value: item.code, text: item.name}));
    });
    itemSelect.value = chosen;
  }

  // ---- form ⇄ record ---------------------------------------------------------------------
  function blankRecord() {
    return {key: newKey(), staff: STAFF, status: "draft", item: "", version: null, itemName: "",
      applicant: {}, agent: {}, conditions: {}, form: {}, options: {}, scans: {}, errors: {}, number: null};
  }
  function readForm(record) {
    var item = itemByCode(itemSelect.value);
    record.item = itemSelect.value;
    record.version = item ? item.version : null;
    record.itemName = item ? item.name : "";
    PERSON.forEach(function (k) {
      record.applicant[k] = form.elements["a_" + k].value.trim();
      if (form.elements["g_" + k]) { record.agent[k] = form.elements["g_" + k].value.trim(); }
    });
    record.conditions = {}; record.form = {}; record.options = {};
    if (!item) { return record; }
    item.conditions.forEach(function (c) {
      var chosen = form.querySelector("input[name='c_" + c.key + "']:checked");
      if (chosen) { record.conditions[c.key] = chosen.value; }
    });
    item.questions.forEach(function (q) {
      var prefill = q.prefill && PERSON.indexOf(q.prefill) >= 0 ? record.applicant[q.prefill] : null;
      if (prefill !== null) { record.form[q.key] = prefill; return; }
      var name = "q_" + q.key;
      if (q.type === "multiselect") {
        record.form[q.key] = Array.prototype.map.call(form.querySelectorAll("input[name='" + name + "']:checked"), function (i) { return i.value; });
      } else if (q.type === "checkbox") {
        record.form[q.key] = form.elements[name].checked ? "y" : "";
      } else if (form.elements[name]) {
        record.form[q.key] = form.elements[name].value;
      }
    });
    item.materials.forEach(function (m) {
      var box = document.getElementById("m_" + m.id);
      var way = document.getElementById("m_" + m.id + "-way");
      if (box && box.hidden) { return; }
      if (way && way.value) { record.options[m.id] = way.value; }
      var scan = record.scans[m.id] || {};
      var issued = document.getElementById("m_" + m.id + "-issued");
      var until = document.getElementById("m_" + m.id + "-until");
      if (issued) { scan.issued_on = issued.value; }
      if (until) { scan.valid_until = until.value; }
      if (scan.blob || scan.issued_on || scan.valid_until) { record.scans[m.id] = scan; }
    });
    return record;
  }
  function writeForm(record) {
    itemSelect.value = record.item || "";
    renderItem(itemByCode(record.item));
    PERSON.forEach(function (k) {
      form.elements["a_" + k].value = record.applicant[k] || "";
      if (form.elements["g_" + k]) { form.elements["g_" + k].value = record.agent[k] || ""; }
    });
    Object.keys(record.conditions).forEach(function (k) {
      var input = form.querySelector("input[name='c_" + k + "'][value='" + CSS.escape(record.conditions[k]) + "']");
      if (input) { input.checked = true; }
    });
    showApplicable();
    Object.keys(record.form).forEach(function (k) {
      var value = record.form[k];
      var inputs = form.querySelectorAll("[name='q_" + k + "']");
      inputs.forEach(function (input) {
        if (input.type === "checkbox") { input.checked = Array.isArray(value) ? value.indexOf(input.value) >= 0 : value === "y"; }
        else { input.value = value; }
      });
    });
    Object.keys(record.options).forEach(function (id) {
      var way = document.getElementById("m_" + id + "-way");
      if (way) { way.value = record.options[id]; }
    });
    Object.keys(record.scans).forEach(function (id) {
      var scan = record.scans[id];
      var kept = document.getElementById("m_" + id + "-kept");
      if (kept && scan.name) { kept.textContent = fmt(T.scan_kept, {name: scan.name}); }
      var issued = document.getElementById("m_" + id + "-issued");
      var until = document.getElementById("m_" + id + "-until");
      if (issued) { issued.value = scan.issued_on || ""; }
      if (until) { until.value = scan.valid_until || ""; }
    });
    showErrors(record.errors || {});
  }

  // ---- errors next to the fields ---------------------------------------------------------
  function clearErrors() {
    form.querySelectorAll(".field-error").forEach(function (f) { f.classList.remove("field-error"); });
    form.querySelectorAll("p.error[data-offline]").forEach(function (p) { p.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (i) { i.removeAttribute("aria-invalid"); });
    summary.hidden = true;
    summary.querySelector("ul").textContent = "";
  }
  function fieldFor(fid) {
    // the form's questions filled from the real-name fields are answered there
    var item = itemByCode(itemSelect.value);
    var q = item && item.questions.filter(function (x) { return "q_" + x.key === fid; })[0];
    return q && PERSON.indexOf(q.prefill) >= 0 ? "a_" + q.prefill : fid;
  }
  function showErrors(errors) {
    clearErrors();
    var keys = Object.keys(errors);
    if (!keys.length) { return; }
    keys.forEach(function (key) {
      var fid = fieldFor(key);
      var box = fid ? form.querySelector("[data-field='" + fid + "']") : null;
      var target = box && (box.id === fid ? box : box.querySelector("input, select")) || null;
      var link = el("a", {href: "#" + (target ? target.id : "item"), text: errors[key]});
      summary.querySelector("ul").appendChild(el("li", {}, [link]));
      if (!box) { return; }
      box.classList.add("field-error");
      var p = el("p", {"class": "error", id: fid + "-error", "data-offline": "1", text: errors[key]});
      var legend = box.querySelector("legend, label");
      legend.parentNode.insertBefore(p, legend.nextSibling);
      var control = box.querySelector("input, select");
      if (control && box.tagName !== "FIELDSET") {
        control.setAttribute("aria-invalid", "true");
        var described = (control.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x && x !== p.id; });
        control.setAttribute("aria-describedby", described.concat([p.id]).join(" "));
      } else if (box.tagName === "FIELDSET") {
        box.setAttribute("aria-describedby", p.id);
      }
    });
    summary.hidden = false;
  }
  function checkLocally(record) {
    var errors = {};
    if (!record.item) { errors.item = T.choose; }
    ["name", "id_number", "phone", "address"].forEach(function (k) {
      if (!record.applicant[k]) { errors["a_" + k] = T.required; }
    });
    if (record.applicant.id_number && !residentIdOk(record.applicant.id_number)) { errors.a_id_number = T.id_invalid; }
    if (record.applicant.phone && !/^1\d{10}$/.test(record.applicant.phone)) { errors.a_phone = T.phone_invalid; }
    if (record.agent.id_number && !residentIdOk(record.agent.id_number)) { errors.g_id_number = T.id_invalid; }
    if (record.agent.phone && !/^1\d{10}$/.test(record.agent.phone)) { errors.g_phone = T.phone_invalid; }
    var item = itemByCode(record.item);
    (item ? item.conditions : []).forEach(function (c) {
      if (!record.conditions[c.key]) { errors["c_" + c.key] = T.choose; }
    });
    return errors;
  }

  // ---- saving ----------------------------------------------------------------------------
  var saveTimer = null;
  function saveDraft() {
    if (!current || current.status === "sent") { return Promise.resolve(); }
    readForm(current);
    if (current.status === "refused") { current.status = "draft"; }
    return put(current).then(function () { savedNote.textContent = T.saved; return refreshList(); }, storageFailed);
  }
  form.addEventListener("input", function () {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(saveDraft, 400);
  });
  form.addEventListener("change", function (event) {
    var t = event.target;
    if (t === itemSelect) {
      var keep = readForm(current);
      renderItem(itemByCode(itemSelect.value));
      keep.item = itemSelect.value;
      writeForm(keep);
    } else if (t.name && t.name.indexOf("c_") === 0) {
      showApplicable();
    } else if (t.type === "file" && t.files.length) {
      var id = t.id.replace(/^m_/, "").replace(/-file$/, "");
      var f = t.files[0];
      current.scans[id] = current.scans[id] || {};
      current.scans[id].blob = f;
      current.scans[id].name = f.name;
      document.getElementById("m_" + id + "-kept").textContent = fmt(T.scan_kept, {name: f.name});
    }
    clearTimeout(saveTimer);
    saveDraft();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    readForm(current);
    var errors = checkLocally(current);
    current.errors = errors;
    showErrors(errors);
    if (Object.keys(errors).length) { summary.focus(); return; }
    current.status = "queued";
    put(current).then(function () {
      savedNote.textContent = T.queued_note;
      start(blankRecord());
      return refreshList();
    }, storageFailed).then(sendAll);
  });
  document.getElementById("new-intake").addEventListener("click", function () {
    saveDraft().then(function () { start(blankRecord()); itemSelect.focus(); });
  });
  function start(record) {
    current = record;
    form.reset();
    writeForm(record);
  }

  // ---- the list ---------------------------------------------------------------------------
  function refreshList() {
    return all().then(function (rows) {
      var body = document.getElementById("intake-rows");
      body.textContent = "";
      rows.forEach(function (r) {
        var status = r.status === "sent" ? fmt(T.sent_number, {number: r.number}) : T[r.status] || r.status;
        var actions = el("td", {});
        if (r.status !== "sent") {
          var edit = el("button", {type: "button", "class": "btn", text: T.edit});
          edit.addEventListener("click", function () { start(r); document.getElementById("form-title").scrollIntoView(); itemSelect.focus(); });
          var drop = el("button", {type: "button", "class": "btn btn-danger", text: T.discard});
          drop.addEventListener("click", function () {
            if (window.confirm(T.confirm_discard)) {
              remove(r.key).then(function () { if (current && current.key === r.key) { start(blankRecord()); } return refreshList(); });
            }
          });
          actions.appendChild(edit);
          actions.appendChild(drop);
        }
        var cells = [el("td", {text: r.itemName || T.unknown}), el("td", {text: r.maskedName || maskName(r.applicant && r.applicant.name)}),
          el("td", {}, [el("span", {"class": "intake-status intake-" + r.status, text: status})]), actions];
        body.appendChild(el("tr", {"data-key": r.key, "data-status": r.status}, cells));
      });
      document.getElementById("intake-table").hidden = !rows.length;
      document.getElementById("intake-empty").hidden = !!rows.length;
      var waiting = rows.filter(function (r) { return r.status === "queued"; }).length;
      showBanner(waiting);
      return rows;
    });
  }
  function showBanner(waiting) {
    var offline = !navigator.onLine;
    banner.setAttribute("data-state", offline ? "offline" : sending ? "sending" : "online");
    banner.setAttribute("data-waiting", String(waiting));
    banner.textContent = fmt(offline ? T.offline : sending ? T.sending : T.online, {n: waiting});
  }
  function showNotice(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  // ---- sending ----------------------------------------------------------------------------
  function freshToken() {
    return fetch(URLS.token, {credentials: "same-origin", cache: "no-store"}).then(function (r) {
      var json = (r.headers.get("content-type") || "").indexOf("application/json") >= 0;
      if (!r.ok || r.redirected || !json) { throw new Error("login"); }
      return r.json();
    }).then(function (data) { return data.csrf_token; });
  }
  function sendOne(record, token) {
    var body = new FormData();
    var payload = {item: record.item, version: record.version, applicant: record.applicant, agent: record.agent,
      conditions: record.conditions, form: record.form, options: record.options, scans: {}};
    Object.keys(record.scans).forEach(function (id) {
      var scan = record.scans[id];
      payload.scans[id] = {issued_on: scan.issued_on || "", valid_until: scan.valid_until || ""};
      if (scan.blob) { body.append("file_" + id, scan.blob, scan.name || "scan"); }
    });
    body.append("payload", JSON.stringify(payload));
    return fetch(URLS.intakes, {method: "POST", body: body, credentials: "same-origin",
      headers: {"X-CSRFToken": token, "Idempotency-Key": record.key}}).then(function (r) {
      var json = (r.headers.get("content-type") || "").indexOf("application/json") >= 0;
      if (r.status === 413) { return refuse(record, {"": T.too_large}); }
      if (!json) { throw new Error(r.redirected ? "login" : "retry"); }
      return r.json().then(function (data) {
        if (r.status === 200 || r.status === 201) {
          // sent: keep only what the list shows, never the citizen's details or scans
          return put({key: record.key, staff: STAFF, status: "sent", number: data.number, itemName: data.item || record.itemName,
            maskedName: data.applicant, applicant: {}, errors: {}});
        }
        if (r.status === 422 || r.status === 400 || r.status === 404) { return refuse(record, data.errors || {}); }
        throw new Error("retry");
      });
    });
  }
  function refuse(record, errors) {
    record.status = "refused";
    record.errors = errors;
    // the item changed or was withdrawn meanwhile: fetch the catalogue again
    var renewed = errors.item ? loadCatalogue() : Promise.resolve();
    return renewed.then(function () { return put(record); }).then(function () {
      showNotice(T.refused_note);
      if (current && current.key === record.key) { start(record); }
    });
  }
  function sendAll() {
    if (sending || !navigator.onLine) { return refreshList(); }
    sending = true;  // one round at a time (the server would answer a replay with the same case anyway)
    return all().then(function (rows) {
      var queue = rows.filter(function (r) { return r.status === "queued"; });
      if (!queue.length) { return null; }
      showBanner(queue.length);
      return freshToken().then(function (token) {
        showNotice("");
        return queue.reduce(function (chain, record) {
          return chain.then(function () { return sendOne(record, token); });
        }, Promise.resolve());
      }).catch(function (err) {
        showNotice(err && err.message === "login" ? T.login : T.retry);
      });
    }).then(function () { sending = false; return refreshList(); },
      function () { sending = false; return refreshList(); });
  }

  // ---- start ------------------------------------------------------------------------------
  function loadCatalogue() {
    return fetch(URLS.catalogue, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok || r.redirected) { throw new Error("catalogue"); }
      return r.json();
    }).then(function (data) { catalogue = data.items || []; fillCatalogue(); }, function () { showNotice(T.no_catalogue); });
  }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(URLS.worker, {scope: URLS.shell.replace(/[^/]*$/, "")}).catch(function () { return null; });
  }
  window.addEventListener("online", sendAll);
  window.addEventListener("offline", refreshList);
  loadCatalogue().then(function () {
    start(blankRecord());
    return refreshList();
  }).then(sendAll)["catch"](storageFailed);
  setInterval(sendAll, 60000);
}());
