//! `/account/password`: a new password, given with the current one; the policy's rules are
//! listed before anything is typed. Twin: `POST /users/{id}/password` with `current_password`
//! (`Accounts::change_password`), which checks the policy, ends the user's other sessions (this
//! browser's goes on) and, when asked (`end_api_keys`), deletes their API keys. Audited by the
//! use case (`password_changed`, a wrong current password as a failure).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::UserError;
use tessera_domain::password::{Password, PasswordPolicy};

use super::{answer, call_hashing, page_ui, posted, Answer, Problems};
use crate::pages::guard::{signed_in, SignedIn};
use crate::pages::{failure, respond, Brand, Texts, Ui};
use crate::AppState;

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    /// For password managers, which file the new password under it.
    username: &'a str,
    /// What a new password must be, in words.
    rules: Vec<String>,
    /// The shortest new password, for the browser's own check.
    min_length: usize,
    current_error: Option<String>,
    new_error: Option<String>,
    confirm_error: Option<String>,
    /// A problem that is not of a field of the form.
    message: Option<String>,
    /// The password was just changed.
    changed: bool,
}

/// The rules of `policy`, in words: those it checks, with its numbers.
fn rules(t: &'static Texts, policy: &PasswordPolicy) -> Vec<String> {
    let mut rules = vec![
        (t.rule_min_length)(policy.min_length),
        (t.rule_max_bytes)(policy.max_bytes),
    ];
    for (on, words) in [
        (policy.reject_common, t.rule_not_common),
        (policy.reject_username, t.rule_no_username),
        (policy.require_lowercase, t.rule_lowercase),
        (policy.require_uppercase, t.rule_uppercase),
        (policy.require_digit, t.rule_digit),
        (policy.require_symbol, t.rule_symbol),
    ] {
        if on {
            rules.push(words.to_owned());
        }
    }
    rules
}

fn render(
    state: &AppState,
    ui: Ui<'_>,
    me: &SignedIn,
    status: StatusCode,
    mut problems: Problems,
    changed: bool,
) -> HttpResponse {
    let policy = state.core.password_policy();
    respond(
        HttpResponse::build(status),
        &PasswordPage {
            t: ui.t,
            brand: ui.brand,
            here: "password",
            csrf: &me.csrf,
            username: &me.principal.username,
            rules: rules(ui.t, policy),
            min_length: policy.min_length,
            current_error: problems.take("current_password"),
            new_error: problems.take("new_password"),
            confirm_error: problems.take("confirm_password"),
            message: problems.rest(),
            changed,
        },
    )
}

/// `GET /account/password`: the form, with the rules a new password must meet.
pub async fn password(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(show(&req, &state).await)
}

async fn show(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    Ok(render(
        state,
        ui,
        &me,
        StatusCode::OK,
        Problems::default(),
        false,
    ))
}

/// `POST /account/password` (`current_password`, `new_password`, `confirm_password`,
/// `end_api_keys`?): changes the password. A refusal (a wrong current password, a new one
/// that breaks a rule, two new ones that differ) is said beside its field; the form is shown
/// empty again, as password fields are.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(change(&req, &state, payload).await)
}

async fn change(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, form, ui) = posted(req, state, payload).await?;
    let t = ui.t;
    let current = form.owned("current_password");
    let new = form.owned("new_password");
    let again =
        |status: StatusCode, problems: Problems| render(state, ui, &me, status, problems, false);
    // What the form itself asks, before the use case is asked anything.
    if current.is_empty() {
        return Ok(again(
            StatusCode::UNPROCESSABLE_ENTITY,
            Problems::one("current_password", t.field_required),
        ));
    }
    if form.get("confirm_password") != Some(new.as_str()) {
        return Ok(again(
            StatusCode::UNPROCESSABLE_ENTITY,
            Problems::one("confirm_password", t.passwords_differ),
        ));
    }
    let end_api_keys = form.get("end_api_keys") == Some("yes");
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let (current, new) = (Password::new(current), Password::new(new));
    let outcome = call_hashing(state, ui, move |c| {
        c.accounts
            .change_password(&p, id, Some(current), new, end_api_keys)
    })
    .await?;
    match outcome {
        Ok(()) => Ok(render(
            state,
            ui,
            &me,
            StatusCode::OK,
            Problems::default(),
            true,
        )),
        Err(UserError::WrongCurrentPassword) => Ok(again(
            StatusCode::FORBIDDEN,
            Problems::one("current_password", t.wrong_current_password),
        )),
        Err(UserError::Validation(fields)) => Ok(again(
            StatusCode::UNPROCESSABLE_ENTITY,
            Problems::of(t, state.core.password_policy(), &fields),
        )),
        Err(e) => Err(failure(ui, e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_shown_are_the_policy_s_with_its_numbers() {
        let t = crate::pages::Language::English.texts();
        let policy = PasswordPolicy::default();
        assert_eq!(
            rules(t, &policy),
            [
                "At least 12 characters",
                "At most 1024 bytes",
                t.rule_not_common,
                t.rule_no_username,
            ]
        );
        let strict = PasswordPolicy {
            min_length: 16,
            reject_common: false,
            require_digit: true,
            require_symbol: true,
            ..PasswordPolicy::default()
        };
        let shown = rules(t, &strict);
        assert_eq!(shown[0], "At least 16 characters");
        assert!(shown.contains(&t.rule_digit.to_owned()));
        assert!(shown.contains(&t.rule_symbol.to_owned()));
        assert!(!shown.contains(&t.rule_not_common.to_owned()));
        assert!(!shown.contains(&t.rule_lowercase.to_owned()));
    }
}
