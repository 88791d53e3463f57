//! `/account/activity`: the user's own recent sign-ins and changes to their account, newest
//! first, a page at a time, from the audit log (`AuditTrail::own_activity`: the entries about
//! the user of `audit::ACCOUNT_EVENTS`, and no one else's; the API's audit log is for global
//! admins). An entry someone else made (an admin's change) says so, without their address.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::audit::{AuditRecord, Event, Outcome};

use super::{after_in, answer, call, page_ui, refused, when, Answer, Pager, PAGE_SIZE};
use crate::pages::guard::signed_in;
use crate::pages::{respond, Brand, Texts};
use crate::AppState;

/// The list's path, which its pages follow with `?after=`.
const LIST: &str = "/account/activity";

#[derive(Template)]
#[template(path = "account/activity.html")]
struct ActivityPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    entries: Vec<Line>,
    pager: Pager,
}

/// An audit entry, as the list shows it.
#[derive(Debug)]
struct Line {
    /// What happened, in words.
    event: &'static str,
    /// It was refused (beyond what the words say already).
    refused: bool,
    at: String,
    /// Someone else did it (an admin): no address or user agent of theirs is shown.
    by_someone_else: bool,
    ip: String,
    user_agent: String,
}

fn line(t: &'static Texts, me: tessera_domain::user::UserId, record: &AuditRecord) -> Line {
    let entry = &record.entry;
    let unknown = || t.unknown.to_owned();
    Line {
        event: (t.activity_event)(entry.event),
        refused: entry.outcome == Outcome::Failure
            && !matches!(entry.event, Event::LoginFailed | Event::LoginLocked),
        at: when(entry.at),
        by_someone_else: entry.actor.is_some_and(|actor| actor != me),
        ip: entry.context.ip.clone().unwrap_or_else(unknown),
        user_agent: entry.context.user_agent.clone().unwrap_or_else(unknown),
    }
}

/// `GET /account/activity?after=`: a page of the user's account activity, newest first.
pub async fn activity(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(list(&req, &state).await)
}

async fn list(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let after = after_in(req);
    let p = me.principal.clone();
    let page = refused(
        ui,
        call(state, ui, move |c| {
            c.audit.own_activity(&p, after, Some(PAGE_SIZE))
        })
        .await?,
    )?;
    let user = me.principal.user_id;
    Ok(respond(
        HttpResponse::Ok(),
        &ActivityPage {
            t: ui.t,
            brand: ui.brand,
            here: "activity",
            csrf: &me.csrf,
            entries: page.items.iter().map(|r| line(ui.t, user, r)).collect(),
            pager: Pager::new(LIST, after, page.next_after),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_domain::audit::ACCOUNT_EVENTS;

    #[test]
    fn every_event_of_the_account_has_words_of_its_own_in_every_language() {
        for language in crate::pages::Language::ALL {
            let t = language.texts();
            let other = (t.activity_event)(Event::UsersExported);
            let mut said: Vec<&str> = ACCOUNT_EVENTS
                .iter()
                .map(|e| (t.activity_event)(*e))
                .collect();
            assert!(!said.contains(&other), "{}: {said:?}", t.lang);
            said.sort_unstable();
            said.dedup();
            assert_eq!(said.len(), ACCOUNT_EVENTS.len(), "{}", t.lang);
        }
    }
}
