//! What the store keeps in memory: the rows every token check reads and that rarely change (a
//! user with their roles, an API key with its user, an opaque token with its session, a service
//! token, services and effective permissions).
//!
//! Invalidation is by generation. Each cached read belongs to a family (`Accounts` or
//! `Sessions`); a write through this store that can change a family's rows moves its generation on
//! after it commits, which turns every entry read before into a miss. A reader notes the generation
//! before it queries and files its answer under it, so an answer that raced a write is never
//! served. Writes by other nodes (or by the admin commands, another process) are not seen here:
//! every entry also expires `ttl` after it was read, the same bound within which revocations
//! reach other nodes (`cluster.sync_interval_milliseconds`). A `ttl` of zero turns caching off.
//!
//! Only rows that exist are kept, so unknown tokens and keys cannot fill the cache (lists, such as
//! a person's permissions in a service or a page of users, are kept even when empty: they are
//! keyed by existing ids or by an admin's query); a table that reaches its bound is emptied and
//! fills again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tessera_domain::access::Entry;
use tessera_domain::credentials::ApiKey;
use tessera_domain::ports::OpaqueRecord;
use tessera_domain::token::HashedToken;
use tessera_domain::user::User;

/// Entries a table of single rows holds at most before it is emptied.
const MAX_ENTRIES: usize = 100_000;
/// Pages of users kept at most (each holds up to a page of users).
const MAX_PAGES: usize = 256;

/// Which rows a write may have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Users, their roles, API keys, services, roles, permissions and grants.
    Accounts,
    /// Sessions, opaque tokens and service tokens.
    Sessions,
}

pub(crate) struct Table<K, V> {
    family: Family,
    max: usize,
    rows: Mutex<HashMap<K, (u64, Instant, V)>>,
}

impl<K: Hash + Eq, V: Clone> Table<K, V> {
    fn new(family: Family) -> Self {
        Self::bounded(family, MAX_ENTRIES)
    }

    fn bounded(family: Family, max: usize) -> Self {
        Self {
            family,
            max,
            rows: Mutex::new(HashMap::new()),
        }
    }
}

/// A page of the user list: after, limit, prefix, tenant filter.
pub(crate) type PageKey = (Option<i64>, u32, Option<String>, Option<Option<i64>>);

/// Moves a family's generation on when dropped.
pub(crate) struct Writing<'a> {
    cache: &'a ReadCache,
    family: Family,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.cache.changed(self.family);
    }
}

/// The store's cache of hot reads.
pub(crate) struct ReadCache {
    ttl: Duration,
    accounts: AtomicU64,
    sessions: AtomicU64,
    pub(crate) users: Table<i64, User>,
    pub(crate) api_keys: Table<HashedToken, (ApiKey, User)>,
    pub(crate) opaque: Table<HashedToken, OpaqueRecord>,
    /// Services, roles and permissions by kind and id.
    pub(crate) entries: Table<(u8, i64), Entry>,
    /// A person's roles in a service.
    pub(crate) person_roles: Table<(i64, i64), Vec<Entry>>,
    /// A person's effective permissions in a service.
    pub(crate) permissions: Table<(i64, i64), Vec<String>>,
    /// Services by the digest of their secret.
    pub(crate) service_secrets: Table<HashedToken, Entry>,
    /// Service tokens by digest: the id of the service named and when the token expires. The
    /// service itself is read through `entries`, so that disabling it shows at once.
    pub(crate) service_tokens: Table<HashedToken, (i64, i64)>,
    /// Pages of the user list.
    pub(crate) user_pages: Table<PageKey, Vec<User>>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl ReadCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            accounts: AtomicU64::new(0),
            sessions: AtomicU64::new(0),
            users: Table::new(Family::Accounts),
            api_keys: Table::new(Family::Accounts),
            opaque: Table::new(Family::Sessions),
            entries: Table::new(Family::Accounts),
            person_roles: Table::new(Family::Accounts),
            permissions: Table::new(Family::Accounts),
            service_secrets: Table::new(Family::Accounts),
            service_tokens: Table::new(Family::Sessions),
            user_pages: Table::bounded(Family::Accounts, MAX_PAGES),
        }
    }

    fn generation(&self, family: Family) -> &AtomicU64 {
        match family {
            Family::Accounts => &self.accounts,
            Family::Sessions => &self.sessions,
        }
    }

    /// After a committed write that may have changed rows of `family`: what was read before is
    /// read again.
    pub(crate) fn changed(&self, family: Family) {
        self.generation(family).fetch_add(1, Ordering::AcqRel);
    }

    /// A write that may change rows of `family`: when the guard is dropped, after the write has
    /// committed (or failed), what was read before is read again.
    pub(crate) fn writing(&self, family: Family) -> Writing<'_> {
        Writing {
            cache: self,
            family,
        }
    }

    /// The cached answer for `key` in `table`, or `load`'s, kept when it found something.
    pub(crate) fn read<K, V>(
        &self,
        table: &Table<K, V>,
        key: K,
        load: impl FnOnce() -> anyhow::Result<Option<V>>,
    ) -> anyhow::Result<Option<V>>
    where
        K: Hash + Eq,
        V: Clone,
    {
        if self.ttl.is_zero() {
            return load();
        }
        let generation = self.generation(table.family).load(Ordering::Acquire);
        if let Ok(rows) = table.rows.lock() {
            if let Some((g, at, value)) = rows.get(&key) {
                if *g == generation && at.elapsed() < self.ttl {
                    return Ok(Some(value.clone()));
                }
            }
        }
        let found = load()?;
        if let (Some(value), Ok(mut rows)) = (&found, table.rows.lock()) {
            if rows.len() >= table.max {
                rows.clear();
            }
            rows.insert(key, (generation, Instant::now(), value.clone()));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_or_the_ttl_makes_a_miss_and_a_read_that_raced_a_write_is_not_kept() {
        let cache = ReadCache::new(Duration::from_millis(200));
        let loads = std::cell::Cell::new(0);
        let load = |v: i64| {
            loads.set(loads.get() + 1);
            Ok(Some(vec![v.to_string()]))
        };
        let get = |v| cache.read(&cache.permissions, (1, 2), || load(v)).unwrap();
        assert_eq!(get(1), Some(vec!["1".into()]));
        assert_eq!(get(2), Some(vec!["1".into()]), "served from memory");
        assert_eq!(loads.get(), 1);
        cache.changed(Family::Sessions);
        assert_eq!(get(3), Some(vec!["1".into()]), "another family's write");
        cache.changed(Family::Accounts);
        assert_eq!(get(4), Some(vec!["4".into()]), "read again after a write");
        // A read whose query raced a write is filed under the old generation: the next read misses.
        let raced = cache
            .read(&cache.permissions, (5, 5), || {
                cache.changed(Family::Accounts);
                Ok(Some(vec!["old".to_owned()]))
            })
            .unwrap();
        assert_eq!(raced, Some(vec!["old".into()]));
        let again = cache
            .read(&cache.permissions, (5, 5), || {
                Ok(Some(vec!["new".to_owned()]))
            })
            .unwrap();
        assert_eq!(again, Some(vec!["new".into()]));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(get(6), Some(vec!["6".into()]), "expired after the ttl");
        // Nothing found is never kept.
        let none: Option<Vec<String>> =
            cache.read(&cache.permissions, (9, 9), || Ok(None)).unwrap();
        assert_eq!(none, None);
        assert_eq!(
            cache
                .read(&cache.permissions, (9, 9), || Ok(Some(vec![
                    "now".to_owned()
                ])))
                .unwrap(),
            Some(vec!["now".into()])
        );
    }

    #[test]
    fn a_zero_ttl_reads_every_time() {
        let cache = ReadCache::new(Duration::ZERO);
        let table: Table<i64, i64> = Table::new(Family::Accounts);
        for v in 0..3 {
            assert_eq!(cache.read(&table, 1, || Ok(Some(v))).unwrap(), Some(v));
        }
    }
}
