//! `AuditLog` on Diesel: an append-only table, read with filters and pruned by age.

use crate::Context as _;
use diesel::prelude::*;
use tessera_domain::audit::{AuditEntry, AuditQuery, AuditRecord, Event, Outcome, RequestContext};
use tessera_domain::ports::AuditLog;
use tessera_domain::time::UnixTime;
use tessera_domain::user::UserId;

use crate::schema::audit_log;
use crate::Store;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
struct AuditRow {
    id: i64,
    at: i64,
    event: String,
    outcome: String,
    actor_id: Option<i64>,
    subject_id: Option<i64>,
    target: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    details: String,
}

impl AuditRow {
    fn into_record(self) -> anyhow::Result<AuditRecord> {
        let bad = |what: &str| anyhow::anyhow!("audit entry {} has an invalid {what}", self.id);
        let details: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&self.details).map_err(|_| bad("details"))?;
        Ok(AuditRecord {
            id: self.id,
            entry: AuditEntry {
                at: UnixTime(self.at),
                event: Event::parse(&self.event).ok_or_else(|| bad("event"))?,
                outcome: Outcome::parse(&self.outcome).ok_or_else(|| bad("outcome"))?,
                actor: self.actor_id.map(UserId),
                subject: self.subject_id.map(UserId),
                target: self.target,
                context: RequestContext {
                    ip: self.ip,
                    user_agent: self.user_agent,
                    request_id: self.request_id,
                },
                details: details
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                    .collect(),
            },
        })
    }
}

impl AuditLog for Store {
    fn append(&self, e: &AuditEntry) -> anyhow::Result<()> {
        let details: serde_json::Map<String, serde_json::Value> = e
            .details
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::at.eq(e.at.seconds()),
                audit_log::event.eq(e.event.as_str()),
                audit_log::outcome.eq(e.outcome.as_str()),
                audit_log::actor_id.eq(e.actor.map(|u| u.0)),
                audit_log::subject_id.eq(e.subject.map(|u| u.0)),
                audit_log::target.eq(e.target.as_deref()),
                audit_log::ip.eq(e.context.ip.as_deref()),
                audit_log::user_agent.eq(e.context.user_agent.as_deref()),
                audit_log::request_id.eq(e.context.request_id.as_deref()),
                audit_log::details.eq(serde_json::Value::Object(details).to_string()),
            ))
            .execute(&mut *conn)
            .context("cannot append to the audit log")?;
        Ok(())
    }

    fn query(&self, q: &AuditQuery) -> anyhow::Result<Vec<AuditRecord>> {
        let mut query = audit_log::table
            .select(AuditRow::as_select())
            .limit(i64::from(q.limit))
            .into_boxed();
        query = if q.newest_first {
            let newest = query.order(audit_log::id.desc());
            match q.after {
                Some(after) => newest.filter(audit_log::id.lt(after)),
                None => newest,
            }
        } else {
            query
                .order(audit_log::id.asc())
                .filter(audit_log::id.gt(q.after.unwrap_or(0)))
        };
        if let Some(subject) = q.subject {
            query = query.filter(audit_log::subject_id.eq(subject.0));
        }
        if !q.events.is_empty() {
            let names: Vec<&str> = q.events.iter().map(|e| e.as_str()).collect();
            query = query.filter(audit_log::event.eq_any(names));
        }
        if let Some(user) = q.user_id {
            query = query.filter(
                audit_log::actor_id
                    .eq(user.0)
                    .or(audit_log::subject_id.eq(user.0)),
            );
        }
        if let Some(event) = q.event {
            query = query.filter(audit_log::event.eq(event.as_str()));
        }
        if let Some(outcome) = q.outcome {
            query = query.filter(audit_log::outcome.eq(outcome.as_str()));
        }
        if let Some(since) = q.since {
            query = query.filter(audit_log::at.ge(since.seconds()));
        }
        if let Some(until) = q.until {
            query = query.filter(audit_log::at.lt(until.seconds()));
        }
        let rows: Vec<AuditRow> = query
            .load(&mut *self.conn()?)
            .context("cannot read the audit log")?;
        rows.into_iter().map(AuditRow::into_record).collect()
    }

    fn prune(&self, before: UnixTime, batch: u32) -> anyhow::Result<u64> {
        let mut conn = self.conn()?;
        let ids: Vec<i64> = audit_log::table
            .filter(audit_log::at.lt(before.seconds()))
            .select(audit_log::id)
            .order(audit_log::id.asc())
            .limit(i64::from(batch))
            .load(&mut conn)
            .context("cannot read the audit log")?;
        let n = diesel::delete(audit_log::table.filter(audit_log::id.eq_any(&ids)))
            .execute(&mut conn)
            .context("cannot prune the audit log")?;
        Ok(n as u64)
    }
}
