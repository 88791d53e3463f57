//! Liveness, the published signing keys, the discovery documents and the metrics.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use tessera_domain::oauth::{self, AuthMethod};

use crate::AppState;

/// `GET /health`: the process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// `GET /ready`: 200 when this node can serve (the database answers and its schema is current),
/// else 503 with the reason. `/health` stays a liveness check.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let outcome = state.blocking(|c| c.ready()).await;
    let reason = match outcome {
        Ok(Ok(())) => {
            return HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({ "status": "ready" }))
        }
        Ok(Err(e)) => format!("{e:#}"),
        Err(e) => e.to_string(),
    };
    tracing::warn!(reason = %reason, "not ready");
    HttpResponse::ServiceUnavailable()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "status": "not_ready",
            "error": "not_ready",
            "message": reason,
        }))
}

/// `GET /metrics`: Prometheus metrics (OpenMetrics text).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let sessions = match state.blocking(|c| c.sessions.count_live_sessions()).await {
        Ok(Ok(n)) => Some(n),
        Ok(Err(e)) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "cannot count sessions for metrics"
            );
            None
        }
        Err(_) => None,
    };
    let text = state
        .metrics
        .metrics
        .render((state.metrics.hash_queue)(), sessions);
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(text)
}

/// `GET /auth/jwks.json` and `GET /.well-known/jwks.json`.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(state.keys.jwks().to_string())
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0) and
/// `GET /.well-known/oauth-authorization-server` (RFC 8414): where every endpoint is, from the
/// issuer URL alone.
pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    let t = state.core.token_settings();
    let base = t.issuer.trim_end_matches('/');
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(serde_json::json!({
            "issuer": t.issuer,
            "authorization_endpoint": format!("{base}/oauth/authorize"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "token_endpoint": format!("{base}/oauth/token"),
            "userinfo_endpoint": format!("{base}/auth/userinfo"),
            "introspection_endpoint": format!("{base}/oauth/introspect"),
            "revocation_endpoint": format!("{base}/auth/token/revoke"),
            // RP-Initiated Logout 1.0; front- and back-channel logout are not offered (their
            // `*_logout_supported` members are left out, which says false).
            "end_session_endpoint": format!("{base}/oauth/logout"),
            "grant_types_supported": crate::dto::rules::GRANT_TYPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "prompt_values_supported": ["none", "login", "consent"],
            "ui_locales_supported": crate::pages::Language::ALL.map(crate::pages::Language::code),
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
            "token_endpoint_auth_methods_supported": AuthMethod::ALL.map(AuthMethod::as_str),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "bearer"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [state.keys.signing_alg()],
            "scopes_supported": oauth::supported_scopes(&t.scope),
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "sid", "scope",
                "roles", "tenant_id", "preferred_username", "email", "name", "updated_at",
                "auth_time", "nonce", "azp", "amr", "at_hash",
            ],
        }))
}

/// Any unknown path.
pub async fn not_found() -> Result<HttpResponse, crate::error::ApiError> {
    Err(crate::error::ApiError::NotFound)
}

/// A known path with a method it does not support.
/// The JSON 405 of a path, with `Allow` naming the methods it has.
pub fn method_not_allowed_here(allow: &str) -> HttpResponse {
    let mut res =
        actix_web::ResponseError::error_response(&crate::error::ApiError::MethodNotAllowed);
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
        res.headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    res
}
