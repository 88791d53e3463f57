//! Prometheus metrics with prometheus-client: requests by route and status with latency histograms,
//! authentication events by outcome, tokens issued by kind, rate-limited requests, the password-hash
//! queue and hashing time, and live sessions. `GET /metrics` renders them (OpenMetrics text).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tessera_domain::audit::{Event, Outcome};
use tessera_domain::ports::Observer;

type Labels = Vec<(&'static str, String)>;

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric Tessera exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    events: Family<Labels, Counter>,
    tokens: Family<Labels, Counter>,
    rate_limited: Counter,
    hash_seconds: Histogram,
    hash_queue: Gauge,
    sessions: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let requests = Family::<Labels, Counter>::default();
        let latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let events = Family::<Labels, Counter>::default();
        let tokens = Family::<Labels, Counter>::default();
        let rate_limited = Counter::default();
        let hash_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let hash_queue = Gauge::default();
        let sessions = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route pattern and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route pattern",
            latency.clone(),
        );
        registry.register(
            "auth_events",
            "Audited authentication and administration events by event and outcome (logins, lockouts, refresh reuse, ...)",
            events.clone(),
        );
        registry.register("tokens_issued", "Tokens issued by kind", tokens.clone());
        registry.register(
            "rate_limited_requests",
            "Requests refused by the rate limits",
            rate_limited.clone(),
        );
        registry.register(
            "password_hash_duration_seconds",
            "Time to hash or verify a password on the hashing pool, queueing included",
            hash_seconds.clone(),
        );
        registry.register(
            "password_hash_queue",
            "Requests waiting to hash a password, and hashing jobs waiting for a hashing thread",
            hash_queue.clone(),
        );
        registry.register(
            "active_sessions",
            "Sessions neither revoked nor expired",
            sessions.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            events,
            tokens,
            rate_limited,
            hash_seconds,
            hash_queue,
            sessions,
        }
    }

    /// One finished request.
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
                ("status", status.to_string()),
            ])
            .inc();
        self.latency
            .get_or_create(&vec![
                ("method", method.to_owned()),
                ("route", route.to_owned()),
            ])
            .observe(elapsed.as_secs_f64());
    }

    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// One password hash or verification, from submission to result.
    pub fn password_hash(&self, elapsed: Duration) {
        self.hash_seconds.observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the gauges set to the values given.
    pub fn render(&self, hash_queue: usize, sessions: Option<u64>) -> String {
        self.hash_queue
            .set(i64::try_from(hash_queue).unwrap_or(i64::MAX));
        if let Some(n) = sessions {
            self.sessions.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}

impl Observer for Metrics {
    fn event(&self, event: Event, outcome: Outcome) {
        self.events
            .get_or_create(&vec![
                ("event", event.as_str().to_owned()),
                ("outcome", outcome.as_str().to_owned()),
            ])
            .inc();
    }

    fn token_issued(&self, kind: &'static str) {
        self.tokens
            .get_or_create(&vec![("kind", kind.to_owned())])
            .inc();
    }
}

/// What `GET /metrics` reads besides the counters.
#[derive(Clone)]
pub struct MetricsSource {
    pub metrics: Arc<Metrics>,
    /// Password hashes waiting: requests waiting for a turn and jobs waiting for a hashing thread.
    pub hash_queue: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for MetricsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsSource")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::new();
        m.request("GET", "/health", 200, Duration::from_millis(3));
        m.event(Event::Login, Outcome::Failure);
        m.token_issued("refresh");
        m.rate_limited();
        m.password_hash(Duration::from_millis(25));
        let text = m.render(3, Some(7));
        for line in [
            "tessera_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1",
            "tessera_auth_events_total{event=\"login\",outcome=\"failure\"} 1",
            "tessera_tokens_issued_total{kind=\"refresh\"} 1",
            "tessera_rate_limited_requests_total 1",
            "tessera_password_hash_queue 3",
            "tessera_active_sessions 7",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        assert!(text.contains("tessera_http_request_duration_seconds_bucket"));
        assert!(text.contains("tessera_password_hash_duration_seconds_count 1"));
    }
}
