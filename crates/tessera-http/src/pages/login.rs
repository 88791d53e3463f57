//! Signing in: the form, its second step for a user with a second factor, and the page that says
//! who is signed in. A sign-in opens the browser session (the session cookie) that the
//! authorization endpoint reads, then goes back to it.
//!
//! CSRF: `GET /login` puts a random nonce in a short-lived `HttpOnly`, `SameSite=Strict` cookie
//! and the nonce's MAC under a server key (`Gate::csrf_token`) in the form; a POST must bring both.
//! A page of another site can neither read the cookie nor make the MAC.

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tessera_domain::auth::LoginRequest;
use tessera_domain::error::{AuthError, TokenError};
use tessera_domain::issuer::{Issued, SessionKind};
use tessera_domain::password::Password;
use tessera_domain::token::PlainToken;

use crate::error::ApiError;
use crate::extract::{read_body, request_context};
use crate::pages::{error_page, failure, respond};
use crate::routes::oauth::session_token;
use crate::AppState;

/// The cookie that holds the sign-in form's nonce.
pub const LOGIN_COOKIE: &str = "tessera_login";
/// How long a sign-in form may stay open, in seconds.
const FORM_TTL_SECONDS: i64 = 900;
/// The only place a sign-in returns to: the authorization endpoint of this server.
const RETURN_PREFIX: &str = "/oauth/authorize?";
/// Longest `return_to`, in bytes.
const MAX_RETURN_TO: usize = 8192;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    return_to: Option<&'a str>,
    tenant: Option<&'a str>,
    message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage<'a> {
    csrf: &'a str,
    mfa_token: &'a str,
    return_to: Option<&'a str>,
    message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage<'a> {
    username: &'a str,
    /// The session's CSRF token, for the "Sign out" form (`POST /oauth/logout`).
    csrf: &'a str,
}

/// `?return_to=&tenant=&login_hint=` of the sign-in page.
#[derive(Deserialize)]
struct FormQuery {
    return_to: Option<String>,
    tenant: Option<String>,
    login_hint: Option<String>,
}

/// The sign-in form as posted. It holds a password: no `Debug`.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    csrf: Option<String>,
    return_to: Option<String>,
    tenant: Option<String>,
}

/// The second step as posted.
#[derive(Deserialize)]
struct MfaForm {
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
    csrf: Option<String>,
    return_to: Option<String>,
}

/// Where the sign-in page is, to come back to `return_to` (a path of the authorization endpoint)
/// as a user of `tenant`, with `login_hint` in the form.
pub(crate) fn login_url(
    return_to: Option<&str>,
    tenant: Option<&str>,
    login_hint: Option<&str>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    let params = [
        ("return_to", return_to),
        ("tenant", tenant),
        ("login_hint", login_hint),
    ];
    for (name, value) in params
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
    {
        query.append_pair(name, value);
    }
    let query = query.finish();
    if query.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?{query}")
    }
}

/// Whether a sign-in may send the browser to `return_to`: a path of this server's authorization
/// endpoint, so never another site (no open redirect).
pub(crate) fn is_safe_return(return_to: &str) -> bool {
    return_to.starts_with(RETURN_PREFIX)
        && return_to.len() <= MAX_RETURN_TO
        && return_to.chars().all(|c| c.is_ascii_graphic() && c != '\\')
}

/// `return_to` when it is safe, `None` when absent or empty.
///
/// # Errors
/// 400 when it is there but not a path of the authorization endpoint.
fn checked_return_to(return_to: Option<&str>) -> Result<Option<&str>, ApiError> {
    match return_to.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) if is_safe_return(r) => Ok(Some(r)),
        Some(_) => Err(ApiError::MalformedBody(
            "this sign-in link does not lead back to an application of this server".into(),
        )),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// The sign-in form's cookie, with its nonce.
fn login_cookie(state: &AppState, nonce: &PlainToken) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, nonce.expose().to_owned())
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.cookies.secure)
        .max_age(Duration::seconds(FORM_TTL_SECONDS))
        .finish()
}

/// The form's cookie, removed once it has served.
fn spent_login_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build(LOGIN_COOKIE, "")
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.cookies.secure)
        .finish();
    cookie.make_removal();
    cookie
}

/// Whether the form came from a page this server rendered for this browser.
fn csrf_matches(req: &HttpRequest, state: &AppState, presented: Option<&str>) -> bool {
    req.cookie(LOGIN_COOKIE).is_some_and(|cookie| {
        state.core.gate.csrf_matches(
            &PlainToken::new(cookie.value().to_owned()),
            presented.unwrap_or_default(),
        )
    })
}

/// A form that did not come from a page this server rendered for this browser (or was left
/// open too long): nothing happens, and the user may start again.
fn refused_form(return_to: Option<&str>) -> HttpResponse {
    let again = login_url(return_to.filter(|r| is_safe_return(r)), None, None);
    error_page(
        StatusCode::FORBIDDEN,
        "Sign-in refused",
        "This sign-in form has expired or did not come from this site.",
        Some(&again),
    )
}

/// Reads a form-encoded body, within the limits every body has.
///
/// # Errors
/// 400 for a body that is not such a form; 408 and 413 as for any body.
async fn read_form<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let body = read_body(req, payload.into_inner()).await?;
    serde_urlencoded::from_bytes(&body)
        .map_err(|_| ApiError::MalformedBody("the form could not be read".into()))
}

/// `GET /login`: the sign-in form.
pub async fn form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Ok(query) = serde_urlencoded::from_str::<FormQuery>(req.query_string()) else {
        return failure(ApiError::MalformedBody(
            "the sign-in link could not be read".into(),
        ));
    };
    let return_to = match checked_return_to(query.return_to.as_deref()) {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let nonce = state.core.gate.new_login_nonce();
    let csrf = state.core.gate.csrf_token(&nonce);
    let mut res = HttpResponse::Ok();
    res.cookie(login_cookie(&state, &nonce));
    respond(
        res,
        &LoginPage {
            csrf: &csrf,
            username: query.login_hint.as_deref().unwrap_or_default(),
            return_to,
            tenant: non_empty(query.tenant.as_deref()),
            message: None,
        },
    )
}

/// `POST /login`: checks the password; a user with a second factor gets its form next.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    sign_in(&req, &state, payload).await.unwrap_or_else(failure)
}

async fn sign_in(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form: LoginForm = read_form(req, payload).await?;
    if !csrf_matches(req, state, form.csrf.as_deref()) {
        return Ok(refused_form(form.return_to.as_deref()));
    }
    let return_to = checked_return_to(form.return_to.as_deref())?;
    let tenant = non_empty(form.tenant.as_deref());
    state.limits.check_username(&form.username).await?;
    let request = LoginRequest {
        login: form.username.clone(),
        password: Password::new(form.password),
        tenant: tenant.map(str::to_owned),
        context: request_context(req),
    };
    let outcome = state
        .blocking_hashing(move |c| c.authentication.login(request, SessionKind::Browser))
        .await?;
    let csrf = form.csrf.as_deref().unwrap_or_default();
    let again = |status: StatusCode, message: &str| {
        respond(
            HttpResponse::build(status),
            &LoginPage {
                csrf,
                username: &form.username,
                return_to,
                tenant,
                message: Some(message),
            },
        )
    };
    match outcome {
        Ok(issued) => signed_in_and_back(state, issued, return_to),
        Err(AuthError::MfaRequired { mfa_token }) => Ok(respond(
            HttpResponse::Ok(),
            &MfaPage {
                csrf,
                mfa_token: &mfa_token,
                return_to,
                message: None,
            },
        )),
        // The same words as the API: an unknown user and a wrong password are one answer.
        Err(e @ AuthError::InvalidCredentials) => {
            Ok(again(StatusCode::UNAUTHORIZED, &sentence(&e)))
        }
        Err(e @ AuthError::AccountDisabled) => Ok(again(StatusCode::FORBIDDEN, &sentence(&e))),
        Err(e) => Err(e.into()),
    }
}

/// `POST /login/mfa`: the second step, with a TOTP or backup code.
pub async fn second_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    check_second_factor(&req, &state, payload)
        .await
        .unwrap_or_else(failure)
}

async fn check_second_factor(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form: MfaForm = read_form(req, payload).await?;
    if !csrf_matches(req, state, form.csrf.as_deref()) {
        return Ok(refused_form(form.return_to.as_deref()));
    }
    let return_to = checked_return_to(form.return_to.as_deref())?;
    let (mfa_token, code, context) = (form.mfa_token.clone(), form.code, request_context(req));
    let outcome = state
        .blocking(move |c| {
            c.authentication
                .login_mfa(&mfa_token, &code, &context, SessionKind::Browser)
        })
        .await?;
    match outcome {
        Ok(issued) => signed_in_and_back(state, issued, return_to),
        Err(e @ AuthError::InvalidMfaCode) => Ok(respond(
            HttpResponse::Unauthorized(),
            &MfaPage {
                csrf: form.csrf.as_deref().unwrap_or_default(),
                mfa_token: &form.mfa_token,
                return_to,
                message: Some(&sentence(&e)),
            },
        )),
        Err(AuthError::InvalidMfaToken) => Ok(error_page(
            StatusCode::UNAUTHORIZED,
            "Sign in again",
            "This sign-in has expired or was already finished.",
            Some(&login_url(return_to, None, None)),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A domain error's message as a sentence for the page.
fn sentence(e: &AuthError) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => text,
    }
}

/// The browser session is open: its cookie is set and the browser goes back where it came from.
fn signed_in_and_back(
    state: &AppState,
    issued: Issued,
    return_to: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let Issued::Access(access) = issued else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "a browser sign-in gave a token pair instead of a session"
        )));
    };
    Ok(HttpResponse::SeeOther()
        .cookie(state.cookies.session(&access.access_token))
        .cookie(spent_login_cookie(state))
        .insert_header((header::LOCATION, return_to.unwrap_or("/")))
        .finish())
}

/// `GET /`: who is signed in in this browser, with a button to sign out; the sign-in form when
/// nobody is.
pub async fn signed_in(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(token) = session_token(&req, &state) else {
        return to_login();
    };
    let csrf = state.core.gate.csrf_token(&PlainToken::new(token.clone()));
    match state
        .read_raw(move |c| c.gate.authenticate_credential(&token, true))
        .await
    {
        Ok(Ok(caller)) => respond(
            HttpResponse::Ok(),
            &SignedInPage {
                username: &caller.username,
                csrf: &csrf,
            },
        ),
        Ok(Err(TokenError::Unavailable)) => failure(ApiError::Unavailable),
        Ok(Err(_)) => to_login(),
        Err(e) => failure(e.into()),
    }
}

fn to_login() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_returns_only_to_the_authorization_endpoint() {
        assert!(is_safe_return("/oauth/authorize?client_id=tc_1&state=x"));
        for bad in [
            "https://evil.example/oauth/authorize?x",
            "//evil.example/oauth/authorize?x",
            "/oauth/authorize",
            "/oauth/authorizex?",
            "/login?return_to=x",
            "/oauth/authorize?a=b\r\nSet-Cookie:x",
            "/oauth/authorize?\\evil",
            "/oauth/authorize?é",
        ] {
            assert!(!is_safe_return(bad), "{bad}");
        }
        let long = format!("/oauth/authorize?{}", "a".repeat(MAX_RETURN_TO));
        assert!(!is_safe_return(&long));
        assert!(checked_return_to(Some("")).unwrap().is_none());
        assert!(checked_return_to(Some("https://evil.example")).is_err());
    }

    #[test]
    fn the_sign_in_url_carries_what_it_is_given() {
        assert_eq!(login_url(None, None, None), "/login");
        assert_eq!(
            login_url(Some("/oauth/authorize?a=b&c=d"), Some("acme"), None),
            "/login?return_to=%2Foauth%2Fauthorize%3Fa%3Db%26c%3Dd&tenant=acme"
        );
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            sentence(&AuthError::InvalidCredentials),
            "Invalid username or password."
        );
    }
}
