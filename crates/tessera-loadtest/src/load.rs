//! The load generator: each connection is a tokio task holding one persistent HTTP/1.1 keep-alive
//! connection (hyper), sending its script's requests back to back until the deadline or the
//! request bound; the latency of every expected answer goes to a log-linear histogram.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest a request may take; a slower one counts as an error and its connection is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Histogram

/// Values below this many microseconds have a bucket each.
const LINEAR: u64 = 1 << LINEAR_BITS;
const LINEAR_BITS: u32 = 10;
/// Each power of two above `LINEAR` is cut in `2^SUB_BITS` buckets: a bucket is 1/64 (1.6 %) of
/// its values wide, and its midpoint within 0.8 % of any of them.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Values from 2^MAX_BITS µs (19 hours) up are counted as that.
const MAX_BITS: u32 = 36;
const BUCKETS: usize = (LINEAR + (MAX_BITS - LINEAR_BITS) as u64 * SUB) as usize;

/// Latencies in microseconds, counted in log-linear buckets (exact below 1,024 µs, then 64
/// buckets per power of two); histograms of several connections merge by adding counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }

    fn index(us: u64) -> usize {
        let v = us.min((1u64 << MAX_BITS) - 1);
        if v < LINEAR {
            return v as usize;
        }
        // The position of the leading one, at least LINEAR_BITS here; the SUB_BITS bits after it
        // pick the sub-bucket.
        let exp = 63 - v.leading_zeros();
        let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
        (LINEAR + u64::from(exp - LINEAR_BITS) * SUB + sub) as usize
    }

    /// The value a bucket stands for: its own below `LINEAR`, else its midpoint.
    fn value(index: usize) -> u64 {
        let i = index as u64;
        if i < LINEAR {
            return i;
        }
        let group = (i - LINEAR) / SUB;
        let sub = (i - LINEAR) % SUB;
        let width = 1u64 << (group as u32 + LINEAR_BITS - SUB_BITS);
        (SUB + sub) * width + width / 2
    }

    /// Counts one latency.
    pub fn record(&mut self, latency: Duration) {
        self.record_us(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Counts one latency given in microseconds.
    pub fn record_us(&mut self, us: u64) {
        if let Some(c) = self.counts.get_mut(Self::index(us)) {
            *c += 1;
            self.total += 1;
        }
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Self) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    /// The latency at quantile `q` (0.5 for the median, 0.99, 0.999) in microseconds; 0 when empty.
    pub fn percentile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        // The smallest rank that has at least a share q of the values at or below it (the
        // epsilon keeps 0.99 * 1000 from rounding up to rank 991).
        let rank = ((q * self.total as f64 - 1e-9).ceil().max(1.0) as u64).min(self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i);
            }
        }
        0
    }

    /// As `percentile_us`, in milliseconds.
    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.percentile_us(q) as f64 / 1000.0
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and answers

/// One request: method, origin-form URI, headers and body. Cheap to clone (the parts are
/// reference-counted bytes).
#[derive(Debug, Clone)]
pub struct Call {
    /// The method.
    pub method: Method,
    /// The path and query.
    pub uri: Uri,
    /// Headers beside `Host` and `Content-Length`, which the connection adds.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body, empty for none.
    pub body: Bytes,
}

impl Call {
    fn new(method: Method, path: &str) -> anyhow::Result<Self> {
        Ok(Self {
            method,
            uri: path
                .parse::<Uri>()
                .with_context(|| format!("invalid path {path:?}"))?,
            headers: Vec::new(),
            body: Bytes::new(),
        })
    }

    /// `GET path`.
    pub fn get(path: &str) -> anyhow::Result<Self> {
        Self::new(Method::GET, path)
    }

    /// `POST path` with an empty body.
    pub fn post_empty(path: &str) -> anyhow::Result<Self> {
        Self::new(Method::POST, path)
    }

    /// `POST path` with a JSON body.
    pub fn post_json(path: &str, body: &serde_json::Value) -> anyhow::Result<Self> {
        let mut call = Self::new(Method::POST, path)?;
        call.body = Bytes::from(serde_json::to_vec(body)?);
        call.headers
            .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        Ok(call)
    }

    /// `POST path` with a form-encoded body (already encoded).
    pub fn post_form(path: &str, body: String) -> anyhow::Result<Self> {
        let mut call = Self::new(Method::POST, path)?;
        call.body = Bytes::from(body);
        call.headers.push((
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ));
        Ok(call)
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: &str) -> anyhow::Result<Self> {
        let value = HeaderValue::from_str(value)
            .with_context(|| format!("invalid value for the {name} header"))?;
        self.headers.push((name, value));
        Ok(self)
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> anyhow::Result<Self> {
        self.header(AUTHORIZATION, &format!("Bearer {token}"))
    }

    fn request(&self, host: &HeaderValue) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        let headers = req.headers_mut();
        headers.insert(HOST, host.clone());
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        if self.method != Method::GET {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        }
        req
    }
}

/// An answer, its body read in full.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .with_context(|| format!("the answer ({}) is not JSON: {}", self.status, self.text()))
    }

    /// The start of the body, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(300)
            .collect()
    }

    /// The body's string field `name`.
    pub fn field(&self, name: &str) -> anyhow::Result<String> {
        self.json()?
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                anyhow::anyhow!("the answer has no string field {name}: {}", self.text())
            })
    }

    /// Fails unless the status is `want`, naming `what` was asked.
    pub fn ensure_status(self, want: StatusCode, what: &str) -> anyhow::Result<Self> {
        anyhow::ensure!(
            self.status == want,
            "{what}: expected {want}, got {}: {}",
            self.status,
            self.text()
        );
        Ok(self)
    }
}

/// One persistent HTTP/1.1 connection; requests go one at a time.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects (TCP, no Nagle) and runs the connection's I/O on a task of its own.
    ///
    /// # Errors
    /// When nothing listens at `addr` or the handshake fails.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the peer closes; either way nothing is left to do.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    /// Whether the peer (or an error) has closed the connection.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends `call` and reads the whole answer.
    ///
    /// # Errors
    /// When the connection breaks.
    pub async fn send(&mut self, call: &Call) -> anyhow::Result<Answer> {
        self.sender.ready().await?;
        let response = self.sender.send_request(call.request(&self.host)).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A connection for setup calls that opens itself again when closed or idle for a while (so a
/// keep-alive timeout on the server's side never breaks a call).
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    conn: Option<(Connection, Instant)>,
}

impl Client {
    /// A client of `addr`; it connects at its first call.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, conn: None }
    }

    /// Sends `call` and reads the answer.
    ///
    /// # Errors
    /// When the server cannot be reached or the connection breaks.
    pub async fn send(&mut self, call: &Call) -> anyhow::Result<Answer> {
        let reusable = self
            .conn
            .as_ref()
            .is_some_and(|(c, used)| !c.is_closed() && used.elapsed() < Duration::from_secs(2));
        let mut conn = match self.conn.take() {
            Some((c, _)) if reusable => c,
            _ => Connection::open(self.addr).await?,
        };
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, conn.send(call))
            .await
            .with_context(|| format!("{} {}: no answer", call.method, call.uri))??;
        self.conn = Some((conn, Instant::now()));
        Ok(answer)
    }
}

/// Sends every call over `parallel` connections (one call in flight on each) and returns the
/// answers in the calls' order.
///
/// # Errors
/// The first call that got no answer.
pub async fn batch(
    addr: SocketAddr,
    calls: Vec<Call>,
    parallel: usize,
) -> anyhow::Result<Vec<Answer>> {
    let calls = Arc::new(calls);
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..parallel.max(1))
        .map(|_| {
            let (calls, next) = (Arc::clone(&calls), Arc::clone(&next));
            tokio::spawn(async move {
                let mut client = Client::new(addr);
                let mut answers = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(call) = calls.get(i) else { break };
                    answers.push((i, client.send(call).await?));
                }
                anyhow::Ok(answers)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(calls.len());
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, a)| a).collect())
}

// ---------------------------------------------------------------------------------------------
// Scripts

/// How an answer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The expected answer: counted, and its latency recorded.
    Ok,
    /// Refused for load (503 with `Retry-After`, 429, 423), where the scenario allows it.
    Shed,
    /// Anything else.
    Error,
}

/// What one connection sends: asked for each request in turn, and told each answer.
pub trait Script: Send {
    /// The next request, or `None` when this connection is done.
    fn next(&mut self) -> Option<Call>;
    /// Judges the answer to the request `next` gave last.
    fn answered(&mut self, answer: &Answer) -> Outcome;
    /// The request `next` gave last got no answer (the connection broke or timed out).
    fn failed(&mut self) {}
}

/// Whether the server refused for load: 429 or 423, or 503 with `Retry-After`.
pub fn is_shed(answer: &Answer) -> bool {
    match answer.status.as_u16() {
        429 | 423 => true,
        503 => answer.headers.contains_key(http::header::RETRY_AFTER),
        _ => false,
    }
}

/// Which answers count as expected.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// The expected status.
    pub status: StatusCode,
    /// Text the body must contain as well, if any.
    pub body_contains: Option<&'static str>,
    /// Count answers refused for load as shed rather than errors.
    pub shed_ok: bool,
}

impl Expect {
    /// Expects `status` and nothing else.
    pub const fn status(status: StatusCode) -> Self {
        Self {
            status,
            body_contains: None,
            shed_ok: false,
        }
    }

    /// Judges an answer.
    pub fn judge(&self, answer: &Answer) -> Outcome {
        let body_ok = self.body_contains.is_none_or(|needle| {
            needle.is_empty()
                || answer
                    .body
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
        });
        if answer.status == self.status && body_ok {
            Outcome::Ok
        } else if self.shed_ok && is_shed(answer) {
            Outcome::Shed
        } else {
            Outcome::Error
        }
    }
}

/// A small xorshift generator: cheap, and good enough to pick users.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self((seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0x2545_F491_4F6C_DD1D) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `n` (which must not be 0; 0 is returned then).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }
}

/// Which of a list of calls a connection sends next.
#[derive(Debug, Clone)]
pub enum Cursor {
    /// Round robin of its own, from this index.
    Own(usize),
    /// Round robin shared with other connections (each call sent once until the list wraps).
    Shared(Arc<AtomicUsize>),
    /// At random.
    Random(Rng),
}

impl Cursor {
    /// The index of the next call of a list of `len`.
    pub fn advance(&mut self, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        match self {
            Self::Own(i) => {
                let at = *i % len;
                *i = at + 1;
                at
            }
            Self::Shared(counter) => counter.fetch_add(1, Ordering::Relaxed) % len,
            Self::Random(rng) => rng.below(len),
        }
    }
}

/// Sends calls picked from a fixed list, all judged alike.
#[derive(Debug)]
pub struct Picker {
    calls: Arc<Vec<Call>>,
    cursor: Cursor,
    expect: Expect,
}

impl Picker {
    /// Picks from `calls` by `cursor`.
    pub fn new(calls: Arc<Vec<Call>>, cursor: Cursor, expect: Expect) -> Self {
        Self {
            calls,
            cursor,
            expect,
        }
    }
}

impl Script for Picker {
    fn next(&mut self) -> Option<Call> {
        let i = self.cursor.advance(self.calls.len());
        self.calls.get(i).cloned()
    }

    fn answered(&mut self, answer: &Answer) -> Outcome {
        self.expect.judge(answer)
    }
}

/// Sends what a function makes (such as a new username each time), all judged alike.
pub struct Generated<F> {
    make: F,
    expect: Expect,
}

impl<F> std::fmt::Debug for Generated<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated")
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

impl<F: FnMut() -> Option<Call> + Send> Generated<F> {
    /// Sends `make()` until it returns `None`.
    pub fn new(make: F, expect: Expect) -> Self {
        Self { make, expect }
    }
}

impl<F: FnMut() -> Option<Call> + Send> Script for Generated<F> {
    fn next(&mut self) -> Option<Call> {
        (self.make)()
    }

    fn answered(&mut self, answer: &Answer) -> Outcome {
        self.expect.judge(answer)
    }
}

// ---------------------------------------------------------------------------------------------
// Runs

/// How long and how much a run may send.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// No request starts after this long; those in flight finish.
    pub duration: Duration,
    /// Requests of all connections together, at most.
    pub max_requests: u64,
}

/// What one connection counted.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    shed: u64,
    errors: u64,
    latency: Histogram,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Connections used.
    pub connections: usize,
    /// Expected answers.
    pub ok: u64,
    /// Answers refused for load, where the scenario allows it.
    pub shed: u64,
    /// Unexpected answers and requests without an answer (broken connections, failed connects).
    pub errors: u64,
    /// From the start to the last answer.
    pub elapsed: Duration,
    /// Latencies of the expected answers.
    pub latency: Histogram,
}

impl Report {
    /// Expected answers per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    fn absorb(&mut self, tally: &Tally) {
        self.ok += tally.ok;
        self.shed += tally.shed;
        self.errors += tally.errors;
        self.latency.merge(&tally.latency);
    }
}

/// Runs one connection per script against `addr` until `bounds` are reached, and adds up what
/// they counted.
pub async fn run(addr: SocketAddr, bounds: Bounds, scripts: Vec<Box<dyn Script>>) -> Report {
    let started = Instant::now();
    let deadline = started + bounds.duration;
    let issued = Arc::new(AtomicU64::new(0));
    let mut report = Report {
        connections: scripts.len(),
        ..Report::default()
    };
    let tasks: Vec<_> = scripts
        .into_iter()
        .map(|script| {
            tokio::spawn(drive(
                addr,
                deadline,
                bounds.max_requests,
                Arc::clone(&issued),
                script,
            ))
        })
        .collect();
    for task in tasks {
        match task.await {
            Ok(tally) => report.absorb(&tally),
            Err(_) => report.errors += 1,
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// One connection's loop: request, wait for the whole answer, judge it, and again.
async fn drive(
    addr: SocketAddr,
    deadline: Instant,
    max_requests: u64,
    issued: Arc<AtomicU64>,
    mut script: Box<dyn Script>,
) -> Tally {
    let mut tally = Tally::default();
    let mut conn: Option<Connection> = None;
    while Instant::now() < deadline {
        if issued.fetch_add(1, Ordering::Relaxed) >= max_requests {
            break;
        }
        let Some(call) = script.next() else { break };
        if conn.as_ref().is_none_or(Connection::is_closed) {
            match Connection::open(addr).await {
                Ok(c) => conn = Some(c),
                Err(_) => {
                    tally.errors += 1;
                    script.failed();
                    conn = None;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let began = Instant::now();
        match tokio::time::timeout(REQUEST_TIMEOUT, c.send(&call)).await {
            Ok(Ok(answer)) => {
                let took = began.elapsed();
                match script.answered(&answer) {
                    Outcome::Ok => {
                        tally.ok += 1;
                        tally.latency.record(took);
                    }
                    Outcome::Shed => tally.shed += 1,
                    Outcome::Error => tally.errors += 1,
                }
            }
            Ok(Err(_)) | Err(_) => {
                tally.errors += 1;
                script.failed();
                conn = None;
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_small_values_are_exact() {
        let mut h = Histogram::new();
        for us in 1..=1000 {
            h.record_us(us);
        }
        assert_eq!(h.total, 1000);
        assert_eq!(h.percentile_us(0.5), 500);
        assert_eq!(h.percentile_us(0.99), 990);
        assert_eq!(h.percentile_us(0.999), 999);
        assert_eq!(h.percentile_us(1.0), 1000);
        assert_eq!(Histogram::new().percentile_us(0.5), 0);
    }

    #[test]
    fn large_values_are_within_one_percent_and_histograms_merge() {
        let mut fast = Histogram::new();
        for _ in 0..900 {
            fast.record(Duration::from_micros(800));
        }
        let mut slow = Histogram::new();
        for _ in 0..100 {
            slow.record(Duration::from_millis(100));
        }
        fast.merge(&slow);
        assert_eq!(fast.total, 1000);
        assert_eq!(fast.percentile_us(0.5), 800);
        assert_eq!(fast.percentile_us(0.9), 800);
        let p99 = fast.percentile_us(0.99) as f64;
        assert!((p99 - 100_000.0).abs() / 100_000.0 < 0.01, "p99 {p99}");
        assert!((fast.percentile_ms(0.999) - 100.0).abs() < 1.0);
    }

    #[test]
    fn every_value_lands_in_a_bucket_that_stands_for_it_within_one_percent() {
        for v in [
            1_024u64,
            1_500,
            65_535,
            1_000_000,
            123_456_789,
            (1 << 36) - 1,
        ] {
            let i = Histogram::index(v);
            assert!(i < BUCKETS);
            let back = Histogram::value(i) as f64;
            assert!((back - v as f64).abs() / (v as f64) < 0.01, "{v} -> {back}");
        }
        // Beyond the range: clamped into the last bucket.
        assert_eq!(Histogram::index(u64::MAX), BUCKETS - 1);
    }
}
