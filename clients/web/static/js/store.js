// What a tablet keeps across reloads and network loss, in IndexedDB: the last known meeting
// state (so the page renders without the network) and the annotation outbox (operations made
// offline, sent in order on return). Falls back to memory where IndexedDB is unavailable.
// Signing out (or the session ending) forgets all of it, and the cached pages: forgetDevice().

const DB_NAME = "ecabinet";
const DB_VERSION = 1;
let opening = null;

function open() {
  if (!("indexedDB" in globalThis)) return Promise.resolve(null);
  if (!opening) {
    opening = new Promise((resolve) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains("kv")) db.createObjectStore("kv");
        if (!db.objectStoreNames.contains("outbox")) {
          db.createObjectStore("outbox", { keyPath: "key", autoIncrement: true });
        }
      };
      req.onsuccess = () => {
        // Another page deleting the database (forgetDevice) must not wait for this one.
        req.result.onversionchange = () => { req.result.close(); opening = null; };
        resolve(req.result);
      };
      req.onerror = () => resolve(null);
      req.onblocked = () => resolve(null);
    });
  }
  return opening;
}

function done(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

const memory = new Map();

export async function kvGet(key) {
  const db = await open();
  if (!db) return memory.get(key);
  try {
    return await done(db.transaction("kv").objectStore("kv").get(key));
  } catch {
    return undefined;
  }
}

export async function kvSet(key, value) {
  const db = await open();
  if (!db) {
    memory.set(key, value);
    return;
  }
  try {
    await done(db.transaction("kv", "readwrite").objectStore("kv").put(value, key));
  } catch {
    memory.set(key, value);
  }
}

export async function kvDelete(key) {
  const db = await open();
  memory.delete(key);
  if (db) await done(db.transaction("kv", "readwrite").objectStore("kv").delete(key));
}

// --- the outbox: queued operations in insertion order -------------------------------------

const memoryOutbox = [];
let memoryKey = 1;

export async function outboxAdd(entry) {
  const db = await open();
  if (!db) {
    const item = { ...entry, key: memoryKey++ };
    memoryOutbox.push(item);
    return item.key;
  }
  return done(db.transaction("outbox", "readwrite").objectStore("outbox").add(entry));
}

export async function outboxAll(filter) {
  const db = await open();
  const all = db ? await done(db.transaction("outbox").objectStore("outbox").getAll())
    : [...memoryOutbox];
  return filter ? all.filter(filter) : all;
}

export async function outboxDelete(key) {
  const db = await open();
  if (!db) {
    const i = memoryOutbox.findIndex((e) => e.key === key);
    if (i >= 0) memoryOutbox.splice(i, 1);
    return;
  }
  await done(db.transaction("outbox", "readwrite").objectStore("outbox").delete(key));
}

export async function outboxPut(entry) {
  const db = await open();
  if (!db) {
    const i = memoryOutbox.findIndex((e) => e.key === entry.key);
    if (i >= 0) memoryOutbox[i] = entry;
    return;
  }
  await done(db.transaction("outbox", "readwrite").objectStore("outbox").put(entry));
}

// --- forgetting ----------------------------------------------------------------------------

/**
 * Forget everything this device keeps for the person signed in: the IndexedDB database (the
 * last known meeting state with their private annotations, the outbox), the service worker's
 * caches (page images and text, pages, document status) and the offline-pack markers. Called
 * before the sign-in page is shown, on sign-out and when the session ends elsewhere.
 */
export async function forgetDevice() {
  memory.clear();
  memoryOutbox.length = 0;
  if (opening) {
    const db = await opening;
    if (db) db.close();
    opening = null;
  }
  if ("indexedDB" in globalThis) {
    await new Promise((resolve) => {
      const req = indexedDB.deleteDatabase(DB_NAME);
      req.onsuccess = () => resolve();
      req.onerror = () => resolve();
      // Other pages close their connections on "versionchange"; the deletion then completes.
      req.onblocked = () => resolve();
    });
  }
  if ("caches" in globalThis) {
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith("ecabinet-")).map((n) => caches.delete(n)));
  }
  try {
    for (const key of Object.keys(globalThis.localStorage || {})) {
      if (key.startsWith("pack:")) globalThis.localStorage.removeItem(key);
    }
  } catch {
    // Storage disabled: nothing was kept there.
  }
}
