//! Wiring: adapters, the use cases and the HTTP server, from one `Settings`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use tessera_crypto::{keys, Argon2Hasher, JwtCodec, TokenSecrets, TotpCodes};
use tessera_domain::credentials::{OpaqueSettings, TokenFormat};
use tessera_domain::password::Password;
use tessera_domain::ports::Clock;
use tessera_domain::time::UnixTime;
use tessera_domain::usecases::{Ports, Settings as UseCaseSettings, TokenSettings, UseCases};
use tessera_http::{AppState, HttpSettings};
use tessera_store::{Store, StoreConfig};

use crate::settings::Settings;

/// The system clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }
}

impl SystemClock {
    pub fn now_seconds(self) -> i64 {
        self.now().seconds()
    }
}

/// Signing-key rotation, run with the clean-up: picks up keys made by `tessera keys rotate` (or by
/// another node), makes a new key when the newest is older than the configured interval, and
/// drops keys whose tokens have all expired.
struct KeyRotation {
    codec: Arc<JwtCodec>,
    dir: std::path::PathBuf,
    alg: keys::SigningAlg,
    retire_after: i64,
    every: Option<i64>,
}

impl KeyRotation {
    fn run_once(&self) {
        let now = SystemClock.now_seconds();
        let result = (|| -> anyhow::Result<()> {
            let done = keys::maintain(&self.dir, now, self.alg, self.retire_after, self.every)?;
            if let Some(path) = done.created {
                tracing::info!(path = %path.display(), "rotated the signing key");
            }
            if self.codec.reload(&self.dir, now, self.retire_after)? {
                tracing::info!(kid = %self.codec.signing_kid(), "signing with a new key");
            }
            for gone in done.dropped {
                tracing::info!(path = %gone.display(), "dropped a retired signing key");
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(error = format!("{e:#}"), "cannot rotate signing keys");
        }
    }
}

/// The periodic clean-up: expired credentials, the revocation view, API-key last-use times.
#[derive(Debug, Clone, Copy)]
struct Cleanup {
    every: Duration,
    batch: u32,
    max_batches: u32,
    audit_retention_days: u32,
}

impl Cleanup {
    /// One run, on a blocking thread; failures are logged and retried at the next run.
    async fn run_once(self, core: UseCases) {
        let job = tokio::task::spawn_blocking(move || {
            core.revocations.prune();
            if let Err(e) = core.credentials.flush_key_usage() {
                tracing::warn!(error = format!("{e:#}"), "cannot record API key use");
            }
            match core.credentials.prune_expired(self.batch, self.max_batches) {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned expired credentials"),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "cannot prune expired credentials")
                }
            }
            match core
                .audit
                .prune_audit(self.audit_retention_days, self.batch, self.max_batches)
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "pruned old audit entries"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot prune the audit log"),
            }
        });
        if let Err(e) = job.await {
            tracing::error!(error = %e, "the clean-up job failed");
        }
    }
}

/// How far back each sync reads revocations before its last successful run: covers clocks of
/// nodes that differ by up to this much.
const SYNC_OVERLAP_SECONDS: i64 = 60;

/// Every `every`: adds the sessions other nodes (or admin commands) revoked to this node's view,
/// and picks up signing keys another node added to the shared key folder.
async fn sync_with_other_nodes(core: UseCases, codec: Arc<JwtCodec>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_ok = SystemClock.now();
    let mut failing = false;
    loop {
        tick.tick().await;
        let started = SystemClock.now();
        let from = last_ok.plus(-SYNC_OVERLAP_SECONDS);
        let (core, codec) = (core.clone(), Arc::clone(&codec));
        let outcome = tokio::task::spawn_blocking(move || {
            if let Err(e) = codec.reload_if_changed() {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot read the signing keys again"
                );
            }
            core.revocations.sync(from)
        })
        .await;
        match outcome {
            Ok(Ok(_)) => {
                if failing {
                    tracing::info!("reading revocations from the database again");
                }
                failing = false;
                last_ok = started;
            }
            // Logged once per outage, not every tick.
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!(error = format!("{e:#}"), "cannot read new revocations");
            }
            Ok(Err(_)) => {}
            Err(e) => tracing::error!(error = %e, "the revocation sync job failed"),
        }
    }
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    core: UseCases,
    limits: Arc<tessera_http::rate_limit::RateLimits>,
    metrics_server: Option<actix_web::dev::Server>,
    metrics_port: Option<u16>,
    cleanup: Cleanup,
    rotation: Arc<KeyRotation>,
    sync_every: Duration,
    redis: Option<(
        crate::redis::Redis,
        tokio::sync::mpsc::UnboundedReceiver<Vec<tessera_domain::token::SessionId>>,
    )>,
    /// The first admin's password, when this start created the admin with a random one.
    pub generated_admin_password: Option<Password>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Opens the store described by `settings` and applies pending migrations.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    open_store_at(settings, &settings.database.url)
}

/// Opens (and migrates) the database at `url` with the pool settings of `settings`.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub fn open_store_at(settings: &Settings, url: &str) -> anyhow::Result<Store> {
    Store::open(&StoreConfig {
        url: url.to_owned(),
        max_connections: settings.database.max_connections,
        busy_timeout: Duration::from_millis(settings.database.busy_timeout_ms),
        acquire_timeout: Duration::from_millis(settings.database.acquire_timeout_ms),
    })
}

/// The service and what it is built from, without the HTTP server: what `serve` and the admin
/// commands share.
pub struct Core {
    pub use_cases: UseCases,
    pub keys: Arc<JwtCodec>,
    pub metrics: tessera_http::metrics::MetricsSource,
    /// The first admin's password, when this start created the admin with a random one.
    pub generated_admin_password: Option<Password>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").finish_non_exhaustive()
    }
}

impl Core {
    /// Opens the database (migrating it), creates missing keys, builds the service, and creates
    /// the first admin on an empty database. `default_issuer` applies when none is configured.
    ///
    /// # Errors
    /// When any of those steps fails; the message says which.
    pub fn open(settings: &Settings, default_issuer: &str) -> anyhow::Result<Self> {
        Self::open_announcing(settings, default_issuer, None)
    }

    /// As `open`, sending the sessions this node revokes to `announce` as well.
    ///
    /// # Errors
    /// As `open`.
    pub fn open_announcing(
        settings: &Settings,
        default_issuer: &str,
        announce: Option<tokio::sync::mpsc::UnboundedSender<Vec<tessera_domain::token::SessionId>>>,
    ) -> anyhow::Result<Self> {
        let store = Arc::new(open_store(settings)?);
        let clock = Arc::new(SystemClock);
        let now = clock.now().seconds();
        let report = keys::ensure_keys(&settings.keys.dir, now, settings.keys.signing_alg()?)?;
        if let Some(path) = &report.created_signing_key {
            tracing::info!(path = %path.display(), "created a signing key");
        }
        let codec = Arc::new(JwtCodec::from_dir_at(
            &settings.keys.dir,
            now,
            settings.key_retirement(),
        )?);
        let secrets = Arc::new(TokenSecrets::new(keys::read_hmac_key(&settings.keys.dir)?));
        let metrics = Arc::new(tessera_http::metrics::Metrics::new());
        let timer_metrics = Arc::clone(&metrics);
        let hasher = Arc::new(
            Argon2Hasher::new(&settings.password_hashing)?
                .with_timer(Arc::new(move |d| timer_metrics.password_hash(d))),
        );
        let queue_hasher = Arc::clone(&hasher);
        let metrics_source = tessera_http::metrics::MetricsSource {
            metrics: Arc::clone(&metrics),
            hash_queue: Arc::new(move || queue_hasher.queue_len()),
        };
        let t = &settings.tokens;
        let tokens = TokenSettings {
            issuer: t
                .issuer
                .clone()
                .unwrap_or_else(|| default_issuer.to_owned()),
            audiences: t.audience.clone(),
            access_ttl: t.access_ttl_seconds,
            refresh_ttl: t.refresh_ttl_seconds,
            reuse_grace: t.refresh_reuse_grace_seconds,
            leeway: t.leeway_seconds,
            client_id: t.client_id.clone(),
            scope: t.scope.clone(),
            mfa_ttl: t.mfa_token_ttl_seconds,
        };
        let ports = Ports {
            users: store.clone(),
            sessions: store.clone(),
            access: store.clone(),
            lockout: store.clone(),
            audit: store.clone(),
            recovery: store.clone(),
            mfa: store.clone(),
            directory: store.clone(),
            readiness: store.clone(),
            otp: Arc::new(TotpCodes),
            observer: match announce {
                Some(revoked) => Arc::new(crate::redis::Announcing {
                    inner: metrics,
                    revoked,
                }),
                None => metrics,
            },
            credentials: store,
            hasher,
            secrets,
            codec: codec.clone(),
            clock,
        };
        let core = UseCases::new(
            ports,
            UseCaseSettings {
                tokens,
                password: settings.password_policy.clone(),
                sessions: settings.sessions.clone(),
                lockout: settings.lockout.clone(),
                recovery: settings.recovery.clone(),
                opaque: OpaqueSettings {
                    ttl: t.opaque_ttl_seconds,
                    browser_ttl: settings.cookies.ttl_seconds,
                    renew_threshold: t.opaque_renew_threshold_seconds,
                    default_format: TokenFormat::parse(&t.default_format).unwrap_or_default(),
                },
            },
        );
        let bootstrap_password = settings
            .bootstrap
            .admin_password
            .as_ref()
            .map(|p| Password::new(p.expose_secret().to_owned()));
        let generated_admin_password = match core.accounts.bootstrap_admin(bootstrap_password) {
            Ok(Some(made)) => {
                tracing::info!(
                    user_id = made.admin.id.0,
                    "created the first admin, named admin"
                );
                made.generated_password
            }
            Ok(None) => None,
            Err(e) => anyhow::bail!("cannot create the first admin: {e}"),
        };
        Ok(Self {
            use_cases: core,
            keys: codec,
            metrics: metrics_source,
            generated_admin_password,
        })
    }
}

impl Application {
    /// Opens the database (migrating it), creates missing keys, creates the first admin on an
    /// empty database, and binds the listener.
    ///
    /// # Errors
    /// When any of those steps fails; the message says which.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("cannot listen on {}", settings.server.bind))?;
        let local = listener.local_addr()?;
        let redis = (!settings.redis.url.is_empty())
            .then(|| crate::redis::Redis::new(&settings.redis.url, &settings.redis.key_prefix))
            .transpose()?;
        let (announce, announced) = redis
            .as_ref()
            .map(|_| tokio::sync::mpsc::unbounded_channel())
            .unzip();
        let core = Core::open_announcing(&settings, &format!("http://{local}"), announce)?;
        let generated_admin_password = core.generated_admin_password;
        let (core, codec, metrics) = (core.use_cases, core.keys, core.metrics);
        let m = &settings.metrics;
        let metrics_listener = match (m.enabled, m.bind.as_str()) {
            (true, bind) if !bind.is_empty() => Some(
                TcpListener::bind(bind)
                    .with_context(|| format!("cannot listen on {bind} for metrics"))?,
            ),
            _ => None,
        };
        let loaded = core.revocations.load()?;
        tracing::info!(revocations = loaded, issuer = %core.token_settings().issuer, "service ready");

        let mut limits = tessera_http::rate_limit::RateLimits::new(&settings.rate_limit.to_http()?);
        if let Some(redis) = &redis {
            limits = limits.with_shared(Arc::new(redis.clone()));
            tracing::info!("rate limits and revocations shared through Redis");
        }
        let limits = Arc::new(limits);
        let state = AppState {
            core: core.clone(),
            keys: Arc::clone(&codec),
            limits: Arc::clone(&limits),
            cookies: tessera_http::CookieSettings {
                name: settings.cookies.name.clone(),
                secure: settings.cookies.secure,
            },
            metrics,
            metrics_on_main: m.enabled && metrics_listener.is_none(),
        };
        let metrics_port = metrics_listener
            .as_ref()
            .map(|l| l.local_addr().map(|a| a.port()))
            .transpose()?;
        let metrics_server = metrics_listener
            .map(|l| tessera_http::metrics_server(state.clone(), l))
            .transpose()?;
        let server = tessera_http::server(
            state,
            listener,
            &HttpSettings {
                workers: settings.server.workers,
                shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_seconds),
            },
        )?;
        Ok(Self {
            port: local.port(),
            server,
            core,
            limits,
            metrics_server,
            metrics_port,
            cleanup: Cleanup {
                every: Duration::from_secs(settings.cleanup.interval_seconds),
                batch: settings.cleanup.batch_size,
                max_batches: settings.cleanup.max_batches,
                audit_retention_days: settings.audit.retention_days,
            },
            rotation: Arc::new(KeyRotation {
                codec,
                dir: settings.keys.dir.clone(),
                alg: settings.keys.signing_alg()?,
                retire_after: settings.key_retirement(),
                every: (settings.keys.rotate_every_days > 0)
                    .then(|| i64::from(settings.keys.rotate_every_days) * 86_400),
            }),
            sync_every: Duration::from_millis(settings.cluster.sync_interval_milliseconds),
            redis: redis.zip(announced),
            generated_admin_password,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when metrics have their own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let core = self.core.clone();
        let limits = Arc::clone(&self.limits);
        let rotation = Arc::clone(&self.rotation);
        let cleanup = self.cleanup;
        let pruner = tokio::spawn(async move {
            let mut tick = tokio::time::interval(cleanup.every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                limits.shrink();
                let keys = Arc::clone(&rotation);
                if let Err(e) = tokio::task::spawn_blocking(move || keys.run_once()).await {
                    tracing::error!(error = %e, "the key rotation job failed");
                }
                cleanup.run_once(core.clone()).await;
            }
        });
        let sync = tokio::spawn(sync_with_other_nodes(
            self.core.clone(),
            Arc::clone(&self.rotation.codec),
            self.sync_every,
        ));
        let redis_tasks = self.redis.map(|(redis, announced)| {
            (
                tokio::spawn(crate::redis::announce(redis.clone(), announced)),
                tokio::spawn(crate::redis::listen(redis, self.core.clone())),
            )
        });
        let metrics = self.metrics_server.map(|s| {
            let handle = s.handle();
            (tokio::spawn(s), handle)
        });
        let result = self.server.await;
        if let Some((task, handle)) = metrics {
            handle.stop(true).await;
            let _ = task.await;
        }
        pruner.abort();
        sync.abort();
        if let Some((announcer, listener)) = redis_tasks {
            announcer.abort();
            listener.abort();
        }
        // What was used since the last run is not lost at a graceful stop.
        if let Err(e) = self.core.credentials.flush_key_usage() {
            tracing::warn!(error = format!("{e:#}"), "cannot record API key use");
        }
        result
    }
}
