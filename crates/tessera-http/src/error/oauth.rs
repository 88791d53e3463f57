//! `OAuthError`: how `/oauth/token` and `/oauth/introspect` answer a failure, in the form of
//! RFC 6749 §5.2: `{"error", "error_description"}` (with `message`, as every Tessera error has),
//! 400, or 401 with `WWW-Authenticate: Basic` for `invalid_client`.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tessera_domain::error::{AuthError, OAuthGrantError};

use super::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// An error code of RFC 6749 §5.2 (or RFC 7009/7662, which use the same form).
    #[error("{message}")]
    Rfc { code: &'static str, message: String },
    /// What the RFC has no code for: too many requests, a locked account, a second factor
    /// needed, a database that cannot be reached, an internal fault. Answered as the REST API does.
    #[error(transparent)]
    Other(ApiError),
}

#[derive(Serialize)]
struct OAuthBody<'a> {
    error: &'a str,
    message: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    pub fn invalid_request(message: String) -> Self {
        Self::Rfc {
            code: "invalid_request",
            message,
        }
    }

    pub fn invalid_client(message: String) -> Self {
        Self::Rfc {
            code: "invalid_client",
            message,
        }
    }
}

/// A REST failure in the OAuth form: a malformed request is `invalid_request`, a wrong password
/// or refresh token `invalid_grant`.
impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> Self {
        let code = match &e {
            ApiError::Internal(_)
            | ApiError::Unavailable
            | ApiError::Busy
            | ApiError::Locked { .. }
            | ApiError::RateLimited { .. }
            | ApiError::RequestTimeout
            | ApiError::MfaRequired { .. } => return Self::Other(e),
            ApiError::MalformedBody(_)
            | ApiError::Validation { .. }
            | ApiError::UnsupportedMediaType
            | ApiError::PayloadTooLarge(_) => "invalid_request",
            _ => "invalid_grant",
        };
        Self::Rfc {
            code,
            message: e.to_string(),
        }
    }
}

impl From<AuthError> for OAuthError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidClient => Self::invalid_client(e.to_string()),
            AuthError::InvalidScope => Self::Rfc {
                code: "invalid_scope",
                message: e.to_string(),
            },
            other => ApiError::from(other).into(),
        }
    }
}

impl From<OAuthGrantError> for OAuthError {
    fn from(e: OAuthGrantError) -> Self {
        match e {
            OAuthGrantError::InvalidClient => Self::invalid_client(e.to_string()),
            OAuthGrantError::InvalidGrant(why) => Self::Rfc {
                code: "invalid_grant",
                message: why.to_owned(),
            },
            OAuthGrantError::Unknown(cause) => Self::Other(ApiError::from_cause(cause)),
        }
    }
}

impl From<actix_web::error::BlockingError> for OAuthError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::Other(e.into())
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Rfc { code, .. } if *code == "invalid_client" => StatusCode::UNAUTHORIZED,
            Self::Rfc { .. } => StatusCode::BAD_REQUEST,
            Self::Other(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Other(e) => e.error_response(),
            Self::Rfc { code, message } => {
                let mut res = HttpResponse::build(self.status_code());
                if *code == "invalid_client" {
                    res.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="tessera""#));
                }
                res.insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(OAuthBody {
                        error: code,
                        message,
                        error_description: message,
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;

    fn body(e: &OAuthError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn oauth_errors_follow_rfc_6749() {
        let e = OAuthError::from(AuthError::InvalidCredentials);
        assert_eq!(e.status_code(), 400);
        let b = body(&e);
        assert_eq!(b["error"], "invalid_grant");
        assert!(b["error_description"].is_string());
        assert_eq!(b["error_description"], b["message"]);
        let e = OAuthError::from(OAuthGrantError::InvalidGrant("the code has expired"));
        assert_eq!(
            (e.status_code().as_u16(), body(&e)["error"].clone()),
            (400, "invalid_grant".into())
        );
        assert_eq!(body(&e)["error_description"], "the code has expired");
        assert_eq!(
            OAuthError::from(OAuthGrantError::InvalidClient).status_code(),
            401
        );
        let e = OAuthError::from(AuthError::InvalidClient);
        assert_eq!(e.status_code(), 401);
        assert_eq!(
            e.error_response()
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .unwrap(),
            "Basic realm=\"tessera\""
        );
        assert_eq!(body(&e)["error"], "invalid_client");
    }

    #[test]
    fn what_the_rfc_has_no_code_for_keeps_its_rest_answer() {
        let e = OAuthError::from(AuthError::Locked { retry_after: 60 });
        assert_eq!(e.status_code(), 423);
        assert_eq!(body(&e)["error"], "account_locked");
        assert!(body(&e).get("error_description").is_none());
        let e = OAuthError::from(ApiError::validation(&Default::default()));
        assert_eq!(body(&e)["error"], "invalid_request");
        let e = OAuthError::from(ApiError::RequestTimeout);
        assert_eq!(e.status_code(), 408);
    }
}
