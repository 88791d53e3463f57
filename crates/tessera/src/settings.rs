//! Configuration: built-in defaults, then an optional TOML file, then environment variables.
//!
//! Environment variables are `TESSERA_<SECTION>__<KEY>` (double underscore between section and key),
//! for example `TESSERA_SERVER__BIND`, `TESSERA_DATABASE__URL`, `TESSERA_KEYS__DIR`,
//! `TESSERA_TOKENS__ISSUER`, `TESSERA_TOKENS__AUDIENCE` (comma-separated),
//! `TESSERA_TOKENS__ACCESS_TTL_SECONDS`, `TESSERA_TOKENS__REFRESH_TTL_SECONDS`,
//! `TESSERA_PASSWORD_HASHING__MEMORY_KIB`, `TESSERA_PASSWORD_POLICY__MIN_LENGTH`, `TESSERA_LOG__FORMAT`.
//! `TESSERA_BOOTSTRAP_ADMIN_PASSWORD` (single underscores) is accepted for `[bootstrap] admin_password`.
//! Variables with the prefix but without a double underscore are not configuration and are ignored.
//! Every key is listed in `docs/CONFIGURATION.md`; an unknown key stops start-up.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer};
use tessera_crypto::HashingConfig;
use tessera_domain::credentials::TokenFormat;
use tessera_domain::lockout::LockoutPolicy;
use tessera_domain::password::Password;
use tessera_domain::password::PasswordPolicy;
use tessera_domain::recovery::RecoverySettings;
use tessera_domain::sessions::SessionPolicy;

pub const DEFAULT_CONFIG_FILE: &str = "tessera.toml";
const ENV_PREFIX: &str = "TESSERA_";

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub keys: KeySettings,
    pub tokens: TokenSettings,
    pub password_hashing: HashingConfig,
    pub password_policy: PasswordPolicy,
    pub bootstrap: BootstrapSettings,
    pub log: LogSettings,
    pub cleanup: CleanupSettings,
    pub lockout: LockoutPolicy,
    pub audit: AuditSettings,
    pub recovery: RecoverySettings,
    pub rate_limit: RateLimitConfig,
    pub sessions: SessionPolicy,
    pub cookies: CookieConfig,
    pub metrics: MetricsConfig,
    pub cluster: ClusterSettings,
    pub redis: RedisSettings,
    pub traces: TraceSettings,
}

/// `[traces]`: optional OpenTelemetry trace export over OTLP (HTTP, JSON).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceSettings {
    /// The collector's base URL, such as `http://127.0.0.1:4318`; spans go to `<it>/v1/traces`.
    /// Empty: no export.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TraceSettings {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            service_name: "tessera".into(),
        }
    }
}

/// `[redis]`: optional; shared rate limits and instant revocation announcements for several nodes.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:port/db`; empty: no Redis.
    pub url: String,
    /// Prefix of every key and channel, so that installations can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: "tessera".into(),
        }
    }
}

/// `[cluster]`: how a node learns what other nodes (and the admin commands) changed.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// How often the node reads new session revocations from the database and looks for new
    /// signing keys in the key folder: the bound on how long another node's logout, password
    /// change or user deletion takes to reach this one.
    pub sync_interval_milliseconds: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            sync_interval_milliseconds: 500,
        }
    }
}

/// `[metrics]`: Prometheus metrics at `GET /metrics`.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// An address of their own (such as `127.0.0.1:9090`); empty: on the main listener.
    pub bind: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: String::new(),
        }
    }
}

/// `[cookies]`: the browser-session cookie.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieConfig {
    pub name: String,
    /// Mark the cookie `Secure` (HTTPS only); turn off for plain-HTTP development.
    pub secure: bool,
    /// Lifetime of a browser session's token, renewed by use as opaque tokens are.
    pub ttl_seconds: i64,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            name: "tessera_session".into(),
            secure: true,
            ttl_seconds: 3600,
        }
    }
}

/// `[rate_limit]`: limits on the requests that check credentials (the HTTP front door applies them).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub per_ip_per_minute: u32,
    pub per_username_per_minute: u32,
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            per_ip_per_minute: 60,
            per_username_per_minute: 10,
            trusted_proxies: vec![],
        }
    }
}

impl RateLimitConfig {
    /// The trusted proxies as addresses.
    ///
    /// # Errors
    /// For a trusted proxy that is not an IP address, naming it.
    pub fn trusted_proxy_addrs(&self) -> anyhow::Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "invalid configuration: rate_limit.trusted_proxies: {p:?} is not an IP address"
                    )
                })
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Entries older than this are deleted by the clean-up job.
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    /// HTTP worker threads; 0: one per core.
    pub workers: usize,
    pub shutdown_timeout_seconds: u64,
    /// How long a request body may take to arrive, from the first byte to the last.
    pub request_body_timeout_seconds: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8081".into(),
            workers: 0,
            shutdown_timeout_seconds: 30,
            request_body_timeout_seconds: 10,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout_ms: u64,
    /// How long a request waits for a database connection (while the database is down, say)
    /// before it is answered 503.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://./data/tessera.db".into(),
            max_connections: 8,
            busy_timeout_ms: 5000,
            acquire_timeout_ms: 5000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    pub dir: PathBuf,
    /// The algorithm of new signing keys: `RS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    /// Make a new signing key this many days after the newest one; 0: only by hand.
    pub rotate_every_days: u32,
}

impl KeySettings {
    /// The configured algorithm.
    ///
    /// # Errors
    /// For a name that is not `RS256`, `ES256` or `EdDSA`.
    pub fn signing_alg(&self) -> anyhow::Result<tessera_crypto::keys::SigningAlg> {
        tessera_crypto::keys::SigningAlg::parse(&self.algorithm).ok_or_else(|| {
            anyhow::anyhow!(
                "invalid configuration: keys.algorithm must be RS256, ES256 or EdDSA, got {:?}",
                self.algorithm
            )
        })
    }
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./data/keys"),
            algorithm: "RS256".into(),
            rotate_every_days: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// Defaults to `http://<bind>`.
    pub issuer: Option<String>,
    #[serde(deserialize_with = "string_or_list")]
    pub audience: Vec<String>,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    pub refresh_reuse_grace_seconds: i64,
    pub leeway_seconds: i64,
    pub client_id: String,
    pub scope: String,
    /// Lifetime of an opaque access token, and of each renewal.
    pub opaque_ttl_seconds: i64,
    /// A use of an opaque token at most this long before its expiry renews it.
    pub opaque_renew_threshold_seconds: i64,
    /// What `POST /auth/login` hands out when the request does not say: `jwt` or `opaque`.
    pub default_format: String,
    /// How long a pending MFA login (the `mfa_token`) lasts.
    pub mfa_token_ttl_seconds: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: vec!["tessera".into()],
            access_ttl_seconds: 900,
            refresh_ttl_seconds: 2_592_000,
            refresh_reuse_grace_seconds: 10,
            leeway_seconds: 5,
            client_id: "tessera".into(),
            scope: "openid profile email".into(),
            opaque_ttl_seconds: 300,
            opaque_renew_threshold_seconds: 30,
            default_format: "jwt".into(),
            mfa_token_ttl_seconds: 300,
        }
    }
}

/// The periodic job that prunes expired credentials and writes API-key last-use times.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleanupSettings {
    pub interval_seconds: u64,
    /// Rows deleted per transaction.
    pub batch_size: u32,
    /// Transactions per run at most; what is left waits for the next run.
    pub max_batches: u32,
}

impl Default for CleanupSettings {
    fn default() -> Self {
        Self {
            interval_seconds: 60,
            batch_size: 500,
            max_batches: 20,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Password of the first admin; a random one is printed once when unset.
    pub admin_password: Option<SecretString>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `json` or `text`.
    pub format: String,
    /// A tracing filter such as `info` or `tessera=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "json".into(),
            level: "info".into(),
        }
    }
}

/// Accepts `["a", "b"]` or `"a,b"`.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

/// The configuration variables among `vars`, renamed to the `__`-separated form.
fn config_vars(vars: impl IntoIterator<Item = (String, String)>) -> HashMap<String, String> {
    vars.into_iter()
        .filter_map(|(k, v)| {
            if k == "TESSERA_BOOTSTRAP_ADMIN_PASSWORD" {
                return Some(("TESSERA_BOOTSTRAP__ADMIN_PASSWORD".to_owned(), v));
            }
            let rest = k.strip_prefix(ENV_PREFIX)?;
            rest.contains("__").then_some((k, v))
        })
        .collect()
}

/// The longest lifetime any token setting may give: ten years.
pub const MAX_LIFETIME_SECONDS: i64 = 10 * 365 * 24 * 3600;

impl Settings {
    /// Seconds a retired signing key stays published: the longest an access token it signed lives.
    pub fn key_retirement(&self) -> i64 {
        self.tokens.access_ttl_seconds + self.tokens.leeway_seconds
    }

    /// Loads defaults, then `file` (or `tessera.toml` when it exists), then the environment `vars`.
    ///
    /// # Errors
    /// For an unreadable file, an unknown key or a bad value, naming it.
    pub fn load(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "configuration file {} not found",
                    path.display()
                );
                builder =
                    builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
            }
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                builder = builder.add_source(
                    config::File::from(Path::new(DEFAULT_CONFIG_FILE))
                        .format(config::FileFormat::Toml),
                );
            }
            None => {}
        }
        builder = builder.add_source(
            config::Environment::with_prefix("TESSERA")
                .prefix_separator("_")
                .separator("__")
                .source(Some(config_vars(vars))),
        );
        let settings: Self = builder
            .build()
            .context("cannot read the configuration")?
            .try_deserialize()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that parse but cannot work, naming the key.
    ///
    /// # Errors
    /// The first bad value.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.server.bind.parse::<SocketAddr>().with_context(|| {
            format!(
                "invalid configuration: server.bind {:?} is not an address:port",
                self.server.bind
            )
        })?;
        anyhow::ensure!(
            self.server.request_body_timeout_seconds > 0,
            "invalid configuration: server.request_body_timeout_seconds must be positive"
        );
        let t = &self.tokens;
        let positive = [
            ("tokens.access_ttl_seconds", t.access_ttl_seconds),
            ("tokens.refresh_ttl_seconds", t.refresh_ttl_seconds),
            ("tokens.opaque_ttl_seconds", t.opaque_ttl_seconds),
            ("tokens.mfa_token_ttl_seconds", t.mfa_token_ttl_seconds),
        ];
        for (key, v) in positive {
            anyhow::ensure!(
                v > 0,
                "invalid configuration: {key} must be positive, got {v}"
            );
        }
        anyhow::ensure!(
            t.refresh_reuse_grace_seconds >= 0 && t.leeway_seconds >= 0,
            "invalid configuration: tokens.refresh_reuse_grace_seconds and tokens.leeway_seconds must not be negative"
        );
        // Every lifetime is added to a Unix time: bounded, no sum can overflow.
        let bounded = positive.into_iter().chain([
            ("tokens.leeway_seconds", t.leeway_seconds),
            (
                "tokens.refresh_reuse_grace_seconds",
                t.refresh_reuse_grace_seconds,
            ),
            (
                "tokens.opaque_renew_threshold_seconds",
                t.opaque_renew_threshold_seconds,
            ),
            ("cookies.ttl_seconds", self.cookies.ttl_seconds),
        ]);
        for (key, v) in bounded {
            anyhow::ensure!(
                v <= MAX_LIFETIME_SECONDS,
                "invalid configuration: {key} must be at most {MAX_LIFETIME_SECONDS} (ten years), got {v}"
            );
        }
        anyhow::ensure!(
            self.cookies.ttl_seconds > t.opaque_renew_threshold_seconds,
            "invalid configuration: cookies.ttl_seconds must be above tokens.opaque_renew_threshold_seconds"
        );
        anyhow::ensure!(
            (0..t.opaque_ttl_seconds).contains(&t.opaque_renew_threshold_seconds),
            "invalid configuration: tokens.opaque_renew_threshold_seconds must be at least 0 and below tokens.opaque_ttl_seconds"
        );
        anyhow::ensure!(
            !tessera_domain::oauth::is_client_id(&t.client_id),
            "invalid configuration: tokens.client_id must not start with {:?}, which marks the OAuth clients Tessera registers",
            tessera_domain::oauth::CLIENT_ID_PREFIX
        );
        anyhow::ensure!(
            TokenFormat::parse(&t.default_format).is_some(),
            "invalid configuration: tokens.default_format must be jwt or opaque, got {:?}",
            t.default_format
        );
        self.rate_limit.trusted_proxy_addrs()?;
        if let Some(password) = &self.bootstrap.admin_password {
            let password = Password::new(password.expose_secret().to_owned());
            let broken = self
                .password_policy
                .violations(&password, tessera_domain::users::BOOTSTRAP_ADMIN);
            anyhow::ensure!(
                broken.is_empty(),
                "invalid configuration: bootstrap.admin_password (TESSERA_BOOTSTRAP_ADMIN_PASSWORD) \
                 breaks the password policy: it needs {}",
                broken
                    .iter()
                    .map(|rule| self.password_policy.describe(rule))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        self.keys.signing_alg()?;
        if !self.metrics.bind.is_empty() {
            self.metrics.bind.parse::<SocketAddr>().with_context(|| {
                format!(
                    "invalid configuration: metrics.bind {:?} is not an address:port",
                    self.metrics.bind
                )
            })?;
        }
        anyhow::ensure!(
            !self.cookies.name.is_empty()
                && self
                    .cookies
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "invalid configuration: cookies.name must be letters, digits, _ and -"
        );
        anyhow::ensure!(
            self.sessions.idle_timeout_seconds > 0 && self.sessions.absolute_lifetime_seconds > 0,
            "invalid configuration: sessions.idle_timeout_seconds and sessions.absolute_lifetime_seconds must be positive"
        );
        anyhow::ensure!(
            self.rate_limit.per_ip_per_minute > 0 && self.rate_limit.per_username_per_minute > 0,
            "invalid configuration: rate_limit.per_ip_per_minute and rate_limit.per_username_per_minute must be positive"
        );
        self.recovery
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        anyhow::ensure!(
            self.audit.retention_days > 0,
            "invalid configuration: audit.retention_days must be positive"
        );
        anyhow::ensure!(
            self.lockout.duration_seconds > 0,
            "invalid configuration: lockout.duration_seconds must be positive"
        );
        anyhow::ensure!(
            self.lockout.max_duration_seconds >= self.lockout.duration_seconds,
            "invalid configuration: lockout.max_duration_seconds must not be below lockout.duration_seconds"
        );
        let c = &self.cleanup;
        anyhow::ensure!(
            c.interval_seconds > 0 && c.batch_size > 0 && c.max_batches > 0,
            "invalid configuration: cleanup.interval_seconds, cleanup.batch_size and cleanup.max_batches must be positive"
        );
        anyhow::ensure!(
            !t.audience.is_empty(),
            "invalid configuration: tokens.audience must name at least one audience"
        );
        anyhow::ensure!(
            matches!(self.log.format.as_str(), "json" | "text"),
            "invalid configuration: log.format must be json or text, got {:?}",
            self.log.format
        );
        anyhow::ensure!(
            (10..=60_000).contains(&self.cluster.sync_interval_milliseconds),
            "invalid configuration: cluster.sync_interval_milliseconds must be between 10 and 60000"
        );
        anyhow::ensure!(
            self.traces.otlp_endpoint.is_empty()
                || self.traces.otlp_endpoint.starts_with("http://")
                || self.traces.otlp_endpoint.starts_with("https://"),
            "invalid configuration: traces.otlp_endpoint must be an http:// or https:// URL"
        );
        anyhow::ensure!(
            self.database.max_connections > 0,
            "invalid configuration: database.max_connections must be positive"
        );
        self.password_policy
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_the_design() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8081");
        assert_eq!(s.database.url, "sqlite://./data/tessera.db");
        assert_eq!(s.keys.dir, PathBuf::from("./data/keys"));
        assert_eq!(s.tokens.audience, vec!["tessera"]);
        assert_eq!(s.tokens.access_ttl_seconds, 900);
        assert_eq!(s.tokens.refresh_ttl_seconds, 2_592_000);
        assert_eq!(s.password_hashing.memory_kib, 19_456);
        assert!(s.bootstrap.admin_password.is_none());
        assert_eq!(s.tokens.opaque_ttl_seconds, 300);
        assert_eq!(s.tokens.opaque_renew_threshold_seconds, 30);
        assert_eq!(s.cleanup.interval_seconds, 60);
        assert_eq!(
            (s.lockout.max_failures, s.lockout.duration_seconds),
            (5, 900)
        );
    }

    #[test]
    fn environment_overrides_with_double_underscores() {
        let s = Settings::load(
            None,
            env(&[
                ("TESSERA_SERVER__BIND", "0.0.0.0:9000"),
                ("TESSERA_TOKENS__AUDIENCE", "a, b"),
                ("TESSERA_TOKENS__ACCESS_TTL_SECONDS", "60"),
                ("TESSERA_BOOTSTRAP_ADMIN_PASSWORD", "0123456789012345"),
                ("TESSERA_TEST_POSTGRES_URL", "postgres://ignored"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.tokens.audience, vec!["a", "b"]);
        assert_eq!(s.tokens.access_ttl_seconds, 60);
        assert_eq!(
            s.bootstrap.admin_password.unwrap().expose_secret(),
            "0123456789012345"
        );
    }

    #[test]
    fn a_file_layer_sits_between_defaults_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "[tokens]\naudience = [\"x\", \"y\"]\naccess_ttl_seconds = 120\n[server]\nbind = \"127.0.0.1:1\"\n").unwrap();
        let s =
            Settings::load(Some(&path), env(&[("TESSERA_SERVER__BIND", "127.0.0.1:2")])).unwrap();
        assert_eq!(s.tokens.audience, vec!["x", "y"]);
        assert_eq!(s.tokens.access_ttl_seconds, 120);
        assert_eq!(s.server.bind, "127.0.0.1:2");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let err = Settings::load(None, env(&[("TESSERA_SERVER__BINDD", "x")])).unwrap_err();
        assert!(format!("{err:#}").contains("bindd"), "{err:#}");
        let err = Settings::load(None, env(&[("TESSERA_NOPE__X", "1")])).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
        let err =
            Settings::load(None, env(&[("TESSERA_SERVER__BIND", "not an address")])).unwrap_err();
        assert!(format!("{err:#}").contains("server.bind"), "{err:#}");
        let err = Settings::load(None, env(&[("TESSERA_TOKENS__ACCESS_TTL_SECONDS", "soon")]))
            .unwrap_err();
        assert!(format!("{err:#}").contains("access_ttl_seconds"), "{err:#}");
        let err =
            Settings::load(None, env(&[("TESSERA_TOKENS__DEFAULT_FORMAT", "paseto")])).unwrap_err();
        assert!(
            format!("{err:#}").contains("tokens.default_format"),
            "{err:#}"
        );
        let err =
            Settings::load(None, env(&[("TESSERA_TOKENS__CLIENT_ID", "tc_mine")])).unwrap_err();
        assert!(format!("{err:#}").contains("tokens.client_id"), "{err:#}");
        let err = Settings::load(
            None,
            env(&[("TESSERA_TOKENS__OPAQUE_RENEW_THRESHOLD_SECONDS", "300")]),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("opaque_renew_threshold"),
            "{err:#}"
        );
        let err = Settings::load(
            None,
            env(&[("TESSERA_TOKENS__ACCESS_TTL_SECONDS", "9223372036854775807")]),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("tokens.access_ttl_seconds must be at most"),
            "{err:#}"
        );
        let err = Settings::load(None, env(&[("TESSERA_CLEANUP__BATCH_SIZE", "0")])).unwrap_err();
        assert!(format!("{err:#}").contains("cleanup.batch_size"), "{err:#}");
        let err = Settings::load(None, env(&[("TESSERA_LOG__FORMAT", "xml")])).unwrap_err();
        assert!(format!("{err:#}").contains("log.format"), "{err:#}");
        let missing =
            Settings::load(Some(Path::new("/nonexistent/tessera.toml")), env(&[])).unwrap_err();
        assert!(missing.to_string().contains("not found"));
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");

    #[test]
    fn the_shipped_configuration_loads_and_the_config_map_holds_the_same_file() {
        let file = Path::new(DEPLOY).join("tessera.toml");
        let s = Settings::load(Some(&file), Vec::<(String, String)>::new()).unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:8081");
        assert_eq!(s.metrics.bind, "0.0.0.0:9090");
        let toml = std::fs::read_to_string(&file).unwrap();
        let config_map =
            std::fs::read_to_string(Path::new(DEPLOY).join("kubernetes/configmap.yaml")).unwrap();
        let embedded: String = config_map
            .split_once("tessera.toml: |\n")
            .unwrap()
            .1
            .lines()
            .map(|l| l.strip_prefix("    ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            embedded.trim(),
            toml.trim(),
            "deploy/kubernetes/configmap.yaml is out of date"
        );
    }
}
