import { test } from "node:test";
import "./english.mjs";
import assert from "node:assert/strict";

import { parseRecipients, addressOf, sentTo, forwardDraft, sendFailure } from "../../ui/lib/compose.js";

test("the To field splits on commas, semicolons and lines, dropping blanks and repeats", () => {
  assert.deepEqual(parseRecipients("ann@example.com, bob@example.org;carl@example.net\ndee@example.com,,"), {
    addresses: ["ann@example.com", "bob@example.org", "carl@example.net", "dee@example.com"],
    invalid: [],
  });
  assert.deepEqual(parseRecipients(" Ann@Example.com , ann@example.com "), { addresses: ["Ann@Example.com"], invalid: [] });
  assert.deepEqual(parseRecipients("   "), { addresses: [], invalid: [] });
});

test("a named address stays whole, even with a comma in its quoted name", () => {
  assert.deepEqual(parseRecipients('"Doe, Ann" <ann@example.com>, Bob <bob@example.org>').addresses, [
    '"Doe, Ann" <ann@example.com>',
    "Bob <bob@example.org>",
  ]);
  assert.equal(addressOf("Bob <bob@example.org>"), "bob@example.org");
});

test("what is not an address is reported as it was typed", () => {
  assert.deepEqual(parseRecipients("ann@example.com, bob, carl @example.net, <>"), {
    addresses: ["ann@example.com"],
    invalid: ["bob", "carl @example.net", "<>"],
  });
  assert.equal(addressOf("ann@@example.com"), null);
});

test("the toast names the recipient, or the first and how many more", () => {
  assert.equal(sentTo(["ann@example.com"]), "Sent to ann@example.com");
  assert.equal(sentTo(["Ann <ann@example.com>", "bob@example.org"]), "Sent to ann@example.com and bob@example.org");
  assert.equal(sentTo(["a@x.io", "b@x.io", "c@x.io"]), "Sent to a@x.io and 2 more");
});

test("forwarding a code writes it from its own account, to nobody yet, with the code and link", () => {
  const record = {
    email: "olivia@example.test",
    code: "739184",
    link: "https://github.com/login/device",
    service: "GitHub",
    from: "GitHub <noreply@github.com>",
    subject: "[GitHub] Please verify your device",
  };
  const draft = forwardDraft(record);
  assert.equal(draft.from, "olivia@example.test");
  assert.equal(draft.to, "");
  assert.equal(draft.subject, "Fwd: [GitHub] Please verify your device");
  assert.match(draft.text, /^Verification code: 739184\nLink: https:\/\/github\.com\/login\/device\n/);
  assert.match(draft.text, /Service: GitHub/);
  assert.match(draft.text, /From: GitHub <noreply@github\.com>/);
});

test("a code without subject or link still forwards sensibly", () => {
  const draft = forwardDraft({ email: "pat@example.test", code: "123456", subject: "  " });
  assert.equal(draft.subject, "Fwd: verification code");
  assert.doesNotMatch(draft.text, /Link:/);
  const linkOnly = forwardDraft({ email: "pat@example.test", code: null, link: "https://example.com/v?t=1" });
  assert.match(linkOnly.text, /^Link: https:\/\/example\.com\/v\?t=1/);
});

test("failures that need a change in Mailwatch say what to change; others keep the engine's words", () => {
  assert.match(sendFailure({ code: "no_smtp_server", message: "cannot send from pat: --smtp-host" }, "pat@example.test"), /Edit the account and give its SMTP host/);
  assert.doesNotMatch(sendFailure({ code: "no_smtp_server", message: "x" }, "pat@example.test"), /--smtp-host/, "CLI flags mean nothing in the window");
  assert.match(sendFailure({ code: "scope_not_granted", message: "x" }, "olivia@example.test"), /allows reading mail but not sending/);
  assert.equal(
    sendFailure({ code: "smtp_refused", message: "cannot send to bob@example.org: the server refused it (550 no such user)" }, "pat@example.test"),
    "Cannot send to bob@example.org: the server refused it (550 no such user).",
  );
});
