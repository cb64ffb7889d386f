// The JSON API: every body is sent as application/json (the server requires it, which also
// keeps cross-site forms from riding on the session cookie). Uploads go through XMLHttpRequest
// because fetch() cannot report upload progress.

export class ApiError extends Error {
  constructor(status, error) {
    super((error && error.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (error && error.code) || (status === 0 ? "network" : "http_error");
    this.details = error && error.details;
    this.error = error || { code: this.code, message: this.message };
  }
}

export async function api(method, url, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { code: "network", message: String(err) });
  }
  const type = response.headers.get("content-type") || "";
  const payload = type.includes("application/json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, payload && payload.error);
  return payload;
}

export const get = (url) => api("GET", url);
export const post = (url, body = {}) => api("POST", url, body);
export const patch = (url, body) => api("PATCH", url, body);
export const put = (url, body) => api("PUT", url, body);
export const del = (url) => api("DELETE", url);

/**
 * POST a FormData with upload progress: `onProgress(loaded, total)`.
 * Resolves with the JSON answer; rejects with ApiError. `abort()` on the returned handle cancels.
 */
export function upload(url, form, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open("POST", url);
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (onProgress) onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    });
    xhr.addEventListener("load", () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body && body.error));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { code: "network", message: "network error" })));
    xhr.addEventListener("abort", () => reject(new ApiError(0, { code: "aborted", message: "aborted" })));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}

/** A client id for a command: unique per user and command (8–64 of [A-Za-z0-9_.:-]). */
export function clientId(prefix = "c") {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return prefix + "-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
