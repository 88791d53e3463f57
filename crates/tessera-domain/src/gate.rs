//! Checking bearer credentials: JWT access tokens (a signature and memory lookups), opaque tokens
//! and API keys (a store lookup), and the CSRF tokens of browser sessions.

use std::sync::Arc;

use crate::audit::RequestContext;
use crate::claims::ClaimRules;
use crate::credentials::{
    key_roles, KeyUsage, OpaqueSettings, API_KEY_PREFIX, OPAQUE_TOKEN_PREFIX,
};
use crate::error::TokenError;
use crate::issuer::AMR_PASSWORD;
use crate::oauth::SsoSession;
use crate::ports::{
    AccessTokenCodec, Clock, CredentialRepository, Extension, OpaqueRecord, SecretTokens,
    UserRepository,
};
use crate::principal::{Credential, Principal};
use crate::revocation::Revocations;
use crate::sessions::SessionPolicy;
use crate::time::UnixTime;
use crate::token::PlainToken;
use crate::user::User;

/// Prefix of the random value a sign-in page keeps in a cookie, whose `csrf_token` its form
/// carries. Invariant: never changes, as `API_KEY_PREFIX`.
pub const LOGIN_NONCE_PREFIX: &str = "tsl_";
/// Most characters after the prefix of a form's nonce taken back from a browser
/// (`new_login_nonce` makes 43).
const MAX_LOGIN_NONCE_LEN: usize = 64;

/// Whether `value` has the shape of a form's nonce (`Gate::new_login_nonce`): the prefix and 1 to
/// 64 base64url characters. Anything else a cookie holds (emptied, cut, or not this server's) is
/// never taken back.
pub fn is_login_nonce(value: &str) -> bool {
    value.strip_prefix(LOGIN_NONCE_PREFIX).is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= MAX_LOGIN_NONCE_LEN
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Checks bearer credentials. A JWT check never touches the store.
pub struct Gate {
    pub(crate) codec: Arc<dyn AccessTokenCodec>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) credentials: Arc<dyn CredentialRepository>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) key_usage: Arc<KeyUsage>,
    pub(crate) rules: ClaimRules,
    pub(crate) session_policy: SessionPolicy,
    pub(crate) opaque: OpaqueSettings,
    /// The scope and client of opaque tokens.
    pub(crate) scope: String,
    pub(crate) client_id: String,
}

/// An opaque token that passed every check: its record, its user, and its expiry after any renewal.
struct OpaqueSession {
    record: OpaqueRecord,
    user: User,
    expires_at: UnixTime,
    renewed: bool,
}

/// Logs a store failure met while checking a credential and says only that it could not be checked.
pub(crate) fn unavailable(e: &anyhow::Error) -> TokenError {
    if !crate::memory_only::is_would_block(e) {
        tracing::error!(error = format!("{e:#}"), "cannot check a credential");
    }
    TokenError::Unavailable
}

impl Gate {
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
            self.authenticate_jwt(token)
        }
    }

    /// As `authenticate_credential` with renewal, for a front door with its own renewal window: an
    /// opaque token is extended when at most `renew_threshold` seconds are left (0 or less: never).
    ///
    /// # Errors
    /// The `TokenError` that says why it is refused.
    pub fn authenticate_renewing_within(
        &self,
        token: &str,
        renew_threshold: i64,
    ) -> Result<Principal, TokenError> {
        if token.starts_with(OPAQUE_TOKEN_PREFIX) {
            self.authenticate_opaque_within(token, Some(renew_threshold))
        } else {
            self.authenticate_credential(token, false)
        }
    }

    /// The CSRF token of a browser session whose cookie holds `session_token`.
    pub fn csrf_token(&self, session_token: &PlainToken) -> String {
        self.secrets.csrf_token(session_token)
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

    /// A new random value for a sign-in form's cookie; the form carries its `csrf_token`, so that
    /// only a page this server rendered can post a sign-in.
    pub fn new_login_nonce(&self) -> PlainToken {
        self.secrets.new_secret(LOGIN_NONCE_PREFIX)
    }

    /// The nonce a page's form (the sign-in or the consent form) carries the `csrf_token` of:
    /// `held`, the one the browser's cookie already holds, when it has the shape of one
    /// (`is_login_nonce`), else a new one. One nonce per browser while its cookie lives, so that
    /// a form opened in a second tab does not spoil the one open in the first. The cookie's
    /// lifetime is the nonce's: a browser sends it until its `Max-Age` runs out, and each page
    /// sets it again for a full one, so every form is good for that long after it was shown.
    pub fn login_nonce(&self, held: Option<&str>) -> PlainToken {
        match held.filter(|h| is_login_nonce(h)) {
            Some(held) => PlainToken::new(held.to_owned()),
            None => self.new_login_nonce(),
        }
    }

    /// The single sign-on session whose opaque token a browser's session cookie holds: who signed
    /// in, when (the session's creation) and how. The token renews as with any use.
    ///
    /// # Errors
    /// As `authenticate_credential` refuses an opaque token.
    pub fn sso_session(&self, cookie_token: &str) -> Result<SsoSession, TokenError> {
        let s = self.opaque_session(cookie_token, Some(self.opaque.renew_threshold))?;
        Ok(SsoSession {
            user_id: s.user.id,
            tenant_id: s.user.tenant_id,
            session_id: s.record.session_id,
            auth_time: s.record.session_created_at,
            // Sessions opened before methods were recorded were opened with a password.
            amr: s
                .record
                .amr
                .as_deref()
                .unwrap_or(AMR_PASSWORD)
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }

    /// Whether checking `token` needs the store (and so a blocking thread).
    pub fn needs_store(token: &str) -> bool {
        token.starts_with(API_KEY_PREFIX) || token.starts_with(OPAQUE_TOKEN_PREFIX)
    }

    fn authenticate_api_key(&self, token: &str) -> Result<Principal, TokenError> {
        let p = self;
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
        self.authenticate_opaque_within(token, renew.then_some(self.opaque.renew_threshold))
    }

    /// An opaque token's principal; with `renew_within`, the token is extended when at most that
    /// many seconds are left.
    fn authenticate_opaque_within(
        &self,
        token: &str,
        renew_within: Option<i64>,
    ) -> Result<Principal, TokenError> {
        let OpaqueSession {
            record,
            user,
            expires_at,
            renewed,
        } = self.opaque_session(token, renew_within)?;
        Ok(Principal {
            user_id: user.id,
            username: user.username.as_str().to_owned(),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            session_id: Some(record.session_id),
            scope: self.scope.clone(),
            expires_at: Some(expires_at),
            tenant_id: user.tenant_id,
            credential: Credential::Opaque { renewed },
            client_id: self.client_id.clone(),
            issued_at: None,
            context: RequestContext::default(),
        })
    }

    /// Checks an opaque token (its session alive, its user active) and, with `renew_within`,
    /// extends it when at most that many seconds are left.
    fn opaque_session(
        &self,
        token: &str,
        renew_within: Option<i64>,
    ) -> Result<OpaqueSession, TokenError> {
        let p = self;
        let digest = p.secrets.digest(&PlainToken::new(token.to_owned()));
        let rec = p
            .credentials
            .find_opaque(&digest)
            .map_err(|e| unavailable(&e))?
            .ok_or(TokenError::Invalid)?;
        if rec.session_revoked || self.revocations.contains(rec.session_id) {
            return Err(TokenError::Revoked);
        }
        let now = p.clock.now();
        if now >= rec.expires_at || now >= rec.session_expires_at {
            return Err(TokenError::Expired);
        }
        if !self
            .session_policy
            .alive(rec.session_created_at, rec.session_last_used_at, now)
        {
            return Err(TokenError::Expired);
        }
        let user = match p.users.get_user(rec.user_id).map_err(|e| unavailable(&e))? {
            None => return Err(TokenError::Revoked),
            Some(u) if !u.active => return Err(TokenError::AccountDisabled),
            Some(u) => u,
        };
        let mut expires_at = rec.expires_at;
        let mut renewed = false;
        let target = now.plus(rec.ttl).min(rec.session_expires_at);
        if renew_within
            .is_some_and(|within| within > 0 && rec.expires_at.seconds() - now.seconds() <= within)
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
        Ok(OpaqueSession {
            record: rec,
            user,
            expires_at,
            renewed,
        })
    }

    /// Checks an access token: signature, time, issuer, audience, and the revocation view.
    /// Costs one signature verification and a memory lookup; it never touches the store.
    ///
    /// # Errors
    /// The `TokenError` that says why the token is refused.
    pub fn authenticate_jwt(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = self.codec.decode(token)?;
        self.rules.check(&claims, self.clock.now())?;
        self.jwt_principal(claims)
    }

    /// As `authenticate_jwt`, where the token may also be one whose only audience is the
    /// registered OAuth client it was issued to: the UserInfo endpoint's rule
    /// (`ClaimRules::check_for_client`).
    ///
    /// # Errors
    /// The `TokenError` that says why the token is refused.
    pub fn authenticate_jwt_for_client(&self, token: &str) -> Result<Principal, TokenError> {
        let claims = self.codec.decode(token)?;
        self.rules.check_for_client(&claims, self.clock.now())?;
        self.jwt_principal(claims)
    }

    fn jwt_principal(&self, claims: crate::claims::AccessClaims) -> Result<Principal, TokenError> {
        if self.revocations.contains(claims.session_id) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_nonce_the_browser_holds_is_kept_and_anything_else_replaced() {
        let h = crate::fakes::harness();
        let gate = &h.core.gate;
        let first = gate.login_nonce(None);
        assert!(is_login_nonce(first.expose()), "{}", first.expose());
        // A second page in the same browser: the same nonce, so the same CSRF field.
        let again = gate.login_nonce(Some(first.expose()));
        assert_eq!(again.expose(), first.expose());
        assert!(gate.csrf_matches(&again, &gate.csrf_token(&first)));
        let real = format!("{LOGIN_NONCE_PREFIX}{}", "Ab0-_".repeat(8));
        assert_eq!(gate.login_nonce(Some(&real)).expose(), real);
        let too_long = format!(
            "{LOGIN_NONCE_PREFIX}{}",
            "a".repeat(MAX_LOGIN_NONCE_LEN + 1)
        );
        for foreign in [
            "",
            "tsl_",
            "tso_abc",
            "abc",
            "tsl_a b",
            "tsl_a;b",
            "tsl_\u{e9}",
            too_long.as_str(),
        ] {
            assert!(!is_login_nonce(foreign), "{foreign}");
            let fresh = gate.login_nonce(Some(foreign));
            assert_ne!(fresh.expose(), foreign);
            assert!(is_login_nonce(fresh.expose()), "{}", fresh.expose());
        }
        // Two browsers get two nonces.
        assert_ne!(gate.login_nonce(None).expose(), first.expose());
    }
}
