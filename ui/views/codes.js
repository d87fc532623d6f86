// The codes feed: the newest codes across all accounts, from the history and then live.

import { age } from "../lib/format.js";

const LIMIT = 200;

export class CodesView {
  constructor({ copy, open }) {
    this.copy = copy;
    this.open = open;
    this.codes = [];
    this.rows = document.getElementById("codes-rows");
    this.table = document.getElementById("codes-table");
    this.empty = document.getElementById("codes-empty");
    this.rows.addEventListener("click", (event) => {
      const target = event.target.closest("[data-copy], [data-link]");
      if (target?.dataset.copy) this.copy(target.dataset.copy);
      else if (target?.dataset.link) this.open(target.dataset.link);
    });
  }

  render(codes) {
    this.codes = codes.slice(0, LIMIT);
    this.paint();
  }

  /** Adds a code pushed by the engine at the top. */
  add(code) {
    const record = { ...code, foundAt: Math.floor(Date.now() / 1000) };
    this.codes = [record, ...this.codes.filter((c) => !(c.email === code.email && c.code === code.code && c.received === code.received))].slice(0, LIMIT);
    this.paint();
  }

  paint() {
    const now = Date.now();
    this.empty.hidden = this.codes.length > 0;
    this.table.hidden = this.codes.length === 0;
    this.rows.replaceChildren(
      ...this.codes.map((c) => {
        const tr = document.createElement("tr");
        const code = document.createElement("td");
        if (c.code) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "copy-code";
          b.dataset.copy = c.code;
          b.textContent = c.code;
          b.title = "Copy";
          code.append(b);
        } else {
          code.textContent = "—";
        }
        const link = document.createElement("td");
        if (c.link) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "link-button";
          b.dataset.link = c.link;
          b.textContent = "Open link";
          b.title = c.link;
          link.append(b);
        }
        tr.append(code, td(c.service ?? "—"), td(c.email), td(age(c.foundAt ?? c.received, now)), link);
        return tr;
      }),
    );
  }
}

function td(text) {
  const cell = document.createElement("td");
  cell.textContent = text;
  return cell;
}
