//! `ClientRepository` and `AuthorizationCodes` on Diesel: OpenID Connect clients and single-use
//! authorization codes. Neither table is cached: a code is read once, by the write that uses it.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::error::UserError;
use tessera_domain::oauth::{AuthMethod, NewClient, OAuthClient};
use tessera_domain::ports::{AuthorizationCodes, ClientRepository, CodeRecord, NewCode, Redeemed};
use tessera_domain::time::UnixTime;
use tessera_domain::token::{HashedToken, SessionId};
use tessera_domain::user::{TenantId, UserId};

use crate::rows::{ClientRow, CodeRow, NewClientRow, NewCodeRow};
use crate::schema::{authorization_codes, oauth_clients};
use crate::Store;

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
        let used: Option<Option<i64>> = authorization_codes::table
            .filter(authorization_codes::code_hash.eq(digest.as_str()))
            .select(authorization_codes::issued_session_id)
            .first(&mut *conn)
            .optional()
            .context("cannot read an authorization code")?;
        Ok(match used {
            Some(session) => Redeemed::Replayed {
                issued_session: session.map(SessionId),
            },
            None => Redeemed::Unknown,
        })
    }

    fn attach_session(&self, code_id: i64, session: SessionId) -> anyhow::Result<()> {
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        diesel::update(authorization_codes::table.find(code_id))
            .set(authorization_codes::issued_session_id.eq(session.0))
            .execute(&mut *conn)
            .context("cannot record the session of an authorization code")?;
        Ok(())
    }
}
