//! The signing keys and the state of this node, for global admins: which key signs and which
//! are still published (the JWKS), whether the node is ready (as `GET /ready` says), its version,
//! and a few of its metrics. Who may see them is the domain's decision for the rest of the
//! server's configuration (`authorize` with `Action::ManageModel`: global admins).
//!
//! Rotating a key from here is not offered yet: a rotation writes a key file (`tessera keys
//! rotate`, `docs/OPERATIONS.md`), and no use case does it, or audits it, for the API either.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::access::{authorize, Action};

use crate::pages::admin::{Admin, Answer, Nav};
use crate::pages::{Brand, Texts};
use crate::AppState;

/// One published key.
#[derive(Debug)]
struct KeyRow {
    kid: String,
    alg: String,
    kty: String,
    signing: bool,
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

/// `GET /admin/keys`: the published signing keys, the one that signs first.
pub async fn keys(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    keys_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn keys_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = global_admin(req, state).await?;
    let signing = state.keys.signing_kid();
    let jwks = state.keys.jwks();
    let field = |key: &serde_json::Value, name: &str| {
        key.get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut keys: Vec<KeyRow> = jwks
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .map(|keys| {
            keys.iter()
                .map(|k| KeyRow {
                    signing: field(k, "kid") == signing,
                    kid: field(k, "kid"),
                    alg: field(k, "alg"),
                    kty: field(k, "kty"),
                })
                .collect()
        })
        .unwrap_or_default();
    keys.sort_by_key(|k| !k.signing);
    Ok(admin.render(
        StatusCode::OK,
        &KeysPage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav("keys", None),
            keys,
        },
    ))
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
