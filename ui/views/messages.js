// The messages view: an account's newest messages, and a sandboxed viewer for one.

import { age } from "../lib/format.js";
import { t, dateTime } from "../lib/i18n.js";
import { messageDocument } from "../lib/sandbox.js";
import * as ipc from "../ipc.js";
import { td } from "./dom.js";

export class MessagesView {
  constructor({ onError }) {
    this.onError = onError;
    this.el = {
      account: document.getElementById("messages-account"),
      folder: document.getElementById("messages-folder"),
      top: document.getElementById("messages-top"),
      load: document.getElementById("messages-load"),
      status: document.getElementById("messages-status"),
      empty: document.getElementById("messages-empty"),
      table: document.getElementById("messages-table"),
      rows: document.getElementById("messages-rows"),
      dialog: document.getElementById("message-dialog"),
      subject: document.getElementById("message-subject"),
      from: document.getElementById("message-from"),
      images: document.getElementById("message-images"),
      allow: document.getElementById("message-allow"),
      frame: document.getElementById("message-frame"),
    };
    this.el.load.addEventListener("click", () => this.load());
    this.el.rows.addEventListener("click", (event) => this.open(event.target.closest("tr")));
    this.el.rows.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.open(event.target.closest("tr"));
    });
    this.el.allow.addEventListener("click", () => {
      if (this.current) this.show(this.current, true);
    });
    this.el.dialog.querySelector("[data-close]").addEventListener("click", () => this.el.dialog.close());
  }

  /** Says the listing's count again in the language now in force. */
  relabel() {
    if (this.count != null && this.el.status.textContent) this.el.status.textContent = t("messages.count", { count: this.count });
  }

  /** Selects `top` (`cache.listTop`) as the listing's size, adding it when it is not offered. */
  setDefaultTop(top) {
    const value = String(top);
    if (![...this.el.top.options].some((o) => o.value === value)) {
      const option = document.createElement("option");
      option.textContent = value;
      const after = [...this.el.top.options].find((o) => Number(o.value) > top);
      this.el.top.insertBefore(option, after ?? null);
    }
    this.el.top.value = value;
  }

  setAccounts(rows) {
    const current = this.el.account.value;
    this.el.account.replaceChildren(
      ...rows.slice(0, 5000).map((r) => {
        const option = document.createElement("option");
        option.value = r.email;
        option.textContent = r.email;
        return option;
      }),
    );
    if (current) this.el.account.value = current;
  }

  /** Shows the account's messages (from the accounts list's "Messages"). */
  showAccount(email) {
    if (![...this.el.account.options].some((o) => o.value === email)) {
      const option = document.createElement("option");
      option.value = option.textContent = email;
      this.el.account.prepend(option);
    }
    this.el.account.value = email;
    this.load();
  }

  async load() {
    const email = this.el.account.value;
    if (!email) return;
    const folder = this.el.folder.value;
    this.el.status.textContent = t("messages.loading");
    this.el.load.disabled = true;
    try {
      const messages = await ipc.listMessages(email, folder, Number(this.el.top.value));
      this.email = email;
      this.folder = folder;
      this.paint(messages);
      this.count = messages.length;
      this.el.status.textContent = t("messages.count", { count: messages.length });
    } catch (error) {
      this.el.status.textContent = "";
      this.onError(error, "messages.error.load");
    } finally {
      this.el.load.disabled = false;
    }
  }

  paint(messages) {
    const now = Date.now();
    this.el.empty.hidden = messages.length > 0;
    if (!messages.length) this.el.empty.textContent = t("messages.emptyFolder");
    this.el.table.hidden = messages.length === 0;
    this.el.rows.replaceChildren(
      ...messages.map((m) => {
        const tr = document.createElement("tr");
        tr.tabIndex = 0;
        tr.dataset.uid = String(m.uid);
        tr.dataset.folder = m.folder;
        tr.append(td(m.from ?? ""), td(m.subject ?? t("messages.noSubject")), td(m.code ?? "", "code-inline"), td(age(m.received, now)));
        return tr;
      }),
    );
  }

  async open(tr) {
    if (!tr?.dataset.uid) return;
    try {
      const view = await ipc.openMessage(this.email, tr.dataset.folder, Number(tr.dataset.uid));
      this.current = view;
      this.show(view, false);
      if (!this.el.dialog.open) this.el.dialog.showModal();
    } catch (error) {
      this.onError(error, "messages.error.open");
    }
  }

  show(view, allowImages) {
    this.el.subject.textContent = view.subject ?? t("messages.noSubject");
    const cut = view.truncatedFrom && t("messages.truncated", { count: Math.ceil(view.truncatedFrom / 1048576) });
    this.el.from.textContent = [view.from, view.date && dateTime(view.date), cut].filter(Boolean).join(" · ");
    this.el.images.hidden = !view.remoteImages || allowImages;
    this.el.frame.srcdoc = messageDocument(view, allowImages);
  }
}
