//! The API's counters (atomics, copied into a plain snapshot for the stats JSON) and the
//! Prometheus text of them and of the engine's counters, encoded by prometheus-client.

use std::sync::atomic::{AtomicU64, Ordering};

use mailwatch_engine::engine::EngineStats;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

/// The API's counters.
#[derive(Debug, Default)]
pub struct ApiCounters {
    pub(crate) streams_open: AtomicU64,
    pub(crate) streams_refused: AtomicU64,
    pub(crate) streams_closed_unhealthy: AtomicU64,
    pub(crate) streams_closed_slow: AtomicU64,
    pub(crate) events_sent: AtomicU64,
    pub(crate) requests: [AtomicU64; 5],
    pub(crate) rate_limited: AtomicU64,
    pub(crate) waits_open: AtomicU64,
}

/// The API's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiStats {
    /// Live streams (WebSocket and SSE) open now.
    pub streams_open: u64,
    /// Streams refused because `api.maxStreams` were open.
    pub streams_refused: u64,
    /// WebSockets closed because they answered no ping within `api.streamTimeout`.
    pub streams_closed_unhealthy: u64,
    /// Streams closed because their client fell `api.sendQueue` events behind.
    pub streams_closed_slow: u64,
    /// Events sent over streams.
    pub events_sent: u64,
    /// Answers with a 1xx status (WebSocket upgrades).
    pub requests_1xx: u64,
    /// Answers with a 2xx status.
    pub requests_2xx: u64,
    /// Answers with a 3xx status.
    pub requests_3xx: u64,
    /// Answers with a 4xx status.
    pub requests_4xx: u64,
    /// Answers with a 5xx status.
    pub requests_5xx: u64,
    /// Requests refused with 429.
    pub rate_limited: u64,
    /// Code requests waiting now.
    pub waits_open: u64,
}

impl ApiCounters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an answer by its status class.
    pub(crate) fn count_status(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        Self::add(&self.requests[class]);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ApiStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ApiStats {
            streams_open: l(&self.streams_open),
            streams_refused: l(&self.streams_refused),
            streams_closed_unhealthy: l(&self.streams_closed_unhealthy),
            streams_closed_slow: l(&self.streams_closed_slow),
            events_sent: l(&self.events_sent),
            requests_1xx: l(&self.requests[0]),
            requests_2xx: l(&self.requests[1]),
            requests_3xx: l(&self.requests[2]),
            requests_4xx: l(&self.requests[3]),
            requests_5xx: l(&self.requests[4]),
            rate_limited: l(&self.rate_limited),
            waits_open: l(&self.waits_open),
        }
    }
}

/// The engine's and the API's counters in the Prometheus text format. The engine's figures
/// are taken from its stats JSON: numbers whose name starts with `total_` (or that only grow,
/// like failures and timeouts) are counters, the rest gauges; per-account lists are left out.
pub fn prometheus_text(engine: &EngineStats, api: &ApiStats) -> String {
    let mut registry = Registry::with_prefix("mailwatch");
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(engine) {
        register_numbers(&mut registry, "", &fields);
    }
    let a = api;
    let counters: [(&str, &str, u64); 7] = [
        ("api_streams_refused", "Streams refused because api.maxStreams were open", a.streams_refused),
        ("api_streams_closed_unhealthy", "WebSockets closed for not answering pings", a.streams_closed_unhealthy),
        ("api_streams_closed_slow", "Streams closed because their client fell behind", a.streams_closed_slow),
        ("api_events_sent", "Events sent over streams", a.events_sent),
        ("api_rate_limited", "Requests refused with 429", a.rate_limited),
        ("api_requests_2xx", "Answers with a 2xx status", a.requests_2xx),
        ("api_requests_4xx", "Answers with a 4xx status", a.requests_4xx),
    ];
    for (name, help, v) in counters {
        registry.register(name, help, ConstCounter::new(v));
    }
    registry.register("api_requests_5xx", "Answers with a 5xx status", ConstCounter::new(a.requests_5xx));
    registry.register("api_requests_1xx", "Answers with a 1xx status (upgrades)", ConstCounter::new(a.requests_1xx));
    registry.register("api_streams_open", "Live streams open now", ConstGauge::new(a.streams_open as i64));
    registry.register("api_waits_open", "Code requests waiting now", ConstGauge::new(a.waits_open as i64));
    let mut out = String::new();
    if encode(&mut out, &registry).is_err() {
        out = "# cannot encode the metrics\n".into();
    }
    out
}

fn register_numbers(registry: &mut Registry, prefix: &str, fields: &serde_json::Map<String, serde_json::Value>) {
    for (key, value) in fields {
        let name = format!("{prefix}{}", snake(key));
        match value {
            serde_json::Value::Object(inner) => register_numbers(registry, &format!("{name}_"), inner),
            serde_json::Value::Number(n) => {
                let help = format!("the engine's {name}");
                let grows = name.starts_with("total_")
                    || name.ends_with("_failures")
                    || name.ends_with("_timeouts")
                    || name.ends_with("_waits");
                if let (true, Some(v)) = (grows, n.as_u64()) {
                    registry.register(name.trim_start_matches("total_").to_string(), help, ConstCounter::new(v));
                } else if let Some(v) = n.as_f64() {
                    registry.register(name, help, ConstGauge::new(v));
                }
            }
            _ => {}
        }
    }
}

/// `maxPerAccount` → `max_per_account`.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    out
}
