//! Errors as each front door of the HTTP adapter answers them.
//!
//! The domain says what went wrong (`UserError`, `AuthError`, `TokenError`); each door renders it
//! in its own wire format, in its own module, so a new door adds its mapping without touching
//! the others:
//! - `rest`: `ApiError`, the REST API's `{"error", "message", "fields"?}` bodies and statuses; what
//!   every handler and extractor returns unless it belongs to one of the doors below.
//! - `oauth`: `OAuthError`, the RFC 6749 §5.2 form of `/oauth/token` and `/oauth/introspect`.
//! - `check`: `CheckTokenError`, the `"valid": false` answers of `POST /check-token`.
//! - `registration`: `RegistrationError`, the RFC 7591 form of `POST /oauth/clients`.
//!
//! The server-rendered pages (`crate::pages`) render the same failures as HTML pages instead, and
//! the Eqeqo door (`crate::eqeqo`) in Eqeqo's form, in its own `errors` module.
//!
//! A 500 logs its cause and tells the client nothing more; a database that cannot be reached is a
//! 503 with `Retry-After`, in every door.

pub mod check;
pub mod oauth;
pub mod registration;
pub mod rest;

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponseBuilder;

pub use check::CheckTokenError;
pub use oauth::OAuthError;
pub use registration::RegistrationError;
pub use rest::ApiError;

/// Every error answer: this body is also the `Error` schema of the OpenAPI document.
// Each door serializes its own body with the fields that are its own; this one documents them all.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)]
pub(crate) struct ErrorBody {
    /// A stable code, such as `validation_failed` or `token_expired`.
    error: String,
    /// A sentence for people; never echoes a submitted value.
    message: String,
    /// Validation errors: field name → the rules it broke.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<String, Vec<String>>>,
    /// OAuth endpoints repeat `message` here (RFC 6749 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
    /// `POST /check-token` adds `"valid": false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    valid: Option<bool>,
    /// With `mfa_required`: the token for `POST /auth/login/mfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<String>,
}

/// `WWW-Authenticate` for a refused bearer credential (RFC 6750 §3).
pub(crate) fn bearer_challenge(res: &mut HttpResponseBuilder, code: &str, message: &str) {
    let value = if code == "missing_token" {
        r#"Bearer realm="tessera""#.to_owned()
    } else {
        format!(
            r#"Bearer realm="tessera", error="invalid_token", error_description="{}""#,
            message.replace('"', "'")
        )
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.insert_header((header::WWW_AUTHENTICATE, v));
    }
}
