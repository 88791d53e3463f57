//! The in-memory view of revoked sessions that every access-token check reads.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::ports::{Clock, Observer, SessionRepository};

use crate::time::UnixTime;
use crate::token::SessionId;

/// Sessions revoked recently enough that one of their access tokens may still be unexpired.
///
/// It is filled from the store at start-up and updated by every revocation this process makes,
/// so a token check never queries the database.
#[derive(Debug, Default)]
pub struct RevokedSessions {
    revoked: RwLock<HashMap<SessionId, UnixTime>>,
}

impl RevokedSessions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn contains(&self, id: SessionId) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(&id)
    }

    pub fn insert(&self, id: SessionId, at: UnixTime) {
        self.revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, at);
    }

    pub fn insert_all(&self, entries: impl IntoIterator<Item = (SessionId, UnixTime)>) {
        let mut map = self
            .revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (id, at) in entries {
            map.insert(id, at);
        }
    }

    /// Forgets revocations made before `cutoff`: no access token of theirs can still be alive.
    pub fn prune_before(&self, cutoff: UnixTime) {
        self.revoked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, at| *at >= cutoff);
    }

    pub fn len(&self) -> usize {
        self.revoked
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The revocation view with the ports that keep it fresh: every use case that ends sessions
/// tells it, and the sync job adds what other nodes ended.
pub struct Revocations {
    view: RevokedSessions,
    sessions: Arc<dyn SessionRepository>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    /// Seconds an access token may outlive its session's end (lifetime and leeway).
    horizon_seconds: i64,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("view", &self.view)
            .finish_non_exhaustive()
    }
}

impl Revocations {
    pub fn new(
        sessions: Arc<dyn SessionRepository>,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn Observer>,
        horizon_seconds: i64,
    ) -> Self {
        Self {
            view: RevokedSessions::new(),
            sessions,
            clock,
            observer,
            horizon_seconds,
        }
    }

    /// Whether the session has ended, as far as this node knows.
    pub fn contains(&self, id: SessionId) -> bool {
        self.view.contains(id)
    }

    /// How many revocations the view holds.
    pub fn len(&self) -> usize {
        self.view.len()
    }

    pub fn is_empty(&self) -> bool {
        self.view.is_empty()
    }

    /// Fills the view from the store: every revocation whose access tokens may still be alive.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn load(&self) -> anyhow::Result<usize> {
        let since = self.horizon();
        let n = self.sync(since)?;
        self.view.prune_before(since);
        Ok(n)
    }

    /// Adds the revocations made since `since` (by any node, or by an admin command) to the view.
    /// Meant for a job that runs every fraction of a second; `since` should reach back past the
    /// last successful run by more than the clock difference between nodes.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn sync(&self, since: UnixTime) -> anyhow::Result<usize> {
        let entries = self.sessions.revocations_since(since.max(self.horizon()))?;
        let n = entries.len();
        self.view.insert_all(entries);
        Ok(n)
    }

    /// Drops revocations no live token can need. Cheap; meant for a periodic job.
    pub fn prune(&self) {
        self.view.prune_before(self.horizon());
    }

    /// Sessions this node just ended (already in the store): they count at once here, and the
    /// observer may tell other nodes.
    pub fn remember(&self, sessions: &[SessionId]) {
        self.note_ended_elsewhere(sessions);
        if !sessions.is_empty() {
            self.observer.sessions_revoked(sessions);
        }
    }

    /// Adds sessions another node says it ended to this node's view (they are in the store
    /// already; this only makes them count before the next sync).
    pub fn note_ended_elsewhere(&self, sessions: &[SessionId]) {
        let now = self.clock.now();
        self.view.insert_all(sessions.iter().map(|s| (*s, now)));
    }

    /// The oldest revocation that can still matter: older ones concern only expired access tokens.
    fn horizon(&self) -> UnixTime {
        self.clock.now().plus(-self.horizon_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_and_prunes() {
        let r = RevokedSessions::new();
        r.insert(SessionId(1), UnixTime(10));
        r.insert_all([(SessionId(2), UnixTime(20))]);
        assert!(r.contains(SessionId(1)) && r.contains(SessionId(2)));
        r.prune_before(UnixTime(15));
        assert!(!r.contains(SessionId(1)));
        assert!(r.contains(SessionId(2)));
        assert_eq!(r.len(), 1);
    }
}
