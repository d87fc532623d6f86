// Small DOM builders shared by the views.

/** A table cell with plain text (never HTML). */
export function td(text, className) {
  const cell = document.createElement("td");
  cell.textContent = text;
  if (className) cell.className = className;
  return cell;
}

/** A button carrying `data-<key>=value`, with a title. */
export function dataButton(className, key, value, text, title) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.dataset[key] = value;
  b.textContent = text;
  b.title = title;
  return b;
}
