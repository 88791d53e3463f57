//! `RecoveryRepository` on Diesel: single-use password-reset tokens.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::password::PasswordHash;
use tessera_domain::ports::{RecoveryRepository, RevokeSessions};
use tessera_domain::time::UnixTime;
use tessera_domain::token::{HashedToken, SessionId};
use tessera_domain::user::UserId;

use crate::schema::{password_resets, users};
use crate::sessions::revoke_user_sessions;
use crate::Store;

impl RecoveryRepository for Store {
    fn create_reset(
        &self,
        user: UserId,
        digest: &HashedToken,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> anyhow::Result<()> {
        crate::write_tx(&mut *self.conn()?, |conn| {
            diesel::delete(password_resets::table.filter(password_resets::user_id.eq(user.0)))
                .execute(conn)?;
            diesel::insert_into(password_resets::table)
                .values((
                    password_resets::user_id.eq(user.0),
                    password_resets::token_hash.eq(digest.as_str()),
                    password_resets::created_at.eq(now.seconds()),
                    password_resets::expires_at.eq(expires_at.seconds()),
                ))
                .execute(conn)?;
            Ok::<_, DieselError>(())
        })
        .context("cannot store a reset token")
    }

    fn reset_user(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<Option<UserId>> {
        let user: Option<i64> = password_resets::table
            .filter(password_resets::token_hash.eq(digest.as_str()))
            .filter(password_resets::used_at.is_null())
            .filter(password_resets::expires_at.gt(now.seconds()))
            .select(password_resets::user_id)
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot look up a reset token")?;
        Ok(user.map(UserId))
    }

    fn consume_reset(
        &self,
        digest: &HashedToken,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let _changes0 = self.cache.writing(crate::cache::Family::Accounts);
        let _changes1 = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| {
            // The conditional update is the single point where one use wins.
            let user: Option<i64> = diesel::update(
                password_resets::table
                    .filter(password_resets::token_hash.eq(digest.as_str()))
                    .filter(password_resets::used_at.is_null())
                    .filter(password_resets::expires_at.gt(now.seconds())),
            )
            .set(password_resets::used_at.eq(now.seconds()))
            .returning(password_resets::user_id)
            .get_result(conn)
            .optional()?;
            let Some(user) = user else { return Ok(None) };
            diesel::update(users::table.find(user))
                .set((
                    users::password_hash.eq(hash.as_str()),
                    users::updated_at.eq(now.seconds()),
                ))
                .execute(conn)?;
            Ok::<_, DieselError>(Some(revoke_user_sessions(
                conn,
                user,
                RevokeSessions::All,
                "password_reset",
                now,
            )?))
        })
        .context("cannot use a reset token")
    }
}
