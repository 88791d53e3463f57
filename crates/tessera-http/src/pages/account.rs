//! The account pages (`/account`): what any signed-in user does with their own account in a
//! browser, through the same use cases as the API (each page names its API twin). The overview
//! is here, with what the pages share; each page is a module below.
//!
//! Who: anyone signed in through the browser session (`guard::signed_in`); a browser without a
//! live session goes to the sign-in page and comes back. Every form carries the session's CSRF
//! token (`guard::check_csrf`) and the page's language (`lang`); a destructive action asks first,
//! on a page of its own (`GET …/end`, `GET …/revoke`) whose form does it. Every list is paged
//! with `?after=`, like the API. A refusal the user can mend is said in words beside its field.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::usecases::UseCases;

use crate::pages::guard::signed_in;
use crate::pages::{failure, respond, Brand, Texts, Ui};
use crate::AppState;

/// A page, or the answer to give instead (the sign-in page, a refusal, a failure).
type Answer = Result<HttpResponse, HttpResponse>;

/// What a handler answers, whichever way it went.
fn answer(outcome: Answer) -> HttpResponse {
    outcome.unwrap_or_else(std::convert::identity)
}

/// `GET /account`: who is signed in, and what they can do here.
#[derive(Template)]
#[template(path = "account/overview.html")]
struct OverviewPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    /// The page of the navigation this is.
    here: &'static str,
    csrf: &'a str,
    username: &'a str,
}

/// `GET /account`: the overview (twin: `GET /users/{id}`).
pub async fn overview(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(show_overview(&req, &state).await)
}

async fn show_overview(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let user = read(state, ui, move |c| c.accounts.get_user(&p, id))
        .await?
        .map_err(|e| failure(ui, e.into()))?;
    Ok(respond(
        HttpResponse::Ok(),
        &OverviewPage {
            t: ui.t,
            brand: ui.brand,
            here: "overview",
            csrf: &me.csrf,
            username: user.username.as_str(),
        },
    ))
}

/// The words and brand of an account page shown by a link: the browser's language (or the
/// configured one).
fn page_ui<'a>(req: &HttpRequest, state: &'a AppState) -> Ui<'a> {
    Ui::of(req, &state.pages, None, None)
}

/// Runs a use case that only reads (from memory when it can, as the API's `AppState::read`
/// does) and hands back its own answer, for the page to put in words.
async fn read<T, E>(
    state: &AppState,
    ui: Ui<'_>,
    f: impl Fn(&UseCases) -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, HttpResponse>
where
    T: Send + 'static,
    E: Send + 'static,
{
    state.read_raw(f).await.map_err(|e| failure(ui, e.into()))
}
