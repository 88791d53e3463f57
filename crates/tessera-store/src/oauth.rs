//! `ClientRepository`, `AuthorizationCodes` and `ConsentRepository` on Diesel: OpenID Connect
//! clients, single-use authorization codes, and users' consents. None of these tables is cached: a
//! code is read once, by the write that uses it, and a consent by the authorization that may ask
//! for it. Deleting a client, and revoking a consent, end the sessions opened for the client,
//! which the cache does hold (opaque tokens' sessions), so those writes declare it.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::error::UserError;
use tessera_domain::oauth::{merged_scope, AuthMethod, Consent, NewClient, OAuthClient};
use tessera_domain::ports::{
    AuthorizationCodes, ClientRepository, CodeRecord, ConsentRepository, NewCode, Redeemed,
};
use tessera_domain::time::UnixTime;
use tessera_domain::token::{HashedToken, SessionId};
use tessera_domain::user::{TenantId, UserId};

use crate::rows::{ClientRow, CodeRow, NewClientRow, NewCodeRow};
use crate::schema::{authorization_codes, consents, oauth_clients, sessions};
use crate::sessions::end_session;
use crate::{AnyConnection, Store};

/// Redirect URIs are stored one a line: a valid URI holds no line break.
const URI_SEPARATOR: &str = "\n";

fn client(row: ClientRow) -> anyhow::Result<OAuthClient> {
    let auth_method = AuthMethod::parse(&row.token_endpoint_auth_method).ok_or_else(|| {
        anyhow::anyhow!(
            "stored client {} has an unknown token_endpoint_auth_method",
            row.id
        )
    })?;
    let lines = |text: &str| -> Vec<String> { text.lines().map(str::to_owned).collect() };
    let words =
        |text: &str| -> Vec<String> { text.split_whitespace().map(str::to_owned).collect() };
    Ok(OAuthClient {
        id: row.id,
        auth_method,
        redirect_uris: lines(&row.redirect_uris),
        post_logout_redirect_uris: lines(&row.post_logout_redirect_uris),
        grant_types: words(&row.grant_types),
        response_types: words(&row.response_types),
        client_id: row.client_id,
        tenant_id: row.tenant_id.map(TenantId),
        client_name: row.client_name,
        secret: row.secret_hash.map(HashedToken::from_hex),
        scope: row.scope,
        first_party: row.first_party,
        created_at: UnixTime(row.created_at),
        updated_at: UnixTime(row.updated_at),
    })
}

fn record(row: CodeRow) -> CodeRecord {
    CodeRecord {
        id: row.id,
        client_pk: row.client_pk,
        user_id: UserId(row.user_id),
        sso_session_id: row.sso_session_id.map(SessionId),
        redirect_uri: row.redirect_uri,
        scope: row.scope,
        nonce: row.nonce,
        code_challenge: row.code_challenge,
        auth_time: UnixTime(row.auth_time),
        amr: row.amr,
        created_at: UnixTime(row.created_at),
        expires_at: UnixTime(row.expires_at),
    }
}

/// Deletes client `client_pk` (its codes and consents go by `ON DELETE CASCADE`) and ends the
/// live sessions opened for it; `None` for an unknown client. Runs inside the caller's transaction.
fn remove_client(
    conn: &mut AnyConnection,
    client_pk: i64,
    now: UnixTime,
) -> QueryResult<Option<Vec<SessionId>>> {
    let client_id: Option<String> = oauth_clients::table
        .find(client_pk)
        .select(oauth_clients::client_id)
        .first(conn)
        .optional()?;
    let Some(client_id) = client_id else {
        return Ok(None);
    };
    diesel::delete(oauth_clients::table.find(client_pk)).execute(conn)?;
    let opened: Vec<i64> = sessions::table
        .filter(sessions::client_id.eq(client_id.as_str()))
        .filter(sessions::revoked_at.is_null())
        .select(sessions::id)
        .load(conn)?;
    for id in &opened {
        end_session(conn, *id, "client_deleted", now)?;
    }
    Ok(Some(opened.into_iter().map(SessionId).collect()))
}

/// A consent as read with its client: (user, client row id, scope, created, updated), then the
/// client's `client_id` and `client_name`.
type ConsentColumns = (i64, i64, String, i64, i64, String, String);

fn consent(row: ConsentColumns) -> Consent {
    let (_, client_pk, scope, created_at, updated_at, client_id, client_name) = row;
    Consent {
        client_pk,
        client_id,
        client_name,
        scope,
        created_at: UnixTime(created_at),
        updated_at: UnixTime(updated_at),
    }
}

/// Records `user`'s consent to `scope` for client `client_pk`, with what they consented to
/// before. Runs inside the caller's transaction, whose isolation keeps a concurrent consent's
/// scopes: it read the row this one replaces, or waits for it.
fn store_consent(
    conn: &mut AnyConnection,
    user: UserId,
    client_pk: i64,
    scope: &str,
    now: UnixTime,
) -> QueryResult<()> {
    let mine = || {
        consents::table
            .filter(consents::user_id.eq(user.0))
            .filter(consents::client_pk.eq(client_pk))
    };
    let held: Option<String> = mine().select(consents::scope).first(conn).optional()?;
    match held {
        Some(held) => {
            diesel::update(mine())
                .set((
                    consents::scope.eq(merged_scope(&held, scope)),
                    consents::updated_at.eq(now.seconds()),
                ))
                .execute(conn)?;
        }
        None => {
            diesel::insert_into(consents::table)
                .values((
                    consents::user_id.eq(user.0),
                    consents::client_pk.eq(client_pk),
                    consents::scope.eq(merged_scope("", scope)),
                    consents::created_at.eq(now.seconds()),
                    consents::updated_at.eq(now.seconds()),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Deletes `user`'s consent to client `client_pk`, their unused codes of the client, and ends
/// their live sessions opened for it; `None` when there was no consent. Runs inside the caller's
/// transaction.
fn drop_consent(
    conn: &mut AnyConnection,
    user: UserId,
    client_pk: i64,
    now: UnixTime,
) -> QueryResult<Option<Vec<SessionId>>> {
    let n = diesel::delete(
        consents::table
            .filter(consents::user_id.eq(user.0))
            .filter(consents::client_pk.eq(client_pk)),
    )
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    diesel::delete(
        authorization_codes::table
            .filter(authorization_codes::user_id.eq(user.0))
            .filter(authorization_codes::client_pk.eq(client_pk))
            .filter(authorization_codes::used_at.is_null()),
    )
    .execute(conn)?;
    let client_id: Option<String> = oauth_clients::table
        .find(client_pk)
        .select(oauth_clients::client_id)
        .first(conn)
        .optional()?;
    let Some(client_id) = client_id else {
        return Ok(Some(Vec::new()));
    };
    let opened: Vec<i64> = sessions::table
        .filter(sessions::user_id.eq(user.0))
        .filter(sessions::client_id.eq(client_id.as_str()))
        .filter(sessions::revoked_at.is_null())
        .select(sessions::id)
        .load(conn)?;
    for id in &opened {
        end_session(conn, *id, "consent_revoked", now)?;
    }
    Ok(Some(opened.into_iter().map(SessionId).collect()))
}

impl ConsentRepository for Store {
    fn find_consent(&self, user: UserId, client_pk: i64) -> anyhow::Result<Option<Consent>> {
        let row: Option<ConsentColumns> = consents::table
            .inner_join(oauth_clients::table)
            .filter(consents::user_id.eq(user.0))
            .filter(consents::client_pk.eq(client_pk))
            .select((
                consents::user_id,
                consents::client_pk,
                consents::scope,
                consents::created_at,
                consents::updated_at,
                oauth_clients::client_id,
                oauth_clients::client_name,
            ))
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot look up a consent")?;
        Ok(row.map(consent))
    }

    fn save_consent(
        &self,
        user: UserId,
        client_pk: i64,
        scope: &str,
        now: UnixTime,
    ) -> anyhow::Result<()> {
        crate::write_tx(&mut *self.conn()?, |conn| {
            store_consent(conn, user, client_pk, scope, now)
        })
        .context("cannot save a consent")
    }

    fn list_consents(
        &self,
        user: UserId,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<Consent>> {
        let rows: Vec<ConsentColumns> = consents::table
            .inner_join(oauth_clients::table)
            .filter(consents::user_id.eq(user.0))
            .filter(consents::client_pk.gt(after.unwrap_or(0)))
            .order(consents::client_pk.asc())
            .limit(i64::from(limit))
            .select((
                consents::user_id,
                consents::client_pk,
                consents::scope,
                consents::created_at,
                consents::updated_at,
                oauth_clients::client_id,
                oauth_clients::client_name,
            ))
            .load(&mut *self.conn()?)
            .context("cannot list consents")?;
        Ok(rows.into_iter().map(consent).collect())
    }

    fn revoke_consent(
        &self,
        user: UserId,
        client_pk: i64,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| {
            drop_consent(conn, user, client_pk, now)
        })
        .context("cannot revoke a consent")
    }
}

impl ClientRepository for Store {
    fn create_client(
        &self,
        new: &NewClient,
        client_id: &str,
        secret: Option<&HashedToken>,
        now: UnixTime,
    ) -> Result<OAuthClient, UserError> {
        let values = NewClientRow {
            client_id,
            tenant_id: new.tenant_id.map(|t| t.0),
            client_name: new.client_name.as_str(),
            secret_hash: secret.map(HashedToken::as_str),
            token_endpoint_auth_method: new.auth_method.as_str(),
            redirect_uris: new.redirect_uris.join(URI_SEPARATOR),
            post_logout_redirect_uris: new.post_logout_redirect_uris.join(URI_SEPARATOR),
            grant_types: new.grant_types.join(" "),
            response_types: new.response_types.join(" "),
            scope: &new.scope,
            first_party: new.first_party,
            created_at: now.seconds(),
            updated_at: now.seconds(),
        };
        let row: ClientRow = crate::write_tx(&mut *self.conn()?, |conn| {
            let id: i64 = diesel::insert_into(oauth_clients::table)
                .values(&values)
                .returning(oauth_clients::id)
                .get_result(conn)?;
            oauth_clients::table
                .find(id)
                .select(ClientRow::as_select())
                .first(conn)
        })
        .map_err(|e: DieselError| crate::db_error(e, "cannot create an OAuth client"))?;
        Ok(client(row)?)
    }

    fn find_client(&self, client_id: &str) -> anyhow::Result<Option<OAuthClient>> {
        let row: Option<ClientRow> = oauth_clients::table
            .filter(oauth_clients::client_id.eq(client_id))
            .select(ClientRow::as_select())
            .first(&mut *self.conn()?)
            .optional()
            .context("cannot look up an OAuth client")?;
        row.map(client).transpose()
    }

    fn list_clients(
        &self,
        tenant: Option<TenantId>,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<OAuthClient>> {
        let mut query = oauth_clients::table
            .select(ClientRow::as_select())
            .filter(oauth_clients::id.gt(after.unwrap_or(0)))
            .order(oauth_clients::id.asc())
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(t) = tenant {
            query = query.filter(oauth_clients::tenant_id.eq(t.0));
        }
        let rows: Vec<ClientRow> = query
            .load(&mut *self.conn()?)
            .context("cannot list OAuth clients")?;
        rows.into_iter().map(client).collect()
    }

    fn update_client(
        &self,
        client_pk: i64,
        new: &NewClient,
        now: UnixTime,
    ) -> Result<OAuthClient, UserError> {
        let redirect_uris = new.redirect_uris.join(URI_SEPARATOR);
        let post_logout_redirect_uris = new.post_logout_redirect_uris.join(URI_SEPARATOR);
        let grant_types = new.grant_types.join(" ");
        let response_types = new.response_types.join(" ");
        let row: Option<ClientRow> = crate::write_tx(&mut *self.conn()?, |conn| {
            let n = diesel::update(oauth_clients::table.find(client_pk))
                .set((
                    oauth_clients::client_name.eq(new.client_name.as_str()),
                    oauth_clients::redirect_uris.eq(redirect_uris.as_str()),
                    oauth_clients::post_logout_redirect_uris.eq(post_logout_redirect_uris.as_str()),
                    oauth_clients::grant_types.eq(grant_types.as_str()),
                    oauth_clients::response_types.eq(response_types.as_str()),
                    oauth_clients::scope.eq(new.scope.as_str()),
                    oauth_clients::first_party.eq(new.first_party),
                    oauth_clients::updated_at.eq(now.seconds()),
                ))
                .execute(conn)?;
            if n == 0 {
                return Ok(None);
            }
            oauth_clients::table
                .find(client_pk)
                .select(ClientRow::as_select())
                .first(conn)
                .map(Some)
        })
        .map_err(|e: DieselError| crate::db_error(e, "cannot update an OAuth client"))?;
        Ok(client(row.ok_or(UserError::NotFound)?)?)
    }

    fn set_client_secret(
        &self,
        client_pk: i64,
        secret: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let n = diesel::update(oauth_clients::table.find(client_pk))
            .set((
                oauth_clients::secret_hash.eq(secret.as_str()),
                oauth_clients::updated_at.eq(now.seconds()),
            ))
            .execute(&mut *conn)
            .context("cannot set an OAuth client's secret")?;
        Ok(n > 0)
    }

    fn delete_client(
        &self,
        client_pk: i64,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let _changes = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| {
            remove_client(conn, client_pk, now)
        })
        .context("cannot delete an OAuth client")
    }
}

impl AuthorizationCodes for Store {
    fn create_code(&self, new: &NewCode) -> anyhow::Result<()> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        diesel::insert_into(authorization_codes::table)
            .values(NewCodeRow {
                code_hash: new.code_hash.as_str(),
                client_pk: new.client_pk,
                user_id: new.user_id.0,
                sso_session_id: new.sso_session_id.map(|s| s.0),
                redirect_uri: &new.redirect_uri,
                scope: &new.scope,
                nonce: new.nonce.as_deref(),
                code_challenge: &new.code_challenge,
                auth_time: new.auth_time.seconds(),
                amr: &new.amr,
                created_at: new.created_at.seconds(),
                expires_at: new.expires_at.seconds(),
            })
            .execute(&mut *conn)
            .context("cannot store an authorization code")?;
        Ok(())
    }

    fn redeem_code(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<Redeemed> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        // The conditional update is the single point where one redemption wins: a concurrent one
        // finds `used_at` set (on PostgreSQL it waits for the row and then finds it set).
        let won: Option<i64> = diesel::update(
            authorization_codes::table
                .filter(authorization_codes::code_hash.eq(digest.as_str()))
                .filter(authorization_codes::used_at.is_null()),
        )
        .set(authorization_codes::used_at.eq(now.seconds()))
        .returning(authorization_codes::id)
        .get_result(&mut *conn)
        .optional()
        .context("cannot redeem an authorization code")?;
        if let Some(id) = won {
            let row: CodeRow = authorization_codes::table
                .find(id)
                .select(CodeRow::as_select())
                .first(&mut *conn)
                .context("cannot read an authorization code")?;
            return Ok(Redeemed::Fresh(record(row)));
        }
        let used: Option<(i64, i64)> = authorization_codes::table
            .filter(authorization_codes::code_hash.eq(digest.as_str()))
            .select((authorization_codes::id, authorization_codes::client_pk))
            .first(&mut *conn)
            .optional()
            .context("cannot read an authorization code")?;
        Ok(match used {
            Some((code_id, client_pk)) => Redeemed::Replayed { code_id, client_pk },
            None => Redeemed::Unknown,
        })
    }

    fn attach_session(&self, code_id: i64, session: SessionId) -> anyhow::Result<bool> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        // One statement, so that it and `mark_replayed` are ordered by the row's lock (or
        // SQLite's single writer): the later of the two sees what the earlier one wrote.
        let replayed: Option<Option<i64>> =
            diesel::update(authorization_codes::table.find(code_id))
                .set(authorization_codes::issued_session_id.eq(session.0))
                .returning(authorization_codes::replayed_at)
                .get_result(&mut *conn)
                .optional()
                .context("cannot record the session of an authorization code")?;
        Ok(replayed.flatten().is_some())
    }

    fn mark_replayed(&self, code_id: i64, now: UnixTime) -> anyhow::Result<Option<SessionId>> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let issued: Option<Option<i64>> = diesel::update(authorization_codes::table.find(code_id))
            .set(authorization_codes::replayed_at.eq(now.seconds()))
            .returning(authorization_codes::issued_session_id)
            .get_result(&mut *conn)
            .optional()
            .context("cannot mark an authorization code replayed")?;
        Ok(issued.flatten().map(SessionId))
    }
}
