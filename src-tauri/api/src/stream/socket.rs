//! `GET /api/v1/stream`: the WebSocket. One task per connection reads the client's commands,
//! writes the hub's events, pings every `api.pingInterval`, and closes with a reason when the
//! client is silent past `api.streamTimeout`, falls `api.sendQueue` events behind, or the
//! server shuts down.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{Filter, Kind, Registration, StreamSlot, Subscription, hold_accounts};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::ApiCounters;
use crate::server::AppState;

/// A close frame gets this long to go out to a client that may not be reading.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Close codes: 1001 going away (shutdown), 1008 policy (too slow), 4000 no answer to pings.
const GOING_AWAY: u16 = 1001;
const POLICY: u16 = 1008;
const NO_ANSWER: u16 = 4000;

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
enum Command {
    /// Narrow the events to some accounts and kinds.
    Subscribe { accounts: Option<Vec<String>>, kinds: Option<Vec<Kind>> },
    /// Wait for a code on an account, as `GET .../code?wait=` does; the answer comes as a
    /// `wait-result` with the same id.
    Wait { id: Option<serde_json::Value>, email: String, wait: Option<f64>, since: Option<i64> },
}

/// What a finished side task brings back to the connection.
enum Done {
    Subscribed(
        Result<(HashSet<String>, Vec<mailwatch_engine::watch::CodeSubscription>), ApiError>,
        Option<HashSet<Kind>>,
    ),
    Text(String),
}

/// The read buffer of a WebSocket connection; a larger message makes it grow.
const READ_BUFFER: usize = 4 * 1024;

/// The upgrade: refused with 503 beyond `api.maxStreams`.
pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    crate::error::ApiQuery(sub): crate::error::ApiQuery<StreamQuery>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if caller.key.scopes.is_empty() {
        return Err(ApiError::bad_request("the key has no scope, so no event could be sent"));
    }
    let slot = state.hub.open_slot()?;
    let initial = sub.into_subscription();
    // tungstenite zero-fills its whole read buffer before the first read (128 KiB by default),
    // which every idle connection would keep; a client sends only short commands.
    let upgrade = upgrade.read_buffer_size(READ_BUFFER).max_message_size(64 * 1024);
    Ok(upgrade.on_upgrade(move |socket| run(state, caller, socket, slot, initial)))
}

/// The query a stream may be opened with: the key for browsers, and a first subscription.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// The key, for clients that cannot send headers (read by [`Caller`]).
    #[allow(dead_code)]
    access_token: Option<String>,
    /// Comma-separated accounts.
    accounts: Option<String>,
    /// Comma-separated kinds.
    kinds: Option<String>,
}

impl StreamQuery {
    pub(crate) fn into_subscription(self) -> Result<Subscription, ApiError> {
        let split =
            |s: &str| s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect::<Vec<_>>();
        let kinds = match self.kinds {
            None => None,
            Some(k) => Some(
                split(&k)
                    .into_iter()
                    .map(|k| {
                        serde_json::from_value::<Kind>(serde_json::Value::String(k.clone())).map_err(|_| {
                            ApiError::bad_request(format!(
                                "cannot subscribe to {k:?}: the kinds are code, status, pool-stats, import-progress, progress"
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(Subscription { accounts: self.accounts.as_deref().map(split), kinds })
    }
}

async fn run(
    state: Arc<AppState>,
    caller: Caller,
    socket: WebSocket,
    slot: StreamSlot,
    initial: Result<Subscription, ApiError>,
) {
    let _slot = slot;
    let (reg, mut events) = state.hub.connect(Filter::new(caller.key.clone()), state.config.send_queue);
    let (mut tx, mut rx) = socket.split();
    let link = reg.link.clone();
    let counters = state.hub.counters().clone();
    let mut tasks: JoinSet<Done> = JoinSet::new();
    let mut held = Vec::new();
    let mut last_heard = Instant::now();
    let period = state.config.ping_interval;
    let mut ping = tokio::time::interval_at(Instant::now() + period, period);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // Sends one text, giving up when the hub closes the connection meanwhile.
    macro_rules! send {
        ($text:expr) => {{
            let text: axum::extract::ws::Utf8Bytes = $text.into();
            tokio::select! {
                r = tx.send(Message::Text(text)) => r.is_ok(),
                _ = link.closed.cancelled() => false,
            }
        }};
    }

    match initial {
        Ok(sub) => start_subscription(&state, &caller, &mut tasks, sub),
        Err(e) => {
            let _ = send!(error_text(None, &e));
        }
    }
    let hello = json!({"type": "ready", "pingInterval": period.as_secs_f64(), "sendQueue": state.config.send_queue});
    let mut open = send!(hello.to_string());

    while open {
        tokio::select! {
            _ = link.closed.cancelled() => break,
            event = events.recv() => match event {
                Some(text) => {
                    open = send!(text);
                    if open {
                        ApiCounters::add(&counters.events_sent);
                    }
                }
                None => break,
            },
            incoming = rx.next() => match incoming {
                Some(Ok(msg)) => {
                    last_heard = Instant::now();
                    match msg {
                        Message::Text(t) => match serde_json::from_str::<Command>(t.as_str()) {
                            Ok(Command::Subscribe { accounts, kinds }) => {
                                start_subscription(&state, &caller, &mut tasks, Subscription { accounts, kinds });
                            }
                            Ok(Command::Wait { id, email, wait, since }) => {
                                let (state, caller) = (state.clone(), caller.clone());
                                tasks.spawn(async move {
                                    let wait = wait.map(Duration::try_from_secs_f64);
                                    let result = match wait {
                                        Some(Err(_)) => Err(ApiError::bad_request("cannot wait: wait must be a number of seconds")),
                                        Some(Ok(w)) => crate::routes::codes::find_code(&state, &caller, &email, since, w).await,
                                        None => crate::routes::codes::find_code(&state, &caller, &email, since, state.config.max_wait).await,
                                    };
                                    Done::Text(match result {
                                        Ok(answer) => {
                                            let mut v = serde_json::to_value(answer).unwrap_or_default();
                                            if let Some(o) = v.as_object_mut() {
                                                o.insert("type".into(), "wait-result".into());
                                                o.insert("id".into(), id.unwrap_or_default());
                                                o.insert("email".into(), email.into());
                                            }
                                            v.to_string()
                                        }
                                        Err(e) => error_text(id, &e),
                                    })
                                });
                            }
                            Err(e) => {
                                let err = ApiError::bad_request(format!(
                                    "cannot read that message: {e}; send {{\"type\":\"subscribe\",...}} or {{\"type\":\"wait\",...}}"
                                ));
                                open = send!(error_text(None, &err));
                            }
                        },
                        Message::Close(_) => break,
                        _ => {}
                    }
                }
                Some(Err(_)) | None => break,
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => match done {
                Ok(Done::Text(text)) => open = send!(text),
                Ok(Done::Subscribed(Ok((accounts, subs)), kinds)) => {
                    let names: Vec<&String> = accounts.iter().collect();
                    let kinds_shown: Option<Vec<Kind>> = kinds.as_ref().map(|k| k.iter().copied().collect());
                    let text = json!({"type": "subscribed", "accounts": names, "kinds": kinds_shown}).to_string();
                    link.set_filter(if subs.is_empty() && accounts.is_empty() { None } else { Some(accounts) }, kinds);
                    held = subs;
                    open = send!(text);
                }
                Ok(Done::Subscribed(Err(e), _)) => open = send!(error_text(None, &e)),
                Err(_) => {}
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > state.config.stream_timeout {
                    ApiCounters::add(&counters.streams_closed_unhealthy);
                    let reason = format!("no answer to pings within {} s (api.streamTimeout)", state.config.stream_timeout.as_secs_f64());
                    close(&mut tx, &mut rx, NO_ANSWER, reason).await;
                    return finish(reg, held);
                }
                open = tokio::select! {
                    r = tx.send(Message::Ping(Default::default())) => r.is_ok(),
                    _ = link.closed.cancelled() => false,
                };
            }
        }
    }
    if link.too_slow() {
        let reason = format!("too slow: {} events were waiting unread (api.sendQueue)", state.config.send_queue);
        close(&mut tx, &mut rx, POLICY, reason).await;
    } else if link.closed.is_cancelled() {
        close(&mut tx, &mut rx, GOING_AWAY, "Mailwatch is shutting down".into()).await;
    }
    finish(reg, held);
}

fn finish(reg: Registration, held: Vec<mailwatch_engine::watch::CodeSubscription>) {
    drop(held);
    drop(reg);
}

/// The closing handshake: our close frame, then the client's (reading past whatever it still
/// sends), each within [`CLOSE_WAIT`], so a client that reads gets the reason and one that
/// does not cannot hold the connection open.
async fn close(
    tx: &mut futures::stream::SplitSink<WebSocket, Message>,
    rx: &mut futures::stream::SplitStream<WebSocket>,
    code: u16,
    reason: String,
) {
    let frame = CloseFrame { code, reason: reason.into() };
    if let Ok(Ok(())) = tokio::time::timeout(CLOSE_WAIT, tx.send(Message::Close(Some(frame)))).await {
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(m)) = rx.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

fn start_subscription(state: &Arc<AppState>, caller: &Caller, tasks: &mut JoinSet<Done>, sub: Subscription) {
    let (state, caller) = (state.clone(), caller.clone());
    tasks.spawn(async move {
        let kinds = sub.kinds.map(|k| k.into_iter().collect::<HashSet<_>>());
        let held = match sub.accounts {
            None => Ok((HashSet::new(), Vec::new())),
            Some(accounts) => hold_accounts(&state, &caller, &accounts).await,
        };
        Done::Subscribed(held, kinds)
    });
}

fn error_text(id: Option<serde_json::Value>, e: &ApiError) -> String {
    json!({"type": "error", "id": id, "error": {"code": e.code, "message": e.message}}).to_string()
}
