// What the accounts list shows and how it is searched and filtered.

const STATUS = {
  ok: { label: "OK", tone: "ok" },
  watching: { label: "Watching", tone: "info" },
  "needs-reauth": { label: "Needs re-auth", tone: "warn" },
  error: { label: "Error", tone: "error" },
};

/** The status the list shows: an account that is fine and watched shows "watching". */
export function displayStatus(row) {
  const status = row.status ?? "ok";
  if (status === "ok" && row.watching) return "watching";
  return STATUS[status] ? status : "error";
}

export function statusLabel(status) {
  return (STATUS[status] ?? STATUS.error).label;
}

export function statusTone(status) {
  return (STATUS[status] ?? STATUS.error).tone;
}

/** What a status means and what to do about it, for the status details dialog. */
export function statusAdvice(row) {
  switch (displayStatus(row)) {
    case "needs-reauth":
      return "The provider no longer accepts this account's refresh token (it was revoked, expired after 90 days unused, or the password changed). Get a new refresh token and paste it into Edit.";
    case "error":
      return "The last attempt to reach this account failed. Check the server settings in Edit and your network; Mailwatch tries again on the next check.";
    case "watching":
      return "Mailwatch is watching this account and shows new codes as they arrive.";
    default:
      return "Everything is fine. Start a wait for a code, or watch the account continuously.";
  }
}

export const FILTERS = [
  ["all", "All accounts"],
  ["watching", "Watching"],
  ["ok", "OK"],
  ["needs-reauth", "Needs re-auth"],
  ["error", "Error"],
];

/** Rows whose address or provider contains every word of `query`, with the filter applied. */
export function filterAccounts(rows, query = "", filter = "all") {
  const words = String(query).toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((row) => {
    if (filter !== "all") {
      const status = displayStatus(row);
      if (filter === "watching" ? !row.watching : status !== filter && !(filter === "ok" && status === "watching")) {
        return false;
      }
    }
    if (!words.length) return true;
    const haystack = `${row.email} ${row.provider ?? ""} ${row.lastCode?.service ?? ""}`.toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

/** Counts per status, for the filter's labels. */
export function countByStatus(rows) {
  const counts = { all: rows.length, watching: 0, ok: 0, "needs-reauth": 0, error: 0 };
  for (const row of rows) {
    const status = displayStatus(row);
    if (row.watching) counts.watching += 1;
    if (status === "ok" || status === "watching") counts.ok += 1;
    else counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}
