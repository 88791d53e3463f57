//! The second factor: TOTP enrolment and verification, backup codes, and the second step of a login.
//!
//! A TOTP code is accepted once: the store keeps the last accepted time step per user and accepts
//! only later ones, atomically. Backup codes and pending logins are single use the same way.
//! Wrong codes count towards the lockout of the account, like wrong passwords.

use std::sync::Arc;

use crate::access::{target_user, Action};
use crate::audit::{Audit, Auditor, Event, Outcome};
use crate::error::{FieldErrors, UserError};
use crate::password::{Password, PasswordPolicy, Verification};
use crate::ports::{
    Clock, MfaRepository, OneTimeCodes, PasswordHasher, RevokeSessions, SecretTokens,
    UserRepository,
};
use crate::principal::Principal;
use crate::revocation::Revocations;
use crate::token::{HashedToken, PlainToken};
use crate::user::UserId;

/// How many backup codes a user gets.
pub const BACKUP_CODES: usize = 10;
/// Prefix of pending-login tokens. Invariant: never changes, as `API_KEY_PREFIX`.
pub const MFA_TOKEN_PREFIX: &str = "tsm_";
/// The issuer an authenticator app files the account under (the `otpauth://` URI's label).
pub const TOTP_ISSUER: &str = "Tessera";

/// What an authenticator app needs to enrol.
#[derive(Debug)]
pub struct Enrolment {
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// A code as a user typed it: six digits (TOTP) or a backup code.
fn normalize_backup(code: &str) -> String {
    code.trim()
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .flat_map(char::to_lowercase)
        .collect()
}

fn invalid_code() -> UserError {
    let mut f = FieldErrors::new();
    f.add("code", "invalid");
    UserError::Validation(f)
}

/// Backup codes carry about 49 bits, so they are stored under a server key, not as a bare hash.
fn backup_digest(secrets: &dyn SecretTokens, code: &str) -> HashedToken {
    secrets.keyed_digest(&PlainToken::new(normalize_backup(code)))
}

/// Whether `code` is a right, unused TOTP or backup code for the user, using it up if so.
/// `None` when the user has no MFA enabled.
pub(crate) fn use_second_factor(
    p: &(impl SecondFactorPorts + ?Sized),
    user: UserId,
    code: &str,
) -> anyhow::Result<Option<bool>> {
    let now = p.clock().now();
    let Some(state) = p.mfa().mfa_state(user)?.filter(|s| s.enabled) else {
        return Ok(None);
    };
    let code = code.trim();
    if let Some(step) = p.otp().totp_step(&state.secret, code, now) {
        return Ok(Some(p.mfa().accept_step(user, step)?));
    }
    if code.len() > 32 {
        return Ok(Some(false));
    }
    let used = p
        .mfa()
        .use_backup_code(user, &backup_digest(p.secrets(), code), now)?;
    if used {
        p.auditor().record(
            Audit::new(Event::BackupCodeUsed, Outcome::Success)
                .actor(user)
                .subject(user),
        );
    }
    Ok(Some(used))
}

/// The ports a second factor is checked through, held by `SecondFactor` and `Authentication`.
pub(crate) trait SecondFactorPorts {
    fn mfa(&self) -> &dyn MfaRepository;
    fn otp(&self) -> &dyn OneTimeCodes;
    fn secrets(&self) -> &dyn SecretTokens;
    fn clock(&self) -> &dyn Clock;
    fn auditor(&self) -> &Auditor;
}

macro_rules! second_factor_ports {
    ($t:ty) => {
        impl $crate::mfa::SecondFactorPorts for $t {
            fn mfa(&self) -> &dyn $crate::ports::MfaRepository {
                &*self.mfa
            }
            fn otp(&self) -> &dyn $crate::ports::OneTimeCodes {
                &*self.otp
            }
            fn secrets(&self) -> &dyn $crate::ports::SecretTokens {
                &*self.secrets
            }
            fn clock(&self) -> &dyn $crate::ports::Clock {
                &*self.clock
            }
            fn auditor(&self) -> &$crate::audit::Auditor {
                &self.audit
            }
        }
    };
}
pub(crate) use second_factor_ports;

second_factor_ports!(SecondFactor);

/// Enrolment, confirmation, removal and backup codes of the TOTP second factor.
pub struct SecondFactor {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) mfa: Arc<dyn MfaRepository>,
    pub(crate) otp: Arc<dyn OneTimeCodes>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) password_policy: PasswordPolicy,
}

impl SecondFactor {
    /// New backup codes in plain text, and their digests to store.
    fn new_backup_codes(&self) -> (Vec<String>, Vec<crate::token::HashedToken>) {
        let codes: Vec<String> = (0..BACKUP_CODES)
            .map(|_| self.otp.new_backup_code())
            .collect();
        let digests = codes
            .iter()
            .map(|c| backup_digest(&*self.secrets, c))
            .collect();
        (codes, digests)
    }

    /// Starts enrolment for the caller: a new secret, its URI and QR code. Nothing is active until
    /// `verify_mfa` confirms a code.
    ///
    /// # Errors
    /// `MfaAlreadyEnabled`.
    pub fn setup_mfa(&self, actor: &Principal) -> Result<Enrolment, UserError> {
        let p = self;
        let secret = p.otp.new_totp_secret();
        if !p
            .mfa
            .begin_enrolment(actor.user_id, &secret, p.clock.now())?
        {
            return Err(UserError::MfaAlreadyEnabled);
        }
        let (otpauth_uri, qr_svg) = p.otp.enrolment(&secret, &actor.username, TOTP_ISSUER)?;
        Ok(Enrolment {
            secret,
            otpauth_uri,
            qr_svg,
        })
    }

    /// Confirms enrolment with a code from the app: MFA is on, and the backup codes are returned once.
    ///
    /// # Errors
    /// `MfaNotPending` without a pending enrolment, `Validation` (`code`: `invalid`) for a wrong code.
    pub fn verify_mfa(&self, actor: &Principal, code: &str) -> Result<Vec<String>, UserError> {
        let p = self;
        let now = p.clock.now();
        let state = match p.mfa.mfa_state(actor.user_id)? {
            Some(s) if !s.enabled => s,
            Some(_) => return Err(UserError::MfaAlreadyEnabled),
            None => return Err(UserError::MfaNotEnabled),
        };
        let step = p
            .otp
            .totp_step(&state.secret, code.trim(), now)
            .ok_or_else(invalid_code)?;
        let (codes, digests) = self.new_backup_codes();
        if !p.mfa.enable(actor.user_id, step, &digests, now)? {
            return Err(UserError::MfaNotEnabled);
        }
        self.audit.record(
            Audit::new(Event::MfaEnabled, Outcome::Success)
                .by(actor)
                .subject(actor.user_id),
        );
        Ok(codes)
    }

    /// Turns the caller's MFA off; needs their password and a current code (or a backup code).
    ///
    /// # Errors
    /// `WrongCurrentPassword`, `Validation` for a wrong code, `MfaNotEnabled`.
    pub fn disable_mfa(
        &self,
        actor: &Principal,
        password: &Password,
        code: &str,
    ) -> Result<(), UserError> {
        let p = self;
        let (_, hash) = p
            .users
            .user_credentials(actor.user_id)?
            .ok_or(UserError::NotFound)?;
        if password.expose().len() > self.password_policy.max_bytes
            || p.hasher.verify(password, &hash)? == Verification::Mismatch
        {
            return Err(UserError::WrongCurrentPassword);
        }
        match use_second_factor(self, actor.user_id, code)? {
            Some(true) => {}
            Some(false) => return Err(invalid_code()),
            None => return Err(UserError::MfaNotEnabled),
        }
        p.mfa
            .disable(actor.user_id, RevokeSessions::None, p.clock.now())?;
        self.audit.record(
            Audit::new(Event::MfaDisabled, Outcome::Success)
                .by(actor)
                .subject(actor.user_id),
        );
        Ok(())
    }

    /// An admin turns a user's MFA off (a lost device); all the user's sessions end.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn reset_mfa(&self, actor: &Principal, id: UserId) -> Result<(), UserError> {
        target_user(&*self.users, actor, id, Action::Administer)?;
        let revoked = self
            .mfa
            .disable(id, RevokeSessions::All, self.clock.now())?;
        self.revocations.remember(&revoked);
        self.audit.record(
            Audit::new(Event::MfaDisabled, Outcome::Success)
                .by(actor)
                .subject(id)
                .detail("reset_by_admin", true),
        );
        Ok(())
    }

    /// How many unused backup codes the caller has.
    ///
    /// # Errors
    /// `MfaNotEnabled`.
    pub fn backup_codes_left(&self, actor: &Principal) -> Result<u32, UserError> {
        self.require_mfa(actor.user_id)?;
        Ok(self.mfa.remaining_backup_codes(actor.user_id)?)
    }

    /// A fresh set of backup codes for the caller; the old ones stop working.
    ///
    /// # Errors
    /// `MfaNotEnabled`.
    pub fn regenerate_backup_codes(&self, actor: &Principal) -> Result<Vec<String>, UserError> {
        self.require_mfa(actor.user_id)?;
        let (codes, digests) = self.new_backup_codes();
        self.mfa.replace_backup_codes(actor.user_id, &digests)?;
        self.audit.record(
            Audit::new(Event::BackupCodesRegenerated, Outcome::Success)
                .by(actor)
                .subject(actor.user_id),
        );
        Ok(codes)
    }

    fn require_mfa(&self, user: UserId) -> Result<(), UserError> {
        match self.mfa.mfa_state(user)? {
            Some(s) if s.enabled => Ok(()),
            _ => Err(UserError::MfaNotEnabled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_codes_are_compared_without_dashes_spaces_or_case() {
        assert_eq!(normalize_backup(" ABCDE-fghjk "), "abcdefghjk");
        assert_eq!(normalize_backup("abcde fghjk"), "abcdefghjk");
    }
}
