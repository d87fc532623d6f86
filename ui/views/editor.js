// The add and edit account dialog: provider presets from the address, advanced server
// settings only on demand, and the secret straight to the keyring.

import { sentence, providerName } from "../lib/format.js";
import * as ipc from "../ipc.js";

export class AccountEditor {
  constructor({ onSaved }) {
    this.onSaved = onSaved;
    const $ = (id) => document.getElementById(id);
    this.el = {
      dialog: $("account-dialog"), form: $("account-form"), title: $("account-dialog-title"), email: $("account-email"),
      preset: $("account-preset"), secret: $("account-secret"), secretLabel: $("account-secret-label"),
      secretNote: $("account-secret-note"), client: $("account-client"), clientLabel: $("account-client-label"),
      advanced: $("account-advanced"), provider: $("account-provider"), host: $("account-host"), port: $("account-port"),
      tls: $("account-tls"), smtpHost: $("account-smtp-host"), smtpPort: $("account-smtp-port"), smtpTls: $("account-smtp-tls"),
      tokenUrl: $("account-token-url"), error: $("account-error"), save: $("account-save"),
    };
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.el.dialog.querySelector("[data-close]").addEventListener("click", () => this.el.dialog.close());
    this.el.form.addEventListener("change", (event) => {
      if (event.target.name === "auth") this.syncAuth();
    });
    let timer;
    this.el.email.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.showPreset(), 200);
    });
  }

  get auth() {
    return this.el.form.elements.namedItem("auth").value;
  }

  set auth(value) {
    for (const radio of this.el.form.querySelectorAll('input[name="auth"]')) radio.checked = radio.value === value;
  }

  /** Opens the dialog for a new account, or to edit `row`. */
  open(row = null) {
    const { el } = this;
    this.editing = row;
    el.form.reset();
    el.error.hidden = true;
    el.title.textContent = row ? "Edit account" : "Add account";
    el.email.value = row?.email ?? "";
    el.email.readOnly = Boolean(row);
    this.auth = row?.auth === "password" ? "password" : "oauth2";
    el.client.value = row?.clientId ?? "";
    el.provider.value = row ? row.provider : "";
    el.host.value = row?.imap?.host ?? "";
    el.port.value = row?.imap?.port ?? "";
    el.tls.value = row?.imap?.tls ?? "";
    el.smtpHost.value = row?.smtp?.host ?? "";
    el.smtpPort.value = row?.smtp?.port ?? "";
    el.smtpTls.value = row?.smtp?.tls ?? "";
    el.tokenUrl.value = row?.tokenUrl ?? "";
    el.advanced.open = false;
    el.secretNote.hidden = !row;
    this.syncAuth();
    this.showPreset();
    el.dialog.showModal();
    (row ? el.secret : el.email).focus();
  }

  syncAuth() {
    const token = this.auth === "oauth2";
    this.el.secretLabel.firstChild.textContent = token ? "Refresh token " : "Password ";
    this.el.clientLabel.hidden = !token;
  }

  async showPreset() {
    const email = this.el.email.value.trim();
    if (!email.includes("@")) {
      this.el.preset.textContent = "";
      return;
    }
    try {
      const preset = await ipc.accountPreset(email);
      if (!preset) {
        this.el.preset.textContent = "Unknown provider: open Advanced server settings and give the IMAP host (and the SMTP host, to send mail).";
        return;
      }
      const smtp = preset.smtp ? ` · sends via ${preset.smtp.host}:${preset.smtp.port}` : "";
      this.el.preset.textContent = `${providerName(preset.provider)} · ${preset.imapHost}:${preset.imapPort}${preset.oauth ? " · OAuth2" : ""}${smtp}`;
      if (!this.editing) this.auth = preset.oauth ? "oauth2" : "password";
      this.syncAuth();
    } catch {
      this.el.preset.textContent = "";
    }
  }

  async save() {
    const { el } = this;
    const email = el.email.value.trim();
    const secret = el.secret.value.trim();
    const fail = (text) => {
      el.error.textContent = text;
      el.error.hidden = false;
    };
    if (!email.includes("@")) return fail("Enter the account's email address.");
    if (!this.editing && !secret) return fail(this.auth === "oauth2" ? "Paste the account's refresh token." : "Enter the account's password.");
    const isPort = (v) => !v || (Number.isInteger(Number(v)) && Number(v) > 0 && Number(v) < 65536);
    const port = el.port.value.trim();
    if (!isPort(port)) return fail("The IMAP port is a number from 1 to 65535.");
    const smtpPort = el.smtpPort.value.trim();
    if (!isPort(smtpPort)) return fail("The SMTP port is a number from 1 to 65535.");
    const blank = (v) => (v.trim() ? v.trim() : null);
    const spec = {
      email,
      auth: this.auth,
      provider: blank(el.provider.value),
      clientId: this.auth === "oauth2" ? blank(el.client.value) : null,
      imapHost: blank(el.host.value),
      imapPort: port ? Number(port) : null,
      tls: blank(el.tls.value),
      smtpHost: blank(el.smtpHost.value),
      smtpPort: smtpPort ? Number(smtpPort) : null,
      smtpTls: blank(el.smtpTls.value),
      tokenUrl: this.auth === "oauth2" ? blank(el.tokenUrl.value) : null,
    };
    el.save.disabled = true;
    try {
      const row = await ipc.saveAccount({ spec, secret: secret || null, secretIsToken: this.auth === "oauth2" });
      el.secret.value = "";
      el.dialog.close();
      this.onSaved(row, Boolean(this.editing));
    } catch (error) {
      fail(sentence(error.message));
    } finally {
      el.save.disabled = false;
    }
  }
}
