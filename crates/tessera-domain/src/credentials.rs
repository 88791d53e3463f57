//! Credentials beside the JWT login: API keys and the OAuth client-credentials grant, opaque
//! access tokens that renew by use, service secrets, the token checks other services ask for,
//! and the clean-up of expired credentials.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::access::{Action, Entry};
use crate::audit::{Audit, Event, Outcome, RequestContext};
use crate::auth::LoginRequest;
use crate::error::{AuthError, FieldErrors, TokenError, UserError};
use crate::ports::{Extension, NewSession};
use crate::service::{Credential, Principal, Service};
use crate::time::UnixTime;
use crate::token::PlainToken;
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

/// An access token without a refresh token: an opaque login or a client-credentials grant.
#[derive(Debug)]
pub struct IssuedAccess {
    pub access_token: PlainToken,
    pub expires_in: i64,
    pub scope: String,
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
    fn record(&self, key: i64, at: UnixTime) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, at);
    }

    fn get(&self, key: i64) -> Option<UnixTime> {
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

/// Logs a store failure met while checking a credential and says only that it could not be checked.
fn unavailable(e: &anyhow::Error) -> TokenError {
    tracing::error!(error = format!("{e:#}"), "cannot check a credential");
    TokenError::Unavailable
}

impl Service {
    /// Checks any bearer credential: an API key, an opaque token or a JWT access token, by its prefix.
    /// With `renew`, an opaque token near its expiry is extended (introspection passes false).
    ///
    /// # Errors
    /// The `TokenError` that says why it is refused.
    pub fn authenticate_credential(
        &self,
        token: &str,
        renew: bool,
    ) -> Result<Principal, TokenError> {
        if token.starts_with(API_KEY_PREFIX) {
            self.authenticate_api_key(token)
        } else if token.starts_with(OPAQUE_TOKEN_PREFIX) {
            self.authenticate_opaque(token, renew)
        } else {
            self.authenticate(token)
        }
    }

    /// The CSRF token of a browser session whose cookie holds `session_token`.
    pub fn csrf_token(&self, session_token: &PlainToken) -> String {
        self.ports.secrets.csrf_token(session_token)
    }

    /// Whether `presented` is the CSRF token of `session_token`, compared in constant time.
    pub fn csrf_matches(&self, session_token: &PlainToken, presented: &str) -> bool {
        let expected = self.csrf_token(session_token);
        expected.len() == presented.len()
            && expected
                .bytes()
                .zip(presented.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// Whether checking `token` needs the store (and so a blocking thread).
    pub fn needs_store(token: &str) -> bool {
        token.starts_with(API_KEY_PREFIX) || token.starts_with(OPAQUE_TOKEN_PREFIX)
    }

    fn authenticate_api_key(&self, token: &str) -> Result<Principal, TokenError> {
        let p = &self.ports;
        let digest = p.secrets.digest(&PlainToken::new(token.to_owned()));
        let (key, user) = p
            .credentials
            .find_api_key(&digest)
            .map_err(|e| unavailable(&e))?
            .ok_or(TokenError::Invalid)?;
        let now = p.clock.now();
        if key.expires_at.is_some_and(|e| now >= e) {
            return Err(TokenError::Expired);
        }
        if !user.active {
            return Err(TokenError::AccountDisabled);
        }
        self.key_usage.record(key.id, now);
        let roles = key_roles(&key, &user);
        Ok(Principal {
            user_id: user.id,
            username: user.username.as_str().to_owned(),
            scope: roles.join(" "),
            roles,
            session_id: None,
            expires_at: key.expires_at,
            tenant_id: user.tenant_id,
            credential: Credential::ApiKey { id: key.id },
            client_id: key.id.to_string(),
            issued_at: Some(key.created_at),
            context: RequestContext::default(),
        })
    }

    fn authenticate_opaque(&self, token: &str, renew: bool) -> Result<Principal, TokenError> {
        let p = &self.ports;
        let digest = p.secrets.digest(&PlainToken::new(token.to_owned()));
        let rec = p
            .credentials
            .find_opaque(&digest)
            .map_err(|e| unavailable(&e))?
            .ok_or(TokenError::Invalid)?;
        if rec.session_revoked || self.revoked.contains(rec.session_id) {
            return Err(TokenError::Revoked);
        }
        let now = p.clock.now();
        if now >= rec.expires_at {
            return Err(TokenError::Expired);
        }
        if !self
            .sessions
            .alive(rec.session_created_at, rec.session_last_used_at, now)
        {
            return Err(TokenError::Expired);
        }
        let user = match p.users.get_user(rec.user_id).map_err(|e| unavailable(&e))? {
            None => return Err(TokenError::Revoked),
            Some(u) if !u.active => return Err(TokenError::AccountDisabled),
            Some(u) => u,
        };
        let o = &self.opaque;
        let mut expires_at = rec.expires_at;
        let mut renewed = false;
        let target = now.plus(rec.ttl).min(rec.session_expires_at);
        if renew
            && rec.expires_at.seconds() - now.seconds() <= o.renew_threshold
            && target > expires_at
        {
            match p
                .credentials
                .extend_opaque(rec.token_id, rec.expires_at, target, now)
                .map_err(|e| unavailable(&e))?
            {
                Extension::Extended => {
                    expires_at = target;
                    renewed = true;
                }
                Extension::AlreadyAt(at) => expires_at = at,
                Extension::Gone => return Err(TokenError::Revoked),
            }
        }
        Ok(Principal {
            user_id: user.id,
            username: user.username.as_str().to_owned(),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            session_id: Some(rec.session_id),
            scope: self.tokens.scope.clone(),
            expires_at: Some(expires_at),
            tenant_id: user.tenant_id,
            credential: Credential::Opaque { renewed },
            client_id: self.tokens.client_id.clone(),
            issued_at: None,
            context: RequestContext::default(),
        })
    }

    /// The format a login asked for, or the configured default.
    pub fn login_format(&self, asked: Option<TokenFormat>) -> TokenFormat {
        asked.unwrap_or(self.opaque.default_format)
    }

    /// Checks a login like `login` and opens a session with an opaque access token.
    ///
    /// # Errors
    /// As `login`.
    pub fn login_opaque(
        &self,
        req: LoginRequest,
        browser: bool,
    ) -> Result<IssuedAccess, AuthError> {
        let (user, new) = self.checked_login(req)?;
        self.open_opaque_session(&user, &new, browser)
    }

    /// The second step of a login for a user with MFA, handing out an opaque token.
    ///
    /// # Errors
    /// As `login_mfa`.
    pub fn login_mfa_opaque(
        &self,
        mfa_token: &str,
        code: &str,
        context: &RequestContext,
        browser: bool,
    ) -> Result<IssuedAccess, AuthError> {
        let (user, new) = self.checked_mfa_login(mfa_token, code, context)?;
        self.open_opaque_session(&user, &new, browser)
    }

    /// Opens a session with an opaque token: an API client's (`ttl`) or a browser's (`browser_ttl`).
    fn open_opaque_session(
        &self,
        user: &User,
        new: &NewSession,
        browser: bool,
    ) -> Result<IssuedAccess, AuthError> {
        let p = &self.ports;
        let token = p.secrets.new_secret(OPAQUE_TOKEN_PREFIX);
        let ttl = if browser {
            self.opaque.browser_ttl
        } else {
            self.opaque.ttl
        };
        p.credentials
            .create_opaque_session(new, &p.secrets.digest(&token), ttl)?;
        self.enforce_session_limit(user.id)?;
        p.observer.token_issued(if browser {
            "browser_session"
        } else {
            "access_opaque"
        });
        Ok(IssuedAccess {
            access_token: token,
            expires_in: ttl,
            scope: self.tokens.scope.clone(),
        })
    }

    /// The OAuth client-credentials grant: an API key's id and secret buy a JWT access token with
    /// the key's roles, in a session of its own that ends when the key is deleted.
    ///
    /// # Errors
    /// `InvalidClient` for an unknown id, a wrong secret, an expired key or a disabled user.
    pub fn client_credentials(
        &self,
        key_id: &str,
        secret: &str,
        context: &RequestContext,
    ) -> Result<IssuedAccess, AuthError> {
        let p = &self.ports;
        let now = p.clock.now();
        let digest = p.secrets.digest(&PlainToken::new(secret.to_owned()));
        let found = if secret.starts_with(API_KEY_PREFIX) {
            p.credentials.find_api_key(&digest)?
        } else {
            None
        };
        let Some((key, user)) = found.filter(|(k, u)| {
            k.id.to_string() == key_id && u.active && k.expires_at.is_none_or(|e| now < e)
        }) else {
            self.audit(
                Audit::new(Event::ClientCredentials, Outcome::Failure)
                    .from(context)
                    .detail("client_id", key_id.chars().take(32).collect::<String>()),
            );
            return Err(AuthError::InvalidClient);
        };
        self.key_usage.record(key.id, now);
        let roles = key_roles(&key, &user);
        let expires = now.plus(self.tokens.access_ttl);
        let session = p
            .credentials
            .create_key_session(&self.new_session(&user, context, now, expires), key.id)?;
        let scope = roles.join(" ");
        let token = self.sign_access(
            &user,
            session,
            now,
            p.secrets.new_jwt_id(),
            crate::auth::Grant {
                roles,
                scope: scope.clone(),
                client_id: key.id.to_string(),
            },
        )?;
        p.observer.token_issued("client_credentials");
        self.audit(
            Audit::new(Event::ClientCredentials, Outcome::Success)
                .from(context)
                .actor(user.id)
                .subject(user.id)
                .target(format!("api_key:{}", key.id)),
        );
        Ok(IssuedAccess {
            access_token: PlainToken::new(token),
            expires_in: self.tokens.access_ttl,
            scope,
        })
    }

    pub(crate) fn new_session(
        &self,
        user: &User,
        context: &RequestContext,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> NewSession {
        NewSession {
            user_id: user.id,
            ip: context.ip.clone(),
            user_agent: context
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(crate::auth::MAX_USER_AGENT).collect()),
            created_at: now,
            expires_at,
        }
    }

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
        let owner = self.target_user(actor, user, Action::Read)?;
        let now = self.ports.clock.now();
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
        let secret = self.ports.secrets.new_secret(API_KEY_PREFIX);
        let new = NewApiKey {
            user_id: user,
            name,
            prefix: secret.expose().chars().take(SHOWN_PREFIX_LEN).collect(),
            scopes,
            created_at: now,
            expires_at: req.expires_at,
        };
        let key = self
            .ports
            .credentials
            .create_api_key(&new, &self.ports.secrets.digest(&secret))?;
        self.audit(
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
        self.target_user(actor, user, Action::Read)?;
        let mut keys = self.ports.credentials.list_api_keys(user)?;
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
            .ports
            .credentials
            .get_api_key(id)?
            .ok_or(UserError::NotFound)?;
        if self.target_user(actor, key.user_id, Action::Read).is_err() {
            return Err(UserError::NotFound);
        }
        let revoked = self
            .ports
            .credentials
            .delete_api_key(id, self.ports.clock.now())?
            .ok_or(UserError::NotFound)?;
        self.remember_revoked(&revoked);
        self.audit(
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
        Self::authorize(actor, Action::ManageModel)?;
        let now = self.ports.clock.now();
        let secret = self.ports.secrets.new_secret(SERVICE_SECRET_PREFIX);
        let digest = self.ports.secrets.digest(&secret);
        if !self
            .ports
            .access
            .set_service_secret(service, Some(&digest), now)?
        {
            return Err(UserError::NotFound);
        }
        self.audit(
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
        Self::authorize(actor, Action::ManageModel)?;
        if self
            .ports
            .access
            .set_service_secret(service, None, self.ports.clock.now())?
        {
            self.audit(
                Audit::new(Event::ServiceSecretRevoked, Outcome::Success)
                    .by(actor)
                    .target(format!("service:{service}")),
            );
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// The active service that holds this secret.
    ///
    /// # Errors
    /// `InvalidClient` for an unknown secret or a disabled service.
    pub fn authenticate_service(&self, secret: &str) -> Result<Entry, AuthError> {
        if !secret.starts_with(SERVICE_SECRET_PREFIX) {
            return Err(AuthError::InvalidClient);
        }
        let digest = self
            .ports
            .secrets
            .digest(&PlainToken::new(secret.to_owned()));
        match self.ports.access.service_by_secret(&digest)? {
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
        self.authenticate_service(service_secret)?;
        match self.authenticate_credential(token, false) {
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
                    .ports
                    .users
                    .get_user(principal.user_id)
                    .map_err(|e| unavailable(&e))?
                    .ok_or(TokenError::Revoked)?;
                match self.access_of(user, service).map_err(|e| unavailable(&e))? {
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
        if let Err(e) = self.ports.credentials.record_api_key_use(&uses) {
            self.key_usage.put_back(uses);
            return Err(e);
        }
        Ok(n)
    }

    /// Deletes expired opaque tokens and sessions no live token can need, `batch` rows at a time,
    /// at most `max_batches` times. Meant for the periodic job.
    ///
    /// # Errors
    /// When the store fails.
    pub fn prune_expired(&self, batch: u32, max_batches: u32) -> anyhow::Result<u64> {
        let now = self.ports.clock.now();
        // A session that ended or expired longer ago than an access token lives is no longer needed
        // to answer for any token; its revocation stays in the revocation list.
        let ended_before = now.plus(-(self.tokens.access_ttl + self.tokens.leeway + 1));
        let mut total = 0;
        for _ in 0..max_batches {
            let n = self
                .ports
                .credentials
                .prune_expired(now, ended_before, batch)?;
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
fn key_roles(key: &ApiKey, user: &User) -> Vec<String> {
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
        let csrf = h.service.csrf_token(&t);
        assert!(h.service.csrf_matches(&t, &csrf));
        assert!(!h
            .service
            .csrf_matches(&PlainToken::new("tso_b".into()), &csrf));
        assert!(!h.service.csrf_matches(&t, ""));
        assert!(!h.service.csrf_matches(&t, &format!("{csrf}x")));
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
