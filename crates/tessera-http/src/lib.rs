#![doc = include_str!("../README.md")]

pub mod dto;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod rate_limit;
pub mod resource;
pub mod routes;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use tessera_domain::service::Service;

use crate::error::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// The signing keys: the JWKS is read from them at each request, so a rotation shows at once.
    pub keys: Arc<tessera_crypto::JwtCodec>,
    /// Rate limits on the login endpoints, and the trusted proxies.
    pub limits: Arc<rate_limit::RateLimits>,
    pub cookies: CookieSettings,
    pub metrics: metrics::MetricsSource,
    /// Serve `GET /metrics` on the main listener (false when it has its own).
    pub metrics_on_main: bool,
}

/// The browser-session cookie.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    pub name: String,
    /// Sent only over HTTPS; turn off for plain-HTTP development on localhost.
    pub secure: bool,
}

/// Server tuning.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_timeout: Duration,
}

/// A resource whose unsupported methods get a JSON 405.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(routes::meta::method_not_allowed))
}

/// Registers every route; `/metrics` too unless it has its own listener.
pub fn routes_with_metrics(cfg: &mut web::ServiceConfig, metrics: bool) {
    if metrics {
        cfg.service(resource("/metrics").route(web::get().to(routes::meta::metrics)));
    }
    routes(cfg);
}

/// Registers every route but `/metrics`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use routes::{auth, credentials, meta, users};
    cfg.service(resource("/health").route(web::get().to(meta::health)))
        .service(resource("/ready").route(web::get().to(meta::ready)))
        .service(resource("/auth/jwks.json").route(web::get().to(meta::jwks)))
        .service(resource("/.well-known/jwks.json").route(web::get().to(meta::jwks)))
        .service(
            resource("/.well-known/openid-configuration").route(web::get().to(meta::discovery)),
        )
        .service(
            resource("/.well-known/oauth-authorization-server")
                .route(web::get().to(meta::discovery)),
        )
        .service(resource("/auth/login").route(web::post().to(auth::login)))
        .service(resource("/auth/refresh").route(web::post().to(auth::refresh)))
        .service(resource("/auth/logout").route(web::post().to(auth::logout)))
        .service(resource("/auth/token/revoke").route(web::post().to(auth::revoke)))
        .service(resource("/auth/userinfo").route(web::get().to(auth::userinfo)))
        .service(
            resource("/users")
                .route(web::get().to(users::list))
                .route(web::post().to(users::create)),
        )
        .service(
            resource("/users/{id}")
                .route(web::get().to(users::get))
                .route(web::put().to(users::put))
                .route(web::patch().to(users::patch))
                .route(web::delete().to(users::delete)),
        )
        .service(resource("/users/{id}/password").route(web::post().to(users::change_password)))
        .service(resource("/users/{id}/unlock").route(web::post().to(users::unlock)))
        .service(resource("/users/{id}/password-reset").route(web::post().to(users::issue_reset)))
        .service(resource("/auth/register").route(web::post().to(users::register)))
        .service(resource("/auth/login/mfa").route(web::post().to(routes::mfa::login)))
        .service(resource("/mfa/setup").route(web::post().to(routes::mfa::setup)))
        .service(resource("/mfa/verify").route(web::post().to(routes::mfa::verify)))
        .service(resource("/mfa/disable").route(web::post().to(routes::mfa::disable)))
        .service(
            resource("/mfa/backup-codes")
                .route(web::get().to(routes::mfa::backup_codes_left))
                .route(web::post().to(routes::mfa::regenerate_backup_codes)),
        )
        .service(resource("/users/{id}/mfa").route(web::delete().to(routes::mfa::reset)))
        .service(
            resource("/sessions")
                .route(web::get().to(routes::sessions::mine))
                .route(web::delete().to(routes::sessions::end_mine)),
        )
        .service(resource("/sessions/{id}").route(web::delete().to(routes::sessions::end_one)))
        .service(
            resource("/users/{id}/sessions")
                .route(web::get().to(routes::sessions::of_user))
                .route(web::delete().to(routes::sessions::end_of_user)),
        )
        .service(resource("/auth/password-reset").route(web::post().to(users::reset)))
        .service(
            resource("/users/{id}/api-keys")
                .route(web::get().to(credentials::list_api_keys))
                .route(web::post().to(credentials::create_api_key)),
        )
        .service(resource("/api-keys/{id}").route(web::delete().to(credentials::delete_api_key)))
        .service(resource("/auth/profile").route(web::get().to(credentials::profile)))
        .service(resource("/check-token").route(web::post().to(credentials::check_token)))
        .service(resource("/audit").route(web::get().to(routes::audit::list)))
        .service(resource("/oauth/introspect").route(web::post().to(credentials::introspect)))
        .service(resource("/oauth/token").route(web::post().to(credentials::oauth_token)));
    model_routes(cfg);
}

/// The authorization model's routes.
fn model_routes(cfg: &mut web::ServiceConfig) {
    use crate::dto::{RolePermissionBody, ServiceRoleBody};
    use routes::access::{self as a, Permissions, Roles, Services, Tenants};
    use routes::credentials;
    cfg.service(
        resource("/tenants")
            .route(web::get().to(a::list::<Tenants>))
            .route(web::post().to(a::create::<Tenants>)),
    )
    .service(
        resource("/tenants/{id}")
            .route(web::get().to(a::get::<Tenants>))
            .route(web::put().to(a::put::<Tenants>))
            .route(web::delete().to(a::delete::<Tenants>)),
    )
    .service(
        resource("/services")
            .route(web::get().to(a::list::<Services>))
            .route(web::post().to(a::create::<Services>)),
    )
    .service(
        resource("/services/{id}")
            .route(web::get().to(a::get::<Services>))
            .route(web::put().to(a::put::<Services>))
            .route(web::delete().to(a::delete::<Services>)),
    )
    .service(resource("/services/{id}/roles").route(web::get().to(a::service_roles)))
    .service(
        resource("/services/{id}/token")
            .route(web::post().to(credentials::issue_service_secret))
            .route(web::delete().to(credentials::revoke_service_secret)),
    )
    .service(
        resource("/services/{service_id}/roles/{role_id}/people")
            .route(web::get().to(a::role_people)),
    )
    .service(
        resource("/roles")
            .route(web::get().to(a::list::<Roles>))
            .route(web::post().to(a::create::<Roles>)),
    )
    .service(
        resource("/roles/{id}")
            .route(web::get().to(a::get::<Roles>))
            .route(web::put().to(a::put::<Roles>))
            .route(web::delete().to(a::delete::<Roles>)),
    )
    .service(resource("/roles/{id}/permissions").route(web::get().to(a::role_permissions)))
    .service(
        resource("/permissions")
            .route(web::get().to(a::list::<Permissions>))
            .route(web::post().to(a::create::<Permissions>)),
    )
    .service(
        resource("/permissions/{id}")
            .route(web::get().to(a::get::<Permissions>))
            .route(web::put().to(a::put::<Permissions>))
            .route(web::delete().to(a::delete::<Permissions>)),
    )
    .service(
        resource("/role-permissions")
            .route(web::post().to(a::add_link::<RolePermissionBody>))
            .route(web::delete().to(a::remove_link::<RolePermissionBody>)),
    )
    .service(
        resource("/service-roles")
            .route(web::post().to(a::add_link::<ServiceRoleBody>))
            .route(web::delete().to(a::remove_link::<ServiceRoleBody>)),
    )
    .service(
        resource("/person-service-roles")
            .route(web::post().to(a::grant_role))
            .route(web::delete().to(a::revoke_role)),
    )
    .service(resource("/person-service-permissions").route(web::post().to(a::grant_permission)))
    .service(resource("/people/{person_id}/services").route(web::get().to(a::person_services)))
    .service(
        resource("/people/{person_id}/services/{service_id}")
            .route(web::get().to(a::person_access)),
    )
    .service(
        resource("/people/{person_id}/services/{service_id}/roles")
            .route(web::get().to(a::person_roles)),
    );
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
            .wrap(actix_web::middleware::from_fn(middleware::log_requests))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    .listen(listener)?;
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    Ok(server.run())
}
