// The live connection to one meeting: Socket.IO, join and resync, events in sequence order,
// commands with client ids that are retried (and applied once) across reconnects.
//
// Events it dispatches (EventTarget):
//   "status"   detail: "connecting" | "live" | "reconnecting" | "offline"
//   "snapshot" detail: the snapshot parts (a fresh start: replace everything)
//   "event"    detail: an event envelope {meeting_id, seq, type, payload, at}, in order
//   "private"  detail: the private snapshot parts sent with a resync answer
//   "fatal"    detail: {code, message} (the meeting cannot be joined)
//   "signedout"

import { clientId } from "./api.js";

export class CommandError extends Error {
  constructor(error) {
    super((error && error.message) || "command failed");
    this.code = (error && error.code) || "unknown";
    this.details = error && error.details;
    this.error = error || { code: this.code, message: this.message };
  }
}

const AUTH_CODES = new Set(["unauthenticated", "unknown_session", "session_ended"]);

// The server has moved this connection to the rooms of a new role, or out of the meeting: what
// the tablet holds may no longer be its to see. Start again from a fresh snapshot, as the meeting
// is now seen; a refusal (no longer a participant) ends as "fatal".
function startAfresh(link) {
  link.refresh();
}

// Events about this connection's place in the meeting rather than the meeting's state: the link
// acts on them itself.
const CONNECTION_EVENTS = {
  "membership.changed": startAfresh,
};

export class MeetingLink extends EventTarget {
  constructor(meetingId, options = {}) {
    super();
    this.meetingId = meetingId;
    this.gapWait = options.gapWait ?? 1500;
    this.ackTimeout = options.ackTimeout ?? 8000;
    this.offlineAfter = options.offlineAfter ?? 15000;
    this.status = "connecting";
    this.seq = null;            // the last sequence number applied
    this.joining = false;
    this.joined = false;
    this.again = false;         // a fresh snapshot is wanted once the join in flight is answered
    this.generation = 0;        // bumps on every (re)connection: stale join answers are dropped
    this.buffer = new Map();    // seq -> envelope, waiting for the gap before it to fill
    this.held = [];             // unsequenced events received while a join is in flight
    this.pending = new Map();   // client_id -> command waiting for its ack
    this.gapTimer = null;
    this.failingSince = null;
    this.socket = null;
  }

  start() {
    /* global io */
    this.socket = io({
      transports: ["websocket"],
      reconnectionDelay: 400,
      reconnectionDelayMax: 4000,
      timeout: 6000,
    });
    const s = this.socket;
    s.on("connect", () => {
      this.failingSince = null;
      this.generation += 1;
      this.join();
    });
    s.on("disconnect", (reason) => {
      this.joined = false;
      this.joining = false;
      if (reason === "io server disconnect") {
        // The server dropped us (signed out everywhere, or the session ended).
        this.dispatchEvent(new CustomEvent("signedout"));
        return;
      }
      this.failingSince = this.failingSince ?? Date.now();
      this.setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    });
    s.on("connect_error", (err) => {
      if (err && err.data && AUTH_CODES.has(err.data.code)) {
        this.dispatchEvent(new CustomEvent("signedout", { detail: err.data }));
        return;
      }
      this.failingSince = this.failingSince ?? Date.now();
      const long = Date.now() - this.failingSince > this.offlineAfter;
      this.setStatus(navigator.onLine === false || long ? "offline" : "reconnecting");
    });
    s.on("auth.session_ended", () => this.dispatchEvent(new CustomEvent("signedout")));
    s.on("event", (env) => this.receive(env));
    window.addEventListener("offline", () => {
      // Browsers tell us before the socket notices (its heartbeat takes up to 40 s): stop
      // pretending to be live, and reconnect as soon as the network is back.
      this.setStatus("offline");
      this.failingSince = this.failingSince ?? Date.now();
      if (this.socket.connected) this.socket.disconnect();
    });
    window.addEventListener("online", () => {
      this.setStatus("reconnecting");
      if (!this.socket.connected) this.socket.connect();
    });
    document.addEventListener("visibilitychange", () => {
      // A tablet waking from sleep: reconnect at once instead of waiting for the back-off.
      if (document.visibilityState === "visible" && !this.socket.connected && navigator.onLine) {
        this.socket.connect();
      }
    });
    if (navigator.onLine === false) this.setStatus("offline");
  }

  get live() {
    return this.status === "live";
  }

  setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }

  emitAck(name, payload, timeout) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(timeout).emit(name, payload, (err, ack) => {
        if (err) reject(err);
        else resolve(ack);
      });
    });
  }

  async join() {
    const generation = this.generation;
    this.joining = true;
    this.again = false;
    const since = this.seq;
    let answer;
    try {
      answer = await this.emitAck(
        "meeting.join",
        since === null ? { meeting_id: this.meetingId } : { meeting_id: this.meetingId, since },
        15000,
      );
      if (answer && !answer.ok && answer.error && answer.error.code === "unknown_seq") {
        answer = await this.emitAck("meeting.join", { meeting_id: this.meetingId }, 15000);
      }
    } catch {
      if (generation === this.generation && this.socket.connected) {
        this.joining = false;
        setTimeout(() => this.resync(), 1000);
      }
      return;
    }
    if (generation !== this.generation) return; // a newer connection joins again
    if (!answer || !answer.ok) {
      this.joining = false;
      this.dispatchEvent(new CustomEvent("fatal", { detail: (answer && answer.error) || {} }));
      return;
    }
    if (answer.mode === "snapshot") {
      this.seq = answer.seq;
      this.dispatchEvent(new CustomEvent("snapshot", { detail: answer.snapshot }));
    } else {
      for (const env of answer.events) {
        if (this.seq === null || env.seq > this.seq) {
          this.seq = env.seq;
          this.dispatchEvent(new CustomEvent("event", { detail: env }));
        }
      }
      this.seq = Math.max(this.seq ?? 0, answer.seq);
      this.dispatchEvent(new CustomEvent("private", { detail: answer.private || {} }));
    }
    this.joining = false;
    this.joined = true;
    this.setStatus("live");
    const held = this.held;
    this.held = [];
    for (const env of held) this.dispatchEvent(new CustomEvent("event", { detail: env }));
    this.drain();
    for (const entry of this.pending.values()) this.send(entry);
    if (this.again) this.refresh();
  }

  /** Re-join from the last sequence number (missed events, or a snapshot if far behind). */
  resync() {
    if (!this.socket || !this.socket.connected || this.joining) return;
    this.join();
  }

  /** Start again from a fresh snapshot (after an event this client cannot apply by itself). */
  refresh() {
    this.seq = null;
    this.buffer.clear();
    // A join in flight may answer what was true before: ask again once it is answered.
    if (this.joining) this.again = true;
    else this.resync();
  }

  receive(env) {
    if (!env || env.meeting_id !== this.meetingId) return;
    const own = CONNECTION_EVENTS[env.type];
    if (own) {
      own(this, env);
      return;
    }
    if (env.seq === null || env.seq === undefined) {
      if (this.joining || this.seq === null) this.held.push(env);
      else this.dispatchEvent(new CustomEvent("event", { detail: env }));
      return;
    }
    if (this.seq !== null && env.seq <= this.seq) return; // already in the snapshot or applied
    this.buffer.set(env.seq, env);
    if (!this.joining && this.seq !== null) this.drain();
  }

  drain() {
    if (this.seq === null) return;
    while (this.buffer.has(this.seq + 1)) {
      const env = this.buffer.get(this.seq + 1);
      this.buffer.delete(this.seq + 1);
      this.seq = env.seq;
      this.dispatchEvent(new CustomEvent("event", { detail: env }));
    }
    for (const key of [...this.buffer.keys()]) if (key <= this.seq) this.buffer.delete(key);
    if (this.buffer.size === 0) {
      clearTimeout(this.gapTimer);
      this.gapTimer = null;
    } else if (!this.gapTimer) {
      // Events from several server processes may cross: wait briefly for the gap to fill.
      this.gapTimer = setTimeout(() => {
        this.gapTimer = null;
        if (this.buffer.size) this.resync();
      }, this.gapWait);
    }
  }

  /**
   * Send a command; resolves with the ack's data, rejects with CommandError. The client id
   * makes retries safe: a command sent while offline (queue: true) goes out on reconnection,
   * one whose ack was lost is sent again and applied once by the server.
   */
  call(name, fields = {}, { queue = false } = {}) {
    const id = fields.client_id || clientId(name.replace(/[^A-Za-z0-9]/g, ""));
    const payload = { meeting_id: this.meetingId, ...fields, client_id: id };
    return new Promise((resolve, reject) => {
      if (!this.live && !queue) {
        reject(new CommandError({ code: "offline", message: "offline" }));
        return;
      }
      const entry = { id, name, payload, resolve, reject, attempts: 0 };
      this.pending.set(id, entry);
      if (this.live) this.send(entry);
    });
  }

  send(entry) {
    entry.attempts += 1;
    this.socket.timeout(this.ackTimeout).emit(entry.name, entry.payload, (err, ack) => {
      if (!this.pending.has(entry.id)) return; // answered by an earlier attempt
      if (err) {
        if (!this.live) return; // sent again after the next join
        if (entry.attempts < 4) {
          this.send(entry);
        } else {
          this.pending.delete(entry.id);
          entry.reject(new CommandError({ code: "timeout", message: "no answer from the server" }));
        }
        return;
      }
      this.pending.delete(entry.id);
      if (ack && ack.ok) entry.resolve(ack);
      else entry.reject(new CommandError(ack && ack.error));
    });
  }

  /** Fire and forget (a live stream such as the presenter's ink): only while live. */
  stream(name, fields) {
    if (this.live) this.socket.emit(name, { meeting_id: this.meetingId, ...fields });
  }

  /** Forget queued commands that should not outlive a decision (e.g. after an error). */
  cancel(id) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    entry.reject(new CommandError({ code: "cancelled", message: "cancelled" }));
  }
}
