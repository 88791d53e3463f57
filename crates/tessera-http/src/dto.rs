//! Request and response bodies. Requests hold plain strings; handlers turn them into domain requests.
//!
//! Several bodies carry passwords or tokens, so none of them implements `Debug`: nothing can print one by accident.
#![allow(missing_debug_implementations)]

use serde::{Deserialize, Deserializer, Serialize};
use tessera_domain::auth::IssuedTokens;
use tessera_domain::password::Password;
use tessera_domain::time::UnixTime;
use tessera_domain::user::User;
use tessera_domain::users::{CreateUser, UpdateUser};

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

#[derive(Deserialize)]
pub struct LoginBody {
    /// A username or an e-mail address.
    pub username: String,
    pub password: String,
}

#[derive(Deserialize)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// RFC 7009 revocation request.
#[derive(Deserialize)]
pub struct RevokeBody {
    pub token: String,
    #[serde(default)]
    #[allow(dead_code)]
    pub token_type_hint: Option<String>,
}

/// RFC 6749 §5.1 token response.
#[derive(Serialize)]
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

#[derive(Serialize)]
pub struct UserResponse {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub created_at: String,
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
            tenant_id: u.tenant_id.clone(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

/// OpenID Connect UserInfo claims. `updated_at` is seconds since the epoch, as OIDC Core §5.1 says.
#[derive(Serialize)]
pub struct UserInfoResponse {
    pub sub: String,
    pub preferred_username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub updated_at: i64,
}

impl From<&User> for UserInfoResponse {
    fn from(u: &User) -> Self {
        Self {
            sub: u.id.0.to_string(),
            preferred_username: u.username.as_str().to_owned(),
            email: u.email.as_ref().map(|e| e.as_str().to_owned()),
            name: u.display_name.as_ref().map(|d| d.as_str().to_owned()),
            roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            updated_at: u.updated_at.seconds(),
        }
    }
}

#[derive(Deserialize)]
pub struct CreateUserBody {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    pub tenant_id: Option<String>,
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
        }
    }
}

#[derive(Deserialize)]
pub struct UpdateUserBody {
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub display_name: Option<Option<String>>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
}

impl UpdateUserBody {
    /// PATCH: only the fields present change.
    pub fn into_patch(self) -> UpdateUser {
        UpdateUser {
            email: self.email,
            display_name: self.display_name,
            roles: self.roles,
            active: self.active,
        }
    }

    /// PUT: the profile is replaced, so an absent e-mail or display name is cleared;
    /// roles and `active` change only when given, since only admins may send them.
    pub fn into_replacement(self) -> UpdateUser {
        UpdateUser {
            email: Some(self.email.flatten()),
            display_name: Some(self.display_name.flatten()),
            roles: self.roles,
            active: self.active,
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordBody {
    pub current_password: Option<String>,
    pub new_password: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub after: Option<i64>,
    pub q: Option<String>,
}

#[derive(Serialize)]
pub struct PageResponse<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}
