//! Batch import, verification, "refresh all", export and the token keeper, against the real
//! keyring, a real SQLite file, Dovecot and the local token server.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailwatch_engine::account::AuthMethod;
use mailwatch_engine::engine::{BatchControl, ImportOptions, Progress};
use mailwatch_engine::import::{ImportDefaults, ImportFormat, MergeMode, Problem};
use mailwatch_engine::keeper;
use mailwatch_engine::secrets::{KeyringSecrets, SecretStore};
use mailwatch_testbed::DEFAULT_CLIENT_ID;

use crate::support::Harness;

fn defaults(h: &Harness) -> ImportDefaults {
    ImportDefaults {
        imap_host: Some("127.0.0.1".into()),
        imap_port: Some(h.bed.dovecot.imaps_port()),
        token_url: Some(h.bed.oauth.token_url()),
        ..Default::default()
    }
}

fn options(h: &Harness) -> ImportOptions {
    ImportOptions { defaults: defaults(h), ..Default::default() }
}

fn keyring_secret(email: &str) -> Option<String> {
    KeyringSecrets::default().get(email).expect("the keyring answers").map(|s| s.expose().to_string())
}

/// Issues tokens for `n` Outlook-style users named `{prefix}{i}@outlook.com` and returns the
/// dash lines.
fn oauth_lines(h: &Harness, prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let email = format!("{prefix}{i}@outlook.com");
            let token = h.bed.oauth.issue_refresh_token(&email, DEFAULT_CLIENT_ID);
            (email, token)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_file_imports_with_line_errors_and_a_second_run_changes_nothing() {
    let h = Harness::start().await;
    h.bed.dovecot.add_user("imp-pw@example.org", "pw-1");
    let users = oauth_lines(&h, "imp-a", 2);
    let file = format!(
        "# supplier batch\n{}----{}----{DEFAULT_CLIENT_ID}\n\n{}----{DEFAULT_CLIENT_ID}----{}\nimp-pw@example.org:pw-1\nbroken-line\n{}----{DEFAULT_CLIENT_ID}\n{}----{}\n",
        users[0].0, users[0].1, users[1].0, users[1].1, "imp-b@outlook.com", users[0].0, users[0].1
    );
    let report =
        h.engine.import(file.as_bytes(), &options(&h), &BatchControl::default()).await.expect("the import runs");
    assert_eq!(
        (report.format, report.added, report.updated, report.skipped),
        (ImportFormat::Dash, 3, 0, 0),
        "{report:#?}"
    );
    assert_eq!(
        report.errors,
        vec![
            Problem::new("not_an_email", "the first field is not an email address").at(6),
            Problem::new("no_refresh_token", "no refresh token").at(7),
            Problem::new("duplicate", "duplicate of line 2").with("first", 2).at(8),
        ],
        "every bad line is reported with its number and reason"
    );
    let accounts = h.engine.accounts().await.unwrap();
    assert_eq!(
        accounts.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(),
        vec!["imp-a0@outlook.com", "imp-a1@outlook.com", "imp-pw@example.org"]
    );
    assert_eq!(accounts[2].auth, AuthMethod::Password);
    for (email, token) in &users {
        assert_eq!(keyring_secret(email).as_deref(), Some(token.as_str()), "{email}'s token is in the keyring");
    }
    assert_eq!(keyring_secret("imp-pw@example.org").as_deref(), Some("pw-1"));

    // The same file again: nothing added, the same state.
    let again = h.engine.import(file.as_bytes(), &options(&h), &BatchControl::default()).await.unwrap();
    assert_eq!((again.added, again.updated, again.errors.len()), (0, 3, 3), "{again:#?}");
    assert_eq!(h.engine.accounts().await.unwrap(), accounts, "a second run leaves the same accounts");
    let skip = ImportOptions { merge: MergeMode::Skip, ..options(&h) };
    let skipped = h.engine.import(file.as_bytes(), &skip, &BatchControl::default()).await.unwrap();
    assert_eq!((skipped.added, skipped.updated, skipped.skipped), (0, 0, 3), "{skipped:#?}");

    // A dry run counts and writes nothing.
    let more = format!("{file}imp-new@example.org----pw----127.0.0.1----993\n");
    let dry = ImportOptions { dry_run: true, ..options(&h) };
    let preview = h.engine.import(more.as_bytes(), &dry, &BatchControl::default()).await.unwrap();
    assert_eq!((preview.added, preview.updated, preview.dry_run), (1, 3, true), "{preview:#?}");
    assert_eq!(h.engine.accounts().await.unwrap().len(), 3, "the dry run wrote no row");
    assert_eq!(keyring_secret("imp-new@example.org"), None, "the dry run wrote no secret");

    // The imported accounts work.
    h.deliver(&users[0].0, "INBOX", "Your code", "Your verification code is 602214.").await;
    let got = h
        .engine
        .fetch(&users[0].0, &mailwatch_engine::imap::FolderSpec::Inbox, 1, false)
        .await
        .expect("an imported account fetches");
    assert_eq!(got[0].code.as_deref(), Some("602214"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_removes_absent_accounts_only_when_confirmed_and_the_file_is_clean() {
    let h = Harness::start().await;
    let users = oauth_lines(&h, "rep", 3);
    let line = |i: usize| format!("{}----{}\n", users[i].0, users[i].1);
    let all = format!("{}{}{}", line(0), line(1), line(2));
    h.engine.import(all.as_bytes(), &options(&h), &BatchControl::default()).await.unwrap();

    let fewer = line(0);
    let unconfirmed = ImportOptions { merge: MergeMode::Replace, ..options(&h) };
    let r = h.engine.import(fewer.as_bytes(), &unconfirmed, &BatchControl::default()).await.unwrap();
    assert_eq!((r.absent, r.removed), (2, 0), "{r:#?}");
    assert_eq!(r.removal_withheld.as_deref(), Some("removal was not confirmed"));
    assert_eq!(h.engine.accounts().await.unwrap().len(), 3);

    let confirmed = ImportOptions { merge: MergeMode::Replace, confirm_removal: true, ..options(&h) };
    let with_error = format!("{fewer}nobody----x\n");
    let r = h.engine.import(with_error.as_bytes(), &confirmed, &BatchControl::default()).await.unwrap();
    assert_eq!(r.removed, 0, "a file with a bad line removes nothing: {r:#?}");
    assert!(r.removal_withheld.as_deref().is_some_and(|w| w.contains("1 line")), "{r:#?}");

    let r = h.engine.import(fewer.as_bytes(), &confirmed, &BatchControl::default()).await.unwrap();
    assert_eq!((r.updated, r.removed), (1, 2), "{r:#?}");
    let left: Vec<String> = h.engine.accounts().await.unwrap().into_iter().map(|a| a.email).collect();
    assert_eq!(left, vec![users[0].0.clone()]);
    assert_eq!(keyring_secret(&users[1].0), None, "a removed account's secret leaves the keyring too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_reports_each_account_and_stores_rotated_tokens() {
    let h = Harness::start().await;
    let users = oauth_lines(&h, "ver", 4);
    h.bed.oauth.revoke(&users[3].1);
    h.bed.dovecot.add_user("ver-pw@example.org", "right");
    let mut file: String = users.iter().map(|(e, t)| format!("{e}----{t}----{DEFAULT_CLIENT_ID}\n")).collect();
    file.push_str("ver-pw@example.org----wrong\n");
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s = seen.clone();
    let control = BatchControl {
        progress: Some(Arc::new(move |p: &Progress| s.lock().unwrap().push(p.clone()))),
        ..Default::default()
    };
    let opts = ImportOptions { verify: true, concurrency: Some(2), ..options(&h) };
    let report = h.engine.import(file.as_bytes(), &opts, &control).await.unwrap();
    let v = report.verified.expect("a verification report");
    assert_eq!((v.ok, v.failed, v.cancelled), (3, 2, false), "{v:#?}");
    let failed: Vec<(&str, Option<&str>)> =
        v.accounts.iter().filter(|a| !a.ok).map(|a| (a.email.as_str(), a.code.as_deref())).collect();
    assert_eq!(
        failed,
        vec![(users[3].0.as_str(), Some("needs_reauth")), ("ver-pw@example.org", Some("auth_failed"))],
        "{v:#?}"
    );
    for (email, old) in &users[..3] {
        let current = h.bed.oauth.current_refresh_token(email).expect("the server rotated the token");
        assert_ne!(&current, old, "the token server rotates on refresh");
        assert_eq!(keyring_secret(email).as_deref(), Some(current.as_str()), "{email}: the rotated token was stored");
    }
    let seen = seen.lock().unwrap();
    let last = seen.iter().rfind(|p| p.job == "verify").expect("verify progress was reported");
    assert_eq!((last.done, last.total, last.ok, last.failed), (5, 5, 3, 2), "{seen:#?}");
    assert!(h.engine.stats().pool.total.total_created >= 3, "verification logged in through the pool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_all_and_cancellation() {
    let h = Harness::start().await;
    let users = oauth_lines(&h, "ref", 6);
    h.bed.dovecot.add_user("ref-pw@example.org", "pw");
    let mut file: String = users.iter().map(|(e, t)| format!("{e}----{t}----{DEFAULT_CLIENT_ID}\n")).collect();
    file.push_str("ref-pw@example.org----pw\n");
    h.engine.import(file.as_bytes(), &options(&h), &BatchControl::default()).await.unwrap();

    let report = h.engine.refresh_tokens(None, 5, &BatchControl::default()).await.unwrap();
    assert_eq!(
        (report.ok, report.failed, report.accounts.len()),
        (6, 0, 6),
        "password accounts are not part of refresh all: {report:#?}"
    );
    for (email, _) in &users {
        assert_eq!(h.bed.oauth.refresh_count(email), 1, "{email} was refreshed once");
    }
    let one = vec!["ref-pw@example.org".to_string()];
    let pw = h.engine.refresh_tokens(Some(&one), 5, &BatchControl::default()).await.unwrap();
    assert_eq!(pw.accounts[0].code.as_deref(), Some("not_oauth"), "{pw:#?}");

    // Slow token endpoint, one at a time, cancelled after the first account.
    h.bed.oauth.set_latency(Duration::from_millis(300));
    let control = BatchControl::default();
    let cancel = control.cancel.clone();
    let control = BatchControl { progress: Some(Arc::new(move |_: &Progress| cancel.cancel())), ..control };
    let report = h.engine.refresh_tokens(None, 1, &control).await.unwrap();
    assert!(report.cancelled, "{report:#?}");
    assert_eq!(report.ok, 1, "the account that finished counts: {report:#?}");
    assert!(report.accounts.iter().filter(|a| !a.ok).all(|a| a.code.as_deref() == Some("cancelled")), "{report:#?}");
    assert_eq!(report.accounts.len(), 6, "every account has a result");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_with_secrets_imports_back_to_the_same_accounts() {
    let h = Harness::start().await;
    let users = oauth_lines(&h, "exp", 2);
    h.bed.dovecot.add_user("exp-pw@example.org", "pw-x");
    let mut file: String = users.iter().map(|(e, t)| format!("{e}----{t}----{DEFAULT_CLIENT_ID}\n")).collect();
    file.push_str("exp-pw@example.org----pw-x\n");
    let opts = options(&h);
    h.engine.import(file.as_bytes(), &opts, &BatchControl::default()).await.unwrap();
    let before = h.engine.accounts().await.unwrap();

    let plain = h.engine.export(None, ImportFormat::Csv, false).await.unwrap();
    assert!(!plain.contains(&users[0].1) && !plain.contains("pw-x"), "no secrets without asking:\n{plain}");
    for format in [ImportFormat::Csv, ImportFormat::Json, ImportFormat::Dash] {
        let text = h.engine.export(None, format, true).await.unwrap();
        for a in &before {
            h.engine.remove_account(&a.email).await.unwrap();
        }
        // Dash lines of OAuth2 accounts carry no server, so the test bed's comes from the defaults.
        let r = h.engine.import(text.as_bytes(), &opts, &BatchControl::default()).await.unwrap();
        assert!(r.errors.is_empty() && r.added == 3, "{format}: {r:#?}\n{text}");
        assert_eq!(h.engine.accounts().await.unwrap(), before, "{format} round trip:\n{text}");
        assert_eq!(keyring_secret(&users[1].0).as_deref(), Some(users[1].1.as_str()));
    }
    let one = vec![users[1].0.to_uppercase()];
    let picked = h.engine.export(Some(&one), ImportFormat::Dash, false).await.unwrap();
    assert_eq!(picked.lines().count(), 1, "{picked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keeper_refreshes_only_stale_tokens_and_spreads_them_over_rounds() {
    let mut config = crate::support::test_config();
    config.keeper.max_per_round = 2;
    let h = Harness::with_config(config).await;
    let users = oauth_lines(&h, "keep", 4);
    let file: String = users.iter().map(|(e, t)| format!("{e}----{t}----{DEFAULT_CLIENT_ID}\n")).collect();
    h.engine.import(file.as_bytes(), &options(&h), &BatchControl::default()).await.unwrap();
    let now = 2_000_000_000;
    let day = 24 * 3600;
    // keep0 was refreshed yesterday; keep1 40 days ago; keep2 and keep3 never by Mailwatch.
    let cache = h.cache_file();
    cache.set_token_refreshed(&users[0].0, now - day).unwrap();
    cache.set_token_refreshed(&users[1].0, now - 40 * day).unwrap();

    let round = keeper::keep_tokens(&h.engine, now).await.unwrap();
    assert_eq!((round.kept_alive, round.failed, round.deferred), (2, 0, 1), "{round:?}");
    assert_eq!(h.bed.oauth.refresh_count(&users[0].0), 0, "a token refreshed yesterday is left alone");
    let refreshed: usize = users[1..].iter().map(|(e, _)| h.bed.oauth.refresh_count(e)).sum();
    assert_eq!(refreshed, 2, "two stale tokens this round (maxPerRound)");

    // The refreshes were recorded with the real clock, far before `now`; a round at the
    // real time finds only the deferred one.
    let real_now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let round = keeper::keep_tokens(&h.engine, real_now).await.unwrap();
    assert_eq!(round.kept_alive, 1, "{round:?}");
    for (email, _) in &users[1..] {
        assert_eq!(h.bed.oauth.refresh_count(email), 1, "{email} refreshed exactly once over both rounds");
    }

    // A round of background sync fetches every watched account and survives a bad one.
    let watched = vec![users[0].0.clone(), "nobody@outlook.com".to_string()];
    let engine = Arc::new(h.engine);
    let sync = keeper::sync_accounts(engine.clone(), watched).await;
    assert_eq!((sync.synced, sync.failed), (1, 1), "{sync:?}");
    engine.set_watched(&[users[0].0.clone()], true).await.unwrap();
    let jobs = keeper::Keeper::start(&engine);
    tokio::time::timeout(Duration::from_secs(5), jobs.stop(Duration::from_secs(3)))
        .await
        .expect("the jobs stop promptly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keeper_renews_access_tokens_of_accounts_in_use_before_they_expire() {
    let h = Harness::start().await;
    h.bed.oauth.set_access_token_lifetime(2);
    let users = oauth_lines(&h, "warm", 2);
    let file: String = users.iter().map(|(e, t)| format!("{e}----{t}----{DEFAULT_CLIENT_ID}\n")).collect();
    h.engine.import(file.as_bytes(), &options(&h), &BatchControl::default()).await.unwrap();
    // warm0 is in use (fetched just now); warm1 was never fetched.
    h.engine.fetch(&users[0].0, &mailwatch_engine::imap::FolderSpec::Inbox, 1, false).await.unwrap();
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    h.cache_file().set_token_refreshed(&users[1].0, now()).unwrap();
    assert_eq!(h.bed.oauth.refresh_count(&users[0].0), 1);

    let fresh = keeper::keep_tokens(&h.engine, now()).await.unwrap();
    assert_eq!((fresh.warmed, fresh.kept_alive), (1, 0), "{fresh:?}");
    assert_eq!(h.bed.oauth.refresh_count(&users[0].0), 1, "a fresh access token is not renewed");

    // Past half of a short token's life the keeper renews it, before it expires.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let round = keeper::keep_tokens(&h.engine, now()).await.unwrap();
    assert_eq!((round.warmed, round.failed), (1, 0), "{round:?}");
    assert_eq!(h.bed.oauth.refresh_count(&users[0].0), 2, "the access token in use was renewed");
    assert_eq!(h.bed.oauth.refresh_count(&users[1].0), 0, "an unused account with a recent refresh is left alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_import_keeps_the_channel_the_user_chose() {
    let h = Harness::start().await;
    let users = oauth_lines(&h, "imp-ch", 1);
    let (email, token) = &users[0];
    let file = format!("{email}----{token}----{DEFAULT_CLIENT_ID}\n");
    let mut opts = options(&h);
    opts.verify = false;
    h.engine.import(file.as_bytes(), &opts, &BatchControl::default()).await.expect("the first import");
    h.engine.set_channel(email, mailwatch_engine::account::Channel::Graph).await.expect("Graph is chosen");

    let report = h.engine.import(file.as_bytes(), &opts, &BatchControl::default()).await.expect("the re-import");
    assert_eq!((report.added, report.updated), (0, 1), "{report:#?}");
    let account = h.engine.account(email).await.unwrap();
    assert_eq!(account.channel, mailwatch_engine::account::Channel::Graph, "the file has no channel: {account:?}");
}
