// The add and edit account dialog: provider presets from the address, advanced server
// settings only on demand, the secret straight to the keyring, and the account's group, tags
// and own proxy (its password to the keyring too, never shown back).

import { providerName } from "../lib/format.js";
import { t } from "../lib/i18n.js";
import { errorText } from "../lib/errors.js";
import { tagChanges, parseTags } from "../lib/accounts.js";
import * as ipc from "../ipc.js";

/** What a proxy URL looks like (the same in every language). */
const PROXY_EXAMPLE = "socks5://user:password@host:1080";

export class AccountEditor {
  /** `groups()` lists the groups there are, offered while typing one. */
  constructor({ onSaved, groups = () => [] }) {
    this.onSaved = onSaved;
    this.groups = groups;
    const $ = (id) => document.getElementById(id);
    this.el = {
      dialog: $("account-dialog"), form: $("account-form"), title: $("account-dialog-title"), email: $("account-email"),
      preset: $("account-preset"), secret: $("account-secret"), secretLabel: $("account-secret-label"),
      secretNote: $("account-secret-note"), client: $("account-client"), clientLabel: $("account-client-label"),
      advanced: $("account-advanced"), provider: $("account-provider"), host: $("account-host"), port: $("account-port"),
      tls: $("account-tls"), smtpHost: $("account-smtp-host"), smtpPort: $("account-smtp-port"), smtpTls: $("account-smtp-tls"),
      tokenUrl: $("account-token-url"), error: $("account-error"), save: $("account-save"),
      reveal: $("account-secret-reveal"), group: $("account-group-name"), groupList: $("account-group-list"),
      tags: $("account-tags"), proxy: $("account-proxy"), proxyKept: $("account-proxy-kept"),
    };
    this.el.proxy.placeholder = PROXY_EXAMPLE;
    // The note about a kept password holds for the stored URL only.
    this.el.proxy.addEventListener("input", () => this.syncProxyKept());
    // The secret is masked (a screenshot or a screen share shows dots) until "Show".
    this.el.reveal.addEventListener("click", () => this.reveal(this.el.secret.classList.contains("masked")));
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
    el.title.textContent = t(row ? "editor.title.edit" : "editor.title.add");
    this.reveal(false);
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
    el.group.value = row?.group ?? "";
    el.groupList.replaceChildren(...this.groups().map((g) => Object.assign(document.createElement("option"), { value: g })));
    el.tags.value = (row?.tags ?? []).join(", ");
    el.proxy.value = row?.proxy ?? "";
    this.proxyKept = false;
    this.syncProxyKept();
    if (row?.proxy) this.showProxyKept(row);
    el.advanced.open = false;
    el.secretNote.hidden = !row;
    this.syncAuth();
    this.showPreset();
    el.dialog.showModal();
    (row ? el.secret : el.email).focus();
  }

  /** Says so when the keyring holds a password for the account's own proxy (the URL shown has none). */
  async showProxyKept(row) {
    try {
      const kept = await ipc.proxyPasswordKept(row.email);
      if (this.editing !== row) return;
      this.proxyKept = kept;
      this.syncProxyKept();
    } catch {
      // Nothing to say then; saving works the same.
    }
  }

  syncProxyKept() {
    this.el.proxyKept.hidden = !(this.proxyKept && this.el.proxy.value.trim() === this.editing?.proxy);
  }

  /** Shows the secret in clear (`true`) or masks it. */
  reveal(shown) {
    this.el.secret.classList.toggle("masked", !shown);
    this.el.reveal.setAttribute("aria-pressed", String(shown));
    this.el.reveal.textContent = t(shown ? "editor.secret.hide" : "editor.secret.show");
  }

  /** Says everything again in the language now in force. */
  relabel() {
    if (!this.el.dialog.open) return;
    this.el.title.textContent = t(this.editing ? "editor.title.edit" : "editor.title.add");
    this.reveal(!this.el.secret.classList.contains("masked"));
    this.syncAuth();
  }

  syncAuth() {
    const token = this.auth === "oauth2";
    this.el.secretLabel.textContent = t(token ? "editor.secret.token" : "editor.secret.password");
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
        this.el.preset.textContent = t("editor.preset.unknown");
        return;
      }
      const smtp = preset.smtp ? ` · ${t("editor.preset.sendsVia", { server: `${preset.smtp.host}:${preset.smtp.port}` })}` : "";
      this.el.preset.textContent = `${providerName(preset.provider)} · ${preset.imapHost}:${preset.imapPort}${preset.oauth ? " · OAuth2" : ""}${smtp}`;
      if (!this.editing) this.auth = preset.oauth ? "oauth2" : "password";
      this.syncAuth();
    } catch {
      this.el.preset.textContent = "";
    }
  }

  /** Changes what differs from `before` in the account's group, tags and own proxy. */
  async saveLabels(before, group, proxy) {
    const emails = [before.email];
    if (group !== (before.group ?? "")) await ipc.setAccountGroup(emails, group || null);
    const { add, remove } = tagChanges(before.tags, this.el.tags.value);
    if (add.length || remove.length) await ipc.tagAccounts(emails, add, remove);
    if (proxy !== (before.proxy ?? "")) await ipc.setAccountProxy(emails, proxy || null);
  }

  async save() {
    const { el } = this;
    const email = el.email.value.trim();
    const secret = el.secret.value.trim();
    const fail = (text) => {
      el.error.textContent = text;
      el.error.hidden = false;
    };
    if (!email.includes("@")) return fail(t("editor.error.email"));
    if (!this.editing && !secret) return fail(t(this.auth === "oauth2" ? "editor.error.token" : "editor.error.password"));
    const isPort = (v) => !v || (Number.isInteger(Number(v)) && Number(v) > 0 && Number(v) < 65536);
    const port = el.port.value.trim();
    if (!isPort(port)) return fail(t("editor.error.port", { name: "IMAP" }));
    const smtpPort = el.smtpPort.value.trim();
    if (!isPort(smtpPort)) return fail(t("editor.error.port", { name: "SMTP" }));
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
    const group = el.group.value.trim();
    const proxy = el.proxy.value.trim();
    if (!this.editing) Object.assign(spec, { group: group || null, tags: parseTags(el.tags.value), proxy: proxy || null });
    el.save.disabled = true;
    try {
      const row = await ipc.saveAccount({ spec, secret: secret || null, secretIsToken: this.auth === "oauth2" });
      if (this.editing) await this.saveLabels(this.editing, group, proxy);
      el.secret.value = "";
      el.dialog.close();
      this.onSaved(row, Boolean(this.editing));
    } catch (error) {
      fail(errorText(error));
    } finally {
      el.save.disabled = false;
    }
  }
}
