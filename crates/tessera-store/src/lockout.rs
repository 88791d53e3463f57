//! `LockoutRepository` on Diesel: one row of consecutive failures per key.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::lockout::{Failure, LockoutKey, LockoutPolicy};
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
        policy: &LockoutPolicy,
    ) -> anyhow::Result<Failure> {
        // `write_tx` serialises concurrent failures of one key (SQLite's write lock, PostgreSQL's
        // serializable isolation), even from several nodes: exactly one of them reaches the limit.
        crate::write_tx(&mut *self.conn()?, |conn| {
            let row: Option<(i64, Option<i64>)> = login_failures::table
                .find(key.as_str())
                .select((login_failures::failures, login_failures::locked_until))
                .first(conn)
                .optional()?;
            let (failures, locked_until) = row.unwrap_or((0, None));
            if let Some(until) = locked_until.filter(|u| *u > now.seconds()) {
                return Ok(Failure::AlreadyLocked {
                    until: UnixTime(until),
                });
            }
            // A lock that has ended starts the count afresh (the lock reset it to 0).
            let failures = failures + 1;
            let (stored, until, outcome) = if failures >= i64::from(policy.max_failures) {
                let until = now.plus(policy.duration_seconds);
                (0, Some(until.seconds()), Failure::Locked { until })
            } else {
                (
                    failures,
                    None,
                    Failure::Counted(u32::try_from(failures).unwrap_or(u32::MAX)),
                )
            };
            let values = (
                login_failures::failures.eq(stored),
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
        diesel::delete(login_failures::table.find(key.as_str()))
            .execute(&mut *self.conn()?)
            .context("cannot clear a lockout")?;
        Ok(())
    }
}
