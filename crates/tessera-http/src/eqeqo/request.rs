//! What the Eqeqo routes read from a request, in Eqeqo's order (the `token` header and its
//! holder, then the path's ids, then the body), and the lookups of the ids that may be names.

use actix_web::{web, HttpMessage as _, HttpRequest};
use serde::de::DeserializeOwned;
use tessera_domain::access::{Kind, ServiceRef};
use tessera_domain::credentials::{OPAQUE_TOKEN_PREFIX, SERVICE_TOKEN_PREFIX};
use tessera_domain::error::UserError;
use tessera_domain::principal::Principal;
use tessera_domain::usecases::UseCases;
use tessera_domain::user::{User, UserId};

use super::errors::{api_error, token_error, user_error, EqeqoError, Refusal, Route};
use super::wire::{parse, FlexibleId, Named};
use crate::extract::{read_body, request_context};
use crate::middleware::RequestUser;
use crate::AppState;

/// The header of the user's token.
pub const TOKEN: &str = "token";
/// The header of a service's token, which `POST /check-token` also takes.
pub const SERVICE_TOKEN: &str = "service-token";

/// A header as Eqeqo read it: the first of its name (in any case), trimmed; blank is absent.
pub fn header_value(req: &HttpRequest, name: &str) -> Option<String> {
    let value = req.headers().get(name)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// The holder of the `token` header's token, and when it expires.
///
/// The door's tokens are Tessera's opaque tokens; anything else (a JWT, an API key, a service
/// token, which Eqeqo took as a user's for five minutes) is `invalid_token`. With `renew_within`,
/// a token that has at most that many seconds left is extended (the door's window); without, it
/// is only checked (a logout). A query string is never read.
///
/// # Errors
/// 401 `missing_token_header`, `invalid_token` or `expired_token`; 503 when the store cannot be
/// asked.
pub async fn holder(
    req: &HttpRequest,
    state: &AppState,
    renew_within: Option<i64>,
) -> Result<Principal, EqeqoError> {
    let token = header_value(req, TOKEN).ok_or(EqeqoError::Refused(Refusal::MissingToken))?;
    if !token.starts_with(OPAQUE_TOKEN_PREFIX) || token.starts_with(SERVICE_TOKEN_PREFIX) {
        return Err(EqeqoError::Refused(Refusal::InvalidToken));
    }
    // From memory when the store has the token cached, else on the blocking pool; a renewal
    // writes, so it always goes there.
    let checked = state
        .read_raw(move |c| match renew_within {
            Some(within) => c.gate.authenticate_renewing_within(&token, within),
            None => c.gate.authenticate_credential(&token, false),
        })
        .await
        .map_err(|e| EqeqoError::pool(e, "token_validation_failed"))?;
    let mut principal = checked.map_err(token_error)?;
    if let Some(user) = req.extensions().get::<RequestUser>() {
        user.set(principal.user_id.0);
    }
    principal.context = request_context(req);
    Ok(principal)
}

/// When the holder's token expires, in Unix seconds.
pub fn expiry(holder: &Principal) -> i64 {
    holder.expires_at.map_or(0, |t| t.seconds())
}

/// The body, read within the adapter's size and time limits and parsed as Eqeqo did.
///
/// # Errors
/// 400 `invalid_request_body`; 413 or 408 for a body too large or too slow.
pub async fn body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, EqeqoError> {
    let bytes = read_body(req, payload.into_inner())
        .await
        .map_err(|e| api_error(e, "invalid_request_body"))?;
    parse(&bytes)
}

/// A body that may be absent or anything at all: what cannot be read or parsed is no body.
pub async fn lenient_body<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Option<T> {
    let bytes = read_body(req, payload.into_inner()).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A path segment that must be a number, as Eqeqo's strict ids.
///
/// # Errors
/// 400 with the route's `invalid_*_id` key.
pub fn strict_id(req: &HttpRequest, name: &str, invalid: &'static str) -> Result<i64, EqeqoError> {
    req.match_info()
        .query(name)
        .parse::<i64>()
        .map_err(|_| EqeqoError::bad_request(invalid))
}

/// A path segment as a flexible id.
pub fn segment(req: &HttpRequest, name: &str) -> FlexibleId {
    FlexibleId::Text(req.match_info().query(name).to_owned())
}

/// Runs `f` on the blocking pool.
///
/// # Errors
/// What `f` returns, or a 500 with `failed` when the pool fails.
pub async fn on_pool<T: Send + 'static>(
    state: &AppState,
    failed: &'static str,
    f: impl FnOnce(&UseCases) -> Result<T, EqeqoError> + Send + 'static,
) -> Result<T, EqeqoError> {
    state
        .blocking(f)
        .await
        .map_err(|e| EqeqoError::pool(e, failed))?
}

/// Runs a read: from memory when it can, else on the blocking pool (`AppState::read_raw`).
///
/// # Errors
/// As `on_pool`.
pub async fn reading<T: Send + 'static>(
    state: &AppState,
    failed: &'static str,
    f: impl Fn(&UseCases) -> Result<T, EqeqoError> + Send + 'static,
) -> Result<T, EqeqoError> {
    state
        .read_raw(f)
        .await
        .map_err(|e| EqeqoError::pool(e, failed))?
}

/// The user a username names, as `actor` may see them: the actor themselves, or, for an admin,
/// anyone without a tenant.
///
/// # Errors
/// 400 `person_not_found` for a name nobody has, as Eqeqo; 403 for a user the actor may not act
/// on.
fn person_by_name(
    c: &UseCases,
    actor: &Principal,
    name: &str,
    route: Route,
) -> Result<User, EqeqoError> {
    let found = if name.eq_ignore_ascii_case(&actor.username) {
        c.accounts.get_user(actor, actor.user_id)
    } else {
        c.accounts.user_named(actor, name, None)
    };
    found.map_err(|e| match e {
        UserError::NotFound => EqeqoError::bad_request("person_not_found"),
        other => user_error(other, route),
    })
}

/// The person a route reads, named by id or username.
///
/// # Errors
/// 404 `person_not_found` for an unknown id; as `person_by_name` for a name.
pub fn person_to_read(
    c: &UseCases,
    actor: &Principal,
    person: &Named,
    route: Route,
) -> Result<User, EqeqoError> {
    let route = route.about("person_not_found");
    match person {
        Named::Id(id) => c
            .accounts
            .get_user(actor, UserId(*id))
            .map_err(|e| user_error(e, route)),
        Named::Name(name) => person_by_name(c, actor, name, route),
    }
}

/// The id of a person named by id or username, for a use case that checks the id itself.
///
/// # Errors
/// As `person_by_name` for a name.
pub fn person_id(
    c: &UseCases,
    actor: &Principal,
    person: &Named,
    route: Route,
) -> Result<UserId, EqeqoError> {
    match person {
        Named::Id(id) => Ok(UserId(*id)),
        Named::Name(name) => person_by_name(c, actor, name, route).map(|u| u.id),
    }
}

/// The id of an entry named by id or name, for a use case that checks the id itself.
///
/// # Errors
/// 400 `unknown` for a name no entry has, as Eqeqo; 403 for those who may not read the model.
pub fn entry_id(
    c: &UseCases,
    actor: &Principal,
    kind: Kind,
    named: &Named,
    unknown: &'static str,
    route: Route,
) -> Result<i64, EqeqoError> {
    match named {
        Named::Id(id) => Ok(*id),
        Named::Name(name) => c
            .access
            .entry_named(actor, kind, name)
            .map(|e| e.id)
            .map_err(|e| match e {
                UserError::NotFound => EqeqoError::bad_request(unknown),
                other => user_error(other, route),
            }),
    }
}

/// A service named by id or name, as the person-access use case takes it.
pub fn service_ref(named: Named) -> ServiceRef {
    match named {
        Named::Id(id) => ServiceRef::Id(id),
        Named::Name(name) => ServiceRef::Name(name),
    }
}
