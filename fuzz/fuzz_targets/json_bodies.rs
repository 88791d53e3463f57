//! Fuzzes request bodies: `tessera_http::extract::parse_json` (what the `JsonBody`, `FormOrJson`
//! and `OptionalJson` extractors run on a JSON body) into each request DTO of tessera-http's dto.rs,
//! then the domain checks the handlers and use cases apply to the fields (the DTOs derive no
//! `validator::Validate`: fields are validated by the domain's newtypes).
//!
//! The first byte picks the DTO; the rest is the body. It proves that no body panics the parser,
//! its error mapping or the domain checks; that `parse_json` accepts exactly the bodies that start
//! with `{` and that serde_json reads whole as the DTO (nothing after the object), and answers every other one 400 or 422; that a
//! validated value parses back to itself, and a refusal names at least one rule; that an accepted
//! role list is sorted and without duplicates; that accepted attributes are kept as given, and a
//! change merges into them without a panic; that an RFC 3339 time reads back from its own
//! rendering; and that the bodies that also serialize round-trip.
#![no_main]

use std::collections::BTreeMap;
use std::fmt::Debug;

use actix_web::http::StatusCode;
use actix_web::ResponseError as _;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_domain::access::{Description, Name};
use tessera_domain::credentials::TokenFormat;
use tessera_domain::password::{Password, PasswordPolicy};
use tessera_domain::user::{
    parse_roles, AttributeChanges, Attributes, DisplayName, Email, LoginName, Username,
};
use tessera_http::dto::{
    parse_rfc3339, rfc3339, ApiKeyBody, CheckTokenBody, CodeBody, CreateUserBody, DisableMfaBody,
    EntryBody, GrantBody, IntrospectBody, LoginBody, MfaLoginBody, OAuthTokenBody, PasswordBody,
    PermissionGrantBody, RefreshBody, RegisterBody, ResetBody, RevokeBody, RolePermissionBody,
    ServiceRoleBody, UpdateUserBody,
};
use tessera_http::extract::parse_json;

/// `body` parsed as the server parses it.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    // What `parse_json` accepts, without its path tracking and error mapping: one JSON object
    // and nothing after it but whitespace.
    let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let reference = object && serde_json::from_slice::<T>(body).is_ok();
    match parse_json::<T>(body) {
        Ok(value) => {
            assert!(
                reference,
                "parse_json accepted a body that is no JSON object of this DTO"
            );
            Some(value)
        }
        Err(e) => {
            assert!(
                !reference,
                "parse_json refused a body serde_json reads: {e}"
            );
            let status = e.status_code();
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
                "a body was answered {status}"
            );
            let _ = e.error_response();
            None
        }
    }
}

/// A domain parse: a value it accepts parses back to itself from its text; a refusal names a rule.
fn checked<T: PartialEq + Debug>(
    raw: &str,
    parse: fn(&str) -> Result<T, Vec<&'static str>>,
    text: fn(&T) -> &str,
) {
    match parse(raw) {
        Ok(value) => {
            let again = parse(text(&value));
            assert!(
                again.as_ref() == Ok(&value),
                "{raw:?} was accepted as {value:?}, which parses as {again:?}"
            );
        }
        Err(problems) => assert!(!problems.is_empty(), "{raw:?} refused without a reason"),
    }
}

fn username(raw: &str) {
    checked(raw, Username::parse, Username::as_str);
}

fn email(raw: &str) {
    checked(raw, Email::parse, Email::as_str);
}

fn display_name(raw: &str) {
    checked(raw, DisplayName::parse, DisplayName::as_str);
}

fn roles(raw: &[String]) {
    if let Ok(roles) = parse_roles(raw) {
        assert!(
            roles.windows(2).all(|w| w[0] < w[1]),
            "roles neither sorted nor unique: {roles:?}"
        );
        let names: Vec<String> = roles.iter().map(|r| r.as_str().to_owned()).collect();
        assert_eq!(parse_roles(&names), Ok(roles));
    }
}

/// A user's attributes: accepted as given, or refused naming a rule.
fn attributes(raw: BTreeMap<String, String>) {
    match Attributes::parse(raw.clone()) {
        Ok(accepted) => assert_eq!(accepted.as_map(), &raw),
        Err(problems) => assert!(!problems.is_empty(), "{raw:?} refused without a reason"),
    }
}

/// A change of attributes: refused naming a rule, or merged into none and into the most there
/// may be, each result within the rules or refused naming one.
fn attribute_changes(raw: BTreeMap<String, Option<String>>) {
    match AttributeChanges::parse(raw) {
        Ok(change) => {
            let full: BTreeMap<String, String> = (0..Attributes::MAX_ENTRIES)
                .map(|i| (format!("a{i}"), "v".to_owned()))
                .collect();
            let full = Attributes::parse(full).expect("the most attributes there may be");
            for current in [Attributes::empty(), full] {
                match current.merged(&change) {
                    Ok(merged) => assert!(merged.len() <= Attributes::MAX_ENTRIES),
                    Err(problems) => assert!(!problems.is_empty()),
                }
            }
        }
        Err(problems) => assert!(!problems.is_empty()),
    }
}

/// The password rules a new password is checked against (`Accounts::create_user`, password
/// changes and resets).
fn password(raw: &str, username: &str) {
    let _ = PasswordPolicy::default().violations(&Password::new(raw.to_owned()), username);
}

fn token_format(raw: Option<&str>) {
    if let Some(raw) = raw {
        assert_eq!(
            TokenFormat::parse(raw).is_some(),
            matches!(raw, "jwt" | "opaque")
        );
    }
}

fn time(raw: &str) {
    if let Some(t) = parse_rfc3339(raw) {
        let shown = rfc3339(t);
        // `rfc3339` renders "" for a time it cannot write (a UTC year beyond 0..=9999).
        if !shown.is_empty() {
            assert_eq!(
                parse_rfc3339(&shown),
                Some(t),
                "{raw:?} rendered as {shown:?}"
            );
        }
    }
}

/// A body that also serializes reads back from its serialization, unchanged.
fn round_trip<T: DeserializeOwned + Serialize>(value: &T) {
    let json = serde_json::to_vec(value).expect("a body serializes");
    let again: T = parse_json(&json).expect("a serialized body parses");
    assert_eq!(serde_json::to_vec(&again).expect("a body serializes"), json);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 20 {
        0 => {
            if let Some(b) = parse::<LoginBody>(body) {
                let _ = LoginName::parse(&b.username);
                token_format(b.token_format.as_deref());
            }
        }
        1 => {
            let _ = parse::<RefreshBody>(body);
        }
        2 => {
            let _ = parse::<RevokeBody>(body);
        }
        3 => {
            // The checks of `validate_new_user` (tessera-domain's users.rs), field by field.
            if let Some(b) = parse::<CreateUserBody>(body) {
                let req = b.into_domain();
                username(&req.username);
                password(req.password.expose(), &req.username);
                if let Some(e) = req.email.as_deref() {
                    email(e);
                }
                if let Some(d) = req.display_name.as_deref() {
                    display_name(d);
                }
                if let Some(r) = req.roles.as_deref() {
                    roles(r);
                }
                if let Some(a) = req.attributes {
                    attributes(a);
                }
            }
        }
        4 => {
            if let Some(b) = parse::<UpdateUserBody>(body) {
                let patch = b.into_patch();
                if let Some(u) = patch.username.as_deref() {
                    username(u);
                }
                if let Some(e) = patch.email.flatten() {
                    email(&e);
                }
                if let Some(d) = patch.display_name.flatten() {
                    display_name(&d);
                }
                if let Some(r) = patch.roles.as_deref() {
                    roles(r);
                }
                if let Some(a) = patch.attributes {
                    attribute_changes(a);
                }
            }
        }
        5 => {
            if let Some(b) = parse::<PasswordBody>(body) {
                password(&b.new_password, "");
            }
        }
        6 => {
            if let Some(b) = parse::<EntryBody>(body) {
                checked(&b.name, Name::parse, Name::as_str);
                if let Some(d) = b.description.as_deref() {
                    checked(d, Description::parse, Description::as_str);
                }
            }
        }
        7 => {
            if let Some(b) = parse::<RolePermissionBody>(body) {
                round_trip(&b);
            }
        }
        8 => {
            if let Some(b) = parse::<ServiceRoleBody>(body) {
                round_trip(&b);
            }
        }
        9 => {
            if let Some(b) = parse::<GrantBody>(body) {
                round_trip(&b);
            }
        }
        10 => {
            if let Some(b) = parse::<PermissionGrantBody>(body) {
                round_trip(&b);
                if let Some(n) = b.permission_name.as_deref() {
                    checked(n, Name::parse, Name::as_str);
                }
            }
        }
        11 => {
            let _ = parse::<CheckTokenBody>(body);
        }
        12 => {
            let _ = parse::<IntrospectBody>(body);
        }
        13 => {
            if let Some(b) = parse::<OAuthTokenBody>(body) {
                if let Some(u) = b.username.as_deref() {
                    let _ = LoginName::parse(u);
                }
            }
        }
        14 => {
            // `Credentials::create_api_key`: the name is a display name, the scopes are roles.
            if let Some(b) = parse::<ApiKeyBody>(body) {
                display_name(&b.name);
                if let Some(r) = b.scopes.as_deref() {
                    roles(r);
                }
                if let Some(t) = b.expires_at.as_deref() {
                    time(t);
                }
            }
        }
        15 => {
            if let Some(b) = parse::<RegisterBody>(body) {
                username(&b.username);
                password(&b.password, &b.username);
                if let Some(e) = b.email.as_deref() {
                    email(e);
                }
            }
        }
        16 => {
            if let Some(b) = parse::<ResetBody>(body) {
                password(&b.new_password, "");
            }
        }
        17 => {
            let _ = parse::<CodeBody>(body);
        }
        18 => {
            let _ = parse::<DisableMfaBody>(body);
        }
        _ => {
            if let Some(b) = parse::<MfaLoginBody>(body) {
                token_format(b.token_format.as_deref());
            }
        }
    }
});
