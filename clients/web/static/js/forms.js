// Form helpers shared by the preparation pages.

import { h } from "./dom.js";
import { get } from "./api.js";

/** A datetime-local value ("2025-03-01T09:00") as an ISO instant in the browser's zone. */
export function localToIso(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** An ISO instant as a datetime-local value in the browser's zone. */
export function isoToLocal(value) {
  if (!value) return "";
  const d = new Date(value);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export async function fillBodies(select, chosen) {
  try {
    const { bodies } = await get("/api/bodies");
    for (const body of bodies) select.append(h("option", { value: body.id }, body.name));
    if (chosen) select.value = String(chosen);
    return bodies;
  } catch {
    return [];
  }
}

