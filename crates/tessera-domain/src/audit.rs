//! The audit log: one entry for every authentication and administration event, never a secret.
//!
//! Use cases call `Auditor::record`; it stores the entry through the `AuditLog` port and writes it as a
//! structured log line (target `tessera::audit`). A failure to store an entry is logged and does not
//! fail the operation it describes.

use std::fmt;

use std::sync::Arc;

use crate::access::{authorize, checked_limit, page, Action};
use crate::error::UserError;
use crate::ports::{AuditLog, Clock, Observer};
use crate::principal::Principal;
use crate::time::UnixTime;
use crate::user::UserId;
use crate::users::Page;

/// Where a request came from, as the HTTP adapter saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

macro_rules! events {
    ($($variant:ident => $name:literal,)*) => {
        /// Every kind of audited event.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Event {
            $($variant,)*
        }

        impl Event {
            pub const ALL: &'static [Event] = &[$(Event::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Event::$variant => $name,)*
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($name => Some(Event::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

events! {
    Login => "login",
    LoginFailed => "login_failed",
    LoginLocked => "login_locked",
    Lockout => "lockout",
    Unlock => "unlock",
    Logout => "logout",
    Refresh => "refresh",
    RefreshReuse => "refresh_reuse",
    TokenRevoked => "token_revoked",
    PasswordChanged => "password_changed",
    UserCreated => "user_created",
    UserUpdated => "user_updated",
    UserDeleted => "user_deleted",
    EntryCreated => "entry_created",
    EntryUpdated => "entry_updated",
    EntryDeleted => "entry_deleted",
    LinkAdded => "link_added",
    LinkRemoved => "link_removed",
    GrantAdded => "grant_added",
    GrantRemoved => "grant_removed",
    ServiceSecretIssued => "service_secret_issued",
    ServiceSecretRevoked => "service_secret_revoked",
    ServiceTokenIssued => "service_token_issued",
    ApiKeyCreated => "api_key_created",
    ApiKeyDeleted => "api_key_deleted",
    ClientCredentials => "client_credentials",
    UserRegistered => "user_registered",
    PasswordResetIssued => "password_reset_issued",
    PasswordReset => "password_reset",
    MfaRequired => "mfa_required",
    MfaEnabled => "mfa_enabled",
    MfaDisabled => "mfa_disabled",
    BackupCodeUsed => "backup_code_used",
    BackupCodesRegenerated => "backup_codes_regenerated",
    SessionRevoked => "session_revoked",
    UsersImported => "users_imported",
    UsersExported => "users_exported",
    ClientCreated => "client_created",
    ClientUpdated => "client_updated",
    ClientDeleted => "client_deleted",
    ClientSecretRotated => "client_secret_rotated",
    CodeIssued => "code_issued",
    CodeExchanged => "code_exchanged",
    CodeReplayed => "code_replayed",
    ConsentGranted => "consent_granted",
    ConsentDenied => "consent_denied",
    ConsentRevoked => "consent_revoked",
    KeysRotated => "keys_rotated",
    ModelImported => "model_imported",
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the audited attempt succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// One audited event. `details` hold names, ids and reasons, never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: UnixTime,
    pub event: Event,
    pub outcome: Outcome,
    /// Who acted, when known.
    pub actor: Option<UserId>,
    /// The user the event is about, when it is about one.
    pub subject: Option<UserId>,
    /// What else it is about, such as `role:3` or `api_key:7`.
    pub target: Option<String>,
    pub context: RequestContext,
    pub details: Vec<(String, String)>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub entry: AuditEntry,
}

/// Which entries to list: all filters must match; `user_id` matches the actor or the subject.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user_id: Option<UserId>,
    /// Only entries about this user (whose subject they are), whoever acted.
    pub subject: Option<UserId>,
    pub event: Option<Event>,
    /// Only entries of one of these events; any event when empty.
    pub events: Vec<Event>,
    pub outcome: Option<Outcome>,
    pub since: Option<UnixTime>,
    pub until: Option<UnixTime>,
    /// Entries past this one in the list's order: with ids after it, or before it when
    /// `newest_first`.
    pub after: Option<i64>,
    /// Newest first (ids going down) rather than oldest first.
    pub newest_first: bool,
    pub limit: u32,
}

/// The events a user sees of their own account (`AuditTrail::own_activity`): signing in and
/// out, locks, the second factor, the password, sessions, API keys, consents and the profile.
pub const ACCOUNT_EVENTS: &[Event] = &[
    Event::Login,
    Event::LoginFailed,
    Event::LoginLocked,
    Event::Lockout,
    Event::Unlock,
    Event::Logout,
    Event::MfaRequired,
    Event::MfaEnabled,
    Event::MfaDisabled,
    Event::BackupCodeUsed,
    Event::BackupCodesRegenerated,
    Event::PasswordChanged,
    Event::PasswordReset,
    Event::SessionRevoked,
    Event::RefreshReuse,
    Event::ApiKeyCreated,
    Event::ApiKeyDeleted,
    Event::ConsentGranted,
    Event::ConsentRevoked,
    Event::UserUpdated,
];

/// Builds an entry; `Auditor::record` stamps the time.
#[derive(Debug)]
pub struct Audit(AuditEntry);

impl Audit {
    pub fn new(event: Event, outcome: Outcome) -> Self {
        Self(AuditEntry {
            at: UnixTime(0),
            event,
            outcome,
            actor: None,
            subject: None,
            target: None,
            context: RequestContext::default(),
            details: Vec::new(),
        })
    }

    /// Acted on by `p`, from `p`'s request.
    #[must_use]
    pub fn by(mut self, p: &Principal) -> Self {
        self.0.actor = Some(p.user_id);
        self.0.context = p.context.clone();
        self
    }

    #[must_use]
    pub fn from(mut self, context: &RequestContext) -> Self {
        self.0.context = context.clone();
        self
    }

    #[must_use]
    pub fn actor(mut self, user: UserId) -> Self {
        self.0.actor = Some(user);
        self
    }

    #[must_use]
    pub fn subject(mut self, user: UserId) -> Self {
        self.0.subject = Some(user);
        self
    }

    #[must_use]
    pub fn target(mut self, target: String) -> Self {
        self.0.target = Some(target);
        self
    }

    /// Adds a detail; a key given twice holds both values, comma-separated.
    #[must_use]
    pub fn detail(mut self, key: &str, value: impl fmt::Display) -> Self {
        match self.0.details.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&value.to_string());
            }
            None => self.0.details.push((key.to_owned(), value.to_string())),
        }
        self
    }
}

/// Writes audit entries: to the store, as a `tessera::audit` log line, and to the metrics.
pub struct Auditor {
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    log: Arc<dyn AuditLog>,
}

impl Auditor {
    pub fn new(clock: Arc<dyn Clock>, observer: Arc<dyn Observer>, log: Arc<dyn AuditLog>) -> Self {
        Self {
            clock,
            observer,
            log,
        }
    }

    /// Records an audit entry in the store and as a log line. Never fails the caller.
    pub fn record(&self, audit: Audit) {
        // Inside a memory-only attempt nothing is recorded: the use case runs again for real.
        if crate::memory_only::may_block().is_err() {
            return;
        }
        let mut entry = audit.0;
        entry.at = self.clock.now();
        self.observer.event(entry.event, entry.outcome);
        tracing::info!(
            target: "tessera::audit",
            event = entry.event.as_str(),
            outcome = entry.outcome.as_str(),
            actor = entry.actor.map(|u| u.0),
            subject = entry.subject.map(|u| u.0),
            target_object = entry.target.as_deref(),
            ip = entry.context.ip.as_deref(),
            request_id = entry.context.request_id.as_deref(),
            details = ?entry.details,
            "audit"
        );
        if let Err(e) = self.log.append(&entry) {
            tracing::error!(
                error = format!("{e:#}"),
                event = entry.event.as_str(),
                "cannot store an audit entry"
            );
        }
    }
}

/// Reading and pruning the audit log.
pub struct AuditTrail {
    pub(crate) log: Arc<dyn AuditLog>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl AuditTrail {
    /// A page of the audit log for a global admin.
    ///
    /// # Errors
    /// `Forbidden`, `Validation` for a limit outside 1..=500.
    pub fn list_audit(
        &self,
        actor: &Principal,
        mut query: AuditQuery,
        limit: Option<u32>,
    ) -> Result<Page<AuditRecord>, UserError> {
        authorize(actor, Action::ManageModel)?;
        let limit = checked_limit(limit)?;
        query.limit = limit + 1;
        let mut items = self.log.query(&query)?;
        Ok(page(&mut items, limit, |r| r.id))
    }

    /// A page of the caller's own account activity, newest first: the entries about them (whose
    /// subject they are, never those where they only acted on someone else) of
    /// `ACCOUNT_EVENTS`. Any signed-in user reads their own, and no one else's. Of an entry
    /// someone else made (an admin's change of the account), the address, user agent and
    /// request id are left out: they are that person's, not the user's. `after` is the
    /// `next_after` of the page before.
    ///
    /// # Errors
    /// `Validation` for a limit outside 1..=500.
    pub fn own_activity(
        &self,
        actor: &Principal,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<Page<AuditRecord>, UserError> {
        let limit = checked_limit(limit)?;
        let query = AuditQuery {
            subject: Some(actor.user_id),
            events: ACCOUNT_EVENTS.to_vec(),
            after,
            newest_first: true,
            limit: limit + 1,
            ..AuditQuery::default()
        };
        let mut items = self.log.query(&query)?;
        for record in &mut items {
            if record
                .entry
                .actor
                .is_some_and(|someone| someone != actor.user_id)
            {
                record.entry.context = RequestContext::default();
            }
        }
        Ok(page(&mut items, limit, |r| r.id))
    }

    /// Deletes entries older than `retention_days`, `batch` at a time, at most `max_batches` times.
    ///
    /// # Errors
    /// When the store fails.
    pub fn prune_audit(
        &self,
        retention_days: u32,
        batch: u32,
        max_batches: u32,
    ) -> anyhow::Result<u64> {
        let before = self.clock.now().plus(-i64::from(retention_days) * 86_400);
        let mut total = 0;
        for _ in 0..max_batches {
            let n = self.log.prune(before, batch)?;
            total += n;
            if n < u64::from(batch) {
                break;
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_name_parses_back() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(*e));
        }
        assert_eq!(Event::parse("nope"), None);
        assert_eq!(Outcome::parse("failure"), Some(Outcome::Failure));
    }
}
