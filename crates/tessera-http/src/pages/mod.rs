//! The server-rendered pages: signing in (with the second step for users with a second factor),
//! the consent page and its answer, the page that says who is signed in, signing out (the OpenID
//! Connect logout endpoint, with its confirmation and "signed out" pages), and the error pages of
//! the authorization endpoint.
//!
//! The pages are a front door of their own: they answer HTML only (never JSON), with their own
//! CSRF protection (a cookie and a hidden field), a strict Content-Security-Policy and one
//! stylesheet served from the binary. They are not in the OpenAPI route table (`crate::api`),
//! which describes the API: they are registered beside it, as the API's rendered docs are.
//! Templates are in `templates/`, checked at compile time by askama.

pub mod consent;
pub mod login;
pub mod logout;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, HttpResponseBuilder};
use askama::Template;

use crate::error::ApiError;

/// The stylesheet of every page.
const STYLESHEET: &str = include_str!("../../assets/tessera.css");

/// The pages load nothing but this server's stylesheet, are framed by no one, and have no
/// `<base>`. `form-action` is left out on purpose: Chromium applies it to the redirects that follow
/// a form's POST, and a sign-in ends at the client's redirect URI, on another site (as a confirmed
/// sign-out ends at its post-logout redirect URI).
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    /// Where "Sign in again" leads, when the user can start over.
    retry: Option<&'a str>,
}

/// Registers the pages: `/login`, `/login/mfa`, the consent form's answer `/oauth/consent`,
/// `/oauth/logout`, `/` and the stylesheet. (The consent page itself is an answer of
/// `GET /oauth/authorize`.)
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
    .service(page("/assets/tessera.css", "GET").route(web::get().to(stylesheet)));
}

/// A page's resource: it carries its pattern (for the request log and the metrics) and answers
/// other methods with an HTML 405.
fn page(path: &'static str, allow: &'static str) -> actix_web::Resource {
    web::resource(path)
        .app_data(crate::openapi::RoutePattern(path))
        .default_service(web::to(move || async move {
            let mut res = error_page(
                StatusCode::METHOD_NOT_ALLOWED,
                "Not here",
                "This page cannot be used this way.",
                None,
            );
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            res
        }))
}

/// `GET /assets/tessera.css`.
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(STYLESHEET)
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

/// An error page.
pub(crate) fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    retry: Option<&str>,
) -> HttpResponse {
    respond(
        HttpResponse::build(status),
        &ErrorPage {
            title,
            message,
            retry,
        },
    )
}

/// A failure as a page: what the user can do about it (wait, slow down), or, for a fault of the
/// server, nothing but that it happened (the cause goes to the log).
pub(crate) fn failure(e: ApiError) -> HttpResponse {
    let status = actix_web::ResponseError::status_code(&e);
    let (title, message) = match &e {
        ApiError::Internal(cause) => {
            tracing::error!(error = format!("{cause:#}"), "request failed");
            (
                "Something went wrong",
                "The server could not do this. Try again later.".to_owned(),
            )
        }
        ApiError::Unavailable | ApiError::Busy => (
            "Try again in a moment",
            "The service is busy right now.".to_owned(),
        ),
        ApiError::RateLimited { .. } => ("Too many attempts", e.to_string()),
        ApiError::Locked { .. } => ("Account locked", e.to_string()),
        _ => ("This cannot be done", e.to_string()),
    };
    let mut res = error_page(status, title, &message, None);
    let retry_after = match &e {
        ApiError::RateLimited { retry_after } | ApiError::Locked { retry_after } => {
            Some(retry_after.to_string())
        }
        ApiError::Unavailable | ApiError::Busy => Some("1".to_owned()),
        _ => None,
    };
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
        res.headers_mut().insert(header::RETRY_AFTER, value);
    }
    if matches!(e, ApiError::RequestTimeout) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}
