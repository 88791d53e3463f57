//! The signing keys and the state of this node, for global admins: which key signs and which
//! are still published, a rotation now ("Rotate now", after a confirmation), whether the node is
//! ready (as `GET /ready` says), its version, and a few of its metrics. The keys are the use
//! case's (`Keys::list_keys`, `Keys::rotate`, as `GET /keys` and `POST /keys/rotate`), which
//! lets global admins alone see and rotate them; the node's state is the rest of the server's
//! configuration (`authorize` with `Action::ManageModel`: global admins).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::access::{authorize, Action};

use crate::pages::admin::{done, when, Admin, Answer, Confirm, Fields, Nav};
use crate::pages::{Brand, Texts};
use crate::AppState;

/// One signing key.
#[derive(Debug)]
struct KeyRow {
    kid: String,
    alg: String,
    created: String,
    signing: bool,
    /// What the key is for, in words.
    used: &'static str,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    keys: Vec<KeyRow>,
}

/// The admin of this request, when the domain lets them see the server's configuration.
async fn global_admin<'a>(
    req: &HttpRequest,
    state: &'a AppState,
) -> Result<Admin<'a>, HttpResponse> {
    let admin = Admin::enter(req, state).await?;
    authorize(admin.principal(), Action::ManageModel).map_err(|e| admin.refused(e))?;
    Ok(admin)
}

/// `GET /admin/keys`: the signing keys, newest (the one that signs) first, and "Rotate now".
pub async fn keys(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    keys_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn keys_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let listed = admin.fetch(state, |c, p| c.keys.list_keys(p)).await?;
    let t = admin.t().admin;
    let mut keys: Vec<KeyRow> = listed
        .into_iter()
        .map(|k| KeyRow {
            used: if k.signs {
                t.signs
            } else if k.published {
                t.verifies_only
            } else {
                t.retired_key
            },
            signing: k.signs,
            created: when(k.created),
            kid: k.kid,
            alg: k.alg,
        })
        .collect();
    // Newest first, which is the one that signs; should a key have come since this node last
    // read the folder, the one that signs still leads.
    keys.sort_by_key(|k| !k.signing);
    let query = Fields::of_query(req);
    Ok(admin.render(
        StatusCode::OK,
        &KeysPage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav("keys", query.get("done")),
            keys,
        },
    ))
}

/// The confirmation of a rotation, for those the domain lets rotate the keys.
fn rotation_confirmation(admin: &Admin<'_>) -> Answer {
    authorize(admin.principal(), Action::ManageKeys).map_err(|e| admin.refused(e))?;
    let t = admin.t().admin;
    Ok(admin.confirm(
        "keys",
        Confirm {
            question: t.rotate_keys_question.to_owned(),
            explained: t.rotate_keys_explained,
            action: "/admin/keys/rotate".to_owned(),
            button: t.rotate_now,
            back: "/admin/keys".to_owned(),
            hidden: Vec::new(),
        },
    ))
}

/// `GET /admin/keys/rotate`: the confirmation of a rotation.
pub async fn ask_rotate(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match Admin::enter(&req, &state).await {
        Ok(admin) => rotation_confirmation(&admin).unwrap_or_else(|r| r),
        Err(res) => res,
    }
}

/// `POST /admin/keys/rotate`: without `confirm=yes` the confirmation; with it, a new signing key
/// (`Keys::rotate`, as `POST /keys/rotate`), which signs from now on, and back to the keys.
pub async fn rotate(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    rotate_keys(&req, &state, payload)
        .await
        .unwrap_or_else(|r| r)
}

async fn rotate_keys(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let form = admin.form(req, state, payload).await?;
    if !form.confirmed() {
        return rotation_confirmation(&admin);
    }
    admin.fetch(state, |c, p| c.keys.rotate(p)).await?;
    Ok(done("/admin/keys", "key_rotated"))
}

#[derive(Template)]
#[template(path = "admin/node.html")]
struct NodePage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    ready: bool,
    /// Why the node is not ready, when it is not.
    reason: String,
    version: &'static str,
    sessions: Option<u64>,
    hash_queue: usize,
    revocations: usize,
    signing_alg: &'static str,
}

/// `GET /admin/node`: whether this node is ready, its version and a few metrics.
pub async fn state(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    node_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn node_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = global_admin(req, state).await?;
    let checked = state
        .blocking(|c| (c.ready(), c.sessions.count_live_sessions()))
        .await;
    let (ready, reason, sessions) = match checked {
        Ok((Ok(()), sessions)) => (true, String::new(), sessions.ok()),
        Ok((Err(e), sessions)) => (false, format!("{e:#}"), sessions.ok()),
        Err(e) => (false, e.to_string(), None),
    };
    Ok(admin.render(
        StatusCode::OK,
        &NodePage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav("node", None),
            ready,
            reason,
            version: env!("CARGO_PKG_VERSION"),
            sessions,
            hash_queue: (state.metrics.hash_queue)(),
            revocations: state.core.revocations.len(),
            signing_alg: state.keys.signing_alg(),
        },
    ))
}
