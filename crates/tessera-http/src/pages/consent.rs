//! The consent page: a client that is not first party asks the signed-in user whether it may have
//! what it asks for. `GET /oauth/authorize` renders it (`form`), with the authorization request in
//! hidden fields; `POST /oauth/consent` (`decide`) hands the user's answer to
//! `OAuthProvider::decide_consent`, which checks the request again, and answers as the
//! authorization endpoint does (`routes::oauth::answer`).
//!
//! The page speaks the language of the authorization request's page (`Ui`), and its form
//! carries it (`lang`), so that the answer's pages speak it too.
//!
//! The page is for the browser session it was shown to: its form carries that session's id
//! (`sid`), and `OAuthProvider::decide_consent` takes the answer only while the browser still holds
//! that session; else nothing is decided, and the page is shown again to who is signed in now.
//!
//! CSRF, as the sign-in form: the page sets a random nonce in a short-lived `HttpOnly`,
//! `SameSite=Lax` cookie for `/oauth` (the authorization endpoint, which shows the page, and
//! `/oauth/consent`, where it posts) and carries the nonce's MAC under a server key
//! (`Gate::csrf_token`); a post must bring both, else nothing is decided. A page of another site
//! can neither read the cookie nor make the MAC (and its POST carries no `Lax` cookie), so it
//! cannot consent for the user. As the sign-in page, the page takes back the nonce the browser
//! holds (`pages::form_nonce`), so that consent pages open in two tabs are both good.

use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::oauth::{AuthorizationRequest, AuthorizeOutcome};
use tessera_domain::token::SessionId;

use crate::error::ApiError;
use crate::extract::request_context;
use crate::pages::fields::Fields;
use crate::pages::{
    error_page, failure, form_nonce, form_nonce_matches, respond, Brand, Texts, Ui,
};
use crate::routes::oauth::{answer, sso_session, Came};
use crate::AppState;

/// The cookie that holds the consent form's nonce.
pub const CONSENT_COOKIE: &str = "tessera_consent";
/// The paths the consent form's cookie is sent to: the authorization endpoint, which shows the
/// page (and takes back the nonce the browser holds), and `/oauth/consent`, where the form posts.
const COOKIE_PATH: &str = "/oauth";
/// How long a consent page may stay open, in seconds.
const FORM_TTL_SECONDS: i64 = 900;
/// A post that is not the consent form, in the error's own words (the page shows
/// `Texts::refused`).
const UNREADABLE: &str = "the consent form could not be read";

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    csrf: &'a str,
    client_name: &'a str,
    username: &'a str,
    /// The id of the browser session the page is shown for.
    sid: i64,
    scopes: Vec<ScopeLine<'a>>,
    /// The authorization request, to post with the answer.
    fields: Vec<Hidden<'a>>,
}

/// One line of what the client would get (or, on the account's applications page, has).
pub(crate) struct ScopeLine<'a> {
    /// What the scope lets the client do, in words.
    pub(crate) words: &'static str,
    /// The scope's own name, shown after the words of an API scope.
    pub(crate) name: Option<&'a str>,
}

/// A hidden field of the form.
struct Hidden<'a> {
    name: &'a str,
    value: &'a str,
}

/// `scope` in the words of `t`: a scope Tessera knows by what it lets the client have, any
/// other (one of the configured API scopes, `tokens.scope`) by `Texts::scope_api` and its name.
pub(crate) fn scope_line<'a>(t: &'static Texts, scope: &'a str) -> ScopeLine<'a> {
    let known = match scope {
        "openid" => Some(t.scope_openid),
        "profile" => Some(t.scope_profile),
        "email" => Some(t.scope_email),
        "offline_access" => Some(t.scope_offline_access),
        _ => None,
    };
    match known {
        Some(words) => ScopeLine { words, name: None },
        None => ScopeLine {
            words: t.scope_api,
            name: Some(scope),
        },
    }
}

/// The consent form's cookie, with its nonce, for `FORM_TTL_SECONDS` from now: set by every page
/// that shows the form, the nonce new or taken back. `Lax`, so that it comes with the
/// authorization endpoint's `GET` when an application sent the browser, from another site.
fn consent_cookie(state: &AppState, nonce: &str) -> Cookie<'static> {
    Cookie::build(CONSENT_COOKIE, nonce.to_owned())
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.cookies.secure)
        .max_age(Duration::seconds(FORM_TTL_SECONDS))
        .finish()
}

/// What the consent page asks, and of whom (`AuthorizeOutcome::Consent`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked<'a> {
    /// The client that asks.
    pub client_name: &'a str,
    /// What it would get.
    pub scopes: &'a [String],
    /// Who is signed in.
    pub username: &'a str,
    /// The browser session the page is shown for, which the answer must come from.
    pub session: SessionId,
}

/// The consent page for `request`, in the words and brand of `ui`: the client asks the user
/// signed in for the scopes, as `asked` says. Sets the form's cookie; the form carries the page's
/// language (`lang`) and the session it is shown for (`sid`).
pub(crate) fn form(
    req: &HttpRequest,
    state: &AppState,
    ui: Ui<'_>,
    request: &AuthorizationRequest,
    asked: &Asked<'_>,
) -> HttpResponse {
    let Asked {
        client_name,
        scopes,
        username,
        session,
    } = *asked;
    // The nonce this browser holds, when it holds one: another tab's consent form stays good.
    let nonce = form_nonce(req, state, CONSENT_COOKIE);
    let csrf = state.core.gate.csrf_token(&nonce);
    let params = request.params();
    let mut res = HttpResponse::Ok();
    res.cookie(consent_cookie(state, nonce.expose()));
    respond(
        res,
        &ConsentPage {
            t: ui.t,
            brand: ui.brand,
            csrf: &csrf,
            client_name,
            username,
            sid: session.0,
            scopes: scopes
                .iter()
                .map(|s| scope_line(ui.t, s.as_str()))
                .collect(),
            fields: params
                .iter()
                .map(|&(name, value)| Hidden { name, value })
                .collect(),
        },
    )
}

/// `POST /oauth/consent`: the user's answer, `decision=allow` or `decision=deny`, with the
/// authorization request the page carried. Its pages speak the language the form was shown in
/// (`lang`), else as the authorization endpoint's do.
pub async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    let fields = match Fields::of_body(&req, payload, "the consent form").await {
        Ok(fields) => fields,
        Err(e) => return failure(Ui::of(&req, &state.pages, None, None), e),
    };
    // The form's own fields are not parameters of the request, and are left out as unknown ones.
    let request = AuthorizationRequest::from_params(fields.pairs());
    let ui = Ui::of(
        &req,
        &state.pages,
        fields.get("lang"),
        request.ui_locales.as_deref(),
    );
    take_decision(&req, &state, ui, &fields, request)
        .await
        .unwrap_or_else(|e| failure(ui, e))
}

async fn take_decision(
    req: &HttpRequest,
    state: &AppState,
    ui: Ui<'_>,
    fields: &Fields,
    request: AuthorizationRequest,
) -> Result<HttpResponse, ApiError> {
    if !csrf_matches(req, state, fields.get("csrf")) {
        return Ok(error_page(
            ui,
            StatusCode::FORBIDDEN,
            ui.t.consent_refused_title,
            ui.t.consent_refused,
            None,
        ));
    }
    let approve = match fields.get("decision") {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(ApiError::MalformedBody(UNREADABLE.into())),
    };
    // The session the page was shown for; a page that names none is answered as one shown to
    // another session (`decide_consent` shows it again).
    let shown_to = fields
        .get("sid")
        .and_then(|sid| sid.parse::<i64>().ok())
        .map(SessionId);
    let sso = sso_session(req, state).await?;
    let context = request_context(req);
    let outcome = state
        .blocking(move |c| {
            c.oauth
                .decide_consent(&request, sso.as_ref(), shown_to, approve, &context)
        })
        .await?;
    // Shown again (to someone else): the new page's form needs the cookie it has just been given.
    let asked_again = matches!(outcome, Ok(AuthorizeOutcome::Consent { .. }));
    let mut res = answer(req, state, ui, outcome, Came::Form);
    if !asked_again {
        let mut spent = consent_cookie(state, "");
        spent.make_removal();
        if res.add_cookie(&spent).is_err() {
            tracing::warn!("cannot remove the consent form's cookie");
        }
    }
    Ok(res)
}

/// Whether the form came from a consent page this server rendered for this browser.
fn csrf_matches(req: &HttpRequest, state: &AppState, presented: Option<&str>) -> bool {
    form_nonce_matches(req, state, CONSENT_COOKIE, presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_has_words_and_an_api_scope_is_named() {
        for language in crate::pages::Language::ALL {
            let t = language.texts();
            for scope in tessera_domain::oauth::OIDC_SCOPES {
                let line = scope_line(t, scope);
                assert_eq!(line.name, None, "{scope}");
                assert_ne!(line.words, t.scope_api, "{scope}");
            }
            let api = scope_line(t, "reports:read");
            assert_eq!((api.words, api.name), (t.scope_api, Some("reports:read")));
        }
    }
}
