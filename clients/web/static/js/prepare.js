// Preparing one meeting: details, participants and proxies, the agenda (drag to reorder, or
// move up/down and in/out with the keyboard), documents (upload with progress, then the render
// progress from the live room), publish, and what changed since a pack version.
//
// Every change goes through the JSON API; the page then reads the meeting again. It also joins
// the meeting's room, so changes made elsewhere and rendering progress show up live.

import { $, h, replaceChildren, setText, busy, toast, toastError } from "./dom.js";
import { t, errorText, formatDateTime, formatNumber, pageData } from "./i18n.js";
import { get, post, patch, put, del, upload } from "./api.js";
import { MeetingLink } from "./link.js";
import { guardSignOut, signedOut } from "./signout.js";
import { MeetingState } from "./state.js";
import { docMeta } from "./agenda.js";
import { fillBodies, isoToLocal, localToIso } from "./forms.js";

const meetingId = pageData.meeting_id;
const canEdit = pageData.can_edit;
const base = `/api/meetings/${meetingId}`;
let detail = null;        // GET /api/meetings/{id}
let live = new Map();     // document id -> rendering info from the room (pages_ready, status)

// --- reading ------------------------------------------------------------------------------

async function reload() {
  try {
    detail = await get(base);
  } catch (err) {
    toastError(err);
    return;
  }
  renderHeader();
  renderDetails();
  renderPeople();
  renderAgenda();
  renderDocuments();
  renderChangesPicker();
}

let reloadTimer = null;
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(reload, 150);
}

function renderHeader() {
  const m = detail.meeting;
  setText($("prep-title"), m.title);
  const status = $("prep-status");
  status.dataset.status = m.status;
  setText(status, t(`status.${m.status}`));
  setText($("prep-version"), m.pack_version ? t("prepare.version", { version: formatNumber(m.pack_version) }) : "");
  $("publish-button").hidden = !(canEdit && m.status === "draft");
  $("prep-readonly").hidden = canEdit && m.status !== "archived";
  document.body.classList.toggle("read-only", !canEdit || m.status === "archived");
  for (const el of document.querySelectorAll(".edit-only")) el.hidden = !canEdit || m.status === "archived";
}

// --- details -----------------------------------------------------------------------------------

let bodiesLoaded = null;
function renderDetails() {
  const m = detail.meeting;
  const form = $("details-form");
  if (form.contains(document.activeElement)) return; // never overwrite what is being typed
  $("d-title").value = m.title;
  $("d-place").value = m.place || "";
  $("d-description").value = m.description || "";
  $("d-starts").value = isoToLocal(m.starts_at);
  $("d-ends").value = isoToLocal(m.ends_at);
  if (!bodiesLoaded) bodiesLoaded = fillBodies($("d-body"), m.body && m.body.id);
  bodiesLoaded.then(() => {
    $("d-body").value = m.body ? String(m.body.id) : "";
    loadMembers();
  });
  for (const el of form.elements) el.disabled = !canEdit;
}

$("details-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const m = detail.meeting;
  const next = {
    title: $("d-title").value.trim(),
    place: $("d-place").value.trim(),
    description: $("d-description").value,
    starts_at: localToIso($("d-starts").value),
    ends_at: localToIso($("d-ends").value),
    body_id: $("d-body").value ? Number($("d-body").value) : null,
  };
  const changes = {};
  for (const [key, value] of Object.entries(next)) {
    const before = key === "body_id" ? (m.body ? m.body.id : null)
      : key.endsWith("_at") ? (m[key] ? new Date(m[key]).toISOString() : null) : m[key];
    if (value !== before) changes[key] = value;
  }
  if (!Object.keys(changes).length) {
    setText($("details-state"), t("prepare.no_changes"));
    return;
  }
  await busy(e.currentTarget.querySelector("button[type=submit]"), async () => {
    await patch(base, changes);
    setText($("details-state"), t("common.saved"));
    document.activeElement.blur();
    await reload();
  });
});

// --- participants ------------------------------------------------------------------------------

let membersFor = null;
async function loadMembers() {
  const m = detail.meeting;
  if (!m.body || membersFor === m.body.id) return;
  membersFor = m.body.id;
  try {
    const { body } = await get(`/api/bodies/${m.body.id}`);
    replaceChildren($("body-members"), (body.members || []).map((u) =>
      h("option", { value: u.username }, `${u.full_name}${u.title ? ` – ${u.title}` : ""}`)));
  } catch {
    // Not a member of that body: type usernames.
  }
}

function renderPeople() {
  const people = detail.participants;
  setText($("people-count"), `(${formatNumber(people.length)})`);
  const voters = people.filter((p) => p.can_vote);
  const rows = people.map((p) => {
    const role = h("select", { "aria-label": t("prepare.role_of", { name: p.full_name }), disabled: !canEdit,
      onchange: (e) => change(() => patch(`${base}/participants/${p.id}`, { role: e.target.value })) },
    ["chair", "secretary", "delegate", "observer"].map((r) =>
      h("option", { value: r, selected: r === p.role }, t(`role.${r}`))));
    const votes = h("span", { class: "row" },
      h("input", { type: "checkbox", checked: p.can_vote, disabled: !canEdit || p.role === "observer",
        "aria-label": t("prepare.can_vote_of", { name: p.full_name }),
        onchange: (e) => change(() => patch(`${base}/participants/${p.id}`, { can_vote: e.target.checked })) }),
      h("input", { type: "number", min: 1, value: p.vote_weight, class: "weight", disabled: !canEdit || !p.can_vote,
        "aria-label": t("prepare.weight_of", { name: p.full_name }),
        onchange: (e) => change(() => patch(`${base}/participants/${p.id}`, { vote_weight: Number(e.target.value) })) }));
    const holders = voters.filter((v) => v.id !== p.id && !v.proxy_holder_id);
    const proxy = p.can_vote ? h("select", { "aria-label": t("prepare.proxy_of", { name: p.full_name }), disabled: !canEdit,
      onchange: (e) => change(() => (e.target.value
        ? put(`${base}/participants/${p.id}/proxy`, { holder_id: Number(e.target.value) })
        : del(`${base}/participants/${p.id}/proxy`))) },
    h("option", { value: "" }, t("prepare.no_proxy")),
    holders.map((v) => h("option", { value: v.id, selected: v.id === p.proxy_holder_id }, v.full_name))) : "";
    const remove = canEdit ? h("button", { type: "button", class: "secondary small",
      "aria-label": t("prepare.remove_person", { name: p.full_name }),
      onclick: (e) => {
        if (window.confirm(t("prepare.remove_person_confirm", { name: p.full_name }))) {
          busy(e.currentTarget, () => change(() => del(`${base}/participants/${p.id}`)));
        }
      } }, t("common.delete")) : "";
    return h("tr", { dataset: { participantId: p.id } },
      h("td", {}, p.full_name, h("div", { class: "muted small" }, p.username)),
      h("td", {}, role), h("td", {}, votes), h("td", {}, proxy), h("td", { class: "actions" }, remove));
  });
  replaceChildren($("people-rows"), rows);
}

async function change(action) {
  try {
    await action();
  } catch (err) {
    toastError(err);
  }
  await reload();
}

$("add-person").addEventListener("submit", async (e) => {
  e.preventDefault();
  const username = $("ap-username").value.trim().toLowerCase();
  if (!username) return;
  await busy(e.currentTarget.querySelector("button[type=submit]"), async () => {
    await post(`${base}/participants`, { username, role: $("ap-role").value });
    $("ap-username").value = "";
    await reload();
    $("ap-username").focus();
  });
});

// --- agenda ---------------------------------------------------------------------------------

function items() {
  return detail.agenda.items;
}

function siblingsOf(parentId, exceptId) {
  return items().filter((i) => i.parent_id === parentId && i.id !== exceptId);
}

async function moveItem(item, parentId, position, focusAction) {
  const ok = await busy(null, async () => {
    await post(`${base}/agenda/${item.id}/move`, { parent_id: parentId, position });
    return true;
  });
  await reload();
  if (ok) {
    const moved = items().find((i) => i.id === item.id);
    if (moved) setText($("agenda-announce"), t("prepare.moved", { title: moved.title, number: moved.number }));
    const again = $("prep-agenda").querySelector(`li[data-item-id="${item.id}"] [data-action="${focusAction}"]`);
    if (again && !again.disabled) again.focus();
    else $("prep-agenda").querySelector(`li[data-item-id="${item.id}"] .drag-handle`)?.focus();
  }
}

function itemActions(item) {
  const sibs = items().filter((i) => i.parent_id === item.parent_id);
  const index = sibs.findIndex((i) => i.id === item.id);
  const hasChildren = items().some((i) => i.parent_id === item.id);
  const previousTop = item.parent_id === null ? sibs[index - 1] : null;
  const button = (action, label, text, disabled, fn) => h("button", {
    type: "button", class: "icon-button small", dataset: { action }, disabled: !canEdit || disabled,
    "aria-label": t(label, { title: item.title }), onclick: fn }, text);
  return h("span", { class: "row item-buttons" },
    button("up", "prepare.move_up", "↑", index <= 0, () => moveItem(item, item.parent_id, index - 1, "up")),
    button("down", "prepare.move_down", "↓", index >= sibs.length - 1, () => moveItem(item, item.parent_id, index + 1, "down")),
    button("indent", "prepare.indent", "→", item.parent_id !== null || !previousTop || hasChildren, () =>
      moveItem(item, previousTop.id, items().filter((i) => i.parent_id === previousTop.id).length, "outdent")),
    button("outdent", "prepare.outdent", "←", item.parent_id === null, () => {
      const parent = items().find((i) => i.id === item.parent_id);
      const top = items().filter((i) => i.parent_id === null);
      moveItem(item, null, top.findIndex((i) => i.id === parent.id) + 1, "indent");
    }),
    button("edit", "prepare.edit_item", "✎", false, () => editItem(item)),
    button("delete", "prepare.delete_item", "✕", false, () => {
      if (window.confirm(t("prepare.delete_item_confirm", { title: item.title }))) {
        change(() => del(`${base}/agenda/${item.id}`));
      }
    }));
}

function renderAgenda() {
  const list = $("prep-agenda");
  const focused = document.activeElement && list.contains(document.activeElement)
    ? [document.activeElement.closest("li")?.dataset.itemId, document.activeElement.dataset.action] : null;
  const rows = items().map((item) => h("li", {
    class: `depth-${item.depth}`, dataset: { itemId: item.id, parentId: item.parent_id ?? "" },
  },
  h("span", { class: "drag-handle", tabindex: canEdit ? 0 : -1, role: "button",
    "aria-label": t("prepare.drag", { title: item.title }), "aria-describedby": "agenda-howto" }, "⠿"),
  h("span", { class: "num" }, item.number),
  h("span", { class: "item-main" },
    h("strong", {}, item.title),
    item.confidential ? h("span", { class: "badge secret" }, t("agenda.confidential")) : null,
    item.vote_planned ? h("span", { class: "badge vote" }, t("agenda.vote_planned")) : null,
    item.planned_minutes ? h("span", { class: "muted small" }, ` · ${t("agenda.minutes", { minutes: item.planned_minutes })}`) : null,
    item.presenter ? h("span", { class: "muted small" }, ` · ${item.presenter}`) : null),
  itemActions(item),
  item.documents && item.documents.length ? h("span", { class: "docs" },
    item.documents.map((d, i) => h("span", { class: "doc-chip" }, d.title,
      canEdit ? h("button", { type: "button", class: "link", "aria-label": t("prepare.detach", { title: d.title }),
        onclick: () => change(() => del(`${base}/agenda/${item.id}/documents/${d.id}`)) }, "✕") : null,
      canEdit && i > 0 ? h("button", { type: "button", class: "link", "aria-label": t("prepare.doc_earlier", { title: d.title }),
        onclick: () => {
          const ids = item.documents.map((x) => x.id);
          [ids[i - 1], ids[i]] = [ids[i], ids[i - 1]];
          change(() => put(`${base}/agenda/${item.id}/documents`, { document_ids: ids }));
        } }, "↑") : null))) : null));
  replaceChildren(list, rows.length ? rows : [h("li", { class: "muted" }, t("agenda.empty"))]);
  if (focused && focused[0]) {
    const el = list.querySelector(`li[data-item-id="${focused[0]}"] ${focused[1] ? `[data-action="${focused[1]}"]` : ".drag-handle"}`);
    if (el && !el.disabled) el.focus();
  }
  // Parents offered for a new item, and items offered for an upload.
  const tops = items().filter((i) => i.parent_id === null);
  replaceChildren($("ai-parent"), [h("option", { value: "" }, t("prepare.top_level")),
    ...tops.map((i) => h("option", { value: i.id }, t("prepare.under", { number: i.number, title: i.title })))]);
  const chosen = $("up-item").value;
  replaceChildren($("up-item"), [h("option", { value: "" }, t("prepare.no_item")),
    ...items().map((i) => h("option", { value: i.id }, `${i.number}. ${i.title}`))]);
  $("up-item").value = chosen;
}

async function editItem(item) {
  const title = window.prompt(t("prepare.item_title"), item.title);
  if (title === null) return;
  const minutes = window.prompt(t("prepare.minutes"), item.planned_minutes ?? "");
  if (minutes === null) return;
  const presenter = window.prompt(t("prepare.presenter"), item.presenter || "");
  if (presenter === null) return;
  const confidential = window.confirm(t("prepare.confidential_question", { title }));
  const changes = { title: title.trim() || item.title, presenter: presenter.trim(), confidential };
  changes.planned_minutes = minutes === "" ? null : Number(minutes);
  await change(() => patch(`${base}/agenda/${item.id}`, changes));
}

$("add-item").addEventListener("submit", async (e) => {
  e.preventDefault();
  const title = $("ai-title").value.trim();
  if (!title) return;
  const body = { title };
  if ($("ai-parent").value) body.parent_id = Number($("ai-parent").value);
  if ($("ai-minutes").value) body.planned_minutes = Number($("ai-minutes").value);
  await busy(e.currentTarget.querySelector("button[type=submit]"), async () => {
    await post(`${base}/agenda`, body);
    $("ai-title").value = "";
    $("ai-minutes").value = "";
    await reload();
    $("ai-title").focus();
  });
});

// Drag to reorder with a pointer (mouse, pen or finger): the handle starts it, the row under
// the pointer is the drop target (upper half: before it, lower half: after it).
(function bindDrag() {
  const list = $("prep-agenda");
  let drag = null;
  const clear = () => list.querySelectorAll(".drop-before, .drop-after, .dragging")
    .forEach((el) => el.classList.remove("drop-before", "drop-after", "dragging"));
  list.addEventListener("pointerdown", (e) => {
    const handle = e.target.closest(".drag-handle");
    if (!handle || !canEdit) return;
    const li = handle.closest("li");
    drag = { id: Number(li.dataset.itemId), pointer: e.pointerId, target: null, after: false };
    li.classList.add("dragging");
    handle.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  list.addEventListener("pointermove", (e) => {
    if (!drag || e.pointerId !== drag.pointer) return;
    const under = document.elementFromPoint(e.clientX, e.clientY);
    const li = under && under.closest("#prep-agenda > li");
    list.querySelectorAll(".drop-before, .drop-after").forEach((el) => el.classList.remove("drop-before", "drop-after"));
    if (!li || Number(li.dataset.itemId) === drag.id) {
      drag.target = null;
      return;
    }
    const rect = li.getBoundingClientRect();
    drag.after = e.clientY > rect.top + rect.height / 2;
    drag.target = Number(li.dataset.itemId);
    li.classList.add(drag.after ? "drop-after" : "drop-before");
  });
  const end = (e) => {
    if (!drag || e.pointerId !== drag.pointer) return;
    const { id, target, after } = drag;
    drag = null;
    clear();
    if (e.type === "pointercancel" || !target) return;
    const item = items().find((i) => i.id === id);
    const over = items().find((i) => i.id === target);
    if (!item || !over) return;
    const parentId = over.parent_id;
    const sibs = siblingsOf(parentId, item.id);
    const position = sibs.findIndex((i) => i.id === over.id) + (after ? 1 : 0);
    moveItem(item, parentId, position, "up");
  };
  list.addEventListener("pointerup", end);
  list.addEventListener("pointercancel", end);
  // Keyboard on the handle: arrows move the item, as the buttons do.
  list.addEventListener("keydown", (e) => {
    const handle = e.target.closest(".drag-handle");
    if (!handle || !["ArrowUp", "ArrowDown"].includes(e.key)) return;
    e.preventDefault();
    const li = handle.closest("li");
    li.querySelector(`[data-action="${e.key === "ArrowUp" ? "up" : "down"}"]`)?.click();
  });
})();

// --- documents ------------------------------------------------------------------------------

function renderDocuments() {
  const byItem = new Map(items().map((i) => [i.id, i]));
  const rows = detail.documents.map((d) => {
    const info = { ...d, ...(live.get(d.id) || {}) };
    const itemsText = (d.item_ids || []).map((id) => byItem.get(id)).filter(Boolean).map((i) => i.number).join(", ");
    const count = info.page_count || 0;
    const ready = info.status === "ready" ? count : info.pages_ready || 0;
    const attach = canEdit ? h("select", { "aria-label": t("prepare.attach_doc", { title: d.title }),
      onchange: (e) => {
        if (e.target.value) change(() => post(`${base}/agenda/${e.target.value}/documents`, { document_id: d.id }));
      } }, h("option", { value: "" }, t("prepare.attach")),
    items().filter((i) => !(d.item_ids || []).includes(i.id)).map((i) => h("option", { value: i.id }, `${i.number}. ${i.title}`))) : null;
    const version = canEdit ? h("button", { type: "button", class: "secondary small",
      "aria-label": t("prepare.new_version_of", { title: d.title }),
      onclick: () => pickVersion(d) }, t("prepare.new_version")) : null;
    return h("tr", { dataset: { documentId: d.id, status: info.status } },
      h("td", {}, d.title, d.confidential ? h("span", { class: "badge secret" }, t("agenda.confidential")) : null,
        h("div", { class: "muted small" }, `${d.filename} · v${d.version}`)),
      h("td", {}, itemsText || "—"),
      h("td", {}, h("progress", { max: Math.max(1, count), value: ready, "aria-label": t("prepare.render_progress", { title: d.title }) }),
        h("div", { class: "muted small render-state" }, info.status === "failed" ? (info.error || t("doc.failed")) : docMeta(info))),
      h("td", { class: "actions" }, attach, " ", version));
  });
  replaceChildren($("docs-rows"), rows.length ? rows : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, t("prepare.no_documents")))]);
}

function uploadRow(name) {
  const bar = h("progress", { max: 1, value: 0 });
  const label = h("span", { class: "label" }, t("upload.waiting"));
  const row = h("div", { class: "upload-row" }, h("span", {}, name), label, bar);
  $("uploads").append(row);
  return {
    progress(loaded, total) {
      bar.max = total || 1;
      bar.value = loaded;
      setText(label, loaded >= total ? t("upload.checking") : t("upload.sending", { percent: total ? Math.round((loaded / total) * 100) : 0 }));
    },
    done(doc) {
      setText(label, t("upload.done", { title: doc.title }));
      row.dataset.documentId = doc.id;
      setTimeout(() => row.remove(), 6000);
    },
    failed(err) {
      setText(label, errorText(err.error));
      label.classList.add("error");
      row.dataset.failed = "1";
    },
  };
}

async function sendFile(url, file, fields) {
  const data = new FormData();
  data.append("file", file);
  for (const [key, value] of Object.entries(fields)) if (value !== "" && value !== null) data.append(key, value);
  const row = uploadRow(file.name);
  const job = upload(url, data, (loaded, total) => row.progress(loaded, total));
  try {
    const answer = await job.done;
    row.done(answer.document);
    live.set(answer.document.id, answer.document);
    return answer.document;
  } catch (err) {
    row.failed(err);
    return null;
  }
}

$("upload-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const files = [...$("up-file").files];
  if (!files.length) return;
  const fields = { item_id: $("up-item").value, confidential: $("up-confidential").checked ? "true" : "" };
  const button = e.currentTarget.querySelector("button[type=submit]");
  await busy(button, async () => {
    for (const file of files) {
      const title = files.length === 1 ? $("up-title").value.trim() : "";
      await sendFile(`${base}/documents`, file, { ...fields, title });
    }
    e.target.reset();
    await reload();
  });
});

let versionFor = null;
function pickVersion(doc) {
  versionFor = doc;
  $("version-file").value = "";
  $("version-file").click();
}
$("version-file").addEventListener("change", async () => {
  const file = $("version-file").files[0];
  if (!file || !versionFor) return;
  await sendFile(`/api/documents/${versionFor.id}/versions`, file, {});
  versionFor = null;
  await reload();
});

// --- publish and changes ---------------------------------------------------------------------

$("publish-button").addEventListener("click", async (e) => {
  if (!window.confirm(t("prepare.publish_confirm"))) return;
  await busy(e.currentTarget, async () => {
    await post(`${base}/status`, { status: "published" });
    toast(t("prepare.published"));
    await reload();
  });
});

function renderChangesPicker() {
  const select = $("changes-since");
  const version = detail.meeting.pack_version || 0;
  const chosen = select.value;
  const options = [];
  for (let v = 1; v < version; v += 1) options.push(h("option", { value: v }, t("prepare.since_version", { version: v })));
  replaceChildren(select, options.length ? options : [h("option", { value: "" }, t("prepare.no_versions"))]);
  select.disabled = !options.length;
  if (chosen && Number(chosen) < version) select.value = chosen;
  else if (options.length) select.value = String(version - 1);
  loadChanges();
}

async function loadChanges() {
  const since = $("changes-since").value;
  const box = $("changes");
  if (!since) {
    replaceChildren(box, [h("p", { class: "muted" }, detail.meeting.status === "draft" ? t("prepare.changes_draft") : t("prepare.changes_none"))]);
    return;
  }
  try {
    const answer = await get(`${base}/changes?since=${since}`);
    const blocks = answer.versions.map((v) => h("div", { class: "change-version", dataset: { version: v.pack_version } },
      h("p", { class: "version" }, t("prepare.version_line", { version: v.pack_version, at: formatDateTime(v.at), by: v.by ? v.by.full_name : "—" })),
      h("ul", { class: "changes" }, v.changes.map((c) => h("li", { dataset: { action: c.action } }, changeText(c))))));
    replaceChildren(box, blocks.length ? blocks : [h("p", { class: "muted" }, t("prepare.changes_none"))]);
  } catch (err) {
    replaceChildren(box, [h("p", { class: "error" }, errorText(err.error))]);
  }
}
$("changes-since").addEventListener("change", loadChanges);

function changeText(c) {
  const key = `change.${c.action}`;
  const label = t(key);
  const text = label === key ? c.action : label;
  return [text, c.title ? `: ${c.title}` : "", c.detail ? ` (${c.detail})` : ""].join("");
}

// --- live: rendering progress and changes made elsewhere ---------------------------------------

const state = new MeetingState();
const link = new MeetingLink(meetingId);
link.addEventListener("status", (e) => {
  const badge = $("conn");
  badge.dataset.state = e.detail;
  setText(badge.querySelector(".label"), t(`conn.${e.detail}`));
});
link.addEventListener("snapshot", (e) => state.load(e.detail));
link.addEventListener("private", (e) => state.loadPrivate(e.detail));
link.addEventListener("event", (e) => state.apply(e.detail));
link.addEventListener("signedout", () => signedOut());
guardSignOut();
state.addEventListener("stale", () => link.refresh());
const PACK_EVENTS = new Set(["meeting.updated", "agenda.changed", "participants.changed", "document.added",
  "document.replaced", "meeting.status", "meeting.pack_version"]);
function takeDocuments() {
  live = new Map((state.parts.documents || []).map((d) => [d.id, d]));
  if (detail) renderDocuments();
}
state.addEventListener("reset", takeDocuments);
state.addEventListener("change", (e) => {
  const { parts, event } = e.detail;
  if (parts.has("documents")) takeDocuments();
  if (event && PACK_EVENTS.has(event.type)) reloadSoon();
});

reload();
link.start();
