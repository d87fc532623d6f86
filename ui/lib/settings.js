// The settings the window edits: where each lives, what it means (catalogue keys), its unit,
// its range and whether it applies only after a restart (the engine's limits do). Defaults
// come from the app itself, so they are never written twice.

import { t, number, LOCALES } from "./i18n.js";

export const GROUPS = [
  {
    title: "settings.group.connections",
    fields: [
      { key: "config.pool.maxPerAccount", label: "settings.pool.maxPerAccount", kind: "int", min: 1, max: 10, help: "settings.pool.maxPerAccount.help", unit: "unit.connections", restart: true },
      { key: "config.pool.maxTotal", label: "settings.pool.maxTotal", kind: "int", min: 1, max: 10000, help: "settings.pool.maxTotal.help", unit: "unit.connections", restart: true },
      { key: "config.pool.waitTimeout", label: "settings.pool.waitTimeout", kind: "secs", min: 1, max: 600, help: "settings.pool.waitTimeout.help", restart: true },
      { key: "config.pool.idleTtl", label: "settings.pool.idleTtl", kind: "secs", min: 5, max: 3600, help: "settings.pool.idleTtl.help", restart: true },
      { key: "config.pool.maxAge", label: "settings.pool.maxAge", kind: "secs", min: 30, max: 86400, help: "settings.pool.maxAge.help", restart: true },
    ],
  },
  {
    title: "settings.group.watching",
    fields: [
      { key: "config.watch.pollInterval", label: "settings.watch.pollInterval", kind: "secs", min: 5, max: 3600, help: "settings.watch.pollInterval.help", restart: true },
      { key: "config.watch.pollLoginRate", label: "settings.watch.pollLoginRate", kind: "number", min: 0, max: 1000, help: "settings.watch.pollLoginRate.help", unit: "unit.perSecond", restart: true },
      { key: "config.watch.pollConcurrency", label: "settings.watch.pollConcurrency", kind: "int", min: 1, max: 100, help: "settings.watch.pollConcurrency.help", unit: "unit.accounts", restart: true },
      { key: "config.watch.maxIdleSessions", label: "settings.watch.maxIdleSessions", kind: "int", min: 0, max: 10000, help: "settings.watch.maxIdleSessions.help", unit: "unit.accounts", restart: true },
      { key: "config.watch.idle", label: "settings.watch.idle", kind: "bool", help: "settings.watch.idle.help", restart: true },
      { key: "config.cache.waitTimeout", label: "settings.cache.waitTimeout", kind: "secs", min: 5, max: 3600, help: "settings.cache.waitTimeout.help", restart: true },
      { key: "config.cache.listTop", label: "settings.cache.listTop", kind: "int", min: 1, max: 200, help: "settings.cache.listTop.help", unit: "unit.messages", restart: true },
      { key: "config.graph.imapRecheck", label: "settings.graph.imapRecheck", kind: "secs", min: 60, max: 2592000, help: "settings.graph.imapRecheck.help", restart: true },
    ],
  },
  {
    title: "settings.group.background",
    fields: [
      { key: "config.batch.verifyConcurrency", label: "settings.batch.verifyConcurrency", kind: "int", min: 1, max: 50, help: "settings.batch.verifyConcurrency.help", unit: "unit.accounts", restart: true },
      { key: "config.batch.refreshConcurrency", label: "settings.batch.refreshConcurrency", kind: "int", min: 1, max: 50, help: "settings.batch.refreshConcurrency.help", unit: "unit.tokens", restart: true },
      { key: "config.keeper.concurrency", label: "settings.keeper.concurrency", kind: "int", min: 1, max: 50, help: "settings.keeper.concurrency.help", unit: "unit.tokens", restart: true },
      { key: "config.sync.concurrency", label: "settings.sync.concurrency", kind: "int", min: 1, max: 50, help: "settings.sync.concurrency.help", unit: "unit.accounts", restart: true },
    ],
  },
  {
    title: "settings.group.codes",
    fields: [
      { key: "app.notifications", label: "settings.app.notifications", kind: "bool", help: "settings.app.notifications.help" },
      { key: "app.doNotDisturb", label: "settings.app.doNotDisturb", kind: "bool", help: "settings.app.doNotDisturb.help" },
      { key: "app.autoCopy", label: "settings.app.autoCopy", kind: "bool", help: "settings.app.autoCopy.help" },
    ],
  },
  {
    title: "settings.group.appearance",
    fields: [
      { key: "app.language", label: "settings.app.language", kind: "choice", help: "settings.app.language.help", choices: () => [["", t("settings.language.system")], ...LOCALES] },
    ],
  },
  {
    title: "settings.group.localApi",
    // The switch, the address in force and the key are the Local API panel's (views/localapi.js).
    panel: "local-api",
    fields: [
      { key: "config.api.listen", label: "settings.api.listen", kind: "address", help: "settings.api.listen.help" },
    ],
  },
  {
    title: "settings.group.startup",
    fields: [
      { key: "app.startMinimised", label: "settings.app.startMinimised", kind: "bool", help: "settings.app.startMinimised.help" },
      { key: "app.launchAtLogin", label: "settings.app.launchAtLogin", kind: "bool", help: "settings.app.launchAtLogin.help" },
    ],
  },
];

/** The value at a dotted path ("config.pool.maxTotal") of an object. */
export function getPath(object, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), object);
}

/** A copy of `object` with the value at `path` replaced. */
export function setPath(object, path, value) {
  const [head, ...rest] = path.split(".");
  const copy = Array.isArray(object) ? [...object] : { ...(object ?? {}) };
  copy[head] = rest.length ? setPath(copy[head], rest.join("."), value) : value;
  return copy;
}

/** The unit shown beside a field's value ("s", "connections"; "connection" for 1), or "". */
export function unitOf(field, count = 2) {
  if (field.kind === "secs") return t("unit.seconds");
  return field.unit ? t(field.unit, { count }) : "";
}

/** The field's default as the settings view prints it: "1", "30 s", "on". */
export function describeDefault(field, value) {
  if (value === undefined) return "";
  if (field.kind === "bool") return t(value ? "settings.on" : "settings.off");
  if (field.kind === "choice" || field.kind === "address") return String(value);
  const unit = unitOf(field, value);
  return unit ? t("settings.valueWithUnit", { value: number(value), unit }) : number(value);
}

/**
 * Reads a form value back into the setting's type. Returns `{value}` or `{error}` in words.
 */
export function parseField(field, raw) {
  if (field.kind === "bool") return { value: Boolean(raw) };
  if (field.kind === "choice") return { value: String(raw ?? "") };
  if (field.kind === "address") {
    // The engine takes a loopback address and a port: 127.0.0.1:7878 or [::1]:7878.
    const text = String(raw ?? "").trim();
    const m = /^(?:127(?:\.\d{1,3}){3}|\[::1\]):(\d{1,5})$/.exec(text);
    const octets = text.startsWith("127.") ? text.split(":")[0].split(".").map(Number) : [];
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535 || octets.some((o) => o > 255)) {
      return { error: t("settings.error.address", { name: t(field.label) }) };
    }
    return { value: text };
  }
  const text = String(raw).trim();
  const value = Number(text);
  const args = { name: t(field.label), min: field.min, max: field.max, unit: unitOf(field, field.max) };
  if (!text || !Number.isFinite(value)) return { error: t("settings.error.number", args) };
  if (field.kind === "int" && !Number.isInteger(value)) return { error: t("settings.error.whole", args) };
  if ((field.min != null && value < field.min) || (field.max != null && value > field.max)) {
    return { error: t(args.unit ? "settings.error.rangeUnit" : "settings.error.range", args) };
  }
  return { value };
}
