//! Route handlers, one module per area.

pub mod access;
pub mod audit;
pub mod auth;
pub mod credentials;
pub mod keys;
pub mod meta;
pub mod mfa;
pub mod oauth;
pub mod sessions;
pub mod users;

use actix_web::{web, HttpResponse};
use tessera_domain::principal::Principal;
use tessera_domain::usecases::UseCases;

use crate::error::ApiError;
use crate::AppState;

/// A use case about the thing whose id is in the path that answers nothing: 204 No Content.
pub(crate) async fn no_content<E>(
    state: &AppState,
    caller: Principal,
    id: web::Path<i64>,
    f: impl FnOnce(&UseCases, &Principal, i64) -> Result<(), E> + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    E: Into<ApiError> + Send + 'static,
{
    let id = id.into_inner();
    state.run(move |c| f(c, &caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
