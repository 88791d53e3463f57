//! Login, refresh, logout, revocation and userinfo.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use tessera_domain::auth::LoginRequest;
use tessera_domain::password::Password;
use tessera_domain::token::PlainToken;

use actix_web::cookie::Cookie;
use actix_web::HttpRequest;
use tessera_domain::credentials::TokenFormat;
use tessera_domain::issuer::{Issued, IssuedAccess, IssuedTokens, SessionKind};
use tessera_domain::oauth::UserInfo;

use crate::dto::{
    AccessResponse, LoginBody, RefreshBody, RevokeBody, TokenResponse, UserInfoResponse,
};
use crate::error::ApiError;
use crate::extract::{authenticate_for_client, Caller, ClientInfo, FormOrJson, JsonBody};
use crate::routes::credentials::no_store;
use crate::AppState;

fn tokens(t: IssuedTokens) -> HttpResponse {
    no_store(HttpResponse::Ok()).json(TokenResponse::from(t))
}

/// Whether a login asks for a browser session (`"session": "cookie"`).
pub(crate) fn wants_cookie(session: Option<&str>) -> Result<bool, ApiError> {
    match session {
        None => Ok(false),
        Some("cookie") => Ok(true),
        Some(_) => Err(ApiError::field(
            "session",
            "invalid",
            "session must be cookie".into(),
        )),
    }
}

/// A browser session: its opaque token in an `HttpOnly`, `SameSite=Lax` cookie, and the CSRF
/// token the page sends back in `X-CSRF-Token`.
pub(crate) fn browser_session(state: &AppState, issued: IssuedAccess) -> HttpResponse {
    let csrf = state.core.gate.csrf_token(&issued.access_token);
    no_store(HttpResponse::Ok())
        .cookie(state.cookies.session(&issued.access_token))
        .json(serde_json::json!({
            "session": "cookie",
            "csrf_token": csrf,
            "expires_in": issued.expires_in,
        }))
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

/// What a login asks for: a browser session (`"session": "cookie"`), or the `token_format`
/// asked (already checked), or the configured default.
pub(crate) fn session_kind(
    state: &AppState,
    session: Option<&str>,
    format: Option<TokenFormat>,
) -> Result<SessionKind, ApiError> {
    Ok(if wants_cookie(session)? {
        SessionKind::Browser
    } else {
        state.core.authentication.login_kind(format)
    })
}

/// The answer to a login of any kind: JWT and refresh token, an opaque token, or a browser
/// session's cookie.
pub(crate) fn login_response(state: &AppState, kind: SessionKind, issued: Issued) -> HttpResponse {
    match issued {
        Issued::Tokens(t) => tokens(t),
        Issued::Access(a) if kind == SessionKind::Browser => browser_session(state, a),
        Issued::Access(a) => no_store(HttpResponse::Ok()).json(AccessResponse::from(a)),
    }
}

/// `POST /auth/login`.
pub async fn login(
    state: web::Data<AppState>,
    client: ClientInfo,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let format = token_format(body.token_format.as_deref())?;
    state.limits.check_username(&body.username).await?;
    let kind = session_kind(&state, body.session.as_deref(), format)?;
    let request = LoginRequest {
        login: body.username,
        password: Password::new(body.password),
        tenant: body.tenant,
        context: client.0,
    };
    let issued = state
        .run_hashing(move |c| c.authentication.login(request, kind))
        .await?;
    Ok(login_response(&state, kind, issued))
}

/// `POST /auth/refresh`.
pub async fn refresh(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let presented = PlainToken::new(body.refresh_token);
    let issued = state
        .run(move |c| c.authentication.refresh(&presented, &context))
        .await?;
    Ok(tokens(issued))
}

/// `POST /auth/logout`.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let name = state.cookies.name.clone();
    state.run(move |c| c.authentication.logout(&caller)).await?;
    let mut res = HttpResponse::NoContent();
    if req.cookie(&name).is_some() {
        let mut gone = Cookie::build(name, "").path("/").http_only(true).finish();
        gone.make_removal();
        res.cookie(gone);
    }
    Ok(res.finish())
}

/// `POST /auth/token/revoke` (RFC 7009): answers 200 whether or not the token was known.
pub async fn revoke(
    state: web::Data<AppState>,
    ClientInfo(context): ClientInfo,
    FormOrJson(body): FormOrJson<RevokeBody>,
) -> Result<HttpResponse, ApiError> {
    let presented = PlainToken::new(body.token);
    state
        .run(move |c| c.authentication.revoke_refresh_token(&presented, &context))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `GET /auth/userinfo`: the one endpoint that also takes the access tokens issued to OAuth clients.
pub async fn userinfo(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate_for_client(&req).await?;
    let info = state
        .read(move |c| {
            c.accounts
                .get_user(&caller, caller.user_id)
                .map(|user| UserInfo::of(&user, &caller))
        })
        .await?;
    Ok(HttpResponse::Ok().json(UserInfoResponse::from(info)))
}
