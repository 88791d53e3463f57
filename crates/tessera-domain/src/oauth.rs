//! The OpenID Connect provider, authorization code flow with PKCE: registered clients, the checks
//! of the authorization endpoint, single-use codes, and the exchange of a code for an access
//! token, an ID token and (with `offline_access`) a refresh token.
//!
//! The front door reads the browser's single sign-on session (`Gate::sso_session`), calls
//! `OAuthProvider::authorize`, and either sends the user to sign in first, asks them to consent
//! (then calls `OAuthProvider::decide_consent` with their answer), or sends them back to the
//! client with a code; the client then calls `OAuthProvider::exchange_code` from its back end.
//!
//! Signing out (OpenID Connect RP-Initiated Logout 1.0): `OAuthProvider::end_session` ends the
//! browser's sign-in with the client sessions bound to it, asking the user first when nothing
//! vouches for the request, and sends the browser on to a registered post-logout redirect URI.

use std::sync::Arc;

use crate::access::{authorize, checked_limit, page, Action, Kind, Target};
use crate::audit::{Audit, Auditor, Event, Outcome, RequestContext};
use crate::claims::{IdClaims, IdHint};
use crate::error::{AuthorizeError, EndSessionError, FieldErrors, OAuthGrantError, UserError};
use crate::issuer::Issuer;
use crate::ports::{
    AccessRepository, AccessTokenCodec, AuthorizationCodes, ClientRepository, Clock, CodeRecord,
    ConsentRepository, NewCode, Observer, Redeemed, SecretTokens, SessionRepository,
    UserRepository,
};
use crate::principal::Principal;
use crate::revocation::Revocations;
use crate::time::UnixTime;
use crate::token::{HashedToken, PlainToken, SessionId};
use crate::usecases::TokenSettings;
use crate::user::{DisplayName, TenantId, User, UserId};
use crate::users::Page;

/// Prefix of every OAuth client id.
///
/// Invariant: this prefix never changes, and no other client id starts with it (settings refuse
/// it for `tokens.client_id`): the access tokens issued to registered clients are told apart by
/// it (`Principal::issued_to_oauth_client`).
pub const CLIENT_ID_PREFIX: &str = "tc_";
/// Prefix of every client secret. Invariant: never changes, as `API_KEY_PREFIX`.
pub const CLIENT_SECRET_PREFIX: &str = "tsc_";
/// Prefix of every authorization code. Invariant: never changes, as `API_KEY_PREFIX`.
pub const CODE_PREFIX: &str = "tac_";
/// Seconds an authorization code can be exchanged (RFC 6749 §4.1.2 asks for a short lifetime).
pub const CODE_TTL: i64 = 60;
/// The OpenID Connect scopes a client may register beside the configured `tokens.scope`.
pub const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// The grant types a client may register.
pub const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];
/// The response types a client may register.
pub const RESPONSE_TYPES: [&str; 1] = ["code"];
/// Longest redirect URI, in characters.
pub const MAX_URI_LEN: usize = 2000;
/// Most redirect URIs (and, apart, post-logout redirect URIs) a client may register.
pub const MAX_URIS: usize = 20;
/// Longest `state` an authorization request may carry, in characters.
pub const MAX_STATE_LEN: usize = 2048;
/// Longest `nonce` an authorization request may carry, in characters.
pub const MAX_NONCE_LEN: usize = 512;
/// Longest `scope` an authorization request may carry, in characters.
pub const MAX_SCOPE_LEN: usize = 1024;
/// Longest `ui_locales` an authorization request may carry, in characters.
pub const MAX_UI_LOCALES_LEN: usize = 256;
/// Longest query, in bytes, of the request the sign-in page sends the browser back to once the
/// user has signed in (`AuthorizationRequest::query` of the request without what asked for the
/// sign-in): a request whose query would be longer is refused, whether a sign-in is needed or not,
/// and the sign-in page takes a way back of the authorization endpoint's path and this much. One
/// bound for both, so that a request the endpoint takes always comes back after signing in.
pub const MAX_RESUME_QUERY_LEN: usize = 8192;
/// A `login_hint` longer than this is cut.
const MAX_LOGIN_HINT_LEN: usize = 256;

/// How a client authenticates at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Its secret in HTTP Basic.
    ClientSecretBasic,
    /// Its secret in the form.
    ClientSecretPost,
    /// A public client (a browser or native app): no secret, PKCE alone protects its codes.
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::None,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
        }
    }

    /// Whether clients of this method have a secret.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }
}

/// A registered client. It never carries its secret, only the secret's digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// The row id, assigned by the store.
    pub id: i64,
    /// The public id: `CLIENT_ID_PREFIX` and 128 random bits.
    pub client_id: String,
    /// The tenant whose users sign in to it; `None`: the global users.
    pub tenant_id: Option<TenantId>,
    pub client_name: String,
    pub auth_method: AuthMethod,
    /// The digest of its secret; `None` for a public client.
    pub secret: Option<HashedToken>,
    /// Absolute URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// The scopes it may be granted, space-separated; always with `openid`.
    pub scope: String,
    /// Tessera's own application, trusted by the operator who registered it: its users are never
    /// asked for consent.
    pub first_party: bool,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

/// What a user consented to give a client: remembered, so that the next authorization of the
/// same scopes (or fewer) does not ask again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The client's row id (`OAuthClient::id`).
    pub client_pk: i64,
    /// The client's public id and name, for the user to recognise it.
    pub client_id: String,
    pub client_name: String,
    /// The scopes granted, space-separated, each once: every scope the user ever consented to
    /// give this client (`merged_scope`).
    pub scope: String,
    /// When the user first consented.
    pub created_at: UnixTime,
    /// When the user last consented to more.
    pub updated_at: UnixTime,
}

impl Consent {
    /// Whether the user consented to every scope of `scope` (space-separated).
    pub fn covers(&self, scope: &str) -> bool {
        scope.split_whitespace().all(|s| has_scope(&self.scope, s))
    }
}

/// The scopes of `held` and then those of `added` not in it, each once, space-separated: what a
/// consent says once the user has consented to `added` too. Consents only grow; the user revokes
/// a consent whole.
pub fn merged_scope(held: &str, added: &str) -> String {
    let mut scopes: Vec<&str> = Vec::new();
    for s in held.split_whitespace().chain(added.split_whitespace()) {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    scopes.join(" ")
}

impl OAuthClient {
    /// Whether it registered the refresh-token grant (and so may be granted `offline_access`).
    pub fn may_refresh(&self) -> bool {
        self.grant_types.iter().any(|g| g == "refresh_token")
    }
}

/// A client registration as received (RFC 7591 §2 names); `NewClient::parse` checks it.
#[derive(Debug, Clone, Default)]
pub struct ClientRequest {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    /// Absent: none.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Absent: `authorization_code`.
    pub grant_types: Option<Vec<String>>,
    /// Absent: `code`.
    pub response_types: Option<Vec<String>>,
    /// Absent: `client_secret_basic`.
    pub token_endpoint_auth_method: Option<String>,
    /// Absent: every supported scope (`offline_access` only with the refresh-token grant).
    pub scope: Option<String>,
    /// Absent: false.
    pub first_party: Option<bool>,
    /// Absent: the caller's tenant (none for a global admin).
    pub tenant_id: Option<i64>,
}

/// A checked registration, ready to store.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub tenant_id: Option<TenantId>,
    pub client_name: DisplayName,
    pub auth_method: AuthMethod,
    // Invariant: 1 to `MAX_URIS` URIs, each passing `redirect_uri_problems`, without duplicates.
    pub redirect_uris: Vec<String>,
    // Invariant: at most `MAX_URIS`, each passing `redirect_uri_problems`.
    pub post_logout_redirect_uris: Vec<String>,
    // Invariant: a subset of `GRANT_TYPES` with `authorization_code`.
    pub grant_types: Vec<String>,
    // Invariant: a subset of `RESPONSE_TYPES`, not empty.
    pub response_types: Vec<String>,
    // Invariant: supported scopes with `openid`, and `offline_access` only with `refresh_token`.
    pub scope: String,
    pub first_party: bool,
}

impl NewClient {
    /// Checks a registration, naming every broken rule by field: `client_name` as a display name;
    /// `redirect_uris[i]` and `post_logout_redirect_uris[i]` by `redirect_uri_problems`, and
    /// the lists `empty` or `too_many`; `grant_types`, `response_types`,
    /// `token_endpoint_auth_method` and `scope` `unsupported` outside what Tessera serves (`scope`
    /// within `supported`); `grant_types` `missing_authorization_code`; `scope` `missing_openid`
    /// and `offline_access_needs_refresh_token`. The tenant is left for the use case.
    ///
    /// # Errors
    /// Every problem found.
    pub fn parse(req: &ClientRequest, supported: &[String]) -> Result<Self, FieldErrors> {
        let mut f = FieldErrors::new();
        let client_name = DisplayName::parse(&req.client_name)
            .map_err(|p| f.extend("client_name", p))
            .ok();
        let redirect_uris = uri_list(&mut f, "redirect_uris", &req.redirect_uris, true);
        let post_logout_redirect_uris = uri_list(
            &mut f,
            "post_logout_redirect_uris",
            req.post_logout_redirect_uris.as_deref().unwrap_or_default(),
            false,
        );
        let grant_types = values(
            &mut f,
            "grant_types",
            req.grant_types.as_deref(),
            &GRANT_TYPES,
            &["authorization_code"],
        );
        if !grant_types.iter().any(|g| g == "authorization_code") {
            f.add("grant_types", "missing_authorization_code");
        }
        let response_types = values(
            &mut f,
            "response_types",
            req.response_types.as_deref(),
            &RESPONSE_TYPES,
            &RESPONSE_TYPES,
        );
        let auth_method = match req.token_endpoint_auth_method.as_deref() {
            None => AuthMethod::ClientSecretBasic,
            Some(raw) => AuthMethod::parse(raw).unwrap_or_else(|| {
                f.add("token_endpoint_auth_method", "unsupported");
                AuthMethod::ClientSecretBasic
            }),
        };
        let refresh = grant_types.iter().any(|g| g == "refresh_token");
        let scope = client_scope(&mut f, req.scope.as_deref(), supported, refresh);
        let client_name = client_name.filter(|_| f.is_empty());
        let Some(client_name) = client_name else {
            return Err(f);
        };
        Ok(Self {
            tenant_id: None,
            client_name,
            auth_method,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            scope,
            first_party: req.first_party.unwrap_or(false),
        })
    }
}

/// Checks a list of redirect URIs and returns the good ones without duplicates.
fn uri_list(f: &mut FieldErrors, field: &str, uris: &[String], required: bool) -> Vec<String> {
    if required && uris.is_empty() {
        f.add(field, "empty");
    }
    if uris.len() > MAX_URIS {
        f.add(field, "too_many");
    }
    let mut good: Vec<String> = Vec::new();
    for (i, uri) in uris.iter().enumerate() {
        let problems = redirect_uri_problems(uri);
        if !problems.is_empty() {
            f.extend(&format!("{field}[{i}]"), problems);
        } else if !good.contains(uri) {
            good.push(uri.clone());
        }
    }
    good
}

/// The values asked for (or `default`), each of which must be in `allowed`, without duplicates.
fn values(
    f: &mut FieldErrors,
    field: &str,
    asked: Option<&[String]>,
    allowed: &[&str],
    default: &[&str],
) -> Vec<String> {
    let Some(asked) = asked else {
        return default.iter().map(|v| (*v).to_owned()).collect();
    };
    if asked.is_empty() {
        f.add(field, "empty");
    }
    if asked.iter().any(|v| !allowed.contains(&v.as_str())) {
        f.add(field, "unsupported");
    }
    let mut out: Vec<String> = Vec::new();
    for v in asked {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// The scope a client registers: the one asked for, checked, or every supported scope
/// (`offline_access` only with the refresh-token grant).
fn client_scope(
    f: &mut FieldErrors,
    asked: Option<&str>,
    supported: &[String],
    refresh: bool,
) -> String {
    let Some(asked) = asked else {
        return supported
            .iter()
            .filter(|s| refresh || *s != "offline_access")
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ");
    };
    let mut scopes: Vec<&str> = Vec::new();
    for s in asked.split_whitespace() {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if scopes.iter().any(|s| !supported.iter().any(|k| k == s)) {
        f.add("scope", "unsupported");
    }
    if !scopes.contains(&"openid") {
        f.add("scope", "missing_openid");
    }
    if scopes.contains(&"offline_access") && !refresh {
        f.add("scope", "offline_access_needs_refresh_token");
    }
    scopes.join(" ")
}

/// What is wrong with a redirect URI, if anything: `too_long` (over `MAX_URI_LEN` characters),
/// `invalid_characters` (anything but printable ASCII: a URI is ASCII, and goes in a `Location`
/// header as it is), `fragment`, `not_absolute`,
/// `unsupported_scheme` (other than `https` and `http`), `insecure` (`http` to a host other than
/// `127.0.0.1`, `[::1]` or `localhost`), `userinfo` (a user or password in it).
pub fn redirect_uri_problems(raw: &str) -> Vec<&'static str> {
    if raw.chars().count() > MAX_URI_LEN {
        return vec!["too_long"];
    }
    let mut problems = Vec::new();
    if !raw.chars().all(|c| c.is_ascii_graphic()) {
        problems.push("invalid_characters");
    }
    if raw.contains('#') {
        problems.push("fragment");
    }
    match url::Url::parse(raw) {
        Err(_) => problems.push("not_absolute"),
        Ok(uri) => {
            match uri.scheme() {
                "https" => {}
                "http" if is_loopback(&uri) => {}
                "http" => problems.push("insecure"),
                _ => problems.push("unsupported_scheme"),
            }
            if !uri.username().is_empty() || uri.password().is_some() {
                problems.push("userinfo");
            }
        }
    }
    problems
}

/// `127.0.0.1`, `[::1]` or `localhost`: where a native app listens for its redirect (RFC 8252 §7.3).
fn is_loopback(uri: &url::Url) -> bool {
    match uri.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Ipv6(ip)) => ip == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

/// Whether `client_id` names a registered OAuth client (rather than Tessera's own public client
/// or an API key).
pub fn is_client_id(client_id: &str) -> bool {
    client_id.starts_with(CLIENT_ID_PREFIX)
}

/// Whether `scope` holds an API scope: one of the configured `tokens.scope` values beyond the
/// OpenID Connect ones (`OIDC_SCOPES`), which a client may only have been granted after
/// registering it. It decides whether a client's access token is for Tessera's audiences too.
pub fn grants_api(scope: &str) -> bool {
    scope.split_whitespace().any(|s| !OIDC_SCOPES.contains(&s))
}

/// Whether `client_id` has the shape Tessera gives client ids (`tc_` and at most 64 URL-safe
/// characters): anything else names no client and is never looked up (a NUL byte, for one, is
/// not even a valid PostgreSQL text parameter).
fn well_formed_client_id(client_id: &str) -> bool {
    client_id
        .strip_prefix(CLIENT_ID_PREFIX)
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 64
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

/// The scopes a client may register: `openid`, the configured ones (`tokens.scope`), then
/// `profile`, `email` and `offline_access`, each once.
pub fn supported_scopes(configured: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    let all = std::iter::once("openid")
        .chain(configured.split_whitespace())
        .chain(OIDC_SCOPES);
    for s in all {
        if !scopes.iter().any(|k| k == s) {
            scopes.push(s.to_owned());
        }
    }
    scopes
}

/// A request read from parameters by name, each allowed once (RFC 6749 §3.1): an authorization
/// request or a logout request.
trait NamedParams: Default {
    /// Where the value of the parameter `name` goes; `None` for a parameter it does not take.
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>>;
    /// The names of the parameters that came more than once.
    fn repeated(&mut self) -> &mut Vec<String>;
}

/// Reads a request's parameters by name: unknown ones are ignored, a repeated one keeps its first
/// value and is named once in `repeated`.
fn read_params<R, K, V>(params: impl IntoIterator<Item = (K, V)>) -> R
where
    R: NamedParams,
    K: AsRef<str>,
    V: Into<String>,
{
    let mut req = R::default();
    for (name, value) in params {
        let name = name.as_ref();
        let Some(slot) = req.slot(name) else { continue };
        if slot.is_none() {
            *slot = Some(value.into());
        } else if !req.repeated().iter().any(|r| r == name) {
            req.repeated().push(name.to_owned());
        }
    }
    req
}

/// An authorization request's parameters as received (OAuth 2.0 §4.1.1, OIDC Core §3.1.2.1);
/// `OAuthProvider::authorize` checks them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub response_mode: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    /// The languages the user prefers for the pages, best first (OIDC Core §3.1.2.1): kept only to
    /// be sent on with the request, so that the sign-in and consent pages can speak one of them.
    pub ui_locales: Option<String>,
    /// The parameters that came more than once (RFC 6749 §3.1 allows each once).
    pub repeated: Vec<String>,
}

impl AuthorizationRequest {
    /// Reads the parameters of a request by name; unknown ones are ignored (RFC 6749 §3.1), a
    /// repeated one keeps its first value and is named in `repeated`.
    pub fn from_params<K, V>(params: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        read_params(params)
    }

    /// The parameters present, by name, to send the request on.
    pub fn params(&self) -> Vec<(&'static str, &str)> {
        [
            ("response_type", &self.response_type),
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("response_mode", &self.response_mode),
            ("prompt", &self.prompt),
            ("max_age", &self.max_age),
            ("login_hint", &self.login_hint),
            ("ui_locales", &self.ui_locales),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }

    /// The parameters present, form-encoded (`application/x-www-form-urlencoded`): the query of
    /// the authorization endpoint's path that sends the request on.
    pub fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(self.params());
        query.finish()
    }

    /// The request to send again once the user has signed in: without what asked for a fresh
    /// sign-in (`prompt=login`, `max_age=0`), which that sign-in has just satisfied, so that it
    /// does not ask again. `prompt=consent` stays: the sign-in is no consent.
    fn after_login(&self) -> Self {
        let mut next = self.clone();
        next.prompt = self
            .prompt
            .as_deref()
            .map(|p| {
                p.split_whitespace()
                    .filter(|v| *v != "login")
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|p| !p.is_empty());
        if self.max_age.as_deref().and_then(|m| m.parse::<i64>().ok()) == Some(0) {
            next.max_age = None;
        }
        next
    }
}

impl NamedParams for AuthorizationRequest {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "response_type" => &mut self.response_type,
            "client_id" => &mut self.client_id,
            "redirect_uri" => &mut self.redirect_uri,
            "scope" => &mut self.scope,
            "state" => &mut self.state,
            "nonce" => &mut self.nonce,
            "code_challenge" => &mut self.code_challenge,
            "code_challenge_method" => &mut self.code_challenge_method,
            "response_mode" => &mut self.response_mode,
            "prompt" => &mut self.prompt,
            "max_age" => &mut self.max_age,
            "login_hint" => &mut self.login_hint,
            "ui_locales" => &mut self.ui_locales,
            _ => return None,
        })
    }

    fn repeated(&mut self) -> &mut Vec<String> {
        &mut self.repeated
    }
}

/// The browser's single sign-on session, from its session cookie (`Gate::sso_session`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSession {
    pub user_id: UserId,
    pub tenant_id: Option<TenantId>,
    pub session_id: SessionId,
    /// When the user signed in: the session's creation.
    pub auth_time: UnixTime,
    /// The RFC 8176 methods of that sign-in.
    pub amr: Vec<String>,
}

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// The user must sign in first (none is signed in, or not recently enough, or the client
    /// asked for it); then `resume` is the request to make again.
    Login {
        resume: Box<AuthorizationRequest>,
        /// What the client suggested as the login name.
        login_hint: Option<String>,
        /// The name of the client's tenant, whose users sign in to it.
        tenant: Option<String>,
    },
    /// The user must say whether the client may have what it asks for (the client is not first
    /// party, and the user has not consented to every scope yet, or the client asked with
    /// `prompt=consent`); their answer goes to `OAuthProvider::decide_consent` with `request`.
    Consent {
        /// The request to decide, as it came.
        request: Box<AuthorizationRequest>,
        /// The client's registered name, for the user to recognise it.
        client_name: String,
        /// The scopes the client would be granted, in the client's order.
        scopes: Vec<String>,
        /// The username of who is signed in, so that they see whose data they give.
        username: String,
        /// The browser session the page is shown for (the `sid` of its sign-in). The page carries
        /// it back with the answer (`decide_consent`'s `shown_to`), which decides for this session
        /// only.
        session: SessionId,
    },
    /// Back to the client's redirect URI with a code.
    Code {
        redirect_uri: String,
        code: PlainToken,
        state: Option<String>,
    },
}

/// How a client presented itself at the token endpoint.
#[derive(Debug)]
pub struct PresentedClient {
    pub client_id: String,
    pub secret: Option<PlainToken>,
    /// How the secret came: `ClientSecretBasic` (HTTP Basic), `ClientSecretPost` (the form), or
    /// `None` (no secret).
    pub method: AuthMethod,
}

/// The authorization-code grant's own fields (RFC 6749 §4.1.3, RFC 7636 §4.5).
#[derive(Debug)]
pub struct CodeExchange {
    pub code: PlainToken,
    pub redirect_uri: String,
    pub code_verifier: PlainToken,
}

/// What a code buys.
#[derive(Debug)]
pub struct OidcTokens {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub id_token: String,
    /// The scope granted.
    pub scope: String,
    /// Only when `offline_access` was granted.
    pub refresh_token: Option<PlainToken>,
}

/// An RP-initiated logout request's parameters as received (OpenID Connect RP-Initiated Logout
/// 1.0 §2), from the query of a GET or the form of a POST; `OAuthProvider::end_session` checks
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndSessionRequest {
    /// An ID token this server issued, expired or not: which client asks, for which sign-in.
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    /// Where the browser goes once signed out: exactly one of the client's registered
    /// `post_logout_redirect_uris`.
    pub post_logout_redirect_uri: Option<String>,
    /// Given back to the client with the redirect.
    pub state: Option<String>,
    /// The languages the user prefers for the pages, best first (as at the authorization
    /// endpoint): the confirmation and "signed out" pages speak the first of them they can.
    /// Posted back with the confirmation.
    pub ui_locales: Option<String>,
    /// Read and not used: a browser holds one session, so there is no account to pick.
    pub logout_hint: Option<String>,
    /// The parameters that came more than once.
    pub repeated: Vec<String>,
    /// The user confirmed on this server's own page, whose CSRF token the front door checked.
    /// Never read from the request's parameters (`from_params` leaves it false).
    pub confirmed: bool,
}

impl EndSessionRequest {
    /// Reads the parameters of a request by name; unknown ones are ignored, a repeated one keeps
    /// its first value and is named in `repeated`.
    pub fn from_params<K, V>(params: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: AsRef<str>,
        V: Into<String>,
    {
        read_params(params)
    }

    /// The parameters present, by name, to send the request on (the confirmation page's form).
    pub fn params(&self) -> Vec<(&'static str, &str)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
            ("ui_locales", &self.ui_locales),
            ("logout_hint", &self.logout_hint),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }
}

impl NamedParams for EndSessionRequest {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "id_token_hint" => &mut self.id_token_hint,
            "client_id" => &mut self.client_id,
            "post_logout_redirect_uri" => &mut self.post_logout_redirect_uri,
            "state" => &mut self.state,
            "ui_locales" => &mut self.ui_locales,
            "logout_hint" => &mut self.logout_hint,
            _ => return None,
        })
    }

    fn repeated(&mut self) -> &mut Vec<String> {
        &mut self.repeated
    }
}

/// What the logout endpoint does next.
#[derive(Debug)]
pub enum EndSessionOutcome {
    /// Ask the user first: nothing vouches that the request comes from an application this
    /// browser signed in to (no `id_token_hint`, or one of another sign-in), and a bare link on
    /// any site must not sign anyone out. The page posts `request` back with the confirmation.
    Confirm {
        request: Box<EndSessionRequest>,
        /// The name of the client that asks, when one is known.
        client_name: Option<String>,
    },
    /// Signed out (or nobody was signed in in this browser): on to `redirect_uri`, registered by
    /// the client, with `state`; without one, to Tessera's own "signed out" page.
    SignedOut {
        redirect_uri: Option<String>,
        state: Option<String>,
    },
}

/// A logout request that passed every check.
#[derive(Debug)]
struct CheckedLogout {
    hint: Option<IdHint>,
    /// The client the hint or `client_id` names, when it is (still) registered.
    client: Option<OAuthClient>,
    redirect_uri: Option<String>,
    state: Option<String>,
}

fn logout_refused(error: &'static str, description: &'static str) -> EndSessionError {
    EndSessionError::Refused { error, description }
}

/// What `prompt` asks for (OIDC Core §3.1.2.1): `login` and `consent` may come together, `none`
/// comes alone. `select_account` is accepted and asks for nothing: a browser holds one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Prompt {
    /// Never show a page: an error if the user would have to sign in or consent.
    none: bool,
    /// Always sign in again.
    login: bool,
    /// Always ask for consent, even when the user consented before.
    consent: bool,
}

impl Prompt {
    fn parse(raw: Option<&str>) -> Result<Self, &'static str> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        let values: Vec<&str> = raw.split_whitespace().collect();
        if values
            .iter()
            .any(|v| !matches!(*v, "none" | "login" | "consent" | "select_account"))
        {
            return Err("prompt has a value this server does not know");
        }
        if values.contains(&"none") && values.len() > 1 {
            return Err("prompt=none cannot be combined with another value");
        }
        Ok(Self {
            none: values.contains(&"none"),
            login: values.contains(&"login"),
            consent: values.contains(&"consent"),
        })
    }
}

/// An authorization request that passed every check.
#[derive(Debug)]
struct Checked {
    client: OAuthClient,
    redirect_uri: String,
    /// The scope granted: the client's scopes that were asked for.
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: String,
    prompt: Prompt,
    max_age: Option<i64>,
    login_hint: Option<String>,
}

impl Checked {
    /// An error sent back to the client.
    fn refuse(&self, error: &'static str, description: &str) -> AuthorizeError {
        redirect_error(&self.redirect_uri, self.state.as_ref(), error, description)
    }
}

fn redirect_error(
    redirect_uri: &str,
    state: Option<&String>,
    error: &'static str,
    description: &str,
) -> AuthorizeError {
    AuthorizeError::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        error,
        description: description.to_owned(),
        state: state.cloned(),
    }
}

fn no_redirect(error: &'static str, description: &'static str) -> AuthorizeError {
    AuthorizeError::NoRedirect { error, description }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn is_base64url(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An `S256` challenge: the unpadded base64url of a SHA-256 digest, 43 characters.
fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43 && is_base64url(s)
}

/// RFC 7636 §4.1: 43 to 128 characters of `A-Z a-z 0-9 - . _ ~`.
fn is_code_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The OpenID Connect provider: registering, listing, changing and deleting clients, the
/// authorization endpoint and the authorization-code grant.
pub struct OAuthProvider {
    pub(crate) clients: Arc<dyn ClientRepository>,
    pub(crate) codes: Arc<dyn AuthorizationCodes>,
    pub(crate) consents: Arc<dyn ConsentRepository>,
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) access: Arc<dyn AccessRepository>,
    pub(crate) sessions: Arc<dyn SessionRepository>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) codec: Arc<dyn AccessTokenCodec>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) issuer: Arc<Issuer>,
    pub(crate) tokens: TokenSettings,
}

impl OAuthProvider {
    /// Registers a client. Global admins register any; tenant admins register clients of their
    /// own tenant (the default for them). A confidential client's secret is in this answer only.
    ///
    /// # Errors
    /// `Forbidden` for others, `NotFound` for another tenant, `Validation` naming every broken
    /// rule (`NewClient::parse`) or `tenant` `not_found`.
    pub fn create_client(
        &self,
        actor: &Principal,
        req: &ClientRequest,
    ) -> Result<(OAuthClient, Option<PlainToken>), UserError> {
        let tenant = req.tenant_id.map(TenantId).or(actor.tenant_id);
        authorize(actor, administer(tenant))?;
        let mut new = NewClient::parse(req, &supported_scopes(&self.tokens.scope))?;
        if let Some(t) = tenant {
            if self.access.get_entry(Kind::Tenant, t.0)?.is_none() {
                let mut f = FieldErrors::new();
                f.add("tenant", "not_found");
                return Err(f.into());
            }
        }
        new.tenant_id = tenant;
        // 128 random bits: an id need not be secret, only unique and unguessable enough.
        let client_id = format!("{CLIENT_ID_PREFIX}{}", self.secrets.new_jwt_id());
        let secret = new
            .auth_method
            .is_confidential()
            .then(|| self.secrets.new_secret(CLIENT_SECRET_PREFIX));
        let digest = secret.as_ref().map(|s| self.secrets.digest(s));
        let client =
            self.clients
                .create_client(&new, &client_id, digest.as_ref(), self.clock.now())?;
        self.audit.record(
            Audit::new(Event::ClientCreated, Outcome::Success)
                .by(actor)
                .target(format!("client:{}", client.client_id))
                .detail("client_name", &client.client_name)
                .detail("token_endpoint_auth_method", client.auth_method.as_str()),
        );
        Ok((client, secret))
    }

    /// A page of clients in the order they were registered, the next page starting after
    /// `Page::next_after` (a row id, `OAuthClient::id`): every client for global admins, their
    /// tenant's for tenant admins.
    ///
    /// # Errors
    /// `Forbidden` for others, `Validation` for a limit outside 1..=500.
    pub fn list_clients(
        &self,
        actor: &Principal,
        limit: Option<u32>,
        after: Option<i64>,
    ) -> Result<Page<OAuthClient>, UserError> {
        authorize(actor, administer(actor.tenant_id))?;
        let limit = checked_limit(limit)?;
        let tenant = if actor.is_admin() {
            None
        } else {
            actor.tenant_id
        };
        let mut items = self.clients.list_clients(tenant, after, limit + 1)?;
        Ok(page(&mut items, limit, |c| c.id))
    }

    /// One client, as `create_client` may register it (its secret's digest is never shown).
    ///
    /// # Errors
    /// `NotFound` for an unknown client, and for another tenant's; `Forbidden` for others.
    pub fn get_client(&self, actor: &Principal, client_id: &str) -> Result<OAuthClient, UserError> {
        self.target_client(actor, client_id)
    }

    /// Replaces a client's registration with `req`, checked as at registration (RFC 7592 §2.2:
    /// fields left out take their defaults). The `client_id`, the secret, the tenant and the
    /// authentication method stay: `tenant_id` and `token_endpoint_auth_method`, left out, are
    /// the client's own, and another value is refused as `immutable`. What changes applies to
    /// the next authorization; tokens already issued keep what they were granted.
    ///
    /// # Errors
    /// As `get_client`, and `Validation` naming every broken rule.
    pub fn update_client(
        &self,
        actor: &Principal,
        client_id: &str,
        req: &ClientRequest,
    ) -> Result<OAuthClient, UserError> {
        let current = self.target_client(actor, client_id)?;
        let new = self.replacement(&current, req)?;
        let client = self
            .clients
            .update_client(current.id, &new, self.clock.now())?;
        let mut audit = Audit::new(Event::ClientUpdated, Outcome::Success)
            .by(actor)
            .target(format!("client:{}", client.client_id));
        for field in changed_fields(&current, &client) {
            audit = audit.detail("changed", field);
        }
        self.audit.record(audit);
        Ok(client)
    }

    /// The registration `req` would replace `current`'s with, under `current`'s tenant and
    /// authentication method.
    fn replacement(
        &self,
        current: &OAuthClient,
        req: &ClientRequest,
    ) -> Result<NewClient, UserError> {
        let mut f = FieldErrors::new();
        match req
            .token_endpoint_auth_method
            .as_deref()
            .map(AuthMethod::parse)
        {
            Some(None) => f.add("token_endpoint_auth_method", "unsupported"),
            Some(Some(m)) if m != current.auth_method => {
                f.add("token_endpoint_auth_method", "immutable");
            }
            _ => {}
        }
        if req
            .tenant_id
            .is_some_and(|t| Some(TenantId(t)) != current.tenant_id)
        {
            f.add("tenant", "immutable");
        }
        let req = ClientRequest {
            token_endpoint_auth_method: Some(current.auth_method.as_str().to_owned()),
            ..req.clone()
        };
        match NewClient::parse(&req, &supported_scopes(&self.tokens.scope)) {
            Ok(mut new) if f.is_empty() => {
                new.tenant_id = current.tenant_id;
                Ok(new)
            }
            Ok(_) => Err(f.into()),
            Err(mut problems) => {
                for (field, rules) in f.iter() {
                    problems.extend(field, rules.iter().copied());
                }
                Err(problems.into())
            }
        }
    }

    /// Gives a confidential client a new secret, in this answer only; the old one stops
    /// working at once. Tokens already issued to the client stay good.
    ///
    /// # Errors
    /// As `get_client`, and `PublicClient` for a client without a secret.
    pub fn rotate_secret(
        &self,
        actor: &Principal,
        client_id: &str,
    ) -> Result<(OAuthClient, PlainToken), UserError> {
        let client = self.target_client(actor, client_id)?;
        if !client.auth_method.is_confidential() {
            return Err(UserError::PublicClient);
        }
        let now = self.clock.now();
        let secret = self.secrets.new_secret(CLIENT_SECRET_PREFIX);
        let digest = self.secrets.digest(&secret);
        if !self.clients.set_client_secret(client.id, &digest, now)? {
            return Err(UserError::NotFound);
        }
        self.audit.record(
            Audit::new(Event::ClientSecretRotated, Outcome::Success)
                .by(actor)
                .target(format!("client:{}", client.client_id)),
        );
        let client = OAuthClient {
            secret: Some(digest),
            updated_at: now,
            ..client
        };
        Ok((client, secret))
    }

    /// Deletes a client with its unused codes, and ends every session opened for it, here and
    /// (through the store's revocation list) on every node: its access and refresh tokens are
    /// refused from then on. The browser sessions its users signed in with go on.
    ///
    /// # Errors
    /// As `get_client`.
    pub fn delete_client(&self, actor: &Principal, client_id: &str) -> Result<(), UserError> {
        let client = self.target_client(actor, client_id)?;
        let revoked = self
            .clients
            .delete_client(client.id, self.clock.now())?
            .ok_or(UserError::NotFound)?;
        self.revocations.remember(&revoked);
        self.audit.record(
            Audit::new(Event::ClientDeleted, Outcome::Success)
                .by(actor)
                .target(format!("client:{}", client.client_id))
                .detail("client_name", &client.client_name)
                .detail("sessions_revoked", revoked.len()),
        );
        Ok(())
    }

    /// The client `client_id` names, if `actor` may administer it. An unknown client is
    /// `NotFound` for those who may administer some client, and `Forbidden` for others, as for
    /// an existing one; another tenant's client is `NotFound`, never `Forbidden`.
    fn target_client(&self, actor: &Principal, client_id: &str) -> Result<OAuthClient, UserError> {
        let found = self.lookup(client_id)?;
        match found {
            Some(client) => {
                authorize(actor, administer(client.tenant_id))?;
                Ok(client)
            }
            None => authorize(actor, administer(actor.tenant_id)).and(Err(UserError::NotFound)),
        }
    }

    /// The authorization endpoint: checks the request, then sends the user to sign in first
    /// (nobody is signed in, or not to the client's tenant, or longer ago than `max_age`, or the
    /// client asked with `prompt=login`), asks them to consent (the client is not first party,
    /// and the user has not yet consented to every scope it would be granted, or it asked with
    /// `prompt=consent`), or sends them back to the client with a code for the signed-in user. A
    /// code is good for `CODE_TTL` seconds, once.
    ///
    /// # Errors
    /// `NoRedirect` for a missing or unknown client, or a missing or unregistered redirect URI;
    /// `Redirect` for anything else wrong (RFC 6749 §4.1.2.1), `login_required` for
    /// `prompt=none` when a sign-in would be needed, and `consent_required` for `prompt=none`
    /// when the user would be asked for consent (OIDC Core §3.1.2.6).
    pub fn authorize(
        &self,
        req: &AuthorizationRequest,
        sso: Option<&SsoSession>,
        context: &RequestContext,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let checked = self.check(req)?;
        let now = self.clock.now();
        let s = match self.signed_in(req, &checked, sso, now)? {
            Ok(s) => s,
            Err(login) => return Ok(login),
        };
        if !self.needs_consent(&checked, s)? {
            return self.issue_code(&checked, s, now, context);
        }
        self.ask_consent(req, &checked, s)
    }

    /// The user's answer on the consent page to `req` (the request `authorize` answered with
    /// `AuthorizeOutcome::Consent`): the request is checked again as `authorize` checks it, and
    /// the user must still be signed in as it requires (else they sign in first, as there). On
    /// `approve` the consent is remembered (with what the user consented to before) and the
    /// user goes back to the client with a code; otherwise back with `access_denied`.
    ///
    /// The answer is taken only for the browser session the page was shown for, `shown_to` (the
    /// page's `AuthorizeOutcome::Consent::session`, which it carried back). When the browser now
    /// holds another session (someone signed in as someone else in another tab since, or signed
    /// in again), or the page named none, nothing is decided or remembered: the page is shown
    /// again, to who is signed in now, whose own answer it then takes.
    ///
    /// # Errors
    /// As `authorize`, and `access_denied` when the user declined.
    pub fn decide_consent(
        &self,
        req: &AuthorizationRequest,
        sso: Option<&SsoSession>,
        shown_to: Option<SessionId>,
        approve: bool,
        context: &RequestContext,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let checked = self.check(req)?;
        let now = self.clock.now();
        let s = match self.signed_in(req, &checked, sso, now)? {
            Ok(s) => s,
            Err(login) => return Ok(login),
        };
        if shown_to != Some(s.session_id) {
            return self.ask_consent(req, &checked, s);
        }
        let target = format!("client:{}", checked.client.client_id);
        if !approve {
            self.audit.record(
                Audit::new(Event::ConsentDenied, Outcome::Success)
                    .from(context)
                    .actor(s.user_id)
                    .subject(s.user_id)
                    .target(target)
                    .detail("scope", &checked.scope),
            );
            return Err(checked.refuse("access_denied", "the user declined"));
        }
        self.consents
            .save_consent(s.user_id, checked.client.id, &checked.scope, now)?;
        self.audit.record(
            Audit::new(Event::ConsentGranted, Outcome::Success)
                .from(context)
                .actor(s.user_id)
                .subject(s.user_id)
                .target(target)
                .detail("scope", &checked.scope),
        );
        self.issue_code(&checked, s, now, context)
    }

    /// The caller's consents, a page at a time in the order the clients were registered, the
    /// next page starting after `Page::next_after` (a client's row id, `OAuthClient::id`).
    ///
    /// # Errors
    /// `Validation` for a limit outside 1..=500.
    pub fn list_consents(
        &self,
        actor: &Principal,
        limit: Option<u32>,
        after: Option<i64>,
    ) -> Result<Page<Consent>, UserError> {
        let limit = checked_limit(limit)?;
        let mut items = self
            .consents
            .list_consents(actor.user_id, after, limit + 1)?;
        Ok(page(&mut items, limit, |c| c.client_pk))
    }

    /// Withdraws the caller's consent to client `client_id`, and ends every session opened for
    /// that client by the caller, here and (through the store's revocation list) on every node:
    /// the client's access and refresh tokens for the caller are refused from then on, and its
    /// next authorization asks again. The caller's unused codes for the client go too.
    ///
    /// # Errors
    /// `NotFound` for an unknown client or one the caller has not consented to.
    pub fn revoke_consent(&self, actor: &Principal, client_id: &str) -> Result<(), UserError> {
        let client = self.lookup(client_id)?.ok_or(UserError::NotFound)?;
        let revoked = self
            .consents
            .revoke_consent(actor.user_id, client.id, self.clock.now())?
            .ok_or(UserError::NotFound)?;
        self.revocations.remember(&revoked);
        self.audit.record(
            Audit::new(Event::ConsentRevoked, Outcome::Success)
                .by(actor)
                .subject(actor.user_id)
                .target(format!("client:{}", client.client_id))
                .detail("sessions_revoked", revoked.len()),
        );
        Ok(())
    }

    /// The names of the clients `client_ids` name (say, the clients of the caller's sessions),
    /// as `(client_id, client_name)` pairs, each once, for the caller's own pages to show:
    /// only clients of the caller's tenant (or, for a global user, global clients) are named;
    /// another's, an unknown id and one of the wrong shape are left out.
    ///
    /// # Errors
    /// When the store fails.
    pub fn client_names(
        &self,
        actor: &Principal,
        client_ids: &[String],
    ) -> Result<Vec<(String, String)>, UserError> {
        let mut names: Vec<(String, String)> = Vec::new();
        for id in client_ids {
            if names.iter().any(|(known, _)| known == id) {
                continue;
            }
            if let Some(client) = self.lookup(id)? {
                if client.tenant_id == actor.tenant_id {
                    names.push((client.client_id, client.client_name));
                }
            }
        }
        Ok(names)
    }

    /// The browser session the request may go on with (`Ok(Ok(_))`): one of the client's tenant,
    /// recent enough for `max_age`, unless the client asked for a fresh sign-in. Without one, the
    /// sign-in page first (`Ok(Err(_))`), or with `prompt=none` the error `login_required`.
    fn signed_in<'a>(
        &self,
        req: &AuthorizationRequest,
        checked: &Checked,
        sso: Option<&'a SsoSession>,
        now: UnixTime,
    ) -> Result<Result<&'a SsoSession, AuthorizeOutcome>, AuthorizeError> {
        let session = sso
            .filter(|s| s.tenant_id == checked.client.tenant_id)
            .filter(|s| {
                checked
                    .max_age
                    .is_none_or(|max| now.seconds() - s.auth_time.seconds() <= max)
            });
        match session {
            Some(s) if !checked.prompt.login => Ok(Ok(s)),
            None if checked.prompt.none => Err(checked.refuse(
                "login_required",
                "the user must sign in, and prompt=none forbids asking",
            )),
            _ => self.login_first(req, checked).map(Err),
        }
    }

    /// The consent page for `req`, shown to who is signed in in `sso` and for that session; with
    /// `prompt=none`, which forbids asking, the error `consent_required` instead. A user no longer
    /// active signs in first.
    fn ask_consent(
        &self,
        req: &AuthorizationRequest,
        checked: &Checked,
        sso: &SsoSession,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        if checked.prompt.none {
            return Err(checked.refuse(
                "consent_required",
                "the user must consent, and prompt=none forbids asking",
            ));
        }
        let Some(user) = self.users.get_user(sso.user_id)?.filter(|u| u.active) else {
            return self.login_first(req, checked);
        };
        Ok(AuthorizeOutcome::Consent {
            request: Box::new(req.clone()),
            client_name: checked.client.client_name.clone(),
            scopes: checked
                .scope
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            username: user.username.as_str().to_owned(),
            session: sso.session_id,
        })
    }

    /// Whether the user must be asked before the client gets `checked`'s scopes: never for a
    /// first-party client; always when the client asked with `prompt=consent`; otherwise when
    /// the user has not consented to every one of them yet.
    fn needs_consent(&self, checked: &Checked, sso: &SsoSession) -> anyhow::Result<bool> {
        if checked.client.first_party {
            return Ok(false);
        }
        if checked.prompt.consent {
            return Ok(true);
        }
        let held = self.consents.find_consent(sso.user_id, checked.client.id)?;
        Ok(!held.is_some_and(|c| c.covers(&checked.scope)))
    }

    /// Checks an authorization request: first what decides whether the user may be sent back to
    /// the client at all, then the rest.
    fn check(&self, req: &AuthorizationRequest) -> Result<Checked, AuthorizeError> {
        if req
            .repeated
            .iter()
            .any(|p| p == "client_id" || p == "redirect_uri")
        {
            return Err(no_redirect(
                "invalid_request",
                "client_id or redirect_uri is given more than once",
            ));
        }
        let client_id = non_empty(&req.client_id)
            .ok_or_else(|| no_redirect("invalid_request", "client_id is missing"))?;
        let client = self
            .lookup(client_id)?
            .ok_or_else(|| no_redirect("invalid_client", "no client has this client_id"))?;
        let redirect_uri = non_empty(&req.redirect_uri)
            .ok_or_else(|| no_redirect("invalid_request", "redirect_uri is missing"))?;
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(no_redirect(
                "invalid_request",
                "redirect_uri is not registered for this client",
            ));
        }
        // From here on the user goes back to the client, with the error.
        let state = req
            .state
            .clone()
            .filter(|s| s.chars().count() <= MAX_STATE_LEN);
        let refuse = |error: &'static str, description: &str| {
            redirect_error(redirect_uri, state.as_ref(), error, description)
        };
        if req.state.is_some() && state.is_none() {
            return Err(refuse("invalid_request", "state is too long"));
        }
        if let Some(p) = req.repeated.first() {
            return Err(refuse(
                "invalid_request",
                &format!("{p} is given more than once"),
            ));
        }
        match non_empty(&req.response_type) {
            None => return Err(refuse("invalid_request", "response_type is missing")),
            Some("code") => {}
            Some(_) => {
                return Err(refuse(
                    "unsupported_response_type",
                    "response_type must be code",
                ))
            }
        }
        if !matches!(req.response_mode.as_deref(), None | Some("query")) {
            return Err(refuse("invalid_request", "response_mode must be query"));
        }
        if req
            .scope
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SCOPE_LEN)
        {
            return Err(refuse("invalid_request", "scope is too long"));
        }
        let asked: Vec<&str> = req
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        if !asked.contains(&"openid") {
            return Err(refuse("invalid_scope", "scope must include openid"));
        }
        // Scopes the client did not register are left out (OIDC Core §3.1.2.1: ignored).
        let scope = client
            .scope
            .split_whitespace()
            .filter(|s| asked.contains(s))
            .collect::<Vec<_>>()
            .join(" ");
        let challenge = non_empty(&req.code_challenge).ok_or_else(|| {
            refuse(
                "invalid_request",
                "code_challenge is required (PKCE with S256)",
            )
        })?;
        if req.code_challenge_method.as_deref() != Some("S256") {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        if !is_s256_challenge(challenge) {
            return Err(refuse(
                "invalid_request",
                "code_challenge must be 43 base64url characters",
            ));
        }
        if req
            .nonce
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NONCE_LEN)
        {
            return Err(refuse("invalid_request", "nonce is too long"));
        }
        if req
            .ui_locales
            .as_ref()
            .is_some_and(|l| l.chars().count() > MAX_UI_LOCALES_LEN)
        {
            return Err(refuse("invalid_request", "ui_locales is too long"));
        }
        let prompt =
            Prompt::parse(req.prompt.as_deref()).map_err(|d| refuse("invalid_request", d))?;
        let max_age = match req.max_age.as_deref() {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().ok().filter(|m| *m >= 0).ok_or_else(|| {
                refuse(
                    "invalid_request",
                    "max_age must be a whole number of seconds",
                )
            })?),
        };
        // The sign-in page must be able to send the browser back to the request (each parameter
        // above is bounded, but not all of them together, and encoding makes a character up to
        // twelve bytes): refused whether a sign-in is needed or not, so that what is taken does
        // not depend on the browser's session.
        if req.after_login().query().len() > MAX_RESUME_QUERY_LEN {
            return Err(refuse(
                "invalid_request",
                "the authorization request is too long",
            ));
        }
        let login_hint = req
            .login_hint
            .as_deref()
            .map(|h| h.chars().take(MAX_LOGIN_HINT_LEN).collect());
        Ok(Checked {
            client,
            redirect_uri: redirect_uri.to_owned(),
            scope,
            nonce: non_empty(&req.nonce).map(str::to_owned),
            code_challenge: challenge.to_owned(),
            prompt,
            max_age,
            login_hint,
            state,
        })
    }

    fn login_first(
        &self,
        req: &AuthorizationRequest,
        checked: &Checked,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let tenant = match checked.client.tenant_id {
            Some(t) => self.access.get_entry(Kind::Tenant, t.0)?.map(|e| e.name),
            None => None,
        };
        Ok(AuthorizeOutcome::Login {
            resume: Box::new(req.after_login()),
            login_hint: checked.login_hint.clone(),
            tenant,
        })
    }

    fn issue_code(
        &self,
        checked: &Checked,
        sso: &SsoSession,
        now: UnixTime,
        context: &RequestContext,
    ) -> Result<AuthorizeOutcome, AuthorizeError> {
        let code = self.secrets.new_secret(CODE_PREFIX);
        self.codes.create_code(&NewCode {
            code_hash: self.secrets.digest(&code),
            client_pk: checked.client.id,
            user_id: sso.user_id,
            sso_session_id: Some(sso.session_id),
            redirect_uri: checked.redirect_uri.clone(),
            scope: checked.scope.clone(),
            nonce: checked.nonce.clone(),
            code_challenge: checked.code_challenge.clone(),
            auth_time: sso.auth_time,
            amr: sso.amr.join(" "),
            created_at: now,
            expires_at: now.plus(CODE_TTL),
        })?;
        self.audit.record(
            Audit::new(Event::CodeIssued, Outcome::Success)
                .from(context)
                .actor(sso.user_id)
                .subject(sso.user_id)
                .target(format!("client:{}", checked.client.client_id))
                .detail("scope", &checked.scope),
        );
        Ok(AuthorizeOutcome::Code {
            redirect_uri: checked.redirect_uri.clone(),
            code,
            state: checked.state.clone(),
        })
    }

    /// The authorization-code grant: the client authenticates as it registered (a public client
    /// with no secret at all), the code must be fresh, its own, for the same redirect URI and
    /// match the PKCE verifier. It buys an access token for the client, an ID token and, when
    /// `offline_access` was granted, a refresh token, in a session of their own. A code presented
    /// a second time ends the session its first use opened.
    ///
    /// # Errors
    /// `InvalidClient`, `InvalidGrant` saying why.
    pub fn exchange_code(
        &self,
        presented: &PresentedClient,
        exchange: &CodeExchange,
        context: &RequestContext,
    ) -> Result<OidcTokens, OAuthGrantError> {
        let client = self.authenticate_client(presented, context, Event::CodeExchanged)?;
        let now = self.clock.now();
        let record = match self
            .codes
            .redeem_code(&self.secrets.digest(&exchange.code), now)?
        {
            Redeemed::Fresh(record) => record,
            Redeemed::Unknown => {
                return Err(self.grant_failed(
                    &client,
                    None,
                    context,
                    "unknown_code",
                    "the code is invalid",
                ))
            }
            // Only the code's own client ends what the code opened: anyone else holding a used
            // code (from a history or a log) must not be able to end another client's session.
            Redeemed::Replayed { code_id, client_pk } if client_pk == client.id => {
                // A first exchange still opening its session finds the mark and revokes it.
                let issued = self.codes.mark_replayed(code_id, now)?;
                self.revoke_replayed(&client, issued, context, now)?;
                return Err(OAuthGrantError::InvalidGrant("the code was already used"));
            }
            Redeemed::Replayed { .. } => {
                return Err(self.grant_failed(
                    &client,
                    None,
                    context,
                    "wrong_client",
                    "the code was issued to another client",
                ))
            }
        };
        if let Some((reason, description)) = self.refusal(&client, &record, exchange, now) {
            return Err(self.grant_failed(
                &client,
                Some(record.user_id),
                context,
                reason,
                description,
            ));
        }
        let user = match self.users.get_user(record.user_id)? {
            Some(u) if u.active => u,
            _ => {
                return Err(self.grant_failed(
                    &client,
                    Some(record.user_id),
                    context,
                    "user_unavailable",
                    "the user can no longer sign in",
                ))
            }
        };
        self.issue_tokens(&client, &record, &user, context, now)
    }

    /// The refresh grant's client, when it is a registered one: it must authenticate as it
    /// registered to and be registered for the `refresh_token` grant. Its id is what
    /// `Authentication::refresh_for` then checks the refresh token against.
    ///
    /// # Errors
    /// `InvalidClient` for a client that did not authenticate or may not refresh.
    pub fn refresh_client(
        &self,
        presented: &PresentedClient,
        context: &RequestContext,
    ) -> Result<String, OAuthGrantError> {
        let client = self.authenticate_client(presented, context, Event::Refresh)?;
        if client.may_refresh() {
            Ok(client.client_id)
        } else {
            Err(self.client_refused(presented, context, Event::Refresh, "unauthorized_client"))
        }
    }

    /// The client `client_id` names; an id of the wrong shape names none.
    fn lookup(&self, client_id: &str) -> anyhow::Result<Option<OAuthClient>> {
        if well_formed_client_id(client_id) {
            self.clients.find_client(client_id)
        } else {
            Ok(None)
        }
    }

    /// The client of a token request for `grant` (the audit event of that grant), if it
    /// authenticated as it registered to.
    fn authenticate_client(
        &self,
        presented: &PresentedClient,
        context: &RequestContext,
        grant: Event,
    ) -> Result<OAuthClient, OAuthGrantError> {
        let found = self.lookup(&presented.client_id)?;
        match found {
            Some(client) if self.credentials_fit(&client, presented) => Ok(client),
            _ => Err(self.client_refused(presented, context, grant, "invalid_client")),
        }
    }

    /// Audits a client refused at the token endpoint for `grant`, saying why.
    fn client_refused(
        &self,
        presented: &PresentedClient,
        context: &RequestContext,
        grant: Event,
        reason: &'static str,
    ) -> OAuthGrantError {
        self.audit.record(
            Audit::new(grant, Outcome::Failure)
                .from(context)
                .detail("reason", reason)
                .detail(
                    "client_id",
                    presented.client_id.chars().take(64).collect::<String>(),
                ),
        );
        OAuthGrantError::InvalidClient
    }

    /// A confidential client presents its secret by its registered method; a public client
    /// presents none.
    fn credentials_fit(&self, client: &OAuthClient, presented: &PresentedClient) -> bool {
        if presented.method != client.auth_method {
            return false;
        }
        match (&client.secret, &presented.secret) {
            (None, None) => true,
            (Some(stored), Some(secret)) => self.secrets.digest(secret) == *stored,
            _ => false,
        }
    }

    /// Why a code just redeemed cannot be exchanged, if it cannot: the audit reason and what the
    /// client is told.
    fn refusal(
        &self,
        client: &OAuthClient,
        record: &CodeRecord,
        exchange: &CodeExchange,
        now: UnixTime,
    ) -> Option<(&'static str, &'static str)> {
        let verifier = exchange.code_verifier.expose();
        if record.client_pk != client.id {
            Some(("wrong_client", "the code was issued to another client"))
        } else if now >= record.expires_at {
            Some(("expired", "the code has expired"))
        } else if record.redirect_uri != exchange.redirect_uri {
            Some((
                "redirect_uri_mismatch",
                "redirect_uri differs from the authorization request's",
            ))
        } else if !is_code_verifier(verifier)
            || self.secrets.s256(verifier) != record.code_challenge
        {
            Some((
                "pkce_mismatch",
                "the code_verifier does not match the code_challenge",
            ))
        } else if record
            .sso_session_id
            .is_some_and(|s| self.revocations.contains(s))
        {
            Some(("signed_out", "the user has signed out since"))
        } else {
            None
        }
    }

    /// Audits a refused exchange and says why to the client.
    fn grant_failed(
        &self,
        client: &OAuthClient,
        user: Option<UserId>,
        context: &RequestContext,
        reason: &'static str,
        description: &'static str,
    ) -> OAuthGrantError {
        let mut audit = Audit::new(Event::CodeExchanged, Outcome::Failure)
            .from(context)
            .target(format!("client:{}", client.client_id))
            .detail("reason", reason);
        if let Some(user) = user {
            audit = audit.subject(user);
        }
        self.audit.record(audit);
        OAuthGrantError::InvalidGrant(description)
    }

    /// RFC 6749 §4.1.2: a code used twice may have been stolen, so what its first use issued is
    /// revoked.
    fn revoke_replayed(
        &self,
        client: &OAuthClient,
        issued: Option<SessionId>,
        context: &RequestContext,
        now: UnixTime,
    ) -> anyhow::Result<()> {
        let mut audit = Audit::new(Event::CodeReplayed, Outcome::Failure)
            .from(context)
            .target(format!("client:{}", client.client_id));
        if let Some(session) = issued {
            self.sessions
                .revoke_session(session, "code_replayed", now)?;
            self.revocations.remember(&[session]);
            audit = audit.detail("session_revoked", session.0);
        }
        tracing::warn!(
            client_id = client.client_id.as_str(),
            session_id = issued.map(|s| s.0),
            "authorization code presented again; the session it opened is revoked"
        );
        self.audit.record(audit);
        Ok(())
    }

    fn issue_tokens(
        &self,
        client: &OAuthClient,
        record: &CodeRecord,
        user: &User,
        context: &RequestContext,
        now: UnixTime,
    ) -> Result<OidcTokens, OAuthGrantError> {
        let offline = client.may_refresh() && has_scope(&record.scope, "offline_access");
        // Without a refresh token the session is over when its access token is.
        let lifetime = if offline {
            self.tokens.refresh_ttl
        } else {
            self.tokens.access_ttl
        };
        let mut new = self
            .issuer
            .new_session(user, context, now, now.plus(lifetime));
        new.scope = Some(record.scope.clone());
        new.amr = Some(record.amr.clone());
        new.client_id = Some(client.client_id.clone());
        // A session without offline access lives and dies with the sign-in it came from: signing
        // out ends it. An offline one outlives the sign-in (OIDC Core §11: offline access is for
        // when the user is not signed in) and ends by the user's or an admin's revocation.
        new.sso_session_id = if offline { None } else { record.sso_session_id };
        let issued = self.issuer.open_for_client(user, &new, &client.client_id)?;
        if self.codes.attach_session(record.id, issued.session_id)? {
            // The code was presented again while this exchange was under way: what it opened
            // goes at once, as it would have had the replay come a moment later.
            self.revoke_replayed(client, Some(issued.session_id), context, now)?;
            return Err(OAuthGrantError::InvalidGrant(
                "the code was presented twice",
            ));
        }
        let id_token = self.codec.sign_id_token(
            &self.id_claims(client, record, user, now),
            &issued.access_token,
        )?;
        self.observer.token_issued("id_token");
        if offline {
            self.observer.token_issued("refresh");
        }
        self.audit.record(
            Audit::new(Event::CodeExchanged, Outcome::Success)
                .from(context)
                .actor(user.id)
                .subject(user.id)
                .target(format!("client:{}", client.client_id))
                .detail("session", issued.session_id.0)
                .detail("scope", &issued.scope),
        );
        Ok(OidcTokens {
            access_token: issued.access_token,
            expires_in: issued.expires_in,
            id_token,
            scope: issued.scope,
            refresh_token: offline.then_some(issued.refresh_token),
        })
    }

    /// The ID token's claims: who signed in, when and how, and what the granted scopes reveal.
    fn id_claims(
        &self,
        client: &OAuthClient,
        record: &CodeRecord,
        user: &User,
        now: UnixTime,
    ) -> IdClaims {
        let profile = has_scope(&record.scope, "profile");
        let email = has_scope(&record.scope, "email");
        IdClaims {
            issuer: self.tokens.issuer.clone(),
            subject: user.id,
            audience: client.client_id.clone(),
            expires_at: now.plus(self.tokens.access_ttl),
            issued_at: now,
            auth_time: record.auth_time,
            nonce: record.nonce.clone(),
            session_id: record.sso_session_id,
            amr: record.amr.split_whitespace().map(str::to_owned).collect(),
            preferred_username: profile.then(|| user.username.as_str().to_owned()),
            name: user
                .display_name
                .as_ref()
                .filter(|_| profile)
                .map(|d| d.as_str().to_owned()),
            email: user
                .email
                .as_ref()
                .filter(|_| email)
                .map(|e| e.as_str().to_owned()),
        }
    }

    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the browser's sign-in
    /// (`sso`) and every client session bound to it (sessions with `offline_access` outlive it),
    /// here and, through the store's revocation list, on every node.
    ///
    /// It signs out at once when an `id_token_hint` of this very sign-in vouches for the request,
    /// or when the browser shows no sign-in (a POST from the application's site carries no
    /// `SameSite=Lax` cookie): then it ends the sign-in the hint names, if any. Otherwise (no
    /// hint, or one of another sign-in) the user is asked first, unless `req.confirmed`, and a
    /// confirmation ends this browser's sign-in.
    ///
    /// # Errors
    /// `Refused` for a hint this server did not issue (or that does not verify), a `client_id`
    /// other than the hint's audience, an unknown `client_id`, a `post_logout_redirect_uri` that is
    /// not registered for the client (or comes with no client at all), a repeated parameter or a
    /// too long `state`: the browser is then sent nowhere.
    pub fn end_session(
        &self,
        req: &EndSessionRequest,
        sso: Option<&SsoSession>,
        context: &RequestContext,
    ) -> Result<EndSessionOutcome, EndSessionError> {
        let checked = self.check_logout(req)?;
        let vouched = match (sso, &checked.hint) {
            (None, _) => true,
            (Some(s), Some(hint)) => hint.session_id == Some(s.session_id),
            (Some(_), None) => false,
        };
        if !vouched && !req.confirmed {
            return Ok(EndSessionOutcome::Confirm {
                request: Box::new(EndSessionRequest {
                    confirmed: false,
                    ..req.clone()
                }),
                client_name: checked.client.as_ref().map(|c| c.client_name.clone()),
            });
        }
        // This browser's sign-in; with none in this browser, the one the hint names.
        let ending = match sso {
            Some(s) => Some((s.session_id, s.user_id)),
            None => checked
                .hint
                .as_ref()
                .and_then(|h| h.session_id.map(|session| (session, h.subject))),
        };
        if let Some((session, user)) = ending {
            self.sign_out(session, user, checked.client.as_ref(), context)?;
        }
        let state = checked.redirect_uri.as_ref().and(checked.state);
        Ok(EndSessionOutcome::SignedOut {
            redirect_uri: checked.redirect_uri,
            state,
        })
    }

    /// Checks a logout request: the hint first (it names the client), then the client, then where
    /// the browser may go.
    fn check_logout(&self, req: &EndSessionRequest) -> Result<CheckedLogout, EndSessionError> {
        if !req.repeated.is_empty() {
            return Err(logout_refused(
                "invalid_request",
                "a parameter is given more than once",
            ));
        }
        let hint = match non_empty(&req.id_token_hint) {
            None => None,
            Some(raw) => Some(
                self.codec
                    .decode_id_token(raw)
                    .ok()
                    .filter(|h| h.issuer == self.tokens.issuer)
                    .ok_or_else(|| {
                        logout_refused(
                            "invalid_request",
                            "id_token_hint is not an ID token this server issued",
                        )
                    })?,
            ),
        };
        let asked = non_empty(&req.client_id);
        if let (Some(h), Some(asked)) = (&hint, asked) {
            if h.audience != asked {
                return Err(logout_refused(
                    "invalid_request",
                    "client_id is not the client id_token_hint was issued to",
                ));
            }
        }
        // The hint of a client deleted since still signs out: only a redirect needs the client.
        let client = match (asked, &hint) {
            (Some(asked), _) => {
                let found = self.lookup(asked)?;
                Some(found.ok_or_else(|| {
                    logout_refused("invalid_client", "no client has this client_id")
                })?)
            }
            (None, Some(h)) => self.lookup(&h.audience)?,
            (None, None) => None,
        };
        let redirect_uri = match non_empty(&req.post_logout_redirect_uri) {
            None => None,
            Some(_) if hint.is_none() && asked.is_none() => {
                return Err(logout_refused(
                    "invalid_request",
                    "post_logout_redirect_uri needs id_token_hint or client_id",
                ))
            }
            Some(uri) => {
                let registered = client
                    .as_ref()
                    .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri));
                if !registered {
                    return Err(logout_refused(
                        "invalid_request",
                        "post_logout_redirect_uri is not registered for this client",
                    ));
                }
                Some(uri.to_owned())
            }
        };
        if req
            .state
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_STATE_LEN)
        {
            return Err(logout_refused("invalid_request", "state is too long"));
        }
        Ok(CheckedLogout {
            hint,
            client,
            redirect_uri,
            state: req.state.clone(),
        })
    }

    /// Ends the sign-in `session` of `user` and the sessions bound to it, here and on every node,
    /// and audits it when anything was still live.
    fn sign_out(
        &self,
        session: SessionId,
        user: UserId,
        client: Option<&OAuthClient>,
        context: &RequestContext,
    ) -> anyhow::Result<()> {
        let ended = self
            .sessions
            .end_sign_in(session, "logout", self.clock.now())?;
        if ended.is_empty() {
            return Ok(());
        }
        self.revocations.remember(&ended);
        let mut audit = Audit::new(Event::Logout, Outcome::Success)
            .from(context)
            .actor(user)
            .subject(user)
            .target(format!("session:{}", session.0))
            .detail("reason", "rp_initiated")
            .detail("sessions_ended", ended.len());
        if let Some(client) = client {
            audit = audit.detail("client_id", &client.client_id);
        }
        self.audit.record(audit);
        Ok(())
    }
}

/// The claims of the UserInfo endpoint (OIDC Core §5.3) about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub subject: UserId,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub roles: Option<Vec<String>>,
    pub updated_at: Option<UnixTime>,
}

impl UserInfo {
    /// What `caller`'s token may learn of `user`, the user it is for. Tessera's own tokens learn
    /// everything there is. A registered client's token learns what its granted scope reveals
    /// (OIDC Core §5.4), as its ID token does: `sub` always, `profile` the username, the name and
    /// `updated_at`, `email` the e-mail address, and the roles only with an API scope
    /// (`grants_api`), as its access token carries them.
    pub fn of(user: &User, caller: &Principal) -> Self {
        let everything = !caller.issued_to_oauth_client();
        let profile = everything || has_scope(&caller.scope, "profile");
        let email = everything || has_scope(&caller.scope, "email");
        let roles = everything || grants_api(&caller.scope);
        Self {
            subject: user.id,
            preferred_username: profile.then(|| user.username.as_str().to_owned()),
            name: user
                .display_name
                .as_ref()
                .filter(|_| profile)
                .map(|d| d.as_str().to_owned()),
            email: user
                .email
                .as_ref()
                .filter(|_| email)
                .map(|e| e.as_str().to_owned()),
            roles: roles.then(|| user.roles.iter().map(|r| r.as_str().to_owned()).collect()),
            updated_at: profile.then_some(user.updated_at),
        }
    }
}

/// Administering the clients of `tenant` (`None`: the global ones): global admins administer
/// every client, tenant admins their tenant's.
fn administer(tenant: Option<TenantId>) -> Action {
    Action::Administer(Target {
        id: UserId(0),
        tenant,
    })
}

/// The registration fields in which `after` differs from `before`, for the audit log.
fn changed_fields(before: &OAuthClient, after: &OAuthClient) -> Vec<&'static str> {
    [
        ("client_name", before.client_name != after.client_name),
        ("redirect_uris", before.redirect_uris != after.redirect_uris),
        (
            "post_logout_redirect_uris",
            before.post_logout_redirect_uris != after.post_logout_redirect_uris,
        ),
        ("grant_types", before.grant_types != after.grant_types),
        (
            "response_types",
            before.response_types != after.response_types,
        ),
        ("scope", before.scope != after.scope),
        ("first_party", before.first_party != after.first_party),
    ]
    .into_iter()
    .filter_map(|(field, changed)| changed.then_some(field))
    .collect()
}

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|s| s == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_absolute_https_or_loopback_http_without_fragment() {
        for good in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "http://127.0.0.1:9/cb",
            "http://[::1]:8080/cb",
            "http://localhost/cb",
        ] {
            assert!(redirect_uri_problems(good).is_empty(), "{good}");
        }
        let cases: [(&str, &str); 8] = [
            ("http://app.example/cb", "insecure"),
            ("http://127.0.0.2/cb", "insecure"),
            ("http://127.0.0.1.evil.example/cb", "insecure"),
            ("https://app.example/cb#frag", "fragment"),
            ("/cb", "not_absolute"),
            ("javascript:alert(1)", "unsupported_scheme"),
            ("https://user:pw@app.example/cb", "userinfo"),
            ("https://app.example/c b", "invalid_characters"),
        ];
        for (bad, problem) in cases {
            assert!(redirect_uri_problems(bad).contains(&problem), "{bad}");
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_URI_LEN));
        assert_eq!(redirect_uri_problems(&long), ["too_long"]);
    }

    #[test]
    fn repeated_parameters_are_named_and_unknown_ones_ignored() {
        let req = AuthorizationRequest::from_params([
            ("client_id", "a"),
            ("state", "s1"),
            ("state", "s2"),
            ("state", "s3"),
            ("claims", "{}"),
        ]);
        assert_eq!(req.client_id.as_deref(), Some("a"));
        assert_eq!(req.state.as_deref(), Some("s1"));
        assert_eq!(req.repeated, ["state"]);
        assert_eq!(req.params(), [("client_id", "a"), ("state", "s1")]);
    }

    #[test]
    fn logout_parameters_are_read_by_name_and_a_confirmation_never_from_them() {
        let req = EndSessionRequest::from_params([
            ("client_id", "a"),
            ("confirm", "yes"),
            ("confirmed", "true"),
            ("state", "s1"),
            ("state", "s2"),
        ]);
        assert!(!req.confirmed);
        assert_eq!(req.repeated, ["state"]);
        assert_eq!(req.params(), [("client_id", "a"), ("state", "s1")]);
    }

    #[test]
    fn the_preferred_languages_go_on_with_the_request() {
        let req = AuthorizationRequest::from_params([("ui_locales", "es-MX en"), ("state", "x")]);
        assert_eq!(req.ui_locales.as_deref(), Some("es-MX en"));
        assert!(req
            .after_login()
            .params()
            .contains(&("ui_locales", "es-MX en")));
    }

    #[test]
    fn the_request_after_a_sign_in_does_not_ask_for_one_again() {
        let req = AuthorizationRequest::from_params([
            ("prompt", "login consent"),
            ("max_age", "0"),
            ("state", "x"),
        ]);
        let next = req.after_login();
        assert_eq!(next.prompt.as_deref(), Some("consent"));
        assert_eq!(next.max_age, None);
        assert_eq!(next.state.as_deref(), Some("x"));
        let req = AuthorizationRequest::from_params([("prompt", "login"), ("max_age", "300")]);
        let next = req.after_login();
        assert_eq!((next.prompt, next.max_age.as_deref()), (None, Some("300")));
    }

    #[test]
    fn prompt_values() {
        assert_eq!(Prompt::parse(None), Ok(Prompt::default()));
        assert_eq!(
            Prompt::parse(Some("none")),
            Ok(Prompt {
                none: true,
                ..Prompt::default()
            })
        );
        assert_eq!(
            Prompt::parse(Some("consent login")),
            Ok(Prompt {
                none: false,
                login: true,
                consent: true,
            })
        );
        assert_eq!(
            Prompt::parse(Some("consent")),
            Ok(Prompt {
                consent: true,
                ..Prompt::default()
            })
        );
        assert_eq!(Prompt::parse(Some("select_account")), Ok(Prompt::default()));
        assert!(Prompt::parse(Some("none login")).is_err());
        assert!(Prompt::parse(Some("none consent")).is_err());
        assert!(Prompt::parse(Some("create")).is_err());
    }

    #[test]
    fn a_consent_grows_by_the_scopes_added_and_covers_what_it_holds() {
        assert_eq!(merged_scope("", "openid profile"), "openid profile");
        assert_eq!(
            merged_scope("openid profile", "openid email profile"),
            "openid profile email"
        );
        let consent = Consent {
            client_pk: 1,
            client_id: "tc_1".into(),
            client_name: "Wiki".into(),
            scope: "openid profile".into(),
            created_at: UnixTime(1),
            updated_at: UnixTime(1),
        };
        assert!(consent.covers("openid"));
        assert!(consent.covers("profile openid"));
        assert!(!consent.covers("openid email"));
    }

    #[test]
    fn pkce_values() {
        assert!(is_s256_challenge(&"a".repeat(43)));
        assert!(!is_s256_challenge(&"a".repeat(44)));
        assert!(!is_s256_challenge(&format!("{}=", "a".repeat(42))));
        assert!(is_code_verifier(&"-._~aZ9".repeat(7)));
        assert!(!is_code_verifier(&"a".repeat(42)));
        assert!(!is_code_verifier(&"a".repeat(129)));
        assert!(!is_code_verifier(&format!("{}+", "a".repeat(43))));
    }

    #[test]
    fn only_a_scope_beyond_openid_connects_is_an_api_scope() {
        assert!(!grants_api("openid profile email offline_access"));
        assert!(!grants_api(""));
        assert!(grants_api("openid api:read"));
    }

    #[test]
    fn supported_scopes_put_openid_first_and_name_each_once() {
        assert_eq!(
            supported_scopes("openid profile email api:read"),
            ["openid", "profile", "email", "api:read", "offline_access"]
        );
    }
}
