//! Tessera in-process: the same users, passwords, tokens, API keys, lockout, audit and
//! authorization rules as the `tessera` server, called from Rust with no HTTP.
//!
//! ```no_run
//! use tessera::{Settings, Tessera};
//!
//! # fn main() -> anyhow::Result<()> {
//! let tessera = Tessera::open(&Settings::default())?;
//! let alice = tessera.create_user("alice", "a long secure passphrase", Some("alice@example.com"))?;
//! let tokens = tessera.authenticate_password("alice", "a long secure passphrase")?;
//! let caller = tessera.verify(&tokens.access_token)?;
//! assert_eq!(caller.user_id, alice.id);
//! # Ok(())
//! # }
//! ```
//!
//! `Tessera::open` does what the server does at start-up: it opens (and migrates) the database
//! named by `database.url`, creates missing keys under `keys.dir`, and creates the first admin on
//! an empty database. Everything else is reached through `Tessera::use_cases`, as the operator
//! (`Principal::system`) or as an authenticated caller. See `docs/EMBEDDING.md`.

pub mod settings;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret as _;
use tessera_crypto::{keys, Argon2Hasher, JwtCodec, KeyFolder, TokenSecrets, TotpCodes};
use tessera_domain::access::PersonAccess;
use tessera_domain::audit::{Event, Outcome, RequestContext};
use tessera_domain::auth::LoginRequest;
use tessera_domain::credentials::{CreateApiKey, IssuedApiKey, OpaqueSettings, TokenFormat};
use tessera_domain::error::{AuthError, TokenError, UserError};
use tessera_domain::issuer::{Issued, IssuedTokens, SessionKind};
use tessera_domain::password::Password;
use tessera_domain::ports::{Clock, Observer};
use tessera_domain::time::UnixTime;
use tessera_domain::usecases::{Ports, Settings as UseCaseSettings, TokenSettings, UseCases};
use tessera_domain::user::{User, UserId};
use tessera_domain::users::CreateUser;
use tessera_store::{Store, StoreConfig};

pub use settings::Settings;
pub use tessera_domain as domain;
pub use tessera_domain::principal::Principal;

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

/// Counts nothing: the observer when none is given.
#[derive(Debug, Clone, Copy)]
struct Unobserved;

impl Observer for Unobserved {
    fn event(&self, _: Event, _: Outcome) {}
    fn token_issued(&self, _: &'static str) {}
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

/// What the embedding program may add when opening Tessera.
#[derive(Default, Clone)]
pub struct Options {
    /// Told of every audited event and issued token, on the hot path (the server's metrics).
    pub observer: Option<Arc<dyn Observer>>,
    /// Told how long each password hash took.
    pub hash_timer: Option<Arc<dyn Fn(Duration) + Send + Sync>>,
    /// The issuer of tokens when `tokens.issuer` is not set; by default `http://<server.bind>`.
    pub default_issuer: Option<String>,
    /// Leave an empty database empty rather than create the first admin: for a command that
    /// fills it, such as an import that brings its own admins.
    pub no_first_admin: bool,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("default_issuer", &self.default_issuer)
            .field("no_first_admin", &self.no_first_admin)
            .finish_non_exhaustive()
    }
}

/// An open Tessera: its use cases over the configured database and keys.
pub struct Tessera {
    use_cases: UseCases,
    keys: Arc<JwtCodec>,
    hasher: Arc<Argon2Hasher>,
    generated_admin_password: Option<Password>,
    audit_retention_days: u32,
    cleanup_batch: u32,
    cleanup_max_batches: u32,
}

impl std::fmt::Debug for Tessera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tessera")
            .field("issuer", &self.use_cases.token_settings().issuer)
            .finish_non_exhaustive()
    }
}

impl Tessera {
    /// Opens the database (migrating it), creates missing keys, builds the use cases, creates the
    /// first admin on an empty database (unless `Options::no_first_admin`), and loads the sessions
    /// ended so far.
    ///
    /// # Errors
    /// When any of those steps fails; the message says which.
    pub fn open(settings: &Settings) -> anyhow::Result<Self> {
        Self::open_with(settings, Options::default())
    }

    /// As `open`, with an observer, a hash timer or a default issuer.
    ///
    /// # Errors
    /// As `open`.
    pub fn open_with(settings: &Settings, options: Options) -> anyhow::Result<Self> {
        settings.validate()?;
        // The rows token checks read are kept in memory for as long as other nodes may take to
        // see a revocation: the same bound for a disabled user or a removed grant.
        let store = Arc::new(open_store(settings)?.with_read_cache(Duration::from_millis(
            settings.cluster.sync_interval_milliseconds,
        )));
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
        let signing_keys = Arc::new(KeyFolder::new(
            codec.clone(),
            settings.keys.dir.clone(),
            settings.keys.signing_alg()?,
            settings.key_retirement(),
        ));
        let secrets = Arc::new(TokenSecrets::new(keys::read_hmac_key(&settings.keys.dir)?));
        let mut hasher = Argon2Hasher::new(&settings.password_hashing)?;
        if let Some(timer) = options.hash_timer {
            hasher = hasher.with_timer(timer);
        }
        let hasher = Arc::new(hasher);
        let t = &settings.tokens;
        let tokens = TokenSettings {
            issuer: t.issuer.clone().unwrap_or_else(|| {
                options
                    .default_issuer
                    .unwrap_or_else(|| format!("http://{}", settings.server.bind))
            }),
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
            clients: store.clone(),
            codes: store.clone(),
            consents: store.clone(),
            importer: store.clone(),
            signing_keys,
            otp: Arc::new(TotpCodes),
            observer: options.observer.unwrap_or_else(|| Arc::new(Unobserved)),
            credentials: store,
            hasher: hasher.clone(),
            secrets,
            codec: codec.clone(),
            clock,
        };
        let use_cases = UseCases::new(
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
        let bootstrapped = if options.no_first_admin {
            Ok(None)
        } else {
            use_cases.accounts.bootstrap_admin(bootstrap_password)
        };
        let generated_admin_password = match bootstrapped {
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
        use_cases.revocations.load()?;
        Ok(Self {
            use_cases,
            keys: codec,
            hasher,
            generated_admin_password,
            audit_retention_days: settings.audit.retention_days,
            cleanup_batch: settings.cleanup.batch_size,
            cleanup_max_batches: settings.cleanup.max_batches,
        })
    }

    /// Every use case, as the server's front doors call them.
    pub fn use_cases(&self) -> &UseCases {
        &self.use_cases
    }

    /// The signing keys: the JWKS, rotation, and reloading what another process wrote.
    pub fn keys(&self) -> &Arc<JwtCodec> {
        &self.keys
    }

    /// The password hasher, whose queue length the server reports.
    pub fn hasher(&self) -> &Arc<Argon2Hasher> {
        &self.hasher
    }

    /// The first admin's password, when this opening created the admin with a random one.
    pub fn generated_admin_password(&self) -> Option<&Password> {
        self.generated_admin_password.as_ref()
    }

    /// Takes the first admin's generated password out, so that it is shown once and not kept.
    pub fn take_generated_admin_password(&mut self) -> Option<Password> {
        self.generated_admin_password.take()
    }

    /// Creates a user with the `user` role, as the operator.
    ///
    /// # Errors
    /// `Validation` naming every broken rule (the password policy included), or `Duplicate`.
    pub fn create_user(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
    ) -> Result<User, UserError> {
        self.use_cases.accounts.create_user(
            &Principal::system(),
            CreateUser {
                username: username.to_owned(),
                password: Password::new(password.to_owned()),
                email: email.map(str::to_owned),
                display_name: None,
                roles: None,
                active: None,
                tenant_id: None,
                attributes: None,
            },
        )
    }

    /// Checks a username (or e-mail) and password, with the lockout and audit of a login over
    /// HTTP, and opens a session: an access token (JWT) and a refresh token.
    ///
    /// # Errors
    /// `InvalidCredentials` (unknown user and wrong password alike), `Locked`, `AccountDisabled`,
    /// and `MfaRequired` for a user with a second factor (finish with
    /// `use_cases().authentication.login_mfa`).
    pub fn authenticate_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<IssuedTokens, AuthError> {
        let request = LoginRequest {
            login: login.to_owned(),
            password: Password::new(password.to_owned()),
            tenant: None,
            context: RequestContext::default(),
        };
        match self
            .use_cases
            .authentication
            .login(request, SessionKind::Jwt)?
        {
            Issued::Tokens(tokens) => Ok(tokens),
            Issued::Access(_) => Err(AuthError::Unknown(anyhow::anyhow!(
                "a JWT login handed out an opaque token"
            ))),
        }
    }

    /// Checks a bearer credential: an access token (a signature and a memory lookup), an opaque
    /// token or an API key, and says who holds it.
    ///
    /// # Errors
    /// The `TokenError` that says why it is refused.
    pub fn verify(&self, credential: &str) -> Result<Principal, TokenError> {
        self.use_cases
            .gate
            .authenticate_credential(credential, true)
    }

    /// Creates an API key for `user`, whose secret is in the answer and never again. `scopes`
    /// (global roles) never exceed the user's; `None` gives the key every role the user holds.
    ///
    /// # Errors
    /// `NotFound`, `Validation`.
    pub fn create_api_key(
        &self,
        user: UserId,
        name: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<IssuedApiKey, UserError> {
        self.use_cases.credentials.create_api_key(
            &Principal::system(),
            user,
            CreateApiKey {
                name: name.to_owned(),
                scopes,
                expires_at: None,
            },
        )
    }

    /// What `user` may do in the service `service`: their roles and effective permissions.
    ///
    /// # Errors
    /// `NotFound` for an unknown user or service.
    pub fn access(&self, user: UserId, service: i64) -> Result<PersonAccess, UserError> {
        self.use_cases
            .access
            .person_access(&Principal::system(), user, service)
    }

    /// One run of the periodic clean-up the server does every minute: old revocations leave the
    /// view, API-key last-use times are written, expired credentials and old audit entries are
    /// deleted in bounded batches. Failures are logged and left for the next run.
    pub fn clean_up(&self) {
        let c = &self.use_cases;
        c.revocations.prune();
        if let Err(e) = c.credentials.flush_key_usage() {
            tracing::warn!(error = format!("{e:#}"), "cannot record API key use");
        }
        match c
            .credentials
            .prune_expired(self.cleanup_batch, self.cleanup_max_batches)
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned expired credentials"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot prune expired credentials"),
        }
        match c.audit.prune_audit(
            self.audit_retention_days,
            self.cleanup_batch,
            self.cleanup_max_batches,
        ) {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned old audit entries"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "cannot prune the audit log"),
        }
    }
}
