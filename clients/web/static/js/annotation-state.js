// The annotations this reader sees, and the presenter's live ink, kept by the meeting state:
// the reducers for their events, registered with state.js. No DOM here (annotations.js draws).

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

/** A live stroke's points, its batches in order whatever order they arrived in. */
export function livePoints(stroke) {
  return Object.keys(stroke.batches).map(Number).sort((a, b) => a - b).flatMap((n) => stroke.batches[n]);
}

addReducers({
  "annotation.saved"(s, p) { s.annotations = upsertById(s.annotations, p.annotations); return ["annotations"]; },
  "annotation.saved.own"(s, p) { s.annotations = upsertById(s.annotations, p.annotations); return ["annotations"]; },
  "annotation.saved.staff"(s, p) { s.annotations = upsertById(s.annotations, p.annotations); return ["annotations"]; },
  "annotation.removed"(s, p) { s.annotations = removeById(s.annotations, p.annotations); return ["annotations"]; },
  "annotation.removed.own"(s, p) { s.annotations = removeById(s.annotations, p.annotations); return ["annotations"]; },
  "annotation.removed.staff"(s, p) { s.annotations = removeById(s.annotations, p.annotations); return ["annotations"]; },
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
