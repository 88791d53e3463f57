//! The second factor: TOTP enrolment and verification, backup codes, and the second step of a login.
//!
//! A TOTP code is accepted once: the store keeps the last accepted time step per user and accepts
//! only later ones, atomically. Backup codes and pending logins are single use the same way.
//! Wrong codes count towards the lockout of the account, like wrong passwords.

use crate::access::Action;
use crate::audit::{Audit, Event, Outcome, RequestContext};
use crate::error::{AuthError, FieldErrors, UserError};
use crate::lockout::LockoutKey;
use crate::password::{Password, Verification};
use crate::ports::{NewSession, RevokeSessions};
use crate::service::{Principal, Service};
use crate::token::PlainToken;
use crate::user::{User, UserId};

/// How many backup codes a user gets.
pub const BACKUP_CODES: usize = 10;
/// Prefix of pending-login tokens. Invariant: never changes, as `API_KEY_PREFIX`.
pub const MFA_TOKEN_PREFIX: &str = "tsm_";

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

impl Service {
    /// Backup codes carry about 49 bits, so they are stored under a server key, not as a bare hash.
    fn backup_digest(&self, code: &str) -> crate::token::HashedToken {
        self.ports
            .secrets
            .keyed_digest(&PlainToken::new(normalize_backup(code)))
    }

    /// New backup codes in plain text, and their digests to store.
    fn new_backup_codes(&self) -> (Vec<String>, Vec<crate::token::HashedToken>) {
        let codes: Vec<String> = (0..BACKUP_CODES)
            .map(|_| self.ports.otp.new_backup_code())
            .collect();
        let digests = codes.iter().map(|c| self.backup_digest(c)).collect();
        (codes, digests)
    }

    /// Starts enrolment for the caller: a new secret, its URI and QR code. Nothing is active until
    /// `verify_mfa` confirms a code.
    ///
    /// # Errors
    /// `MfaAlreadyEnabled`.
    pub fn setup_mfa(&self, actor: &Principal) -> Result<Enrolment, UserError> {
        let p = &self.ports;
        let secret = p.otp.new_totp_secret();
        if !p
            .mfa
            .begin_enrolment(actor.user_id, &secret, p.clock.now())?
        {
            return Err(UserError::MfaAlreadyEnabled);
        }
        let (otpauth_uri, qr_svg) = p.otp.enrolment(&secret, &actor.username, "Tessera")?;
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
        let p = &self.ports;
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
        self.audit(
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
        let p = &self.ports;
        let (_, hash) = p
            .users
            .user_credentials(actor.user_id)?
            .ok_or(UserError::NotFound)?;
        if password.expose().len() > self.policy.max_bytes
            || p.hasher.verify(password, &hash)? == Verification::Mismatch
        {
            return Err(UserError::WrongCurrentPassword);
        }
        match self.check_second_factor(actor.user_id, code)? {
            Some(true) => {}
            Some(false) => return Err(invalid_code()),
            None => return Err(UserError::MfaNotEnabled),
        }
        p.mfa
            .disable(actor.user_id, RevokeSessions::None, p.clock.now())?;
        self.audit(
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
        self.target_user(actor, id, Action::Administer)?;
        let revoked = self
            .ports
            .mfa
            .disable(id, RevokeSessions::All, self.ports.clock.now())?;
        self.remember_revoked(&revoked);
        self.audit(
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
        Ok(self.ports.mfa.remaining_backup_codes(actor.user_id)?)
    }

    /// A fresh set of backup codes for the caller; the old ones stop working.
    ///
    /// # Errors
    /// `MfaNotEnabled`.
    pub fn regenerate_backup_codes(&self, actor: &Principal) -> Result<Vec<String>, UserError> {
        self.require_mfa(actor.user_id)?;
        let (codes, digests) = self.new_backup_codes();
        self.ports
            .mfa
            .replace_backup_codes(actor.user_id, &digests)?;
        self.audit(
            Audit::new(Event::BackupCodesRegenerated, Outcome::Success)
                .by(actor)
                .subject(actor.user_id),
        );
        Ok(codes)
    }

    fn require_mfa(&self, user: UserId) -> Result<(), UserError> {
        match self.ports.mfa.mfa_state(user)? {
            Some(s) if s.enabled => Ok(()),
            _ => Err(UserError::MfaNotEnabled),
        }
    }

    /// Whether `code` is a right, unused TOTP or backup code for the user, using it up if so.
    /// `None` when the user has no MFA enabled.
    fn check_second_factor(&self, user: UserId, code: &str) -> anyhow::Result<Option<bool>> {
        let p = &self.ports;
        let now = p.clock.now();
        let Some(state) = p.mfa.mfa_state(user)?.filter(|s| s.enabled) else {
            return Ok(None);
        };
        let code = code.trim();
        if let Some(step) = p.otp.totp_step(&state.secret, code, now) {
            return Ok(Some(p.mfa.accept_step(user, step)?));
        }
        if code.len() > 32 {
            return Ok(Some(false));
        }
        let used = p
            .mfa
            .use_backup_code(user, &self.backup_digest(code), now)?;
        if used {
            self.audit(
                Audit::new(Event::BackupCodeUsed, Outcome::Success)
                    .actor(user)
                    .subject(user),
            );
        }
        Ok(Some(used))
    }

    /// After the password: a user with MFA gets a pending login instead of a session.
    pub(crate) fn require_second_step(
        &self,
        user: &User,
        context: &RequestContext,
    ) -> Result<(), AuthError> {
        let p = &self.ports;
        if !p.mfa.mfa_state(user.id)?.is_some_and(|s| s.enabled) {
            return Ok(());
        }
        let token = p.secrets.new_secret(MFA_TOKEN_PREFIX);
        let now = p.clock.now();
        p.mfa.create_challenge(
            user.id,
            &p.secrets.digest(&token),
            now.plus(self.tokens.mfa_ttl),
        )?;
        self.audit(
            Audit::new(Event::MfaRequired, Outcome::Success)
                .from(context)
                .subject(user.id),
        );
        Err(AuthError::MfaRequired {
            mfa_token: token.expose().to_owned(),
        })
    }

    /// The second step of a login: the pending-login token and a TOTP or backup code.
    /// Wrong codes count towards the lockout; the pending login is used up only on success.
    ///
    /// # Errors
    /// `InvalidMfaToken` for an unknown, used or expired token; `InvalidMfaCode`; `Locked`.
    pub(crate) fn checked_mfa_login(
        &self,
        mfa_token: &str,
        code: &str,
        context: &RequestContext,
    ) -> Result<(User, NewSession), AuthError> {
        let p = &self.ports;
        let now = p.clock.now();
        let digest = p.secrets.digest(&PlainToken::new(mfa_token.to_owned()));
        let user_id = p
            .mfa
            .challenge_user(&digest, now)?
            .ok_or(AuthError::InvalidMfaToken)?;
        let key = LockoutKey::user(user_id);
        if self.lockout.enabled() {
            if let Some(until) = p.lockout.locked_until(&key, now)? {
                return Err(AuthError::Locked {
                    retry_after: until.seconds() - now.seconds(),
                });
            }
        }
        if self.check_second_factor(user_id, code)? != Some(true) {
            self.audit(
                Audit::new(Event::LoginFailed, Outcome::Failure)
                    .from(context)
                    .subject(user_id)
                    .detail("reason", "invalid_mfa_code"),
            );
            return Err(
                match self.login_failed(&key, Some(user_id), context, now)? {
                    AuthError::InvalidCredentials => AuthError::InvalidMfaCode,
                    other => other,
                },
            );
        }
        if !p.mfa.consume_challenge(&digest, now)? {
            return Err(AuthError::InvalidMfaToken);
        }
        let user = match p.users.get_user(user_id)? {
            Some(u) if u.active => u,
            Some(_) => return Err(AuthError::AccountDisabled),
            None => return Err(AuthError::InvalidMfaToken),
        };
        if self.lockout.enabled() {
            p.lockout.clear(&key)?;
        }
        self.audit(
            Audit::new(Event::Login, Outcome::Success)
                .from(context)
                .subject(user.id)
                .detail("mfa", true),
        );
        let session = self.new_session(&user, context, now, now.plus(self.tokens.refresh_ttl));
        Ok((user, session))
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
