// Signing out leaves nothing of the meeting on the tablet: before the sign-in page is shown, the
// device forgets its stored state, private annotations and cached pages (store.js), and the
// server's answer to the sign-out form (Clear-Site-Data) empties the browser's own HTTP cache.

import { forgetDevice } from "./store.js";

const FORMS = 'form[action="/signout"]';

/** Make the sign-out buttons forget the device first. */
export function guardSignOut(root = document) {
  for (const form of root.querySelectorAll(FORMS)) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      forgetDevice().catch(() => null).finally(() => form.submit());
    });
  }
}

/**
 * The session ended (signed out everywhere, on another device or by an admin): forget the
 * device, then sign out here too, which ends on the sign-in page.
 */
export async function signedOut(next = window.location.pathname) {
  await forgetDevice().catch(() => null);
  const form = document.querySelector(FORMS);
  if (form) {
    form.submit(); // submit() skips the submit listeners: no second forgetting
    return;
  }
  window.location.assign(`/signin?next=${encodeURIComponent(next)}`);
}
