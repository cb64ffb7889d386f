// What a tablet keeps in IndexedDB (store.js), here on fake-indexeddb: the last known state and
// the annotation outbox, and an offline session's queue kept across a reload and replayed.
import "fake-indexeddb/auto";
import { test, describe } from "node:test";
import assert from "node:assert/strict";

import { foldUpdate, outboxRecord, ownedBy, pendingView, planRemoval, replay } from "../static/js/outbox.js";

let reloads = 0;
/** store.js as a page loaded afresh sees it: a new module instance over the same database. */
const reload = () => import(`../static/js/store.js?reload=${++reloads}`);

describe("key-value", () => {
  test("values are kept across a reload, and deleted", async () => {
    const store = await reload();
    assert.equal(await store.kvGet("meeting:7"), undefined);
    const saved = { seq: 41, parts: { meeting: { id: 7, title: "Phiên họp" } }, at: 1 };
    await store.kvSet("meeting:7", saved);
    const again = await reload();
    assert.deepEqual(await again.kvGet("meeting:7"), saved);
    assert.notEqual(await again.kvGet("meeting:7"), saved, "a stored copy, not the object");
    await again.kvDelete("meeting:7");
    assert.equal(await (await reload()).kvGet("meeting:7"), undefined);
  });
});

describe("the outbox", () => {
  test("records get increasing keys and come back in insertion order, filtered", async () => {
    const store = await reload();
    const k1 = await store.outboxAdd({ op: "create", uid: "x-1", meeting_id: 1, user_id: 1 });
    const k2 = await store.outboxAdd({ op: "create", uid: "x-2", meeting_id: 1, user_id: 2 });
    const k3 = await store.outboxAdd({ op: "remove", uid: "x-3", meeting_id: 1, user_id: 1 });
    assert.ok(k1 < k2 && k2 < k3);
    const mine = await store.outboxAll(ownedBy(1, 1));
    assert.deepEqual(mine.map((e) => [e.key, e.uid]), [[k1, "x-1"], [k3, "x-3"]]);
    await store.outboxPut({ ...mine[0], fields: { changed: true } });
    await store.outboxDelete(k3);
    const left = (await store.outboxAll()).filter((e) => e.meeting_id === 1);
    assert.deepEqual(left.map((e) => [e.key, e.uid, e.fields]), [[k1, "x-1", { changed: true }], [k2, "x-2", undefined]]);
    for (const e of left) await store.outboxDelete(e.key);
  });

  test("an offline session: changes queued, folded, kept across a reload and replayed in order", async () => {
    const who = { meetingId: 7, userId: 11 };
    let ids = 0;
    const ink = (n) => ({ kind: "ink", strokes: [[[n, n], [n + 1, n + 1]]], colour: "#D32F2F", width: 2 });
    let store = await reload();
    const outbox = () => store.outboxAll(ownedBy(7, 11));
    // What annotations.js does for each change made offline.
    const queue = (entry) => store.outboxAdd(outboxRecord(entry, { ...who, clientId: `an-${++ids}`, at: ids }));
    const create = (uid, data) => queue({ op: "create", uid, fields: { uid, document_id: 9, page: 0, visibility: "private", data } });
    const update = async (uid, changes) => {
      const amended = foldUpdate(await outbox(), uid, changes);
      if (amended) await store.outboxPut(amended);
      else await queue({ op: "update", uid, fields: { uid, base_version: 1, ...changes } });
    };
    const remove = async (uid) => {
      const { drop, queue: send } = planRemoval(await outbox(), uid);
      for (const key of drop) await store.outboxDelete(key);
      if (send) await queue({ op: "remove", uid, fields: { uid } });
    };

    await create("a-1", ink(1));
    await create("a-2", ink(2));
    await update("a-1", { data: ink(5) });       // folds into the creation of a-1
    await update("s-9", { data: ink(9) });       // on the server already: an update
    await remove("a-2");                         // created offline: never sent
    await remove("s-8");                         // on the server already: a removal
    await create("a-3", ink(3));

    store = await reload();
    const queued = await outbox();
    assert.deepEqual(queued.map((e) => [e.op, e.uid]),
      [["create", "a-1"], ["update", "s-9"], ["remove", "s-8"], ["create", "a-3"]]);
    assert.deepEqual(queued[0].fields.data, ink(5));
    const { local, removed } = pendingView(queued, { user_id: 11, full_name: "Đại biểu 1" });
    assert.deepEqual([...local.keys()], ["a-1", "a-3"]);
    assert.deepEqual([...removed], ["s-8"]);

    // The link comes back, but the database is briefly unavailable on the third record.
    const sent = [];
    let failOnce = "s-8";
    const hooks = {
      isLive: () => true,
      send: async (name, fields) => {
        sent.push([name, fields.uid, fields.client_id]);
        if (fields.uid === failOnce) {
          failOnce = null;
          throw Object.assign(new Error("busy"), { code: "database_unavailable" });
        }
        return { ok: true };
      },
      accepted: () => {},
      refused: () => assert.fail("nothing is refused"),
      drop: (e) => store.outboxDelete(e.key),
    };
    assert.equal(await replay(await outbox(), hooks), 2);
    assert.deepEqual((await outbox()).map((e) => e.uid), ["s-8", "a-3"], "kept for the next flush, in order");
    assert.equal(await replay(await outbox(), hooks), 2);
    assert.deepEqual(await outbox(), []);
    assert.deepEqual(sent.map(([name, uid]) => [name, uid]), [
      ["annotation.create", "a-1"], ["annotation.update", "s-9"], ["annotation.delete", "s-8"],
      ["annotation.delete", "s-8"], ["annotation.create", "a-3"],
    ]);
    assert.equal(sent[2][2], sent[3][2], "the retried removal has the same client id");
  });
});

describe("forgetting the device", () => {
  test("sign-out leaves no stored state, outbox, cached page or offline-pack mark", async () => {
    const kept = new Map([["ecabinet-pages-v2", ["/api/documents/1/pages/1/tablet?v=1"]],
      ["ecabinet-shell-v2", ["/meetings/7"]], ["other-site-cache", ["/x"]]]);
    globalThis.caches = {
      keys: async () => [...kept.keys()],
      delete: async (name) => kept.delete(name),
    };
    const marks = new Map([["pack:7", "3"], ["lang", "vi"]]);
    globalThis.localStorage = {
      removeItem: (key) => marks.delete(key),
    };
    Object.defineProperty(globalThis.localStorage, "pack:7", { value: "3", enumerable: true,
      configurable: true });
    const store = await reload();
    await store.kvSet("room:3:7", { seq: 9, parts: { annotations: [{ text: "Ghi chú riêng" }] } });
    await store.outboxAdd({ op: "create", uid: "x-9", meeting_id: 7, user_id: 3 });
    await store.forgetDevice();
    assert.deepEqual([...kept.keys()], ["other-site-cache"]);
    assert.deepEqual([...marks.keys()], ["lang"]);
    const databases = await globalThis.indexedDB.databases();
    assert.ok(!databases.some((d) => d.name === "ecabinet"), "the database is deleted");
    const again = await reload();
    assert.equal(await again.kvGet("room:3:7"), undefined);
    assert.deepEqual(await again.outboxAll(), []);
    delete globalThis.caches;
    delete globalThis.localStorage;
  });
});
