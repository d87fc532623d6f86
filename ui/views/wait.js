// "Wait for code" on one account: a countdown with cancel, then the code shown big with its
// service and a copy button (copied at once when auto-copy is on).

import { countdown } from "../lib/format.js";
import { t } from "../lib/i18n.js";
import { errorText } from "../lib/errors.js";
import * as ipc from "../ipc.js";

export class WaitDialog {
  constructor({ copy, open, autoCopy, timeoutSecs }) {
    this.copy = copy;
    this.open = open;
    this.autoCopy = autoCopy;
    this.timeoutSecs = timeoutSecs;
    const $ = (id) => document.getElementById(id);
    this.el = {
      dialog: $("wait-dialog"), title: $("wait-title"), account: $("wait-account"), waiting: $("wait-waiting"),
      countdown: $("wait-countdown"), found: $("wait-found"), service: $("wait-service"), code: $("wait-code"),
      copied: $("wait-copied"), link: $("wait-link"), error: $("wait-error"), again: $("wait-again"),
      copyButton: $("wait-copy"), cancel: $("wait-cancel"),
    };
    this.el.cancel.addEventListener("click", () => this.close());
    this.el.dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.close();
    });
    this.el.again.addEventListener("click", () => this.start(this.email));
    this.el.copyButton.addEventListener("click", () => this.copyCode());
    this.el.link.addEventListener("click", (event) => {
      event.preventDefault();
      if (this.record?.link) this.open(this.record.link);
    });
  }

  async start(email) {
    this.email = email;
    this.record = null;
    const run = (this.run = Symbol("wait"));
    const { el } = this;
    el.title.textContent = t("wait.title");
    el.account.textContent = email;
    el.waiting.hidden = false;
    el.found.hidden = true;
    el.error.hidden = true;
    el.again.hidden = true;
    el.copyButton.hidden = true;
    el.cancel.textContent = t("common.cancel");
    if (!el.dialog.open) el.dialog.showModal();
    el.cancel.focus();
    const timeout = this.timeoutSecs();
    const deadline = timeout == null ? null : Date.now() + timeout * 1000;
    const tick = () => {
      el.countdown.textContent = deadline == null ? "" : countdown((deadline - Date.now()) / 1000);
    };
    tick();
    clearInterval(this.timer);
    this.timer = setInterval(tick, 250);
    try {
      const record = await ipc.waitForCode(email, timeout ?? undefined);
      if (this.run !== run) return;
      this.showCode(record);
    } catch (error) {
      if (this.run !== run || error.code === "cancelled") return;
      el.waiting.hidden = true;
      el.title.textContent = t(error.code === "wait_timed_out" ? "wait.timedOut" : "wait.stopped");
      el.error.textContent =
        error.code === "wait_timed_out" ? t("wait.timedOut.text", { email, time: countdown(timeout) }) : errorText(error);
      el.error.hidden = false;
      el.again.hidden = false;
      el.cancel.textContent = t("common.close");
    } finally {
      if (this.run === run) clearInterval(this.timer);
    }
  }

  showCode(record) {
    this.record = record;
    const { el } = this;
    el.waiting.hidden = true;
    el.found.hidden = false;
    el.title.textContent = t(record.code ? "wait.codeReceived" : "wait.linkReceived");
    el.service.textContent = record.service ?? record.from ?? "";
    el.code.textContent = record.code ?? "";
    el.code.hidden = !record.code;
    el.link.hidden = !record.link;
    el.copyButton.hidden = !record.code;
    el.again.hidden = false;
    el.cancel.textContent = t("common.close");
    el.copied.textContent = "";
    if (record.code && this.autoCopy()) el.copied.textContent = t("wait.copied");
    (record.code ? el.copyButton : el.cancel).focus();
  }

  async copyCode() {
    if (!this.record?.code) return;
    await this.copy(this.record.code);
    this.el.copied.textContent = t("wait.copied");
  }

  close() {
    clearInterval(this.timer);
    if (this.run && !this.record && this.email) ipc.cancelWait(this.email).catch(() => {});
    this.run = null;
    this.el.dialog.close();
  }
}
