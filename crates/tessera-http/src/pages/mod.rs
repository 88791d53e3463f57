//! The server-rendered pages: signing in (with the second step for users with a second factor),
//! the consent page and its answer, the page that says who is signed in, signing out (the OpenID
//! Connect logout endpoint, with its confirmation and "signed out" pages), the error pages of
//! the authorization endpoint, the account pages of a signed-in user (`account`), and the admin
//! console (`admin`), whose pages need a signed-in browser (`guard`).
//!
//! The pages are a front door of their own: they answer HTML only (never JSON), with their own
//! CSRF protection (a cookie and a hidden field), a strict Content-Security-Policy and one
//! stylesheet served from the binary. They are not in the OpenAPI route table (`crate::api`),
//! which describes the API: they are registered beside it, as the API's rendered docs are.
//! Templates are in `templates/`, checked at compile time by askama.
//!
//! Every page speaks the language chosen for its request (`texts::choose`) and wears the brand
//! of `[branding]`: a page's template has the fields `t` (its `Texts`) and `brand` (the
//! `Brand`), which `layout.html` reads, both from a `Ui` (`Ui::of`). A new page takes its words
//! from `Texts` (adding a field there, in every language) and never writes any of its own.

// A page's helpers answer `Result<T, HttpResponse>`: the `Err` is the page to send instead (a
// refusal, the way to the sign-in page), built once per request and returned straight to actix,
// so its size costs nothing worth boxing.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod admin;
pub mod brand;
pub mod consent;
pub(crate) mod fields;
pub(crate) mod guard;
pub mod login;
pub mod logout;
pub mod texts;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use tessera_domain::gate::is_login_nonce;
use tessera_domain::token::PlainToken;

use crate::error::ApiError;
use crate::AppState;
pub use brand::{Brand, Logo};
pub use texts::{Language, Texts};

/// The stylesheet of every page.
const STYLESHEET: &str = include_str!("../../assets/tessera.css");

/// The pages load nothing but this server's stylesheets and images, are framed by no one, and
/// have no `<base>`. `form-action` is left out on purpose: Chromium applies it to the redirects
/// that follow a form's POST, and a sign-in ends at the client's redirect URI, on another site (as
/// a confirmed sign-out ends at its post-logout redirect URI).
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The logo's own policy, for a browser that opens it as a document (an SVG can hold scripts):
/// nothing runs and nothing loads.
const LOGO_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// How long browsers may keep the stylesheets and the logo: their links change with them.
const ASSET_CACHE: &str = "public, max-age=86400";

/// How the pages look and which language they speak when nothing asks for another.
#[derive(Debug, Clone, Default)]
pub struct PageConfig {
    pub brand: Brand,
    /// `[pages] default_language`.
    pub default_language: Language,
}

/// What a page is rendered with: the words of its language and the brand. Copy its two fields
/// into the page's template (`t`, `brand`).
#[derive(Debug, Clone, Copy)]
pub struct Ui<'a> {
    pub t: &'static Texts,
    pub brand: &'a Brand,
}

impl<'a> Ui<'a> {
    /// The words and brand of a page answering `req`: in the language `chosen` by a form of the
    /// pages (its `lang` field), else the first of the application's `ui_locales` the pages
    /// speak, else the browser's `Accept-Language`, else the configured default.
    pub fn of(
        req: &HttpRequest,
        config: &'a PageConfig,
        chosen: Option<&str>,
        ui_locales: Option<&str>,
    ) -> Self {
        let accept_language = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let language = texts::choose(chosen, ui_locales, accept_language, config.default_language);
        Self {
            t: language.texts(),
            brand: &config.brand,
        }
    }
}

/// The `ui_locales` of an authorization request, from its path and query (the sign-in page's
/// `return_to`) or from its query alone.
pub(crate) fn ui_locales_in(path_or_query: &str) -> Option<String> {
    let query = path_or_query
        .split_once('?')
        .map_or(path_or_query, |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| *name == "ui_locales")
        .map(|(_, value)| value.into_owned())
}

/// The nonce a page's form is made with, kept in the cookie `name`: the one the browser holds
/// already (`Gate::login_nonce`), so that every form it has open stays good, else a new one. A
/// browser may hold two cookies of one name, set for different paths: the first that has the
/// shape of a nonce is taken.
pub(crate) fn form_nonce(req: &HttpRequest, state: &AppState, name: &str) -> PlainToken {
    let held = req.cookies().ok().and_then(|cookies| {
        cookies
            .iter()
            .filter(|c| c.name() == name)
            .map(|c| c.value())
            .find(|v| is_login_nonce(v))
            .map(str::to_owned)
    });
    state.core.gate.login_nonce(held.as_deref())
}

/// Whether `presented` (a form's `csrf` field) is the CSRF token of the nonce of a cookie `name`
/// the request carries: the form came from a page this server rendered for this browser.
pub(crate) fn form_nonce_matches(
    req: &HttpRequest,
    state: &AppState,
    name: &str,
    presented: Option<&str>,
) -> bool {
    let Ok(cookies) = req.cookies() else {
        return false;
    };
    let presented = presented.unwrap_or_default();
    cookies.iter().filter(|c| c.name() == name).any(|c| {
        state
            .core
            .gate
            .csrf_matches(&PlainToken::new(c.value().to_owned()), presented)
    })
}

/// Runs `f` with the `Ui` of `req` when no form says which language: the pages' settings from
/// the app's state (Tessera's defaults should it have none).
pub(crate) fn with_request_ui<R>(req: &HttpRequest, f: impl FnOnce(Ui<'_>) -> R) -> R {
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => f(Ui::of(req, &state.pages, None, None)),
        None => {
            let config = PageConfig::default();
            f(Ui::of(req, &config, None, None))
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    title: &'a str,
    message: &'a str,
    /// Where "Sign in again" leads, when the user can start over.
    retry: Option<&'a str>,
}

/// Registers the pages: `/login`, `/login/mfa`, the consent form's answer `/oauth/consent`,
/// `/oauth/logout`, `/`, the account pages under `/account`, the stylesheets, the logo and the
/// admin console (`/admin…`). (The
/// consent page itself is an answer of `GET /oauth/authorize`.)
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.service(
        page("/login", "GET, POST")
            .route(web::get().to(login::form))
            .route(web::post().to(login::submit)),
    )
    .service(page("/login/mfa", "POST").route(web::post().to(login::second_step)))
    .service(page("/oauth/consent", "POST").route(web::post().to(consent::decide)))
    .service(
        page("/oauth/logout", "GET, POST")
            .route(web::get().to(logout::from_link))
            .route(web::post().to(logout::from_form)),
    )
    .service(page("/", "GET").route(web::get().to(login::signed_in)))
    .configure(register_account)
    .service(page("/assets/tessera.css", "GET").route(web::get().to(stylesheet)))
    .service(page("/assets/theme.css", "GET").route(web::get().to(theme)))
    .service(page("/assets/logo", "GET").route(web::get().to(logo)));
    admin::register(cfg);
}

/// Registers the account pages (`account`).
fn register_account(cfg: &mut web::ServiceConfig) {
    cfg.service(page("/account", "GET").route(web::get().to(account::overview)))
        .service(
            page("/account/profile", "GET, POST")
                .route(web::get().to(account::profile))
                .route(web::post().to(account::save_profile)),
        )
        .service(
            page("/account/password", "GET, POST")
                .route(web::get().to(account::password))
                .route(web::post().to(account::change_password)),
        )
        .service(page("/account/mfa", "GET").route(web::get().to(account::mfa)))
        .service(page("/account/mfa/setup", "POST").route(web::post().to(account::start_enrolment)))
        .service(
            page("/account/mfa/verify", "POST").route(web::post().to(account::verify_enrolment)),
        )
        .service(
            page("/account/mfa/backup-codes", "GET, POST")
                .route(web::get().to(account::confirm_regenerate))
                .route(web::post().to(account::regenerate_codes)),
        )
        .service(page("/account/mfa/disable", "POST").route(web::post().to(account::disable_mfa)))
        .service(page("/account/sessions", "GET").route(web::get().to(account::sessions)))
        .service(
            page("/account/sessions/end-others", "GET, POST")
                .route(web::get().to(account::confirm_end_others))
                .route(web::post().to(account::end_others)),
        )
        .service(
            page("/account/sessions/{id}/end", "GET, POST")
                .route(web::get().to(account::confirm_end_session))
                .route(web::post().to(account::end_session)),
        )
        .service(
            page("/account/api-keys", "GET, POST")
                .route(web::get().to(account::api_keys))
                .route(web::post().to(account::create_key)),
        )
        .service(
            page("/account/api-keys/{id}/revoke", "GET, POST")
                .route(web::get().to(account::confirm_revoke_key))
                .route(web::post().to(account::revoke_key)),
        )
        .service(page("/account/applications", "GET").route(web::get().to(account::applications)))
        .service(
            page("/account/applications/{client_id}/withdraw", "GET, POST")
                .route(web::get().to(account::confirm_withdraw))
                .route(web::post().to(account::withdraw)),
        )
        .service(page("/account/activity", "GET").route(web::get().to(account::activity)));
}

/// A page's resource: it carries its pattern (for the request log and the metrics) and answers
/// other methods with an HTML 405.
fn page(path: &'static str, allow: &'static str) -> actix_web::Resource {
    web::resource(path)
        .app_data(crate::openapi::RoutePattern(path))
        .default_service(web::to(move |req: HttpRequest| async move {
            let mut res = with_request_ui(&req, |ui| {
                error_page(
                    ui,
                    StatusCode::METHOD_NOT_ALLOWED,
                    ui.t.not_here_title,
                    ui.t.not_here,
                    None,
                )
            });
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            res
        }))
}

/// `GET /assets/tessera.css`.
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, ASSET_CACHE))
        .body(STYLESHEET)
}

/// `GET /assets/theme.css`: the configured colours, which `tessera.css` reads.
async fn theme(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, ASSET_CACHE))
        .body(state.pages.brand.theme_css().to_owned())
}

/// `GET /assets/logo`: the configured logo, with its type; 404 without one.
async fn logo(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match state.pages.brand.logo() {
        Some(logo) => HttpResponse::Ok()
            .content_type(logo.content_type)
            .insert_header((header::CACHE_CONTROL, ASSET_CACHE))
            .insert_header((header::CONTENT_SECURITY_POLICY, LOGO_CSP))
            .body(logo.bytes.clone()),
        None => {
            let ui = Ui::of(&req, &state.pages, None, None);
            error_page(
                ui,
                StatusCode::NOT_FOUND,
                ui.t.not_here_title,
                ui.t.not_here,
                None,
            )
        }
    }
}

/// Renders `page` into `res`, with the pages' headers.
pub(crate) fn respond(mut res: HttpResponseBuilder, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => res
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a page");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

/// Adds `Retry-After: seconds` to a page that asks the user to wait.
pub(crate) fn with_retry_after(mut res: HttpResponse, seconds: u64) -> HttpResponse {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, value);
    }
    res
}

/// An error page.
pub(crate) fn error_page(
    ui: Ui<'_>,
    status: StatusCode,
    title: &str,
    message: &str,
    retry: Option<&str>,
) -> HttpResponse {
    respond(
        HttpResponse::build(status),
        &ErrorPage {
            t: ui.t,
            brand: ui.brand,
            title,
            message,
            retry,
        },
    )
}

/// A failure as a page, in words: what the user can do about it (wait, and how long, or slow
/// down), or, for a fault of the server, nothing but that it happened (the cause goes to the log).
pub(crate) fn failure(ui: Ui<'_>, e: ApiError) -> HttpResponse {
    let t = ui.t;
    let status = actix_web::ResponseError::status_code(&e);
    let (title, message) = match &e {
        ApiError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "request failed");
            (t.failed_title, t.failed.to_owned())
        }
        ApiError::Unavailable | ApiError::Busy => (t.busy_title, t.busy.to_owned()),
        ApiError::RateLimited { retry_after } => {
            (t.too_many_title, t.too_many_from_here_for(*retry_after))
        }
        ApiError::Locked { retry_after } => (t.locked_title, t.locked_for(*retry_after)),
        _ => (t.refused_title, t.refused.to_owned()),
    };
    let mut res = error_page(ui, status, title, &message, None);
    match &e {
        ApiError::RateLimited { retry_after } | ApiError::Locked { retry_after } => {
            res = with_retry_after(res, *retry_after);
        }
        ApiError::Unavailable | ApiError::Busy => res = with_retry_after(res, 1),
        _ => {}
    }
    if matches!(e, ApiError::RequestTimeout) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// `failure` in the language of `req` alone, for an answer given before any form is read (the
/// limit on addresses).
pub(crate) fn failure_for(req: &HttpRequest, e: ApiError) -> HttpResponse {
    with_request_ui(req, |ui| failure(ui, e))
}
