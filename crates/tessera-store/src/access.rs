//! `AccessRepository` on Diesel: services, roles, permissions, their links and grants.
//!
//! The three kinds share one column shape (id, name, description, active, created_at, updated_at),
//! so `with_table!` runs one query text against whichever table a `Kind` names.
//! Hidden roles (direct permission grants) have names starting with `~`, which visible names cannot,
//! and every query that returns entries leaves them out by that mark.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tessera_domain::access::{Entry, Kind, Link, NewEntry};
use tessera_domain::error::{FieldErrors, UserError};
use tessera_domain::ports::AccessRepository;
use tessera_domain::time::UnixTime;
use tessera_domain::token::HashedToken;
use tessera_domain::user::{User, UserId};

use crate::rows::UserRow;
use crate::schema::{
    permissions, person_service_roles, role_permissions, roles, service_roles, services, users,
};
use crate::users::users_with_roles;
use crate::{AnyConnection, Store};

/// Mark of the hidden roles' names; `LIKE` pattern matching them.
const HIDDEN: &str = "~%";

/// Runs `$body` with `$t` bound to the table module of `$kind`.
macro_rules! with_table {
    ($kind:expr, $t:ident => $body:expr) => {
        match $kind {
            Kind::Service => {
                use crate::schema::services as $t;
                $body
            }
            Kind::Role => {
                use crate::schema::roles as $t;
                $body
            }
            Kind::Permission => {
                use crate::schema::permissions as $t;
                $body
            }
            Kind::Tenant => {
                use crate::schema::tenants as $t;
                $body
            }
        }
    };
}

/// The columns every kind's table has, in `EntryRow` order.
macro_rules! entry_columns {
    ($t:ident) => {
        (
            $t::id,
            $t::name,
            $t::description,
            $t::active,
            $t::created_at,
            $t::updated_at,
        )
    };
}

/// Id, name, description, active, created at, updated at.
type EntryRow = (i64, String, Option<String>, bool, i64, i64);

fn entry(kind: Kind, (id, name, description, active, created, updated): EntryRow) -> Entry {
    Entry {
        kind,
        id,
        name,
        description,
        active,
        created_at: UnixTime(created),
        updated_at: UnixTime(updated),
    }
}

fn field_error(field: &str, rule: &'static str) -> UserError {
    let mut f = FieldErrors::new();
    f.add(field, rule);
    UserError::Validation(f)
}

/// A failure inside a transaction: a domain answer, or the database's.
enum TxError {
    Domain(UserError),
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

impl crate::Retryable for TxError {
    fn is_serialization_failure(&self) -> bool {
        matches!(self, Self::Db(e) if crate::Retryable::is_serialization_failure(e))
    }
}

impl TxError {
    fn into_user_error(self, what: &'static str) -> UserError {
        match self {
            Self::Domain(e) => e,
            Self::Db(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                UserError::Duplicate { field: "name" }
            }
            Self::Db(e) => UserError::Unknown(crate::db_error(e, what)),
        }
    }
}

fn get_visible(conn: &mut AnyConnection, kind: Kind, id: i64) -> QueryResult<Option<Entry>> {
    let row: Option<EntryRow> = with_table!(kind, t => t::table
        .find(id)
        .filter(t::name.not_like(HIDDEN))
        .select(entry_columns!(t))
        .first(conn)
        .optional())?;
    Ok(row.map(|r| entry(kind, r)))
}

/// Fails with `not_found` against `field` unless the visible entry exists.
fn require(conn: &mut AnyConnection, kind: Kind, id: i64, field: &str) -> Result<(), TxError> {
    match get_visible(conn, kind, id)? {
        Some(_) => Ok(()),
        None => Err(TxError::Domain(field_error(field, "not_found"))),
    }
}

fn require_person(conn: &mut AnyConnection, person: UserId) -> Result<(), TxError> {
    let found: Option<i64> = users::table
        .find(person.0)
        .select(users::id)
        .first(conn)
        .optional()?;
    match found {
        Some(_) => Ok(()),
        None => Err(TxError::Domain(field_error("person", "not_found"))),
    }
}

pub(crate) fn insert_link(
    conn: &mut AnyConnection,
    link: Link,
    left: i64,
    right: i64,
) -> QueryResult<usize> {
    // Check-then-insert instead of ON CONFLICT, which Diesel's MultiConnection cannot express;
    // it runs inside `write_tx`, so no other writer comes between the two.
    match link {
        Link::RolePermission => {
            let key = role_permissions::table.find((left, right));
            if diesel::select(diesel::dsl::exists(key)).get_result(conn)? {
                return Ok(0);
            }
            diesel::insert_into(role_permissions::table)
                .values((
                    role_permissions::role_id.eq(left),
                    role_permissions::permission_id.eq(right),
                ))
                .execute(conn)
        }
        Link::ServiceRole => {
            let key = service_roles::table.find((left, right));
            if diesel::select(diesel::dsl::exists(key)).get_result(conn)? {
                return Ok(0);
            }
            diesel::insert_into(service_roles::table)
                .values((
                    service_roles::service_id.eq(left),
                    service_roles::role_id.eq(right),
                ))
                .execute(conn)
        }
    }
}

pub(crate) fn insert_grant(
    conn: &mut AnyConnection,
    person: UserId,
    service: i64,
    role: i64,
) -> QueryResult<usize> {
    let key = person_service_roles::table.find((person.0, service, role));
    if diesel::select(diesel::dsl::exists(key)).get_result(conn)? {
        return Ok(0);
    }
    diesel::insert_into(person_service_roles::table)
        .values((
            person_service_roles::person_id.eq(person.0),
            person_service_roles::service_id.eq(service),
            person_service_roles::role_id.eq(role),
        ))
        .execute(conn)
}

/// Inserts a service, role or permission under an id of the caller's (an import that keeps the
/// ids it came with), inside the caller's transaction.
pub(crate) fn insert_entry_at(
    conn: &mut AnyConnection,
    kind: Kind,
    id: i64,
    new: &NewEntry,
    now: UnixTime,
) -> QueryResult<usize> {
    with_table!(kind, t => diesel::insert_into(t::table)
        .values((
            t::id.eq(id),
            t::name.eq(new.name.as_str()),
            t::description.eq(new.description.as_ref().map(|d| d.as_str())),
            t::active.eq(new.active),
            t::created_at.eq(now.seconds()),
            t::updated_at.eq(now.seconds()),
        ))
        .execute(conn))
}

/// Grants `permission` to `person` in `service` through the hidden role scoped to them, creating
/// that role (linked to the service and granted to the person) on first use, inside the caller's
/// transaction. The ends are the caller's to check.
pub(crate) fn grant_directly(
    conn: &mut AnyConnection,
    person: UserId,
    service: i64,
    permission: i64,
    now: UnixTime,
) -> QueryResult<()> {
    let hidden_name = format!("~{}/{service}", person.0);
    let existing: Option<i64> = roles::table
        .filter(roles::name.eq(&hidden_name))
        .select(roles::id)
        .first(conn)
        .optional()?;
    let role = match existing {
        Some(id) => id,
        None => diesel::insert_into(roles::table)
            .values((
                roles::name.eq(&hidden_name),
                roles::scope_person_id.eq(person.0),
                roles::scope_service_id.eq(service),
                roles::created_at.eq(now.seconds()),
                roles::updated_at.eq(now.seconds()),
            ))
            .returning(roles::id)
            .get_result(conn)?,
    };
    insert_link(conn, Link::ServiceRole, service, role)?;
    insert_grant(conn, person, service, role)?;
    insert_link(conn, Link::RolePermission, role, permission)?;
    Ok(())
}

/// Checks both ends of a grant of `role` (visible or not) to `person` in `service`.
fn require_grant_ends(
    conn: &mut AnyConnection,
    person: UserId,
    service: i64,
) -> Result<(), TxError> {
    require_person(conn, person)?;
    require(conn, Kind::Service, service, "service")
}

impl AccessRepository for Store {
    fn create_entry(&self, kind: Kind, new: &NewEntry, now: UnixTime) -> Result<Entry, UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let row: EntryRow = with_table!(kind, t => diesel::insert_into(t::table)
            .values((
                t::name.eq(new.name.as_str()),
                t::description.eq(new.description.as_ref().map(|d| d.as_str())),
                t::active.eq(new.active),
                t::created_at.eq(now.seconds()),
                t::updated_at.eq(now.seconds()),
            ))
            .returning(entry_columns!(t))
            .get_result(&mut conn))
        .map_err(|e| TxError::Db(e).into_user_error("cannot create an entry"))?;
        Ok(entry(kind, row))
    }

    fn get_entry(&self, kind: Kind, id: i64) -> anyhow::Result<Option<Entry>> {
        let cache = &self.cache;
        cache.read(&cache.entries, (kind as u8, id), || {
            get_visible(&mut *self.conn()?, kind, id).context("cannot read an entry")
        })
    }

    fn find_entry(&self, kind: Kind, name: &str) -> anyhow::Result<Option<Entry>> {
        let mut conn = self.conn()?;
        let row: Option<EntryRow> = with_table!(kind, t => t::table
            .filter(t::name.eq(name))
            .filter(t::name.not_like(HIDDEN))
            .select(entry_columns!(t))
            .first(&mut conn)
            .optional())
        .context("cannot look up an entry")?;
        Ok(row.map(|r| entry(kind, r)))
    }

    fn update_entry(
        &self,
        kind: Kind,
        id: i64,
        new: &NewEntry,
        now: UnixTime,
    ) -> Result<Entry, UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let row: Option<EntryRow> = with_table!(kind, t => diesel::update(
                t::table.find(id).filter(t::name.not_like(HIDDEN)),
            )
            .set((
                t::name.eq(new.name.as_str()),
                t::description.eq(new.description.as_ref().map(|d| d.as_str())),
                t::active.eq(new.active),
                t::updated_at.eq(now.seconds()),
            ))
            .returning(entry_columns!(t))
            .get_result(&mut conn)
            .optional())
        .map_err(|e| TxError::Db(e).into_user_error("cannot update an entry"))?;
        row.map(|r| entry(kind, r)).ok_or(UserError::NotFound)
    }

    fn delete_entry(&self, kind: Kind, id: i64) -> Result<bool, UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        // A service's tokens go with it (ON DELETE CASCADE); the cache keeps them with sessions.
        let _tokens =
            (kind == Kind::Service).then(|| self.cache.writing(crate::cache::Family::Sessions));
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        // Links, grants and (for a service) its hidden roles go by ON DELETE CASCADE; a tenant's
        // users and OAuth clients do not, so a tenant with either fails on its foreign key and stays.
        let n = with_table!(kind, t => diesel::delete(
                t::table.find(id).filter(t::name.not_like(HIDDEN)),
            )
            .execute(&mut conn))
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                UserError::InUse(
                    "this tenant still has users or OAuth clients; delete or move them first",
                )
            }
            e => UserError::Unknown(crate::db_error(e, "cannot delete an entry")),
        })?;
        Ok(n > 0)
    }

    fn list_entries(
        &self,
        kind: Kind,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<Entry>> {
        let mut conn = self.conn()?;
        let rows: Vec<EntryRow> = with_table!(kind, t => t::table
            .filter(t::id.gt(after.unwrap_or(0)))
            .filter(t::name.not_like(HIDDEN))
            .order(t::id.asc())
            .limit(i64::from(limit))
            .select(entry_columns!(t))
            .load(&mut conn))
        .context("cannot list entries")?;
        Ok(rows.into_iter().map(|r| entry(kind, r)).collect())
    }

    fn link(&self, link: Link, left: i64, right: i64) -> Result<(), UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let (lk, rk) = link.kinds();
        crate::write_tx(&mut *self.conn()?, |conn| {
            require(conn, lk, left, lk.as_str())?;
            require(conn, rk, right, rk.as_str())?;
            insert_link(conn, link, left, right)?;
            Ok(())
        })
        .map_err(|e: TxError| e.into_user_error("cannot link"))
    }

    fn unlink(&self, link: Link, left: i64, right: i64) -> anyhow::Result<bool> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let n = match link {
            Link::RolePermission => diesel::delete(
                role_permissions::table
                    .filter(role_permissions::role_id.eq(left))
                    .filter(role_permissions::permission_id.eq(right)),
            )
            .execute(&mut conn),
            Link::ServiceRole => diesel::delete(
                service_roles::table
                    .filter(service_roles::service_id.eq(left))
                    .filter(service_roles::role_id.eq(right)),
            )
            .execute(&mut conn),
        }
        .context("cannot unlink")?;
        Ok(n > 0)
    }

    fn linked(&self, link: Link, left: i64) -> anyhow::Result<Option<Vec<Entry>>> {
        let mut conn = self.conn()?;
        let (lk, rk) = link.kinds();
        if get_visible(&mut conn, lk, left)?.is_none() {
            return Ok(None);
        }
        let rows: Vec<EntryRow> = match link {
            Link::RolePermission => permissions::table
                .inner_join(role_permissions::table)
                .filter(role_permissions::role_id.eq(left))
                .order(permissions::name.asc())
                .select(entry_columns!(permissions))
                .load(&mut conn),
            Link::ServiceRole => roles::table
                .inner_join(service_roles::table)
                .filter(service_roles::service_id.eq(left))
                .filter(roles::name.not_like(HIDDEN))
                .order(roles::name.asc())
                .select(entry_columns!(roles))
                .load(&mut conn),
        }
        .context("cannot read links")?;
        Ok(Some(rows.into_iter().map(|r| entry(rk, r)).collect()))
    }

    fn grant_role(&self, person: UserId, service: i64, role: i64) -> Result<(), UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        crate::write_tx(&mut *self.conn()?, |conn| {
            require_grant_ends(conn, person, service)?;
            require(conn, Kind::Role, role, "role")?;
            let offered: Option<i64> = service_roles::table
                .filter(service_roles::service_id.eq(service))
                .filter(service_roles::role_id.eq(role))
                .select(service_roles::role_id)
                .first(conn)
                .optional()?;
            if offered.is_none() {
                return Err(TxError::Domain(field_error(
                    "role",
                    "not_offered_by_service",
                )));
            }
            insert_grant(conn, person, service, role)?;
            Ok(())
        })
        .map_err(|e: TxError| e.into_user_error("cannot grant a role"))
    }

    fn revoke_role(&self, person: UserId, service: i64, role: i64) -> anyhow::Result<bool> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let n = diesel::delete(
            person_service_roles::table
                .filter(person_service_roles::person_id.eq(person.0))
                .filter(person_service_roles::service_id.eq(service))
                .filter(person_service_roles::role_id.eq(role)),
        )
        .execute(&mut *conn)
        .context("cannot revoke a grant")?;
        Ok(n > 0)
    }

    fn grant_permission(
        &self,
        person: UserId,
        service: i64,
        permission: i64,
        now: UnixTime,
    ) -> Result<(), UserError> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        crate::write_tx(&mut *self.conn()?, |conn| {
            require_grant_ends(conn, person, service)?;
            require(conn, Kind::Permission, permission, "permission")?;
            grant_directly(conn, person, service, permission, now)?;
            Ok(())
        })
        .map_err(|e: TxError| e.into_user_error("cannot grant a permission"))
    }

    fn person_services(&self, person: UserId) -> anyhow::Result<Vec<Entry>> {
        let rows: Vec<EntryRow> = services::table
            .filter(
                services::id.eq_any(
                    person_service_roles::table
                        .filter(person_service_roles::person_id.eq(person.0))
                        .select(person_service_roles::service_id),
                ),
            )
            .order(services::name.asc())
            .select(entry_columns!(services))
            .load(&mut *self.conn()?)
            .context("cannot read a person's services")?;
        Ok(rows.into_iter().map(|r| entry(Kind::Service, r)).collect())
    }

    fn person_roles(&self, person: UserId, service: i64) -> anyhow::Result<Vec<Entry>> {
        let cache = &self.cache;
        let roles = cache.read(&cache.person_roles, (person.0, service), || {
            self.load_person_roles(person, service).map(Some)
        })?;
        Ok(roles.unwrap_or_default())
    }

    fn effective_permissions(&self, person: UserId, service: i64) -> anyhow::Result<Vec<String>> {
        let cache = &self.cache;
        let permissions = cache.read(&cache.permissions, (person.0, service), || {
            self.load_effective_permissions(person, service).map(Some)
        })?;
        Ok(permissions.unwrap_or_default())
    }

    fn role_people(&self, service: i64, role: i64) -> anyhow::Result<Vec<User>> {
        let mut conn = self.conn()?;
        let rows: Vec<UserRow> = users::table
            .filter(
                users::id.eq_any(
                    person_service_roles::table
                        .filter(person_service_roles::service_id.eq(service))
                        .filter(person_service_roles::role_id.eq(role))
                        .select(person_service_roles::person_id),
                ),
            )
            .order(users::id.asc())
            .select(UserRow::as_select())
            .load(&mut conn)
            .context("cannot read the people of a role")?;
        users_with_roles(&mut conn, rows)
    }

    fn set_service_secret(
        &self,
        service: i64,
        secret: Option<&HashedToken>,
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let _changes = self.cache.writing(crate::cache::Family::Accounts);
        let mut conn = self.conn()?;
        let _turn = crate::sqlite_writer(&conn);
        let n = diesel::update(services::table.find(service))
            .set((
                services::secret_hash.eq(secret.map(HashedToken::as_str)),
                services::secret_created_at.eq(secret.map(|_| now.seconds())),
                services::updated_at.eq(now.seconds()),
            ))
            .execute(&mut *conn)
            .context("cannot set a service secret")?;
        Ok(n > 0)
    }

    fn service_by_secret(&self, digest: &HashedToken) -> anyhow::Result<Option<Entry>> {
        let cache = &self.cache;
        cache.read(&cache.service_secrets, digest.clone(), || {
            let row: Option<EntryRow> = services::table
                .filter(services::secret_hash.eq(digest.as_str()))
                .select(entry_columns!(services))
                .first(&mut *self.conn()?)
                .optional()
                .context("cannot look up a service secret")?;
            Ok(row.map(|r| entry(Kind::Service, r)))
        })
    }
}

impl Store {
    fn load_person_roles(&self, person: UserId, service: i64) -> anyhow::Result<Vec<Entry>> {
        let rows: Vec<EntryRow> = roles::table
            .inner_join(person_service_roles::table)
            .filter(person_service_roles::person_id.eq(person.0))
            .filter(person_service_roles::service_id.eq(service))
            .filter(roles::name.not_like(HIDDEN))
            .order(roles::name.asc())
            .select(entry_columns!(roles))
            .load(&mut *self.conn()?)
            .context("cannot read a person's roles")?;
        Ok(rows.into_iter().map(|r| entry(Kind::Role, r)).collect())
    }

    fn load_effective_permissions(
        &self,
        person: UserId,
        service: i64,
    ) -> anyhow::Result<Vec<String>> {
        let held_roles = person_service_roles::table
            .filter(person_service_roles::person_id.eq(person.0))
            .filter(person_service_roles::service_id.eq(service))
            .select(person_service_roles::role_id);
        permissions::table
            .inner_join(role_permissions::table)
            .filter(role_permissions::role_id.eq_any(held_roles))
            .select(permissions::name)
            .distinct()
            .order(permissions::name.asc())
            .load(&mut *self.conn()?)
            .context("cannot read effective permissions")
    }
}
