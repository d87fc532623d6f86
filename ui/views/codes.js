// The codes feed: the newest codes across all accounts, from the history and then live.
// A code can be copied, its link opened, or the code forwarded by mail. The feed can be
// searched (account, service or code), narrowed to one account, and exported as CSV.

import { age } from "../lib/format.js";
import { t } from "../lib/i18n.js";
import { filterCodes, codesCsv } from "../lib/codes.js";
import { td, dataButton } from "./dom.js";

export class CodesView {
  constructor({ copy, open, forward, save }) {
    this.copy = copy;
    this.open = open;
    this.forward = forward;
    this.save = save;
    this.codes = [];
    this.shown = [];
    this.query = "";
    this.account = "";
    // `cache.maxTop` once the settings load; the engine caps the history it sends anyway.
    this.limit = Infinity;
    const $ = (id) => document.getElementById(id);
    this.rows = $("codes-rows");
    this.table = $("codes-table");
    this.empty = $("codes-empty");
    this.search = $("codes-search");
    this.onlyBox = $("codes-only");
    this.onlyText = $("codes-only-text");
    this.rows.addEventListener("click", (event) => {
      const target = event.target.closest("[data-copy], [data-link], [data-forward]");
      if (target?.dataset.copy) this.copy(target.dataset.copy);
      else if (target?.dataset.link) this.open(target.dataset.link);
      else if (target?.dataset.forward) this.forward(this.shown[Number(target.dataset.forward)]);
    });
    this.search.addEventListener("input", () => {
      this.query = this.search.value;
      this.paint();
    });
    $("codes-only-clear").addEventListener("click", () => this.showAccount(""));
    $("codes-export").addEventListener("click", () => this.save("mailwatch-codes.csv", codesCsv(this.shown)));
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

  /** Shows only `email`'s codes ("" for every account's). */
  showAccount(email) {
    this.account = email;
    this.paint();
  }

  focusSearch() {
    this.search.focus();
    this.search.select();
  }

  paint() {
    const now = Date.now();
    this.shown = filterCodes(this.codes, this.query, this.account);
    this.onlyBox.hidden = !this.account;
    this.onlyText.textContent = this.account ? t("codes.only", { email: this.account }) : "";
    this.empty.textContent = t(this.codes.length ? "codes.none" : "codes.empty");
    this.empty.hidden = this.shown.length > 0;
    this.table.hidden = this.shown.length === 0;
    this.rows.replaceChildren(
      ...this.shown.map((c, index) => {
        const tr = document.createElement("tr");
        const code = c.code ? document.createElement("td") : td("—");
        if (c.code) code.append(dataButton("copy-code", "copy", c.code, c.code, t("common.copy")));
        const link = document.createElement("td");
        if (c.link) link.append(dataButton("link-button", "link", c.link, t("codes.openLink"), c.link));
        const forward = td("", "actions");
        forward.append(dataButton("button small", "forward", String(index), t("codes.forward"), t("codes.forward.title")));
        tr.append(code, td(c.service ?? "—"), td(c.email), td(age(c.foundAt ?? c.received, now)), link, forward);
        return tr;
      }),
    );
  }
}
