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
    pub eqeqo: EqeqoSettings,
    pub cluster: ClusterSettings,
    pub redis: RedisSettings,
    pub traces: TraceSettings,
    pub pages: PagesSettings,
    pub branding: BrandingSettings,
}

/// The languages the sign-in pages speak, by code. `[pages] default_language` must be one of them;
/// the texts themselves are in tessera-http (`pages::texts`), which has a language for each code
/// here (a test of the server checks that the two lists agree).
pub const PAGE_LANGUAGES: &[&str] = &["en", "es"];

/// `[pages]`: the server-rendered sign-in pages.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagesSettings {
    /// The language of the pages when neither the application (`ui_locales`) nor the browser
    /// (`Accept-Language`) asks for one they speak: a code of `PAGE_LANGUAGES`.
    pub default_language: String,
}

impl Default for PagesSettings {
    fn default() -> Self {
        Self {
            default_language: "en".into(),
        }
    }
}

/// The largest logo file, in bytes (256 KiB): it is kept in memory and sent with every sign-in.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// `[branding]`: what the sign-in pages show of the organisation that runs Tessera.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrandingSettings {
    /// The name in the pages' titles and above their forms: 1 to 64 characters.
    pub product_name: String,
    /// A PNG, SVG or WebP file (by its extension) shown above the product name; read once at
    /// start-up. None or empty: no logo.
    pub logo_file: Option<PathBuf>,
    /// The colour of buttons and links: CSS `#rgb` or `#rrggbb`.
    pub accent_color: String,
    /// The colour behind the pages' card (in the light scheme): CSS `#rgb` or `#rrggbb`.
    pub background_color: String,
}

impl Default for BrandingSettings {
    fn default() -> Self {
        Self {
            product_name: "Tessera".into(),
            logo_file: None,
            accent_color: "#1f5fd1".into(),
            background_color: "#eef1f5".into(),
        }
    }
}

/// A logo as read at start-up: its bytes and their media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoFile {
    pub bytes: Vec<u8>,
    /// `image/png`, `image/svg+xml` or `image/webp`.
    pub content_type: &'static str,
}

/// The kinds of logo files: extension and media type.
const LOGO_TYPES: [(&str, &str); 3] = [
    ("png", "image/png"),
    ("svg", "image/svg+xml"),
    ("webp", "image/webp"),
];

impl BrandingSettings {
    /// The configured logo file, when there is one (an empty path is none).
    pub fn logo_path(&self) -> Option<&Path> {
        self.logo_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }

    /// The media type the logo file's extension names.
    ///
    /// # Errors
    /// For another extension than `.png`, `.svg` or `.webp`.
    fn logo_type(path: &Path) -> anyhow::Result<&'static str> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        LOGO_TYPES
            .iter()
            .find(|(ext, _)| *ext == extension)
            .map(|(_, content_type)| *content_type)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid configuration: branding.logo_file {} must be a .png, .svg or .webp file",
                    path.display()
                )
            })
    }

    /// Reads the logo file, once, at start-up; `None` when no logo is configured.
    ///
    /// # Errors
    /// When the file cannot be read, is larger than 256 KiB, or does not hold what its extension
    /// says (a PNG's signature, a WebP's RIFF header, an SVG's `<svg` element), naming the file.
    pub fn read_logo(&self) -> anyhow::Result<Option<LogoFile>> {
        use std::io::Read as _;

        let Some(path) = self.logo_path() else {
            return Ok(None);
        };
        let content_type = Self::logo_type(path)?;
        let cannot = || {
            format!(
                "invalid configuration: branding.logo_file {} cannot be read",
                path.display()
            )
        };
        let file = std::fs::File::open(path).with_context(cannot)?;
        let mut bytes = Vec::new();
        // One byte more than allowed tells a file that is too big, whatever its metadata says.
        file.take(
            u64::try_from(MAX_LOGO_BYTES)
                .unwrap_or(u64::MAX)
                .saturating_add(1),
        )
        .read_to_end(&mut bytes)
        .with_context(cannot)?;
        anyhow::ensure!(
            bytes.len() <= MAX_LOGO_BYTES,
            "invalid configuration: branding.logo_file {} is larger than 256 KiB ({MAX_LOGO_BYTES} bytes)",
            path.display()
        );
        let looks_right = match content_type {
            "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "image/webp" => {
                bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP".as_slice())
            }
            _ => std::str::from_utf8(&bytes).is_ok_and(|text| text.contains("<svg")),
        };
        anyhow::ensure!(
            looks_right,
            "invalid configuration: branding.logo_file {} is not the {content_type} file its extension says",
            path.display()
        );
        Ok(Some(LogoFile {
            bytes,
            content_type,
        }))
    }

    /// Checks what can be checked without reading the logo file.
    ///
    /// # Errors
    /// The first bad value, naming its key.
    fn validate(&self) -> anyhow::Result<()> {
        let name = &self.product_name;
        anyhow::ensure!(
            !name.trim().is_empty()
                && name.chars().count() <= 64
                && !name.chars().any(char::is_control),
            "invalid configuration: branding.product_name must be 1 to 64 characters, none of them a control character"
        );
        for (key, value) in [
            ("branding.accent_color", &self.accent_color),
            ("branding.background_color", &self.background_color),
        ] {
            anyhow::ensure!(
                is_css_hex_color(value),
                "invalid configuration: {key} must be a CSS colour #rgb or #rrggbb, got {value:?}"
            );
        }
        if let Some(path) = self.logo_path() {
            Self::logo_type(path)?;
        }
        Ok(())
    }
}

/// Whether `value` is `#rgb` or `#rrggbb` in hexadecimal digits: safe to write into a stylesheet.
fn is_css_hex_color(value: &str) -> bool {
    value.strip_prefix('#').is_some_and(|digits| {
        matches!(digits.len(), 3 | 6) && digits.bytes().all(|b| b.is_ascii_hexdigit())
    })
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

/// `[eqeqo]`: a second front door on a listener of its own that speaks the Eqeqo auth API's wire
/// protocol (`docs/EQEQO.md`), so that Eqeqo's clients can be pointed at Tessera unchanged.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EqeqoSettings {
    /// Its address (such as `0.0.0.0:7878`); empty: the door is closed.
    pub bind: String,
    /// Lifetime of a token from the door's login, and of each renewal.
    pub user_token_ttl_seconds: i64,
    /// Lifetime of a service token from the door's `POST /services/{id}/token`.
    pub service_token_ttl_seconds: i64,
    /// A use of a token at most this long before its expiry renews it; 0: never.
    pub renew_threshold_seconds: i64,
}

impl Default for EqeqoSettings {
    fn default() -> Self {
        Self {
            bind: String::new(),
            user_token_ttl_seconds: 300,
            service_token_ttl_seconds: 604_800,
            renew_threshold_seconds: 30,
        }
    }
}

impl EqeqoSettings {
    /// Checks the address and the lifetimes (their upper bound is checked with the others').
    ///
    /// # Errors
    /// The first bad value, naming its key.
    fn validate(&self) -> anyhow::Result<()> {
        if !self.bind.is_empty() {
            self.bind.parse::<SocketAddr>().with_context(|| {
                format!(
                    "invalid configuration: eqeqo.bind {:?} is not an address:port",
                    self.bind
                )
            })?;
        }
        for (key, v) in [
            ("eqeqo.user_token_ttl_seconds", self.user_token_ttl_seconds),
            (
                "eqeqo.service_token_ttl_seconds",
                self.service_token_ttl_seconds,
            ),
        ] {
            anyhow::ensure!(
                v > 0,
                "invalid configuration: {key} must be positive, got {v}"
            );
        }
        anyhow::ensure!(
            (0..self.user_token_ttl_seconds).contains(&self.renew_threshold_seconds),
            "invalid configuration: eqeqo.renew_threshold_seconds must be at least 0 and below eqeqo.user_token_ttl_seconds"
        );
        Ok(())
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
            (
                "eqeqo.user_token_ttl_seconds",
                self.eqeqo.user_token_ttl_seconds,
            ),
            (
                "eqeqo.service_token_ttl_seconds",
                self.eqeqo.service_token_ttl_seconds,
            ),
            (
                "eqeqo.renew_threshold_seconds",
                self.eqeqo.renew_threshold_seconds,
            ),
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
        self.eqeqo.validate()?;
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
        anyhow::ensure!(
            PAGE_LANGUAGES.contains(&self.pages.default_language.as_str()),
            "invalid configuration: pages.default_language must be one of {}, got {:?}",
            PAGE_LANGUAGES.join(", "),
            self.pages.default_language
        );
        self.branding.validate()?;
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

    #[test]
    fn the_eqeqo_door_is_closed_by_default_and_its_values_are_checked() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.eqeqo.bind, "");
        assert_eq!(
            (
                s.eqeqo.user_token_ttl_seconds,
                s.eqeqo.service_token_ttl_seconds,
                s.eqeqo.renew_threshold_seconds
            ),
            (300, 604_800, 30)
        );
        let s = Settings::load(
            None,
            env(&[
                ("TESSERA_EQEQO__BIND", "127.0.0.1:7878"),
                ("TESSERA_EQEQO__USER_TOKEN_TTL_SECONDS", "120"),
                ("TESSERA_EQEQO__RENEW_THRESHOLD_SECONDS", "0"),
            ]),
        )
        .unwrap();
        assert_eq!(s.eqeqo.bind, "127.0.0.1:7878");
        assert_eq!(s.eqeqo.user_token_ttl_seconds, 120);
        assert_eq!(s.eqeqo.renew_threshold_seconds, 0);
        for (var, value, key) in [
            ("TESSERA_EQEQO__BIND", "port 7878", "eqeqo.bind"),
            (
                "TESSERA_EQEQO__USER_TOKEN_TTL_SECONDS",
                "0",
                "eqeqo.user_token_ttl_seconds",
            ),
            (
                "TESSERA_EQEQO__SERVICE_TOKEN_TTL_SECONDS",
                "-1",
                "eqeqo.service_token_ttl_seconds",
            ),
            (
                "TESSERA_EQEQO__SERVICE_TOKEN_TTL_SECONDS",
                "9223372036854775807",
                "eqeqo.service_token_ttl_seconds",
            ),
            (
                "TESSERA_EQEQO__RENEW_THRESHOLD_SECONDS",
                "300",
                "eqeqo.renew_threshold_seconds",
            ),
            (
                "TESSERA_EQEQO__RENEW_THRESHOLD_SECONDS",
                "-1",
                "eqeqo.renew_threshold_seconds",
            ),
        ] {
            let err = Settings::load(None, env(&[(var, value)])).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{value}: {err:#}");
        }
    }

    #[test]
    fn the_pages_speak_english_as_tessera_in_its_own_colours_by_default() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.pages.default_language, "en");
        assert_eq!(s.branding.product_name, "Tessera");
        assert_eq!(s.branding.accent_color, "#1f5fd1");
        assert_eq!(s.branding.background_color, "#eef1f5");
        assert!(s.branding.read_logo().unwrap().is_none());
        let s = Settings::load(
            None,
            env(&[
                ("TESSERA_PAGES__DEFAULT_LANGUAGE", "es"),
                ("TESSERA_BRANDING__PRODUCT_NAME", "Acme ID"),
                ("TESSERA_BRANDING__ACCENT_COLOR", "#C05"),
                ("TESSERA_BRANDING__BACKGROUND_COLOR", "#fafafa"),
                ("TESSERA_BRANDING__LOGO_FILE", ""),
            ]),
        )
        .unwrap();
        assert_eq!(s.pages.default_language, "es");
        assert_eq!(s.branding.product_name, "Acme ID");
        assert_eq!(s.branding.accent_color, "#C05");
        assert!(s.branding.logo_path().is_none());
    }

    #[test]
    fn bad_colours_names_and_languages_are_refused_at_start_up() {
        for (var, value, key) in [
            (
                "TESSERA_BRANDING__ACCENT_COLOR",
                "blue",
                "branding.accent_color",
            ),
            (
                "TESSERA_BRANDING__ACCENT_COLOR",
                "#12345",
                "branding.accent_color",
            ),
            (
                "TESSERA_BRANDING__ACCENT_COLOR",
                "#1f5fd1;}",
                "branding.accent_color",
            ),
            (
                "TESSERA_BRANDING__BACKGROUND_COLOR",
                "#ggg",
                "branding.background_color",
            ),
            (
                "TESSERA_BRANDING__BACKGROUND_COLOR",
                "eef1f5",
                "branding.background_color",
            ),
            (
                "TESSERA_BRANDING__PRODUCT_NAME",
                " ",
                "branding.product_name",
            ),
            (
                "TESSERA_PAGES__DEFAULT_LANGUAGE",
                "fr",
                "pages.default_language",
            ),
            (
                "TESSERA_BRANDING__LOGO_FILE",
                "/srv/logo.gif",
                "branding.logo_file",
            ),
        ] {
            let err = Settings::load(None, env(&[(var, value)])).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{value}: {err:#}");
        }
        let long = "x".repeat(65);
        let err = Settings::load(
            None,
            env(&[("TESSERA_BRANDING__PRODUCT_NAME", long.as_str())]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("1 to 64"), "{err:#}");
        let err =
            Settings::load(None, env(&[("TESSERA_PAGES__DEFAULT_LANGUAGE", "fr")])).unwrap_err();
        assert!(format!("{err:#}").contains("en, es"), "{err:#}");
    }

    #[test]
    fn a_logo_is_read_once_with_its_type_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let branding = |file: &str| BrandingSettings {
            logo_file: Some(dir.path().join(file)),
            ..BrandingSettings::default()
        };
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&[0; 16]);
        std::fs::write(dir.path().join("logo.PNG"), &png).unwrap();
        let logo = branding("logo.PNG").read_logo().unwrap().unwrap();
        assert_eq!((logo.content_type, logo.bytes), ("image/png", png.clone()));
        std::fs::write(
            dir.path().join("logo.svg"),
            "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .unwrap();
        let logo = branding("logo.svg").read_logo().unwrap().unwrap();
        assert_eq!(logo.content_type, "image/svg+xml");
        std::fs::write(dir.path().join("logo.webp"), b"RIFF\0\0\0\0WEBPVP8 ").unwrap();
        let logo = branding("logo.webp").read_logo().unwrap().unwrap();
        assert_eq!(logo.content_type, "image/webp");

        let err = branding("missing.png").read_logo().unwrap_err();
        assert!(format!("{err:#}").contains("cannot be read"), "{err:#}");
        std::fs::write(dir.path().join("fake.png"), "<svg/>").unwrap();
        let err = branding("fake.png").read_logo().unwrap_err();
        assert!(
            format!("{err:#}").contains("not the image/png file"),
            "{err:#}"
        );
        let mut big = png.clone();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        std::fs::write(dir.path().join("big.png"), big).unwrap();
        let err = branding("big.png").read_logo().unwrap_err();
        assert!(
            format!("{err:#}").contains("larger than 256 KiB"),
            "{err:#}"
        );
        let mut exact = png.clone();
        exact.resize(MAX_LOGO_BYTES, 0);
        std::fs::write(dir.path().join("exact.png"), exact).unwrap();
        assert!(branding("exact.png").read_logo().unwrap().is_some());
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
