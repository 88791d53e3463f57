//! `LockoutRepository` on Diesel: one row of consecutive failures per key, kept past each lock.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::lockout::{Failure, Limit, LockoutKey};
use tessera_domain::ports::LockoutRepository;
use tessera_domain::time::UnixTime;

use crate::schema::login_failures;
use crate::Store;

impl LockoutRepository for Store {
    fn locked_until(&self, key: &LockoutKey, now: UnixTime) -> anyhow::Result<Option<UnixTime>> {
        let until: Option<Option<i64>> = login_failures::table
            .find(key.as_str())
            .select(login_failures::locked_until)
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot read a lockout")?;
        Ok(until.flatten().filter(|u| *u > now.seconds()).map(UnixTime))
    }

    fn record_failure(
        &self,
        key: &LockoutKey,
        now: UnixTime,
        limit: &Limit,
    ) -> anyhow::Result<Failure> {
        // `write_tx` serialises concurrent failures of one key (SQLite's write lock, PostgreSQL's
        // serializable isolation), even from several nodes: exactly one of them reaches the limit.
        crate::write_tx(&mut *self.conn()?, |conn| {
            let row: Option<(i64, Option<i64>, i64)> = login_failures::table
                .find(key.as_str())
                .select((
                    login_failures::failures,
                    login_failures::locked_until,
                    login_failures::updated_at,
                ))
                .first(conn)
                .optional()?;
            let (failures, locked_until, updated_at) = row.unwrap_or((0, None, now.seconds()));
            if let Some(until) = locked_until.filter(|u| *u > now.seconds()) {
                return Ok(Failure::AlreadyLocked {
                    until: UnixTime(until),
                });
            }
            // A key left alone long enough starts afresh; otherwise the count goes on past each
            // lock, so that the next lock lasts longer.
            // Quiet is counted from the end of the last lock, so a long lock does not wipe the
            // count that made it long.
            let quiet_since = updated_at.max(locked_until.unwrap_or(updated_at));
            let failures = if now.seconds() - quiet_since > limit.forget_after_seconds {
                1
            } else {
                u32::try_from(failures)
                    .unwrap_or(u32::MAX)
                    .saturating_add(1)
            };
            let (until, outcome) = match limit.lock_for(failures) {
                Some(seconds) => {
                    let until = now.plus(seconds);
                    (Some(until.seconds()), Failure::Locked { until })
                }
                None => (None, Failure::Counted(failures)),
            };
            let values = (
                login_failures::failures.eq(i64::from(failures)),
                login_failures::locked_until.eq(until),
                login_failures::updated_at.eq(now.seconds()),
            );
            if row.is_some() {
                diesel::update(login_failures::table.find(key.as_str()))
                    .set(values)
                    .execute(conn)?;
            } else {
                diesel::insert_into(login_failures::table)
                    .values((login_failures::key.eq(key.as_str()), values))
                    .execute(conn)?;
            }
            Ok::<_, DieselError>(outcome)
        })
        .context("cannot record a failed login")
    }

    fn clear(&self, key: &LockoutKey) -> anyhow::Result<()> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        diesel::delete(login_failures::table.find(key.as_str()))
            .execute(&mut *conn)
            .context("cannot clear a lockout")?;
        Ok(())
    }

    fn clear_all(&self, key: &LockoutKey) -> anyhow::Result<()> {
        let k = key.as_str();
        let from_anywhere = format!("{k}@%");
        // A key with a LIKE wildcard in it (a typed name) is cleared exactly, never by pattern.
        let pattern_safe = !k.contains(['%', '_', '\\']);
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        if pattern_safe {
            diesel::delete(
                login_failures::table.filter(
                    login_failures::key
                        .eq(k)
                        .or(login_failures::key.like(from_anywhere)),
                ),
            )
            .execute(&mut *conn)
        } else {
            diesel::delete(login_failures::table.find(k)).execute(&mut *conn)
        }
        .context("cannot clear a lockout")?;
        Ok(())
    }
}
