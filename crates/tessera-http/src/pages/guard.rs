//! The guard of the pages that need someone signed in (the account pages, the admin console):
//! the browser's session cookie, authenticated as the API authenticates it, and the CSRF field
//! of every form those pages post.
//!
//! A browser without a live session goes to the sign-in page, which brings it back to the page
//! it asked for (`login::is_safe_return` lets it back to `/account` and `/admin` paths). A form
//! of these pages carries the session's CSRF token (`Gate::csrf_token` of the cookie's token, the
//! same token the API's cookie requests send in `X-CSRF-Token`) in its hidden field `csrf`; a
//! post whose field does not fit the cookie is refused (403) and nothing is done. Another site
//! can neither read the cookie nor make the token.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse};
use tessera_domain::error::TokenError;
use tessera_domain::principal::Principal;
use tessera_domain::token::PlainToken;

use crate::error::ApiError;
use crate::extract::request_context;
use crate::middleware::RequestUser;
use crate::pages::{error_page, failure, login, Ui};
use crate::routes::oauth::session_token;
use crate::AppState;

/// A browser signed in through its session cookie, on a page that needs one.
pub(crate) struct SignedIn {
    /// Who is signed in, authenticated as the API authenticates the cookie (renewing the
    /// session's token by use), with the request's context (address, user agent, request id).
    pub principal: Principal,
    /// The session cookie's token.
    pub token: String,
    /// `Gate::csrf_token` of that token, for the page's forms (hidden field `csrf`).
    pub csrf: String,
}

impl std::fmt::Debug for SignedIn {
    /// The token and its CSRF token are secrets: only who is signed in shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("user_id", &self.principal.user_id)
            .finish_non_exhaustive()
    }
}

/// The signed-in browser, or the answer to send instead: 303 to `/login?return_to=<this path
/// and query>` when there is no live session (store unavailable → the failure page).
pub(crate) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<SignedIn, HttpResponse> {
    let Some(token) = session_token(req, state) else {
        return Err(to_sign_in(req));
    };
    let checked = token.clone();
    let outcome = state
        .read_raw(move |c| c.gate.authenticate_credential(&checked, true))
        .await;
    let ui = || Ui::of(req, &state.pages, None, None);
    let mut principal = match outcome {
        Ok(Ok(principal)) => principal,
        Ok(Err(TokenError::Unavailable)) => return Err(failure(ui(), ApiError::Unavailable)),
        Ok(Err(_)) => return Err(to_sign_in(req)),
        Err(e) => return Err(failure(ui(), e.into())),
    };
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

/// A form post's CSRF field must be the session's: else a 403 page (in `ui`'s language) and
/// nothing is done.
pub(crate) fn check_csrf(
    signed_in: &SignedIn,
    state: &AppState,
    presented: Option<&str>,
    ui: Ui<'_>,
) -> Result<(), HttpResponse> {
    if state.core.gate.csrf_matches(
        &PlainToken::new(signed_in.token.clone()),
        presented.unwrap_or_default(),
    ) {
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

/// To the sign-in page, which comes back to this page (its path and query) once signed in.
fn to_sign_in(req: &HttpRequest) -> HttpResponse {
    let query = req.query_string();
    let here = if query.is_empty() {
        req.path().to_owned()
    } else {
        format!("{}?{query}", req.path())
    };
    // A path the sign-in would not go back to (too long, say) is left out: the sign-in then
    // ends on the signed-in page, which links here.
    let return_to = login::is_safe_return(&here).then_some(here.as_str());
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, login::login_url(return_to, None, None)))
        .finish()
}
