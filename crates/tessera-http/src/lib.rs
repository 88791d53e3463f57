#![doc = include_str!("../README.md")]

pub mod admission;
mod api;
pub mod dto;
pub mod eqeqo;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pages;
pub mod rate_limit;
pub mod resource;
pub mod routes;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use tessera_domain::token::PlainToken;
use tessera_domain::usecases::UseCases;

use crate::error::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub core: UseCases,
    /// The signing keys: the JWKS is read from them at each request, so a rotation shows at once.
    pub keys: Arc<tessera_crypto::JwtCodec>,
    /// Rate limits on the login endpoints, and the trusted proxies.
    pub limits: Arc<rate_limit::RateLimits>,
    pub cookies: CookieSettings,
    /// The sign-in pages' brand (name, logo, colours) and default language.
    pub pages: Arc<pages::PageConfig>,
    pub metrics: metrics::MetricsSource,
    /// Serve `GET /metrics` on the main listener (false when it has its own).
    pub metrics_on_main: bool,
    /// How long a request body may take to arrive; a slower one is 408.
    pub body_timeout: Duration,
    /// The line of requests waiting to hash a password.
    pub password_work: Arc<admission::PasswordWork>,
}

impl AppState {
    /// Runs a use case on the blocking pool, never on an actix worker (the store and password
    /// hashing block), and turns its error into the REST answer.
    ///
    /// # Errors
    /// The use case's error, or `Internal` when the blocking pool fails.
    pub async fn run<T, E>(
        &self,
        f: impl FnOnce(&UseCases) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        self.blocking(f).await?.map_err(Into::into)
    }

    /// As `run`, for a use case that hashes a password: it waits for a turn from `password_work`
    /// first, and the turn goes with the use case onto the blocking pool, so it is given back when
    /// the hashing is done, not when the client goes away.
    ///
    /// # Errors
    /// 503 when the line is full; otherwise as `run`.
    pub async fn run_hashing<T, E>(
        &self,
        f: impl FnOnce(&UseCases) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        self.blocking_hashing(f).await?.map_err(Into::into)
    }

    /// As `run_hashing`, handing back what the use case returned.
    ///
    /// # Errors
    /// 503 when the line is full, or when the blocking pool fails.
    pub async fn blocking_hashing<T: Send + 'static>(
        &self,
        f: impl FnOnce(&UseCases) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let turn = self.password_work.enter().await?;
        Ok(self
            .blocking(move |c| {
                let result = f(c);
                drop(turn);
                result
            })
            .await?)
    }

    /// Runs a use case that only reads: on this worker when everything it reads is in memory (a
    /// token check, a cached user), otherwise on the blocking pool as `run` does. `f` may run
    /// twice, so it must not consume what it captures.
    ///
    /// # Errors
    /// As `run`.
    pub async fn read<T, E>(
        &self,
        f: impl Fn(&UseCases) -> Result<T, E> + Send + 'static,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        self.read_raw(f).await?.map_err(Into::into)
    }

    /// As `read`, handing back what the use case returned, for a front door that renders the use
    /// case's error in its own form.
    ///
    /// # Errors
    /// When the blocking pool fails.
    pub async fn read_raw<T: Send + 'static>(
        &self,
        f: impl Fn(&UseCases) -> T + Send + 'static,
    ) -> Result<T, actix_web::error::BlockingError> {
        if let Some(done) = tessera_domain::memory_only::attempt(|| f(&self.core)) {
            return Ok(done);
        }
        self.blocking(f).await
    }

    /// Runs `f` on the blocking pool and hands back what it returned, for a front door that
    /// renders the use case's error in its own form.
    ///
    /// # Errors
    /// When the blocking pool fails.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&UseCases) -> T + Send + 'static,
    ) -> Result<T, actix_web::error::BlockingError> {
        let core = self.core.clone();
        web::block(move || f(&core)).await
    }
}

/// The browser-session cookie.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub name: String,
    /// Sent only over HTTPS; turn off for plain-HTTP development on localhost.
    pub secure: bool,
}

impl CookieSettings {
    /// The browser-session cookie holding `token`, however the session was opened (`POST
    /// /auth/login` or the sign-in page): `HttpOnly`, `SameSite=Lax` (so that a link from an
    /// application's site still brings it to the authorization endpoint), `Path=/`, and `Secure`
    /// unless turned off.
    pub fn session(&self, token: &PlainToken) -> Cookie<'static> {
        Cookie::build(self.name.clone(), token.expose().to_owned())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .finish()
    }

    /// The browser-session cookie taken away: empty, expired at once, with the attributes it was
    /// set with, so that every browser drops the one it holds.
    pub fn removal(&self) -> Cookie<'static> {
        let mut cookie = Cookie::build(self.name.clone(), "")
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .finish();
        cookie.make_removal();
        cookie
    }
}

/// Server tuning.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_timeout: Duration,
    /// Blocking tasks (store calls, hashing turns) each worker runs at once; the others wait as
    /// tasks, without a thread each. 0 keeps actix's default (512 divided by the cores).
    pub blocking_threads: usize,
}

/// A GET-only resource outside the route table, whose other methods get a JSON 405.
fn resource(path: &'static str) -> actix_web::Resource {
    web::resource(path)
        .app_data(openapi::RoutePattern(path))
        .default_service(web::to(|| async {
            routes::meta::method_not_allowed_here("GET")
        }))
}

/// Registers every route; `/metrics` too unless it has its own listener. The pages and the API's
/// rendered docs are registered beside the route table, which describes the API alone.
pub fn routes_with_metrics(cfg: &mut web::ServiceConfig, metrics: bool) {
    let mut table = openapi::ActixRoutes::default();
    api::api(&mut table, metrics);
    table.register(cfg);
    pages::register(cfg);
    cfg.service(resource("/docs").route(web::get().to(|| async {
        actix_web::HttpResponse::PermanentRedirect()
            .insert_header((actix_web::http::header::LOCATION, "/docs/"))
            .finish()
    })))
    .service(resource("/openapi.json").route(web::get().to(|| async {
        match openapi_json() {
            Some(json) => Ok(actix_web::HttpResponse::Ok()
                .content_type(actix_web::http::header::ContentType::json())
                .body(json)),
            None => Err(ApiError::Internal(anyhow::anyhow!(
                "the OpenAPI document cannot be served"
            ))),
        }
    })))
    .service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
            .config(utoipa_swagger_ui::Config::new(["/openapi.json"])),
    );
}

/// The OpenAPI document as JSON, made once per process and shared by every worker: each worker
/// used to build and keep its own document, over 2 MB of heap apiece.
fn openapi_json() -> Option<web::Bytes> {
    static JSON: std::sync::OnceLock<Option<web::Bytes>> = std::sync::OnceLock::new();
    JSON.get_or_init(|| match serde_json::to_vec(&openapi::document()) {
        Ok(json) => Some(web::Bytes::from(json)),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize the OpenAPI document");
            None
        }
    })
    .clone()
}

/// Registers every route but `/metrics`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    routes_with_metrics(cfg, false);
}

/// Path and query errors become JSON errors: a path id that is not a number names no resource.
fn extractor_config(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::field("query", "invalid", format!("invalid query string: {e}")).into()
        }));
}

/// A server for `GET /metrics` alone, on its own listener (for a port that only the monitoring
/// network reaches).
///
/// # Errors
/// When the listener cannot be used.
pub fn metrics_server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(resource("/metrics").route(web::get().to(routes::meta::metrics)))
            .default_service(web::to(routes::meta::not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}

/// Builds the server on an already bound listener (port 0 works), ready to be awaited.
///
/// # Errors
/// When the listener cannot be used.
pub fn server(
    state: AppState,
    listener: TcpListener,
    settings: &HttpSettings,
) -> std::io::Result<Server> {
    let metrics_on_main = state.metrics_on_main;
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(extractor_config)
            .configure(|cfg| routes_with_metrics(cfg, metrics_on_main))
            .default_service(web::to(routes::meta::not_found))
            .wrap(actix_web::middleware::from_fn(rate_limit::limit_logins))
            .wrap(middleware::security_headers())
            .wrap(actix_web::middleware::from_fn(middleware::log_requests))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    // A client that closes its side of the connection has gone: its request is dropped, so a
    // login waiting for its turn to hash leaves the line instead of being hashed for nobody.
    .h1_allow_half_closed(false)
    // The binary stops the server gracefully on SIGINT and SIGTERM alike (actix would force the
    // stop on SIGINT); see `tessera_server::app`.
    .disable_signals()
    .listen(listener)?;
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    if settings.blocking_threads > 0 {
        server = server.worker_max_blocking_threads(settings.blocking_threads);
    }
    Ok(server.run())
}
