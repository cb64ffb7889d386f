// The annotation layer: an SVG over the page image whose viewBox is the page in PDF points, so
// marks keep their place at any zoom or image size. Tools: pen, highlighter (snaps to the
// page's word boxes), sticky note, eraser; five colours; private, shared or staff visibility.
// The presenter's pen on the presented page streams live ink to the room instead (ink.draw),
// which the presenter may keep (ink.keep: a shared annotation) or clear.
//
// Every change is applied here at once and queued in the IndexedDB outbox with its client id
// and the annotation's uid; the outbox is sent in order whenever the link is live, so a tablet
// annotates offline and ends in the server's state when it returns (a replayed operation
// applies once: the server knows the uid and the client id).

import { $, h, setText, replaceChildren, toast, setEnabled } from "./dom.js";
import { t, formatNumber } from "./i18n.js";
import { clientId, get } from "./api.js";
import { outboxAdd, outboxAll, outboxDelete, outboxPut } from "./store.js";
import { foldUpdate, outboxRecord, ownedBy, pendingView, planRemoval, replay } from "./outbox.js";
import { applyFetched, livePoints, toFetch, upsertById } from "./annotation-state.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_POINTS = 5000;
const LIVE_BATCH_MS = 40;

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  return el;
}

function pathData(points) {
  if (!points || !points.length) return "";
  const [first, ...rest] = points;
  if (!rest.length) return `M${first[0]} ${first[1]} l0.01 0`;
  return `M${first[0]} ${first[1]}` + rest.map((p) => ` L${p[0]} ${p[1]}`).join("");
}

function distanceToSegment(p, a, b) {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len = dx * dx + dy * dy;
  const u = len ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len)) : 0;
  return Math.hypot(p[0] - (a[0] + u * dx), p[1] - (a[1] + u * dy));
}

export class Annotations {
  constructor(state, link, viewer, pageData) {
    this.state = state;
    this.link = link;
    this.viewer = viewer;
    this.me = pageData.user;
    this.role = pageData.role;
    this.layer = $("annot-layer");
    this.notes = $("notes-layer");
    this.toolbar = $("annot-toolbar");
    this.syncLabel = $("annot-sync");
    this.tool = "none";
    this.colour = "#d32f2f";
    this.local = new Map();    // uid -> annotation changed here, not confirmed by the server yet
    this.removed = new Set();  // uids deleted here, not confirmed yet
    this.waiting = 0;          // operations in the outbox
    this.flushing = false;
    this.drawing = null;
    this.myLive = new Set();   // ids of my live strokes on the tablets (presenter)
    this.fetching = new Set(); // ids of annotations being fetched
    this.fetchTimer = null;
    this.enabled = false;
    this.bindToolbar();
    this.bindDrawing();
    viewer.addEventListener("pagechange", () => { this.paint(); this.updateLiveControls(); });
    viewer.addEventListener("layout", () => this.paint());
    viewer.gestureBlocked = () => this.tool !== "none";
    link.addEventListener("status", (e) => {
      if (e.detail === "live") this.flush();
      this.updateLiveControls();
    });
    this.loadOutbox();
  }

  /** Offered once the meeting state has the annotations part (the server declares them). */
  get available() {
    return Array.isArray(this.state.parts.annotations);
  }

  render(parts, event) {
    if (event && event.type === "annotation.carried") this.carried(event.payload);
    if (parts.has("annotation_wanted") && !this.fetchTimer) {
      // After the current batch of events: a resync's `annotations` part, applied right after
      // the replayed events, usually holds them already.
      this.fetchTimer = setTimeout(() => { this.fetchTimer = null; this.fetchWanted(); }, 0);
    }
    if (!(parts.has("*") || parts.has("annotations") || parts.has("live_ink") || parts.has("presenting"))) return;
    const available = this.available;
    if (available !== this.enabled) {
      this.enabled = available;
      this.toolbar.hidden = !available;
      if (!available) this.setTool("none");
      // Observers keep private annotations only.
      for (const option of $("annot-visibility").options) {
        option.disabled = this.role === "observer" && option.value !== "private";
      }
      if (this.role !== "chair" && this.role !== "secretary") {
        const staff = $("annot-visibility").querySelector("option[value=staff]");
        if (staff) staff.textContent = t("annot.staff_send");
      }
    }
    // What the server now holds replaces the local copy (same or higher version).
    for (const ann of this.state.parts.annotations || []) {
      const mine = this.local.get(ann.uid);
      if (mine && !mine.pending && (ann.version || 0) >= (mine.version || 0)) this.local.delete(ann.uid);
    }
    this.updateLiveControls();
    this.paint();
  }

  /**
   * Fetch the contents of annotations the log named and this tablet does not hold, over the
   * same authorised read as everything else (only what this reader may read now comes back).
   * A failure leaves them to the next resync, whose `annotations` part has them.
   */
  async fetchWanted() {
    for (const [documentId, ids] of toFetch(this.state.parts, this.fetching)) {
      for (let start = 0; start < ids.length; start += 200) {
        const asked = ids.slice(start, start + 200);
        for (const id of asked) this.fetching.add(id);
        const views = await get(`/api/documents/${documentId}/annotations?ids=${asked.join(",")}`)
          .then((answer) => answer.annotations || [], () => []);
        for (const id of asked) this.fetching.delete(id);
        if (applyFetched(this.state.parts, asked, views)) this.state.changed(["annotations"], null);
      }
    }
  }

  carried(payload) {
    const carried = (payload.carried || []).length;
    const kept = (payload.kept || []).length;
    toast(t("annot.carried", { carried: formatNumber(carried), kept: formatNumber(kept) }));
  }

  all() {
    const byUid = new Map();
    for (const a of this.state.parts.annotations || []) {
      byUid.set(a.author && a.author.user_id !== this.me.id ? `${a.author.user_id}:${a.uid}` : a.uid, a);
    }
    for (const [uid, ann] of this.local) byUid.set(uid, ann);
    for (const uid of this.removed) byUid.delete(uid);
    return [...byUid.values()];
  }

  onPage() {
    const docId = this.viewer.docId;
    const page = this.viewer.page;
    return this.all().filter((a) => a.document_id === docId && a.page === page);
  }

  isMine(ann) {
    return !ann.author || ann.author.user_id === this.me.id;
  }

  paint() {
    const [w, hgt] = this.viewer.pageSize(this.viewer.page);
    this.layer.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
    this.layer.setAttribute("preserveAspectRatio", "none");
    const nodes = [];
    const notes = [];
    for (const ann of this.onPage()) {
      const mine = this.isMine(ann);
      const cls = `ann ann-${ann.kind} vis-${ann.visibility || "private"}${mine ? " mine" : ""}${ann.pending ? " pending" : ""}`;
      const d = ann.data || {};
      const attrs = { class: cls, "data-uid": ann.uid, "data-visibility": ann.visibility,
        "data-author": ann.author ? ann.author.user_id : this.me.id };
      if (ann.kind === "ink") {
        const g = svg("g", { ...attrs, stroke: d.colour || "#d32f2f", "stroke-width": d.width || 2, fill: "none",
          "stroke-linecap": "round", "stroke-linejoin": "round", opacity: d.opacity ?? null });
        for (const stroke of d.strokes || []) g.append(svg("path", { d: pathData(stroke) }));
        nodes.push(g);
      } else if (ann.kind === "highlight") {
        const g = svg("g", attrs);
        for (const [x0, y0, x1, y1] of d.rects || []) {
          g.append(svg("rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, fill: d.colour || "#ffeb3b" }));
        }
        nodes.push(g);
      } else if (ann.kind === "text") {
        const [x0, y0] = d.rect || [0, 0];
        const text = svg("text", { ...attrs, x: x0, y: y0 + (d.font_size || 12), fill: d.colour || "#1565c0",
          "font-size": d.font_size || 12 });
        text.textContent = d.text || "";
        nodes.push(text);
      } else if (ann.kind === "note") {
        const [x, y] = d.at || [0, 0];
        const who = ann.author && !mine ? `${ann.author.full_name}: ` : "";
        const pin = h("button", { type: "button", class: `note-pin ${cls}`, dataset: { uid: ann.uid, visibility: ann.visibility },
          "aria-label": t("annot.note_label", { text: `${who}${d.text || ""}` }),
          onclick: (e) => this.onNoteClick(e, ann) }, "✎");
        pin.style.left = `${(x / w) * 100}%`;
        pin.style.top = `${(y / hgt) * 100}%`;
        pin.style.setProperty("--note-colour", d.colour || "#fbc02d");
        const bubble = h("span", { class: "note-text" }, `${who}${d.text || ""}`);
        bubble.style.left = pin.style.left;
        bubble.style.top = pin.style.top;
        notes.push(h("div", { class: "note" }, pin, bubble));
      }
    }
    // The presenter's live ink on this page.
    const live = this.state.parts.live_ink;
    if (live) {
      for (const [key, stroke] of Object.entries(live.strokes || {})) {
        if (stroke.document_id !== this.viewer.docId || stroke.page !== this.viewer.page) continue;
        nodes.push(svg("path", { class: "live-ink", "data-stroke": key, d: pathData(livePoints(stroke)),
          stroke: stroke.colour, "stroke-width": stroke.width, fill: "none", "stroke-linecap": "round",
          "stroke-linejoin": "round" }));
      }
      const pointer = live.pointer;
      if (pointer && pointer.document_id === this.viewer.docId && pointer.page === this.viewer.page) {
        nodes.push(svg("circle", { class: "live-pointer", cx: pointer.at[0], cy: pointer.at[1], r: 6 }));
      }
    }
    if (this.drawing && this.drawing.node) nodes.push(this.drawing.node);
    this.layer.replaceChildren(...nodes);
    replaceChildren(this.notes, notes);
    this.showSync();
  }

  // --- tools --------------------------------------------------------------------------------

  bindToolbar() {
    for (const button of this.toolbar.querySelectorAll("[data-tool]")) {
      button.addEventListener("click", () => this.setTool(button.dataset.tool));
    }
    for (const swatch of this.toolbar.querySelectorAll("[data-colour]")) {
      swatch.addEventListener("click", () => {
        this.colour = swatch.dataset.colour;
        for (const s of this.toolbar.querySelectorAll("[data-colour]")) {
          s.setAttribute("aria-checked", String(s === swatch));
        }
      });
    }
    for (const group of this.toolbar.querySelectorAll("[role=radiogroup]")) {
      group.addEventListener("keydown", (e) => {
        if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(e.key)) return;
        const items = [...group.querySelectorAll("[role=radio]")];
        const i = items.indexOf(document.activeElement);
        if (i < 0) return;
        e.preventDefault();
        e.stopPropagation();
        const next = items[(i + (["ArrowRight", "ArrowDown"].includes(e.key) ? 1 : items.length - 1)) % items.length];
        next.focus();
        next.click();
      });
    }
    $("ink-keep").addEventListener("click", () => this.keepLive());
    $("ink-clear").addEventListener("click", () => this.clearLive());
  }

  setTool(tool) {
    this.tool = tool;
    for (const b of this.toolbar.querySelectorAll("[data-tool]")) {
      b.setAttribute("aria-checked", String(b.dataset.tool === tool));
    }
    this.layer.classList.toggle("active", tool !== "none");
    this.layer.dataset.tool = tool;
    $("stage").dataset.tool = tool;
    this.updateLiveControls();
  }

  visibility() {
    return $("annot-visibility").value;
  }

  /** The presenter, on the presented page: the pen draws live ink for the room. */
  presentingHere() {
    const p = this.state.parts.presenting;
    return Boolean(p && p.presenter && p.presenter.user_id === this.me.id && p.document_id !== null
      && p.document_id === this.viewer.docId && p.page === this.viewer.page);
  }

  updateLiveControls() {
    const here = this.presentingHere();
    $("ink-live").hidden = !here;
    setEnabled($("ink-keep"), here && this.myLive.size > 0 && this.link.live);
    setEnabled($("ink-clear"), here && this.myLive.size > 0 && this.link.live);
  }

  toPage(e) {
    const rect = this.layer.getBoundingClientRect();
    const [w, hgt] = this.viewer.pageSize(this.viewer.page);
    const x = ((e.clientX - rect.left) / rect.width) * w;
    const y = ((e.clientY - rect.top) / rect.height) * hgt;
    return [Math.round(Math.max(0, Math.min(w, x)) * 100) / 100, Math.round(Math.max(0, Math.min(hgt, y)) * 100) / 100];
  }

  bindDrawing() {
    const layer = this.layer;
    layer.addEventListener("pointerdown", (e) => {
      if (this.tool === "none" || this.viewer.docId === null) return;
      e.preventDefault();
      e.stopPropagation();
      layer.setPointerCapture(e.pointerId);
      const p = this.toPage(e);
      if (this.tool === "pen") {
        const live = this.presentingHere() && $("ink-live-toggle").checked && this.link.live;
        const node = svg("path", { stroke: this.colour, "stroke-width": live ? 3 : 2, fill: "none",
          "stroke-linecap": "round", "stroke-linejoin": "round", class: "ann drawing" });
        this.drawing = { tool: "pen", points: [p], node, id: e.pointerId, live, sent: 0, batch: 0,
          stroke: live ? clientId("s").slice(0, 30) : null, timer: null };
      } else if (this.tool === "highlight") {
        const node = svg("rect", { class: "ann drawing-box", fill: this.colour });
        this.drawing = { tool: "highlight", start: p, end: p, node, id: e.pointerId };
      } else if (this.tool === "eraser") {
        this.drawing = { tool: "eraser", id: e.pointerId };
        this.eraseAt(p);
      } else if (this.tool === "note") {
        this.drawing = null;
        this.addNote(p);
      }
      this.paint();
    });
    layer.addEventListener("pointermove", (e) => {
      const d = this.drawing;
      if (!d || d.id !== e.pointerId) {
        if (this.tool === "none" || !this.presentingHere()) return;
        return;
      }
      e.preventDefault();
      const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
      if (d.tool === "pen") {
        for (const ev of events) if (d.points.length < MAX_POINTS) d.points.push(this.toPage(ev));
        d.node.setAttribute("d", pathData(d.points));
        if (d.live && !d.timer) d.timer = setTimeout(() => this.sendLive(d, false), LIVE_BATCH_MS);
      } else if (d.tool === "highlight") {
        d.end = this.toPage(e);
        d.node.setAttribute("x", Math.min(d.start[0], d.end[0]));
        d.node.setAttribute("y", Math.min(d.start[1], d.end[1]));
        d.node.setAttribute("width", Math.abs(d.end[0] - d.start[0]));
        d.node.setAttribute("height", Math.max(4, Math.abs(d.end[1] - d.start[1])));
      } else if (d.tool === "eraser") {
        this.eraseAt(this.toPage(e));
      }
    });
    const finish = async (e) => {
      const d = this.drawing;
      if (!d || d.id !== e.pointerId) return;
      this.drawing = null;
      if (e.type === "pointercancel") {
        this.paint();
        return;
      }
      if (d.tool === "pen") {
        if (d.live) {
          clearTimeout(d.timer);
          this.sendLive(d, true);
          this.myLive.add(d.stroke);
          this.updateLiveControls();
        } else if (d.points.length > 1) {
          this.create({ kind: "ink", strokes: [simplify(d.points, 0.6)], colour: this.colour.toUpperCase(), width: 2 });
        }
      } else if (d.tool === "highlight") {
        const words = await this.wordsIn(d.start, d.end);
        if (words.length) {
          this.create({ kind: "highlight", rects: words.map((w) => w.box), colour: this.colour.toUpperCase(),
            text: words.map((w) => w.word).join(" ") });
        } else {
          toast(t("annot.no_text_here"));
        }
      }
      this.paint();
    };
    layer.addEventListener("pointerup", finish);
    layer.addEventListener("pointercancel", finish);
  }

  sendLive(d, done) {
    d.timer = null;
    const points = d.points.slice(d.sent, d.sent + 512);
    d.sent += points.length;
    this.link.stream("ink.draw", { stroke: d.stroke, n: d.batch, document_id: this.viewer.docId, page: this.viewer.page,
      points, colour: this.colour.toUpperCase(), width: 3, done: done && d.sent >= d.points.length });
    d.batch += 1;
    if (d.sent < d.points.length) this.sendLive(d, done);
  }

  async keepLive() {
    const strokes = [...this.myLive];
    this.myLive.clear();
    this.updateLiveControls();
    for (const stroke of strokes) {
      try {
        await this.link.call("ink.keep", { stroke });
      } catch (err) {
        toast(t("annot.refused", { message: err.message }), "error");
      }
    }
  }

  clearLive() {
    this.link.stream("ink.clear", { strokes: null });
    this.myLive.clear();
    this.updateLiveControls();
  }

  async wordsIn(a, b) {
    const text = await this.viewer.text(this.viewer.docId, this.viewer.page);
    if (!text || !text.words) return [];
    const x0 = Math.min(a[0], b[0]);
    const x1 = Math.max(a[0], b[0]);
    const y0 = Math.min(a[1], b[1]);
    const y1 = Math.max(a[1], b[1]) + 1;
    return text.words
      .filter(([wx0, wy0, wx1, wy1]) => wx1 >= x0 && wx0 <= x1 && wy1 >= y0 && wy0 <= y1)
      .map(([wx0, wy0, wx1, wy1, word]) => ({ box: [wx0, wy0, wx1, wy1], word }));
  }

  eraseAt(p) {
    const tolerance = 6;
    for (const ann of this.onPage()) {
      if (!this.isMine(ann)) continue;
      const d = ann.data || {};
      let hit = false;
      if (ann.kind === "ink") {
        for (const pts of d.strokes || []) {
          for (let i = 1; i < pts.length && !hit; i += 1) hit = distanceToSegment(p, pts[i - 1], pts[i]) < tolerance;
          if (pts.length === 1 && !hit) hit = Math.hypot(p[0] - pts[0][0], p[1] - pts[0][1]) < tolerance;
        }
      } else if (ann.kind === "highlight") {
        hit = (d.rects || []).some(([x0, y0, x1, y1]) => p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1);
      } else if (ann.kind === "text") {
        const [x0, y0, x1, y1] = d.rect || [0, 0, 0, 0];
        hit = p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1;
      } else {
        const [x, y] = d.at || [0, 0];
        hit = Math.hypot(p[0] - x, p[1] - y) < tolerance * 2;
      }
      if (hit) this.remove(ann);
    }
  }

  addNote(p) {
    const text = window.prompt(t("annot.note_prompt"), "");
    if (text && text.trim()) this.create({ kind: "note", at: p, text: text.trim(), colour: this.colour.toUpperCase() });
  }

  onNoteClick(e, ann) {
    e.stopPropagation();
    if (!this.isMine(ann)) return;
    if (this.tool === "eraser") {
      this.remove(ann);
      return;
    }
    const text = window.prompt(t("annot.note_edit"), (ann.data && ann.data.text) || "");
    if (text === null) return;
    if (!text.trim()) this.remove(ann);
    else this.update(ann, { data: { ...ann.data, text: text.trim() } });
  }

  // --- operations, applied locally and queued ----------------------------------------------

  create(data) {
    const uid = clientId("a").slice(0, 40);
    const ann = { uid, document_id: this.viewer.docId, page: this.viewer.page, kind: data.kind,
      visibility: this.visibility(), data, author: { user_id: this.me.id, full_name: this.me.full_name },
      version: 0, pending: true };
    this.local.set(uid, ann);
    this.queue({ op: "create", uid, fields: { uid, document_id: ann.document_id, page: ann.page,
      visibility: ann.visibility, data } });
  }

  async update(ann, changes) {
    this.local.set(ann.uid, { ...ann, ...changes, pending: true });
    // Not on the server yet: change the queued creation instead of queueing an update.
    const amended = foldUpdate(await this.outbox(), ann.uid, changes);
    if (amended) {
      await outboxPut(amended);
      this.paint();
      this.flush();
      return;
    }
    this.queue({ op: "update", uid: ann.uid, fields: { uid: ann.uid, base_version: Math.max(1, ann.version || 1), ...changes } });
  }

  async remove(ann) {
    this.removed.add(ann.uid);
    this.local.delete(ann.uid);
    const { drop, queue } = planRemoval(await this.outbox(), ann.uid);
    if (!queue) {
      // Created and deleted offline: the server never needs to hear of it.
      for (const key of drop) await outboxDelete(key);
      this.removed.delete(ann.uid);
      this.paint();
      return;
    }
    this.queue({ op: "remove", uid: ann.uid, fields: { uid: ann.uid } });
  }

  outbox() {
    return outboxAll(ownedBy(this.link.meetingId, this.me.id));
  }

  async queue(entry) {
    const record = outboxRecord(entry, { meetingId: this.link.meetingId, userId: this.me.id,
      clientId: clientId("an"), at: Date.now() });
    try {
      await outboxAdd(record);
    } catch {
      // Without storage the operation still goes out now if the link is live.
    }
    this.paint();
    this.flush();
  }

  async loadOutbox() {
    const { local, removed } = pendingView(await this.outbox(), { user_id: this.me.id, full_name: this.me.full_name });
    for (const uid of removed) this.removed.add(uid);
    for (const [uid, ann] of local) this.local.set(uid, ann);
    this.paint();
    this.flush();
  }

  async flush() {
    if (this.flushing || !this.link.live) return;
    this.flushing = true;
    try {
      await replay(await this.outbox(), {
        isLive: () => this.link.live,
        send: (name, fields) => this.link.call(name, fields),
        accepted: (e, ack) => {
          if (ack.annotation) this.confirm(ack.annotation);
          else this.settle(e.uid, e.op);
        },
        refused: (e, err, expected) => {
          if (!expected) toast(t("annot.refused", { message: err.message }), "error");
          this.settle(e.uid, e.op, true);
        },
        drop: (e) => outboxDelete(e.key),
      });
    } finally {
      this.flushing = false;
      this.paint();
    }
  }

  confirm(view) {
    this.state.parts.annotations = upsertById(this.state.parts.annotations, [view]);
    this.local.delete(view.uid);
  }

  settle(uid, op, failed = false) {
    this.local.delete(uid);
    if (op === "remove") {
      this.removed.delete(uid);
      if (!failed) {
        this.state.parts.annotations = (this.state.parts.annotations || [])
          .filter((a) => !(a.uid === uid && this.isMine(a)));
      }
    }
  }

  async showSync() {
    if (!this.syncLabel) return;
    const count = (await this.outbox()).length;
    this.toolbar.dataset.queued = String(count);
    setText(this.syncLabel, count ? t("annot.queued", { count: formatNumber(count) }) : "");
  }
}

/** Drop points closer than `min` (PDF points) to the previous one: strokes stay small. */
function simplify(points, min) {
  const out = [points[0]];
  for (const p of points.slice(1)) {
    const last = out[out.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= min) out.push(p);
  }
  if (out.length === 1 && points.length > 1) out.push(points[points.length - 1]);
  return out.slice(0, MAX_POINTS);
}
