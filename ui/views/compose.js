// Writing a message from an account: From is the account, To takes comma-separated
// addresses. Ctrl+Enter sends, Escape closes; a failed send keeps the dialog and its text.

import { parseRecipients, sendFailure } from "../lib/compose.js";
import { t } from "../lib/i18n.js";
import * as ipc from "../ipc.js";

export class ComposeDialog {
  /** @param {object} actions `{onSent(receipt, draft)}` once the dialog closed, `{onFailed(error)}` */
  constructor({ onSent, onFailed }) {
    this.onSent = onSent;
    this.onFailed = onFailed;
    this.sending = false;
    const $ = (id) => document.getElementById(id);
    this.el = {
      dialog: $("compose-dialog"), form: $("compose-form"), title: $("compose-title"), from: $("compose-from"),
      to: $("compose-to"), subject: $("compose-subject"), text: $("compose-text"), error: $("compose-error"),
      keys: $("compose-keys"), cancel: $("compose-cancel"), send: $("compose-send"),
    };
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.el.cancel.addEventListener("click", () => this.close());
    // Escape closes, but not while a send is under way: its outcome belongs in the dialog.
    this.el.dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.close();
    });
    this.el.dialog.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.send();
      }
    });
  }

  /**
   * Opens the dialog with `draft` (`{from, to, subject, text}`, all but `from` optional) and
   * puts the cursor in To when it is empty, otherwise in the subject.
   */
  open(draft, title = t("compose.new")) {
    if (this.sending) return;
    const { el } = this;
    el.title.textContent = title;
    el.from.value = draft.from;
    el.to.value = draft.to ?? "";
    el.subject.value = draft.subject ?? "";
    el.text.value = draft.text ?? "";
    this.showError(null);
    if (!el.dialog.open) el.dialog.showModal();
    (el.to.value.trim() ? el.subject : el.to).focus();
  }

  close() {
    if (this.sending) return;
    this.el.dialog.close();
  }

  showError(text) {
    this.el.error.textContent = text ?? "";
    this.el.error.hidden = !text;
    this.el.keys.hidden = Boolean(text);
  }

  async send() {
    if (this.sending) return;
    const { el } = this;
    const { addresses, invalid } = parseRecipients(el.to.value);
    if (invalid.length) {
      this.showError(t("compose.notAnAddress", { address: invalid[0] }));
      el.to.focus();
      return;
    }
    if (!addresses.length) {
      this.showError(t("compose.noRecipient"));
      el.to.focus();
      return;
    }
    const draft = { from: el.from.value, to: addresses, subject: el.subject.value.trim(), text: el.text.value };
    this.setSending(true);
    this.showError(null);
    try {
      const receipt = await ipc.sendMessage(draft);
      this.setSending(false);
      el.dialog.close();
      this.onSent(receipt, draft);
    } catch (error) {
      this.setSending(false);
      this.showError(sendFailure(error, draft.from));
      // The disabled button lost the focus; give it back so Ctrl+Enter tries again.
      if (!el.dialog.contains(document.activeElement)) el.send.focus();
      this.onFailed(error);
    }
  }

  setSending(sending) {
    const { el } = this;
    this.sending = sending;
    el.send.disabled = sending;
    el.cancel.disabled = sending;
    el.send.textContent = t(sending ? "compose.sending" : "compose.send");
    el.form.setAttribute("aria-busy", String(sending));
  }
}
