//! `EqeqoError`: how the Eqeqo door answers a failure, in Eqeqo's form.
//!
//! Every body is `{"error": "<key>"}` with Eqeqo's keys; a 401 also carries Eqeqo's Spanish
//! `detail`, word for word, and where Tessera answers what Eqeqo did not (a refusal, a broken
//! rule, a conflict) an English `detail` says why. Statuses are Eqeqo's except where Tessera
//! differs (`docs/EQEQO.md`, "Differences, and why"): 403 for what the caller may not do, 404 for
//! an unknown id, 409 for a taken name, 503 for a database that cannot be reached. A 500 logs its
//! cause and tells the client only the route's key.

use std::fmt;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use tessera_domain::error::{AuthError, FieldErrors, TokenError, Unreachable, UserError};

use crate::error::ApiError;

/// The 401 answers, each with Eqeqo's `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MissingToken,
    InvalidToken,
    ExpiredToken,
    MissingServiceToken,
    InvalidServiceToken,
    ServiceInactive,
    InvalidCredentials,
    /// The user has a second factor, which this door cannot ask for.
    SecondFactorRequired,
}

impl Refusal {
    pub fn key(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token_header",
            Self::InvalidToken => "invalid_token",
            Self::ExpiredToken => "expired_token",
            Self::MissingServiceToken => "missing_service_token_header",
            Self::InvalidServiceToken => "invalid_service_token",
            Self::ServiceInactive => "service_inactive",
            Self::InvalidCredentials => "invalid_credentials",
            Self::SecondFactorRequired => "second_factor_required",
        }
    }

    /// Eqeqo's words, which its clients may show or match.
    pub fn detail(self) -> &'static str {
        match self {
            Self::MissingToken => {
                "header token ausente o vacío; envía token: <valor> en cada petición"
            }
            Self::InvalidToken => {
                "token inválido o revocado; realiza login para obtener uno nuevo"
            }
            Self::ExpiredToken => "token expirado; solicita un token nuevo iniciando sesión",
            Self::MissingServiceToken => {
                "header service-token ausente o vacío; envía service-token: <valor> en cada petición"
            }
            Self::InvalidServiceToken => {
                "token de servicio inválido o revocado; solicita uno nuevo"
            }
            Self::ServiceInactive => "servicio desactivado; contacta al administrador",
            Self::InvalidCredentials => "usuario o contraseña incorrectos",
            // Eqeqo had no second factor, so no words of its own for this one.
            Self::SecondFactorRequired => {
                "este usuario tiene un segundo factor; inicia sesión en la página de Tessera o por su API REST"
            }
        }
    }
}

/// What a route names in its failures: its own key for a failure of the server
/// (`list_users_failed`) or a taken name, and the key of the thing it is about when that does not
/// exist (`user_not_found`).
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub failed: &'static str,
    pub not_found: &'static str,
}

impl Route {
    pub const fn new(failed: &'static str, not_found: &'static str) -> Self {
        Self { failed, not_found }
    }

    /// The same route, about another kind of thing.
    #[must_use]
    pub const fn about(self, not_found: &'static str) -> Self {
        Self {
            failed: self.failed,
            not_found,
        }
    }
}

#[derive(Debug)]
pub enum EqeqoError {
    /// 401 with Eqeqo's detail.
    Refused(Refusal),
    /// Any other answer that is no fault of the server.
    Answer {
        status: StatusCode,
        error: &'static str,
        detail: Option<String>,
    },
    /// 423, 429 or 503: try again after `retry_after` seconds.
    Later {
        status: StatusCode,
        error: &'static str,
        retry_after: u64,
    },
    /// 500 with the route's key; the cause is logged, never told.
    Internal {
        error: &'static str,
        cause: anyhow::Error,
    },
}

impl EqeqoError {
    pub fn answer(status: StatusCode, error: &'static str) -> Self {
        Self::Answer {
            status,
            error,
            detail: None,
        }
    }

    /// 400 `invalid_request_body`, saying what is wrong with it (never echoing a value).
    pub fn invalid_body(detail: impl Into<String>) -> Self {
        Self::Answer {
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request_body",
            detail: Some(detail.into()),
        }
    }

    /// 400 with a key of its own: `invalid_user_id`, `person_not_found`, …
    pub fn bad_request(error: &'static str) -> Self {
        Self::answer(StatusCode::BAD_REQUEST, error)
    }

    pub fn not_found(error: &'static str) -> Self {
        Self::answer(StatusCode::NOT_FOUND, error)
    }

    /// 403 `forbidden`: the caller may not do this, and `why`.
    pub fn forbidden(why: &str) -> Self {
        Self::Answer {
            status: StatusCode::FORBIDDEN,
            error: "forbidden",
            detail: Some(why.to_owned()),
        }
    }

    pub fn is_forbidden(&self) -> bool {
        matches!(self, Self::Answer { status, .. } if *status == StatusCode::FORBIDDEN)
    }

    /// 503 `db_unavailable`: the database cannot be reached now.
    pub fn unavailable() -> Self {
        Self::Later {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "db_unavailable",
            retry_after: 1,
        }
    }

    /// A failure of the server: 503 when the database cannot be reached (logged here as a
    /// warning), else 500 with the route's key (logged when answered).
    pub fn from_cause(cause: anyhow::Error, failed: &'static str) -> Self {
        if cause.chain().any(|c| c.is::<Unreachable>()) {
            tracing::warn!(
                error = format!("{cause:#}"),
                "the database cannot serve this now (unreachable, or still conflicting after retries)"
            );
            Self::unavailable()
        } else {
            Self::Internal {
                error: failed,
                cause,
            }
        }
    }

    /// Something that cannot happen did: 500 with the route's key.
    pub fn internal(
        failed: &'static str,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Internal {
            error: failed,
            cause: anyhow::Error::new(cause),
        }
    }

    /// The blocking pool failed.
    pub fn pool(e: actix_web::error::BlockingError, failed: &'static str) -> Self {
        Self::Internal {
            error: failed,
            cause: anyhow::anyhow!("blocking task failed: {e}"),
        }
    }

    pub fn key(&self) -> &'static str {
        match *self {
            Self::Refused(ref r) => r.key(),
            Self::Answer { error, .. }
            | Self::Later { error, .. }
            | Self::Internal { error, .. } => error,
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Self::Refused(r) => Some(r.detail()),
            Self::Answer { detail, .. } => detail.as_deref(),
            Self::Later { status, .. } if *status == StatusCode::LOCKED => {
                Some("this account is locked after too many failed logins; try again later")
            }
            Self::Later { .. } | Self::Internal { .. } => None,
        }
    }
}

impl fmt::Display for EqeqoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())?;
        match self.detail() {
            Some(detail) => write!(f, ": {detail}"),
            None => Ok(()),
        }
    }
}

/// The error body: keys in Eqeqo's (alphabetical) order.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    error: &'a str,
}

impl ResponseError for EqeqoError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Refused(_) => StatusCode::UNAUTHORIZED,
            Self::Answer { status, .. } | Self::Later { status, .. } => *status,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        match self {
            Self::Internal { cause, .. } => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
            }
            Self::Later { retry_after, .. } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            Self::Answer { status, .. } if *status == StatusCode::REQUEST_TIMEOUT => {
                res.insert_header((header::CONNECTION, "close"));
            }
            Self::Refused(_) | Self::Answer { .. } => {}
        }
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Body {
                detail: self.detail(),
                error: self.key(),
            })
    }
}

/// The Eqeqo name of a field the domain names by its concept.
fn wire_field(field: &str) -> &str {
    match field {
        "person" => "person_id",
        "service" => "service_id",
        "role" => "role_id",
        "permission" => "permission_id",
        "display_name" => "name",
        "password" | "new_password" => "password_hash",
        // Of the attributes an Eqeqo user is made with, only the document number is free text.
        "attributes" => "document_number",
        other => other,
    }
}

/// The key of an unknown thing, by the domain's name of its field.
const NOT_FOUND: [(&str, &str); 4] = [
    ("person", "person_not_found"),
    ("service", "service_not_found"),
    ("role", "role_not_found"),
    ("permission", "permission_not_found"),
];

/// Broken rules: 400 `invalid_request_body` naming each field and rule; an id that names nothing
/// is 404 with its key instead.
fn validation(fields: &FieldErrors) -> EqeqoError {
    for (field, key) in NOT_FOUND {
        if fields
            .iter()
            .any(|(f, rules)| f == field && rules.contains(&"not_found"))
        {
            return EqeqoError::not_found(key);
        }
    }
    EqeqoError::invalid_body(
        fields
            .iter()
            .map(|(f, rules)| format!("{}: {}", wire_field(f), rules.join(", ")))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// A failure of a use case that manages or reads something.
pub fn user_error(e: UserError, route: Route) -> EqeqoError {
    let conflict = |detail: String| EqeqoError::Answer {
        status: StatusCode::CONFLICT,
        error: route.failed,
        detail: Some(detail),
    };
    match e {
        UserError::Validation(fields) => validation(&fields),
        UserError::NotFound => EqeqoError::not_found(route.not_found),
        UserError::Forbidden(why) => EqeqoError::forbidden(why),
        UserError::Duplicate { field } => {
            conflict(format!("this {} is already taken", wire_field(field)))
        }
        UserError::InUse(why) => conflict(why.to_owned()),
        UserError::LastAdmin
        | UserError::MfaAlreadyEnabled
        | UserError::MfaNotEnabled
        | UserError::PublicClient => conflict(e.to_string()),
        UserError::WrongCurrentPassword | UserError::InvalidResetToken => {
            EqeqoError::invalid_body(e.to_string())
        }
        UserError::Unknown(cause) => EqeqoError::from_cause(cause, route.failed),
    }
}

/// A refused user token (`token`).
pub fn token_error(e: TokenError) -> EqeqoError {
    match e {
        TokenError::Expired => EqeqoError::Refused(Refusal::ExpiredToken),
        TokenError::Unavailable => EqeqoError::unavailable(),
        _ => EqeqoError::Refused(Refusal::InvalidToken),
    }
}

/// A refused service token (`service-token`).
pub fn service_token_error(e: TokenError) -> EqeqoError {
    match e {
        TokenError::Expired => EqeqoError::Refused(Refusal::ExpiredToken),
        TokenError::UnknownService => EqeqoError::Refused(Refusal::ServiceInactive),
        TokenError::Unavailable => EqeqoError::unavailable(),
        _ => EqeqoError::Refused(Refusal::InvalidServiceToken),
    }
}

/// A refused login. Unknown user, wrong password and disabled account are one answer, as in
/// Eqeqo.
pub fn login_error(e: AuthError, failed: &'static str) -> EqeqoError {
    match e {
        AuthError::InvalidCredentials | AuthError::AccountDisabled => {
            EqeqoError::Refused(Refusal::InvalidCredentials)
        }
        AuthError::MfaRequired { .. } => EqeqoError::Refused(Refusal::SecondFactorRequired),
        AuthError::Locked { retry_after } => EqeqoError::Later {
            status: StatusCode::LOCKED,
            error: "account_locked",
            retry_after: u64::try_from(retry_after.max(1)).unwrap_or(1),
        },
        AuthError::Unknown(cause) => EqeqoError::from_cause(cause, failed),
        other => EqeqoError::internal(failed, other),
    }
}

/// What the HTTP adapter's shared parts refuse (the body reader, the rate limits, the line of
/// password hashes), in Eqeqo's form.
pub fn api_error(e: ApiError, failed: &'static str) -> EqeqoError {
    match e {
        ApiError::RateLimited { retry_after } => EqeqoError::Later {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "too_many_requests",
            retry_after,
        },
        ApiError::Busy => EqeqoError::Later {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "unavailable",
            retry_after: 1,
        },
        ApiError::Unavailable => EqeqoError::unavailable(),
        ApiError::MalformedBody(detail) => EqeqoError::invalid_body(detail),
        ApiError::PayloadTooLarge(max) => EqeqoError::Answer {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            error: "payload_too_large",
            detail: Some(format!("the body is larger than {max} bytes")),
        },
        ApiError::RequestTimeout => EqeqoError::Answer {
            status: StatusCode::REQUEST_TIMEOUT,
            error: "request_timeout",
            detail: Some("the request body took too long to arrive".into()),
        },
        ApiError::Internal(cause) => EqeqoError::Internal {
            error: failed,
            cause,
        },
        other => EqeqoError::internal(failed, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody as _;

    const ROUTE: Route = Route::new("update_role_failed", "role_not_found");

    fn body(e: &EqeqoError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn every_401_carries_eqeqos_detail() {
        let e = token_error(TokenError::Revoked);
        assert_eq!(e.status_code(), 401);
        assert_eq!(
            body(&e),
            serde_json::json!({
                "detail": "token inválido o revocado; realiza login para obtener uno nuevo",
                "error": "invalid_token",
            })
        );
        assert_eq!(token_error(TokenError::Expired).key(), "expired_token");
        assert_eq!(
            service_token_error(TokenError::UnknownService).key(),
            "service_inactive"
        );
        let e = login_error(AuthError::AccountDisabled, "login_issue_failed");
        assert_eq!(body(&e)["detail"], "usuario o contraseña incorrectos");
    }

    #[test]
    fn domain_errors_take_eqeqos_keys_and_tesseras_statuses() {
        let e = user_error(UserError::NotFound, ROUTE);
        assert_eq!(
            (e.status_code(), e.key()),
            (StatusCode::NOT_FOUND, "role_not_found")
        );
        assert!(body(&e).get("detail").is_none());
        let e = user_error(UserError::Forbidden("only admins may do this"), ROUTE);
        assert_eq!(e.status_code(), 403);
        assert_eq!(body(&e)["detail"], "only admins may do this");
        let e = user_error(UserError::Duplicate { field: "name" }, ROUTE);
        assert_eq!(
            (e.status_code(), e.key()),
            (StatusCode::CONFLICT, "update_role_failed")
        );
        let mut fields = FieldErrors::new();
        fields.add("display_name", "too_long");
        fields.add("password", "min_length");
        let e = user_error(UserError::Validation(fields), ROUTE);
        assert_eq!(e.status_code(), 400);
        assert_eq!(
            body(&e)["detail"],
            "name: too_long; password_hash: min_length"
        );
        let mut fields = FieldErrors::new();
        fields.add("role", "not_offered_by_service");
        fields.add("service", "not_found");
        let e = user_error(UserError::Validation(fields), ROUTE);
        assert_eq!(
            (e.status_code(), e.key()),
            (StatusCode::NOT_FOUND, "service_not_found")
        );
    }

    #[test]
    fn failures_of_the_server_say_only_the_routes_key_or_to_try_again() {
        let e = user_error(
            UserError::Unknown(anyhow::anyhow!("disk on fire at /secret")),
            ROUTE,
        );
        assert_eq!(e.status_code(), 500);
        assert_eq!(body(&e), serde_json::json!({"error": "update_role_failed"}));
        let e = user_error(UserError::Unknown(anyhow::Error::new(Unreachable)), ROUTE);
        let res = e.error_response();
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
        assert_eq!(e.key(), "db_unavailable");
        let e = login_error(AuthError::Locked { retry_after: 90 }, "login_issue_failed");
        let res = e.error_response();
        assert_eq!(res.status(), 423);
        assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "90");
        let e = api_error(
            ApiError::RateLimited { retry_after: 7 },
            "login_issue_failed",
        );
        assert_eq!(
            (e.status_code(), e.key()),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
        );
        assert_eq!(api_error(ApiError::Busy, "x").key(), "unavailable");
    }
}
