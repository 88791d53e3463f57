//! The scenarios: the ceilings first (the bare server, one Argon2id verification, one RS256
//! signature), then Tessera's routes, each with its credentials prepared before the timed window
//! and its throughput set against the ceiling that bounds it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use http::header::{HeaderName, AUTHORIZATION};
use http::StatusCode;
use serde_json::json;

use crate::ceiling::{median, CeilingServer, Keys};
use crate::load::{
    self, batch, Answer, Bounds, Call, Client, Cursor, Expect, Generated, Outcome, Picker, Report,
    Rng, Script,
};
use crate::server::{login_call, rss_kib, seed_api, write_import, RssSampler, Seeded, Tessera};

/// Every scenario on Tessera, in the order they run (`--only` picks among them).
pub const SCENARIOS: &[&str] = &[
    "health",
    "userinfo",
    "check-token",
    "check-token-service",
    "introspect",
    "profile-opaque",
    "users-list",
    "refresh",
    "mixed",
    "login",
    "user-create",
    "login-flood",
    "eqeqo-profile",
    "eqeqo-check-token",
    "eqeqo-person-service",
    "eqeqo-login",
];

/// Eqeqo's own figures on a machine of this kind (requests per second), which its door in
/// Tessera should beat by `EQEQO_FACTOR`: check-token, profile (the low end of 5,600–8,000),
/// logins (the high end of 20–30).
const EQEQO_MEASURED: [(&str, f64); 3] = [
    ("eqeqo-check-token", 3_500.0),
    ("eqeqo-profile", 5_600.0),
    ("eqeqo-login", 30.0),
];
/// How many times faster than Eqeqo its door should serve its clients.
const EQEQO_FACTOR: f64 = 3.0;

/// The password of every imported user (and of the users `user-create` makes).
pub const USER_PASSWORD: &str = "Lt-shared-Pa55-9x2k";

/// Requests per scenario at most, a bound beside the duration.
const MAX_REQUESTS: u64 = 20_000_000;
/// Users whose tokens the token-checking scenarios use, round robin.
const TOKEN_USERS: usize = 256;
/// Users granted the service's role.
const GRANTED_USERS: usize = 1000;
/// Connections of the client measuring check-token beside the login flood.
const PROBE_CONNECTIONS: usize = 4;
/// Logins at once while preparing credentials.
const SETUP_PARALLEL: usize = 8;

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections of each scenario (but the login flood's).
    pub connections: usize,
    /// Length of each scenario.
    pub duration: Duration,
    /// Users to import.
    pub users: usize,
    /// The Tessera binary.
    pub server: PathBuf,
    /// A PostgreSQL URL instead of a SQLite file.
    pub postgres: Option<String>,
    /// The scenarios to run; all when empty.
    pub only: Vec<String>,
    /// CPU cores: Tessera's HTTP workers and hashing threads, and the ceiling's workers.
    pub threads: usize,
    /// Connections of the login flood.
    pub flood_connections: usize,
}

impl Options {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }

    /// Refuses a scenario name that does not exist.
    ///
    /// # Errors
    /// Naming it, and the scenarios there are.
    pub fn check(&self) -> anyhow::Result<()> {
        for name in &self.only {
            anyhow::ensure!(
                SCENARIOS.contains(&name.as_str()),
                "no scenario named {name:?}; there are {}",
                SCENARIOS.join(", ")
            );
        }
        anyhow::ensure!(self.users >= 1, "--users must be at least 1");
        anyhow::ensure!(
            (1..=4096).contains(&self.connections),
            "--connections must be 1 to 4096"
        );
        anyhow::ensure!(
            (1..=4096).contains(&self.flood_connections),
            "--flood-connections must be 1 to 4096"
        );
        anyhow::ensure!(
            !self.duration.is_zero(),
            "--duration-secs must be at least 1"
        );
        Ok(())
    }
}

/// A rate that bounds a scenario.
#[derive(Debug, Clone)]
pub struct Ceiling {
    /// Its name in the header table.
    pub name: &'static str,
    /// Requests (or operations) per second.
    pub per_second: f64,
}

/// The ceilings measured in this run.
#[derive(Debug, Clone, Default)]
pub struct Ceilings {
    /// Bare actix-web, `GET /hello`, requests per second.
    pub hello: f64,
    /// Bare actix-web with an RS256 check per request, requests per second.
    pub rs256_verify: f64,
    /// One Argon2id verification at the server's parameters (median of 20, one thread).
    pub argon2_verify: Duration,
    /// One RS256 signature of an access token (median of 200, one thread).
    pub rs256_sign: Duration,
    /// Threads that hash and sign in parallel (one per core).
    pub threads: usize,
}

fn per_second(threads: usize, one: Duration) -> f64 {
    let secs = one.as_secs_f64();
    if secs > 0.0 {
        threads as f64 / secs
    } else {
        0.0
    }
}

impl Ceilings {
    fn hello(&self) -> Ceiling {
        Ceiling {
            name: "ceiling-hello",
            per_second: self.hello,
        }
    }

    fn rs256(&self) -> Ceiling {
        Ceiling {
            name: "ceiling-rs256",
            per_second: self.rs256_verify,
        }
    }

    /// Password hashes (or verifications) per second on every core.
    pub fn argon2(&self) -> Ceiling {
        Ceiling {
            name: "argon2id",
            per_second: per_second(self.threads, self.argon2_verify),
        }
    }

    /// RS256 signatures per second on every core.
    pub fn sign(&self) -> Ceiling {
        Ceiling {
            name: "rs256-sign",
            per_second: per_second(self.threads, self.rs256_sign),
        }
    }

    /// The mix of `mixed` (90 % token checks, 9 % refreshes, 1 % logins), each at its own
    /// ceiling: the reciprocal of the weighted costs.
    fn mixed(&self) -> Ceiling {
        let parts = [
            (0.90, self.rs256_verify),
            (0.09, self.sign().per_second),
            (0.01, self.argon2().per_second),
        ];
        let cost: f64 = parts
            .iter()
            .map(|(w, rate)| if *rate > 0.0 { w / rate } else { 0.0 })
            .sum();
        Ceiling {
            name: "mix of ceilings",
            per_second: if cost > 0.0 { 1.0 / cost } else { 0.0 },
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The scenario.
    pub name: String,
    /// What the load generator measured.
    pub report: Report,
    /// Peak resident memory of the server during the scenario (sampled every 100 ms), KiB.
    pub peak_rss_kib: u64,
    /// Its resident memory a second after the scenario, KiB.
    pub after_rss_kib: u64,
    /// The rate that bounds it.
    pub ceiling: Option<Ceiling>,
}

/// Everything a run measured.
#[derive(Debug)]
pub struct Results {
    /// The ceilings.
    pub ceilings: Ceilings,
    /// One row per scenario, the ceilings' own first.
    pub rows: Vec<Row>,
    /// Process figures: start and restart times, idle memory, import time.
    pub process: Vec<(String, String)>,
    /// Sentences to print below the tables.
    pub notes: Vec<String>,
    /// SQLite or PostgreSQL.
    pub database: &'static str,
}

/// Hashes `password` with Argon2id at the server's default parameters (m=19456 KiB, t=2, p=1)
/// and times `rounds` verifications on this thread; returns the PHC hash and the median time.
///
/// # Errors
/// When hashing or verifying fails.
pub fn argon2_ceiling(password: &str, rounds: usize) -> anyhow::Result<(String, Duration)> {
    let params = Params::new(19_456, 2, 1, None)
        .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let hash = argon
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot hash: {e}"))?
        .to_string();
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let began = Instant::now();
        argon
            .verify_password(password.as_bytes(), hash.as_str())
            .map_err(|e| anyhow::anyhow!("cannot verify: {e}"))?;
        times.push(began.elapsed());
    }
    Ok((hash, median(times)))
}

/// One connection per script index, each going round `calls` from its own offset.
fn round_robin(calls: &Arc<Vec<Call>>, connections: usize, expect: Expect) -> Vec<Box<dyn Script>> {
    let len = calls.len().max(1);
    (0..connections)
        .map(|i| {
            Box::new(Picker::new(
                Arc::clone(calls),
                Cursor::Own(i * len / connections.max(1)),
                expect,
            )) as Box<dyn Script>
        })
        .collect()
}

/// Runs `scripts` against `addr` while sampling the memory of `pid`.
async fn measure_at(
    name: &str,
    addr: SocketAddr,
    pid: u32,
    bounds: Bounds,
    scripts: Vec<Box<dyn Script>>,
    ceiling: Option<Ceiling>,
) -> Row {
    eprintln!(
        "{name}: {} connections for {} s",
        scripts.len(),
        bounds.duration.as_secs()
    );
    let sampler = RssSampler::start(pid);
    let report = load::run(addr, bounds, scripts).await;
    let peak = sampler.peak().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid).unwrap_or(0);
    let row = Row {
        name: name.to_owned(),
        report,
        peak_rss_kib: peak.max(after),
        after_rss_kib: after,
        ceiling,
    };
    progress(&row);
    row
}

fn progress(row: &Row) {
    eprintln!(
        "  {:.0} req/s, p99 {:.2} ms, {} errors, {} shed",
        row.report.rate(),
        row.report.latency.percentile_ms(0.99),
        row.report.errors,
        row.report.shed
    );
}

/// Refreshes its own chain of refresh tokens: each answer's token is the next request's, and
/// none is ever sent twice. A broken chain (an error, a lost answer) ends the connection.
#[derive(Debug)]
struct Chain {
    token: Option<String>,
}

impl Chain {
    fn take_next(&mut self) -> Option<Call> {
        let token = self.token.take()?;
        Call::post_json("/auth/refresh", &json!({ "refresh_token": token })).ok()
    }

    fn absorb(&mut self, answer: &Answer) -> Outcome {
        if answer.status != StatusCode::OK {
            return Outcome::Error;
        }
        match answer.field("refresh_token") {
            Ok(next) => {
                self.token = Some(next);
                Outcome::Ok
            }
            Err(_) => Outcome::Error,
        }
    }
}

impl Script for Chain {
    fn next(&mut self) -> Option<Call> {
        self.take_next()
    }

    fn answered(&mut self, answer: &Answer) -> Outcome {
        self.absorb(answer)
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Check,
    Refresh,
    Login,
}

/// 90 % token checks, 9 % refreshes of the connection's own chain, 1 % logins.
#[derive(Debug)]
struct Mixed {
    checks: Picker,
    chain: Chain,
    logins: Picker,
    rng: Rng,
    last: Kind,
}

impl Script for Mixed {
    fn next(&mut self) -> Option<Call> {
        let roll = self.rng.below(100);
        if roll == 0 {
            self.last = Kind::Login;
            return self.logins.next();
        }
        if roll < 10 {
            if let Some(call) = self.chain.take_next() {
                self.last = Kind::Refresh;
                return Some(call);
            }
        }
        self.last = Kind::Check;
        self.checks.next()
    }

    fn answered(&mut self, answer: &Answer) -> Outcome {
        match self.last {
            Kind::Check => self.checks.answered(answer),
            Kind::Refresh => self.chain.absorb(answer),
            Kind::Login => self.logins.answered(answer),
        }
    }
}

/// The Tessera half of the run: the server, its users and what the scenarios share.
struct Context<'a> {
    addr: SocketAddr,
    /// The Eqeqo door's listener.
    eqeqo: SocketAddr,
    pid: u32,
    bounds: Bounds,
    opts: &'a Options,
    ceilings: &'a Ceilings,
    users: Arc<Vec<String>>,
    prefix: String,
    seeded: Seeded,
    /// JWT access tokens of the first `TOKEN_USERS` users, made when first needed.
    jwt: Option<Arc<Vec<String>>>,
    /// A login with the right password for every user, made when first needed.
    login_calls: Option<Arc<Vec<Call>>>,
    notes: Vec<String>,
}

impl Context<'_> {
    fn user(&self, i: usize) -> &str {
        self.users
            .get(i % self.users.len().max(1))
            .map_or("", String::as_str)
    }

    async fn measure(
        &self,
        name: &str,
        scripts: Vec<Box<dyn Script>>,
        ceiling: Option<Ceiling>,
    ) -> Row {
        measure_at(name, self.addr, self.pid, self.bounds, scripts, ceiling).await
    }

    /// Logs in the users at `indices` (in `format`, JWT by default); their access and refresh
    /// tokens.
    async fn logins(
        &self,
        indices: impl IntoIterator<Item = usize>,
        format: Option<&str>,
    ) -> anyhow::Result<Vec<(String, Option<String>)>> {
        let calls = indices
            .into_iter()
            .map(|i| login_call(self.user(i), USER_PASSWORD, format))
            .collect::<anyhow::Result<Vec<_>>>()?;
        batch(self.addr, calls, SETUP_PARALLEL)
            .await?
            .into_iter()
            .map(|a| -> anyhow::Result<(String, Option<String>)> {
                let a = a.ensure_status(StatusCode::OK, "a load-test user's login")?;
                Ok((a.field("access_token")?, a.field("refresh_token").ok()))
            })
            .collect()
    }

    async fn jwt_tokens(&mut self) -> anyhow::Result<Arc<Vec<String>>> {
        if let Some(tokens) = &self.jwt {
            return Ok(Arc::clone(tokens));
        }
        eprintln!("logging in {TOKEN_USERS} users for the token scenarios");
        let tokens: Vec<String> = self
            .logins(0..TOKEN_USERS, None)
            .await?
            .into_iter()
            .map(|(access, _)| access)
            .collect();
        let tokens = Arc::new(tokens);
        self.jwt = Some(Arc::clone(&tokens));
        Ok(tokens)
    }

    fn login_calls(&mut self) -> anyhow::Result<Arc<Vec<Call>>> {
        if let Some(calls) = &self.login_calls {
            return Ok(Arc::clone(calls));
        }
        let calls = Arc::new(
            self.users
                .iter()
                .map(|u| login_call(u, USER_PASSWORD, None))
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
        self.login_calls = Some(Arc::clone(&calls));
        Ok(calls)
    }

    /// `POST /check-token` with each token, and an optional body.
    fn check_calls(
        tokens: &[String],
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Arc<Vec<Call>>> {
        tokens
            .iter()
            .map(|t| {
                let call = match body {
                    Some(b) => Call::post_json("/check-token", b)?,
                    None => Call::post_empty("/check-token")?,
                };
                call.bearer(t)
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Arc::new)
    }

    /// Refresh chains, one per connection, each from a login of its own (users from `first`).
    async fn chains(&self, first: usize, count: usize) -> anyhow::Result<Vec<Chain>> {
        self.logins(first..first + count, None)
            .await?
            .into_iter()
            .map(|(_, refresh)| -> anyhow::Result<Chain> {
                let token = refresh.context("a login answered no refresh token")?;
                Ok(Chain { token: Some(token) })
            })
            .collect()
    }

    async fn run(&mut self) -> anyhow::Result<Vec<Row>> {
        let n = self.opts.connections;
        let ok = Expect::status(StatusCode::OK);
        let mut rows = Vec::new();

        if self.opts.wants("health") {
            let calls = Arc::new(vec![Call::get("/health")?]);
            let ceiling = Some(self.ceilings.hello());
            rows.push(
                self.measure("health", round_robin(&calls, n, ok), ceiling)
                    .await,
            );
        }

        if self.opts.wants("userinfo") {
            let tokens = self.jwt_tokens().await?;
            let calls = tokens
                .iter()
                .map(|t| Call::get("/auth/userinfo")?.bearer(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let scripts = round_robin(&Arc::new(calls), n, ok);
            let ceiling = Some(self.ceilings.rs256());
            rows.push(self.measure("userinfo", scripts, ceiling).await);
        }

        if self.opts.wants("check-token") {
            let tokens = self.jwt_tokens().await?;
            let calls = Self::check_calls(&tokens, None)?;
            let ceiling = Some(self.ceilings.rs256());
            rows.push(
                self.measure("check-token", round_robin(&calls, n, ok), ceiling)
                    .await,
            );
        }

        if self.opts.wants("check-token-service") {
            let tokens = self.jwt_tokens().await?;
            // The token users are the first users, who hold the role.
            anyhow::ensure!(
                self.seeded.granted >= TOKEN_USERS.min(self.users.len()),
                "only {} users hold the role; the token scenarios use the first {TOKEN_USERS}",
                self.seeded.granted
            );
            let body = json!({ "service_id": self.seeded.service_id });
            let calls = Self::check_calls(&tokens, Some(&body))?;
            let first = calls.first().context("no token")?;
            let answer = Client::new(self.addr)
                .send(first)
                .await?
                .ensure_status(StatusCode::OK, "check-token with service_id")?;
            let permissions = answer
                .json()?
                .get("permissions")
                .and_then(serde_json::Value::as_array)
                .map_or(0, Vec::len);
            anyhow::ensure!(
                permissions == 2,
                "check-token with service_id found {permissions} permissions, not the 2 granted: {}",
                answer.text()
            );
            let ceiling = Some(self.ceilings.rs256());
            rows.push(
                self.measure("check-token-service", round_robin(&calls, n, ok), ceiling)
                    .await,
            );
        }

        if self.opts.wants("introspect") {
            let tokens = self.jwt_tokens().await?;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                self.seeded.service_id, self.seeded.service_secret
            ));
            let calls = tokens
                .iter()
                .map(|t| {
                    Call::post_form("/oauth/introspect", format!("token={t}"))?
                        .header(AUTHORIZATION, &format!("Basic {basic}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let first = calls.first().context("no token")?;
            let answer = Client::new(self.addr)
                .send(first)
                .await?
                .ensure_status(StatusCode::OK, "introspection")?;
            anyhow::ensure!(
                answer.json()?.get("active") == Some(&json!(true)),
                "introspection says a fresh token is not active: {}",
                answer.text()
            );
            let expect = Expect {
                body_contains: Some("\"active\":true"),
                ..ok
            };
            let scripts = round_robin(&Arc::new(calls), n, expect);
            let ceiling = Some(self.ceilings.rs256());
            rows.push(self.measure("introspect", scripts, ceiling).await);
        }

        if self.opts.wants("profile-opaque") {
            eprintln!("logging in {TOKEN_USERS} users for opaque tokens");
            let calls = self
                .logins(TOKEN_USERS..2 * TOKEN_USERS, Some("opaque"))
                .await?
                .iter()
                .map(|(t, _)| Call::get("/auth/profile")?.bearer(t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let scripts = round_robin(&Arc::new(calls), n, ok);
            let ceiling = Some(self.ceilings.rs256());
            rows.push(self.measure("profile-opaque", scripts, ceiling).await);
        }

        if self.opts.wants("users-list") {
            let calls = Arc::new(vec![
                Call::get("/users?limit=50")?.bearer(&self.seeded.admin_token)?
            ]);
            let ceiling = Some(self.ceilings.rs256());
            rows.push(
                self.measure("users-list", round_robin(&calls, n, ok), ceiling)
                    .await,
            );
        }

        if self.opts.wants("refresh") {
            let scripts: Vec<Box<dyn Script>> = self
                .chains(GRANTED_USERS, n)
                .await?
                .into_iter()
                .map(|c| Box::new(c) as Box<dyn Script>)
                .collect();
            let ceiling = Some(self.ceilings.sign());
            rows.push(self.measure("refresh", scripts, ceiling).await);
        }

        if self.opts.wants("mixed") {
            let tokens = self.jwt_tokens().await?;
            let checks = Self::check_calls(&tokens, None)?;
            let logins = self.login_calls()?;
            let shared = Arc::new(AtomicUsize::new(self.users.len() / 2));
            let chains = self.chains(GRANTED_USERS + n, n).await?;
            let scripts: Vec<Box<dyn Script>> = chains
                .into_iter()
                .enumerate()
                .map(|(i, chain)| {
                    Box::new(Mixed {
                        checks: Picker::new(
                            Arc::clone(&checks),
                            Cursor::Own(i * checks.len() / n),
                            ok,
                        ),
                        chain,
                        logins: Picker::new(
                            Arc::clone(&logins),
                            Cursor::Shared(Arc::clone(&shared)),
                            ok,
                        ),
                        rng: Rng::new(i as u64),
                        last: Kind::Check,
                    }) as Box<dyn Script>
                })
                .collect();
            let ceiling = Some(self.ceilings.mixed());
            rows.push(self.measure("mixed", scripts, ceiling).await);
        }

        if self.opts.wants("login") {
            let logins = self.login_calls()?;
            let shared = Arc::new(AtomicUsize::new(0));
            let scripts: Vec<Box<dyn Script>> = (0..n)
                .map(|_| {
                    Box::new(Picker::new(
                        Arc::clone(&logins),
                        Cursor::Shared(Arc::clone(&shared)),
                        ok,
                    )) as Box<dyn Script>
                })
                .collect();
            let ceiling = Some(self.ceilings.argon2());
            rows.push(self.measure("login", scripts, ceiling).await);
        }

        if self.opts.wants("user-create") {
            let counter = Arc::new(AtomicU64::new(0));
            let scripts: Vec<Box<dyn Script>> = (0..n)
                .map(|_| {
                    let counter = Arc::clone(&counter);
                    let prefix = self.prefix.clone();
                    let admin = self.seeded.admin_token.clone();
                    Box::new(Generated::new(
                        move || {
                            let i = counter.fetch_add(1, Ordering::Relaxed);
                            let body = json!({
                                "username": format!("{prefix}new{i}"),
                                "password": USER_PASSWORD,
                            });
                            Call::post_json("/users", &body)
                                .and_then(|c| c.bearer(&admin))
                                .ok()
                        },
                        Expect::status(StatusCode::CREATED),
                    )) as Box<dyn Script>
                })
                .collect();
            let ceiling = Some(self.ceilings.argon2());
            rows.push(self.measure("user-create", scripts, ceiling).await);
        }

        if self.opts.wants("login-flood") {
            rows.extend(self.login_flood().await?);
        }
        rows.extend(self.eqeqo().await?);
        Ok(rows)
    }

    /// Eqeqo's door, on its own listener: the same user tokens (opaque, Eqeqo's `token` header),
    /// a service token made by the admin, and logins.
    async fn eqeqo(&mut self) -> anyhow::Result<Vec<Row>> {
        let wanted = [
            "eqeqo-profile",
            "eqeqo-check-token",
            "eqeqo-person-service",
            "eqeqo-login",
        ];
        if !wanted.iter().any(|w| self.opts.wants(w)) {
            return Ok(Vec::new());
        }
        let addr = self.eqeqo;
        let n = self.opts.connections;
        let ok = Expect::status(StatusCode::OK);
        let token = HeaderName::from_static("token");
        let first = (2 * TOKEN_USERS).min(self.users.len().saturating_sub(1));
        let last = (3 * TOKEN_USERS).min(self.users.len()).max(first + 1);
        eprintln!("logging in {} users on the Eqeqo door", last - first);
        let logins = (first..last)
            .map(|i| eqeqo_login(self.user(i), USER_PASSWORD))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let tokens = batch(addr, logins, SETUP_PARALLEL)
            .await?
            .into_iter()
            .map(|a| {
                a.ensure_status(StatusCode::OK, "a load-test user's Eqeqo login")?
                    .field("token")
            })
            .collect::<anyhow::Result<Vec<String>>>()?;
        let mut rows = Vec::new();

        if self.opts.wants("eqeqo-profile") {
            let calls = tokens
                .iter()
                .map(|t| Call::get("/auth/profile")?.header(token.clone(), t))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let scripts = round_robin(&Arc::new(calls), n, ok);
            let ceiling = Some(self.ceilings.rs256());
            rows.push(
                measure_at(
                    "eqeqo-profile",
                    addr,
                    self.pid,
                    self.bounds,
                    scripts,
                    ceiling,
                )
                .await,
            );
        }

        if self.opts.wants("eqeqo-check-token") {
            let mut client = Client::new(addr);
            let admin = client
                .send(&eqeqo_login("admin", crate::server::ADMIN_PASSWORD)?)
                .await?
                .ensure_status(StatusCode::OK, "the admin's Eqeqo login")?
                .field("token")?;
            let path = format!("/services/{}/token", self.seeded.service_id);
            let service = client
                .send(&Call::post_empty(&path)?.header(token.clone(), &admin)?)
                .await?
                .ensure_status(StatusCode::OK, "a service token")?
                .field("token")?;
            let service_header = HeaderName::from_static("service-token");
            let calls = tokens
                .iter()
                .map(|t| {
                    Call::post_empty("/check-token")?
                        .header(token.clone(), t)?
                        .header(service_header.clone(), &service)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let answer = client
                .send(calls.first().context("no token")?)
                .await?
                .ensure_status(StatusCode::OK, "Eqeqo's check-token")?;
            let permissions = answer
                .json()?
                .pointer("/access/permissions")
                .and_then(serde_json::Value::as_array)
                .map_or(0, Vec::len);
            anyhow::ensure!(
                permissions == 2,
                "Eqeqo's check-token found {permissions} permissions, not the 2 granted: {}",
                answer.text()
            );
            let scripts = round_robin(&Arc::new(calls), n, ok);
            let ceiling = Some(self.ceilings.rs256());
            rows.push(
                measure_at(
                    "eqeqo-check-token",
                    addr,
                    self.pid,
                    self.bounds,
                    scripts,
                    ceiling,
                )
                .await,
            );
        }

        if self.opts.wants("eqeqo-person-service") {
            let calls = tokens
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let path = format!(
                        "/people/{}/services/{}",
                        self.user(first + i),
                        self.seeded.service_id
                    );
                    Call::get(&path)?.header(token.clone(), t)
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let scripts = round_robin(&Arc::new(calls), n, ok);
            let ceiling = Some(self.ceilings.rs256());
            rows.push(
                measure_at(
                    "eqeqo-person-service",
                    addr,
                    self.pid,
                    self.bounds,
                    scripts,
                    ceiling,
                )
                .await,
            );
        }

        if self.opts.wants("eqeqo-login") {
            let calls = Arc::new(
                self.users
                    .iter()
                    .map(|u| eqeqo_login(u, USER_PASSWORD))
                    .collect::<anyhow::Result<Vec<_>>>()?,
            );
            let shared = Arc::new(AtomicUsize::new(self.users.len() / 3));
            let scripts: Vec<Box<dyn Script>> = (0..n)
                .map(|_| {
                    Box::new(Picker::new(
                        Arc::clone(&calls),
                        Cursor::Shared(Arc::clone(&shared)),
                        ok,
                    )) as Box<dyn Script>
                })
                .collect();
            let ceiling = Some(self.ceilings.argon2());
            rows.push(
                measure_at("eqeqo-login", addr, self.pid, self.bounds, scripts, ceiling).await,
            );
        }

        for row in &rows {
            if let Some((_, eqeqo)) = EQEQO_MEASURED.iter().find(|(name, _)| *name == row.name) {
                let rate = row.report.rate();
                self.notes.push(format!(
                    "{}: {:.0} req/s, {:.1}× Eqeqo's {:.0} req/s on a machine of this kind (target: {EQEQO_FACTOR}×).",
                    row.name,
                    rate,
                    rate / eqeqo,
                    eqeqo
                ));
            }
        }
        Ok(rows)
    }

    /// A client of 4 connections measures check-token alone, then again while 256 connections
    /// post logins with wrong passwords (each one hashed) of random users.
    async fn login_flood(&mut self) -> anyhow::Result<Vec<Row>> {
        let ok = Expect::status(StatusCode::OK);
        let tokens = self.jwt_tokens().await?;
        let checks = Self::check_calls(&tokens, None)?;
        let alone = self
            .measure(
                "check-token-4c",
                round_robin(&checks, PROBE_CONNECTIONS, ok),
                Some(self.ceilings.rs256()),
            )
            .await;

        let wrong = Arc::new(
            self.users
                .iter()
                .map(|u| login_call(u, "Not-the-Pa55word-0", None))
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
        let refused = Expect {
            shed_ok: true,
            ..Expect::status(StatusCode::UNAUTHORIZED)
        };
        let flood: Vec<Box<dyn Script>> = (0..self.opts.flood_connections)
            .map(|i| {
                Box::new(Picker::new(
                    Arc::clone(&wrong),
                    Cursor::Random(Rng::new(1_000 + i as u64)),
                    refused,
                )) as Box<dyn Script>
            })
            .collect();
        eprintln!(
            "login-flood: {} connections of wrong-password logins, {PROBE_CONNECTIONS} of check-token beside them, for {} s",
            self.opts.flood_connections,
            self.bounds.duration.as_secs()
        );
        let sampler = RssSampler::start(self.pid);
        let (flooded, probed) = tokio::join!(
            load::run(self.addr, self.bounds, flood),
            load::run(
                self.addr,
                self.bounds,
                round_robin(&checks, PROBE_CONNECTIONS, ok)
            ),
        );
        let peak = sampler.peak().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = rss_kib(self.pid).unwrap_or(0);
        // Hashing threads give their memory back after two idle seconds: how much is left later.
        tokio::time::sleep(Duration::from_secs(9)).await;
        let after_10s = rss_kib(self.pid).unwrap_or(0);
        let flood_row = Row {
            name: "login-flood".into(),
            report: flooded,
            peak_rss_kib: peak.max(after),
            after_rss_kib: after,
            ceiling: Some(self.ceilings.argon2()),
        };
        let probe_row = Row {
            name: "check-token-4c+flood".into(),
            report: probed,
            peak_rss_kib: peak.max(after),
            after_rss_kib: after,
            ceiling: Some(self.ceilings.rs256()),
        };
        progress(&flood_row);
        progress(&probe_row);
        self.notes.push(format!(
            "login-flood: check-token p99 with {PROBE_CONNECTIONS} connections was {:.2} ms alone and {:.2} ms during the flood of {} connections of wrong-password logins, which got {} answers 401 and {} shed (503 with Retry-After, 429, 423); the two rows share the flood's memory figures; the server's RSS 10 s after the flood was {}.",
            alone.report.latency.percentile_ms(0.99),
            probe_row.report.latency.percentile_ms(0.99),
            self.opts.flood_connections,
            flood_row.report.ok,
            flood_row.report.shed,
            mib(after_10s),
        ));
        Ok(vec![alone, flood_row, probe_row])
    }
}

/// `POST /auth/login` on the Eqeqo door.
fn eqeqo_login(username: &str, password: &str) -> anyhow::Result<Call> {
    Call::post_json(
        "/auth/login",
        &json!({ "username": username, "password": password }),
    )
}

fn run_tag() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs:x}")
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

/// The whole run: the ceiling server's two scenarios, then Tessera (import, start, seeding, the
/// chosen scenarios, a restart). `ceilings` comes with the CPU figures filled in; `hash` is the
/// users' password hash.
///
/// # Errors
/// When a server cannot start, seeding fails, or a sanity check of an answer fails.
pub async fn run_all(
    opts: &Options,
    keys: &Keys,
    hash: &str,
    mut ceilings: Ceilings,
) -> anyhow::Result<Results> {
    let bounds = Bounds {
        duration: opts.duration,
        max_requests: MAX_REQUESTS,
    };
    let n = opts.connections;
    let ok = Expect::status(StatusCode::OK);
    let mut rows = Vec::new();

    // The ceiling server, alone on the machine; stopped before Tessera starts.
    {
        eprintln!("starting the ceiling server ({} workers)", opts.threads);
        let ceiling = CeilingServer::start(keys, opts.threads).await?;
        let hello = Arc::new(vec![Call::get("/hello")?]);
        let row = measure_at(
            "ceiling-hello",
            ceiling.addr,
            ceiling.pid(),
            bounds,
            round_robin(&hello, n, ok),
            None,
        )
        .await;
        ceilings.hello = row.report.rate();
        rows.push(row);
        let verify = Arc::new(vec![Call::get("/verify")?.bearer(&keys.token("42")?)?]);
        let row = measure_at(
            "ceiling-rs256",
            ceiling.addr,
            ceiling.pid(),
            bounds,
            round_robin(&verify, n, ok),
            None,
        )
        .await;
        ceilings.rs256_verify = row.report.rate();
        rows.push(row);
    }

    let mut tessera = Tessera::new(&opts.server, opts.postgres.as_deref())?;
    let tag = run_tag();
    let prefix = format!("lt{tag}-");
    let file = tessera.dir().join("users.jsonl");
    let users = Arc::new(write_import(&file, &prefix, opts.users, hash)?);
    eprintln!("importing {} users", users.len());
    let import = tessera.import(&file)?;
    let start = tessera.start().await?;
    let pid = tessera.pid().context("the server is not running")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kib(pid).unwrap_or(0);
    eprintln!(
        "tessera ready in {}, {} idle; seeding the authorization data",
        ms(start),
        mib(idle)
    );
    let seeded = seed_api(
        tessera.addr,
        &tag,
        &prefix,
        &users,
        GRANTED_USERS.min(users.len()),
    )
    .await?;

    let mut ctx = Context {
        addr: tessera.addr,
        eqeqo: tessera.eqeqo_addr,
        pid,
        bounds,
        opts,
        ceilings: &ceilings,
        users,
        prefix,
        seeded,
        jwt: None,
        login_calls: None,
        notes: Vec::new(),
    };
    rows.extend(ctx.run().await?);
    let mut notes = std::mem::take(&mut ctx.notes);
    let user_count = ctx.users.len();
    drop(ctx);

    eprintln!("restarting tessera (SIGTERM, then start on the same directory)");
    tessera.stop().await?;
    let restart = tessera.start().await?;
    tessera.stop().await?;

    let process = vec![
        (
            format!("import of {user_count} users (`tessera import`, stopped server)"),
            ms(import),
        ),
        (
            "start-to-ready (first start, after the import migrated and made the keys)".into(),
            ms(start),
        ),
        (
            "idle RSS (1 s after ready, before any load)".into(),
            mib(idle),
        ),
        (
            "restart-to-ready (SIGTERM after the scenarios, start on the same data)".into(),
            ms(restart),
        ),
    ];
    notes.insert(
        0,
        "requests and req/s count expected answers only; latencies are theirs, from sending the request to reading the whole answer.".into(),
    );
    Ok(Results {
        ceilings,
        rows,
        process,
        notes,
        database: tessera.database,
    })
}
