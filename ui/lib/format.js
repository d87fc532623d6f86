// Words and numbers as the window shows them, in the language in force (lib/i18n.js). Pure
// functions, tested with node's runner.

import { t, number, ago } from "./i18n.js";

/** Engine messages are lower-case clauses ("cannot open ..."); show them as a sentence. */
export function sentence(text) {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?。！？]$/.test(capital) ? capital : `${capital}.`;
}

/** "just now", "42s ago", "5m ago", "3h ago", "3d ago" (Intl's narrow style); "never" for no time. */
export function age(unixSeconds, nowMs = Date.now()) {
  if (unixSeconds == null) return t("time.never");
  const seconds = Math.max(0, Math.floor(nowMs / 1000 - unixSeconds));
  if (seconds < 5) return t("time.justNow");
  return ago(seconds);
}

/** A countdown as m:ss ("1:05", "0:09"); never negative. */
export function countdown(secondsLeft) {
  const s = Math.max(0, Math.ceil(secondsLeft));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A rate and an ETA for a progress line: "120 / 1,000 · 45/s · about 20 s left". */
export function progressLine({ done, total, rate, etaSecs }) {
  const parts = [`${number(done)} / ${number(total)}`];
  if (rate > 0) parts.push(t("progress.rate", { rate: rate >= 10 ? number(Math.round(rate)) : number(rate, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) }));
  if (etaSecs != null && done < total) {
    parts.push(etaSecs < 60 ? t("progress.etaSecs", { count: Math.ceil(etaSecs) }) : t("progress.etaMins", { count: Math.ceil(etaSecs / 60) }));
  }
  return parts.join(" · ");
}

const PROVIDERS = { outlook: "Outlook", gmail: "Gmail", imap: "IMAP" };

/** "Outlook", "Gmail", "IMAP": names, the same in every language. */
export function providerName(provider) {
  return PROVIDERS[provider] ?? String(provider ?? "");
}
