// The annotations this reader sees, and the presenter's live ink, kept by the meeting state:
// the reducers for their events, registered with state.js, and the bookkeeping of annotations
// named by the log but not held (`annotation_wanted`, fetched by annotations.js). No DOM here
// (annotations.js draws).

import { addReducers } from "./state.js";

/** Put annotation views in `list` by id; a view older than the one held is ignored. */
export function upsertById(list, views) {
  const byId = new Map((list || []).map((a) => [a.id, a]));
  for (const v of views) {
    const old = byId.get(v.id);
    if (!old || (v.version || 0) >= (old.version || 0)) byId.set(v.id, v);
  }
  return [...byId.values()];
}

/** Drop the annotations `gone` names ({id, version}), unless the one held is newer. */
export function removeById(list, gone) {
  const drop = new Map(gone.map((g) => [g.id, g.version || 0]));
  return (list || []).filter((a) => !(drop.has(a.id) && (a.version || 0) <= drop.get(a.id)));
}

/**
 * The logged `annotation.saved` names annotations (id, document_id, version) without their
 * contents. Note in `wanted` ({id: {id, document_id, version}}) those not held at that version
 * yet; a connected tablet got the contents just before (`annotation.saved.live`), and a resync
 * brings them in the `annotations` part, so usually there is nothing to note.
 */
export function noteWanted(list, wanted, refs) {
  const held = new Map((list || []).map((a) => [a.id, a.version || 0]));
  const out = { ...(wanted || {}) };
  let changed = false;
  for (const r of refs) {
    const want = Math.max(r.version || 0, (out[r.id] && out[r.id].version) || 0);
    if ((held.get(r.id) ?? -1) < want) {
      out[r.id] = { id: r.id, document_id: r.document_id, version: want };
      changed = true;
    }
  }
  return changed ? out : wanted;
}

/** Forget the wanted entries that `items` ({id, version}) settle: as new or newer contents, or
 * a removal (deleted, or no longer readable here). */
export function settleWanted(wanted, items) {
  if (!wanted) return wanted;
  const out = { ...wanted };
  for (const item of items) {
    if (out[item.id] && (out[item.id].version || 0) <= (item.version || 0)) delete out[item.id];
  }
  return out;
}

/**
 * What to fetch, by document: the wanted annotations still not held at their version (those
 * held meanwhile are forgotten here), leaving out the ids in `busy` (being fetched).
 */
export function toFetch(parts, busy = new Set()) {
  const held = new Map((parts.annotations || []).map((a) => [a.id, a.version || 0]));
  const wanted = parts.annotation_wanted || {};
  const byDocument = new Map();
  const still = {};
  for (const entry of Object.values(wanted)) {
    if ((held.get(entry.id) ?? -1) >= entry.version) continue;
    still[entry.id] = entry;
    if (busy.has(entry.id)) continue;
    if (!byDocument.has(entry.document_id)) byDocument.set(entry.document_id, []);
    byDocument.get(entry.document_id).push(entry.id);
  }
  parts.annotation_wanted = still;
  return byDocument;
}

/**
 * Apply the answer of a fetch for `asked` ids: the views of those still wanted (one removed
 * meanwhile stays removed), and forget the asked ids either way (not in the answer: this reader
 * may not read it any more).
 */
export function applyFetched(parts, asked, views) {
  const wanted = parts.annotation_wanted || {};
  const fresh = views.filter((v) => asked.includes(v.id) && wanted[v.id]);
  if (fresh.length) parts.annotations = upsertById(parts.annotations, fresh);
  const rest = { ...wanted };
  for (const id of asked) delete rest[id];
  parts.annotation_wanted = rest;
  return fresh.length > 0;
}

function saved(s, p) {
  s.annotations = upsertById(s.annotations, p.annotations);
  s.annotation_wanted = settleWanted(s.annotation_wanted, p.annotations);
  return ["annotations"];
}

function removed(s, p) {
  s.annotations = removeById(s.annotations, p.annotations);
  s.annotation_wanted = settleWanted(s.annotation_wanted, p.annotations);
  return ["annotations"];
}

/** A live stroke's points, its batches in order whatever order they arrived in. */
export function livePoints(stroke) {
  return Object.keys(stroke.batches).map(Number).sort((a, b) => a - b).flatMap((n) => stroke.batches[n]);
}

addReducers({
  // Logged, references only: the contents are in the `.live` event before it, or fetched.
  "annotation.saved"(s, p) {
    const wanted = noteWanted(s.annotations, s.annotation_wanted, p.annotations);
    if (wanted === s.annotation_wanted) return [];
    s.annotation_wanted = wanted;
    return ["annotation_wanted"];
  },
  "annotation.saved.live": saved,
  "annotation.saved.own": saved,
  "annotation.saved.staff": saved,
  "annotation.removed": removed,
  "annotation.removed.own": removed,
  "annotation.removed.staff": removed,
  "annotation.carried"() { return ["annotation_carried"]; },
  "ink.stroke"(s, p) {
    const live = s.live_ink || { strokes: {}, pointer: null };
    const key = `${p.by}:${p.stroke}`;
    const old = live.strokes[key];
    const stroke = old && old.document_id === p.document_id && old.page === p.page ? old
      : { document_id: p.document_id, page: p.page, colour: p.colour, width: p.width, batches: {} };
    stroke.batches[p.n] = p.points;
    stroke.done = p.done;
    s.live_ink = { ...live, strokes: { ...live.strokes, [key]: stroke } };
    return ["live_ink"];
  },
  "ink.pointer"(s, p) {
    const live = s.live_ink || { strokes: {}, pointer: null };
    s.live_ink = { ...live, pointer: p.at ? { document_id: p.document_id, page: p.page, at: p.at } : null };
    return ["live_ink"];
  },
  "ink.cleared"(s, p) {
    const live = s.live_ink || { strokes: {}, pointer: null };
    // Only the strokes of the presenter who cleared (all of them when `strokes` is null).
    const gone = p.strokes ? new Set(p.strokes.map((id) => `${p.by}:${id}`)) : null;
    const strokes = {};
    for (const [key, value] of Object.entries(live.strokes)) {
      const dropped = gone ? gone.has(key) : key.startsWith(`${p.by}:`);
      if (!dropped) strokes[key] = value;
    }
    s.live_ink = { ...live, strokes };
    return ["live_ink"];
  },
  "ink.kept"(s, p) {
    const live = s.live_ink || { strokes: {}, pointer: null };
    const strokes = {};
    for (const [key, value] of Object.entries(live.strokes)) {
      if (!key.endsWith(`:${p.stroke}`)) strokes[key] = value;
    }
    s.live_ink = { ...live, strokes };
    return ["live_ink"];
  },
});
