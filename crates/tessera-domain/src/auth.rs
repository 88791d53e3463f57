//! Logins of every kind (password, second factor, OAuth grants), refresh with rotation and reuse
//! detection, logout and revocation.

use std::sync::Arc;

use crate::audit::{Audit, Auditor, Event, Outcome, RequestContext};
use crate::credentials::{key_roles, KeyUsage, TokenFormat, API_KEY_PREFIX};
use crate::error::AuthError;
use crate::issuer::{
    Grant, Issued, IssuedAccess, IssuedTokens, Issuer, SessionKind, AMR_PASSWORD,
    AMR_PASSWORD_AND_OTP,
};
use crate::lockout::{Failure, Limit, LockoutKey, LockoutPolicy};
use crate::mfa::{use_second_factor, MFA_TOKEN_PREFIX};
use crate::password::{Password, PasswordPolicy, Verification};
use crate::ports::{
    AccessRepository, ApiKeys, Clock, CredentialRepository, LockoutRepository, MfaRepository,
    NewSession, Observer, OneTimeCodes, PasswordHasher, RevokeSessions, Rotation, SecretTokens,
    SessionRepository, UserRepository,
};
use crate::principal::Principal;
use crate::revocation::Revocations;
use crate::sessions::SessionPolicy;
use crate::time::UnixTime;
use crate::token::PlainToken;
use crate::usecases::TokenSettings;
use crate::user::{LoginName, User};

/// Who is logging in, with what, and from where.
#[derive(Debug)]
pub struct LoginRequest {
    /// A username or an e-mail address.
    pub login: String,
    pub password: Password,
    /// The tenant's name, for a user of a tenant; `None` for a global user.
    pub tenant: Option<String>,
    pub context: RequestContext,
}

/// Logins, refresh, logout and revocation.
pub struct Authentication {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) access: Arc<dyn AccessRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) sessions: Arc<dyn SessionRepository>,
    pub(crate) credentials: Arc<dyn CredentialRepository>,
    pub(crate) lockout: Arc<dyn LockoutRepository>,
    pub(crate) mfa: Arc<dyn MfaRepository>,
    pub(crate) otp: Arc<dyn OneTimeCodes>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) issuer: Arc<Issuer>,
    pub(crate) key_usage: Arc<KeyUsage>,
    pub(crate) tokens: TokenSettings,
    pub(crate) password_policy: PasswordPolicy,
    pub(crate) lockout_policy: LockoutPolicy,
    pub(crate) session_policy: SessionPolicy,
    pub(crate) default_format: TokenFormat,
}

impl Authentication {
    /// Checks a username (or e-mail) and password and opens the session `kind` asks for.
    ///
    /// # Errors
    /// `InvalidCredentials` for an unknown user or a wrong password alike (both cost one hash
    /// verification); `AccountDisabled` only once the password has been proven right;
    /// `MfaRequired` for a user with a second factor; `Locked`.
    pub fn login(&self, req: LoginRequest, kind: SessionKind) -> Result<Issued, AuthError> {
        self.login_scoped(req, kind, None)
    }

    /// As `login`, with the session's scope narrowed to `scope` (the OAuth password grant).
    ///
    /// # Errors
    /// As `login`, and `InvalidScope` (before the password is checked) for a scope outside the
    /// configured one.
    pub fn login_scoped(
        &self,
        req: LoginRequest,
        kind: SessionKind,
        scope: Option<&str>,
    ) -> Result<Issued, AuthError> {
        let granted = Issuer::narrow(&self.tokens.scope, scope)?;
        let (user, mut new) = self.checked_login(req)?;
        if granted != self.tokens.scope {
            new.scope = Some(granted);
        }
        self.issuer.open(&user, &new, kind)
    }

    /// The public client of the password and refresh grants (`tokens.client_id`) has no secret:
    /// credentials presented with those grants must name it and carry no secret.
    ///
    /// # Errors
    /// `InvalidClient` for another client id, or any secret.
    pub fn check_public_client(
        &self,
        client_id: Option<&str>,
        secret: Option<&str>,
        context: &RequestContext,
    ) -> Result<(), AuthError> {
        let wrong_id = client_id.is_some_and(|id| id != self.tokens.client_id);
        let has_secret = secret.is_some_and(|s| !s.is_empty());
        if wrong_id || has_secret {
            self.audit.record(
                Audit::new(Event::ClientCredentials, Outcome::Failure)
                    .from(context)
                    .detail(
                        "client_id",
                        client_id
                            .unwrap_or_default()
                            .chars()
                            .take(32)
                            .collect::<String>(),
                    ),
            );
            return Err(AuthError::InvalidClient);
        }
        Ok(())
    }

    /// The second step of a login for a user with MFA, opening the session `kind` asks for.
    ///
    /// # Errors
    /// `InvalidMfaToken`, `InvalidMfaCode`, `Locked`, `AccountDisabled`.
    pub fn login_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        context: &RequestContext,
        kind: SessionKind,
    ) -> Result<Issued, AuthError> {
        let (user, new) = self.checked_mfa_login(mfa_token, code, context)?;
        self.issuer.open(&user, &new, kind)
    }

    /// The session kind of a login that asked for `asked` (or nothing: the configured default).
    pub fn login_kind(&self, asked: Option<TokenFormat>) -> SessionKind {
        match asked.unwrap_or(self.default_format) {
            TokenFormat::Jwt => SessionKind::Jwt,
            TokenFormat::Opaque => SessionKind::Opaque,
        }
    }

    /// Checks a login and describes the session it opens, which lasts `refresh_ttl` at most.
    pub(crate) fn checked_login(&self, req: LoginRequest) -> Result<(User, NewSession), AuthError> {
        let user = self.check_login(&req)?;
        // Failures are forgiven only once the login is complete: a user with a second factor
        // gets here after the second step, which clears them itself.
        self.forgive(user.id, req.context.ip.as_deref())?;
        let now = self.clock.now();
        let mut session =
            self.issuer
                .new_session(&user, &req.context, now, now.plus(self.tokens.refresh_ttl));
        session.amr = Some(AMR_PASSWORD.to_owned());
        Ok((user, session))
    }

    /// Checks a login's name and password, upgrading an outdated hash, and returns the user; a
    /// user with a second factor gets `MfaRequired` and a pending login instead.
    ///
    /// # Errors
    /// As `login`.
    pub(crate) fn check_login(&self, req: &LoginRequest) -> Result<User, AuthError> {
        let mut subject = None;
        let result = self.verify_login(req, &mut subject).and_then(|user| {
            self.require_second_step(&user, &req.context)?;
            Ok(user)
        });
        let (event, reason) = match &result {
            Ok(_) => (Event::Login, None),
            Err(AuthError::Locked { .. }) => (Event::LoginLocked, Some("account_locked")),
            Err(AuthError::AccountDisabled) => (Event::LoginFailed, Some("account_disabled")),
            Err(AuthError::InvalidCredentials) => (Event::LoginFailed, Some("invalid_credentials")),
            // The password was right; the second step is audited by itself.
            Err(AuthError::MfaRequired { .. }) => return result,
            Err(_) => return result,
        };
        let mut audit = Audit::new(
            event,
            if result.is_ok() {
                Outcome::Success
            } else {
                Outcome::Failure
            },
        )
        .from(&req.context);
        audit = match subject {
            Some(user) => audit.subject(user),
            // A name that matches no user, cut short: it may be a mistyped password.
            None => audit.detail("login", req.login.chars().take(64).collect::<String>()),
        };
        if let Some(reason) = reason {
            audit = audit.detail("reason", reason);
        }
        if let Some(tenant) = &req.tenant {
            audit = audit.detail("tenant", tenant.chars().take(64).collect::<String>());
        }
        self.audit.record(audit);
        result
    }

    fn verify_login(
        &self,
        req: &LoginRequest,
        subject: &mut Option<crate::user::UserId>,
    ) -> Result<User, AuthError> {
        let p = self;
        // `None`: the named tenant does not exist, so neither does the user.
        let tenant = match req.tenant.as_deref() {
            None => Some(None),
            Some(name) => p
                .access
                .find_entry(crate::access::Kind::Tenant, name)?
                .map(|t| Some(crate::user::TenantId(t.id))),
        };
        let found = match (tenant, LoginName::parse(&req.login)) {
            (Some(tenant), Some(name)) => p.users.find_credentials(tenant, &name)?,
            _ => None,
        };
        *subject = found.as_ref().map(|(u, _)| u.id);
        let name = match &found {
            Some((user, _)) => LockoutKey::user(user.id),
            None => LockoutKey::unknown(tenant.flatten(), &req.login),
        };
        let now = p.clock.now();
        let keys = self.lockout_keys(&name, *subject, req.context.ip.as_deref())?;
        self.refuse_if_locked(&keys, now)?;
        let checked = match found {
            // No stored password can be this long; refuse before spending a hash on it.
            _ if req.password.expose().len() > self.password_policy.max_bytes => None,
            None => {
                p.hasher.verify_dummy(&req.password);
                None
            }
            Some((user, hash)) => match p.hasher.verify(&req.password, &hash)? {
                Verification::Mismatch => None,
                Verification::Match { needs_rehash } => Some((user, needs_rehash)),
            },
        };
        let Some((user, needs_rehash)) = checked else {
            return Err(self.login_failed(&keys, *subject, &req.context, now)?);
        };
        if !user.active {
            return Err(AuthError::AccountDisabled);
        }
        if needs_rehash {
            let upgraded = p.hasher.hash(&req.password)?;
            p.users.set_password_hash(
                user.id,
                &upgraded,
                RevokeSessions::None,
                ApiKeys::Keep,
                now,
            )?;
            tracing::info!(
                user_id = user.id.0,
                "password hash upgraded to the configured Argon2id parameters"
            );
        }
        Ok(user)
    }

    /// The keys a failed password of `name` from `ip` counts under (none with lockout off). A user
    /// with a second factor is exempt from the account-wide limit: the password alone opens
    /// nothing, and the second step counts its own failures under every key.
    fn lockout_keys(
        &self,
        name: &LockoutKey,
        user: Option<crate::user::UserId>,
        ip: Option<&str>,
    ) -> anyhow::Result<Vec<(LockoutKey, Limit)>> {
        if !self.lockout_policy.enabled() {
            return Ok(Vec::new());
        }
        let second_factor = match user {
            Some(id) => self.mfa.mfa_state(id)?.is_some_and(|s| s.enabled),
            None => false,
        };
        Ok(self.lockout_policy.keys(name, ip, second_factor))
    }

    /// `Locked` until the latest lock of `keys` ends, when any is locked.
    fn refuse_if_locked(
        &self,
        keys: &[(LockoutKey, Limit)],
        now: UnixTime,
    ) -> Result<(), AuthError> {
        let mut until = None;
        for (key, _) in keys {
            if let Some(u) = self.lockout.locked_until(key, now)? {
                until = until.max(Some(u));
            }
        }
        match until {
            Some(until) => Err(AuthError::Locked {
                retry_after: until.seconds() - now.seconds(),
            }),
            None => Ok(()),
        }
    }

    /// After a complete login: the failures of this account from this address, and of the
    /// account as a whole, are forgiven (those of the address across accounts are not).
    fn forgive(&self, user: crate::user::UserId, ip: Option<&str>) -> anyhow::Result<()> {
        if self.lockout_policy.enabled() {
            let key = LockoutKey::user(user);
            self.lockout.clear(&key.from(ip))?;
            self.lockout.clear(&key)?;
        }
        Ok(())
    }

    /// Counts a failed login under each of `keys` and says how to answer it: `InvalidCredentials`,
    /// or `Locked` once a key reaches its limit.
    pub(crate) fn login_failed(
        &self,
        keys: &[(LockoutKey, Limit)],
        subject: Option<crate::user::UserId>,
        context: &RequestContext,
        now: UnixTime,
    ) -> anyhow::Result<AuthError> {
        let mut locked_now: Option<UnixTime> = None;
        let mut locked_before: Option<UnixTime> = None;
        for (key, limit) in keys {
            match self.lockout.record_failure(key, now, limit)? {
                Failure::Counted(_) => {}
                Failure::Locked { until } => locked_now = locked_now.max(Some(until)),
                Failure::AlreadyLocked { until } => locked_before = locked_before.max(Some(until)),
            }
        }
        if let Some(until) = locked_now {
            let mut audit = Audit::new(Event::Lockout, Outcome::Success)
                .from(context)
                .detail("until", until.seconds());
            if let Some(user) = subject {
                audit = audit.subject(user);
            }
            self.audit.record(audit);
        }
        Ok(match locked_now.max(locked_before) {
            Some(until) => AuthError::Locked {
                retry_after: until.seconds() - now.seconds(),
            },
            None => AuthError::InvalidCredentials,
        })
    }

    /// Exchanges a refresh token for a new access token and a new refresh token.
    ///
    /// A token presented again within the grace window after its rotation gets the same successor
    /// pair; later, it revokes the whole session.
    ///
    /// # Errors
    /// `InvalidGrant` for an unknown, expired or revoked token; `RefreshReused` on reuse.
    pub fn refresh(
        &self,
        presented: &PlainToken,
        context: &RequestContext,
    ) -> Result<IssuedTokens, AuthError> {
        self.refresh_scoped(presented, context, None)
    }

    /// As `refresh`, with an access token narrowed to `scope` (RFC 6749 §6); the session keeps the
    /// scope it was granted, so a later refresh may ask for all of it again, never for more.
    ///
    /// # Errors
    /// As `refresh`, and `InvalidScope` (before the token is used) for a scope the session lacks.
    pub fn refresh_scoped(
        &self,
        presented: &PlainToken,
        context: &RequestContext,
        scope: Option<&str>,
    ) -> Result<IssuedTokens, AuthError> {
        self.refresh_for(presented, context, scope, None)
    }

    /// As `refresh_scoped`, by `client`: `None` for the public client (`tokens.client_id`), or a
    /// registered OAuth client that has already authenticated. A refresh token is refreshed only
    /// by the client it was issued to (RFC 6749 §6), and its new access token is for that client.
    ///
    /// # Errors
    /// As `refresh`; `InvalidGrant` for another client's refresh token.
    pub fn refresh_for(
        &self,
        presented: &PlainToken,
        context: &RequestContext,
        scope: Option<&str>,
        client: Option<&str>,
    ) -> Result<IssuedTokens, AuthError> {
        let p = self;
        let now = p.clock.now();
        let record = p
            .sessions
            .find_refresh(&p.secrets.digest(presented))?
            .ok_or(AuthError::InvalidGrant)?;
        if record.client_id.as_deref() != client {
            return Err(AuthError::InvalidGrant);
        }
        let scope = Issuer::narrow(&self.issuer.scope_of(record.scope.as_deref()), scope)?;
        if record.session_revoked || self.revocations.contains(record.session_id) {
            return Err(AuthError::InvalidGrant);
        }
        if !self
            .session_policy
            .alive(record.session_created_at, record.session_last_used_at, now)
        {
            p.sessions
                .revoke_session(record.session_id, "session_expired", now)?;
            self.revocations.remember(&[record.session_id]);
            return Err(AuthError::InvalidGrant);
        }
        let (successor, jti) = p.secrets.successor(presented);
        let rotated_at = match record.rotated_at {
            Some(at) => Some(at),
            None if now >= record.expires_at => return Err(AuthError::InvalidGrant),
            None => match p.sessions.rotate_refresh(
                record.token_id,
                &p.secrets.digest(&successor),
                now,
                now.plus(self.tokens.refresh_ttl),
            )? {
                Rotation::Rotated => None,
                Rotation::AlreadyRotated { at } => Some(at),
            },
        };
        let issued_at = match rotated_at {
            None => now,
            Some(at) if now.seconds() - at.seconds() < self.tokens.reuse_grace => at,
            Some(_) => {
                p.sessions
                    .revoke_session(record.session_id, "refresh_token_reuse", now)?;
                self.revocations.remember(&[record.session_id]);
                tracing::warn!(
                    user_id = record.user_id.0,
                    session_id = record.session_id.0,
                    "refresh token reused after rotation; session revoked"
                );
                self.audit.record(
                    Audit::new(Event::RefreshReuse, Outcome::Failure)
                        .from(context)
                        .subject(record.user_id)
                        .target(format!("session:{}", record.session_id.0)),
                );
                return Err(AuthError::RefreshReused);
            }
        };
        let user = match p.users.get_user(record.user_id)? {
            Some(u) if u.active => u,
            _ => return Err(AuthError::InvalidGrant),
        };
        // A rotation has just marked the session used; a repeat within the grace window has not.
        if rotated_at.is_some() {
            p.sessions.touch_session(record.session_id, now)?;
        }
        self.audit.record(
            Audit::new(Event::Refresh, Outcome::Success)
                .from(context)
                .subject(user.id)
                .target(format!("session:{}", record.session_id.0)),
        );
        let client_id = client.unwrap_or(&self.tokens.client_id);
        self.issuer.issue_as(
            &user,
            record.session_id,
            issued_at,
            jti,
            successor,
            scope,
            client_id,
        )
    }

    /// Ends the caller's session: its access tokens are refused from now on and its refresh token is dead.
    /// A browser session takes with it the OAuth clients' sessions bound to its sign-in
    /// (`NewSession::sso_session_id`), as a sign-out at the logout endpoint does.
    ///
    /// # Errors
    /// Only when the store fails.
    pub fn logout(&self, caller: &Principal) -> Result<(), AuthError> {
        let Some(session) = caller.session_id else {
            return Err(AuthError::NoSession);
        };
        let now = self.clock.now();
        let ended = self.sessions.end_sign_in(session, "logout", now)?;
        self.revocations.remember(&ended);
        self.audit.record(
            Audit::new(Event::Logout, Outcome::Success)
                .by(caller)
                .subject(caller.user_id)
                .target(format!("session:{}", session.0)),
        );
        Ok(())
    }

    /// RFC 7009 revocation of a refresh token: ends its session. An unknown token is not an error.
    ///
    /// # Errors
    /// Only when the store fails.
    pub fn revoke_refresh_token(
        &self,
        presented: &PlainToken,
        context: &RequestContext,
    ) -> Result<(), AuthError> {
        let p = self;
        if let Some(record) = p.sessions.find_refresh(&p.secrets.digest(presented))? {
            let now = p.clock.now();
            p.sessions
                .revoke_session(record.session_id, "token_revoked", now)?;
            self.revocations.remember(&[record.session_id]);
            self.audit.record(
                Audit::new(Event::TokenRevoked, Outcome::Success)
                    .from(context)
                    .subject(record.user_id)
                    .target(format!("session:{}", record.session_id.0)),
            );
        }
        Ok(())
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
        self.client_credentials_scoped(key_id, secret, context, None)
    }

    /// As `client_credentials`, with the token's roles narrowed to `scope`.
    ///
    /// # Errors
    /// As `client_credentials`, and `InvalidScope` for a role the key does not have.
    pub fn client_credentials_scoped(
        &self,
        key_id: &str,
        secret: &str,
        context: &RequestContext,
        scope: Option<&str>,
    ) -> Result<IssuedAccess, AuthError> {
        let p = self;
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
            self.audit.record(
                Audit::new(Event::ClientCredentials, Outcome::Failure)
                    .from(context)
                    .detail("client_id", key_id.chars().take(32).collect::<String>()),
            );
            return Err(AuthError::InvalidClient);
        };
        self.key_usage.record(key.id, now);
        let scope = Issuer::narrow(&key_roles(&key, &user).join(" "), scope)?;
        let roles: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
        let expires = now.plus(self.tokens.access_ttl);
        let session = p.credentials.create_key_session(
            &self.issuer.new_session(&user, context, now, expires),
            key.id,
        )?;
        let token = self.issuer.sign_access(
            &user,
            session,
            now,
            p.secrets.new_jwt_id(),
            Grant {
                audience: self.tokens.audiences.clone(),
                roles,
                scope: scope.clone(),
                client_id: key.id.to_string(),
            },
        )?;
        p.observer.token_issued("client_credentials");
        self.audit.record(
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

    /// After the password: a user with MFA gets a pending login instead of a session.
    pub(crate) fn require_second_step(
        &self,
        user: &User,
        context: &RequestContext,
    ) -> Result<(), AuthError> {
        let p = self;
        if !p.mfa.mfa_state(user.id)?.is_some_and(|s| s.enabled) {
            return Ok(());
        }
        let token = p.secrets.new_secret(MFA_TOKEN_PREFIX);
        let now = p.clock.now();
        p.mfa.create_challenge(
            user.id,
            &p.secrets.digest(&token),
            now.plus(self.tokens.mfa_ttl),
        )?;
        self.audit.record(
            Audit::new(Event::MfaRequired, Outcome::Success)
                .from(context)
                .subject(user.id),
        );
        Err(AuthError::MfaRequired {
            mfa_token: token.expose().to_owned(),
        })
    }

    /// The second step of a login: the pending-login token and a TOTP or backup code.
    /// Wrong codes count towards the lockout; the pending login is used up only on success.
    ///
    /// # Errors
    /// `InvalidMfaToken` for an unknown, used or expired token; `InvalidMfaCode`; `Locked`.
    pub(crate) fn checked_mfa_login(
        &self,
        mfa_token: &str,
        code: &str,
        context: &RequestContext,
    ) -> Result<(User, NewSession), AuthError> {
        let p = self;
        let now = p.clock.now();
        let digest = p.secrets.digest(&PlainToken::new(mfa_token.to_owned()));
        let user_id = p
            .mfa
            .challenge_user(&digest, now)?
            .ok_or(AuthError::InvalidMfaToken)?;
        let ip = context.ip.as_deref();
        let keys = self
            .lockout_policy
            .keys(&LockoutKey::user(user_id), ip, false);
        self.refuse_if_locked(&keys, now)?;
        if use_second_factor(self, user_id, code)? != Some(true) {
            self.audit.record(
                Audit::new(Event::LoginFailed, Outcome::Failure)
                    .from(context)
                    .subject(user_id)
                    .detail("reason", "invalid_mfa_code"),
            );
            return Err(
                match self.login_failed(&keys, Some(user_id), context, now)? {
                    AuthError::InvalidCredentials => AuthError::InvalidMfaCode,
                    other => other,
                },
            );
        }
        if !p.mfa.consume_challenge(&digest, now)? {
            return Err(AuthError::InvalidMfaToken);
        }
        let user = match p.users.get_user(user_id)? {
            Some(u) if u.active => u,
            Some(_) => return Err(AuthError::AccountDisabled),
            None => return Err(AuthError::InvalidMfaToken),
        };
        self.forgive(user.id, ip)?;
        self.audit.record(
            Audit::new(Event::Login, Outcome::Success)
                .from(context)
                .subject(user.id)
                .detail("mfa", true),
        );
        let mut session =
            self.issuer
                .new_session(&user, context, now, now.plus(self.tokens.refresh_ttl));
        session.amr = Some(AMR_PASSWORD_AND_OTP.to_owned());
        Ok((user, session))
    }
}

crate::mfa::second_factor_ports!(Authentication);
