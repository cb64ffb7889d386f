// The secretary's start page: create a meeting, import a pack (zip) with upload progress.

import { $, h, replaceChildren, setText, busy } from "./dom.js";
import { t, errorText, localiseTimes } from "./i18n.js";
import { post, upload } from "./api.js";
import { fillBodies, localToIso } from "./forms.js";
import { guardSignOut } from "./signout.js";

localiseTimes();
guardSignOut();

function showProblems(list, err) {
  const problems = Array.isArray(err.details) ? err.details : [];
  replaceChildren(list, problems.map((p) => h("li", {},
    [p.file, p.line ? `:${p.line}` : "", p.field ? ` (${p.field})` : ""].join(""), " – ", p.message)));
}

const form = $("new-meeting");
if (form) {
  fillBodies($("nm-body"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("nm-error");
    error.hidden = true;
    const title = $("nm-title").value.trim();
    if (!title) {
      error.textContent = t("manage.title_required");
      error.hidden = false;
      $("nm-title").focus();
      return;
    }
    const body = {
      title,
      place: $("nm-place").value.trim(),
      description: $("nm-description").value,
      starts_at: localToIso($("nm-starts").value),
      ends_at: localToIso($("nm-ends").value),
      invite_members: $("nm-invite").checked,
    };
    if ($("nm-body").value) body.body_id = Number($("nm-body").value);
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        const answer = await post("/api/meetings", body);
        window.location.assign(`/manage/meetings/${answer.meeting.id}`);
      } catch (err) {
        error.textContent = errorText(err.error);
        error.hidden = false;
      }
    });
  });
}

const packForm = $("import-pack");
if (packForm) {
  packForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("pack-file").files[0];
    if (!file) return;
    const data = new FormData();
    data.append("file", file);
    const progress = $("pack-progress");
    const state = $("pack-state");
    replaceChildren($("pack-problems"), []);
    progress.hidden = false;
    progress.value = 0;
    const url = "/api/packs" + ($("pack-publish").checked ? "?publish=true" : "");
    const button = packForm.querySelector("button[type=submit]");
    await busy(button, async () => {
      const job = upload(url, data, (loaded, total) => {
        progress.max = total || 1;
        progress.value = loaded;
        setText(state, loaded >= total ? t("manage.importing") : t("upload.sending", { percent: total ? Math.round((loaded / total) * 100) : 0 }));
      });
      try {
        const result = await job.done;
        setText(state, t("manage.imported", { title: result.title, items: result.items, documents: result.documents }));
        window.location.assign(`/manage/meetings/${result.meeting_id}`);
      } catch (err) {
        setText(state, errorText(err.error));
        showProblems($("pack-problems"), err);
      } finally {
        progress.hidden = true;
      }
    });
  });
}
