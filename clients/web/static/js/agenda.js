// The agenda sidebar: items with their numbers, the current one marked (aria-current), each
// item's documents to open; on the chair console every item also has "go to".

import { $, h, replaceChildren, busy, setText } from "./dom.js";
import { t, formatNumber } from "./i18n.js";

export class AgendaView {
  constructor(state, link, { face, onOpenDocument }) {
    this.state = state;
    this.link = link;
    this.face = face;
    this.onOpenDocument = onOpenDocument;
    this.list = $("agenda-list");
    this.lastCurrent = undefined;
    this.list.addEventListener("keydown", (e) => this.onKey(e));
  }

  render() {
    const agenda = this.state.parts.agenda;
    if (!agenda) return;
    const docs = this.state.parts.agenda_documents || {};
    const known = new Map((this.state.parts.documents || []).map((d) => [d.id, d]));
    const current = agenda.current_item_id;
    const status = this.state.parts.meeting ? this.state.parts.meeting.status : null;
    const focused = document.activeElement && this.list.contains(document.activeElement)
      ? document.activeElement.dataset.focusKey : null;
    const items = agenda.items.map((item) => {
      const isCurrent = item.id === current;
      const attached = (docs[String(item.id)] || []).map((d) => ({ ...d, ...(known.get(d.id) || {}) }));
      const badges = [];
      if (item.confidential) badges.push(h("span", { class: "badge secret" }, t("agenda.confidential")));
      if (item.vote_planned) badges.push(h("span", { class: "badge vote" }, t("agenda.vote_planned")));
      // The current item is marked by its colour and aria-current; the word is for screen
      // readers only, so that moving the mark never changes any item's height.
      if (isCurrent) badges.push(h("span", { class: "visually-hidden" }, t("agenda.now")));
      const head = h("div", { class: "item-head" },
        h("span", { class: "num" }, item.number),
        h("span", { class: "item-title" }, item.title),
        item.presenter ? h("span", { class: "presenter" }, item.presenter) : null,
        item.planned_minutes ? h("span", { class: "minutes" },
          t("agenda.minutes", { minutes: formatNumber(item.planned_minutes) })) : null,
        h("span", { class: "badges" }, badges));
      const actions = [];
      if (this.face === "chair" && this.state.role === "chair") {
        actions.push(h("button", {
          type: "button", class: "goto small", disabled: isCurrent || status !== "in_session",
          dataset: { focusKey: `goto-${item.id}` },
          "aria-label": t("agenda.goto_label", { number: item.number, title: item.title }),
          onclick: (e) => busy(e.currentTarget, () => this.link.call("agenda.goto", { item_id: item.id })),
        }, t("agenda.goto")));
      }
      const docList = attached.length ? h("ul", { class: "item-docs" }, attached.map((d) =>
        h("li", {}, h("button", {
          type: "button", class: "doc-link", dataset: { docId: d.id, focusKey: `doc-${item.id}-${d.id}` },
          onclick: () => this.onOpenDocument(d.id),
        }, h("span", { class: "doc-title" }, d.title),
        h("span", { class: "doc-meta" }, docMeta(d)))))) : null;
      return h("li", {
        class: `agenda-item depth-${item.depth}${isCurrent ? " current" : ""}`,
        dataset: { itemId: item.id },
        "aria-current": isCurrent ? "step" : null,
      }, head, actions.length ? h("div", { class: "item-actions" }, actions) : null, docList);
    });
    replaceChildren(this.list, items.length ? items : [h("li", { class: "muted" }, t("agenda.empty"))]);
    if (focused) {
      const again = this.list.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`);
      if (again && !again.disabled) again.focus();
    }
    if (current !== this.lastCurrent) {
      this.lastCurrent = current;
      const el = this.list.querySelector(".agenda-item.current");
      if (el) el.scrollIntoView({ block: "nearest" });
    }
    setText($("meeting-status"), status ? t(`status.${status}`) : "");
  }

  onKey(e) {
    // Up/down move between the list's buttons (one tab stop for a long agenda).
    if (!["ArrowDown", "ArrowUp"].includes(e.key)) return;
    const buttons = [...this.list.querySelectorAll("button:not([disabled])")];
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    e.preventDefault();
    const next = buttons[Math.max(0, Math.min(buttons.length - 1, i + (e.key === "ArrowDown" ? 1 : -1)))];
    next.focus();
  }
}

export function docMeta(d) {
  if (d.status === "failed") return t("doc.failed");
  if (d.page_count && d.status !== "ready" && (d.pages_ready || 0) < d.page_count) {
    return t("doc.rendering", { ready: formatNumber(d.pages_ready || 0), count: formatNumber(d.page_count) });
  }
  if (d.page_count) return t("doc.pages", { count: formatNumber(d.page_count) });
  return t("doc.pending");
}

/** The documents grouped by agenda item, for the viewer's picker. */
export function documentGroups(state) {
  const agenda = state.parts.agenda;
  const docs = state.parts.agenda_documents || {};
  if (!agenda) return [];
  return agenda.items.map((item) => ({
    label: `${item.number}. ${item.title}`,
    documents: docs[String(item.id)] || [],
  }));
}
