// The settings view: every limit and preference with a one-line explanation, its unit, its
// default and whether it needs a restart. A value out of range is refused with a sentence
// beside its field.

import { GROUPS, getPath, setPath, describeDefault, parseField, unitOf } from "../lib/settings.js";
import { t } from "../lib/i18n.js";
import * as ipc from "../ipc.js";

export class SettingsView {
  constructor({ onError, onSaved }) {
    this.onError = onError;
    this.onSaved = onSaved;
    this.form = document.getElementById("settings-form");
    this.groups = document.getElementById("settings-groups");
    this.status = document.getElementById("settings-status");
    this.panels = Object.fromEntries(GROUPS.filter((g) => g.panel).map((g) => [g.panel, document.getElementById(g.panel)]));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    document.getElementById("settings-defaults").addEventListener("click", () => this.restoreDefaults());
    this.form.addEventListener("input", (event) => {
      const field = fieldOf(event.target.name);
      // The panels' controls act at once; only the fields wait for Save.
      if (!field) return;
      this.say("settings.unsaved");
      this.check(field, event.target);
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
      this.say(null);
    } catch (error) {
      this.onError(error, "settings.error.load");
    }
  }

  /** Draws the form again in the language now in force, keeping what was typed. */
  relabel() {
    if (!this.values) return;
    const { values } = this.read(false);
    this.paint(values);
    if (this.said) this.say(...this.said);
  }

  /** Puts the message `key` (with `args`) in the status line, or clears it. */
  say(key, args = {}) {
    this.said = key ? [key, args] : null;
    this.status.textContent = key ? t(key, args) : "";
  }

  paint(values) {
    this.groups.replaceChildren(
      ...GROUPS.map((group) => {
        const fieldset = document.createElement("fieldset");
        const legend = document.createElement("legend");
        legend.textContent = t(group.title);
        fieldset.append(legend);
        for (const field of group.fields) fieldset.append(this.row(field, getPath(values, field.key)));
        // A group's panel (the Local API's switch and key) moves into its fieldset.
        if (group.panel) fieldset.append(this.panels[group.panel]);
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
    label.textContent = t(field.label);
    const box = document.createElement("span");
    box.className = "setting-value";
    let input;
    if (field.kind === "choice") {
      input = document.createElement("select");
      for (const [code, name] of field.choices()) {
        const option = document.createElement("option");
        option.value = code;
        option.textContent = name;
        input.append(option);
      }
      input.value = value ?? "";
    } else {
      input = document.createElement("input");
      if (field.kind === "bool") {
        input.type = "checkbox";
        input.checked = Boolean(value);
      } else if (field.kind === "address") {
        input.type = "text";
        input.spellcheck = false;
        input.autocomplete = "off";
        input.value = value ?? "";
      } else {
        input.type = "number";
        input.min = field.min ?? "";
        input.max = field.max ?? "";
        input.step = field.kind === "int" ? "1" : "any";
        input.value = value ?? "";
      }
    }
    input.id = id;
    input.name = field.key;
    box.append(input);
    const unit = unitOf(field);
    if (unit) {
      const u = document.createElement("span");
      u.className = "unit muted";
      u.textContent = unit;
      box.append(u);
    }
    const help = document.createElement("span");
    help.className = "help";
    const def = describeDefault(field, getPath(this.defaults, field.key));
    const parts = [t(field.help)];
    if (def) parts.push(t("settings.default", { value: def }));
    if (field.restart) parts.push(t("settings.afterRestart"));
    help.textContent = parts.join(" ");
    const error = document.createElement("span");
    error.className = "field-error";
    error.id = `${id}-error`;
    error.setAttribute("role", "alert");
    error.hidden = true;
    input.setAttribute("aria-describedby", `${id}-help ${id}-error`);
    help.id = `${id}-help`;
    row.append(label, box, help, error);
    return row;
  }

  /** Checks one field, showing its sentence beside it; the parsed value or its error. */
  check(field, input) {
    const parsed = parseField(field, field.kind === "bool" ? input.checked : input.value);
    const row = input.closest(".setting");
    row.classList.toggle("invalid", Boolean(parsed.error));
    input.setAttribute("aria-invalid", String(Boolean(parsed.error)));
    const error = row.querySelector(".field-error");
    error.textContent = parsed.error ?? "";
    error.hidden = !parsed.error;
    return parsed;
  }

  read(show = true) {
    let values = this.values;
    const errors = [];
    for (const group of GROUPS) {
      for (const field of group.fields) {
        const input = this.form.elements.namedItem(field.key);
        if (!input) continue;
        const parsed = show ? this.check(field, input) : parseField(field, field.kind === "bool" ? input.checked : input.value);
        if (parsed.error) errors.push([parsed.error, input]);
        else values = setPath(values, field.key, parsed.value);
      }
    }
    return { values, errors };
  }

  async save() {
    const { values, errors } = this.read();
    if (errors.length) {
      this.say("settings.invalid", { count: errors.length });
      errors[0][1].focus();
      return;
    }
    try {
      const saved = await ipc.saveSettings(values);
      const languageChanged = values.app.language !== this.values.app.language;
      this.values = values;
      this.say(saved.restartNeeded ? "settings.savedRestart" : "settings.saved");
      this.onSaved(values, saved, languageChanged);
    } catch (error) {
      this.onError(error, "settings.error.save");
    }
  }

  restoreDefaults() {
    // Preferences that are not settings (hints) keep their values.
    this.paint({ config: this.defaults.config, app: { ...this.values.app, ...this.defaults.app, closeHintShown: this.values.app.closeHintShown } });
    this.say("settings.defaultsRestored");
  }
}

function fieldOf(key) {
  for (const group of GROUPS) for (const field of group.fields) if (field.key === key) return field;
  return null;
}
