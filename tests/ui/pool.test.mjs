import { test } from "node:test";
import "./english.mjs";
import assert from "node:assert/strict";

import { poolAdvice, ReuseHistory, SMTP_COUNTERS, smtpCounter, smtpFailures, smtpFailureDetail, mergeStats } from "../../ui/lib/pool.js";
import { GROUPS, getPath, setPath, describeDefault, parseField } from "../../ui/lib/settings.js";
import { messageDocument, messagePolicy } from "../../ui/lib/sandbox.js";

const base = { total_created: 10, total_reused: 90, connection_waits: 0, wait_timeouts: 0, max_per_account: 1, max_total: 50 };

test("no advice when nothing waited", () => {
  assert.equal(poolAdvice(base), null);
  assert.equal(poolAdvice(null), null);
});

test("wait timeouts are a warning that says what to change", () => {
  const advice = poolAdvice({ ...base, wait_timeouts: 3 });
  assert.equal(advice.level, "warning");
  assert.match(advice.title, /3 requests gave up waiting/);
  assert.match(advice.text, /Connections per account/);
  assert.match(advice.text, /lower the concurrency/);
  assert.match(poolAdvice({ ...base, wait_timeouts: 1 }).title, /^1 request gave/);
});

test("frequent waits get a gentler hint; rare ones none", () => {
  assert.equal(poolAdvice({ ...base, connection_waits: 30 }).level, "hint");
  assert.equal(poolAdvice({ ...base, connection_waits: 5 }), null);
  assert.equal(poolAdvice({ ...base, total_reused: 1000, connection_waits: 30 }), null);
});

test("the reuse chart keeps per-sample increments and a bounded history", () => {
  const h = new ReuseHistory(3);
  h.push({ total_created: 2, total_reused: 0 }, 1);
  h.push({ total_created: 3, total_reused: 5 }, 2);
  assert.deepEqual(h.samples.map((s) => [s.created, s.reused]), [[2, 0], [1, 5]]);
  h.push({ total_created: 3, total_reused: 9 }, 3);
  h.push({ total_created: 4, total_reused: 9 }, 4);
  assert.equal(h.samples.length, 3, "oldest dropped");
  assert.equal(h.reuseRatio(), 9 / 11);
  h.push({ total_created: 0, total_reused: 1 }, 5);
  assert.deepEqual(h.samples.at(-1), { time: 5, created: 0, reused: 0 }, "a restarted engine starts a new baseline");
});

const sending = {
  smtp_connections_created: 2,
  smtp_connections_reused: 1234,
  smtp_messages_sent: 1236,
  smtp_messages_per_connection: 618,
  smtp_refused: 1,
  smtp_deferred: 2,
  smtp_signin_failures: 0,
  smtp_connection_failures: 3,
};

test("the sending counters read as numbers, with failures summed over their kinds", () => {
  assert.equal(smtpCounter(sending, "smtp_connections_reused"), "1,234");
  assert.equal(smtpCounter(sending, "smtp_messages_per_connection"), "618.0");
  assert.equal(smtpCounter({ smtp_messages_per_connection: 2.345 }, "smtp_messages_per_connection"), "2.3");
  assert.equal(smtpCounter({}, "smtp_retries"), "0", "a counter the engine did not send is zero");
  assert.equal(smtpFailures(sending), 6);
  assert.equal(smtpCounter(sending, "smtp_failures"), "6");
  assert.equal(smtpFailureDetail(sending), "1 refused · 2 deferred · 3 connection", "only the kinds that happened");
  assert.equal(smtpFailureDetail({}), "");
  for (const key of ["smtp_connections_created", "smtp_connections_reused", "smtp_connections_open", "smtp_messages_sent", "smtp_messages_per_connection", "smtp_rate_waits", "smtp_retries", "smtp_wait_timeouts", "smtp_failures"]) {
    assert.ok(SMTP_COUNTERS.some(([k, label]) => k === key && label), `${key} is on the panel`);
  }
});

test("a pushed pool event keeps the sending counters of the last full snapshot", () => {
  const full = { ...base, ...sending };
  const pushed = { kind: "pool-stats", total_created: 11, total_reused: 95 };
  const merged = mergeStats(full, pushed);
  assert.equal(merged.total_created, 11, "the pool's own counters are the pushed ones");
  assert.equal(merged.smtp_messages_sent, 1236, "the pushed event has no sending counters, so they stay");
  assert.equal(mergeStats(full, { ...pushed, smtp_messages_sent: 1237 }).smtp_messages_sent, 1237, "a full snapshot replaces them");
  assert.equal(merged.wait_timeouts, undefined, "only sending counters are carried over");
  assert.deepEqual(mergeStats(null, pushed), pushed);
});

test("every setting has a label, a one-line help and a known kind", () => {
  const keys = new Set();
  for (const group of GROUPS) {
    for (const f of group.fields) {
      assert.ok(f.label && f.help && !f.help.includes("\n"), f.key);
      assert.ok(["int", "number", "secs", "bool", "choice", "address"].includes(f.kind), f.key);
      // The Local API's address applies the next time the API is turned on, not at a restart.
      const restarts = f.key.startsWith("config.") && f.key !== "config.api.listen";
      assert.equal(Boolean(f.restart), restarts, `${f.key}: the engine's limits, and only they, need a restart`);
      assert.ok(f.key.startsWith("config.") || f.key.startsWith("app."), f.key);
      assert.ok(!keys.has(f.key), `duplicate ${f.key}`);
      keys.add(f.key);
    }
  }
  for (const required of ["config.pool.maxPerAccount", "config.pool.maxTotal", "config.pool.waitTimeout", "config.pool.idleTtl", "config.pool.maxAge", "config.watch.pollInterval", "app.notifications", "app.autoCopy", "app.startMinimised", "app.launchAtLogin"]) {
    assert.ok(keys.has(required), `${required} is in Settings`);
  }
});

test("settings paths read and write without touching the original", () => {
  const values = { config: { pool: { maxTotal: 50 } }, app: { autoCopy: false } };
  const next = setPath(values, "config.pool.maxTotal", 10);
  assert.equal(getPath(next, "config.pool.maxTotal"), 10);
  assert.equal(getPath(values, "config.pool.maxTotal"), 50);
  assert.equal(getPath(values, "config.nothing.here"), undefined);
});

test("form values are checked and typed, with errors in words that give the range and unit", () => {
  const int = { label: "settings.pool.maxTotal", kind: "int", min: 1, max: 1000, unit: "unit.connections" };
  assert.deepEqual(parseField(int, "25"), { value: 25 });
  assert.equal(parseField(int, "2.5").error, "Connections overall needs a whole number from 1 to 1,000.");
  assert.equal(parseField(int, "0").error, "Connections overall must be from 1 to 1,000 connections.");
  assert.match(parseField(int, "").error, /needs a number/);
  const secs = { label: "settings.pool.waitTimeout", kind: "secs", min: 1, max: 600 };
  assert.deepEqual(parseField(secs, "1.5"), { value: 1.5 });
  assert.equal(parseField(secs, "601").error, "Wait timeout must be from 1 to 600 s.");
  assert.equal(parseField({ label: "settings.watch.pollConcurrency", kind: "int", min: 1, max: 100 }, "0").error, "Polls at once must be from 1 to 100.");
  assert.deepEqual(parseField({ label: "On", kind: "bool" }, true), { value: true });
  assert.equal(describeDefault({ kind: "secs" }, 30), "30 s");
  assert.equal(describeDefault({ kind: "int", unit: "unit.messages" }, 20), "20 messages");
  assert.equal(describeDefault({ kind: "int", unit: "unit.connections" }, 1), "1 connection", "the unit agrees with its number");
  assert.equal(describeDefault({ kind: "bool" }, false), "off");
  const address = { label: "settings.api.listen", kind: "address" };
  for (const ok of ["127.0.0.1:7878", " 127.1.2.3:1 ", "[::1]:65535"]) assert.deepEqual(parseField(address, ok), { value: ok.trim() });
  for (const bad of ["0.0.0.0:7878", "192.168.1.5:7878", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.300:80", "localhost:7878", ""]) {
    assert.equal(parseField(address, bad).error, "Address needs a loopback address and a port, such as 127.0.0.1:7878.", bad);
  }
  assert.equal(describeDefault(address, "127.0.0.1:7878"), "127.0.0.1:7878");
});

test("the message document blocks remote content unless images are allowed", () => {
  assert.doesNotMatch(messagePolicy(false), /https:/);
  assert.match(messagePolicy(true), /img-src data: cid: https: http:/);
  assert.match(messagePolicy(true), /default-src 'none'/, "scripts and everything else stay blocked");
  const doc = messageDocument({ html: null, text: "<script>alert(1)</script> code 1234" });
  assert.ok(!doc.includes("<script>alert"), "text bodies are escaped");
  assert.match(doc, /&lt;script&gt;/);
  assert.match(messageDocument({ html: "<b>hi</b>" }), /<body><b>hi<\/b><\/body>/);
});
