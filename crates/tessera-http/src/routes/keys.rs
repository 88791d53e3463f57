//! The signing keys, for global admins: which key signs, which are still published, and a
//! rotation now.

use actix_web::{web, HttpResponse};

use crate::dto::{all_items, KeyResponse, RotatedKeyResponse};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::AppState;

/// `GET /keys`: every signing key the answering node knows, newest first.
pub async fn list(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let keys = state.run(move |c| c.keys.list_keys(&caller)).await?;
    Ok(HttpResponse::Ok().json(all_items(
        keys.iter().map(KeyResponse::from).collect::<Vec<_>>(),
    )))
}

/// `POST /keys/rotate`: a new signing key, which signs the answering node's tokens from now on.
pub async fn rotate(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let key = state.run(move |c| c.keys.rotate(&caller)).await?;
    Ok(HttpResponse::Created().json(RotatedKeyResponse {
        kid: key.kid,
        alg: key.alg,
    }))
}
