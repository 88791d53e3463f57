//! Users: the list with its search (a username or e-mail prefix, `Accounts::list_users` as `GET
//! /users?q=` calls it), creating a user, and a user's page: the username, profile, roles and
//! attributes, disabling and enabling, unlocking, resetting the second factor, a password-reset
//! token, ending their sessions, deleting them, their API keys, and the services they have access
//! in.
//!
//! Each action calls the use case of its API twin as the signed-in admin; a tenant admin's user
//! of another tenant is the use case's `NotFound`, a 404 page, as `GET /users/{id}` answers 404.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::access::{Entry, Kind};
use tessera_domain::credentials::{ApiKey, CreateApiKey};
use tessera_domain::error::UserError;
use tessera_domain::password::Password;
use tessera_domain::principal::Principal;
use tessera_domain::usecases::UseCases;
use tessera_domain::user::{DisplayName, Email, Role, User, UserId};
use tessera_domain::users::{CreateUser, UpdateUser};

use crate::dto::parse_rfc3339;
use crate::pages::admin::{
    done, names, paging, path_id, path_text, when, Admin, Answer, Confirm, Errors, Fields, Nav,
    CHOICES, PAGE_SIZE,
};
use crate::pages::{Brand, Texts};
use crate::AppState;

/// The fields of the new-user form the errors can be said beside.
const NEW_USER_FIELDS: [&str; 6] = [
    "username",
    "password",
    "email",
    "display_name",
    "roles",
    "tenant",
];
/// The fields of a user's page the errors can be said beside: its profile form and its API-key
/// form.
const USER_FIELDS: [&str; 8] = [
    "username",
    "display_name",
    "email",
    "roles",
    "attributes",
    "name",
    "scopes",
    "expires_at",
];

/// One user in the list.
#[derive(Debug)]
struct UserRow {
    href: String,
    username: String,
    display_name: String,
    email: String,
    roles: String,
    active: bool,
    tenant: String,
}

/// A value a `<select>` offers.
#[derive(Debug)]
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    /// Entries of the model (tenants, services, roles, permissions) as choices: their ids, by
    /// name, the one of id `selected` chosen.
    pub(crate) fn of_entries(entries: &[Entry], selected: Option<i64>) -> Vec<Self> {
        entries
            .iter()
            .map(|e| Self {
                value: e.id.to_string(),
                label: e.name.clone(),
                selected: Some(e.id) == selected,
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    /// Where the search form goes: the users, or the API keys (which are the users' too).
    action: &'static str,
    /// The API-keys page: a user's keys are on their page, under `#api-keys`.
    for_keys: bool,
    q: String,
    rows: Vec<UserRow>,
    errors: Errors,
    /// The next page, and the first when this is not it.
    next: Option<String>,
    first: Option<String>,
}

/// What the new-user form holds.
#[derive(Debug, Default)]
struct NewUserValues {
    username: String,
    email: String,
    display_name: String,
    roles: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin/user_new.html")]
struct NewUserPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    v: NewUserValues,
    /// The tenant a global admin may put the user in; none for a tenant admin.
    tenants: Vec<Choice>,
    errors: Errors,
}

/// A user, as their page shows them.
#[derive(Debug)]
struct UserView {
    id: i64,
    username: String,
    active: bool,
    tenant: String,
    created: String,
    updated: String,
}

/// One live session of the user.
#[derive(Debug)]
struct SessionRow {
    created: String,
    last_used: String,
    expires: String,
    ip: String,
    api_key: bool,
}

/// One API key of the user, never the key itself.
#[derive(Debug)]
struct KeyRow {
    id: i64,
    name: String,
    prefix: String,
    scopes: String,
    created: String,
    expires: String,
    last_used: String,
}

/// What the profile form of a user's page holds: as stored, or as posted when refused.
#[derive(Debug, Default)]
struct Profile {
    username: String,
    display_name: String,
    email: String,
    roles: String,
    /// One `name=value` a line.
    attributes: String,
    /// The names of the attributes the page showed, space-separated: only these can be removed by
    /// leaving them out, so that one another admin set since is kept.
    attributes_shown: String,
}

/// What the API-key form of a user's page holds: empty, or as posted when refused.
#[derive(Debug, Default)]
struct KeyForm {
    name: String,
    scopes: String,
    expires_at: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    user: UserView,
    /// The user's attributes as stored, by name.
    attributes: Vec<(String, String)>,
    profile: Profile,
    key: KeyForm,
    sessions: Vec<SessionRow>,
    keys: Vec<KeyRow>,
    /// The services the user holds a grant in, with the page of their access in each.
    services: Vec<(String, String)>,
    /// Every service, to look at the user's access in one.
    all_services: Vec<Choice>,
    errors: Errors,
}

/// Everything a user's page shows, read as the admin.
struct UserData {
    user: User,
    tenant_name: Option<String>,
    sessions: Vec<tessera_domain::ports::SessionInfo>,
    keys: Vec<ApiKey>,
    services: Vec<Entry>,
    all_services: Vec<Entry>,
}

/// Roles (of a user, or the scopes of a key) as the console shows and takes them.
fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(Role::as_str).collect::<Vec<_>>().join(" ")
}

/// The user's display name, or the empty string.
fn display_name_text(user: &User) -> String {
    user.display_name
        .as_ref()
        .map(|d| d.as_str().to_owned())
        .unwrap_or_default()
}

/// The user's attributes as the profile form holds them: one `name=value` a line, by name.
fn attributes_text(user: &User) -> String {
    user.attributes
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The attributes the profile form holds: one `name=value` a line, blank lines skipped; the name
/// is what comes before the first `=`, the value everything after it, each without the spaces
/// around it. The numbers of the lines without `=`, when there are some.
fn attribute_lines(text: &str) -> Result<BTreeMap<String, String>, Vec<usize>> {
    let mut wanted = BTreeMap::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) => {
                wanted.insert(name.trim().to_owned(), value.trim().to_owned());
            }
            None => bad.push(i + 1),
        }
    }
    if bad.is_empty() {
        Ok(wanted)
    } else {
        Err(bad)
    }
}

/// The merge (as `PATCH /users/{id}` takes it) that turns the attributes `current` into `wanted`:
/// the names of `current` that `wanted` lacks removed (only those the page `shown`, when it says:
/// one set by someone else since the page was shown is kept), and what `wanted` has that differs
/// set. A stored value that differs only by the spaces around it (set through the API) is left as
/// it is, since the form drops them.
fn attribute_changes(
    current: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
    shown: Option<&BTreeSet<String>>,
) -> BTreeMap<String, Option<String>> {
    let mut changes: BTreeMap<String, Option<String>> = current
        .keys()
        .filter(|name| !wanted.contains_key(*name))
        .filter(|name| shown.is_none_or(|shown| shown.contains(*name)))
        .map(|name| (name.clone(), None))
        .collect();
    for (name, value) in wanted {
        if current.get(name).map(|v| v.trim()) != Some(value.as_str()) {
            changes.insert(name.clone(), Some(value.clone()));
        }
    }
    changes
}

/// The user's e-mail address, or the empty string.
fn email_text(user: &User) -> String {
    user.email
        .as_ref()
        .map(|e| e.as_str().to_owned())
        .unwrap_or_default()
}

/// The tenants a global admin can choose from, with `selected` chosen; none for a tenant admin,
/// whose users (and clients) are their tenant's.
pub(crate) fn tenant_choices(
    c: &UseCases,
    p: &Principal,
    selected: Option<i64>,
) -> Result<Vec<Choice>, UserError> {
    if !p.is_admin() {
        return Ok(Vec::new());
    }
    let page = c
        .access
        .list_entries(p, Kind::Tenant, Some(CHOICES), None)?;
    Ok(Choice::of_entries(&page.items, selected))
}

/// The name of tenant `id`, for a global admin (a tenant admin knows theirs by its id).
fn tenant_name(c: &UseCases, p: &Principal, id: i64) -> Option<String> {
    if !p.is_admin() {
        return None;
    }
    c.access.get_entry(p, Kind::Tenant, id).ok().map(|e| e.name)
}

/// `GET /admin/users?q=&after=`: a page of users, searched by a username or e-mail prefix.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    users_page(&req, &state, false).await.unwrap_or_else(|r| r)
}

/// `GET /admin/api-keys?q=&after=`: API keys belong to users; this finds the user whose keys to
/// see, create or delete on their page. (Service secrets are on each service's page.)
pub async fn api_keys(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    users_page(&req, &state, true).await.unwrap_or_else(|r| r)
}

async fn users_page(req: &HttpRequest, state: &AppState, for_keys: bool) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let query = Fields::of_query(req);
    let q = query.text("q").to_owned();
    let after = query.number("after");
    let prefix = q.clone();
    let found = admin
        .run(state, move |c, p| {
            let page = c
                .accounts
                .list_users(p, Some(PAGE_SIZE), after, Some(prefix.as_str()))?;
            let tenants = tenant_choices(c, p, None)?;
            Ok((page, tenants))
        })
        .await?;
    let (path, section) = if for_keys {
        ("/admin/api-keys", "api-keys")
    } else {
        ("/admin/users", "users")
    };
    let (rows, next_after, errors, status) = match found {
        Ok((page, tenants)) => {
            let t = admin.t();
            let rows: Vec<UserRow> = page
                .items
                .iter()
                .map(|u| UserRow {
                    href: if for_keys {
                        format!("/admin/users/{}#api-keys", u.id.0)
                    } else {
                        format!("/admin/users/{}", u.id.0)
                    },
                    username: u.username.as_str().to_owned(),
                    display_name: display_name_text(u),
                    email: email_text(u),
                    roles: roles_text(&u.roles),
                    active: u.active,
                    tenant: match u.tenant_id {
                        None => t.admin.no_tenant.to_owned(),
                        Some(id) => tenants
                            .iter()
                            .find(|c| c.value == id.0.to_string())
                            .map_or_else(|| id.0.to_string(), |c| c.label.clone()),
                    },
                })
                .collect();
            (rows, page.next_after, Errors::default(), StatusCode::OK)
        }
        Err(e) => {
            let errors = admin.form_errors(e, &["q"])?;
            (Vec::new(), None, errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let (next, first) = paging(path, &[("q", Some(q.as_str()))], after, next_after);
    Ok(admin.render(
        status,
        &UsersPage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav(section, query.get("done")),
            action: path,
            for_keys,
            q,
            rows,
            errors,
            next,
            first,
        },
    ))
}

/// `GET /admin/users/new`: the form of a new user.
pub async fn new_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    new_user_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn new_user_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    render_new_user(
        &admin,
        state,
        StatusCode::OK,
        NewUserValues {
            roles: Role::USER.to_owned(),
            active: true,
            ..NewUserValues::default()
        },
        None,
        Errors::default(),
    )
    .await
}

/// Renders the new-user form with `status`, holding `v`, the tenant `tenant` chosen (for a
/// global admin), and the `errors` of a refused one.
async fn render_new_user(
    admin: &Admin<'_>,
    state: &AppState,
    status: StatusCode,
    v: NewUserValues,
    tenant: Option<i64>,
    errors: Errors,
) -> Answer {
    let tenants = admin
        .fetch(state, move |c, p| tenant_choices(c, p, tenant))
        .await?;
    Ok(admin.render(
        status,
        &NewUserPage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav("users", None),
            v,
            tenants,
            errors,
        },
    ))
}

/// `POST /admin/users`: creates a user as `POST /users` does; the form again, with the problems
/// beside their fields, when refused.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    create_user(&req, &state, payload)
        .await
        .unwrap_or_else(|r| r)
}

async fn create_user(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let form = admin.form(req, state, payload).await?;
    let roles = names(form.text("roles"));
    let tenant = if admin.global() {
        form.number("tenant")
    } else {
        None
    };
    let request = CreateUser {
        username: form.text("username").trim().to_owned(),
        password: Password::new(form.text("password").to_owned()),
        email: form.filled("email").map(str::to_owned),
        display_name: form.filled("display_name").map(str::to_owned),
        roles: (!roles.is_empty()).then_some(roles),
        active: Some(form.checked("active")),
        tenant_id: tenant,
        attributes: None,
    };
    let created = admin
        .run_hashing(state, move |c, p| c.accounts.create_user(p, request))
        .await?;
    match created {
        Ok(user) => Ok(done(&format!("/admin/users/{}", user.id.0), "created")),
        Err(e) => {
            let errors = admin.form_errors(e, &NEW_USER_FIELDS)?;
            let posted = NewUserValues {
                username: form.text("username").to_owned(),
                email: form.text("email").to_owned(),
                display_name: form.text("display_name").to_owned(),
                roles: form.text("roles").to_owned(),
                active: form.checked("active"),
            };
            render_new_user(
                &admin,
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
                posted,
                tenant,
                errors,
            )
            .await
        }
    }
}

/// Reads everything a user's page shows, as the admin: `NotFound` for a user they cannot see.
fn user_data(c: &UseCases, p: &Principal, id: UserId) -> Result<UserData, UserError> {
    let user = c.accounts.get_user(p, id)?;
    let tenant_name = user.tenant_id.and_then(|t| tenant_name(c, p, t.0));
    let sessions = c.sessions.list_sessions(p, id)?;
    let keys = c.credentials.list_api_keys(p, id)?;
    let services = c.access.person_services(p, id)?;
    let all_services = c
        .access
        .list_entries(p, Kind::Service, Some(CHOICES), None)?
        .items;
    Ok(UserData {
        user,
        tenant_name,
        sessions,
        keys,
        services,
        all_services,
    })
}

/// `GET /admin/users/{id}`: a user's page.
pub async fn detail(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    user_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn user_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let id = user_id(&admin, req)?;
    let query = Fields::of_query(req);
    render_user(
        &admin,
        state,
        id,
        query.get("done"),
        None,
        KeyForm::default(),
        Errors::default(),
    )
    .await
}

/// The id of the user in the path; a 404 page when it is not a number.
fn user_id(admin: &Admin<'_>, req: &HttpRequest) -> Result<UserId, HttpResponse> {
    path_id(req, "id")
        .map(UserId)
        .ok_or_else(|| admin.refused(UserError::NotFound))
}

/// Renders user `id`'s page, its profile form holding `profile` when given (a refused form) and
/// else the user as stored, its key form holding `key`, and the `errors` of the form refused
/// beside its fields.
async fn render_user(
    admin: &Admin<'_>,
    state: &AppState,
    id: UserId,
    done: Option<&str>,
    profile: Option<Profile>,
    key: KeyForm,
    errors: Errors,
) -> Answer {
    let data = admin.fetch(state, move |c, p| user_data(c, p, id)).await?;
    let t = admin.t();
    let u = &data.user;
    let profile = profile.unwrap_or_else(|| Profile {
        username: u.username.as_str().to_owned(),
        display_name: display_name_text(u),
        email: email_text(u),
        roles: roles_text(&u.roles),
        attributes: attributes_text(u),
        attributes_shown: u
            .attributes
            .iter()
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
            .join(" "),
    });
    let status = errors.status();
    let never = t.admin.never;
    Ok(admin.render(
        status,
        &UserPage {
            t,
            brand: admin.brand(),
            nav: admin.nav("users", done),
            user: UserView {
                id: u.id.0,
                username: u.username.as_str().to_owned(),
                active: u.active,
                tenant: match (u.tenant_id, &data.tenant_name) {
                    (None, _) => t.admin.no_tenant.to_owned(),
                    (Some(_), Some(name)) => name.clone(),
                    (Some(id), None) => id.0.to_string(),
                },
                created: when(u.created_at),
                updated: when(u.updated_at),
            },
            attributes: u
                .attributes
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            profile,
            key,
            sessions: data
                .sessions
                .iter()
                .map(|s| SessionRow {
                    created: when(s.created_at),
                    last_used: when(s.last_used_at),
                    expires: when(s.expires_at),
                    ip: s.ip.clone().unwrap_or_default(),
                    api_key: s.api_key,
                })
                .collect(),
            keys: data
                .keys
                .iter()
                .map(|k| KeyRow {
                    id: k.id,
                    name: k.name.clone(),
                    prefix: k.prefix.clone(),
                    scopes: if k.scopes.is_empty() {
                        t.admin.all_roles.to_owned()
                    } else {
                        roles_text(&k.scopes)
                    },
                    created: when(k.created_at),
                    expires: k.expires_at.map_or_else(|| never.to_owned(), when),
                    last_used: k.last_used_at.map_or_else(|| never.to_owned(), when),
                })
                .collect(),
            services: data
                .services
                .iter()
                .map(|s| {
                    (
                        format!("/admin/users/{}/access?service_id={}", u.id.0, s.id),
                        s.name.clone(),
                    )
                })
                .collect(),
            all_services: Choice::of_entries(&data.all_services, None),
            errors,
        },
    ))
}

/// `POST /admin/users/{id}`: the profile form. Only what differs from the user as stored is
/// sent to `Accounts::update_user` (as a `PATCH /users/{id}` would), so the audit entry names what
/// changed; a username that differs, even only in case, renames the user; an empty e-mail or
/// display name clears it. The attributes are the form's whole set: a name no longer in it is
/// removed, and an empty field removes them all.
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    edit_user(&req, &state, payload).await.unwrap_or_else(|r| r)
}

async fn edit_user(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let id = user_id(&admin, req)?;
    let form = admin.form(req, state, payload).await?;
    // Without the field (a form of another version of the page), the username stays.
    let username = form.get("username").map(|u| u.trim().to_owned());
    let email = form.filled("email").map(str::to_owned);
    let display_name = form.filled("display_name").map(str::to_owned);
    let roles = names(form.text("roles"));
    // The names the page showed; without the field (a form of another version of the page), every
    // name left out is removed.
    let shown: Option<BTreeSet<String>> = form
        .get("attributes_shown")
        .map(|names| names.split_whitespace().map(str::to_owned).collect());
    // Without the field (a form of another version of the page), the attributes stay.
    let attributes = match form.get("attributes").map(attribute_lines) {
        None => None,
        Some(Ok(wanted)) => Some(wanted),
        Some(Err(bad)) => {
            let a = admin.t().admin;
            let mut errors = Errors::default();
            for n in bad {
                errors.add(
                    "attributes",
                    format!(
                        "{} {}",
                        (a.line)(n),
                        (a.rule)("attributes", "invalid_format")
                    ),
                );
            }
            return render_user(
                &admin,
                state,
                id,
                None,
                Some(posted_profile(&form)),
                KeyForm::default(),
                errors,
            )
            .await;
        }
    };
    let changed = admin
        .run(state, move |c, p| {
            let current = c.accounts.get_user(p, id)?;
            let mut update = UpdateUser::default();
            if username
                .as_deref()
                .is_some_and(|u| u != current.username.as_str())
            {
                update.username = username;
            }
            if current.email.as_ref().map(Email::as_str) != email.as_deref() {
                update.email = Some(email);
            }
            if current.display_name.as_ref().map(DisplayName::as_str) != display_name.as_deref() {
                update.display_name = Some(display_name);
            }
            let mut sorted = roles.clone();
            sorted.sort();
            sorted.dedup();
            let held: Vec<String> = current
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect();
            if sorted != held {
                update.roles = Some(roles);
            }
            if let Some(wanted) = &attributes {
                let changes =
                    attribute_changes(current.attributes.as_map(), wanted, shown.as_ref());
                if !changes.is_empty() {
                    update.attributes = Some(changes);
                }
            }
            if update.username.is_none()
                && update.email.is_none()
                && update.display_name.is_none()
                && update.roles.is_none()
                && update.attributes.is_none()
            {
                return Ok(());
            }
            c.accounts.update_user(p, id, update).map(|_| ())
        })
        .await?;
    match changed {
        Ok(()) => Ok(done(&format!("/admin/users/{}", id.0), "saved")),
        Err(e) => {
            let errors = admin.form_errors(e, &USER_FIELDS)?;
            render_user(
                &admin,
                state,
                id,
                None,
                Some(posted_profile(&form)),
                KeyForm::default(),
                errors,
            )
            .await
        }
    }
}

/// The profile form as posted.
fn posted_profile(form: &Fields) -> Profile {
    Profile {
        username: form.text("username").to_owned(),
        display_name: form.text("display_name").to_owned(),
        email: form.text("email").to_owned(),
        roles: form.text("roles").to_owned(),
        attributes: form.text("attributes").to_owned(),
        attributes_shown: form.text("attributes_shown").to_owned(),
    }
}

/// What an action of a user's page destroys or ends, and so asks about first: the question, what
/// it does, and its button.
fn asks(
    t: &'static Texts,
    action: &str,
    username: &str,
) -> Option<(String, &'static str, &'static str)> {
    let a = t.admin;
    match action {
        "disable" => Some((
            (a.disable_question)(username),
            a.disable_explained,
            a.disable,
        )),
        "mfa-reset" => Some((
            (a.mfa_reset_question)(username),
            a.mfa_reset_explained,
            a.mfa_reset,
        )),
        "end-sessions" => Some((
            (a.end_sessions_question)(username),
            a.end_sessions_explained,
            a.end_sessions,
        )),
        "delete" => Some((
            (a.delete_user_question)(username),
            a.delete_user_explained,
            a.delete,
        )),
        "delete-key" => Some((
            a.delete_key_question.to_owned(),
            a.delete_key_explained,
            a.delete,
        )),
        "revoke-role" => Some((
            a.revoke_role_question.to_owned(),
            a.revoke_role_explained,
            a.revoke,
        )),
        _ => None,
    }
}

/// The fields an action's confirmation posts back, besides `csrf` and `confirm`.
const ACTION_FIELDS: [&str; 3] = ["key", "service_id", "role_id"];

/// `GET /admin/users/{id}/{action}`: the confirmation page of an action that destroys or ends
/// something (`disable`, `mfa-reset`, `end-sessions`, `delete`, `delete-key?key=`,
/// `revoke-role?service_id=&role_id=`); 404 for any other.
pub async fn ask(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    ask_first(&req, &state, &Fields::of_query(&req))
        .await
        .unwrap_or_else(|r| r)
}

async fn ask_first(req: &HttpRequest, state: &AppState, fields: &Fields) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let id = user_id(&admin, req)?;
    let action = path_text(req, "action").to_owned();
    confirmation(&admin, state, id, &action, fields).await
}

/// The confirmation page of `action` on user `id` (who must be visible to the admin).
async fn confirmation(
    admin: &Admin<'_>,
    state: &AppState,
    id: UserId,
    action: &str,
    fields: &Fields,
) -> Answer {
    let user = admin
        .fetch(state, move |c, p| c.accounts.get_user(p, id))
        .await?;
    let Some((question, explained, button)) = asks(admin.t(), action, user.username.as_str())
    else {
        return Err(admin.refused(UserError::NotFound));
    };
    let back = if action == "revoke-role" {
        format!(
            "/admin/users/{}/access?service_id={}",
            id.0,
            fields.text("service_id")
        )
    } else {
        format!("/admin/users/{}", id.0)
    };
    Ok(admin.confirm(
        "users",
        Confirm {
            question,
            explained,
            action: format!("/admin/users/{}/{action}", id.0),
            button,
            back,
            hidden: ACTION_FIELDS
                .into_iter()
                .filter_map(|name| fields.get(name).map(|v| (name, v.to_owned())))
                .collect(),
        },
    ))
}

/// `POST /admin/users/{id}/{action}`: an action of a user's page, once confirmed when it destroys
/// or ends something (else its confirmation page). `enable`, `unlock`, `password-reset` (the
/// token shown once) and `api-key` (a new key, shown once) need no confirmation.
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    act_on_user(&req, &state, payload)
        .await
        .unwrap_or_else(|r| r)
}

async fn act_on_user(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let id = user_id(&admin, req)?;
    let form = admin.form(req, state, payload).await?;
    let action = path_text(req, "action").to_owned();
    let t = admin.t();
    let page = format!("/admin/users/{}", id.0);
    if asks(t, &action, "").is_some() && !form.confirmed() {
        return confirmation(&admin, state, id, &action, &form).await;
    }
    match action.as_str() {
        "disable" | "enable" => {
            let active = action == "enable";
            admin
                .fetch(state, move |c, p| {
                    let update = UpdateUser {
                        active: Some(active),
                        ..UpdateUser::default()
                    };
                    c.accounts.update_user(p, id, update)
                })
                .await?;
            Ok(done(&page, if active { "enabled" } else { "disabled" }))
        }
        "unlock" => {
            admin
                .fetch(state, move |c, p| c.accounts.unlock_user(p, id))
                .await?;
            Ok(done(&page, "unlocked"))
        }
        "mfa-reset" => {
            admin
                .fetch(state, move |c, p| c.second_factor.reset_mfa(p, id))
                .await?;
            Ok(done(&page, "mfa_reset"))
        }
        "end-sessions" => {
            admin
                .fetch(state, move |c, p| c.sessions.end_sessions(p, id))
                .await?;
            Ok(done(&page, "sessions_ended"))
        }
        "delete" => {
            admin
                .fetch(state, move |c, p| c.accounts.delete_user(p, id))
                .await?;
            Ok(done("/admin/users", "deleted"))
        }
        "password-reset" => {
            let issued = admin
                .fetch(state, move |c, p| c.recovery.issue_password_reset(p, id))
                .await?;
            Ok(admin.secret(
                "users",
                t.admin.reset_issued_title,
                &(t.admin.reset_issued_lead)(&when(issued.expires_at)),
                t.admin.reset_token_label,
                issued.token.expose(),
                &page,
            ))
        }
        "api-key" => create_key(&admin, state, id, &form).await,
        "delete-key" => {
            let Some(key) = form.number("key") else {
                return Err(admin.refused(UserError::NotFound));
            };
            admin
                .fetch(state, move |c, p| {
                    // A key of this user only: the page named them.
                    if !c
                        .credentials
                        .list_api_keys(p, id)?
                        .iter()
                        .any(|k| k.id == key)
                    {
                        return Err(UserError::NotFound);
                    }
                    c.credentials.delete_api_key(p, key)
                })
                .await?;
            Ok(done(&format!("{page}#api-keys"), "key_deleted"))
        }
        "revoke-role" => {
            let (Some(service), Some(role)) = (form.number("service_id"), form.number("role_id"))
            else {
                return Err(admin.refused(UserError::NotFound));
            };
            admin
                .fetch(state, move |c, p| {
                    c.access.revoke_role(p, id, service, role)
                })
                .await?;
            Ok(done(
                &format!("/admin/users/{}/access?service_id={service}", id.0),
                "revoked",
            ))
        }
        _ => Err(admin.refused(UserError::NotFound)),
    }
}

/// A new API key for user `id`, as `POST /users/{id}/api-keys` makes it: shown once; the user's
/// page again, with the problems beside the key form's fields, when refused.
async fn create_key(admin: &Admin<'_>, state: &AppState, id: UserId, form: &Fields) -> Answer {
    let t = admin.t();
    let mut errors = Errors::default();
    let expires_at = match form.filled("expires_at") {
        None => None,
        Some(raw) => {
            let parsed = parse_rfc3339(raw);
            if parsed.is_none() {
                errors.add_rule(t.admin, "expires_at", "invalid_format");
            }
            parsed
        }
    };
    let scopes = names(form.text("scopes"));
    let request = CreateApiKey {
        name: form.text("name").to_owned(),
        scopes: (!scopes.is_empty()).then_some(scopes),
        expires_at,
    };
    let outcome = if errors.any() {
        None
    } else {
        Some(
            admin
                .run(state, move |c, p| {
                    c.credentials.create_api_key(p, id, request)
                })
                .await?,
        )
    };
    match outcome {
        Some(Ok(issued)) => Ok(admin.secret(
            "users",
            t.admin.key_created_title,
            &(t.admin.key_created_lead)(&issued.key.name),
            t.admin.key_label,
            issued.secret.expose(),
            &format!("/admin/users/{}#api-keys", id.0),
        )),
        Some(Err(e)) => {
            let errors = admin.form_errors(e, &USER_FIELDS)?;
            render_user(admin, state, id, None, None, posted_key(form), errors).await
        }
        None => render_user(admin, state, id, None, None, posted_key(form), errors).await,
    }
}

/// The key form as posted.
fn posted_key(form: &Fields) -> KeyForm {
    KeyForm {
        name: form.text("name").to_owned(),
        scopes: form.text("scopes").to_owned(),
        expires_at: form.text("expires_at").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn attributes_are_read_one_name_value_a_line() {
        assert_eq!(
            attribute_lines("person_type=natural\r\n\r\n  note = a=b \r\nempty=\n"),
            Ok(map(&[
                ("empty", ""),
                ("note", "a=b"),
                ("person_type", "natural")
            ]))
        );
        assert_eq!(attribute_lines(""), Ok(BTreeMap::new()));
        assert_eq!(attribute_lines("a=1\nno sign\n\nnor here"), Err(vec![2, 4]));
    }

    #[test]
    fn the_change_sent_is_what_differs() {
        let current = map(&[
            ("keep", "1"),
            ("change", "2"),
            ("drop", "3"),
            ("spaced", " x "),
        ]);
        let wanted = map(&[
            ("keep", "1"),
            ("change", "two"),
            ("new", "4"),
            ("spaced", "x"),
        ]);
        let changes = attribute_changes(&current, &wanted, None);
        let expected: BTreeMap<String, Option<String>> =
            [("change", Some("two")), ("drop", None), ("new", Some("4"))]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
                .collect();
        assert_eq!(changes, expected);
        assert!(attribute_changes(&wanted, &wanted, None).is_empty());
        // A name the page did not show (set by another admin since) is not removed.
        let shown: BTreeSet<String> = ["keep", "change", "spaced"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let changes = attribute_changes(&current, &wanted, Some(&shown));
        assert!(!changes.contains_key("drop"), "{changes:?}");
        assert_eq!(changes.get("change"), Some(&Some("two".to_owned())));
    }
}
