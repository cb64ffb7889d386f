// The service worker's app shell: a tablet reloaded offline needs every module its page imports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";

const js = (name) => new URL(`../static/js/${name}`, import.meta.url);
const sw = readFileSync(js("sw.js"), "utf-8");
const shell = JSON.parse(sw.match(/const SHELL_FILES = (\[[^\]]*\]);/)[1].replace(/,\s*\]$/, "]"));

/** The modules a page script loads, itself included (static imports, followed). */
function closure(entry) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const text = readFileSync(js(name), "utf-8");
    for (const [, dep] of text.matchAll(/^import\s[^;]*?from\s+"\.\/([\w-]+\.js)";/gms)) visit(dep);
  };
  visit(entry);
  return seen;
}

test("the shell holds every module the tablet and the home page import", () => {
  for (const page of ["room.js", "home.js"]) {
    const modules = closure(page);
    assert.ok(modules.size > 2, `${page}: no imports found`);
    const absent = [...modules].filter((m) => !shell.includes(`/static/js/${m}`));
    assert.deepEqual(absent, [], `${page} imports modules the service worker does not keep`);
  }
});

test("every file the shell names exists", () => {
  const local = shell.filter((p) => p.startsWith("/static/") && !p.startsWith("/static/vendor/"));
  assert.ok(local.length > 10);
  const absent = local.filter((p) => !existsSync(new URL(`..${p}`, import.meta.url)));
  assert.deepEqual(absent, []);
});
