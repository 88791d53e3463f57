//! Brute-force protection that throttles the attacker, not the owner (NIST SP 800-63B §5.2.2).
//!
//! Failed logins are counted under several keys at once, each with its own limit:
//! - the account (or the name as typed, for a name that matches no user) from one client address:
//!   a few failures lock that address out of that account, and the owner from any other address
//!   is not affected;
//! - the client address across every account: a password sprayer is stopped;
//! - the account from everywhere, with a high limit (100, NIST's ceiling): a slow attack spread
//!   over many addresses is stopped too; an account with a second factor is exempt, since its
//!   password alone opens nothing.
//!
//! Each further lock of a key lasts twice as long as the one before, up to a ceiling, and a key
//! left alone for a day is forgotten. Unknown names are counted like real ones, so an answer
//! tells nothing about whether a user exists. The counts live in the store, so they hold across
//! nodes and restarts.

use serde::Deserialize;

use crate::time::UnixTime;
use crate::user::{TenantId, UserId};

/// How failed logins are limited.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    /// Failures of one account from one address that lock that address out of it; 0 turns
    /// lockout off altogether.
    pub max_failures: u32,
    /// Seconds the first lock of a key lasts; each further lock lasts twice as long.
    pub duration_seconds: i64,
    /// The longest a lock lasts.
    pub max_duration_seconds: i64,
    /// Failures from one address across every account that lock the address out; 0: no limit.
    pub address_max_failures: u32,
    /// Failures of one account from every address that lock it, unless it has a second factor;
    /// 0: no limit.
    pub account_max_failures: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            duration_seconds: 900,
            max_duration_seconds: 86_400,
            address_max_failures: 50,
            account_max_failures: 100,
        }
    }
}

/// Seconds of quiet after which a key's failures are forgotten.
const FORGET_AFTER_SECONDS: i64 = 86_400;

impl LockoutPolicy {
    pub fn enabled(&self) -> bool {
        self.max_failures > 0
    }

    fn limit(&self, max_failures: u32) -> Option<Limit> {
        (self.enabled() && max_failures > 0).then_some(Limit {
            max_failures,
            duration_seconds: self.duration_seconds,
            max_duration_seconds: self.max_duration_seconds.max(self.duration_seconds),
            forget_after_seconds: FORGET_AFTER_SECONDS.max(self.max_duration_seconds),
        })
    }

    /// The keys a failed login of `name` (a user's or an unknown name's key) from `ip` counts
    /// under, each with its limit. `second_factor`: the user has one, and is exempt from the
    /// account-wide limit.
    pub fn keys(
        &self,
        name: &LockoutKey,
        ip: Option<&str>,
        second_factor: bool,
    ) -> Vec<(LockoutKey, Limit)> {
        let mut keys = Vec::with_capacity(3);
        if let Some(l) = self.limit(self.max_failures) {
            keys.push((name.from(ip), l));
        }
        if let (Some(ip), Some(l)) = (ip, self.limit(self.address_max_failures)) {
            keys.push((LockoutKey::address(ip), l));
        }
        if let (false, Some(l)) = (second_factor, self.limit(self.account_max_failures)) {
            keys.push((name.clone(), l));
        }
        keys
    }
}

/// The limit of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Every this many failures lock the key.
    pub max_failures: u32,
    /// The first lock's length; each further lock doubles it.
    pub duration_seconds: i64,
    pub max_duration_seconds: i64,
    /// A key whose last failure is older than this starts counting afresh.
    pub forget_after_seconds: i64,
}

impl Limit {
    /// How long the `failures`-th consecutive failure locks the key for, if it does.
    pub fn lock_for(&self, failures: u32) -> Option<i64> {
        let max = self.max_failures.max(1);
        if failures == 0 || !failures.is_multiple_of(max) {
            return None;
        }
        let doublings = (failures / max - 1).min(30);
        Some(
            self.duration_seconds
                .saturating_mul(1_i64 << doublings)
                .min(self.max_duration_seconds),
        )
    }
}

/// The key failures are counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutKey(
    // Invariant: `u:<user id>`, `n:<tenant id or 0>:<name>` or `a:<address>`, optionally followed
    // by `@<address>`; at most 360 bytes.
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

    /// The key of a client address, across accounts.
    pub fn address(ip: &str) -> Self {
        Self(format!("a:{}", ip.chars().take(64).collect::<String>()))
    }

    /// This key for the failures from one client address (`-` when it is not known).
    pub fn from(&self, ip: Option<&str>) -> Self {
        let ip: String = ip.unwrap_or("-").chars().take(64).collect();
        Self(format!("{}@{ip}", self.0))
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
        let bob = LockoutKey::unknown(None, "bob");
        assert_eq!(bob.from(Some("10.0.0.1")).as_str(), "n:0:bob@10.0.0.1");
        assert_eq!(bob.from(None).as_str(), "n:0:bob@-");
        assert_eq!(LockoutKey::address("10.0.0.1").as_str(), "a:10.0.0.1");
    }

    #[test]
    fn each_further_lock_lasts_twice_as_long_up_to_the_ceiling() {
        let limit = LockoutPolicy::default()
            .limit(5)
            .expect("lockout is on by default");
        let locks: Vec<Option<i64>> = (1..=25).map(|n| limit.lock_for(n)).collect();
        assert_eq!(locks.iter().filter(|l| l.is_some()).count(), 5);
        assert_eq!(limit.lock_for(4), None);
        assert_eq!(limit.lock_for(5), Some(900));
        assert_eq!(limit.lock_for(10), Some(1800));
        assert_eq!(limit.lock_for(15), Some(3600));
        assert_eq!(limit.lock_for(5 * 40), Some(86_400), "capped");
    }

    #[test]
    fn a_login_counts_under_the_pair_the_address_and_the_account() {
        let p = LockoutPolicy::default();
        let user = LockoutKey::user(UserId(7));
        let keys: Vec<String> = p
            .keys(&user, Some("10.0.0.1"), false)
            .into_iter()
            .map(|(k, _)| k.as_str().to_owned())
            .collect();
        assert_eq!(keys, ["u:7@10.0.0.1", "a:10.0.0.1", "u:7"]);
        // A second factor exempts from the account-wide limit; no address, no address key.
        let keys = p.keys(&user, None, true);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0.as_str(), "u:7@-");
        let off = LockoutPolicy {
            max_failures: 0,
            ..LockoutPolicy::default()
        };
        assert!(off.keys(&user, Some("10.0.0.1"), false).is_empty());
    }
}
