// What the window says about an error from a command. The shell sends `{code, message,
// args}`: `message` is the engine's English sentence, `args` the details it names. The
// catalogue's `errors.<code>` says the same in the user's language with those details;
// a code it does not know, or a detail the shell did not send, falls back to the message.

import { t, has } from "./i18n.js";
import { sentence } from "./format.js";

/** The error's sentence in the language in force. */
export function errorText(error) {
  const key = `errors.${error?.code}`;
  const args = { ...(error?.args ?? {}), detail: sentence(error?.message) };
  if (has(key)) {
    const text = t(key, args);
    if (!/\{\w+\}/.test(text)) return text;
  }
  return sentence(error?.message);
}

/**
 * Why an import line was refused, in the language in force: `import.reason.<code>` with the
 * details the engine sent, else an engine error's sentence (`errors.<code>`), else the
 * engine's English reason.
 */
export function lineReason(line) {
  const key = `import.reason.${line?.code}`;
  if (has(key)) {
    const text = t(key, line.args ?? {});
    if (!/\{\w+\}/.test(text)) return text;
  }
  return errorText({ code: line?.code, message: line?.reason, args: line?.args });
}

/** The banner's title for an error: what kind of trouble it is, or `fallback` (a key). */
export function errorTitle(error, fallback) {
  const key = `errorTitles.${error?.code}`;
  return has(key) ? t(key) : t(fallback);
}
