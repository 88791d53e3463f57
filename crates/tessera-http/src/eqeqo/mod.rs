//! The Eqeqo door: a second front door, on a listener of its own, that speaks the wire protocol of
//! the Eqeqo auth API, so that Eqeqo's clients can be pointed at Tessera unchanged
//! (`docs/EQEQO.md`).
//!
//! It calls the same use cases as the REST API, as the holder of the `token` header's token, and
//! answers in Eqeqo's form: its paths, its bodies, its error keys, its Spanish 401 details. It
//! decides nothing itself; where Tessera's rules differ from Eqeqo's (who may manage, unknown ids,
//! taken names), the use cases' answer is rendered with Eqeqo's keys. Nothing of Eqeqo reaches
//! the domain or the REST door.
//!
//! - `routes`: the handlers;
//! - `request`: the token header and its holder, the path's ids, the body, and the lookups of
//!   ids that may be names;
//! - `wire`: request and response bodies;
//! - `errors`: `EqeqoError`, the domain's errors in Eqeqo's form.

mod errors;
mod request;
mod routes;
mod wire;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{web, App, HttpServer};

pub use errors::EqeqoError;

use crate::{middleware, AppState, HttpSettings};

/// The door's own settings (`[eqeqo]`).
#[derive(Debug, Clone, Copy)]
pub struct EqeqoConfig {
    /// Lifetime of a token from the door's login, and of each renewal, in seconds.
    pub user_token_ttl: i64,
    /// Lifetime of a service token, in seconds.
    pub service_token_ttl: i64,
    /// A use at most this many seconds before a token's expiry renews it; 0: never.
    pub renew_threshold: i64,
}

/// A path of the door, whose other methods get the answer of an unknown path.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(routes::not_found))
}

/// Registers the door's routes: Eqeqo's, each method once.
pub fn register(cfg: &mut web::ServiceConfig) {
    use routes as r;
    cfg.service(resource("/").route(web::get().to(r::welcome)))
        .service(resource("/auth/login").route(web::post().to(r::login)))
        .service(resource("/auth/logout").route(web::post().to(r::logout)))
        .service(resource("/auth/profile").route(web::get().to(r::profile)))
        .service(resource("/check-token").route(web::post().to(r::check_token)))
        .service(
            resource("/users")
                .route(web::get().to(r::list_users))
                .route(web::post().to(r::create_user)),
        )
        .service(
            resource("/users/{id}")
                .route(web::get().to(r::get_user))
                .route(web::put().to(r::update_user))
                .route(web::delete().to(r::delete_user)),
        )
        .service(
            resource("/services")
                .route(web::get().to(r::list_services))
                .route(web::post().to(r::create_service)),
        )
        .service(
            resource("/services/{id}")
                .route(web::put().to(r::update_service))
                .route(web::delete().to(r::delete_service)),
        )
        .service(resource("/services/{id}/token").route(web::post().to(r::issue_service_token)))
        .service(resource("/services/{id}/roles").route(web::get().to(r::service_roles)))
        .service(
            resource("/services/{service_id}/roles/{role_id}/people")
                .route(web::get().to(r::role_people)),
        )
        .service(
            resource("/roles")
                .route(web::get().to(r::list_roles))
                .route(web::post().to(r::create_role)),
        )
        .service(
            resource("/roles/{id}")
                .route(web::get().to(r::get_role))
                .route(web::put().to(r::update_role))
                .route(web::delete().to(r::delete_role)),
        )
        .service(resource("/roles/{id}/permissions").route(web::get().to(r::role_permissions)))
        .service(
            resource("/permissions")
                .route(web::get().to(r::list_permissions))
                .route(web::post().to(r::create_permission)),
        )
        .service(
            resource("/permissions/{id}")
                .route(web::put().to(r::update_permission))
                .route(web::delete().to(r::delete_permission)),
        )
        .service(
            resource("/role-permissions")
                .route(web::post().to(r::add_role_permission))
                .route(web::delete().to(r::remove_role_permission)),
        )
        .service(
            resource("/service-roles")
                .route(web::post().to(r::add_service_role))
                .route(web::delete().to(r::remove_service_role)),
        )
        .service(
            resource("/person-service-roles")
                .route(web::post().to(r::add_person_role))
                .route(web::delete().to(r::remove_person_role)),
        )
        .service(resource("/person-service-permissions").route(web::post().to(r::grant_permission)))
        .service(resource("/people/{person_id}/services").route(web::get().to(r::person_services)))
        .service(
            resource("/people/{person_id}/services/{service_id}")
                .route(web::get().to(r::person_access)),
        )
        .service(
            resource("/people/{person_id}/services/{service_id}/roles")
                .route(web::get().to(r::person_roles)),
        );
}

/// The door on its own listener: the same request log, request ids and security headers as the
/// REST API, and Eqeqo's CORS (any origin; the door's tokens travel in headers, never cookies).
///
/// # Errors
/// When the listener cannot be used.
pub fn eqeqo_server(
    state: AppState,
    config: EqeqoConfig,
    listener: TcpListener,
    settings: &HttpSettings,
) -> std::io::Result<Server> {
    let data = web::Data::new(state);
    let config = web::Data::new(config);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(config.clone())
            .configure(register)
            .default_service(web::to(routes::not_found))
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")),
            )
            .wrap(middleware::security_headers())
            .wrap(actix_web::middleware::from_fn(middleware::log_requests))
    })
    .shutdown_timeout(settings.shutdown_timeout.as_secs())
    // As the REST API's: a client that has gone has its request dropped.
    .h1_allow_half_closed(false)
    // The binary stops every listener itself, on SIGINT and SIGTERM alike.
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
