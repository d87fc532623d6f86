// The accounts list: one focusable row per account, an empty state for a first run, and
// live status updates. Rows are moved between with the arrow keys (one tab stop for the list).

const PROVIDERS = { outlook: "Outlook", gmail: "Gmail", imap: "IMAP" };

const STATUSES = {
  ok: { label: "OK", tone: "ok" },
  "needs-reauth": { label: "Sign in again", tone: "warn" },
  error: { label: "Error", tone: "bad" },
};

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class AccountsView {
  constructor(root, { count }) {
    this.root = root;
    this.count = count;
    this.loading = root.querySelector("#accounts-loading");
    this.empty = root.querySelector("#accounts-empty");
    this.table = root.querySelector("#accounts-table");
    this.rows = root.querySelector("#accounts-rows");
    this.rows.addEventListener("keydown", (event) => this.onKey(event));
    this.rows.addEventListener("focusin", (event) => this.onFocus(event));
  }

  setBusy(busy) {
    this.root.setAttribute("aria-busy", String(busy));
  }

  render(accounts) {
    const focusedEmail = document.activeElement?.closest?.("tr")?.dataset.email;
    this.loading.hidden = true;
    this.empty.hidden = accounts.length > 0;
    this.table.hidden = accounts.length === 0;
    this.count.textContent = accounts.length === 0 ? "" : accounts.length === 1 ? "1 account" : `${accounts.length} accounts`;
    this.rows.replaceChildren(...accounts.map((account) => renderRow(account)));

    // Keep the keyboard where it was across a refresh, or make the first row the tab stop.
    const rows = [...this.rows.rows];
    const keep = rows.find((row) => row.dataset.email === focusedEmail) ?? rows[0];
    if (keep) {
      keep.tabIndex = 0;
      if (focusedEmail && keep.dataset.email === focusedEmail) keep.focus();
    }
  }

  // Shown when the list could not be read: neither a stale list nor a misleading empty state.
  renderUnavailable() {
    this.loading.hidden = true;
    this.empty.hidden = true;
    this.table.hidden = true;
    this.count.textContent = "";
  }

  updateStatus({ email, status, detail }) {
    const row = [...this.rows.rows].find((r) => r.dataset.email === email);
    if (!row) return;
    row.querySelector(".status").replaceWith(renderStatus(status, detail));
  }

  onFocus(event) {
    const row = event.target.closest("tr");
    if (!row) return;
    for (const other of this.rows.rows) other.tabIndex = other === row ? 0 : -1;
  }

  onKey(event) {
    const rows = [...this.rows.rows];
    const at = rows.indexOf(event.target.closest("tr"));
    if (at < 0) return;
    const next = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    rows[Math.max(0, Math.min(rows.length - 1, next))].focus();
  }
}

function renderRow(account) {
  const row = document.createElement("tr");
  row.dataset.email = account.email;
  row.tabIndex = -1;

  const address = cell("address", account.email);
  const provider = cell("provider", PROVIDERS[account.provider] ?? account.provider);
  const status = document.createElement("td");
  status.append(renderStatus(account.status, account.statusDetail));
  const lastCheck = cell("last-check", "—");
  if (typeof account.lastCheck === "number") {
    lastCheck.textContent = timeFormat.format(new Date(account.lastCheck * 1000));
  } else {
    lastCheck.classList.add("muted");
    lastCheck.title = "Not checked yet";
  }

  row.append(address, provider, status, lastCheck);
  row.setAttribute("aria-label", `${account.email}, ${PROVIDERS[account.provider] ?? account.provider}, ${statusLabel(account.status)}`);
  return row;
}

function renderStatus(status, detail) {
  const known = STATUSES[status] ?? { label: status, tone: "bad" };
  const box = document.createElement("div");
  box.className = "status";
  const badge = document.createElement("span");
  badge.className = `badge badge-${known.tone}`;
  badge.textContent = known.label;
  box.append(badge);
  if (detail) {
    const text = document.createElement("span");
    text.className = "status-detail";
    text.textContent = detail;
    box.append(text);
  }
  return box;
}

function statusLabel(status) {
  return (STATUSES[status] ?? { label: status }).label;
}

function cell(className, text) {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}
