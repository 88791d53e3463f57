//! `/account/sessions`: every live session of the user (twin `GET /sessions`,
//! `Sessions::list_sessions`) with what it is signed in to, its address, user agent, start and
//! last use, this browser's marked; ending one after a confirmation (twin `DELETE
//! /sessions/{id}`, `end_session`) and ending all the others (twin `DELETE /sessions`,
//! `end_sessions`, which spares the caller's own). Each end is audited by its use case
//! (`session_revoked`). A session opened for an OpenID Connect client is named by the client's
//! name (`OAuthProvider::client_names`).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::UserError;
use tessera_domain::ports::SessionInfo;
use tessera_domain::token::SessionId;

use super::{
    after_in, answer, call, gone, notice, page_of, page_ui, path_id, posted, refused, see_other,
    when, Answer, ConfirmPage, Fact, Pager,
};
use crate::pages::guard::{signed_in, SignedIn};
use crate::pages::{failure, respond, Brand, Texts, Ui};
use crate::AppState;

/// The list's path, which its pages follow with `?after=`.
const LIST: &str = "/account/sessions";

#[derive(Template)]
#[template(path = "account/sessions.html")]
struct SessionsPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    here: &'static str,
    csrf: &'a str,
    notice: Option<&'a str>,
    sessions: Vec<Line>,
    /// There are sessions besides this browser's, which "end all others" would end.
    others: bool,
    pager: Pager,
}

/// A session, as the list shows it.
#[derive(Debug)]
struct Line {
    id: i64,
    /// This browser's session.
    current: bool,
    /// What it is signed in to: Tessera itself, an application, or a program with an API key.
    client: String,
    ip: String,
    user_agent: String,
    created: String,
    last_used: String,
}

/// The user's live sessions, and the names of the clients they were opened for.
async fn load(
    state: &AppState,
    ui: Ui<'_>,
    me: &SignedIn,
) -> Result<(Vec<SessionInfo>, Vec<(String, String)>), HttpResponse> {
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    let loaded = call(state, ui, move |c| {
        let sessions = c.sessions.list_sessions(&p, id)?;
        let clients: Vec<String> = sessions
            .iter()
            .filter_map(|s| s.client_id.clone())
            .collect();
        let names = c.oauth.client_names(&p, &clients)?;
        Ok::<_, UserError>((sessions, names))
    })
    .await?;
    refused(ui, loaded)
}

/// What `session` is signed in to, in words: the product itself, the application it was opened
/// for (by name, else by id), or a program with an API key.
fn client_of(ui: Ui<'_>, session: &SessionInfo, names: &[(String, String)]) -> String {
    if session.api_key {
        return ui.t.session_api_key.to_owned();
    }
    match &session.client_id {
        None => ui.brand.product_name.clone(),
        Some(id) => names
            .iter()
            .find(|(client, _)| client == id)
            .map_or_else(|| id.clone(), |(_, name)| name.clone()),
    }
}

fn line(ui: Ui<'_>, me: &SignedIn, session: &SessionInfo, names: &[(String, String)]) -> Line {
    let unknown = || ui.t.unknown.to_owned();
    Line {
        id: session.id.0,
        current: me.principal.session_id == Some(session.id),
        client: client_of(ui, session, names),
        ip: session.ip.clone().unwrap_or_else(unknown),
        user_agent: session.user_agent.clone().unwrap_or_else(unknown),
        created: when(session.created_at),
        last_used: when(session.last_used_at),
    }
}

/// `GET /account/sessions?after=`: a page of the user's live sessions, oldest first.
pub async fn sessions(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(list(&req, &state).await)
}

async fn list(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let (all, names) = load(state, ui, &me).await?;
    let others = all.iter().any(|s| me.principal.session_id != Some(s.id));
    let after = after_in(req);
    let (shown, next_after) = page_of(all, after, |s| s.id.0);
    Ok(respond(
        HttpResponse::Ok(),
        &SessionsPage {
            t: ui.t,
            brand: ui.brand,
            here: "sessions",
            csrf: &me.csrf,
            notice: notice(ui.t, req),
            sessions: shown.iter().map(|s| line(ui, &me, s, &names)).collect(),
            others,
            pager: Pager::new(LIST, after, next_after),
        },
    ))
}

/// `GET /account/sessions/{id}/end`: asks before ending a session, saying which.
pub async fn confirm_end_session(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(ask_end(&req, &state).await)
}

async fn ask_end(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let t = ui.t;
    let Some(id) = path_id(req) else {
        return Err(gone(ui));
    };
    let (all, names) = load(state, ui, &me).await?;
    let Some(session) = all.iter().find(|s| s.id.0 == id) else {
        return Err(gone(ui));
    };
    let shown = line(ui, &me, session, &names);
    let action = format!("{LIST}/{id}/end");
    let facts = vec![
        Fact::new(t.signed_in_to_label, shown.client),
        Fact::new(t.address_label, shown.ip),
        Fact::new(t.user_agent_label, shown.user_agent),
        Fact::new(t.last_used_label, shown.last_used),
    ];
    // Ending this browser's own session signs it out: the page says so.
    let explained = if shown.current {
        t.end_this_browser_explained
    } else {
        t.end_session_explained
    };
    Ok(respond(
        HttpResponse::Ok(),
        &ConfirmPage {
            t,
            brand: ui.brand,
            here: "sessions",
            csrf: &me.csrf,
            title: t.end_session_question,
            facts,
            explained,
            action: &action,
            button: t.end_session_button,
            back: LIST,
        },
    ))
}

/// `POST /account/sessions/{id}/end`: ends the session; back to the list, which says so.
pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(end(&req, &state, payload).await)
}

async fn end(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, _, ui) = posted(req, state, payload).await?;
    let Some(id) = path_id(req) else {
        return Err(gone(ui));
    };
    let p = me.principal.clone();
    match call(state, ui, move |c| {
        c.sessions.end_session(&p, SessionId(id))
    })
    .await?
    {
        Ok(()) => Ok(see_other(&format!("{LIST}?done=session-ended"))),
        Err(UserError::NotFound) => Err(gone(ui)),
        Err(e) => Err(failure(ui, e.into())),
    }
}

/// `GET /account/sessions/end-others`: asks before ending every session but this browser's.
pub async fn confirm_end_others(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(ask_end_others(&req, &state).await)
}

async fn ask_end_others(req: &HttpRequest, state: &AppState) -> Answer {
    let me = signed_in(req, state).await?;
    let ui = page_ui(req, state);
    let t = ui.t;
    Ok(respond(
        HttpResponse::Ok(),
        &ConfirmPage {
            t,
            brand: ui.brand,
            here: "sessions",
            csrf: &me.csrf,
            title: t.end_others_question,
            facts: Vec::new(),
            explained: t.end_others_explained,
            action: "/account/sessions/end-others",
            button: t.end_others_button,
            back: LIST,
        },
    ))
}

/// `POST /account/sessions/end-others`: ends every session of the user but this browser's;
/// back to the list, which says so.
pub async fn end_others(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    answer(end_all_others(&req, &state, payload).await)
}

async fn end_all_others(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let (me, _, ui) = posted(req, state, payload).await?;
    let (p, id) = (me.principal.clone(), me.principal.user_id);
    refused(
        ui,
        call(state, ui, move |c| c.sessions.end_sessions(&p, id)).await?,
    )?;
    Ok(see_other(&format!("{LIST}?done=others-ended")))
}
