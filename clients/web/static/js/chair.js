// The chair console's panels: meeting start/end, agenda next/previous (go-to is in the agenda
// list), the item timer, presenting and handing it over, polls with live progress and who has
// not voted, the speaker queue, attendance with presence and the quorum.
// Buttons are hidden or disabled by role and state for clarity; the server decides anyway.

import { $, h, setText, replaceChildren, busy, setEnabled, toast } from "./dom.js";
import { t, formatNumber, formatDateTime, formatDuration } from "./i18n.js";
import { currentQueue, speakingText } from "./panels.js";
import { optionLabel, progressText, resultView } from "./vote.js";

const MAJORITIES = ["simple_cast", "simple_present", "simple_members",
  "two_thirds_cast", "two_thirds_present", "two_thirds_members"];

export class ChairPanels {
  constructor(state, link, viewer) {
    this.state = state;
    this.link = link;
    this.viewer = viewer;
    const call = (id, name, fields) => $(id).addEventListener("click", (e) =>
      busy(e.currentTarget, () => this.link.call(name, typeof fields === "function" ? fields() : fields)));
    call("meeting-start", "meeting.start");
    $("meeting-end").addEventListener("click", (e) => {
      if (window.confirm(t("chair.end_confirm"))) busy(e.currentTarget, () => this.link.call("meeting.end"));
    });
    call("agenda-next", "agenda.next");
    call("agenda-prev", "agenda.previous");
    call("timer-start", "timer.start");
    call("timer-pause", "timer.pause");
    call("timer-plus", "timer.extend", { seconds: 60 });
    call("timer-minus", "timer.extend", { seconds: -60 });
    call("timer-reset", "timer.reset");
    $("present-page").addEventListener("click", (e) => {
      if (this.viewer.docId === null) {
        toast(t("present.open_first"), "error");
        return;
      }
      busy(e.currentTarget, () => this.link.call("present.page",
        { document_id: this.viewer.docId, page: this.viewer.page }));
    });
    call("present-stop", "present.stop");
    call("reclaim-button", "present.reclaim");
    $("handover-button").addEventListener("click", (e) => {
      const id = Number($("handover-select").value);
      if (id) busy(e.currentTarget, () => this.link.call("present.handover", { participant_id: id }));
    });
    this.bindPollForm();
    link.addEventListener("status", () => this.render(new Set(["*"])));
    setInterval(() => this.tickSpeaker(), 1000);
  }

  get role() {
    return this.state.role;
  }

  get isChair() {
    return this.role === "chair";
  }

  render(parts) {
    const all = parts.has("*");
    const has = (...names) => all || names.some((n) => parts.has(n));
    if (has("meeting", "agenda", "timer")) this.renderControl();
    if (has("presenting", "participants", "meeting")) this.renderPresenting();
    if (has("polls", "poll_live", "polls_staff", "agenda", "meeting")) this.renderPolls();
    if (has("speakers", "agenda")) this.renderSpeakers();
    if (has("attendance", "presence", "participants")) this.renderAttendance();
  }

  renderControl() {
    const meeting = this.state.parts.meeting || {};
    const status = meeting.status;
    const live = this.link.live;
    const chair = this.isChair;
    $("meeting-start").hidden = !(chair && status === "published");
    $("meeting-end").hidden = !(chair && status === "in_session");
    setEnabled($("meeting-start"), live);
    setEnabled($("meeting-end"), live);
    const inSession = status === "in_session";
    const agenda = this.state.parts.agenda;
    const items = agenda ? agenda.items : [];
    const index = agenda ? items.findIndex((i) => i.id === agenda.current_item_id) : -1;
    setEnabled($("agenda-prev"), chair && live && inSession && agenda && agenda.current_item_id !== null);
    setEnabled($("agenda-next"), chair && live && inSession && index < items.length - 1);
    const timer = this.state.parts.timer && this.state.parts.timer.timer;
    const current = agenda ? agenda.current_item_id : null;
    const running = Boolean(timer && timer.running && timer.item_id === current);
    const canTime = chair && live && inSession && current !== null && current !== undefined;
    setEnabled($("timer-start"), canTime && !running);
    setEnabled($("timer-pause"), canTime && running);
    for (const id of ["timer-plus", "timer-minus", "timer-reset"]) setEnabled($(id), canTime);
    for (const id of ["agenda-prev", "agenda-next"]) $(id).hidden = !chair;
    $("control-panel").querySelector(".timer-controls").hidden = !chair;
  }

  participants() {
    return this.state.parts.participants || [];
  }

  renderPresenting() {
    const p = this.state.parts.presenting;
    const meeting = this.state.parts.meeting || {};
    const me = meeting.you || {};
    let text = t("present.nothing");
    if (p && p.document_id !== null && p.document_id !== undefined) {
      text = t("present.info", { title: p.title || "", page: (p.page ?? 0) + 1,
        who: p.presenter ? p.presenter.full_name : "" });
    } else if (p && p.presenter) {
      text = t("present.nothing_by", { who: p.presenter.full_name });
    }
    if (p && p.handed_over && p.presenter) text += ` · ${t("present.handed_to", { who: p.presenter.full_name })}`;
    setText($("present-state"), text);
    const live = this.link.live;
    const inSession = meeting.status === "in_session";
    const holder = p && p.presenter && p.presenter.participant_id === me.participant_id;
    const mayPresent = this.isChair || (p && p.handed_over && holder);
    setEnabled($("present-page"), Boolean(live && inSession && mayPresent));
    setEnabled($("present-stop"), Boolean(live && inSession && mayPresent && p && p.document_id));
    const toggle = $("present-toggle");
    if (toggle) toggle.disabled = !(live && inSession && mayPresent);
    const select = $("handover-select");
    const chosen = select.value;
    const options = this.participants()
      .filter((x) => x.role !== "observer")
      .map((x) => h("option", { value: x.id }, `${x.full_name} (${t(`role.${x.role}`)})`));
    replaceChildren(select, [h("option", { value: "" }, t("present.handover_to")), ...options]);
    select.value = chosen;
    const chair = this.isChair;
    $("present-panel").querySelector(".handover").hidden = !chair;
    setEnabled($("handover-button"), chair && live && inSession);
    setEnabled($("reclaim-button"), chair && live && inSession && Boolean(p && p.handed_over));
  }

  // --- polls -------------------------------------------------------------------------------

  bindPollForm() {
    const kind = $("poll-kind");
    const rule = $("poll-rule");
    replaceChildren(rule, [h("option", { value: "" }, t("polls.rule_default")),
      ...MAJORITIES.map((m) => h("option", { value: m }, t(`majority.${m}`)))]);
    kind.addEventListener("change", () => {
      $("poll-options-wrap").hidden = kind.value === "yes_no_abstain";
      $("poll-max").closest("div").querySelectorAll("#poll-max, label[for=poll-max]")
        .forEach((el) => { el.hidden = kind.value !== "multiple"; });
    });
    kind.dispatchEvent(new Event("change"));
    $("poll-secret").addEventListener("change", () => {
      // A secret ballot cannot be changed after casting (the server refuses the pair).
      if ($("poll-secret").checked) $("poll-change").checked = false;
      $("poll-change").disabled = $("poll-secret").checked;
    });
    $("poll-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const form = e.currentTarget;
      const fields = {
        question: $("poll-question").value.trim(),
        kind: kind.value,
        secret: $("poll-secret").checked,
        allow_change: $("poll-change").checked,
      };
      if (kind.value !== "yes_no_abstain") {
        fields.options = $("poll-options").value.split("\n").map((s) => s.trim()).filter(Boolean);
        if (kind.value === "multiple") fields.max_choices = Number($("poll-max").value) || 1;
      }
      if (rule.value) fields.majority = rule.value;
      const current = this.state.parts.agenda && this.state.parts.agenda.current_item_id;
      if (current) fields.agenda_item_id = current;
      const ack = await busy(form.querySelector("button[type=submit]"), () => this.link.call("poll.create", fields));
      if (ack) {
        form.reset();
        kind.dispatchEvent(new Event("change"));
        $("poll-create").open = false;
        toast(t("polls.created"));
      }
    });
  }

  renderPolls() {
    const staff = this.state.parts.polls_staff || { drafts: [], pending: null, results: [] };
    const polls = this.state.parts.polls || [];
    const live = this.state.parts.poll_live;
    const chair = this.isChair && this.link.live;
    const status = this.state.parts.meeting ? this.state.parts.meeting.status : null;
    const cards = [];
    const action = (label, name, pollId, cls = "secondary", confirmText = null) =>
      h("button", { type: "button", class: `${cls} small`, disabled: !chair,
        dataset: { action: name, pollId },
        onclick: (e) => {
          if (confirmText && !window.confirm(confirmText)) return;
          busy(e.currentTarget, () => this.link.call(name, { poll_id: pollId }));
        } }, label);
    for (const draft of staff.drafts || []) {
      cards.push(this.pollCard(draft, "draft", [
        h("div", { class: "row wrap" },
          action(t("polls.open"), "poll.open", draft.id, "primary"),
          action(t("polls.cancel"), "poll.cancel", draft.id, "secondary", t("polls.cancel_confirm"))),
      ]));
    }
    for (const entry of polls) {
      const poll = entry.poll;
      if (poll.status === "cancelled") continue;
      const body = [];
      if (poll.status === "open") {
        const progress = live && live.poll_id === poll.id ? live.progress : null;
        const ratio = progress && progress.eligible ? progress.voted / progress.eligible : 0;
        body.push(h("div", { class: "progress-line" },
          h("progress", { max: 1, value: ratio, "aria-label": t("polls.progress_label") }),
          h("span", { class: "progress-text", dataset: { role: "progress" } }, progressText(progress))));
        const pending = staff.pending && staff.pending.poll_id === poll.id ? staff.pending.not_voted : null;
        if (pending) {
          body.push(h("details", { class: "pending", open: pending.length <= 8 },
            h("summary", {}, t("polls.not_voted", { count: formatNumber(pending.length) })),
            h("ul", { class: "not-voted" }, pending.map((v) => h("li", {}, v.full_name,
              v.proxy_holder_name ? h("span", { class: "muted" }, ` · ${t("polls.by_proxy", { name: v.proxy_holder_name })}`) : null)))));
        }
        body.push(h("div", { class: "row wrap" },
          action(t("polls.close"), "poll.close", poll.id, "primary", t("polls.close_confirm")),
          action(t("polls.cancel"), "poll.cancel", poll.id, "secondary", t("polls.cancel_confirm"))));
      } else if (poll.status === "closed") {
        const result = (staff.results || []).find((r) => r.poll_id === poll.id);
        if (result) body.push(resultView(poll, result.result));
        if (entry.progress) body.push(h("p", { class: "muted" }, progressText(entry.progress)));
        // A closed secret poll can only be published (the server refuses secret_poll_closed).
        body.push(h("div", { class: "row wrap" },
          action(t("polls.publish"), "poll.publish", poll.id, "primary"),
          poll.secret ? null
            : action(t("polls.cancel"), "poll.cancel", poll.id, "secondary", t("polls.cancel_confirm"))));
      } else if (poll.status === "published" && entry.result) {
        body.push(resultView(poll, entry.result));
      }
      cards.push(this.pollCard(poll, poll.status, body));
    }
    replaceChildren($("polls-list"), cards.length ? cards : [h("p", { class: "muted" }, t("polls.none"))]);
    const form = $("poll-create");
    form.hidden = !(this.isChair || this.role === "secretary") || status === "archived";
  }

  pollCard(poll, status, body) {
    return h("article", { class: `poll-card status-${status}`, dataset: { pollId: poll.id, status } },
      h("header", {},
        h("span", { class: `tag status-${status}` }, t(`polls.status.${status}`)),
        poll.secret ? h("span", { class: "tag" }, t("polls.secret_short")) : null,
        h("span", { class: "tag" }, t(`polls.kind_${poll.kind}`))),
      h("p", { class: "poll-q" }, poll.question),
      poll.kind !== "yes_no_abstain" ? h("p", { class: "muted small" },
        poll.options.map((o) => optionLabel(o)).join(" · ")) : null,
      h("p", { class: "muted small" }, t(`majority.${poll.majority}`)),
      ...body);
  }

  // --- speakers -----------------------------------------------------------------------------

  renderSpeakers() {
    const q = currentQueue(this.state);
    const chair = this.isChair && this.link.live;
    const box = $("chair-speaking");
    const speaking = q.speaking;
    replaceChildren(box, [
      h("p", { class: "speaking-name" }, speakingText(speaking)),
      speaking ? h("p", { class: "speaking-clock muted", id: "speaking-clock" }) : null,
      speaking ? h("button", { type: "button", class: "secondary small", disabled: !chair,
        onclick: (e) => busy(e.currentTarget, () => this.link.call("speaker.end")) }, t("speakers.end_turn")) : null,
    ]);
    this.speaking = speaking;
    this.tickSpeaker();
    const rows = q.waiting.map((turn, i) => h("li", { dataset: { requestId: turn.id } },
      h("span", { class: "pos" }, formatNumber(i + 1)),
      h("span", { class: "name" }, turn.full_name),
      h("span", { class: "time muted" }, formatDateTime(turn.requested_at, "time")),
      h("span", { class: "row" },
        h("button", { type: "button", class: "primary small", disabled: !chair || Boolean(speaking),
          "aria-label": t("speakers.grant_label", { name: turn.full_name }),
          onclick: (e) => busy(e.currentTarget, () => this.link.call("speaker.grant", { request_id: turn.id })) },
        t("speakers.grant")),
        h("button", { type: "button", class: "icon-button small", disabled: !chair || i === 0,
          "aria-label": t("speakers.move_up", { name: turn.full_name }),
          onclick: (e) => busy(e.currentTarget, () => this.reorder(q, i, -1)) }, "↑"),
        h("button", { type: "button", class: "icon-button small", disabled: !chair || i === q.waiting.length - 1,
          "aria-label": t("speakers.move_down", { name: turn.full_name }),
          onclick: (e) => busy(e.currentTarget, () => this.reorder(q, i, 1)) }, "↓"),
        h("button", { type: "button", class: "secondary small", disabled: !chair,
          "aria-label": t("speakers.refuse_label", { name: turn.full_name }),
          onclick: (e) => {
            const reason = window.prompt(t("speakers.refuse_reason"), "");
            if (reason !== null) busy(e.currentTarget, () => this.link.call("speaker.refuse", { request_id: turn.id, reason }));
          } }, t("speakers.refuse")))));
    replaceChildren($("chair-queue"), rows.length ? rows : [h("li", { class: "muted" }, t("speakers.empty"))]);
  }

  reorder(q, index, step) {
    const ids = q.waiting.map((turn) => turn.id);
    const [moved] = ids.splice(index, 1);
    ids.splice(index + step, 0, moved);
    const fields = { request_ids: ids };
    if (q.item_id) fields.item_id = q.item_id;
    return this.link.call("speaker.reorder", fields);
  }

  tickSpeaker() {
    const el = $("speaking-clock");
    const s = this.speaking;
    if (!el || !s || !s.started_at) return;
    const used = (Date.now() - new Date(s.started_at).getTime()) / 1000;
    const text = s.limit_seconds ? t("speakers.time_left", { time: formatDuration(s.limit_seconds - used) })
      : t("speakers.time_used", { time: formatDuration(used) });
    setText(el, text);
  }

  // --- attendance ---------------------------------------------------------------------------

  renderAttendance() {
    const att = this.state.parts.attendance;
    if (!att) return;
    const q = att.quorum;
    const online = new Set(((this.state.parts.presence && this.state.parts.presence.online) || []).map((x) => x.user_id));
    if (q) {
      replaceChildren($("quorum"), [
        h("p", { class: `quorum-state ${q.reached ? "ok" : "missing"}`, dataset: { reached: q.reached ? "yes" : "no" } },
          q.reached ? t("quorum.reached") : t("quorum.missing", { missing: formatNumber(q.missing_weight) })),
        h("p", { class: "muted small" }, t("quorum.counts", {
          present: formatNumber(q.counted_weight), required: formatNumber(q.required_weight),
          total: formatNumber(q.total_weight) })),
        h("p", { class: "muted small" }, q.rule),
      ]);
    }
    const staff = this.role === "chair" || this.role === "secretary" || (this.state.parts.meeting?.you?.role === null);
    const live = this.link.live;
    const rows = att.participants.map((p) => {
      const mark = (status) => h("button", {
        type: "button", class: `small ${p.status === status ? "primary" : "secondary"}`,
        "aria-pressed": String(p.status === status), disabled: !staff || !live,
        "aria-label": t("attendance.mark_label", { name: p.full_name, status: t(`attendance.status.${status}`) }),
        onclick: (e) => busy(e.currentTarget, () => this.link.call("attendance.mark",
          { participant_id: p.participant_id, status })),
      }, t(`attendance.short.${status}`));
      return h("li", { class: `att status-${p.status}`, dataset: { participantId: p.participant_id } },
        h("span", { class: `presence ${online.has(p.user_id) ? "online" : "offline"}`,
          title: online.has(p.user_id) ? t("presence.online") : t("presence.offline"),
          role: "img", "aria-label": online.has(p.user_id) ? t("presence.online") : t("presence.offline") }),
        h("span", { class: "name" }, p.full_name,
          h("span", { class: "muted small" }, ` · ${t(`role.${p.role}`)}${p.can_vote ? "" : ` · ${t("me.no_vote")}`}`)),
        h("span", { class: "marks", role: "group", "aria-label": p.full_name },
          mark("present"), mark("absent"), mark("excused")));
    });
    replaceChildren($("attendance-list"), rows);
  }
}
