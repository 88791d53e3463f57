//! The ceiling reference: a bare actix-web server with as many workers as Tessera has (one per
//! core), run as a process of its own (`tessera-loadtest ceiling`), answering `GET /hello` and
//! `GET /verify` (an RS256 bearer JWT checked with josekit on every request, never cached); and
//! the RS256 key pair, token and signing-time ceiling of the parent.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use anyhow::Context as _;
use josekit::jwk::KeyPair as _;
use josekit::jws::alg::rsassa::RsassaJwsVerifier;
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use serde_json::json;

use crate::server::{free_addr, wait_ready, ChildGuard};

/// Serves `/hello` and `/verify` on `bind` with `workers` workers until killed.
///
/// # Errors
/// When the key cannot be read or the address bound.
pub fn serve(bind: SocketAddr, public_key: &Path, workers: usize) -> anyhow::Result<()> {
    let pem = std::fs::read(public_key)
        .with_context(|| format!("cannot read {}", public_key.display()))?;
    let verifier = web::Data::new(RS256.verifier_from_pem(pem).context("invalid public key")?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(verifier.clone())
                .route("/hello", web::get().to(hello))
                .route("/verify", web::get().to(verify))
        })
        .workers(workers.max(1))
        // The parent kills this process; no signal handling needed.
        .disable_signals()
        .bind(bind)?
        .run()
        .await
    })?;
    Ok(())
}

async fn hello() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ok": true }))
}

/// Checks the bearer token's RS256 signature and expiry, and answers its `sub`.
async fn verify(req: HttpRequest, verifier: web::Data<RsassaJwsVerifier>) -> HttpResponse {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return HttpResponse::Unauthorized().finish();
    };
    let Ok((payload, _header)) = josekit::jwt::decode_with_verifier(token, verifier.get_ref())
    else {
        return HttpResponse::Unauthorized().finish();
    };
    let live = payload
        .expires_at()
        .is_some_and(|exp| exp > SystemTime::now());
    match payload.subject() {
        Some(sub) if live => HttpResponse::Ok().json(json!({ "sub": sub })),
        _ => HttpResponse::Unauthorized().finish(),
    }
}

/// An RS256 key pair (2048 bits), as PEM.
#[derive(Debug, Clone)]
pub struct Keys {
    private_pem: Vec<u8>,
    /// The public key (SubjectPublicKeyInfo PEM).
    pub public_pem: Vec<u8>,
}

/// The claims of an access token as Tessera signs them (RFC 9068), for `sub`.
fn access_claims(sub: &str) -> anyhow::Result<JwtPayload> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = json!({
        "iss": "http://127.0.0.1:8081",
        "sub": sub,
        "aud": "tessera",
        "exp": now + 3600,
        "iat": now,
        "nbf": now,
        "jti": format!("loadtest-{sub}-{now}-aZ3kQ9xW"),
        "client_id": "tessera",
        "sid": "424242",
        "scope": "openid profile email",
        "roles": ["user"],
        "preferred_username": format!("loadtest-user-{sub}"),
    });
    let serde_json::Value::Object(map) = claims else {
        anyhow::bail!("the claims are not an object");
    };
    Ok(JwtPayload::from_map(map)?)
}

impl Keys {
    /// A new key pair.
    ///
    /// # Errors
    /// When OpenSSL fails.
    pub fn generate() -> anyhow::Result<Self> {
        let pair = RS256
            .generate_key_pair(2048)
            .context("cannot make an RSA key")?;
        Ok(Self {
            private_pem: pair.to_pem_private_key(),
            public_pem: pair.to_pem_public_key(),
        })
    }

    /// An access token for `sub`, valid for an hour.
    ///
    /// # Errors
    /// When signing fails.
    pub fn token(&self, sub: &str) -> anyhow::Result<String> {
        let signer = RS256.signer_from_pem(&self.private_pem)?;
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id("loadtest");
        Ok(josekit::jwt::encode_with_signer(
            &access_claims(sub)?,
            &header,
            &signer,
        )?)
    }

    /// The median time of one RS256 signature of a typical access token (claims and header
    /// serialised each time, as a server does), over `rounds` on this thread.
    ///
    /// # Errors
    /// When signing fails.
    pub fn sign_time(&self, rounds: usize) -> anyhow::Result<Duration> {
        let signer = RS256.signer_from_pem(&self.private_pem)?;
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id("loadtest");
        let claims = access_claims("1234")?;
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds.max(1) {
            let began = Instant::now();
            let token = josekit::jwt::encode_with_signer(&claims, &header, &signer)?;
            times.push(began.elapsed());
            std::hint::black_box(token);
        }
        Ok(median(times))
    }
}

/// The median of some durations (zero for none).
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// The ceiling server running as a child process.
#[derive(Debug)]
pub struct CeilingServer {
    // Declared first: the process is killed before its key file goes.
    child: ChildGuard,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl CeilingServer {
    /// Starts `tessera-loadtest ceiling` (this very binary) with `workers` workers and the
    /// public key of `keys`, and waits for `/hello`.
    ///
    /// # Errors
    /// When it cannot start or does not answer within a minute.
    pub async fn start(keys: &Keys, workers: usize) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("tessera-loadtest-ceiling-")
            .tempdir()?;
        let key_file = dir.path().join("public.pem");
        std::fs::write(&key_file, &keys.public_pem)?;
        let addr = free_addr()?;
        let exe = std::env::current_exe().context("cannot find this program")?;
        let child = Command::new(exe)
            .arg("ceiling")
            .arg("--bind")
            .arg(addr.to_string())
            .arg("--public-key")
            .arg(key_file)
            .arg("--workers")
            .arg(workers.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .spawn()
            .context("cannot start the ceiling server")?;
        let mut child = ChildGuard::new("the ceiling server", child);
        wait_ready(addr, "/hello", &mut child).await?;
        Ok(Self {
            child,
            addr,
            _dir: dir,
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}
