// The service worker (served at /sw.js so that its scope is the whole site): offline reading.
//
// - App shell (styles, scripts, the Socket.IO client): served from the cache, refreshed in the
//   background (stale-while-revalidate), so a new release arrives on the next load.
// - Pages (the tablet, the console, "my meetings"): network first, the last copy when offline.
// - Page images and page text: cache first, under their URL, which carries the document's
//   access version: a document id never changes its pages (a new version is a new document),
//   and a change of confidentiality changes the URL. Only what the server says may be kept for
//   good (immutable) is kept: never a watermarked page (one reader, one minute), never a
//   redirect from an old access version.
// - Everything else under /api/ and the Socket.IO transport: network only.

const SHELL = "ecabinet-shell-v2";
const PAGES = "ecabinet-pages-v2"; // v2: URLs carry the access version; v1 copies are dropped
const DOCS = "ecabinet-docs-v2";
const SHELL_FILES = [
  "/static/css/app.css",
  "/static/js/signout.js",
  "/static/js/i18n.js",
  "/static/js/api.js",
  "/static/js/dom.js",
  "/static/js/link.js",
  "/static/js/state.js",
  "/static/js/store.js",
  "/static/js/urls.js",
  "/static/js/agenda.js",
  "/static/js/viewer.js",
  "/static/js/panels.js",
  "/static/js/chair.js",
  "/static/js/vote.js",
  "/static/js/annotations.js",
  "/static/js/annotation-state.js",
  "/static/js/outbox.js",
  "/static/js/offline.js",
  "/static/js/room.js",
  "/static/js/home.js",
  "/static/vendor/socket.io/socket.io.min.js",
  "/static/vendor/noto-sans/wght.css",
  "/static/vendor/noto-sans/files/noto-sans-latin-wght-normal.woff2",
  "/static/vendor/noto-sans/files/noto-sans-vietnamese-wght-normal.woff2",
  "/static/icon.svg",
  "/static/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL)
      .then((cache) => Promise.all(SHELL_FILES.map((url) => cache.add(url).catch(() => null))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  const keep = new Set([SHELL, PAGES, DOCS]);
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("ecabinet-") && !keep.has(n))
        .map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function storable(response, forGood = false) {
  if (!response || !response.ok || response.type === "opaque" || response.redirected) return false;
  const control = response.headers.get("cache-control") || "";
  if (/no-store/i.test(control)) return false;
  // Document content: only what may be kept for good under this very URL.
  return !forGood || /immutable/i.test(control);
}

async function cacheFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (storable(response, true)) cache.put(request, response.clone());
  return response;
}

async function networkFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (storable(response) && !response.redirected) cache.put(request, response.clone());
    return response;
  } catch (err) {
    const hit = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (hit) return hit;
    throw err;
  }
}

async function staleWhileRevalidate(request) {
  const cache = await caches.open(SHELL);
  const hit = await cache.match(request);
  const refresh = fetch(request)
    .then((response) => {
      if (storable(response)) cache.put(request, response.clone());
      return response;
    })
    .catch(() => null);
  if (hit) return hit;
  const response = await refresh;
  return response || Response.error();
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (path.startsWith("/socket.io/")) return;
  if (/^\/api\/documents\/\d+\/pages\/\d+\/[a-z]+$/.test(path)) {
    event.respondWith(cacheFirst(request, PAGES));
  } else if (/^\/api\/documents\/\d+$/.test(path)) {
    event.respondWith(networkFirst(request, DOCS));
  } else if (path.startsWith("/static/")) {
    event.respondWith(staleWhileRevalidate(request));
  } else if (request.mode === "navigate" && (path === "/" || path.startsWith("/meetings/"))) {
    event.respondWith(networkFirst(request, SHELL));
  }
});

async function keepPage(path) {
  // The page that registered this worker was loaded before the worker controlled it: fetch
  // it once more so that it opens offline too.
  const url = new URL(path, self.location.origin);
  if (url.origin !== self.location.origin || !(url.pathname === "/" || url.pathname.startsWith("/meetings/"))) return;
  const response = await fetch(url, { credentials: "same-origin" });
  if (storable(response) && !response.redirected) {
    const cache = await caches.open(SHELL);
    await cache.put(url.pathname, response);
  }
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "keep-page" && typeof data.path === "string") {
    event.waitUntil(keepPage(data.path).catch(() => null));
  } else if (data.type === "forget-pages") {
    event.waitUntil(caches.delete(PAGES));
  }
});
