// Wires the window together: tabs and keyboard, the error banner, the views, and the
// engine's pushed events. Views talk to the Rust side only through ipc.js.

import * as ipc from "./ipc.js";
import { sentence } from "./lib/format.js";
import { statusLabel, displayStatus, statusAdvice } from "./lib/accounts.js";
import { forwardDraft, sentTo } from "./lib/compose.js";
import { AccountsView } from "./views/accounts.js";
import { CodesView } from "./views/codes.js";
import { MessagesView } from "./views/messages.js";
import { PoolView } from "./views/pool.js";
import { SettingsView } from "./views/settings.js";
import { WaitDialog } from "./views/wait.js";
import { AccountEditor } from "./views/editor.js";
import { ImportDialog } from "./views/import.js";
import { ComposeDialog } from "./views/compose.js";
import { confirmDialog } from "./views/confirm.js";

const $ = (id) => document.getElementById(id);

// ---- Errors and notices ----------------------------------------------------------------

// What each error code means to the user, as the banner's title; the message says the rest.
const TITLES = {
  cache_error: "Mailwatch could not read its cache.",
  data_dir_unusable: "Mailwatch could not use its data folder.",
  extra_ca_invalid: "Mailwatch could not load the extra CA certificates.",
  engine_stopped: "The mail engine stopped.",
  keyring_unavailable: "The system keyring is not available.",
  keyring_locked: "The system keyring is locked.",
  keyring_busy: "The system keyring is busy.",
  needs_reauth: "The account needs a new refresh token.",
  auth_failed: "The server refused the sign-in.",
  server_unreachable: "The mail server could not be reached.",
  pool_exhausted: "All connections for the account are busy.",
  ipc: "The window could not reach Mailwatch.",
  no_backend: "Not running inside Mailwatch.",
};

const banner = { root: $("banner"), title: $("banner-title"), message: $("banner-message"), retry: $("banner-retry") };
let retryAction = null;

function showError(error, fallbackTitle = "Something went wrong.", retry = null) {
  banner.title.textContent = TITLES[error.code] ?? fallbackTitle;
  banner.message.textContent = sentence(error.message);
  retryAction = retry;
  banner.retry.hidden = !retry || error.code === "no_backend";
  banner.root.hidden = false;
}

function hideError() {
  banner.root.hidden = true;
}

banner.retry.addEventListener("click", () => retryAction?.());
$("banner-close").addEventListener("click", hideError);

let toastTimer;
function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 2200);
}

async function copy(code) {
  try {
    await ipc.copyText(code);
    toast(`Copied ${code}`);
  } catch (error) {
    showError(error, "Mailwatch could not copy the code.");
  }
}

async function openLink(url) {
  try {
    await ipc.openLink(url);
  } catch (error) {
    showError(error, "Mailwatch could not open the link.");
  }
}

// ---- Settings in force (for the wait dialog and auto-copy) ------------------------------

let settings = { config: { pool: {}, watch: {} }, app: { autoCopy: false } };


// ---- Views ------------------------------------------------------------------------------

const wait = new WaitDialog({
  copy,
  open: openLink,
  autoCopy: () => Boolean(settings.app?.autoCopy),
  // `cache.waitTimeout`, the same as `mailwatch-cli wait-code`'s; unknown until the
  // settings load, and then the engine applies it.
  timeoutSecs: () => settingsView.limits?.waitTimeoutSecs ?? null,
});

const editor = new AccountEditor({
  onSaved: (row, edited) => {
    toast(edited ? `Saved ${row.email}` : `Added ${row.email}`);
    reload();
  },
});

// Sending changes the SMTP counters, which no pushed event carries: ask for them. The
// session pool did not change, so the reuse chart gets no sample.
async function refreshPool() {
  try {
    pool.update(await ipc.poolStats(), { chart: false });
  } catch {
    // The panel keeps what it showed.
  }
}

const compose = new ComposeDialog({
  onSent: (receipt, draft) => {
    toast(sentTo(draft.to));
    refreshPool();
  },
  onFailed: () => refreshPool(),
});

const accounts = new AccountsView({
  wait: (row) => wait.start(row.email),
  watch: (row, on) => setWatching([row.email], on),
  messages: (row) => {
    showView("messages");
    messages.showAccount(row.email);
  },
  compose: (row) => compose.open({ from: row.email }),
  edit: (row) => editor.open(row),
  remove: (row) => remove(row),
  status: (row) => showStatus(row),
  copy,
});

const codes = new CodesView({ copy, open: openLink, forward: (record) => compose.open(forwardDraft(record), "Forward code") });
const messages = new MessagesView({ onError: (e, title) => showError(e, title) });
const pool = new PoolView({ onAdvice: (advice) => ($("pool-badge").hidden = advice?.level !== "warning") });
const settingsView = new SettingsView({
  onError: (e, title) => showError(e, title),
  onSaved: (values) => {
    settings = values;
  },
});
const importer = new ImportDialog({
  onImported: (report) => {
    toast(`Imported: ${report.added} added, ${report.updated} updated`);
    reload();
  },
  onError: (e, title) => showError(e, title),
});

async function remove(row) {
  const ok = await confirmDialog(
    `Remove ${row.email}?`,
    "Mailwatch forgets the account, its cached messages and codes, and deletes its secret from the keyring. The mailbox itself is not touched.",
    "Remove",
  );
  if (!ok) return;
  try {
    await ipc.removeAccount(row.email);
    toast(`Removed ${row.email}`);
    reload();
  } catch (error) {
    showError(error, "Mailwatch could not remove the account.");
  }
}

async function setWatching(emails, on) {
  try {
    await ipc.setWatching(emails, on);
    accounts.setWatching(emails, on);
  } catch (error) {
    showError(error, "Mailwatch could not change the watch.");
  }
}

const statusDialog = {
  dialog: $("status-dialog"),
  title: $("status-title"),
  detail: $("status-detail"),
  advice: $("status-advice"),
};
let statusRow = null;
function showStatus(row) {
  statusRow = row;
  statusDialog.title.textContent = `${row.email}: ${statusLabel(displayStatus(row))}`;
  statusDialog.detail.textContent = row.statusDetail ? sentence(row.statusDetail) : "";
  statusDialog.detail.hidden = !row.statusDetail;
  statusDialog.advice.textContent = statusAdvice(row);
  statusDialog.dialog.showModal();
}
$("status-edit").addEventListener("click", () => {
  statusDialog.dialog.close();
  if (statusRow) editor.open(statusRow);
});

// ---- Loading ----------------------------------------------------------------------------

let loading = null;
async function reload() {
  // One request at a time; a second click while loading just waits for the first.
  if (loading) return loading;
  loading = (async () => {
    accounts.setBusy(true);
    try {
      const rows = await ipc.listAccounts();
      accounts.render(rows);
      messages.setAccounts(rows);
      hideError();
    } catch (error) {
      accounts.renderUnavailable();
      showError(error, "Mailwatch could not load your accounts.", reload);
    } finally {
      accounts.setBusy(false);
      loading = null;
    }
  })();
  return loading;
}

async function loadRest() {
  try {
    codes.render(await ipc.recentCodes());
  } catch (error) {
    showError(error, "Mailwatch could not read the codes history.");
  }
  try {
    pool.update(await ipc.poolStats());
  } catch {
    // The pool panel fills in with the first pushed event.
  }
  await settingsView.load();
  if (settingsView.values) settings = settingsView.values;
  if (settingsView.limits) {
    codes.limit = settingsView.limits.maxTop;
    messages.setDefaultTop(settingsView.limits.listTop);
  }
  setPausedButton(Boolean(settingsView.watch?.paused));
  try {
    const info = await ipc.appInfo();
    $("app-info").textContent = `Mailwatch ${info.version} · data in ${info.dataDir}`;
    if (info.notificationsUnavailable) notificationsUnavailable();
  } catch {
    // Shown when the engine opens.
  }
}

// ---- Tabs and keyboard ------------------------------------------------------------------

const VIEWS = ["accounts", "codes", "messages", "pool", "settings"];

function showView(name) {
  for (const view of VIEWS) {
    const selected = view === name;
    $(`view-${view}`).hidden = !selected;
    const tab = $(`tab-${view}`);
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  if (name === "pool") pool.drawChart();
  if (name === "accounts") accounts.repaint();
  if (name === "codes") codes.paint();
}

for (const view of VIEWS) $(`tab-${view}`).addEventListener("click", () => showView(view));
$("view-accounts").hidden = false;

document.addEventListener("keydown", (event) => {
  if (document.querySelector("dialog[open]")) return;
  const ctrl = event.ctrlKey || event.metaKey;
  if (event.altKey && /^[1-5]$/.test(event.key)) {
    event.preventDefault();
    showView(VIEWS[Number(event.key) - 1]);
  } else if (event.key === "F5" || (ctrl && event.key === "r")) {
    event.preventDefault();
    reload();
  } else if (ctrl && event.key === "n") {
    event.preventDefault();
    editor.open();
  } else if (ctrl && event.key === "o") {
    event.preventDefault();
    importer.pick();
  } else if (event.key === "/" && !event.target.closest("input, textarea, select")) {
    event.preventDefault();
    showView("accounts");
    accounts.focusSearch();
  }
});

$("refresh").addEventListener("click", reload);
$("watch-shown").addEventListener("click", async () => {
  const { emails, allWatched } = accounts.shownAccounts();
  if (!allWatched && emails.length > 100) {
    const ok = await confirmDialog(
      `Watch ${emails.length.toLocaleString("en-US")} accounts?`,
      "They are checked in turn within your connection limits (see Settings), so each is looked at less often the more you watch.",
      "Watch them",
    );
    if (!ok) return;
  }
  await setWatching(emails, !allWatched);
});
$("add-account").addEventListener("click", () => editor.open());
$("empty-add").addEventListener("click", () => editor.open());
$("import").addEventListener("click", () => importer.pick());
$("empty-import").addEventListener("click", () => importer.pick());

function setPausedButton(paused) {
  const button = $("pause");
  button.setAttribute("aria-pressed", String(paused));
  button.textContent = paused ? "Resume watching" : "Pause watching";
}

$("pause").addEventListener("click", async () => {
  const paused = $("pause").getAttribute("aria-pressed") !== "true";
  try {
    await ipc.setPaused(paused);
    setPausedButton(paused);
  } catch (error) {
    showError(error, "Mailwatch could not pause watching.");
  }
});

let notified = false;
function notificationsUnavailable(message) {
  if (notified) return;
  notified = true;
  toast(message ?? "Desktop notifications are not available; codes appear here and in the tray.");
}

// ---- Pushed events ----------------------------------------------------------------------

ipc.onAccountStatus((change) => accounts.updateStatus(change));
ipc.onCodeFound((code) => {
  codes.add(code);
  accounts.codeFound(code);
});
ipc.onPoolStats((stats) => pool.update(stats));
ipc.onPaused((state) => setPausedButton(state.paused));
ipc.onNotificationsUnavailable((message) => notificationsUnavailable(message));
ipc.onFileDrop((paths) => {
  if (paths.length) importer.open(paths[0]);
});

showView("accounts");
reload().then(loadRest);
