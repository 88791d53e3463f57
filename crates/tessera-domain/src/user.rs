//! The user entity and the validated values it is made of.

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
}

/// A partial update: `None` leaves a field alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub email: Option<Option<Email>>,
    pub display_name: Option<Option<DisplayName>>,
    pub roles: Option<Vec<Role>>,
    pub active: Option<bool>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.display_name.is_none()
            && self.roles.is_none()
            && self.active.is_none()
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
