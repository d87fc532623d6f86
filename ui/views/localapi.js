// Settings' Local API panel: the switch that starts and stops the server over the app's own
// engine, where it listens, and the app's key (masked until Show; Copy; Renew revokes it and
// makes a new one). The switch acts at once, unlike the fields above it, which wait for Save.

import { t } from "../lib/i18n.js";
import { errorText } from "../lib/errors.js";
import * as ipc from "../ipc.js";

/** How the key shows while hidden: its prefix and dots, which say nothing of its length. */
export function maskKey(key) {
  if (!key) return "";
  return (key.startsWith("mwk_") ? "mwk_" : "") + "•".repeat(24);
}

export class LocalApiPanel {
  constructor({ confirm }) {
    this.confirm = confirm;
    this.el = (id) => document.getElementById(id);
    this.view = { running: false, address: null, key: null };
    this.revealed = false;
    this.said = null;
    this.el("local-api-on").addEventListener("change", (event) => this.turn(event.target.checked));
    this.el("local-api-show").addEventListener("click", () => {
      this.revealed = !this.revealed;
      this.paint();
    });
    this.el("local-api-copy").addEventListener("click", () => this.copy());
    this.el("local-api-renew").addEventListener("click", () => this.renew());
  }

  async load() {
    try {
      this.view = await ipc.getLocalApi();
      this.say(null);
    } catch (error) {
      this.say(null, error);
    }
    this.paint();
  }

  relabel() {
    this.paint();
    if (this.said) this.say(...this.said);
  }

  /** Puts `key` (or the sentence for `error`) in the panel's status line. */
  say(key, error = null, args = {}) {
    this.said = key || error ? [key, error, args] : null;
    const status = this.el("local-api-status");
    status.textContent = error ? errorText(error) : key ? t(key, args) : "";
    status.classList.toggle("bad", Boolean(error));
  }

  paint() {
    const { running, address, key } = this.view;
    this.el("local-api-on").checked = running;
    this.el("local-api-details").hidden = !running;
    this.el("local-api-address").textContent = address ?? "";
    this.el("local-api-key").textContent = this.revealed ? key ?? "" : maskKey(key);
    const show = this.el("local-api-show");
    show.textContent = t(this.revealed ? "localApi.hide" : "localApi.show");
    show.setAttribute("aria-pressed", String(this.revealed));
  }

  async turn(on) {
    const toggle = this.el("local-api-on");
    toggle.disabled = true;
    this.say(on ? "localApi.starting" : "localApi.stopping");
    try {
      this.view = await ipc.setLocalApi(on);
      this.revealed = false;
      this.say(on ? null : "localApi.off");
    } catch (error) {
      this.say(null, error);
    } finally {
      toggle.disabled = false;
      this.paint();
    }
  }

  async copy() {
    try {
      await ipc.copyText(this.view.key ?? "");
      this.say("localApi.copied");
    } catch (error) {
      this.say(null, error);
    }
  }

  async renew() {
    const ok = await this.confirm(t("localApi.renew.title"), t("localApi.renew.text"), t("localApi.renew"));
    if (!ok) return;
    try {
      this.view = await ipc.renewApiKey();
      this.say("localApi.renewed");
    } catch (error) {
      this.say(null, error);
    }
    this.paint();
  }
}
