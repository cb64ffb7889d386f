// The meeting room page (delegate tablet and chair console): wires the live link, the state,
// the last-known state kept for offline reading, and the views.

import { $, h, setText, toast, busy } from "./dom.js";
import { t, pageData, formatDuration } from "./i18n.js";
import { MeetingLink } from "./link.js";
import { MeetingState } from "./state.js";
import { kvDelete, kvGet, kvSet } from "./store.js";
import { AgendaView, documentGroups } from "./agenda.js";
import { Viewer } from "./viewer.js";
import { TabletPanels } from "./panels.js";
import { ChairPanels } from "./chair.js";
import { VoteSheet } from "./vote.js";
import { Annotations } from "./annotations.js";
import { registerServiceWorker, PackDownloader, forgetDocuments } from "./offline.js";
import { guardSignOut, signedOut } from "./signout.js";

const meetingId = pageData.meeting_id;
const face = pageData.face;
const cacheKey = `room:${pageData.user.id}:${meetingId}`;

const state = new MeetingState();
const link = new MeetingLink(meetingId);
const viewer = new Viewer();
window.ecabinet = { state, link, viewer }; // for the browser tests and for debugging

// --- connection badge -------------------------------------------------------------------------

const badge = $("conn");
function showStatus(status) {
  badge.dataset.state = status;
  setText(badge.querySelector(".label"), t(`conn.${status}`));
  document.body.dataset.conn = status;
}
link.addEventListener("status", (e) => showStatus(e.detail));

// --- state from the link, and kept for offline reading ------------------------------------------

// Throttled, not debounced: a stream of events (rendering progress) must not postpone saving.
let saveTimer = null;
let signedOutHere = false; // the device forgets the meeting: nothing more is saved
async function saveNow() {
  saveTimer = null;
  if (signedOutHere || !state.ready || link.seq === null) return;
  const seq = link.seq;
  // The presenter's live ink is a stream of the moment: never restored from storage.
  const { live_ink: _liveInk, ...parts } = state.parts;
  await kvSet(cacheKey, { seq, parts, at: Date.now() });
  window.ecabinet.savedSeq = seq;
}
function saveSoon() {
  if (!saveTimer && !signedOutHere) saveTimer = setTimeout(saveNow, 300);
}
window.addEventListener("pagehide", () => { if (saveTimer) { clearTimeout(saveTimer); saveNow(); } });

link.addEventListener("snapshot", (e) => {
  // A fresh snapshot after this user's place changed (an observer now) may list fewer
  // documents: the pages kept of the others are no longer this tablet's to keep.
  const listed = (parts) => (parts.documents || []).map((d) => d.id);
  const before = listed(state.parts);
  state.load(e.detail);
  const now = new Set(listed(state.parts));
  forgetDocuments(before.filter((id) => !now.has(id))).catch(() => null);
});
link.addEventListener("event", (e) => {
  const env = e.detail;
  if (env.type === "document.reclassified") {
    // What was kept under the old URLs is not the document as it may be read now.
    const ids = [...env.payload.documents.map((d) => d.id), ...env.payload.removed_ids];
    forgetDocuments(ids).catch(() => null);
  }
  state.apply(env);
});
link.addEventListener("private", (e) => state.loadPrivate(e.detail));
link.addEventListener("signedout", () => {
  if (signedOutHere) return;
  signedOutHere = true;
  clearTimeout(saveTimer);
  signedOut();
});
guardSignOut();
document.addEventListener("submit", (e) => {
  if (e.target.matches('form[action="/signout"]')) signedOutHere = true;
}, true);
link.addEventListener("fatal", (e) => {
  if (e.detail && e.detail.code === "meeting_not_found") {
    // No longer a participant (removed, or the meeting taken back to draft): the tablet forgets
    // the meeting, its kept pages included, and goes back to the list of meetings.
    signedOutHere = true;
    clearTimeout(saveTimer);
    const ids = (state.parts.documents || []).map((d) => d.id);
    Promise.all([kvDelete(cacheKey), forgetDocuments(ids)]).catch(() => null)
      .finally(() => window.location.assign("/"));
    return;
  }
  toast((e.detail && e.detail.message) || t("error.unknown"), "error");
});
state.addEventListener("stale", () => link.refresh());
let privateTimer = null;
state.addEventListener("wantprivate", () => {
  clearTimeout(privateTimer);
  privateTimer = setTimeout(() => link.resync(), 50);
});

// --- views ------------------------------------------------------------------------------------

let follow = true;
const followToggle = $("follow-toggle");
const backButton = $("back-to-presenter");
const presentToggle = $("present-toggle");
const presentMine = $("present-mine"); // a participant the chair handed presenting to

const agenda = new AgendaView(state, link, {
  face,
  onOpenDocument: (docId) => viewer.open(docId, 0, "user"),
});
const panels = face === "chair" ? new ChairPanels(state, link, viewer) : new TabletPanels(state, link);
const votes = new VoteSheet(state, link, face);
const annotations = new Annotations(state, link, viewer, pageData);

function presenterTarget() {
  const p = state.parts.presenting;
  return p && p.document_id !== null && p.document_id !== undefined ? p : null;
}

function atPresenter() {
  const p = presenterTarget();
  return Boolean(p && viewer.docId === p.document_id && viewer.page === p.page);
}

function followPresenter() {
  const p = presenterTarget();
  if (!follow || !p || !viewer.docs.has(p.document_id)) return;
  // The presenter's own tablet shows what they turn to; it does not jump back.
  if (iAmPresenter() && viewer.docId !== null) return;
  if (!atPresenter()) viewer.open(p.document_id, p.page, "presenter");
}

function setFollow(on) {
  follow = on;
  followToggle.checked = on;
  document.body.dataset.follow = on ? "on" : "off";
  if (on) followPresenter();
  renderPresenter();
}

function renderPresenter() {
  const p = state.parts.presenting;
  const info = $("presenter-info");
  const target = presenterTarget();
  backButton.disabled = !target || atPresenter();
  document.body.dataset.presenter = iAmPresenter() ? "me" : "other";
  if (presentMine) presentMine.hidden = !(iAmPresenter() && p && p.handed_over);
  backButton.hidden = false;
  if (!p || (!target && !p.presenter)) {
    setText(info, "");
    return;
  }
  const who = p.presenter ? p.presenter.full_name : "";
  let text;
  if (target) {
    text = t("present.info", { title: p.title || t("agenda.confidential"), page: (p.page ?? 0) + 1, who });
  } else if (p.title === null && p.confidential) {
    text = t("present.info_confidential", { who });
  } else {
    text = who ? t("present.nothing_by", { who }) : "";
  }
  if (!follow && target && !atPresenter() && !iAmPresenter()) text = `${text} · ${t("present.you_browse")}`;
  setText(info, text);
  info.dataset.presenting = target ? "yes" : "no";
}

function renderCurrent() {
  const agendaPart = state.parts.agenda;
  const heading = $("current-heading");
  if (!agendaPart) return;
  const item = agendaPart.items.find((i) => i.id === agendaPart.current_item_id);
  setText(heading, item ? `${item.number}. ${item.title}` : t("agenda.none_current"));
  heading.dataset.itemId = item ? String(item.id) : "";
  const meeting = state.parts.meeting;
  if (meeting) {
    setText($("meeting-title"), meeting.title);
    document.title = `${meeting.title} · eCabinet`;
  }
}

// The item timer: remaining (or elapsed) time computed locally from the server's clock.
let clockOffset = 0; // server time - local time, in ms
function timerState() {
  const part = state.parts.timer;
  const agendaPart = state.parts.agenda;
  if (!part || !part.timer || !agendaPart) return null;
  const timer = part.timer;
  const current = agendaPart.current_item_id;
  if (current === null || current === undefined) return null;
  if (timer.item_id !== current) {
    const item = agendaPart.items.find((i) => i.id === current);
    return { planned: item && item.planned_minutes ? item.planned_minutes * 60 : null, used: 0, running: false };
  }
  let used = timer.elapsed_seconds || 0;
  if (timer.running && timer.started_at) {
    used += (Date.now() + clockOffset - new Date(timer.started_at).getTime()) / 1000;
  }
  return { planned: timer.planned_seconds, used: Math.max(0, used), running: timer.running };
}

function renderTimer() {
  const box = $("timer");
  const clock = $("timer-clock");
  const s = timerState();
  if (!s) {
    setText(clock, "—");
    box.dataset.state = "idle";
    return;
  }
  if (s.planned !== null && s.planned !== undefined) {
    const left = s.planned - s.used;
    setText(clock, formatDuration(Math.ceil(left)));
    box.dataset.state = left < 0 ? "over" : s.running ? (left < 60 ? "warn" : "running") : "paused";
  } else {
    setText(clock, formatDuration(s.used));
    box.dataset.state = s.running ? "running" : "paused";
  }
  box.setAttribute("aria-label", `${t("timer.label")}: ${clock.textContent}`);
}
setInterval(renderTimer, 500);

function refreshDocuments() {
  viewer.setDocuments(state.parts.documents || [], documentGroups(state));
  followPresenter();
  renderPresenter();
}

function renderAll() {
  agenda.render();
  renderCurrent();
  refreshDocuments();
  renderTimer();
  panels.render(new Set(["*"]));
  votes.render(new Set(["*"]));
  annotations.render(new Set(["*"]));
  if (!viewer.docId) openSomething();
}

/** With nothing presented, open the current item's first document (or the first one). */
function openSomething() {
  if (viewer.docId !== null) return;
  const p = presenterTarget();
  if (p && viewer.docs.has(p.document_id)) {
    viewer.open(p.document_id, p.page, "presenter");
    return;
  }
  const docs = state.parts.agenda_documents || {};
  const current = state.parts.agenda && state.parts.agenda.current_item_id;
  const first = (current && (docs[String(current)] || [])[0])
    || Object.values(docs).flat()[0] || (state.parts.documents || [])[0];
  if (first && viewer.docs.has(first.id)) viewer.open(first.id, 0, "open");
}

state.addEventListener("reset", () => {
  renderAll();
  saveSoon();
});
state.addEventListener("change", (e) => {
  const { parts, event } = e.detail;
  if (event && event.type === "timer.changed" && event.at) {
    clockOffset = new Date(event.at).getTime() - Date.now();
  }
  if (parts.has("timer") && !event && state.parts.timer && state.parts.timer.server_time) {
    clockOffset = new Date(state.parts.timer.server_time).getTime() - Date.now();
  }
  if (parts.has("agenda") || parts.has("agenda_documents") || parts.has("meeting") || parts.has("documents")) {
    agenda.render();
    renderCurrent();
  }
  if (parts.has("documents") || parts.has("agenda_documents")) {
    refreshDocuments();
    viewer.retry();
    if (!viewer.docId) openSomething();
  }
  if (parts.has("presenting")) {
    followPresenter();
    renderPresenter();
    if (event && event.type === "present.changed" && !follow && presenterTarget() && !atPresenter()) {
      toast(t("present.moved_browsing"));
    }
  }
  if (parts.has("timer") || parts.has("agenda")) renderTimer();
  panels.render(parts);
  votes.render(parts, event);
  annotations.render(parts, event);
  saveSoon();
});

/** This user holds presenting: their own page turns are not "browsing away". */
function iAmPresenter() {
  const p = state.parts.presenting;
  return Boolean(p && p.presenter && p.presenter.user_id === pageData.user.id);
}

viewer.addEventListener("pagechange", (e) => {
  const { source, docId, page } = e.detail;
  if (source === "user" && follow && presenterTarget() && !atPresenter() && !iAmPresenter()) {
    setFollow(false);
    toast(t("present.browsing"));
  }
  renderPresenter();
  if (face === "chair" && presentToggle && presentToggle.checked && source !== "presenter" && docId !== null) {
    const p = state.parts.presenting;
    if (!p || p.document_id !== docId || p.page !== page) {
      link.call("present.page", { document_id: docId, page }).catch((err) => {
        presentToggle.checked = false;
        toast(err.message, "error");
      });
    }
  }
});

followToggle.addEventListener("change", () => setFollow(followToggle.checked));
backButton.addEventListener("click", () => {
  setFollow(true);
  const p = presenterTarget();
  if (p && viewer.docs.has(p.document_id)) viewer.open(p.document_id, p.page, "presenter");
  renderPresenter();
});
if (presentMine) {
  presentMine.addEventListener("click", () => {
    if (viewer.docId === null) return;
    busy(presentMine, () => link.call("present.page", { document_id: viewer.docId, page: viewer.page }));
  });
}
if (presentToggle) {
  presentToggle.addEventListener("change", () => {
    if (presentToggle.checked && viewer.docId !== null) {
      busy(presentToggle, () => link.call("present.page", { document_id: viewer.docId, page: viewer.page }))
        .then((ack) => { if (!ack) presentToggle.checked = false; });
    }
  });
}

// The agenda pane is a drawer on narrow screens.
const agendaToggle = $("agenda-toggle");
agendaToggle.addEventListener("click", () => {
  const open = document.body.classList.toggle("agenda-open");
  agendaToggle.setAttribute("aria-expanded", String(open));
  if (open) $("agenda-list").querySelector("button, [tabindex]")?.focus();
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && document.body.classList.contains("agenda-open")) {
    document.body.classList.remove("agenda-open");
    agendaToggle.setAttribute("aria-expanded", "false");
    agendaToggle.focus();
  }
});
$("agenda-list").addEventListener("click", (e) => {
  if (e.target.closest("button.doc-link") && window.matchMedia("(max-width: 1023px)").matches) {
    document.body.classList.remove("agenda-open");
    agendaToggle.setAttribute("aria-expanded", "false");
  }
});

// --- start: the last known state first (reading works offline), then the live link ------------

async function start() {
  showStatus(link.status);
  try {
    const cached = await kvGet(cacheKey);
    if (cached && cached.parts && !state.ready) {
      state.load(cached.parts);
      link.seq = cached.seq;
    }
  } catch {
    // No stored state: wait for the snapshot.
  }
  link.start();
  registerServiceWorker();
  if ($("offline-download")) new PackDownloader(state, $("offline-download"), $("offline-progress"), $("offline-state"));
}

start();

export { state, link, viewer, h };
