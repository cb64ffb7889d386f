// "My meetings": dates in the reader's locale, and the offline helper registered early so the
// app shell is cached before the first meeting is opened.
import { localiseTimes } from "./i18n.js";
import { registerServiceWorker } from "./offline.js";
import { guardSignOut } from "./signout.js";

localiseTimes();
registerServiceWorker();
guardSignOut();
