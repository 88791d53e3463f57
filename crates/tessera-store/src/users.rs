//! `UserRepository` on Diesel.

use std::collections::HashMap;

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tessera_domain::error::{FieldErrors, UserError};
use tessera_domain::password::PasswordHash;
use tessera_domain::ports::{ApiKeys, RevokeSessions, UserRepository};
use tessera_domain::time::UnixTime;
use tessera_domain::token::SessionId;
use tessera_domain::user::{
    AttributeChanges, LoginName, NewUser, TenantId, User, UserChanges, UserId, UserQuery,
};

use crate::credentials::delete_key;
use crate::rows::{attributes_json, parse_attributes, NewUserRow, RoleRow, UserChangeset, UserRow};
use crate::schema::{api_keys, user_roles, users};
use crate::sessions::revoke_user_sessions;
use crate::{AnyConnection, Store};

/// The unique field a violation concerns, if it is one.
fn duplicate_field(e: &DieselError) -> Option<&'static str> {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            let names = format!(
                "{} {}",
                info.message(),
                info.constraint_name().unwrap_or("")
            );
            Some(if names.contains("email") {
                "email"
            } else {
                "username"
            })
        }
        _ => None,
    }
}

fn to_user_error(e: DieselError, what: &'static str) -> UserError {
    match duplicate_field(&e) {
        Some(field) => UserError::Duplicate { field },
        None => UserError::Unknown(crate::db_error(e, what)),
    }
}

/// A failure inside an update's transaction: the domain's answer, or the database's.
enum UpdateError {
    User(UserError),
    Db(DieselError),
}

impl From<DieselError> for UpdateError {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

impl crate::Retryable for UpdateError {
    fn is_serialization_failure(&self) -> bool {
        matches!(self, Self::Db(e) if crate::Retryable::is_serialization_failure(e))
    }
}

impl UpdateError {
    fn into_user_error(self, what: &'static str) -> UserError {
        match self {
            Self::User(e) => e,
            Self::Db(e) => to_user_error(e, what),
        }
    }
}

/// The attributes of user `id` as stored (`stored`) with `change` merged in, by the domain's
/// rules, ready to store. A merge that breaks a rule is a validation error naming `attributes`.
fn merge_attributes(
    id: i64,
    stored: &str,
    change: &AttributeChanges,
) -> Result<String, UpdateError> {
    let current = parse_attributes(id, stored).map_err(|e| UpdateError::User(e.into()))?;
    match current.merged(change) {
        Ok(merged) => Ok(attributes_json(&merged)?),
        Err(problems) => {
            let mut fields = FieldErrors::new();
            fields.extend("attributes", problems);
            Err(UpdateError::User(UserError::Validation(fields)))
        }
    }
}

fn roles_of(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<HashMap<i64, Vec<String>>> {
    let rows: Vec<(i64, String)> = user_roles::table
        .filter(user_roles::user_id.eq_any(ids))
        .select((user_roles::user_id, user_roles::role))
        .load(conn)?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, role) in rows {
        map.entry(id).or_default().push(role);
    }
    Ok(map)
}

pub(crate) fn load_user(
    conn: &mut AnyConnection,
    id: i64,
) -> anyhow::Result<Option<(User, PasswordHash)>> {
    let row: Option<UserRow> = users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
        .context("cannot read a user")?;
    with_roles(conn, row)
}

fn with_roles(
    conn: &mut AnyConnection,
    row: Option<UserRow>,
) -> anyhow::Result<Option<(User, PasswordHash)>> {
    let Some(mut row) = row else { return Ok(None) };
    let roles = roles_of(conn, &[row.id])
        .context("cannot read roles")?
        .remove(&row.id)
        .unwrap_or_default();
    let hash = PasswordHash::new(std::mem::take(&mut row.password_hash));
    Ok(Some((row.into_user(roles)?, hash)))
}

/// Inserts one user with their roles, inside the caller's transaction, under `id` when given
/// (an import that keeps the ids it came with), else under the next id.
pub(crate) fn insert_user(
    conn: &mut AnyConnection,
    id: Option<i64>,
    new: &NewUser,
    hash: &PasswordHash,
    now: UnixTime,
) -> QueryResult<i64> {
    let row = NewUserRow {
        username: new.username.as_str(),
        username_normalized: new.username.normalized(),
        email: new.email.as_ref().map(|e| e.as_str()),
        email_normalized: new.email.as_ref().map(|e| e.normalized()),
        display_name: new.display_name.as_ref().map(|d| d.as_str()),
        password_hash: hash.as_str(),
        active: new.active,
        tenant_id: new.tenant_id.map(|t| t.0),
        created_at: now.seconds(),
        updated_at: now.seconds(),
        attributes: attributes_json(&new.attributes)?,
    };
    let id: i64 = match id {
        Some(id) => {
            diesel::insert_into(users::table)
                .values((users::id.eq(id), &row))
                .execute(conn)?;
            id
        }
        None => diesel::insert_into(users::table)
            .values(&row)
            .returning(users::id)
            .get_result(conn)?,
    };
    replace_roles(conn, id, &new.roles)?;
    Ok(id)
}

/// Domain users from rows, with their roles, in the rows' order.
pub(crate) fn users_with_roles(
    conn: &mut AnyConnection,
    rows: Vec<UserRow>,
) -> anyhow::Result<Vec<User>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut roles = roles_of(conn, &ids).context("cannot read roles")?;
    rows.into_iter()
        .map(|r| {
            let rs = roles.remove(&r.id).unwrap_or_default();
            r.into_user(rs)
        })
        .collect()
}

fn replace_roles(
    conn: &mut AnyConnection,
    id: i64,
    roles: &[tessera_domain::user::Role],
) -> QueryResult<()> {
    diesel::delete(user_roles::table.filter(user_roles::user_id.eq(id))).execute(conn)?;
    // One statement per row: MultiConnection has no multi-row VALUES.
    for role in roles {
        diesel::insert_into(user_roles::table)
            .values(&RoleRow {
                user_id: id,
                role: role.as_str(),
            })
            .execute(conn)?;
    }
    Ok(())
}

impl UserRepository for Store {
    fn create_user(
        &self,
        new: &NewUser,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> Result<User, UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let mut conn = self.conn()?;
        let id = crate::write_tx(&mut conn, |conn| insert_user(conn, None, new, hash, now))
            .map_err(|e| to_user_error(e, "cannot create a user"))?;
        let (user, _) = load_user(&mut conn, id)?.context("a created user vanished")?;
        Ok(user)
    }

    fn create_users(
        &self,
        users: &[(NewUser, PasswordHash)],
        now: UnixTime,
    ) -> Result<Vec<User>, UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let mut conn = self.conn()?;
        let ids = crate::write_tx(&mut conn, |conn| {
            users
                .iter()
                .map(|(new, hash)| insert_user(conn, None, new, hash, now))
                .collect::<QueryResult<Vec<i64>>>()
        })
        .map_err(|e| to_user_error(e, "cannot import users"))?;
        ids.into_iter()
            .map(|id| {
                load_user(&mut conn, id)?
                    .map(|(u, _)| u)
                    .context("an imported user vanished")
                    .map_err(UserError::from)
            })
            .collect()
    }

    fn get_user(&self, id: UserId) -> anyhow::Result<Option<User>> {
        self.cache.read(&self.cache.users, id.0, || {
            Ok(load_user(&mut *self.conn()?, id.0)?.map(|(u, _)| u))
        })
    }

    fn find_credentials(
        &self,
        tenant: Option<TenantId>,
        login: &LoginName,
    ) -> anyhow::Result<Option<(User, PasswordHash)>> {
        let mut conn = self.conn()?;
        let query = users::table.select(UserRow::as_select()).into_boxed();
        let query = match tenant {
            Some(t) => query.filter(users::tenant_id.eq(t.0)),
            None => query.filter(users::tenant_id.is_null()),
        };
        let query = match login {
            LoginName::Username(n) => query.filter(users::username_normalized.eq(n)),
            LoginName::Email(e) => query.filter(users::email_normalized.eq(e)),
        };
        let row = query
            .first(&mut conn)
            .optional()
            .context("cannot look up a login")?;
        with_roles(&mut conn, row)
    }

    fn user_credentials(&self, id: UserId) -> anyhow::Result<Option<(User, PasswordHash)>> {
        load_user(&mut *self.conn()?, id.0)
    }

    fn update_user(
        &self,
        id: UserId,
        changes: &UserChanges,
        revoke: RevokeSessions,
        now: UnixTime,
    ) -> Result<(User, Vec<SessionId>), UserError> {
        let _changes0 = self.cache.writing(crate::cache::Family::Accounts);
        let _changes1 = self.cache.writing(crate::cache::Family::Sessions);
        let mut conn = self.conn()?;
        // A username another user of the tenant has, ignoring case, breaks the unique index
        // `users_tenant_username`: `Duplicate` naming `username`, as when creating.
        let fields = UserChangeset {
            username: changes.username.as_ref().map(|u| u.as_str().to_owned()),
            username_normalized: changes.username.as_ref().map(|u| u.normalized()),
            email: changes
                .email
                .as_ref()
                .map(|e| e.as_ref().map(|e| e.as_str().to_owned())),
            email_normalized: changes
                .email
                .as_ref()
                .map(|e| e.as_ref().map(|e| e.normalized())),
            display_name: changes
                .display_name
                .as_ref()
                .map(|d| d.as_ref().map(|d| d.as_str().to_owned())),
            active: changes.active,
            attributes: None,
            updated_at: now.seconds(),
        };
        let revoked = crate::write_tx(&mut conn, |conn| {
            let mut set = fields.clone();
            // The merge reads the attributes in the transaction that writes them, so of two
            // admins changing attributes at once each keeps their change (the second waits for
            // the first on SQLite, and is run again on PostgreSQL), and the limit counts what is
            // stored.
            if let Some(change) = &changes.attributes {
                let stored: Option<String> = users::table
                    .find(id.0)
                    .select(users::attributes)
                    .first(conn)
                    .optional()?;
                let Some(stored) = stored else {
                    return Ok(None);
                };
                set.attributes = Some(merge_attributes(id.0, &stored, change)?);
            }
            let n = diesel::update(users::table.find(id.0))
                .set(&set)
                .execute(conn)?;
            if n == 0 {
                return Ok(None);
            }
            if let Some(roles) = &changes.roles {
                replace_roles(conn, id.0, roles)?;
            }
            Ok::<_, UpdateError>(Some(revoke_user_sessions(
                conn,
                id.0,
                revoke,
                "user_changed",
                now,
            )?))
        })
        .map_err(|e| e.into_user_error("cannot update a user"))?
        .ok_or(UserError::NotFound)?;
        let (user, _) = load_user(&mut conn, id.0)?.ok_or(UserError::NotFound)?;
        Ok((user, revoked))
    }

    fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        revoke: RevokeSessions,
        api_keys: ApiKeys,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let _changes0 = self.cache.writing(crate::cache::Family::Accounts);
        let _changes1 = self.cache.writing(crate::cache::Family::Sessions);
        let mut conn = self.conn()?;
        crate::write_tx(&mut conn, |conn| {
            let n = diesel::update(users::table.find(id.0))
                .set((
                    users::password_hash.eq(hash.as_str()),
                    users::updated_at.eq(now.seconds()),
                ))
                .execute(conn)?;
            if n == 0 {
                return Ok::<_, DieselError>(None);
            }
            let mut ended = revoke_user_sessions(conn, id.0, revoke, "password_changed", now)?;
            if api_keys == ApiKeys::Delete {
                let keys: Vec<i64> = api_keys::table
                    .filter(api_keys::user_id.eq(id.0))
                    .select(api_keys::id)
                    .load(conn)?;
                for key in keys {
                    ended.extend(delete_key(conn, key, now)?.unwrap_or_default());
                }
            }
            Ok(Some(ended))
        })
        .context("cannot set a password")
    }

    fn delete_user(&self, id: UserId, now: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>> {
        let _changes0 = self.cache.writing(crate::cache::Family::Accounts);
        let _changes1 = self.cache.writing(crate::cache::Family::Sessions);
        let mut conn = self.conn()?;
        crate::write_tx(&mut conn, |conn| {
            let revoked =
                revoke_user_sessions(conn, id.0, RevokeSessions::All, "user_deleted", now)?;
            let n = diesel::delete(users::table.find(id.0)).execute(conn)?;
            Ok::<_, DieselError>((n > 0).then_some(revoked))
        })
        .context("cannot delete a user")
    }

    fn list_users(&self, q: &UserQuery) -> anyhow::Result<Vec<User>> {
        let key = (
            q.after.map(|u| u.0),
            q.limit,
            q.prefix.clone(),
            q.tenant.map(|t| t.map(|t| t.0)),
        );
        let cache = &self.cache;
        let page = cache.read(&cache.user_pages, key, || self.load_users(q).map(Some))?;
        Ok(page.unwrap_or_default())
    }
    fn count_users(&self) -> anyhow::Result<u64> {
        let n: i64 = users::table
            .count()
            .get_result(&mut self.conn()?)
            .context("cannot count users")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn count_active_admins(&self) -> anyhow::Result<u64> {
        let n: i64 = users::table
            .inner_join(user_roles::table)
            .filter(user_roles::role.eq(tessera_domain::user::Role::ADMIN))
            .filter(users::active.eq(true))
            .filter(users::tenant_id.is_null())
            .count()
            .get_result(&mut self.conn()?)
            .context("cannot count admins")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

impl Store {
    fn load_users(&self, q: &UserQuery) -> anyhow::Result<Vec<User>> {
        let mut conn = self.conn()?;
        let mut query = users::table
            .select(UserRow::as_select())
            .order(users::id.asc())
            .limit(i64::from(q.limit))
            .into_boxed();
        if let Some(after) = q.after {
            query = query.filter(users::id.gt(after.0));
        }
        match q.tenant {
            None => {}
            Some(Some(t)) => query = query.filter(users::tenant_id.eq(t.0)),
            Some(None) => query = query.filter(users::tenant_id.is_null()),
        }
        if let Some(prefix) = &q.prefix {
            let pattern = format!(
                "{}%",
                prefix
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            query = query.filter(
                users::username_normalized
                    .like(pattern.clone())
                    .escape('\\')
                    .or(users::email_normalized.like(pattern).escape('\\')),
            );
        }
        let rows: Vec<UserRow> = query.load(&mut conn).context("cannot list users")?;
        users_with_roles(&mut conn, rows)
    }
}
