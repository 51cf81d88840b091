// Offline: once the page has loaded, it sends the URLs it used (page, LiteRT.js, model) to be kept
// here. LiteRT.js (a pinned npm version) then comes from this cache first; everything else from the
// network first, so a new page or model replaces the cached one, and from the cache when offline.

const CACHE = "tsm-web";
const PINNED = "/node_modules/@litertjs/";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("message", (event) => {
  if (!Array.isArray(event.data?.keep)) return;
  const kept = caches
    .open(CACHE)
    .then((cache) => cache.addAll(event.data.keep))
    .then(
      () => event.source.postMessage({ kept: event.data.keep.length }),
      (error) => event.source.postMessage({ keepError: String(error) }),
    );
  event.waitUntil(kept);
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== location.origin) return;
  event.respondWith(new URL(request.url).pathname.includes(PINNED) ? cacheFirst(request) : networkFirst(request));
});

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    // A page opened from the home screen has the start URL, without the query it was cached with.
    const cached = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
    if (cached) return cached;
    throw error;
  }
}
