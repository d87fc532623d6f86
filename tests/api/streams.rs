//! The live stream's limits: the cap, slow readers, unanswered pings, shutdown, and a wait
//! started over the socket.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use mailwatch_engine::events::Event;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::{Server, code_mail, test_config};

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn send_json(ws: &mut Ws, v: &Value) {
    ws.send(Message::Text(v.to_string().into())).await.expect("the message goes out");
}

/// The next JSON event of `kind`, skipping others; panics after 30 s with what came.
pub async fn next_of_type(ws: &mut Ws, kind: &str) -> Value {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(t.as_str()).expect("every event is JSON");
                    if v["type"] == kind {
                        return Some(v);
                    }
                    seen.push(v);
                }
                Ok(Message::Close(c)) => panic!("closed while waiting for {kind}: {c:?}; before: {seen:?}"),
                Ok(_) => {}
                Err(e) => panic!("the socket failed while waiting for {kind}: {e}; before: {seen:?}"),
            }
        }
        None
    })
    .await;
    found.ok().flatten().unwrap_or_else(|| panic!("no {kind} event came; before: {seen:?}"))
}

/// Reads a `text/event-stream` body event by event.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl SseReader {
    pub fn new(r: reqwest::Response) -> SseReader {
        SseReader { body: Box::pin(r.bytes_stream()), buf: String::new() }
    }

    /// The next event named `name` (comments and other events skipped), with its JSON data.
    pub async fn next_event(&mut self, name: &str) -> (String, Value) {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                while let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let mut event = String::from("message");
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            event = v.trim().to_string();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim_start());
                        }
                    }
                    if event == name {
                        return Some((event, serde_json::from_str(&data).unwrap_or(Value::String(data))));
                    }
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                    _ => return None,
                }
            }
        })
        .await;
        found.ok().flatten().unwrap_or_else(|| panic!("no SSE event {name} came; left: {:?}", self.buf))
    }
}

async fn connect(s: &Server, key: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(s.ws_url(&format!("/api/v1/stream?access_token={key}")))
        .await
        .expect("the WebSocket opens");
    ws
}

async fn ready(s: &Server, key: &str) -> Ws {
    let mut ws = connect(s, key).await;
    next_of_type(&mut ws, "ready").await;
    ws
}

/// A code event as the engine emits it, with a subject of `pad` bytes.
fn code_event(n: usize, pad: usize) -> Event {
    Event::CodeFound {
        email: "load@example.com".into(),
        code: Some(format!("{n:06}")),
        link: None,
        service: Some("Example".into()),
        from: Some("no-reply@service.example".into()),
        subject: Some("x".repeat(pad)),
        received: Some(1_800_000_000),
        folder: "inbox".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_cap_are_refused_with_503() {
    let mut config = test_config();
    config.api.max_streams = 2;
    let mut s = Server::start(config).await;
    let key = s.all_key().await;
    let unkeyed = tokio_tungstenite::connect_async(s.ws_url("/api/v1/stream")).await;
    match unkeyed {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a stream without a key is refused with 401, got {other:?}"),
    }
    let _a = ready(&s, &key).await;
    let _b = ready(&s, &key).await;
    match tokio_tungstenite::connect_async(s.ws_url(&format!("/api/v1/stream?access_token={key}"))).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 503);
            let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).to_string();
            assert!(body.contains("too_many_streams") && body.contains("api.maxStreams"), "{body}");
        }
        other => panic!("the third stream is refused with 503, got {other:?}"),
    }
    let sse = s.http.get(s.url("/api/v1/events")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(sse.status(), 503, "SSE counts against the same cap");
    let stats = s.hub.counters().snapshot();
    assert_eq!((stats.streams_open, stats.streams_refused), (2, 2), "{stats:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_while_another_keeps_receiving() {
    let mut config = test_config();
    config.api.send_queue = 32;
    let mut s = Server::start(config).await;
    let key = s.all_key().await;
    let mut slow = ready(&s, &key).await;
    let mut fast = ready(&s, &key).await;
    let sink = s.hub.sink();
    // Events of 16 KiB: the slow client's socket buffers fill after a few hundred, then its
    // queue; the fast client reads each round before the next.
    let mut n = 0;
    while s.hub.counters().snapshot().streams_closed_slow == 0 {
        assert!(n < 20_000, "the slow client was never closed: {:?}", s.hub.counters().snapshot());
        for _ in 0..16 {
            sink.emit(code_event(n, 16 * 1024));
            n += 1;
        }
        for _ in 0..16 {
            next_of_type(&mut fast, "code").await;
        }
    }
    sink.emit(code_event(999_999, 10));
    let last = next_of_type(&mut fast, "code").await;
    assert_eq!(last["code"], "999999", "the fast client keeps receiving after the slow one is closed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s.hub.counters().snapshot().streams_open != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow client's stream is gone: {:?}",
            s.hub.counters().snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // What the slow client finds when it reads again: the events it had, then the end.
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match slow.next().await {
                Some(Ok(Message::Close(frame))) => return format!("{frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return format!("error: {e}"),
                None => return "end".into(),
            }
        }
    })
    .await
    .expect("the slow client's stream ends");
    assert!(ended.contains("too slow") || ended.contains("end") || ended.contains("error"), "{ended}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_answer_pings_is_closed() {
    let mut config = test_config();
    config.api.ping_interval = Duration::from_millis(100);
    config.api.stream_timeout = Duration::from_millis(400);
    let mut s = Server::start(config).await;
    let key = s.all_key().await;
    // Reads nothing after "ready", so it answers no ping.
    let mut silent = ready(&s, &key).await;
    // Reads all the time, and tungstenite answers each ping as it reads.
    let mut lively = ready(&s, &key).await;
    let pings = tokio::spawn(async move {
        let mut pings = 0;
        while let Some(Ok(m)) = lively.next().await {
            if matches!(m, Message::Ping(_)) {
                pings += 1;
            }
            if pings == 20 {
                break;
            }
        }
        (pings, lively)
    });
    s.until_counter("streamsClosedUnhealthy", 1, Duration::from_secs(10)).await;
    // Read at once: the server waits `CLOSE_WAIT` (1 s) for the client's side of the closing
    // handshake. A machine too busy to read within that sees the connection already gone.
    let ended = loop {
        match silent.next().await {
            Some(Ok(Message::Close(f))) => break Ok(f),
            Some(Ok(_)) => {}
            Some(Err(e)) => break Err(format!("{e}")),
            None => break Err("end of stream".into()),
        }
    };
    match ended {
        Ok(frame) => {
            let frame = frame.expect("a close frame with a reason");
            assert_eq!(frame.code, CloseCode::from(4000), "{frame:?}");
            assert!(frame.reason.contains("api.streamTimeout"), "{frame:?}");
        }
        Err(e) => eprintln!("the silent client read only after the server had closed: {e}"),
    }
    let (pings, _lively) = tokio::time::timeout(Duration::from_secs(10), pings).await.unwrap().unwrap();
    assert_eq!(pings, 20, "the answering client stays open and keeps being pinged");
    let stats = s.hub.counters().snapshot();
    assert_eq!((stats.streams_closed_unhealthy, stats.streams_open), (1, 1), "{stats:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_over_the_socket_gets_the_code_and_shutdown_sends_close_frames() {
    let mut s = Server::start(test_config()).await;
    let key = s.all_key().await;
    assert_eq!(s.add_account(&key, "gus@example.com", "pw-gus").await.status, 201);
    let mut ws = ready(&s, &key).await;
    send_json(&mut ws, &json!({"type": "wait", "id": 7, "email": "gus@example.com", "wait": 30})).await;
    send_json(&mut ws, &json!({"type": "wait", "id": 8, "email": "nobody@example.com", "wait": 30})).await;
    let unknown = next_of_type(&mut ws, "error").await;
    assert_eq!((unknown["id"].as_i64(), unknown["error"]["code"].as_str()), (Some(8), Some("unknown_account")));
    s.until_counter("waitsOpen", 1, Duration::from_secs(10)).await;
    s.baselines_taken("gus@example.com").await;
    s.bed.dovecot.append("gus@example.com", "INBOX", &code_mail("550011")).await;
    let result = next_of_type(&mut ws, "wait-result").await;
    assert_eq!((result["id"].as_i64(), result["code"].as_str()), (Some(7), Some("550011")), "{result}");

    // A wait still open when the server stops gets 503; the socket gets a close frame.
    let pending = {
        let (http, url, key) = (s.http.clone(), s.url("/api/v1/accounts/gus@example.com/code?wait=60"), key.clone());
        tokio::spawn(async move {
            let r = http.get(url).bearer_auth(key).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    s.until_counter("waitsOpen", 1, Duration::from_secs(10)).await;
    s.stop().await;
    let (status, body) = pending.await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("shutting_down"), "{body}");
    let frame = loop {
        match ws.next().await {
            Some(Ok(Message::Close(f))) => break f,
            Some(Ok(_)) => {}
            other => panic!("the socket gets a close frame at shutdown, got {other:?}"),
        }
    };
    let frame = frame.expect("a close frame with a reason");
    assert_eq!(frame.code, CloseCode::Away, "{frame:?}");
}
