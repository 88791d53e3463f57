//! `ModelImporter` on Diesel: a whole access model written in one transaction, every row under
//! the id it came with.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use tessera_domain::access::{Kind, Link};
use tessera_domain::model_import::CheckedModel;
use tessera_domain::ports::ModelImporter;
use tessera_domain::time::UnixTime;
use tessera_domain::token::SessionId;

use crate::access::{grant_directly, insert_entry_at, insert_grant, insert_link};
use crate::schema::{
    permissions, person_service_roles, role_permissions, roles, service_roles, services, sessions,
    users,
};
use crate::sessions::end_session;
use crate::users::insert_user;
use crate::{AnyConnection, Store};

/// The tables an import writes rows of with their own ids.
const KEPT_IDS: &[&str] = &["users", "services", "roles", "permissions"];

/// Whether the database holds any user, service, role or permission.
fn holds_model(conn: &mut AnyConnection) -> QueryResult<bool> {
    let any_user = diesel::select(diesel::dsl::exists(users::table.select(users::id)));
    let any_service = diesel::select(diesel::dsl::exists(services::table.select(services::id)));
    let any_role = diesel::select(diesel::dsl::exists(roles::table.select(roles::id)));
    let any_permission = diesel::select(diesel::dsl::exists(
        permissions::table.select(permissions::id),
    ));
    Ok(any_user.get_result::<bool>(conn)?
        || any_service.get_result::<bool>(conn)?
        || any_role.get_result::<bool>(conn)?
        || any_permission.get_result::<bool>(conn)?)
}

/// Ends every live session, appending each to the revocation list, and deletes every user,
/// service, role and permission; links and grants, and what hangs off users (sessions, API keys,
/// second factors, consents, codes), go with them by their foreign keys.
fn delete_model(conn: &mut AnyConnection, now: UnixTime) -> QueryResult<Vec<SessionId>> {
    let live: Vec<i64> = sessions::table
        .filter(sessions::revoked_at.is_null())
        .select(sessions::id)
        .load(conn)?;
    let mut ended = Vec::with_capacity(live.len());
    for id in live {
        if end_session(conn, id, "model_replaced", now)? {
            ended.push(SessionId(id));
        }
    }
    diesel::delete(person_service_roles::table).execute(conn)?;
    diesel::delete(role_permissions::table).execute(conn)?;
    diesel::delete(service_roles::table).execute(conn)?;
    // Hidden roles first: they name users and services.
    diesel::delete(roles::table).execute(conn)?;
    diesel::delete(users::table).execute(conn)?;
    diesel::delete(services::table).execute(conn)?;
    diesel::delete(permissions::table).execute(conn)?;
    Ok(ended)
}

/// Moves each id sequence past the ids now in its table, and the users' past `users_through`
/// too, never back: no row made later takes an id written here, an id that was given out before,
/// or (for users) the id of a person the import left out. SQLite's `AUTOINCREMENT` follows
/// inserted ids by itself; only the reservation needs writing there.
fn move_sequences(conn: &mut AnyConnection, users_through: i64) -> QueryResult<()> {
    match conn {
        AnyConnection::Postgresql(_) => {
            for table in KEPT_IDS {
                let through = if *table == "users" { users_through } else { 0 };
                diesel::sql_query(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     GREATEST(nextval(pg_get_serial_sequence('{table}', 'id')), \
                     COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, {through} + 1), false)"
                ))
                .execute(conn)?;
            }
        }
        AnyConnection::Sqlite(_) => {
            diesel::sql_query(format!(
                "UPDATE sqlite_sequence SET seq = MAX(seq, {users_through}) WHERE name = 'users'"
            ))
            .execute(conn)?;
            diesel::sql_query(format!(
                "INSERT INTO sqlite_sequence (name, seq) SELECT 'users', {users_through} \
                 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'users')"
            ))
            .execute(conn)?;
        }
    }
    Ok(())
}

/// Writes the model: users with their roles, entries, links and grants under their ids; then
/// the sequences; then the direct grants, whose hidden roles take new ids.
fn write_model(conn: &mut AnyConnection, model: &CheckedModel, now: UnixTime) -> QueryResult<()> {
    for (id, new, hash) in &model.users {
        insert_user(conn, Some(id.0), new, hash, now)?;
    }
    for (kind, rows) in [
        (Kind::Service, &model.services),
        (Kind::Role, &model.roles),
        (Kind::Permission, &model.permissions),
    ] {
        for (id, new) in rows {
            insert_entry_at(conn, kind, *id, new, now)?;
        }
    }
    for (role, permission) in &model.role_permissions {
        insert_link(conn, Link::RolePermission, *role, *permission)?;
    }
    for (service, role) in &model.service_roles {
        insert_link(conn, Link::ServiceRole, *service, *role)?;
    }
    for (person, service, role) in &model.grants {
        insert_grant(conn, *person, *service, *role)?;
    }
    move_sequences(conn, model.user_ids_through)?;
    for (person, service, permission) in &model.direct_grants {
        grant_directly(conn, *person, *service, *permission, now)?;
    }
    Ok(())
}

impl ModelImporter for Store {
    fn import_model(
        &self,
        model: &CheckedModel,
        replace: bool,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        // Users, their roles, services, roles, permissions and grants (`Accounts`); with
        // `replace`, sessions and opaque tokens too (`Sessions`).
        let _changes0 = self.cache.writing(crate::cache::Family::Accounts);
        let _changes1 = self.cache.writing(crate::cache::Family::Sessions);
        crate::write_tx(&mut *self.conn()?, |conn| {
            let ended = if holds_model(conn)? {
                if !replace {
                    return Ok(None);
                }
                delete_model(conn, now)?
            } else {
                Vec::new()
            };
            write_model(conn, model, now)?;
            Ok::<_, DieselError>(Some(ended))
        })
        .context("cannot import the model; nothing was written")
    }
}
