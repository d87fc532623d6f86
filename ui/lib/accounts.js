// What the accounts list shows and how it is searched, filtered and sorted.

import { t } from "./i18n.js";

const STATUS = {
  ok: { label: "status.ok", tone: "ok", advice: "status.ok.advice" },
  watching: { label: "status.watching", tone: "info", advice: "status.watching.advice" },
  "needs-reauth": { label: "status.needsReauth", tone: "warn", advice: "status.needsReauth.advice" },
  throttled: { label: "status.throttled", tone: "warn", advice: "status.throttled.advice" },
  error: { label: "status.error", tone: "error", advice: "status.error.advice" },
};

/** The status the list shows: an account that is fine and watched shows "watching". */
export function displayStatus(row) {
  const status = row.status ?? "ok";
  if (status === "ok" && row.watching) return "watching";
  return STATUS[status] ? status : "error";
}

export function statusLabel(status) {
  return t((STATUS[status] ?? STATUS.error).label);
}

export function statusTone(status) {
  return (STATUS[status] ?? STATUS.error).tone;
}

/** What a status means and what to do about it, for the status details dialog. */
export function statusAdvice(row) {
  return t(STATUS[displayStatus(row)].advice);
}

/** The status filter's choices: `[value, label key]`. */
export const FILTERS = [
  ["all", "accounts.filter.all"],
  ["watching", "status.watching"],
  ["ok", "status.ok"],
  ["needs-reauth", "status.needsReauth"],
  ["throttled", "status.throttled"],
  ["error", "status.error"],
];

/** The list's orders: `[value, label key]`. */
export const SORTS = [
  ["added", "accounts.sort.added"],
  ["address", "accounts.sort.address"],
  ["status", "accounts.sort.status"],
  ["code", "accounts.sort.code"],
  ["checked", "accounts.sort.checked"],
];

const STATUS_ORDER = { error: 0, "needs-reauth": 1, throttled: 2, watching: 3, ok: 4 };

/**
 * The rows in `order`: as added, by address, by status (trouble first), by last code or by
 * last check (newest first, never last). A copy; equal rows keep their order.
 */
export function sortAccounts(rows, order = "added") {
  const by = {
    address: (a, b) => a.email.localeCompare(b.email),
    status: (a, b) => STATUS_ORDER[displayStatus(a)] - STATUS_ORDER[displayStatus(b)],
    code: (a, b) => (b.lastCode?.foundAt ?? b.lastCode?.received ?? -1) - (a.lastCode?.foundAt ?? a.lastCode?.received ?? -1),
    checked: (a, b) => (b.lastCheck ?? -1) - (a.lastCheck ?? -1),
  }[order];
  return by ? [...rows].sort(by) : [...rows];
}

/** The group filter's value for "accounts in no group" (a group name never holds a control character). */
export const NO_GROUP = "\u0001none";

/** The groups the rows are in, sorted. */
export function groupsOf(rows) {
  return [...new Set(rows.map((r) => r.group).filter(Boolean))].sort((a, b) => a.localeCompare(b));
}

/** The tags the rows carry, sorted. */
export function tagsOf(rows) {
  return [...new Set(rows.flatMap((r) => r.tags ?? []))].sort((a, b) => a.localeCompare(b));
}

/**
 * Rows whose address, provider, group or tags contain every word of `query`, with the status
 * filter applied, and only those in `group` ("" for any, {@link NO_GROUP} for none) carrying
 * `tag` ("" for any).
 */
export function filterAccounts(rows, query = "", filter = "all", group = "", tag = "") {
  const words = String(query).toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((row) => {
    if (group === NO_GROUP ? row.group : group && row.group !== group) return false;
    if (tag && !(row.tags ?? []).includes(tag)) return false;
    if (filter !== "all") {
      const status = displayStatus(row);
      if (filter === "watching" ? !row.watching : status !== filter && !(filter === "ok" && status === "watching")) {
        return false;
      }
    }
    if (!words.length) return true;
    const haystack = `${row.email} ${row.provider ?? ""} ${row.lastCode?.service ?? ""} ${row.group ?? ""} ${(row.tags ?? []).join(" ")}`.toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

/** Counts per status, for the filter's labels. */
export function countByStatus(rows) {
  const counts = { all: rows.length, watching: 0, ok: 0, "needs-reauth": 0, throttled: 0, error: 0 };
  for (const row of rows) {
    const status = displayStatus(row);
    if (row.watching) counts.watching += 1;
    if (status === "ok" || status === "watching") counts.ok += 1;
    else counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

/** The tags written in `text`, comma-separated (a leading `#` is dropped), without repeats. */
export function parseTags(text) {
  return [...new Set(String(text ?? "").split(",").map((tag) => tag.trim().replace(/^#\s*/, "")).filter(Boolean))];
}

/** What turns the tags `before` into those written in `text`: `{add, remove}`. */
export function tagChanges(before, text) {
  const after = parseTags(text);
  const old = before ?? [];
  return { add: after.filter((tag) => !old.includes(tag)), remove: old.filter((tag) => !after.includes(tag)) };
}

/** Tags to add and, written with a leading `-`, to remove: "a, b, -c" is `{add: [a, b], remove: [c]}`. */
export function parseTagEdit(text) {
  const add = [];
  const remove = [];
  for (const tag of parseTags(text)) {
    if (tag.startsWith("-")) {
      const name = tag.slice(1).trim().replace(/^#\s*/, "");
      if (name) remove.push(name);
    } else add.push(tag);
  }
  return { add, remove };
}
