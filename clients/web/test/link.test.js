// The meeting link (link.js) over a fake socket: events applied once and in sequence order
// across gaps, reconnections and snapshots, and commands queued offline sent on reconnection.
import { test, describe } from "node:test";
import assert from "node:assert/strict";

import { MeetingLink, CommandError } from "../static/js/link.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Enough of a Socket.IO socket: records every emit; the test answers the acks. */
class FakeSocket {
  constructor() {
    this.connected = true;
    this.emits = [];
  }
  timeout(ms) {
    return { emit: (name, payload, ack) => this.emits.push({ name, payload, ack, ms }) };
  }
  emit(name, payload) {
    this.emits.push({ name, payload });
  }
  take(name) {
    const i = this.emits.findIndex((e) => e.name === name);
    assert.ok(i >= 0, `nothing emitted as ${name}`);
    return this.emits.splice(i, 1)[0];
  }
  names() {
    return this.emits.map((e) => e.name);
  }
}

const env = (seq, type = "agenda.current", payload = {}) => ({ meeting_id: 7, seq, type, payload });

/** A link on a fake socket, recording what it dispatches. */
function setup(options = {}) {
  const link = new MeetingLink(7, { gapWait: 20, ...options });
  const socket = new FakeSocket();
  link.socket = socket;
  const seen = [];
  for (const name of ["status", "snapshot", "event", "private", "fatal"]) {
    link.addEventListener(name, (e) => seen.push([name, name === "event" ? e.detail.seq ?? e.detail.type : e.detail]));
  }
  const events = () => seen.filter(([name]) => name === "event").map(([, s]) => s);
  return { link, socket, seen, events };
}

/** Join and answer with `answer`. */
async function join(link, socket, answer) {
  const joining = link.join();
  const request = socket.take("meeting.join");
  request.ack(null, answer);
  await joining;
  return request.payload;
}

const snapshotAnswer = (seq) => ({ ok: true, mode: "snapshot", seq, snapshot: { meeting: { id: 7 } } });

describe("joining", () => {
  test("the first join asks for a snapshot and goes live at its sequence number", async () => {
    const { link, socket, seen } = setup();
    const asked = await join(link, socket, snapshotAnswer(40));
    assert.deepEqual(asked, { meeting_id: 7 });
    assert.equal(link.seq, 40);
    assert.equal(link.live, true);
    assert.deepEqual(seen, [["snapshot", { meeting: { id: 7 } }], ["status", "live"]]);
  });

  test("a rejoin asks from the last sequence number and applies only the missed events", async () => {
    const { link, socket, seen, events } = setup();
    await join(link, socket, snapshotAnswer(40));
    seen.length = 0;
    const asked = await join(link, socket, { ok: true, mode: "events", seq: 43,
      events: [env(39), env(40), env(41), env(42)], private: { timer: { timer: null } } });
    assert.deepEqual(asked, { meeting_id: 7, since: 40 });
    assert.deepEqual(events(), [41, 42]);
    assert.equal(link.seq, 43, "the answer's sequence number, past events not sent to this user");
    assert.deepEqual(seen.find(([name]) => name === "private"), ["private", { timer: { timer: null } }]);
  });

  test("a sequence number the server no longer knows: a snapshot instead", async () => {
    const { link, socket, seen } = setup();
    link.seq = 5;
    const joining = link.join();
    socket.take("meeting.join").ack(null, { ok: false, error: { code: "unknown_seq" } });
    await sleep(0);
    const again = socket.take("meeting.join");
    assert.deepEqual(again.payload, { meeting_id: 7 });
    again.ack(null, snapshotAnswer(90));
    await joining;
    assert.equal(link.seq, 90);
    assert.equal(seen[0][0], "snapshot");
  });

  test("a refused join is fatal", async () => {
    const { link, socket, seen } = setup();
    await join(link, socket, { ok: false, error: { code: "forbidden", message: "no" } });
    assert.deepEqual(seen, [["fatal", { code: "forbidden", message: "no" }]]);
    assert.equal(link.live, false);
    assert.equal(link.joining, false);
  });

  test("the answer to a join from an earlier connection is dropped", async () => {
    const { link, socket, seen } = setup();
    const joining = link.join();
    const stale = socket.take("meeting.join");
    link.generation += 1; // reconnected meanwhile
    stale.ack(null, snapshotAnswer(40));
    await joining;
    assert.deepEqual(seen, []);
    assert.equal(link.seq, null);
  });

  test("refresh starts again from a fresh snapshot", async () => {
    const { link, socket } = setup();
    await join(link, socket, snapshotAnswer(40));
    link.receive(env(43));
    link.refresh();
    assert.equal(link.seq, null);
    assert.equal(link.buffer.size, 0);
    assert.deepEqual(socket.take("meeting.join").payload, { meeting_id: 7 });
  });
});

describe("events in sequence order", () => {
  test("in order: applied at once; already applied or of another meeting: dropped", async () => {
    const { link, socket, events } = setup();
    await join(link, socket, snapshotAnswer(10));
    link.receive(env(9));
    link.receive(env(10));
    link.receive(env(11));
    link.receive({ ...env(12), meeting_id: 8 });
    link.receive(env(12));
    link.receive(env(11));
    link.receive(null);
    assert.deepEqual(events(), [11, 12]);
    assert.equal(link.seq, 12);
  });

  test("a gap is waited for, then filled in order", async () => {
    const { link, socket, events } = setup();
    await join(link, socket, snapshotAnswer(10));
    link.receive(env(13));
    link.receive(env(12));
    assert.deepEqual(events(), []);
    link.receive(env(11));
    assert.deepEqual(events(), [11, 12, 13]);
    assert.equal(link.buffer.size, 0);
    assert.equal(link.gapTimer, null);
    await sleep(40);
    assert.deepEqual(socket.names(), [], "no resync once the gap filled");
  });

  test("a gap that does not fill in time: resync from the last applied event", async () => {
    const { link, socket, events } = setup();
    await join(link, socket, snapshotAnswer(10));
    link.receive(env(11));
    link.receive(env(13));
    await sleep(40);
    const rejoin = socket.take("meeting.join");
    assert.deepEqual(rejoin.payload, { meeting_id: 7, since: 11 });
    rejoin.ack(null, { ok: true, mode: "events", seq: 13, events: [env(12), env(13)], private: {} });
    await sleep(0);
    assert.deepEqual(events(), [11, 12, 13]);
    assert.equal(link.seq, 13);
  });

  test("events arriving during a join wait for it; unsequenced ones are held until then", async () => {
    const { link, socket, events } = setup();
    const joining = link.join();
    const request = socket.take("meeting.join");
    link.receive({ ...env(null, "document.progress"), seq: null });
    link.receive(env(41));
    link.receive(env(40));
    assert.deepEqual(events(), []);
    request.ack(null, snapshotAnswer(40));
    await joining;
    assert.deepEqual(events(), ["document.progress", 41]);
    link.receive({ ...env(null, "ink.stroke"), seq: null });
    assert.deepEqual(events(), ["document.progress", 41, "ink.stroke"], "once live, at once");
  });
});

describe("commands", () => {
  test("offline, a command fails at once unless it may wait", async () => {
    const { link } = setup();
    await assert.rejects(link.call("speaker.request", { item_id: 1 }),
      (err) => err instanceof CommandError && err.code === "offline");
    assert.equal(link.pending.size, 0);
  });

  test("a command queued offline is sent on joining, with its client id, and answered once", async () => {
    const { link, socket } = setup();
    const answer = link.call("attendance.check_in", {}, { queue: true });
    assert.deepEqual(socket.names(), []);
    await join(link, socket, snapshotAnswer(1));
    const sent = socket.take("attendance.check_in");
    assert.equal(sent.payload.meeting_id, 7);
    assert.match(sent.payload.client_id, /^attendancecheckin-[0-9a-f]{24}$/);
    sent.ack(null, { ok: true, data: { status: "present" } });
    sent.ack(null, { ok: true, data: { status: "late duplicate" } });
    assert.deepEqual(await answer, { ok: true, data: { status: "present" } });
    assert.equal(link.pending.size, 0);
  });

  test("queued commands go out in the order they were made", async () => {
    const { link, socket } = setup();
    link.call("speaker.request", { item_id: 1 }, { queue: true });
    link.call("speaker.withdraw", { item_id: 1 }, { queue: true });
    await join(link, socket, snapshotAnswer(1));
    assert.deepEqual(socket.names(), ["speaker.request", "speaker.withdraw"]);
  });

  test("a lost ack: sent again with the same client id, at most four times", async () => {
    const { link, socket } = setup();
    await join(link, socket, snapshotAnswer(1));
    const answer = link.call("vote.cast", { poll_id: 3, choice: ["yes"], client_id: "vote-1" });
    const ids = [];
    for (let i = 0; i < 4; i += 1) {
      const sent = socket.take("vote.cast");
      ids.push(sent.payload.client_id);
      sent.ack(new Error("operation has timed out"));
    }
    assert.deepEqual(ids, ["vote-1", "vote-1", "vote-1", "vote-1"]);
    await assert.rejects(answer, (err) => err.code === "timeout");
    assert.deepEqual(socket.names(), []);
  });

  test("a timeout while the link is down waits for the next join instead", async () => {
    const { link, socket } = setup();
    await join(link, socket, snapshotAnswer(1));
    const answer = link.call("vote.cast", { poll_id: 3 });
    link.setStatus("reconnecting");
    socket.take("vote.cast").ack(new Error("timed out"));
    assert.deepEqual(socket.names(), []);
    await join(link, socket, { ok: true, mode: "events", seq: 1, events: [], private: {} });
    socket.take("vote.cast").ack(null, { ok: true });
    assert.deepEqual(await answer, { ok: true });
  });

  test("a refusal rejects with the server's error", async () => {
    const { link, socket } = setup();
    await join(link, socket, snapshotAnswer(1));
    const answer = link.call("poll.open", { poll_id: 3 });
    socket.take("poll.open").ack(null, { ok: false, error: { code: "no_quorum", message: "Chưa đủ", details: { missing: 1 } } });
    await assert.rejects(answer, (err) => err instanceof CommandError && err.code === "no_quorum"
      && err.details.missing === 1 && err.message === "Chưa đủ");
  });

  test("a cancelled command is never sent", async () => {
    const { link, socket } = setup();
    const answer = link.call("speaker.request", { client_id: "sp-1" }, { queue: true });
    link.cancel("sp-1");
    await assert.rejects(answer, (err) => err.code === "cancelled");
    await join(link, socket, snapshotAnswer(1));
    assert.deepEqual(socket.names(), []);
  });

  test("a live stream is sent only while live, without an ack", async () => {
    const { link, socket } = setup();
    link.stream("ink.draw", { stroke: "s" });
    assert.deepEqual(socket.names(), []);
    await join(link, socket, snapshotAnswer(1));
    link.stream("ink.draw", { stroke: "s" });
    assert.deepEqual(socket.take("ink.draw"), { name: "ink.draw", payload: { meeting_id: 7, stroke: "s" } });
  });
});

describe("a change of this user's place in the meeting", () => {
  const changed = { meeting_id: 7, seq: null, type: "membership.changed", payload: { reason: "participants" } };

  test("asks at once for a fresh snapshot, as the meeting is now seen", async () => {
    const { link, socket, seen, events } = setup();
    await join(link, socket, snapshotAnswer(40));
    seen.length = 0;
    link.receive(changed);
    const request = socket.take("meeting.join");
    request.ack(null, { ok: true, mode: "snapshot", seq: 42, snapshot: { meeting: { role: "observer" } } });
    await sleep(0);
    assert.deepEqual(request.payload, { meeting_id: 7 }, "no since: nothing the tablet holds is kept");
    assert.deepEqual(events(), [], "the notice is the link's, not the meeting's state");
    assert.deepEqual(seen[0], ["snapshot", { meeting: { role: "observer" } }]);
  });

  test("during a join: the answer in flight may be from before, so it asks again after it", async () => {
    const { link, socket } = setup();
    const joining = link.join();
    link.receive(changed);
    assert.deepEqual(socket.names(), ["meeting.join"]);
    socket.take("meeting.join").ack(null, snapshotAnswer(40));
    await joining;
    const again = socket.take("meeting.join");
    assert.deepEqual(again.payload, { meeting_id: 7 });
    again.ack(null, snapshotAnswer(41));
    await sleep(0);
    assert.equal(link.seq, 41);
    assert.deepEqual(socket.names(), []);
  });

  test("no longer a participant: the join is refused and the link says so", async () => {
    const { link, socket, seen } = setup();
    await join(link, socket, snapshotAnswer(40));
    seen.length = 0;
    link.receive(changed);
    const refused = { code: "meeting_not_found", message: "Không tìm thấy cuộc họp #7." };
    socket.take("meeting.join").ack(null, { ok: false, error: refused });
    await sleep(0);
    assert.deepEqual(seen, [["fatal", refused]]);
  });
});
