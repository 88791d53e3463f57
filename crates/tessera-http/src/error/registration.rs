//! `RegistrationError`: how `POST /oauth/clients` (and `PUT /oauth/clients/{client_id}`, which
//! replaces a registration) answers a refused registration, in the form of
//! RFC 7591 §3.2.2: 400 with `invalid_redirect_uri` or `invalid_client_metadata` (with
//! `error_description`, and the `message` and `fields` every Tessera error has). Failures the RFC
//! has no code for are answered as the REST API does.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// A value the registration may not have: field name → the rules it broke.
    #[error("{message}")]
    Metadata {
        code: &'static str,
        message: String,
        fields: BTreeMap<String, Vec<String>>,
    },
    /// Not allowed, a tenant out of sight, a database that cannot be reached, a fault.
    #[error(transparent)]
    Other(ApiError),
}

#[derive(Serialize)]
struct RegistrationBody<'a> {
    error: &'a str,
    message: &'a str,
    error_description: &'a str,
    fields: &'a BTreeMap<String, Vec<String>>,
}

/// A field problem is `invalid_redirect_uri` when it is about `redirect_uris`, else
/// `invalid_client_metadata`; anything else keeps its REST answer.
impl From<ApiError> for RegistrationError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Validation { message, fields } => Self::Metadata {
                code: if fields.keys().any(|f| f.starts_with("redirect_uris")) {
                    "invalid_redirect_uri"
                } else {
                    "invalid_client_metadata"
                },
                message,
                fields,
            },
            other => Self::Other(other),
        }
    }
}

impl ResponseError for RegistrationError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Metadata { .. } => StatusCode::BAD_REQUEST,
            Self::Other(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Other(e) => e.error_response(),
            Self::Metadata {
                code,
                message,
                fields,
            } => HttpResponse::BadRequest()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(RegistrationBody {
                    error: code,
                    message,
                    error_description: message,
                    fields,
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;
    use tessera_domain::error::FieldErrors;

    fn answer(e: &RegistrationError) -> (u16, serde_json::Value) {
        let res = e.error_response();
        let status = res.status().as_u16();
        let bytes = res.into_body().try_into_bytes().unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn a_bad_redirect_uri_is_named_apart_from_other_metadata() {
        let mut f = FieldErrors::new();
        f.add("redirect_uris[0]", "insecure");
        f.add("scope", "unsupported");
        let (status, body) = answer(&ApiError::validation(&f).into());
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_redirect_uri");
        assert_eq!(body["fields"]["redirect_uris[0]"][0], "insecure");
        assert_eq!(body["error_description"], body["message"]);
        let mut f = FieldErrors::new();
        f.add("tenant", "not_found");
        let (_, body) = answer(&ApiError::validation(&f).into());
        assert_eq!(body["error"], "invalid_client_metadata");
        assert_eq!(body["fields"]["tenant_id"][0], "not_found");
        let (status, body) = answer(&ApiError::NotFound.into());
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    }
}
