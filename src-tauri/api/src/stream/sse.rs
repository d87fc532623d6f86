//! `GET /api/v1/events`: the same events as Server-Sent Events, for clients without
//! WebSocket. The subscription comes in the query (`accounts=`, `kinds=`); a comment line
//! goes out every `api.pingInterval`; a client that falls `api.sendQueue` events behind gets
//! a last `close` event with the reason, and the stream ends.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio_stream_shim::ReceiverStream;

use super::socket::StreamQuery;
use super::{Filter, hold_accounts};
use crate::auth::Caller;
use crate::error::{ApiError, ApiQuery};
use crate::metrics::ApiCounters;
use crate::server::AppState;

/// A receiver as a stream, without another dependency.
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::extract::ws::Utf8Bytes;

    pub struct ReceiverStream(pub tokio::sync::mpsc::Receiver<Utf8Bytes>);

    impl futures::Stream for ReceiverStream {
        type Item = Utf8Bytes;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Utf8Bytes>> {
            self.0.poll_recv(cx)
        }
    }
}

/// Opens the stream: refused with 503 beyond `api.maxStreams`.
pub(crate) async fn events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    let sub = query.into_subscription()?;
    let slot = state.hub.open_slot()?;
    let (accounts, held) = match &sub.accounts {
        Some(a) => {
            let (names, subs) = hold_accounts(&state, &caller, a).await?;
            (Some(names), subs)
        }
        None => (None, Vec::new()),
    };
    let (reg, rx) = state.hub.connect(Filter::new(caller.key.clone()), state.config.send_queue);
    reg.link.set_filter(accounts, sub.kinds.map(|k| k.into_iter().collect()));
    let link = reg.link.clone();
    let counters = state.hub.counters().clone();
    let queue = state.config.send_queue;
    // Everything the stream needs to keep alive lives as long as the stream.
    let guard = Arc::new((slot, reg, held));
    let ready = futures::stream::once(async { SseEvent::default().event("ready").data("{\"type\":\"ready\"}") });
    let body = ReceiverStream(rx)
        .map(move |text| {
            let _alive = &guard;
            ApiCounters::add(&counters.events_sent);
            // Every event's JSON has a "type" string, which names the SSE event.
            let kind = text
                .as_str()
                .split_once("\"type\":\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or("message", |(kind, _)| kind);
            SseEvent::default().event(kind).data(text.as_str())
        })
        .take_until(link.closed.clone().cancelled_owned());
    let tail = futures::stream::once(async move {
        let reason = if link.too_slow() {
            format!("too slow: {queue} events were waiting unread (api.sendQueue)")
        } else {
            "Mailwatch is shutting down".to_string()
        };
        SseEvent::default().event("close").data(serde_json::json!({"type": "close", "reason": reason}).to_string())
    });
    let stream = ready.chain(body).chain(tail).map(Ok::<_, Infallible>);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(state.config.ping_interval).text("ping")).into_response())
}
