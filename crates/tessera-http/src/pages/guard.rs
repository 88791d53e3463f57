//! The guard of the pages that need a signed-in browser (the account and admin pages): who is
//! signed in, read from the browser-session cookie exactly as the API reads it (the cookie's
//! opaque token through `Gate::authenticate_credential`, renewed near its expiry), and the check of
//! the CSRF field every form of those pages carries.
//!
//! CSRF: a page puts the session's CSRF token (`Gate::csrf_token` of the cookie's token, the
//! value the API wants in `X-CSRF-Token`) in a hidden field `csrf`; a post whose field does not
//! fit the cookie is refused with a 403 page and changes nothing. Another site can neither read
//! the cookie nor make the token.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse};
use tessera_domain::error::TokenError;
use tessera_domain::principal::Principal;
use tessera_domain::token::PlainToken;

use crate::error::ApiError;
use crate::extract::request_context;
use crate::middleware::RequestUser;
use crate::pages::login::{is_safe_return, login_url};
use crate::pages::{error_page, failure, Ui};
use crate::routes::oauth::session_token;
use crate::AppState;

/// A browser signed in through its session cookie, on a page that needs one.
pub(crate) struct SignedIn {
    /// Authenticated as the API authenticates the cookie, with the request's context.
    pub principal: Principal,
    /// The session cookie's token.
    pub token: String,
    /// The CSRF token of that session, for the page's forms (hidden field `csrf`).
    pub csrf: String,
}

impl std::fmt::Debug for SignedIn {
    /// The principal only: the token and its CSRF token are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

/// The signed-in browser, or the answer to send instead: 303 to `/login?return_to=<this path and
/// query>` when there is no live session (store unavailable → the failure page).
///
/// # Errors
/// The redirect to the sign-in page, or the failure page, as the answer to send.
pub(crate) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<SignedIn, HttpResponse> {
    let Some(token) = session_token(req, state) else {
        return Err(to_sign_in(req));
    };
    let checked = token.clone();
    match state
        .read_raw(move |c| c.gate.authenticate_credential(&checked, true))
        .await
    {
        Ok(Ok(mut principal)) => {
            if let Some(user) = req.extensions().get::<RequestUser>() {
                user.set(principal.user_id.0);
            }
            principal.context = request_context(req);
            let csrf = state.core.gate.csrf_token(&PlainToken::new(token.clone()));
            Ok(SignedIn {
                principal,
                token,
                csrf,
            })
        }
        Ok(Err(TokenError::Unavailable)) => Err(failure(
            Ui::of(req, &state.pages, None, None),
            ApiError::Unavailable,
        )),
        Ok(Err(_)) => Err(to_sign_in(req)),
        Err(e) => Err(failure(Ui::of(req, &state.pages, None, None), e.into())),
    }
}

/// A form post's CSRF field must be the session's: else a 403 page (in `ui`'s language) and
/// nothing is done.
///
/// # Errors
/// The 403 page, as the answer to send.
pub(crate) fn check_csrf(
    signed_in: &SignedIn,
    state: &AppState,
    presented: Option<&str>,
    ui: Ui<'_>,
) -> Result<(), HttpResponse> {
    let session = PlainToken::new(signed_in.token.clone());
    if state
        .core
        .gate
        .csrf_matches(&session, presented.unwrap_or_default())
    {
        Ok(())
    } else {
        Err(error_page(
            ui,
            StatusCode::FORBIDDEN,
            ui.t.form_expired_title,
            ui.t.form_expired,
            None,
        ))
    }
}

/// 303 to the sign-in page, which comes back to this page (its path and query) once signed in;
/// to the sign-in page alone when this page cannot be come back to.
fn to_sign_in(req: &HttpRequest) -> HttpResponse {
    let here = match req.query_string() {
        "" => req.path().to_owned(),
        query => format!("{}?{query}", req.path()),
    };
    let back = Some(here.as_str()).filter(|h| is_safe_return(h));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, login_url(back, None, None)))
        .finish()
}
