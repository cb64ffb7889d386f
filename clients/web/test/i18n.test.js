// The catalogs (i18n/vi.json, i18n/en.json): the same keys and placeholders in both languages,
// one language per string, and every key the scripts and templates ask for.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";

const here = (path) => new URL(`../${path}`, import.meta.url);
const read = (path) => readFileSync(here(path), "utf-8");
const catalogs = { vi: JSON.parse(read("i18n/vi.json")), en: JSON.parse(read("i18n/en.json")) };
const { vi, en } = catalogs;
const files = (dir, ext) => readdirSync(here(dir)).filter((f) => f.endsWith(ext)).map((f) => ({ name: `${dir}/${f}`, text: read(`${dir}/${f}`) }));
const scripts = files("static/js", ".js");
const templates = files("templates", ".html");

/** The placeholders of a string, as both t()s fill them (`{name}`), sorted. */
const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
// Vietnamese letters (with their diacritics) that English text never has.
const VIETNAMESE = /[ăâđêôơưĂÂĐÊÔƠƯàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]|[\u0300-\u036f]/;

describe("both catalogs", () => {
  test("have the same keys", () => {
    assert.deepEqual(Object.keys(vi).filter((k) => !(k in en)), [], "only in vi.json");
    assert.deepEqual(Object.keys(en).filter((k) => !(k in vi)), [], "only in en.json");
    assert.ok(Object.keys(vi).length > 100);
  });

  for (const [locale, strings] of Object.entries(catalogs)) {
    test(`${locale}: every value is a non-empty string, in NFC`, () => {
      const bad = Object.entries(strings).filter(([, v]) => typeof v !== "string" || !v.trim());
      assert.deepEqual(bad, []);
      assert.deepEqual(Object.keys(strings).filter((k) => strings[k].normalize("NFC") !== strings[k]), []);
    });

    test(`${locale}: braces only around placeholders (the server fills them with str.format_map)`, () => {
      const stray = Object.entries(strings).filter(([, v]) => /[{}]/.test(v.replace(/\{\w+\}/g, "")));
      assert.deepEqual(stray, []);
    });
  }

  test("each string has the same placeholders in both languages", () => {
    const differ = Object.keys(vi).filter((k) => k in en)
      .filter((k) => placeholders(vi[k]).join() !== placeholders(en[k]).join())
      .map((k) => ({ key: k, vi: vi[k], en: en[k] }));
    assert.deepEqual(differ, []);
  });

  test("no string carries its other language in brackets", () => {
    const found = [];
    for (const [key, text] of Object.entries(vi)) {
      for (const [, inside] of text.matchAll(/\(([^()]*)\)/g)) {
        // English words in brackets: plain ASCII words, one of them in lower case. Names of
        // formats and products (PDF, Word) and file extensions (.zip) are not translations.
        if (/^[A-Za-z][A-Za-z ,'-]*$/.test(inside) && /(^|[ ,])[a-z]/.test(inside)) found.push({ key, vi: text });
      }
    }
    for (const [key, text] of Object.entries(en)) {
      for (const [, inside] of text.matchAll(/\(([^()]*)\)/g)) {
        if (VIETNAMESE.test(inside)) found.push({ key, en: text });
      }
    }
    assert.deepEqual(found, []);
  });

  test("English strings have no Vietnamese in them", () => {
    assert.deepEqual(Object.entries(en).filter(([, v]) => VIETNAMESE.test(v)), []);
  });
});

describe("keys the pages use", () => {
  // t("key"), t('key', values) and t(`key`); not obj.t( or format(, nor t("prefix." + value).
  const literal = /(?<![\w.$])t\(\s*(["'`])([a-z0-9_.]+)\1\s*[,)]/g;
  // t(`prefix.${value}`) in the scripts, t("prefix." + value) in the templates.
  const dynamic = /(?<![\w.$])t\(\s*(?:`([a-z0-9_.]+)\$\{|(["'])([a-z0-9_.]+)\2\s*\+)/g;

  const used = (sources) => {
    const keys = new Map();
    for (const { name, text } of sources) {
      for (const m of text.matchAll(literal)) keys.set(m[2], name);
    }
    return keys;
  };
  const prefixes = (sources) => {
    const found = new Map();
    for (const { name, text } of sources) {
      for (const m of text.matchAll(dynamic)) found.set(m[1] || m[3], name);
    }
    return found;
  };
  const missing = (keys) => [...keys].filter(([key]) => !(key in vi)).map(([key, where]) => `${where}: ${key}`);

  test("every t(\"key\") in the scripts is in the catalog", () => {
    const keys = used(scripts);
    assert.ok(keys.size > 100, `only ${keys.size} keys found: is the pattern still right?`);
    assert.deepEqual(missing(keys), []);
  });

  test("every t(\"key\") in the templates is in the catalog", () => {
    const keys = used(templates);
    assert.ok(keys.size > 50, `only ${keys.size} keys found: is the pattern still right?`);
    assert.deepEqual(missing(keys), []);
  });

  test("keys handed to a helper that translates them are in the catalog", () => {
    // A literal shaped like a key whose namespace only the catalog uses, e.g. the labels
    // prepare.js passes to its button helper. Event and command names share the others.
    const protocol = new Set(["agenda", "attendance", "meeting", "presence", "present", "timer"]);
    const namespaces = new Set(Object.keys(vi).map((k) => k.split(".")[0]).filter((ns) => !protocol.has(ns)));
    const keys = new Map();
    for (const { name, text } of scripts) {
      for (const [, key] of text.matchAll(/["'`]([a-z_]+(?:\.[a-z0-9_]+)+)["'`]/g)) {
        if (namespaces.has(key.split(".")[0])) keys.set(key, name);
      }
    }
    assert.ok(keys.has("prepare.move_up"));
    assert.deepEqual(missing(keys), []);
  });

  test("every key completed at run time has strings under its prefix", () => {
    const found = new Map([...prefixes(scripts), ...prefixes(templates)]);
    assert.ok(found.size > 10, `only ${found.size} prefixes found: is the pattern still right?`);
    const empty = [...found].filter(([prefix]) => !Object.keys(vi).some((k) => k.startsWith(prefix)));
    assert.deepEqual(empty, []);
  });

  test("the values the client itself completes them with all have strings", () => {
    const source = (name) => [...scripts, ...templates].find((f) => f.name === name).text;
    const listed = (name, pattern) => {
      const m = source(name).match(pattern);
      assert.ok(m, `${name}: ${pattern} not found`);
      return [...m[1].matchAll(/["']([a-z_]+)["']/g)].map((x) => x[1]);
    };
    const link = source("static/js/link.js");
    const families = {
      // Every status the link reports, and the one it starts with.
      "conn.": [...link.matchAll(/setStatus\([^)]*?"([a-z]+)"/g), ...link.matchAll(/this\.status = "([a-z]+)"/g)].map((m) => m[1])
        .concat([...link.matchAll(/\? "([a-z]+)" : "([a-z]+)"/g)].flatMap((m) => [m[1], m[2]])),
      "majority.": listed("static/js/chair.js", /const MAJORITIES = \[([^\]]*)\]/),
      "vote.option.": listed("static/js/vote.js", /const KNOWN_OPTIONS = new Set\(\[([^\]]*)\]/),
      "attendance.status.": [...source("static/js/chair.js").matchAll(/mark\("([a-z]+)"\)/g)].map((m) => m[1]),
      "attendance.short.": [...source("static/js/chair.js").matchAll(/mark\("([a-z]+)"\)/g)].map((m) => m[1]),
      "speakers.": [...source("static/js/panels.js").matchAll(/\baction = "([a-z]+)"/g)].map((m) => m[1]),
      "colour.": [...source("templates/room.html").matchAll(/\("([a-z]+)", "#[0-9a-f]{6}"\)/g)].map((m) => m[1]),
    };
    assert.deepEqual(new Set(families["conn."]), new Set(["connecting", "live", "reconnecting", "offline"]));
    const absent = [];
    for (const [prefix, values] of Object.entries(families)) {
      assert.ok(values.length >= 2, `${prefix}: values not found in the source`);
      for (const value of values) if (!(`${prefix}${value}` in vi)) absent.push(`${prefix}${value}`);
    }
    assert.deepEqual(absent, []);
  });
});
