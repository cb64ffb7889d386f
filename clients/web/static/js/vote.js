// Voting on the tablet: a sheet that appears when a poll opens, takes the choice, asks for
// confirmation, casts the ballot (and those of proxies held), then shows the result once the
// chair publishes it. Casting needs the live connection: offline, the sheet says so.

import { $, h, setText, replaceChildren, toast, toastError } from "./dom.js";
import { t, formatNumber, formatPercent } from "./i18n.js";

const KNOWN_OPTIONS = new Set(["yes", "no", "abstain"]);

export function optionLabel(option) {
  return KNOWN_OPTIONS.has(option.id) ? t(`vote.option.${option.id}`) : option.label;
}

export function progressText(progress) {
  if (!progress) return "";
  return t("vote.progress", { voted: formatNumber(progress.voted), eligible: formatNumber(progress.eligible) });
}

/** A result as a small table with the outcome (shared by the tablet and the chair console). */
export function resultView(poll, result) {
  const outcome = result.outcome;
  const rows = result.options.map((o) => h("tr", { class: o.passed ? "passed" : "" },
    h("th", { scope: "row" }, optionLabel(o)),
    h("td", {}, formatNumber(o.votes)),
    h("td", {}, formatPercent(Number(o.percent) / 100))));
  const named = result.votes && result.votes.length ? h("details", { class: "named-votes" },
    h("summary", {}, t("vote.named_list", { count: formatNumber(result.votes.length) })),
    h("ul", {}, result.votes.map((v) => h("li", {}, `${v.full_name}: `,
      v.choice.map((c) => optionLabel(poll.options.find((o) => o.id === c) || { id: c, label: c })).join(", "))))) : null;
  return h("div", { class: "result", dataset: { outcome, pollId: poll.id } },
    h("p", { class: `outcome outcome-${outcome}` }, t(`vote.outcome.${outcome}`)),
    h("p", { class: "reason muted" }, result.reason),
    h("table", { class: "result-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("vote.option")),
        h("th", { scope: "col" }, t("vote.votes")), h("th", { scope: "col" }, t("vote.percent")))),
      h("tbody", {}, rows)),
    h("p", { class: "muted small" }, t("vote.counted", {
      ballots: formatNumber(result.ballots), eligible: formatNumber(result.eligible) })),
    named);
}

export class VoteSheet {
  constructor(state, link, face) {
    this.state = state;
    this.link = link;
    this.face = face;
    this.sheet = $("vote-sheet");
    this.form = $("vote-form");
    this.choices = $("vote-choices");
    this.submit = $("vote-submit");
    this.confirmBox = $("vote-confirm");
    this.done = $("vote-done");
    this.mode = null;            // "ballot" | "result" | null
    this.pollId = null;
    this.ballotFor = null;       // the entry of poll_live.you being cast
    this.dismissed = new Set();  // polls whose sheet the reader put aside ("later")
    this.shownResults = new Set();
    this.lastFocus = null;
    this.form.addEventListener("change", () => this.updateSubmit());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.askConfirm();
    });
    $("vote-confirm-yes").addEventListener("click", () => this.cast());
    $("vote-confirm-no").addEventListener("click", () => this.hideConfirm());
    $("vote-later").addEventListener("click", () => {
      if (this.mode === "ballot") this.dismissed.add(this.pollId);
      this.close();
    });
    this.sheet.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        if (this.mode === "ballot") this.dismissed.add(this.pollId);
        this.close();
      } else if (e.key === "Tab") {
        this.trapFocus(e);
      }
    });
    link.addEventListener("status", () => this.updateNetwork());
  }

  openPoll() {
    const live = this.state.parts.poll_live;
    if (!live) return null;
    const entry = (this.state.parts.polls || []).find((e) => e.poll.id === live.poll_id);
    return entry ? { poll: entry.poll, live } : null;
  }

  /** The next ballot this user still has to cast in the open poll (own first, then proxies). */
  nextBallot(open) {
    if (!open || !open.live.you) return null;
    return open.live.you.find((v) => !v.voted) || null;
  }

  render(parts, event) {
    const all = parts.has("*");
    if (!(all || parts.has("poll_live") || parts.has("polls"))) return;
    const open = this.openPoll();
    this.renderSummary(open);
    // The console shows results in its poll list; tablets get the result sheet.
    if (event && event.type === "poll.published" && this.face !== "chair"
      && !this.shownResults.has(event.payload.poll.id)) {
      this.shownResults.add(event.payload.poll.id);
      this.showResult(event.payload.poll, event.payload.result);
      return;
    }
    if (this.mode === "result") return;
    const ballot = this.nextBallot(open);
    if (open && ballot && !this.dismissed.has(open.poll.id)) {
      if (this.mode !== "ballot" || this.pollId !== open.poll.id || this.ballotFor?.participant_id !== ballot.participant_id) {
        this.showBallot(open, ballot);
      } else {
        setText($("vote-progress"), progressText(open.live.progress));
      }
    } else if (this.mode === "ballot" && (!open || open.poll.id !== this.pollId)) {
      // The poll closed or was cancelled while the sheet was up.
      if (open === null) toast(t("vote.closed_meanwhile"));
      this.close();
    } else if (this.mode === "ballot" && !ballot && !this.castDone) {
      this.close();
    }
  }

  renderSummary(open) {
    const box = $("vote-summary");
    if (!box) return;
    const content = [];
    if (open) {
      const ballot = this.nextBallot(open);
      content.push(h("p", { class: "vote-q" }, open.poll.question));
      content.push(h("p", { class: "muted", dataset: { role: "progress" } }, progressText(open.live.progress)));
      if (ballot) {
        content.push(h("button", { type: "button", class: "primary", id: "vote-open-button",
          onclick: () => { this.dismissed.delete(open.poll.id); this.showBallot(open, ballot); } },
        t("vote.cast_now")));
      } else if (open.live.you && open.live.you.length) {
        content.push(h("p", { class: "voted", dataset: { voted: "yes" } }, t("vote.you_voted")));
      } else if (open.live.you) {
        content.push(h("p", { class: "muted" }, t("vote.no_right")));
      }
    }
    const published = (this.state.parts.polls || []).filter((e) => e.result).slice(-1)[0];
    if (published) {
      content.push(h("h3", { class: "small-heading" }, t("vote.last_result")));
      content.push(h("p", { class: "vote-q" }, published.poll.question));
      content.push(resultView(published.poll, published.result));
    }
    if (!content.length) content.push(h("p", { class: "muted" }, t("vote.none")));
    replaceChildren(box, content);
    box.dataset.state = open ? "open" : published ? "result" : "none";
  }

  showBallot(open, ballot) {
    this.mode = "ballot";
    this.castDone = false;
    this.pollId = open.poll.id;
    this.ballotFor = ballot;
    const poll = open.poll;
    this.sheet.dataset.mode = "ballot";
    setText($("vote-sheet-title"), ballot.proxy
      ? t("vote.title_proxy", { name: ballot.full_name }) : t("vote.open_title"));
    setText($("vote-question"), poll.question);
    setText($("vote-progress"), progressText(open.live.progress));
    const multiple = poll.kind === "multiple";
    const inputs = poll.options.map((o) => h("label", { class: `choice choice-${o.id}` },
      h("input", { type: multiple ? "checkbox" : "radio", name: "choice", value: o.id }),
      h("span", {}, optionLabel(o))));
    const legend = h("legend", { class: multiple ? "" : "visually-hidden" }, multiple
      ? t("vote.choose_up_to", { count: formatNumber(poll.max_choices) }) : t("vote.choices"));
    replaceChildren(this.choices, [legend, ...inputs]);
    this.choices.hidden = false;
    this.hideConfirm();
    this.done.hidden = true;
    $("vote-actions").hidden = false;
    $("vote-later").textContent = t("vote.later");
    this.updateSubmit();
    this.updateNetwork();
    this.openSheet();
  }

  selected() {
    return [...this.choices.querySelectorAll("input:checked")].map((i) => i.value);
  }

  updateSubmit() {
    const open = this.openPoll();
    const chosen = this.selected();
    const max = open ? open.poll.max_choices : 1;
    this.submit.disabled = !chosen.length || chosen.length > max || !this.link.live;
  }

  updateNetwork() {
    const offline = !this.link.live;
    $("vote-network").hidden = !(offline && this.mode === "ballot");
    if (this.mode === "ballot") this.updateSubmit();
    $("vote-confirm-yes").disabled = offline;
  }

  askConfirm() {
    const open = this.openPoll();
    const chosen = this.selected();
    if (!open || !chosen.length) return;
    const labels = chosen.map((id) => optionLabel(open.poll.options.find((o) => o.id === id))).join(", ");
    setText($("vote-confirm-text"), t("vote.confirm_text", { choice: labels }));
    this.confirmBox.hidden = false;
    $("vote-actions").hidden = true;
    for (const input of this.choices.querySelectorAll("input")) input.disabled = true;
    $("vote-confirm-yes").focus();
  }

  hideConfirm() {
    this.confirmBox.hidden = true;
    $("vote-actions").hidden = false;
    for (const input of this.choices.querySelectorAll("input")) input.disabled = false;
  }

  async cast() {
    const open = this.openPoll();
    const ballot = this.ballotFor;
    const chosen = this.selected();
    if (!open || !ballot) return;
    if (!this.link.live) {
      this.updateNetwork();
      return;
    }
    const button = $("vote-confirm-yes");
    button.disabled = true;
    const fields = { poll_id: open.poll.id, choice: chosen };
    if (ballot.proxy) fields.for_participant_id = ballot.participant_id;
    try {
      await this.link.call("poll.cast", fields);
      ballot.voted = true; // the ack is after the commit: the ballot counts
      this.castDone = true; // keep "recorded" on screen until the reader closes it
      this.confirmBox.hidden = true;
      this.choices.hidden = true;
      this.done.hidden = false;
      setText(this.done, ballot.proxy ? t("vote.recorded_proxy", { name: ballot.full_name }) : t("vote.recorded"));
      this.renderSummary(open);
      const next = this.nextBallot(open);
      if (next) {
        setTimeout(() => this.showBallot(this.openPoll() || open, next), 1200);
      } else {
        $("vote-actions").hidden = false;
        this.submit.hidden = true;
        $("vote-later").textContent = t("common.close");
        $("vote-later").focus();
      }
    } catch (err) {
      if (err.code === "already_voted") {
        ballot.voted = true;
        toast(t("vote.already"));
        this.close();
      } else {
        toastError(err);
        this.hideConfirm();
      }
    } finally {
      button.disabled = !this.link.live;
    }
  }

  showResult(poll, result) {
    this.mode = "result";
    this.castDone = false;
    this.pollId = poll.id;
    this.sheet.dataset.mode = "result";
    setText($("vote-sheet-title"), t("vote.result_title"));
    setText($("vote-question"), poll.question);
    setText($("vote-progress"), "");
    replaceChildren(this.choices, [resultView(poll, result)]);
    this.choices.hidden = false;
    this.confirmBox.hidden = true;
    this.done.hidden = true;
    $("vote-network").hidden = true;
    $("vote-actions").hidden = false;
    this.submit.hidden = true;
    $("vote-later").textContent = t("common.close");
    this.openSheet();
  }

  openSheet() {
    if (this.sheet.hidden) this.lastFocus = document.activeElement;
    this.sheet.hidden = false;
    this.submit.hidden = this.mode !== "ballot";
    document.body.classList.add("sheet-open");
    const first = this.sheet.querySelector("input:not([disabled]), button:not([disabled]):not([hidden])");
    if (first) first.focus();
  }

  close() {
    this.sheet.hidden = true;
    this.mode = null;
    this.castDone = false;
    this.ballotFor = null;
    document.body.classList.remove("sheet-open");
    if (this.lastFocus && document.contains(this.lastFocus)) this.lastFocus.focus();
    // A result closed while a poll is still waiting for this user's ballots: nothing reopens
    // by itself; the vote panel's button does.
  }

  trapFocus(e) {
    const focusable = [...this.sheet.querySelectorAll("input, button, select, textarea, summary")]
      .filter((el) => !el.disabled && el.offsetParent !== null);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }
}
