//! One log line per request, the request id, and the headers every answer carries.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage as _;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Headers for browsers on every answer that does not set its own: no MIME sniffing, no framing
/// (clickjacking), no referrer, and no caching, since most answers carry personal data or tokens
/// (the JWKS and discovery documents say how long they may be cached instead).
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    use actix_web::http::header;
    actix_web::middleware::DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"))
}

/// The authenticated user of the current request, filled in by the `Caller` extractor for the log line.
#[derive(Debug, Clone, Default)]
pub struct RequestUser(Arc<AtomicI64>);

impl RequestUser {
    pub fn set(&self, id: i64) {
        self.0.store(id, Ordering::Relaxed);
    }

    fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|id| *id != 0)
    }
}

/// The id of the current request, for audit entries.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Request headers as OpenTelemetry reads them, for the W3C `traceparent` of the caller's trace.
struct TraceHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl opentelemetry::propagation::Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(actix_web::http::header::HeaderName::as_str)
            .collect()
    }
}

/// A new request id: a random prefix drawn once per process and a counter, 24 hex digits. Ids
/// need to be unique, not secret, so no random number is drawn per request.
fn new_request_id() -> String {
    use std::sync::atomic::AtomicU64;
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut buf = [0u8; 4];
        let _ = getrandom::fill(&mut buf);
        u32::from_le_bytes(buf)
    });
    format!(
        "{prefix:08x}{:016x}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A client-supplied request id is kept when it is short and plain; otherwise one is made.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(new_request_id, str::to_owned)
}

/// Logs method, route pattern (never the raw path or query), status, latency, client address,
/// user id and request id. No header or body is logged, so no credential can be.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let user = RequestUser::default();
    req.extensions_mut().insert(user.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .map(|s| Arc::clone(&s.metrics.metrics));
    let client_ip = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    // The request's span, which trace export (when configured) sends as a server span; its name
    // and route are recorded once routing has found the route.
    let span = tracing::info_span!(
        "request",
        otel.name = method.as_str(),
        otel.kind = "server",
        http.request.method = method.as_str(),
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        request_id = id.as_str(),
    );
    // A caller that sends `traceparent` gets this span in its own trace. Without trace export the
    // span has no OpenTelemetry data and this does nothing.
    if req.headers().contains_key("traceparent") {
        let parent = opentelemetry::propagation::TextMapPropagator::extract(
            &opentelemetry_sdk::propagation::TraceContextPropagator::new(),
            &TraceHeaders(req.headers()),
        );
        let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(&span, parent);
    }
    let mut res = tracing::Instrument::instrument(next.call(req), span.clone()).await?;
    // The route pattern, never the raw path: the served resource carries it (looking it up in
    // the resource map would match the path against every route a second time).
    // A request answered before routing (a rate limit) or by a service without the pattern
    // (the API docs' files) is looked up in the resource map, as all were before.
    let looked_up;
    let route = match res.request().app_data::<crate::openapi::RoutePattern>() {
        Some(r) => r.0,
        None => {
            looked_up = res.request().match_pattern();
            looked_up.as_deref().unwrap_or("<unmatched>")
        }
    };
    let status = res.status().as_u16();
    if !span.is_disabled() {
        span.record("http.route", route);
        // The exported span was named when it started; it gets its route's name now. Without
        // trace export there is no exported span and this does nothing.
        let cx = tracing_opentelemetry::OpenTelemetrySpanExt::context(&span);
        let exported = opentelemetry::trace::TraceContextExt::span(&cx);
        if exported.span_context().is_valid() {
            exported.update_name(format!("{method} {route}"));
        }
    }
    span.record("http.response.status_code", i64::from(status));
    if let Some(m) = &metrics {
        m.request(&method, route, status, started.elapsed());
        if status == 429 {
            m.rate_limited();
        }
    }
    tracing::info!(
        target: "tessera::access",
        method,
        route,
        status,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        client_ip,
        user_id = user.get(),
        request_id = id.as_str(),
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}
