// What the compose dialog reads and writes: the To field as addresses, a forwarded code as a
// draft, and what a failed send tells the user. Pure functions, tested with node's runner.

import { t } from "./i18n.js";
import { errorText } from "./errors.js";

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
  if (shown.length <= 1) return t("compose.sentTo", { to: shown[0] ?? "" });
  if (shown.length === 2) return t("compose.sentToTwo", { to: shown[0], other: shown[1] });
  return t("compose.sentToMore", { to: shown[0], count: shown.length - 1 });
}

/**
 * A draft forwarding a code from the codes feed: from the account it arrived in, to nobody
 * yet, with the code, the link and where it came from in the text.
 */
export function forwardDraft(record) {
  const lines = [];
  if (record.code) lines.push(t("forward.code", { code: record.code }));
  if (record.link) lines.push(t("forward.link", { link: record.link }));
  lines.push("");
  lines.push(t("forward.rule"));
  if (record.service) lines.push(t("forward.service", { service: record.service }));
  if (record.from) lines.push(t("forward.from", { from: record.from }));
  if (record.subject) lines.push(t("forward.subject", { subject: record.subject }));
  lines.push(t("forward.to", { to: record.email }));
  return {
    from: record.email,
    to: "",
    subject: `Fwd: ${record.subject?.trim() || t("forward.noSubject")}`,
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
      return t("compose.noSmtpServer", { from });
    case "scope_not_granted":
      return t("compose.scopeNotGranted", { from });
    default:
      return errorText(error);
  }
}
