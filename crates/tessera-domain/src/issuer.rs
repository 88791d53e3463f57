//! Opening sessions and signing access tokens: the one place a login's result is made, whether the
//! login was a password, a second factor or an OAuth grant.

use std::sync::Arc;

use crate::audit::{Audit, Auditor, Event, Outcome, RequestContext};
use crate::claims::AccessClaims;
use crate::credentials::{OpaqueSettings, OPAQUE_TOKEN_PREFIX};
use crate::error::AuthError;
use crate::ports::{
    AccessTokenCodec, Clock, CredentialRepository, NewSession, Observer, SecretTokens,
    SessionDirectory, SessionInfo, SessionRepository,
};
use crate::revocation::Revocations;
use crate::sessions::SessionPolicy;
use crate::time::UnixTime;
use crate::token::{PlainToken, SessionId};
use crate::usecases::TokenSettings;
use crate::user::{User, UserId};

/// Longest user agent kept with a session, in characters.
pub(crate) const MAX_USER_AGENT: usize = 512;
/// The RFC 8176 methods of a sign-in with a password.
pub(crate) const AMR_PASSWORD: &str = "pwd";
/// The RFC 8176 methods of a sign-in with a password and a one-time code (TOTP or backup code).
pub(crate) const AMR_PASSWORD_AND_OTP: &str = "pwd otp";

/// What a login hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// An RFC 9068 JWT access token with a refresh token.
    Jwt,
    /// An opaque access token renewed by use, without a refresh token.
    Opaque,
    /// An opaque token with the browser lifetime, for a session cookie.
    Browser,
    /// An opaque access token renewed by use, with a front door's own lifetime in seconds instead
    /// of `OpaqueSettings::ttl` (a door whose clients expect their tokens to last that long).
    OpaqueLasting(i64),
}

/// The tokens handed to a client after a login or a refresh.
#[derive(Debug)]
pub struct IssuedTokens {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: PlainToken,
    pub scope: String,
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// An access token without a refresh token: an opaque login or a client-credentials grant.
#[derive(Debug)]
pub struct IssuedAccess {
    pub access_token: PlainToken,
    pub expires_in: i64,
    pub scope: String,
}

/// The result of a login, by `SessionKind`.
#[derive(Debug)]
pub enum Issued {
    /// `SessionKind::Jwt`.
    Tokens(IssuedTokens),
    /// `SessionKind::Opaque` and `SessionKind::Browser`.
    Access(IssuedAccess),
}

/// What an access token grants: its audience, roles, scope and client.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub audience: Vec<String>,
    pub roles: Vec<String>,
    pub scope: String,
    pub client_id: String,
}

/// Opens sessions of every kind and signs their access tokens.
pub struct Issuer {
    pub(crate) codec: Arc<dyn AccessTokenCodec>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sessions: Arc<dyn SessionRepository>,
    pub(crate) credentials: Arc<dyn CredentialRepository>,
    pub(crate) directory: Arc<dyn SessionDirectory>,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) tokens: TokenSettings,
    pub(crate) opaque: OpaqueSettings,
    pub(crate) session_policy: SessionPolicy,
}

impl Issuer {
    /// Describes a new session of `user` opened from `context`, with the configured scope.
    pub(crate) fn new_session(
        &self,
        user: &User,
        context: &RequestContext,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> NewSession {
        NewSession {
            scope: None,
            user_id: user.id,
            ip: context.ip.clone(),
            user_agent: context
                .user_agent
                .as_ref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
            created_at: now,
            expires_at,
            amr: None,
            client_id: None,
            sso_session_id: None,
        }
    }

    /// Opens the session a checked login asked for.
    ///
    /// # Errors
    /// Only when the store or the signing key fails.
    pub(crate) fn open(
        &self,
        user: &User,
        new: &NewSession,
        kind: SessionKind,
    ) -> Result<Issued, AuthError> {
        Ok(match kind {
            SessionKind::Jwt => Issued::Tokens(self.open_jwt_session(user, new)?),
            SessionKind::Opaque => {
                Issued::Access(self.open_opaque_session(user, new, self.opaque.ttl, false)?)
            }
            SessionKind::OpaqueLasting(ttl) => {
                Issued::Access(self.open_opaque_session(user, new, ttl.max(1), false)?)
            }
            SessionKind::Browser => Issued::Access(self.open_opaque_session(
                user,
                new,
                self.opaque.browser_ttl,
                true,
            )?),
        })
    }

    fn open_jwt_session(&self, user: &User, new: &NewSession) -> Result<IssuedTokens, AuthError> {
        let refresh = self.secrets.new_refresh_token();
        let session = self
            .sessions
            .create_session(new, &self.secrets.digest(&refresh))?;
        self.enforce_session_limit(user.id)?;
        let jti = self.secrets.new_jwt_id();
        let scope = self.scope_of(new.scope.as_deref());
        self.issue(user, session, new.created_at, jti, refresh, scope)
    }

    /// Opens a session for a registered OAuth client's code exchange: a JWT access token for
    /// `client_id` with the session's scope, and a refresh token that the caller hands out only
    /// when `offline_access` was granted (otherwise nobody ever learns it).
    ///
    /// # Errors
    /// Only when the store or the signing key fails.
    pub(crate) fn open_for_client(
        &self,
        user: &User,
        new: &NewSession,
        client_id: &str,
    ) -> Result<IssuedTokens, AuthError> {
        let refresh = self.secrets.new_refresh_token();
        let session = self
            .sessions
            .create_session(new, &self.secrets.digest(&refresh))?;
        self.enforce_session_limit(user.id)?;
        let scope = self.scope_of(new.scope.as_deref());
        let grant = self.grant(user, scope.clone(), client_id);
        let access_token = self.sign_access(
            user,
            session,
            new.created_at,
            self.secrets.new_jwt_id(),
            grant,
        )?;
        self.observer.token_issued("access_jwt");
        Ok(IssuedTokens {
            access_token,
            expires_in: self.tokens.access_ttl,
            refresh_token: refresh,
            scope,
            user_id: user.id,
            session_id: session,
        })
    }

    /// The scope a session was granted: its own, or the configured one.
    pub(crate) fn scope_of(&self, granted: Option<&str>) -> String {
        granted.unwrap_or(&self.tokens.scope).to_owned()
    }

    /// The scope to grant for `asked` within `allowed`: every scope asked for must be allowed,
    /// and the answer keeps `allowed`'s order. Nothing asked (or an empty string): all of it.
    ///
    /// # Errors
    /// `InvalidScope` for a scope outside `allowed`.
    pub(crate) fn narrow(allowed: &str, asked: Option<&str>) -> Result<String, AuthError> {
        let Some(asked) = asked.filter(|a| !a.trim().is_empty()) else {
            return Ok(allowed.to_owned());
        };
        let asked: Vec<&str> = asked.split_whitespace().collect();
        let allowed: Vec<&str> = allowed.split_whitespace().collect();
        if asked.iter().any(|a| !allowed.contains(a)) {
            return Err(AuthError::InvalidScope);
        }
        Ok(allowed
            .into_iter()
            .filter(|a| asked.contains(a))
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// Opens a session with an opaque token renewing by `ttl`: an API client's, a front door's
    /// own, or a browser's.
    fn open_opaque_session(
        &self,
        user: &User,
        new: &NewSession,
        ttl: i64,
        browser: bool,
    ) -> Result<IssuedAccess, AuthError> {
        let token = self.secrets.new_secret(OPAQUE_TOKEN_PREFIX);
        self.credentials
            .create_opaque_session(new, &self.secrets.digest(&token), ttl)?;
        self.enforce_session_limit(user.id)?;
        self.observer.token_issued(if browser {
            "browser_session"
        } else {
            "access_opaque"
        });
        Ok(IssuedAccess {
            access_token: token,
            expires_in: ttl.min(new.expires_at.seconds() - new.created_at.seconds()),
            scope: self.tokens.scope.clone(),
        })
    }

    /// A JWT access token with `scope` and `refresh_token` for an existing session.
    pub(crate) fn issue(
        &self,
        user: &User,
        session: SessionId,
        issued_at: UnixTime,
        jwt_id: String,
        refresh_token: PlainToken,
        scope: String,
    ) -> Result<IssuedTokens, AuthError> {
        let client_id = self.tokens.client_id.clone();
        self.issue_as(
            user,
            session,
            issued_at,
            jwt_id,
            refresh_token,
            scope,
            &client_id,
        )
    }

    /// As `issue`, with an access token for `client_id`: a registered OAuth client's refresh.
    ///
    /// # Errors
    /// Only when the signing key fails.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn issue_as(
        &self,
        user: &User,
        session: SessionId,
        issued_at: UnixTime,
        jwt_id: String,
        refresh_token: PlainToken,
        scope: String,
        client_id: &str,
    ) -> Result<IssuedTokens, AuthError> {
        let t = &self.tokens;
        let grant = self.grant(user, scope.clone(), client_id);
        let access_token = self.sign_access(user, session, issued_at, jwt_id, grant)?;
        self.observer.token_issued("access_jwt");
        self.observer.token_issued("refresh");
        let expires_at = issued_at.plus(t.access_ttl);
        Ok(IssuedTokens {
            access_token,
            expires_in: (expires_at.seconds() - self.clock.now().seconds()).max(0),
            refresh_token,
            scope,
            user_id: user.id,
            session_id: session,
        })
    }

    /// What an access token of `user` for `client_id` with `scope` grants. Tessera's own client
    /// (and an API key's) gets the configured audiences and the user's roles. A registered OAuth
    /// client gets itself as the audience and no roles: its token tells it who signed in (at the
    /// UserInfo endpoint) and nothing else accepts it. Only when it was granted an API scope
    /// (one of `tokens.scope` beyond the OpenID Connect ones, which it registered and the user
    /// consented to) does its token also name the configured audiences, with the user's roles, so
    /// that the resource servers of those audiences take it.
    pub(crate) fn grant(&self, user: &User, scope: String, client_id: &str) -> Grant {
        let roles = || user.roles.iter().map(|r| r.as_str().to_owned()).collect();
        if !crate::oauth::is_client_id(client_id) {
            return Grant {
                audience: self.tokens.audiences.clone(),
                roles: roles(),
                scope,
                client_id: client_id.to_owned(),
            };
        }
        let mut audience = vec![client_id.to_owned()];
        let api = crate::oauth::grants_api(&scope);
        if api {
            audience.extend(self.tokens.audiences.iter().cloned());
        }
        Grant {
            audience,
            roles: if api { roles() } else { Vec::new() },
            scope,
            client_id: client_id.to_owned(),
        }
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
            audience: grant.audience,
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
        Ok(self.codec.sign(&claims)?)
    }

    /// After a login: ends the user's oldest sessions beyond the per-user limit.
    fn enforce_session_limit(&self, user: UserId) -> anyhow::Result<()> {
        let max = self.session_policy.max_per_user as usize;
        if max == 0 {
            return Ok(());
        }
        let now = self.clock.now();
        let live: Vec<SessionInfo> = self
            .directory
            .live_sessions(user, now)?
            .into_iter()
            .filter(|s| !s.api_key)
            .collect();
        let excess = live.len().saturating_sub(max);
        if excess == 0 {
            return Ok(());
        }
        let ids: Vec<SessionId> = live.iter().take(excess).map(|s| s.id).collect();
        for id in &ids {
            self.sessions.revoke_session(*id, "session_limit", now)?;
        }
        self.revocations.remember(&ids);
        self.audit.record(
            Audit::new(Event::SessionRevoked, Outcome::Success)
                .subject(user)
                .detail("reason", "session_limit")
                .detail("sessions_ended", ids.len()),
        );
        Ok(())
    }
}
