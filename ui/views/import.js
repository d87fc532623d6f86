// Importing an account file: a preview (dry run) with counts and line-numbered errors, then
// the import with a progress bar, rate, ETA and cancel, and a report that can be saved.

import { progressLine, sentence } from "../lib/format.js";
import * as ipc from "../ipc.js";
import { confirmDialog } from "./confirm.js";

export class ImportDialog {
  constructor({ onImported, onError }) {
    this.onImported = onImported;
    this.onError = onError;
    const $ = (id) => document.getElementById(id);
    this.el = {
      dialog: $("import-dialog"), file: $("import-file"), format: $("import-format"), merge: $("import-merge"),
      verify: $("import-verify"), preview: $("import-preview"), progress: $("import-progress"), bar: $("import-bar"),
      progressText: $("import-progress-text"), error: $("import-error"), save: $("import-save"),
      close: $("import-close"), run: $("import-run"),
    };
    this.el.close.addEventListener("click", () => this.closeOrCancel());
    this.el.dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.closeOrCancel();
    });
    this.el.run.addEventListener("click", () => this.run());
    this.el.save.addEventListener("click", () => this.saveReport());
    for (const select of [this.el.format, this.el.merge]) select.addEventListener("change", () => this.preview());
    ipc.onBatchProgress((p) => this.progress(p));
  }

  /** Asks for a file, then previews it. */
  async pick() {
    try {
      const path = await ipc.pickImportFile();
      if (path) this.open(path);
    } catch (error) {
      this.onError(error, "Mailwatch could not open the file picker.");
    }
  }

  open(path) {
    this.path = path;
    this.report = null;
    this.running = false;
    const { el } = this;
    el.file.textContent = path;
    el.format.value = "auto";
    el.merge.value = "update";
    el.verify.checked = false;
    el.progress.hidden = true;
    el.save.hidden = true;
    el.close.textContent = "Cancel";
    if (!el.dialog.open) el.dialog.showModal();
    this.preview();
  }

  request(dryRun) {
    return {
      path: this.path,
      format: this.el.format.value,
      merge: this.el.merge.value,
      dryRun,
      verify: !dryRun && this.el.verify.checked,
      confirmRemoval: !dryRun && this.el.merge.value === "replace",
    };
  }

  async preview() {
    const { el } = this;
    el.error.hidden = true;
    el.run.disabled = true;
    el.preview.textContent = "Reading the file…";
    try {
      const report = await ipc.importAccounts(this.request(true));
      this.paintReport(report, true);
      el.run.disabled = report.added + report.updated + report.skipped === 0;
      el.run.textContent = `Import ${(report.added + report.updated).toLocaleString("en-US")} accounts`;
    } catch (error) {
      el.preview.textContent = "";
      el.error.textContent = sentence(error.message);
      el.error.hidden = false;
    }
  }

  async run() {
    const { el } = this;
    if (el.merge.value === "replace" && this.lastPreview?.absent > 0) {
      const ok = await confirmDialog(
        "Remove accounts that are not in the file?",
        `Replace removes ${this.lastPreview.absent} accounts that are not in this file, with their stored secrets. This cannot be undone.`,
        "Import and remove",
      );
      if (!ok) return;
    }
    this.running = true;
    el.run.disabled = true;
    el.error.hidden = true;
    el.progress.hidden = false;
    el.bar.value = 0;
    el.progressText.textContent = "Starting…";
    el.close.textContent = "Stop";
    try {
      const report = await ipc.importAccounts(this.request(false));
      this.report = report;
      this.paintReport(report, false);
      el.save.hidden = false;
      this.onImported(report);
    } catch (error) {
      el.error.textContent = sentence(error.message);
      el.error.hidden = false;
    } finally {
      this.running = false;
      el.close.textContent = "Close";
    }
  }

  progress(p) {
    if (!this.running || !this.el.dialog.open) return;
    const label = p.job === "verify" ? "Signing in" : "Storing";
    this.el.bar.max = Math.max(1, p.total);
    this.el.bar.value = p.done;
    this.el.progressText.textContent = `${label}: ${progressLine(p)}${p.failed ? ` · ${p.failed} failed` : ""}`;
  }

  paintReport(report, dryRun) {
    if (dryRun) this.lastPreview = report;
    const summary = document.createElement("div");
    summary.className = "import-summary";
    const stat = (n, label) => {
      const d = document.createElement("div");
      const b = document.createElement("b");
      b.textContent = Number(n ?? 0).toLocaleString("en-US");
      d.append(b, label);
      return d;
    };
    summary.append(
      stat(report.added, dryRun ? "to add" : "added"),
      stat(report.updated, dryRun ? "to update" : "updated"),
      stat(report.skipped, "skipped"),
      stat(report.errors.length, report.errors.length === 1 ? "error" : "errors"),
    );
    if (report.merge === "replace" || report.absent) summary.append(stat(dryRun ? report.absent : report.removed, dryRun ? "to remove" : "removed"));
    if (report.verified) summary.append(stat(report.verified.ok, "signed in"), stat(report.verified.failed, "failed to sign in"));
    const parts = [summary];
    const note = document.createElement("p");
    note.className = "muted small";
    note.textContent = dryRun
      ? `Format: ${report.format}. Nothing is written until you press Import. Lines with errors are left out; the rest import.`
      : report.cancelled
        ? "Stopped. The accounts stored before that are kept."
        : `Done. Format: ${report.format}.`;
    parts.push(note);
    const failures = [
      ...report.errors.map((e) => [`line ${e.line}`, e.reason]),
      ...(report.verified?.accounts ?? []).filter((a) => !a.ok).map((a) => [a.email, a.reason ?? a.code]),
    ];
    if (failures.length) {
      const box = document.createElement("div");
      box.className = "import-errors";
      const table = document.createElement("table");
      for (const [where, why] of failures.slice(0, 1000)) {
        const tr = document.createElement("tr");
        const a = document.createElement("td");
        a.textContent = where;
        const b = document.createElement("td");
        b.textContent = why;
        tr.append(a, b);
        table.append(tr);
      }
      box.append(table);
      parts.push(box);
    }
    this.el.preview.replaceChildren(...parts);
  }

  async saveReport() {
    if (!this.report) return;
    try {
      await ipc.saveReport("mailwatch-import-report.json", JSON.stringify(this.report, null, 2));
    } catch (error) {
      this.onError(error, "Mailwatch could not save the report.");
    }
  }

  closeOrCancel() {
    if (this.running) {
      ipc.cancelBatch().catch(() => {});
      this.el.progressText.textContent = "Stopping after the current chunk…";
      return;
    }
    this.el.dialog.close();
  }
}
