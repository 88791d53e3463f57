//! The rules the server enforces on request fields, as JSON Schema for the OpenAPI document.
//!
//! Each function describes one kind of value with the domain's own constants, so that a rule
//! changed in the domain changes the document (`cargo xtask openapi`). The DTOs name them with
//! `#[schema(schema_with = …)]` or `#[param(schema_with = …)]`; such a field's doc comment is not
//! used, the description is here.
//!
//! Patterns are written in the subset of regular expressions that ECMA-262 and Python read alike
//! (`[0-9]`, never `\d`; no Unicode property escapes), so that tools generating requests from the
//! document and the validators checking them agree. JSON Schema counts lengths in characters;
//! where the domain counts bytes, the description says so.

use serde_json::Value;
use tessera_domain::access::{Description, Name};
use tessera_domain::audit::Event;
use tessera_domain::oauth::{self, AuthMethod};
use tessera_domain::password::PasswordPolicy;
use tessera_domain::user::{Attributes, DisplayName, Email, Role, Username};
use tessera_domain::users::{DEFAULT_PAGE, MAX_PAGE};
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};

/// `Username::parse`: letters, digits, `.`, `_` and `-`, the first a letter or digit.
const USERNAME_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9._-]*$";
/// `access::Name::parse`: letters, digits, `_`, `.`, `:`, `/`, `-` and the space, the first a
/// letter or digit; a space only before another of the others (never last, never two in a row).
const ENTRY_NAME_PATTERN: &str = r"^[A-Za-z0-9](?: ?[A-Za-z0-9_.:/-])*$";
/// `Role::parse`: lower-case letters, digits, `_`, `.`, `:` and `-`.
const ROLE_PATTERN: &str = r"^[a-z0-9_.:-]+$";
/// The HTML living standard's syntax that `Email::parse` checks (the `validator` crate): a local
/// part of at most 64 characters, and a domain of labels of at most 63. Addresses the server
/// also takes but this leaves out: surrounding spaces (trimmed), an address literal
/// (`a@[192.0.2.1]`) and an internationalised domain name.
const EMAIL_PATTERN: &str = r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$";
/// `DisplayName::parse`: no control character (`char::is_control`: U+0000–U+001F and
/// U+007F–U+009F), and something other than white space, which is trimmed.
const DISPLAY_NAME_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$";
/// `Description::parse`: no control character but tab, line feed and carriage return.
const DESCRIPTION_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";
/// `Attributes::valid_name`: lower-case letters, digits, `_`, `.` and `-`, the first a letter.
const ATTRIBUTE_NAME_PATTERN: &str = r"^[a-z][a-z0-9_.-]*$";
/// `Attributes::parse` of a value: no control character (`char::is_control`); empty is fine.
const ATTRIBUTE_VALUE_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";
/// A TOTP code as `OneTimeCodes::totp_step` (tessera-crypto's `TotpCodes`) reads it: RFC 6238
/// with six digits.
const TOTP_PATTERN: &str = r"^[0-9]{6}$";
/// A TOTP code, or a backup code as `OneTimeCodes::new_backup_code` makes them: ten characters
/// of `abcdefghjkmnpqrstuvwxyz23456789` as `xxxxx-xxxxx` (compared without the dash, ignoring case).
const MFA_CODE_PATTERN: &str =
    r"^(?:[0-9]{6}|[a-hjkmnp-zA-HJKMNP-Z2-9]{5}-?[a-hjkmnp-zA-HJKMNP-Z2-9]{5})$";

/// A client id as `OAuthProvider::create_client` makes them: `oauth::CLIENT_ID_PREFIX` and the
/// unpadded base64url of 128 random bits.
const CLIENT_ID_PATTERN: &str = r"^tc_[A-Za-z0-9_-]+$";

/// The `token_format` values `TokenFormat::parse` knows.
pub(crate) const TOKEN_FORMATS: [&str; 2] = ["jwt", "opaque"];
/// The `session` value `routes::auth::wants_cookie` knows.
pub(crate) const SESSION_KINDS: [&str; 1] = ["cookie"];
/// The grants `/oauth/token` serves (`routes::credentials::oauth_grant`).
pub(crate) const GRANT_TYPES: [&str; 4] = [
    "authorization_code",
    "password",
    "refresh_token",
    "client_credentials",
];
/// The `outcome` values `audit::Outcome::parse` knows.
pub(crate) const OUTCOMES: [&str; 2] = ["success", "failure"];
/// RFC 7009 §2.1 and RFC 7662 §2.1 hints.
pub(crate) const TOKEN_TYPE_HINTS: [&str; 2] = ["access_token", "refresh_token"];

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn string_or_null() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// `values`, and `null` (which the server reads as absent).
fn with_null(values: &[&'static str]) -> Vec<Value> {
    values
        .iter()
        .map(|v| Value::from(*v))
        .chain([Value::Null])
        .collect()
}

/// The shape of an RFC 3339 time; `format` alone is an annotation that validators may skip.
const DATE_TIME_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$";

fn date_time(s: ObjectBuilder) -> ObjectBuilder {
    s.format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some(DATE_TIME_PATTERN))
}

/// An id: the store assigns them from 1.
fn id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
}

fn username_rules(s: ObjectBuilder) -> ObjectBuilder {
    s.min_length(Some(Username::MIN_LEN))
        .max_length(Some(Username::MAX_LEN))
        .pattern(Some(USERNAME_PATTERN))
}

/// A username, as `Username::parse` takes it.
pub fn username() -> RefOr<Schema> {
    username_rules(string())
        .description(Some(format!(
            "{} to {} characters from `A-Z a-z 0-9 . _ -`, starting with a letter or digit; unique ignoring case.",
            Username::MIN_LEN,
            Username::MAX_LEN
        )))
        .into()
}

/// A user's new username, or `null`.
pub fn username_or_null() -> RefOr<Schema> {
    username_rules(string_or_null())
        .description(Some(format!(
            "A new username, for those who administer the user (403 otherwise): {} to {} characters from `A-Z a-z 0-9 . _ -`, starting with a letter or digit; unique ignoring case within the user's tenant (409 `duplicate` when another user has it). Sessions and tokens stay valid; JWTs already issued keep the old name in `preferred_username` until they expire. Absent or null: unchanged.",
            Username::MIN_LEN,
            Username::MAX_LEN
        )))
        .into()
}

/// A new password, under the default `PasswordPolicy`.
pub fn new_password() -> RefOr<Schema> {
    let policy = PasswordPolicy::default();
    string()
        .min_length(Some(policy.min_length))
        .max_length(Some(policy.max_bytes))
        .description(Some(format!(
            "With the default password policy: at least {} characters and at most {} bytes of UTF-8 \
             (so fewer characters when some are not ASCII), not one of the 20,000 most common \
             passwords and not containing the username, ignoring case (422 otherwise). The \
             deployment may configure other rules.",
            policy.min_length, policy.max_bytes
        )))
        .into()
}

/// An e-mail address, or `null`.
pub fn email_or_null() -> RefOr<Schema> {
    // No `format: email`: that is RFC 5321's syntax, stricter than the HTML standard's (a local
    // part may start with a dot there), which is what the server accepts.
    string_or_null()
        .max_length(Some(Email::MAX_LEN))
        .pattern(Some(EMAIL_PATTERN))
        .description(Some(format!(
            "An e-mail address in the syntax of the HTML living standard, at most {} bytes once trimmed; unique ignoring case.",
            Email::MAX_LEN
        )))
        .into()
}

fn display_name_rules(s: ObjectBuilder, what: &str) -> ObjectBuilder {
    s.min_length(Some(1))
        .max_length(Some(DisplayName::MAX_LEN))
        .pattern(Some(DISPLAY_NAME_PATTERN))
        .description(Some(format!(
            "{what}: 1 to {} characters once trimmed, not all white space, without control characters.",
            DisplayName::MAX_LEN
        )))
}

/// A user's display name, or `null`.
pub fn display_name_or_null() -> RefOr<Schema> {
    display_name_rules(string_or_null(), "A human-readable name").into()
}

/// An API key's name: the same rules as a display name.
pub fn api_key_name() -> RefOr<Schema> {
    display_name_rules(string(), "The key's name").into()
}

fn role() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(Role::MAX_LEN))
        .pattern(Some(ROLE_PATTERN))
}

/// Global roles: a list of role names, or `null`.
pub fn roles_or_null() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(role())
        .description(Some(format!(
            "Global role names, each 1 to {} characters from `a-z 0-9 _ . : -`; duplicates count once.",
            Role::MAX_LEN
        )))
        .into()
}

/// An API key's scopes: role names its user holds, or `null`.
pub fn scopes_or_null() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(role())
        .description(Some(format!(
            "The global roles the key may use, each 1 to {} characters from `a-z 0-9 _ . : -`, and each held by the user (422 `not_held_by_user` otherwise); absent, null or empty: every role of the user.",
            Role::MAX_LEN
        )))
        .into()
}

fn attribute_name() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(Attributes::MAX_NAME_LEN))
        .pattern(Some(ATTRIBUTE_NAME_PATTERN))
}

fn attribute_value() -> ObjectBuilder {
    string()
        .max_length(Some(Attributes::MAX_VALUE_LEN))
        .pattern(Some(ATTRIBUTE_VALUE_PATTERN))
}

/// What `Attributes::parse` takes, in words.
fn attribute_rules() -> String {
    format!(
        "at most {} of them (`too_many`); a name is 1 to {} characters from `a-z 0-9 _ . -` starting with a letter (`invalid_name`); a value is a string of at most {} characters (`value_too_long`) without control characters (`invalid_characters`), and may be empty",
        Attributes::MAX_ENTRIES,
        Attributes::MAX_NAME_LEN,
        Attributes::MAX_VALUE_LEN
    )
}

/// A user's attributes, as `Attributes::parse` takes them.
fn attributes_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(Attributes::MAX_ENTRIES))
        .property_names(Some(attribute_name()))
        .additional_properties(Some(attribute_value()))
}

/// A user's attributes.
pub fn attributes() -> RefOr<Schema> {
    attributes_object()
        .description(Some(format!(
            "Free-form values kept on the user by those who administer them, by name: {}. `{{}}` when none.",
            attribute_rules()
        )))
        .into()
}

/// A new user's attributes, or `null`.
pub fn attributes_or_null() -> RefOr<Schema> {
    attributes_object()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .description(Some(format!(
            "Free-form values kept on the user, by name: {}. Absent or null: none.",
            attribute_rules()
        )))
        .into()
}

/// A change to a user's attributes, as a JSON merge patch, or `null`.
pub fn attribute_changes_or_null() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(Attributes::MAX_CHANGES))
        .property_names(Some(attribute_name()))
        .additional_properties(Some(
            attribute_value().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
        ))
        .description(Some(format!(
            "A JSON merge patch (RFC 7396) of the attributes, for those who administer the user (403 otherwise): a name with a string sets it, a name with null removes it, names left out are kept; at most {} names in one patch (`too_many`). The attributes that result follow the rules: {}. Absent or null: unchanged.",
            Attributes::MAX_CHANGES,
            attribute_rules()
        )))
        .into()
}

/// A service's, role's, permission's or tenant's name.
pub fn entry_name() -> RefOr<Schema> {
    entry_name_object().into()
}

fn entry_name_object() -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(Name::MAX_LEN))
        .pattern(Some(ENTRY_NAME_PATTERN))
        .description(Some(format!(
            "1 to {} characters from `A-Z a-z 0-9 _ . : / -` and the space, starting with a letter or digit, with no space at the end or next to another; unique per kind.",
            Name::MAX_LEN
        )))
}

/// A free-text description, or `null`.
pub fn description_or_null() -> RefOr<Schema> {
    string_or_null()
        .max_length(Some(Description::MAX_LEN))
        .pattern(Some(DESCRIPTION_PATTERN))
        .description(Some(format!(
            "At most {} characters once trimmed, without control characters other than tab and line breaks; empty or null: none.",
            Description::MAX_LEN
        )))
        .into()
}

/// `active` where only services have it: absent or `null`.
pub fn only_for_services() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Null)
        .description(Some(
            "Only services can be disabled: any value but null is refused (422 `only_for_services`).",
        ))
        .into()
}

/// An RFC 3339 time in the future, or `null`.
pub fn expiry_or_null() -> RefOr<Schema> {
    date_time(string_or_null())
        .description(Some(
            "When the key stops working, RFC 3339; it must be in the future (422 `in_the_past`). Absent or null: never.",
        ))
        .into()
}

/// A TOTP code.
pub fn totp_code() -> RefOr<Schema> {
    string()
        .pattern(Some(TOTP_PATTERN))
        .description(Some(
            "The six-digit code the authenticator app shows (surrounding spaces are ignored).",
        ))
        .into()
}

/// A TOTP code or a backup code.
pub fn mfa_code() -> RefOr<Schema> {
    string()
        .pattern(Some(MFA_CODE_PATTERN))
        .description(Some(
            "A six-digit TOTP code, or an unused backup code (`xxxxx-xxxxx`; the dash, spaces and case do not matter).",
        ))
        .into()
}

/// `token_format` of a login, or `null`.
pub fn token_format_or_null() -> RefOr<Schema> {
    string_or_null()
        .enum_values(Some(with_null(&TOKEN_FORMATS)))
        .description(Some(
            "`jwt` (a JWT and a refresh token) or `opaque` (an opaque access token, no refresh token); the configured default when absent or null.",
        ))
        .into()
}

/// `session` of a login, or `null`.
pub fn session_or_null() -> RefOr<Schema> {
    string_or_null()
        .enum_values(Some(with_null(&SESSION_KINDS)))
        .description(Some(
            "`cookie`: a browser session in an `HttpOnly` cookie instead of tokens in the body (and `token_format` is not used).",
        ))
        .into()
}

/// `token_type_hint` of RFC 7009 and RFC 7662, or `null`.
pub fn token_type_hint_or_null() -> RefOr<Schema> {
    // Any string: RFC 7009 §2.1 and RFC 7662 §2.1 let a server ignore the hint, and this one does
    // (each token says what it is), so an unknown hint is not refused.
    string_or_null()
        .description(Some(format!(
            "RFC 7009 §2.1 / RFC 7662 §2.1 hint, such as {}; accepted and not used (the token says what it is), whatever its value.",
            TOKEN_TYPE_HINTS.map(|h| format!("`{h}`")).join(" or ")
        )))
        .into()
}

/// `?limit=` of the paged lists (`access::checked_limit`).
pub fn page_limit() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
        .minimum(Some(1))
        .maximum(Some(MAX_PAGE))
        .default(Some(Value::from(DEFAULT_PAGE)))
        .description(Some(format!(
            "Page size, 1 to {MAX_PAGE} (default {DEFAULT_PAGE}); 422 `out_of_range` outside."
        )))
        .into()
}

/// `?q=` of `GET /users`: a prefix of a username or e-mail address.
pub fn user_search() -> RefOr<Schema> {
    string()
        .max_length(Some(Email::MAX_LEN))
        .description(Some(format!(
            "Only users whose username or e-mail address starts with this, ignoring case; at most {} bytes once trimmed (422 `too_long`).",
            Email::MAX_LEN
        )))
        .into()
}

/// `?event=` of `GET /audit`.
pub fn audit_event_filter() -> RefOr<Schema> {
    audit_event()
        .description(Some("Only entries of this event."))
        .into()
}

/// `?outcome=` of `GET /audit`.
pub fn audit_outcome_filter() -> RefOr<Schema> {
    string()
        .enum_values(Some(OUTCOMES))
        .description(Some("Only entries with this outcome."))
        .into()
}

/// `?since=` of `GET /audit`.
pub fn since_filter() -> RefOr<Schema> {
    date_time(string())
        .description(Some("Only entries at or after this RFC 3339 time."))
        .into()
}

/// `?until=` of `GET /audit`.
pub fn until_filter() -> RefOr<Schema> {
    date_time(string())
        .description(Some("Only entries before this RFC 3339 time."))
        .into()
}

fn audit_event() -> ObjectBuilder {
    string().enum_values(Some(Event::ALL.iter().map(|e| e.as_str())))
}

/// `event` of an audit entry.
pub fn audit_event_name() -> RefOr<Schema> {
    audit_event().into()
}

/// `outcome` of an audit entry.
pub fn audit_outcome() -> RefOr<Schema> {
    string().enum_values(Some(OUTCOMES)).into()
}

fn null() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Null)
}

/// One way to name the permission of a direct grant: `by` is required, the other is null.
fn permission_grant_by(by: &'static str) -> ObjectBuilder {
    let (permission_id, permission_name) = if by == "permission_id" {
        (id(), null())
    } else {
        (null(), entry_name_object())
    };
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("person_id", id())
        .required("person_id")
        .property("service_id", id())
        .required("service_id")
        .property("permission_id", permission_id)
        .property("permission_name", permission_name)
        .required(by)
}

/// `POST /person-service-permissions`: the permission by `permission_id` or by
/// `permission_name`, exactly one of them (the other absent or null).
pub fn permission_grant_body() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(permission_grant_by("permission_id"))
        .item(permission_grant_by("permission_name"))
        .description(Some(
            "The permission is named by `permission_id` or by `permission_name`, exactly one of them (422 `exactly_one_of_permission_id_or_permission_name` otherwise).",
        ))
        .into()
}

/// A client's name: the same rules as a display name.
pub fn client_name() -> RefOr<Schema> {
    display_name_rules(string(), "The client's name, shown to people").into()
}

fn redirect_uri() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::Custom("uri".to_owned())))
        .max_length(Some(oauth::MAX_URI_LEN))
}

/// What `oauth::redirect_uri_problems` accepts, refused with `code`.
fn redirect_uri_rules(code: &str) -> String {
    format!(
        "each an absolute URI of at most {} characters of printable ASCII, without a fragment or user information, `https`, or `http` to `127.0.0.1`, `[::1]` or `localhost` only (400 `{code}` otherwise); matched exactly",
        oauth::MAX_URI_LEN
    )
}

/// The redirect URIs of a client registration.
pub fn redirect_uris() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(redirect_uri())
        .min_items(Some(1))
        .max_items(Some(oauth::MAX_URIS))
        .description(Some(format!(
            "1 to {} redirect URIs, {}.",
            oauth::MAX_URIS,
            redirect_uri_rules("invalid_redirect_uri")
        )))
        .into()
}

/// The post-logout redirect URIs of a client registration, or `null`.
pub fn post_logout_redirect_uris_or_null() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(redirect_uri())
        .max_items(Some(oauth::MAX_URIS))
        .description(Some(format!(
            "Where RP-initiated logout may return to (kept for the logout endpoint to come): at most {}, {}; absent or null: none.",
            oauth::MAX_URIS,
            redirect_uri_rules("invalid_client_metadata")
        )))
        .into()
}

/// A parameter of a path, by its name: `client_id` is a registered client's id (`tc_…`); every
/// other one is a row id, which the store assigns from 1.
pub fn path_param(name: &str) -> ObjectBuilder {
    match name {
        "client_id" => string()
            .pattern(Some(CLIENT_ID_PATTERN))
            .description(Some("A registered client's `client_id`.")),
        _ => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1)),
    }
}

/// The grant types of a client registration, or `null`.
pub fn client_grant_types_or_null() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string().enum_values(Some(oauth::GRANT_TYPES)))
        .description(Some(
            "With `authorization_code`, and `refresh_token` for `offline_access`; absent or null: `authorization_code`.",
        ))
        .into()
}

/// The response types of a client registration, or `null`.
pub fn response_types_or_null() -> RefOr<Schema> {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string().enum_values(Some(oauth::RESPONSE_TYPES)))
        .min_items(Some(1))
        .description(Some("`code`, the only one; absent or null: `code`."))
        .into()
}

/// How a client authenticates at the token endpoint, or `null`.
pub fn auth_method_or_null() -> RefOr<Schema> {
    let methods: Vec<&'static str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    string_or_null()
        .enum_values(Some(with_null(&methods)))
        .description(Some(
            "`client_secret_basic` or `client_secret_post` (a confidential client, which gets a secret) or `none` (a public client: PKCE alone); absent or null: `client_secret_basic`.",
        ))
        .into()
}

/// The scope a client may be granted, or `null`.
pub fn client_scope_or_null() -> RefOr<Schema> {
    string_or_null()
        .description(Some(
            "Space-separated, with `openid`: `profile`, `email`, the configured `tokens.scope` values, and `offline_access` with the refresh-token grant (400 `invalid_client_metadata` otherwise). Absent or null: all of them (`offline_access` only with the refresh-token grant).",
        ))
        .into()
}

/// A field of a token request: a non-empty string when the grant needs it, else optional.
fn grant_field(
    name: &'static str,
    required: &[&'static str],
    description: &'static str,
) -> ObjectBuilder {
    let s = if required.contains(&name) {
        string().min_length(Some(1))
    } else {
        string_or_null()
    };
    s.description(Some(description))
}

/// A token request of one grant type, with the fields it needs.
fn grant(grant_type: &'static str, required: &[&'static str]) -> ObjectBuilder {
    let fields: [(&'static str, &'static str); 10] = [
        ("username", "The password grant: a username or an e-mail address."),
        ("password", "The password grant: the user's password."),
        (
            "tenant",
            "The password grant (Tessera's extension): the tenant's name, for a user of a tenant.",
        ),
        ("refresh_token", "The refresh-token grant: the refresh token."),
        (
            "code",
            "The authorization-code grant: the code from the authorization endpoint; good once, for a minute.",
        ),
        (
            "redirect_uri",
            "The authorization-code grant: the redirect URI of the authorization request, exactly.",
        ),
        (
            "code_verifier",
            "The authorization-code grant: the PKCE verifier (RFC 7636, 43 to 128 characters) whose S256 challenge the authorization request carried.",
        ),
        (
            "client_id",
            "The client. The password and refresh-token grants are the public client's: absent, or its id (401 `invalid_client` otherwise). Client credentials: the API key's id, here or in HTTP Basic. The authorization-code grant: the registered client, here (a public client, or `client_secret_post`) or in HTTP Basic (`client_secret_basic`).",
        ),
        (
            "client_secret",
            "Client credentials: the API key, here or in HTTP Basic (not both: 400 `invalid_request`). The authorization-code grant: a confidential client's secret, sent the way it registered (401 `invalid_client` otherwise); a public client sends none. The password and refresh-token grants take no secret (401 `invalid_client`).",
        ),
        (
            "scope",
            "Narrows what is granted (RFC 6749 §3.3), space-separated: some of the configured scopes for the password and refresh-token grants, some of the API key's roles for client credentials; anything else is 400 `invalid_scope`.",
        ),
    ];
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("grant_type", string().enum_values(Some([grant_type])))
        .required("grant_type");
    for (name, description) in fields {
        object = object.property(name, grant_field(name, required, description));
    }
    for name in required {
        object = object.required(*name);
    }
    object
}

/// `POST /oauth/token`: which fields a request needs depends on its `grant_type`.
pub fn oauth_token_body() -> RefOr<Schema> {
    let mut one_of = OneOfBuilder::new();
    for grant_type in GRANT_TYPES {
        let required: &[&'static str] = match grant_type {
            "authorization_code" => &["code", "redirect_uri", "code_verifier"],
            "password" => &["username", "password"],
            "refresh_token" => &["refresh_token"],
            _ => &["client_id", "client_secret"],
        };
        one_of = one_of.item(grant(grant_type, required));
    }
    one_of
        .description(Some(
            "RFC 6749 token request, form-encoded (or the same fields as JSON); which fields it needs depends on `grant_type`.",
        ))
        .into()
}

#[cfg(test)]
mod tests {
    use tessera_domain::audit::Outcome;
    use tessera_domain::credentials::TokenFormat;

    use super::*;

    #[test]
    fn the_vocabularies_are_the_servers() {
        for f in TOKEN_FORMATS {
            assert!(TokenFormat::parse(f).is_some(), "{f}");
        }
        for s in SESSION_KINDS {
            assert!(crate::routes::auth::wants_cookie(Some(s)).is_ok(), "{s}");
        }
        for o in OUTCOMES {
            assert!(Outcome::parse(o).is_some(), "{o}");
        }
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(*e));
        }
    }

    #[test]
    fn the_numbers_are_the_domains() {
        let value = |s: RefOr<Schema>| serde_json::to_value(s).unwrap();
        let u = value(username());
        assert_eq!(u["minLength"], Username::MIN_LEN);
        assert_eq!(u["maxLength"], Username::MAX_LEN);
        let renamed = value(username_or_null());
        assert_eq!(renamed["minLength"], Username::MIN_LEN);
        assert_eq!(renamed["pattern"], u["pattern"]);
        assert_eq!(
            value(new_password())["minLength"],
            PasswordPolicy::default().min_length
        );
        assert_eq!(value(page_limit())["maximum"], MAX_PAGE);
        assert_eq!(
            value(audit_event_name())["enum"].as_array().unwrap().len(),
            Event::ALL.len()
        );
        let grant = value(permission_grant_body());
        assert_eq!(grant["oneOf"].as_array().unwrap().len(), 2);
        let token = value(oauth_token_body());
        assert_eq!(token["oneOf"].as_array().unwrap().len(), GRANT_TYPES.len());
        assert!(CLIENT_ID_PATTERN.starts_with(&format!("^{}", oauth::CLIENT_ID_PREFIX)));
        assert_eq!(value(path_param("id").into())["minimum"], 1);
        assert_eq!(value(path_param("client_id").into())["type"], "string");
        let kept = value(attributes());
        assert_eq!(kept["maxProperties"], Attributes::MAX_ENTRIES);
        assert_eq!(kept["propertyNames"]["maxLength"], Attributes::MAX_NAME_LEN);
        assert_eq!(
            kept["additionalProperties"]["maxLength"],
            Attributes::MAX_VALUE_LEN
        );
        let changes = value(attribute_changes_or_null());
        assert!(changes["additionalProperties"]["type"]
            .as_array()
            .unwrap()
            .contains(&Value::from("null")));
        let uris = value(redirect_uris());
        assert_eq!(uris["maxItems"], oauth::MAX_URIS);
        assert_eq!(uris["items"]["maxLength"], oauth::MAX_URI_LEN);
        assert_eq!(
            value(auth_method_or_null())["enum"]
                .as_array()
                .unwrap()
                .len(),
            AuthMethod::ALL.len() + 1
        );
    }
}
