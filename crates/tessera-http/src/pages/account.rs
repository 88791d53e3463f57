//! The account pages (`/account`): what any signed-in user does with their own account in a
//! browser, through the same use cases as the API (each page names its API twin). The overview
//! is here, with what the pages share; each page is a module below.
//!
//! Who: anyone signed in through the browser session (`guard::signed_in`); a browser without a
//! live session goes to the sign-in page and comes back. Every form carries the session's CSRF
//! token (`guard::check_csrf`) and the page's language (`lang`); a destructive action asks first,
//! on a page of its own (`GET …/end`, `GET …/revoke`) whose form does it. Every list is paged
//! with `?after=`, like the API. A refusal the user can mend is said in words beside its field.

mod activity;
mod api_keys;
mod applications;
mod mfa;
mod password;
mod profile;
mod sessions;

pub use activity::activity;
pub use api_keys::{api_keys, confirm_revoke_key, create_key, revoke_key};
pub use applications::{applications, confirm_withdraw, withdraw};
pub use mfa::{
    confirm_regenerate, disable_mfa, mfa, regenerate_codes, start_enrolment, verify_enrolment,
};
pub use password::{change_password, password};
pub use profile::{profile, save_profile};
pub use sessions::{confirm_end_others, confirm_end_session, end_others, end_session, sessions};

use std::collections::BTreeMap;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::{FieldErrors, UserError};
use tessera_domain::password::PasswordPolicy;
use tessera_domain::time::UnixTime;
use tessera_domain::usecases::UseCases;

use crate::pages::guard::{check_csrf, signed_in, SignedIn};
use crate::pages::{error_page, failure, respond, Brand, Texts, Ui};
use crate::AppState;

/// A form as an account page posted it.
type Form = crate::pages::fields::Fields;

/// Items on a page of a list.
const PAGE_SIZE: u32 = 20;

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
    let user = refused(
        ui,
        read(state, ui, move |c| c.accounts.get_user(&p, id)).await?,
    )?;
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

/// "Are you sure?": the page a destructive action asks first on, whose form does it (with the
/// session's CSRF field) and whose other button goes `back` without doing anything.
#[derive(Template)]
#[template(path = "account/confirm.html")]
struct ConfirmPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    /// The question, as title and heading.
    title: &'a str,
    /// What the thing is, when there is one to name.
    facts: Vec<Fact<'a>>,
    /// What doing it does.
    explained: &'a str,
    /// Where the form posts.
    action: &'a str,
    button: &'a str,
    back: &'a str,
}

/// One line of a list of what something is: a label and its value.
#[derive(Debug)]
struct Fact<'a> {
    name: &'static str,
    value: std::borrow::Cow<'a, str>,
}

impl<'a> Fact<'a> {
    fn new(name: &'static str, value: impl Into<std::borrow::Cow<'a, str>>) -> Self {
        Self {
            name,
            value: value.into(),
        }
    }
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

/// A form an account page posted: who is signed in, the form, and the words of the language it
/// was shown in; or the answer to give instead (the sign-in page, a form that did not come from
/// these pages, a body that cannot be read). Nothing is done before this has checked the form's
/// CSRF field.
async fn posted<'a>(
    req: &HttpRequest,
    state: &'a AppState,
    payload: web::Payload,
) -> Result<(SignedIn, Form, Ui<'a>), HttpResponse> {
    let me = signed_in(req, state).await?;
    let form = Form::of_body(req, payload, "the account form")
        .await
        .map_err(|e| failure(page_ui(req, state), e))?;
    let ui = Ui::of(req, &state.pages, form.get("lang"), None);
    check_csrf(&me, state, form.get("csrf"), ui)?;
    Ok((me, form, ui))
}

/// Runs a use case on the blocking pool (as the API's `AppState::run` does) and hands back its
/// own answer, for the page to put in words.
async fn call<T, E>(
    state: &AppState,
    ui: Ui<'_>,
    f: impl FnOnce(&UseCases) -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, HttpResponse>
where
    T: Send + 'static,
    E: Send + 'static,
{
    state.blocking(f).await.map_err(|e| failure(ui, e.into()))
}

/// As `call`, for a use case that hashes a password: it takes its turn in the hashing line
/// first (`AppState::blocking_hashing`, as the API's `run_hashing`).
async fn call_hashing<T, E>(
    state: &AppState,
    ui: Ui<'_>,
    f: impl FnOnce(&UseCases) -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, HttpResponse>
where
    T: Send + 'static,
    E: Send + 'static,
{
    state.blocking_hashing(f).await.map_err(|e| failure(ui, e))
}

/// 303 to `location`, a page of this server: where a form that changed something sends the
/// browser, so that reloading the page does not post it again.
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The value of `name` in the request's query.
fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// What a page says after a change that sent the browser back to it (`?done=`); nothing for
/// a value it does not know.
fn notice(t: &'static Texts, req: &HttpRequest) -> Option<&'static str> {
    match query_value(req, "done")?.as_str() {
        "mfa-off" => Some(t.mfa_turned_off),
        "session-ended" => Some(t.session_ended),
        "others-ended" => Some(t.others_ended),
        "key-revoked" => Some(t.key_revoked),
        "consent-withdrawn" => Some(t.consent_withdrawn),
        _ => None,
    }
}

/// A session, key or consent that is not there (or not the user's).
fn gone(ui: Ui<'_>) -> HttpResponse {
    error_page(ui, StatusCode::NOT_FOUND, ui.t.gone_title, ui.t.gone, None)
}

/// The number in the path's `{id}`, when it is one.
fn path_id(req: &HttpRequest) -> Option<i64> {
    req.match_info().get("id")?.parse().ok()
}

/// Where a list's page starts: the `?after=` of the link to it (the last id of the page
/// before); the first page without one (or with one that is not a number).
fn after_in(req: &HttpRequest) -> Option<i64> {
    query_value(req, "after").and_then(|a| a.parse().ok())
}

/// The links between the pages of a list at `path`: to the next page (after `next_after`), and
/// back to the first when this is not it.
#[derive(Debug)]
struct Pager {
    first: Option<&'static str>,
    next: Option<String>,
}

impl Pager {
    fn new(path: &'static str, after: Option<i64>, next_after: Option<i64>) -> Self {
        Self {
            first: after.map(|_| path),
            next: next_after.map(|n| format!("{path}?after={n}")),
        }
    }

    fn is_needed(&self) -> bool {
        self.first.is_some() || self.next.is_some()
    }
}

/// A list the use case hands back whole (sessions, API keys, as their API twins list them),
/// cut to a page: the items whose id is after `after`, in id order, and the id the next page
/// starts after.
fn page_of<T>(
    mut items: Vec<T>,
    after: Option<i64>,
    id: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<i64>) {
    items.sort_by_key(&id);
    items.retain(|item| after.is_none_or(|a| id(item) > a));
    let limit = PAGE_SIZE as usize;
    let next_after = if items.len() > limit {
        items.get(limit - 1).map(&id)
    } else {
        None
    };
    items.truncate(limit);
    (items, next_after)
}

/// A time as the pages show it, in UTC: `2030-01-31 14:05 UTC`.
fn when(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.seconds())
        .map(|d| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute()
            )
        })
        .unwrap_or_default()
}

/// A use case's refusal that the page does not put beside a field: the failure page.
fn refused<T>(ui: Ui<'_>, outcome: Result<T, UserError>) -> Result<T, HttpResponse> {
    outcome.map_err(|e| failure(ui, e.into()))
}

/// The problems of a form's fields in words, by field: what `FieldErrors` names by rule, said
/// in the page's language (the password rules with the policy's numbers).
#[derive(Debug, Default)]
struct Problems(BTreeMap<String, String>);

impl Problems {
    fn of(t: &'static Texts, policy: &PasswordPolicy, fields: &FieldErrors) -> Self {
        Self(
            fields
                .iter()
                .map(|(field, rules)| {
                    let words: Vec<String> = rules
                        .iter()
                        .map(|rule| problem_words(t, policy, rule))
                        .collect();
                    (field.to_owned(), words.join(" "))
                })
                .collect(),
        )
    }

    /// One problem of `field`, said in `words`.
    fn one(field: &str, words: &str) -> Self {
        Self(BTreeMap::from([(field.to_owned(), words.to_owned())]))
    }

    /// Whether `field` has a problem.
    fn has(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The words of `field`'s problems, taken out.
    fn take(&mut self, field: &str) -> Option<String> {
        self.0.remove(field)
    }

    /// The words of every problem not taken, for the top of the form.
    fn rest(self) -> Option<String> {
        let words: Vec<String> = self.0.into_values().collect();
        (!words.is_empty()).then(|| words.join(" "))
    }
}

/// What a broken rule (as `FieldErrors` names it) asks of the user, in words.
fn problem_words(t: &'static Texts, policy: &PasswordPolicy, rule: &str) -> String {
    let words = match rule {
        "required" | "empty" => t.field_required,
        "too_long" => t.field_too_long,
        "invalid_email" => t.field_invalid_email,
        "taken" => t.field_taken,
        "invalid_characters" => t.field_invalid_characters,
        "in_the_past" => t.field_in_the_past,
        "invalid_format" => t.field_invalid_date,
        "not_held_by_user" => t.field_not_held,
        "min_length" => return (t.password_too_short)(policy.min_length),
        "max_bytes" => return (t.password_too_long)(policy.max_bytes),
        "common_password" => t.password_common,
        "contains_username" => t.password_has_username,
        "require_lowercase" => t.password_needs_lowercase,
        "require_uppercase" => t.password_needs_uppercase,
        "require_digit" => t.password_needs_digit,
        "require_symbol" => t.password_needs_symbol,
        _ => t.field_invalid,
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_cut_into_pages_in_id_order() {
        let ids: Vec<i64> = (1..=45).rev().collect();
        let (first, next) = page_of(ids.clone(), None, |i| *i);
        assert_eq!(first, (1..=20).collect::<Vec<_>>());
        assert_eq!(next, Some(20));
        let (second, next) = page_of(ids.clone(), next, |i| *i);
        assert_eq!(second, (21..=40).collect::<Vec<_>>());
        let (last, next) = page_of(ids, next, |i| *i);
        assert_eq!(last, (41..=45).collect::<Vec<_>>());
        assert_eq!(next, None);
        let (exactly, next) = page_of((1..=20).collect(), None, |i: &i64| *i);
        assert_eq!((exactly.len(), next), (20, None));
        let pager = Pager::new("/account/sessions", Some(20), Some(40));
        assert_eq!(pager.first, Some("/account/sessions"));
        assert_eq!(pager.next.as_deref(), Some("/account/sessions?after=40"));
        assert!(!Pager::new("/account/sessions", None, None).is_needed());
    }

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(when(UnixTime(0)), "1970-01-01 00:00 UTC");
        assert_eq!(when(UnixTime(1_900_000_000)), "2030-03-17 17:46 UTC");
    }

    #[test]
    fn every_rule_of_a_field_is_said_in_words_of_every_language() {
        let policy = PasswordPolicy::default();
        let mut fields = FieldErrors::new();
        fields.extend("new_password", ["min_length", "common_password"]);
        fields.add("email", "invalid_email");
        fields.add("mystery", "unheard_of");
        for language in crate::pages::Language::ALL {
            let t = language.texts();
            let mut problems = Problems::of(t, &policy, &fields);
            let password = problems.take("new_password").unwrap();
            assert!(password.contains("12"), "{password}");
            assert!(password.contains(t.password_common), "{password}");
            assert_eq!(
                problems.take("email").as_deref(),
                Some(t.field_invalid_email)
            );
            assert_eq!(problems.rest().as_deref(), Some(t.field_invalid));
        }
        assert_eq!(Problems::default().rest(), None);
        assert_eq!(
            Problems::one("email", "taken").take("email").as_deref(),
            Some("taken")
        );
    }
}
