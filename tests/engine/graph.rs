//! Microsoft Graph as the second channel of Outlook accounts, against the test bed's Graph
//! stand-in, which serves the mailboxes Dovecot holds: an account IMAP refuses is read
//! through Graph with the same results, the channel is remembered, waits get codes APPENDed
//! while they wait, throttling is honoured and counted, and refused scopes give the right
//! sentence and the right fallback.

use std::time::{Duration, Instant};

use mailwatch_engine::account::Channel;
use mailwatch_engine::imap::FolderSpec;
use mailwatch_testbed::{GRAPH_SCOPE, GraphServer, IMAP_SCOPE, NOT_CONNECTED};

use crate::support::{Harness, code_mail, message};

async fn bed() -> (Harness, GraphServer) {
    let h = Harness::start().await;
    let graph = GraphServer::start(&h.bed.dovecot, &h.bed.oauth).await;
    (h, graph)
}

async fn account(h: &Harness, email: &str) -> mailwatch_engine::account::Account {
    h.engine.account(email).await.expect("the account is known")
}

#[tokio::test]
async fn an_account_imap_refuses_is_read_through_graph_and_the_channel_is_remembered() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.refused@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, None, None).await;
    let (s, b) = code_mail("482913");
    h.deliver(USER, "INBOX", &s, &b).await;
    h.deliver(USER, "INBOX", "Hello", "no code here").await;
    h.bed.set_imap_not_connected(USER, true);

    let messages = h.engine.fetch(USER, &FolderSpec::Inbox, 10, false).await.expect("read through Graph");
    assert_eq!(messages.len(), 2, "both messages, newest first: {messages:?}");
    assert_eq!(messages.iter().filter_map(|m| m.code.as_deref()).collect::<Vec<_>>(), ["482913"], "{messages:?}");
    assert!(graph.requests_for(USER) >= 3, "a listing and two $value reads: {}", graph.requests_for(USER));
    let a = account(&h, USER).await;
    assert_eq!((a.channel, a.channel_in_use), (Channel::Auto, Some(Channel::Graph)), "{a:?}");
    let detail = a.status_detail.clone().unwrap_or_default();
    assert!(detail.contains("Microsoft Graph") && detail.contains(NOT_CONNECTED), "the status says why: {detail}");
    assert_eq!(a.status.as_str(), "ok", "{a:?}");
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!((json["channel"].as_str(), json["channelInUse"].as_str()), (Some("auto"), Some("graph")), "{json}");

    // Remembered: the next fetch goes to Graph without trying IMAP (no introspection).
    let introspections = h.bed.oauth.introspection_count();
    let again = h.engine.fetch(USER, &FolderSpec::Inbox, 10, false).await.unwrap();
    assert_eq!(h.bed.oauth.introspection_count(), introspections, "IMAP was not tried again");
    assert_eq!(
        again.iter().map(|m| m.uid).collect::<Vec<_>>(),
        messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
        "the same UIDs"
    );

    // The same bytes: the message as Graph gives it is the one Dovecot holds.
    let coded = messages.iter().find(|m| m.code.is_some()).unwrap();
    let raw = h.engine.message(USER, &FolderSpec::Inbox, coded.uid).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&raw), message(&s, &b), "the raw MIME");

    // Junk through Graph too.
    let (s2, b2) = code_mail("551177");
    h.deliver(USER, "Junk", &s2, &b2).await;
    let junk = h.engine.fetch(USER, &FolderSpec::Junk, 5, false).await.unwrap();
    assert_eq!(junk.first().and_then(|m| m.code.as_deref()), Some("551177"), "{junk:?}");
    let stats = h.engine.stats();
    assert!(stats.graph.graph_requests >= 5 && stats.graph.graph_messages >= 4, "{:?}", stats.graph);
}

#[tokio::test]
async fn imap_is_tried_again_after_the_recheck_time_and_wins_when_it_works() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.recheck@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, None, None).await;
    h.deliver(USER, "INBOX", "Hello", "body").await;
    h.bed.set_imap_not_connected(USER, true);
    h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.unwrap();
    assert_eq!(account(&h, USER).await.channel_in_use, Some(Channel::Graph));
    // IMAP serves it again, and the recheck is due (as after `graph.imapRecheck`).
    h.bed.set_imap_not_connected(USER, false);
    h.cache_file().set_channel_in_use(USER, Channel::Graph, Some(0)).unwrap();
    let graph_before = graph.requests_for(USER);
    h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.unwrap();
    let a = account(&h, USER).await;
    assert_eq!(a.channel_in_use, Some(Channel::Imap), "IMAP worked again: {a:?}");
    assert_eq!(graph.requests_for(USER), graph_before, "Graph was not asked");
    assert_eq!(a.status_detail, None, "the note about Graph is gone: {a:?}");
}

#[tokio::test]
async fn wait_code_over_graph_gets_a_code_appended_while_it_waits() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.wait@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, Some(Channel::Graph), None).await;
    h.deliver(USER, "INBOX", "Old code", "Your code is 111111").await;
    let sub = h.engine.subscribe_codes(USER).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), sub.ready()).await.expect("the baseline is taken");
    drop(sub);
    let engine = &h.engine;
    let wait = async {
        let options =
            mailwatch_engine::engine::WaitOptions { timeout: Duration::from_secs(15), ..engine.wait_options() };
        engine.wait_code(USER, &options).await
    };
    let deliver = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let (s, b) = code_mail("734521");
        h.deliver(USER, "INBOX", &s, &b).await;
        Instant::now()
    };
    let (found, appended) = tokio::join!(wait, deliver);
    let found = found.expect("the code arrives through Graph");
    eprintln!("APPEND to code over Graph at a 200 ms cadence: {:?}", appended.elapsed());
    assert_eq!(found.code.as_deref(), Some("734521"), "{found:?}");
    assert!(graph.delta_requests() >= 2, "the watch polls delta links: {}", graph.delta_requests());
    assert_eq!(h.bed.oauth.introspection_count(), 0, "IMAP was never used");
    let history = h.engine.recent_codes(10).await.unwrap();
    assert!(history.iter().any(|c| c.code.as_deref() == Some("734521")), "in the codes history: {history:?}");
    assert!(
        !history.iter().any(|c| c.code.as_deref() == Some("111111") && c.found_at > c.received.unwrap_or(0) + 5),
        "the old code is history, not news: {history:?}"
    );
}

#[tokio::test]
async fn a_429_is_honoured_after_retry_after_and_counted() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.throttle@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, Some(Channel::Graph), None).await;
    let (s, b) = code_mail("902211");
    h.deliver(USER, "INBOX", &s, &b).await;
    graph.throttle_next(1, 429, 1);
    let t = Instant::now();
    let messages = h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.expect("read after the pause");
    let took = t.elapsed();
    assert_eq!(messages.first().and_then(|m| m.code.as_deref()), Some("902211"));
    assert!(took >= Duration::from_millis(900), "Retry-After: 1 was waited out ({took:?})");
    let stats = h.engine.stats().graph;
    assert_eq!((stats.graph_throttled, stats.graph_retries), (1, 1), "{stats:?}");
    assert_eq!(graph.throttled(), 1);

    // A Retry-After past `graph.retryAfterMax` fails at once, in words.
    graph.throttle_next(1, 503, 3600);
    let err = h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.unwrap_err();
    assert_eq!(err.code(), "throttled", "{err}");
    assert!(err.to_string().contains("3600 s"), "{err}");
}

#[tokio::test]
async fn an_ungranted_graph_scope_gives_the_sentence_and_imap_is_tried_once() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.ungranted@outlook.com";
    // Granted IMAP only; the account is on Graph by its last success.
    h.outlook_account(USER, &graph.base_url(), Some(&[IMAP_SCOPE]), None, None).await;
    h.deliver(USER, "INBOX", "Hello", "body").await;
    h.cache_file().set_channel_in_use(USER, Channel::Graph, Some(mailwatch_engine_now())).unwrap();
    let messages = h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.expect("IMAP reads it");
    assert_eq!(messages.len(), 1);
    assert_eq!(account(&h, USER).await.channel_in_use, Some(Channel::Imap), "the channel that worked");

    // On `graph` alone, the refusal is the answer, in the provider's words.
    h.engine.set_channel(USER, Channel::Graph).await.unwrap();
    let err = h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.unwrap_err();
    assert_eq!(err.code(), "scope_not_granted", "{err}");
    let text = err.to_string();
    assert!(text.contains("Microsoft Graph") && text.contains("AADSTS70000"), "{text}");
    assert!(!text.contains("M.C5"), "no token in the sentence: {text}");

    // On auto with IMAP refusing too (another account: this one's IMAP session is still
    // open, and an open session is not logged out): both reasons.
    const OTHER: &str = "graph.ungranted2@outlook.com";
    h.outlook_account(OTHER, &graph.base_url(), Some(&[IMAP_SCOPE]), None, None).await;
    h.bed.set_imap_not_connected(OTHER, true);
    let err = h.engine.fetch(OTHER, &FolderSpec::Inbox, 5, false).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(NOT_CONNECTED) && text.contains("AADSTS70000"), "both channels' reasons: {text}");
}

#[tokio::test]
async fn a_mixed_scope_refusal_moves_to_graph_with_graphs_scope_alone() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.mixed@outlook.com";
    // An account whose scope mixes Outlook's and Graph's resources: Microsoft refuses it.
    let mixed = format!("{IMAP_SCOPE} {GRAPH_SCOPE} offline_access");
    h.outlook_account(USER, &graph.base_url(), None, None, Some(&mixed)).await;
    let (s, b) = code_mail("300400");
    h.deliver(USER, "INBOX", &s, &b).await;
    let messages = h.engine.fetch(USER, &FolderSpec::Inbox, 5, false).await.expect("Graph reads it");
    assert_eq!(messages.first().and_then(|m| m.code.as_deref()), Some("300400"));
    let a = account(&h, USER).await;
    assert_eq!(a.channel_in_use, Some(Channel::Graph), "{a:?}");
    let detail = a.status_detail.unwrap_or_default();
    assert!(detail.contains("AADSTS70011") && detail.contains("IMAP"), "the provider's words: {detail}");
}

fn mailwatch_engine_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn a_wait_on_an_account_imap_refuses_moves_to_graph_and_gets_the_code() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.waitauto@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, None, None).await;
    h.bed.set_imap_not_connected(USER, true);
    let engine = &h.engine;
    let wait = async {
        let options =
            mailwatch_engine::engine::WaitOptions { timeout: Duration::from_secs(20), ..engine.wait_options() };
        engine.wait_code(USER, &options).await
    };
    let deliver = async {
        // Past the refused IMAP login and the first delta round, which is the baseline.
        let t = Instant::now();
        while graph.delta_requests() < 2 && t.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (s, b) = code_mail("665544");
        h.deliver(USER, "Junk", &s, &b).await;
    };
    let (found, ()) = tokio::join!(wait, deliver);
    let found = found.expect("the waiter is not failed by IMAP's refusal");
    assert_eq!((found.code.as_deref(), found.folder.as_str()), (Some("665544"), "junk"), "{found:?}");
    assert_eq!(account(&h, USER).await.channel_in_use, Some(Channel::Graph), "the watch remembered it");
}

/// Figures, not a check: the time from an APPEND to the code over Graph, while someone waits,
/// at the default cadence (`cache.pollInterval`, 3 s) and at 2 s. Each APPEND lands at a
/// random point of the polling cycle, so the time is about half a cadence plus one delta
/// round and one `$value` read. Run with
/// `tests/testbed/with-session.sh cargo test -p mailwatch-engine --test engine graph_append_to_code -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "prints figures; takes about a minute"]
async fn graph_append_to_code_figures() {
    const SAMPLES: usize = 8;
    for cadence in [mailwatch_engine::config::CacheConfig::default().poll_interval, Duration::from_secs(2)] {
        let mut config = crate::support::test_config();
        config.cache.poll_interval = cadence;
        let h = Harness::with_config(config).await;
        let graph = GraphServer::start(&h.bed.dovecot, &h.bed.oauth).await;
        let user = format!("graph.bench{}@outlook.com", cadence.as_millis());
        h.outlook_account(&user, &graph.base_url(), None, Some(Channel::Graph), None).await;
        let sub = h.engine.subscribe_codes(&user).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), sub.ready()).await.expect("the baseline is taken");
        let mut times = Vec::new();
        for n in 0..SAMPLES {
            let code = format!("{}", 700_000 + n * 1_111);
            let engine = &h.engine;
            let wait = async {
                let options =
                    mailwatch_engine::engine::WaitOptions { timeout: Duration::from_secs(30), ..engine.wait_options() };
                engine.wait_code(&user, &options).await
            };
            let deliver = async {
                // A point of the cycle drawn from the clock's nanoseconds.
                let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
                tokio::time::sleep(cadence.mul_f64(f64::from(nanos % 1000) / 1000.0) + Duration::from_millis(100))
                    .await;
                let (s, b) = code_mail(&code);
                h.deliver(&user, "INBOX", &s, &b).await;
                Instant::now()
            };
            let (found, appended) = tokio::join!(wait, deliver);
            let took = appended.elapsed();
            assert_eq!(found.expect("the code arrives").code.as_deref(), Some(code.as_str()));
            times.push(took.as_secs_f64() * 1000.0);
        }
        drop(sub);
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        eprintln!(
            "graph APPEND-to-code at a {:.0} s cadence: median {median:.0} ms, mean {mean:.0} ms, min {:.0} ms, max {:.0} ms ({SAMPLES} samples; {} Graph requests)",
            cadence.as_secs_f64(),
            times[0],
            times[times.len() - 1],
            graph.requests(),
        );
    }
}

#[tokio::test]
async fn verify_and_token_refresh_work_for_accounts_graph_reads() {
    let (h, graph) = bed().await;
    const REFUSED: &str = "graph.verify@outlook.com";
    const GRAPH_ONLY: &str = "graph.only@outlook.com";
    h.outlook_account(REFUSED, &graph.base_url(), None, None, None).await;
    h.bed.set_imap_not_connected(REFUSED, true);
    h.engine.verify_account(REFUSED).await.expect("verified through Graph");
    assert_eq!(account(&h, REFUSED).await.channel_in_use, Some(Channel::Graph));

    // A refresh token granted Graph only: IMAP's scope is refused, Graph's keeps it alive.
    let token = h.outlook_account(GRAPH_ONLY, &graph.base_url(), Some(&[GRAPH_SCOPE]), None, None).await;
    h.engine.refresh_token(GRAPH_ONLY).await.expect("refreshed with Graph's scope");
    assert!(h.bed.oauth.refresh_count_for_token(&token) >= 1, "the token was exchanged");
    assert_ne!(h.bed.oauth.current_refresh_token(GRAPH_ONLY).as_deref(), Some(token.as_str()), "and rotated");
    let messages = h.engine.fetch(GRAPH_ONLY, &FolderSpec::Inbox, 5, false).await.expect("read through Graph");
    assert!(messages.is_empty());
    let a = account(&h, GRAPH_ONLY).await;
    assert_eq!(a.channel_in_use, Some(Channel::Graph), "{a:?}");
    assert!(a.status_detail.unwrap_or_default().contains("AADSTS65001"), "the provider's words about IMAP's scope");
}

#[tokio::test]
async fn a_watch_whose_graph_scope_is_refused_goes_back_to_imap_once() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.backtoimap@outlook.com";
    h.outlook_account(USER, &graph.base_url(), Some(&[IMAP_SCOPE]), None, None).await;
    h.cache_file().set_channel_in_use(USER, Channel::Graph, Some(mailwatch_engine_now())).unwrap();
    let engine = &h.engine;
    let wait = async {
        let options =
            mailwatch_engine::engine::WaitOptions { timeout: Duration::from_secs(20), ..engine.wait_options() };
        engine.wait_code(USER, &options).await
    };
    let deliver = async {
        // Once IMAP has logged in (an introspection) and had its first look.
        let t = Instant::now();
        while h.bed.oauth.introspection_count() == 0 && t.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (s, b) = code_mail("808182");
        h.deliver(USER, "INBOX", &s, &b).await;
    };
    let (found, ()) = tokio::join!(wait, deliver);
    assert_eq!(found.expect("IMAP reads it").code.as_deref(), Some("808182"));
    assert_eq!(account(&h, USER).await.channel_in_use, Some(Channel::Imap), "back on IMAP");
    assert_eq!(graph.requests_for(USER), 0, "Graph never got a token for it");
}

#[tokio::test]
async fn a_wait_throttled_by_graph_still_gets_its_code() {
    let (h, graph) = bed().await;
    const USER: &str = "graph.waitthrottle@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, Some(Channel::Graph), None).await;
    let sub = h.engine.subscribe_codes(USER).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), sub.ready()).await.expect("the baseline is taken");
    let engine = &h.engine;
    let wait = async {
        let options =
            mailwatch_engine::engine::WaitOptions { timeout: Duration::from_secs(20), ..engine.wait_options() };
        engine.wait_code(USER, &options).await
    };
    let before = graph.delta_requests();
    let deliver = async {
        // After the wait's own baseline (its first look: a delta round on each folder).
        let t = Instant::now();
        while graph.delta_requests() < before + 2 && t.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        graph.throttle_next(2, 429, 1);
        let (s, b) = code_mail("515253");
        h.deliver(USER, "INBOX", &s, &b).await;
    };
    let (found, ()) = tokio::join!(wait, deliver);
    assert_eq!(found.expect("the code arrives after the pause").code.as_deref(), Some("515253"));
    let stats = h.engine.stats().graph;
    assert_eq!((graph.throttled(), stats.graph_throttled), (2, 2), "both answers counted: {stats:?}");
    assert!(stats.graph_retries >= 2, "each retried after Retry-After: {stats:?}");
}

#[tokio::test]
async fn graph_requests_stay_within_the_cap_per_account() {
    let mut config = crate::support::test_config();
    config.graph.max_per_account = 2;
    let h = Harness::with_config(config).await;
    let graph = GraphServer::start(&h.bed.dovecot, &h.bed.oauth).await;
    const USER: &str = "graph.cap@outlook.com";
    h.outlook_account(USER, &graph.base_url(), None, Some(Channel::Graph), None).await;
    for n in 0..6 {
        h.deliver(USER, "INBOX", &format!("Message {n}"), "body").await;
    }
    graph.set_latency(Duration::from_millis(100));
    let messages = h.engine.fetch(USER, &FolderSpec::Inbox, 6, false).await.unwrap();
    assert_eq!(messages.len(), 6);
    assert_eq!(graph.max_in_flight(), 2, "six $value reads, two at a time (graph.maxPerAccount)");
}

#[tokio::test]
async fn graph_requests_stay_within_the_cap_overall() {
    let mut config = crate::support::test_config();
    config.graph.max_total = 1;
    let h = Harness::with_config(config).await;
    let graph = GraphServer::start(&h.bed.dovecot, &h.bed.oauth).await;
    let users = ["graph.all1@outlook.com", "graph.all2@outlook.com"];
    for user in users {
        h.outlook_account(user, &graph.base_url(), None, Some(Channel::Graph), None).await;
        for n in 0..3 {
            h.deliver(user, "INBOX", &format!("Message {n}"), "body").await;
        }
    }
    graph.set_latency(Duration::from_millis(50));
    let (a, b) = tokio::join!(
        h.engine.fetch(users[0], &FolderSpec::Inbox, 3, false),
        h.engine.fetch(users[1], &FolderSpec::Inbox, 3, false)
    );
    assert_eq!((a.unwrap().len(), b.unwrap().len()), (3, 3));
    assert_eq!(graph.max_in_flight(), 1, "two accounts, one request at a time (graph.maxTotal)");
}
