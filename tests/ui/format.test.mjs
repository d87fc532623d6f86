// Unit tests for the window's pure logic, run with node's test runner: node --test tests/ui
import { test } from "node:test";
import "./english.mjs";
import assert from "node:assert/strict";

import { age, countdown, progressLine, sentence, providerName } from "../../ui/lib/format.js";
import { visibleRange, scrollToReveal } from "../../ui/lib/virtual.js";
import { displayStatus, filterAccounts, countByStatus, statusAdvice, groupsOf, tagsOf, parseTags, tagChanges, parseTagEdit, NO_GROUP } from "../../ui/lib/accounts.js";

test("ages read like a person would say them (Intl's narrow relative times)", () => {
  const now = 1_000_000 * 1000;
  assert.equal(age(null, now), "never");
  assert.equal(age(1_000_000, now), "just now");
  assert.equal(age(1_000_000 - 42, now), "42s ago");
  assert.equal(age(1_000_000 - 5 * 60, now), "5m ago");
  assert.equal(age(1_000_000 - 3 * 3600, now), "3h ago");
  assert.equal(age(1_000_000 - 3 * 86400, now), "3d ago");
  assert.equal(age(1_000_000 + 30, now), "just now", "a clock slightly ahead is not the future");
});

test("countdowns are m:ss and never negative", () => {
  assert.equal(countdown(120), "2:00");
  assert.equal(countdown(65), "1:05");
  assert.equal(countdown(8.2), "0:09");
  assert.equal(countdown(-3), "0:00");
});

test("progress shows done/total, rate and ETA", () => {
  assert.equal(progressLine({ done: 120, total: 1000, rate: 45.2, etaSecs: 19.5 }), "120 / 1,000 · 45/s · about 20 s left");
  assert.equal(progressLine({ done: 5, total: 10, rate: 0.5, etaSecs: 600 }), "5 / 10 · 0.5/s · about 10 min left");
  assert.equal(progressLine({ done: 10, total: 10, rate: 3, etaSecs: 0 }), "10 / 10 · 3.0/s");
});

test("engine clauses become sentences", () => {
  assert.equal(sentence("cannot open the cache"), "Cannot open the cache.");
  assert.equal(sentence("Already a sentence!"), "Already a sentence!");
  assert.equal(sentence("  "), "");
  assert.equal(providerName("outlook"), "Outlook");
});

test("only the rows in view (plus overscan) are rendered, even for 10,000 accounts", () => {
  const { start, end } = visibleRange(40_000, 600, 40, 10_000, 8);
  assert.equal(start, 992);
  assert.equal(end, 1000 + 16 + 8);
  assert.ok(end - start < 50, "a screenful, not the whole list");
  assert.deepEqual(visibleRange(0, 600, 40, 0), { start: 0, end: 0 });
  assert.deepEqual(visibleRange(10_000_000, 600, 40, 3), { start: 0, end: 3 }, "scrolled past the end after a filter");
});

test("keyboard selection scrolls only when the row is out of view", () => {
  assert.equal(scrollToReveal(5, 0, 400, 40), null);
  assert.equal(scrollToReveal(20, 0, 400, 40), 20 * 40 + 40 - 400);
  assert.equal(scrollToReveal(2, 400, 400, 40), 80);
});

const rows = [
  { email: "ann@outlook.com", provider: "outlook", status: "ok", watching: true, lastCode: { service: "GitHub" } },
  { email: "bob@gmail.com", provider: "gmail", status: "needs-reauth", watching: false },
  { email: "cy@corp.example", provider: "imap", status: "error", watching: false },
  { email: "dee@outlook.com", provider: "outlook", status: "ok", watching: false },
];

test("a fine, watched account shows as watching; unknown statuses show as errors", () => {
  assert.equal(displayStatus(rows[0]), "watching");
  assert.equal(displayStatus(rows[3]), "ok");
  assert.equal(displayStatus({ status: "weird" }), "error");
  // A throttled account shows as such, watched or not: Mailwatch is leaving it alone for now.
  assert.equal(displayStatus({ status: "throttled", watching: true }), "throttled");
  assert.match(statusAdvice({ status: "throttled" }), /leaves it alone/);
  assert.match(statusAdvice(rows[1]), /refresh token/);
});

test("search matches every word in the address, provider or last service", () => {
  assert.deepEqual(filterAccounts(rows, "outlook").map((r) => r.email), ["ann@outlook.com", "dee@outlook.com"]);
  assert.deepEqual(filterAccounts(rows, "github").map((r) => r.email), ["ann@outlook.com"]);
  assert.deepEqual(filterAccounts(rows, "OUTLOOK dee").map((r) => r.email), ["dee@outlook.com"]);
  assert.equal(filterAccounts(rows, "").length, 4);
});

test("filters by status, where ok includes watched accounts", () => {
  assert.deepEqual(filterAccounts(rows, "", "watching").map((r) => r.email), ["ann@outlook.com"]);
  assert.deepEqual(filterAccounts(rows, "", "ok").map((r) => r.email), ["ann@outlook.com", "dee@outlook.com"]);
  assert.deepEqual(filterAccounts(rows, "", "needs-reauth").map((r) => r.email), ["bob@gmail.com"]);
  assert.deepEqual(countByStatus(rows), { all: 4, watching: 1, ok: 2, "needs-reauth": 1, throttled: 0, error: 1 });
});

test("accounts filter by group and tag, and the search finds them too", () => {
  const rows = [
    { email: "a@x.com", group: "shop-1", tags: ["vip", "new"] },
    { email: "b@x.com", group: "shop-2", tags: ["new"] },
    { email: "c@x.com", tags: [] },
    { email: "d@x.com", group: "shop-1" },
  ];
  const emails = (list) => list.map((r) => r.email);
  assert.deepEqual(groupsOf(rows), ["shop-1", "shop-2"]);
  assert.deepEqual(tagsOf(rows), ["new", "vip"]);
  assert.deepEqual(emails(filterAccounts(rows, "", "all", "shop-1")), ["a@x.com", "d@x.com"]);
  assert.deepEqual(emails(filterAccounts(rows, "", "all", NO_GROUP)), ["c@x.com"], "accounts in no group");
  assert.deepEqual(emails(filterAccounts(rows, "", "all", "", "new")), ["a@x.com", "b@x.com"]);
  assert.deepEqual(emails(filterAccounts(rows, "", "all", "shop-1", "new")), ["a@x.com"], "group and tag together");
  assert.deepEqual(emails(filterAccounts(rows, "vip")), ["a@x.com"], "the search looks at tags");
  assert.deepEqual(emails(filterAccounts(rows, "shop-2")), ["b@x.com"], "and at the group");
});

test("tags are read comma-separated, and a leading minus removes one from a selection", () => {
  assert.deepEqual(parseTags(" shop, #work,, shop ,"), ["shop", "work"]);
  assert.deepEqual(parseTags(""), []);
  assert.deepEqual(tagChanges(["old", "keep"], "keep, new"), { add: ["new"], remove: ["old"] });
  assert.deepEqual(tagChanges(undefined, "a"), { add: ["a"], remove: [] });
  assert.deepEqual(parseTagEdit("a, -b, - #c, -"), { add: ["a"], remove: ["b", "c"] });
});
