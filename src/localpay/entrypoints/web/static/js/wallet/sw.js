// The wallet's service worker (served as /c/{city}/wallet/sw.js, which prepends VERSION,
// CITY and SHELL). It keeps the shell - styles, scripts, icons, the offline page - and
// never a balance: pages and the API (/v1/) always come from the network. With no
// network a page is the offline page, which says balances are shown only online.
/* global VERSION, CITY, SHELL */
"use strict";

const PREFIX = `localpay-wallet-${CITY}-`;
const CACHE = PREFIX + VERSION;
const OFFLINE = `/c/${CITY}/wallet/offline`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SHELL, OFFLINE]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  // Only this city's older shells go: other cities' workers share the origin's caches.
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // commands and sign-in: the network, untouched
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/v1/")) return;
  if (request.mode === "navigate") {
    // Network only; the cached offline page stands in when there is none. A page is
    // never put in the cache: it may show a balance.
    event.respondWith(
      fetch(request).catch(() => caches.open(CACHE).then((cache) => cache.match(OFFLINE))),
    );
    return;
  }
  if (url.pathname.startsWith("/static/") && !url.search) {
    event.respondWith(
      caches.open(CACHE).then((cache) =>
        cache.match(request).then((hit) => hit || fetch(request)),
      ),
    );
  }
  // Anything else (fragments, the manifest): the network, as if there were no worker.
});
