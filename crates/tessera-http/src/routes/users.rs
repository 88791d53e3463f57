//! User management.

use actix_web::{web, HttpResponse};
use tessera_domain::password::Password;
use tessera_domain::recovery::Registration;
use tessera_domain::token::PlainToken;
use tessera_domain::user::UserId;

use crate::dto::{
    rfc3339, CreateUserBody, ListQuery, PageResponse, PasswordBody, RegisterBody, ResetBody,
    ResetTokenResponse, UpdateUserBody, UserResponse,
};
use crate::error::ApiError;
use crate::extract::{Caller, ClientInfo, JsonBody};
use crate::routes::no_content;
use crate::AppState;

/// `POST /users`.
pub async fn create(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<CreateUserBody>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_domain();
    let user = state
        .run_hashing(move |c| c.accounts.create_user(&caller, request))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/users/{}", user.id.0)))
        .json(UserResponse::from(&user)))
}

/// `GET /users/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
    let user = state
        .read(move |c| c.accounts.get_user(&caller, id))
        .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(&user)))
}

/// `PATCH /users/{id}`: only the fields present change.
pub async fn patch(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<UpdateUserBody>,
) -> Result<HttpResponse, ApiError> {
    update(state, caller, UserId(id.into_inner()), body.into_patch()).await
}

/// `PUT /users/{id}`: the profile is replaced.
pub async fn put(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<UpdateUserBody>,
) -> Result<HttpResponse, ApiError> {
    update(
        state,
        caller,
        UserId(id.into_inner()),
        body.into_replacement(),
    )
    .await
}

async fn update(
    state: web::Data<AppState>,
    caller: tessera_domain::principal::Principal,
    id: UserId,
    request: tessera_domain::users::UpdateUser,
) -> Result<HttpResponse, ApiError> {
    let user = state
        .run(move |c| c.accounts.update_user(&caller, id, request))
        .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(&user)))
}

/// `DELETE /users/{id}`.
pub async fn delete(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    no_content(&state, caller, id, |c, p, id| {
        c.accounts.delete_user(p, UserId(id))
    })
    .await
}

/// `GET /users?limit=&after=&q=`.
pub async fn list(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery { limit, after, q } = query.into_inner();
    let page = state
        .read(move |c| c.accounts.list_users(&caller, limit, after, q.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page.items.iter().map(UserResponse::from).collect(),
        next_after: page.next_after,
    }))
}

/// `POST /users/{id}/password`.
pub async fn change_password(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
    let current = body.current_password.map(Password::new);
    let new = Password::new(body.new_password);
    let end_api_keys = body.end_api_keys.unwrap_or(false);
    state
        .run_hashing(move |c| {
            c.accounts
                .change_password(&caller, id, current, new, end_api_keys)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /users/{id}/unlock`: lifts a lockout and forgets the failed logins.
pub async fn unlock(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    no_content(&state, caller, id, |c, p, id| {
        c.accounts.unlock_user(p, UserId(id))
    })
    .await
}

/// `POST /auth/register`: self-registration, when it is on.
pub async fn register(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let req = Registration {
        username: body.username,
        password: Password::new(body.password),
        email: body.email,
    };
    let user = state
        .run_hashing(move |c| c.recovery.register(req, &context))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/users/{}", user.id.0)))
        .json(UserResponse::from(&user)))
}

/// `POST /users/{id}/password-reset`: a single-use reset token, shown once.
pub async fn issue_reset(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = UserId(id.into_inner());
    let issued = state
        .run(move |c| c.recovery.issue_password_reset(&caller, id))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ResetTokenResponse {
            user_id: issued.user_id.0,
            token: issued.token.expose().to_owned(),
            expires_at: rfc3339(issued.expires_at),
        }))
}

/// `POST /auth/password-reset`: a reset token buys a new password; every session ends.
pub async fn reset(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<HttpResponse, ApiError> {
    let token = PlainToken::new(body.token);
    let new = Password::new(body.new_password);
    state
        .run_hashing(move |c| c.recovery.reset_password(&token, &new, &context))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
