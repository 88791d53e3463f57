//! The user entity and the validated values it is made of.

use std::collections::BTreeMap;

use crate::time::UnixTime;
use validator::ValidateEmail;

/// A user's id: assigned by the store, never reused after deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub i64);

/// A tenant's id. A user belongs to at most one tenant; users without one are global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(pub i64);

/// A login name: 3 to 64 characters from `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
///
/// Uniqueness ignores case: `normalized()` is the lower-cased form the store keeps unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(
    // Invariant: satisfies every rule checked in `parse`.
    String,
);

impl Username {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 64;

    /// Parses a username, naming every rule it breaks.
    pub fn parse(raw: &str) -> Result<Self, Vec<&'static str>> {
        let problems = name_problems(raw, Self::MIN_LEN, Self::MAX_LEN, "too_short", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
        });
        if problems.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(problems)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that must be unique.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// The rules a name breaks: `min..=max` characters (`too_short` names the first rule), each `allowed`,
/// the first a letter or digit.
pub(crate) fn name_problems(
    raw: &str,
    min: usize,
    max: usize,
    too_short: &'static str,
    allowed: impl Fn(char) -> bool,
) -> Vec<&'static str> {
    let mut problems = Vec::new();
    let len = raw.chars().count();
    if len < min {
        problems.push(too_short);
    }
    if len > max {
        problems.push("too_long");
    }
    if !raw.chars().all(allowed) {
        problems.push("invalid_characters");
    }
    if raw
        .chars()
        .next()
        .is_some_and(|c| !c.is_ascii_alphanumeric())
    {
        problems.push("must_start_with_letter_or_digit");
    }
    problems
}

/// An e-mail address, trimmed, at most 254 bytes, in the syntax of the HTML living standard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(
    // Invariant: trimmed, at most 254 bytes, accepted by `validator`'s e-mail check.
    String,
);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Vec<&'static str>> {
        let trimmed = raw.trim();
        if trimmed.len() > Self::MAX_LEN {
            return Err(vec!["too_long"]);
        }
        if !trimmed.validate_email() {
            return Err(vec!["invalid_email"]);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased form that must be unique.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A human-readable name: 1 to 128 characters once trimmed, without control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(
    // Invariant: trimmed, 1..=128 characters, no control characters.
    String,
);

impl DisplayName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Vec<&'static str>> {
        let trimmed = raw.trim();
        let mut problems = Vec::new();
        if trimmed.is_empty() {
            problems.push("empty");
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            problems.push("too_long");
        }
        if trimmed.chars().any(char::is_control) {
            problems.push("invalid_characters");
        }
        if problems.is_empty() {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(problems)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A global role name: 1 to 64 characters from `a-z 0-9 _ . : -`.
///
/// `admin` may manage every user; `user` is given to everyone created without roles.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Role(
    // Invariant: 1..=64 characters from the set above.
    String,
);

impl Role {
    pub const ADMIN: &'static str = "admin";
    pub const USER: &'static str = "user";
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Vec<&'static str>> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(vec!["invalid_length"]);
        }
        if !raw.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | ':' | '-')
        }) {
            return Err(vec!["invalid_characters"]);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn admin() -> Self {
        Self(Self::ADMIN.to_owned())
    }

    pub fn user() -> Self {
        Self(Self::USER.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_admin(&self) -> bool {
        self.0 == Self::ADMIN
    }
}

/// Parses a list of role names into a sorted set without duplicates, naming the bad ones.
pub fn parse_roles(raw: &[String]) -> Result<Vec<Role>, Vec<&'static str>> {
    let mut roles = Vec::with_capacity(raw.len());
    let mut problems = Vec::new();
    for r in raw {
        match Role::parse(r) {
            Ok(role) => roles.push(role),
            Err(p) => problems.extend(p),
        }
    }
    if !problems.is_empty() {
        problems.dedup();
        return Err(problems);
    }
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// A user's attributes: free-form values an admin keeps on a user, by name, in name order.
///
/// At most `MAX_ENTRIES` of them; a name is 1 to `MAX_NAME_LEN` characters from `a-z 0-9 _ . -`
/// starting with a lowercase letter; a value is at most `MAX_VALUE_LEN` characters without control
/// characters, and may be empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes(
    // Invariant: satisfies every rule checked in `parse`.
    BTreeMap<String, String>,
);

impl Attributes {
    pub const MAX_ENTRIES: usize = 32;
    /// The names one change may hold, set and removed together: room to replace every attribute.
    pub const MAX_CHANGES: usize = 2 * Self::MAX_ENTRIES;
    pub const MAX_NAME_LEN: usize = 64;
    pub const MAX_VALUE_LEN: usize = 1024;

    /// Checks a whole set of attributes, naming every rule it breaks: `too_many`,
    /// `invalid_name`, `value_too_long`, `invalid_characters`.
    pub fn parse(raw: BTreeMap<String, String>) -> Result<Self, Vec<&'static str>> {
        let mut problems = Vec::new();
        if raw.len() > Self::MAX_ENTRIES {
            problems.push("too_many");
        }
        if raw.keys().any(|name| !Self::valid_name(name)) {
            problems.push("invalid_name");
        }
        problems.extend(value_problems(raw.values().map(String::as_str)));
        if problems.is_empty() {
            Ok(Self(raw))
        } else {
            Err(problems)
        }
    }

    /// No attributes at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Whether `name` may name an attribute.
    pub fn valid_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && name.len() <= Self::MAX_NAME_LEN
            && chars.all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
            })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Name and value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These attributes with `changes` applied: each name given a value set to it, each name
    /// given none removed, the others kept. The result is checked as a whole, so the limit of
    /// `MAX_ENTRIES` counts the attributes after the change.
    pub fn merged(&self, changes: &AttributeChanges) -> Result<Self, Vec<&'static str>> {
        let mut map = self.0.clone();
        for (name, value) in &changes.0 {
            match value {
                Some(value) => {
                    map.insert(name.clone(), value.clone());
                }
                None => {
                    map.remove(name);
                }
            }
        }
        Self::parse(map)
    }
}

/// The rules some attribute values break, each named once: `value_too_long`, `invalid_characters`.
fn value_problems<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'static str> {
    let (mut too_long, mut control) = (false, false);
    for value in values {
        too_long |= value.chars().count() > Attributes::MAX_VALUE_LEN;
        control |= value.chars().any(char::is_control);
    }
    let mut problems = Vec::new();
    if too_long {
        problems.push("value_too_long");
    }
    if control {
        problems.push("invalid_characters");
    }
    problems
}

/// A change to a user's attributes, read as a JSON merge patch (RFC 7396) reads an object: a name
/// with a value sets that attribute, a name with none (`null`) removes it, and the attributes it
/// does not name stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeChanges(
    // Invariant: every name is a valid attribute name and every value a valid attribute value.
    BTreeMap<String, Option<String>>,
);

impl AttributeChanges {
    /// Checks a change, naming every rule it breaks: `invalid_name` (a name no attribute can
    /// have, even one to remove), `value_too_long`, `invalid_characters`, and `too_many` when it
    /// sets more attributes than a user may have or names more than `Attributes::MAX_CHANGES`
    /// in all. Whether the result stays within the limit
    /// depends on the attributes it is applied to: `Attributes::merged` says.
    pub fn parse(raw: BTreeMap<String, Option<String>>) -> Result<Self, Vec<&'static str>> {
        let mut problems = Vec::new();
        if raw.len() > Attributes::MAX_CHANGES
            || raw.values().filter(|v| v.is_some()).count() > Attributes::MAX_ENTRIES
        {
            problems.push("too_many");
        }
        if raw.keys().any(|name| !Attributes::valid_name(name)) {
            problems.push("invalid_name");
        }
        problems.extend(value_problems(raw.values().filter_map(Option::as_deref)));
        if problems.is_empty() {
            Ok(Self(raw))
        } else {
            Err(problems)
        }
    }

    /// Name and new value (`None`: removed), in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A stored user, as every use case sees it. It never carries the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    pub display_name: Option<DisplayName>,
    /// Sorted, without duplicates.
    pub roles: Vec<Role>,
    pub active: bool,
    pub tenant_id: Option<TenantId>,
    /// Free-form, set by those who administer the user.
    pub attributes: Attributes,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(Role::is_admin)
    }
}

/// What the store needs to create a user (besides the password hash).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub email: Option<Email>,
    pub display_name: Option<DisplayName>,
    pub roles: Vec<Role>,
    pub active: bool,
    pub tenant_id: Option<TenantId>,
    pub attributes: Attributes,
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    /// A new login name, unique ignoring case within the user's tenant: the store refuses one
    /// another user of that tenant has with `UserError::Duplicate` naming `username`; the user's
    /// own (in any case) is no clash.
    pub username: Option<Username>,
    pub email: Option<Option<Email>>,
    pub display_name: Option<Option<DisplayName>>,
    pub roles: Option<Vec<Role>>,
    pub active: Option<bool>,
    /// Merged into the stored attributes by the store, in the transaction of the update, with
    /// `Attributes::merged`: so two admins changing different attributes at once both keep their
    /// change, and the limit counts what is stored. A merge that breaks a rule writes nothing and
    /// is `UserError::Validation` naming `attributes`.
    pub attributes: Option<AttributeChanges>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.email.is_none()
            && self.display_name.is_none()
            && self.roles.is_none()
            && self.active.is_none()
            && self.attributes.is_none()
    }
}

/// What a login names: an e-mail address when it holds `@` (usernames cannot), else a username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Username(String),
    Email(String),
}

impl LoginName {
    /// The normalized key to look up, or `None` when it cannot name any user.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        if raw.contains('@') {
            Email::parse(raw).ok().map(|e| Self::Email(e.normalized()))
        } else {
            Username::parse(raw)
                .ok()
                .map(|u| Self::Username(u.normalized()))
        }
    }
}

/// A page request: ids strictly after `after`, at most `limit` of them, optionally filtered.
#[derive(Debug, Clone)]
pub struct UserQuery {
    pub after: Option<UserId>,
    pub limit: u32,
    /// Lower-cased prefix of the username or the e-mail address.
    pub prefix: Option<String>,
    /// `Some(t)`: only the users of tenant `t` (`Some(None)`: only global users); `None`: everyone.
    pub tenant: Option<Option<TenantId>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_accepts_the_documented_set() {
        for ok in ["bob", "a.b_c-d", "A1", "x".repeat(64).as_str(), "007"] {
            if ok.len() >= 3 {
                assert!(Username::parse(ok).is_ok(), "{ok}");
            }
        }
    }

    #[test]
    fn username_rejects_each_rule() {
        assert_eq!(Username::parse("ab"), Err(vec!["too_short"]));
        assert_eq!(Username::parse(&"a".repeat(65)), Err(vec!["too_long"]));
        assert_eq!(
            Username::parse("bob smith"),
            Err(vec!["invalid_characters"])
        );
        assert_eq!(
            Username::parse("bob@example.com"),
            Err(vec!["invalid_characters"])
        );
        assert_eq!(
            Username::parse("_bob"),
            Err(vec!["must_start_with_letter_or_digit"])
        );
        assert_eq!(Username::parse("bøb"), Err(vec!["invalid_characters"]));
    }

    #[test]
    fn username_normalizes_case() {
        let u = Username::parse("Alice.B").unwrap();
        assert_eq!(u.as_str(), "Alice.B");
        assert_eq!(u.normalized(), "alice.b");
    }

    #[test]
    fn email_is_checked_and_normalized() {
        let e = Email::parse("  Alice@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Alice@Example.COM");
        assert_eq!(e.normalized(), "alice@example.com");
        assert_eq!(Email::parse("not-an-email"), Err(vec!["invalid_email"]));
        assert_eq!(Email::parse("a@"), Err(vec!["invalid_email"]));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(vec!["too_long"]));
    }

    #[test]
    fn display_name_rules() {
        assert!(DisplayName::parse("Ada Lovelace").is_ok());
        assert_eq!(DisplayName::parse("   "), Err(vec!["empty"]));
        assert_eq!(DisplayName::parse(&"x".repeat(129)), Err(vec!["too_long"]));
        assert_eq!(
            DisplayName::parse("a\u{0007}b"),
            Err(vec!["invalid_characters"])
        );
    }

    #[test]
    fn roles_are_sorted_and_deduplicated() {
        let roles = parse_roles(&["user".into(), "admin".into(), "user".into()]).unwrap();
        assert_eq!(roles, vec![Role::admin(), Role::user()]);
        assert!(parse_roles(&["Admin".into()]).is_err());
        assert!(parse_roles(&[String::new()]).is_err());
    }

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn patch(entries: &[(&str, Option<&str>)]) -> AttributeChanges {
        AttributeChanges::parse(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn attributes_accept_the_documented_set() {
        let (long_name, long_value) = ("n".repeat(64), "v".repeat(1024));
        let a = Attributes::parse(map(&[
            ("person_type", "natural"),
            ("document.number-2", "12.345.678"),
            ("x", ""),
            (long_name.as_str(), long_value.as_str()),
            ("accents", "José Núñez"),
        ]))
        .unwrap();
        assert_eq!(a.len(), 5);
        assert_eq!(a.get("person_type"), Some("natural"));
        assert_eq!(a.get("x"), Some(""));
        assert_eq!(a.get("missing"), None);
        let names: Vec<&str> = a.iter().map(|(k, _)| k).collect();
        assert_eq!(names[0], "accents", "in name order");
        assert!(Attributes::empty().is_empty());
        assert!(Attributes::parse(BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn attributes_are_at_most_32() {
        let many = |n: usize| -> BTreeMap<String, String> {
            (0..n).map(|i| (format!("a{i}"), "v".to_owned())).collect()
        };
        assert_eq!(Attributes::parse(many(32)).map(|a| a.len()), Ok(32));
        assert_eq!(Attributes::parse(many(33)), Err(vec!["too_many"]));
    }

    #[test]
    fn attribute_names_follow_the_rule() {
        let too_long = "n".repeat(65);
        for bad in [
            "",
            "Person",
            "1st",
            "_x",
            ".x",
            "-x",
            "a b",
            "a:b",
            "añ",
            too_long.as_str(),
        ] {
            assert_eq!(
                Attributes::parse(map(&[(bad, "v")])),
                Err(vec!["invalid_name"]),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn attribute_values_are_bounded_and_printable() {
        assert_eq!(
            Attributes::parse(map(&[("a", "v".repeat(1025).as_str())])),
            Err(vec!["value_too_long"])
        );
        // Characters, not bytes: 1024 two-byte characters are fine.
        assert!(Attributes::parse(map(&[("a", "ñ".repeat(1024).as_str())])).is_ok());
        for bad in ["a\nb", "\t", "x\u{0}", "\u{7f}"] {
            assert_eq!(
                Attributes::parse(map(&[("a", bad)])),
                Err(vec!["invalid_characters"]),
                "{bad:?}"
            );
        }
        assert_eq!(
            Attributes::parse(map(&[("B", "\n")])),
            Err(vec!["invalid_name", "invalid_characters"])
        );
    }

    #[test]
    fn a_merge_sets_removes_and_keeps() {
        let a = Attributes::parse(map(&[("keep", "1"), ("change", "2"), ("drop", "3")])).unwrap();
        let merged = a
            .merged(&patch(&[
                ("change", Some("two")),
                ("drop", None),
                ("new", Some("4")),
                ("absent", None),
            ]))
            .unwrap();
        assert_eq!(
            merged,
            Attributes::parse(map(&[("keep", "1"), ("change", "two"), ("new", "4")])).unwrap()
        );
        assert_eq!(a.merged(&AttributeChanges::default()), Ok(a.clone()));
    }

    #[test]
    fn a_merge_counts_the_result() {
        let full: BTreeMap<String, String> =
            (0..32).map(|i| (format!("a{i}"), "v".to_owned())).collect();
        let full = Attributes::parse(full).unwrap();
        assert_eq!(
            full.merged(&patch(&[("one_more", Some("v"))])),
            Err(vec!["too_many"])
        );
        let swapped = full
            .merged(&patch(&[("a0", None), ("one_more", Some("v"))]))
            .unwrap();
        assert_eq!(swapped.len(), 32);
    }

    #[test]
    fn a_change_is_checked_name_by_name() {
        let parse = |entries: &[(&str, Option<&str>)]| {
            AttributeChanges::parse(
                entries
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                    .collect(),
            )
        };
        assert_eq!(parse(&[("Bad", None)]), Err(vec!["invalid_name"]));
        assert_eq!(
            parse(&[("a", Some("\u{1b}"))]),
            Err(vec!["invalid_characters"])
        );
        let long = "v".repeat(1025);
        assert_eq!(
            parse(&[("a", Some(long.as_str()))]),
            Err(vec!["value_too_long"])
        );
        let many: BTreeMap<String, Option<String>> = (0..33)
            .map(|i| (format!("a{i}"), Some("v".to_owned())))
            .collect();
        assert_eq!(AttributeChanges::parse(many), Err(vec!["too_many"]));
        let removals: BTreeMap<String, Option<String>> =
            (0..40).map(|i| (format!("a{i}"), None)).collect();
        assert!(AttributeChanges::parse(removals).is_ok());
        // Set and removed together, a patch names at most MAX_CHANGES attributes.
        let replace_all: BTreeMap<String, Option<String>> = (0..64)
            .map(|i| (format!("a{i}"), (i % 2 == 0).then(|| "v".to_owned())))
            .collect();
        assert!(AttributeChanges::parse(replace_all).is_ok());
        let flood: BTreeMap<String, Option<String>> =
            (0..65).map(|i| (format!("a{i}"), None)).collect();
        assert_eq!(AttributeChanges::parse(flood), Err(vec!["too_many"]));
    }

    #[test]
    fn login_name_tells_email_from_username() {
        assert_eq!(
            LoginName::parse("Bob@Example.com"),
            Some(LoginName::Email("bob@example.com".into()))
        );
        assert_eq!(
            LoginName::parse("Bob"),
            Some(LoginName::Username("bob".into()))
        );
        assert_eq!(LoginName::parse("b"), None);
    }
}
