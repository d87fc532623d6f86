//! The local API as a client meets it: a real server on loopback over a real engine, the
//! test bed's Dovecot and gnome-keyring, a real SQLite file, and real HTTP, WebSocket and SSE
//! clients. Every answer is checked for `Cache-Control: no-store`, and no secret may appear
//! in any body.

mod access;
mod streams;

use std::sync::Arc;
use std::time::Duration;

use mailwatch_api::keys::{self, KeyRequest, Scope};
use mailwatch_api::{Api, Hub};
use mailwatch_engine::Engine;
use mailwatch_engine::config::Config;
use mailwatch_engine::engine::EngineOptions;
use mailwatch_engine::secrets::KeyringSecrets;
use mailwatch_testbed::TestBed;
use serde_json::{Value, json};

struct Server {
    bed: TestBed,
    engine: Arc<Engine>,
    hub: Arc<Hub>,
    port: u16,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    secrets: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Limits that keep failing tests short.
fn test_config() -> Config {
    let mut c = Config::default();
    c.pool.wait_timeout = Duration::from_secs(10);
    c.pool.connect_timeout = Duration::from_secs(10);
    c.pool.command_timeout = Duration::from_secs(10);
    c.cache.poll_interval = Duration::from_millis(200);
    c
}

/// An answer, read whole.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {}", self.text)).to_string()
    }
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.text)
    }
}

impl Server {
    async fn start(config: Config) -> Server {
        mailwatch_testbed::keyring::require_secret_service();
        let bed = TestBed::start().await;
        let dir = tempfile::tempdir().expect("a temp dir for the data dir");
        let hub = Hub::new();
        let options = EngineOptions {
            data_dir: Some(dir.path().to_path_buf()),
            extra_ca: Some(bed.dovecot.ca_pem_path().to_path_buf()),
            config: Some(config),
            secrets: Some(Arc::new(KeyringSecrets::default())),
            ..Default::default()
        };
        let engine = Arc::new(Engine::open(options, hub.sink()).await.expect("the engine opens"));
        let api = Api::new(engine.clone(), hub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(api.serve(listener, async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Server { bed, engine, hub, port, http, stop: Some(stop), served: Some(served), secrets: Vec::new(), _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    async fn key(&mut self, scopes: &[Scope], accounts: &[&str]) -> String {
        let request = KeyRequest {
            name: "test".into(),
            scopes: scopes.to_vec(),
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
        };
        let made = keys::create(&self.engine, &request).await.expect("a key is made");
        self.secrets.push(made.key.clone());
        made.key
    }

    async fn all_key(&mut self) -> String {
        self.key(&Scope::ALL, &[]).await
    }

    async fn finish(&self, r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let answer = Answer { status, headers, text };
        assert_eq!(
            answer.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "every answer says no-store: {answer:?}"
        );
        for s in &self.secrets {
            assert!(!answer.text.contains(s.as_str()), "a secret is in an answer: {answer:?}");
        }
        answer
    }

    async fn get(&self, key: Option<&str>, path: &str) -> Answer {
        let mut r = self.http.get(self.url(path));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        self.finish(r.send().await.expect("the server answers")).await
    }

    async fn post_json(&self, key: &str, path: &str, body: &Value) -> Answer {
        let r = self.http.post(self.url(path)).header("x-api-key", key).json(body);
        self.finish(r.send().await.expect("the server answers")).await
    }

    /// Adds a Dovecot user and the account over HTTP.
    async fn add_account(&mut self, key: &str, email: &str, password: &str) -> Answer {
        self.bed.dovecot.add_user(email, password);
        self.secrets.push(password.to_string());
        let body = json!({
            "email": email, "password": password, "provider": "imap",
            "imapHost": "127.0.0.1", "imapPort": self.bed.dovecot.imaps_port(), "tls": "implicit",
        });
        self.post_json(key, "/api/v1/accounts", &body).await
    }

    /// The API's counters, read over HTTP.
    async fn api_stats(&self, key: &str) -> Value {
        let a = self.get(Some(key), "/api/v1/stats").await;
        assert_eq!(a.status, 200, "{a:?}");
        a.json()["api"].clone()
    }

    /// Waits until the API counter `name` reaches `n` (read in-process, so the reads are not
    /// rate limited), or panics after `limit` with what it saw.
    async fn until_counter(&self, name: &str, n: u64, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let v = serde_json::to_value(self.hub.counters().snapshot()).unwrap();
            if v[name].as_u64().unwrap_or(0) >= n {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{name} did not reach {n} within {limit:?}: {v}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the account's watch has taken the baseline of every wait started so far,
    /// so mail appended from now on counts for all of them.
    async fn baselines_taken(&self, email: &str) {
        let sub = self.engine.subscribe_codes(email).await.expect("the account is known");
        tokio::time::timeout(Duration::from_secs(20), sub.ready()).await.expect("the watch takes its baseline");
    }

    /// Stops the server as Ctrl-C does, then the engine.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let r = tokio::time::timeout(Duration::from_secs(10), served).await;
            assert!(matches!(r, Ok(Ok(Ok(())))), "the server stops within 10 s of the signal: {r:?}");
        }
        self.engine.shutdown().await;
    }
}

/// A small verification mail.
fn code_mail(code: &str) -> Vec<u8> {
    format!(
        "From: Example Service <no-reply@service.example>\r\nTo: user@example.com\r\nSubject: Your verification code\r\n\
         Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{code}@service.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nYour verification code is {code}. It expires in 10 minutes.\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_added_over_http_gets_its_code_by_wait_websocket_and_sse() {
    let mut s = Server::start(test_config()).await;
    let key = s.all_key().await;
    let added = s.add_account(&key, "Ada@Example.com", "pw-ada").await;
    assert_eq!(added.status, 201, "{added:?}");
    assert_eq!(added.json()["email"], "ada@example.com");
    let again = s.add_account(&key, "ada@example.com", "pw-ada").await;
    assert_eq!((again.status, again.error_code().as_str()), (409, "account_exists"), "{again:?}");

    // A WebSocket client subscribed to the account, and an SSE client.
    let (mut ws, _) = tokio_tungstenite::connect_async(s.ws_url(&format!("/api/v1/stream?access_token={key}")))
        .await
        .expect("the WebSocket opens");
    streams::send_json(&mut ws, &json!({"type": "subscribe", "accounts": ["ada@example.com"], "kinds": ["code"]}))
        .await;
    streams::next_of_type(&mut ws, "subscribed").await;
    let sse = s
        .http
        .get(s.url("/api/v1/events?accounts=ada@example.com&kinds=code"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("the SSE stream opens");
    assert_eq!(sse.status(), 200);
    assert_eq!(sse.headers().get("content-type").unwrap(), "text/event-stream");
    let mut sse = streams::SseReader::new(sse);
    sse.next_event("ready").await;

    let waiter = {
        let (http, url, key) = (s.http.clone(), s.url("/api/v1/accounts/ada@example.com/code?wait=30"), key.clone());
        tokio::spawn(async move { http.get(url).bearer_auth(key).send().await.unwrap().json::<Value>().await.unwrap() })
    };
    s.until_counter("waitsOpen", 1, Duration::from_secs(10)).await;
    s.baselines_taken("ada@example.com").await;
    s.bed.dovecot.append("ada@example.com", "INBOX", &code_mail("482915")).await;

    let answer = tokio::time::timeout(Duration::from_secs(30), waiter).await.expect("the wait answers").unwrap();
    assert_eq!(answer["code"], "482915", "{answer}");
    assert_eq!(answer["folder"], "inbox", "{answer}");
    for field in ["link", "service", "from", "subject", "received"] {
        assert!(answer.get(field).is_some(), "the answer has {field}: {answer}");
    }
    // What `wait-code --json` prints too, so the CLI can go through the server.
    assert_eq!(answer["email"], "ada@example.com", "{answer}");
    for field in ["id", "foundAt", "uid"] {
        assert!(answer[field].is_i64(), "a found code's answer has {field}: {answer}");
    }
    let event = streams::next_of_type(&mut ws, "code").await;
    assert_eq!((event["email"].as_str(), event["code"].as_str()), (Some("ada@example.com"), Some("482915")), "{event}");
    assert_eq!(event["folder"], "inbox", "the stream says where it arrived: {event}");
    let (name, data) = sse.next_event("code").await;
    assert_eq!(name, "code");
    assert_eq!(data["code"], "482915", "{data}");

    // The code is now the account's newest: answered from the cache at once, and in the history.
    let newest = s.get(Some(&key), "/api/v1/accounts/ada@example.com/code").await;
    assert_eq!(newest.json()["code"], "482915", "{newest:?}");
    let history = s.get(Some(&key), "/api/v1/codes").await;
    assert_eq!(history.json()["codes"][0]["code"], "482915", "{history:?}");
    let stats = s.api_stats(&key).await;
    assert!(stats["eventsSent"].as_u64().unwrap() >= 2, "the WebSocket and SSE events are counted: {stats}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_waits_on_one_account_share_one_session_and_all_get_the_code() {
    let mut s = Server::start(test_config()).await;
    let key = s.all_key().await;
    let added = s.add_account(&key, "bo@example.com", "pw-bo").await;
    assert_eq!(added.status, 201, "{added:?}");
    let mut waits = Vec::new();
    for _ in 0..50 {
        let (http, url, key) = (s.http.clone(), s.url("/api/v1/accounts/bo@example.com/code?wait=30"), key.clone());
        waits.push(tokio::spawn(async move {
            let r = http.get(url).header("x-api-key", key).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }));
    }
    s.until_counter("waitsOpen", 50, Duration::from_secs(20)).await;
    s.baselines_taken("bo@example.com").await;
    s.bed.dovecot.append("bo@example.com", "INBOX", &code_mail("730145")).await;
    for w in waits {
        let (status, answer) =
            tokio::time::timeout(Duration::from_secs(30), w).await.expect("every wait answers").unwrap();
        assert_eq!((status, answer["code"].as_str()), (200, Some("730145")), "{answer}");
    }
    assert_eq!(
        s.bed.dovecot.max_sessions_seen("bo@example.com"),
        1,
        "fifty waits share the account's one watch, so Dovecot saw one session at a time"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_sees_no_code_answers_nulls_and_messages_are_listed_filtered_and_raw() {
    let mut s = Server::start(test_config()).await;
    let key = s.all_key().await;
    assert_eq!(s.add_account(&key, "cy@example.com", "pw-cy").await.status, 201);
    let timed_out = s.get(Some(&key), "/api/v1/accounts/cy@example.com/code?wait=1").await;
    assert_eq!(timed_out.status, 200, "{timed_out:?}");
    assert_eq!(
        timed_out.json(),
        json!({"code": null, "link": null, "service": null, "from": null, "subject": null, "received": null, "folder": null}),
        "a timed-out wait answers the fixed shape with nulls"
    );
    let too_long = s.get(Some(&key), "/api/v1/accounts/cy@example.com/code?wait=301").await;
    assert_eq!((too_long.status, too_long.error_code().as_str()), (400, "invalid_input"), "{too_long:?}");

    s.bed.dovecot.append("cy@example.com", "INBOX", &code_mail("111222")).await;
    let other = b"From: Friend <friend@example.org>\r\nSubject: Lunch\r\nDate: Sat, 21 Nov 2026 11:00:00 +0000\r\n\r\nNoon?\r\n";
    s.bed.dovecot.append("cy@example.com", "INBOX", other).await;
    let all = s.get(Some(&key), "/api/v1/accounts/cy@example.com/messages?top=10&refresh=true").await;
    assert_eq!(all.status, 200, "{all:?}");
    let messages = all.json()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 2, "{all:?}");
    let from = s.get(Some(&key), "/api/v1/accounts/cy@example.com/messages?from_contains=SERVICE.example").await;
    let from = from.json()["messages"].as_array().unwrap().clone();
    assert_eq!(from.len(), 1, "{from:?}");
    assert_eq!(from[0]["code"], "111222");
    let uid = from[0]["uid"].as_u64().unwrap();
    let subject =
        s.get(Some(&key), "/api/v1/accounts/cy@example.com/messages?subject_contains=lunch&folder=both").await;
    assert_eq!(subject.json()["messages"][0]["subject"], "Lunch", "{subject:?}");

    let raw = s.get(Some(&key), &format!("/api/v1/accounts/cy@example.com/messages/{uid}?raw=true")).await;
    assert_eq!(raw.status, 200, "{raw:?}");
    assert_eq!(raw.headers.get("content-type").unwrap(), "message/rfc822");
    assert!(raw.text.contains("Your verification code is 111222"), "{raw:?}");
    let shown = s.get(Some(&key), &format!("/api/v1/accounts/cy@example.com/messages/{uid}")).await;
    assert_eq!(shown.json()["subject"], "Your verification code", "{shown:?}");
    let gone = s.get(Some(&key), "/api/v1/accounts/cy@example.com/messages/999").await;
    assert_eq!((gone.status, gone.error_code().as_str()), (404, "message_gone"), "{gone:?}");

    // The compatibility alias maps email and mailbox onto the same listing.
    let alias = s.get(Some(&key), "/api/mail-new?email=cy@example.com&mailbox=INBOX&refresh_token=ignored").await;
    assert_eq!(alias.status, 200, "{alias:?}");
    assert_eq!(alias.json()["messages"].as_array().unwrap().len(), 1, "mail-new is the newest one: {alias:?}");
    let alias = s.http.get(s.url(&format!("/api/mail-all?email=cy@example.com&top=5&access_token={key}"))).send().await;
    let alias = s.finish(alias.unwrap()).await;
    assert_eq!(alias.json()["messages"].as_array().unwrap().len(), 2, "{alias:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_openapi_and_metrics_answer_in_their_formats() {
    let mut s = Server::start(test_config()).await;
    let health = s.get(None, "/api/v1/health").await;
    assert_eq!((health.status, health.json()["up"].as_bool()), (200, Some(true)), "health needs no key: {health:?}");
    let doc = s.get(None, "/api/v1/openapi.json").await;
    let doc = doc.json();
    for path in ["/api/v1/accounts", "/api/v1/accounts/{email}/code", "/api/v1/codes", "/metrics", "/api/mail-new"] {
        assert!(doc["paths"].get(path).is_some(), "the OpenAPI document describes {path}");
    }
    assert!(doc["components"]["schemas"].get("CodeAnswer").is_some(), "its schemas come from the handlers' types");
    let answer = &doc["components"]["schemas"]["CodeAnswer"]["properties"];
    for field in ["code", "folder", "id", "email", "foundAt", "uid"] {
        assert!(answer.get(field).is_some(), "CodeAnswer documents {field}: {answer}");
    }

    let unkeyed = s.get(None, "/metrics").await;
    assert_eq!(unkeyed.status, 401, "/metrics needs a key: {unkeyed:?}");
    let key = s.key(&[Scope::StatsRead], &[]).await;
    let metrics = s.get(Some(&key), "/metrics").await;
    assert_eq!(metrics.status, 200, "{metrics:?}");
    assert!(metrics.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/plain"));
    for line in ["# TYPE mailwatch_api_events_sent counter", "mailwatch_api_streams_open 0", "mailwatch_created_total"]
    {
        assert!(metrics.text.contains(line), "/metrics has {line:?}:\n{}", metrics.text);
    }
    assert!(metrics.text.ends_with("# EOF\n"), "the text ends as the format says");
    s.stop().await;
}
