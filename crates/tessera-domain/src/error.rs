//! Errors of the domain's use cases.
//!
//! One enum per family of use cases: `AuthError` for login, refresh and revocation,
//! `TokenError` for checking an access token, `UserError` for managing users, `AuthorizeError`
//! for the OAuth authorization endpoint, `OAuthGrantError` for the code exchange and
//! `EndSessionError` for RP-initiated logout.
//! Each has an `Unknown` variant for failures of an adapter that the domain cannot act on;
//! the HTTP adapter turns it into a 500 and logs the cause.

use std::collections::BTreeMap;
use std::fmt;

/// The store (the database) cannot be reached at all, or cannot do a write now because it kept
/// conflicting with concurrent ones: in an error's chain, it tells the HTTP
/// adapter to answer 503 (try again) rather than 500.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the database cannot be reached")]
pub struct Unreachable;

/// Problems with individual fields of a request: field name → rule names it broke.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<&'static str>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, rule: &'static str) {
        self.0.entry(field.to_owned()).or_default().push(rule);
    }

    /// Records every rule of `rules` against `field`.
    pub fn extend(&mut self, field: &str, rules: impl IntoIterator<Item = &'static str>) {
        for rule in rules {
            self.add(field, rule);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[&'static str])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// `Ok(())` when no problem was recorded, else the problems as a validation error.
    pub fn into_result(self) -> Result<(), UserError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(UserError::Validation(self))
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, rules) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{field}: {}", rules.join(", "))?;
        }
        Ok(())
    }
}

/// Failures of login, refresh, logout and revocation.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password: the two are deliberately indistinguishable.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("this account is disabled")]
    AccountDisabled,
    /// The refresh token is unknown, expired, or belongs to an ended session.
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidGrant,
    /// A rotated refresh token came back after the grace window: its session is now revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    RefreshReused,
    /// Too many consecutive failures: no login, even with the right password, for this many seconds.
    #[error("this account is locked after too many failed logins; try again later")]
    Locked { retry_after: i64 },
    /// The password was right; a second factor is needed, through this pending login.
    #[error("a second factor is required")]
    MfaRequired { mfa_token: String },
    #[error("the MFA token is invalid, used or expired; log in again")]
    InvalidMfaToken,
    #[error("the code is wrong or was already used")]
    InvalidMfaCode,
    /// A scope was asked for that the client may not have (RFC 6749 `invalid_scope`).
    #[error("the requested scope is not allowed")]
    InvalidScope,
    /// A client (an API key or a service) failed to authenticate.
    #[error("client authentication failed")]
    InvalidClient,
    /// Logout with a credential that has no session (an API key).
    #[error("this credential has no session to end; delete the API key instead")]
    NoSession,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why an access token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token is malformed or its signature does not verify")]
    Invalid,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid yet")]
    NotYetValid,
    #[error("the access token was issued by another issuer")]
    WrongIssuer,
    #[error("the access token is meant for another audience")]
    WrongAudience,
    #[error("the session of this access token has ended")]
    Revoked,
    #[error("the account of this credential is disabled")]
    AccountDisabled,
    /// check-token: the token belongs to another user than the one named.
    #[error("the token belongs to another user")]
    Mismatch,
    /// check-token: the service named does not exist or is disabled.
    #[error("no such service, or it is disabled")]
    UnknownService,
    /// The store could not be asked (opaque tokens and API keys are looked up there); the cause is logged.
    #[error("the credential could not be checked")]
    Unavailable,
}

/// Failures of user management.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid fields: {0}")]
    Validation(FieldErrors),
    #[error("no such user")]
    NotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    /// A unique field (`username` or `email`) is already taken.
    #[error("this {field} is already taken")]
    Duplicate { field: &'static str },
    #[error("the last active admin cannot lose the admin role, be disabled or be deleted")]
    LastAdmin,
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    #[error("multi-factor authentication is already enabled")]
    MfaAlreadyEnabled,
    #[error("multi-factor authentication is not enabled")]
    MfaNotEnabled,
    /// A password-reset token that is unknown, used or expired.
    #[error("the reset token is invalid, used or expired")]
    InvalidResetToken,
    /// The thing cannot go while others depend on it (a tenant with users).
    #[error("{0}")]
    InUse(&'static str),
    /// A secret was asked of a public OAuth client, which has none.
    #[error("a public client has no secret")]
    PublicClient,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why an authorization request (OAuth 2.0 §4.1.1, OIDC Core §3.1.2.1) is refused, in the two
/// ways RFC 6749 §4.1.2.1 tells apart.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted (unknown, missing, not registered): the
    /// user is told, and never sent anywhere.
    #[error("{description}")]
    NoRedirect {
        /// An RFC 6749 error code, such as `invalid_request`.
        error: &'static str,
        description: &'static str,
    },
    /// Anything else: the user goes back to the client's (registered) redirect URI with the error.
    #[error("{description}")]
    Redirect {
        redirect_uri: String,
        /// An RFC 6749 §4.1.2.1 or OIDC Core §3.1.2.6 error code.
        error: &'static str,
        description: String,
        /// The request's `state`, echoed.
        state: Option<String>,
    },
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why an RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0 §2) is refused:
/// the user is told, and never sent anywhere, since what would say where to send them (the hint,
/// the client, the post-logout redirect URI) is what cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum EndSessionError {
    #[error("{description}")]
    Refused {
        /// An RFC 6749-style error code: `invalid_request` or `invalid_client`.
        error: &'static str,
        description: &'static str,
    },
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failures of the authorization-code grant (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum OAuthGrantError {
    /// The client is unknown, or did not authenticate as it registered to.
    #[error("client authentication failed")]
    InvalidClient,
    /// The code is unknown, used, expired, another client's, for another redirect URI, or its
    /// PKCE verifier does not match; or its user can no longer sign in.
    #[error("{0}")]
    InvalidGrant(&'static str),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl From<AuthError> for OAuthGrantError {
    /// The session and token machinery fails only in its adapters.
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unknown(cause) => Self::Unknown(cause),
            other => Self::Unknown(anyhow::Error::new(other)),
        }
    }
}

impl From<FieldErrors> for UserError {
    fn from(value: FieldErrors) -> Self {
        Self::Validation(value)
    }
}
