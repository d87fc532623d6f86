// The accounts view: a searchable, filterable list that renders only the rows in view, so
// 10,000 accounts scroll smoothly. Rows are reused DOM nodes; nothing is rebuilt per scroll
// except the few rows that come into view. Several rows can be selected (Ctrl or Shift with a
// click or the arrows, Ctrl+A) and acted on together from the selection bar.

import { displayStatus, statusLabel, statusTone, filterAccounts, countByStatus, sortAccounts, groupsOf, tagsOf, FILTERS, SORTS, NO_GROUP } from "../lib/accounts.js";
import { age, providerName } from "../lib/format.js";
import { t, number } from "../lib/i18n.js";
import { visibleRange, scrollToReveal } from "../lib/virtual.js";

const ROW_HEIGHT = 40;

export class AccountsView {
  /**
   * @param {object} actions `{wait(row), watch(row, on), messages(row), codes(row), compose(row), edit(row), remove(row), status(row), copy(text, what), bulk(action, emails), groupProxy(group)}`
   */
  constructor(actions) {
    this.actions = actions;
    this.rows = [];
    this.shown = [];
    this.selected = null; // email: the keyboard's row
    this.marked = new Set(); // emails: the selection
    this.anchor = null; // email: where a Shift selection starts
    this.query = "";
    // The filter and order survive restarts (the window's own storage; no account data).
    this.filter = localStorage.getItem("mailwatch:accounts-filter") ?? "all";
    this.sort = localStorage.getItem("mailwatch:accounts-sort") ?? "added";
    this.group = "";
    this.tag = "";
    this.el = {
      view: document.getElementById("view-accounts"),
      loading: document.getElementById("accounts-loading"),
      empty: document.getElementById("accounts-empty"),
      none: document.getElementById("accounts-none"),
      list: document.getElementById("accounts-list"),
      viewport: document.getElementById("accounts-viewport"),
      spacer: document.getElementById("accounts-spacer"),
      search: document.getElementById("account-search"),
      filter: document.getElementById("account-filter"),
      sort: document.getElementById("account-sort"),
      count: document.getElementById("account-count"),
      group: document.getElementById("account-group"),
      tag: document.getElementById("account-tag"),
      groupProxy: document.getElementById("group-proxy"),
    };
    this.el.group.addEventListener("change", () => {
      this.group = this.el.group.value;
      this.apply();
    });
    this.el.tag.addEventListener("change", () => {
      this.tag = this.el.tag.value;
      this.apply();
    });
    this.el.groupProxy.addEventListener("click", () => {
      if (this.group && this.group !== NO_GROUP) this.actions.groupProxy(this.group);
    });
    this.el.search.addEventListener("input", () => {
      this.query = this.el.search.value;
      this.apply();
    });
    this.el.filter.addEventListener("change", () => {
      this.filter = this.el.filter.value;
      localStorage.setItem("mailwatch:accounts-filter", this.filter);
      this.apply();
    });
    this.el.sort.addEventListener("change", () => {
      this.sort = this.el.sort.value;
      localStorage.setItem("mailwatch:accounts-sort", this.sort);
      this.apply();
    });
    this.el.viewport.addEventListener("scroll", () => this.paint(), { passive: true });
    new ResizeObserver(() => this.paint()).observe(this.el.viewport);
    this.el.list.addEventListener("keydown", (event) => this.onKey(event));
    this.el.spacer.addEventListener("click", (event) => this.onClick(event));
    this.el.bar = document.getElementById("selection-bar");
    this.el.barCount = document.getElementById("selection-count");
    this.el.bar.addEventListener("click", (event) => {
      const action = event.target.closest("[data-bulk]")?.dataset.bulk;
      if (action === "clear") this.mark([]);
      else if (action) this.actions.bulk(action, this.markedEmails());
    });
    this.renderFilter();
  }

  /** Draws everything again in the language now in force. */
  relabel() {
    this.renderFilter();
    this.apply();
  }

  setBusy(busy) {
    this.el.view.setAttribute("aria-busy", String(busy));
  }

  /** Replaces every row (after a load). */
  render(rows) {
    this.rows = rows;
    this.byEmail = new Map(rows.map((r) => [r.email, r]));
    this.el.loading.hidden = true;
    this.apply();
  }

  renderUnavailable() {
    this.el.loading.hidden = true;
    this.el.count.textContent = "";
  }

  /** Applies a pushed status change to one row. */
  updateStatus({ email, status, detail }) {
    const row = this.byEmail?.get(email);
    if (!row) return;
    row.status = status;
    row.statusDetail = detail ?? null;
    this.repaint();
  }

  /** Records a new code on its account's row. */
  codeFound(code) {
    const row = this.byEmail?.get(code.email);
    if (!row) return;
    row.lastCode = { ...code, foundAt: Math.floor(Date.now() / 1000) };
    row.lastCheck = Math.floor(Date.now() / 1000);
    this.repaint();
  }

  setWatching(emails, on) {
    for (const email of emails) {
      const row = this.byEmail?.get(email);
      if (row) row.watching = on;
    }
    this.apply();
  }

  /** The addresses the search and filter show now, and whether all of them are watched. */
  shownAccounts() {
    return { emails: this.shown.map((r) => r.email), allWatched: this.shown.length > 0 && this.shown.every((r) => r.watching) };
  }

  selectedRow() {
    return this.selected ? this.byEmail?.get(this.selected) ?? null : null;
  }

  focusSearch() {
    this.el.search.focus();
    this.el.search.select();
  }

  renderFilter() {
    const counts = countByStatus(this.rows);
    const current = this.el.filter.value || this.filter;
    this.el.filter.replaceChildren(
      ...FILTERS.map(([value, label]) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = this.rows.length ? t("accounts.filter.count", { label: t(label), count: counts[value] ?? 0 }) : t(label);
        return option;
      }),
    );
    this.el.filter.value = current;
    this.el.sort.replaceChildren(
      ...SORTS.map(([value, label]) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = t(label);
        return option;
      }),
    );
    this.el.sort.value = this.sort;
    this.renderLabels();
  }

  /** The group and tag filters: shown only when some account has a group or a tag. */
  renderLabels() {
    const groups = groupsOf(this.rows);
    const tags = tagsOf(this.rows);
    if (this.group && this.group !== NO_GROUP && !groups.includes(this.group)) this.group = "";
    if (this.tag && !tags.includes(this.tag)) this.tag = "";
    const option = (value, text) => {
      const o = document.createElement("option");
      o.value = value;
      o.textContent = text;
      return o;
    };
    this.el.group.replaceChildren(option("", t("accounts.group.all")), option(NO_GROUP, t("accounts.group.none")), ...groups.map((g) => option(g, g)));
    this.el.group.value = this.group;
    this.el.group.hidden = groups.length === 0;
    this.el.tag.replaceChildren(option("", t("accounts.tag.all")), ...tags.map((tag) => option(tag, tag)));
    this.el.tag.value = this.tag;
    this.el.tag.hidden = tags.length === 0;
    this.el.groupProxy.hidden = !this.group || this.group === NO_GROUP;
  }

  apply() {
    this.renderFilter();
    this.shown = sortAccounts(filterAccounts(this.rows, this.query, this.filter, this.group, this.tag), this.sort);
    const total = this.rows.length;
    this.el.empty.hidden = total !== 0;
    this.el.list.hidden = total === 0 || this.shown.length === 0;
    this.el.none.hidden = total === 0 || this.shown.length !== 0;
    document.getElementById("accounts-keys").hidden = total === 0;
    const watchShown = document.getElementById("watch-shown");
    watchShown.hidden = this.shown.length === 0;
    watchShown.textContent = t(this.shown.length && this.shown.every((r) => r.watching) ? "accounts.unwatchShown" : "accounts.watchShown");
    this.el.count.textContent =
      total === 0 ? "" : this.shown.length === total ? t("accounts.count", { count: total }) : t("accounts.countOf", { shown: number(this.shown.length), count: total });
    this.el.list.setAttribute("aria-rowcount", String(this.shown.length));
    this.el.spacer.style.height = `${this.shown.length * ROW_HEIGHT}px`;
    if (this.selected && !this.shown.some((r) => r.email === this.selected)) this.selected = null;
    const shown = new Set(this.shown.map((r) => r.email));
    this.marked = new Set([...this.marked].filter((e) => shown.has(e)));
    this.paintBar();
    this.repaint();
  }

  /** The selected addresses, in the list's order. */
  markedEmails() {
    return this.shown.filter((r) => this.marked.has(r.email)).map((r) => r.email);
  }

  /** Selects exactly `emails`. */
  mark(emails) {
    this.marked = new Set(emails);
    this.paintBar();
    this.repaint();
  }

  paintBar() {
    this.el.bar.hidden = this.marked.size < 2;
    this.el.barCount.textContent = t("selection.count", { count: this.marked.size });
  }

  /** Marks the rows from the anchor to `email`, in the list's order. */
  markRange(email) {
    const from = this.shown.findIndex((r) => r.email === (this.anchor ?? email));
    const to = this.shown.findIndex((r) => r.email === email);
    const [a, b] = from <= to ? [from, to] : [to, from];
    this.mark(this.shown.slice(Math.max(0, a), b + 1).map((r) => r.email));
  }

  repaint() {
    this.painted = null;
    this.paint();
  }

  /** Draws the rows in view, reusing row elements. */
  paint() {
    const { viewport, spacer } = this.el;
    const { start, end } = visibleRange(viewport.scrollTop, viewport.clientHeight || 600, ROW_HEIGHT, this.shown.length);
    const key = `${start}:${end}`;
    if (this.painted === key) return;
    this.painted = key;
    const now = Date.now();
    const existing = Array.from(spacer.children);
    const needed = end - start;
    while (existing.length < needed) {
      const row = document.createElement("div");
      row.className = "vrow";
      row.setAttribute("role", "row");
      spacer.append(row);
      existing.push(row);
    }
    existing.forEach((el, i) => {
      if (i >= needed) {
        el.hidden = true;
        return;
      }
      const index = start + i;
      const data = this.shown[index];
      el.hidden = false;
      el.style.top = `${index * ROW_HEIGHT}px`;
      el.dataset.email = data.email;
      el.setAttribute("aria-rowindex", String(index + 1));
      el.setAttribute("aria-selected", String(this.marked.has(data.email)));
      el.classList.toggle("cursor", data.email === this.selected && this.marked.size !== 1);
      fillRow(el, data, now);
    });
  }

  /** Moves the keyboard's row to `email`, selecting it alone unless `keep` (the selection stays). */
  select(email, reveal = true, keep = false) {
    this.selected = email;
    if (!keep) {
      this.marked = new Set([email]);
      this.anchor = email;
      this.paintBar();
    }
    const index = this.shown.findIndex((r) => r.email === email);
    if (reveal && index >= 0) {
      const { viewport } = this.el;
      const top = scrollToReveal(index, viewport.scrollTop, viewport.clientHeight, ROW_HEIGHT);
      if (top != null) viewport.scrollTop = top;
    }
    this.repaint();
  }

  onClick(event) {
    const rowEl = event.target.closest(".vrow");
    if (!rowEl) return;
    const row = this.byEmail.get(rowEl.dataset.email);
    if (!row) return;
    const action = event.target.closest("[data-action]")?.dataset.action;
    if (!action && (event.ctrlKey || event.metaKey)) {
      const marked = new Set(this.marked);
      if (marked.has(row.email)) marked.delete(row.email);
      else marked.add(row.email);
      this.selected = row.email;
      this.anchor = row.email;
      return this.mark([...marked]);
    }
    if (!action && event.shiftKey) {
      this.selected = row.email;
      return this.markRange(row.email);
    }
    if (!(action && this.marked.has(row.email) && this.marked.size > 1)) this.select(row.email, false);
    if (action === "wait") this.actions.wait(row);
    else if (action === "watch") this.actions.watch(row, !row.watching);
    else if (action === "messages") this.actions.messages(row);
    else if (action === "compose") this.actions.compose(row);
    else if (action === "edit") this.actions.edit(row);
    else if (action === "remove") this.actions.remove(row);
    else if (action === "status") this.actions.status(row);
    else if (action === "copy" && row.lastCode?.code) this.actions.copy(row.lastCode.code);
    else if (action === "copy-address") this.actions.copy(row.email, "address");
    else if (action === "codes") this.actions.codes(row);
  }

  onKey(event) {
    if (event.target.closest("button") && (event.key === "Enter" || event.key === " ")) return;
    const index = this.shown.findIndex((r) => r.email === this.selected);
    const move = (to) => {
      event.preventDefault();
      const clamped = Math.max(0, Math.min(this.shown.length - 1, to));
      const email = this.shown[clamped]?.email;
      if (!email) return;
      if (event.shiftKey) {
        this.select(email, true, true);
        this.markRange(email);
      } else {
        this.select(email, true, event.ctrlKey || event.metaKey);
      }
    };
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "a") {
      event.preventDefault();
      return this.mark(this.shown.map((r) => r.email));
    }
    if (event.key === " " && this.selected) {
      event.preventDefault();
      const marked = new Set(this.marked);
      if (marked.has(this.selected)) marked.delete(this.selected);
      else marked.add(this.selected);
      return this.mark([...marked]);
    }
    if (event.key === "Escape" && this.marked.size > 1) {
      event.preventDefault();
      return this.mark(this.selected ? [this.selected] : []);
    }
    // With several rows selected, W and Delete act on all of them.
    const many = this.marked.size > 1 && !event.ctrlKey && !event.altKey && !event.metaKey;
    if (many && (event.key === "Delete" || event.key.toLowerCase() === "w")) {
      event.preventDefault();
      const emails = this.markedEmails();
      if (event.key === "Delete") return this.actions.bulk("remove", emails);
      const allWatched = emails.every((e) => this.byEmail.get(e)?.watching);
      return this.actions.bulk(allWatched ? "unwatch" : "watch", emails);
    }
    const page = Math.max(1, Math.floor(this.el.viewport.clientHeight / ROW_HEIGHT) - 1);
    const row = this.selectedRow();
    switch (event.key) {
      case "ArrowDown": return move(index + 1);
      case "ArrowUp": return move(index < 0 ? 0 : index - 1);
      case "PageDown": return move(index + page);
      case "PageUp": return move(index - page);
      case "Home": return move(0);
      case "End": return move(this.shown.length - 1);
    }
    if (row && (event.ctrlKey || event.metaKey) && key0(event) === "c" && row.lastCode?.code && !String(getSelection())) {
      event.preventDefault();
      return this.actions.copy(row.lastCode.code);
    }
    if (!row || event.ctrlKey || event.altKey || event.metaKey) return;
    const key = event.key.toLowerCase();
    if (event.key === "Enter") this.actions.wait(row);
    else if (key === "w") this.actions.watch(row, !row.watching);
    else if (key === "m") this.actions.messages(row);
    else if (key === "c") this.actions.compose(row);
    else if (key === "e") this.actions.edit(row);
    else if (key === "y") this.actions.copy(row.email, "address");
    else if (key === "s") this.actions.status(row);
    else if (key === "k") this.actions.codes(row);
    else if (event.key === "Delete") this.actions.remove(row);
    else return;
    event.preventDefault();
  }
}

function key0(event) {
  return event.key.toLowerCase();
}

function cell(className, text) {
  const span = document.createElement("span");
  span.setAttribute("role", "gridcell");
  if (className) span.className = className;
  if (text != null) span.textContent = text;
  return span;
}

function button(action, label, title, className = "icon-button") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.dataset.action = action;
  b.textContent = label;
  b.title = title;
  b.tabIndex = -1;
  return b;
}

/** A button that shows a symbol; its name for screen readers is its title. */
function iconButton(action, symbol, title) {
  const b = button(action, symbol, title);
  b.setAttribute("aria-label", title);
  return b;
}

/** Whether the account is read through Microsoft Graph: set to it, or moved to it by `auto`. */
function readsThroughGraph(row) {
  return row.channel === "graph" || (row.channel === "auto" && row.channelInUse === "graph");
}

function fillRow(el, row, now) {
  const status = displayStatus(row);
  const email = cell("email");
  const address = document.createElement("span");
  address.className = "address";
  address.textContent = row.email;
  address.title = row.email;
  const copyAddress = button("copy-address", "", t("accounts.copyAddress.title"), "icon-button copy-address");
  copyAddress.setAttribute("aria-label", t("accounts.copyAddress.title"));
  email.append(address, copyAddress);
  const statusCell = cell("");
  const badge = button("status", statusLabel(status), row.statusDetail ?? t("accounts.status.title"), `status ${statusTone(status)}`);
  statusCell.append(badge);
  const codeCell = cell("");
  if (row.lastCode?.code) {
    codeCell.classList.add("last-code");
    const code = button("copy", row.lastCode.code, t("accounts.copyCode.title"), "copy-code");
    const when = document.createElement("span");
    when.className = "muted small age";
    when.textContent = age(row.lastCode.foundAt, now);
    when.title = when.textContent;
    codeCell.append(code, when);
  } else {
    codeCell.textContent = "—";
    codeCell.classList.add("muted");
  }
  const actions = cell("actions");
  actions.append(
    button("wait", t("accounts.action.wait"), t("accounts.action.wait.title"), "button small"),
    button("watch", t(row.watching ? "accounts.action.unwatch" : "accounts.action.watch"), t(row.watching ? "accounts.action.unwatch.title" : "accounts.action.watch.title")),
    button("messages", t("accounts.action.messages"), t("accounts.action.messages.title")),
    button("codes", t("accounts.action.codes"), t("accounts.action.codes.title")),
    iconButton("compose", "✉", t("accounts.action.compose.title")),
    iconButton("edit", "✎", t("accounts.action.edit.title")),
    button("remove", "✕", t("accounts.action.remove.title")),
  );
  const provider = cell("muted", providerName(row.provider));
  if (readsThroughGraph(row)) {
    provider.textContent = `${providerName(row.provider)} · ${t("accounts.channel.graph")}`;
    provider.title = t("accounts.channel.graph.title");
  }
  if (row.group || row.tags?.length || row.proxy) {
    const labels = document.createElement("span");
    labels.className = "small labels";
    labels.textContent = [row.group, ...(row.tags ?? []).map((tag) => `#${tag}`), row.proxy ? "⇄" : ""].filter(Boolean).join(" ");
    address.after(labels);
    labels.title = t("accounts.labels.title", {
      group: row.group ?? t("accounts.group.none"),
      tags: (row.tags ?? []).join(", ") || "—",
      proxy: row.proxy ?? t("accounts.proxy.none"),
    });
  }
  el.replaceChildren(email, provider, statusCell, codeCell, cell("muted", age(row.lastCheck, now)), actions);
}
