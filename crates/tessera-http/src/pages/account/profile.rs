//! `/account/profile`: the user's display name and e-mail address. Twins: `GET /users/{id}`
//! (`Accounts::get_user`) and `PUT /users/{id}` (`Accounts::update_user` with both fields
//! replaced), which lets users change these two fields of their own and nothing else: their
//! username, roles and whether the account is active are for their admins. Audited by the use
//! case (`user_updated`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::UserError;
use tessera_domain::users::UpdateUser;

use super::{answer, call, page_ui, posted, read, refused, Answer, Problems};
use crate::pages::guard::{signed_in, SignedIn};
use crate::pages::{failure, respond, Brand, Texts, Ui};
use crate::AppState;

#[derive(Template)]
#[template(path = "account/profile.html")]
struct ProfilePage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    username: &'a str,
    display_name: &'a str,
    email: &'a str,
    display_name_error: Option<String>,
    email_error: Option<String>,
    /// A problem that is not of a field of the form.
    message: Option<String>,
    /// The profile was just saved.
    saved: bool,
}

/// What the form shows: the profile's values (or the ones just typed), and their problems.
struct Shown<'a> {
    username: &'a str,
    display_name: &'a str,
    email: &'a str,
    problems: Problems,
    saved: bool,
}

fn render(ui: Ui<'_>, me: &SignedIn, status: StatusCode, shown: Shown<'_>) -> HttpResponse {
    let mut problems = shown.problems;
    respond(
        HttpResponse::build(status),
        &ProfilePage {
            t: ui.t,
            brand: ui.brand,
            here: "profile",
            csrf: &me.csrf,
            username: shown.username,
            display_name: shown.display_name,
            email: shown.email,
            display_name_error: problems.take("display_name"),
            email_error: problems.take("email"),
            message: problems.rest(),
            saved: shown.saved,
        },
    )
}

/// `GET /account/profile`: the form, with the profile as it is.
pub async fn profile(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(show(&req, &state).await)
}

async fn show(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let user = refused(
        ui,
        read(state, ui, move |c| c.accounts.get_user(&p, id)).await?,
    )?;
    Ok(render(
        ui,
        &me,
        StatusCode::OK,
        Shown {
            username: user.username.as_str(),
            display_name: user.display_name.as_ref().map_or("", |n| n.as_str()),
            email: user.email.as_ref().map_or("", |e| e.as_str()),
            problems: Problems::default(),
            saved: false,
        },
    ))
}

/// `POST /account/profile` (`display_name`, `email`): replaces both; an empty field clears it.
/// A refused value is said beside its field, and the form keeps what was typed.
pub async fn save_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(save(&req, &state, payload).await)
}

async fn save(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, form, ui) = posted(req, state, payload).await?;
    let display_name = form.owned("display_name");
    let email = form.owned("email");
    let request = UpdateUser {
        username: None,
        email: Some(non_blank(&email)),
        display_name: Some(non_blank(&display_name)),
        roles: None,
        active: None,
        attributes: None,
    };
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let outcome = call(state, ui, move |c| c.accounts.update_user(&p, id, request)).await?;
    let again = |status: StatusCode, problems: Problems| {
        render(
            ui,
            &me,
            status,
            Shown {
                username: &me.principal.username,
                display_name: &display_name,
                email: &email,
                problems,
                saved: false,
            },
        )
    };
    let policy = state.core.password_policy();
    match outcome {
        Ok(user) => Ok(render(
            ui,
            &me,
            StatusCode::OK,
            Shown {
                username: user.username.as_str(),
                display_name: user.display_name.as_ref().map_or("", |n| n.as_str()),
                email: user.email.as_ref().map_or("", |e| e.as_str()),
                problems: Problems::default(),
                saved: true,
            },
        )),
        Err(UserError::Validation(fields)) => Ok(again(
            StatusCode::UNPROCESSABLE_ENTITY,
            Problems::of(ui.t, policy, &fields),
        )),
        Err(UserError::Duplicate { field }) => Ok(again(
            StatusCode::CONFLICT,
            Problems::one(field, ui.t.field_taken),
        )),
        Err(e) => Err(failure(ui, e.into())),
    }
}

/// A field's value, or `None` (clear it) when nothing but spaces was typed.
fn non_blank(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_field_clears_the_value() {
        assert_eq!(non_blank("  "), None);
        assert_eq!(non_blank(""), None);
        assert_eq!(non_blank(" Alice ").as_deref(), Some("Alice"));
    }
}
