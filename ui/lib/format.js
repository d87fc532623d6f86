// Words and numbers as the window shows them. Pure functions, tested with node's runner.

/** Engine messages are lower-case clauses ("cannot open ..."); show them as a sentence. */
export function sentence(text) {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago"; "never" for no time. */
export function age(unixSeconds, nowMs = Date.now()) {
  if (unixSeconds == null) return "never";
  const seconds = Math.max(0, Math.floor(nowMs / 1000 - unixSeconds));
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** A countdown as m:ss ("1:05", "0:09"); never negative. */
export function countdown(secondsLeft) {
  const s = Math.max(0, Math.ceil(secondsLeft));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A rate and an ETA for a progress line: "120 / 1,000 · 45/s · about 20 s left". */
export function progressLine({ done, total, rate, etaSecs }) {
  const n = (v) => Number(v ?? 0).toLocaleString("en-US");
  const parts = [`${n(done)} / ${n(total)}`];
  if (rate > 0) parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s`);
  if (etaSecs != null && done < total) {
    parts.push(etaSecs < 60 ? `about ${Math.ceil(etaSecs)} s left` : `about ${Math.ceil(etaSecs / 60)} min left`);
  }
  return parts.join(" · ");
}

const PROVIDERS = { outlook: "Outlook", gmail: "Gmail", imap: "IMAP" };

/** "Outlook", "Gmail", "IMAP". */
export function providerName(provider) {
  return PROVIDERS[provider] ?? String(provider ?? "");
}
