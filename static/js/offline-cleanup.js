// After a clerk's logout (or an expired session) on a shared computer: forget what the offline
// intake keeps that the next person must not see. Intakes already sent (case number and masked
// name only) are deleted; unsent ones stay (they are work not yet done, shown only to the clerk
// who made them). The cached page of /counter/offline is dropped, so that it is never shown
// offline with the previous clerk's list; the next clerk's online visit caches it again.
(function () {
  "use strict";
  var me = document.currentScript;
  var shell = me && me.getAttribute("data-shell");
  if (window.caches && shell) {
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n.indexOf("offline-intake-") === 0; })
        .map(function (n) { return caches.open(n).then(function (c) { return c["delete"](shell); }); }));
    })["catch"](function () { return null; });
  }
  if (!window.indexedDB) { return; }
  var req = indexedDB.open("offline-intake", 1);
  req.onupgradeneeded = function () { req.transaction.abort(); };  // never used here: create nothing
  req.onsuccess = function () {
    var db = req.result;
    if (!db.objectStoreNames.contains("intakes")) { db.close(); return; }
    var t = db.transaction("intakes", "readwrite");
    t.objectStore("intakes").openCursor().onsuccess = function (event) {
      var cursor = event.target.result;
      if (!cursor) { return; }
      if (cursor.value.status === "sent") { cursor["delete"](); }
      cursor["continue"]();
    };
    t.oncomplete = function () { db.close(); document.documentElement.setAttribute("data-offline-cleaned", "1"); };
  };
}());
