// Offline reading: register the service worker, and "download the pack for offline", which
// puts every page image (and its text, for search and highlights) of the meeting's documents
// into the cache the service worker reads first.

import { setText } from "./dom.js";
import { t, formatNumber } from "./i18n.js";
import * as urls from "./urls.js";

const PAGES = "ecabinet-pages-v2";

/** Only content the server lets this reader keep for good (under its current access version);
 * never a watermarked page, which is for one reader and one minute. */
export function keepable(response) {
  const control = response.headers.get("cache-control") || "";
  return response.ok && !response.redirected && /immutable/i.test(control)
    && !/no-store/i.test(control);
}

/** Drop every kept page and text of these documents (they were reclassified). */
export async function forgetDocuments(ids) {
  if (!("caches" in globalThis) || !ids.length) return;
  const cache = await caches.open(PAGES);
  const prefixes = ids.map((id) => urls.documentPrefix(id));
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (prefixes.some((p) => path.startsWith(p))) await cache.delete(request);
  }
}

export function offlineSupported() {
  return "serviceWorker" in navigator && "caches" in window && window.isSecureContext;
}

export async function registerServiceWorker() {
  if (!offlineSupported()) return null;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    const registration = await navigator.serviceWorker.ready;
    if (registration.active && navigator.onLine) {
      registration.active.postMessage({ type: "keep-page", path: window.location.pathname });
    }
    document.documentElement.dataset.offlineReady = "yes";
    return registration;
  } catch {
    return null;
  }
}

export class PackDownloader {
  constructor(state, button, progress, label) {
    this.state = state;
    this.button = button;
    this.progress = progress;
    this.label = label;
    this.running = false;
    if (!offlineSupported()) {
      button.disabled = true;
      setText(label, t("offline.unsupported"));
      return;
    }
    button.addEventListener("click", () => this.download());
    state.addEventListener("reset", () => this.describe());
    this.describe();
  }

  pageUrls() {
    const list = [];
    for (const doc of this.state.parts.documents || []) {
      if (doc.confidential) continue; // watermarked per reader and time: never stored
      const count = doc.status === "ready" ? doc.page_count || 0 : doc.pages_ready || 0;
      const v = doc.access_version;
      for (let i = 0; i < count; i += 1) {
        list.push(urls.pageImage(doc.id, i, "tablet", v));
        list.push(urls.pageImage(doc.id, i, "thumb", v));
        list.push(urls.pageText(doc.id, i, v));
      }
    }
    return list;
  }

  async describe() {
    if (this.running) return;
    const version = this.state.parts.meeting ? this.state.parts.meeting.pack_version : null;
    const saved = localStorage.getItem(`pack:${this.state.parts.meeting?.id}`);
    if (saved && version !== null && String(version) === saved) {
      setText(this.label, t("offline.ready", { version: formatNumber(version) }));
    } else if (saved) {
      setText(this.label, t("offline.outdated"));
    } else {
      setText(this.label, t("offline.hint"));
    }
  }

  async download() {
    if (this.running) return;
    this.running = true;
    this.button.disabled = true;
    const list = this.pageUrls();
    const cache = await caches.open(PAGES);
    let done = 0;
    let failed = 0;
    this.progress.hidden = false;
    this.progress.max = Math.max(1, list.length);
    this.progress.value = 0;
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
    const queue = [...list];
    const worker = async () => {
      while (queue.length) {
        const url = queue.shift();
        try {
          if (!(await cache.match(url))) {
            const response = await fetch(url, { credentials: "same-origin" });
            if (keepable(response)) await cache.put(url, response);
            else if (!response.ok) failed += 1;
          }
        } catch {
          failed += 1;
        }
        done += 1;
        this.progress.value = done;
        setText(this.label, t("offline.progress", { done: formatNumber(done), total: formatNumber(list.length) }));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    this.running = false;
    this.button.disabled = false;
    this.progress.hidden = true;
    const meeting = this.state.parts.meeting || {};
    if (failed) {
      setText(this.label, t("offline.partial", { failed: formatNumber(failed) }));
    } else {
      localStorage.setItem(`pack:${meeting.id}`, String(meeting.pack_version));
      setText(this.label, t("offline.ready", { version: formatNumber(meeting.pack_version) }));
    }
  }
}
