// What the compose dialog reads and writes: the To field as addresses, a forwarded code as a
// draft, and what a failed send tells the user. Pure functions, tested with node's runner.

import { sentence } from "./format.js";

/**
 * Splits a To field on commas, semicolons and line breaks (not inside quotes or angle
 * brackets, so `"Doe, Ann" <ann@example.com>` stays one) and sorts the parts into addresses
 * and the ones that are not addresses. Repeats are dropped, whatever their case.
 * @returns {{addresses: string[], invalid: string[]}}
 */
export function parseRecipients(text) {
  const parts = [];
  let current = "";
  let quoted = false;
  let angled = false;
  for (const ch of String(text ?? "")) {
    if (ch === '"' && !angled) quoted = !quoted;
    else if (ch === "<" && !quoted) angled = true;
    else if (ch === ">" && !quoted) angled = false;
    if (!quoted && !angled && (ch === "," || ch === ";" || ch === "\n")) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  parts.push(current);
  const addresses = [];
  const invalid = [];
  const seen = new Set();
  for (const part of parts.map((p) => p.trim()).filter(Boolean)) {
    const address = addressOf(part);
    if (!address) {
      invalid.push(part);
      continue;
    }
    const key = address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    addresses.push(part);
  }
  return { addresses, invalid };
}

/** The bare address in `ann@example.com` or `Ann <ann@example.com>`, or null if there is none. */
export function addressOf(part) {
  const angled = /<([^<>]*)>\s*$/.exec(part);
  const address = (angled ? angled[1] : part).trim();
  return /^[^\s@<>",;]+@[^\s@<>",;]+$/.test(address) ? address : null;
}

/** The toast after a send: "Sent to ann@example.com", "Sent to ann@example.com and 2 more". */
export function sentTo(addresses) {
  const shown = addresses.map((a) => addressOf(a) ?? a);
  if (shown.length <= 1) return `Sent to ${shown[0] ?? "nobody"}`;
  if (shown.length === 2) return `Sent to ${shown[0]} and ${shown[1]}`;
  return `Sent to ${shown[0]} and ${shown.length - 1} more`;
}

/**
 * A draft forwarding a code from the codes feed: from the account it arrived in, to nobody
 * yet, with the code, the link and where it came from in the text.
 */
export function forwardDraft(record) {
  const lines = [];
  if (record.code) lines.push(`Verification code: ${record.code}`);
  if (record.link) lines.push(`Link: ${record.link}`);
  lines.push("");
  lines.push("---------- Forwarded by Mailwatch ----------");
  if (record.service) lines.push(`Service: ${record.service}`);
  if (record.from) lines.push(`From: ${record.from}`);
  if (record.subject) lines.push(`Subject: ${record.subject}`);
  lines.push(`To: ${record.email}`);
  return {
    from: record.email,
    to: "",
    subject: `Fwd: ${record.subject?.trim() || "verification code"}`,
    text: lines.join("\n"),
  };
}

/**
 * What the dialog says when a send fails: the engine's sentence, except where the user
 * needs to be told what to change in Mailwatch.
 */
export function sendFailure(error, from) {
  switch (error?.code) {
    case "no_smtp_server":
      return `Mailwatch does not know which server sends mail for ${from}. Edit the account and give its SMTP host under Advanced server settings.`;
    case "scope_not_granted":
      return `The refresh token of ${from} allows reading mail but not sending it. To send, get a refresh token that was granted sending (for Outlook, SMTP.Send) and paste it into the account's Edit dialog.`;
    default:
      return sentence(error?.message);
  }
}
