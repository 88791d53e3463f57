//! Rate limits on the login endpoints, per client address and per username, with governor's
//! GCRA limiters; and the client address itself, which `X-Forwarded-For` sets only when the
//! request comes from a trusted proxy.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;
use crate::AppState;

/// How the login endpoints are limited.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Requests per minute from one client address to `/auth/*` and `/oauth/token`.
    pub per_ip_per_minute: u32,
    /// Login attempts per minute for one username, from anywhere.
    pub per_username_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

/// Budgets kept outside the process (in Redis), so that every node spends from the same ones.
pub trait SharedBudgets: Send + Sync + std::fmt::Debug {
    /// Spends one request of the budget named `key`, which allows `per_minute`. `Ok(None)`: it
    /// may go ahead; `Ok(Some(seconds))`: refused, try again after that long; `Err`: the budgets
    /// cannot be reached (the implementation logs it), and this process's own limiter decides.
    fn spend(&self, key: String, per_minute: u32) -> BoxFuture<'_, anyhow::Result<Option<u64>>>;
}

/// The limiters, shared by every worker.
#[derive(Debug)]
pub struct RateLimits {
    enabled: bool,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_username: DefaultKeyedRateLimiter<String>,
    per_ip_per_minute: u32,
    per_username_per_minute: u32,
    trusted_proxies: Vec<IpAddr>,
    /// When set, budgets are spent there; the local limiters serve only while it fails.
    shared: Option<Arc<dyn SharedBudgets>>,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

/// Seconds until a refused request could pass, at least one.
fn retry_after<P: governor::clock::Reference>(not_until: &governor::NotUntil<P>) -> u64
where
    DefaultClock: governor::clock::Clock<Instant = P>,
{
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            enabled: settings.enabled,
            per_ip: DefaultKeyedRateLimiter::dashmap(quota(settings.per_ip_per_minute)),
            per_username: DefaultKeyedRateLimiter::dashmap(quota(settings.per_username_per_minute)),
            per_ip_per_minute: settings.per_ip_per_minute,
            per_username_per_minute: settings.per_username_per_minute,
            trusted_proxies: settings.trusted_proxies.clone(),
            shared: None,
        }
    }

    /// Spends from budgets shared by every node instead of this process's own.
    #[must_use]
    pub fn with_shared(mut self, shared: Arc<dyn SharedBudgets>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Spends from the shared budget `key`; `None` when there is none or it cannot be reached
    /// (then the local limiter decides).
    async fn spend_shared(&self, key: String, per_minute: u32) -> Option<Result<(), ApiError>> {
        match self.shared.as_ref()?.spend(key, per_minute).await {
            Ok(None) => Some(Ok(())),
            Ok(Some(retry_after)) => Some(Err(ApiError::RateLimited { retry_after })),
            Err(_) => None,
        }
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the nearest address
    /// in `X-Forwarded-For` that is not a trusted proxy itself.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let Some(chain) = forwarded_for else {
            return Some(peer);
        };
        let mut client = peer;
        for hop in chain.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusted_proxies.contains(&ip) {
                        break;
                    }
                }
                // A hop that is not an address cannot be believed, nor anything before it.
                Err(_) => break,
            }
        }
        Some(client)
    }

    /// Counts a request from `ip`.
    ///
    /// # Errors
    /// `RateLimited` when its budget is spent.
    pub async fn check_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        if let Some(outcome) = self
            .spend_shared(format!("ip:{ip}"), self.per_ip_per_minute)
            .await
        {
            return outcome;
        }
        self.per_ip
            .check_key(&ip)
            .map_err(|n| ApiError::RateLimited {
                retry_after: retry_after(&n),
            })
    }

    /// Counts a login attempt for `username` (case-insensitive).
    ///
    /// # Errors
    /// `RateLimited` when its budget is spent.
    pub async fn check_username(&self, username: &str) -> Result<(), ApiError> {
        if !self.enabled {
            return Ok(());
        }
        let key: String = username.trim().to_lowercase().chars().take(256).collect();
        if let Some(outcome) = self
            .spend_shared(format!("user:{key}"), self.per_username_per_minute)
            .await
        {
            return outcome;
        }
        self.per_username
            .check_key(&key)
            .map_err(|n| ApiError::RateLimited {
                retry_after: retry_after(&n),
            })
    }

    /// Forgets keys whose budgets are full again, so memory stays bounded. For a periodic job.
    pub fn shrink(&self) {
        self.per_ip.retain_recent();
        self.per_username.retain_recent();
        self.per_ip.shrink_to_fit();
        self.per_username.shrink_to_fit();
    }
}

/// The per-address limit on POSTs to `/auth/*`, `/oauth/token` and the sign-in pages. A refusal is
/// an ordinary response (a page for the sign-in pages), so the request log still records it.
pub async fn limit_logins(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Err(e) = check_address(&req).await {
        let res = if req.path().starts_with("/login") {
            crate::pages::failure_for(req.request(), e)
        } else {
            actix_web::ResponseError::error_response(&e)
        };
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Requests that present credentials to be checked: every POST to `/auth/*` (logins, MFA,
/// registration, reset, refresh, revocation, logout), to `/oauth/token`, and to the sign-in pages
/// (`/login`, `/login/mfa`). Reads such as `/auth/userinfo` and the JWKS, which other services
/// call often, are not limited.
fn limited(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == actix_web::http::Method::POST
        && (path.starts_with("/auth/") || matches!(path, "/oauth/token" | "/login" | "/login/mfa"))
}

async fn check_address(req: &ServiceRequest) -> Result<(), ApiError> {
    if !limited(req) {
        return Ok(());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Ok(());
    };
    match client_ip(req.request()) {
        Some(ip) => state.limits.check_ip(ip).await,
        None => Ok(()),
    }
}

/// The address of the client of `req`, through trusted proxies (see `RateLimits::client_ip`).
pub fn client_ip(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return peer;
    };
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    state.limits.client_ip(peer, forwarded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> RateLimits {
        RateLimits::new(&RateLimitSettings {
            enabled: true,
            per_ip_per_minute: 2,
            per_username_per_minute: 1,
            trusted_proxies: trusted.iter().map(|t| t.parse().unwrap()).collect(),
        })
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let l = limits(&["10.0.0.1", "10.0.0.2"]);
        let xff = Some("203.0.113.9, 198.51.100.7, 10.0.0.2");
        assert_eq!(
            l.client_ip(Some(ip("192.0.2.1")), xff),
            Some(ip("192.0.2.1"))
        );
        assert_eq!(
            l.client_ip(Some(ip("10.0.0.1")), xff),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            l.client_ip(Some(ip("10.0.0.1")), None),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            l.client_ip(Some(ip("10.0.0.1")), Some("junk, 10.0.0.2")),
            Some(ip("10.0.0.2"))
        );
    }

    #[actix_web::test]
    async fn budgets_are_per_key_and_say_when_to_retry() {
        let l = limits(&[]);
        assert!(l.check_ip(ip("192.0.2.1")).await.is_ok());
        assert!(l.check_ip(ip("192.0.2.1")).await.is_ok());
        match l.check_ip(ip("192.0.2.1")).await {
            Err(ApiError::RateLimited { retry_after }) => assert!((1..=30).contains(&retry_after)),
            other => panic!("{other:?}"),
        }
        assert!(l.check_ip(ip("192.0.2.2")).await.is_ok());
        assert!(l.check_username("Bob").await.is_ok());
        assert!(l.check_username("bob ").await.is_err());
        assert!(l.check_username("alice").await.is_ok());
        let off = RateLimits::new(&RateLimitSettings {
            enabled: false,
            per_ip_per_minute: 1,
            per_username_per_minute: 1,
            trusted_proxies: vec![],
        });
        for _ in 0..5 {
            assert!(off.check_ip(ip("192.0.2.1")).await.is_ok());
        }
    }
}
