//! Database rows: private to the adapter, converted to and from domain types here.

use std::collections::BTreeMap;

use crate::Context as _;
use diesel::prelude::*;
use tessera_domain::time::UnixTime;
use tessera_domain::user::{
    Attributes, DisplayName, Email, Role, TenantId, User, UserId, Username,
};

use crate::schema::{
    authorization_codes, oauth_clients, refresh_tokens, sessions, user_roles, users,
};

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password_hash: String,
    pub active: bool,
    pub tenant_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// A JSON object of strings (`attributes_json`).
    pub attributes: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow<'a> {
    pub username: &'a str,
    pub username_normalized: String,
    pub email: Option<&'a str>,
    pub email_normalized: Option<String>,
    pub display_name: Option<&'a str>,
    pub password_hash: &'a str,
    pub active: bool,
    pub tenant_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub attributes: String,
}

#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = users)]
pub(crate) struct UserChangeset {
    pub username: Option<String>,
    pub username_normalized: Option<String>,
    pub email: Option<Option<String>>,
    pub email_normalized: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub active: Option<bool>,
    /// The merged attributes, as `attributes_json` writes them.
    pub attributes: Option<String>,
    pub updated_at: i64,
}

/// Attributes as the `attributes` column holds them: a JSON object of strings, in name order.
pub(crate) fn attributes_json(attributes: &Attributes) -> QueryResult<String> {
    serde_json::to_string(attributes.as_map())
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}

/// The attributes of the `attributes` column of user `id`; one that is not a JSON object of
/// strings, or breaks a rule of `Attributes`, is an error.
pub(crate) fn parse_attributes(id: i64, json: &str) -> anyhow::Result<Attributes> {
    let map: BTreeMap<String, String> = serde_json::from_str(json).map_err(|_| {
        anyhow::anyhow!("stored user {id} has attributes that are not a JSON object of strings")
    })?;
    Attributes::parse(map).map_err(|problems| {
        anyhow::anyhow!(
            "stored user {id} has invalid attributes: {}",
            problems.join(", ")
        )
    })
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_roles)]
pub(crate) struct RoleRow<'a> {
    pub user_id: i64,
    pub role: &'a str,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub(crate) struct NewSessionRow<'a> {
    pub user_id: i64,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub api_key_id: Option<i64>,
    pub scope: Option<&'a str>,
    pub amr: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub sso_session_id: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub(crate) struct NewRefreshRow<'a> {
    pub session_id: i64,
    pub token_hash: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = oauth_clients)]
pub(crate) struct ClientRow {
    pub id: i64,
    pub client_id: String,
    pub tenant_id: Option<i64>,
    pub client_name: String,
    pub secret_hash: Option<String>,
    pub token_endpoint_auth_method: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub response_types: String,
    pub scope: String,
    pub first_party: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = oauth_clients)]
pub(crate) struct NewClientRow<'a> {
    pub client_id: &'a str,
    pub tenant_id: Option<i64>,
    pub client_name: &'a str,
    pub secret_hash: Option<&'a str>,
    pub token_endpoint_auth_method: &'a str,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub response_types: String,
    pub scope: &'a str,
    pub first_party: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = authorization_codes)]
pub(crate) struct CodeRow {
    pub id: i64,
    pub client_pk: i64,
    pub user_id: i64,
    pub sso_session_id: Option<i64>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = authorization_codes)]
pub(crate) struct NewCodeRow<'a> {
    pub code_hash: &'a str,
    pub client_pk: i64,
    pub user_id: i64,
    pub sso_session_id: Option<i64>,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub code_challenge: &'a str,
    pub auth_time: i64,
    pub amr: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

impl UserRow {
    /// The domain user, with its roles (sorted).
    pub fn into_user(self, mut roles: Vec<String>) -> anyhow::Result<User> {
        roles.sort();
        let bad = |what: &str| format!("stored user {} has an invalid {what}", self.id);
        Ok(User {
            id: UserId(self.id),
            username: Username::parse(&self.username)
                .map_err(|_| anyhow::anyhow!(bad("username")))?,
            email: self
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|_| anyhow::anyhow!(bad("email")))?,
            display_name: self
                .display_name
                .as_deref()
                .map(DisplayName::parse)
                .transpose()
                .map_err(|_| anyhow::anyhow!(bad("display name")))?,
            roles: roles
                .iter()
                .map(|r| Role::parse(r))
                .collect::<Result<_, _>>()
                .map_err(|_| anyhow::anyhow!(bad("role")))
                .context("corrupt user row")?,
            active: self.active,
            tenant_id: self.tenant_id.map(TenantId),
            attributes: parse_attributes(self.id, &self.attributes)?,
            created_at: UnixTime(self.created_at),
            updated_at: UnixTime(self.updated_at),
        })
    }
}
