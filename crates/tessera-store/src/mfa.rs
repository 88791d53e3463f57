//! `MfaRepository` on Diesel: TOTP secrets with the last accepted step, backup codes, pending logins.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::ports::{MfaRepository, MfaState, RevokeSessions};
use tessera_domain::time::UnixTime;
use tessera_domain::token::{HashedToken, SessionId};
use tessera_domain::user::UserId;

use crate::schema::{backup_codes, mfa_challenges, user_mfa};
use crate::sessions::revoke_user_sessions;
use crate::{AnyConnection, Store};

fn insert_codes(conn: &mut AnyConnection, user: UserId, codes: &[HashedToken]) -> QueryResult<()> {
    diesel::delete(backup_codes::table.filter(backup_codes::user_id.eq(user.0))).execute(conn)?;
    // One statement per row: MultiConnection has no multi-row VALUES.
    for code in codes {
        diesel::insert_into(backup_codes::table)
            .values((
                backup_codes::user_id.eq(user.0),
                backup_codes::code_hash.eq(code.as_str()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

impl MfaRepository for Store {
    fn begin_enrolment(&self, user: UserId, secret: &str, now: UnixTime) -> anyhow::Result<bool> {
        crate::write_tx(&mut *self.conn()?, |conn| {
            let enabled: Option<bool> = user_mfa::table
                .find(user.0)
                .select(user_mfa::enabled)
                .first(conn)
                .optional()?;
            if enabled == Some(true) {
                return Ok(false);
            }
            let values = (
                user_mfa::secret.eq(secret),
                user_mfa::enabled.eq(false),
                user_mfa::last_step.eq(None::<i64>),
                user_mfa::created_at.eq(now.seconds()),
                user_mfa::enabled_at.eq(None::<i64>),
            );
            // Update or insert (not ON CONFLICT, which MultiConnection cannot express); the
            // row was read in this transaction.
            if enabled.is_some() {
                diesel::update(user_mfa::table.find(user.0))
                    .set(values)
                    .execute(conn)?;
            } else {
                diesel::insert_into(user_mfa::table)
                    .values((user_mfa::user_id.eq(user.0), values))
                    .execute(conn)?;
            }
            Ok::<_, DieselError>(true)
        })
        .context("cannot start an MFA enrolment")
    }

    fn mfa_state(&self, user: UserId) -> anyhow::Result<Option<MfaState>> {
        let row: Option<(String, bool, Option<i64>)> = user_mfa::table
            .find(user.0)
            .select((user_mfa::secret, user_mfa::enabled, user_mfa::last_step))
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot read MFA state")?;
        Ok(row.map(|(secret, enabled, last_step)| MfaState {
            secret,
            enabled,
            last_step,
        }))
    }

    fn enable(
        &self,
        user: UserId,
        step: i64,
        backup: &[HashedToken],
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        crate::write_tx(&mut *self.conn()?, |conn| {
            let n = diesel::update(
                user_mfa::table
                    .find(user.0)
                    .filter(user_mfa::enabled.eq(false)),
            )
            .set((
                user_mfa::enabled.eq(true),
                user_mfa::last_step.eq(step),
                user_mfa::enabled_at.eq(now.seconds()),
            ))
            .execute(conn)?;
            if n == 0 {
                return Ok(false);
            }
            insert_codes(conn, user, backup)?;
            Ok::<_, DieselError>(true)
        })
        .context("cannot enable MFA")
    }

    fn accept_step(&self, user: UserId, step: i64) -> anyhow::Result<bool> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        // One conditional update: the step must be later than any accepted before.
        let n = diesel::update(
            user_mfa::table
                .find(user.0)
                .filter(user_mfa::enabled.eq(true))
                .filter(
                    user_mfa::last_step
                        .is_null()
                        .or(user_mfa::last_step.lt(step)),
                ),
        )
        .set(user_mfa::last_step.eq(step))
        .execute(&mut *conn)
        .context("cannot accept a TOTP code")?;
        Ok(n > 0)
    }

    fn use_backup_code(
        &self,
        user: UserId,
        digest: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let id: Option<i64> = backup_codes::table
            .filter(backup_codes::user_id.eq(user.0))
            .filter(backup_codes::code_hash.eq(digest.as_str()))
            .filter(backup_codes::used_at.is_null())
            .select(backup_codes::id)
            .first(&mut conn)
            .optional()
            .context("cannot look up a backup code")?;
        let Some(id) = id else { return Ok(false) };
        let n = diesel::update(
            backup_codes::table
                .find(id)
                .filter(backup_codes::used_at.is_null()),
        )
        .set(backup_codes::used_at.eq(now.seconds()))
        .execute(&mut conn)
        .context("cannot use a backup code")?;
        Ok(n > 0)
    }

    fn remaining_backup_codes(&self, user: UserId) -> anyhow::Result<u32> {
        let n: i64 = backup_codes::table
            .filter(backup_codes::user_id.eq(user.0))
            .filter(backup_codes::used_at.is_null())
            .count()
            .get_result(&mut *self.conn()?)
            .context("cannot count backup codes")?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    fn replace_backup_codes(&self, user: UserId, backup: &[HashedToken]) -> anyhow::Result<()> {
        crate::write_tx(&mut *self.conn()?, |conn| insert_codes(conn, user, backup))
            .context("cannot replace backup codes")
    }

    fn disable(
        &self,
        user: UserId,
        revoke: RevokeSessions,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>> {
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| {
            diesel::delete(user_mfa::table.find(user.0)).execute(conn)?;
            diesel::delete(backup_codes::table.filter(backup_codes::user_id.eq(user.0)))
                .execute(conn)?;
            diesel::delete(mfa_challenges::table.filter(mfa_challenges::user_id.eq(user.0)))
                .execute(conn)?;
            revoke_user_sessions(conn, user.0, revoke, "mfa_reset", now)
        })
        .context("cannot disable MFA")
    }

    fn create_challenge(
        &self,
        user: UserId,
        digest: &HashedToken,
        expires_at: UnixTime,
    ) -> anyhow::Result<()> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        diesel::insert_into(mfa_challenges::table)
            .values((
                mfa_challenges::user_id.eq(user.0),
                mfa_challenges::token_hash.eq(digest.as_str()),
                mfa_challenges::expires_at.eq(expires_at.seconds()),
            ))
            .execute(&mut *conn)
            .context("cannot store a pending MFA login")?;
        Ok(())
    }

    fn challenge_user(
        &self,
        digest: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<Option<UserId>> {
        let user: Option<i64> = mfa_challenges::table
            .filter(mfa_challenges::token_hash.eq(digest.as_str()))
            .filter(mfa_challenges::used_at.is_null())
            .filter(mfa_challenges::expires_at.gt(now.seconds()))
            .select(mfa_challenges::user_id)
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot read a pending MFA login")?;
        Ok(user.map(UserId))
    }

    fn consume_challenge(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<bool> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let n = diesel::update(
            mfa_challenges::table
                .filter(mfa_challenges::token_hash.eq(digest.as_str()))
                .filter(mfa_challenges::used_at.is_null())
                .filter(mfa_challenges::expires_at.gt(now.seconds())),
        )
        .set(mfa_challenges::used_at.eq(now.seconds()))
        .execute(&mut *conn)
        .context("cannot use a pending MFA login")?;
        Ok(n > 0)
    }
}
