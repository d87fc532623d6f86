// The window's words in the user's language. Every visible string comes from a catalogue in
// ui/i18n/ (one JSON file per language, the same keys in each); dates, relative times, numbers
// and plurals come from the platform's Intl APIs in the chosen locale.
//
// A message is a string with `{name}` placeholders, or, where a number decides the wording, an
// object of plural forms (`{"one": "...", "other": "..."}`) picked by `Intl.PluralRules` on
// the `count` argument. Number arguments are formatted for the locale.

/** The languages the window speaks, with their names in themselves. */
export const LOCALES = [
  ["en", "English"],
  ["zh-CN", "简体中文"],
  ["zh-TW", "繁體中文"],
];

const state = { locale: "en", messages: {}, english: {}, numbers: null, plurals: null, relative: null };

/**
 * Puts a catalogue in force: `messages` for `locale`, and `english` for any key the catalogue
 * lacks (the checks in tests/ui keep that from happening, but a missing key must not show
 * as a key).
 */
export function setCatalogue(locale, messages, english = messages) {
  state.locale = locale;
  state.messages = messages ?? {};
  state.english = english ?? {};
  state.numbers = new Intl.NumberFormat(locale);
  state.plurals = new Intl.PluralRules(locale);
  state.relative = new Intl.RelativeTimeFormat(locale, { numeric: "always", style: "narrow" });
}

/** The locale in force ("en", "zh-CN"). */
export function locale() {
  return state.locale;
}

/**
 * The language to use: the user's choice when it is one the window speaks, otherwise the
 * first of the system's languages that it speaks (Chinese of Taiwan, Hong Kong or Macau, or
 * written in Traditional script, is Traditional; any other Chinese is Simplified), otherwise
 * English.
 */
export function pickLocale(choice, systemLanguages = []) {
  const known = LOCALES.map(([code]) => code);
  if (choice && known.includes(choice)) return choice;
  for (const tag of systemLanguages) {
    const lower = String(tag ?? "").toLowerCase().replace("_", "-");
    if (lower.startsWith("zh")) return /^zh-(tw|hk|mo|hant)/.test(lower) ? "zh-TW" : "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
}

/** Whether the catalogue in force has `key`. */
export function has(key) {
  return key in state.messages || key in state.english;
}

/** The message `key` with `args` put in; the key itself if no catalogue has it. */
export function t(key, args = {}) {
  let message = state.messages[key] ?? state.english[key];
  if (message == null) return key;
  if (typeof message === "object") {
    const count = Number(args.count ?? 0);
    message = message[state.plurals.select(count)] ?? message.other;
  }
  return String(message).replace(/\{(\w+)\}/g, (whole, name) => {
    const value = args[name];
    if (value == null) return whole;
    return typeof value === "number" ? state.numbers.format(value) : String(value);
  });
}

/** A number for the locale: "1,000" in English, "1,000" or "1000" as the locale writes it. */
export function number(value, options) {
  const n = Number(value ?? 0);
  return options ? new Intl.NumberFormat(state.locale, options).format(n) : state.numbers.format(n);
}

/** "5m ago", "5分钟前": a time before now in the largest whole unit, as short as the locale writes it. */
export function ago(seconds) {
  const units = [
    [86400, "day", 2],
    [3600, "hour", 1],
    [60, "minute", 1],
  ];
  for (const [size, unit, least] of units) {
    if (seconds >= size * least) return state.relative.format(-Math.floor(seconds / size), unit);
  }
  return state.relative.format(-Math.floor(seconds), "second");
}

/** A date and time for the locale, from milliseconds or a date string. */
export function dateTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value ?? "");
  return new Intl.DateTimeFormat(state.locale, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/**
 * Fills in the page's static text: `data-i18n` sets an element's text, and
 * `data-i18n-title`, `data-i18n-placeholder` and `data-i18n-aria-label` set those attributes.
 */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const attr of ["title", "placeholder", "aria-label"]) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
  }
  root.documentElement?.setAttribute("lang", state.locale);
}

setCatalogue("en", {});
