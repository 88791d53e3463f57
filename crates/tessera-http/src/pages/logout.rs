//! Signing out: the OpenID Connect logout endpoint (RP-Initiated Logout 1.0), `GET` and `POST
//! /oauth/logout`, which an application sends the browser to and which the signed-in page's
//! "Sign out" button posts to; and the pages it shows: the confirmation and "You are signed out".
//!
//! The rules (when to ask, what ends, where the browser may go) are `OAuthProvider::end_session`'s;
//! this door reads the request, shows its pages, and clears the session cookie once signed out.
//!
//! CSRF: a confirmation (`confirm=yes`) must carry the CSRF token of the browser session it ends
//! (`Gate::csrf_token` of the cookie's token, as the API's cookie requests do), which the
//! confirmation form and the signed-in page put in a hidden field; one whose token does not fit
//! the cookie is refused (403) and signs nobody out. Another site can neither read the cookie nor
//! make the token, so a bare link or a forged form at most shows the confirmation page.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::EndSessionError;
use tessera_domain::oauth::{EndSessionOutcome, EndSessionRequest};
use tessera_domain::token::PlainToken;

use crate::error::ApiError;
use crate::extract::{read_body, request_context};
use crate::pages::{error_page, failure, respond};
use crate::routes::oauth::{session_token, sso_session, with_params};
use crate::AppState;

/// What this module says outside its templates, in one place.
mod text {
    pub(super) const REFUSED_TITLE: &str = "Sign-out refused";
    pub(super) const REFUSED_MESSAGE: &str =
        "This sign-out form has expired or did not come from this site. You are still signed in.";
    pub(super) const INVALID_TITLE: &str = "This sign-out link is not valid";
    /// Followed by what is wrong, in the domain's words, and the error code.
    pub(super) const INVALID_MESSAGE: &str = "The application that sent you here made a mistake";
    pub(super) const UNREADABLE_FORM: &str = "the sign-out form could not be read";
}

/// The value of `confirm` that says the user confirmed on Tessera's own page.
const CONFIRMED: &str = "yes";

/// One parameter of the request, posted back by the confirmation form.
struct Hidden<'a> {
    name: &'a str,
    value: &'a str,
}

/// "Sign out?": the confirmation, which posts the request back with `confirm=yes` and the
/// session's CSRF token.
#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    csrf: &'a str,
    client_name: Option<&'a str>,
    fields: Vec<Hidden<'a>>,
}

/// "You are signed out", when the application gave no place to go back to.
#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage;

/// `GET /oauth/logout`: an application's sign-out request, in the query.
pub async fn from_link(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let request =
        EndSessionRequest::from_params(form_urlencoded::parse(req.query_string().as_bytes()));
    end_session(&req, &state, request)
        .await
        .unwrap_or_else(failure)
}

/// `POST /oauth/logout`: an application's sign-out request as a form (RP-Initiated Logout 1.0
/// §2 asks for both methods), or the user's confirmation from Tessera's own pages (`confirm=yes`
/// with the session's CSRF token).
pub async fn from_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    submitted(&req, &state, payload)
        .await
        .unwrap_or_else(failure)
}

async fn submitted(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(req, payload.into_inner()).await?;
    if std::str::from_utf8(&body).is_err() {
        return Err(ApiError::MalformedBody(text::UNREADABLE_FORM.into()));
    }
    let mut request = EndSessionRequest::from_params(form_urlencoded::parse(&body));
    let field = |name: &str| {
        form_urlencoded::parse(&body)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if field("confirm").as_deref() == Some(CONFIRMED) {
        // Without a session cookie there is nothing a forged confirmation could end.
        if let Some(token) = session_token(req, state) {
            let presented = field("csrf").unwrap_or_default();
            if !state
                .core
                .gate
                .csrf_matches(&PlainToken::new(token), &presented)
            {
                return Ok(error_page(
                    StatusCode::FORBIDDEN,
                    text::REFUSED_TITLE,
                    text::REFUSED_MESSAGE,
                    None,
                ));
            }
            request.confirmed = true;
        }
    }
    end_session(req, state, request).await
}

/// Asks the use case, and answers with the confirmation page, the way back to the application,
/// the "signed out" page, or (for a request that cannot be trusted) an error page that sends the
/// browser nowhere.
async fn end_session(
    req: &HttpRequest,
    state: &AppState,
    request: EndSessionRequest,
) -> Result<HttpResponse, ApiError> {
    let token = session_token(req, state);
    let sso = sso_session(req, state).await?;
    let context = request_context(req);
    let outcome = state
        .blocking(move |c| c.oauth.end_session(&request, sso.as_ref(), &context))
        .await?;
    match outcome {
        Ok(EndSessionOutcome::Confirm {
            request,
            client_name,
        }) => {
            // The use case asks only a browser that is signed in, hence that has the cookie.
            let Some(token) = token else {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "a sign-out asked for a confirmation without a session cookie"
                )));
            };
            let csrf = state.core.gate.csrf_token(&PlainToken::new(token));
            let params = request.params();
            Ok(respond(
                HttpResponse::Ok(),
                &ConfirmPage {
                    csrf: &csrf,
                    client_name: client_name.as_deref(),
                    fields: params
                        .into_iter()
                        .map(|(name, value)| Hidden { name, value })
                        .collect(),
                },
            ))
        }
        Ok(EndSessionOutcome::SignedOut {
            redirect_uri,
            state: client_state,
        }) => {
            let mut res = match redirect_uri.as_deref() {
                Some(uri) => {
                    let mut res = HttpResponse::SeeOther();
                    res.insert_header((
                        header::LOCATION,
                        with_params(uri, &[("state", client_state.as_deref())]),
                    ));
                    res
                }
                None => HttpResponse::Ok(),
            };
            if token.is_some() {
                res.cookie(state.cookies.removal());
            }
            Ok(if redirect_uri.is_some() {
                res.finish()
            } else {
                respond(res, &SignedOutPage)
            })
        }
        Err(EndSessionError::Refused { error, description }) => Ok(error_page(
            StatusCode::BAD_REQUEST,
            text::INVALID_TITLE,
            &format!("{}: {description} ({error}).", text::INVALID_MESSAGE),
            None,
        )),
        Err(EndSessionError::Unknown(cause)) => Err(ApiError::from_cause(cause)),
    }
}
