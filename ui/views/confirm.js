// A confirmation in the app's own dialog (the webview's window.confirm is not available).

/** Resolves `true` if the user confirms. */
export function confirmDialog(title, text, okLabel) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  dialog.returnValue = "cancel";
  dialog.showModal();
  dialog.querySelector('[value="cancel"]').focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

/**
 * Asks for one line of text in the app's own dialog. Resolves the text (trimmed; "" when the
 * field was emptied) or `null` if the user cancelled.
 */
export function promptDialog(title, text, okLabel, { value = "", placeholder = "", hint = "" } = {}) {
  const dialog = document.getElementById("prompt-dialog");
  const input = document.getElementById("prompt-input");
  document.getElementById("prompt-title").textContent = title;
  document.getElementById("prompt-text").textContent = text;
  document.getElementById("prompt-hint").textContent = hint;
  document.getElementById("prompt-ok").textContent = okLabel;
  input.value = value;
  input.placeholder = placeholder;
  input.setAttribute("aria-label", title);
  dialog.returnValue = "cancel";
  dialog.showModal();
  input.focus();
  input.select();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? input.value.trim() : null), { once: true });
  });
}
