//! `CheckTokenError`: how `POST /check-token` answers a token it refuses, a 401 whose body also
//! says `"valid": false`, so that a resource service can read one field.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tessera_domain::error::TokenError;

use super::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum CheckTokenError {
    /// The token is not valid, or not for the user or service asked about.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// Anything else (a malformed body, a database that cannot be reached), as the REST API
    /// answers it.
    #[error(transparent)]
    Other(ApiError),
}

#[derive(Serialize)]
struct CheckBody<'a> {
    error: &'a str,
    message: &'a str,
    valid: bool,
}

impl From<ApiError> for CheckTokenError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthorized { code, message } => Self::Refused { code, message },
            other => Self::Other(other),
        }
    }
}

impl From<TokenError> for CheckTokenError {
    fn from(e: TokenError) -> Self {
        ApiError::from(e).into()
    }
}

impl ResponseError for CheckTokenError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Refused { .. } => StatusCode::UNAUTHORIZED,
            Self::Other(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Other(e) => e.error_response(),
            Self::Refused { code, message } => {
                let mut res = HttpResponse::Unauthorized();
                super::bearer_challenge(&mut res, code, message);
                res.insert_header((header::CACHE_CONTROL, "no-store"))
                    .json(CheckBody {
                        error: code,
                        message,
                        valid: false,
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;

    fn body(e: &CheckTokenError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn failed_token_checks_say_not_valid() {
        let e = CheckTokenError::from(TokenError::Revoked);
        assert_eq!(e.status_code(), 401);
        assert_eq!(body(&e)["valid"], false);
        assert_eq!(body(&e)["error"], "token_revoked");
        assert!(e
            .error_response()
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .is_some());
        let other = CheckTokenError::from(ApiError::NotFound);
        assert!(body(&other).get("valid").is_none());
    }
}
