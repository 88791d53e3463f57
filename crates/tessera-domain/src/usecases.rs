//! The composition root: `UseCases::new` builds every use-case type from the ports and settings.
//!
//! Each use-case type holds only the ports it works through:
//! `Accounts` (users, tenants' users, passwords, imports of users and of whole access models,
//! unlock), `Authentication` (logins of every kind, the MFA step, refresh, logout, revocation,
//! client credentials), `Sessions`, `AccessModel`
//! (services, roles, permissions, grants), `Credentials` (API keys, service secrets, check-token,
//! introspection, clean-up), `SecondFactor`, `Recovery`, `AuditTrail`, `OAuthProvider` (OpenID
//! Connect clients, the authorization endpoint, consents, the code exchange), `Keys` (the signing
//! keys, and rotating them now), and the `Gate` that checks bearer credentials. They share three
//! parts: the `Auditor`, the `Revocations` view and the `Issuer` that opens sessions.

use std::sync::Arc;

use crate::access::AccessModel;
use crate::audit::{AuditTrail, Auditor};
use crate::auth::Authentication;
use crate::claims::ClaimRules;
use crate::credentials::{Credentials, KeyUsage, OpaqueSettings};
use crate::gate::Gate;
use crate::issuer::Issuer;
use crate::keys::Keys;
use crate::lockout::LockoutPolicy;
use crate::mfa::SecondFactor;
use crate::oauth::OAuthProvider;
use crate::password::PasswordPolicy;
use crate::ports::{
    AccessRepository, AccessTokenCodec, AuditLog, AuthorizationCodes, ClientRepository, Clock,
    ConsentRepository, CredentialRepository, LockoutRepository, MfaRepository, ModelImporter,
    Observer, OneTimeCodes, PasswordHasher, Readiness, RecoveryRepository, SecretTokens,
    SessionDirectory, SessionRepository, SigningKeys, UserRepository,
};
use crate::recovery::{Recovery, RecoverySettings};
use crate::revocation::Revocations;
use crate::sessions::{SessionPolicy, Sessions};
use crate::users::Accounts;

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

    /// How long after a session ends one of its access tokens may still be presented.
    pub(crate) fn access_horizon(&self) -> i64 {
        self.access_ttl + self.leeway + 1
    }
}

/// Every setting of the use cases.
#[derive(Debug, Clone)]
pub struct Settings {
    pub tokens: TokenSettings,
    pub password: PasswordPolicy,
    pub sessions: SessionPolicy,
    pub lockout: LockoutPolicy,
    pub recovery: RecoverySettings,
    pub opaque: OpaqueSettings,
}

impl Settings {
    /// The defaults of every policy, with these token settings.
    pub fn new(tokens: TokenSettings) -> Self {
        Self {
            tokens,
            password: PasswordPolicy::default(),
            sessions: SessionPolicy::default(),
            lockout: LockoutPolicy::default(),
            recovery: RecoverySettings::default(),
            opaque: OpaqueSettings::default(),
        }
    }
}

/// The adapters the use cases work through.
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
    pub clients: Arc<dyn ClientRepository>,
    pub codes: Arc<dyn AuthorizationCodes>,
    pub consents: Arc<dyn ConsentRepository>,
    /// The signing keys (the key folder), for listing and rotating them.
    pub signing_keys: Arc<dyn SigningKeys>,
    /// Writes a whole access model brought from another system.
    pub importer: Arc<dyn ModelImporter>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ports")
    }
}

/// The use-case types hold ports, which print nothing: their `Debug` is their name.
macro_rules! debug_by_name {
    ($($t:ty),* $(,)?) => {
        $(impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($t))
            }
        })*
    };
}

debug_by_name!(
    AccessModel,
    Accounts,
    AuditTrail,
    Auditor,
    Authentication,
    Credentials,
    Gate,
    Issuer,
    Keys,
    OAuthProvider,
    Recovery,
    SecondFactor,
    Sessions,
);

/// Every use case of Tessera, built once and shared by every front door.
#[derive(Clone)]
pub struct UseCases {
    pub accounts: Arc<Accounts>,
    pub authentication: Arc<Authentication>,
    pub sessions: Arc<Sessions>,
    pub access: Arc<AccessModel>,
    pub credentials: Arc<Credentials>,
    pub second_factor: Arc<SecondFactor>,
    pub recovery: Arc<Recovery>,
    pub audit: Arc<AuditTrail>,
    /// The OpenID Connect provider: clients, the authorization endpoint, consents, the code
    /// exchange.
    pub oauth: Arc<OAuthProvider>,
    /// The signing keys: which signs, which are published, and rotating them now.
    pub keys: Arc<Keys>,
    /// Checks bearer credentials: JWTs, opaque tokens, API keys, CSRF tokens.
    pub gate: Arc<Gate>,
    /// What this node knows of ended sessions, kept fresh by `load` and `sync`.
    pub revocations: Arc<Revocations>,
    settings: Arc<Settings>,
    readiness: Arc<dyn Readiness>,
}

impl std::fmt::Debug for UseCases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseCases")
            .field("revocations", &self.revocations)
            .finish_non_exhaustive()
    }
}

impl UseCases {
    pub fn new(p: Ports, settings: Settings) -> Self {
        let s = &settings;
        let auditor = Arc::new(Auditor::new(
            p.clock.clone(),
            p.observer.clone(),
            p.audit.clone(),
        ));
        let revocations = Arc::new(Revocations::new(
            p.sessions.clone(),
            p.clock.clone(),
            p.observer.clone(),
            s.tokens.access_horizon(),
        ));
        let key_usage = Arc::new(KeyUsage::default());
        let issuer = Arc::new(Issuer {
            codec: p.codec.clone(),
            secrets: p.secrets.clone(),
            clock: p.clock.clone(),
            sessions: p.sessions.clone(),
            credentials: p.credentials.clone(),
            directory: p.directory.clone(),
            observer: p.observer.clone(),
            audit: auditor.clone(),
            revocations: revocations.clone(),
            tokens: s.tokens.clone(),
            opaque: s.opaque.clone(),
            session_policy: s.sessions.clone(),
        });
        let gate = Arc::new(Gate {
            codec: p.codec.clone(),
            clock: p.clock.clone(),
            secrets: p.secrets.clone(),
            users: p.users.clone(),
            credentials: p.credentials.clone(),
            revocations: revocations.clone(),
            key_usage: key_usage.clone(),
            rules: s.tokens.claim_rules(),
            session_policy: s.sessions.clone(),
            opaque: s.opaque.clone(),
            scope: s.tokens.scope.clone(),
            client_id: s.tokens.client_id.clone(),
        });
        let access = Arc::new(AccessModel {
            users: p.users.clone(),
            access: p.access.clone(),
            clock: p.clock.clone(),
            audit: auditor.clone(),
        });
        Self {
            accounts: Arc::new(Accounts {
                users: p.users.clone(),
                access: p.access.clone(),
                importer: p.importer.clone(),
                hasher: p.hasher.clone(),
                secrets: p.secrets.clone(),
                lockout: p.lockout.clone(),
                clock: p.clock.clone(),
                audit: auditor.clone(),
                revocations: revocations.clone(),
                password_policy: s.password.clone(),
            }),
            authentication: Arc::new(Authentication {
                users: p.users.clone(),
                access: p.access.clone(),
                hasher: p.hasher.clone(),
                secrets: p.secrets.clone(),
                sessions: p.sessions.clone(),
                credentials: p.credentials.clone(),
                lockout: p.lockout.clone(),
                mfa: p.mfa.clone(),
                otp: p.otp.clone(),
                clock: p.clock.clone(),
                observer: p.observer.clone(),
                audit: auditor.clone(),
                revocations: revocations.clone(),
                issuer: issuer.clone(),
                key_usage: key_usage.clone(),
                tokens: s.tokens.clone(),
                password_policy: s.password.clone(),
                lockout_policy: s.lockout.clone(),
                session_policy: s.sessions.clone(),
                default_format: s.opaque.default_format,
            }),
            sessions: Arc::new(Sessions {
                users: p.users.clone(),
                sessions: p.sessions.clone(),
                directory: p.directory.clone(),
                clock: p.clock.clone(),
                audit: auditor.clone(),
                revocations: revocations.clone(),
                session_policy: s.sessions.clone(),
            }),
            credentials: Arc::new(Credentials {
                users: p.users.clone(),
                access: p.access.clone(),
                credentials: p.credentials.clone(),
                secrets: p.secrets.clone(),
                clock: p.clock.clone(),
                audit: auditor.clone(),
                revocations: revocations.clone(),
                gate: gate.clone(),
                model: access.clone(),
                key_usage,
                tokens: s.tokens.clone(),
            }),
            second_factor: Arc::new(SecondFactor {
                users: p.users.clone(),
                hasher: p.hasher.clone(),
                secrets: p.secrets.clone(),
                mfa: p.mfa.clone(),
                otp: p.otp.clone(),
                clock: p.clock.clone(),
                audit: auditor.clone(),
                revocations: revocations.clone(),
                password_policy: s.password.clone(),
            }),
            recovery: Arc::new(Recovery {
                users: p.users.clone(),
                hasher: p.hasher.clone(),
                secrets: p.secrets.clone(),
                recovery: p.recovery.clone(),
                clock: p.clock.clone(),
                audit: auditor.clone(),
                revocations: revocations.clone(),
                password_policy: s.password.clone(),
                settings: s.recovery.clone(),
            }),
            audit: Arc::new(AuditTrail {
                log: p.audit.clone(),
                clock: p.clock.clone(),
            }),
            oauth: Arc::new(OAuthProvider {
                clients: p.clients.clone(),
                codes: p.codes.clone(),
                consents: p.consents.clone(),
                users: p.users.clone(),
                access: p.access.clone(),
                sessions: p.sessions.clone(),
                secrets: p.secrets.clone(),
                codec: p.codec.clone(),
                clock: p.clock.clone(),
                observer: p.observer.clone(),
                audit: auditor.clone(),
                revocations: revocations.clone(),
                issuer: issuer.clone(),
                tokens: s.tokens.clone(),
            }),
            keys: Arc::new(Keys {
                keys: p.signing_keys.clone(),
                clock: p.clock.clone(),
                audit: auditor.clone(),
            }),
            access,
            gate,
            revocations,
            readiness: p.readiness,
            settings: Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn token_settings(&self) -> &TokenSettings {
        &self.settings.tokens
    }

    pub fn password_policy(&self) -> &PasswordPolicy {
        &self.settings.password
    }

    /// Whether this node can serve requests: the store answers with an up-to-date schema.
    /// (A signing key is loaded before the use cases exist.)
    ///
    /// # Errors
    /// The reason it cannot.
    pub fn ready(&self) -> anyhow::Result<()> {
        self.readiness.check()
    }
}

#[cfg(test)]
mod tests;
