//! Session management: listing and ending one's sessions (and, for admins, anyone's), idle and
//! absolute lifetimes, and the per-user limit of concurrent sessions.

use serde::Deserialize;

use crate::access::Action;
use crate::audit::{Audit, Event, Outcome};
use crate::error::UserError;
use crate::ports::SessionInfo;
use crate::service::{Principal, Service};
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

impl Service {
    /// A user's live sessions; the user themselves or their admin.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn list_sessions(
        &self,
        actor: &Principal,
        user: UserId,
    ) -> Result<Vec<SessionInfo>, UserError> {
        self.target_user(actor, user, Action::Read)?;
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .directory
            .live_sessions(user, now)?
            .into_iter()
            .filter(|s| self.sessions.alive(s.created_at, s.last_used_at, now))
            .collect())
    }

    /// Ends one session: the caller's own, or any of a user they administer. Others are `NotFound`.
    ///
    /// # Errors
    /// `NotFound`.
    pub fn end_session(&self, actor: &Principal, id: SessionId) -> Result<(), UserError> {
        let session = self
            .ports
            .directory
            .session(id)?
            .ok_or(UserError::NotFound)?;
        if self
            .target_user(actor, session.user_id, Action::Read)
            .is_err()
        {
            return Err(UserError::NotFound);
        }
        let now = self.ports.clock.now();
        if !self
            .ports
            .sessions
            .revoke_session(id, "ended_by_user", now)?
        {
            return Err(UserError::NotFound);
        }
        self.remember_revoked(&[id]);
        self.audit(
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
        self.target_user(actor, user, action)?;
        let scope = actor.sessions_to_end(user);
        let revoked = self.ports.directory.revoke_sessions_of(
            user,
            scope,
            "ended_by_user",
            self.ports.clock.now(),
        )?;
        self.remember_revoked(&revoked);
        self.audit(
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
        self.ports.directory.count_live(self.ports.clock.now())
    }

    /// After a login: ends the user's oldest sessions beyond the per-user limit.
    pub(crate) fn enforce_session_limit(&self, user: UserId) -> anyhow::Result<()> {
        let max = self.sessions.max_per_user as usize;
        if max == 0 {
            return Ok(());
        }
        let now = self.ports.clock.now();
        let live: Vec<SessionInfo> = self
            .ports
            .directory
            .live_sessions(user, now)?
            .into_iter()
            .filter(|s| !s.api_key)
            .collect();
        if live.len() <= max {
            return Ok(());
        }
        let excess = &live[..live.len() - max];
        for s in excess {
            self.ports
                .sessions
                .revoke_session(s.id, "session_limit", now)?;
        }
        let ids: Vec<SessionId> = excess.iter().map(|s| s.id).collect();
        self.remember_revoked(&ids);
        self.audit(
            Audit::new(Event::SessionRevoked, Outcome::Success)
                .subject(user)
                .detail("reason", "session_limit")
                .detail("sessions_ended", ids.len()),
        );
        Ok(())
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
