//! Sessions: one's own, and (for admins) a user's.

use actix_web::{web, HttpResponse};
use tessera_domain::principal::Principal;
use tessera_domain::token::SessionId;
use tessera_domain::user::UserId;

use crate::dto::{all_items, SessionResponse};
use crate::error::ApiError;
use crate::extract::Caller;
use crate::routes::no_content;
use crate::AppState;

async fn list(
    state: web::Data<AppState>,
    caller: Principal,
    user: UserId,
) -> Result<HttpResponse, ApiError> {
    let current = caller.session_id;
    let sessions = state
        .run(move |c| c.sessions.list_sessions(&caller, user))
        .await?;
    Ok(HttpResponse::Ok().json(all_items(
        sessions
            .iter()
            .map(|s| SessionResponse::new(s, current))
            .collect(),
    )))
}

async fn end_all(
    state: web::Data<AppState>,
    caller: Principal,
    user: UserId,
) -> Result<HttpResponse, ApiError> {
    state
        .run(move |c| c.sessions.end_sessions(&caller, user))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /sessions`: the caller's live sessions, with the current one marked.
pub async fn mine(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let me = caller.user_id;
    list(state, caller, me).await
}

/// `DELETE /sessions`: ends all the caller's sessions but the current one.
pub async fn end_mine(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let me = caller.user_id;
    end_all(state, caller, me).await
}

/// `DELETE /sessions/{id}`: ends one session of the caller (or, for an admin, of their user).
pub async fn end_one(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    no_content(&state, caller, id, |c, p, id| {
        c.sessions.end_session(p, SessionId(id))
    })
    .await
}

/// `GET /users/{id}/sessions`.
pub async fn of_user(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    list(state, caller, UserId(id.into_inner())).await
}

/// `DELETE /users/{id}/sessions`: all of them.
pub async fn end_of_user(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    end_all(state, caller, UserId(id.into_inner())).await
}
