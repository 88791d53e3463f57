//! Signing in: the form, its second step for a user with a second factor, and the page that says
//! who is signed in. A sign-in opens the browser session (the session cookie) that the
//! authorization endpoint reads, then goes back to it.
//!
//! CSRF: `GET /login` puts a random nonce in a short-lived `HttpOnly`, `SameSite=Lax` cookie and
//! the nonce's MAC under a server key (`Gate::csrf_token`) in the form; a POST must bring both.
//! A page of another site can neither read the cookie nor make the MAC, and its POST carries no
//! `SameSite=Lax` cookie at all. A browser keeps one nonce while its cookie lives
//! (`pages::form_nonce`): the page takes back the one the request carries rather than replacing
//! it, so that a form opened in a second tab does not spoil the first. The cookie is `Lax` rather
//! than `Strict` so that it comes with the page's `GET` when an application sent the browser
//! (through the authorization endpoint), a navigation from another site.

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
use tessera_domain::oauth::MAX_RESUME_QUERY_LEN;
use tessera_domain::password::Password;
use tessera_domain::token::PlainToken;

use crate::error::ApiError;
use crate::extract::{read_body, request_context};
use crate::pages::{
    error_page, failure, form_nonce, form_nonce_matches, respond, ui_locales_in, with_retry_after,
    Brand, Texts, Ui,
};
use crate::routes::oauth::session_token;
use crate::AppState;

/// The cookie that holds the sign-in form's nonce.
pub const LOGIN_COOKIE: &str = "tessera_login";
/// How long a sign-in form may stay open, in seconds.
const FORM_TTL_SECONDS: i64 = 900;
/// Where a sign-in returns to: the authorization endpoint of this server, with the request's
/// query (`routes::oauth::authorize_path`)…
pub(crate) const RETURN_PREFIX: &str = "/oauth/authorize?";
/// …or a page of this server that needs someone signed in: the account pages and the admin
/// console, each a path that is one of these or goes on from it with `/` or `?`.
const RETURN_PAGES: [&str; 2] = ["/account", "/admin"];
/// Longest `return_to`, in bytes: the path and the longest query of a request the authorization
/// endpoint takes (`MAX_RESUME_QUERY_LEN`, the domain's bound, so that the two cannot drift and
/// every request it takes comes back here).
const MAX_RETURN_TO: usize = RETURN_PREFIX.len() + MAX_RESUME_QUERY_LEN;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    csrf: &'a str,
    username: &'a str,
    return_to: Option<&'a str>,
    tenant: Option<&'a str>,
    message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    csrf: &'a str,
    mfa_token: &'a str,
    return_to: Option<&'a str>,
    message: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_in.html")]
struct SignedInPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    username: &'a str,
    /// The session's CSRF token, for the "Sign out" form (`POST /oauth/logout`).
    csrf: &'a str,
}

/// `?return_to=&tenant=&login_hint=&lang=` of the sign-in page.
#[derive(Deserialize)]
struct FormQuery {
    return_to: Option<String>,
    tenant: Option<String>,
    login_hint: Option<String>,
    lang: Option<String>,
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
    /// The language the form was shown in, so that what follows stays in it.
    lang: Option<String>,
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
    lang: Option<String>,
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
/// endpoint, of the account pages or of the admin console, so never another site (no open
/// redirect): it starts with one of those paths, hence with a single `/`.
pub(crate) fn is_safe_return(return_to: &str) -> bool {
    let to_a_page = RETURN_PAGES.iter().any(|page| {
        return_to
            .strip_prefix(page)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
    });
    (return_to.starts_with(RETURN_PREFIX) || to_a_page)
        && return_to.len() <= MAX_RETURN_TO
        && return_to.chars().all(|c| c.is_ascii_graphic() && c != '\\')
}

/// A `return_to` that is not a path a sign-in goes back to.
#[derive(Debug)]
struct NotBackHere;

/// `return_to` when it is safe, `None` when absent or empty.
///
/// # Errors
/// `NotBackHere` when it is there but not a path a sign-in goes back to.
fn checked_return_to(return_to: Option<&str>) -> Result<Option<&str>, NotBackHere> {
    match return_to.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) if is_safe_return(r) => Ok(Some(r)),
        Some(_) => Err(NotBackHere),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// The words and brand of a sign-in page: in the language a form of the pages carried
/// (`lang`), else the one the application asked for in the authorization request the sign-in
/// returns to (its `ui_locales`), else the browser's.
fn page_ui<'a>(
    req: &HttpRequest,
    state: &'a AppState,
    lang: Option<&str>,
    return_to: Option<&str>,
) -> Ui<'a> {
    let ui_locales = return_to.and_then(ui_locales_in);
    Ui::of(req, &state.pages, lang, ui_locales.as_deref())
}

/// The seconds of a lock, for `Retry-After` and the words: at least one.
fn lock_seconds(retry_after: i64) -> u64 {
    u64::try_from(retry_after.max(1)).unwrap_or(1)
}

/// The sign-in form's cookie, with its nonce, for `FORM_TTL_SECONDS` from now: set by every page
/// that shows the form, the nonce new or taken back.
fn login_cookie(state: &AppState, nonce: &PlainToken) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, nonce.expose().to_owned())
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.cookies.secure)
        .max_age(Duration::seconds(FORM_TTL_SECONDS))
        .finish()
}

/// The form's cookie, removed once it has served.
fn spent_login_cookie(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build(LOGIN_COOKIE, "")
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.cookies.secure)
        .finish();
    cookie.make_removal();
    cookie
}

/// Whether the form came from a page this server rendered for this browser.
fn csrf_matches(req: &HttpRequest, state: &AppState, presented: Option<&str>) -> bool {
    form_nonce_matches(req, state, LOGIN_COOKIE, presented)
}

/// A form that did not come from a page this server rendered for this browser (or was left
/// open too long): nothing happens, and the user may start again.
fn refused_form(ui: Ui<'_>, return_to: Option<&str>) -> HttpResponse {
    let again = login_url(return_to.filter(|r| is_safe_return(r)), None, None);
    error_page(
        ui,
        StatusCode::FORBIDDEN,
        ui.t.form_refused_title,
        ui.t.form_refused,
        Some(&again),
    )
}

/// A sign-in link or form that does not lead back to an application of this server.
fn bad_link(ui: Ui<'_>) -> HttpResponse {
    error_page(
        ui,
        StatusCode::BAD_REQUEST,
        ui.t.bad_link_title,
        ui.t.bad_link,
        None,
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
        return bad_link(page_ui(&req, &state, None, None));
    };
    let ui = page_ui(
        &req,
        &state,
        query.lang.as_deref(),
        query.return_to.as_deref(),
    );
    let Ok(return_to) = checked_return_to(query.return_to.as_deref()) else {
        return bad_link(ui);
    };
    // The nonce this browser holds, when it holds one: another tab's form stays good.
    let nonce = form_nonce(&req, &state, LOGIN_COOKIE);
    let csrf = state.core.gate.csrf_token(&nonce);
    let mut res = HttpResponse::Ok();
    res.cookie(login_cookie(&state, &nonce));
    respond(
        res,
        &LoginPage {
            t: ui.t,
            brand: ui.brand,
            csrf: &csrf,
            username: query.login_hint.as_deref().unwrap_or_default(),
            return_to,
            tenant: non_empty(query.tenant.as_deref()),
            message: None,
        },
    )
}

/// `POST /login`: checks the password; a user with a second factor gets its form next. A refusal
/// the user can do something about (a wrong password, a lock, too many attempts) is the form
/// again, saying so in words.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    sign_in(&req, &state, payload).await
}

async fn sign_in(req: &HttpRequest, state: &AppState, payload: web::Payload) -> HttpResponse {
    let form: LoginForm = match read_form(req, payload).await {
        Ok(form) => form,
        Err(e) => return failure(page_ui(req, state, None, None), e),
    };
    let ui = page_ui(req, state, form.lang.as_deref(), form.return_to.as_deref());
    if !csrf_matches(req, state, form.csrf.as_deref()) {
        return refused_form(ui, form.return_to.as_deref());
    }
    let Ok(return_to) = checked_return_to(form.return_to.as_deref()) else {
        return bad_link(ui);
    };
    let tenant = non_empty(form.tenant.as_deref());
    let password = Password::new(form.password);
    let csrf = form.csrf.as_deref().unwrap_or_default();
    let again = |status: StatusCode, message: &str| {
        respond(
            HttpResponse::build(status),
            &LoginPage {
                t: ui.t,
                brand: ui.brand,
                csrf,
                username: &form.username,
                return_to,
                tenant,
                message: Some(message),
            },
        )
    };
    match state.limits.check_username(&form.username).await {
        Ok(()) => {}
        Err(ApiError::RateLimited { retry_after }) => {
            let message = ui.t.too_many_for_username_for(retry_after);
            return with_retry_after(again(StatusCode::TOO_MANY_REQUESTS, &message), retry_after);
        }
        Err(e) => return failure(ui, e),
    }
    let request = LoginRequest {
        login: form.username.clone(),
        password,
        tenant: tenant.map(str::to_owned),
        context: request_context(req),
    };
    let outcome = match state
        .blocking_hashing(move |c| c.authentication.login(request, SessionKind::Browser))
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => return failure(ui, e),
    };
    match outcome {
        Ok(issued) => {
            signed_in_and_back(state, issued, return_to).unwrap_or_else(|e| failure(ui, e))
        }
        Err(AuthError::MfaRequired { mfa_token }) => respond(
            HttpResponse::Ok(),
            &MfaPage {
                t: ui.t,
                brand: ui.brand,
                csrf,
                mfa_token: &mfa_token,
                return_to,
                message: None,
            },
        ),
        // An unknown user and a wrong password are one answer, as in the API.
        Err(AuthError::InvalidCredentials) => again(StatusCode::UNAUTHORIZED, ui.t.wrong_password),
        Err(AuthError::AccountDisabled) => again(StatusCode::FORBIDDEN, ui.t.account_disabled),
        Err(AuthError::Locked { retry_after }) => {
            let seconds = lock_seconds(retry_after);
            with_retry_after(
                again(StatusCode::LOCKED, &ui.t.locked_for(seconds)),
                seconds,
            )
        }
        Err(e) => failure(ui, e.into()),
    }
}

/// `POST /login/mfa`: the second step, with a TOTP or backup code.
pub async fn second_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    check_second_factor(&req, &state, payload).await
}

async fn check_second_factor(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> HttpResponse {
    let form: MfaForm = match read_form(req, payload).await {
        Ok(form) => form,
        Err(e) => return failure(page_ui(req, state, None, None), e),
    };
    let ui = page_ui(req, state, form.lang.as_deref(), form.return_to.as_deref());
    if !csrf_matches(req, state, form.csrf.as_deref()) {
        return refused_form(ui, form.return_to.as_deref());
    }
    let Ok(return_to) = checked_return_to(form.return_to.as_deref()) else {
        return bad_link(ui);
    };
    let (mfa_token, code, context) = (form.mfa_token.clone(), form.code, request_context(req));
    let outcome = match state
        .blocking(move |c| {
            c.authentication
                .login_mfa(&mfa_token, &code, &context, SessionKind::Browser)
        })
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => return failure(ui, e.into()),
    };
    let again = |status: StatusCode, message: &str| {
        respond(
            HttpResponse::build(status),
            &MfaPage {
                t: ui.t,
                brand: ui.brand,
                csrf: form.csrf.as_deref().unwrap_or_default(),
                mfa_token: &form.mfa_token,
                return_to,
                message: Some(message),
            },
        )
    };
    match outcome {
        Ok(issued) => {
            signed_in_and_back(state, issued, return_to).unwrap_or_else(|e| failure(ui, e))
        }
        Err(AuthError::InvalidMfaCode) => again(StatusCode::UNAUTHORIZED, ui.t.wrong_code),
        Err(AuthError::Locked { retry_after }) => {
            let seconds = lock_seconds(retry_after);
            with_retry_after(
                again(StatusCode::LOCKED, &ui.t.locked_for(seconds)),
                seconds,
            )
        }
        Err(AuthError::InvalidMfaToken) => error_page(
            ui,
            StatusCode::UNAUTHORIZED,
            ui.t.sign_in_expired_title,
            ui.t.sign_in_expired,
            Some(&login_url(return_to, None, None)),
        ),
        Err(AuthError::AccountDisabled) => error_page(
            ui,
            StatusCode::FORBIDDEN,
            ui.t.refused_title,
            ui.t.account_disabled,
            None,
        ),
        Err(e) => failure(ui, e.into()),
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
    let ui = page_ui(&req, &state, None, None);
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
                t: ui.t,
                brand: ui.brand,
                username: &caller.username,
                csrf: &csrf,
            },
        ),
        Ok(Err(TokenError::Unavailable)) => failure(ui, ApiError::Unavailable),
        Ok(Err(_)) => to_login(),
        Err(e) => failure(ui, e.into()),
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
    fn a_sign_in_returns_to_the_authorization_endpoint_and_never_elsewhere() {
        assert!(is_safe_return("/oauth/authorize?client_id=tc_1&state=x"));
        for page in [
            "/admin",
            "/admin/users?q=al",
            "/account",
            "/account/sessions",
        ] {
            assert!(is_safe_return(page), "{page}");
        }
        for bad in [
            "https://evil.example/oauth/authorize?x",
            "//evil.example/oauth/authorize?x",
            "/oauth/authorize",
            "/oauth/authorizex?",
            "/login?return_to=x",
            "/oauth/authorize?a=b\r\nSet-Cookie:x",
            "/oauth/authorize?\\evil",
            "/oauth/authorize?é",
            "/administrator",
            "/admin\\evil",
            "https://evil.example/admin",
        ] {
            assert!(!is_safe_return(bad), "{bad}");
        }
        let long = format!("/oauth/authorize?{}", "a".repeat(MAX_RETURN_TO));
        assert!(!is_safe_return(&long));
        // The longest query the authorization endpoint takes comes back; one byte more does not.
        let longest = format!("{RETURN_PREFIX}{}", "a".repeat(MAX_RESUME_QUERY_LEN));
        assert!(is_safe_return(&longest));
        assert!(!is_safe_return(&format!("{longest}a")));
        assert!(checked_return_to(Some("")).unwrap().is_none());
        assert!(checked_return_to(Some("https://evil.example")).is_err());
    }

    #[test]
    fn a_sign_in_returns_to_the_account_pages_and_the_admin_console_too() {
        for good in [
            "/account",
            "/account/",
            "/account/sessions",
            "/account/api-keys?after=12",
            "/account?lang=es",
            "/admin",
            "/admin/users/3",
            "/admin?q=bob",
        ] {
            assert!(is_safe_return(good), "{good}");
            assert_eq!(checked_return_to(Some(good)).unwrap(), Some(good));
        }
        for bad in [
            "/accounts",
            "/account-settings",
            "/accountx/",
            "/administrator",
            "/admins?x",
            "//account",
            "//evil.example/account",
            "https://evil.example/account",
            "http:/account",
            "account",
            "/account\\evil",
            "/account/\r\nSet-Cookie:x",
            "/account/é",
            " /account",
            "/Account",
        ] {
            assert!(!is_safe_return(bad), "{bad}");
        }
        let long = format!("/account/{}", "a".repeat(MAX_RETURN_TO));
        assert!(!is_safe_return(&long));
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
    fn the_language_of_the_application_comes_with_the_way_back() {
        assert_eq!(
            ui_locales_in("/oauth/authorize?client_id=tc_1&ui_locales=es-MX%20en").as_deref(),
            Some("es-MX en")
        );
        assert_eq!(ui_locales_in("/oauth/authorize?client_id=tc_1"), None);
        assert_eq!(lock_seconds(0), 1);
        assert_eq!(lock_seconds(-5), 1);
        assert_eq!(lock_seconds(240), 240);
    }
}
