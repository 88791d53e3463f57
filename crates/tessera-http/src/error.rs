//! `ApiError`: the one place where failures become HTTP statuses and JSON error bodies.
//!
//! Every handler and extractor returns `ApiError`; domain errors convert into it with `From`, so
//! handlers use `?`. The body is always `{"error": "<code>", "message": "<sentence>"}`, plus
//! `"fields"` for validation errors. A 500 logs its cause and tells the client nothing more.

use std::collections::BTreeMap;

use actix_web::http::header::{self, HeaderValue};
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
    /// `POST /check-token` refused the token: a 401 whose body also says `"valid": false`.
    #[error("{message}")]
    CheckFailed { code: &'static str, message: String },
    /// An error of an OAuth endpoint, in RFC 6749 §5.2 form (`error`, `error_description`).
    #[error("{message}")]
    OAuth { code: &'static str, message: String },
    /// A dependency (the database) did not answer; the cause is logged where it happened.
    #[error("the service is unavailable; try again")]
    Unavailable,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Every error answer: this body is also the `Error` schema of the OpenAPI document.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody<'a> {
    /// A stable code, such as `validation_failed` or `token_expired`.
    error: &'a str,
    /// A sentence for people; never echoes a submitted value.
    message: String,
    /// Validation errors: field name → the rules it broke.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BTreeMap<String, Vec<String>>>)]
    fields: Option<&'a BTreeMap<String, Vec<String>>>,
    /// OAuth endpoints repeat `message` here (RFC 6749 §5.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<String>,
    /// `POST /check-token` adds `"valid": false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    valid: Option<bool>,
    /// With `mfa_required`: the token for `POST /auth/login/mfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
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
                "the database cannot be reached"
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
            | Self::Conflict { code, .. }
            | Self::CheckFailed { code, .. }
            | Self::OAuth { code, .. } => code,
            Self::Unavailable => "unavailable",
            Self::NotFound => "not_found",
            Self::Locked { .. } => "account_locked",
            Self::RateLimited { .. } => "rate_limited",
            Self::MfaRequired { .. } => "mfa_required",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Internal(_) => "internal_error",
        }
    }

    pub fn missing_token() -> Self {
        Self::Unauthorized {
            code: "missing_token",
            message: "send a bearer token in the Authorization header".into(),
        }
    }

    pub fn validation(fields: &FieldErrors) -> Self {
        Self::Validation {
            message: format!("invalid fields: {fields}"),
            fields: fields
                .iter()
                .map(|(f, rules)| {
                    (
                        f.to_owned(),
                        rules.iter().map(|r| (*r).to_owned()).collect(),
                    )
                })
                .collect(),
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

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized { .. } | Self::CheckFailed { .. } | Self::MfaRequired { .. } => {
                StatusCode::UNAUTHORIZED
            }
            Self::OAuth { code, .. } if *code == "invalid_client" => StatusCode::UNAUTHORIZED,
            Self::OAuth { .. } => StatusCode::BAD_REQUEST,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Locked { .. } => StatusCode::LOCKED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
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
        if let Self::Unavailable = self {
            res.insert_header((header::RETRY_AFTER, "1"));
        }
        if let Self::OAuth { code, .. } = self {
            if *code == "invalid_client" {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="tessera""#));
            }
        }
        if let Self::Unauthorized { code, message } | Self::CheckFailed { code, message } = self {
            let value = if *code == "missing_token" {
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
        let fields = match self {
            Self::Validation { fields, .. } | Self::Conflict { fields, .. }
                if !fields.is_empty() =>
            {
                Some(fields)
            }
            _ => None,
        };
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ErrorBody {
                error: self.code(),
                message: self.to_string(),
                fields,
                error_description: matches!(self, Self::OAuth { .. }).then(|| self.to_string()),
                valid: matches!(self, Self::CheckFailed { .. }).then_some(false),
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
            AuthError::InvalidClient => Self::OAuth {
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

impl ApiError {
    /// The same failure in the form an OAuth endpoint answers (RFC 6749 §5.2): a wrong password
    /// or refresh token is `invalid_grant`, a malformed request `invalid_request`.
    #[must_use]
    pub fn into_oauth(self) -> Self {
        let code = match &self {
            Self::OAuth { .. }
            | Self::Internal(_)
            | Self::Unavailable
            | Self::Locked { .. }
            | Self::RateLimited { .. }
            | Self::MfaRequired { .. } => return self,
            Self::MalformedBody(_)
            | Self::Validation { .. }
            | Self::UnsupportedMediaType
            | Self::PayloadTooLarge(_) => "invalid_request",
            _ => "invalid_grant",
        };
        Self::OAuth {
            code,
            message: self.to_string(),
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
    fn oauth_errors_follow_rfc_6749() {
        let e = ApiError::from(AuthError::InvalidCredentials).into_oauth();
        assert_eq!(e.status_code(), 400);
        let b = body(&e);
        assert_eq!(b["error"], "invalid_grant");
        assert!(b["error_description"].is_string());
        let e = ApiError::from(AuthError::InvalidClient);
        assert_eq!(e.status_code(), 401);
        assert_eq!(
            e.error_response()
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .unwrap(),
            "Basic realm=\"tessera\""
        );
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
    fn failed_token_checks_say_not_valid() {
        let e = ApiError::CheckFailed {
            code: "token_revoked",
            message: "gone".into(),
        };
        assert_eq!(e.status_code(), 401);
        assert_eq!(body(&e)["valid"], false);
        assert!(body(&ApiError::NotFound).get("valid").is_none());
    }

    #[test]
    fn duplicates_name_the_field() {
        let b = body(&UserError::Duplicate { field: "username" }.into());
        assert_eq!(b["error"], "duplicate");
        assert_eq!(b["fields"]["username"][0], "taken");
    }
}
