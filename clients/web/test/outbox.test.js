// The annotation outbox's rules: what is queued offline, how queued changes fold together, what
// a reload shows of the queue, and how it is replayed in order when the link comes back.
import { test, describe } from "node:test";
import assert from "node:assert/strict";

import {
  RETRY_LATER, foldUpdate, outboxRecord, ownedBy, pendingView, planRemoval, replay,
} from "../static/js/outbox.js";

const owner = { meetingId: 7, userId: 11 };
let nextKey = 1;
/** A record as the outbox holds it (store.js gives each its key, in insertion order). */
function record(op, uid, fields = {}, who = owner) {
  const key = nextKey++;
  return { ...outboxRecord({ op, uid, fields: { uid, ...fields } },
    { ...who, clientId: `an-${key}`, at: 1000 + key }), key };
}
const ink = { kind: "ink", strokes: [[[1, 1], [2, 2]]], colour: "#D32F2F", width: 2 };

describe("records", () => {
  test("a record says whose it is and carries its own client id", () => {
    const r = outboxRecord({ op: "create", uid: "a-1", fields: { uid: "a-1", data: ink } },
      { meetingId: 7, userId: 11, clientId: "an-x", at: 123 });
    assert.deepEqual(r, { op: "create", uid: "a-1", fields: { uid: "a-1", data: ink },
      meeting_id: 7, user_id: 11, client_id: "an-x", at: 123 });
  });

  test("a tablet shared by users and meetings sends each one only their own records", () => {
    const mine = record("create", "a-1");
    const otherMeeting = record("create", "a-2", {}, { meetingId: 8, userId: 11 });
    const otherUser = record("create", "a-3", {}, { meetingId: 7, userId: 12 });
    assert.deepEqual([mine, otherMeeting, otherUser].filter(ownedBy(7, 11)), [mine]);
  });
});

describe("folding changes made offline", () => {
  test("an update to an annotation created offline changes the queued creation", () => {
    const create = record("create", "a-1", { document_id: 9, page: 0, visibility: "private", data: { kind: "note", text: "cũ" } });
    const other = record("create", "a-2", { data: ink });
    const amended = foldUpdate([create, other], "a-1", { data: { kind: "note", text: "mới" } });
    assert.deepEqual(amended, { ...create, fields: { ...create.fields, data: { kind: "note", text: "mới" } } });
    assert.equal(amended.key, create.key, "stored again in its place in the queue");
    assert.equal(amended.client_id, create.client_id, "the server still sees one creation");
    assert.equal(create.fields.data.text, "cũ", "the record read is not changed");
  });

  test("an update to an annotation the server has is queued as an update", () => {
    const update = record("update", "a-1", { base_version: 1, data: ink });
    assert.equal(foldUpdate([update], "a-1", { data: ink }), null);
    assert.equal(foldUpdate([], "a-1", { data: ink }), null);
  });

  test("removing an annotation created offline forgets every record about it", () => {
    const create = record("create", "a-1", { data: ink });
    const other = record("create", "a-2", { data: ink });
    const update = record("update", "a-1", { data: ink });
    assert.deepEqual(planRemoval([create, other, update], "a-1"), { drop: [create.key, update.key], queue: false });
  });

  test("removing an annotation the server has queues a removal", () => {
    const update = record("update", "a-1", { data: ink });
    assert.deepEqual(planRemoval([update], "a-1"), { drop: [], queue: true });
    assert.deepEqual(planRemoval([], "a-1"), { drop: [], queue: true });
  });
});

test("a reload shows the queued creations as pending and hides the queued removals", () => {
  const create = record("create", "a-1", { document_id: 9, page: 2, visibility: "shared", data: ink });
  const update = record("update", "a-2", { base_version: 3, data: ink });
  const remove = record("remove", "a-3");
  const author = { user_id: 11, full_name: "Đại biểu 1" };
  const { local, removed } = pendingView([create, update, remove], author);
  assert.deepEqual([...local.keys()], ["a-1"]);
  assert.deepEqual(local.get("a-1"), { uid: "a-1", document_id: 9, page: 2, visibility: "shared", data: ink,
    kind: "ink", author, version: 0, pending: true });
  assert.notEqual(local.get("a-1").author, author);
  assert.deepEqual([...removed], ["a-3"]);
});

describe("replay", () => {
  /** A fake link: answers each command with what `answers` says, records what was sent. */
  function harness(answers = {}, { liveFor = Infinity } = {}) {
    const sent = [];
    const log = [];
    let calls = 0;
    return {
      sent,
      log,
      hooks: {
        isLive: () => calls < liveFor,
        send: async (name, fields) => {
          calls += 1;
          sent.push({ name, fields });
          const answer = answers[fields.uid];
          if (answer instanceof Error) throw answer;
          return answer || { ok: true };
        },
        accepted: (e, ack) => log.push(["accepted", e.uid, ack]),
        refused: (e, err, expected) => log.push(["refused", e.uid, err.code, expected]),
        drop: async (e) => log.push(["drop", e.key]),
      },
    };
  }
  const error = (code) => Object.assign(new Error(code), { code });

  test("every record goes out in queue order, with its own client id, and leaves the queue", async () => {
    const records = [record("create", "a-1", { data: ink }), record("update", "a-2", { data: ink }), record("remove", "a-3")];
    const h = harness({ "a-1": { ok: true, annotation: { id: 40, uid: "a-1", version: 1 } } });
    assert.equal(await replay(records, h.hooks), 3);
    assert.deepEqual(h.sent, [
      { name: "annotation.create", fields: { uid: "a-1", data: ink, client_id: records[0].client_id } },
      { name: "annotation.update", fields: { uid: "a-2", data: ink, client_id: records[1].client_id } },
      { name: "annotation.delete", fields: { uid: "a-3", client_id: records[2].client_id } },
    ]);
    assert.deepEqual(h.log, [
      ["accepted", "a-1", { ok: true, annotation: { id: 40, uid: "a-1", version: 1 } }], ["drop", records[0].key],
      ["accepted", "a-2", { ok: true }], ["drop", records[1].key],
      ["accepted", "a-3", { ok: true }], ["drop", records[2].key],
    ]);
  });

  test("the same records replayed again (an ack was lost) carry the same client ids", async () => {
    const records = [record("create", "a-1", { data: ink })];
    const first = harness();
    const second = harness();
    await replay(records, first.hooks);
    await replay(records, second.hooks);
    assert.equal(first.sent[0].fields.client_id, second.sent[0].fields.client_id);
  });

  for (const code of RETRY_LATER) {
    test(`a '${code}' error stops the replay and keeps that record and the rest`, async () => {
      const records = [record("create", "a-1", { data: ink }), record("create", "a-2", { data: ink }), record("create", "a-3", { data: ink })];
      const h = harness({ "a-2": error(code) });
      assert.equal(await replay(records, h.hooks), 1);
      assert.deepEqual(h.sent.map((s) => s.fields.uid), ["a-1", "a-2"]);
      assert.deepEqual(h.log.filter((l) => l[0] === "drop"), [["drop", records[0].key]]);
      assert.equal(h.log.some((l) => l[0] === "refused"), false);
    });
  }

  test("a refused record is reported, leaves the queue, and the replay goes on", async () => {
    const records = [record("update", "a-1", { data: ink }), record("create", "a-2", { data: ink })];
    const h = harness({ "a-1": error("version_conflict") });
    assert.equal(await replay(records, h.hooks), 2);
    assert.deepEqual(h.log, [
      ["refused", "a-1", "version_conflict", false], ["drop", records[0].key],
      ["accepted", "a-2", { ok: true }], ["drop", records[1].key],
    ]);
  });

  test("removing what the server no longer has is an expected refusal", async () => {
    const records = [record("remove", "a-1"), record("update", "a-2", { data: ink })];
    const h = harness({ "a-1": error("annotation_not_found"), "a-2": error("annotation_not_found") });
    await replay(records, h.hooks);
    assert.deepEqual(h.log.filter((l) => l[0] === "refused"),
      [["refused", "a-1", "annotation_not_found", true], ["refused", "a-2", "annotation_not_found", false]]);
  });

  test("nothing is sent while offline, and a link lost midway stops the replay", async () => {
    const records = [record("create", "a-1", { data: ink }), record("create", "a-2", { data: ink })];
    const offline = harness({}, { liveFor: 0 });
    assert.equal(await replay(records, offline.hooks), 0);
    assert.deepEqual(offline.sent, []);
    const lost = harness({}, { liveFor: 1 });
    assert.equal(await replay(records, lost.hooks), 1);
    assert.deepEqual(lost.sent.map((s) => s.fields.uid), ["a-1"]);
  });
});
