// Without IndexedDB (a private window, an old browser) store.js keeps the same things in memory.
import { test } from "node:test";
import assert from "node:assert/strict";

import { kvDelete, kvGet, kvSet, outboxAdd, outboxAll, outboxDelete, outboxPut } from "../static/js/store.js";

test("no IndexedDB here", () => {
  assert.equal("indexedDB" in globalThis, false);
});

test("key-value in memory", async () => {
  await kvSet("meeting:7", { seq: 3 });
  assert.deepEqual(await kvGet("meeting:7"), { seq: 3 });
  await kvDelete("meeting:7");
  assert.equal(await kvGet("meeting:7"), undefined);
});

test("the outbox in memory: keys in insertion order, put replaces by key, delete", async () => {
  const k1 = await outboxAdd({ op: "create", uid: "a-1" });
  const k2 = await outboxAdd({ op: "create", uid: "a-2" });
  const k3 = await outboxAdd({ op: "remove", uid: "a-3" });
  assert.ok(k1 < k2 && k2 < k3);
  assert.deepEqual((await outboxAll()).map((e) => e.uid), ["a-1", "a-2", "a-3"]);
  await outboxPut({ key: k2, op: "create", uid: "a-2", fields: { text: "mới" } });
  await outboxPut({ key: 999, op: "create", uid: "nowhere" });
  await outboxDelete(k1);
  await outboxDelete(999);
  assert.deepEqual(await outboxAll(), [
    { key: k2, op: "create", uid: "a-2", fields: { text: "mới" } },
    { op: "remove", uid: "a-3", key: k3 },
  ]);
  assert.deepEqual((await outboxAll((e) => e.op === "remove")).map((e) => e.key), [k3]);
});
