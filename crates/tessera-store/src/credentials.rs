//! `CredentialRepository` on Diesel: API keys, opaque access tokens, service tokens, and the
//! clean-up of expired rows.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::access::{Entry, Kind};
use tessera_domain::credentials::{ApiKey, NewApiKey};
use tessera_domain::error::UserError;
use tessera_domain::ports::{
    AccessRepository, CredentialRepository, Extension, NewSession, OpaqueRecord,
};
use tessera_domain::time::UnixTime;
use tessera_domain::token::{HashedToken, SessionId};
use tessera_domain::user::{Role, User, UserId};

use crate::schema::{
    api_keys, authorization_codes, mfa_challenges, opaque_tokens, password_resets, service_tokens,
    services, session_revocations, sessions, users,
};
use crate::sessions::{end_session, insert_session};
use crate::users::load_user;
use crate::Store;

/// Id, user id, name, prefix, scopes, created at, expires at, last used at.
type KeyRow = (
    i64,
    i64,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

macro_rules! key_columns {
    () => {
        (
            api_keys::id,
            api_keys::user_id,
            api_keys::name,
            api_keys::prefix,
            api_keys::scopes,
            api_keys::created_at,
            api_keys::expires_at,
            api_keys::last_used_at,
        )
    };
}

fn api_key(
    (id, user, name, prefix, scopes, created, expires, used): KeyRow,
) -> anyhow::Result<ApiKey> {
    let scopes = scopes
        .split_whitespace()
        .map(Role::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| anyhow::anyhow!("stored API key {id} has an invalid scope"))?;
    Ok(ApiKey {
        id,
        user_id: UserId(user),
        name,
        prefix,
        scopes,
        created_at: UnixTime(created),
        expires_at: expires.map(UnixTime),
        last_used_at: used.map(UnixTime),
    })
}

/// Token id, session id, user id, session revoked at, session expires at, token expires at,
/// session created at, session last used at, token lifetime, session authentication methods.
type OpaqueRow = (
    i64,
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);

impl Store {
    fn load_api_key(&self, digest: &HashedToken) -> anyhow::Result<Option<(ApiKey, User)>> {
        let mut conn = self.conn()?;
        let row: Option<KeyRow> = api_keys::table
            .filter(api_keys::key_hash.eq(digest.as_str()))
            .select(key_columns!())
            .first(&mut conn)
            .optional()
            .context("cannot look up an API key")?;
        let Some(row) = row else { return Ok(None) };
        let key = api_key(row)?;
        Ok(load_user(&mut conn, key.user_id.0)?.map(|(user, _)| (key, user)))
    }

    fn load_opaque(&self, digest: &HashedToken) -> anyhow::Result<Option<OpaqueRecord>> {
        let row: Option<OpaqueRow> = opaque_tokens::table
            .inner_join(sessions::table)
            .filter(opaque_tokens::token_hash.eq(digest.as_str()))
            .select((
                opaque_tokens::id,
                opaque_tokens::session_id,
                sessions::user_id,
                sessions::revoked_at,
                sessions::expires_at,
                opaque_tokens::expires_at,
                sessions::created_at,
                sessions::last_used_at,
                opaque_tokens::ttl,
                sessions::amr,
            ))
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot look up an opaque token")?;
        Ok(row.map(
            |(
                token_id,
                session,
                user,
                revoked,
                session_expires,
                expires,
                created,
                used,
                ttl,
                amr,
            )| {
                OpaqueRecord {
                    token_id,
                    session_id: SessionId(session),
                    user_id: UserId(user),
                    session_revoked: revoked.is_some(),
                    session_created_at: UnixTime(created),
                    session_last_used_at: UnixTime(used),
                    session_expires_at: UnixTime(session_expires),
                    expires_at: UnixTime(expires),
                    ttl,
                    amr,
                }
            },
        ))
    }
}

impl CredentialRepository for Store {
    fn create_api_key(&self, new: &NewApiKey, digest: &HashedToken) -> Result<ApiKey, UserError> {
        let scopes = new
            .scopes
            .iter()
            .map(Role::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        let row: Option<KeyRow> = crate::write_tx(&mut *self.conn()?, |conn| {
            let owner: Option<i64> = users::table
                .find(new.user_id.0)
                .select(users::id)
                .first(conn)
                .optional()?;
            if owner.is_none() {
                return Ok(None);
            }
            diesel::insert_into(api_keys::table)
                .values((
                    api_keys::user_id.eq(new.user_id.0),
                    api_keys::name.eq(&new.name),
                    api_keys::prefix.eq(&new.prefix),
                    api_keys::key_hash.eq(digest.as_str()),
                    api_keys::scopes.eq(&scopes),
                    api_keys::created_at.eq(new.created_at.seconds()),
                    api_keys::expires_at.eq(new.expires_at.map(UnixTime::seconds)),
                ))
                .returning(key_columns!())
                .get_result(conn)
                .map(Some)
        })
        .map_err(|e: DieselError| crate::db_error(e, "cannot create an API key"))?;
        Ok(api_key(row.ok_or(UserError::NotFound)?)?)
    }

    fn get_api_key(&self, id: i64) -> anyhow::Result<Option<ApiKey>> {
        let row: Option<KeyRow> = api_keys::table
            .find(id)
            .select(key_columns!())
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot read an API key")?;
        row.map(api_key).transpose()
    }

    fn list_api_keys(&self, user: UserId) -> anyhow::Result<Vec<ApiKey>> {
        let rows: Vec<KeyRow> = api_keys::table
            .filter(api_keys::user_id.eq(user.0))
            .order(api_keys::id.asc())
            .select(key_columns!())
            .load(&mut *self.conn()?)
            .context("cannot list API keys")?;
        rows.into_iter().map(api_key).collect()
    }

    fn delete_api_key(&self, id: i64, now: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>> {
        let _changes0 = self.cache.writing(crate::cache::Family::Accounts);
        let _changes1 = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| delete_key(conn, id, now))
            .context("cannot delete an API key")
    }

    fn find_api_key(&self, digest: &HashedToken) -> anyhow::Result<Option<(ApiKey, User)>> {
        let cache = &self.cache;
        cache.read(&cache.api_keys, digest.clone(), || {
            self.load_api_key(digest)
        })
    }

    fn find_opaque(&self, digest: &HashedToken) -> anyhow::Result<Option<OpaqueRecord>> {
        let cache = &self.cache;
        cache.read(&cache.opaque, digest.clone(), || self.load_opaque(digest))
    }

    fn record_api_key_use(&self, uses: &[(i64, UnixTime)]) -> anyhow::Result<()> {
        crate::write_tx(&mut *self.conn()?, |conn| {
            for (id, at) in uses {
                diesel::update(
                    api_keys::table.find(id).filter(
                        api_keys::last_used_at
                            .is_null()
                            .or(api_keys::last_used_at.lt(at.seconds())),
                    ),
                )
                .set(api_keys::last_used_at.eq(at.seconds()))
                .execute(conn)?;
            }
            Ok::<_, DieselError>(())
        })
        .context("cannot record API key use")
    }

    fn create_key_session(&self, new: &NewSession, api_key: i64) -> anyhow::Result<SessionId> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let id =
            insert_session(&mut conn, new, Some(api_key)).context("cannot create a session")?;
        Ok(SessionId(id))
    }

    fn create_opaque_session(
        &self,
        new: &NewSession,
        token: &HashedToken,
        ttl: i64,
    ) -> anyhow::Result<SessionId> {
        crate::write_tx(&mut *self.conn()?, |conn| {
            let id = insert_session(conn, new, None)?;
            diesel::insert_into(opaque_tokens::table)
                .values((
                    opaque_tokens::session_id.eq(id),
                    opaque_tokens::token_hash.eq(token.as_str()),
                    opaque_tokens::created_at.eq(new.created_at.seconds()),
                    opaque_tokens::expires_at.eq(new
                        .created_at
                        .plus(ttl)
                        .min(new.expires_at)
                        .seconds()),
                    opaque_tokens::ttl.eq(ttl),
                ))
                .execute(conn)?;
            Ok::<_, DieselError>(SessionId(id))
        })
        .context("cannot create an opaque token")
    }

    fn extend_opaque(
        &self,
        id: i64,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> anyhow::Result<Extension> {
        // The generation moves on only once a connection is in hand: a memory-only attempt that
        // reaches a renewal is refused before, and must not empty the cache on its way out.
        let mut conn = self.conn()?;
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut conn, |conn| {
            let n = diesel::update(
                opaque_tokens::table
                    .find(id)
                    .filter(opaque_tokens::expires_at.eq(from.seconds())),
            )
            .set(opaque_tokens::expires_at.eq(to.seconds()))
            .execute(conn)?;
            if n > 0 {
                // A renewal is a use of the session, for its idle timeout.
                let session: i64 = opaque_tokens::table
                    .find(id)
                    .select(opaque_tokens::session_id)
                    .first(conn)?;
                diesel::update(sessions::table.find(session))
                    .set(sessions::last_used_at.eq(now.seconds()))
                    .execute(conn)?;
                return Ok(Extension::Extended);
            }
            let now_at: Option<i64> = opaque_tokens::table
                .find(id)
                .select(opaque_tokens::expires_at)
                .first(conn)
                .optional()?;
            Ok::<_, DieselError>(
                now_at.map_or(Extension::Gone, |t| Extension::AlreadyAt(UnixTime(t))),
            )
        })
        .context("cannot extend an opaque token")
    }

    fn create_service_token(
        &self,
        service: i64,
        digest: &HashedToken,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), UserError> {
        // A new row: no cached read can have returned it, and unknown digests are never cached.
        let created = crate::write_tx(&mut *self.conn()?, |conn| {
            let found: Option<i64> = services::table
                .find(service)
                .select(services::id)
                .first(conn)
                .optional()?;
            if found.is_none() {
                return Ok(false);
            }
            diesel::insert_into(service_tokens::table)
                .values((
                    service_tokens::service_id.eq(service),
                    service_tokens::token_hash.eq(digest.as_str()),
                    service_tokens::created_at.eq(created_at.seconds()),
                    service_tokens::expires_at.eq(expires_at.seconds()),
                ))
                .execute(conn)?;
            Ok::<_, DieselError>(true)
        })
        .map_err(|e: DieselError| crate::db_error(e, "cannot create a service token"))?;
        if created {
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    fn find_service_token(
        &self,
        digest: &HashedToken,
    ) -> anyhow::Result<Option<(UnixTime, Entry)>> {
        let cache = &self.cache;
        let token = cache.read(&cache.service_tokens, digest.clone(), || {
            let row: Option<(i64, i64)> = service_tokens::table
                .filter(service_tokens::token_hash.eq(digest.as_str()))
                .select((service_tokens::service_id, service_tokens::expires_at))
                .first(&mut *self.conn()?)
                .optional()
                .context("cannot look up a service token")?;
            Ok(row)
        })?;
        let Some((service, expires_at)) = token else {
            return Ok(None);
        };
        // The service as it is now, from its own cache: disabling or deleting it on this node
        // shows at once, even while the token's row is still cached.
        let service = AccessRepository::get_entry(self, Kind::Service, service)?;
        Ok(service.map(|s| (UnixTime(expires_at), s)))
    }

    fn prune_expired(
        &self,
        now: UnixTime,
        ended_before: UnixTime,
        batch: u32,
    ) -> anyhow::Result<u64> {
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        let limit = i64::from(batch);
        let cutoff = ended_before.seconds();
        crate::write_tx(&mut *self.conn()?, |conn| {
            // Ids first, then the delete: each batch is bounded and short.
            let ids: Vec<i64> = opaque_tokens::table
                .filter(opaque_tokens::expires_at.lt(now.seconds()))
                .select(opaque_tokens::id)
                .limit(limit)
                .load(conn)?;
            let tokens =
                diesel::delete(opaque_tokens::table.filter(opaque_tokens::id.eq_any(&ids)))
                    .execute(conn)?;
            let ids: Vec<i64> = service_tokens::table
                .filter(service_tokens::expires_at.lt(now.seconds()))
                .select(service_tokens::id)
                .limit(limit)
                .load(conn)?;
            let service_tokens_gone =
                diesel::delete(service_tokens::table.filter(service_tokens::id.eq_any(&ids)))
                    .execute(conn)?;
            // Refresh and opaque tokens of these sessions go with them (ON DELETE CASCADE).
            let ids: Vec<i64> = sessions::table
                .filter(
                    sessions::expires_at
                        .lt(cutoff)
                        .or(sessions::revoked_at.lt(cutoff)),
                )
                .select(sessions::id)
                .limit(limit)
                .load(conn)?;
            let ended =
                diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(conn)?;
            let ids: Vec<i64> = session_revocations::table
                .filter(session_revocations::revoked_at.lt(cutoff))
                .select(session_revocations::id)
                .limit(limit)
                .load(conn)?;
            let revocations = diesel::delete(
                session_revocations::table.filter(session_revocations::id.eq_any(&ids)),
            )
            .execute(conn)?;
            let ids: Vec<i64> = password_resets::table
                .filter(password_resets::expires_at.lt(now.seconds()))
                .select(password_resets::id)
                .limit(limit)
                .load(conn)?;
            let resets =
                diesel::delete(password_resets::table.filter(password_resets::id.eq_any(&ids)))
                    .execute(conn)?;
            let ids: Vec<i64> = mfa_challenges::table
                .filter(mfa_challenges::expires_at.lt(now.seconds()))
                .select(mfa_challenges::id)
                .limit(limit)
                .load(conn)?;
            let challenges =
                diesel::delete(mfa_challenges::table.filter(mfa_challenges::id.eq_any(&ids)))
                    .execute(conn)?;
            // Kept as long after their expiry as an access token lives, so that a replay can
            // still revoke what the code's first use opened.
            let ids: Vec<i64> = authorization_codes::table
                .filter(authorization_codes::expires_at.lt(cutoff))
                .select(authorization_codes::id)
                .limit(limit)
                .load(conn)?;
            let codes = diesel::delete(
                authorization_codes::table.filter(authorization_codes::id.eq_any(&ids)),
            )
            .execute(conn)?;
            let rows =
                tokens + service_tokens_gone + ended + revocations + resets + challenges + codes;
            Ok::<_, DieselError>(rows as u64)
        })
        .context("cannot prune expired credentials")
    }
}

/// Deletes an API key and ends the live sessions opened with it; `None` for an unknown key.
pub(crate) fn delete_key(
    conn: &mut crate::AnyConnection,
    id: i64,
    now: UnixTime,
) -> Result<Option<Vec<SessionId>>, DieselError> {
    let n = diesel::delete(api_keys::table.find(id)).execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    let opened: Vec<i64> = sessions::table
        .filter(sessions::api_key_id.eq(id))
        .filter(sessions::revoked_at.is_null())
        .select(sessions::id)
        .load(conn)?;
    for s in &opened {
        end_session(conn, *s, "api_key_deleted", now)?;
    }
    Ok(Some(opened.into_iter().map(SessionId).collect()))
}
