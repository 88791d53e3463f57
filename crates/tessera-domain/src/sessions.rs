//! Session management: listing and ending one's sessions (and, for admins, anyone's), idle and
//! absolute lifetimes, and the per-user limit of concurrent sessions.

use serde::Deserialize;

use std::sync::Arc;

use crate::access::{target_user, Action};
use crate::audit::{Audit, Auditor, Event, Outcome};
use crate::error::UserError;
use crate::ports::{Clock, SessionDirectory, SessionInfo, SessionRepository, UserRepository};
use crate::principal::Principal;
use crate::revocation::Revocations;
use crate::time::UnixTime;
use crate::token::SessionId;
use crate::user::UserId;

/// How long sessions may live and how many a user may hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionPolicy {
    /// A session unused (no refresh, no renewal of its opaque token) this long ends.
    pub idle_timeout_seconds: i64,
    /// A session ends this long after its login, however much it is used.
    pub absolute_lifetime_seconds: i64,
    /// Live sessions a user may hold; a new one beyond it ends the oldest. 0: no limit.
    pub max_per_user: u32,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout_seconds: 14 * 86_400,
            absolute_lifetime_seconds: 90 * 86_400,
            max_per_user: 0,
        }
    }
}

impl SessionPolicy {
    /// Whether a session created and last used at these times is still alive at `now`.
    pub fn alive(&self, created_at: UnixTime, last_used_at: UnixTime, now: UnixTime) -> bool {
        now.seconds()
            < created_at
                .seconds()
                .saturating_add(self.absolute_lifetime_seconds)
            && now.seconds()
                < last_used_at
                    .seconds()
                    .saturating_add(self.idle_timeout_seconds)
    }
}

/// Listing and ending sessions.
pub struct Sessions {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) sessions: Arc<dyn SessionRepository>,
    pub(crate) directory: Arc<dyn SessionDirectory>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) session_policy: SessionPolicy,
}

impl Sessions {
    /// A user's live sessions; the user themselves or their admin.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn list_sessions(
        &self,
        actor: &Principal,
        user: UserId,
    ) -> Result<Vec<SessionInfo>, UserError> {
        target_user(&*self.users, actor, user, Action::Read)?;
        let now = self.clock.now();
        Ok(self
            .directory
            .live_sessions(user, now)?
            .into_iter()
            .filter(|s| self.session_policy.alive(s.created_at, s.last_used_at, now))
            .collect())
    }

    /// Ends one session: the caller's own, or any of a user they administer. Others are `NotFound`.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn end_session(&self, actor: &Principal, id: SessionId) -> Result<(), UserError> {
        let session = self.directory.session(id)?.ok_or(UserError::NotFound)?;
        if target_user(&*self.users, actor, session.user_id, Action::Read).is_err() {
            return Err(UserError::NotFound);
        }
        let now = self.clock.now();
        if !self.sessions.revoke_session(id, "ended_by_user", now)? {
            return Err(UserError::NotFound);
        }
        self.revocations.remember(&[id]);
        self.audit.record(
            Audit::new(Event::SessionRevoked, Outcome::Success)
                .by(actor)
                .subject(session.user_id)
                .target(format!("session:{}", id.0)),
        );
        Ok(())
    }

    /// Ends a user's sessions: all but the caller's current one when they are ending their own,
    /// all of them when an admin ends someone else's.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn end_sessions(&self, actor: &Principal, user: UserId) -> Result<usize, UserError> {
        let own = actor.user_id == user;
        let action = if own {
            Action::Read
        } else {
            Action::Administer
        };
        target_user(&*self.users, actor, user, action)?;
        let scope = actor.sessions_to_end(user);
        let revoked =
            self.directory
                .revoke_sessions_of(user, scope, "ended_by_user", self.clock.now())?;
        self.revocations.remember(&revoked);
        self.audit.record(
            Audit::new(Event::SessionRevoked, Outcome::Success)
                .by(actor)
                .subject(user)
                .detail("sessions_ended", revoked.len()),
        );
        Ok(revoked.len())
    }

    /// Sessions alive now, of everyone (their expiry, not yet their idle time): a gauge for metrics.
    ///
    /// # Errors
    /// When the store fails.
    pub fn count_live_sessions(&self) -> anyhow::Result<u64> {
        self.directory.count_live(self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_dies_when_idle_or_old() {
        let p = SessionPolicy {
            idle_timeout_seconds: 10,
            absolute_lifetime_seconds: 100,
            max_per_user: 0,
        };
        assert!(p.alive(UnixTime(0), UnixTime(0), UnixTime(9)));
        assert!(!p.alive(UnixTime(0), UnixTime(0), UnixTime(10)));
        assert!(p.alive(UnixTime(0), UnixTime(95), UnixTime(99)));
        assert!(!p.alive(UnixTime(0), UnixTime(95), UnixTime(100)));
    }
}
