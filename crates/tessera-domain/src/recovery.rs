//! Self-registration (off by default) and password reset without e-mail: an admin issues a
//! single-use reset token, shown once, which its holder trades for a new password.

use serde::Deserialize;

use std::sync::Arc;

use crate::access::{target_user, Action};
use crate::audit::{Audit, Auditor, Event, Outcome, RequestContext};
use crate::error::{FieldErrors, UserError};
use crate::password::Password;
use crate::password::PasswordPolicy;
use crate::ports::{Clock, PasswordHasher, RecoveryRepository, SecretTokens, UserRepository};
use crate::principal::Principal;
use crate::revocation::Revocations;
use crate::time::UnixTime;
use crate::token::PlainToken;
use crate::user::{parse_roles, UserId};
use crate::users::{validate_new_user, CreateUser};

/// Prefix of every password-reset token. Invariant: never changes, as `API_KEY_PREFIX`.
pub const RESET_TOKEN_PREFIX: &str = "tsp_";

/// Self-registration and password reset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoverySettings {
    /// Whether `POST /auth/register` is open.
    pub registration_enabled: bool,
    /// The global roles a self-registered user gets.
    pub registration_roles: Vec<String>,
    /// How long a reset token lives.
    pub reset_ttl_seconds: i64,
}

impl Default for RecoverySettings {
    fn default() -> Self {
        Self {
            registration_enabled: false,
            registration_roles: vec!["user".into()],
            reset_ttl_seconds: 1800,
        }
    }
}

impl RecoverySettings {
    /// Checks values that parse but cannot work.
    ///
    /// # Errors
    /// Naming the key.
    pub fn validate(&self) -> Result<(), String> {
        match parse_roles(&self.registration_roles) {
            Ok(roles) if roles.iter().any(crate::user::Role::is_admin) => {
                return Err("recovery.registration_roles must not include admin".into())
            }
            Err(_) => return Err("recovery.registration_roles holds an invalid role name".into()),
            Ok(_) => {}
        }
        if self.reset_ttl_seconds <= 0 {
            return Err("recovery.reset_ttl_seconds must be positive".into());
        }
        Ok(())
    }
}

/// A self-registration request, as received.
#[derive(Debug)]
pub struct Registration {
    pub username: String,
    pub password: Password,
    pub email: Option<String>,
}

/// A reset token for a user, shown this once.
#[derive(Debug)]
pub struct IssuedReset {
    pub user_id: UserId,
    pub token: PlainToken,
    pub expires_at: UnixTime,
}

/// Self-registration and password reset.
pub struct Recovery {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) recovery: Arc<dyn RecoveryRepository>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) password_policy: PasswordPolicy,
    pub(crate) settings: RecoverySettings,
}

impl Recovery {
    /// Creates a global user with the configured roles, when self-registration is on.
    ///
    /// # Errors
    /// `Forbidden` when it is off; `Validation` and `Duplicate` as for `create_user`.
    pub fn register(
        &self,
        req: Registration,
        context: &RequestContext,
    ) -> Result<crate::user::User, UserError> {
        if !self.settings.registration_enabled {
            return Err(UserError::Forbidden("self-registration is turned off"));
        }
        let request = CreateUser {
            username: req.username,
            password: req.password,
            email: req.email,
            display_name: None,
            roles: Some(self.settings.registration_roles.clone()),
            active: Some(true),
            tenant_id: None,
            attributes: None,
        };
        let new = validate_new_user(&self.password_policy, &request, true)?;
        let hash = self.hasher.hash(&request.password)?;
        let user = self.users.create_user(&new, &hash, self.clock.now())?;
        self.audit.record(
            Audit::new(Event::UserRegistered, Outcome::Success)
                .from(context)
                .actor(user.id)
                .subject(user.id)
                .detail("username", user.username.as_str()),
        );
        Ok(user)
    }

    /// Issues a single-use reset token for a user, replacing any earlier one. Admins only.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn issue_password_reset(
        &self,
        actor: &Principal,
        id: UserId,
    ) -> Result<IssuedReset, UserError> {
        target_user(&*self.users, actor, id, Action::Administer)?;
        let p = self;
        let now = p.clock.now();
        let token = p.secrets.new_secret(RESET_TOKEN_PREFIX);
        let expires_at = now.plus(self.settings.reset_ttl_seconds);
        p.recovery
            .create_reset(id, &p.secrets.digest(&token), now, expires_at)?;
        self.audit.record(
            Audit::new(Event::PasswordResetIssued, Outcome::Success)
                .by(actor)
                .subject(id),
        );
        Ok(IssuedReset {
            user_id: id,
            token,
            expires_at,
        })
    }

    /// Trades a reset token for a new password and ends all the user's sessions.
    /// The token works once: of two concurrent uses, one succeeds.
    ///
    /// # Errors
    /// `InvalidResetToken` for an unknown, used or expired token; `Validation` for a password the
    /// policy refuses (the token stays usable then).
    pub fn reset_password(
        &self,
        token: &PlainToken,
        new: &Password,
        context: &RequestContext,
    ) -> Result<(), UserError> {
        let p = self;
        let now = p.clock.now();
        let digest = p.secrets.digest(token);
        let failed = |reason: &str| {
            self.audit.record(
                Audit::new(Event::PasswordReset, Outcome::Failure)
                    .from(context)
                    .detail("reason", reason),
            );
        };
        let Some(user_id) = p.recovery.reset_user(&digest, now)? else {
            failed("invalid_token");
            return Err(UserError::InvalidResetToken);
        };
        let user = p
            .users
            .get_user(user_id)?
            .ok_or(UserError::InvalidResetToken)?;
        let mut fields = FieldErrors::new();
        fields.extend(
            "new_password",
            self.password_policy.violations(new, user.username.as_str()),
        );
        fields.into_result()?;
        let hash = p.hasher.hash(new)?;
        let Some(revoked) = p.recovery.consume_reset(&digest, &hash, now)? else {
            failed("invalid_token");
            return Err(UserError::InvalidResetToken);
        };
        self.revocations.remember(&revoked);
        self.audit.record(
            Audit::new(Event::PasswordReset, Outcome::Success)
                .from(context)
                .subject(user_id)
                .detail("sessions_ended", revoked.len()),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_may_not_hand_out_admin() {
        let mut s = RecoverySettings::default();
        assert!(s.validate().is_ok());
        s.registration_roles = vec!["admin".into()];
        assert!(s.validate().is_err());
        s.registration_roles = vec!["Bad Role".into()];
        assert!(s.validate().is_err());
        s = RecoverySettings {
            reset_ttl_seconds: 0,
            ..RecoverySettings::default()
        };
        assert!(s.validate().is_err());
    }
}
