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
    const error = new ApiError(raw.code, String(raw.message ?? raw.code));
    // The details the message names, for the window's sentence in the user's language.
    if (raw.args && typeof raw.args === "object") error.args = raw.args;
    return error;
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

// Accounts
export const listAccounts = () => call("list_accounts");
export const accountPreset = (email) => call("account_preset", { email });
/** `input`: `{spec, secret, secretIsToken}`; the secret goes straight to the keyring. */
export const saveAccount = (input) => call("save_account", { input });
export const removeAccount = (email) => call("remove_account", { email });

// Codes
export const waitForCode = (email, timeoutSecs) => call("wait_for_code", { email, timeoutSecs });
export const cancelWait = (email) => call("cancel_wait", { email });
export const recentCodes = (limit) => call("recent_codes", { limit });
export const setWatching = (emails, watch) => call("set_watching", { emails, watch });
export const setPaused = (paused) => call("set_paused", { paused });

// Messages
export const listMessages = (email, folder, top) => call("list_messages", { email, folder, top });
export const openMessage = (email, folder, uid) => call("open_message", { email, folder, uid });

// Sending
/** `draft`: `{from, to, cc, bcc, subject, text}`; resolves with `{sent, messageId, reply, reusedConnection, retried}`. */
export const sendMessage = (draft) => call("send_message", { draft });

// Pool stats and settings
export const poolStats = () => call("pool_stats");
export const getSettings = () => call("get_settings");
export const saveSettings = (settings) => call("save_settings", { settings });
export const restart = () => call("restart");
/** The Local API: `{running, address, key}`; the key only while it runs. */
export const getLocalApi = () => call("get_local_api");
/** Turns the Local API on or off; resolves with what `getLocalApi` gives. */
export const setLocalApi = (on) => call("set_local_api", { on });
/** Revokes the app's API key and makes a new one; resolves with what `getLocalApi` gives. */
export const renewApiKey = () => call("renew_api_key");

// Import
export const pickImportFile = () => call("pick_import_file");
export const importAccounts = (request) => call("import_accounts", { request });
export const cancelBatch = () => call("cancel_batch");
/** Exchanges the accounts' refresh tokens now; resolves with `{ok, failed, cancelled, accounts}`. */
export const refreshTokens = (emails) => call("refresh_tokens", { emails });
/** The accounts as CSV, without secrets. */
export const exportAccounts = (emails) => call("export_accounts", { emails });
/** Puts the accounts in `group` (null or blank: in none); resolves how many changed. */
export const setAccountGroup = (emails, group) => call("set_account_group", { emails, group });
/** Adds the tags `add` to the accounts and takes `remove` off them; resolves how many accounts there were. */
export const tagAccounts = (emails, add, remove) => call("tag_accounts", { emails, add, remove });
/** Whether the keyring holds a password for the proxy the account connects through (never the password). */
export const proxyPasswordKept = (email) => call("proxy_password_kept", { email });
/** Gives the accounts their own proxy URL (null or blank: none); the password goes to the keyring. */
export const setAccountProxy = (emails, proxy) => call("set_account_proxy", { emails, proxy });
/** Gives a group its proxy URL (null or blank: none). */
export const setGroupProxy = (group, proxy) => call("set_group_proxy", { group, proxy });
/** Every group: `{name, proxy, accounts}`. */
export const listGroups = () => call("list_groups");
/** Asks where to save `text` (suggesting `name`, under the dialog title `title`); resolves `false` if the user cancelled. */
export const saveReport = (name, text, title) => call("save_report", { name, text, title });

// System
export const copyText = (text) => call("copy_text", { text });
export const openLink = (url) => call("open_link", { url });
export const appInfo = () => call("app_info");
/** `{language, system, messages, english}`: the catalogue for `language`, or for the one chosen in Settings. */
export const getCatalogue = (language) => call("get_catalogue", { language });

// Events pushed by the engine and the shell; nothing here polls.
/** `handler({email, status, detail})` when an account's status changes. */
export const onAccountStatus = (handler) => listen("mailwatch://account-status", handler);
/** `handler({email, code, link, service, from, subject, received})` for each new code. */
export const onCodeFound = (handler) => listen("mailwatch://code-found", handler);
/** `handler(stats)` when the session pool's counters change. */
export const onPoolStats = (handler) => listen("mailwatch://pool-stats", handler);
/** `handler({job, done, total, ok, failed, rate, etaSecs})` as a batch job moves on. */
export const onBatchProgress = (handler) => listen("mailwatch://batch-progress", handler);
/** `handler({watched, paused})` when watching is paused or resumed (from the tray, say). */
export const onPaused = (handler) => listen("mailwatch://paused", handler);
/** `handler(message)` once, if desktop notifications cannot be shown. */
export const onNotificationsUnavailable = (handler) => listen("mailwatch://notifications-unavailable", handler);
/** `handler(paths)` when files are dropped on the window. */
export const onFileDrop = (handler) => listen("tauri://drag-drop", (payload) => handler(payload?.paths ?? []));
