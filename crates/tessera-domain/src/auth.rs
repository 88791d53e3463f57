//! Login, refresh with rotation and reuse detection, logout, revocation, and access-token checks.

use crate::audit::{Audit, Event, Outcome, RequestContext};
use crate::claims::AccessClaims;
use crate::error::{AuthError, TokenError};
use crate::lockout::{Failure, LockoutKey};
use crate::password::{Password, Verification};
use crate::ports::{NewSession, RevokeSessions, Rotation};
use crate::service::{Credential, Principal, Service};
use crate::time::UnixTime;
use crate::token::{PlainToken, SessionId};
use crate::user::{LoginName, User};

/// Longest user agent kept with a session, in characters.
pub(crate) const MAX_USER_AGENT: usize = 512;

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

/// The tokens handed to a client after a login or a refresh.
#[derive(Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: PlainToken,
    pub scope: String,
    pub user_id: crate::user::UserId,
    pub session_id: SessionId,
}

impl Service {
    /// Checks a username (or e-mail) and password and opens a session.
    ///
    /// # Errors
    /// `InvalidCredentials` for an unknown user or a wrong password alike (both cost one hash
    /// verification); `AccountDisabled` only once the password has been proven right.
    pub fn login(&self, req: LoginRequest) -> Result<IssuedTokens, AuthError> {
        let (user, new) = self.checked_login(req)?;
        self.open_jwt_session(&user, &new)
    }

    /// The second step of a login for a user with MFA, handing out a JWT and a refresh token.
    ///
    /// # Errors
    /// `InvalidMfaToken`, `InvalidMfaCode`, `Locked`, `AccountDisabled`.
    pub fn login_mfa(
        &self,
        mfa_token: &str,
        code: &str,
        context: &RequestContext,
    ) -> Result<IssuedTokens, AuthError> {
        let (user, new) = self.checked_mfa_login(mfa_token, code, context)?;
        self.open_jwt_session(&user, &new)
    }

    fn open_jwt_session(&self, user: &User, new: &NewSession) -> Result<IssuedTokens, AuthError> {
        let p = &self.ports;
        let refresh = p.secrets.new_refresh_token();
        let session = p
            .sessions
            .create_session(new, &p.secrets.digest(&refresh))?;
        self.enforce_session_limit(user.id)?;
        let jti = p.secrets.new_jwt_id();
        self.issue(user, session, new.created_at, jti, refresh)
    }

    /// Checks a login and describes the session it opens, which lasts `refresh_ttl` at most.
    pub(crate) fn checked_login(&self, req: LoginRequest) -> Result<(User, NewSession), AuthError> {
        let user = self.check_login(&req)?;
        self.require_second_step(&user, &req.context)?;
        let now = self.ports.clock.now();
        let session = self.new_session(&user, &req.context, now, now.plus(self.tokens.refresh_ttl));
        Ok((user, session))
    }

    /// Checks a login's name and password, upgrading an outdated hash, and returns the user.
    ///
    /// # Errors
    /// As `login`.
    pub(crate) fn check_login(&self, req: &LoginRequest) -> Result<User, AuthError> {
        let mut subject = None;
        let result = self.verify_login(req, &mut subject);
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
        self.audit(audit);
        result
    }

    fn verify_login(
        &self,
        req: &LoginRequest,
        subject: &mut Option<crate::user::UserId>,
    ) -> Result<User, AuthError> {
        let p = &self.ports;
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
        let key = match &found {
            Some((user, _)) => LockoutKey::user(user.id),
            None => LockoutKey::unknown(tenant.flatten(), &req.login),
        };
        let now = p.clock.now();
        if self.lockout.enabled() {
            if let Some(until) = p.lockout.locked_until(&key, now)? {
                return Err(AuthError::Locked {
                    retry_after: until.seconds() - now.seconds(),
                });
            }
        }
        let checked = match found {
            // No stored password can be this long; refuse before spending a hash on it.
            _ if req.password.expose().len() > self.policy.max_bytes => None,
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
            return Err(self.login_failed(&key, *subject, &req.context, now)?);
        };
        if !user.active {
            return Err(AuthError::AccountDisabled);
        }
        if self.lockout.enabled() {
            p.lockout.clear(&key)?;
        }
        if needs_rehash {
            let upgraded = p.hasher.hash(&req.password)?;
            p.users
                .set_password_hash(user.id, &upgraded, RevokeSessions::None, now)?;
            tracing::info!(
                user_id = user.id.0,
                "password hash upgraded to the configured Argon2id parameters"
            );
        }
        Ok(user)
    }

    /// Counts a failed login and says how to answer it: `InvalidCredentials`, or `Locked` once the
    /// failures reach the limit.
    pub(crate) fn login_failed(
        &self,
        key: &LockoutKey,
        subject: Option<crate::user::UserId>,
        context: &RequestContext,
        now: UnixTime,
    ) -> anyhow::Result<AuthError> {
        if !self.lockout.enabled() {
            return Ok(AuthError::InvalidCredentials);
        }
        Ok(
            match self.ports.lockout.record_failure(key, now, &self.lockout)? {
                Failure::Counted(_) => AuthError::InvalidCredentials,
                Failure::Locked { until } => {
                    let mut audit = Audit::new(Event::Lockout, Outcome::Success)
                        .from(context)
                        .detail("until", until.seconds());
                    if let Some(user) = subject {
                        audit = audit.subject(user);
                    }
                    self.audit(audit);
                    AuthError::Locked {
                        retry_after: until.seconds() - now.seconds(),
                    }
                }
                Failure::AlreadyLocked { until } => AuthError::Locked {
                    retry_after: until.seconds() - now.seconds(),
                },
            },
        )
    }

    /// Lifts a user's lockout and forgets their failed logins. Admins (of the user's tenant) only.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn unlock_user(
        &self,
        actor: &Principal,
        id: crate::user::UserId,
    ) -> Result<(), crate::error::UserError> {
        self.target_user(actor, id, crate::access::Action::Administer)?;
        self.ports.lockout.clear(&LockoutKey::user(id))?;
        self.audit(
            Audit::new(Event::Unlock, Outcome::Success)
                .by(actor)
                .subject(id),
        );
        Ok(())
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
        let p = &self.ports;
        let now = p.clock.now();
        let record = p
            .sessions
            .find_refresh(&p.secrets.digest(presented))?
            .ok_or(AuthError::InvalidGrant)?;
        if record.session_revoked || self.revoked.contains(record.session_id) {
            return Err(AuthError::InvalidGrant);
        }
        if !self
            .sessions
            .alive(record.session_created_at, record.session_last_used_at, now)
        {
            p.sessions
                .revoke_session(record.session_id, "session_expired", now)?;
            self.remember_revoked(&[record.session_id]);
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
                self.remember_revoked(&[record.session_id]);
                tracing::warn!(
                    user_id = record.user_id.0,
                    session_id = record.session_id.0,
                    "refresh token reused after rotation; session revoked"
                );
                self.audit(
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
        p.sessions.touch_session(record.session_id, now)?;
        self.audit(
            Audit::new(Event::Refresh, Outcome::Success)
                .from(context)
                .subject(user.id)
                .target(format!("session:{}", record.session_id.0)),
        );
        self.issue(&user, record.session_id, issued_at, jti, successor)
    }

    /// Ends the caller's session: its access tokens are refused from now on and its refresh token is dead.
    ///
    /// # Errors
    /// Only when the store fails.
    pub fn logout(&self, caller: &Principal) -> Result<(), AuthError> {
        let Some(session) = caller.session_id else {
            return Err(AuthError::NoSession);
        };
        let now = self.ports.clock.now();
        self.ports.sessions.revoke_session(session, "logout", now)?;
        self.remember_revoked(&[session]);
        self.audit(
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
        let p = &self.ports;
        if let Some(record) = p.sessions.find_refresh(&p.secrets.digest(presented))? {
            let now = p.clock.now();
            p.sessions
                .revoke_session(record.session_id, "token_revoked", now)?;
            self.remember_revoked(&[record.session_id]);
            self.audit(
                Audit::new(Event::TokenRevoked, Outcome::Success)
                    .from(context)
                    .subject(record.user_id)
                    .target(format!("session:{}", record.session_id.0)),
            );
        }
        Ok(())
    }

    /// Checks an access token: signature, time, issuer, audience, and the revocation view.
    /// Costs one signature verification and a memory lookup; it never touches the store.
    ///
    /// # Errors
    /// The `TokenError` that says why the token is refused.
    pub fn authenticate(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = self.ports.codec.decode(token)?;
        self.rules.check(&claims, self.ports.clock.now())?;
        if self.revoked.contains(claims.session_id) {
            return Err(TokenError::Revoked);
        }
        Ok(Principal {
            user_id: claims.subject,
            username: claims.preferred_username,
            roles: claims.roles,
            session_id: Some(claims.session_id),
            scope: claims.scope,
            expires_at: Some(claims.expires_at),
            tenant_id: claims
                .tenant_id
                .as_deref()
                .map(|t| t.parse().map(crate::user::TenantId))
                .transpose()
                .map_err(|_| TokenError::Invalid)?,
            credential: Credential::AccessToken,
            client_id: claims.client_id,
            issued_at: Some(claims.issued_at),
            context: RequestContext::default(),
        })
    }

    fn issue(
        &self,
        user: &User,
        session: SessionId,
        issued_at: UnixTime,
        jwt_id: String,
        refresh_token: PlainToken,
    ) -> Result<IssuedTokens, AuthError> {
        let t = &self.tokens;
        let grant = Grant {
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            scope: t.scope.clone(),
            client_id: t.client_id.clone(),
        };
        let access_token = self.sign_access(user, session, issued_at, jwt_id, grant)?;
        self.ports.observer.token_issued("access_jwt");
        self.ports.observer.token_issued("refresh");
        let expires_at = issued_at.plus(t.access_ttl);
        Ok(IssuedTokens {
            access_token,
            expires_in: (expires_at.seconds() - self.ports.clock.now().seconds()).max(0),
            refresh_token,
            scope: t.scope.clone(),
            user_id: user.id,
            session_id: session,
        })
    }

    /// Signs an access token for `user` in `session` with what `grant` allows.
    pub(crate) fn sign_access(
        &self,
        user: &User,
        session: SessionId,
        issued_at: UnixTime,
        jwt_id: String,
        grant: Grant,
    ) -> Result<String, AuthError> {
        let t = &self.tokens;
        let claims = AccessClaims {
            issuer: t.issuer.clone(),
            subject: user.id,
            audience: t.audiences.clone(),
            expires_at: issued_at.plus(t.access_ttl),
            issued_at,
            not_before: issued_at,
            jwt_id,
            client_id: grant.client_id,
            session_id: session,
            scope: grant.scope,
            roles: grant.roles,
            tenant_id: user.tenant_id.map(|t| t.0.to_string()),
            preferred_username: user.username.as_str().to_owned(),
        };
        Ok(self.ports.codec.sign(&claims)?)
    }
}

/// What an access token grants: its roles, scope and client.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub roles: Vec<String>,
    pub scope: String,
    pub client_id: String,
}
