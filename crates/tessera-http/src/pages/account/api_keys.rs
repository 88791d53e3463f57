//! `/account/api-keys`: the user's API keys (twin `GET /users/{id}/api-keys`,
//! `Credentials::list_api_keys`), a page at a time; a new one with a name, the roles it may use
//! and an expiry (twin `POST /users/{id}/api-keys`, `create_api_key`), shown this once; and
//! revoking one after a confirmation (twin `DELETE /api-keys/{id}`, `delete_api_key`). Each
//! change is audited by its use case (`api_key_created`, `api_key_deleted`).
//!
//! The new key is shown in a read-only field to select and copy: the pages run no script, so
//! there is no copy button.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::credentials::{ApiKey, CreateApiKey};
use tessera_domain::error::UserError;
use tessera_domain::time::UnixTime;

use super::{
    after_in, answer, call, gone, notice, page_of, page_ui, path_id, posted, refused, see_other,
    when, Answer, ConfirmPage, Fact, Form, Pager, Problems,
};
use crate::pages::guard::{signed_in, SignedIn};
use crate::pages::{failure, respond, Brand, Texts, Ui};
use crate::AppState;

/// The list's path, which its pages follow with `?after=`, and where the form posts.
const LIST: &str = "/account/api-keys";

#[derive(Template)]
#[template(path = "account/api_keys.html")]
struct KeysPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    notice: Option<&'a str>,
    keys: Vec<Line>,
    pager: Pager,
    /// The form for a new key, with what was typed.
    name: &'a str,
    roles: Vec<RoleChoice>,
    expires_on: &'a str,
    name_error: Option<String>,
    scopes_error: Option<String>,
    expiry_error: Option<String>,
    /// A problem that is not of a field of the form.
    message: Option<String>,
}

/// A new key, shown this once.
#[derive(Template)]
#[template(path = "account/api_key_new.html")]
struct NewKeyPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    key: &'a str,
    name: &'a str,
}

/// A key, as the list shows it.
#[derive(Debug)]
struct Line {
    id: i64,
    name: String,
    prefix: String,
    roles: String,
    created: String,
    expires: String,
    last_used: String,
}

/// A role of the user, which a new key may be given.
#[derive(Debug)]
struct RoleChoice {
    name: String,
    checked: bool,
}

fn line(t: &'static Texts, key: &ApiKey) -> Line {
    let roles: Vec<&str> = key.scopes.iter().map(|r| r.as_str()).collect();
    Line {
        id: key.id,
        name: key.name.clone(),
        prefix: key.prefix.clone(),
        roles: if roles.is_empty() {
            t.key_all_roles.to_owned()
        } else {
            roles.join(", ")
        },
        created: when(key.created_at),
        expires: key.expires_at.map_or_else(|| t.never.to_owned(), when),
        last_used: key
            .last_used_at
            .map_or_else(|| t.not_used_yet.to_owned(), when),
    }
}

/// The midnight (UTC) that starts the day `raw` names as `year-month-day`, as a date field
/// sends it: when a key given that day as its expiry stops working. `None` for anything else.
fn start_of_day(raw: &str) -> Option<UnixTime> {
    let mut parts = raw.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(UnixTime(date.midnight().assume_utc().unix_timestamp()))
}

/// What the form for a new key shows: what was typed, and its problems.
#[derive(Default)]
struct Typed<'a> {
    name: &'a str,
    scopes: Vec<&'a str>,
    expires_on: &'a str,
    problems: Problems,
}

/// The list (the page after `after`), with the form for a new key.
async fn render_list(
    req: &HttpRequest,
    state: &AppState,
    ui: Ui<'_>,
    me: &SignedIn,
    status: StatusCode,
    typed: Typed<'_>,
) -> Answer {
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let all = refused(
        ui,
        call(state, ui, move |c| c.credentials.list_api_keys(&p, id)).await?,
    )?;
    let after = after_in(req);
    let (shown, next_after) = page_of(all, after, |k| k.id);
    let mut problems = typed.problems;
    Ok(respond(
        HttpResponse::build(status),
        &KeysPage {
            t: ui.t,
            brand: ui.brand,
            here: "api-keys",
            csrf: &me.csrf,
            notice: notice(ui.t, req),
            keys: shown.iter().map(|k| line(ui.t, k)).collect(),
            pager: Pager::new(LIST, after, next_after),
            name: typed.name,
            roles: me
                .principal
                .roles
                .iter()
                .map(|role| RoleChoice {
                    name: role.clone(),
                    checked: typed.scopes.contains(&role.as_str()),
                })
                .collect(),
            expires_on: typed.expires_on,
            name_error: problems.take("name"),
            scopes_error: problems.take("scopes"),
            expiry_error: problems.take("expires_at"),
            message: problems.rest(),
        },
    ))
}

/// `GET /account/api-keys?after=`: a page of the user's keys, and the form for a new one.
pub async fn api_keys(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(list(&req, &state).await)
}

async fn list(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    render_list(req, state, ui, &me, StatusCode::OK, Typed::default()).await
}

/// `POST /account/api-keys` (`name`, `scopes` (any number), `expires_on`?): a new key, shown
/// once. A refused value is said beside its field, with the list.
pub async fn create_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(create(&req, &state, payload).await)
}

async fn create(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, form, ui) = posted(req, state, payload).await?;
    let expires_on = form.get("expires_on").unwrap_or_default().trim();
    let expires_at = match expires_on {
        "" => None,
        raw => match start_of_day(raw) {
            Some(at) => Some(at),
            None => {
                let problems = Problems::one("expires_at", ui.t.field_invalid_date);
                return render_list(
                    req,
                    state,
                    ui,
                    &me,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    typed(&form, problems),
                )
                .await;
            }
        },
    };
    let scopes: Vec<String> = form.all("scopes").map(str::to_owned).collect();
    let request = CreateApiKey {
        name: form.owned("name"),
        // None ticked: every role of the user, as an API request without `scopes`.
        scopes: (!scopes.is_empty()).then_some(scopes),
        expires_at,
    };
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let outcome = call(state, ui, move |c| {
        c.credentials.create_api_key(&p, id, request)
    })
    .await?;
    match outcome {
        Ok(issued) => Ok(respond(
            HttpResponse::Created(),
            &NewKeyPage {
                t: ui.t,
                brand: ui.brand,
                here: "api-keys",
                csrf: &me.csrf,
                key: issued.secret.expose(),
                name: &issued.key.name,
            },
        )),
        Err(UserError::Validation(fields)) => {
            let problems = Problems::of(ui.t, state.core.password_policy(), &fields);
            render_list(
                req,
                state,
                ui,
                &me,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed(&form, problems),
            )
            .await
        }
        Err(e) => Err(failure(ui, e.into())),
    }
}

/// What the form for a new key had, to show it again with `problems`.
fn typed(form: &Form, problems: Problems) -> Typed<'_> {
    Typed {
        name: form.get("name").unwrap_or_default(),
        scopes: form.all("scopes").collect(),
        expires_on: form.get("expires_on").unwrap_or_default(),
        problems,
    }
}

/// `GET /account/api-keys/{id}/revoke`: asks before revoking a key, saying which.
pub async fn confirm_revoke_key(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(ask_revoke(&req, &state).await)
}

async fn ask_revoke(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let t = ui.t;
    let Some(key_id) = path_id(req) else {
        return Err(gone(ui));
    };
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let all = refused(
        ui,
        call(state, ui, move |c| c.credentials.list_api_keys(&p, id)).await?,
    )?;
    let Some(key) = all.iter().find(|k| k.id == key_id) else {
        return Err(gone(ui));
    };
    let shown = line(t, key);
    let title = (t.revoke_key_question)(&shown.name);
    let action = format!("{LIST}/{key_id}/revoke");
    Ok(respond(
        HttpResponse::Ok(),
        &ConfirmPage {
            t,
            brand: ui.brand,
            here: "api-keys",
            csrf: &me.csrf,
            title: &title,
            facts: vec![
                Fact::new(t.key_prefix_label, shown.prefix),
                Fact::new(t.key_roles_label, shown.roles),
                Fact::new(t.created_label, shown.created),
                Fact::new(t.last_used_label, shown.last_used),
            ],
            explained: t.revoke_key_explained,
            action: &action,
            button: t.revoke_button,
            back: LIST,
        },
    ))
}

/// `POST /account/api-keys/{id}/revoke`: deletes the key; back to the list, which says so.
pub async fn revoke_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(revoke(&req, &state, payload).await)
}

async fn revoke(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, _, ui) = posted(req, state, payload).await?;
    let Some(key_id) = path_id(req) else {
        return Err(gone(ui));
    };
    let p = me.principal.clone();
    match call(state, ui, move |c| c.credentials.delete_api_key(&p, key_id)).await? {
        Ok(()) => Ok(see_other(&format!("{LIST}?done=key-revoked"))),
        Err(UserError::NotFound) => Err(gone(ui)),
        Err(e) => Err(failure(ui, e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_day_is_read_as_its_midnight_in_utc() {
        assert_eq!(start_of_day("1970-01-02"), Some(UnixTime(86_400)));
        assert_eq!(start_of_day(" 2030-03-17 "), Some(UnixTime(1_899_936_000)));
        for bad in [
            "",
            "2030-02-30",
            "2030-13-01",
            "30-03",
            "tomorrow",
            "2030-03-17T00:00",
        ] {
            assert_eq!(start_of_day(bad), None, "{bad}");
        }
    }
}
