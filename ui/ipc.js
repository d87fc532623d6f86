// The only module that talks to the Rust side. Views call these functions and never touch
// window.__TAURI__ themselves, so the IPC surface of the UI is all in this file.
//
// Commands resolve with their value or reject with an ApiError carrying the shell's
// `{code, message}`. Views branch on `code`, never on `message`.

const tauri = window.__TAURI__;

/** An error from a command: `code` is stable snake_case, `message` is for people. */
export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }
}

function toApiError(raw) {
  if (raw && typeof raw === "object" && typeof raw.code === "string") {
    return new ApiError(raw.code, String(raw.message ?? raw.code));
  }
  // Tauri itself rejects with a plain string, for example when a permission is missing.
  return new ApiError("ipc", String(raw));
}

async function call(command, args) {
  if (!tauri?.core) {
    throw new ApiError("no_backend", "cannot reach the Mailwatch engine: this page only works inside the Mailwatch app");
  }
  try {
    return await tauri.core.invoke(command, args);
  } catch (raw) {
    throw toApiError(raw);
  }
}

function listen(name, handler) {
  if (!tauri?.event) {
    return Promise.resolve(() => {});
  }
  return tauri.event.listen(name, (event) => handler(event.payload));
}

/** Every account, in the order they were added. */
export function listAccounts() {
  return call("list_accounts");
}

/** Calls `handler({email, status, detail})` when an account's status changes. */
export function onAccountStatus(handler) {
  return listen("mailwatch://account-status", handler);
}

/** Calls `handler({email, code, link, service, from, subject, received})` for each new code. */
export function onCodeFound(handler) {
  return listen("mailwatch://code-found", handler);
}

/** Calls `handler(stats)` when the session pool's counters change. */
export function onPoolStats(handler) {
  return listen("mailwatch://pool-stats", handler);
}
