// Wires the page together: the error banner, the refresh controls and the accounts view.

import * as ipc from "./ipc.js";
import { AccountsView } from "./views/accounts.js";

const banner = {
  root: document.getElementById("banner"),
  title: document.getElementById("banner-title"),
  message: document.getElementById("banner-message"),
  retry: document.getElementById("banner-retry"),
};

// What each error code means to the user, as the banner's title; the message says the rest.
const TITLES = {
  cache_error: "Mailwatch could not read its cache.",
  data_dir_unusable: "Mailwatch could not use its data folder.",
  extra_ca_invalid: "Mailwatch could not load the extra CA certificates.",
  engine_stopped: "The mail engine stopped.",
  ipc: "The window could not reach Mailwatch.",
  no_backend: "Not running inside Mailwatch.",
};

function showError(error) {
  banner.title.textContent = TITLES[error.code] ?? "Mailwatch could not load your accounts.";
  banner.message.textContent = sentence(error.message);
  banner.retry.hidden = error.code === "no_backend";
  banner.root.hidden = false;
}

function hideError() {
  banner.root.hidden = true;
}

// Engine messages are lower-case clauses ("cannot open ..."); show them as a sentence.
function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

const accounts = new AccountsView(document.getElementById("accounts-view"), {
  count: document.getElementById("account-count"),
});

let loading = null;

async function reload() {
  // One request at a time; a second click while loading just waits for the first.
  if (loading) return loading;
  loading = (async () => {
    accounts.setBusy(true);
    try {
      accounts.render(await ipc.listAccounts());
      hideError();
    } catch (error) {
      accounts.renderUnavailable();
      showError(error);
    } finally {
      accounts.setBusy(false);
      loading = null;
    }
  })();
  return loading;
}

document.getElementById("refresh").addEventListener("click", reload);
banner.retry.addEventListener("click", reload);
document.addEventListener("keydown", (event) => {
  if (event.key === "F5" || ((event.ctrlKey || event.metaKey) && event.key === "r")) {
    event.preventDefault();
    reload();
  }
});

ipc.onAccountStatus((change) => accounts.updateStatus(change));

reload();
