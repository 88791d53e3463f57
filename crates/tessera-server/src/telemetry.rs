//! Logging (JSON or text lines on standard output) and, when configured, OpenTelemetry trace
//! export over OTLP (HTTP with JSON bodies) of every request's span.

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::settings::{LogSettings, TraceSettings};

/// What `init` set up; `shutdown` sends the spans not yet exported.
#[derive(Debug, Default)]
#[must_use = "call shutdown at exit, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is left (waiting for the collector at most a few seconds).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(e) = provider.shutdown() {
                eprintln!("tessera: cannot export the last traces: {e}");
            }
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides `log.level`. Must run outside the async
/// runtime: the exporter has its own thread and blocking HTTP client.
///
/// # Errors
/// When the trace exporter cannot be built.
pub fn init(log: &LogSettings, traces: &TraceSettings) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = if log.format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().boxed()
    };
    let provider = if traces.otlp_endpoint.is_empty() {
        None
    } else {
        let endpoint = format!("{}/v1/traces", traces.otlp_endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
            .with_endpoint(endpoint)
            .with_timeout(std::time::Duration::from_secs(5))
            .build()
            .context("cannot set up the OTLP trace exporter")?;
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(traces.service_name.clone())
                        .build(),
                )
                .build(),
        )
    };
    let spans = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("tessera")));
    // A subscriber already installed (tests) is fine.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            lines.with_filter(tracing_subscriber::filter::filter_fn(|m| {
                !is_client_garbage(m)
            })),
        )
        .with(ClientGarbage)
        .with(spans)
        .try_init();
    Ok(Telemetry { provider })
}

/// The HTTP parser's errors about a connection: a request that does not parse, headers too large,
/// a client that went away. Any client can cause them, so they are not the server's errors.
fn is_client_garbage(m: &tracing::Metadata<'_>) -> bool {
    *m.level() == tracing::Level::ERROR && m.target() == "actix_http::h1::dispatcher"
}

/// Logs what `is_client_garbage` keeps out of the log lines at debug level instead.
struct ClientGarbage;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ClientGarbage {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if !is_client_garbage(event.metadata()) {
            return;
        }
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        tracing::debug!(target: "tessera::http", error = %message.0, "a client's connection failed");
    }
}
