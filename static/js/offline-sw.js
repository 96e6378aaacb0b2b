// The offline intake's service worker, served as /counter/sw.js (scope /counter/) with its
// configuration (self.OFFLINE_CONFIG: the shell, the catalogue, the assets and a version)
// written in front of this file by portal/counter/offline.py.
// Network first for everything it keeps, the cache when the network fails; nothing else is
// touched (the intake API and every other page go straight to the network).
"use strict";
var CONFIG = self.OFFLINE_CONFIG;
var PREFIX = "offline-intake-";
var CACHE = PREFIX + CONFIG.version;
var KEPT = [CONFIG.shell, CONFIG.catalogue].concat(CONFIG.assets);

function keep(cache, url, response) {
  // a redirect (to the login page) or an error is never kept in place of the page
  if (response.ok && !response.redirected && response.type === "basic") {
    return cache.put(url, response.clone()).then(function () { return response; });
  }
  return Promise.resolve(response);
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(KEPT.map(function (url) {
      return fetch(url, {credentials: "same-origin", cache: "no-cache"}).then(function (r) { return keep(cache, url, r); });
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf(PREFIX) === 0 && n !== CACHE; })
      .map(function (n) { return caches["delete"](n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || KEPT.indexOf(url.pathname) < 0) {
    return;
  }
  event.respondWith(caches.open(CACHE).then(function (cache) {
    return fetch(request).then(function (response) { return keep(cache, url.pathname, response); })
      .catch(function () {
        return cache.match(url.pathname).then(function (hit) { return hit || Response.error(); });
      });
  }));
});
