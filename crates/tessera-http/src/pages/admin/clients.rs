//! OpenID Connect clients: the list, registering one (its secret shown once), a client's page
//! with its redirect URIs to edit, a new secret (shown once), and deleting it. Each calls the
//! `OAuthProvider` use case of its API twin (`/oauth/clients…`) as the signed-in admin: global
//! admins see every client, tenant admins their tenant's, and another tenant's client is a 404
//! page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::UserError;
use tessera_domain::oauth::{AuthMethod, ClientRequest, OAuthClient};

use crate::pages::admin::users::{tenant_choices, Choice};
use crate::pages::admin::{
    done, lines, paging, path_text, when, Admin, Answer, Confirm, Errors, Fields, Nav, PAGE_SIZE,
};
use crate::pages::{Brand, Texts};
use crate::AppState;

/// The fields of the registration form the errors can be said beside.
const CLIENT_FIELDS: [&str; 7] = [
    "client_name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "token_endpoint_auth_method",
    "scope",
    "tenant",
];

/// One client in the list.
#[derive(Debug)]
struct ClientRow {
    href: String,
    name: String,
    client_id: String,
    confidential: bool,
    first_party: bool,
    tenant: String,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    rows: Vec<ClientRow>,
    next: Option<String>,
    first: Option<String>,
}

/// What the registration form holds: the defaults, or as posted when refused.
#[derive(Debug)]
struct ClientValues {
    client_name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    refresh: bool,
    scope: String,
    first_party: bool,
}

#[derive(Template)]
#[template(path = "admin/client_new.html")]
struct NewClientPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    v: ClientValues,
    /// How a client may authenticate: the value, its words, whether chosen.
    methods: Vec<Choice>,
    tenants: Vec<Choice>,
    errors: Errors,
}

/// A client, as its page shows it.
#[derive(Debug)]
struct ClientView {
    client_id: String,
    name: String,
    method: &'static str,
    confidential: bool,
    grant_types: String,
    scope: String,
    tenant: String,
    created: String,
    updated: String,
}

/// What the edit form holds: as registered, or as posted when refused.
#[derive(Debug)]
struct EditValues {
    client_name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    first_party: bool,
}

#[derive(Template)]
#[template(path = "admin/client.html")]
struct ClientPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    client: ClientView,
    v: EditValues,
    errors: Errors,
}

/// How each authentication method is said.
fn method_words(t: &'static Texts, method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::ClientSecretBasic => t.admin.method_basic,
        AuthMethod::ClientSecretPost => t.admin.method_post,
        AuthMethod::None => t.admin.method_none,
    }
}

fn tenant_words(t: &'static Texts, client: &OAuthClient) -> String {
    client
        .tenant_id
        .map_or_else(|| t.admin.no_tenant.to_owned(), |id| id.0.to_string())
}

/// `GET /admin/clients?after=`: a page of the clients the admin administers.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    clients_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn clients_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let query = Fields::of_query(req);
    let after = query.number("after");
    let page = admin
        .fetch(state, move |c, p| {
            c.oauth.list_clients(p, Some(PAGE_SIZE), after)
        })
        .await?;
    let t = admin.t();
    let (next, first) = paging("/admin/clients", &[], after, page.next_after);
    Ok(admin.render(
        StatusCode::OK,
        &ClientsPage {
            t,
            brand: admin.brand(),
            nav: admin.nav("clients", query.get("done")),
            rows: page
                .items
                .iter()
                .map(|client| ClientRow {
                    href: format!("/admin/clients/{}", client.client_id),
                    name: client.client_name.clone(),
                    client_id: client.client_id.clone(),
                    confidential: client.auth_method.is_confidential(),
                    first_party: client.first_party,
                    tenant: tenant_words(t, client),
                })
                .collect(),
            next,
            first,
        },
    ))
}

/// The authentication methods as choices, `chosen` selected.
fn method_choices(t: &'static Texts, chosen: &str) -> Vec<Choice> {
    AuthMethod::ALL
        .into_iter()
        .map(|m| Choice {
            value: m.as_str().to_owned(),
            label: method_words(t, m).to_owned(),
            selected: m.as_str() == chosen,
        })
        .collect()
}

/// The tenants a global admin may register a client for; none for a tenant admin, whose clients
/// are their tenant's.
async fn tenant_options(
    admin: &Admin<'_>,
    state: &AppState,
    selected: Option<i64>,
) -> Result<Vec<Choice>, HttpResponse> {
    if !admin.global() {
        return Ok(Vec::new());
    }
    admin
        .fetch(state, move |c, p| tenant_choices(c, p, selected))
        .await
}

/// `GET /admin/clients/new`: the registration form.
pub async fn new_form(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    new_client_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn new_client_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    render_new_client(
        &admin,
        state,
        StatusCode::OK,
        ClientValues {
            client_name: String::new(),
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            refresh: false,
            scope: String::new(),
            first_party: false,
        },
        AuthMethod::ClientSecretBasic.as_str(),
        None,
        Errors::default(),
    )
    .await
}

/// Renders the registration form with `status`, holding `v`, the authentication method `method`
/// and the tenant `tenant` (for a global admin) chosen, and the `errors` of a refused one.
async fn render_new_client(
    admin: &Admin<'_>,
    state: &AppState,
    status: StatusCode,
    v: ClientValues,
    method: &str,
    tenant: Option<i64>,
    errors: Errors,
) -> Answer {
    let tenants = tenant_options(admin, state, tenant).await?;
    let t = admin.t();
    Ok(admin.render(
        status,
        &NewClientPage {
            t,
            brand: admin.brand(),
            nav: admin.nav("clients", None),
            v,
            methods: method_choices(t, method),
            tenants,
            errors,
        },
    ))
}

/// `POST /admin/clients`: registers a client as `POST /oauth/clients` does. A confidential
/// client's secret is on this answer alone; the form again, with the problems beside their
/// fields, when refused.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    register_client(&req, &state, payload)
        .await
        .unwrap_or_else(|r| r)
}

async fn register_client(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let form = admin.form(req, state, payload).await?;
    let t = admin.t();
    let tenant = if admin.global() {
        form.number("tenant")
    } else {
        None
    };
    let post_logout = lines(form.text("post_logout_redirect_uris"));
    let request = ClientRequest {
        client_name: form.text("client_name").to_owned(),
        redirect_uris: lines(form.text("redirect_uris")),
        post_logout_redirect_uris: (!post_logout.is_empty()).then_some(post_logout),
        grant_types: form
            .checked("refresh")
            .then(|| vec!["authorization_code".to_owned(), "refresh_token".to_owned()]),
        response_types: None,
        token_endpoint_auth_method: form.filled("auth_method").map(str::to_owned),
        scope: form.filled("scope").map(str::to_owned),
        first_party: Some(form.checked("first_party")),
        tenant_id: tenant,
    };
    let created = admin
        .run(state, move |c, p| c.oauth.create_client(p, &request))
        .await?;
    match created {
        Ok((client, Some(secret))) => Ok(admin.secret(
            "clients",
            t.admin.client_registered_title,
            &(t.admin.client_registered_lead)(&client.client_name, &client.client_id),
            t.admin.client_secret_label,
            secret.expose(),
            &format!("/admin/clients/{}", client.client_id),
        )),
        Ok((client, None)) => Ok(done(
            &format!("/admin/clients/{}", client.client_id),
            "created",
        )),
        Err(e) => {
            let errors = admin.form_errors(e, &CLIENT_FIELDS)?;
            let posted = ClientValues {
                client_name: form.text("client_name").to_owned(),
                redirect_uris: form.text("redirect_uris").to_owned(),
                post_logout_redirect_uris: form.text("post_logout_redirect_uris").to_owned(),
                refresh: form.checked("refresh"),
                scope: form.text("scope").to_owned(),
                first_party: form.checked("first_party"),
            };
            render_new_client(
                &admin,
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
                posted,
                form.text("auth_method"),
                tenant,
                errors,
            )
            .await
        }
    }
}

/// The client id in the path.
fn client_id(req: &HttpRequest) -> String {
    path_text(req, "client_id").to_owned()
}

/// `GET /admin/clients/{client_id}`: a client's page.
pub async fn detail(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    client_page(&req, &state).await.unwrap_or_else(|r| r)
}

async fn client_page(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let id = client_id(req);
    let query = Fields::of_query(req);
    render_client(
        &admin,
        state,
        id,
        query.get("done"),
        None,
        Errors::default(),
    )
    .await
}

/// Renders the page of client `id`, its form holding `posted` when given (a refused form, whose
/// `errors` are said beside its fields), else the client as registered.
async fn render_client(
    admin: &Admin<'_>,
    state: &AppState,
    id: String,
    done: Option<&str>,
    posted: Option<EditValues>,
    errors: Errors,
) -> Answer {
    let client = admin
        .fetch(state, move |c, p| c.oauth.get_client(p, &id))
        .await?;
    let t = admin.t();
    let v = posted.unwrap_or_else(|| EditValues {
        client_name: client.client_name.clone(),
        redirect_uris: client.redirect_uris.join("\n"),
        post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
        first_party: client.first_party,
    });
    Ok(admin.render(
        errors.status(),
        &ClientPage {
            t,
            brand: admin.brand(),
            nav: admin.nav("clients", done),
            client: ClientView {
                client_id: client.client_id.clone(),
                name: client.client_name.clone(),
                method: method_words(t, client.auth_method),
                confidential: client.auth_method.is_confidential(),
                grant_types: client.grant_types.join(" "),
                scope: client.scope.clone(),
                tenant: tenant_words(t, &client),
                created: when(client.created_at),
                updated: when(client.updated_at),
            },
            v,
            errors,
        },
    ))
}

/// `POST /admin/clients/{client_id}`: the edit form (name, redirect URIs, post-logout redirect
/// URIs, first party). `PUT /oauth/clients/{client_id}` replaces a whole registration, so the
/// rest is sent as registered (grant types, response types, scope); the use case keeps the
/// secret, the tenant and the authentication method.
pub async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    edit_client(&req, &state, payload)
        .await
        .unwrap_or_else(|r| r)
}

async fn edit_client(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let id = client_id(req);
    let form = admin.form(req, state, payload).await?;
    let name = form.text("client_name").to_owned();
    let redirect_uris = lines(form.text("redirect_uris"));
    let post_logout = lines(form.text("post_logout_redirect_uris"));
    let first_party = form.checked("first_party");
    let target = id.clone();
    let changed = admin
        .run(state, move |c, p| {
            let current = c.oauth.get_client(p, &target)?;
            let request = ClientRequest {
                client_name: name,
                redirect_uris,
                post_logout_redirect_uris: Some(post_logout),
                grant_types: Some(current.grant_types.clone()),
                response_types: Some(current.response_types.clone()),
                token_endpoint_auth_method: None,
                scope: Some(current.scope.clone()),
                first_party: Some(first_party),
                tenant_id: None,
            };
            c.oauth.update_client(p, &target, &request)
        })
        .await?;
    match changed {
        Ok(client) => Ok(done(
            &format!("/admin/clients/{}", client.client_id),
            "saved",
        )),
        Err(e) => {
            let errors = admin.form_errors(e, &CLIENT_FIELDS)?;
            let posted = EditValues {
                client_name: form.text("client_name").to_owned(),
                redirect_uris: form.text("redirect_uris").to_owned(),
                post_logout_redirect_uris: form.text("post_logout_redirect_uris").to_owned(),
                first_party,
            };
            render_client(&admin, state, id, None, Some(posted), errors).await
        }
    }
}

/// The confirmation of `action` (`secret`, `delete`) on client `id`, who must be the admin's.
async fn confirmation(admin: &Admin<'_>, state: &AppState, id: String, action: &str) -> Answer {
    let t = admin.t().admin;
    let target = id.clone();
    let client = admin
        .fetch(state, move |c, p| c.oauth.get_client(p, &target))
        .await?;
    let (question, explained, button) = match action {
        "secret" => (
            (t.rotate_secret_question)(&client.client_name),
            t.rotate_secret_explained,
            t.rotate_secret,
        ),
        "delete" => (
            (t.delete_client_question)(&client.client_name),
            t.delete_client_explained,
            t.delete,
        ),
        _ => return Err(admin.refused(UserError::NotFound)),
    };
    Ok(admin.confirm(
        "clients",
        Confirm {
            question,
            explained,
            action: format!("/admin/clients/{id}/{action}"),
            button,
            back: format!("/admin/clients/{id}"),
            hidden: Vec::new(),
        },
    ))
}

/// `GET /admin/clients/{client_id}/{action}`: the confirmation of a new secret (`secret`) or of
/// deleting the client (`delete`).
pub async fn ask(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    ask_first(&req, &state).await.unwrap_or_else(|r| r)
}

async fn ask_first(req: &HttpRequest, state: &AppState) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let action = path_text(req, "action");
    confirmation(&admin, state, client_id(req), action).await
}

/// `POST /admin/clients/{client_id}/{action}`, once confirmed: `secret` gives a confidential
/// client a new secret, shown once (`POST /oauth/clients/{client_id}/secret`); `delete` deletes
/// it and ends every session opened for it (`DELETE /oauth/clients/{client_id}`).
pub async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    act_on_client(&req, &state, payload)
        .await
        .unwrap_or_else(|r| r)
}

async fn act_on_client(req: &HttpRequest, state: &AppState, payload: web::Payload) -> Answer {
    let admin = Admin::enter(req, state).await?;
    let form = admin.form(req, state, payload).await?;
    let id = client_id(req);
    let action = path_text(req, "action");
    if !matches!(action, "secret" | "delete") {
        return Err(admin.refused(UserError::NotFound));
    }
    if !form.confirmed() {
        return confirmation(&admin, state, id, action).await;
    }
    let t = admin.t();
    let target = id.clone();
    if action == "delete" {
        admin
            .fetch(state, move |c, p| c.oauth.delete_client(p, &target))
            .await?;
        return Ok(done("/admin/clients", "deleted"));
    }
    let (client, secret) = admin
        .fetch(state, move |c, p| c.oauth.rotate_secret(p, &target))
        .await?;
    Ok(admin.secret(
        "clients",
        t.admin.new_secret_title,
        &(t.admin.new_secret_lead)(&client.client_name),
        t.admin.client_secret_label,
        secret.expose(),
        &format!("/admin/clients/{id}"),
    ))
}
