// The settings the window edits: where each lives, what it means, and its unit. Defaults come
// from the app itself, so they are never written twice.

export const GROUPS = [
  {
    title: "Connections",
    fields: [
      { key: "config.pool.maxPerAccount", label: "Connections per account", kind: "int", min: 1, max: 10, help: "How many IMAP connections one account may hold at once. Most providers throttle above a few." },
      { key: "config.pool.maxTotal", label: "Connections overall", kind: "int", min: 1, max: 1000, help: "How many IMAP connections all accounts may hold together." },
      { key: "config.pool.waitTimeout", label: "Wait timeout", kind: "secs", min: 1, max: 600, help: "How long a request waits for a free connection before it fails with a clear error." },
      { key: "config.pool.idleTtl", label: "Session idle time", kind: "secs", min: 5, max: 3600, help: "An unused connection is closed after this long." },
      { key: "config.pool.maxAge", label: "Session maximum age", kind: "secs", min: 30, max: 86400, help: "A connection older than this is replaced, however busy it is." },
    ],
  },
  {
    title: "Watching",
    fields: [
      { key: "config.watch.pollInterval", label: "Poll interval", kind: "secs", min: 5, max: 3600, help: "How often a watched account nobody is waiting on is checked (waits use IMAP IDLE push)." },
      { key: "config.watch.pollConcurrency", label: "Polls at once", kind: "int", min: 1, max: 100, help: "How many watched accounts are checked at the same time." },
      { key: "config.watch.idle", label: "Use IMAP IDLE", kind: "bool", help: "Let the server push new mail for accounts you are waiting on." },
      { key: "config.cache.waitTimeout", label: "Wait for a code", kind: "secs", min: 5, max: 3600, help: "How long “Wait for code” waits before it gives up (the CLI's wait-code too)." },
      { key: "config.cache.listTop", label: "Messages listed", kind: "int", min: 1, max: 200, help: "How many of the newest messages a listing shows unless you pick another number." },
    ],
  },
  {
    title: "Background work",
    fields: [
      { key: "config.batch.verifyConcurrency", label: "Verify at once", kind: "int", min: 1, max: 50, help: "How many accounts an import checks at the same time." },
      { key: "config.batch.refreshConcurrency", label: "Token refreshes at once", kind: "int", min: 1, max: 50, help: "How many tokens “Refresh all” renews at the same time." },
      { key: "config.keeper.concurrency", label: "Token keeper concurrency", kind: "int", min: 1, max: 50, help: "How many tokens the background keeper renews at once." },
      { key: "config.sync.concurrency", label: "Background sync concurrency", kind: "int", min: 1, max: 50, help: "How many watched accounts are synced into the cache at once." },
    ],
  },
  {
    title: "Codes and notifications",
    fields: [
      { key: "app.notifications", label: "Notifications", kind: "bool", help: "Show a desktop notification when a code arrives." },
      { key: "app.doNotDisturb", label: "Do not disturb", kind: "bool", help: "Silence notifications for now without turning them off." },
      { key: "app.autoCopy", label: "Copy codes automatically", kind: "bool", help: "Put each new code on the clipboard as it arrives." },
    ],
  },
  {
    title: "Startup",
    fields: [
      { key: "app.startMinimised", label: "Start minimised", kind: "bool", help: "Start in the tray without showing the window." },
      { key: "app.launchAtLogin", label: "Launch at login", kind: "bool", help: "Start Mailwatch when you log in to your desktop." },
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

/** The field's default as the settings view prints it: "1", "30 s", "on". */
export function describeDefault(field, value) {
  if (value === undefined) return "";
  if (field.kind === "bool") return value ? "on" : "off";
  if (field.kind === "secs") return `${value} s`;
  return String(value);
}

/**
 * Reads a form value back into the setting's type. Returns `{value}` or `{error}` in words.
 */
export function parseField(field, raw) {
  if (field.kind === "bool") return { value: Boolean(raw) };
  const text = String(raw).trim();
  const number = Number(text);
  if (!text || !Number.isFinite(number)) return { error: `${field.label} needs a number.` };
  if (field.kind === "int" && !Number.isInteger(number)) return { error: `${field.label} needs a whole number.` };
  if (field.min != null && number < field.min) return { error: `${field.label} must be at least ${field.min}.` };
  if (field.max != null && number > field.max) return { error: `${field.label} must be at most ${field.max}.` };
  return { value: number };
}
