//! The in-memory view of revoked sessions that every access-token check reads.

use std::collections::HashMap;
use std::sync::RwLock;

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
