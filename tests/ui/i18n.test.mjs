// The message catalogues against the code: every key used exists in every catalogue, no
// catalogue has keys nothing uses, the catalogues agree on keys and placeholders, every error
// code the app can send has a sentence, and no view sets visible text that does not come from
// a catalogue. Run with: node --test tests/ui
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { setCatalogue, t, pickLocale } from "../../ui/lib/i18n.js";
import { age, progressLine } from "../../ui/lib/format.js";
import { errorText, lineReason } from "../../ui/lib/errors.js";

const root = join(fileURLToPath(import.meta.url), "../../..");
const read = (path) => readFileSync(join(root, path), "utf8");

function files(dir, ending) {
  const out = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...files(path, ending));
    else if (path.endsWith(ending)) out.push(path);
  }
  return out;
}

const catalogueFiles = files("ui/i18n", ".json");
const catalogues = Object.fromEntries(catalogueFiles.map((path) => [path.replace(/^.*\/|\.json$/g, ""), JSON.parse(read(path))]));
const languages = Object.keys(catalogues);
const english = catalogues.en;
const namespaces = new Set(Object.keys(english).map((key) => key.split(".")[0]));

/** Source without comments, so a key or a sentence in a comment counts for nothing. */
function code(path) {
  const text = read(path);
  if (path.endsWith(".html")) return text.replace(/<!--[\s\S]*?-->/g, "");
  // Rust: the tests at the bottom of a file do not make a key used.
  const body = path.endsWith(".rs") ? text.split("#[cfg(test)]")[0] : text;
  return body.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

const uiJs = files("ui", ".js");
const shellRs = files("src-tauri/src", ".rs");
const KEY = /^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9_-]+)+$/;

/** Every key the window and the shell name literally, with where. */
function usedKeys() {
  const used = new Map();
  const add = (key, where) => used.set(key, [...(used.get(key) ?? []), where]);
  for (const path of [...uiJs, ...shellRs]) {
    for (const [, key] of code(path).matchAll(/["'`]([^"'`\s$]+)["'`]/g)) {
      if (KEY.test(key) && namespaces.has(key.split(".")[0])) add(key, path);
    }
  }
  for (const [, key] of code("ui/index.html").matchAll(/data-i18n(?:-[a-z-]+)?="([^"]+)"/g)) add(key, "ui/index.html");
  return used;
}

/** The error codes the engine and the shell can send to the window. */
function errorCodes() {
  const codes = new Set();
  for (const [, c] of code("src-tauri/engine/src/error.rs").matchAll(/=>\s*"([a-z_]+)"/g)) codes.add(c);
  for (const path of shellRs) {
    for (const [, c] of code(path).matchAll(/(?:ApiError|Self)::new\(\s*"([a-z_]+)"/g)) codes.add(c);
  }
  for (const [, c] of code("ui/ipc.js").matchAll(/new ApiError\("([a-z_]+)"/g)) codes.add(c);
  return codes;
}

/** The codes of the reasons an import line can be refused for. */
function importCodes() {
  const codes = new Set();
  for (const path of files("src-tauri/engine/src/import", ".rs")) {
    for (const [, c] of code(path).matchAll(/Problem::new\(\s*"([a-z_]+)"/g)) codes.add(c);
  }
  return codes;
}

const placeholders = (message) => {
  const text = typeof message === "object" ? Object.values(message).join(" ") : String(message);
  return [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
};

test("there are English, Simplified and Traditional Chinese catalogues", () => {
  for (const l of ["en", "zh-CN", "zh-TW"]) assert.ok(languages.includes(l), `no ${l}; catalogues found: ${catalogueFiles.join(", ")}`);
  assert.ok(Object.keys(english).length > 300, `the English catalogue has only ${Object.keys(english).length} keys`);
});

test("every key the code uses is in every catalogue", () => {
  const used = usedKeys();
  assert.ok(used.size > 300, `only ${used.size} keys found in the code; the scan is broken`);
  for (const language of languages) {
    const missing = [...used].filter(([key]) => !(key in catalogues[language])).map(([key, where]) => `${key} (${[...new Set(where)].join(", ")})`);
    assert.deepEqual(missing, [], `keys used but missing from ${language}.json:\n  ${missing.join("\n  ")}`);
  }
});

test("no catalogue has keys nothing uses", () => {
  const used = usedKeys();
  const codes = errorCodes();
  const unused = Object.keys(english).filter((key) => {
    const [space, ...rest] = key.split(".");
    if (space === "errors" || space === "errorTitles") return !codes.has(rest.join("."));
    if (space === "import" && rest[0] === "reason") return !importCodes().has(rest.slice(1).join("."));
    return !used.has(key);
  });
  assert.deepEqual(unused, [], `keys in en.json that no code uses:\n  ${unused.join("\n  ")}`);
});

test("the catalogues have the same keys and the same placeholders", () => {
  for (const language of languages) {
    const other = catalogues[language];
    const onlyEnglish = Object.keys(english).filter((k) => !(k in other));
    const onlyOther = Object.keys(other).filter((k) => !(k in english));
    assert.deepEqual(onlyEnglish, [], `keys in en.json but not in ${language}.json:\n  ${onlyEnglish.join("\n  ")}`);
    assert.deepEqual(onlyOther, [], `keys in ${language}.json but not in en.json:\n  ${onlyOther.join("\n  ")}`);
    // An error's sentence may name any detail the shell sends (English shows the engine's
    // own sentence, {detail}); every other message names the same things in every language.
    const ERROR_ARGS = ["address", "detail", "email", "endpoint", "folder", "path", "proxy", "reason", "secs"];
    const badError = Object.keys(other)
      .filter((k) => k.startsWith("errors.") && placeholders(other[k]).some((p) => !ERROR_ARGS.includes(p)))
      .map((k) => `${k}: {${placeholders(other[k])}}`);
    assert.deepEqual(badError, [], `error sentences naming a detail the shell never sends (${ERROR_ARGS}):\n  ${badError.join("\n  ")}`);
    const differ = Object.keys(english)
      .filter((k) => !k.startsWith("errors.") && placeholders(english[k]).join() !== placeholders(other[k]).join())
      .map((k) => `${k}: en {${placeholders(english[k])}} ${language} {${placeholders(other[k])}}`);
    assert.deepEqual(differ, [], `placeholders differ:\n  ${differ.join("\n  ")}`);
    const noOther = Object.entries(other).filter(([, m]) => typeof m === "object" && typeof m.other !== "string").map(([k]) => k);
    assert.deepEqual(noOther, [], `plural messages without an "other" form in ${language}.json: ${noOther.join(", ")}`);
  }
});

test("Chinese messages are translated, not English copied over", () => {
  // Names that stay as they are in any language.
  const names = /\b(IMAP|SMTP|OAuth2?|STARTTLS|TLS|Outlook|Gmail|JSON|CSV|TSV|IDLE|Mailwatch|Ctrl|Enter|Alt|Delete|Esc|SMTP\.Send)\b/g;
  for (const language of ["zh-CN", "zh-TW"]) {
    const copied = Object.entries(catalogues[language])
      .filter(([key, m]) => {
        const text = (typeof m === "object" ? Object.values(m).join(" ") : m).replace(/\{\w+\}/g, "").replace(names, "");
        return /[A-Za-z]{3,}/.test(text) && !/[\u4e00-\u9fff]/.test(text) && !key.startsWith("errors.");
      })
      .map(([key, m]) => `${key}: ${JSON.stringify(m)}`);
    assert.deepEqual(copied, [], `${language} messages that are still English:\n  ${copied.join("\n  ")}`);
  }
  // Traditional is not Simplified with another name: a few characters that differ.
  const simplified = Object.entries(catalogues["zh-TW"]).filter(([, m]) => /[账户设邮验码连会]/.test(JSON.stringify(m))).map(([k]) => k);
  assert.deepEqual(simplified, [], `zh-TW messages in Simplified characters: ${simplified.join(", ")}`);
});

test("every reason an import line can be refused for has a sentence", () => {
  const codes = [...importCodes()];
  assert.ok(codes.length > 15, `only ${codes.length} import reasons found; the scan is broken`);
  const missing = codes.filter((c) => !(`import.reason.${c}` in english));
  assert.deepEqual(missing, [], `import reasons without import.reason.<code> in the catalogues: ${missing.join(", ")}`);
});

test("every error code the app can send has a sentence and a fallback", () => {
  const codes = [...errorCodes()];
  assert.ok(codes.length > 30, `only ${codes.length} error codes found; the scan is broken`);
  const missing = codes.filter((c) => !(`errors.${c}` in english));
  assert.deepEqual(missing, [], `error codes without errors.<code> in the catalogues: ${missing.join(", ")}`);
  setCatalogue("zh-CN", catalogues["zh-CN"], english);
  const timedOut = errorText({ code: "wait_timed_out", message: "no verification code arrived for a@b.c within 120 s", args: { email: "a@b.c", secs: "120" } });
  assert.match(timedOut, /a@b\.c/, `the Chinese sentence names the account: ${timedOut}`);
  assert.match(timedOut, /[\u4e00-\u9fff]/, `and is Chinese: ${timedOut}`);
  const unknown = errorText({ code: "brand_new_code", message: "cannot do the new thing" });
  assert.equal(unknown, "Cannot do the new thing.", "an unknown code falls back to the English message");
  const noArgs = errorText({ code: "wait_timed_out", message: "no verification code arrived" });
  assert.equal(noArgs, "No verification code arrived.", "a sentence whose details did not come falls back too");
  setCatalogue("en", english);
});

test("plurals, numbers and relative times follow the locale", () => {
  setCatalogue("en", english);
  assert.equal(t("accounts.count", { count: 1 }), "1 account");
  assert.equal(t("accounts.count", { count: 10000 }), "10,000 accounts");
  assert.equal(age(1_000 - 5 * 60, 1_000_000), "5m ago");
  assert.equal(progressLine({ done: 120, total: 1000, rate: 45.2, etaSecs: 19.5 }), "120 / 1,000 · 45/s · about 20 s left");
  setCatalogue("zh-CN", catalogues["zh-CN"], english);
  assert.equal(t("accounts.count", { count: 10000 }), "10,000 个账户");
  assert.equal(age(1_000 - 5 * 60, 1_000_000), "5分钟前");
  assert.equal(age(1_000 - 3 * 86400, 1_000_000), "3天前");
  setCatalogue("en", english);
  assert.equal(pickLocale("", ["zh-TW", "en"]), "zh-TW");
  assert.equal(pickLocale("", ["zh-Hant-HK"]), "zh-TW");
  assert.equal(pickLocale("", ["zh"]), "zh-CN");
  assert.equal(pickLocale("en", ["zh-CN"]), "en", "a choice made in Settings wins");
  assert.equal(pickLocale("", ["fr-FR"]), "en");
});

test("no view sets visible text that is not from the catalogue", () => {
  const found = [];
  const letters = (s) => /[A-Za-z\u4e00-\u9fff]{2,}/.test(s.replace(/\$\{[^}]*\}/g, ""));
  for (const path of uiJs) {
    if (path.startsWith("ui/i18n/")) continue;
    const lines = code(path).split("\n");
    lines.forEach((line, i) => {
      const where = `${relative(".", path)}:${i + 1}: ${line.trim()}`;
      // Assignments of visible text or attributes from a literal.
      for (const m of line.matchAll(/\.(textContent|innerText|innerHTML|title|placeholder|ariaLabel)\s*=\s*(["'`])((?:(?!\2).)*)\2/g)) {
        if (letters(m[3])) found.push(where);
      }
      for (const m of line.matchAll(/setAttribute\(\s*["'](aria-label|title|placeholder|alt)["']\s*,\s*(["'`])((?:(?!\2).)*)\2/g)) {
        if (letters(m[3])) found.push(where);
      }
      // English words in any string literal: a capital and a second word, or a sentence.
      for (const m of line.matchAll(/(["'`])((?:(?!\1).)*)\1/g)) {
        const text = m[2].replace(/\$\{[^}]*\}/g, "");
        if (/^[A-Z][a-z]+[ ,][a-z]+/.test(text) || /\b[a-z]+ [a-z]+ [a-z]+\b.*[.…]$/.test(text)) found.push(where);
      }
    });
  }
  // index.html: text and visible attributes only where data-i18n puts them, or marked
  // translate="no" (names such as Mailwatch, CSV, JSON).
  const html = code("ui/index.html").replace(/<(script|style)[\s\S]*?<\/\1>/g, "");
  const stack = [];
  const VOID = new Set(["meta", "link", "input", "br", "img", "hr", "source"]);
  for (const m of html.matchAll(/<!(?:[^>]*)>|<(\/?)([a-zA-Z0-9]+)([^>]*)>|([^<]+)/g)) {
    if (m[0].startsWith("<!")) continue;
    const [, close, name, attrs, text] = m;
    if (text !== undefined) {
      const parent = stack.at(-1);
      if (letters(text) && !(parent?.i18n || stack.some((e) => e.skip))) found.push(`ui/index.html: text ${JSON.stringify(text.trim())} in <${parent?.name}>`);
      continue;
    }
    if (close) {
      stack.pop();
      continue;
    }
    const el = { name, i18n: /\bdata-i18n="/.test(attrs), skip: /\btranslate="no"/.test(attrs) };
    for (const a of attrs.matchAll(/\s(title|placeholder|aria-label|alt)="([^"]*)"/g)) {
      if (letters(a[2]) && !el.skip) found.push(`ui/index.html: ${a[1]}=${JSON.stringify(a[2])} on <${name}>`);
    }
    if (!VOID.has(name.toLowerCase()) && !attrs.trim().endsWith("/")) stack.push(el);
  }
  assert.deepEqual(found, [], `visible text outside the catalogue:\n  ${found.join("\n  ")}`);
});

test("an import line's reason is said in the language in force, from its code and details", () => {
  setCatalogue("zh-CN", catalogues["zh-CN"], english);
  const dup = { line: 8, code: "duplicate", args: { first: "2" }, reason: "duplicate of line 2" };
  assert.equal(lineReason(dup), "与第 2 行重复。");
  const keyring = { line: 3, code: "keyring_locked", reason: "the keyring is locked" };
  assert.equal(lineReason(keyring), errorText({ code: "keyring_locked", message: "the keyring is locked" }), "an engine error's code reads as that error");
  setCatalogue("en", english);
  assert.equal(lineReason(dup), "Duplicate of line 2.");
  assert.equal(lineReason({ line: 1, code: "brand_new", reason: "something new went wrong" }), "Something new went wrong.", "an unknown code falls back to the reason");
});

