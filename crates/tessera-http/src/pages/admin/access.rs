//! The authorization model and tenants: services, roles and permissions (lists, creating,
//! deleting), the roles a service offers and the permissions of a role, a service's secret, the
//! grants of roles (and single permissions) to a person in a service, and what a person may do in
//! a service, shown as `POST /check-token` with that `service_id` answers it. Tenants, for global
//! admins, share the pages of the model's entries.
//!
//! Each page calls the `AccessModel` (or `Credentials`) use case of its API twin as the signed-in
//! admin: a tenant admin reads the model and grants to their tenant's people, and the use cases
//! refuse them the rest (a 403 page).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::access::{Entry, EntryRequest, Kind, Link, PermissionRef};
use tessera_domain::error::UserError;
use tessera_domain::user::UserId;

use crate::pages::admin::users::Choice;
use crate::pages::admin::{
    done, paging, path_id, path_text, when, Admin, Answer, Confirm, Errors, Fields, Nav, CHOICES,
    PAGE_SIZE,
};
use crate::pages::{Brand, Texts};
use crate::AppState;

/// The fields of an entry's form the errors can be said beside.
const ENTRY_FIELDS: [&str; 2] = ["name", "description"];
/// The fields of the grant forms the errors can be said beside.
const GRANT_FIELDS: [&str; 3] = ["role", "permission", "service"];

/// A kind of entry as its pages name it in their paths.
fn kind_of(segment: &str) -> Option<Kind> {
    match segment {
        "services" => Some(Kind::Service),
        "roles" => Some(Kind::Role),
        "permissions" => Some(Kind::Permission),
        _ => None,
    }
}

/// Where the pages of a kind are.
fn base_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Service => "/admin/access/services",
        Kind::Role => "/admin/access/roles",
        Kind::Permission => "/admin/access/permissions",
        Kind::Tenant => "/admin/tenants",
    }
}

/// The section of the navigation a kind's pages are in.
fn section_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Tenant => "tenants",
        _ => "access",
    }
}

/// The kind's name in the page's words (plural, as a heading).
fn kind_words(t: &'static Texts, kind: Kind) -> &'static str {
    match kind {
        Kind::Service => t.admin.services,
        Kind::Role => t.admin.roles,
        Kind::Permission => t.admin.permissions,
        Kind::Tenant => t.admin.tenants,
    }
}

/// One entry of a list.
#[derive(Debug)]
struct EntryRow {
    href: Option<String>,
    id: i64,
    name: String,
    description: String,
    active: bool,
    created: String,
}

fn entry_row(entry: &Entry, base: &str, linked: bool) -> EntryRow {
    EntryRow {
        href: linked.then(|| format!("{base}/{}", entry.id)),
        id: entry.id,
        name: entry.name.clone(),
        description: entry.description.clone().unwrap_or_default(),
        active: entry.active,
        created: when(entry.created_at),
    }
}

#[derive(Template)]
#[template(path = "admin/access.html")]
struct OverviewPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
}

/// `GET /admin/access`: the parts of the model.
pub async fn overview(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let admin = match Admin::enter(&req, &state).await {
        Ok(admin) => admin,
        Err(res) => return res,
    };
    admin.render(
        StatusCode::OK,
        &OverviewPage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav("access", None),
        },
    )
}

#[derive(Template)]
#[template(path = "admin/entries.html")]
struct EntriesPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    heading: &'static str,
    /// Where the list is, and where its form posts.
    base: &'static str,
    /// Services have a state (active or disabled).
    services: bool,
    rows: Vec<EntryRow>,
    name: String,
    description: String,
    errors: Errors,
    next: Option<String>,
    first: Option<String>,
}

/// The kind in the path of `req`; a 404 page for another segment.
fn path_kind(admin: &Admin<'_>, req: &HttpRequest) -> Result<Kind, HttpResponse> {
    req.match_info()
        .get("kind")
        .and_then(kind_of)
        .ok_or_else(|| admin.refused(UserError::NotFound))
}

/// The kind of a handler that serves one (`Some(Kind::Tenant)` for the tenants' pages), else the
/// kind in the path of `req`; a 404 page for another segment.
fn kind_or_path(
    admin: &Admin<'_>,
    req: &HttpRequest,
    kind: Option<Kind>,
) -> Result<Kind, HttpResponse> {
    match kind {
        Some(kind) => Ok(kind),
        None => path_kind(admin, req),
    }
}

/// `GET /admin/access/{kind}?after=`: a page of services, roles or permissions, with the form of
/// a new one.
pub async fn entries(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    entries_of(&req, &state, None).await.unwrap_or_else(|r| r)
}

/// `GET /admin/tenants?after=`: a page of tenants, with the form of a new one.
pub async fn tenants(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    entries_of(&req, &state, Some(Kind::Tenant))
        .await
        .unwrap_or_else(|r| r)
}

async fn entries_of(req: &HttpRequest, state: &AppState, kind: Option<Kind>) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let kind = kind_or_path(&admin, req, kind)?;
    let query = Fields::of_query(req);
    render_entries(
        &admin,
        state,
        kind,
        query.number("after"),
        query.get("done"),
        (String::new(), String::new()),
        Errors::default(),
    )
    .await
}

/// Renders the list of `kind` from `after`, its form holding `form` (name, description) and the
/// `errors` of a refused one.
async fn render_entries(
    admin: &Admin<'_>,
    state: &AppState,
    kind: Kind,
    after: Option<i64>,
    done: Option<&str>,
    form: (String, String),
    errors: Errors,
) -> Answer {
    let page = admin
        .fetch(state, move |c, p| {
            c.access.list_entries(p, kind, Some(PAGE_SIZE), after)
        })
        .await?;
    let t = admin.t();
    let base = base_of(kind);
    let (next, first) = paging(base, &[], after, page.next_after);
    Ok(admin.render(
        errors.status(),
        &EntriesPage {
            t,
            brand: admin.brand(),
            nav: admin.nav(section_of(kind), done),
            heading: kind_words(t, kind),
            base,
            services: kind == Kind::Service,
            rows: page
                .items
                .iter()
                .map(|e| entry_row(e, base, kind != Kind::Tenant))
                .collect(),
            name: form.0,
            description: form.1,
            errors,
            next,
            first,
        },
    ))
}

/// `POST /admin/access/{kind}`: a new service, role or permission, as `POST /services` (and so
/// on) makes it.
pub async fn create_entry(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    create(&req, &state, payload, None)
        .await
        .unwrap_or_else(|r| r)
}

/// `POST /admin/tenants`: a new tenant, as `POST /tenants` makes it.
pub async fn create_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    create(&req, &state, payload, Some(Kind::Tenant))
        .await
        .unwrap_or_else(|r| r)
}

async fn create(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    kind: Option<Kind>,
) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let kind = kind_or_path(&admin, req, kind)?;
    let form = admin.form(req, state, payload).await?;
    let request = EntryRequest {
        name: form.text("name").trim().to_owned(),
        description: form.filled("description").map(str::to_owned),
        active: None,
    };
    let created = admin
        .run(state, move |c, p| c.access.create_entry(p, kind, &request))
        .await?;
    match created {
        Ok(_) if kind == Kind::Tenant => Ok(done(base_of(kind), "created")),
        Ok(entry) => Ok(done(&format!("{}/{}", base_of(kind), entry.id), "created")),
        Err(e) => {
            let errors = admin.form_errors(e, &ENTRY_FIELDS)?;
            render_entries(
                &admin,
                state,
                kind,
                None,
                None,
                (
                    form.text("name").to_owned(),
                    form.text("description").to_owned(),
                ),
                errors,
            )
            .await
        }
    }
}

/// The link of an entry's page, and the field its form names the other end by: the roles a
/// service offers, the permissions of a role.
fn link_of(kind: Kind) -> Option<(Link, &'static str)> {
    match kind {
        Kind::Service => Some((Link::ServiceRole, "role")),
        Kind::Role => Some((Link::RolePermission, "permission")),
        Kind::Permission | Kind::Tenant => None,
    }
}

#[derive(Template)]
#[template(path = "admin/entry.html")]
struct EntryPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    heading: &'static str,
    base: &'static str,
    entry: EntryRow,
    /// A service: its state and its secret.
    service: bool,
    /// The field of the link form (`role`, `permission`), when the kind has links.
    link_field: Option<&'static str>,
    /// The heading of the linked entries (the roles offered, the permissions).
    linked_heading: &'static str,
    /// The linked entries, when the admin may read links (global admins).
    linked: Option<Vec<EntryRow>>,
    /// What can be linked.
    linkable: Vec<Choice>,
    errors: Errors,
}

/// An entry, its linked entries when the admin may read them, and what can be linked.
struct EntryData {
    entry: Entry,
    linked: Option<Vec<Entry>>,
    linkable: Vec<Entry>,
}

/// The id in the path; a 404 page when it is not a number.
fn entry_id(admin: &Admin<'_>, req: &HttpRequest) -> Result<i64, HttpResponse> {
    path_id(req, "id").ok_or_else(|| admin.refused(UserError::NotFound))
}

/// `GET /admin/access/{kind}/{id}`: a service's, role's or permission's page.
pub async fn entry(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    entry_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn entry_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let kind = path_kind(&admin, req)?;
    let id = entry_id(&admin, req)?;
    let query = Fields::of_query(req);
    render_entry(
        &admin,
        state,
        kind,
        id,
        query.get("done"),
        Errors::default(),
    )
    .await
}

async fn render_entry(
    admin: &Admin<'_>,
    state: &AppState,
    kind: Kind,
    id: i64,
    done: Option<&str>,
    errors: Errors,
) -> Answer {
    let data = admin
        .fetch(state, move |c, p| {
            let entry = c.access.get_entry(p, kind, id)?;
            let (linked, linkable) = match link_of(kind) {
                None => (None, Vec::new()),
                Some((link, _)) => {
                    // Reading links is managing the model: a tenant admin sees the entry alone.
                    let linked = match c.access.linked(p, link, id) {
                        Ok(linked) => Some(linked),
                        Err(UserError::Forbidden(_)) => None,
                        Err(e) => return Err(e),
                    };
                    let other = link.kinds().1;
                    let linkable = if linked.is_some() {
                        c.access.list_entries(p, other, Some(CHOICES), None)?.items
                    } else {
                        Vec::new()
                    };
                    (linked, linkable)
                }
            };
            Ok(EntryData {
                entry,
                linked,
                linkable,
            })
        })
        .await?;
    let t = admin.t();
    let base = base_of(kind);
    let link = link_of(kind);
    let other_base = link.map_or(base, |(l, _)| base_of(l.kinds().1));
    Ok(admin.render(
        errors.status(),
        &EntryPage {
            t,
            brand: admin.brand(),
            nav: admin.nav("access", done),
            heading: kind_words(t, kind),
            base,
            entry: entry_row(&data.entry, base, false),
            service: kind == Kind::Service,
            link_field: link.map(|(_, field)| field),
            linked_heading: match kind {
                Kind::Service => t.admin.roles_offered,
                _ => t.admin.permissions_of_role,
            },
            linked: data.linked.as_ref().map(|linked| {
                linked
                    .iter()
                    .map(|e| entry_row(e, other_base, true))
                    .collect()
            }),
            linkable: Choice::of_entries(&data.linkable, None),
            errors,
        },
    ))
}

/// What an action of an entry's page destroys or ends, and so asks about first.
fn asks(
    t: &'static Texts,
    kind: Kind,
    action: &str,
    name: &str,
) -> Option<(String, &'static str, &'static str)> {
    let a = t.admin;
    match (kind, action) {
        (_, "delete") => Some((
            (a.delete_entry_question)(name),
            match kind {
                Kind::Tenant => a.delete_tenant_explained,
                _ => a.delete_entry_explained,
            },
            a.delete,
        )),
        (Kind::Service | Kind::Role, "unlink") => {
            Some((a.unlink_question.to_owned(), a.unlink_explained, a.remove))
        }
        (Kind::Service, "secret") => Some((
            (a.service_secret_question)(name),
            a.service_secret_explained,
            a.issue_secret,
        )),
        (Kind::Service, "revoke-secret") => Some((
            (a.revoke_secret_question)(name),
            a.revoke_secret_explained,
            a.revoke,
        )),
        _ => None,
    }
}

/// The confirmation of `action` on entry `id` of `kind`.
async fn confirmation(
    admin: &Admin<'_>,
    state: &AppState,
    kind: Kind,
    id: i64,
    action: &str,
    fields: &Fields,
) -> Answer {
    let entry = admin
        .fetch(state, move |c, p| c.access.get_entry(p, kind, id))
        .await?;
    let Some((question, explained, button)) = asks(admin.t(), kind, action, &entry.name) else {
        return Err(admin.refused(UserError::NotFound));
    };
    let base = base_of(kind);
    let back = if kind == Kind::Tenant {
        base.to_owned()
    } else {
        format!("{base}/{id}")
    };
    let field = link_of(kind).map(|(_, field)| field);
    Ok(admin.confirm(
        section_of(kind),
        Confirm {
            question,
            explained,
            action: format!("{base}/{id}/{action}"),
            button,
            back,
            hidden: field
                .and_then(|f| fields.get(f).map(|v| (f, v.to_owned())))
                .into_iter()
                .collect(),
        },
    ))
}

/// `GET /admin/access/{kind}/{id}/{action}`: the confirmation of deleting the entry (`delete`),
/// removing a link (`unlink?role=` or `?permission=`), a new service secret (`secret`) or
/// revoking it (`revoke-secret`).
pub async fn ask(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    ask_first(&req, &state, None).await.unwrap_or_else(|r| r)
}

/// `GET /admin/tenants/{id}/{action}`: the confirmation of deleting a tenant (`delete`).
pub async fn ask_tenant(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    ask_first(&req, &state, Some(Kind::Tenant))
        .await
        .unwrap_or_else(|r| r)
}

async fn ask_first(req: &HttpRequest, state: &AppState, kind: Option<Kind>) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let kind = kind_or_path(&admin, req, kind)?;
    let id = entry_id(&admin, req)?;
    let action = path_text(req, "action");
    confirmation(&admin, state, kind, id, action, &Fields::of_query(req)).await
}

/// `POST /admin/access/{kind}/{id}/{action}`: `link` (no confirmation: it adds), and, once
/// confirmed, `delete`, `unlink`, `secret` (a new service secret, shown once, replacing the old)
/// and `revoke-secret`.
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    act_on(&req, &state, payload, None)
        .await
        .unwrap_or_else(|r| r)
}

/// `POST /admin/tenants/{id}/{action}`: `delete`, once confirmed (`DELETE /tenants/{id}`; a
/// tenant with users or clients cannot go).
pub async fn act_tenant(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    act_on(&req, &state, payload, Some(Kind::Tenant))
        .await
        .unwrap_or_else(|r| r)
}

async fn act_on(
    req: &HttpRequest,
    state: &AppState,
    payload: web::Payload,
    kind: Option<Kind>,
) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let kind = kind_or_path(&admin, req, kind)?;
    let id = entry_id(&admin, req)?;
    let form = admin.form(req, state, payload).await?;
    let action = path_text(req, "action");
    let base = base_of(kind);
    let page = format!("{base}/{id}");
    if action == "link" {
        let Some((link, field)) = link_of(kind) else {
            return Err(admin.refused(UserError::NotFound));
        };
        let Some(right) = form.number(field) else {
            let mut errors = Errors::default();
            errors.add_rule(admin.t().admin, field, "required");
            return render_entry(&admin, state, kind, id, None, errors).await;
        };
        let linked = admin
            .run(state, move |c, p| c.access.link(p, link, id, right))
            .await?;
        return match linked {
            Ok(()) => Ok(done(&page, "linked")),
            Err(e) => {
                let errors = admin.form_errors(e, &["role", "permission"])?;
                render_entry(&admin, state, kind, id, None, errors).await
            }
        };
    }
    if asks(admin.t(), kind, action, "").is_none() {
        return Err(admin.refused(UserError::NotFound));
    }
    if !form.confirmed() {
        return confirmation(&admin, state, kind, id, action, &form).await;
    }
    match action {
        "delete" => {
            admin
                .fetch(state, move |c, p| c.access.delete_entry(p, kind, id))
                .await?;
            Ok(done(base, "deleted"))
        }
        "unlink" => {
            let Some((link, field)) = link_of(kind) else {
                return Err(admin.refused(UserError::NotFound));
            };
            let Some(right) = form.number(field) else {
                return Err(admin.refused(UserError::NotFound));
            };
            admin
                .fetch(state, move |c, p| c.access.unlink(p, link, id, right))
                .await?;
            Ok(done(&page, "unlinked"))
        }
        "secret" => {
            let issued = admin
                .fetch(state, move |c, p| {
                    let service = c.access.get_entry(p, Kind::Service, id)?;
                    let issued = c.credentials.issue_service_secret(p, id)?;
                    Ok((service, issued))
                })
                .await?;
            let (service, issued) = issued;
            let t = admin.t();
            Ok(admin.secret(
                "access",
                t.admin.service_secret_title,
                &(t.admin.service_secret_lead)(&service.name, service.id),
                t.admin.service_secret_label,
                issued.secret.expose(),
                &page,
            ))
        }
        "revoke-secret" => {
            admin
                .fetch(state, move |c, p| {
                    c.credentials.revoke_service_secret(p, id)
                })
                .await?;
            Ok(done(&page, "secret_revoked"))
        }
        _ => Err(admin.refused(UserError::NotFound)),
    }
}

#[derive(Template)]
#[template(path = "admin/person_access.html")]
struct PersonAccessPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    user_id: i64,
    username: String,
    service_id: i64,
    service: String,
    /// The roles granted in the service, with the way to revoke each.
    roles: Vec<EntryRow>,
    permissions: Vec<String>,
    /// What `POST /check-token` with this `service_id` answers for a token of the user.
    check_token: String,
    role_choices: Vec<Choice>,
    permission_choices: Vec<Choice>,
    errors: Errors,
}

/// A person's access in a service, and what can be granted to them.
struct AccessData {
    access: tessera_domain::access::PersonAccess,
    roles: Vec<Entry>,
    permissions: Vec<Entry>,
}

/// `GET /admin/users/{id}/access?service_id=`: the person's roles and effective permissions in
/// the service (`AccessModel::person_access`, as `GET /people/{id}/services/{service_id}`), what
/// check-token answers for them there, and the forms that grant a role or a permission.
pub async fn person_access(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    person_access_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn person_access_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let person = entry_id(&admin, req)?;
    let query = Fields::of_query(req);
    let Some(service) = query.number("service_id") else {
        return Err(admin.refused(UserError::NotFound));
    };
    render_access(
        &admin,
        state,
        UserId(person),
        service,
        query.get("done"),
        Errors::default(),
    )
    .await
}

/// What `POST /check-token` with `service_id` answers for a live token of the person: the
/// `TokenCheck` of `Credentials::check_token` (whose permissions are these), or its refusal for a
/// disabled service or account. The token's own fields (`expires_at`) are left out.
fn check_token_answer(access: &tessera_domain::access::PersonAccess) -> String {
    let answer = if !access.user.active {
        serde_json::json!({"valid": false, "error": "account_disabled"})
    } else if !access.service.active {
        serde_json::json!({"valid": false, "error": "unknown_service"})
    } else {
        serde_json::json!({
            "valid": true,
            "user_id": access.user.id.0,
            "username": access.user.username.as_str(),
            "roles": access.user.roles.iter().map(tessera_domain::user::Role::as_str).collect::<Vec<_>>(),
            "permissions": access.permissions,
        })
    };
    serde_json::to_string_pretty(&answer).unwrap_or_default()
}

async fn render_access(
    admin: &Admin<'_>,
    state: &AppState,
    person: UserId,
    service: i64,
    done: Option<&str>,
    errors: Errors,
) -> Answer {
    let data = admin
        .fetch(state, move |c, p| {
            let access = c.access.person_access(p, person, service)?;
            let roles = c
                .access
                .list_entries(p, Kind::Role, Some(CHOICES), None)?
                .items;
            let permissions = c
                .access
                .list_entries(p, Kind::Permission, Some(CHOICES), None)?
                .items;
            Ok(AccessData {
                access,
                roles,
                permissions,
            })
        })
        .await?;
    let access = &data.access;
    Ok(admin.render(
        errors.status(),
        &PersonAccessPage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav("users", done),
            user_id: person.0,
            username: access.user.username.as_str().to_owned(),
            service_id: service,
            service: access.service.name.clone(),
            roles: access
                .roles
                .iter()
                .map(|r| entry_row(r, base_of(Kind::Role), true))
                .collect(),
            permissions: access.permissions.clone(),
            check_token: check_token_answer(access),
            role_choices: Choice::of_entries(&data.roles, None),
            permission_choices: Choice::of_entries(&data.permissions, None),
            errors,
        },
    ))
}

/// `POST /admin/users/{id}/access`: grants the person a role in the service (`grant=role`,
/// `POST /person-service-roles`) or one permission directly (`grant=permission`, `POST
/// /person-service-permissions`); the page again with the problem beside its field when refused.
pub async fn grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    grant_to(&req, &state, payload).await.unwrap_or_else(|r| r)
}

async fn grant_to(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let person = UserId(entry_id(&admin, req)?);
    let form = admin.form(req, state, payload).await?;
    let Some(service) = form.number("service_id") else {
        return Err(admin.refused(UserError::NotFound));
    };
    let what = if form.get("grant") == Some("permission") {
        "permission"
    } else {
        "role"
    };
    let Some(chosen) = form.number(what) else {
        let mut errors = Errors::default();
        errors.add_rule(admin.t().admin, what, "required");
        return render_access(&admin, state, person, service, None, errors).await;
    };
    let granted = admin
        .run(state, move |c, p| {
            if what == "permission" {
                c.access
                    .grant_permission(p, person, service, PermissionRef::Id(chosen))
            } else {
                c.access.grant_role(p, person, service, chosen)
            }
        })
        .await?;
    match granted {
        Ok(()) => Ok(done(
            &format!("/admin/users/{}/access?service_id={service}", person.0),
            "granted",
        )),
        Err(e) => {
            let errors = admin.form_errors(e, &GRANT_FIELDS)?;
            render_access(&admin, state, person, service, None, errors).await
        }
    }
}
