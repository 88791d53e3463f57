//! A web application that signs its users in with Tessera, as a developer would write one: the
//! OpenID Connect authorization code flow with PKCE, through the `openidconnect` crate.
//!
//! - `GET /`: who is signed in (the ID token's `preferred_username`, `sub`, `auth_time` and `amr`,
//!   and the UserInfo answer), or a link to sign in.
//! - `GET /login`: sends the browser to the provider's authorization endpoint with a PKCE
//!   challenge (S256), a `state` and a `nonce`, kept here until the browser comes back.
//! - `GET /callback`: where the provider sends the browser back. The code is exchanged (with the
//!   PKCE verifier, and the client's secret for a confidential client), the ID token checked
//!   (signature against the provider's JWKS, `iss`, `aud`, `exp`, `nonce`, `at_hash`), UserInfo
//!   read, and a local session opened.
//! - `GET /logout`: ends the local session, and sends the browser to the provider's end-session
//!   endpoint when its discovery document names one (RP-Initiated Logout).
//!
//! Pending sign-ins and sessions are kept in memory: a restart signs everyone out, and several
//! instances behind a load balancer would need a shared store for both.

use std::collections::HashMap;
use std::fmt;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Server;
use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use anyhow::Context as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndSessionUrl,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, SignatureVerificationError, TokenResponse as _,
};
use serde::Deserialize;

/// The scopes asked for by default: who the user is (`profile`: `preferred_username`, `name`)
/// and their address (`email`).
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// The cookie holding the id of the browser's local session.
pub const SESSION_COOKIE: &str = "oidc_web_app_session";

/// The cookie tying a sign-in in progress to the browser that started it: it holds the `state`
/// sent to the provider, which must come back to this same browser.
pub const LOGIN_COOKIE: &str = "oidc_web_app_login";

/// How long a sign-in may take, from `/login` to `/callback`.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// At most this many sign-ins in progress; past it the oldest is forgotten.
const PENDING_MAX: usize = 1_000;
/// How long a local session lasts, used or not.
const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
/// At most this many local sessions; past it the oldest ends.
const SESSION_MAX: usize = 10_000;
/// How often, at most, the provider is discovered again for keys it did not have before.
const REDISCOVERY_FLOOR: Duration = Duration::from_secs(60);
/// How long a request to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// The pages load nothing (no script, no style, no image) and are never framed.
const PAGE_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Where the provider is, who this application is to it, and where browsers reach the
/// application.
#[derive(Clone)]
pub struct Config {
    /// The provider's issuer, exactly as its discovery document says it (Tessera's
    /// `tokens.issuer`), e.g. `http://127.0.0.1:8081`: discovery is refused otherwise.
    pub issuer: String,
    /// The `client_id` the provider gave this application when it was registered.
    pub client_id: String,
    /// The secret of a confidential client, sent with HTTP Basic (`client_secret_basic`); `None`
    /// for a public client, which sends its `client_id` and relies on PKCE alone.
    pub client_secret: Option<String>,
    /// The application's base URL as browsers reach it, e.g. `http://127.0.0.1:8082`. Its
    /// redirect URI is `{app_url}/callback` and its post-logout redirect URI `{app_url}/`: both
    /// must be registered exactly so. An `https` URL makes the cookies `Secure`.
    pub app_url: String,
    /// The scopes to ask for (each may hold several, separated by spaces); `openid` is always
    /// asked for.
    pub scopes: Vec<String>,
}

impl Config {
    /// A configuration asking for `DEFAULT_SCOPES`.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Option<String>,
        app_url: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret,
            app_url: app_url.into(),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// Everything but the secret, which never reaches a log.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("app_url", &self.app_url)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Discovers the provider (its metadata, and the JWKS the ID tokens are checked against) and
/// serves the application on `listener`; the server runs once awaited (or spawned), and stops
/// on Ctrl-C or SIGTERM.
///
/// # Errors
/// When `app_url` or the issuer is not a URL, when the provider cannot be discovered (unreachable,
/// another issuer in its document, no JWKS), or when the listener cannot be used.
pub async fn serve(listener: TcpListener, config: Config) -> anyhow::Result<Server> {
    let app_url = config.app_url.trim_end_matches('/').to_owned();
    let parsed = url::Url::parse(&app_url)
        .with_context(|| format!("the application's URL is not a URL: {app_url}"))?;
    let registration = Registration {
        issuer: config.issuer.clone(),
        client_id: ClientId::new(config.client_id.clone()),
        client_secret: config.client_secret.clone().map(ClientSecret::new),
        redirect: RedirectUrl::new(format!("{app_url}/callback"))
            .with_context(|| format!("the redirect URI is not a URL: {app_url}/callback"))?,
    };
    let post_logout = PostLogoutRedirectUrl::new(format!("{app_url}/"))
        .with_context(|| format!("the post-logout redirect URI is not a URL: {app_url}/"))?;
    let http = Http::new()?;
    let provider = discover(&http, &registration).await?;
    let scopes = config
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        // openidconnect adds `openid` itself.
        .filter(|s| *s != "openid")
        .map(|s| Scope::new(s.to_owned()))
        .collect();

    let state = web::Data::new(State {
        http,
        registration,
        provider: RwLock::new(Arc::new(provider)),
        discovered: Mutex::new(Instant::now()),
        scopes,
        post_logout,
        secure_cookies: parsed.scheme() == "https",
        pending: Expiring::new(PENDING_TTL, PENDING_MAX),
        sessions: Expiring::new(SESSION_TTL, SESSION_MAX),
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/", web::get().to(home))
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback))
            .route("/logout", web::get().to(logout))
    })
    .workers(2)
    .listen(listener)
    .context("cannot serve on the listener")?
    .run();
    Ok(server)
}

/// The client as discovery makes it: an authorization endpoint, and a token and a UserInfo
/// endpoint when the provider names them.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Who this application is to the provider.
struct Registration {
    /// The issuer as configured.
    issuer: String,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
}

/// What discovery says of the provider, its keys included, made into a client.
struct Provider {
    client: OidcClient,
    /// The issuer of the discovery document, which the `iss` of an answer must be.
    issuer: String,
    end_session: Option<EndSessionUrl>,
}

/// The provider's discovery document and JWKS, made into a client of `registration`.
async fn discover(http: &Http, registration: &Registration) -> anyhow::Result<Provider> {
    let issuer_url = IssuerUrl::new(registration.issuer.clone())
        .with_context(|| format!("the issuer is not a URL: {}", registration.issuer))?;
    let fetch = move |request| http.call(request);
    let metadata = ProviderMetadataWithLogout::discover_async(issuer_url, &fetch)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot discover the provider at {}: {}",
                registration.issuer,
                chain(&e)
            )
        })?;
    let end_session = metadata.additional_metadata().end_session_endpoint.clone();
    let issuer = metadata.issuer().as_str().to_owned();
    // HTTP Basic for a confidential client; a public one sends its client_id in the form.
    let client: OidcClient = CoreClient::from_provider_metadata(
        metadata,
        registration.client_id.clone(),
        registration.client_secret.clone(),
    )
    .set_redirect_uri(registration.redirect.clone())
    .set_auth_type(AuthType::BasicAuth);
    Ok(Provider {
        client,
        issuer,
        end_session,
    })
}

/// What the workers share.
struct State {
    http: Http,
    registration: Registration,
    /// The provider as last discovered.
    provider: RwLock<Arc<Provider>>,
    /// When it was; discovery happens again, for new keys, at most once a `REDISCOVERY_FLOOR`.
    discovered: Mutex<Instant>,
    scopes: Vec<Scope>,
    post_logout: PostLogoutRedirectUrl,
    secure_cookies: bool,
    /// Sign-ins in progress, by `state`.
    pending: Expiring<Pending>,
    /// Local sessions, by the id in the session cookie.
    sessions: Expiring<Session>,
}

impl State {
    fn provider(&self) -> Arc<Provider> {
        let provider = self.provider.read().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(&provider)
    }

    /// The provider discovered anew, for the keys it signs with now: an ID token naming a key
    /// (`kid`) the JWKS known here lacks was signed after a key rotation. At most once a
    /// `REDISCOVERY_FLOOR`, so that tokens naming made-up keys cannot make this application
    /// hammer the provider; within it, the provider already known.
    async fn rediscover(&self) -> anyhow::Result<Arc<Provider>> {
        {
            let mut discovered = lock(&self.discovered);
            if discovered.elapsed() < REDISCOVERY_FLOOR {
                return Ok(self.provider());
            }
            *discovered = Instant::now();
        }
        let provider = Arc::new(discover(&self.http, &self.registration).await?);
        *self
            .provider
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::clone(&provider);
        Ok(provider)
    }
}

/// A sign-in in progress: what proves, at the callback, that the code and the ID token are the
/// answer to this application's own request.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

/// A signed-in browser: what the ID token and UserInfo said when it signed in.
#[derive(Clone)]
struct Session {
    /// Sent back to the provider as `id_token_hint` at logout.
    id_token: CoreIdToken,
    sub: String,
    /// `preferred_username`, or `sub` without one.
    username: String,
    auth_time: Option<String>,
    amr: Vec<String>,
    /// UserInfo's answer as JSON, when the provider has a UserInfo endpoint.
    userinfo: Option<String>,
}

/// The HTTP client `openidconnect` sends its requests with (discovery, JWKS, token, UserInfo).
///
/// It follows no redirect, as the crate asks (a redirect could take a request carrying
/// credentials elsewhere, or to an internal address), and keeps no idle connection: actix-web
/// runs each worker on a runtime of its own, and a pooled connection belongs to the runtime
/// that opened it. A sign-in calls the provider twice; a new connection each time costs little.
#[derive(Debug, Clone)]
struct Http(reqwest::Client);

impl Http {
    fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self(client))
    }

    async fn call(
        &self,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, reqwest::Error> {
        let (parts, body) = request.into_parts();
        let response = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        let mut out = openidconnect::HttpResponse::new(body);
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// Entries that live `ttl` at most, `max` of them at most (the oldest go first when it is
/// full): what a flood of requests adds cannot grow without bound.
struct Expiring<V> {
    ttl: Duration,
    max: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V> Expiring<V> {
    fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn insert(&self, key: String, value: V) {
        let (ttl, now) = (self.ttl, Instant::now());
        let mut entries = lock(&self.entries);
        entries.retain(|_, entry| now.duration_since(entry.0) < ttl);
        while entries.len() >= self.max.max(1) {
            let oldest = entries
                .iter()
                .min_by_key(|&(_, &(at, _))| at)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => {
                    entries.remove(&key);
                }
                None => break,
            }
        }
        entries.insert(key, (now, value));
    }

    /// The entry of `key`, taken out: it serves once.
    fn take(&self, key: &str) -> Option<V> {
        let (at, value) = lock(&self.entries).remove(key)?;
        (at.elapsed() < self.ttl).then_some(value)
    }

    /// A copy of the entry of `key`, left in place.
    fn get(&self, key: &str) -> Option<V>
    where
        V: Clone,
    {
        lock(&self.entries)
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }
}

/// The lock, even when a holder panicked: the maps hold no invariant a half-done change breaks.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn home(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let session = req
        .cookie(SESSION_COOKIE)
        .and_then(|cookie| state.sessions.get(cookie.value()));
    let Some(s) = session else {
        return page(
            StatusCode::OK,
            "Signed out",
            "<h1>Signed out</h1>\n<p><a href=\"/login\">Sign in with Tessera</a></p>",
        );
    };
    let amr = if s.amr.is_empty() {
        "(not said)".to_owned()
    } else {
        s.amr.join(", ")
    };
    let userinfo = s
        .userinfo
        .as_deref()
        .unwrap_or("(the provider has no UserInfo endpoint)");
    let body = format!(
        "<h1>Signed in as {username}</h1>\n\
         <dl>\n\
         <dt>Subject (<code>sub</code>)</dt><dd><code>{sub}</code></dd>\n\
         <dt>Signed in at (<code>auth_time</code>)</dt><dd>{auth_time}</dd>\n\
         <dt>How (<code>amr</code>)</dt><dd>{amr}</dd>\n\
         </dl>\n\
         <h2>UserInfo</h2>\n\
         <pre>{userinfo}</pre>\n\
         <p><a href=\"/logout\">Sign out</a></p>",
        username = escape(&s.username),
        sub = escape(&s.sub),
        auth_time = escape(s.auth_time.as_deref().unwrap_or("(not said)")),
        amr = escape(&amr),
        userinfo = escape(userinfo),
    );
    page(StatusCode::OK, "Signed in", &body)
}

async fn login(state: web::Data<State>) -> HttpResponse {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let provider = state.provider();
    let (url, csrf, nonce) = provider
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(state.scopes.iter().cloned())
        .set_pkce_challenge(challenge)
        .url();
    state
        .pending
        .insert(csrf.secret().clone(), Pending { verifier, nonce });
    HttpResponse::Found()
        .insert_header((header::LOCATION, url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(login_cookie(&state, csrf.secret().clone()))
        .finish()
}

/// The parameters of the authorization response (RFC 6749 §4.1.2, RFC 9207): a code, or an
/// error.
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
    state: web::Data<State>,
) -> Result<HttpResponse, Failure> {
    let query = query.into_inner();
    let returned_state = query.state.as_deref().unwrap_or_default();
    // Once only: a replayed or forged answer finds nothing.
    let pending = state.pending.take(returned_state).ok_or_else(|| {
        Failure::bad_request(
            "Unknown sign-in",
            "This sign-in is not one this application started, was already completed, or took \
             longer than ten minutes. Please sign in again.",
        )
    })?;
    // Only the browser that started the sign-in finishes it: nobody can sign a victim's browser
    // in to the attacker's account by sending it the attacker's callback link.
    let cookie = req.cookie(LOGIN_COOKIE);
    if cookie.as_ref().map(|c| c.value()) != Some(returned_state) {
        return Err(Failure::bad_request(
            "Sign-in started elsewhere",
            "This sign-in was not started in this browser, or another one was started since. \
             Please sign in again.",
        ));
    }
    let provider = state.provider();
    // RFC 9207: an answer naming another issuer may come from another provider (a mix-up).
    if let Some(iss) = &query.iss {
        if *iss != provider.issuer {
            return Err(Failure::bad_request(
                "Wrong issuer",
                format!(
                    "The answer comes from the issuer {iss}, not from {}. Please sign in again.",
                    provider.issuer
                ),
            ));
        }
    }
    if let Some(error) = &query.error {
        let said = query
            .error_description
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        return Err(Failure::bad_request(
            "Not signed in",
            format!("{} (the provider answered {error}{said})", in_words(error)),
        ));
    }
    let code = query.code.ok_or_else(|| {
        Failure::bad_request(
            "No code",
            "The provider's answer holds neither a code nor an error.",
        )
    })?;

    let http = &state.http;
    let fetch = move |request| http.call(request);
    let token = provider
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Failure::provider("The provider names no token endpoint", chain(&e)))?
        .set_pkce_verifier(pending.verifier)
        .request_async(&fetch)
        .await
        .map_err(|e| Failure::provider("The code exchange failed", chain(&e)))?;

    // The signature against the provider's JWKS, `iss`, `aud` (and `azp`), `exp`, and the
    // nonce this sign-in sent.
    let id_token = token.id_token().ok_or_else(|| {
        Failure::provider(
            "No ID token",
            "The token response holds no ID token.".to_owned(),
        )
    })?;
    // A key this application has not seen: the provider rotated its keys since discovery.
    let provider = if signed_with_unknown_key(&provider, id_token) {
        state
            .rediscover()
            .await
            .map_err(|e| Failure::provider("Cannot fetch the provider's keys", format!("{e:#}")))?
    } else {
        provider
    };
    let verifier = provider.client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &pending.nonce)
        .map_err(|e| Failure::provider("The ID token is not valid", chain(&e)))?;
    // `at_hash`: the access token is the one issued with this ID token. OIDC Core makes it
    // optional in the code flow; Tessera always sends one.
    if let Some(expected) = claims.access_token_hash() {
        fn bad(e: &dyn std::error::Error) -> Failure {
            Failure::provider("Cannot check at_hash", chain(e))
        }
        let alg = id_token.signing_alg().map_err(|e| bad(&e))?;
        let key = id_token.signing_key(&verifier).map_err(|e| bad(&e))?;
        let actual =
            AccessTokenHash::from_token(token.access_token(), alg, key).map_err(|e| bad(&e))?;
        if expected != &actual {
            return Err(Failure::provider(
                "The ID token is not valid",
                "Its at_hash does not match the access token.".to_owned(),
            ));
        }
    }

    let sub = claims.subject().as_str().to_owned();
    let username = claims
        .preferred_username()
        .map_or_else(|| sub.clone(), |u| u.as_str().to_owned());
    let auth_time = claims.auth_time().map(|t| t.to_rfc3339());
    let amr = claims
        .auth_method_refs()
        .map(|refs| refs.iter().map(|m| m.as_str().to_owned()).collect())
        .unwrap_or_default();
    // UserInfo, for the ID token's subject only.
    let userinfo = match provider
        .client
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
    {
        // The provider names no UserInfo endpoint: the ID token is all there is.
        Err(_) => None,
        Ok(request) => {
            let info: CoreUserInfoClaims = request
                .request_async(&fetch)
                .await
                .map_err(|e| Failure::provider("UserInfo failed", chain(&e)))?;
            let json = serde_json::to_string_pretty(&info)
                .map_err(|e| Failure::provider("UserInfo failed", chain(&e)))?;
            Some(json)
        }
    };

    // A new session id at each sign-in; the browser's previous session, if any, ends.
    if let Some(old) = req.cookie(SESSION_COOKIE) {
        state.sessions.take(old.value());
    }
    let session_id = CsrfToken::new_random_len(32).into_secret();
    state.sessions.insert(
        session_id.clone(),
        Session {
            id_token: id_token.clone(),
            sub,
            username,
            auth_time,
            amr,
            userinfo,
        },
    );
    let mut spent = login_cookie(&state, String::new());
    spent.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/"))
        .cookie(session_cookie(&state, session_id))
        .cookie(spent)
        .finish())
}

async fn logout(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let session = req
        .cookie(SESSION_COOKIE)
        .and_then(|cookie| state.sessions.take(cookie.value()));
    let mut gone = session_cookie(&state, String::new());
    gone.make_removal();
    let provider = state.provider();
    match provider.end_session.as_ref().zip(session) {
        // The provider ends its own session too, then sends the browser back here.
        Some((endpoint, session)) => {
            let to = LogoutRequest::from(endpoint.clone())
                .set_id_token_hint(&session.id_token)
                .set_client_id(provider.client.client_id().clone())
                .set_post_logout_redirect_uri(state.post_logout.clone())
                .set_state(CsrfToken::new_random())
                .http_get_url();
            HttpResponse::Found()
                .insert_header((header::LOCATION, to.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .cookie(gone)
                .finish()
        }
        None => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .cookie(gone)
            .finish(),
    }
}

/// Whether `id_token` names a signing key the provider's JWKS, as known here, does not hold.
fn signed_with_unknown_key(provider: &Provider, id_token: &CoreIdToken) -> bool {
    matches!(
        id_token.signing_key(&provider.client.id_token_verifier()),
        Err(SignatureVerificationError::NoMatchingKey)
    )
}

/// The session cookie: `HttpOnly` (no script reads it), `SameSite=Lax` (sent when a link from
/// another site leads here, not with another site's forms), `Secure` on `https`.
fn session_cookie(state: &State, id: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, id)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .finish()
}

/// The sign-in cookie, sent to the callback only. `SameSite=Lax`, not `Strict`: the browser
/// comes back from the provider's site, and must bring it.
fn login_cookie(state: &State, value: String) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, value)
        .path("/callback")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .finish()
}

/// A page of the application: HTML, never cached, loading nothing.
fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{} · Example application</title>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
            escape(title)
        ))
}

/// `text` as HTML text or attribute value: the five characters that could open markup or end
/// an attribute, escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An error and its causes, on one line: the crates' own messages are terse ("Request failed")
/// and the cause says what went wrong.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What an error code of the authorization response (OAuth 2.0, OpenID Connect) means to the
/// person who was signing in.
fn in_words(error: &str) -> &'static str {
    match error {
        "access_denied" => "The sign-in was refused or cancelled.",
        "login_required" => "You need to sign in at the provider first.",
        "consent_required" => "The provider needs your consent for this application first.",
        "interaction_required" | "account_selection_required" => {
            "The provider needs you to do something on its pages first."
        }
        "invalid_request" => "The provider found this application's request malformed.",
        "invalid_scope" => "This application asked for something the provider does not grant it.",
        "unauthorized_client" => "This application may not sign people in this way.",
        "unsupported_response_type" => {
            "The provider does not answer the way this application asked."
        }
        "server_error" => "The provider met an error.",
        "temporarily_unavailable" => "The provider is busy or down; try again in a moment.",
        _ => "The provider did not sign you in.",
    }
}

/// Why a callback did not sign anyone in, shown as a page.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    title: &'static str,
    detail: String,
}

impl Failure {
    /// The browser brought an answer this application does not take: 400.
    fn bad_request(title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title,
            detail: detail.into(),
        }
    }

    /// A step with the provider failed, or the provider answered what cannot be trusted: 502,
    /// and the cause on standard error too.
    fn provider(title: &'static str, detail: String) -> Self {
        eprintln!("sign-in failed: {title}: {detail}");
        Self {
            status: StatusCode::BAD_GATEWAY,
            title,
            detail,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.title, self.detail)
    }
}

impl ResponseError for Failure {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        page(
            self.status,
            self.title,
            &format!(
                "<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/login\">Sign in again</a> · \
                 <a href=\"/\">Home</a></p>",
                escape(self.title),
                escape(&self.detail)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_text_opens_no_markup() {
        assert_eq!(
            escape("<a href=\"x\">O'Brien & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Brien &amp; co&lt;/a&gt;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn an_entry_is_taken_once() {
        let map = Expiring::new(Duration::from_secs(60), 10);
        map.insert("a".to_owned(), 1);
        assert_eq!(map.get("a"), Some(1));
        assert_eq!(map.take("a"), Some(1));
        assert_eq!(map.take("a"), None);
        assert_eq!(map.get("a"), None);
    }

    #[test]
    fn an_expired_entry_is_gone() {
        let map = Expiring::new(Duration::ZERO, 10);
        map.insert("a".to_owned(), 1);
        assert_eq!(map.get("a"), None);
        assert_eq!(map.take("a"), None);
    }

    #[test]
    fn a_full_map_forgets_its_oldest_entry() {
        let map = Expiring::new(Duration::from_secs(60), 2);
        for key in ["a", "b", "c"] {
            map.insert(key.to_owned(), key);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(map.get("a"), None);
        assert_eq!(map.get("b"), Some("b"));
        assert_eq!(map.get("c"), Some("c"));
    }
}
