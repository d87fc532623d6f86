// Importing an account file: a preview (dry run) with counts and line-numbered errors, then
// the import with a progress bar, rate, ETA and cancel, and a report that can be saved.

import { progressLine } from "../lib/format.js";
import { t, number } from "../lib/i18n.js";
import { errorText, lineReason } from "../lib/errors.js";
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
      this.onError(error, "import.error.picker");
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
    el.close.textContent = t("common.cancel");
    el.run.textContent = t("import.run");
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
    el.preview.textContent = t("import.reading");
    try {
      const report = await ipc.importAccounts(this.request(true));
      this.paintReport(report, true);
      el.run.disabled = report.added + report.updated + report.skipped === 0;
      el.run.textContent = t("import.runCount", { count: report.added + report.updated });
    } catch (error) {
      el.preview.textContent = "";
      el.error.textContent = errorText(error);
      el.error.hidden = false;
    }
  }

  async run() {
    const { el } = this;
    if (el.merge.value === "replace" && this.lastPreview?.absent > 0) {
      const ok = await confirmDialog(
        t("import.replace.title"),
        t("import.replace.text", { count: this.lastPreview.absent }),
        t("import.replace.ok"),
      );
      if (!ok) return;
    }
    this.running = true;
    el.run.disabled = true;
    el.error.hidden = true;
    el.progress.hidden = false;
    el.bar.value = 0;
    el.progressText.textContent = t("import.starting");
    el.close.textContent = t("import.stop");
    try {
      const report = await ipc.importAccounts(this.request(false));
      this.report = report;
      this.paintReport(report, false);
      el.save.hidden = false;
      this.onImported(report);
    } catch (error) {
      el.error.textContent = errorText(error);
      el.error.hidden = false;
    } finally {
      this.running = false;
      el.close.textContent = t("common.close");
    }
  }

  progress(p) {
    if (!this.running || !this.el.dialog.open) return;
    const label = t(p.job === "verify" ? "import.progress.verify" : "import.progress.store");
    this.el.bar.max = Math.max(1, p.total);
    this.el.bar.value = p.done;
    const failed = p.failed ? ` · ${t("import.progress.failed", { count: p.failed })}` : "";
    this.el.progressText.textContent = t("import.progress", { label, progress: progressLine(p) }) + failed;
  }

  paintReport(report, dryRun) {
    if (dryRun) this.lastPreview = report;
    const summary = document.createElement("div");
    summary.className = "import-summary";
    const stat = (n, label) => {
      const d = document.createElement("div");
      const b = document.createElement("b");
      b.textContent = number(n);
      d.append(b, t(label, { count: Number(n ?? 0) }));
      return d;
    };
    summary.append(
      stat(report.added, dryRun ? "import.stat.toAdd" : "import.stat.added"),
      stat(report.updated, dryRun ? "import.stat.toUpdate" : "import.stat.updated"),
      stat(report.skipped, "import.stat.skipped"),
      stat(report.errors.length, "import.stat.errors"),
    );
    if (report.merge === "replace" || report.absent) summary.append(stat(dryRun ? report.absent : report.removed, dryRun ? "import.stat.toRemove" : "import.stat.removed"));
    if (report.verified) summary.append(stat(report.verified.ok, "import.stat.signedIn"), stat(report.verified.failed, "import.stat.signInFailed"));
    const parts = [summary];
    const note = document.createElement("p");
    note.className = "muted small";
    note.textContent = dryRun
      ? t("import.note.preview", { format: report.format })
      : report.cancelled
        ? t("import.note.stopped")
        : t("import.note.done", { format: report.format });
    parts.push(note);
    const failures = [
      ...report.errors.map((e) => [t("import.line", { line: e.line }), lineReason(e)]),
      ...(report.verified?.accounts ?? [])
        .filter((a) => !a.ok)
        .map((a) => [a.email, errorText({ code: a.code, message: a.reason ?? a.code })]),
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
      await ipc.saveReport("mailwatch-import-report.json", JSON.stringify(this.report, null, 2), t("import.saveReport.title"));
    } catch (error) {
      this.onError(error, "import.error.save");
    }
  }

  closeOrCancel() {
    if (this.running) {
      ipc.cancelBatch().catch(() => {});
      this.el.progressText.textContent = t("import.stopping");
      return;
    }
    this.el.dialog.close();
  }
}
