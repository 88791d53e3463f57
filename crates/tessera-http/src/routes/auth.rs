//! Login, refresh, logout, revocation and userinfo.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use tessera_domain::auth::LoginRequest;
use tessera_domain::password::Password;
use tessera_domain::token::PlainToken;

use tessera_domain::credentials::TokenFormat;

use crate::dto::{
    AccessResponse, LoginBody, RefreshBody, RevokeBody, TokenResponse, UserInfoResponse,
};
use crate::error::ApiError;
use crate::extract::{Caller, ClientInfo, FormOrJson, JsonBody};
use crate::routes::credentials::no_store;
use crate::AppState;

fn tokens(t: tessera_domain::auth::IssuedTokens) -> HttpResponse {
    no_store(HttpResponse::Ok()).json(TokenResponse::from(t))
}

/// A requested `token_format`, checked.
pub(crate) fn token_format(raw: Option<&str>) -> Result<Option<TokenFormat>, ApiError> {
    raw.map(|raw| {
        TokenFormat::parse(raw).ok_or_else(|| {
            ApiError::field(
                "token_format",
                "invalid",
                "token_format must be jwt or opaque".into(),
            )
        })
    })
    .transpose()
}

/// `POST /auth/login`.
pub async fn login(
    state: web::Data<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let format = token_format(body.token_format.as_deref())?;
    state.limits.check_username(&body.username)?;
    let request = LoginRequest {
        login: body.username,
        password: Password::new(body.password),
        tenant: body.tenant,
        context: client.0,
    };
    Ok(match state.service.login_format(format) {
        TokenFormat::Jwt => tokens(web::block(move || state.service.login(request)).await??),
        TokenFormat::Opaque => {
            let issued = web::block(move || state.service.login_opaque(request)).await??;
            no_store(HttpResponse::Ok()).json(AccessResponse::from(issued))
        }
    })
}

/// `POST /auth/refresh`.
pub async fn refresh(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let presented = PlainToken::new(body.refresh_token);
    let issued = web::block(move || state.service.refresh(&presented, &context)).await??;
    Ok(tokens(issued))
}

/// `POST /auth/logout`.
pub async fn logout(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    web::block(move || state.service.logout(&caller)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /auth/token/revoke` (RFC 7009): answers 200 whether or not the token was known.
pub async fn revoke(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    FormOrJson(body): FormOrJson<RevokeBody>,
) -> Result<HttpResponse, ApiError> {
    let presented = PlainToken::new(body.token);
    web::block(move || state.service.revoke_refresh_token(&presented, &context)).await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `GET /auth/userinfo`.
pub async fn userinfo(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let me = caller.user_id;
    let user = web::block(move || state.service.get_user(&caller, me)).await??;
    Ok(HttpResponse::Ok().json(UserInfoResponse::from(&user)))
}
