// The meeting state: every event the tablet applies by itself moves the state as the server
// does, names the parts it changed, and anything else asks for a fresh snapshot.
import { test, describe } from "node:test";
import assert from "node:assert/strict";

import { MeetingState } from "../static/js/state.js";

let seq = 0;
const env = (type, payload) => ({ meeting_id: 7, seq: ++seq, type, payload, at: "2025-05-01T08:00:00Z" });

/** A state loaded with `parts`, recording what it dispatches. */
function loaded(parts = {}) {
  const state = new MeetingState();
  const seen = [];
  for (const name of ["reset", "change", "stale", "wantprivate"]) {
    state.addEventListener(name, (e) => seen.push({ name, detail: e.detail }));
  }
  state.load(structuredClone(parts));
  seen.length = 0;
  return { state, seen };
}

/** Apply one event; returns the names of the parts the change event named. */
function apply(state, seen, type, payload) {
  const before = seen.length;
  const e = env(type, payload);
  state.apply(e);
  const change = seen.slice(before).find((x) => x.name === "change");
  assert.ok(change, `${type} dispatched no change`);
  assert.equal(change.detail.event, e);
  return [...change.detail.parts].sort();
}

const meeting = { id: 7, title: "Phiên họp thường kỳ", status: "published", pack_version: 3,
  you: { user_id: 11, role: "member" } };

describe("loading", () => {
  test("a snapshot replaces every part and resets the views", () => {
    const state = new MeetingState();
    const events = [];
    state.addEventListener("reset", () => events.push("reset"));
    assert.equal(state.ready, false);
    assert.equal(state.role, null);
    state.load({ meeting, agenda: { items: [], current_item_id: null } });
    assert.equal(state.ready, true);
    assert.deepEqual(events, ["reset"]);
    assert.equal(state.role, "member");
    state.load({ meeting: { ...meeting, you: null } });
    assert.deepEqual(Object.keys(state.parts), ["meeting"], "a second snapshot starts afresh");
    assert.equal(state.role, null);
  });

  test("the snapshot object itself is not the state (later events do not write into it)", () => {
    const snapshot = { meeting: { ...meeting } };
    const { state, seen } = loaded();
    state.load(snapshot);
    apply(state, seen, "meeting.status", { status: "in_session" });
    apply(state, seen, "presence.changed", { user_id: 11, online: true, devices: 1 });
    assert.deepEqual(snapshot, { meeting });
    assert.deepEqual(Object.keys(state.parts).sort(), ["meeting", "presence"]);
  });

  test("the private parts are merged in and announced as changed, with no event", () => {
    const { state, seen } = loaded({ meeting, timer: { timer: null } });
    state.loadPrivate({ timer: { timer: { running: true } }, poll_ballots: [] });
    assert.deepEqual(state.parts.meeting, meeting);
    assert.deepEqual(state.parts.timer, { timer: { running: true } });
    assert.deepEqual(state.parts.poll_ballots, []);
    assert.equal(seen.length, 1);
    assert.deepEqual([...seen[0].detail.parts].sort(), ["poll_ballots", "timer"]);
    assert.equal(seen[0].detail.event, null);
  });
});

describe("events the tablet cannot apply", () => {
  test("an unknown event type changes nothing and asks for a snapshot", () => {
    const { state, seen } = loaded({ meeting });
    const before = structuredClone(state.parts);
    const e = env("meeting.renamed_in_a_later_release", { title: "x" });
    state.apply(e);
    assert.deepEqual(state.parts, before);
    assert.deepEqual(seen.map((x) => x.name), ["stale"]);
    assert.equal(seen[0].detail, e);
  });

  test("a reducer that changes nothing names no part", () => {
    const { state, seen } = loaded({ poll_live: { poll_id: 1, progress: null, you: null } });
    assert.deepEqual(apply(state, seen, "poll.progress", { poll_id: 2, voted: 1, eligible: 3 }), []);
    assert.deepEqual(state.parts.poll_live, { poll_id: 1, progress: null, you: null });
  });
});

describe("meeting", () => {
  test("status", () => {
    const { state, seen } = loaded({ meeting });
    assert.deepEqual(apply(state, seen, "meeting.status", { status: "in_session" }), ["meeting"]);
    assert.deepEqual(state.parts.meeting, { ...meeting, status: "in_session" });
  });

  test("details and pack version", () => {
    const { state, seen } = loaded({ meeting });
    const parts = apply(state, seen, "meeting.updated",
      { meeting: { title: "Phiên họp bất thường", place: "Phòng 2" }, pack_version: 4 });
    assert.deepEqual(parts, ["meeting"]);
    assert.deepEqual(state.parts.meeting,
      { ...meeting, title: "Phiên họp bất thường", place: "Phòng 2", pack_version: 4 });
    apply(state, seen, "meeting.pack_version", { pack_version: 5 });
    assert.equal(state.parts.meeting.pack_version, 5);
    assert.equal(state.parts.meeting.title, "Phiên họp bất thường");
  });

  test("the previous part object is left as it was (views compare parts)", () => {
    const { state, seen } = loaded({ meeting });
    const old = state.parts.meeting;
    apply(state, seen, "meeting.status", { status: "closed" });
    assert.notEqual(state.parts.meeting, old);
    assert.equal(old.status, "published");
  });
});

describe("agenda", () => {
  const agenda = { items: [{ id: 1, number: "1", title: "Khai mạc" }], current_item_id: null };

  test("the current item", () => {
    const { state, seen } = loaded({ meeting, agenda });
    assert.deepEqual(apply(state, seen, "agenda.current", { item_id: 1 }), ["agenda"]);
    assert.equal(state.parts.agenda.current_item_id, 1);
    assert.deepEqual(state.parts.agenda.items, agenda.items);
    apply(state, seen, "agenda.current", { item_id: null });
    assert.equal(state.parts.agenda.current_item_id, null);
  });

  test("a changed agenda: items without their documents, documents by item id, pack version", () => {
    const { state, seen } = loaded({ meeting, agenda, agenda_documents: { 1: [{ document_id: 9 }] } });
    const parts = apply(state, seen, "agenda.changed", {
      items: [
        { id: 1, number: "1", title: "Khai mạc", documents: [] },
        { id: 2, number: "2", title: "Báo cáo tài chính", documents: [{ document_id: 10 }, { document_id: 11 }] },
        { id: 3, number: "3", title: "Bế mạc" },
      ],
      current_item_id: 2,
      pack_version: 4,
    });
    assert.deepEqual(parts, ["agenda", "agenda_documents", "meeting"]);
    assert.deepEqual(state.parts.agenda, {
      items: [
        { id: 1, number: "1", title: "Khai mạc" },
        { id: 2, number: "2", title: "Báo cáo tài chính" },
        { id: 3, number: "3", title: "Bế mạc" },
      ],
      current_item_id: 2,
    });
    assert.deepEqual(state.parts.agenda_documents,
      { 1: [], 2: [{ document_id: 10 }, { document_id: 11 }], 3: [] });
    assert.equal(state.parts.meeting.pack_version, 4);
  });
});

test("participants", () => {
  const { state, seen } = loaded({ meeting, participants: [{ id: 1 }] });
  const parts = apply(state, seen, "participants.changed",
    { participants: [{ id: 1 }, { id: 2 }], pack_version: 6 });
  assert.deepEqual(parts, ["meeting", "participants"]);
  assert.deepEqual(state.parts.participants, [{ id: 1 }, { id: 2 }]);
  assert.equal(state.parts.meeting.pack_version, 6);
});

test("presenting: the payload is the whole part", () => {
  const { state, seen } = loaded({ presenting: { document_id: null } });
  const presenting = { presenter: { user_id: 11, full_name: "Chủ tọa" }, document_id: 9, page: 2 };
  assert.deepEqual(apply(state, seen, "present.changed", presenting), ["presenting"]);
  assert.deepEqual(state.parts.presenting, presenting);
});

test("timer: the state without the action, next to the server time of the snapshot", () => {
  const { state, seen } = loaded({ timer: { timer: null, server_time: "2025-05-01T08:00:00Z" } });
  const timer = { item_id: 2, planned_seconds: 600, elapsed_seconds: 12.5,
    started_at: "2025-05-01T08:01:00Z", running: true };
  assert.deepEqual(apply(state, seen, "timer.changed", { ...timer, action: "start" }), ["timer"]);
  assert.deepEqual(state.parts.timer, { timer, server_time: "2025-05-01T08:00:00Z" });

  const fresh = loaded();
  apply(fresh.state, fresh.seen, "timer.changed", { ...timer, running: false, action: "pause" });
  assert.deepEqual(fresh.state.parts.timer, { timer: { ...timer, running: false } });
});

describe("attendance and quorum", () => {
  const quorum = (counted, reached) => ({ reached, counted_weight: counted, required_weight: 2, total_weight: 3 });
  const attendance = {
    participants: [
      { participant_id: 1, user_id: 11, status: "absent", since: null, note: "" },
      { participant_id: 2, user_id: 12, status: "present", since: "2025-05-01T07:55:00Z", note: "" },
    ],
    quorum: quorum(1, false),
  };

  test("one participant's status, note and time change; the quorum is the server's", () => {
    const { state, seen } = loaded({ attendance });
    const parts = apply(state, seen, "attendance.changed", { participant_id: 1, user_id: 11,
      status: "present", previous: "absent", note: "đến muộn", since: "2025-05-01T08:05:00Z",
      by_user_id: 11, quorum: quorum(2, true) });
    assert.deepEqual(parts, ["attendance"]);
    assert.deepEqual(state.parts.attendance.participants, [
      { participant_id: 1, user_id: 11, status: "present", since: "2025-05-01T08:05:00Z", note: "đến muộn" },
      attendance.participants[1],
    ]);
    assert.deepEqual(state.parts.attendance.quorum, quorum(2, true));
  });

  test("someone not in the list changes only the quorum", () => {
    const { state, seen } = loaded({ attendance });
    apply(state, seen, "attendance.changed", { participant_id: 99, status: "excused",
      since: "2025-05-01T08:05:00Z", note: "", quorum: quorum(1, false) });
    assert.deepEqual(state.parts.attendance.participants, attendance.participants);
  });

  test("without an attendance part (an observer's snapshot) the quorum still arrives", () => {
    const { state, seen } = loaded({});
    apply(state, seen, "attendance.changed", { participant_id: 1, status: "present", quorum: quorum(1, false) });
    assert.deepEqual(state.parts.attendance, { participants: [], quorum: quorum(1, false) });
  });
});

test("presence: who is online, one entry per user", () => {
  const { state, seen } = loaded({});
  assert.deepEqual(apply(state, seen, "presence.changed", { user_id: 11, online: true, devices: 1 }), ["presence"]);
  apply(state, seen, "presence.changed", { user_id: 12, online: true, devices: 1 });
  apply(state, seen, "presence.changed", { user_id: 11, online: true, devices: 2 });
  assert.deepEqual(state.parts.presence.online,
    [{ user_id: 12, devices: 1 }, { user_id: 11, devices: 2 }]);
  apply(state, seen, "presence.changed", { user_id: 12, online: false, devices: 0 });
  assert.deepEqual(state.parts.presence.online, [{ user_id: 11, devices: 2 }]);
});

test("speakers: the queue of each item, and who has the floor", () => {
  const turn = (id, item, status) => ({ id, item_id: item, participant_id: id, user_id: 10 + id, status });
  const { state, seen } = loaded({});
  assert.deepEqual(apply(state, seen, "speaker.queue",
    { item_id: 1, waiting: [turn(1, 1, "waiting")], spoken: [], speaking: null }), ["speakers"]);
  apply(state, seen, "speaker.queue",
    { item_id: 2, waiting: [turn(2, 2, "waiting")], spoken: [], speaking: null });
  apply(state, seen, "speaker.queue",
    { item_id: 1, waiting: [], spoken: [], speaking: turn(1, 1, "speaking") });
  assert.deepEqual(state.parts.speakers, {
    speaking: turn(1, 1, "speaking"),
    items: [
      { item_id: 2, waiting: [turn(2, 2, "waiting")], spoken: [] },
      { item_id: 1, waiting: [], spoken: [] },
    ],
  });
});

describe("documents", () => {
  const doc = (id, extra = {}) => ({ id, title: `Tài liệu ${id}`, status: "ready", page_count: 4, pages_ready: 4, ...extra });

  test("added: once per id, and the pack version moves", () => {
    const { state, seen } = loaded({ meeting, documents: [doc(1)] });
    assert.deepEqual(apply(state, seen, "document.added", { document: doc(2, { status: "pending", pages_ready: 0 }), pack_version: 4 }),
      ["documents", "meeting"]);
    apply(state, seen, "document.added", { document: doc(2, { status: "pending", pages_ready: 0, title: "x" }), pack_version: 5 });
    assert.deepEqual(state.parts.documents.map((d) => [d.id, d.title]), [[1, "Tài liệu 1"], [2, "x"]]);
    assert.equal(state.parts.meeting.pack_version, 5);
  });

  test("replaced: the new version takes the old one's place in the list", () => {
    const { state, seen } = loaded({ meeting, documents: [doc(1), doc(2)] });
    apply(state, seen, "document.replaced", { replaced_id: 1, document: doc(3, { status: "pending" }), pack_version: 4 });
    assert.deepEqual(state.parts.documents.map((d) => d.id), [2, 3]);
    assert.equal(state.parts.meeting.pack_version, 4);
  });

  test("reclassified: new access versions in place; for observers, documents taken away", () => {
    const { state, seen } = loaded({ meeting, documents: [doc(1), doc(2), doc(3)] });
    assert.deepEqual(apply(state, seen, "document.reclassified", {
      documents: [doc(2, { confidential: true, access_version: 2 })], removed_ids: [], pack_version: 4,
    }), ["documents", "meeting"]);
    assert.deepEqual(state.parts.documents.map((d) => [d.id, d.access_version]),
      [[1, undefined], [2, 2], [3, undefined]]);
    apply(state, seen, "document.reclassified", {
      documents: [doc(5, { access_version: 3 })], removed_ids: [1, 3], pack_version: 5,
    });
    assert.deepEqual(state.parts.documents.map((d) => d.id), [2, 5]);
    assert.equal(state.parts.meeting.pack_version, 5);
  });

  test("withheld: an observer's placeholder only keeps the order", () => {
    const { state, seen } = loaded({ meeting, documents: [doc(1)] });
    assert.deepEqual(apply(state, seen, "event.withheld", {}), []);
    assert.deepEqual(state.parts.documents, [doc(1)]);
    assert.ok(!seen.some((x) => x.name === "stale"));
  });

  test("progress: pages ready only grow, a pending document is now rendering", () => {
    const { state, seen } = loaded({ documents: [
      doc(1, { status: "pending", pages_ready: 0, page_count: 0 }),
      doc(2, { status: "rendering", pages_ready: 3, page_count: 6 }),
      doc(3),
    ] });
    assert.deepEqual(apply(state, seen, "document.progress",
      { document_ids: [1, 2], pages_ready: 2, page_count: 6, pages: [1, 2] }), ["documents"]);
    assert.deepEqual(state.parts.documents, [
      doc(1, { status: "rendering", pages_ready: 2, page_count: 6 }),
      doc(2, { status: "rendering", pages_ready: 3, page_count: 6 }),
      doc(3),
    ]);
  });

  test("ready or failed", () => {
    const { state, seen } = loaded({ documents: [
      doc(1, { status: "rendering", pages_ready: 2, page_count: 6 }),
      doc(2, { status: "rendering", pages_ready: 1, page_count: 3 }),
    ] });
    apply(state, seen, "document.ready", { document_ids: [1], status: "ready", page_count: 6 });
    apply(state, seen, "document.ready", { document_ids: [2], status: "failed", page_count: 3, error: "pdf_broken" });
    assert.deepEqual(state.parts.documents, [
      doc(1, { status: "ready", pages_ready: 6, page_count: 6, error: null }),
      doc(2, { status: "failed", pages_ready: 1, page_count: 3, error: "pdf_broken" }),
    ]);
  });
});

describe("polls", () => {
  const poll = (id, status = "open") => ({ id, question: `Câu hỏi ${id}`, status, kind: "yes_no_abstain" });
  const progress = (pollId, voted) => ({ poll_id: pollId, voted, eligible: 3, voted_weight: voted, eligible_weight: 3 });
  const staff = () => ({ drafts: [poll(2, "draft"), poll(5, "draft")], pending: null, results: [] });

  test("opened: listed in id order, live, off the drafts, and this user's ballots fetched", () => {
    const { state, seen } = loaded({ polls: [{ poll: poll(3, "published"), result: { outcome: "passed" } }], polls_staff: staff() });
    const parts = apply(state, seen, "poll.opened", { poll: poll(2), progress: progress(2, 0) });
    assert.deepEqual(parts, ["poll_live", "polls", "polls_staff"], "@private is not a part");
    assert.equal(seen.filter((x) => x.name === "wantprivate").length, 1);
    assert.deepEqual(state.parts.polls.map((e) => e.poll.id), [2, 3]);
    assert.deepEqual(state.parts.polls[0], { poll: poll(2), result: null });
    assert.deepEqual(state.parts.poll_live, { poll_id: 2, progress: progress(2, 0), you: null });
    assert.deepEqual(state.parts.polls_staff.drafts.map((d) => d.id), [5]);
  });

  test("opened, for a member without the staff part: no staff part appears", () => {
    const { state, seen } = loaded({});
    apply(state, seen, "poll.opened", { poll: poll(1), progress: progress(1, 0) });
    assert.equal(state.parts.polls_staff, undefined);
  });

  test("progress of the live poll", () => {
    const { state, seen } = loaded({ poll_live: { poll_id: 2, progress: progress(2, 0), you: { voted: true } } });
    assert.deepEqual(apply(state, seen, "poll.progress", progress(2, 2)), ["poll_live"]);
    assert.deepEqual(state.parts.poll_live, { poll_id: 2, progress: progress(2, 2), you: { voted: true } });
  });

  test("closed: no longer live, the staff's pending list goes", () => {
    const { state, seen } = loaded({ polls: [{ poll: poll(2), result: null }],
      poll_live: { poll_id: 2, progress: progress(2, 1), you: null },
      polls_staff: { ...staff(), pending: { poll_id: 2, voters: [] } } });
    assert.deepEqual(apply(state, seen, "poll.closed", { poll_id: 2, progress: progress(2, 3) }),
      ["poll_live", "polls", "polls_staff"]);
    assert.deepEqual(state.parts.polls, [{ poll: poll(2, "closed"), result: null, progress: progress(2, 3) }]);
    assert.equal(state.parts.poll_live, null);
    assert.equal(state.parts.polls_staff.pending, null);
  });

  test("closed: another poll's closing leaves the live one", () => {
    const { state, seen } = loaded({ polls: [{ poll: poll(1, "open"), result: null }],
      poll_live: { poll_id: 2, progress: progress(2, 1), you: null } });
    apply(state, seen, "poll.closed", { poll_id: 1, progress: progress(1, 3) });
    assert.equal(state.parts.poll_live.poll_id, 2);
    assert.equal(state.parts.polls[0].poll.status, "closed");
  });

  test("published: the result replaces the entry, the staff's copy of the result goes", () => {
    const { state, seen } = loaded({ polls: [{ poll: poll(2, "closed"), result: null }],
      polls_staff: { ...staff(), results: [{ poll_id: 2, result: { outcome: "passed" } }, { poll_id: 4, result: {} }] } });
    apply(state, seen, "poll.published", { poll: poll(2, "published"), result: { outcome: "passed" } });
    assert.deepEqual(state.parts.polls, [{ poll: poll(2, "published"), result: { outcome: "passed" } }]);
    assert.deepEqual(state.parts.polls_staff.results.map((r) => r.poll_id), [4]);
  });

  test("cancelled: marked, not live, and gone from drafts, results and pending", () => {
    const { state, seen } = loaded({ polls: [{ poll: poll(2), result: null }, { poll: poll(3), result: null }],
      poll_live: { poll_id: 2, progress: progress(2, 1), you: null },
      polls_staff: { drafts: [poll(2, "draft")], results: [{ poll_id: 2, result: {} }], pending: { poll_id: 2 } } });
    apply(state, seen, "poll.cancelled", { poll_id: 2, previous_status: "open" });
    assert.deepEqual(state.parts.polls.map((e) => e.poll.status), ["cancelled", "open"]);
    assert.equal(state.parts.poll_live, null);
    assert.deepEqual(state.parts.polls_staff, { drafts: [], results: [], pending: null });
  });

  test("cancelled: another poll's pending list stays", () => {
    const { state, seen } = loaded({ polls_staff: { drafts: [], results: [], pending: { poll_id: 5 } } });
    apply(state, seen, "poll.cancelled", { poll_id: 2, previous_status: "draft" });
    assert.deepEqual(state.parts.polls_staff.pending, { poll_id: 5 });
  });

  test("drafts (staff): replaced by id, kept in id order", () => {
    const { state, seen } = loaded({});
    assert.deepEqual(apply(state, seen, "poll.draft", { poll: poll(5, "draft") }), ["polls_staff"]);
    apply(state, seen, "poll.draft", { poll: poll(2, "draft") });
    apply(state, seen, "poll.draft", { poll: { ...poll(5, "draft"), question: "Sửa" } });
    assert.deepEqual(state.parts.polls_staff.drafts.map((d) => [d.id, d.question]), [[2, "Câu hỏi 2"], [5, "Sửa"]]);
    assert.equal(state.parts.polls_staff.pending, null);
  });

  test("who has not voted yet, and results before publishing (staff)", () => {
    const { state, seen } = loaded({ polls_staff: staff() });
    apply(state, seen, "poll.pending", { poll_id: 2, voters: [{ participant_id: 1 }] });
    assert.deepEqual(state.parts.polls_staff.pending, { poll_id: 2, voters: [{ participant_id: 1 }] });
    apply(state, seen, "poll.result", { poll_id: 2, result: { outcome: "rejected" } });
    apply(state, seen, "poll.result", { poll_id: 2, result: { outcome: "passed" } });
    assert.deepEqual(state.parts.polls_staff.results, [{ poll_id: 2, result: { outcome: "passed" } }]);
    assert.deepEqual(state.parts.polls_staff.drafts, staff().drafts);
  });
});
