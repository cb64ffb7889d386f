// The meeting as this tablet knows it: the snapshot parts, kept current by applying events.
// Each reducer changes its part(s) and names them, so the views repaint only what changed.
// An event type this client has no reducer for asks for a fresh snapshot ("stale").

const reducers = {
  "meeting.status"(s, p) {
    s.meeting = { ...s.meeting, status: p.status };
    return ["meeting"];
  },
  "meeting.updated"(s, p) {
    s.meeting = { ...s.meeting, ...p.meeting, pack_version: p.pack_version };
    return ["meeting"];
  },
  "meeting.pack_version"(s, p) {
    s.meeting = { ...s.meeting, pack_version: p.pack_version };
    return ["meeting"];
  },
  "agenda.current"(s, p) {
    s.agenda = { ...s.agenda, current_item_id: p.item_id };
    return ["agenda"];
  },
  "agenda.changed"(s, p) {
    const items = p.items.map(({ documents, ...item }) => item);
    s.agenda = { ...s.agenda, items, current_item_id: p.current_item_id };
    const docs = {};
    for (const item of p.items) docs[String(item.id)] = item.documents || [];
    s.agenda_documents = docs;
    s.meeting = { ...s.meeting, pack_version: p.pack_version };
    return ["agenda", "agenda_documents", "meeting"];
  },
  "participants.changed"(s, p) {
    s.participants = p.participants;
    s.meeting = { ...s.meeting, pack_version: p.pack_version };
    return ["participants", "meeting"];
  },
  "present.changed"(s, p) {
    s.presenting = p;
    return ["presenting"];
  },
  "timer.changed"(s, p) {
    const { action, ...timer } = p;
    s.timer = { ...(s.timer || {}), timer };
    return ["timer"];
  },
  "attendance.changed"(s, p) {
    const att = s.attendance || { participants: [], quorum: null };
    const participants = att.participants.map((row) =>
      row.participant_id === p.participant_id
        ? { ...row, status: p.status, since: p.since, note: p.note }
        : row);
    s.attendance = { ...att, participants, quorum: p.quorum };
    return ["attendance"];
  },
  "presence.changed"(s, p) {
    const online = ((s.presence && s.presence.online) || []).filter((x) => x.user_id !== p.user_id);
    if (p.online) online.push({ user_id: p.user_id, devices: p.devices });
    s.presence = { ...(s.presence || {}), online };
    return ["presence"];
  },
  "speaker.queue"(s, p) {
    const sp = s.speakers || { speaking: null, items: [] };
    const items = sp.items.filter((q) => q.item_id !== p.item_id);
    items.push({ item_id: p.item_id, waiting: p.waiting, spoken: p.spoken });
    s.speakers = { speaking: p.speaking, items };
    return ["speakers"];
  },
  "document.added"(s, p) {
    const docs = (s.documents || []).filter((d) => d.id !== p.document.id);
    docs.push(p.document);
    s.documents = docs;
    s.meeting = { ...s.meeting, pack_version: p.pack_version };
    return ["documents", "meeting"];
  },
  "document.replaced"(s, p) {
    const docs = (s.documents || []).filter((d) => d.id !== p.replaced_id && d.id !== p.document.id);
    docs.push(p.document);
    s.documents = docs;
    s.meeting = { ...s.meeting, pack_version: p.pack_version };
    return ["documents", "meeting"];
  },
  "document.reclassified"(s, p) {
    // New access versions (so new URLs); for observers, documents they may no longer see.
    const changed = new Map(p.documents.map((d) => [d.id, d]));
    const gone = new Set(p.removed_ids);
    const docs = (s.documents || []).filter((d) => !gone.has(d.id))
      .map((d) => changed.get(d.id) || d);
    for (const d of p.documents) if (!docs.some((x) => x.id === d.id)) docs.push(d);
    s.documents = docs;
    s.meeting = { ...s.meeting, pack_version: p.pack_version };
    return ["documents", "meeting"];
  },
  "event.withheld"() {
    // An observer's placeholder for an event they may not see: it only keeps the order.
    return [];
  },
  "document.progress"(s, p) {
    s.documents = (s.documents || []).map((d) => p.document_ids.includes(d.id)
      ? { ...d, pages_ready: Math.max(d.pages_ready || 0, p.pages_ready), page_count: p.page_count,
          status: d.status === "pending" ? "rendering" : d.status }
      : d);
    return ["documents"];
  },
  "document.ready"(s, p) {
    s.documents = (s.documents || []).map((d) => p.document_ids.includes(d.id)
      ? { ...d, status: p.status, error: p.error || null, page_count: p.page_count,
          pages_ready: p.status === "ready" ? p.page_count : d.pages_ready }
      : d);
    return ["documents"];
  },
  "poll.opened"(s, p) {
    s.polls = upsertPoll(s.polls, { poll: p.poll, result: null });
    s.poll_live = { poll_id: p.poll.id, progress: p.progress, you: null };
    if (s.polls_staff) {
      s.polls_staff = { ...s.polls_staff,
        drafts: (s.polls_staff.drafts || []).filter((d) => d.id !== p.poll.id) };
    }
    // Whose ballots this user casts (their own, proxies) is in the private part: fetch it.
    return ["polls", "poll_live", "polls_staff", "@private"];
  },
  "poll.progress"(s, p) {
    if (!s.poll_live || s.poll_live.poll_id !== p.poll_id) return [];
    const { poll_id, ...rest } = p;
    s.poll_live = { ...s.poll_live, progress: { poll_id, ...rest } };
    return ["poll_live"];
  },
  "poll.closed"(s, p) {
    s.polls = (s.polls || []).map((e) => e.poll.id === p.poll_id
      ? { ...e, poll: { ...e.poll, status: "closed" }, progress: p.progress } : e);
    if (s.poll_live && s.poll_live.poll_id === p.poll_id) s.poll_live = null;
    if (s.polls_staff) s.polls_staff = { ...s.polls_staff, pending: null };
    return ["polls", "poll_live", "polls_staff"];
  },
  "poll.published"(s, p) {
    s.polls = upsertPoll(s.polls, { poll: p.poll, result: p.result });
    if (s.polls_staff) {
      s.polls_staff = { ...s.polls_staff,
        results: (s.polls_staff.results || []).filter((r) => r.poll_id !== p.poll.id) };
    }
    return ["polls", "polls_staff"];
  },
  "poll.cancelled"(s, p) {
    s.polls = (s.polls || []).map((e) => e.poll.id === p.poll_id
      ? { ...e, poll: { ...e.poll, status: "cancelled" } } : e);
    if (s.poll_live && s.poll_live.poll_id === p.poll_id) s.poll_live = null;
    if (s.polls_staff) {
      s.polls_staff = { ...s.polls_staff,
        drafts: (s.polls_staff.drafts || []).filter((d) => d.id !== p.poll_id),
        results: (s.polls_staff.results || []).filter((r) => r.poll_id !== p.poll_id),
        pending: s.polls_staff.pending && s.polls_staff.pending.poll_id === p.poll_id
          ? null : s.polls_staff.pending };
    }
    return ["polls", "poll_live", "polls_staff"];
  },
  "poll.draft"(s, p) {
    const staff = s.polls_staff || { drafts: [], pending: null, results: [] };
    const drafts = (staff.drafts || []).filter((d) => d.id !== p.poll.id);
    drafts.push(p.poll);
    drafts.sort((a, b) => a.id - b.id);
    s.polls_staff = { ...staff, drafts };
    return ["polls_staff"];
  },
  "poll.pending"(s, p) {
    const staff = s.polls_staff || { drafts: [], pending: null, results: [] };
    s.polls_staff = { ...staff, pending: p };
    return ["polls_staff"];
  },
  "poll.result"(s, p) {
    const staff = s.polls_staff || { drafts: [], pending: null, results: [] };
    const results = (staff.results || []).filter((r) => r.poll_id !== p.poll_id);
    results.push({ poll_id: p.poll_id, result: p.result });
    s.polls_staff = { ...staff, results };
    return ["polls_staff"];
  },
};

function upsertPoll(list, entry) {
  const out = (list || []).filter((e) => e.poll.id !== entry.poll.id);
  out.push(entry);
  out.sort((a, b) => a.poll.id - b.poll.id);
  return out;
}

/** Register reducers for event types that feature modules handle (polls, annotations, ...). */
export function addReducers(more) {
  Object.assign(reducers, more);
}

export class MeetingState extends EventTarget {
  constructor() {
    super();
    this.parts = {};
    this.ready = false;
  }

  load(snapshot) {
    this.parts = { ...snapshot };
    this.ready = true;
    this.dispatchEvent(new CustomEvent("reset"));
  }

  loadPrivate(parts) {
    Object.assign(this.parts, parts);
    this.changed(Object.keys(parts), null);
  }

  apply(env) {
    const reducer = reducers[env.type];
    if (!reducer) {
      this.dispatchEvent(new CustomEvent("stale", { detail: env }));
      return;
    }
    const names = reducer(this.parts, env.payload, env) || [];
    if (names.includes("@private")) this.dispatchEvent(new CustomEvent("wantprivate"));
    this.changed(names.filter((n) => n !== "@private"), env);
  }

  changed(names, env) {
    this.dispatchEvent(new CustomEvent("change", { detail: { parts: new Set(names), event: env } }));
  }

  get role() {
    return this.parts.meeting && this.parts.meeting.you ? this.parts.meeting.you.role : null;
  }
}
