// Reading the pool's counters (snake_case, as the engine and the CLI name them): the
// warning banner's advice, the reuse chart's series and the sending counters.

import { t, number } from "./i18n.js";

/**
 * What the pool-stats panel should say, given the counters now and the counters when the
 * panel last looked. Wait timeouts are a warning (a caller got an error); frequent waits are
 * a gentler hint (callers queue, nothing failed yet).
 * @returns {{level: "warning"|"hint", title: string, text: string} | null}
 */
export function poolAdvice(stats) {
  if (!stats) return null;
  const timeouts = stats.wait_timeouts ?? 0;
  const waits = stats.connection_waits ?? 0;
  const served = (stats.total_created ?? 0) + (stats.total_reused ?? 0);
  const per_account = stats.max_per_account ?? 1;
  const total = stats.max_total ?? 0;
  if (timeouts > 0) {
    return {
      level: "warning",
      title: t("pool.advice.timeouts", { count: timeouts }),
      text: t("pool.advice.timeouts.text", { count: per_account, total, setting: t("settings.pool.maxPerAccount") }),
    };
  }
  if (waits >= 10 && served > 0 && waits / served > 0.2) {
    return {
      level: "hint",
      title: t("pool.advice.waits", { count: waits }),
      text: t("pool.advice.waits.text"),
    };
  }
  return null;
}

/**
 * Keeps the counters' history for the chart: for each sample, how many sessions were newly
 * opened and how many reused since the sample before. Bounded, oldest dropped first.
 */
export class ReuseHistory {
  constructor(limit = 60) {
    this.limit = limit;
    this.samples = [];
    this.last = null;
  }

  /** Adds a sample of cumulative counters taken at `time` (ms). */
  push(stats, time = Date.now()) {
    const now = { created: stats.total_created ?? 0, reused: stats.total_reused ?? 0 };
    if (this.last && (now.created < this.last.created || now.reused < this.last.reused)) {
      this.last = null; // The counters restarted (a new engine); start over from here.
    }
    const prev = this.last ?? { created: now.created, reused: now.reused };
    const sample = { time, created: now.created - prev.created, reused: now.reused - prev.reused };
    this.last = now;
    if (!this.samples.length && sample.created === 0 && sample.reused === 0) {
      this.samples.push({ time, created: now.created, reused: now.reused });
    } else {
      this.samples.push(sample);
    }
    if (this.samples.length > this.limit) this.samples.splice(0, this.samples.length - this.limit);
    return this.samples;
  }

  /** The share of sessions served by reuse over the whole history, 0 to 1, or null. */
  reuseRatio() {
    let created = 0;
    let reused = 0;
    for (const s of this.samples) {
      created += s.created;
      reused += s.reused;
    }
    return created + reused ? reused / (created + reused) : null;
  }
}

/** The session counters the panel shows, in order: `[key, label key]`. */
export const COUNTERS = [
  ["total_created", "pool.counter.created"],
  ["total_reused", "pool.counter.reused"],
  ["total_closed", "pool.counter.closed"],
  ["health_check_failures", "pool.counter.healthFailures"],
  ["connection_waits", "pool.counter.waits"],
  ["wait_timeouts", "pool.counter.waitTimeouts"],
  ["in_use", "pool.counter.inUse"],
  ["idle", "pool.counter.idle"],
  ["idling", "pool.counter.idling"],
];

/** The sending counters the panel shows, in order: `[key, label key]`. */
/** The watch's figures (under `watch` in a snapshot), as `[key, message key]`. */
export const WATCH_COUNTERS = [
  ["pushed", "pool.watch.pushed"],
  ["polled", "pool.watch.polled"],
  ["queued", "pool.watch.queued"],
  ["idleBudget", "pool.watch.idleBudget"],
];

export const SMTP_COUNTERS = [
  ["smtp_connections_created", "pool.smtp.created"],
  ["smtp_connections_reused", "pool.smtp.reused"],
  ["smtp_connections_open", "pool.smtp.open"],
  ["smtp_messages_sent", "pool.smtp.sent"],
  ["smtp_messages_per_connection", "pool.smtp.perConnection"],
  ["smtp_rate_waits", "pool.smtp.rateWaits"],
  ["smtp_retries", "pool.smtp.retries"],
  ["smtp_wait_timeouts", "pool.counter.waitTimeouts"],
  ["smtp_failures", "pool.smtp.failures"],
];

/** The kinds of failed send, as `[key, message key]`; `smtp_failures` is their sum. */
export const SMTP_FAILURES = [
  ["smtp_refused", "pool.smtp.refused"],
  ["smtp_deferred", "pool.smtp.deferred"],
  ["smtp_signin_failures", "pool.smtp.signin"],
  ["smtp_connection_failures", "pool.smtp.connection"],
];

/**
 * A sending counter as the panel shows it: whole numbers with thousands separators, messages
 * per connection with one decimal, failures summed over their kinds.
 */
export function smtpCounter(stats, key) {
  const value = key === "smtp_failures" ? smtpFailures(stats) : Number(stats?.[key] ?? 0);
  if (key === "smtp_messages_per_connection") return number(value, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return number(value);
}

/** Sends that failed, of every kind the panel names. */
export function smtpFailures(stats) {
  return SMTP_FAILURES.reduce((sum, [k]) => sum + Number(stats?.[k] ?? 0), 0);
}

/** What the failures card says under its number, the kinds that happened: "1 refused · 3 connection". */
export function smtpFailureDetail(stats) {
  return SMTP_FAILURES.filter(([k]) => Number(stats?.[k] ?? 0) > 0)
    .map(([k, words]) => t(words, { count: Number(stats[k]) }))
    .join(" · ");
}

/**
 * The counters to show after `next` arrives. A pushed `pool-stats` event carries the session
 * pool's counters only, so the sending counters (`smtp_*`) of the last full snapshot stay.
 */
export function mergeStats(previous, next) {
  if (!previous) return next;
  // Pushed events carry the session pool only: the sending and watch figures stay as last read.
  const kept = Object.fromEntries(
    Object.entries(previous).filter(([k]) => (k.startsWith("smtp_") || k === "watch") && !(k in next)),
  );
  return { ...next, ...kept };
}
