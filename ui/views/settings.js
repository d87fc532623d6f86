// The settings view: every limit and preference with a one-line explanation and its default.

import { GROUPS, getPath, setPath, describeDefault, parseField } from "../lib/settings.js";
import * as ipc from "../ipc.js";

export class SettingsView {
  constructor({ onError, onSaved }) {
    this.onError = onError;
    this.onSaved = onSaved;
    this.form = document.getElementById("settings-form");
    this.groups = document.getElementById("settings-groups");
    this.status = document.getElementById("settings-status");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    document.getElementById("settings-defaults").addEventListener("click", () => this.restoreDefaults());
    this.form.addEventListener("input", () => {
      this.status.textContent = "Unsaved changes";
    });
  }

  async load() {
    try {
      const view = await ipc.getSettings();
      this.values = { config: view.config, app: view.app };
      this.defaults = { config: view.configDefaults, app: view.appDefaults };
      // The limits in force that the window applies itself, and the watch choice.
      this.limits = view.limits;
      this.watch = view.watch;
      this.paint(this.values);
      this.status.textContent = "";
    } catch (error) {
      this.onError(error, "Mailwatch could not read its settings.");
    }
  }

  paint(values) {
    this.groups.replaceChildren(
      ...GROUPS.map((group) => {
        const fieldset = document.createElement("fieldset");
        const legend = document.createElement("legend");
        legend.textContent = group.title;
        fieldset.append(legend);
        for (const field of group.fields) fieldset.append(this.row(field, getPath(values, field.key)));
        return fieldset;
      }),
    );
  }

  row(field, value) {
    const row = document.createElement("div");
    row.className = "setting";
    const id = `setting-${field.key.replaceAll(".", "-")}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = field.label;
    const input = document.createElement("input");
    input.id = id;
    input.name = field.key;
    if (field.kind === "bool") {
      input.type = "checkbox";
      input.checked = Boolean(value);
    } else {
      input.type = "number";
      input.min = field.min ?? "";
      input.max = field.max ?? "";
      input.step = field.kind === "int" ? "1" : "any";
      input.value = value ?? "";
    }
    const help = document.createElement("span");
    help.className = "help";
    const def = describeDefault(field, getPath(this.defaults, field.key));
    help.textContent = def ? `${field.help} Default: ${def}.` : field.help;
    input.setAttribute("aria-describedby", `${id}-help`);
    help.id = `${id}-help`;
    row.append(label, input, help);
    return row;
  }

  read() {
    let values = this.values;
    const errors = [];
    for (const group of GROUPS) {
      for (const field of group.fields) {
        const input = this.form.elements.namedItem(field.key);
        if (!input) continue;
        const parsed = parseField(field, field.kind === "bool" ? input.checked : input.value);
        input.closest(".setting").classList.toggle("invalid", Boolean(parsed.error));
        if (parsed.error) errors.push(parsed.error);
        else values = setPath(values, field.key, parsed.value);
      }
    }
    return { values, errors };
  }

  async save() {
    const { values, errors } = this.read();
    if (errors.length) {
      this.status.textContent = errors[0];
      return;
    }
    try {
      const saved = await ipc.saveSettings(values);
      this.values = values;
      this.status.textContent = saved.restartNeeded ? "Saved. Connection and watching limits apply after a restart." : "Saved.";
      this.onSaved(values, saved);
    } catch (error) {
      this.onError(error, "Mailwatch could not save the settings.");
    }
  }

  restoreDefaults() {
    // Preferences that are not settings (hints) keep their values.
    this.paint({ config: this.defaults.config, app: { ...this.values.app, ...this.defaults.app, closeHintShown: this.values.app.closeHintShown } });
    this.status.textContent = "Defaults restored; press Save to keep them.";
  }
}
