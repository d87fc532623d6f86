// The codes feed: the newest codes across all accounts, from the history and then live.
// A code can be copied, its link opened, or the code forwarded by mail.

import { age } from "../lib/format.js";
import { td, dataButton } from "./dom.js";

export class CodesView {
  constructor({ copy, open, forward }) {
    this.copy = copy;
    this.open = open;
    this.forward = forward;
    this.codes = [];
    // `cache.maxTop` once the settings load; the engine caps the history it sends anyway.
    this.limit = Infinity;
    this.rows = document.getElementById("codes-rows");
    this.table = document.getElementById("codes-table");
    this.empty = document.getElementById("codes-empty");
    this.rows.addEventListener("click", (event) => {
      const target = event.target.closest("[data-copy], [data-link], [data-forward]");
      if (target?.dataset.copy) this.copy(target.dataset.copy);
      else if (target?.dataset.link) this.open(target.dataset.link);
      else if (target?.dataset.forward) this.forward(this.codes[Number(target.dataset.forward)]);
    });
  }

  render(codes) {
    this.codes = codes.slice(0, this.limit);
    this.paint();
  }

  /** Adds a code pushed by the engine at the top. */
  add(code) {
    const record = { ...code, foundAt: Math.floor(Date.now() / 1000) };
    this.codes = [record, ...this.codes.filter((c) => !(c.email === code.email && c.code === code.code && c.received === code.received))].slice(0, this.limit);
    this.paint();
  }

  paint() {
    const now = Date.now();
    this.empty.hidden = this.codes.length > 0;
    this.table.hidden = this.codes.length === 0;
    this.rows.replaceChildren(
      ...this.codes.map((c, index) => {
        const tr = document.createElement("tr");
        const code = c.code ? document.createElement("td") : td("—");
        if (c.code) code.append(dataButton("copy-code", "copy", c.code, c.code, "Copy"));
        const link = document.createElement("td");
        if (c.link) link.append(dataButton("link-button", "link", c.link, "Open link", c.link));
        const forward = td("", "actions");
        forward.append(dataButton("button small", "forward", String(index), "Forward", "Forward this code by mail"));
        tr.append(code, td(c.service ?? "—"), td(c.email), td(age(c.foundAt ?? c.received, now)), link, forward);
        return tr;
      }),
    );
  }
}
