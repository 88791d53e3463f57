//! One route table for the server and its OpenAPI 3.1 document.
//!
//! `api` (in `lib.rs`) names every route once, with its handler and its `Op`: registering the
//! table with actix serves the routes, registering it with `OpenApiRoutes` describes them. A route
//! cannot be served without being documented, or documented without being served.

use std::collections::BTreeMap;

use actix_web::{web, FromRequest, Handler, Responder};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Components, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref, RefOr,
    Required, Schema,
};
use utoipa::{IntoParams, PartialSchema as _, ToSchema};

/// The methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn route(self) -> actix_web::Route {
        match self {
            Self::Get => web::get(),
            Self::Post => web::post(),
            Self::Put => web::put(),
            Self::Patch => web::patch(),
            Self::Delete => web::delete(),
        }
    }

    fn openapi(self) -> HttpMethod {
        match self {
            Self::Get => HttpMethod::Get,
            Self::Post => HttpMethod::Post,
            Self::Put => HttpMethod::Put,
            Self::Patch => HttpMethod::Patch,
            Self::Delete => HttpMethod::Delete,
        }
    }
}

/// What one operation takes and answers.
pub struct Op {
    tag: &'static str,
    summary: &'static str,
    description: Option<&'static str>,
    security: Vec<SecurityRequirement>,
    body: Option<(Vec<&'static str>, RefOr<Schema>, bool)>,
    params: Vec<utoipa::openapi::path::Parameter>,
    ok: Vec<(u16, &'static str, Option<RefOr<Schema>>)>,
    /// Redirects (a `Location` header, no body).
    redirects: Vec<(u16, &'static str)>,
    /// Answers that are HTML pages, for a browser (errors included).
    pages: Vec<(u16, &'static str)>,
    errors: Vec<u16>,
    schemas: Vec<(String, RefOr<Schema>)>,
    content_type: &'static str,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op")
            .field("tag", &self.tag)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// An operation of the group `tag`.
pub fn op(tag: &'static str, summary: &'static str) -> Op {
    Op {
        tag,
        summary,
        description: None,
        security: Vec::new(),
        body: None,
        params: Vec::new(),
        ok: Vec::new(),
        redirects: Vec::new(),
        pages: Vec::new(),
        errors: vec![500],
        schemas: Vec::new(),
        content_type: "application/json",
    }
}

fn reference<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

impl Op {
    pub fn describe(mut self, text: &'static str) -> Self {
        self.description = Some(text);
        self
    }

    /// Needs a bearer credential: a JWT or opaque access token, or an API key (also as the
    /// `token` or `X-API-Key` header). 401 without one, 403 when it may not do this.
    pub fn bearer(mut self) -> Self {
        for scheme in ["bearer", "api_key"] {
            self.security
                .push(SecurityRequirement::new(scheme, Vec::<String>::new()));
        }
        self.errors.extend([401, 403, 503]);
        self
    }

    /// Like `bearer`, or the browser-session cookie (with `X-CSRF-Token` on writes).
    pub fn bearer_or_cookie(mut self) -> Self {
        self = self.bearer();
        self.security.push(SecurityRequirement::new(
            "session_cookie",
            Vec::<String>::new(),
        ));
        self
    }

    /// Needs a service's credentials with HTTP Basic (`client_id:client_secret`).
    pub fn basic(mut self) -> Self {
        self.security.push(SecurityRequirement::new(
            "service_basic",
            Vec::<String>::new(),
        ));
        self.errors.extend([401, 503]);
        self
    }

    /// Needs a service's credentials in any of the ways RFC 7662 clients send them: HTTP Basic,
    /// the service's secret as a bearer token, or `client_id` and `client_secret` in the form
    /// (which OpenAPI states as a request that may carry no security header).
    pub fn service_credentials(mut self) -> Self {
        self = self.basic();
        self.security
            .push(SecurityRequirement::new("bearer", Vec::<String>::new()));
        self.security.push(SecurityRequirement::default());
        self
    }

    fn with_body<T: ToSchema>(mut self, types: Vec<&'static str>, required: bool) -> Self {
        let schema = reference::<T>(&mut self.schemas);
        self.body = Some((types, schema, required));
        self.errors.extend([400, 413, 415, 422]);
        self
    }

    /// A JSON body.
    pub fn json<T: ToSchema>(self) -> Self {
        self.with_body::<T>(vec!["application/json"], true)
    }

    /// A JSON body that may be left out.
    pub fn optional_json<T: ToSchema>(self) -> Self {
        self.with_body::<T>(vec!["application/json"], false)
    }

    /// A form-encoded body (as OAuth clients send), or the same fields as JSON.
    pub fn form<T: ToSchema>(self) -> Self {
        self.with_body::<T>(
            vec!["application/x-www-form-urlencoded", "application/json"],
            true,
        )
    }

    /// A form-encoded body that a browser posts, to a handler that answers its refusals as pages
    /// (which `html` documents), not as the JSON errors a body's refusals are elsewhere.
    pub fn browser_form<T: ToSchema>(mut self) -> Self {
        let schema = reference::<T>(&mut self.schemas);
        self.body = Some((vec!["application/x-www-form-urlencoded"], schema, true));
        self
    }

    /// Query parameters that the handler reads itself (so a bad one is not a 422).
    pub fn params<T: IntoParams>(mut self) -> Self {
        self.params
            .extend(T::into_params(|| Some(ParameterIn::Query)));
        self
    }

    /// Query parameters, checked by the `web::Query` extractor (422 when they do not parse).
    pub fn query<T: IntoParams>(mut self) -> Self {
        self = self.params::<T>();
        self.errors.push(422);
        self
    }

    /// Answers `status` by sending the browser to `Location`.
    pub fn redirect(mut self, status: u16, description: &'static str) -> Self {
        self.redirects.push((status, description));
        self
    }

    /// Answers `status` with an HTML page (in place of a JSON error of that status).
    pub fn html(mut self, status: u16, description: &'static str) -> Self {
        self.pages.push((status, description));
        self
    }

    /// Answers `status` with a `T`.
    pub fn ok<T: ToSchema>(mut self, status: u16, description: &'static str) -> Self {
        let schema = reference::<T>(&mut self.schemas);
        self.ok.push((status, description, Some(schema)));
        self
    }

    /// Answers 200 with `{"items": [T…], "next_after": id or null}`.
    pub fn page<T: ToSchema>(mut self, description: &'static str) -> Self {
        let item = reference::<T>(&mut self.schemas);
        let schema = ObjectBuilder::new()
            .property("items", ArrayBuilder::new().items(item))
            .required("items")
            .property(
                "next_after",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                        Type::Integer,
                        Type::Null,
                    ]))
                    .description(Some(
                        "The id to pass as `after` for the next page; null at the end.",
                    )),
            )
            .required("next_after");
        self.ok.push((200, description, Some(schema.into())));
        self
    }

    /// Answers 200 with `{"items": [T…]}`.
    pub fn items<T: ToSchema>(mut self, description: &'static str) -> Self {
        let item = reference::<T>(&mut self.schemas);
        let schema = ObjectBuilder::new()
            .property("items", ArrayBuilder::new().items(item))
            .required("items");
        self.ok.push((200, description, Some(schema.into())));
        self
    }

    /// Answers `status` with a JSON object described in words (discovery documents, JWKS).
    pub fn ok_object(mut self, status: u16, description: &'static str) -> Self {
        self.ok.push((
            status,
            description,
            Some(ObjectBuilder::new().schema_type(Type::Object).into()),
        ));
        self
    }

    /// The media type of the success answers, when it is not `application/json`.
    pub fn content_type(mut self, media: &'static str) -> Self {
        self.content_type = media;
        self
    }

    /// Answers `status` with no body.
    pub fn empty(mut self, status: u16, description: &'static str) -> Self {
        self.ok.push((status, description, None));
        self
    }

    /// More error statuses this operation can answer.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }
}

/// Where the route table goes: the actix app, or the OpenAPI document.
pub trait Routes {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F, op: Op)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;
}

/// The pattern of the route that served a request, such as `/users/{id}`.
#[derive(Debug, Clone, Copy)]
pub struct RoutePattern(pub &'static str);

/// Collects the routes as actix resources, one per path, each with a JSON 405 for other methods
/// that names the allowed ones in `Allow` (RFC 9110 §15.5.6).
#[derive(Default)]
pub struct ActixRoutes {
    resources: Vec<(&'static str, Vec<Method>, actix_web::Resource)>,
}

impl std::fmt::Debug for ActixRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActixRoutes")
            .field("paths", &self.resources.len())
            .finish()
    }
}

impl Routes for ActixRoutes {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F, _: Op)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let i = match self.resources.iter().position(|(p, _, _)| *p == path) {
            Some(i) => i,
            None => {
                self.resources.push((path, Vec::new(), web::resource(path)));
                self.resources.len() - 1
            }
        };
        let (_, methods, slot) = &mut self.resources[i];
        methods.push(method);
        let resource = std::mem::replace(slot, web::resource(path));
        *slot = resource.route(method.route().to(handler));
    }
}

impl ActixRoutes {
    /// Registers what was collected: paths without parameters first, since actix tries resources
    /// in order and a fixed path is one comparison where a pattern is a regular expression (and
    /// a fixed path must win over a pattern it also matches). Each resource carries its pattern,
    /// for the request log and the metrics.
    pub fn register(mut self, cfg: &mut web::ServiceConfig) {
        self.resources
            .sort_by_key(|(path, _, _)| path.contains('{'));
        for (path, methods, resource) in self.resources {
            let allow = methods
                .iter()
                .map(|m| format!("{m:?}").to_uppercase())
                .collect::<Vec<_>>()
                .join(", ");
            cfg.service(
                resource
                    .app_data(RoutePattern(path))
                    .default_service(web::to(move || {
                        let allow = allow.clone();
                        async move { crate::routes::meta::method_not_allowed_here(&allow) }
                    })),
            );
        }
    }
}

/// Collects the routes as OpenAPI operations.
#[derive(Default)]
pub struct OpenApiRoutes {
    paths: PathsBuilder,
    schemas: BTreeMap<String, RefOr<Schema>>,
    seen: Vec<(Method, &'static str)>,
}

impl std::fmt::Debug for OpenApiRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApiRoutes")
            .field("operations", &self.seen.len())
            .finish_non_exhaustive()
    }
}

const ERROR_STATUSES: &[(u16, &str)] = &[
    (400, "The body is not JSON (`malformed_body`); OAuth endpoints: `invalid_request`, `invalid_grant`, `unsupported_grant_type`, `invalid_scope`; client registration: `invalid_redirect_uri`, `invalid_client_metadata` (with `fields`)."),
    (401, "No, bad or ended credentials: `missing_token`, `invalid_token`, `token_expired`, `token_not_yet_valid`, `token_revoked`, `invalid_credentials`, `refresh_token_reused`, `token_mismatch`, `unknown_service`, `invalid_client`, `mfa_required` (with `mfa_token`)."),
    (403, "Authenticated, but not allowed: `forbidden`, `account_disabled`, `invalid_current_password`, `no_session`, `csrf_failed`, `insufficient_scope` (an access token issued to an OAuth client, which only `/auth/userinfo` takes)."),
    (404, "Unknown id (a non-numeric one too) or `client_id`, or one outside the caller's tenant: `not_found`."),
    (405, "A known path with a method it does not support: `method_not_allowed`."),
    (409, "A conflict: `duplicate` (with `fields`), `last_admin`, `in_use`, `mfa_already_enabled`, `mfa_not_enabled`, `public_client` (a secret asked of a public OAuth client)."),
    (413, "The body exceeds 64 KiB: `payload_too_large`."),
    (415, "A body that is neither JSON nor, where accepted, form data: `unsupported_media_type`."),
    (422, "A field is missing (`required`), of the wrong type (`invalid_type`) or breaks a rule: `validation_failed` with `fields`."),
    (423, "Too many consecutive failed logins: `account_locked`, with `Retry-After`."),
    (429, "Too many attempts from one address or for one username: `rate_limited`, with `Retry-After`."),
    (500, "A fault of the server, logged and never described: `internal_error`."),
    (503, "The database cannot be reached, or too many requests are waiting to hash a password: `unavailable`, with `Retry-After`."),
];

fn error_response_name(status: u16) -> String {
    format!("Error{status}")
}

impl Routes for OpenApiRoutes {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, _: F, op: Op)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        assert!(
            !self.seen.contains(&(method, path)),
            "{method:?} {path} is in the route table twice"
        );
        self.seen.push((method, path));
        let mut builder = OperationBuilder::new()
            .tag(op.tag)
            .summary(Some(op.summary))
            .description(op.description)
            .operation_id(Some(operation_id(method, path)));
        for name in path_params(path) {
            builder = builder.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(crate::dto::rules::path_param(name))),
            );
        }
        for p in op.params {
            builder = builder.parameter(p);
        }
        if let Some((types, schema, required)) = op.body {
            let mut body = RequestBodyBuilder::new().required(Some(if required {
                Required::True
            } else {
                Required::False
            }));
            for t in types {
                body = body.content(
                    t,
                    ContentBuilder::new().schema(Some(schema.clone())).build(),
                );
            }
            builder = builder.request_body(Some(body.build()));
        }
        let mut responses = ResponsesBuilder::new();
        for (status, description, schema) in op.ok {
            let mut response = ResponseBuilder::new().description(description);
            if let Some(schema) = schema {
                response = response.content(
                    op.content_type,
                    ContentBuilder::new().schema(Some(schema)).build(),
                );
            }
            responses = responses.response(status.to_string(), response);
        }
        for (status, description) in &op.redirects {
            let location = HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some("Where the browser goes next."))
                .build();
            responses = responses.response(
                status.to_string(),
                ResponseBuilder::new()
                    .description(*description)
                    .header("Location", location),
            );
        }
        for (status, description) in &op.pages {
            responses = responses.response(
                status.to_string(),
                ResponseBuilder::new().description(*description).content(
                    "text/html",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                ),
            );
        }
        // Every path answers other methods with a JSON 405.
        let mut errors = op.errors;
        errors.push(405);
        errors.sort_unstable();
        errors.dedup();
        errors.retain(|status| !op.pages.iter().any(|(page, _)| page == status));
        for status in errors {
            responses = responses.response(
                status.to_string(),
                RefOr::Ref(Ref::from_response_name(error_response_name(status))),
            );
        }
        builder = builder.responses(responses.build());
        for s in op.security {
            builder = builder.security(s);
        }
        let mut item = PathItem::new(method.openapi(), builder.build());
        item.summary = None;
        self.paths = std::mem::take(&mut self.paths).path(path, item);
        for (name, schema) in op.schemas {
            self.schemas.entry(name).or_insert(schema);
        }
    }
}

fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// `getUsersId`-style ids: the method and the path's words.
fn operation_id(method: Method, path: &str) -> String {
    let mut id = format!("{method:?}").to_lowercase();
    for word in path
        .split(['/', '-', '.', '{', '}', '_'])
        .filter(|w| !w.is_empty())
    {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.extend(first.to_uppercase());
            id.push_str(chars.as_str());
        }
    }
    id
}

impl OpenApiRoutes {
    /// The document: every route collected, the schemas they use, the error answers and the
    /// ways to authenticate.
    pub fn document(self) -> OpenApi {
        let mut components = Components::new();
        components.schemas = self.schemas;
        let (name, schema) = (
            crate::error::ErrorBody::name().into_owned(),
            crate::error::ErrorBody::schema(),
        );
        components.schemas.insert(name, schema);
        for (status, description) in ERROR_STATUSES {
            components.responses.insert(
                error_response_name(*status),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(*description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(RefOr::Ref(Ref::from_schema_name(
                                    crate::error::ErrorBody::name(),
                                ))))
                                .build(),
                        )
                        .build(),
                ),
            );
        }
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A JWT access token, an opaque access token (`tso_…`) or an API key (`tsk_…`); the header `token: <value>` is an alias.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("tessera_session"))),
        );
        components.add_security_scheme(
            "service_basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        let tags = [
            ("meta", "Health, readiness, discovery, keys and metrics."),
            ("auth", "Logins, tokens and the signed-in user."),
            ("mfa", "Second factors: TOTP and backup codes."),
            ("sessions", "Live sessions and ending them."),
            ("users", "User accounts."),
            (
                "credentials",
                "API keys, service secrets, token checks and OAuth.",
            ),
            (
                "access",
                "Tenants, services, roles, permissions and grants.",
            ),
            ("audit", "The audit log."),
            (
                "oauth",
                "OpenID Connect: registering, listing, changing and deleting clients, and the authorization endpoint (the token endpoint is under credentials).",
            ),
        ];
        OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("Tessera")
                    .version(env!("CARGO_PKG_VERSION"))
                    .description(Some(
                        "Identity and access: users, passwords and second factors, tokens, and who may do what. Every error is `{\"error\": code, \"message\": sentence}`.",
                    ))
                    .build(),
            )
            .paths(self.paths.build())
            .components(Some(components))
            .tags(Some(
                tags.iter()
                    .map(|(name, text)| TagBuilder::new().name(*name).description(Some(*text)).build()),
            ))
            .build()
    }
}

/// The OpenAPI document of the whole API.
pub fn document() -> OpenApi {
    let mut routes = OpenApiRoutes::default();
    crate::api::api(&mut routes, true);
    routes.document()
}

/// The document as the JSON committed in `docs/openapi.json`.
///
/// # Errors
/// When the document does not serialize.
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut text = document().to_pretty_json()?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_document_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::document_json().unwrap(),
            "docs/openapi.json differs from the routes in the code; run `cargo xtask openapi` and commit it"
        );
    }

    #[test]
    fn every_operation_documents_its_answers_and_errors() {
        let doc = serde_json::to_value(super::document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() > 50, "{}", paths.len());
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                assert!(
                    responses
                        .keys()
                        .any(|s| s.starts_with('2') || s.starts_with('3')),
                    "{method} {path} has no success answer"
                );
                assert!(
                    responses.contains_key("500"),
                    "{method} {path} lists no errors"
                );
                for (status, response) in responses {
                    if let Some(target) = response["$ref"].as_str() {
                        let name = target.rsplit('/').next().unwrap();
                        assert!(
                            doc["components"]["responses"][name].is_object(),
                            "{method} {path} {status}: {target} is not defined"
                        );
                    }
                }
            }
        }
        // Every schema an operation names is defined.
        let text = doc.to_string();
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "schema {name} is referenced but not defined"
            );
        }
    }
}
