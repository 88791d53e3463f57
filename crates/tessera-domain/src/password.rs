//! Passwords in memory, their stored hashes, and the policy new passwords must meet.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// A password as typed by a person. `Debug` prints only the type name; the memory is wiped on drop.
pub struct Password(SecretString);

impl Password {
    pub fn new(raw: String) -> Self {
        Self(SecretString::from(raw))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password")
    }
}

/// A stored password hash in PHC (`$argon2id$…`) or modular crypt (`$2b$…`) format.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(encoded: String) -> Self {
        Self(encoded)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a bcrypt hash in modular crypt format: `$2a$`, `$2b$` or `$2y$`, a
    /// two-digit cost, `$`, and 53 characters of bcrypt's base64 (22 of salt, 31 of hash).
    pub fn is_bcrypt(&self) -> bool {
        let b = self.0.as_bytes();
        let bcrypt_base64 = |c: &u8| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/';
        b.len() == 60
            && matches!(b.get(..4), Some(b"$2a$" | b"$2b$" | b"$2y$"))
            && b.get(4..6)
                .is_some_and(|cost| cost.iter().all(u8::is_ascii_digit))
            && b.get(6) == Some(&b'$')
            && b.get(7..)
                .is_some_and(|rest| rest.iter().all(bcrypt_base64))
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash")
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    /// The password is right. `needs_rehash` says the hash uses another algorithm
    /// or weaker parameters than configured, and should be replaced now that the password is known.
    Match {
        needs_rehash: bool,
    },
}

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// Rules a new password must meet. Defaults follow NIST SP 800-63B: length and a block list
/// matter, composition rules are available but off.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in bytes of UTF-8 (bounds the hashing work an attacker can cause).
    pub max_bytes: usize,
    /// Reject the 20,000 most common passwords, ignoring case.
    pub reject_common: bool,
    /// Reject passwords that contain the username, ignoring case.
    pub reject_username: bool,
    pub require_lowercase: bool,
    pub require_uppercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            max_bytes: 1024,
            reject_common: true,
            reject_username: true,
            require_lowercase: false,
            require_uppercase: false,
            require_digit: false,
            require_symbol: false,
        }
    }
}

impl PasswordPolicy {
    /// The names of every rule `password` breaks for the user `username`; empty when it is acceptable.
    pub fn violations(&self, password: &Password, username: &str) -> Vec<&'static str> {
        let pw = password.expose();
        let mut broken = Vec::new();
        if pw.chars().count() < self.min_length {
            broken.push("min_length");
        }
        if pw.len() > self.max_bytes {
            broken.push("max_bytes");
        }
        if self.reject_common && COMMON_PASSWORDS.contains(pw.to_lowercase().as_str()) {
            broken.push("common_password");
        }
        if self.reject_username
            && !username.is_empty()
            && pw.to_lowercase().contains(&username.to_lowercase())
        {
            broken.push("contains_username");
        }
        if self.require_lowercase && !pw.chars().any(char::is_lowercase) {
            broken.push("require_lowercase");
        }
        if self.require_uppercase && !pw.chars().any(char::is_uppercase) {
            broken.push("require_uppercase");
        }
        if self.require_digit && !pw.chars().any(|c| c.is_ascii_digit()) {
            broken.push("require_digit");
        }
        if self.require_symbol && pw.chars().all(char::is_alphanumeric) {
            broken.push("require_symbol");
        }
        broken
    }

    /// What a rule of `violations` asks, in words with its value: "at least 12 characters".
    pub fn describe(&self, rule: &str) -> String {
        match rule {
            "min_length" => format!("at least {} characters", self.min_length),
            "max_bytes" => format!("at most {} bytes", self.max_bytes),
            "common_password" => "not one of the most common passwords".into(),
            "contains_username" => "not containing the username".into(),
            "require_lowercase" => "a lowercase letter".into(),
            "require_uppercase" => "an uppercase letter".into(),
            "require_digit" => "a digit".into(),
            "require_symbol" => "a character that is neither a letter nor a digit".into(),
            other => other.to_owned(),
        }
    }

    /// Checks the policy itself, naming the first unusable setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_length == 0 {
            return Err("password_policy.min_length must be at least 1".into());
        }
        if self.max_bytes < self.min_length {
            return Err("password_policy.max_bytes must not be below min_length".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &PasswordPolicy, pw: &str, user: &str, expected: &[&str]) {
        assert_eq!(
            policy.violations(&Password::new(pw.into()), user),
            expected,
            "{pw}"
        );
    }

    #[test]
    fn default_policy_accepts_a_long_uncommon_passphrase() {
        check(
            &PasswordPolicy::default(),
            "correct horse battery",
            "bob",
            &[],
        );
    }

    #[test]
    fn each_default_rule_is_named() {
        let p = PasswordPolicy::default();
        check(&p, "short", "bob", &["min_length"]);
        check(&p, &"x".repeat(1025), "bob", &["max_bytes"]);
        check(&p, "qwertyuiop123", "bob", &["common_password"]);
        check(&p, "QWERTYUIOP123", "bob", &["common_password"]);
        check(&p, "my name is Alice!", "alice", &["contains_username"]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let p = PasswordPolicy::default();
        check(&p, "ééééééééééé", "bob", &["min_length"]);
        check(&p, "éééééééééééé", "bob", &[]);
    }

    #[test]
    fn composition_rules_apply_only_when_enabled() {
        let p = PasswordPolicy {
            require_lowercase: true,
            require_uppercase: true,
            require_digit: true,
            require_symbol: true,
            ..PasswordPolicy::default()
        };
        check(
            &p,
            "ALLUPPERCASEWORDS",
            "bob",
            &["require_lowercase", "require_digit", "require_symbol"],
        );
        check(&p, "Has-1-of-each-kind", "bob", &[]);
    }

    #[test]
    fn the_common_list_is_loaded() {
        assert!(COMMON_PASSWORDS.len() > 19_000);
        assert!(COMMON_PASSWORDS.contains("password"));
    }

    #[test]
    fn every_rule_is_described_with_its_value() {
        let p = PasswordPolicy {
            require_lowercase: true,
            require_uppercase: true,
            require_digit: true,
            require_symbol: true,
            ..PasswordPolicy::default()
        };
        let broken = p.violations(&Password::new("ADMIN".into()), "admin");
        assert!(broken.len() >= 5, "{broken:?}");
        for rule in broken {
            assert_ne!(p.describe(rule), rule, "{rule} has words");
        }
        assert_eq!(p.describe("min_length"), "at least 12 characters");
    }

    #[test]
    fn bcrypt_hashes_are_told_by_their_shape() {
        let tail = "J2fqIdt2nhqf/S2.P9BAFOok1rs0Q.l6aSp8N3GxBefqrLt3qwquW";
        for prefix in ["$2a$10$", "$2b$12$", "$2y$04$"] {
            assert!(
                PasswordHash::new(format!("{prefix}{tail}")).is_bcrypt(),
                "{prefix}"
            );
        }
        for bad in [
            format!("$2x$10${tail}"),
            format!("$2y$1a${tail}"),
            format!("$2y$10${tail}x"),
            format!("$2y$10${}", tail.replacen('J', "-", 1)),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
            "plain:secret".to_owned(),
            String::new(),
        ] {
            assert!(!PasswordHash::new(bad.clone()).is_bcrypt(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let p = Password::new("hunter2hunter2".into());
        assert_eq!(format!("{p:?}"), "Password");
        let h = PasswordHash::new("$argon2id$v=19$secret".into());
        assert_eq!(format!("{h:?}"), "PasswordHash");
    }
}
