//! Request and response bodies. Requests hold plain strings; handlers turn them into domain requests.
//!
//! Several bodies carry passwords or tokens, so none of them implements `Debug`: nothing can print one by accident.
#![allow(missing_debug_implementations)]

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use tessera_domain::access::{Entry, EntryRequest, Kind, PersonAccess};
use tessera_domain::audit::AuditRecord;
use tessera_domain::credentials::{ApiKey, TokenCheck};
use tessera_domain::issuer::{IssuedAccess, IssuedTokens};
use tessera_domain::keys::KeyInfo;
use tessera_domain::oauth::{ClientRequest, Consent, OAuthClient, OidcTokens, UserInfo};
use tessera_domain::password::Password;
use tessera_domain::ports::SessionInfo;
use tessera_domain::principal::Principal;
use tessera_domain::time::UnixTime;
use tessera_domain::user::User;
use tessera_domain::users::{CreateUser, UpdateUser};
use utoipa::openapi::{RefOr, Schema};

/// The rules of the request fields, as JSON Schema: `#[schema(schema_with = rules::…)]`. Ids
/// carry `minimum = 1` directly: the store assigns them from 1.
pub mod rules;

/// RFC 3339 in UTC, as every timestamp in a JSON body.
pub fn rfc3339(t: UnixTime) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.seconds())
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    /// A username or an e-mail address.
    pub username: String,
    pub password: String,
    #[schema(schema_with = rules::token_format_or_null)]
    pub token_format: Option<String>,
    /// The tenant's name, for a user of a tenant.
    pub tenant: Option<String>,
    #[schema(schema_with = rules::session_or_null)]
    pub session: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// RFC 7009 revocation request.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RevokeBody {
    pub token: String,
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(schema_with = rules::token_type_hint_or_null)]
    pub token_type_hint: Option<String>,
}

/// RFC 6749 §5.1 token response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub scope: String,
}

impl From<IssuedTokens> for TokenResponse {
    fn from(t: IssuedTokens) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            refresh_token: t.refresh_token.expose().to_owned(),
            scope: t.scope,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserResponse {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i64>,
    #[schema(schema_with = rules::attributes)]
    pub attributes: BTreeMap<String, String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            username: u.username.as_str().to_owned(),
            email: u.email.as_ref().map(|e| e.as_str().to_owned()),
            display_name: u.display_name.as_ref().map(|d| d.as_str().to_owned()),
            roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            active: u.active,
            tenant_id: u.tenant_id.map(|t| t.0),
            attributes: u.attributes.as_map().clone(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// OpenID Connect UserInfo claims. `updated_at` is seconds since the epoch, as OIDC Core §5.1 says.
/// A registered client's token gets the claims of its granted scopes only (`UserInfo::of`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserInfoResponse {
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
}

impl From<UserInfo> for UserInfoResponse {
    fn from(u: UserInfo) -> Self {
        Self {
            sub: u.subject.0.to_string(),
            preferred_username: u.preferred_username,
            email: u.email,
            name: u.name,
            roles: u.roles,
            updated_at: u.updated_at.map(|t| t.seconds()),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateUserBody {
    #[schema(schema_with = rules::username)]
    pub username: String,
    #[schema(schema_with = rules::new_password)]
    pub password: String,
    #[schema(schema_with = rules::email_or_null)]
    pub email: Option<String>,
    #[schema(schema_with = rules::display_name_or_null)]
    pub display_name: Option<String>,
    // Absent or null: `user`.
    #[schema(schema_with = rules::roles_or_null)]
    pub roles: Option<Vec<String>>,
    /// Absent or null: active.
    pub active: Option<bool>,
    /// The tenant the user belongs to (global admins only; a tenant admin's users go to their
    /// own tenant). An id that names no tenant is 422 `not_found`.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "whole::option")]
    pub tenant_id: Option<i64>,
    #[schema(schema_with = rules::attributes_or_null)]
    pub attributes: Option<BTreeMap<String, String>>,
}

impl CreateUserBody {
    pub fn into_domain(self) -> CreateUser {
        CreateUser {
            username: self.username,
            password: Password::new(self.password),
            email: self.email,
            display_name: self.display_name,
            roles: self.roles,
            active: self.active,
            tenant_id: self.tenant_id,
            attributes: self.attributes,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateUserBody {
    // Admins only, as `active`; absent or null: unchanged.
    #[schema(schema_with = rules::username_or_null)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::email_or_null)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = rules::display_name_or_null)]
    pub display_name: Option<Option<String>>,
    // Admins only (403 otherwise), as `active`.
    #[schema(schema_with = rules::roles_or_null)]
    pub roles: Option<Vec<String>>,
    /// Admins only.
    pub active: Option<bool>,
    // Admins only, as `active`: a JSON merge patch (RFC 7396) of the attributes.
    #[schema(schema_with = rules::attribute_changes_or_null)]
    pub attributes: Option<BTreeMap<String, Option<String>>>,
}

impl UpdateUserBody {
    /// PATCH: only the fields present change.
    pub fn into_patch(self) -> UpdateUser {
        UpdateUser {
            username: self.username,
            email: self.email,
            display_name: self.display_name,
            roles: self.roles,
            active: self.active,
            attributes: self.attributes,
        }
    }

    /// PUT: the profile is replaced, so an absent e-mail or display name is cleared;
    /// the username, roles, `active` and attributes change only when given, since only admins may
    /// send them (attributes are merged, as with PATCH).
    pub fn into_replacement(self) -> UpdateUser {
        UpdateUser {
            username: self.username,
            email: Some(self.email.flatten()),
            display_name: Some(self.display_name.flatten()),
            roles: self.roles,
            active: self.active,
            attributes: self.attributes,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    /// Required when users change their own password (422 `required` without it); an admin
    /// setting someone else's leaves it out.
    pub current_password: Option<String>,
    #[schema(schema_with = rules::new_password)]
    pub new_password: String,
    /// Also delete the user's API keys. An admin setting someone else's password always does.
    pub end_api_keys: Option<bool>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(schema_with = rules::page_limit)]
    pub limit: Option<u32>,
    /// The previous page's `next_after`: only ids after this one.
    pub after: Option<i64>,
    #[param(schema_with = rules::user_search)]
    pub q: Option<String>,
}

/// `?limit=&after=` of the lists that take no filter.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(schema_with = rules::page_limit)]
    pub limit: Option<u32>,
    /// The previous page's `next_after`: only ids after this one.
    pub after: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PageResponse<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

/// A service, role or permission. `active` is shown for services only.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EntryResponse {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Entry> for EntryResponse {
    fn from(e: &Entry) -> Self {
        Self {
            id: e.id,
            name: e.name.clone(),
            description: e.description.clone(),
            active: (e.kind == Kind::Service).then_some(e.active),
            created_at: rfc3339(e.created_at),
            updated_at: rfc3339(e.updated_at),
        }
    }
}

/// An unpaged list in the paged lists' shape.
pub fn all_items<T: Serialize>(items: Vec<T>) -> PageResponse<T> {
    PageResponse {
        items,
        next_after: None,
    }
}

/// A service as created or replaced. (Tenants, roles and permissions take the same body, but
/// without `active`: `NamedEntryBody`.)
#[derive(Deserialize, utoipa::ToSchema)]
pub struct EntryBody {
    #[schema(schema_with = rules::entry_name)]
    pub name: String,
    #[schema(schema_with = rules::description_or_null)]
    pub description: Option<String>,
    /// Whether the service is enabled; absent or null keeps it (a new service is active).
    pub active: Option<bool>,
}

/// A tenant, role or permission as created or replaced: what the document says of `EntryBody`
/// on their routes, where only an absent or null `active` is accepted. Never deserialized.
#[derive(utoipa::ToSchema)]
pub struct NamedEntryBody {
    #[schema(schema_with = rules::entry_name)]
    pub name: String,
    #[schema(schema_with = rules::description_or_null)]
    pub description: Option<String>,
    #[schema(schema_with = rules::only_for_services)]
    pub active: Option<bool>,
}

impl From<EntryBody> for EntryRequest {
    fn from(b: EntryBody) -> Self {
        Self {
            name: b.name,
            description: b.description,
            active: b.active,
        }
    }
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct RolePermissionBody {
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole::deserialize")]
    pub role_id: i64,
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole::deserialize")]
    pub permission_id: i64,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct ServiceRoleBody {
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole::deserialize")]
    pub service_id: i64,
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole::deserialize")]
    pub role_id: i64,
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct GrantBody {
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole::deserialize")]
    pub person_id: i64,
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole::deserialize")]
    pub service_id: i64,
    /// When granting: a role the service offers (422 `not_offered_by_service` otherwise).
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "whole::deserialize")]
    pub role_id: i64,
}

/// A direct permission grant: the permission by id or by name, exactly one. Its schema is
/// `rules::permission_grant_body` (a `oneOf` the derive cannot state).
#[derive(Deserialize, Serialize)]
pub struct PermissionGrantBody {
    #[serde(deserialize_with = "whole::deserialize")]
    pub person_id: i64,
    #[serde(deserialize_with = "whole::deserialize")]
    pub service_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(default, deserialize_with = "whole::option")]
    pub permission_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PersonAccessResponse {
    pub user: UserResponse,
    pub service: EntryResponse,
    pub roles: Vec<String>,
    pub permissions: Vec<String>,
}

impl utoipa::PartialSchema for PermissionGrantBody {
    fn schema() -> RefOr<Schema> {
        rules::permission_grant_body()
    }
}

impl utoipa::ToSchema for PermissionGrantBody {}

impl From<&PersonAccess> for PersonAccessResponse {
    fn from(a: &PersonAccess) -> Self {
        Self {
            user: UserResponse::from(&a.user),
            service: EntryResponse::from(&a.service),
            roles: a.roles.iter().map(|r| r.name.clone()).collect(),
            permissions: a.permissions.clone(),
        }
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct CheckTokenBody {
    /// The user the credential must belong to (401 `token_mismatch` otherwise).
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "whole::option")]
    pub user_id: Option<i64>,
    /// The service whose permissions to add: an active one (401 `unknown_service` otherwise).
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "whole::option")]
    pub service_id: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckTokenResponse {
    pub valid: bool,
    pub user_id: i64,
    pub username: String,
    pub roles: Vec<String>,
    /// Effective permissions in the service asked about; empty when none was named.
    pub permissions: Vec<String>,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

impl From<TokenCheck> for CheckTokenResponse {
    fn from(c: TokenCheck) -> Self {
        Self {
            valid: true,
            user_id: c.principal.user_id.0,
            username: c.principal.username,
            roles: c.principal.roles,
            permissions: c.permissions.unwrap_or_default(),
            expires_at: c.principal.expires_at.map(rfc3339),
        }
    }
}

/// RFC 7662 introspection request.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct IntrospectBody {
    /// The token to introspect (400 `invalid_request` when absent or empty).
    #[schema(value_type = String, min_length = 1)]
    pub token: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(schema_with = rules::token_type_hint_or_null)]
    pub token_type_hint: Option<String>,
    /// `client_secret_post`: the service's id or name, with `client_secret`.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// RFC 7662 §2.2 answer for an active token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntrospectResponse {
    pub active: bool,
    pub sub: String,
    pub username: String,
    pub scope: String,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl From<Principal> for IntrospectResponse {
    fn from(p: Principal) -> Self {
        Self {
            active: true,
            sub: p.user_id.0.to_string(),
            username: p.username,
            scope: p.scope,
            client_id: p.client_id,
            exp: p.expires_at.map(UnixTime::seconds),
            iat: p.issued_at.map(UnixTime::seconds),
            sid: p.session_id.map(|s| s.0.to_string()),
            token_type: "Bearer",
            tenant_id: p.tenant_id.map(|t| t.0.to_string()),
        }
    }
}

/// RFC 6749 token request, form-encoded; which fields matter depends on `grant_type`. Its schema
/// is `rules::oauth_token_body` (a `oneOf` by grant type, which the derive cannot state).
#[derive(Deserialize)]
pub struct OAuthTokenBody {
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Tessera's extension for the password grant: the tenant's name.
    pub tenant: Option<String>,
    /// Narrows what is granted (RFC 6749 §3.3): scopes for the password and refresh grants, roles
    /// of the API key for client credentials.
    pub scope: Option<String>,
    /// The authorization-code grant: the code, the redirect URI of its request, and the PKCE verifier.
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

impl utoipa::PartialSchema for OAuthTokenBody {
    fn schema() -> RefOr<Schema> {
        rules::oauth_token_body()
    }
}

impl utoipa::ToSchema for OAuthTokenBody {}

/// The answer to the authorization-code grant: RFC 6749 §5.1 with OIDC Core §3.1.3.3's
/// `id_token`; a refresh token only when `offline_access` was granted.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OidcTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub id_token: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl From<OidcTokens> for OidcTokenResponse {
    fn from(t: OidcTokens) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            id_token: t.id_token,
            scope: t.scope,
            refresh_token: t.refresh_token.map(|r| r.expose().to_owned()),
        }
    }
}

/// The parameters of an authorization request (OAuth 2.0 §4.1.1, OIDC Core §3.1.2.1, RFC 7636
/// §4.3): the query of `GET /oauth/authorize`, or the form of `POST /oauth/authorize`. For the
/// document only: the handlers read the parameters themselves, to tell a repeated one. Together,
/// form-encoded, they may take at most 8192 bytes (the sign-in page comes back to the request),
/// else `invalid_request`.
#[derive(utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// `code`: the only response type.
    pub response_type: Option<String>,
    /// A registered client (`tc_…`).
    pub client_id: Option<String>,
    /// One of the client's redirect URIs, exactly.
    pub redirect_uri: Option<String>,
    /// Space-separated, with `openid`, at most 1024 characters; scopes the client did not
    /// register are left out.
    pub scope: Option<String>,
    /// Returned as it came, with the code or the error; at most 2048 characters.
    pub state: Option<String>,
    /// Returned in the ID token; at most 512 characters.
    pub nonce: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)): 43 characters. Required of every client.
    pub code_challenge: Option<String>,
    /// `S256`; `plain` is refused.
    pub code_challenge_method: Option<String>,
    /// `query`, the only one.
    pub response_mode: Option<String>,
    /// `none` (never show a page), `login` (sign in again), `consent` (ask for consent again), or
    /// `login consent`; `select_account` asks for nothing here.
    pub prompt: Option<String>,
    /// Seconds since the user signed in beyond which they sign in again.
    pub max_age: Option<String>,
    /// The login name to put in the sign-in form.
    pub login_hint: Option<String>,
    /// Language tags separated by spaces, best first, at most 256 characters: the pages speak the
    /// first they can.
    pub ui_locales: Option<String>,
}

/// A client registration (RFC 7591 §2 names), with Tessera's `first_party` and `tenant_id`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ClientBody {
    #[schema(schema_with = rules::client_name)]
    pub client_name: String,
    #[schema(schema_with = rules::redirect_uris)]
    pub redirect_uris: Vec<String>,
    #[schema(schema_with = rules::post_logout_redirect_uris_or_null)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[schema(schema_with = rules::client_grant_types_or_null)]
    pub grant_types: Option<Vec<String>>,
    #[schema(schema_with = rules::response_types_or_null)]
    pub response_types: Option<Vec<String>>,
    #[schema(schema_with = rules::auth_method_or_null)]
    pub token_endpoint_auth_method: Option<String>,
    #[schema(schema_with = rules::client_scope_or_null)]
    pub scope: Option<String>,
    /// Tessera's own application: its users are never asked for consent. Absent or null: false.
    pub first_party: Option<bool>,
    /// The tenant whose users sign in to the client (global admins only; a tenant admin's clients
    /// are their tenant's). An id that names no tenant is 400 `invalid_client_metadata`.
    #[schema(minimum = 1)]
    #[serde(default, deserialize_with = "whole::option")]
    pub tenant_id: Option<i64>,
}

impl ClientBody {
    pub fn into_domain(self) -> ClientRequest {
        ClientRequest {
            client_name: self.client_name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            response_types: self.response_types,
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            scope: self.scope,
            first_party: self.first_party,
            tenant_id: self.tenant_id,
        }
    }
}

/// A registered client (RFC 7591 §3.2.1). `client_id_issued_at` and `client_secret_expires_at`
/// are seconds since the epoch, as RFC 7591 says, not RFC 3339 strings.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientResponse {
    pub client_id: String,
    /// Confidential clients only, and only in the answer that registers them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    /// With `client_secret`: 0, it does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    pub first_party: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i64>,
}

impl ClientResponse {
    /// The client, with its secret when it was just made.
    pub fn new(c: &OAuthClient, secret: Option<&str>) -> Self {
        Self {
            client_id: c.client_id.clone(),
            client_secret: secret.map(str::to_owned),
            client_id_issued_at: c.created_at.seconds(),
            client_secret_expires_at: secret.map(|_| 0),
            client_name: c.client_name.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            response_types: c.response_types.clone(),
            token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
            scope: c.scope.clone(),
            first_party: c.first_party,
            tenant_id: c.tenant_id.map(|t| t.0),
        }
    }
}

/// What the caller consented to give a client.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsentResponse {
    pub client_id: String,
    pub client_name: String,
    /// The scopes granted, space-separated: every scope the caller consented to give the client.
    pub scope: String,
    /// When the caller first consented.
    #[schema(format = DateTime)]
    pub granted_at: String,
    /// When the caller last consented to more.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Consent> for ConsentResponse {
    fn from(c: &Consent) -> Self {
        Self {
            client_id: c.client_id.clone(),
            client_name: c.client_name.clone(),
            scope: c.scope.clone(),
            granted_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// RFC 6749 §5.1 answer without a refresh token (client credentials, opaque logins).
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
}

impl From<IssuedAccess> for AccessResponse {
    fn from(t: IssuedAccess) -> Self {
        Self {
            access_token: t.access_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: t.expires_in,
            scope: t.scope,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ApiKeyBody {
    #[schema(schema_with = rules::api_key_name)]
    pub name: String,
    #[schema(schema_with = rules::scopes_or_null)]
    pub scopes: Option<Vec<String>>,
    #[schema(schema_with = rules::expiry_or_null)]
    pub expires_at: Option<String>,
}

/// An API key's metadata; `key` only in the answer that creates it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyResponse {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<&ApiKey> for ApiKeyResponse {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id,
            user_id: k.user_id.0,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().map(|r| r.as_str().to_owned()).collect(),
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            last_used_at: k.last_used_at.map(rfc3339),
            key: None,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ServiceSecretResponse {
    pub service_id: i64,
    pub token: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileResponse {
    pub user: UserResponse,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    pub renewed: bool,
}

/// Parses an RFC 3339 time into epoch seconds.
pub fn parse_rfc3339(raw: &str) -> Option<UnixTime> {
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|d| UnixTime(d.unix_timestamp()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// Only entries whose actor or subject is this user (any integer: one that names no user
    /// matches nothing).
    pub user_id: Option<i64>,
    #[param(schema_with = rules::audit_event_filter)]
    pub event: Option<String>,
    #[param(schema_with = rules::audit_outcome_filter)]
    pub outcome: Option<String>,
    #[param(schema_with = rules::since_filter)]
    pub since: Option<String>,
    #[param(schema_with = rules::until_filter)]
    pub until: Option<String>,
    #[param(schema_with = rules::page_limit)]
    pub limit: Option<u32>,
    /// The previous page's `next_after`: only entries after this id.
    pub after: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditResponse {
    pub id: i64,
    #[schema(format = DateTime)]
    pub at: String,
    #[schema(schema_with = rules::audit_event_name)]
    pub event: &'static str,
    #[schema(schema_with = rules::audit_outcome)]
    pub outcome: &'static str,
    pub actor_id: Option<i64>,
    pub subject_id: Option<i64>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub details: std::collections::BTreeMap<String, String>,
}

impl From<&AuditRecord> for AuditResponse {
    fn from(r: &AuditRecord) -> Self {
        let e = &r.entry;
        Self {
            id: r.id,
            at: rfc3339(e.at),
            event: e.event.as_str(),
            outcome: e.outcome.as_str(),
            actor_id: e.actor.map(|u| u.0),
            subject_id: e.subject.map(|u| u.0),
            target: e.target.clone(),
            ip: e.context.ip.clone(),
            user_agent: e.context.user_agent.clone(),
            request_id: e.context.request_id.clone(),
            details: e.details.iter().cloned().collect(),
        }
    }
}

/// A signing key, as the node that answers holds it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyResponse {
    /// The key id: the `kid` of the tokens it signs and of its entry in the JWKS.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// It signs new tokens.
    pub signs: bool,
    /// It is in the JWKS: it signs, or tokens it signed may still be alive.
    pub published: bool,
}

impl From<&KeyInfo> for KeyResponse {
    fn from(k: &KeyInfo) -> Self {
        Self {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            created_at: rfc3339(k.created),
            signs: k.signs,
            published: k.published,
        }
    }
}

/// The signing key a rotation made, which signs from now on.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RotatedKeyResponse {
    /// The `kid` of the tokens it signs.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    #[schema(schema_with = rules::username)]
    pub username: String,
    #[schema(schema_with = rules::new_password)]
    pub password: String,
    #[schema(schema_with = rules::email_or_null)]
    pub email: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetBody {
    /// The single-use reset token (401 when unknown, used or expired).
    pub token: String,
    #[schema(schema_with = rules::new_password)]
    pub new_password: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetTokenResponse {
    pub user_id: i64,
    pub token: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrolmentResponse {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CodeBody {
    #[schema(schema_with = rules::totp_code)]
    pub code: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DisableMfaBody {
    /// The caller's password (403 `invalid_current_password` when wrong).
    pub password: String,
    #[schema(schema_with = rules::mfa_code)]
    pub code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BackupCodesResponse {
    pub backup_codes: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MfaLoginBody {
    /// The `mfa_token` of the 401 `mfa_required` answer to the first step.
    pub mfa_token: String,
    #[schema(schema_with = rules::mfa_code)]
    pub code: String,
    #[schema(schema_with = rules::token_format_or_null)]
    pub token_format: Option<String>,
    #[schema(schema_with = rules::session_or_null)]
    pub session: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionResponse {
    pub id: i64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub last_used_at: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Opened by an API key's client-credentials grant.
    pub api_key: bool,
    /// The session of the request that asks.
    pub current: bool,
}

impl SessionResponse {
    pub fn new(s: &SessionInfo, current: Option<tessera_domain::token::SessionId>) -> Self {
        Self {
            id: s.id.0,
            created_at: rfc3339(s.created_at),
            last_used_at: rfc3339(s.last_used_at),
            expires_at: rfc3339(s.expires_at),
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
            api_key: s.api_key,
            current: current == Some(s.id),
        }
    }
}

/// Ids in JSON bodies. JSON has one number type, so `3` and `3.0` are the same number (RFC 8259
/// §6), and an OpenAPI `integer` admits both: an id written either way is read, a fraction is not.
pub mod whole {
    use serde::de::{Error, Unexpected, Visitor};
    use serde::{Deserialize, Deserializer};

    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer")
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
        }

        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        fn visit_f64<E: Error>(self, v: f64) -> Result<i64, E> {
            // Below 2^63 in magnitude, so the conversion is exact.
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) {
                Ok(v as i64)
            } else {
                Err(E::invalid_value(Unexpected::Float(v), &self))
            }
        }
    }

    /// A required id.
    ///
    /// # Errors
    /// For anything but a whole number within `i64`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        d.deserialize_any(Whole)
    }

    /// An optional id (absent or null: `None`); use with `#[serde(default)]`.
    ///
    /// # Errors
    /// For anything but null or a whole number within `i64`.
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        struct Id(#[serde(deserialize_with = "deserialize")] i64);
        Ok(Option::<Id>::deserialize(d)?.map(|Id(v)| v))
    }

    #[cfg(test)]
    mod tests {
        #[derive(serde::Deserialize, Debug)]
        struct Body {
            #[serde(deserialize_with = "super::deserialize")]
            id: i64,
            #[serde(default, deserialize_with = "super::option")]
            other: Option<i64>,
        }

        fn read(json: &str) -> Result<Body, serde_json::Error> {
            serde_json::from_str(json)
        }

        #[test]
        fn whole_numbers_are_read_however_written_and_fractions_are_not() {
            let b = read(r#"{"id": 3.0, "other": 7}"#).unwrap();
            assert_eq!((b.id, b.other), (3, Some(7)));
            let b = read(r#"{"id": -2, "other": null}"#).unwrap();
            assert_eq!((b.id, b.other), (-2, None));
            assert_eq!(read(r#"{"id": 1e3}"#).unwrap().id, 1000);
            assert_eq!(read(r#"{"id": 1}"#).unwrap().other, None);
            for bad in [
                r#"{"id": 3.5}"#,
                r#"{"id": "3"}"#,
                r#"{"id": 1e19}"#,
                r#"{"id": 9223372036854775808}"#,
                r#"{"id": 1, "other": 2.25}"#,
            ] {
                assert!(read(bad).is_err(), "{bad}");
            }
        }
    }
}
