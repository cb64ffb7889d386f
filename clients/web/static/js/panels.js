// The delegate tablet's side panels: check-in, request to speak with the queue position, and
// the vote summary (the vote itself is the sheet in vote.js).

import { $, h, setText, replaceChildren, busy, setEnabled, toast } from "./dom.js";
import { t, formatDateTime, formatNumber } from "./i18n.js";

export function currentQueue(state) {
  const sp = state.parts.speakers;
  const current = state.parts.agenda ? state.parts.agenda.current_item_id : null;
  if (!sp) return { speaking: null, waiting: [], spoken: [], item_id: current };
  const q = (sp.items || []).find((x) => x.item_id === current) || { waiting: [], spoken: [] };
  return { speaking: sp.speaking, waiting: q.waiting || [], spoken: q.spoken || [], item_id: current };
}

export function speakingText(speaking) {
  if (!speaking) return t("speakers.nobody");
  return t("speakers.speaking", { name: speaking.full_name });
}

export class TabletPanels {
  constructor(state, link) {
    this.state = state;
    this.link = link;
    this.checkin = $("checkin-button");
    this.speak = $("speak-button");
    this.checkin.addEventListener("click", () => this.toggleCheckin());
    this.speak.addEventListener("click", () => this.toggleSpeak());
    link.addEventListener("status", () => this.render(new Set(["*"])));
  }

  me() {
    const you = this.state.parts.meeting && this.state.parts.meeting.you;
    return you || {};
  }

  myAttendance() {
    const me = this.me();
    const att = this.state.parts.attendance;
    if (!att || !me.participant_id) return null;
    return att.participants.find((p) => p.participant_id === me.participant_id) || null;
  }

  render(parts) {
    const all = parts.has("*");
    if (all || parts.has("meeting")) {
      const me = this.me();
      const role = me.role ? t(`role.${me.role}`) : "";
      const vote = me.can_vote ? t("me.can_vote") : t("me.no_vote");
      setText($("me-role"), me.role ? `${me.full_name} · ${role} · ${vote}` : me.full_name || "");
    }
    if (all || parts.has("attendance") || parts.has("meeting")) this.renderCheckin();
    if (all || parts.has("speakers") || parts.has("agenda") || parts.has("meeting")) this.renderSpeak();
  }

  renderCheckin() {
    const mine = this.myAttendance();
    const status = this.state.parts.meeting ? this.state.parts.meeting.status : null;
    const open = status === "published" || status === "in_session";
    const present = mine && mine.status === "present";
    this.checkin.textContent = present ? t("attendance.check_out") : t("attendance.check_in");
    this.checkin.className = present ? "secondary" : "primary";
    this.checkin.dataset.action = present ? "out" : "in";
    setEnabled(this.checkin, Boolean(mine) && open && this.link.live);
    let text;
    if (!mine) text = t("attendance.not_participant");
    else if (present) text = t("attendance.present_since", { time: formatDateTime(mine.since, "time") });
    else if (mine.status === "excused") text = t("attendance.excused");
    else text = open ? t("attendance.not_checked_in") : t("attendance.closed");
    setText($("checkin-state"), text);
    $("me-panel").dataset.attendance = mine ? mine.status : "none";
  }

  async toggleCheckin() {
    const out = this.checkin.dataset.action === "out";
    const ack = await busy(this.checkin, () =>
      this.link.call(out ? "attendance.check_out" : "attendance.check_in"));
    if (ack) toast(out ? t("attendance.checked_out") : t("attendance.checked_in"));
  }

  myRequest() {
    const me = this.me();
    const q = currentQueue(this.state);
    const index = q.waiting.findIndex((turn) => turn.participant_id === me.participant_id);
    return { q, index, speaking: q.speaking && q.speaking.participant_id === me.participant_id };
  }

  renderSpeak() {
    const { q, index, speaking } = this.myRequest();
    const me = this.me();
    const inSession = this.state.parts.meeting && ["published", "in_session"].includes(this.state.parts.meeting.status);
    const mayAsk = me.role && me.role !== "observer";
    setText($("speaking-now"), speakingText(q.speaking));
    let action = "request";
    if (speaking) action = "end";
    else if (index >= 0) action = "withdraw";
    this.speak.dataset.action = action;
    this.speak.textContent = t(`speakers.${action}`);
    this.speak.className = action === "request" ? "primary" : "secondary";
    setEnabled(this.speak, Boolean(mayAsk && inSession && q.item_id !== null && this.link.live));
    let text = "";
    if (speaking) text = t("speakers.you_speak");
    else if (index >= 0) text = t("speakers.position", { position: formatNumber(index + 1), count: formatNumber(q.waiting.length) });
    else if (q.item_id === null || q.item_id === undefined) text = t("speakers.no_item");
    setText($("speak-state"), text);
    $("speak-panel").dataset.position = index >= 0 ? String(index + 1) : "";
    replaceChildren($("speak-queue"), q.waiting.map((turn, i) =>
      h("li", { class: turn.participant_id === me.participant_id ? "mine" : "" },
        h("span", { class: "pos" }, formatNumber(i + 1)), " ", turn.full_name)));
  }

  async toggleSpeak() {
    const action = this.speak.dataset.action;
    const name = action === "end" ? "speaker.end" : action === "withdraw" ? "speaker.withdraw" : "speaker.request";
    const ack = await busy(this.speak, () => this.link.call(name));
    if (ack && action === "request") toast(t("speakers.requested"));
  }
}
