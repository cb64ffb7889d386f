// The rules of the annotation outbox, apart from where it is kept (store.js: IndexedDB, or memory)
// and from the page (annotations.js): what a change made offline puts in the queue, how queued
// changes fold together before they are sent, what a reload shows from the queue, and how the
// queue is sent in order once the link is live. Every record carries its own client id and the
// annotation's uid, so a record sent again (its ack was lost) is applied once by the server.

/** The command that sends each kind of queued operation. */
export const COMMANDS = { create: "annotation.create", update: "annotation.update", remove: "annotation.delete" };

/** Errors that leave the record, and every record after it, queued for the next flush. */
export const RETRY_LATER = new Set(["offline", "rate_limited", "database_unavailable", "internal"]);

/** A record to queue: the operation, whose it is, and the client id that makes a resend safe. */
export function outboxRecord(entry, { meetingId, userId, clientId, at }) {
  return { ...entry, meeting_id: meetingId, user_id: userId, client_id: clientId, at };
}

/** Picks one user's records for one meeting (a tablet may be shared, and serve many meetings). */
export function ownedBy(meetingId, userId) {
  return (e) => e.meeting_id === meetingId && e.user_id === userId;
}

/**
 * An update to an annotation the server has not heard of yet changes its queued creation
 * instead: returns that creation record amended (to store again under the same key), or null
 * when there is none and the update is queued as it is.
 */
export function foldUpdate(records, uid, changes) {
  const queued = records.find((e) => e.op === "create" && e.uid === uid);
  return queued ? { ...queued, fields: { ...queued.fields, ...changes } } : null;
}

/**
 * Removing an annotation. One created offline (its creation still queued) is forgotten with
 * every queued record about it: the server never needs to hear of it. Otherwise a removal is
 * queued. Returns the keys of the records to drop and whether to queue the removal.
 */
export function planRemoval(records, uid) {
  const queued = records.filter((e) => e.uid === uid);
  if (queued.some((e) => e.op === "create")) return { drop: queued.map((e) => e.key), queue: false };
  return { drop: [], queue: true };
}

/** What a reload shows of the queue before it is sent: the annotations created, uids removed. */
export function pendingView(records, author) {
  const local = new Map();
  const removed = new Set();
  for (const e of records) {
    if (e.op === "remove") removed.add(e.uid);
    else if (e.op === "create") {
      local.set(e.uid, { ...e.fields, kind: e.fields.data.kind, author: { ...author }, version: 0, pending: true });
    }
  }
  return { local, removed };
}

/**
 * Send the records in their order while `isLive()`. A record the server answered, accepting
 * or refusing it, leaves the queue through `drop(record)`; an error worth retrying (RETRY_LATER)
 * stops the replay there and leaves that record and the ones after it queued.
 *   send(command, fields)  resolves with the ack, or rejects with an error that has a `code`
 *   accepted(record, ack)
 *   refused(record, error, expected)  expected: the removal of something already gone
 * Returns how many records left the queue.
 */
export async function replay(records, { isLive, send, accepted, refused, drop }) {
  let sent = 0;
  for (const e of records) {
    if (!isLive()) break;
    try {
      const ack = await send(COMMANDS[e.op], { ...e.fields, client_id: e.client_id });
      accepted(e, ack);
    } catch (err) {
      if (RETRY_LATER.has(err.code)) break;
      refused(e, err, e.op === "remove" && err.code === "annotation_not_found");
    }
    await drop(e);
    sent += 1;
  }
  return sent;
}
