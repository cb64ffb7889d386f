// Small DOM helpers: build elements without innerHTML (no markup injection from meeting data).

import { t, errorText } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

/** h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace an element's children only when the new content differs (keeps focus and scroll). */
export function replaceChildren(el, children) {
  el.replaceChildren(...children.filter((c) => c !== null && c !== undefined && c !== false));
}

export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

let toastTimer = null;
/** A short message in the polite live region (also read by screen readers). */
export function toast(message, kind = "info") {
  const el = $("toast");
  if (!el) return;
  el.textContent = message;
  el.dataset.kind = kind;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), kind === "error" ? 6000 : 3000);
}

export function toastError(err) {
  if (err && err.code === "offline") toast(t("conn.action_needs_network"), "error");
  else toast(errorText(err && err.error ? err.error : err), "error");
}

/** Enable or disable a control as the state says (a running action keeps it disabled). */
export function setEnabled(el, enabled) {
  if (!el) return;
  el.dataset.enabled = enabled ? "1" : "0";
  el.disabled = !enabled || el.dataset.busy === "1";
}

/** Run an async action from a button: disabled while it runs, errors shown as a toast. */
export async function busy(button, action) {
  if (button) {
    button.dataset.busy = "1";
    button.disabled = true;
  }
  try {
    return await action();
  } catch (err) {
    toastError(err);
    return undefined;
  } finally {
    if (button) {
      delete button.dataset.busy;
      button.disabled = button.dataset.enabled === "0";
    }
  }
}
