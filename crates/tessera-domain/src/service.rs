//! The use-case service: one struct holding the ports, with its use cases in `auth` and `users`.

use std::sync::Arc;

use crate::claims::ClaimRules;
use crate::credentials::{KeyUsage, OpaqueSettings};
use crate::lockout::LockoutPolicy;
use crate::password::PasswordPolicy;
use crate::ports::{
    AccessRepository, AccessTokenCodec, AuditLog, Clock, CredentialRepository, LockoutRepository,
    MfaRepository, Observer, OneTimeCodes, PasswordHasher, Readiness, RecoveryRepository,
    SecretTokens, SessionDirectory, SessionRepository, UserRepository,
};
use crate::recovery::RecoverySettings;
use crate::revocation::RevokedSessions;
use crate::sessions::SessionPolicy;
use crate::token::SessionId;
use crate::user::{Role, UserId};

/// Token lifetimes and the claims every access token carries.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    /// Seconds after its rotation during which a refresh token may be presented again and get the same
    /// successor; 0 turns the grace window off.
    pub reuse_grace: i64,
    /// Clock leeway when checking `exp` and `nbf`.
    pub leeway: i64,
    pub client_id: String,
    pub scope: String,
    /// Lifetime of a pending MFA login.
    pub mfa_ttl: i64,
}

impl TokenSettings {
    pub fn claim_rules(&self) -> ClaimRules {
        ClaimRules {
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
            leeway: self.leeway,
        }
    }
}

/// The adapters the service works through.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub secrets: Arc<dyn SecretTokens>,
    pub codec: Arc<dyn AccessTokenCodec>,
    pub clock: Arc<dyn Clock>,
    pub access: Arc<dyn AccessRepository>,
    pub credentials: Arc<dyn CredentialRepository>,
    pub lockout: Arc<dyn LockoutRepository>,
    pub audit: Arc<dyn AuditLog>,
    pub recovery: Arc<dyn RecoveryRepository>,
    pub otp: Arc<dyn OneTimeCodes>,
    pub mfa: Arc<dyn MfaRepository>,
    pub directory: Arc<dyn SessionDirectory>,
    pub readiness: Arc<dyn Readiness>,
    pub observer: Arc<dyn Observer>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ports")
    }
}

/// Tessera's use cases. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Service {
    pub(crate) ports: Ports,
    pub(crate) tokens: TokenSettings,
    pub(crate) rules: ClaimRules,
    pub(crate) policy: PasswordPolicy,
    pub(crate) revoked: RevokedSessions,
    pub(crate) opaque: OpaqueSettings,
    pub(crate) key_usage: KeyUsage,
    pub(crate) lockout: LockoutPolicy,
    pub(crate) recovery: RecoverySettings,
    pub(crate) sessions: SessionPolicy,
}

impl Service {
    pub fn new(ports: Ports, tokens: TokenSettings, policy: PasswordPolicy) -> Self {
        Self {
            rules: tokens.claim_rules(),
            ports,
            tokens,
            policy,
            revoked: RevokedSessions::new(),
            opaque: OpaqueSettings::default(),
            key_usage: KeyUsage::default(),
            lockout: LockoutPolicy::default(),
            recovery: RecoverySettings::default(),
            sessions: SessionPolicy::default(),
        }
    }

    /// Sets session lifetimes and the per-user limit.
    #[must_use]
    pub fn with_sessions(mut self, sessions: SessionPolicy) -> Self {
        self.sessions = sessions;
        self
    }

    /// Sets self-registration and password-reset behaviour.
    #[must_use]
    pub fn with_recovery(mut self, recovery: RecoverySettings) -> Self {
        self.recovery = recovery;
        self
    }

    /// Sets how many failed logins lock an account, and for how long.
    #[must_use]
    pub fn with_lockout(mut self, lockout: LockoutPolicy) -> Self {
        self.lockout = lockout;
        self
    }

    /// Sets the lifetimes of opaque tokens and the default login format.
    #[must_use]
    pub fn with_opaque(mut self, opaque: OpaqueSettings) -> Self {
        self.opaque = opaque;
        self
    }

    pub fn token_settings(&self) -> &TokenSettings {
        &self.tokens
    }

    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Fills the revocation view from the store: every revocation whose access tokens may still be alive.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn load_revocations(&self) -> anyhow::Result<usize> {
        let since = self.horizon();
        let n = self.sync_revocations(since)?;
        self.revoked.prune_before(since);
        Ok(n)
    }

    /// Adds the revocations made since `since` (by any node, or by an admin command) to the view.
    /// Meant for a job that runs every fraction of a second; `since` should reach back past the
    /// last successful run by more than the clock difference between nodes.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn sync_revocations(&self, since: crate::time::UnixTime) -> anyhow::Result<usize> {
        let entries = self
            .ports
            .sessions
            .revocations_since(since.max(self.horizon()))?;
        let n = entries.len();
        self.revoked.insert_all(entries);
        Ok(n)
    }

    /// The oldest revocation that can still matter: older ones concern only expired access tokens.
    fn horizon(&self) -> crate::time::UnixTime {
        self.ports
            .clock
            .now()
            .plus(-(self.tokens.access_ttl + self.tokens.leeway + 1))
    }

    /// Whether this node can serve requests: the store answers with an up-to-date schema.
    /// (A signing key is loaded before the service exists.)
    ///
    /// # Errors
    /// The reason it cannot.
    pub fn ready(&self) -> anyhow::Result<()> {
        self.ports.readiness.check()
    }

    /// Drops revocations no live token can need. Cheap; meant for a periodic job.
    pub fn prune_revocations(&self) {
        self.revoked.prune_before(self.horizon());
    }

    pub(crate) fn remember_revoked(&self, sessions: &[SessionId]) {
        self.note_revoked_elsewhere(sessions);
        if !sessions.is_empty() {
            self.ports.observer.sessions_revoked(sessions);
        }
    }

    /// Adds sessions another node says it revoked to this node's view (they are in the store
    /// already; this only makes them count before the next sync).
    pub fn note_revoked_elsewhere(&self, sessions: &[SessionId]) {
        let now = self.ports.clock.now();
        self.revoked.insert_all(sessions.iter().map(|s| (*s, now)));
    }
}

/// What a caller authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A signed JWT access token.
    AccessToken,
    /// An opaque access token; `renewed` when this use extended its lifetime.
    Opaque { renewed: bool },
    /// An API key, by id.
    ApiKey { id: i64 },
    /// The operator at the command line, who holds the server's files.
    System,
}

/// The authenticated caller of a request, read from a verified access token, opaque token or API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub username: String,
    /// Global roles in force for this credential (an API key's are limited by its scopes).
    pub roles: Vec<String>,
    /// The login session; API keys have none.
    pub session_id: Option<SessionId>,
    pub scope: String,
    /// When the credential expires, if it does.
    pub expires_at: Option<crate::time::UnixTime>,
    pub tenant_id: Option<crate::user::TenantId>,
    pub credential: Credential,
    /// The OAuth client the credential was issued to.
    pub client_id: String,
    /// When the credential was issued, where that is known (JWTs).
    pub issued_at: Option<crate::time::UnixTime>,
    /// Where the request came from; the HTTP adapter fills it in.
    pub context: crate::audit::RequestContext,
}

impl Principal {
    /// The operator at the command line: a global admin with user id 0, which audit entries show
    /// as the actor.
    pub fn system() -> Self {
        Self {
            user_id: UserId(0),
            username: "system".into(),
            roles: vec![Role::ADMIN.to_owned()],
            session_id: None,
            scope: String::new(),
            expires_at: None,
            tenant_id: None,
            credential: Credential::System,
            client_id: "cli".into(),
            issued_at: None,
            context: crate::audit::RequestContext::default(),
        }
    }

    /// The sessions to end when this caller changes something of `user`'s that ends sessions:
    /// all but the caller's own when it is their own account, all of them otherwise.
    pub fn sessions_to_end(&self, user: UserId) -> crate::ports::RevokeSessions {
        match self.session_id {
            Some(current) if self.user_id == user => {
                crate::ports::RevokeSessions::AllExcept(current)
            }
            _ => crate::ports::RevokeSessions::All,
        }
    }

    fn has_admin_role(&self) -> bool {
        self.roles.iter().any(|r| r == Role::ADMIN)
    }

    /// A global admin: the `admin` role and no tenant. Global admins may do everything.
    pub fn is_admin(&self) -> bool {
        self.has_admin_role() && self.tenant_id.is_none()
    }

    /// A tenant admin: the `admin` role within a tenant. They manage that tenant's users,
    /// grants and API keys, and nothing else.
    pub fn is_tenant_admin(&self) -> bool {
        self.has_admin_role() && self.tenant_id.is_some()
    }
}

#[cfg(test)]
mod tests;
