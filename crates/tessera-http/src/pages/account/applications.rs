//! `/account/applications`: the OpenID Connect applications the user consented to, with what
//! each may have, a page at a time (twin `GET /auth/consents`, `OAuthProvider::list_consents`);
//! withdrawing a consent after a confirmation (twin `DELETE /auth/consents/{client_id}`,
//! `revoke_consent`), which ends the sessions the application holds for the user. Audited by
//! the use case (`consent_revoked`).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::UserError;

use super::{
    after_in, answer, call, gone, notice, page_ui, posted, refused, see_other, when, Answer,
    ConfirmPage, Fact, Pager, PAGE_SIZE,
};
use crate::pages::consent::scope_line;
use crate::pages::guard::signed_in;
use crate::pages::{failure, respond, Brand, Texts};
use crate::AppState;

/// The list's path, which its pages follow with `?after=`.
const LIST: &str = "/account/applications";

#[derive(Template)]
#[template(path = "account/applications.html")]
struct ApplicationsPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    notice: Option<&'a str>,
    applications: Vec<Line>,
    pager: Pager,
}

/// A consent, as the list shows it.
#[derive(Debug)]
struct Line {
    client_id: String,
    name: String,
    grants: Vec<Grant>,
    since: String,
}

/// A scope the application may have, in words (and, for an API scope, its name).
#[derive(Debug)]
struct Grant {
    words: &'static str,
    name: Option<String>,
}

/// The client id in the path, when it is there.
fn path_client(req: &HttpRequest) -> Option<String> {
    req.match_info()
        .get("client_id")
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// `GET /account/applications?after=`: a page of the user's consents.
pub async fn applications(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(list(&req, &state).await)
}

async fn list(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let t = ui.t;
    let after = after_in(req);
    let p = me.principal.clone();
    let page = refused(
        ui,
        call(state, ui, move |c| {
            c.oauth.list_consents(&p, Some(PAGE_SIZE), after)
        })
        .await?,
    )?;
    let applications = page
        .items
        .iter()
        .map(|consent| Line {
            client_id: consent.client_id.clone(),
            name: consent.client_name.clone(),
            grants: consent
                .scope
                .split_whitespace()
                .map(|scope| {
                    let line = scope_line(t, scope);
                    Grant {
                        words: line.words,
                        name: line.name.map(str::to_owned),
                    }
                })
                .collect(),
            since: when(consent.created_at),
        })
        .collect();
    Ok(respond(
        HttpResponse::Ok(),
        &ApplicationsPage {
            t,
            brand: ui.brand,
            here: "applications",
            csrf: &me.csrf,
            notice: notice(t, req),
            applications,
            pager: Pager::new(LIST, after, page.next_after),
        },
    ))
}

/// `GET /account/applications/{client_id}/withdraw`: asks before withdrawing a consent, naming
/// the application.
pub async fn confirm_withdraw(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(ask_withdraw(&req, &state).await)
}

async fn ask_withdraw(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let t = ui.t;
    let Some(client_id) = path_client(req) else {
        return Err(gone(ui));
    };
    let (p, asked) = (me.principal.clone(), vec![client_id.clone()]);
    let names = refused(
        ui,
        call(state, ui, move |c| c.oauth.client_names(&p, &asked)).await?,
    )?;
    let Some((_, name)) = names.into_iter().next() else {
        return Err(gone(ui));
    };
    let title = (t.withdraw_question)(&name);
    let action = withdraw_path(&client_id);
    Ok(respond(
        HttpResponse::Ok(),
        &ConfirmPage {
            t,
            brand: ui.brand,
            here: "applications",
            csrf: &me.csrf,
            title: &title,
            facts: vec![Fact::new(t.application_label, name.as_str())],
            explained: t.withdraw_explained,
            action: &action,
            button: t.withdraw_button,
            back: LIST,
        },
    ))
}

/// Where the consent to `client_id` is withdrawn (its id as a path segment).
fn withdraw_path(client_id: &str) -> String {
    let segment: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    format!("{LIST}/{segment}/withdraw")
}

/// `POST /account/applications/{client_id}/withdraw`: withdraws the consent (the application's
/// sessions for the user end); back to the list, which says so.
pub async fn withdraw(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(withdraw_consent(&req, &state, payload).await)
}

async fn withdraw_consent(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, _, ui) = posted(req, state, payload).await?;
    let Some(client_id) = path_client(req) else {
        return Err(gone(ui));
    };
    let p = me.principal.clone();
    match call(state, ui, move |c| c.oauth.revoke_consent(&p, &client_id)).await? {
        Ok(()) => Ok(see_other(&format!("{LIST}?done=consent-withdrawn"))),
        Err(UserError::NotFound) => Err(gone(ui)),
        Err(e) => Err(failure(ui, e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_id_is_one_segment_of_the_path() {
        assert_eq!(
            withdraw_path("tc_AbC-12_x"),
            "/account/applications/tc_AbC-12_x/withdraw"
        );
        assert_eq!(
            withdraw_path("a/b?c"),
            "/account/applications/a%2Fb%3Fc/withdraw"
        );
    }
}
