//! `SessionRepository` on Diesel: sessions, refresh tokens and the revocation list.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::ports::{
    NewSession, RefreshRecord, RevokeSessions, Rotation, SessionDirectory, SessionInfo,
    SessionRepository,
};
use tessera_domain::time::UnixTime;
use tessera_domain::token::{HashedToken, SessionId};
use tessera_domain::user::UserId;

use crate::rows::{NewRefreshRow, NewSessionRow};
use crate::schema::{refresh_tokens, session_revocations, sessions};
use crate::{AnyConnection, Store};

/// Token id, session id, user id, session revoked at, expires at, rotated at, session created at,
/// session last used at, session scope, session client.
type RefreshRow = (
    i64,
    i64,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
    i64,
    i64,
    Option<String>,
    Option<String>,
);

/// Ends the live sessions of `user` that `scope` names and appends them to the revocation list.
/// Runs inside the caller's transaction.
pub(crate) fn revoke_user_sessions(
    conn: &mut AnyConnection,
    user: i64,
    scope: RevokeSessions,
    reason: &str,
    now: UnixTime,
) -> QueryResult<Vec<SessionId>> {
    let except = match scope {
        RevokeSessions::None => return Ok(vec![]),
        RevokeSessions::All => -1,
        RevokeSessions::AllExcept(keep) => keep.0,
    };
    let ids: Vec<i64> = sessions::table
        .filter(sessions::user_id.eq(user))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::id.ne(except))
        .select(sessions::id)
        .load(conn)?;
    for id in &ids {
        end_session(conn, *id, reason, now)?;
    }
    Ok(ids.into_iter().map(SessionId).collect())
}

/// Inserts a session (opened for `api_key` when given) and returns its id.
pub(crate) fn insert_session(
    conn: &mut AnyConnection,
    new: &NewSession,
    api_key: Option<i64>,
) -> QueryResult<i64> {
    diesel::insert_into(sessions::table)
        .values(NewSessionRow {
            user_id: new.user_id.0,
            created_at: new.created_at.seconds(),
            last_used_at: new.created_at.seconds(),
            expires_at: new.expires_at.seconds(),
            ip: new.ip.as_deref(),
            user_agent: new.user_agent.as_deref(),
            api_key_id: api_key,
            scope: new.scope.as_deref(),
            amr: new.amr.as_deref(),
            client_id: new.client_id.as_deref(),
            sso_session_id: new.sso_session_id.map(|s| s.0),
        })
        .returning(sessions::id)
        .get_result(conn)
}

/// Marks one session revoked and records it; false if it had already ended.
pub(crate) fn end_session(
    conn: &mut AnyConnection,
    id: i64,
    reason: &str,
    now: UnixTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set((
        sessions::revoked_at.eq(now.seconds()),
        sessions::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    if n > 0 {
        diesel::insert_into(session_revocations::table)
            .values((
                session_revocations::session_id.eq(id),
                session_revocations::revoked_at.eq(now.seconds()),
            ))
            .execute(conn)?;
    }
    Ok(n > 0)
}

impl SessionRepository for Store {
    fn create_session(&self, new: &NewSession, refresh: &HashedToken) -> anyhow::Result<SessionId> {
        let mut conn = self.conn()?;
        crate::write_tx(&mut conn, |conn| {
            let id = insert_session(conn, new, None)?;
            diesel::insert_into(refresh_tokens::table)
                .values(NewRefreshRow {
                    session_id: id,
                    token_hash: refresh.as_str(),
                    created_at: new.created_at.seconds(),
                    expires_at: new.expires_at.seconds(),
                })
                .execute(conn)?;
            Ok::<_, DieselError>(SessionId(id))
        })
        .context("cannot create a session")
    }

    fn find_refresh(&self, digest: &HashedToken) -> anyhow::Result<Option<RefreshRecord>> {
        let row: Option<RefreshRow> = refresh_tokens::table
            .inner_join(sessions::table)
            .filter(refresh_tokens::token_hash.eq(digest.as_str()))
            .select((
                refresh_tokens::id,
                refresh_tokens::session_id,
                sessions::user_id,
                sessions::revoked_at,
                refresh_tokens::expires_at,
                refresh_tokens::rotated_at,
                sessions::created_at,
                sessions::last_used_at,
                sessions::scope,
                sessions::client_id,
            ))
            .first(&mut self.conn()?)
            .optional()
            .context("cannot look up a refresh token")?;
        Ok(row.map(
            |(token_id, sid, uid, revoked, exp, rotated, created, used, scope, client_id)| {
                RefreshRecord {
                    token_id,
                    session_id: SessionId(sid),
                    user_id: UserId(uid),
                    session_revoked: revoked.is_some(),
                    session_created_at: UnixTime(created),
                    session_last_used_at: UnixTime(used),
                    expires_at: UnixTime(exp),
                    rotated_at: rotated.map(UnixTime),
                    scope,
                    client_id,
                }
            },
        ))
    }

    fn rotate_refresh(
        &self,
        token_id: i64,
        successor: &HashedToken,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> anyhow::Result<Rotation> {
        // No cached read changes: only sessions with a refresh token rotate, and cached opaque
        // tokens belong to sessions without one. (Were one to have both, its cached record would
        // only show the session's older use and expiry: stricter, never looser.) A refresh load
        // therefore keeps the opaque-token cache.
        let mut conn = self.conn()?;
        crate::write_tx(&mut conn, |conn| {
            let won = diesel::update(
                refresh_tokens::table
                    .find(token_id)
                    .filter(refresh_tokens::rotated_at.is_null()),
            )
            .set(refresh_tokens::rotated_at.eq(now.seconds()))
            .execute(conn)?;
            let (session_id, rotated_at): (i64, Option<i64>) = refresh_tokens::table
                .find(token_id)
                .select((refresh_tokens::session_id, refresh_tokens::rotated_at))
                .first(conn)?;
            if won == 0 {
                return Ok(Rotation::AlreadyRotated {
                    at: UnixTime(rotated_at.unwrap_or(now.seconds())),
                });
            }
            diesel::insert_into(refresh_tokens::table)
                .values(NewRefreshRow {
                    session_id,
                    token_hash: successor.as_str(),
                    created_at: now.seconds(),
                    expires_at: expires_at.seconds(),
                })
                .execute(conn)?;
            diesel::update(sessions::table.find(session_id))
                .set((
                    sessions::last_used_at.eq(now.seconds()),
                    sessions::expires_at.eq(expires_at.seconds()),
                ))
                .execute(conn)?;
            Ok::<_, DieselError>(Rotation::Rotated)
        })
        .context("cannot rotate a refresh token")
    }

    fn revoke_session(&self, id: SessionId, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        let mut conn = self.conn()?;
        crate::write_tx(&mut conn, |conn| end_session(conn, id.0, reason, now))
            .context("cannot revoke a session")
    }

    fn end_sign_in(
        &self,
        sso: SessionId,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>> {
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| {
            let mut ended = Vec::new();
            if end_session(conn, sso.0, reason, now)? {
                ended.push(sso);
            }
            let bound: Vec<i64> = sessions::table
                .filter(sessions::sso_session_id.eq(sso.0))
                .filter(sessions::revoked_at.is_null())
                .order(sessions::id.asc())
                .select(sessions::id)
                .load(conn)?;
            for id in bound {
                if end_session(conn, id, reason, now)? {
                    ended.push(SessionId(id));
                }
            }
            Ok::<_, DieselError>(ended)
        })
        .context("cannot end a sign-in")
    }

    fn touch_session(&self, id: SessionId, now: UnixTime) -> anyhow::Result<()> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        diesel::update(sessions::table.find(id.0))
            .set(sessions::last_used_at.eq(now.seconds()))
            .execute(&mut *conn)
            .context("cannot update a session")?;
        Ok(())
    }

    fn revocations_since(&self, since: UnixTime) -> anyhow::Result<Vec<(SessionId, UnixTime)>> {
        let rows: Vec<(i64, i64)> = session_revocations::table
            .filter(session_revocations::revoked_at.ge(since.seconds()))
            .order(session_revocations::id.asc())
            .select((
                session_revocations::session_id,
                session_revocations::revoked_at,
            ))
            .load(&mut self.conn()?)
            .context("cannot read revocations")?;
        Ok(rows
            .into_iter()
            .map(|(s, at)| (SessionId(s), UnixTime(at)))
            .collect())
    }
}

/// Id, user id, created at, last used at, expires at, IP, user agent, API key id.
type SessionRow = (
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

macro_rules! session_columns {
    () => {
        (
            sessions::id,
            sessions::user_id,
            sessions::created_at,
            sessions::last_used_at,
            sessions::expires_at,
            sessions::ip,
            sessions::user_agent,
            sessions::api_key_id,
            sessions::client_id,
        )
    };
}

fn session_info(
    (id, user, created, used, expires, ip, user_agent, key, client_id): SessionRow,
) -> SessionInfo {
    SessionInfo {
        id: SessionId(id),
        user_id: UserId(user),
        created_at: UnixTime(created),
        last_used_at: UnixTime(used),
        expires_at: UnixTime(expires),
        ip,
        user_agent,
        api_key: key.is_some(),
        client_id,
    }
}

impl SessionDirectory for Store {
    fn count_live(&self, now: UnixTime) -> anyhow::Result<u64> {
        let n: i64 = sessions::table
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now.seconds()))
            .count()
            .get_result(&mut self.conn()?)
            .context("cannot count sessions")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn live_sessions(&self, user: UserId, now: UnixTime) -> anyhow::Result<Vec<SessionInfo>> {
        let rows: Vec<SessionRow> = sessions::table
            .filter(sessions::user_id.eq(user.0))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(now.seconds()))
            .order(sessions::id.asc())
            .select(session_columns!())
            .load(&mut self.conn()?)
            .context("cannot list sessions")?;
        Ok(rows.into_iter().map(session_info).collect())
    }

    fn session(&self, id: SessionId) -> anyhow::Result<Option<SessionInfo>> {
        let row: Option<SessionRow> = sessions::table
            .find(id.0)
            .select(session_columns!())
            .first(&mut self.conn()?)
            .optional()
            .context("cannot read a session")?;
        Ok(row.map(session_info))
    }

    fn revoke_sessions_of(
        &self,
        user: UserId,
        scope: RevokeSessions,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>> {
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| {
            revoke_user_sessions(conn, user.0, scope, reason, now)
        })
        .context("cannot end sessions")
    }
}
