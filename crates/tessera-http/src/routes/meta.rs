//! Liveness and the published signing keys.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::AppState;

/// `GET /health`: the process is up.
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// `GET /auth/jwks.json` and `GET /.well-known/jwks.json`.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(state.jwks.to_string())
}

/// Any unknown path.
pub async fn not_found() -> Result<HttpResponse, crate::error::ApiError> {
    Err(crate::error::ApiError::NotFound)
}

/// A known path with a method it does not support.
pub async fn method_not_allowed() -> Result<HttpResponse, crate::error::ApiError> {
    Err(crate::error::ApiError::MethodNotAllowed)
}
