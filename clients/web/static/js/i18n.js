// Strings and locale-aware formatting. The page carries the catalog of its locale as a JSON
// block (id "i18n-data"), the same catalog the server's t() reads, so keys are shared.

const block = document.getElementById("i18n-data");
const data = block ? JSON.parse(block.textContent) : { locale: "vi", tag: "vi-VN", strings: {} };
const pageBlock = document.getElementById("page-data");

export const locale = data.locale;
export const languageTag = data.tag;
export const pageData = pageBlock ? JSON.parse(pageBlock.textContent) : {};
export const timeZone = data.timezone || undefined;

/** The text for `key` with `{name}` placeholders filled from `values`. */
export function t(key, values) {
  const raw = Object.prototype.hasOwnProperty.call(data.strings, key) ? data.strings[key] : key;
  if (!values) return raw;
  return raw.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole);
}

/** A translated error message for a server error `{code, message}` (server text as fallback). */
export function errorText(error) {
  if (!error) return t("error.unknown");
  const key = `error.${error.code}`;
  if (Object.prototype.hasOwnProperty.call(data.strings, key)) return t(key, error.details || {});
  return error.message || t("error.unknown");
}

const formats = new Map();
function formatter(kind, options) {
  const key = kind + JSON.stringify(options);
  let f = formats.get(key);
  if (!f) {
    f = kind === "number" ? new Intl.NumberFormat(languageTag, options)
      : new Intl.DateTimeFormat(languageTag, { timeZone, ...options });
    formats.set(key, f);
  }
  return f;
}

export function formatDateTime(value, style = "medium") {
  if (!value) return "";
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const options = style === "time" ? { hour: "2-digit", minute: "2-digit" }
    : style === "date" ? { dateStyle: "full" }
    : style === "short" ? { dateStyle: "short", timeStyle: "short" }
    : { dateStyle: "medium", timeStyle: "short" };
  return formatter("date", options).format(date);
}

export function formatNumber(value, options = {}) {
  return formatter("number", options).format(value);
}

export function formatPercent(fraction) {
  return formatter("number", { style: "percent", maximumFractionDigits: 1 }).format(fraction);
}

/** m:ss (or h:mm:ss), with a leading minus when over time. */
export function formatDuration(seconds) {
  const negative = seconds < 0;
  let s = Math.floor(Math.abs(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n) => String(n).padStart(2, "0");
  const body = h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  return (negative ? "−" : "") + body;
}

/** Re-format every <time datetime data-format> under `root` in the page's locale. */
export function localiseTimes(root = document) {
  for (const el of root.querySelectorAll("time[datetime][data-format]")) {
    const text = formatDateTime(el.getAttribute("datetime"), el.dataset.format);
    if (text) el.textContent = text;
  }
}
