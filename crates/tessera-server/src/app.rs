//! Wiring: adapters, the use cases and the HTTP server, from one `Settings`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tessera::{Options, Tessera};
use tessera_crypto::{keys, JwtCodec};
use tessera_domain::password::Password;
use tessera_domain::ports::Clock;
use tessera_domain::usecases::UseCases;
use tessera_http::{AppState, HttpSettings};

use crate::settings::Settings;

pub use tessera::{open_store, open_store_at, SystemClock};

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
    tessera: Arc<Tessera>,
    core: UseCases,
    limits: Arc<tessera_http::rate_limit::RateLimits>,
    metrics_server: Option<actix_web::dev::Server>,
    metrics_port: Option<u16>,
    /// The Eqeqo door, when `[eqeqo] bind` opens it.
    eqeqo_server: Option<actix_web::dev::Server>,
    eqeqo_port: Option<u16>,
    cleanup_every: Duration,
    /// Held while the server runs on a SQLite database, so that no second server opens it.
    _data_lock: Option<std::fs::File>,
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

/// SIGINT (Ctrl-C) and SIGTERM alike stop the server gracefully: it stops accepting, and requests
/// in flight may finish within `server.shutdown_timeout_seconds`. A second signal stops it at once.
async fn stop_on_signals(server: actix_web::dev::ServerHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGINT and SIGTERM; stop the server with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping: requests in flight may finish; a second signal stops at once");
    let graceful = server.stop(true);
    let forced = tokio::select! {
        () = graceful => false,
        _ = term.recv() => true,
        _ = int.recv() => true,
    };
    if forced {
        // A graceful stop in progress does not hear another stop command: leave at once.
        tracing::warn!("stopped at once by a second signal; requests in flight were dropped");
        std::process::exit(1);
    }
}

/// One server at a time on a SQLite database: the lock file beside it is held while this server
/// runs (the admin commands may still open it). Several nodes need PostgreSQL.
///
/// # Errors
/// When another server holds the lock, or the lock file cannot be made.
fn lock_sqlite_database(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let tessera_store::Backend::Sqlite(path) = tessera_store::Backend::from_url(url)? else {
        return Ok(None);
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data folder {}", dir.display()))?;
    }
    let lock_path = std::path::PathBuf::from(format!("{}.lock", path.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open the lock file {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Tessera server is running on the SQLite database {}: a SQLite database \
             serves one server; to run several nodes, move to PostgreSQL with \
             `tessera migrate-data` (docs/OPERATIONS.md, \"Scaling out\")",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
        }
    }
}

type Announce = tokio::sync::mpsc::UnboundedSender<Vec<tessera_domain::token::SessionId>>;

/// The metrics, the observer the use cases report to (the metrics, announcing revocations to
/// other nodes when `announce` is set) and the password-hash timer.
#[allow(clippy::type_complexity)]
fn metrics_source_and_observer(
    announce: Option<Announce>,
) -> (
    Arc<tessera_http::metrics::Metrics>,
    Arc<dyn tessera_domain::ports::Observer>,
    Arc<dyn Fn(Duration) + Send + Sync>,
) {
    let metrics = Arc::new(tessera_http::metrics::Metrics::new());
    let timer_metrics = Arc::clone(&metrics);
    let observer: Arc<dyn tessera_domain::ports::Observer> = match announce {
        Some(revoked) => Arc::new(crate::redis::Announcing {
            inner: metrics.clone(),
            revoked,
        }),
        None => metrics.clone(),
    };
    (
        metrics,
        observer,
        Arc::new(move |d| timer_metrics.password_hash(d)),
    )
}

/// The sign-in pages' brand and default language, from `[branding]` and `[pages]`; the logo file
/// is read here, once.
///
/// # Errors
/// When the logo file cannot be read, is too big or is not what its extension says, or a value
/// the settings' checks let through is not one the pages know.
pub fn page_config(settings: &Settings) -> anyhow::Result<tessera_http::pages::PageConfig> {
    use tessera_http::pages::{Brand, Language, Logo, PageConfig};

    let b = &settings.branding;
    let logo = b.read_logo()?.map(|file| Logo {
        bytes: file.bytes.into(),
        content_type: file.content_type,
    });
    let brand = Brand::new(
        b.product_name.clone(),
        &b.accent_color,
        &b.background_color,
        logo,
    )
    .context("invalid configuration: branding")?;
    let default_language =
        Language::from_code(&settings.pages.default_language).ok_or_else(|| {
            anyhow::anyhow!(
                "invalid configuration: pages.default_language {:?} is not a language of the pages",
                settings.pages.default_language
            )
        })?;
    Ok(PageConfig {
        brand,
        default_language,
    })
}

impl Application {
    /// Opens the database (migrating it), creates missing keys, creates the first admin on an
    /// empty database, and binds the listener.
    ///
    /// # Errors
    /// When any of those steps fails; the message says which.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        // First, so that a bad logo file stops start-up before anything is opened.
        let pages = Arc::new(page_config(&settings)?);
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
        let data_lock = lock_sqlite_database(&settings.database.url)?;
        let metrics = metrics_source_and_observer(announce);
        let tessera = Tessera::open_with(
            &settings,
            Options {
                observer: Some(metrics.1),
                hash_timer: Some(metrics.2),
                default_issuer: Some(format!("http://{local}")),
                ..Options::default()
            },
        )?;
        let mut tessera = tessera;
        let generated_admin_password = tessera.take_generated_admin_password();
        let hasher = Arc::clone(tessera.hasher());
        // Twice as many requests as hashing threads may be on the blocking pool at once, so the
        // pool always has the next hash at hand while a request reads or writes the store.
        let password_work = Arc::new(tessera_http::admission::PasswordWork::new(
            hasher.threads() * 2,
            settings.password_hashing.max_waiting,
            Duration::from_secs(1),
        ));
        let work = Arc::clone(&password_work);
        let metrics = tessera_http::metrics::MetricsSource {
            metrics: metrics.0,
            hash_queue: Arc::new(move || hasher.queue_len() + work.waiting()),
        };
        let codec = Arc::clone(tessera.keys());
        let core = tessera.use_cases().clone();
        let tessera = Arc::new(tessera);
        let m = &settings.metrics;
        let metrics_listener = match (m.enabled, m.bind.as_str()) {
            (true, bind) if !bind.is_empty() => Some(
                TcpListener::bind(bind)
                    .with_context(|| format!("cannot listen on {bind} for metrics"))?,
            ),
            _ => None,
        };
        let e = &settings.eqeqo;
        let eqeqo_listener = (!e.bind.is_empty())
            .then(|| {
                TcpListener::bind(&e.bind)
                    .with_context(|| format!("cannot listen on {} for the Eqeqo door", e.bind))
            })
            .transpose()?;
        tracing::info!(revocations = core.revocations.len(), issuer = %core.token_settings().issuer, "service ready");

        let r = &settings.rate_limit;
        let mut limits = tessera_http::rate_limit::RateLimits::new(
            &tessera_http::rate_limit::RateLimitSettings {
                enabled: r.enabled,
                per_ip_per_minute: r.per_ip_per_minute,
                per_username_per_minute: r.per_username_per_minute,
                trusted_proxies: r.trusted_proxy_addrs()?,
            },
        );
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
            pages,
            metrics,
            metrics_on_main: m.enabled && metrics_listener.is_none(),
            body_timeout: Duration::from_secs(settings.server.request_body_timeout_seconds),
            password_work,
        };
        let metrics_port = metrics_listener
            .as_ref()
            .map(|l| l.local_addr().map(|a| a.port()))
            .transpose()?;
        let metrics_server = metrics_listener
            .map(|l| tessera_http::metrics_server(state.clone(), l))
            .transpose()?;
        let http = HttpSettings {
            workers: settings.server.workers,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_seconds),
            // More blocking threads than database connections would only wait for one (or for a
            // hashing turn), each with its stack and its allocator arena.
            blocking_threads: usize::try_from(settings.database.max_connections)
                .unwrap_or(usize::MAX)
                .max(4),
        };
        let eqeqo_port = eqeqo_listener
            .as_ref()
            .map(|l| l.local_addr().map(|a| a.port()))
            .transpose()?;
        let eqeqo_server = eqeqo_listener
            .map(|l| {
                let config = tessera_http::eqeqo::EqeqoConfig {
                    user_token_ttl: e.user_token_ttl_seconds,
                    service_token_ttl: e.service_token_ttl_seconds,
                    renew_threshold: e.renew_threshold_seconds,
                };
                tessera_http::eqeqo::eqeqo_server(state.clone(), config, l, &http)
            })
            .transpose()?;
        let server = tessera_http::server(state, listener, &http)?;
        Ok(Self {
            port: local.port(),
            server,
            tessera,
            core,
            limits,
            metrics_server,
            metrics_port,
            eqeqo_server,
            eqeqo_port,
            cleanup_every: Duration::from_secs(settings.cleanup.interval_seconds),
            _data_lock: data_lock,
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

    /// Stops the server from elsewhere (tests restart one this way).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The port of the metrics listener, when metrics have their own.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// The port of the Eqeqo door, when `[eqeqo] bind` opens it.
    pub fn eqeqo_port(&self) -> Option<u16> {
        self.eqeqo_port
    }

    /// Serves until SIGINT or SIGTERM, then lets in-flight requests finish.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let tessera = Arc::clone(&self.tessera);
        let limits = Arc::clone(&self.limits);
        let rotation = Arc::clone(&self.rotation);
        let every = self.cleanup_every;
        let pruner = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                limits.shrink();
                let keys = Arc::clone(&rotation);
                if let Err(e) = tokio::task::spawn_blocking(move || keys.run_once()).await {
                    tracing::error!(error = %e, "the key rotation job failed");
                }
                // One run on a blocking thread; failures are logged and retried at the next run.
                let job = Arc::clone(&tessera);
                if let Err(e) = tokio::task::spawn_blocking(move || job.clean_up()).await {
                    tracing::error!(error = %e, "the clean-up job failed");
                }
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
        let side_servers: Vec<_> = [self.metrics_server, self.eqeqo_server]
            .into_iter()
            .flatten()
            .map(|s| {
                let handle = s.handle();
                (tokio::spawn(s), handle)
            })
            .collect();
        let stopper = tokio::spawn(stop_on_signals(self.server.handle()));
        let result = self.server.await;
        stopper.abort();
        // The metrics and the Eqeqo door stop with the main listener, letting their requests in
        // flight finish too.
        for (task, handle) in side_servers {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_and_the_pages_know_the_same_languages() {
        let codes: Vec<&str> = tessera_http::pages::Language::ALL
            .iter()
            .map(|l| l.code())
            .collect();
        assert_eq!(codes, tessera::settings::PAGE_LANGUAGES);
        for code in tessera::settings::PAGE_LANGUAGES {
            let mut settings = Settings::default();
            settings.pages.default_language = (*code).to_owned();
            assert_eq!(
                page_config(&settings).unwrap().default_language.code(),
                *code
            );
        }
    }

    #[test]
    fn the_pages_are_branded_from_the_settings_and_a_missing_logo_stops_start_up() {
        let mut settings = Settings::default();
        settings.branding.product_name = "Acme ID".into();
        settings.branding.accent_color = "#c05".into();
        let pages = page_config(&settings).unwrap();
        assert_eq!(pages.brand.product_name, "Acme ID");
        assert!(pages.brand.theme_css().contains("--accent: #c05;"));
        assert!(pages.brand.logo().is_none());
        settings.branding.logo_file = Some("/nonexistent/logo.png".into());
        let err = page_config(&settings).unwrap_err();
        assert!(format!("{err:#}").contains("branding.logo_file"), "{err:#}");
    }
}
