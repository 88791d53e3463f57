//! The Eqeqo routes. Each reads its request in Eqeqo's order (token, path, body), calls the same
//! use cases as its REST twin, as the token's holder, and answers in Eqeqo's form. They decide no
//! rule: what differs from Eqeqo is what the use cases decide (`docs/EQEQO.md`).

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use tessera_domain::access::{Entry, EntryRequest, Kind, Link, PermissionRef, PersonAccess};
use tessera_domain::auth::LoginRequest;
use tessera_domain::credentials::SERVICE_INACTIVE;
use tessera_domain::error::{AuthError, TokenError, UserError};
use tessera_domain::issuer::{Issued, SessionKind};
use tessera_domain::password::Password;
use tessera_domain::principal::{Credential, Principal};
use tessera_domain::usecases::UseCases;
use tessera_domain::user::{DisplayName, User, UserId, Username};
use tessera_domain::users::{UpdateUser, MAX_PAGE};

use super::errors::{
    api_error, login_error, service_token_error, user_error, EqeqoError, Refusal, Route,
};
use super::request::{
    body, entry_id, expiry, header_value, holder, lenient_body, on_pool, person_id, person_to_read,
    reading, segment, service_ref, strict_id, SERVICE_TOKEN,
};
use super::wire::{
    Access, CheckAnswer, CheckTokenBody, CreateUserBody, Done, FlexibleId, LoginAnswer, LoginBody,
    Named, NamedRow, PermissionBody, PermissionGrantBody, PersonAccessAnswer, PersonRoleBody,
    ProfileAnswer, RoleBody, RolePermissionBody, ServiceBody, ServiceChangeBody, ServiceRoleBody,
    ServiceRow, ServiceTokenAnswer, TokenPayload, UpdateUserBody, UserRow,
};
use super::EqeqoConfig;
use crate::extract::request_context;
use crate::rate_limit::client_ip;
use crate::AppState;

type State = web::Data<AppState>;
type Config = web::Data<EqeqoConfig>;
type Answer = Result<HttpResponse, EqeqoError>;

const LOGIN_FAILED: &str = "login_issue_failed";
const LOGOUT_FAILED: &str = "logout_failed";
const TOKEN_FAILED: &str = "token_validation_failed";
const CHECK_TOKEN: Route = Route::new("load_permissions_failed", "user_not_found");
const LIST_USERS: Route = Route::new("list_users_failed", "user_not_found");
const CREATE_USER: Route = Route::new("create_user_failed", "user_not_found");
const GET_USER: Route = Route::new("get_user_failed", "user_not_found");
const UPDATE_USER: Route = Route::new("update_user_failed", "user_not_found");
const DELETE_USER: Route = Route::new("delete_user_failed", "user_not_found");
const LIST_SERVICES: Route = Route::new("list_services_failed", "service_not_found");
const CREATE_SERVICE: Route = Route::new("create_service_failed", "service_not_found");
const ISSUE_SERVICE_TOKEN: Route = Route::new("issue_service_token_failed", "service_not_found");
const UPDATE_SERVICE: Route = Route::new("update_service_failed", "service_not_found");
const DELETE_SERVICE: Route = Route::new("delete_service_failed", "service_not_found");
const SERVICE_ROLES: Route = Route::new("list_service_roles_failed", "service_not_found");
const LIST_ROLES: Route = Route::new("list_roles_failed", "role_not_found");
const CREATE_ROLE: Route = Route::new("create_role_failed", "role_not_found");
const GET_ROLE: Route = Route::new("get_role_failed", "role_not_found");
const UPDATE_ROLE: Route = Route::new("update_role_failed", "role_not_found");
const DELETE_ROLE: Route = Route::new("delete_role_failed", "role_not_found");
const ROLE_PERMISSIONS: Route = Route::new("list_role_permissions_failed", "role_not_found");
const LIST_PERMISSIONS: Route = Route::new("list_permissions_failed", "permission_not_found");
const CREATE_PERMISSION: Route = Route::new("create_permission_failed", "permission_not_found");
const UPDATE_PERMISSION: Route = Route::new("update_permission_failed", "permission_not_found");
const DELETE_PERMISSION: Route = Route::new("delete_permission_failed", "permission_not_found");
const ASSIGN_PERMISSION: Route = Route::new("assign_permission_failed", "role_not_found");
const REMOVE_PERMISSION: Route = Route::new("remove_permission_failed", "role_not_found");
const ASSIGN_ROLE_SERVICE: Route = Route::new("assign_role_service_failed", "service_not_found");
const REMOVE_ROLE_SERVICE: Route = Route::new("remove_role_service_failed", "service_not_found");
const ASSIGN_ROLE_PERSON: Route = Route::new("assign_role_person_failed", "person_not_found");
const REMOVE_ROLE_PERSON: Route = Route::new("remove_role_person_failed", "person_not_found");
const GRANT_PERMISSION: Route = Route::new("assign_permission_failed", "person_not_found");
const PERSON_ROLES: Route = Route::new("list_person_roles_failed", "person_not_found");
const ROLE_PEOPLE: Route = Route::new("list_persons_with_role_failed", "role_not_found");
const PERSON_SERVICES: Route = Route::new("list_person_services_failed", "person_not_found");
const PERSON_ACCESS: Route = Route::new("load_person_failed", "person_not_found");

fn ok(value: impl Serialize) -> Answer {
    Ok(HttpResponse::Ok().json(value))
}

/// The holder of the request's token, renewed within the door's window.
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    config: &EqeqoConfig,
) -> Result<Principal, EqeqoError> {
    holder(req, state, Some(config.renew_threshold)).await
}

fn was_renewed(p: &Principal) -> bool {
    matches!(p.credential, Credential::Opaque { renewed: true })
}

fn names(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.name.clone()).collect()
}

/// Roles or permissions as Eqeqo lists them: a bare array, in id order.
fn named_rows(mut entries: Vec<Entry>) -> Answer {
    entries.sort_by_key(|e| e.id);
    ok(entries.iter().map(NamedRow::from).collect::<Vec<_>>())
}

/// `GET /`.
pub async fn welcome() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html")
        .body("<h1>Welcome to the Auth API</h1>")
}

/// Every other path, and every other method on these paths: Eqeqo's framework answer, a plain
/// `404 Not Found`. An `OPTIONS` request is a browser's CORS preflight, answered as Eqeqo did.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    if req.method() == Method::OPTIONS {
        return HttpResponse::NoContent()
            .content_type("text/plain")
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, PUT, DELETE, OPTIONS",
            ))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Content-Type, Authorization, token, service-token",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
            .finish();
    }
    HttpResponse::NotFound()
        .content_type("text/plain")
        .body("404 Not Found")
}

/// `POST /auth/login`: Tessera's login (rate limits, the line of password hashes, lockout,
/// audit), opening an opaque token with the door's lifetime.
pub async fn login(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    if let Some(ip) = client_ip(&req) {
        state
            .limits
            .check_ip(ip)
            .await
            .map_err(|e| api_error(e, LOGIN_FAILED))?;
    }
    let LoginBody { username, password } = body(&req, payload).await?;
    state
        .limits
        .check_username(&username)
        .await
        .map_err(|e| api_error(e, LOGIN_FAILED))?;
    let request = LoginRequest {
        login: username,
        password: Password::new(password),
        tenant: None,
        context: request_context(&req),
    };
    let kind = SessionKind::OpaqueLasting(config.user_token_ttl);
    let (token, who, user) = state
        .blocking_hashing(move |c| log_in(c, request, kind))
        .await
        .map_err(|e| api_error(e, LOGIN_FAILED))??;
    ok(LoginAnswer {
        expires_at: expiry(&who),
        payload: TokenPayload::from(&user),
        token,
    })
}

/// Logs in, and reads back whose the new token is and when it expires.
fn log_in(
    c: &UseCases,
    request: LoginRequest,
    kind: SessionKind,
) -> Result<(String, Principal, User), EqeqoError> {
    let issued = c
        .authentication
        .login(request, kind)
        .map_err(|e| login_error(e, LOGIN_FAILED))?;
    let Issued::Access(access) = issued else {
        return Err(EqeqoError::Internal {
            error: LOGIN_FAILED,
            cause: anyhow::anyhow!("an opaque login answered tokens of another kind"),
        });
    };
    let token = access.access_token.expose().to_owned();
    let who = c
        .gate
        .authenticate_credential(&token, false)
        .map_err(|e| match e {
            TokenError::Unavailable => EqeqoError::unavailable(),
            other => EqeqoError::internal(LOGIN_FAILED, other),
        })?;
    let user = c
        .accounts
        .get_user(&who, who.user_id)
        .map_err(|e| user_error(e, Route::new(LOGIN_FAILED, "user_not_found")))?;
    Ok((token, who, user))
}

/// `POST /auth/logout`: ends the token's session; the token is checked, never renewed.
pub async fn logout(req: HttpRequest, state: State) -> Answer {
    let me = holder(&req, &state, None).await?;
    on_pool(&state, LOGOUT_FAILED, move |c| {
        c.authentication.logout(&me).map_err(|e| match e {
            AuthError::Unknown(cause) => EqeqoError::from_cause(cause, LOGOUT_FAILED),
            other => EqeqoError::internal(LOGOUT_FAILED, other),
        })
    })
    .await?;
    ok(Done::status("logged_out"))
}

/// The holder's own user.
async fn own_user(state: &AppState, me: Principal) -> Result<User, EqeqoError> {
    reading(state, TOKEN_FAILED, move |c| {
        c.accounts
            .get_user(&me, me.user_id)
            .map_err(|e| user_error(e, Route::new(TOKEN_FAILED, "user_not_found")))
    })
    .await
}

/// `GET /auth/profile`.
pub async fn profile(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let (expires_at, renewed) = (expiry(&me), was_renewed(&me));
    let user = own_user(&state, me).await?;
    ok(ProfileAnswer {
        expires_at,
        payload: TokenPayload::from(&user),
        renewed,
    })
}

/// `POST /check-token`: the user token's holder, and what they may do in the service whose token
/// is in `service-token`.
pub async fn check_token(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let asked = lenient_body::<CheckTokenBody>(&req, payload)
        .await
        .and_then(|b| b.asked_user());
    let me = signed_in(&req, &state, &config).await?;
    let service_token = header_value(&req, SERVICE_TOKEN)
        .ok_or(EqeqoError::Refused(Refusal::MissingServiceToken))?;
    let service = reading(&state, "service_token_validation_failed", move |c| {
        c.credentials
            .service_of_token(&service_token)
            .map_err(service_token_error)
    })
    .await?;
    let me_id = me.user_id.0;
    if asked.is_some_and(|id| id != me_id) {
        return Err(EqeqoError::Refused(Refusal::InvalidToken));
    }
    let (expires_at, renewed) = (expiry(&me), was_renewed(&me));
    let service_id = service.id;
    let access = reading(&state, CHECK_TOKEN.failed, move |c| {
        c.access
            .person_access(&me, me.user_id, service_id)
            .map_err(|e| match e {
                // The service went between the two reads.
                UserError::NotFound => EqeqoError::Refused(Refusal::InvalidServiceToken),
                other => user_error(other, CHECK_TOKEN),
            })
    })
    .await?;
    let PersonAccess {
        user,
        roles,
        permissions,
        ..
    } = access;
    ok(CheckAnswer {
        access: Access {
            expires_at,
            permissions,
            roles: names(&roles),
            scopes: Vec::new(),
            service_id,
            user_id: me_id,
        },
        expires_at,
        payload: TokenPayload::from(&user),
        renewed,
        valid: true,
    })
}

/// Every user the actor may list, in id order, a page at a time.
fn every_user(c: &UseCases, actor: &Principal) -> Result<Vec<User>, UserError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = c.accounts.list_users(actor, Some(MAX_PAGE), after, None)?;
        all.extend(page.items);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

/// `GET /users`.
pub async fn list_users(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let users = on_pool(&state, LIST_USERS.failed, move |c| {
        every_user(c, &me).map_err(|e| user_error(e, LIST_USERS))
    })
    .await?;
    ok(users.iter().map(UserRow::from).collect::<Vec<_>>())
}

/// `POST /users`: `password_hash` is the password; Tessera hashes it.
pub async fn create_user(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let request = body::<CreateUserBody>(&req, payload)
        .await?
        .into_request()?;
    let user = state
        .blocking_hashing(move |c| {
            c.accounts
                .create_user(&me, request)
                .map_err(|e| user_error(e, CREATE_USER))
        })
        .await
        .map_err(|e| api_error(e, CREATE_USER.failed))??;
    Ok(HttpResponse::Created().json(UserRow::from(&user)))
}

/// `GET /users/{id}`.
pub async fn get_user(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = UserId(strict_id(&req, "id", "invalid_user_id")?);
    let user = reading(&state, GET_USER.failed, move |c| {
        c.accounts
            .get_user(&me, id)
            .map_err(|e| user_error(e, GET_USER))
    })
    .await?;
    ok(UserRow::from(&user))
}

/// `PUT /users/{id}`: a new username, a new name and a new password, each when given.
pub async fn update_user(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = UserId(strict_id(&req, "id", "invalid_user_id")?);
    let change: UpdateUserBody = body(&req, payload).await?;
    let hashes = change.password_hash.is_some();
    let apply = move |c: &UseCases| change_user(c, &me, id, change);
    if hashes {
        state
            .blocking_hashing(apply)
            .await
            .map_err(|e| api_error(e, UPDATE_USER.failed))??;
    } else {
        on_pool(&state, UPDATE_USER.failed, apply).await?;
    }
    ok(Done::status("success"))
}

/// Applies a `PUT /users/{id}`: the username and the name through the use case of `PATCH
/// /users/{id}`, the password through the use case an admin sets one with (the holder's own needs
/// the current one, which Eqeqo's body has no place for).
fn change_user(
    c: &UseCases,
    actor: &Principal,
    id: UserId,
    change: UpdateUserBody,
) -> Result<(), EqeqoError> {
    let fail = |e: UserError| user_error(e, UPDATE_USER);
    let current = c.accounts.get_user(actor, id).map_err(fail)?;
    // The username as stored is no change (a client may send back what it read); any other, one
    // differing only in case included, renames the user, which only their admins may.
    let username = change
        .username
        .filter(|u| u.as_str() != current.username.as_str());
    let password = change.password_hash.map(Password::new);
    // All three are checked against the domain's rules before any changes, so that a bad one
    // changes nothing.
    let mut problems = Vec::new();
    if let Some(Err(rules)) = username.as_deref().map(Username::parse) {
        problems.push(format!("username: {}", rules.join(", ")));
    }
    if let Some(Err(rules)) = change.name.as_deref().map(DisplayName::parse) {
        problems.push(format!("name: {}", rules.join(", ")));
    }
    if let Some(new) = &password {
        // Checked against the name the user will have, as the password's use case checks it
        // after a rename.
        let name = username.as_deref().unwrap_or(current.username.as_str());
        let broken = c.password_policy().violations(new, name);
        if !broken.is_empty() {
            problems.push(format!("password_hash: {}", broken.join(", ")));
        }
        // The holder's own password needs the current one, which this body has no place for:
        // refused here, before a rename in the same body is written.
        if actor.user_id == id {
            problems.push("current_password: required".to_owned());
        }
    }
    if !problems.is_empty() {
        return Err(EqeqoError::invalid_body(problems.join("; ")));
    }
    let renames = username.is_some();
    let profile = (renames || change.name.is_some()).then(|| UpdateUser {
        username,
        display_name: change.name.map(Some),
        ..UpdateUser::default()
    });
    let update = |request: UpdateUser| {
        c.accounts
            .update_user(actor, id, request)
            .map(|_| ())
            .map_err(fail)
    };
    let set_password = |new: Password| {
        c.accounts
            .change_password(actor, id, None, new, false)
            .map_err(fail)
    };
    // Whether another user has the new username is known only when it is written: a rename goes
    // first, so that a taken one changes nothing. Otherwise the password goes first, so that one
    // the use case refuses (the holder's own) changes nothing either.
    if renames {
        if let Some(profile) = profile {
            update(profile)?;
        }
        if let Some(new) = password {
            set_password(new)?;
        }
    } else {
        if let Some(new) = password {
            set_password(new)?;
        }
        if let Some(profile) = profile {
            update(profile)?;
        }
    }
    Ok(())
}

/// `DELETE /users/{id}`: deletes the user, which ends their sessions; `revoked_tokens` counts the
/// sessions that were live.
pub async fn delete_user(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = UserId(strict_id(&req, "id", "invalid_user_id")?);
    let revoked = on_pool(&state, DELETE_USER.failed, move |c| {
        let fail = |e: UserError| user_error(e, DELETE_USER);
        let live = c.sessions.list_sessions(&me, id).map_err(fail)?.len();
        c.accounts.delete_user(&me, id).map_err(fail)?;
        Ok(live)
    })
    .await?;
    ok(Done {
        revoked_tokens: Some(revoked),
        user_id: Some(id.0),
        ..Done::status("user_deleted")
    })
}

/// Every entry of `kind` the actor may read, in id order, a page at a time.
fn every_entry(c: &UseCases, actor: &Principal, kind: Kind) -> Result<Vec<Entry>, UserError> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = c.access.list_entries(actor, kind, Some(MAX_PAGE), after)?;
        all.extend(page.items);
        match page.next_after {
            Some(next) => after = Some(next),
            None => return Ok(all),
        }
    }
}

/// Creates an entry or, when its name is taken, finds the one that has it: Eqeqo's creates are
/// idempotent. True when it was created.
fn create_or_find(
    c: &UseCases,
    actor: &Principal,
    kind: Kind,
    request: &EntryRequest,
) -> Result<(Entry, bool), UserError> {
    match c.access.create_entry(actor, kind, request) {
        Err(UserError::Duplicate { .. }) => c
            .access
            .entry_named(actor, kind, &request.name)
            .map(|e| (e, false)),
        other => other.map(|e| (e, true)),
    }
}

/// `GET /services`: the active ones, as Eqeqo listed them.
pub async fn list_services(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let services = on_pool(&state, LIST_SERVICES.failed, move |c| {
        every_entry(c, &me, Kind::Service).map_err(|e| user_error(e, LIST_SERVICES))
    })
    .await?;
    ok(services
        .iter()
        .filter(|s| s.active)
        .map(ServiceRow::from)
        .collect::<Vec<_>>())
}

/// `POST /services`: 201 with the new service, or with the one of that name, which takes the
/// description sent (none when none is sent), as in Eqeqo.
pub async fn create_service(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let ServiceBody { name, description } = body(&req, payload).await?;
    let service = on_pool(&state, CREATE_SERVICE.failed, move |c| {
        let fail = |e: UserError| user_error(e, CREATE_SERVICE);
        let request = EntryRequest {
            name,
            description,
            active: None,
        };
        let (found, created) = create_or_find(c, &me, Kind::Service, &request).map_err(fail)?;
        if created {
            return Ok(found);
        }
        let described = EntryRequest {
            name: found.name,
            description: request.description,
            active: None,
        };
        c.access
            .update_entry(&me, Kind::Service, found.id, &described)
            .map_err(fail)
    })
    .await?;
    Ok(HttpResponse::Created().json(ServiceRow::from(&service)))
}

/// `POST /services/{id}/token`: a new service token, for admins.
pub async fn issue_service_token(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_service_id")?;
    let ttl = config.service_token_ttl;
    let issued = on_pool(&state, ISSUE_SERVICE_TOKEN.failed, move |c| {
        c.credentials
            .issue_service_token(&me, id, ttl)
            .map_err(|e| match e {
                UserError::Forbidden(why) if why == SERVICE_INACTIVE => {
                    EqeqoError::answer(StatusCode::FORBIDDEN, "service_inactive")
                }
                other => user_error(other, ISSUE_SERVICE_TOKEN),
            })
    })
    .await?;
    ok(ServiceTokenAnswer {
        expires_at: issued.expires_at.seconds(),
        service_id: issued.service.id,
        service_name: issued.service.name.clone(),
        token: issued.token.expose().to_owned(),
    })
}

/// `PUT /services/{id}`: what is sent replaces what is stored; what is absent or null stays.
pub async fn update_service(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_service_id")?;
    let ServiceChangeBody { name, description } = body(&req, payload).await?;
    on_pool(&state, UPDATE_SERVICE.failed, move |c| {
        let fail = |e: UserError| user_error(e, UPDATE_SERVICE);
        let current = c.access.get_entry(&me, Kind::Service, id).map_err(fail)?;
        let request = EntryRequest {
            name: name.unwrap_or(current.name),
            description: description.or(current.description),
            active: None,
        };
        c.access
            .update_entry(&me, Kind::Service, id, &request)
            .map_err(fail)
    })
    .await?;
    ok(Done::status("success"))
}

/// `DELETE /services/{id}`: disables the service, as Eqeqo's soft delete; its grants stay, and
/// its service tokens are refused while it is disabled.
pub async fn delete_service(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_service_id")?;
    on_pool(&state, DELETE_SERVICE.failed, move |c| {
        let fail = |e: UserError| user_error(e, DELETE_SERVICE);
        let current = c.access.get_entry(&me, Kind::Service, id).map_err(fail)?;
        let request = EntryRequest {
            name: current.name,
            description: current.description,
            active: Some(false),
        };
        c.access
            .update_entry(&me, Kind::Service, id, &request)
            .map_err(fail)
    })
    .await?;
    ok(Done {
        service_id: Some(id),
        ..Done::status("service_deleted")
    })
}

/// `GET /services/{id}/roles`: by the service's id or name.
pub async fn service_roles(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let service = segment(&req, "id").service()?;
    let roles = on_pool(&state, SERVICE_ROLES.failed, move |c| {
        let id = entry_id(
            c,
            &me,
            Kind::Service,
            &service,
            "invalid_service_id",
            SERVICE_ROLES,
        )?;
        c.access
            .linked(&me, Link::ServiceRole, id)
            .map_err(|e| user_error(e, SERVICE_ROLES))
    })
    .await?;
    named_rows(roles)
}

async fn list_named(
    req: &HttpRequest,
    state: &AppState,
    config: &EqeqoConfig,
    kind: Kind,
    route: Route,
) -> Answer {
    let me = signed_in(req, state, config).await?;
    let entries = on_pool(state, route.failed, move |c| {
        every_entry(c, &me, kind).map_err(|e| user_error(e, route))
    })
    .await?;
    named_rows(entries)
}

/// Creates a role or a permission, or answers the one of that name: 201 either way.
async fn create_named(
    state: &AppState,
    me: Principal,
    kind: Kind,
    name: String,
    route: Route,
) -> Answer {
    let request = EntryRequest {
        name,
        description: None,
        active: None,
    };
    let (entry, _) = on_pool(state, route.failed, move |c| {
        create_or_find(c, &me, kind, &request).map_err(|e| user_error(e, route))
    })
    .await?;
    Ok(HttpResponse::Created().json(NamedRow::from(&entry)))
}

/// Renames a role or a permission, keeping its description.
async fn rename(
    state: &AppState,
    me: Principal,
    kind: Kind,
    id: i64,
    name: String,
    route: Route,
) -> Answer {
    on_pool(state, route.failed, move |c| {
        let fail = |e: UserError| user_error(e, route);
        let current = c.access.get_entry(&me, kind, id).map_err(fail)?;
        let request = EntryRequest {
            name,
            description: current.description,
            active: None,
        };
        c.access.update_entry(&me, kind, id, &request).map_err(fail)
    })
    .await?;
    ok(Done::status("success"))
}

/// Deletes a role or a permission with every link and grant naming it.
async fn delete_named(
    state: &AppState,
    me: Principal,
    kind: Kind,
    id: i64,
    route: Route,
) -> Result<(), EqeqoError> {
    on_pool(state, route.failed, move |c| {
        c.access
            .delete_entry(&me, kind, id)
            .map_err(|e| user_error(e, route))
    })
    .await
}

/// `GET /roles`: the roles, without the hidden ones that hold direct grants.
pub async fn list_roles(req: HttpRequest, state: State, config: Config) -> Answer {
    list_named(&req, &state, &config, Kind::Role, LIST_ROLES).await
}

/// `POST /roles`.
pub async fn create_role(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let RoleBody { name } = body(&req, payload).await?;
    create_named(&state, me, Kind::Role, name, CREATE_ROLE).await
}

/// `GET /roles/{id}`.
pub async fn get_role(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_role_id")?;
    let role = reading(&state, GET_ROLE.failed, move |c| {
        c.access
            .get_entry(&me, Kind::Role, id)
            .map_err(|e| user_error(e, GET_ROLE))
    })
    .await?;
    ok(NamedRow::from(&role))
}

/// `PUT /roles/{id}`.
pub async fn update_role(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_role_id")?;
    let RoleBody { name } = body(&req, payload).await?;
    rename(&state, me, Kind::Role, id, name, UPDATE_ROLE).await
}

/// `DELETE /roles/{id}`.
pub async fn delete_role(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_role_id")?;
    delete_named(&state, me, Kind::Role, id, DELETE_ROLE).await?;
    ok(Done {
        role_id: Some(Some(id)),
        ..Done::status("role_deleted")
    })
}

/// `GET /roles/{id}/permissions`.
pub async fn role_permissions(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_role_id")?;
    let permissions = on_pool(&state, ROLE_PERMISSIONS.failed, move |c| {
        c.access
            .linked(&me, Link::RolePermission, id)
            .map_err(|e| user_error(e, ROLE_PERMISSIONS))
    })
    .await?;
    named_rows(permissions)
}

/// `GET /permissions`.
pub async fn list_permissions(req: HttpRequest, state: State, config: Config) -> Answer {
    list_named(&req, &state, &config, Kind::Permission, LIST_PERMISSIONS).await
}

/// `POST /permissions`.
pub async fn create_permission(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let PermissionBody { name } = body(&req, payload).await?;
    create_named(&state, me, Kind::Permission, name, CREATE_PERMISSION).await
}

/// `PUT /permissions/{id}`.
pub async fn update_permission(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_permission_id")?;
    let PermissionBody { name } = body(&req, payload).await?;
    rename(&state, me, Kind::Permission, id, name, UPDATE_PERMISSION).await
}

/// `DELETE /permissions/{id}`.
pub async fn delete_permission(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let id = strict_id(&req, "id", "invalid_permission_id")?;
    delete_named(&state, me, Kind::Permission, id, DELETE_PERMISSION).await?;
    ok(Done {
        permission_id: Some(id),
        ..Done::status("permission_deleted")
    })
}

/// Eqeqo's key for an unknown thing of `kind`.
fn not_found_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Service => "service_not_found",
        Kind::Role => "role_not_found",
        Kind::Permission => "permission_not_found",
        Kind::Tenant => "tenant_not_found",
    }
}

/// 404 with the kind's key unless the entry exists and the actor may read it.
fn exists(
    c: &UseCases,
    actor: &Principal,
    kind: Kind,
    id: i64,
    route: Route,
) -> Result<(), EqeqoError> {
    c.access
        .get_entry(actor, kind, id)
        .map(|_| ())
        .map_err(|e| user_error(e, route.about(not_found_key(kind))))
}

/// Removes a link. A link that is not there is nothing to remove, as in Eqeqo, unless one of its
/// ends names nothing: that is 404 with its key.
fn unlinked(
    c: &UseCases,
    actor: &Principal,
    link: Link,
    (left, right): (i64, i64),
    route: Route,
) -> Result<(), EqeqoError> {
    match c.access.unlink(actor, link, left, right) {
        Err(UserError::NotFound) => {
            let (left_kind, right_kind) = link.kinds();
            exists(c, actor, left_kind, left, route)?;
            exists(c, actor, right_kind, right, route)
        }
        other => other.map_err(|e| user_error(e, route)),
    }
}

/// `POST /role-permissions`.
pub async fn add_role_permission(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let RolePermissionBody {
        role_id,
        permission_id,
    } = body(&req, payload).await?;
    on_pool(&state, ASSIGN_PERMISSION.failed, move |c| {
        c.access
            .link(&me, Link::RolePermission, role_id, permission_id)
            .map_err(|e| user_error(e, ASSIGN_PERMISSION))
    })
    .await?;
    ok(Done::status("success"))
}

/// `DELETE /role-permissions`.
pub async fn remove_role_permission(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let RolePermissionBody {
        role_id,
        permission_id,
    } = body(&req, payload).await?;
    on_pool(&state, REMOVE_PERMISSION.failed, move |c| {
        let ends = (role_id, permission_id);
        unlinked(c, &me, Link::RolePermission, ends, REMOVE_PERMISSION)
    })
    .await?;
    ok(Done {
        permission_id: Some(permission_id),
        role_id: Some(Some(role_id)),
        ..Done::status("permission_removed_from_role")
    })
}

/// A service named by id, or by a name, which makes a new service when no service has it, as
/// Eqeqo's `POST /service-roles` did.
fn service_or_new(
    c: &UseCases,
    actor: &Principal,
    service: Named,
    route: Route,
) -> Result<i64, EqeqoError> {
    match service {
        Named::Id(id) => Ok(id),
        Named::Name(name) => {
            let request = EntryRequest {
                name,
                description: None,
                active: None,
            };
            create_or_find(c, actor, Kind::Service, &request)
                .map(|(e, _)| e.id)
                .map_err(|e| user_error(e, route))
        }
    }
}

/// `POST /service-roles`.
pub async fn add_service_role(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let ServiceRoleBody {
        service_id,
        role_id,
    } = body(&req, payload).await?;
    let service = service_id.service()?;
    on_pool(&state, ASSIGN_ROLE_SERVICE.failed, move |c| {
        // The role first: a service named here is made only for a link that can be made.
        if matches!(service, Named::Name(_)) {
            c.access
                .get_entry(&me, Kind::Role, role_id)
                .map_err(|e| user_error(e, ASSIGN_ROLE_SERVICE.about("role_not_found")))?;
        }
        let id = service_or_new(c, &me, service, ASSIGN_ROLE_SERVICE)?;
        c.access
            .link(&me, Link::ServiceRole, id, role_id)
            .map_err(|e| user_error(e, ASSIGN_ROLE_SERVICE))
    })
    .await?;
    ok(Done::status("success"))
}

/// `DELETE /service-roles`.
pub async fn remove_service_role(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let ServiceRoleBody {
        service_id,
        role_id,
    } = body(&req, payload).await?;
    let service = service_id.service()?;
    on_pool(&state, REMOVE_ROLE_SERVICE.failed, move |c| {
        let route = REMOVE_ROLE_SERVICE;
        let id = entry_id(c, &me, Kind::Service, &service, "invalid_service_id", route)?;
        unlinked(c, &me, Link::ServiceRole, (id, role_id), route)
    })
    .await?;
    ok(Done::status("role_removed_from_service"))
}

/// The person and the service of a grant, named by id or name: a person first, as in Eqeqo.
fn grant_ends(
    c: &UseCases,
    actor: &Principal,
    person: &Named,
    service: &Named,
    route: Route,
) -> Result<(UserId, i64), EqeqoError> {
    let person = person_id(c, actor, person, route)?;
    let service = entry_id(
        c,
        actor,
        Kind::Service,
        service,
        "invalid_service_id",
        route,
    )?;
    Ok((person, service))
}

/// `POST /person-service-roles`.
pub async fn add_person_role(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let PersonRoleBody {
        person_id,
        service_id,
        role_id,
    } = body(&req, payload).await?;
    let (person, service) = (person_id.person()?, service_id.service()?);
    on_pool(&state, ASSIGN_ROLE_PERSON.failed, move |c| {
        let (person, service) = grant_ends(c, &me, &person, &service, ASSIGN_ROLE_PERSON)?;
        c.access
            .grant_role(&me, person, service, role_id)
            .map_err(|e| user_error(e, ASSIGN_ROLE_PERSON))
    })
    .await?;
    ok(Done::status("success"))
}

/// `DELETE /person-service-roles`: a grant that is not there is nothing to take back, as in
/// Eqeqo, unless an id names nothing.
pub async fn remove_person_role(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let PersonRoleBody {
        person_id,
        service_id,
        role_id,
    } = body(&req, payload).await?;
    let (person, service) = (person_id.person()?, service_id.service()?);
    on_pool(&state, REMOVE_ROLE_PERSON.failed, move |c| {
        let route = REMOVE_ROLE_PERSON;
        let (person, service) = grant_ends(c, &me, &person, &service, route)?;
        match c.access.revoke_role(&me, person, service, role_id) {
            Err(UserError::NotFound) => {
                c.accounts
                    .get_user(&me, person)
                    .map_err(|e| user_error(e, route.about("person_not_found")))?;
                exists(c, &me, Kind::Service, service, route)?;
                exists(c, &me, Kind::Role, role_id, route)
            }
            other => other.map_err(|e| user_error(e, route)),
        }
    })
    .await?;
    ok(Done::status("role_removed_from_person"))
}

/// `POST /person-service-permissions`: a permission granted directly, by id or by name. Tessera
/// keeps it in a hidden role that no list or route shows, so `role_id` is null.
pub async fn grant_permission(
    req: HttpRequest,
    state: State,
    config: Config,
    payload: web::Payload,
) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let PermissionGrantBody {
        person_id,
        service_id,
        permission_id,
        permission_name,
    } = body(&req, payload).await?;
    let (person, service) = (person_id.person()?, service_id.service()?);
    let permission = match (permission_id, permission_name) {
        (Some(id), _) => id.permission()?,
        (None, Some(name)) => FlexibleId::Text(name).permission()?,
        (None, None) => {
            return Err(EqeqoError::invalid_body(
                "permission_id: required, or permission_name",
            ))
        }
    };
    let (person, service, permission) = on_pool(&state, GRANT_PERMISSION.failed, move |c| {
        let route = GRANT_PERMISSION;
        let (person, service) = grant_ends(c, &me, &person, &service, route)?;
        let permission = entry_id(
            c,
            &me,
            Kind::Permission,
            &permission,
            "permission_not_found",
            route,
        )?;
        c.access
            .grant_permission(&me, person, service, PermissionRef::Id(permission))
            .map_err(|e| user_error(e, route))?;
        Ok((person, service, permission))
    })
    .await?;
    ok(Done {
        permission_id: Some(permission),
        person_id: Some(person.0),
        role_id: Some(None),
        service_id: Some(service),
        ..Done::status("permission_granted")
    })
}

/// A person's access in a service named by id (404 `service_not_found` when unknown) or by name
/// (400 `invalid_service_id`, as Eqeqo).
fn access_in(
    c: &UseCases,
    actor: &Principal,
    person: UserId,
    service: Named,
    route: Route,
) -> Result<PersonAccess, EqeqoError> {
    let by_name = matches!(service, Named::Name(_));
    c.access
        .person_access_in(actor, person, &service_ref(service))
        .map_err(|e| match e {
            UserError::NotFound if by_name => EqeqoError::bad_request("invalid_service_id"),
            other => user_error(other, route.about("service_not_found")),
        })
}

/// `GET /people/{person_id}/services/{service_id}/roles`.
pub async fn person_roles(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let person = segment(&req, "person_id").person()?;
    let service = segment(&req, "service_id").service()?;
    let roles = reading(&state, PERSON_ROLES.failed, move |c| {
        let user = person_to_read(c, &me, &person, PERSON_ROLES)?;
        access_in(c, &me, user.id, service.clone(), PERSON_ROLES).map(|a| a.roles)
    })
    .await?;
    named_rows(roles)
}

/// `GET /services/{service_id}/roles/{role_id}/people`: the role is read first, as in Eqeqo.
pub async fn role_people(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let role = strict_id(&req, "role_id", "invalid_role_id")?;
    let service = segment(&req, "service_id").service()?;
    let people = on_pool(&state, ROLE_PEOPLE.failed, move |c| {
        let route = ROLE_PEOPLE;
        let service = entry_id(c, &me, Kind::Service, &service, "invalid_service_id", route)?;
        match c.access.role_people(&me, service, role) {
            Err(UserError::NotFound) => {
                exists(c, &me, Kind::Service, service, route)?;
                Err(EqeqoError::not_found("role_not_found"))
            }
            other => other.map_err(|e| user_error(e, route)),
        }
    })
    .await?;
    ok(people.iter().map(UserRow::from).collect::<Vec<_>>())
}

/// `GET /people/{person_id}/services`: the active services in which the person holds a role.
pub async fn person_services(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let person = UserId(strict_id(&req, "person_id", "invalid_person_id")?);
    let mut services = on_pool(&state, PERSON_SERVICES.failed, move |c| {
        c.access
            .person_services(&me, person)
            .map_err(|e| user_error(e, PERSON_SERVICES))
    })
    .await?;
    services.retain(|s| s.active);
    services.sort_by_key(|s| s.id);
    ok(services.iter().map(ServiceRow::from).collect::<Vec<_>>())
}

/// `GET /people/{person_id}/services/{service_id}`: the person, and their roles and permissions in
/// the service. Someone else's is for admins: 403 `forbidden_person_lookup` for others.
pub async fn person_access(req: HttpRequest, state: State, config: Config) -> Answer {
    let me = signed_in(&req, &state, &config).await?;
    let person = segment(&req, "person_id").person()?;
    let service = segment(&req, "service_id").service()?;
    // A read, answered from memory when the store has what it needs cached.
    let access = reading(&state, PERSON_ACCESS.failed, move |c| {
        let user = person_to_read(c, &me, &person, PERSON_ACCESS).map_err(|e| {
            if e.is_forbidden() {
                EqeqoError::answer(StatusCode::FORBIDDEN, "forbidden_person_lookup")
            } else {
                e
            }
        })?;
        access_in(c, &me, user.id, service.clone(), PERSON_ACCESS)
    })
    .await?;
    let PersonAccess {
        user,
        service,
        roles,
        permissions,
    } = access;
    ok(PersonAccessAnswer {
        permissions,
        roles: names(&roles),
        service_id: service.id,
        user: UserRow::from(&user),
    })
}
