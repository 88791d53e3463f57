//! OpenTelemetry trace export: the real binary sends its request spans to a small OTLP/HTTP
//! receiver that this test runs.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// What the receiver got: the request line and the body of each request.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A minimal OTLP/HTTP collector: answers every POST with 200 and an empty JSON object.
fn receiver() -> (u16, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received: Received = Arc::default();
    let store = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            store.lock().unwrap().push((
                request_line.trim().to_owned(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    });
    (port, received)
}

#[test]
fn request_spans_are_exported_over_otlp_when_an_endpoint_is_set() {
    let (collector, received) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let password = "correct horse battery staple";
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env("TESSERA_SERVER__BIND", "127.0.0.1:0")
        .env(
            "TESSERA_TRACES__OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector}"),
        )
        .env("TESSERA_TRACES__SERVICE_NAME", "tessera-under-test")
        .env("TESSERA_BOOTSTRAP_ADMIN_PASSWORD", password)
        .env("TESSERA_PASSWORD_HASHING__MEMORY_KIB", "1024")
        .env("TESSERA_PASSWORD_HASHING__ITERATIONS", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let port = crate::listening_port(&mut child);
    let client = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let login = client
        .post(format!("{base}/auth/login"))
        .header("x-request-id", "trace-me-42")
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    // A caller in a trace of its own: the span joins it (W3C Trace Context).
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let unauthorized = client
        .get(format!("{base}/users/7"))
        .header(
            "traceparent",
            format!("00-{caller_trace}-00f067aa0ba902b7-01"),
        )
        .send()
        .unwrap();
    assert_eq!(unauthorized.status(), 401);

    // A graceful stop sends what is left.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());

    let received = received.lock().unwrap();
    assert!(!received.is_empty(), "nothing was exported");
    assert!(
        received
            .iter()
            .all(|(line, _)| line.starts_with("POST /v1/traces ")),
        "{received:?}"
    );
    let all: String = received.iter().map(|(_, body)| body.as_str()).collect();
    let export: serde_json::Value = serde_json::from_str(&received[0].1).expect("OTLP JSON");
    assert!(export["resourceSpans"].is_array(), "{export}");
    assert!(all.contains("tessera-under-test"), "service.name: {all}");
    assert!(all.contains("POST /auth/login"), "{all}");
    assert!(
        all.contains("GET /users/{id}"),
        "the route pattern, not the path: {all}"
    );
    assert!(all.contains("trace-me-42"), "the request id: {all}");
    let spans: Vec<serde_json::Value> = received
        .iter()
        .filter_map(|(_, body)| serde_json::from_str::<serde_json::Value>(body).ok())
        .flat_map(|export| {
            export["resourceSpans"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|s| s["spans"].as_array().cloned().unwrap_or_default())
        .collect();
    let joined = spans
        .iter()
        .find(|s| s["name"] == "GET /users/{id}")
        .expect("the span of GET /users/7");
    assert_eq!(joined["traceId"], caller_trace, "{joined}");
    assert_eq!(joined["parentSpanId"], "00f067aa0ba902b7", "{joined}");
    let login = spans
        .iter()
        .find(|s| s["name"] == "POST /auth/login")
        .expect("the login span");
    assert_ne!(
        login["traceId"], caller_trace,
        "a request without traceparent starts a trace"
    );
    assert!(!all.contains(password), "no secret leaves in a span");
}
