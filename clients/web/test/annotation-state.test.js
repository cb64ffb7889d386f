// The annotations part and the presenter's live ink, as the meeting state keeps them.
import { test, describe } from "node:test";
import assert from "node:assert/strict";

import { MeetingState } from "../static/js/state.js";
import {
  applyFetched, livePoints, noteWanted, removeById, settleWanted, toFetch, upsertById,
} from "../static/js/annotation-state.js";

const ann = (id, version, extra = {}) => ({ id, uid: `a-${id}`, version, document_id: 9, page: 0, kind: "ink", ...extra });

function stateWith(parts) {
  const state = new MeetingState();
  state.load(parts);
  const changed = [];
  const stale = [];
  state.addEventListener("change", (e) => changed.push([...e.detail.parts]));
  state.addEventListener("stale", (e) => stale.push(e.detail.type));
  const apply = (type, payload) => state.apply({ meeting_id: 7, seq: 1, type, payload });
  return { state, changed, stale, apply };
}

describe("annotation views by id and version", () => {
  test("a newer or equal version replaces, an older one is ignored, a new id is added", () => {
    const list = [ann(1, 2, { colour: "red" }), ann(2, 1)];
    const out = upsertById(list, [ann(1, 1, { colour: "old" }), ann(2, 2, { colour: "blue" }), ann(3, 1)]);
    assert.deepEqual(out, [ann(1, 2, { colour: "red" }), ann(2, 2, { colour: "blue" }), ann(3, 1)]);
    assert.deepEqual(upsertById(undefined, [ann(1, 0)]), [ann(1, 0)]);
    assert.equal(list[1].version, 1, "the list given is not changed");
  });

  test("a removal drops the version it names and older ones, never a newer one", () => {
    const list = [ann(1, 2), ann(2, 5), ann(3, 1)];
    assert.deepEqual(removeById(list, [{ id: 1, version: 2 }, { id: 2, version: 4 }]), [ann(2, 5), ann(3, 1)]);
    assert.deepEqual(removeById(list, [{ id: 3 }]), list, "no version is version 0: older than version 1");
    assert.deepEqual(removeById([ann(3, 0), ann(4, 0)], [{ id: 3 }]), [ann(4, 0)]);
    assert.deepEqual(removeById(undefined, [{ id: 1, version: 1 }]), []);
  });
});

describe("annotation events", () => {
  for (const [saved, removed] of [[".live", ""], [".own", ".own"], [".staff", ".staff"]]) {
    test(`annotation.saved${saved} and annotation.removed${removed}`, () => {
      const { state, changed, apply } = stateWith({ annotations: [ann(1, 1)] });
      apply(`annotation.saved${saved}`, { annotations: [ann(1, 2), ann(2, 1)] });
      assert.deepEqual(state.parts.annotations, [ann(1, 2), ann(2, 1)]);
      apply(`annotation.removed${removed}`, { annotations: [{ id: 1, uid: "a-1", version: 2 }] });
      assert.deepEqual(state.parts.annotations, [ann(2, 1)]);
      assert.deepEqual(changed, [["annotations"], ["annotations"]]);
    });
  }

  test("annotation.carried changes no part, but tells the views (a toast)", () => {
    const { state, changed, stale, apply } = stateWith({ annotations: [ann(1, 1)] });
    apply("annotation.carried", { carried: [{ id: 1 }], kept: [] });
    assert.deepEqual(changed, [["annotation_carried"]]);
    assert.deepEqual(stale, []);
    assert.deepEqual(state.parts.annotations, [ann(1, 1)]);
  });
});

describe("the logged annotation.saved: references, contents fetched when missing", () => {
  const ref = (id, version, documentId = 9) => ({ id, uid: `a-${id}`, author_id: 3, document_id: documentId, version });

  test("after the live contents, the reference changes nothing", () => {
    const { state, changed, stale, apply } = stateWith({ annotations: [] });
    apply("annotation.saved.live", { annotations: [ann(1, 2)] });
    apply("annotation.saved", { annotations: [ref(1, 2)] });
    assert.deepEqual(state.parts.annotations, [ann(1, 2)]);
    assert.deepEqual(changed, [["annotations"], []]);
    assert.deepEqual(stale, []);
    assert.deepEqual(toFetch(state.parts), new Map());
  });

  test("a reference to contents not held is fetched, by document, and applied", () => {
    const { state, changed, apply } = stateWith({ annotations: [ann(1, 1)] });
    apply("annotation.saved", { annotations: [ref(1, 3), ref(2, 1, 12), ref(4, 1)] });
    assert.deepEqual(changed, [["annotation_wanted"]]);
    const wanted = toFetch(state.parts);
    assert.deepEqual(wanted, new Map([[9, [1, 4]], [12, [2]]]));
    // Reference 4 is no longer readable: the answer leaves it out, and it is forgotten.
    assert.equal(applyFetched(state.parts, [1, 4], [ann(1, 3, { text: "mới" })]), true);
    assert.deepEqual(state.parts.annotations, [ann(1, 3, { text: "mới" })]);
    assert.deepEqual(toFetch(state.parts), new Map([[12, [2]]]));
    assert.deepEqual(toFetch(state.parts, new Set([2])), new Map(), "being fetched");
    assert.equal(applyFetched(state.parts, [2], []), false);
    assert.deepEqual(state.parts.annotation_wanted, {});
  });

  test("a removal before the fetch answers keeps the annotation removed", () => {
    const { state, apply } = stateWith({ annotations: [] });
    apply("annotation.saved", { annotations: [ref(5, 1)] });
    assert.deepEqual(toFetch(state.parts), new Map([[9, [5]]]));
    apply("annotation.removed", { annotations: [{ ...ref(5, 2), reason: "hidden" }] });
    assert.equal(applyFetched(state.parts, [5], [ann(5, 1, { text: "Bí mật" })]), false);
    assert.deepEqual(state.parts.annotations, []);
  });

  test("a resync's annotations part settles the replayed references: nothing to fetch", () => {
    const { state, apply } = stateWith({ annotations: [] });
    apply("annotation.saved", { annotations: [ref(1, 1), ref(2, 1)] });
    apply("annotation.saved", { annotations: [ref(2, 2)] });
    apply("annotation.removed", { annotations: [{ ...ref(1, 2), reason: "deleted" }] });
    state.loadPrivate({ annotations: [ann(2, 2)] });
    assert.deepEqual(toFetch(state.parts), new Map());
    assert.deepEqual(state.parts.annotation_wanted, {});
  });

  test("wanted entries keep the highest version and are settled by newer contents", () => {
    let wanted = noteWanted([ann(1, 1)], undefined, [ref(1, 1)]);
    assert.equal(wanted, undefined, "held at that version: nothing noted");
    wanted = noteWanted([], wanted, [ref(1, 3), ref(1, 2)]);
    assert.deepEqual(wanted, { 1: { id: 1, document_id: 9, version: 3 } });
    assert.deepEqual(settleWanted(wanted, [ann(1, 2)]), wanted);
    assert.deepEqual(settleWanted(wanted, [ann(1, 3)]), {});
  });
});

describe("live ink", () => {
  const stroke = (by, id, n, points, extra = {}) => ({ stroke: id, n, document_id: 9, page: 2, points,
    colour: "#D32F2F", width: 3, done: false, by, ...extra });

  test("batches of one stroke gather under presenter:stroke, in order whatever the arrival", () => {
    const { state, changed, apply } = stateWith({});
    apply("ink.stroke", stroke(11, "s1", 1, [[3, 3], [4, 4]]));
    apply("ink.stroke", stroke(11, "s1", 0, [[1, 1], [2, 2]]));
    apply("ink.stroke", stroke(11, "s1", 2, [[5, 5]], { done: true }));
    const live = state.parts.live_ink;
    assert.deepEqual(Object.keys(live.strokes), ["11:s1"]);
    const s = live.strokes["11:s1"];
    assert.equal(s.done, true);
    assert.deepEqual([s.document_id, s.page, s.colour, s.width], [9, 2, "#D32F2F", 3]);
    assert.deepEqual(livePoints(s), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    assert.deepEqual(changed, [["live_ink"], ["live_ink"], ["live_ink"]]);
    assert.equal(live.pointer, null);
  });

  test("a stroke id reused on another page starts a new stroke", () => {
    const { state, apply } = stateWith({});
    apply("ink.stroke", stroke(11, "s1", 0, [[1, 1]]));
    apply("ink.stroke", stroke(11, "s1", 0, [[7, 7]], { page: 3 }));
    const s = state.parts.live_ink.strokes["11:s1"];
    assert.equal(s.page, 3);
    assert.deepEqual(livePoints(s), [[7, 7]]);
  });

  test("the pointer shows and goes", () => {
    const { state, apply } = stateWith({});
    apply("ink.pointer", { document_id: 9, page: 2, at: [10, 20], by: 11 });
    assert.deepEqual(state.parts.live_ink, { strokes: {}, pointer: { document_id: 9, page: 2, at: [10, 20] } });
    apply("ink.pointer", { document_id: 9, page: 2, at: null, by: 11 });
    assert.equal(state.parts.live_ink.pointer, null);
  });

  test("clearing takes only the clearing presenter's strokes (all, or those named)", () => {
    const { state, apply } = stateWith({});
    for (const [by, id] of [[11, "a"], [11, "b"], [12, "a"]]) apply("ink.stroke", stroke(by, id, 0, [[1, 1]]));
    apply("ink.cleared", { strokes: ["a"], by: 11 });
    assert.deepEqual(Object.keys(state.parts.live_ink.strokes), ["11:b", "12:a"]);
    apply("ink.cleared", { strokes: null, by: 11 });
    assert.deepEqual(Object.keys(state.parts.live_ink.strokes), ["12:a"]);
  });

  test("a kept stroke leaves the live ink (it comes back as an annotation)", () => {
    const { state, apply } = stateWith({});
    apply("ink.stroke", stroke(11, "a", 0, [[1, 1]]));
    apply("ink.stroke", stroke(11, "b", 0, [[1, 1]]));
    apply("ink.kept", { stroke: "a", annotation_id: 40 });
    assert.deepEqual(Object.keys(state.parts.live_ink.strokes), ["11:b"]);
  });
});
