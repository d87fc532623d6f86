// Wires the window together: the language, tabs and keyboard, the error banner and toasts,
// the views, and the engine's pushed events. Views talk to the Rust side only through ipc.js.

import * as ipc from "./ipc.js";
import { sentence } from "./lib/format.js";
import { t, number, setCatalogue, applyStatic } from "./lib/i18n.js";
import { errorText, errorTitle } from "./lib/errors.js";
import { statusLabel, displayStatus, statusAdvice, groupsOf, parseTagEdit } from "./lib/accounts.js";
import { forwardDraft, sentTo } from "./lib/compose.js";
import { AccountsView } from "./views/accounts.js";
import { CodesView } from "./views/codes.js";
import { MessagesView } from "./views/messages.js";
import { PoolView } from "./views/pool.js";
import { SettingsView } from "./views/settings.js";
import { LocalApiPanel } from "./views/localapi.js";
import { WaitDialog } from "./views/wait.js";
import { AccountEditor } from "./views/editor.js";
import { ImportDialog } from "./views/import.js";
import { ComposeDialog } from "./views/compose.js";
import { confirmDialog, promptDialog } from "./views/confirm.js";

const $ = (id) => document.getElementById(id);

// ---- Errors and notices ----------------------------------------------------------------

// The banner's title says what kind of trouble an error is (`errorTitles.<code>` in the
// catalogue), or else what was being done (a key the caller gives); the text says the rest.
const banner = { root: $("banner"), title: $("banner-title"), message: $("banner-message"), retry: $("banner-retry") };
let retryAction = null;

function showError(error, fallbackTitle = "error.generic", retry = null) {
  banner.title.textContent = errorTitle(error, fallbackTitle);
  banner.message.textContent = errorText(error);
  retryAction = retry;
  banner.retry.hidden = !retry || error.code === "no_backend";
  banner.root.hidden = false;
}

function hideError() {
  banner.root.hidden = true;
}

banner.retry.addEventListener("click", () => retryAction?.());
$("banner-close").addEventListener("click", hideError);

// Toasts stack in the corner above the footer, at most four, each gone after a while;
// Escape clears them (and does nothing else when no dialog is open).
const TOAST_MS = 3200;
function toast(text) {
  const box = $("toasts");
  const el = document.createElement("div");
  el.className = "toast";
  el.textContent = text;
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => el.remove(), TOAST_MS);
}

function clearToasts() {
  $("toasts").replaceChildren();
}

async function copy(text, what = "code") {
  try {
    await ipc.copyText(text);
    toast(t(what === "address" ? "toast.copiedAddress" : "toast.copied", { text }));
  } catch (error) {
    showError(error, "error.copy");
  }
}

async function openLink(url) {
  try {
    await ipc.openLink(url);
  } catch (error) {
    showError(error, "error.openLink");
  }
}

async function saveFile(name, text, titleKey = "codes.export.dialog") {
  try {
    if (await ipc.saveReport(name, text, t(titleKey))) toast(t("toast.exported"));
  } catch (error) {
    showError(error, "error.export");
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
  groups: () => groupsOf(accounts.rows ?? []),
  onSaved: (row, edited) => {
    toast(t(edited ? "toast.saved" : "toast.added", { email: row.email }));
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
  codes: (row) => {
    showView("codes");
    codes.showAccount(row.email);
  },
  edit: (row) => editor.open(row),
  remove: (row) => remove(row),
  status: (row) => showStatus(row),
  copy,
  bulk: (action, emails) => bulk(action, emails),
  groupProxy: (group) => setGroupProxy(group),
});

const codes = new CodesView({ copy, open: openLink, save: saveFile, forward: (record) => compose.open(forwardDraft(record), t("compose.forward")) });
const messages = new MessagesView({ onError: (e, title) => showError(e, title) });
const pool = new PoolView({ onAdvice: (advice) => ($("pool-badge").hidden = advice?.level !== "warning") });
const settingsView = new SettingsView({
  onError: (e, title) => showError(e, title),
  onSaved: (values, saved, languageChanged) => {
    settings = values;
    if (languageChanged) loadLanguage(values.app.language);
  },
});
const localApi = new LocalApiPanel({ confirm: confirmDialog });
const importer = new ImportDialog({
  onImported: (report) => {
    toast(t("toast.imported", { added: number(report.added), updated: number(report.updated) }));
    reload();
  },
  onError: (e, title) => showError(e, title),
});

async function remove(row) {
  const ok = await confirmDialog(t("remove.title", { email: row.email }), t("remove.text"), t("remove.ok"));
  if (!ok) return;
  try {
    await ipc.removeAccount(row.email);
    toast(t("toast.removed", { email: row.email }));
    reload();
  } catch (error) {
    showError(error, "error.remove");
  }
}

/** Asks for a group and puts the accounts in it (an empty name: in no group). */
async function setGroup(emails) {
  const current = accounts.byEmail?.get(emails[0])?.group ?? "";
  const group = await promptDialog(t("groupDialog.title", { count: emails.length }), t("groupDialog.text"), t("groupDialog.ok"), {
    value: current,
    placeholder: t("groupDialog.placeholder"),
  });
  if (group === null) return;
  try {
    const n = await ipc.setAccountGroup(emails, group || null);
    toast(group ? t("toast.grouped", { count: n, group }) : t("toast.ungrouped", { count: n }));
  } catch (error) {
    showError(error, "error.group");
  }
  return reload();
}

/** Asks for tags to add to the accounts and, written with a leading minus, to take off them. */
async function setTags(emails) {
  const text = await promptDialog(t("tagsDialog.title", { count: emails.length }), t("tagsDialog.text"), t("groupDialog.ok"), {
    placeholder: t("tagsDialog.placeholder"),
  });
  if (!text) return;
  const { add, remove } = parseTagEdit(text);
  if (!add.length && !remove.length) return;
  try {
    const n = await ipc.tagAccounts(emails, add, remove);
    toast(t("toast.tagged", { count: n }));
  } catch (error) {
    showError(error, "error.tags");
  }
  return reload();
}

/** Asks for a proxy URL and gives it to the accounts as their own (empty: none). */
async function setProxy(emails) {
  const url = await promptDialog(t("proxyDialog.title", { count: emails.length }), t("proxyDialog.text"), t("proxyDialog.ok"), {
    value: accounts.byEmail?.get(emails[0])?.proxy ?? "",
    placeholder: "socks5://user:password@host:1080",
    hint: t("proxyDialog.hint"),
  });
  if (url === null) return;
  try {
    const n = await ipc.setAccountProxy(emails, url || null);
    toast(url ? t("toast.proxySet", { count: n }) : t("toast.proxyCleared", { count: n }));
  } catch (error) {
    showError(error, "error.proxy");
  }
  return reload();
}

/** Asks for a group's proxy URL (empty: none). */
async function setGroupProxy(group) {
  let current = "";
  try {
    current = (await ipc.listGroups()).find((g) => g.name === group)?.proxy ?? "";
  } catch {
    // The field starts empty; saving still works.
  }
  const url = await promptDialog(t("groupProxyDialog.title", { group }), t("groupProxyDialog.text"), t("proxyDialog.ok"), {
    value: current,
    placeholder: "socks5://user:password@host:1080",
    hint: t("proxyDialog.hint"),
  });
  if (url === null) return;
  try {
    await ipc.setGroupProxy(group, url || null);
    toast(t(url ? "toast.groupProxySet" : "toast.groupProxyCleared", { group }));
  } catch (error) {
    showError(error, "error.proxy");
  }
  return reload();
}

/** What the selection bar (and W or Delete on a selection) does to several accounts. */
async function bulk(action, emails) {
  if (!emails.length) return;
  if (action === "group") return setGroup(emails);
  if (action === "proxy") return setProxy(emails);
  if (action === "tags") return setTags(emails);
  if (action === "watch" || action === "unwatch") return setWatching(emails, action === "watch");
  if (action === "export") {
    try {
      return await saveFile("mailwatch-accounts.csv", await ipc.exportAccounts(emails), "selection.export.dialog");
    } catch (error) {
      return showError(error, "error.export");
    }
  }
  if (action === "refresh") {
    toast(t("toast.refreshing", { count: emails.length }));
    try {
      const report = await ipc.refreshTokens(emails);
      toast(t("toast.refreshed", { ok: number(report.ok), failed: number(report.failed) }));
    } catch (error) {
      showError(error, "error.refresh");
    }
    return reload();
  }
  if (action === "remove") {
    const ok = await confirmDialog(t("removeMany.title", { count: emails.length }), t("removeMany.text", { count: emails.length }), t("remove.ok"));
    if (!ok) return;
    let removed = 0;
    try {
      for (const email of emails) {
        await ipc.removeAccount(email);
        removed += 1;
      }
    } catch (error) {
      showError(error, "error.remove");
    }
    toast(t("toast.removedMany", { count: removed }));
    accounts.mark([]);
    return reload();
  }
}

async function setWatching(emails, on) {
  try {
    await ipc.setWatching(emails, on);
    accounts.setWatching(emails, on);
  } catch (error) {
    showError(error, "error.watch");
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
  statusDialog.title.textContent = t("status.dialogTitle", { email: row.email, status: statusLabel(displayStatus(row)) });
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
      showError(error, "error.loadAccounts", reload);
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
    showError(error, "error.loadCodes");
  }
  try {
    pool.update(await ipc.poolStats());
  } catch {
    // The pool panel fills in with the first pushed event.
  }
  await settingsView.load();
  await localApi.load();
  if (settingsView.values) settings = settingsView.values;
  if (settingsView.limits) {
    codes.limit = settingsView.limits.maxTop;
    messages.setDefaultTop(settingsView.limits.listTop);
  }
  setPausedButton(Boolean(settingsView.watch?.paused));
  try {
    const info = await ipc.appInfo();
    appInfo = info;
    paintAppInfo();
    if (info.notificationsUnavailable) notificationsUnavailable();
  } catch {
    // Shown when the engine opens.
  }
}

let appInfo = null;
function paintAppInfo() {
  $("app-info").textContent = appInfo ? t("settings.appInfo", { version: appInfo.version, dir: appInfo.dataDir }) : "";
}

// ---- Language ---------------------------------------------------------------------------

/**
 * Puts the catalogue for `choice` (a language code, "" for the system's, or undefined for
 * the one chosen in Settings) in force and says everything again, without a restart.
 */
async function loadLanguage(choice) {
  try {
    const catalogue = await ipc.getCatalogue(choice);
    setCatalogue(catalogue.language, catalogue.messages, catalogue.english);
  } catch {
    // Outside the app (no backend) the keys stay; the banner says why.
  }
  applyStatic(document);
  setPausedButton($("pause").getAttribute("aria-pressed") === "true");
  accounts.relabel();
  codes.paint();
  messages.relabel();
  pool.relabel();
  settingsView.relabel();
  localApi.relabel();
  editor.relabel();
  paintAppInfo();
  paintKeys();
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

// The keys the `?` overlay lists: `[keys, catalogue key]`.
const KEYS = [
  ["Alt+1 … Alt+5", "keys.views"],
  ["/", "keys.search"],
  ["Ctrl+N", "keys.add"],
  ["Ctrl+O", "keys.import"],
  ["F5", "keys.reload"],
  ["↑↓ PgUp/PgDn Home/End", "keys.select"],
  ["Shift+↑↓ Ctrl+Click Space", "keys.selectMany"],
  ["Ctrl+A", "keys.selectAll"],
  ["Enter", "keys.wait"],
  ["W", "keys.watch"],
  ["M", "keys.messages"],
  ["K", "keys.codes"],
  ["C", "keys.compose"],
  ["E", "keys.edit"],
  ["Y", "keys.copyAddress"],
  ["Ctrl+C", "keys.copyCode"],
  ["S", "keys.status"],
  ["Delete", "keys.remove"],
  ["Ctrl+Enter", "keys.send"],
  ["Esc", "keys.escape"],
  ["?", "keys.help"],
];

function paintKeys() {
  $("keys-list").replaceChildren(
    ...KEYS.map(([keys, what]) => {
      const pair = document.createElement("div");
      pair.className = "key";
      const dt = document.createElement("dt");
      for (const [i, key] of keys.split(" ").entries()) {
        if (i) dt.append(" ");
        if (key === "…") {
          dt.append(key);
          continue;
        }
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        dt.append(kbd);
      }
      const dd = document.createElement("dd");
      dd.textContent = t(what);
      pair.append(dt, dd);
      return pair;
    }),
  );
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") clearToasts();
  if (document.querySelector("dialog[open]")) return;
  const ctrl = event.ctrlKey || event.metaKey;
  const typing = event.target.closest?.("input, textarea, select");
  if (event.key === "?" && !typing) {
    event.preventDefault();
    $("keys-dialog").showModal();
  } else if (event.altKey && /^[1-5]$/.test(event.key)) {
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
  } else if (event.key === "/" && !typing) {
    event.preventDefault();
    if (!$("view-codes").hidden) return codes.focusSearch();
    showView("accounts");
    accounts.focusSearch();
  }
});

$("refresh").addEventListener("click", reload);
$("watch-shown").addEventListener("click", async () => {
  const { emails, allWatched } = accounts.shownAccounts();
  if (!allWatched && emails.length > 100) {
    const ok = await confirmDialog(t("watchMany.title", { count: emails.length }), t("watchMany.text"), t("watchMany.ok"));
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
  button.textContent = t(paused ? "toolbar.resume" : "toolbar.pause");
}

$("pause").addEventListener("click", async () => {
  const paused = $("pause").getAttribute("aria-pressed") !== "true";
  try {
    await ipc.setPaused(paused);
    setPausedButton(paused);
  } catch (error) {
    showError(error, "error.pause");
  }
});

let notified = false;
function notificationsUnavailable() {
  if (notified) return;
  notified = true;
  toast(t("toast.noNotifications"));
}

// ---- Pushed events ----------------------------------------------------------------------

ipc.onAccountStatus((change) => accounts.updateStatus(change));
ipc.onCodeFound((code) => {
  codes.add(code);
  accounts.codeFound(code);
});
ipc.onPoolStats((stats) => pool.update(stats));
// The watch's figures (pushed, polled, waiting for a login) change without a pushed event:
// while the panel shows, read them every two seconds.
setInterval(() => {
  if (!document.getElementById("view-pool").hidden) refreshPool();
}, 2000);
ipc.onPaused((state) => setPausedButton(state.paused));
ipc.onNotificationsUnavailable(() => notificationsUnavailable());
ipc.onFileDrop((paths) => {
  if (paths.length) importer.open(paths[0]);
});

$("keys-close").addEventListener("click", () => $("keys-dialog").close());

showView("accounts");
loadLanguage().then(reload).then(loadRest);
