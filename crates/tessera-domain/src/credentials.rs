//! Credentials beside the JWT login: API keys and the OAuth client-credentials grant, opaque
//! access tokens that renew by use, service secrets, service tokens, the token checks other
//! services ask for, and the clean-up of expired credentials.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::access::{authorize, target_user, AccessModel, Action, Entry, Kind};
use crate::audit::{Audit, Auditor, Event, Outcome};
use crate::error::{AuthError, FieldErrors, TokenError, UserError};
use crate::gate::{unavailable, Gate};
use crate::ports::{AccessRepository, Clock, CredentialRepository, SecretTokens, UserRepository};
use crate::principal::Principal;
use crate::revocation::Revocations;
use crate::time::UnixTime;
use crate::token::PlainToken;
use crate::usecases::TokenSettings;
use crate::user::{parse_roles, DisplayName, Role, User, UserId};

/// Prefix of every API key.
///
/// Invariant: this prefix never changes. Secret scanners and clients recognise Tessera's API keys
/// by it, and the store only ever holds digests.
pub const API_KEY_PREFIX: &str = "tsk_";
/// Prefix of every opaque access token. Invariant: never changes, as `API_KEY_PREFIX`.
pub const OPAQUE_TOKEN_PREFIX: &str = "tso_";
/// Prefix of every service secret. Invariant: never changes, as `API_KEY_PREFIX`.
pub const SERVICE_SECRET_PREFIX: &str = "tss_";
/// Prefix of every service token. Invariant: never changes, as `API_KEY_PREFIX`.
pub const SERVICE_TOKEN_PREFIX: &str = "tst_";
/// The reason of the `UserError::Forbidden` that `Credentials::issue_service_token` answers for a
/// disabled service, for a front door to tell it from a caller who may not issue tokens.
pub const SERVICE_INACTIVE: &str = "service_inactive";
/// How many characters of a key are kept in clear to tell keys apart in listings.
const SHOWN_PREFIX_LEN: usize = 12;

/// Which kind of access token a login hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFormat {
    /// An RFC 9068 JWT with a refresh token.
    #[default]
    Jwt,
    /// An opaque token, stored hashed, renewed by use near its expiry; no refresh token.
    Opaque,
}

impl TokenFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "jwt" => Some(Self::Jwt),
            "opaque" => Some(Self::Opaque),
            _ => None,
        }
    }
}

/// Lifetimes of opaque access tokens.
#[derive(Debug, Clone)]
pub struct OpaqueSettings {
    pub ttl: i64,
    /// The lifetime of a browser session's token (renewed the same way): browsers idle longer.
    pub browser_ttl: i64,
    /// A use at most this many seconds before expiry extends the token by `ttl` from now.
    pub renew_threshold: i64,
    /// What `POST /auth/login` hands out when the request does not say.
    pub default_format: TokenFormat,
}

impl Default for OpaqueSettings {
    fn default() -> Self {
        Self {
            ttl: 300,
            browser_ttl: 3600,
            renew_threshold: 30,
            default_format: TokenFormat::Jwt,
        }
    }
}

/// A stored API key. It never carries the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: i64,
    pub user_id: UserId,
    pub name: String,
    /// The first characters of the key, for telling keys apart.
    pub prefix: String,
    /// The global roles the key may use; empty means every role of its user. Sorted.
    pub scopes: Vec<Role>,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
    pub last_used_at: Option<UnixTime>,
}

/// A validated key to store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub user_id: UserId,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<Role>,
    pub created_at: UnixTime,
    pub expires_at: Option<UnixTime>,
}

/// A request for a key, as received.
#[derive(Debug, Clone)]
pub struct CreateApiKey {
    pub name: String,
    pub scopes: Option<Vec<String>>,
    pub expires_at: Option<UnixTime>,
}

/// A new key and its secret, shown this once.
#[derive(Debug)]
pub struct IssuedApiKey {
    pub key: ApiKey,
    pub secret: PlainToken,
}

/// A new service secret, shown this once.
#[derive(Debug)]
pub struct IssuedServiceSecret {
    pub service_id: i64,
    pub secret: PlainToken,
    pub created_at: UnixTime,
}

/// A service token just issued: shown once.
#[derive(Debug)]
pub struct IssuedServiceToken {
    pub token: PlainToken,
    pub expires_at: UnixTime,
    /// The service it names.
    pub service: Entry,
}

/// The answer to a resource service asking about a token.
#[derive(Debug, Clone)]
pub struct TokenCheck {
    pub principal: Principal,
    /// Effective permissions in the service asked about, when one was.
    pub permissions: Option<Vec<String>>,
}

/// Last-use times of API keys, gathered in memory and written by the periodic job,
/// so that using a key costs no database write.
#[derive(Debug, Default)]
pub struct KeyUsage(Mutex<HashMap<i64, UnixTime>>);

impl KeyUsage {
    pub(crate) fn record(&self, key: i64, at: UnixTime) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, at);
    }

    pub(crate) fn get(&self, key: i64) -> Option<UnixTime> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .copied()
    }

    fn take(&self) -> Vec<(i64, UnixTime)> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.drain().collect()
    }

    fn put_back(&self, uses: Vec<(i64, UnixTime)>) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, at) in uses {
            let slot = map.entry(k).or_insert(at);
            *slot = (*slot).max(at);
        }
    }
}

/// API keys, service secrets and tokens, the token checks resource services ask for, and the
/// clean-up of expired credentials.
pub struct Credentials {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) access: Arc<dyn AccessRepository>,
    pub(crate) credentials: Arc<dyn CredentialRepository>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) gate: Arc<Gate>,
    pub(crate) model: Arc<AccessModel>,
    pub(crate) key_usage: Arc<KeyUsage>,
    pub(crate) tokens: TokenSettings,
}

impl Credentials {
    /// Creates an API key for `user`, shown once.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Validation` (a bad name, a scope the user does not hold, an expiry in the past).
    pub fn create_api_key(
        &self,
        actor: &Principal,
        user: UserId,
        req: CreateApiKey,
    ) -> Result<IssuedApiKey, UserError> {
        let owner = target_user(&*self.users, actor, user, Action::Read)?;
        let now = self.clock.now();
        let mut fields = FieldErrors::new();
        let name = match DisplayName::parse(&req.name) {
            Ok(n) => n.as_str().to_owned(),
            Err(p) => {
                fields.extend("name", p);
                String::new()
            }
        };
        let scopes = match req.scopes.as_deref().map(parse_roles) {
            None => vec![],
            Some(Ok(s)) if s.iter().all(|r| owner.roles.contains(r)) => s,
            Some(Ok(_)) => {
                fields.add("scopes", "not_held_by_user");
                vec![]
            }
            Some(Err(p)) => {
                fields.extend("scopes", p);
                vec![]
            }
        };
        if req.expires_at.is_some_and(|e| e <= now) {
            fields.add("expires_at", "in_the_past");
        }
        fields.into_result()?;
        let secret = self.secrets.new_secret(API_KEY_PREFIX);
        let new = NewApiKey {
            user_id: user,
            name,
            prefix: secret.expose().chars().take(SHOWN_PREFIX_LEN).collect(),
            scopes,
            created_at: now,
            expires_at: req.expires_at,
        };
        let key = self
            .credentials
            .create_api_key(&new, &self.secrets.digest(&secret))?;
        self.audit.record(
            Audit::new(Event::ApiKeyCreated, Outcome::Success)
                .by(actor)
                .subject(user)
                .target(format!("api_key:{}", key.id))
                .detail("name", &key.name),
        );
        Ok(IssuedApiKey { key, secret })
    }

    /// A user's API keys, with last-use times not yet written to the store.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn list_api_keys(&self, actor: &Principal, user: UserId) -> Result<Vec<ApiKey>, UserError> {
        target_user(&*self.users, actor, user, Action::Read)?;
        let mut keys = self.credentials.list_api_keys(user)?;
        for k in &mut keys {
            if let Some(at) = self.key_usage.get(k.id) {
                k.last_used_at = Some(k.last_used_at.map_or(at, |old| old.max(at)));
            }
        }
        Ok(keys)
    }

    /// Deletes an API key; it stops working at once, and so do the tokens it bought.
    /// Someone else's key is `NotFound` for a non-admin, so keys cannot be probed.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn delete_api_key(&self, actor: &Principal, id: i64) -> Result<(), UserError> {
        let key = self
            .credentials
            .get_api_key(id)?
            .ok_or(UserError::NotFound)?;
        if target_user(&*self.users, actor, key.user_id, Action::Read).is_err() {
            return Err(UserError::NotFound);
        }
        let revoked = self
            .credentials
            .delete_api_key(id, self.clock.now())?
            .ok_or(UserError::NotFound)?;
        self.revocations.remember(&revoked);
        self.audit.record(
            Audit::new(Event::ApiKeyDeleted, Outcome::Success)
                .by(actor)
                .subject(key.user_id)
                .target(format!("api_key:{id}")),
        );
        Ok(())
    }

    /// Issues a new secret for a service, replacing any previous one; shown once.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn issue_service_secret(
        &self,
        actor: &Principal,
        service: i64,
    ) -> Result<IssuedServiceSecret, UserError> {
        authorize(actor, Action::ManageModel)?;
        let now = self.clock.now();
        let secret = self.secrets.new_secret(SERVICE_SECRET_PREFIX);
        let digest = self.secrets.digest(&secret);
        if !self
            .access
            .set_service_secret(service, Some(&digest), now)?
        {
            return Err(UserError::NotFound);
        }
        self.audit.record(
            Audit::new(Event::ServiceSecretIssued, Outcome::Success)
                .by(actor)
                .target(format!("service:{service}")),
        );
        Ok(IssuedServiceSecret {
            service_id: service,
            secret,
            created_at: now,
        })
    }

    /// Removes a service's secret: it stops working at once.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn revoke_service_secret(&self, actor: &Principal, service: i64) -> Result<(), UserError> {
        authorize(actor, Action::ManageModel)?;
        if self
            .access
            .set_service_secret(service, None, self.clock.now())?
        {
            self.audit.record(
                Audit::new(Event::ServiceSecretRevoked, Outcome::Success)
                    .by(actor)
                    .target(format!("service:{service}")),
            );
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// Issues a new token naming `service`, good for `ttl` seconds; shown once. The service's
    /// earlier tokens stay good (several instances of a service each hold their own) until they
    /// expire, and all of them stop working while the service is disabled and when it is deleted.
    /// Only the token's digest is stored.
    ///
    /// # Errors
    /// `Forbidden` for a caller who may not manage the access model, and
    /// `Forbidden(SERVICE_INACTIVE)` for a disabled service; `NotFound` for an unknown service;
    /// `Validation` with `out_of_range` against `ttl` when it is not positive.
    pub fn issue_service_token(
        &self,
        actor: &Principal,
        service: i64,
        ttl: i64,
    ) -> Result<IssuedServiceToken, UserError> {
        authorize(actor, Action::ManageModel)?;
        if ttl <= 0 {
            let mut fields = FieldErrors::new();
            fields.add("ttl", "out_of_range");
            return Err(fields.into());
        }
        let entry = self
            .access
            .get_entry(Kind::Service, service)?
            .ok_or(UserError::NotFound)?;
        if !entry.active {
            return Err(UserError::Forbidden(SERVICE_INACTIVE));
        }
        let now = self.clock.now();
        let expires_at = now.plus(ttl);
        let token = self.secrets.new_secret(SERVICE_TOKEN_PREFIX);
        self.credentials.create_service_token(
            service,
            &self.secrets.digest(&token),
            now,
            expires_at,
        )?;
        self.audit.record(
            Audit::new(Event::ServiceTokenIssued, Outcome::Success)
                .by(actor)
                .target(format!("service:{service}"))
                .detail("ttl", ttl),
        );
        Ok(IssuedServiceToken {
            token,
            expires_at,
            service: entry,
        })
    }

    /// The service a service token names, while the token has not expired and the service is
    /// active.
    ///
    /// # Errors
    /// `Invalid` for a token that is not a service token or that Tessera does not know (a deleted
    /// service's tokens are gone with it), `Expired`, `UnknownService` while the service is
    /// disabled, `Unavailable` when the store cannot be asked.
    pub fn service_of_token(&self, token: &str) -> Result<Entry, TokenError> {
        if !token.starts_with(SERVICE_TOKEN_PREFIX) {
            return Err(TokenError::Invalid);
        }
        let digest = self.secrets.digest(&PlainToken::new(token.to_owned()));
        let (expires_at, service) = self
            .credentials
            .find_service_token(&digest)
            .map_err(|e| unavailable(&e))?
            .ok_or(TokenError::Invalid)?;
        if self.clock.now() >= expires_at {
            return Err(TokenError::Expired);
        }
        if !service.active {
            return Err(TokenError::UnknownService);
        }
        Ok(service)
    }

    /// The active service that holds this secret; when the client also says who it is
    /// (`client_secret_basic` or `client_secret_post`), it must be that service's id or name.
    ///
    /// # Errors
    /// `InvalidClient` for an unknown secret, a disabled service, or another service's id.
    pub fn authenticate_service_as(
        &self,
        client_id: Option<&str>,
        secret: &str,
    ) -> Result<Entry, AuthError> {
        let service = self.service_with_secret(secret)?;
        match client_id {
            Some(id) if id != service.id.to_string() && id != service.name => {
                Err(AuthError::InvalidClient)
            }
            _ => Ok(service),
        }
    }

    fn service_with_secret(&self, secret: &str) -> Result<Entry, AuthError> {
        if !secret.starts_with(SERVICE_SECRET_PREFIX) {
            return Err(AuthError::InvalidClient);
        }
        let digest = self.secrets.digest(&PlainToken::new(secret.to_owned()));
        match self.access.service_by_secret(&digest)? {
            Some(s) if s.active => Ok(s),
            _ => Err(AuthError::InvalidClient),
        }
    }

    /// RFC 7662 introspection for an authenticated service: the token's holder, or `None` when the
    /// token is not active for any reason. Introspecting an opaque token does not renew it.
    ///
    /// # Errors
    /// `InvalidClient` when the service secret is not good.
    pub fn introspect(
        &self,
        service_secret: &str,
        token: &str,
    ) -> Result<Option<Principal>, AuthError> {
        self.introspect_as(None, service_secret, token)
    }

    /// As `introspect`, for a service that also names itself (its id or name).
    ///
    /// # Errors
    /// As `introspect`, and `InvalidClient` when the name is not the secret's service's.
    pub fn introspect_as(
        &self,
        client_id: Option<&str>,
        service_secret: &str,
        token: &str,
    ) -> Result<Option<Principal>, AuthError> {
        self.authenticate_service_as(client_id, service_secret)?;
        match self.gate.authenticate_credential(token, false) {
            Ok(p) => Ok(Some(p)),
            Err(TokenError::Unavailable) => Err(AuthError::Unknown(
                anyhow::Error::new(crate::error::Unreachable)
                    .context("the store did not answer during introspection"),
            )),
            Err(_) => Ok(None),
        }
    }

    /// `check-token` for resource services: the caller's credential is already verified; this
    /// checks that it belongs to `user_id` when given, and adds the permissions in `service_id`.
    ///
    /// # Errors
    /// `Mismatch` when the token belongs to someone else, `UnknownService` for an unknown or
    /// disabled service.
    pub fn check_token(
        &self,
        principal: Principal,
        user_id: Option<i64>,
        service_id: Option<i64>,
    ) -> Result<TokenCheck, TokenError> {
        if user_id.is_some_and(|u| u != principal.user_id.0) {
            return Err(TokenError::Mismatch);
        }
        let permissions = match service_id {
            None => None,
            Some(service) => {
                let user = self
                    .users
                    .get_user(principal.user_id)
                    .map_err(|e| unavailable(&e))?
                    .ok_or(TokenError::Revoked)?;
                match self
                    .model
                    .access_of(user, service)
                    .map_err(|e| unavailable(&e))?
                {
                    Some(a) if a.service.active => Some(a.permissions),
                    _ => return Err(TokenError::UnknownService),
                }
            }
        };
        Ok(TokenCheck {
            principal,
            permissions,
        })
    }

    /// Writes the API-key last-use times gathered since the last call. Meant for the periodic job.
    ///
    /// # Errors
    /// When the store fails; the times are kept for the next call.
    pub fn flush_key_usage(&self) -> anyhow::Result<usize> {
        let uses = self.key_usage.take();
        if uses.is_empty() {
            return Ok(0);
        }
        let n = uses.len();
        if let Err(e) = self.credentials.record_api_key_use(&uses) {
            self.key_usage.put_back(uses);
            return Err(e);
        }
        Ok(n)
    }

    /// Deletes expired opaque tokens, expired service tokens and sessions no live token can need,
    /// `batch` rows at a time, at most `max_batches` times. Meant for the periodic job.
    ///
    /// # Errors
    /// When the store fails.
    pub fn prune_expired(&self, batch: u32, max_batches: u32) -> anyhow::Result<u64> {
        let now = self.clock.now();
        // A session that ended or expired longer ago than an access token lives is no longer needed
        // to answer for any token; its revocation stays in the revocation list.
        let ended_before = now.plus(-(self.tokens.access_ttl + self.tokens.leeway + 1));
        let mut total = 0;
        for _ in 0..max_batches {
            let n = self.credentials.prune_expired(now, ended_before, batch)?;
            total += n;
            if n < u64::from(batch) {
                break;
            }
        }
        Ok(total)
    }
}

/// The global roles an API key acts with: its scopes, or all of its user's roles when it has none,
/// and never a role the user no longer holds.
pub(crate) fn key_roles(key: &ApiKey, user: &User) -> Vec<String> {
    user.roles
        .iter()
        .filter(|r| key.scopes.is_empty() || key.scopes.contains(r))
        .map(|r| r.as_str().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::Username;

    fn user(roles: &[&str]) -> User {
        User {
            id: UserId(1),
            username: Username::parse("bob").unwrap(),
            email: None,
            display_name: None,
            roles: roles.iter().map(|r| Role::parse(r).unwrap()).collect(),
            active: true,
            tenant_id: None,
            attributes: crate::user::Attributes::empty(),
            created_at: UnixTime(0),
            updated_at: UnixTime(0),
        }
    }

    fn key(scopes: &[&str]) -> ApiKey {
        ApiKey {
            id: 1,
            user_id: UserId(1),
            name: "k".into(),
            prefix: "tsk_".into(),
            scopes: scopes.iter().map(|r| Role::parse(r).unwrap()).collect(),
            created_at: UnixTime(0),
            expires_at: None,
            last_used_at: None,
        }
    }

    #[test]
    fn a_key_never_has_more_than_its_user() {
        assert_eq!(
            key_roles(&key(&[]), &user(&["admin", "user"])),
            ["admin", "user"]
        );
        assert_eq!(
            key_roles(&key(&["user"]), &user(&["admin", "user"])),
            ["user"]
        );
        // The user lost admin after the key was made: the key loses it too.
        assert_eq!(
            key_roles(&key(&["admin"]), &user(&["user"])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn csrf_tokens_match_only_their_session() {
        let h = crate::fakes::harness();
        let t = PlainToken::new("tso_a".into());
        let csrf = h.core.gate.csrf_token(&t);
        assert!(h.core.gate.csrf_matches(&t, &csrf));
        assert!(!h
            .core
            .gate
            .csrf_matches(&PlainToken::new("tso_b".into()), &csrf));
        assert!(!h.core.gate.csrf_matches(&t, ""));
        assert!(!h.core.gate.csrf_matches(&t, &format!("{csrf}x")));
    }

    #[test]
    fn token_formats_parse() {
        assert_eq!(TokenFormat::parse("opaque"), Some(TokenFormat::Opaque));
        assert_eq!(TokenFormat::parse("jwt"), Some(TokenFormat::Jwt));
        assert_eq!(TokenFormat::parse("JWT"), None);
    }

    #[test]
    fn key_usage_keeps_the_latest_time_when_put_back() {
        let u = KeyUsage::default();
        u.record(1, UnixTime(10));
        let taken = u.take();
        u.record(1, UnixTime(20));
        u.put_back(taken);
        assert_eq!(u.get(1), Some(UnixTime(20)));
    }
}
