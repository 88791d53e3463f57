//! Signing out: the OpenID Connect logout endpoint (RP-Initiated Logout 1.0), `GET` and `POST
//! /oauth/logout`, which an application sends the browser to and which the signed-in page's
//! "Sign out" button posts to; and the pages it shows: the confirmation and "You are signed out".
//!
//! The rules (when to ask, what ends, where the browser may go) are `OAuthProvider::end_session`'s;
//! this door reads the request, shows its pages, and clears the session cookie once signed out.
//! The pages speak the first of the request's `ui_locales` they can (else the browser's
//! language); the confirmation form carries the language it was shown in (`lang`).
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
use crate::extract::request_context;
use crate::pages::fields::Fields;
use crate::pages::{error_page, failure, respond, Brand, Texts, Ui};
use crate::routes::oauth::{session_token, sso_session, with_params};
use crate::AppState;

/// The value of `confirm` that says the user confirmed on Tessera's own page.
const CONFIRMED: &str = "yes";

/// One parameter of the request, posted back by the confirmation form.
struct Hidden<'a> {
    name: &'a str,
    value: &'a str,
}

/// "Sign out?": the confirmation, which posts the request back with `confirm=yes`, the
/// session's CSRF token and the page's language (`lang`).
#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    csrf: &'a str,
    client_name: Option<&'a str>,
    fields: Vec<Hidden<'a>>,
}

/// "You are signed out", when the application gave no place to go back to.
#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
}

/// `GET /oauth/logout`: an application's sign-out request, in the query. Its pages speak the
/// first of the request's `ui_locales` they can, else the browser's language.
pub async fn from_link(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let request =
        EndSessionRequest::from_params(form_urlencoded::parse(req.query_string().as_bytes()));
    let ui = Ui::of(&req, &state.pages, None, request.ui_locales.as_deref());
    end_session(&req, &state, ui, request)
        .await
        .unwrap_or_else(|e| failure(ui, e))
}

/// `POST /oauth/logout`: an application's sign-out request as a form (RP-Initiated Logout 1.0
/// §2 asks for both methods), or the user's confirmation from Tessera's own pages (`confirm=yes`
/// with the session's CSRF token, and the language the page was shown in, `lang`).
pub async fn from_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    let fields = match Fields::of_body(&req, payload, "the sign-out form").await {
        Ok(fields) => fields,
        Err(e) => return failure(Ui::of(&req, &state.pages, None, None), e),
    };
    let mut request = EndSessionRequest::from_params(fields.pairs());
    let field = |name: &str| fields.get(name).map(str::to_owned);
    let ui = Ui::of(
        &req,
        &state.pages,
        field("lang").as_deref(),
        request.ui_locales.as_deref(),
    );
    if field("confirm").as_deref() == Some(CONFIRMED) {
        // Without a session cookie there is nothing a forged confirmation could end.
        if let Some(token) = session_token(&req, &state) {
            let presented = field("csrf").unwrap_or_default();
            if !state
                .core
                .gate
                .csrf_matches(&PlainToken::new(token), &presented)
            {
                return error_page(
                    ui,
                    StatusCode::FORBIDDEN,
                    ui.t.sign_out_refused_title,
                    ui.t.sign_out_refused,
                    None,
                );
            }
            request.confirmed = true;
        }
    }
    end_session(&req, &state, ui, request)
        .await
        .unwrap_or_else(|e| failure(ui, e))
}

/// Asks the use case, and answers with the confirmation page, the way back to the application,
/// the "signed out" page, or (for a request that cannot be trusted) an error page that sends the
/// browser nowhere; its pages in the words and brand of `ui`.
async fn end_session(
    req: &HttpRequest,
    state: &AppState,
    ui: Ui<'_>,
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
                    t: ui.t,
                    brand: ui.brand,
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
                respond(
                    res,
                    &SignedOutPage {
                        t: ui.t,
                        brand: ui.brand,
                    },
                )
            })
        }
        Err(EndSessionError::Refused { error, description }) => Ok(error_page(
            ui,
            StatusCode::BAD_REQUEST,
            ui.t.bad_sign_out_link_title,
            &(ui.t.app_mistake)(description, error),
            None,
        )),
        Err(EndSessionError::Unknown(cause)) => Err(ApiError::from_cause(cause)),
    }
}
