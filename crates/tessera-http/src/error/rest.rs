//! `ApiError`: how the REST API answers a failure, its status and its JSON body.
//!
//! Every REST handler and extractor returns `ApiError`; domain errors convert into it with `From`,
//! so handlers use `?`. The body is always `{"error": "<code>", "message": "<sentence>"}`, plus
//! `"fields"` for validation errors. A 500 logs its cause and tells the client nothing more.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tessera_domain::error::{AuthError, FieldErrors, TokenError, UserError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON (or form data) at all.
    #[error("{0}")]
    MalformedBody(String),
    /// Fields are missing, of the wrong type, or break a rule.
    #[error("{message}")]
    Validation {
        message: String,
        fields: BTreeMap<String, Vec<String>>,
    },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("no such resource")]
    NotFound,
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        fields: BTreeMap<String, Vec<String>>,
    },
    #[error("this method is not supported on this path")]
    MethodNotAllowed,
    /// The password was right; the login continues at `/auth/login/mfa` with this token.
    #[error("a second factor is required: send a code with the mfa_token to /auth/login/mfa")]
    MfaRequired { mfa_token: String },
    /// Too many requests: 429 with `Retry-After`.
    #[error("too many requests; try again later")]
    RateLimited { retry_after: u64 },
    /// Too many failed logins: 423 with `Retry-After`.
    #[error("this account is locked after too many failed logins; try again later")]
    Locked { retry_after: u64 },
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    /// The body did not arrive in time: 408, and the connection closes.
    #[error("the request body took too long to arrive")]
    RequestTimeout,
    /// A dependency (the database) did not answer; the cause is logged where it happened.
    #[error("the service is unavailable; try again")]
    Unavailable,
    /// Too many requests are waiting to hash a password: 503 with `Retry-After`.
    #[error("too many sign-ins are waiting to be checked; try again in a moment")]
    Busy,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// The REST error body.
#[derive(Serialize)]
struct RestBody<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
}

impl ApiError {
    /// An adapter's failure: 503 when the database cannot be reached (logged here as a warning),
    /// 500 otherwise (logged when answered).
    pub fn from_cause(cause: anyhow::Error) -> Self {
        if cause
            .chain()
            .any(|c| c.is::<tessera_domain::error::Unreachable>())
        {
            tracing::warn!(
                error = format!("{cause:#}"),
                "the database cannot serve this now (unreachable, or still conflicting after retries)"
            );
            Self::Unavailable
        } else {
            Self::Internal(cause)
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::Validation { .. } => "validation_failed",
            Self::Unauthorized { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. } => code,
            Self::Unavailable | Self::Busy => "unavailable",
            Self::NotFound => "not_found",
            Self::Locked { .. } => "account_locked",
            Self::RateLimited { .. } => "rate_limited",
            Self::MfaRequired { .. } => "mfa_required",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RequestTimeout => "request_timeout",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn missing_token() -> Self {
        Self::Unauthorized {
            code: "missing_token",
            message: "send a bearer token in the Authorization header".into(),
        }
    }

    /// The domain's problems with fields, under their REST names.
    pub fn validation(fields: &FieldErrors) -> Self {
        Self::invalid_fields(
            fields
                .iter()
                .map(|(f, rules)| {
                    (
                        rest_field(f).to_owned(),
                        rules.iter().map(|r| (*r).to_owned()).collect(),
                    )
                })
                .collect(),
        )
    }

    fn invalid_fields(fields: BTreeMap<String, Vec<String>>) -> Self {
        let message = fields
            .iter()
            .map(|(f, rules)| format!("{f}: {}", rules.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        Self::Validation {
            message: format!("invalid fields: {message}"),
            fields,
        }
    }

    /// The same error with the field `from` called `to`, for a request that named a thing
    /// another way than its usual field.
    #[must_use]
    pub fn with_field_renamed(self, from: &str, to: &str) -> Self {
        match self {
            Self::Validation { mut fields, .. } if fields.contains_key(from) => {
                if let Some(rules) = fields.remove(from) {
                    fields.insert(to.to_owned(), rules);
                }
                Self::invalid_fields(fields)
            }
            other => other,
        }
    }

    /// A validation error about one field.
    pub fn field(field: &str, problem: &str, message: String) -> Self {
        Self::Validation {
            message,
            fields: BTreeMap::from([(field.to_owned(), vec![problem.to_owned()])]),
        }
    }
}

/// The REST name of a field that the domain names by its concept: things are named by id.
fn rest_field(field: &str) -> &str {
    match field {
        "person" => "person_id",
        "service" => "service_id",
        "role" => "role_id",
        "permission" => "permission_id",
        "tenant" => "tenant_id",
        other => other,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized { .. } | Self::MfaRequired { .. } => StatusCode::UNAUTHORIZED,
            Self::Unavailable | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Locked { .. } => StatusCode::LOCKED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut res = HttpResponse::build(self.status_code());
        if let Self::Locked { retry_after } | Self::RateLimited { retry_after } = self {
            res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let Self::Unavailable | Self::Busy = self {
            res.insert_header((header::RETRY_AFTER, "1"));
        }
        if let Self::RequestTimeout = self {
            res.insert_header((header::CONNECTION, "close"));
        }
        if let Self::Unauthorized { code, message } = self {
            super::bearer_challenge(&mut res, code, message);
        }
        let fields = match self {
            Self::Validation { fields, .. } | Self::Conflict { fields, .. }
                if !fields.is_empty() =>
            {
                Some(fields)
            }
            _ => None,
        };
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .json(RestBody {
                error: self.code(),
                message: self.to_string(),
                fields,
                mfa_token: match self {
                    Self::MfaRequired { mfa_token } => Some(mfa_token.as_str()),
                    _ => None,
                },
            })
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        let code = match e {
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::Revoked => "token_revoked",
            TokenError::Invalid | TokenError::WrongIssuer | TokenError::WrongAudience => {
                "invalid_token"
            }
            TokenError::AccountDisabled => "account_disabled",
            TokenError::Mismatch => "token_mismatch",
            TokenError::UnknownService => "unknown_service",
            TokenError::Unavailable => return Self::Unavailable,
        };
        Self::Unauthorized {
            code,
            message: e.to_string(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidCredentials => Self::Unauthorized {
                code: "invalid_credentials",
                message: e.to_string(),
            },
            AuthError::AccountDisabled => Self::Forbidden {
                code: "account_disabled",
                message: e.to_string(),
            },
            AuthError::InvalidGrant => Self::Unauthorized {
                code: "invalid_grant",
                message: e.to_string(),
            },
            AuthError::RefreshReused => Self::Unauthorized {
                code: "refresh_token_reused",
                message: e.to_string(),
            },
            AuthError::Locked { retry_after } => Self::Locked {
                retry_after: u64::try_from(retry_after.max(1)).unwrap_or(1),
            },
            AuthError::MfaRequired { mfa_token } => Self::MfaRequired { mfa_token },
            AuthError::InvalidMfaToken => Self::Unauthorized {
                code: "invalid_mfa_token",
                message: e.to_string(),
            },
            AuthError::InvalidMfaCode => Self::Unauthorized {
                code: "invalid_mfa_code",
                message: e.to_string(),
            },
            AuthError::InvalidScope => Self::field("scope", "not_allowed", e.to_string()),
            // Only the OAuth endpoints authenticate clients; they answer in their own form.
            AuthError::InvalidClient => Self::Unauthorized {
                code: "invalid_client",
                message: e.to_string(),
            },
            AuthError::NoSession => Self::Forbidden {
                code: "no_session",
                message: e.to_string(),
            },
            AuthError::Unknown(cause) => Self::from_cause(cause),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Validation(fields) => Self::validation(&fields),
            UserError::NotFound => Self::NotFound,
            UserError::Forbidden(why) => Self::Forbidden {
                code: "forbidden",
                message: why.to_owned(),
            },
            UserError::Duplicate { field } => Self::Conflict {
                code: "duplicate",
                message: format!("this {field} is already taken"),
                fields: BTreeMap::from([(field.to_owned(), vec!["taken".to_owned()])]),
            },
            UserError::LastAdmin => Self::Conflict {
                code: "last_admin",
                message: e.to_string(),
                fields: BTreeMap::new(),
            },
            UserError::MfaAlreadyEnabled => Self::Conflict {
                code: "mfa_already_enabled",
                message: e.to_string(),
                fields: BTreeMap::new(),
            },
            UserError::MfaNotEnabled => Self::Conflict {
                code: "mfa_not_enabled",
                message: e.to_string(),
                fields: BTreeMap::new(),
            },
            UserError::InvalidResetToken => Self::Unauthorized {
                code: "invalid_reset_token",
                message: e.to_string(),
            },
            UserError::InUse(why) => Self::Conflict {
                code: "in_use",
                message: why.to_owned(),
                fields: BTreeMap::new(),
            },
            UserError::PublicClient => Self::Conflict {
                code: "public_client",
                message: e.to_string(),
                fields: BTreeMap::new(),
            },
            UserError::WrongCurrentPassword => Self::Forbidden {
                code: "invalid_current_password",
                message: e.to_string(),
            },
            UserError::Unknown(cause) => Self::from_cause(cause),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;

    fn body(e: &ApiError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn statuses_that_matter() {
        assert_eq!(
            ApiError::from(AuthError::InvalidCredentials).status_code(),
            401
        );
        assert_eq!(ApiError::from(TokenError::Expired).status_code(), 401);
        assert_eq!(
            ApiError::from(UserError::Forbidden("no")).status_code(),
            403
        );
        assert_eq!(
            ApiError::from(UserError::Duplicate { field: "email" }).status_code(),
            409
        );
        assert_eq!(ApiError::from(UserError::NotFound).status_code(), 404);
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let res = ApiError::from(TokenError::Revoked).error_response();
        let h = res
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(h.starts_with("Bearer realm=\"tessera\", error=\"invalid_token\""));
        let res = ApiError::missing_token().error_response();
        assert_eq!(
            res.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"tessera\""
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::Internal(anyhow::anyhow!("disk on fire at /secret/path"));
        let b = body(&e);
        assert_eq!(b["error"], "internal_error");
        assert!(!b.to_string().contains("secret"));
    }

    #[test]
    fn a_lock_is_423_with_retry_after() {
        let e = ApiError::from(AuthError::Locked { retry_after: 120 });
        let res = e.error_response();
        assert_eq!(res.status(), 423);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "120");
        assert_eq!(body(&e)["error"], "account_locked");
    }

    #[test]
    fn duplicates_name_the_field() {
        let b = body(&UserError::Duplicate { field: "username" }.into());
        assert_eq!(b["error"], "duplicate");
        assert_eq!(b["fields"]["username"][0], "taken");
    }
}
