// The document viewer on the server's page images: fit to width, pinch / double-tap / keyboard
// zoom that swaps in the sharper "zoom" rendition, a thumbnail strip, swipe and arrow keys to
// turn pages, and text search that highlights hits from the page's word boxes.
//
// Page geometry is in PDF points (top-left origin, as the server's word boxes), so overlays
// (search hits, annotations) scale with the image whatever its pixel size.
//
// Dispatches "pagechange" {docId, page, source} where source is "user" (the reader turned the
// page), "presenter" (following) or "open".

import { $, h, setText, replaceChildren } from "./dom.js";
import { t, formatNumber } from "./i18n.js";
import * as urls from "./urls.js";

const MIN_SCALE = 1;
const MAX_SCALE = 5;
const TABLET_WIDTH = 1280; // the "tablet" rendition's width in pixels
const DEFAULT_SIZE = [595.28, 841.89]; // A4 in points, until the real size is known

function fold(text) {
  // Case- and accent-insensitive matching: Vietnamese readers often type without diacritics.
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d")
    .replace(/Đ/g, "d").toLowerCase();
}

export class Viewer extends EventTarget {
  constructor() {
    super();
    this.stage = $("stage");
    this.wrap = $("page-wrap");
    this.img = $("page-img");
    this.hitsLayer = $("hits-layer");
    this.empty = $("stage-empty");
    this.thumbs = $("thumbs");
    this.indicator = $("page-indicator");
    this.select = $("doc-select");
    this.searchInput = $("search-input");
    this.searchCount = $("search-count");
    this.docs = new Map();      // id -> document info (from the documents part)
    this.order = [];            // documents in agenda order, for the picker
    this.docId = null;
    this.page = 0;
    this.scale = 1;
    this.rendition = null;
    this.texts = new Map();     // "doc:page" -> Promise<text>
    this.textVersions = new Map(); // "doc:page" -> the access version the text was asked under
    this.sizes = new Map();     // docId -> [[w, h], ...] page sizes in points
    this.hits = new Map();      // page -> [[x0, y0, x1, y1], ...] for the current search
    this.query = "";
    this.gestureBlocked = () => false; // set by the annotation layer while a tool is active
    this.bind();
  }

  // --- documents ------------------------------------------------------------------------

  /** The documents this reader may open, in agenda order (grouped by item). */
  setDocuments(list, groups) {
    const before = this.doc;
    this.docs = new Map(list.map((d) => [d.id, d]));
    for (const key of [...this.texts.keys()]) {
      const [docId] = key.split(":").map(Number);
      const doc = this.docs.get(docId);
      if (!doc || doc.access_version !== this.textVersions.get(key)) this.texts.delete(key);
    }
    const seen = new Set();
    const options = [h("option", { value: "" }, t("viewer.choose_document"))];
    for (const group of groups) {
      const docs = group.documents.filter((d) => this.docs.has(d.id) && !seen.has(d.id));
      if (!docs.length) continue;
      const og = h("optgroup", { label: group.label });
      for (const d of docs) {
        seen.add(d.id);
        og.append(h("option", { value: d.id }, this.docs.get(d.id).title));
      }
      options.push(og);
    }
    const rest = list.filter((d) => !seen.has(d.id));
    if (rest.length) {
      const og = h("optgroup", { label: t("viewer.other_documents") });
      for (const d of rest) og.append(h("option", { value: d.id }, d.title));
      options.push(og);
    }
    replaceChildren(this.select, options);
    this.select.value = this.docId ? String(this.docId) : "";
    if (this.docId !== null) {
      const doc = this.docs.get(this.docId);
      if (!doc) {
        this.close();
      } else {
        this.updateIndicator();
        // Reclassified: its pages now come from other URLs (and may be watermarked).
        const moved = before && before.access_version !== doc.access_version;
        if (this.pendingImage || moved) this.loadImage();
        this.renderThumbs(true);
      }
    }
  }

  get doc() {
    return this.docId === null ? null : this.docs.get(this.docId) || null;
  }

  get pageCount() {
    const doc = this.doc;
    if (!doc) return 0;
    return doc.page_count ?? (this.sizes.get(doc.id) || []).length;
  }

  /** Rendered already (thumbnails and search wait for these). */
  pageReady(index) {
    const doc = this.doc;
    if (!doc) return false;
    if (doc.status === "ready") return true;
    if (doc.status === "failed") return !(doc.failed_pages || []).includes(index + 1);
    return index < (doc.pages_ready || 0);
  }

  /** Worth asking for: the server renders a requested page first in line. */
  pageServable(index) {
    const doc = this.doc;
    if (!doc) return false;
    if (doc.status === "failed") return !(doc.failed_pages || []).includes(index + 1);
    return !doc.page_count || index < doc.page_count;
  }

  pageSize(index) {
    const sizes = this.sizes.get(this.docId);
    return (sizes && sizes[index]) || (sizes && sizes[0]) || DEFAULT_SIZE;
  }

  async loadSizes(docId) {
    if (this.sizes.has(docId)) return;
    try {
      const response = await fetch(urls.documentInfo(docId), {
        credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const body = await response.json();
      const info = body.document || body;
      if (Array.isArray(info.page_sizes)) {
        this.sizes.set(docId, info.page_sizes);
        if (docId === this.docId) this.layout();
      }
    } catch {
      // Offline: the default aspect ratio until the image itself tells us.
    }
  }

  /** Open a document at a page (0-based). */
  open(docId, page = 0, source = "open") {
    const changed = docId !== this.docId;
    this.docId = docId;
    this.select.value = String(docId);
    if (changed) {
      this.scale = 1;
      this.hits.clear();
      this.loadSizes(docId);
      this.renderThumbs(true);
      if (this.query) this.search(this.query);
    }
    this.show(page, source, changed);
  }

  close() {
    this.docId = null;
    this.select.value = "";
    this.wrap.hidden = true;
    this.empty.hidden = false;
    replaceChildren(this.thumbs, []);
    setText(this.indicator, "–");
    this.dispatchEvent(new CustomEvent("pagechange", { detail: { docId: null, page: 0, source: "open" } }));
  }

  show(page, source = "user", force = false) {
    const count = this.pageCount;
    const target = count ? Math.max(0, Math.min(page, count - 1)) : Math.max(0, page);
    if (!force && target === this.page && this.docId !== null && !this.wrap.hidden) {
      this.dispatchEvent(new CustomEvent("pagechange", { detail: { docId: this.docId, page: target, source } }));
      return;
    }
    this.page = target;
    this.wrap.hidden = false;
    this.empty.hidden = true;
    this.layout();
    this.loadImage();
    this.updateIndicator();
    this.markThumb();
    this.paintHits();
    this.stage.scrollTop = 0;
    this.dispatchEvent(new CustomEvent("pagechange", { detail: { docId: this.docId, page: target, source } }));
  }

  next(source = "user") {
    if (this.docId !== null && this.page < this.pageCount - 1) this.show(this.page + 1, source);
  }

  prev(source = "user") {
    if (this.docId !== null && this.page > 0) this.show(this.page - 1, source);
  }

  updateIndicator() {
    const count = this.pageCount;
    setText(this.indicator, this.docId === null ? "–"
      : t("viewer.page_of", { page: formatNumber(this.page + 1), count: count ? formatNumber(count) : "?" }));
    $("page-prev").disabled = this.docId === null || this.page <= 0;
    $("page-next").disabled = this.docId === null || this.page >= count - 1;
  }

  // --- layout and images ------------------------------------------------------------------

  layout() {
    const [w, hgt] = this.pageSize(this.page);
    const available = Math.max(200, this.stage.clientWidth - 16);
    const width = Math.round(available * this.scale);
    this.wrap.style.width = `${width}px`;
    this.wrap.style.height = `${Math.round((width * hgt) / w)}px`;
    this.wrap.dataset.pageWidth = String(w);
    this.wrap.dataset.pageHeight = String(hgt);
    this.dispatchEvent(new CustomEvent("layout", { detail: { width: w, height: hgt } }));
    const wanted = width * (window.devicePixelRatio || 1) > TABLET_WIDTH * 1.1 ? "zoom" : "tablet";
    if (wanted !== this.rendition && !this.wrap.hidden) this.loadImage(wanted);
  }

  loadImage(rendition) {
    const doc = this.doc;
    if (!doc) return;
    const [w] = this.pageSize(this.page);
    const width = this.wrap.clientWidth || 800;
    const wanted = rendition
      || (width * (window.devicePixelRatio || 1) > TABLET_WIDTH * 1.1 ? "zoom" : "tablet");
    const page = this.page;
    const docId = this.docId;
    if (!this.pageServable(page)) {
      this.pendingImage = true;
      this.wrap.dataset.state = "pending";
      this.wrap.dataset.message = t("viewer.page_pending", { page: page + 1 });
      this.img.removeAttribute("src");
      this.img.dataset.page = "";
      this.img.alt = t("viewer.page_pending", { page: page + 1 });
      return;
    }
    this.pendingImage = false;
    this.rendition = wanted;
    const src = urls.pageImage(docId, page, wanted, doc.access_version);
    this.img.alt = t("viewer.page_alt", { title: doc.title, page: page + 1 });
    if (this.img.getAttribute("src") === src) return;
    // Swap in the new image only once it has loaded: no blank flash while zooming.
    const next = new Image();
    next.decoding = "async";
    next.onload = () => {
      if (this.docId !== docId || this.page !== page) return;
      this.img.src = src;
      this.wrap.dataset.state = "shown";
      if (!this.sizes.has(docId) && next.naturalWidth) {
        // Without the page size, the image's own aspect ratio lays the page out.
        const ratio = next.naturalHeight / next.naturalWidth;
        this.sizes.set(docId, [[w, w * ratio]]);
        this.layout();
      }
    };
    next.onerror = () => {
      if (this.docId !== docId || this.page !== page) return;
      this.wrap.dataset.state = "error";
      this.wrap.dataset.message = t("viewer.page_error", { page: page + 1 });
      this.img.removeAttribute("src");
      this.pendingImage = true; // try again on the next progress event or reconnection
    };
    if (!this.img.getAttribute("src") || this.img.dataset.page !== `${docId}:${page}`) {
      this.wrap.dataset.state = "loading";
    }
    this.img.dataset.page = `${docId}:${page}`;
    next.src = src;
  }

  retry() {
    if (this.pendingImage || this.wrap.dataset.state === "error") this.loadImage();
  }

  setScale(scale, focus) {
    const next = Math.max(MIN_SCALE, Math.min(MAX_SCALE, scale));
    if (Math.abs(next - this.scale) < 0.001) return;
    const stage = this.stage;
    const rect = stage.getBoundingClientRect();
    const fx = focus ? focus.x - rect.left : stage.clientWidth / 2;
    const fy = focus ? focus.y - rect.top : stage.clientHeight / 2;
    const contentX = (stage.scrollLeft + fx) / this.scale;
    const contentY = (stage.scrollTop + fy) / this.scale;
    this.scale = next;
    this.layout();
    stage.scrollLeft = contentX * next - fx;
    stage.scrollTop = contentY * next - fy;
    this.wrap.classList.toggle("zoomed", next > 1.01);
    $("zoom-fit").setAttribute("aria-pressed", String(next <= 1.01));
  }

  // --- thumbnails ---------------------------------------------------------------------------

  renderThumbs(rebuild) {
    const count = this.pageCount;
    const docId = this.docId;
    if (docId === null) return;
    if (rebuild || this.thumbs.dataset.doc !== String(docId) || this.thumbs.children.length !== count) {
      const items = [];
      for (let i = 0; i < count; i += 1) {
        const [w, hgt] = this.pageSize(i);
        const button = h("button", {
          type: "button", class: "thumb", dataset: { page: i },
          "aria-label": t("viewer.go_to_page", { page: i + 1 }),
          onclick: () => this.show(i, "user"),
        },
        h("span", { class: "thumb-img" }),
        h("span", { class: "thumb-num", "aria-hidden": "true" }, formatNumber(i + 1)));
        button.firstChild.style.aspectRatio = `${w} / ${hgt}`;
        items.push(h("li", {}, button));
      }
      replaceChildren(this.thumbs, items);
      this.thumbs.dataset.doc = String(docId);
    }
    // Images for ready pages (lazy: the browser fetches what scrolls into view).
    [...this.thumbs.querySelectorAll("button.thumb")].forEach((button, i) => {
      const holder = button.firstChild;
      if (this.pageReady(i) && !holder.querySelector("img")) {
        holder.append(h("img", { src: urls.pageImage(docId, i, "thumb", this.doc.access_version),
          alt: "", loading: "lazy", decoding: "async" }));
      }
    });
    this.markThumb();
    this.markHitThumbs();
  }

  markThumb() {
    for (const button of this.thumbs.querySelectorAll("button.thumb")) {
      const current = Number(button.dataset.page) === this.page;
      if (current) {
        button.setAttribute("aria-current", "page");
        button.scrollIntoView({ block: "nearest", inline: "nearest" });
      } else {
        button.removeAttribute("aria-current");
      }
    }
  }

  // --- search -------------------------------------------------------------------------------

  text(docId, page) {
    const key = `${docId}:${page}`;
    const doc = this.docs.get(docId);
    // Confidential documents are images only: no words to search.
    if (!doc || doc.confidential) return Promise.resolve(null);
    if (!this.texts.has(key)) {
      this.textVersions.set(key, doc.access_version);
      const promise = fetch(urls.pageText(docId, page, doc.access_version), {
        credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => (r.ok ? r.json() : null))
        .catch(() => null);
      this.texts.set(key, promise);
      promise.then((value) => { if (value === null) this.texts.delete(key); });
    }
    return this.texts.get(key);
  }

  async search(query) {
    this.query = query.trim();
    const docId = this.docId;
    this.hits.clear();
    this.paintHits();
    this.markHitThumbs();
    if (!this.query || docId === null) {
      setText(this.searchCount, "");
      return;
    }
    const terms = fold(this.query).split(/\s+/).filter(Boolean);
    const count = this.pageCount;
    setText(this.searchCount, t("viewer.searching"));
    let total = 0;
    const token = Symbol("search");
    this.searchToken = token;
    const pages = [...Array(count).keys()];
    const worker = async () => {
      while (pages.length) {
        const page = pages.shift();
        if (!this.pageReady(page)) continue;
        const text = await this.text(docId, page);
        if (this.searchToken !== token) return;
        if (!text || !text.words) continue;
        const matches = findHits(text.words, terms);
        if (matches.length) {
          if (text.width && text.height && !this.sizes.has(docId)) {
            this.sizes.set(docId, [[text.width, text.height]]);
          }
          this.hits.set(page, matches.flat());
          total += matches.length;
          if (page === this.page) this.paintHits();
          this.markHitThumbs();
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    if (this.searchToken !== token) return;
    setText(this.searchCount, total
      ? t("viewer.hits", { hits: formatNumber(total), pages: formatNumber(this.hits.size) })
      : t("viewer.no_hits"));
  }

  paintHits() {
    const boxes = this.hits.get(this.page) || [];
    const [w, hgt] = this.pageSize(this.page);
    replaceChildren(this.hitsLayer, boxes.map(([x0, y0, x1, y1]) => {
      const el = h("span", { class: "hit" });
      el.style.left = `${(x0 / w) * 100}%`;
      el.style.top = `${(y0 / hgt) * 100}%`;
      el.style.width = `${((x1 - x0) / w) * 100}%`;
      el.style.height = `${((y1 - y0) / hgt) * 100}%`;
      return el;
    }));
  }

  markHitThumbs() {
    for (const button of this.thumbs.querySelectorAll("button.thumb")) {
      button.classList.toggle("has-hits", this.hits.has(Number(button.dataset.page)));
    }
  }

  nextHit(step = 1) {
    const pages = [...this.hits.keys()].sort((a, b) => a - b);
    if (!pages.length) return;
    const target = step > 0 ? pages.find((p) => p > this.page) ?? pages[0]
      : [...pages].reverse().find((p) => p < this.page) ?? pages[pages.length - 1];
    this.show(target, "user");
  }

  // --- input --------------------------------------------------------------------------------

  bind() {
    $("page-prev").addEventListener("click", () => this.prev());
    $("page-next").addEventListener("click", () => this.next());
    $("zoom-in").addEventListener("click", () => this.setScale(this.scale * 1.25));
    $("zoom-out").addEventListener("click", () => this.setScale(this.scale / 1.25));
    $("zoom-fit").addEventListener("click", () => this.setScale(1));
    this.select.addEventListener("change", () => {
      const id = Number(this.select.value);
      if (id) this.open(id, 0, "user");
    });
    let debounce = null;
    this.searchInput.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => this.search(this.searchInput.value), 250);
    });
    this.searchInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        clearTimeout(debounce);
        if (fold(this.searchInput.value.trim()) !== fold(this.query)) this.search(this.searchInput.value);
        else this.nextHit(e.shiftKey ? -1 : 1);
      } else if (e.key === "Escape") {
        this.searchInput.value = "";
        this.search("");
      }
    });
    window.addEventListener("resize", () => { if (this.docId !== null) this.layout(); });
    document.addEventListener("keydown", (e) => this.onKey(e));
    this.bindGestures();
  }

  onKey(e) {
    const target = e.target;
    if (target && (target.closest("input, textarea, select, [contenteditable]")
      || target.closest("[role=dialog]:not([hidden])"))) return;
    if (e.altKey || e.metaKey || (e.ctrlKey && !["+", "-", "=", "0"].includes(e.key))) return;
    if (this.docId === null) return;
    const keys = {
      ArrowRight: () => this.next(), PageDown: () => this.next(),
      ArrowLeft: () => this.prev(), PageUp: () => this.prev(),
      Home: () => this.show(0), End: () => this.show(this.pageCount - 1),
      "+": () => this.setScale(this.scale * 1.25), "=": () => this.setScale(this.scale * 1.25),
      "-": () => this.setScale(this.scale / 1.25), 0: () => this.setScale(1),
    };
    // Arrow keys scroll a zoomed page; they turn pages only at fit width.
    if (this.scale > 1.01 && ["ArrowLeft", "ArrowRight"].includes(e.key)) return;
    const action = keys[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  }

  bindGestures() {
    const stage = this.stage;
    const pointers = new Map();
    let pinch = null;
    let swipe = null;
    let lastTap = { time: 0, x: 0, y: 0 };

    stage.addEventListener("pointerdown", (e) => {
      if (this.docId === null) return;
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        pinch = { distance: Math.hypot(a.x - b.x, a.y - b.y), scale: this.scale };
        swipe = null;
      } else if (pointers.size === 1 && !this.gestureBlocked(e)) {
        swipe = { x: e.clientX, y: e.clientY, time: performance.now() };
      }
    });
    stage.addEventListener("pointermove", (e) => {
      if (!pointers.has(e.pointerId)) return;
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pinch && pointers.size === 2) {
        const [a, b] = [...pointers.values()];
        const distance = Math.hypot(a.x - b.x, a.y - b.y);
        if (pinch.distance > 0) {
          this.setScale(pinch.scale * (distance / pinch.distance),
            { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 });
        }
        e.preventDefault();
      }
    });
    const end = (e) => {
      if (!pointers.has(e.pointerId)) return;
      pointers.delete(e.pointerId);
      if (pinch) {
        if (pointers.size < 2) pinch = null;
        swipe = null;
        return;
      }
      if (!swipe || this.gestureBlocked(e)) return;
      const dx = e.clientX - swipe.x;
      const dy = e.clientY - swipe.y;
      const dt = performance.now() - swipe.time;
      swipe = null;
      if (e.type === "pointercancel") return;
      if (this.scale <= 1.01 && Math.abs(dx) > 60 && Math.abs(dy) < Math.abs(dx) * 0.6 && dt < 800) {
        if (dx < 0) this.next();
        else this.prev();
        return;
      }
      if (Math.abs(dx) < 10 && Math.abs(dy) < 10 && e.pointerType !== "mouse") {
        // Double tap: fit ↔ zoomed at the tapped point.
        const now = performance.now();
        if (now - lastTap.time < 320 && Math.hypot(e.clientX - lastTap.x, e.clientY - lastTap.y) < 30) {
          this.setScale(this.scale > 1.01 ? 1 : 2.5, { x: e.clientX, y: e.clientY });
          lastTap = { time: 0, x: 0, y: 0 };
        } else {
          lastTap = { time: now, x: e.clientX, y: e.clientY };
        }
      }
    };
    stage.addEventListener("pointerup", end);
    stage.addEventListener("pointercancel", end);
    stage.addEventListener("dblclick", (e) => {
      if (this.gestureBlocked(e) || this.docId === null) return;
      this.setScale(this.scale > 1.01 ? 1 : 2.5, { x: e.clientX, y: e.clientY });
    });
    stage.addEventListener("wheel", (e) => {
      if (!e.ctrlKey || this.docId === null) return;
      e.preventDefault(); // trackpad pinch arrives as ctrl+wheel
      this.setScale(this.scale * Math.exp(-e.deltaY / 200), { x: e.clientX, y: e.clientY });
    }, { passive: false });
  }
}

/** Each match of the query terms in consecutive words, as the list of its words' boxes. */
export function findHits(words, terms) {
  const folded = words.map((w) => fold(String(w[4])));
  const out = [];
  for (let i = 0; i + terms.length <= words.length; i += 1) {
    let ok = true;
    for (let k = 0; k < terms.length && ok; k += 1) {
      const word = folded[i + k];
      if (terms.length === 1) ok = word.includes(terms[k]);
      else if (k === 0) ok = word.endsWith(terms[k]);
      else if (k === terms.length - 1) ok = word.startsWith(terms[k]);
      else ok = word === terms[k];
    }
    if (!ok) continue;
    const match = [];
    for (let k = 0; k < terms.length; k += 1) {
      const [x0, y0, x1, y1] = words[i + k];
      match.push([x0, y0, x1, y1]);
    }
    out.push(match);
  }
  return out;
}
