// The pool-stats panel: live counters pushed by the engine, advice when callers wait or time
// out, a chart of reused against new connections over time, and the sending counters.

import { poolAdvice, ReuseHistory, COUNTERS, WATCH_COUNTERS, SMTP_COUNTERS, smtpCounter, smtpFailures, smtpFailureDetail, mergeStats } from "../lib/pool.js";
import { t, number } from "../lib/i18n.js";

export class PoolView {
  constructor({ onAdvice }) {
    this.onAdvice = onAdvice;
    this.history = new ReuseHistory(60);
    this.el = {
      advice: document.getElementById("pool-advice"),
      adviceTitle: document.getElementById("pool-advice-title"),
      adviceText: document.getElementById("pool-advice-text"),
      counters: document.getElementById("pool-counters"),
      watchCounters: document.getElementById("pool-watch-counters"),
      smtpCounters: document.getElementById("pool-smtp-counters"),
      chart: document.getElementById("pool-chart"),
      ratio: document.getElementById("pool-ratio"),
      accounts: document.getElementById("pool-accounts"),
      accountRows: document.getElementById("pool-account-rows"),
      accountsEmpty: document.getElementById("pool-accounts-empty"),
    };
    this.cards = new Map();
    for (const [key, label] of COUNTERS) {
      const card = statCard(key, label);
      this.el.counters.append(card);
      this.cards.set(key, card);
    }
    this.watchCards = new Map();
    for (const [key, label] of WATCH_COUNTERS) {
      const card = statCard(key, label);
      this.el.watchCounters.append(card);
      this.watchCards.set(key, card);
    }
    this.smtpCards = new Map();
    for (const [key, label] of SMTP_COUNTERS) {
      const card = statCard(key, label);
      this.el.smtpCounters.append(card);
      this.smtpCards.set(key, card);
    }
    this.failureDetail = document.createElement("div");
    this.failureDetail.className = "stat-label small";
    this.smtpCards.get("smtp_failures").append(this.failureDetail);
    matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.drawChart());
  }

  /**
   * Takes a full snapshot (from `pool_stats` or a `pool-stats` event). With `chart: false`
   * (a refresh for the sending counters) the chart gets no sample.
   */
  update(next, { chart = true } = {}) {
    const stats = mergeStats(this.stats, next);
    this.stats = stats;
    for (const [key, card] of this.cards) {
      card.querySelector(".stat-value").textContent = number(stats[key]);
    }
    this.cards.get("wait_timeouts").classList.toggle("alert", (stats.wait_timeouts ?? 0) > 0);
    for (const [key, card] of this.watchCards) card.querySelector(".stat-value").textContent = number(stats.watch?.[key] ?? 0);
    for (const [key, card] of this.smtpCards) card.querySelector(".stat-value").textContent = smtpCounter(stats, key);
    this.failureDetail.textContent = smtpFailureDetail(stats);
    this.smtpCards.get("smtp_wait_timeouts").classList.toggle("alert", (stats.smtp_wait_timeouts ?? 0) > 0);
    this.smtpCards.get("smtp_failures").classList.toggle("alert", smtpFailures(stats) > 0);
    const advice = poolAdvice(stats);
    this.el.advice.hidden = !advice;
    if (advice) {
      this.el.advice.className = `advice ${advice.level}`;
      this.el.adviceTitle.textContent = advice.title;
      this.el.adviceText.textContent = advice.text;
    }
    this.onAdvice(advice);
    if (chart) this.history.push(stats);
    const ratio = this.history.reuseRatio();
    this.el.ratio.textContent = ratio == null ? "" : t("pool.ratio", { percent: number(ratio, { style: "percent" }) });
    this.paintAccounts(stats.per_account ?? []);
    this.drawChart();
  }

  paintAccounts(accounts) {
    this.el.accounts.hidden = accounts.length === 0;
    this.el.accountsEmpty.hidden = accounts.length > 0;
    const shown = [...accounts].sort((a, b) => (b.in_use ?? 0) - (a.in_use ?? 0) || (b.total_created ?? 0) - (a.total_created ?? 0)).slice(0, 500);
    this.el.accountRows.replaceChildren(
      ...shown.map((a) => {
        const tr = document.createElement("tr");
        for (const value of [a.email, a.in_use, a.idle, a.total_created, a.total_reused, a.total_closed, a.connection_waits, a.wait_timeouts]) {
          const td = document.createElement("td");
          td.textContent = typeof value === "number" ? number(value) : String(value ?? "");
          tr.append(td);
        }
        return tr;
      }),
    );
  }

  /** Says everything again in the language now in force (the labels follow `data-i18n`). */
  relabel() {
    if (this.stats) this.update(this.stats, { chart: false });
  }

  drawChart() {
    const canvas = this.el.chart;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 720;
    const height = canvas.clientHeight || 140;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const g = canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const styles = getComputedStyle(document.documentElement);
    const colour = (name) => styles.getPropertyValue(name).trim();
    const samples = this.history.samples;
    g.strokeStyle = colour("--line");
    g.beginPath();
    g.moveTo(0, height - 0.5);
    g.lineTo(width, height - 0.5);
    g.stroke();
    if (!samples.length) return;
    const max = Math.max(1, ...samples.map((s) => s.created + s.reused));
    const slot = width / this.history.limit;
    const bar = Math.max(2, slot - 2);
    samples.forEach((s, i) => {
      const x = width - (samples.length - i) * slot;
      const hReused = (s.reused / max) * (height - 6);
      const hCreated = (s.created / max) * (height - 6);
      g.fillStyle = colour("--chart-reused");
      g.fillRect(x, height - hReused, bar, hReused);
      g.fillStyle = colour("--chart-created");
      g.fillRect(x, height - hReused - hCreated, bar, hCreated);
    });
  }
}

/** A counter's card: its value over its name, found by `data-counter`. */
function statCard(key, label) {
  const card = document.createElement("div");
  card.className = "stat";
  card.dataset.counter = key;
  const value = document.createElement("div");
  value.className = "stat-value";
  value.textContent = "0";
  const name = document.createElement("div");
  name.className = "stat-label";
  name.dataset.i18n = label;
  name.textContent = t(label);
  card.append(value, name);
  return card;
}
