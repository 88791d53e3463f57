//! The admin console, `/admin`: pages for global admins and tenant admins over the same use cases
//! as the API. A page decides nothing: it calls the use case the API route calls, as the
//! signed-in principal, and shows what it answers, so what an admin may not do through the API
//! they cannot do here either (a tenant admin sees their tenant's users and clients; another
//! tenant's user in a URL is the use case's `NotFound`, a 404 page).
//!
//! Every page needs a browser signed in as an admin or a tenant admin (`Admin::enter`: others get
//! a 403 page); every form posts the session's CSRF token (`guard::check_csrf`); an action that
//! destroys or ends something asks first on a page of its own (`confirm.html`), whose form says
//! `confirm=yes`. A change ends with a 303 back to a page that says it was done (`?done=`); a
//! secret made by a change (a client secret, a reset token, a key) is shown on the answer to that
//! post alone, never again.
//!
//! Every word is in `texts::AdminTexts`; the pages extend `admin/base.html`, which puts the
//! navigation above them.

pub mod access;
pub mod audit;
pub mod clients;
pub mod node;
pub mod users;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use tessera_domain::error::{FieldErrors, UserError};
use tessera_domain::principal::Principal;
use tessera_domain::time::UnixTime;
use tessera_domain::usecases::UseCases;

use crate::dto::rfc3339;
use crate::error::ApiError;
pub(crate) use crate::pages::fields::Fields;
use crate::pages::guard::{check_csrf, signed_in, SignedIn};
use crate::pages::texts::AdminTexts;
use crate::pages::{error_page, failure, respond, Brand, Texts, Ui};
use crate::AppState;

/// What a page handler answers: the page, or another answer (a redirect, a refusal) it met first.
pub(crate) type Answer = Result<HttpResponse, HttpResponse>;

/// How many rows a list shows at once.
pub(crate) const PAGE_SIZE: u32 = 25;
/// How many entries a choice (a `<select>`) offers at most: the API's largest page.
pub(crate) const CHOICES: u32 = 500;
/// The value of `confirm` that says the admin confirmed on the console's own page.
const CONFIRMED: &str = "yes";

impl Fields {
    /// Whether the admin confirmed on the confirmation page.
    pub(crate) fn confirmed(&self) -> bool {
        self.get("confirm") == Some(CONFIRMED)
    }
}

/// The lines of a text area, trimmed, without the empty ones.
pub(crate) fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Role names as an admin types them: separated by commas or spaces.
pub(crate) fn names(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A time as the console shows it: RFC 3339, in UTC.
pub(crate) fn when(t: UnixTime) -> String {
    rfc3339(t)
}

/// The id in the path segment `name` of `req`, when it is a whole number.
pub(crate) fn path_id(req: &HttpRequest, name: &str) -> Option<i64> {
    req.match_info().get(name).and_then(|v| v.parse().ok())
}

/// `path` with `query` added (pairs whose value is `None` or empty are left out), after the query
/// `path` may have and before its fragment.
pub(crate) fn href(path: &str, query: &[(&str, Option<&str>)]) -> String {
    let (path, fragment) = match path.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (path, None),
    };
    let mut q = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in query {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            q.append_pair(name, v);
            any = true;
        }
    }
    let mut out = path.to_owned();
    if any {
        out.push(if path.contains('?') { '&' } else { '?' });
        out.push_str(&q.finish());
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// The paging links of a list at `path` filtered by `query`, shown from `after`: the next page
/// (from `next_after` of the page shown; none on the last), and the first when this is not it.
pub(crate) fn paging(
    path: &str,
    query: &[(&str, Option<&str>)],
    after: Option<i64>,
    next_after: Option<i64>,
) -> (Option<String>, Option<String>) {
    let next = next_after.map(|n| {
        let n = n.to_string();
        let mut query: Vec<(&str, Option<&str>)> = query.to_vec();
        query.push(("after", Some(n.as_str())));
        href(path, &query)
    });
    let first = after.map(|_| href(path, query));
    (next, first)
}

/// The segment `name` of the path of `req`, or the empty string.
pub(crate) fn path_text<'r>(req: &'r HttpRequest, name: &str) -> &'r str {
    req.match_info().get(name).unwrap_or_default()
}

/// 303 to `location`: the answer to a change, so that reloading the page does not post again.
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// `path` with `?done=what`, the page that says a change was done.
pub(crate) fn done(path: &str, what: &str) -> HttpResponse {
    see_other(&href(path, &[("done", Some(what))]))
}

/// One link of the navigation.
#[derive(Debug)]
pub(crate) struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What `admin/base.html` shows above every page: the navigation, who is signed in (with a
/// button that signs out), and what the last change did.
#[derive(Debug)]
pub(crate) struct Nav {
    pub items: Vec<NavItem>,
    pub username: String,
    /// The session's CSRF token, for the "Sign out" form.
    pub csrf: String,
    /// "All tenants", or the tenant a tenant admin administers.
    pub scope: String,
    /// What the last change did, from `?done=`.
    pub notice: Option<&'static str>,
}

/// One problem of a form, said beside its field.
#[derive(Debug)]
struct FieldProblem {
    field: String,
    words: String,
}

/// The problems of a form in words: beside their fields, or above the form for those that are no
/// field's (`general`).
#[derive(Debug, Default)]
pub(crate) struct Errors {
    fields: Vec<FieldProblem>,
    pub general: Vec<String>,
}

impl Errors {
    /// The problems of `fields`, in the words of `t`: those of a field the form `shows` beside
    /// it, the others above the form. A problem of one line of a list (`redirect_uris[2]`) is
    /// said beside the list, with the line's number.
    pub(crate) fn of(t: &AdminTexts, fields: &FieldErrors, shows: &[&str]) -> Self {
        let mut errors = Self::default();
        for (field, rules) in fields.iter() {
            let (base, line) = match field.split_once('[') {
                Some((base, rest)) => (
                    base,
                    rest.trim_end_matches(']')
                        .parse::<usize>()
                        .ok()
                        .map(|i| i + 1),
                ),
                None => (field, None),
            };
            let mut words: Vec<String> = rules
                .iter()
                .map(|rule| (t.rule)(base, rule).to_owned())
                .collect();
            if let Some(n) = line {
                words.insert(0, (t.line)(n));
            }
            let words = words.join(" ");
            if shows.contains(&base) {
                errors.add(base, words);
            } else {
                errors.general.push(words);
            }
        }
        errors
    }

    /// Adds `words` beside `field`.
    pub(crate) fn add(&mut self, field: &str, words: String) {
        match self.fields.iter_mut().find(|p| p.field == field) {
            Some(p) => {
                p.words.push(' ');
                p.words.push_str(&words);
            }
            None => self.fields.push(FieldProblem {
                field: field.to_owned(),
                words,
            }),
        }
    }

    /// Adds beside `field` the words of its `rule`, broken.
    pub(crate) fn add_rule(&mut self, t: &AdminTexts, field: &str, rule: &str) {
        self.add(field, (t.rule)(field, rule).to_owned());
    }

    /// Whether `field` has a problem.
    pub fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|p| p.field == field)
    }

    /// The problems of `field` in words, or the empty string.
    pub fn of_field(&self, field: &str) -> &str {
        self.fields
            .iter()
            .find(|p| p.field == field)
            .map_or("", |p| p.words.as_str())
    }

    /// Whether there is any problem.
    pub fn any(&self) -> bool {
        !self.fields.is_empty() || !self.general.is_empty()
    }

    /// The status of a page that shows these problems: 422 when there is any, else 200.
    pub(crate) fn status(&self) -> StatusCode {
        if self.any() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    }
}

/// A signed-in admin or tenant admin on a page of the console, and the page's words and brand.
#[derive(Debug)]
pub(crate) struct Admin<'a> {
    pub me: SignedIn,
    pub ui: Ui<'a>,
}

impl<'a> Admin<'a> {
    /// The admin of this request: signed in (else to the sign-in page, which comes back here), and
    /// an admin or a tenant admin (else a 403 page, in words).
    ///
    /// # Errors
    /// The answer to send instead.
    pub(crate) async fn enter(
        req: &HttpRequest,
        state: &'a AppState,
    ) -> Result<Self, HttpResponse> {
        let ui = Ui::of(req, &state.pages, None, None);
        let me = signed_in(req, state).await?;
        if !(me.principal.is_admin() || me.principal.is_tenant_admin()) {
            return Err(error_page(
                ui,
                StatusCode::FORBIDDEN,
                ui.t.admin.admins_only_title,
                ui.t.admin.admins_only,
                None,
            ));
        }
        Ok(Self { me, ui })
    }

    /// The words of the console.
    pub(crate) fn t(&self) -> &'static Texts {
        self.ui.t
    }

    pub(crate) fn brand(&self) -> &'a Brand {
        self.ui.brand
    }

    /// The principal the use cases are called as.
    pub(crate) fn principal(&self) -> &Principal {
        &self.me.principal
    }

    /// Whether the admin is a global admin (a tenant admin otherwise).
    pub(crate) fn global(&self) -> bool {
        self.me.principal.is_admin()
    }

    /// The navigation of a page of section `current`, saying what `done` (of `?done=`) did.
    pub(crate) fn nav(&self, current: &'static str, done: Option<&str>) -> Nav {
        let t = self.t().admin;
        let global = self.global();
        let sections: [(&'static str, &'static str, &'static str, bool); 9] = [
            ("home", "/admin", t.home, true),
            ("users", "/admin/users", t.users, true),
            ("tenants", "/admin/tenants", t.tenants, global),
            ("access", "/admin/access", t.access, true),
            ("clients", "/admin/clients", t.clients, true),
            ("api-keys", "/admin/api-keys", t.api_keys, true),
            ("audit", "/admin/audit", t.audit, global),
            ("keys", "/admin/keys", t.keys, global),
            ("node", "/admin/node", t.node, global),
        ];
        Nav {
            items: sections
                .into_iter()
                .filter(|(_, _, _, shown)| *shown)
                .map(|(name, href, label, _)| NavItem {
                    href,
                    label,
                    current: name == current,
                })
                .collect(),
            username: self.me.principal.username.clone(),
            csrf: self.me.csrf.clone(),
            scope: match self.me.principal.tenant_id {
                None => t.all_tenants.to_owned(),
                Some(tenant) => (t.tenant_scope)(tenant.0),
            },
            notice: done.and_then(|d| (t.done)(d)),
        }
    }

    /// The form posted to this page, once its CSRF field is the session's.
    ///
    /// # Errors
    /// A failure page for a body that cannot be read, a 403 page for a wrong CSRF field.
    pub(crate) async fn form(
        &self,
        req: &HttpRequest,
        state: &AppState,
        payload: web::Payload,
    ) -> Result<Fields, HttpResponse> {
        let fields = Fields::of_body(req, payload, "the form")
            .await
            .map_err(|e| failure(self.ui, e))?;
        check_csrf(&self.me, state, fields.get("csrf"), self.ui)?;
        Ok(fields)
    }

    /// Runs a use case as the admin, on the blocking pool.
    ///
    /// # Errors
    /// The failure page when the blocking pool fails; the use case's own error is in the `Ok`.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        state: &AppState,
        f: impl FnOnce(&UseCases, &Principal) -> Result<T, UserError> + Send + 'static,
    ) -> Result<Result<T, UserError>, HttpResponse> {
        let principal = self.me.principal.clone();
        state
            .blocking(move |c| f(c, &principal))
            .await
            .map_err(|e| failure(self.ui, e.into()))
    }

    /// As `run`, for a use case that hashes a password: it takes a turn in the line of hashes
    /// first, as the API's does (`AppState::blocking_hashing`).
    ///
    /// # Errors
    /// The failure page (503) when the line is full or the blocking pool fails.
    pub(crate) async fn run_hashing<T: Send + 'static>(
        &self,
        state: &AppState,
        f: impl FnOnce(&UseCases, &Principal) -> Result<T, UserError> + Send + 'static,
    ) -> Result<Result<T, UserError>, HttpResponse> {
        let principal = self.me.principal.clone();
        state
            .blocking_hashing(move |c| f(c, &principal))
            .await
            .map_err(|e| failure(self.ui, e))
    }

    /// As `run`, where any refusal of the use case is the page's answer (`refused`).
    ///
    /// # Errors
    /// The refusal's page.
    pub(crate) async fn fetch<T: Send + 'static>(
        &self,
        state: &AppState,
        f: impl FnOnce(&UseCases, &Principal) -> Result<T, UserError> + Send + 'static,
    ) -> Result<T, HttpResponse> {
        self.run(state, f).await?.map_err(|e| self.refused(e))
    }

    /// A refusal of a use case as a page, in words: 404 for what is not there (or is another
    /// tenant's), 403 for what this admin may not do, 409 for what cannot be done now, the
    /// failure page for a fault.
    pub(crate) fn refused(&self, e: UserError) -> HttpResponse {
        let ui = self.ui;
        let t = ui.t.admin;
        let page = |status: StatusCode, title: &str, message: &str| {
            error_page(ui, status, title, message, None)
        };
        match e {
            UserError::NotFound => page(StatusCode::NOT_FOUND, t.not_found_title, t.not_found),
            UserError::Forbidden(_) => {
                page(StatusCode::FORBIDDEN, t.not_allowed_title, t.not_allowed)
            }
            UserError::Validation(fields) => {
                let errors = Errors::of(t, &fields, &[]);
                page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ui.t.refused_title,
                    &errors.general.join(" "),
                )
            }
            UserError::Unknown(cause) => failure(ui, ApiError::from_cause(cause)),
            other => match conflict_words(t, &other) {
                Some(words) => page(StatusCode::CONFLICT, ui.t.refused_title, words),
                None => failure(ui, other.into()),
            },
        }
    }

    /// The problems of a form the use case refused, for the form to show again: beside the
    /// fields it `shows`, or above it; any other refusal is the page's answer (`refused`).
    ///
    /// # Errors
    /// The refusal's page, for what the admin cannot correct in the form.
    pub(crate) fn form_errors(&self, e: UserError, shows: &[&str]) -> Result<Errors, HttpResponse> {
        let t = self.t().admin;
        match e {
            UserError::Validation(fields) => Ok(Errors::of(t, &fields, shows)),
            UserError::Duplicate { field } => {
                let mut fields = FieldErrors::new();
                fields.add(field, "taken");
                Ok(Errors::of(t, &fields, shows))
            }
            other => match conflict_words(t, &other) {
                Some(words) => Ok(Errors {
                    fields: Vec::new(),
                    general: vec![words.to_owned()],
                }),
                None => Err(self.refused(other)),
            },
        }
    }

    /// Renders `page` with `status`.
    pub(crate) fn render(&self, status: StatusCode, page: &impl Template) -> HttpResponse {
        respond(HttpResponse::build(status), page)
    }

    /// The confirmation page of an action that destroys or ends something, in section `current`.
    pub(crate) fn confirm(&self, current: &'static str, confirm: Confirm<'_>) -> HttpResponse {
        self.render(
            StatusCode::OK,
            &ConfirmPage {
                t: self.t(),
                brand: self.brand(),
                nav: self.nav(current, None),
                c: confirm,
            },
        )
    }

    /// A secret shown this once, after the change that made it.
    pub(crate) fn secret(
        &self,
        current: &'static str,
        title: &str,
        lead: &str,
        label: &str,
        secret: &str,
        back: &str,
    ) -> HttpResponse {
        self.render(
            StatusCode::OK,
            &SecretPage {
                t: self.t(),
                brand: self.brand(),
                nav: self.nav(current, None),
                title,
                lead,
                label,
                secret,
                back,
            },
        )
    }
}

/// The words of a refusal the admin can do nothing about in a form but read.
fn conflict_words(t: &AdminTexts, e: &UserError) -> Option<&'static str> {
    match e {
        UserError::LastAdmin => Some(t.last_admin),
        UserError::InUse(_) => Some(t.in_use),
        UserError::PublicClient => Some(t.public_client),
        UserError::MfaNotEnabled => Some(t.mfa_not_enabled),
        UserError::Duplicate { .. } => Some(t.duplicate),
        _ => None,
    }
}

/// What a confirmation page asks: `question`, what the action does (`explained`), and a form
/// that posts back to `action` with `confirm=yes` and the `hidden` fields; `back` leaves it.
#[derive(Debug)]
pub(crate) struct Confirm<'a> {
    pub question: String,
    pub explained: &'a str,
    pub action: String,
    pub button: &'a str,
    pub back: String,
    pub hidden: Vec<(&'static str, String)>,
}

/// "Are you sure?": the confirmation of an action that destroys or ends something.
#[derive(Template)]
#[template(path = "admin/confirm.html")]
struct ConfirmPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    c: Confirm<'a>,
}

/// A secret shown once.
#[derive(Template)]
#[template(path = "admin/secret.html")]
struct SecretPage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
    title: &'a str,
    lead: &'a str,
    label: &'a str,
    secret: &'a str,
    back: &'a str,
}

/// The console's first page: what each part is for.
#[derive(Template)]
#[template(path = "admin/home.html")]
struct HomePage<'a> {
    t: &'static Texts,
    brand: &'a Brand,
    nav: Nav,
}

/// `GET /admin`.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let admin = match Admin::enter(&req, &state).await {
        Ok(admin) => admin,
        Err(res) => return res,
    };
    let query = Fields::of_query(&req);
    admin.render(
        StatusCode::OK,
        &HomePage {
            t: admin.t(),
            brand: admin.brand(),
            nav: admin.nav("home", query.get("done")),
        },
    )
}

/// The console's routes, each a page of `crate::pages::page`: registered by `pages::register`.
pub(crate) fn register(cfg: &mut web::ServiceConfig) {
    use crate::pages::page;
    cfg.service(page("/admin", "GET").route(web::get().to(home)))
        .service(
            page("/admin/users", "GET, POST")
                .route(web::get().to(users::list))
                .route(web::post().to(users::create)),
        )
        .service(page("/admin/users/new", "GET").route(web::get().to(users::new_form)))
        .service(
            page("/admin/users/{id}", "GET, POST")
                .route(web::get().to(users::detail))
                .route(web::post().to(users::edit)),
        )
        .service(
            page("/admin/users/{id}/access", "GET, POST")
                .route(web::get().to(access::person_access))
                .route(web::post().to(access::grant)),
        )
        .service(
            page("/admin/users/{id}/{action}", "GET, POST")
                .route(web::get().to(users::ask))
                .route(web::post().to(users::act)),
        )
        .service(page("/admin/api-keys", "GET").route(web::get().to(users::api_keys)))
        .service(
            page("/admin/clients", "GET, POST")
                .route(web::get().to(clients::list))
                .route(web::post().to(clients::create)),
        )
        .service(page("/admin/clients/new", "GET").route(web::get().to(clients::new_form)))
        .service(
            page("/admin/clients/{client_id}", "GET, POST")
                .route(web::get().to(clients::detail))
                .route(web::post().to(clients::edit)),
        )
        .service(
            page("/admin/clients/{client_id}/{action}", "GET, POST")
                .route(web::get().to(clients::ask))
                .route(web::post().to(clients::act)),
        )
        .service(page("/admin/audit", "GET").route(web::get().to(audit::list)))
        .service(page("/admin/access", "GET").route(web::get().to(access::overview)))
        .service(
            page("/admin/tenants", "GET, POST")
                .route(web::get().to(access::tenants))
                .route(web::post().to(access::create_tenant)),
        )
        .service(
            page("/admin/tenants/{id}/{action}", "GET, POST")
                .route(web::get().to(access::ask_tenant))
                .route(web::post().to(access::act_tenant)),
        )
        .service(
            page("/admin/access/{kind}", "GET, POST")
                .route(web::get().to(access::entries))
                .route(web::post().to(access::create_entry)),
        )
        .service(page("/admin/access/{kind}/{id}", "GET").route(web::get().to(access::entry)))
        .service(
            page("/admin/access/{kind}/{id}/{action}", "GET, POST")
                .route(web::get().to(access::ask))
                .route(web::post().to(access::act)),
        )
        .service(page("/admin/keys", "GET").route(web::get().to(node::keys)))
        .service(
            page("/admin/keys/rotate", "GET, POST")
                .route(web::get().to(node::ask_rotate))
                .route(web::post().to(node::rotate)),
        )
        .service(page("/admin/node", "GET").route(web::get().to(node::state)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_their_query_and_fragment() {
        assert_eq!(href("/admin/users", &[]), "/admin/users");
        assert_eq!(
            href("/admin/users", &[("q", Some("al ice")), ("after", None)]),
            "/admin/users?q=al+ice"
        );
        assert_eq!(
            href(
                "/admin/users/3/access?service_id=2",
                &[("done", Some("granted"))]
            ),
            "/admin/users/3/access?service_id=2&done=granted"
        );
        assert_eq!(
            href("/admin/users/3#api-keys", &[("done", Some("key_deleted"))]),
            "/admin/users/3?done=key_deleted#api-keys"
        );
    }

    #[test]
    fn paging_keeps_the_filters() {
        assert_eq!(paging("/admin/clients", &[], None, None), (None, None));
        assert_eq!(
            paging(
                "/admin/users",
                &[("q", Some("al")), ("x", None)],
                Some(3),
                Some(28)
            ),
            (
                Some("/admin/users?q=al&after=28".to_owned()),
                Some("/admin/users?q=al".to_owned())
            )
        );
    }

    #[test]
    fn lists_are_read_as_typed() {
        assert_eq!(
            lines(" https://a.example/cb \n\n\thttps://b.example/cb\r\n"),
            vec!["https://a.example/cb", "https://b.example/cb"]
        );
        assert_eq!(names("user, admin  ops\n"), vec!["user", "admin", "ops"]);
        assert!(names(" , ").is_empty());
    }

    #[test]
    fn a_problem_of_a_line_is_said_beside_its_list_with_the_line() {
        for language in crate::pages::Language::ALL {
            let t = language.texts().admin;
            let mut fields = FieldErrors::new();
            fields.add("redirect_uris[1]", "insecure");
            fields.add("username", "too_short");
            fields.add("limit", "out_of_range");
            let errors = Errors::of(t, &fields, &["redirect_uris", "username"]);
            assert!(errors.has("redirect_uris"));
            assert!(errors.of_field("redirect_uris").starts_with(&(t.line)(2)));
            assert!(errors.has("username"));
            assert!(!errors.has("limit"));
            assert_eq!(errors.general.len(), 1);
            assert!(errors.any());
            assert_eq!(errors.of_field("email"), "");
        }
    }
}
