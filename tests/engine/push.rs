//! Every watched account pushed, not polled: within `watch.maxIdleSessions` each watched
//! account idles on its own session, against the real Dovecot. Past the budget the rest are
//! polled; after a server restart the sessions come back at the login budget's rate.

use std::time::{Duration, Instant};

use std::sync::Arc;

use mailwatch_engine::Engine;
use mailwatch_engine::engine::{EngineOptions, WaitOptions};
use mailwatch_engine::secrets::KeyringSecrets;
use mailwatch_engine::watch::{WatchMode, WatchStats};

use crate::support::{Harness, Recorder, code_mail, test_config};

/// Waits (up to `secs`) until `done` holds for the watcher's figures; panics with what it saw.
async fn until(h: &Harness, secs: u64, what: &str, done: impl Fn(&WatchStats) -> bool) -> WatchStats {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let w = h.engine.stats().watch;
        if done(&w) {
            return w;
        }
        if Instant::now() > deadline {
            panic!("{what} never happened within {secs} s: {w:?}\n{}", h.bed.dovecot.diagnostics());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn accounts(h: &Harness, prefix: &str, n: usize) -> Vec<String> {
    let mut emails = Vec::with_capacity(n);
    for i in 0..n {
        emails.push(h.password_account(&format!("{prefix}{i:03}@example.com"), "pw", None).await);
    }
    emails
}

/// Delivers a code to each of `targets` one after the other and waits for each to be
/// announced; returns the milliseconds from delivery to announcement, in order.
async fn deliver_and_time(h: &Harness, emails: &[String], targets: &[usize], base: u32) -> Vec<f64> {
    let mut ms = Vec::new();
    for (n, &i) in targets.iter().enumerate() {
        let code = format!("{}", base + n as u32);
        let (s, b) = code_mail(&code);
        let sent = Instant::now();
        h.deliver(&emails[i], "INBOX", &s, &b).await;
        let deadline = sent + Duration::from_secs(20);
        loop {
            if h.events.codes().contains(&code) {
                ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the code {code} delivered to {} was never announced: {:?}\n{:?}",
                emails[i],
                h.engine.stats().watch,
                h.engine.watch_statuses().iter().find(|s| s.email == emails[i])
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    ms
}

fn summary(ms: &[f64]) -> String {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms over {}", at(0.5), at(0.9), at(1.0), v.len())
}

/// Twenty distinct indexes below `n`, spread by a fixed stride so the pick is the same each run.
fn spread(n: usize) -> Vec<usize> {
    (0..20).map(|k| (k * 37 + 11) % n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_watched_accounts_all_idle_within_a_budget_of_two_hundred() {
    let mut cfg = test_config();
    cfg.watch.max_idle_sessions = 200;
    cfg.pool.max_total = 210;
    cfg.watch.poll_login_rate = 100.0;
    let h = Harness::with_config(cfg).await;
    let emails = accounts(&h, "push", 200).await;
    let t = Instant::now();
    h.engine.set_watched(&emails, true).await.unwrap();
    let w = until(&h, 120, "all 200 accounts idling", |w| w.pushed == 200).await;
    println!("200 watched accounts idling after {:.1} s: {w:?}", t.elapsed().as_secs_f64());
    assert_eq!((w.polled, w.queued, w.idle_budget), (0, 0, 200), "nobody is polled or queued: {w:?}");

    let ms = deliver_and_time(&h, &emails, &spread(emails.len()), 610_000).await;
    println!("APPEND to code, 20 random accounts of 200 idling: {}", summary(&ms));
    let statuses = h.engine.watch_statuses();
    assert!(
        statuses.iter().all(|s| s.mode == WatchMode::Idle && s.waiters == 0),
        "every watched account is back in IDLE after its code: {:?}",
        statuses.iter().filter(|s| s.mode != WatchMode::Idle).collect::<Vec<_>>()
    );
    let max = h.bed.dovecot.max_total_sessions_seen();
    assert_eq!(max, 200, "one session per account and no more, at Dovecot\n{}", h.bed.dovecot.diagnostics());
    let logins: usize = emails.iter().map(|e| h.bed.dovecot.logins_for(e)).sum();
    assert_eq!(logins, 200, "each account logged in once: its session idles, it is not reopened per code");

    h.engine.shutdown().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open: usize = emails.iter().map(|e| h.bed.dovecot.sessions_for(e)).sum();
    assert_eq!(open, 0, "shutdown ended IDLE and logged out of every session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_server_restart_two_hundred_idling_accounts_come_back_at_the_login_budget() {
    const RATE: f64 = 40.0;
    let mut cfg = test_config();
    cfg.watch.max_idle_sessions = 200;
    cfg.pool.max_total = 210;
    cfg.watch.poll_login_rate = RATE;
    cfg.watch.backoff_min = Duration::from_millis(500);
    cfg.watch.backoff_max = Duration::from_secs(4);
    let h = Harness::with_config(cfg).await;
    let emails = accounts(&h, "restart", 200).await;
    h.engine.set_watched(&emails, true).await.unwrap();
    until(&h, 120, "all 200 accounts idling", |w| w.pushed == 200).await;
    let first = h.bed.dovecot.login_times_since_start();

    // The server goes away; a code lands while it is down.
    h.bed.dovecot.stop().await;
    let (s, b) = code_mail("737373");
    h.bed.dovecot.deliver_offline(&emails[123], crate::support::message(&s, &b).as_bytes());
    until(&h, 30, "every watch noticing the outage", |w| w.pushed == 0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = Instant::now();
    h.bed.dovecot.restart().await;
    let w = until(&h, 120, "all 200 accounts idling again", |w| w.pushed == 200).await;
    println!("back in IDLE {:.1} s after the restart: {w:?}", t.elapsed().as_secs_f64());

    let mut got = false;
    for _ in 0..200 {
        if h.events.codes().iter().any(|c| c == "737373") {
            got = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(got, "the code delivered during the outage was announced after it: {:?}", h.events.codes());

    let times = h.bed.dovecot.login_times_since_start();
    assert_eq!(times.len(), 200, "each account logged in once after the restart (first start: {})", first.len());
    // The most logins in any one second, and the rate from the first to the last.
    let busiest = times.iter().map(|&t0| times.iter().filter(|&&t| t >= t0 && t < t0 + 1.0).count()).max().unwrap();
    let span = times.iter().cloned().fold(f64::MIN, f64::max) - times.iter().cloned().fold(f64::MAX, f64::min);
    let rate = (times.len() - 1) as f64 / span;
    println!(
        "after the restart: 200 logins over {span:.2} s, {rate:.1} per second, at most {busiest} in one second \
         (budget {RATE}/s); before it: 200 logins, at most {} in one second",
        first.iter().map(|&t0| first.iter().filter(|&&t| t >= t0 && t < t0 + 1.0).count()).max().unwrap_or(0)
    );
    // Slots are 25 ms apart. Dovecot logs a login a moment after the client's, later when the
    // machine is busy, so a few logins may bunch in its log: allow 5 in a window and 10 % over
    // the whole ramp. Unpaced, the 200 logins land within about a second.
    assert!(busiest <= RATE as usize + 5, "{busiest} logins in one second, over the budget of {RATE}: {times:?}");
    assert!(rate <= RATE * 1.1, "{rate:.1} logins per second over the budget of {RATE}: {times:?}");
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_idle_budget_the_rest_are_polled_and_sessions_stay_within_the_limit() {
    let mut cfg = test_config();
    cfg.watch.max_idle_sessions = 5;
    cfg.pool.max_total = 9;
    cfg.watch.poll_concurrency = 2;
    cfg.watch.poll_interval = Duration::from_secs(1);
    cfg.watch.poll_login_rate = 50.0;
    let h = Harness::with_config(cfg).await;
    let emails = accounts(&h, "budget", 12).await;
    h.engine.set_watched(&emails, true).await.unwrap();
    let w = until(&h, 60, "5 idling and 7 polled", |w| w.pushed == 5 && w.polled == 7).await;
    println!("12 watched, IDLE budget 5, pool.maxTotal 9: {w:?}");
    assert_eq!(w.idle_budget, 5);

    let all: Vec<usize> = (0..emails.len()).collect();
    let ms = deliver_and_time(&h, &emails, &all, 820_000).await;
    let statuses = h.engine.watch_statuses();
    let idle: Vec<bool> =
        emails.iter().map(|e| statuses.iter().any(|s| &s.email == e && s.mode == WatchMode::Idle)).collect();
    let (pushed, polled): (Vec<_>, Vec<_>) = ms.iter().zip(&idle).partition(|(_, idle)| **idle);
    let pushed: Vec<f64> = pushed.into_iter().map(|(m, _)| *m).collect();
    let polled: Vec<f64> = polled.into_iter().map(|(m, _)| *m).collect();
    println!("APPEND to code: pushed {}; polled every 1 s {}", summary(&pushed), summary(&polled));
    assert_eq!((pushed.len(), polled.len()), (5, 7), "the same 5 accounts kept their IDLE slots: {statuses:?}");
    let max = h.bed.dovecot.max_total_sessions_seen();
    assert!(
        max <= 9,
        "Dovecot saw {max} sessions at once; pool.maxTotal is 9, IDLE included\n{}",
        h.bed.dovecot.diagnostics()
    );
    h.engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_start_the_accounts_used_most_recently_log_in_first() {
    let mut cfg = test_config();
    // Slots half a second apart: the watches all queue before the first one opens.
    cfg.watch.poll_login_rate = 2.0;
    let h = Harness::with_config(cfg.clone()).await;
    let emails = accounts(&h, "order", 6).await;
    // The user waits on two accounts (the newest last); nothing else is used.
    for e in [&emails[4], &emails[2]] {
        let options = WaitOptions { timeout: Duration::from_millis(300), ..Default::default() };
        let err = h.engine.wait_code(e, &options).await.unwrap_err();
        assert_eq!(err.code(), "wait_timed_out", "{err}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    h.engine.set_watched(&emails, true).await.unwrap();
    h.engine.shutdown().await;
    let before = h.bed.dovecot.login_order().len();

    // The app starts again on the same data and resumes the stored choice.
    let options = EngineOptions {
        data_dir: Some(h.dir.path().to_path_buf()),
        extra_ca: Some(h.bed.dovecot.ca_pem_path().to_path_buf()),
        config: Some(cfg),
        secrets: Some(Arc::new(KeyringSecrets::default())),
        ..Default::default()
    };
    let engine = Engine::open(options, Arc::new(Recorder::default())).await.expect("the engine opens again");
    engine.resume_watching().await;
    for _ in 0..200 {
        if engine.stats().watch.pushed == emails.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let order: Vec<String> = h.bed.dovecot.login_order().split_off(before);
    println!("logins after the start, in order: {order:?}");
    assert_eq!(order.len(), emails.len(), "each account logged in once: {:?}", engine.stats().watch);
    assert_eq!(
        order[..2],
        [emails[2].clone(), emails[4].clone()],
        "the account waited on last logs in first, then the one before; the rest follow"
    );
    assert_eq!(order[2..], [&emails[0], &emails[1], &emails[3], &emails[5]].map(String::clone));
    engine.shutdown().await;
}
