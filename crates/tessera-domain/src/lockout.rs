//! Brute-force protection: consecutive failed logins lock an account for a while.
//!
//! Failures are counted per key: the user's id when the login names a user, else the tenant and the
//! name as typed, so unknown names lock exactly like real ones and a locked answer tells nothing about
//! whether a user exists. The counts live in the store, so they hold across nodes and restarts.

use serde::Deserialize;

use crate::time::UnixTime;
use crate::user::{TenantId, UserId};

/// How many consecutive failures lock an account, and for how long.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Consecutive failures that lock; 0 turns lockout off.
    pub max_failures: u32,
    /// Seconds a lock lasts.
    pub duration_seconds: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            duration_seconds: 900,
        }
    }
}

impl LockoutPolicy {
    pub fn enabled(&self) -> bool {
        self.max_failures > 0
    }
}

/// The key failures are counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutKey(
    // Invariant: `u:<user id>` or `n:<tenant id or 0>:<name>`, at most 300 bytes.
    String,
);

impl LockoutKey {
    /// The key of a known user.
    pub fn user(id: UserId) -> Self {
        Self(format!("u:{}", id.0))
    }

    /// The key of a name that matches no user, lower-cased and cut to 256 characters.
    pub fn unknown(tenant: Option<TenantId>, name: &str) -> Self {
        let name: String = name.trim().to_lowercase().chars().take(256).collect();
        Self(format!("n:{}:{name}", tenant.map_or(0, |t| t.0)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Counted; this many consecutive failures so far.
    Counted(u32),
    /// This failure reached the limit: locked until then.
    Locked { until: UnixTime },
    /// Another request had locked it already, until then.
    AlreadyLocked { until: UnixTime },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_users_from_names_and_fold_case() {
        assert_eq!(LockoutKey::user(UserId(7)).as_str(), "u:7");
        assert_eq!(LockoutKey::unknown(None, " Bob ").as_str(), "n:0:bob");
        assert_eq!(
            LockoutKey::unknown(Some(TenantId(3)), "bob").as_str(),
            "n:3:bob"
        );
        assert_eq!(
            LockoutKey::unknown(None, &"x".repeat(1000)).as_str().len(),
            4 + 256
        );
    }
}
