// The codes feed's search, its one-account filter and its CSV export. Pure functions, tested
// with node's runner.

/** The codes whose account, service or code contain every word of `query`, of `account` only if given. */
export function filterCodes(codes, query = "", account = "") {
  const words = String(query).toLowerCase().split(/\s+/).filter(Boolean);
  return codes.filter((c) => {
    if (account && c.email !== account) return false;
    const haystack = `${c.email} ${c.service ?? ""} ${c.code ?? ""}`.toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

function csvField(value) {
  const text = value == null ? "" : String(value);
  // A leading =, +, - or @ would be a formula to a spreadsheet; quote it as text.
  const safe = /^[=+\-@]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The codes as CSV with a header: account, service, code, link, from, subject, received (ISO 8601, UTC). */
export function codesCsv(codes) {
  const header = ["account", "service", "code", "link", "from", "subject", "received"];
  const lines = codes.map((c) => {
    const when = c.received ?? c.foundAt;
    return [c.email, c.service, c.code, c.link, c.from, c.subject, when == null ? "" : new Date(when * 1000).toISOString()].map(csvField).join(",");
  });
  return [header.join(","), ...lines].join("\r\n") + "\r\n";
}
