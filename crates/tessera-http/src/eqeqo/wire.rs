//! The Eqeqo door's request and response bodies.
//!
//! Requests are read as Eqeqo read them: a missing field or one of the wrong type fails the whole
//! body, fields it does not know are ignored, and ids that may also be names are `FlexibleId`s.
//! Responses keep Eqeqo's key order: alphabetical for its answers, declaration order for its rows
//! (`{"id", "username", "name"}`). None of these bodies implements `Debug`: some carry passwords
//! or tokens.
#![allow(missing_debug_implementations)]

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tessera_domain::access::Entry;
use tessera_domain::password::Password;
use tessera_domain::user::User;
use tessera_domain::users::CreateUser;

use super::errors::EqeqoError;

/// An id that may also be a name: a JSON integer or a JSON string.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FlexibleId {
    Number(i64),
    Text(String),
}

/// What a flexible id names once read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Id(i64),
    Name(String),
}

impl FlexibleId {
    /// A number, a string holding one (trimmed), or a name; a blank string is `empty`.
    fn read(&self, empty: &'static str) -> Result<Named, EqeqoError> {
        match self {
            Self::Number(n) => Ok(Named::Id(*n)),
            Self::Text(raw) => {
                let text = raw.trim();
                if text.is_empty() {
                    Err(EqeqoError::bad_request(empty))
                } else if let Ok(n) = text.parse::<i64>() {
                    Ok(Named::Id(n))
                } else {
                    Ok(Named::Name(text.to_owned()))
                }
            }
        }
    }

    /// A service: its id or its name.
    ///
    /// # Errors
    /// 400 `invalid_service_id` for a blank string.
    pub fn service(&self) -> Result<Named, EqeqoError> {
        self.read("invalid_service_id")
    }

    /// A permission: its id or its name.
    ///
    /// # Errors
    /// 400 `invalid_permission_id` for a blank string.
    pub fn permission(&self) -> Result<Named, EqeqoError> {
        self.read("invalid_permission_id")
    }

    /// A person: their id, `person-<id>` (every digit in it), or their username.
    ///
    /// # Errors
    /// 400 `invalid_person_id` for a blank string, or digits too many for an id.
    pub fn person(&self) -> Result<Named, EqeqoError> {
        match self.read("invalid_person_id")? {
            Named::Name(name) if name.starts_with("person-") && name.contains(is_digit) => {
                let digits: String = name.chars().filter(char::is_ascii_digit).collect();
                digits
                    .parse::<i64>()
                    .map(Named::Id)
                    .map_err(|_| EqeqoError::bad_request("invalid_person_id"))
            }
            named => Ok(named),
        }
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

/// Parses a body as Eqeqo did (serde over the whole text, whatever its media type), saying which
/// field is missing or of the wrong type but never echoing a value.
///
/// # Errors
/// 400 `invalid_request_body`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, EqeqoError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        EqeqoError::invalid_body(match inner.classify() {
            serde_json::error::Category::Data => {
                let text = inner.to_string();
                let named = |prefix: &str| {
                    text.strip_prefix(prefix)
                        .and_then(|rest| rest.split('`').next())
                        .map(str::to_owned)
                };
                if let Some(field) = named("missing field `") {
                    format!("{field}: required")
                } else if let Some(field) = named("duplicate field `") {
                    format!("{field}: given twice")
                } else if path == "." {
                    "the body must be a JSON object".to_owned()
                } else {
                    format!("{path}: invalid_type")
                }
            }
            _ => "the body is not valid JSON".to_owned(),
        })
    })?;
    de.end()
        .map_err(|_| EqeqoError::invalid_body("the body is not valid JSON"))?;
    Ok(value)
}

#[derive(Deserialize)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

/// `POST /users`: every field is required. `password_hash` is the password itself, as in Eqeqo.
#[derive(Deserialize)]
pub struct CreateUserBody {
    pub username: String,
    pub password_hash: String,
    pub name: String,
    pub person_type: String,
    pub document_type: String,
    pub document_number: String,
}

/// Eqeqo's kinds of person: natural and juridical.
const PERSON_TYPES: [&str; 2] = ["N", "J"];
/// Eqeqo's kinds of identity document.
const DOCUMENT_TYPES: [&str; 3] = ["DNI", "CE", "RUC"];

impl CreateUserBody {
    /// The user to create: `name` is the display name; the person and document types (trimmed,
    /// one of Eqeqo's) and the document number are attributes by those names.
    ///
    /// # Errors
    /// 400 `invalid_request_body` naming every blank field and every type Eqeqo does not know.
    pub fn into_request(self) -> Result<CreateUser, EqeqoError> {
        let mut problems: Vec<String> = [
            ("username", &self.username),
            ("password_hash", &self.password_hash),
            ("name", &self.name),
            ("person_type", &self.person_type),
            ("document_type", &self.document_type),
            ("document_number", &self.document_number),
        ]
        .into_iter()
        .filter(|(_, value)| value.trim().is_empty())
        .map(|(field, _)| format!("{field}: empty"))
        .collect();
        let person_type = self.person_type.trim();
        if !person_type.is_empty() && !PERSON_TYPES.contains(&person_type) {
            problems.push("person_type: must be N or J".into());
        }
        let document_type = self.document_type.trim();
        if !document_type.is_empty() && !DOCUMENT_TYPES.contains(&document_type) {
            problems.push("document_type: must be DNI, CE or RUC".into());
        }
        if !problems.is_empty() {
            return Err(EqeqoError::invalid_body(problems.join("; ")));
        }
        let attributes = BTreeMap::from([
            ("person_type".to_owned(), person_type.to_owned()),
            ("document_type".to_owned(), document_type.to_owned()),
            ("document_number".to_owned(), self.document_number),
        ]);
        Ok(CreateUser {
            username: self.username,
            password: Password::new(self.password_hash),
            email: None,
            display_name: Some(self.name),
            roles: None,
            active: None,
            tenant_id: None,
            attributes: Some(attributes),
        })
    }
}

/// `PUT /users/{id}`: any of the three; absent or null leaves it alone.
#[derive(Deserialize)]
pub struct UpdateUserBody {
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub name: Option<String>,
}

/// `POST /services`.
#[derive(Deserialize)]
pub struct ServiceBody {
    pub name: String,
    pub description: Option<String>,
}

/// `PUT /services/{id}`: absent or null leaves it alone.
#[derive(Deserialize)]
pub struct ServiceChangeBody {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// `POST /roles`, `PUT /roles/{id}`.
#[derive(Deserialize)]
pub struct RoleBody {
    pub name: String,
}

/// `POST /permissions`, `PUT /permissions/{id}`: `code` is another name for `name`.
#[derive(Deserialize)]
pub struct PermissionBody {
    #[serde(alias = "code")]
    pub name: String,
}

/// `POST` and `DELETE /role-permissions`: both ids are JSON integers.
#[derive(Deserialize)]
pub struct RolePermissionBody {
    pub role_id: i64,
    pub permission_id: i64,
}

/// `POST` and `DELETE /service-roles`.
#[derive(Deserialize)]
pub struct ServiceRoleBody {
    pub service_id: FlexibleId,
    pub role_id: i64,
}

/// `POST` and `DELETE /person-service-roles`.
#[derive(Deserialize)]
pub struct PersonRoleBody {
    pub person_id: FlexibleId,
    pub service_id: FlexibleId,
    pub role_id: i64,
}

/// `POST /person-service-permissions`: `permission_id` wins over `permission_name`, which is read
/// as a flexible id too.
#[derive(Deserialize)]
pub struct PermissionGrantBody {
    pub person_id: FlexibleId,
    pub service_id: FlexibleId,
    pub permission_id: Option<FlexibleId>,
    pub permission_name: Option<String>,
}

/// `POST /check-token`'s optional body, read leniently.
#[derive(Deserialize)]
pub struct CheckTokenBody {
    pub user_id: Option<serde_json::Value>,
}

impl CheckTokenBody {
    /// The user the caller asks about: a JSON integer or a string holding one; anything else
    /// asks about nobody.
    pub fn asked_user(&self) -> Option<i64> {
        match self.user_id.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// A user as Eqeqo shows one.
#[derive(Serialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub name: String,
}

/// A user's `name`: their display name, or their username when they have none.
fn name_of(user: &User) -> String {
    user.display_name
        .as_ref()
        .map_or_else(|| user.username.as_str(), |d| d.as_str())
        .to_owned()
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.0,
            username: user.username.as_str().to_owned(),
            name: name_of(user),
        }
    }
}

/// A token's holder, as Eqeqo's token payload names them.
#[derive(Serialize)]
pub struct TokenPayload {
    pub name: String,
    pub user_id: i64,
    pub username: String,
}

impl From<&User> for TokenPayload {
    fn from(user: &User) -> Self {
        Self {
            name: name_of(user),
            user_id: user.id.0,
            username: user.username.as_str().to_owned(),
        }
    }
}

/// `POST /auth/login`.
#[derive(Serialize)]
pub struct LoginAnswer {
    pub expires_at: i64,
    pub payload: TokenPayload,
    pub token: String,
}

/// `GET /auth/profile`.
#[derive(Serialize)]
pub struct ProfileAnswer {
    pub expires_at: i64,
    pub payload: TokenPayload,
    pub renewed: bool,
}

/// What the holder of a user token may do in the service of a service token.
#[derive(Serialize)]
pub struct Access {
    pub expires_at: i64,
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    /// Always empty, as in Eqeqo.
    pub scopes: Vec<String>,
    pub service_id: i64,
    pub user_id: i64,
}

/// `POST /check-token`.
#[derive(Serialize)]
pub struct CheckAnswer {
    pub access: Access,
    pub expires_at: i64,
    pub payload: TokenPayload,
    pub renewed: bool,
    pub valid: bool,
}

/// A service as Eqeqo shows one.
#[derive(Serialize)]
pub struct ServiceRow {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
}

impl From<&Entry> for ServiceRow {
    fn from(e: &Entry) -> Self {
        Self {
            id: e.id,
            name: e.name.clone(),
            description: e.description.clone(),
        }
    }
}

/// A role or a permission as Eqeqo shows one.
#[derive(Serialize)]
pub struct NamedRow {
    pub id: i64,
    pub name: String,
}

impl From<&Entry> for NamedRow {
    fn from(e: &Entry) -> Self {
        Self {
            id: e.id,
            name: e.name.clone(),
        }
    }
}

/// `POST /services/{id}/token`.
#[derive(Serialize)]
pub struct ServiceTokenAnswer {
    pub expires_at: i64,
    pub service_id: i64,
    pub service_name: String,
    pub token: String,
}

/// `GET /people/{person_id}/services/{service_id}`.
#[derive(Serialize)]
pub struct PersonAccessAnswer {
    pub permissions: Vec<String>,
    pub roles: Vec<String>,
    pub service_id: i64,
    pub user: UserRow,
}

/// The answer of a change: its `status`, and the ids Eqeqo repeated with it.
#[derive(Serialize, Default)]
pub struct Done {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_tokens: Option<usize>,
    /// `Some(None)` answers `"role_id": null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_id: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<i64>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
}

impl Done {
    pub fn status(status: &'static str) -> Self {
        Self {
            status,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flexible(raw: &str) -> FlexibleId {
        serde_json::from_str(raw).unwrap()
    }

    #[test]
    fn flexible_ids_read_as_eqeqo_read_them() {
        assert_eq!(flexible("7").service().unwrap(), Named::Id(7));
        assert_eq!(flexible("\" 7 \"").service().unwrap(), Named::Id(7));
        assert_eq!(
            flexible("\"Service A\"").service().unwrap(),
            Named::Name("Service A".into())
        );
        assert_eq!(
            flexible("\" \"").service().unwrap_err().key(),
            "invalid_service_id"
        );
        assert_eq!(flexible("\"person-12\"").person().unwrap(), Named::Id(12));
        assert_eq!(flexible("\"person-1a2\"").person().unwrap(), Named::Id(12));
        assert_eq!(
            flexible("\"person-\"").person().unwrap(),
            Named::Name("person-".into())
        );
        assert_eq!(
            flexible("\"juan\"").person().unwrap(),
            Named::Name("juan".into())
        );
        assert_eq!(
            flexible("\"\"").person().unwrap_err().key(),
            "invalid_person_id"
        );
        assert_eq!(
            flexible("\"\"").permission().unwrap_err().key(),
            "invalid_permission_id"
        );
        for bad in ["1.5", "true", "null", "{}", "[1]", "18446744073709551615"] {
            assert!(serde_json::from_str::<FlexibleId>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bodies_fail_whole_and_say_why_without_echoing() {
        let e = parse::<RolePermissionBody>(br#"{"role_id": "1", "permission_id": 2}"#)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "invalid_request_body: role_id: invalid_type");
        let e = parse::<RoleBody>(b"{}").err().unwrap();
        assert_eq!(e.to_string(), "invalid_request_body: name: required");
        let e = parse::<PermissionBody>(br#"{"name": "a", "code": "b"}"#)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "invalid_request_body: name: given twice");
        assert!(parse::<RoleBody>(b"{\"name\": \"x\"} trailing").is_err());
        assert!(parse::<RoleBody>(b"").is_err());
        let p =
            parse::<PermissionBody>(br#"{"code": "export", "description": "ignored"}"#).unwrap();
        assert_eq!(p.name, "export");
        let u = parse::<UpdateUserBody>(br#"{"name": null}"#).unwrap();
        assert!(u.name.is_none() && u.username.is_none());
    }

    #[test]
    fn a_new_user_needs_every_field_and_eqeqos_types() {
        let body = |person: &str, document: &str, name: &str| CreateUserBody {
            username: "juan".into(),
            password_hash: "a perfectly fine passphrase".into(),
            name: name.into(),
            person_type: person.into(),
            document_type: document.into(),
            document_number: "00000007".into(),
        };
        let req = body(" N ", "DNI", "Juan Demo").into_request().unwrap();
        let attributes = req.attributes.unwrap();
        assert_eq!(attributes["person_type"], "N");
        assert_eq!(attributes["document_type"], "DNI");
        assert_eq!(attributes["document_number"], "00000007");
        assert_eq!(req.display_name.as_deref(), Some("Juan Demo"));
        let e = body("X", "passport", " ").into_request().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid_request_body: name: empty; person_type: must be N or J; document_type: must be DNI, CE or RUC"
        );
    }

    #[test]
    fn the_check_token_body_names_a_user_or_nobody() {
        let user = |raw: &str| {
            parse::<CheckTokenBody>(raw.as_bytes())
                .unwrap()
                .asked_user()
        };
        assert_eq!(user(r#"{"user_id": 7}"#), Some(7));
        assert_eq!(user(r#"{"user_id": " 7"}"#), Some(7));
        assert_eq!(user(r#"{"user_id": "adm1"}"#), None);
        assert_eq!(user(r#"{"user_id": 7.5}"#), None);
        assert_eq!(user("{}"), None);
    }
}
