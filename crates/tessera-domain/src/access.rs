//! The authorization model: services, roles and permissions, their links, and the grants of roles
//! (and single permissions) to people in services. Who may change and read it is decided here.

use std::sync::Arc;

use crate::audit::{Audit, Auditor, Event, Outcome};
use crate::error::{FieldErrors, UserError};
use crate::ports::{AccessRepository, Clock, UserRepository};
use crate::principal::Principal;
use crate::time::UnixTime;
use crate::user::{name_problems, TenantId, User, UserId};
use crate::users::{Page, DEFAULT_PAGE, MAX_PAGE};

/// The kinds of named object in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Service,
    Role,
    Permission,
    /// Tenants share the named-entry shape; users belong to at most one.
    Tenant,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::Role => "role",
            Self::Permission => "permission",
            Self::Tenant => "tenant",
        }
    }
}

/// The two links between kinds: a role's permissions, and the roles a service offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Left: a role; right: a permission.
    RolePermission,
    /// Left: a service; right: a role.
    ServiceRole,
}

impl Link {
    /// The kinds of the left and right ends.
    pub fn kinds(self) -> (Kind, Kind) {
        match self {
            Self::RolePermission => (Kind::Role, Kind::Permission),
            Self::ServiceRole => (Kind::Service, Kind::Role),
        }
    }
}

/// A name of a service, role, permission or tenant: 1 to 64 characters from
/// `A-Z a-z 0-9 _ . : / -` and the space, starting with a letter or digit; a space only between
/// two other characters, never two in a row and never last (`Service A`, not `Service A ` or
/// `Service  A`). Names are unique per kind, case-sensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(
    // Invariant: satisfies every rule checked in `parse`; so it never starts with `~`, the mark of
    // the hidden roles that hold direct permission grants.
    String,
);

impl Name {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Vec<&'static str>> {
        let mut problems = name_problems(raw, 1, Self::MAX_LEN, "empty", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/' | '-' | ' ')
        });
        // A leading space is `must_start_with_letter_or_digit` already.
        if raw.ends_with(' ') || raw.contains("  ") {
            problems.push("invalid_spaces");
        }
        if problems.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(problems)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text description: at most 500 characters once trimmed, without control characters
/// other than line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(
    // Invariant: trimmed, non-empty, at most 500 characters, as above.
    String,
);

impl Description {
    pub const MAX_LEN: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, Vec<&'static str>> {
        let trimmed = raw.trim();
        let mut problems = Vec::new();
        if trimmed.chars().count() > Self::MAX_LEN {
            problems.push("too_long");
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        {
            problems.push("invalid_characters");
        }
        if problems.is_empty() {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(problems)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored service, role or permission. Hidden roles never appear as an `Entry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    /// Only services can be disabled; roles and permissions are always active.
    pub active: bool,
    pub created_at: UnixTime,
    pub updated_at: UnixTime,
}

/// A validated service, role or permission to store.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub name: Name,
    pub description: Option<Description>,
    pub active: bool,
}

/// A service, role or permission as received: validated by the service.
#[derive(Debug, Clone, Default)]
pub struct EntryRequest {
    pub name: String,
    pub description: Option<String>,
    /// Services only; `None` keeps it (or makes a new service active).
    pub active: Option<bool>,
}

/// A person's roles and effective permissions in one service.
#[derive(Debug, Clone)]
pub struct PersonAccess {
    pub user: User,
    pub service: Entry,
    /// The visible roles granted, sorted by name.
    pub roles: Vec<Entry>,
    /// Names of the permissions in force through every role and direct grant, sorted, unique.
    pub permissions: Vec<String>,
}

/// How a direct permission grant names its permission.
#[derive(Debug, Clone)]
pub enum PermissionRef {
    Id(i64),
    Name(String),
}

/// How a request names a service: by id, or by its exact name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceRef {
    Id(i64),
    Name(String),
}

/// The user a request is about: who, and in which tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub id: UserId,
    pub tenant: Option<TenantId>,
}

impl Target {
    pub fn of(user: &User) -> Self {
        Self {
            id: user.id,
            tenant: user.tenant_id,
        }
    }
}

/// What a principal asks to do; `authorize` decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create, change or delete services, roles, permissions, links and tenants.
    ManageModel,
    /// Read services, roles, permissions and links.
    ReadModel,
    /// List the signing keys, and rotate them: the server's own configuration.
    ManageKeys,
    /// Read a user, their access or their API keys, manage their keys, change their own profile.
    Read(Target),
    /// Create, delete, re-role or disable a user, reset their password, grant them roles.
    Administer(Target),
}

/// The one decision of who may do what.
///
/// Global admins may do everything. Tenant admins may read the model, and read and administer
/// the users of their own tenant. Everyone may read themselves. A user of another tenant (or,
/// for a tenant's user, a global one) is invisible: `NotFound`, never `Forbidden`, so tenants
/// cannot probe each other.
///
/// # Errors
/// `Forbidden` saying why, or `NotFound`.
pub fn authorize(actor: &Principal, action: Action) -> Result<(), UserError> {
    if actor.is_admin() {
        return Ok(());
    }
    match action {
        Action::ManageModel => Err(UserError::Forbidden(
            "only admins may manage services, roles, permissions and tenants",
        )),
        Action::ManageKeys => Err(UserError::Forbidden(
            "only admins may see and rotate the signing keys",
        )),
        Action::ReadModel if actor.is_tenant_admin() => Ok(()),
        Action::ReadModel => Err(UserError::Forbidden(
            "only admins may read services, roles and permissions",
        )),
        Action::Read(t) | Action::Administer(t) if t.tenant != actor.tenant_id => {
            Err(UserError::NotFound)
        }
        Action::Read(_) | Action::Administer(_) if actor.is_tenant_admin() => Ok(()),
        Action::Read(t) if t.id == actor.user_id => Ok(()),
        Action::Read(_) => Err(UserError::Forbidden("you may only act on your own account")),
        Action::Administer(_) => Err(UserError::Forbidden("only admins may do this")),
    }
}

/// Loads the user `id` if `actor` may do `action` to them. An unknown id is `NotFound` for
/// admins and for oneself, and `Forbidden` for others, as it would be for an existing user.
///
/// # Errors
/// `NotFound` or `Forbidden`.
pub(crate) fn target_user(
    users: &dyn UserRepository,
    actor: &Principal,
    id: UserId,
    action: fn(Target) -> Action,
) -> Result<User, UserError> {
    match users.get_user(id)? {
        Some(user) => {
            authorize(actor, action(Target::of(&user)))?;
            Ok(user)
        }
        None if actor.is_admin() || actor.is_tenant_admin() || actor.user_id == id => {
            Err(UserError::NotFound)
        }
        None => authorize(
            actor,
            action(Target {
                id,
                tenant: actor.tenant_id,
            }),
        )
        .and(Err(UserError::NotFound)),
    }
}

/// Services, roles, permissions and tenants, the links between them, and grants to people.
pub struct AccessModel {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) access: Arc<dyn AccessRepository>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<Auditor>,
}

impl AccessModel {
    /// May `actor` grant roles and permissions to `person`? Global admins, and admins of the
    /// person's tenant. A person out of sight is reported as an unknown `person_id`.
    fn authorize_grant(&self, actor: &Principal, person: UserId) -> Result<(), UserError> {
        if actor.is_admin() {
            return Ok(());
        }
        if !actor.is_tenant_admin() {
            return Err(UserError::Forbidden("only admins may manage grants"));
        }
        match self.users.get_user(person)? {
            Some(u) if u.tenant_id == actor.tenant_id => Ok(()),
            _ => {
                let mut f = FieldErrors::new();
                f.add("person", "not_found");
                Err(f.into())
            }
        }
    }

    pub(crate) fn validate_entry(kind: Kind, req: &EntryRequest) -> Result<NewEntry, UserError> {
        let mut fields = FieldErrors::new();
        let name = match Name::parse(&req.name) {
            Ok(n) => Some(n),
            Err(p) => {
                fields.extend("name", p);
                None
            }
        };
        let description = match req.description.as_deref().map(Description::parse) {
            Some(Ok(d)) if d.as_str().is_empty() => None,
            Some(Ok(d)) => Some(d),
            Some(Err(p)) => {
                fields.extend("description", p);
                None
            }
            None => None,
        };
        if kind != Kind::Service && req.active.is_some() {
            fields.add("active", "only_for_services");
        }
        fields.into_result()?;
        let name = name.ok_or_else(|| anyhow::anyhow!("name missing after validation"))?;
        Ok(NewEntry {
            name,
            description,
            active: req.active.unwrap_or(true),
        })
    }

    /// Creates a service, role or permission.
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `Duplicate { field: "name" }`.
    pub fn create_entry(
        &self,
        actor: &Principal,
        kind: Kind,
        req: &EntryRequest,
    ) -> Result<Entry, UserError> {
        authorize(actor, Action::ManageModel)?;
        let new = Self::validate_entry(kind, req)?;
        let entry = self.access.create_entry(kind, &new, self.clock.now())?;
        self.audit_entry(actor, Event::EntryCreated, &entry);
        Ok(entry)
    }

    fn audit_entry(&self, actor: &Principal, event: Event, entry: &Entry) {
        self.audit.record(
            Audit::new(event, Outcome::Success)
                .by(actor)
                .target(format!("{}:{}", entry.kind.as_str(), entry.id))
                .detail("name", &entry.name)
                .detail("active", entry.active),
        );
    }

    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn get_entry(&self, actor: &Principal, kind: Kind, id: i64) -> Result<Entry, UserError> {
        authorize(actor, read_action(kind))?;
        self.access.get_entry(kind, id)?.ok_or(UserError::NotFound)
    }

    /// A service, role or permission by its exact name, for those who may read it.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for a name no visible entry has.
    pub fn entry_named(
        &self,
        actor: &Principal,
        kind: Kind,
        name: &str,
    ) -> Result<Entry, UserError> {
        authorize(actor, read_action(kind))?;
        self.find_visible(kind, name)?.ok_or(UserError::NotFound)
    }

    /// The visible entry of `kind` named `name`; a name no entry can have finds none.
    fn find_visible(&self, kind: Kind, name: &str) -> anyhow::Result<Option<Entry>> {
        match Name::parse(name) {
            Ok(n) => self.access.find_entry(kind, n.as_str()),
            Err(_) => Ok(None),
        }
    }

    /// Replaces a service's, role's or permission's name and description (and a service's `active`).
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `NotFound`, `Duplicate`.
    pub fn update_entry(
        &self,
        actor: &Principal,
        kind: Kind,
        id: i64,
        req: &EntryRequest,
    ) -> Result<Entry, UserError> {
        authorize(actor, Action::ManageModel)?;
        let mut new = Self::validate_entry(kind, req)?;
        if req.active.is_none() {
            // Absent keeps a service's state rather than quietly enabling it.
            let current = self
                .access
                .get_entry(kind, id)?
                .ok_or(UserError::NotFound)?;
            new.active = current.active;
        }
        let entry = self.access.update_entry(kind, id, &new, self.clock.now())?;
        self.audit_entry(actor, Event::EntryUpdated, &entry);
        Ok(entry)
    }

    /// Deletes a service, role or permission with every link and grant that names it.
    /// A deleted service's secret dies with it.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn delete_entry(&self, actor: &Principal, kind: Kind, id: i64) -> Result<(), UserError> {
        authorize(actor, Action::ManageModel)?;
        if self.access.delete_entry(kind, id)? {
            self.audit.record(
                Audit::new(Event::EntryDeleted, Outcome::Success)
                    .by(actor)
                    .target(format!("{}:{id}", kind.as_str())),
            );
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// A page of services, roles or permissions, in id order.
    ///
    /// # Errors
    /// `Forbidden`, `Validation` for a limit outside 1..=500.
    pub fn list_entries(
        &self,
        actor: &Principal,
        kind: Kind,
        limit: Option<u32>,
        after: Option<i64>,
    ) -> Result<Page<Entry>, UserError> {
        authorize(actor, read_action(kind))?;
        let limit = checked_limit(limit)?;
        let mut items = self.access.list_entries(kind, after, limit + 1)?;
        Ok(page(&mut items, limit, |e| e.id))
    }

    /// Links a role to a permission, or a service to a role. Linking twice is not an error.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming the id that does not exist.
    pub fn link(
        &self,
        actor: &Principal,
        link: Link,
        left: i64,
        right: i64,
    ) -> Result<(), UserError> {
        authorize(actor, Action::ManageModel)?;
        self.access.link(link, left, right)?;
        self.audit_link(actor, Event::LinkAdded, link, left, right);
        Ok(())
    }

    fn audit_link(&self, actor: &Principal, event: Event, link: Link, left: i64, right: i64) {
        let (lk, rk) = link.kinds();
        self.audit.record(
            Audit::new(event, Outcome::Success)
                .by(actor)
                .target(format!("{}:{left}", lk.as_str()))
                .detail(rk.as_str(), right),
        );
    }

    /// Removes a link; removing one that does not exist is `NotFound`.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn unlink(
        &self,
        actor: &Principal,
        link: Link,
        left: i64,
        right: i64,
    ) -> Result<(), UserError> {
        authorize(actor, Action::ManageModel)?;
        if self.access.unlink(link, left, right)? {
            self.audit_link(actor, Event::LinkRemoved, link, left, right);
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// The permissions of a role, or the roles of a service, sorted by name.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for an unknown left end.
    pub fn linked(
        &self,
        actor: &Principal,
        link: Link,
        left: i64,
    ) -> Result<Vec<Entry>, UserError> {
        authorize(actor, Action::ManageModel)?;
        self.access.linked(link, left)?.ok_or(UserError::NotFound)
    }

    /// Grants `role` to `person` in `service`. The service must offer the role.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming an unknown id or a role the service does not offer.
    pub fn grant_role(
        &self,
        actor: &Principal,
        person: UserId,
        service: i64,
        role: i64,
    ) -> Result<(), UserError> {
        self.authorize_grant(actor, person)?;
        self.access.grant_role(person, service, role)?;
        self.audit_grant(actor, Event::GrantAdded, person, service, ("role", role));
        Ok(())
    }

    fn audit_grant(
        &self,
        actor: &Principal,
        event: Event,
        person: UserId,
        service: i64,
        (what, id): (&str, i64),
    ) {
        self.audit.record(
            Audit::new(event, Outcome::Success)
                .by(actor)
                .subject(person)
                .target(format!("service:{service}"))
                .detail(what, id),
        );
    }

    /// # Errors
    /// `Forbidden`, `NotFound` when no such grant exists.
    pub fn revoke_role(
        &self,
        actor: &Principal,
        person: UserId,
        service: i64,
        role: i64,
    ) -> Result<(), UserError> {
        match self.authorize_grant(actor, person) {
            Err(UserError::Validation(_)) => return Err(UserError::NotFound),
            other => other?,
        }
        if self.access.revoke_role(person, service, role)? {
            self.audit_grant(actor, Event::GrantRemoved, person, service, ("role", role));
            Ok(())
        } else {
            Err(UserError::NotFound)
        }
    }

    /// Grants one permission directly to `person` in `service`, through a hidden role scoped to
    /// that person and service that is created on first use.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming an unknown id or permission name.
    pub fn grant_permission(
        &self,
        actor: &Principal,
        person: UserId,
        service: i64,
        permission: PermissionRef,
    ) -> Result<(), UserError> {
        self.authorize_grant(actor, person)?;
        let permission = match permission {
            PermissionRef::Id(id) => id,
            PermissionRef::Name(name) => match self.find_visible(Kind::Permission, &name)? {
                Some(p) => p.id,
                None => {
                    let mut f = FieldErrors::new();
                    f.add("permission", "not_found");
                    return Err(f.into());
                }
            },
        };
        self.access
            .grant_permission(person, service, permission, self.clock.now())?;
        self.audit_grant(
            actor,
            Event::GrantAdded,
            person,
            service,
            ("permission", permission),
        );
        Ok(())
    }

    /// The services in which a person holds any grant, sorted by name.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for an unknown person.
    pub fn person_services(
        &self,
        actor: &Principal,
        person: UserId,
    ) -> Result<Vec<Entry>, UserError> {
        target_user(&*self.users, actor, person, Action::Read)?;
        Ok(self.access.person_services(person)?)
    }

    /// A person's visible roles and effective permissions in one service.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for an unknown person or service.
    pub fn person_access(
        &self,
        actor: &Principal,
        person: UserId,
        service: i64,
    ) -> Result<PersonAccess, UserError> {
        let user = target_user(&*self.users, actor, person, Action::Read)?;
        self.access_of(user, service)?.ok_or(UserError::NotFound)
    }

    /// As `person_access`, with the service named by id or by name: whoever may read the person's
    /// access may name the service either way, since the answer shows the service.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for an unknown person or service.
    pub fn person_access_in(
        &self,
        actor: &Principal,
        person: UserId,
        service: &ServiceRef,
    ) -> Result<PersonAccess, UserError> {
        let user = target_user(&*self.users, actor, person, Action::Read)?;
        let id = match service {
            ServiceRef::Id(id) => *id,
            ServiceRef::Name(name) => {
                self.find_visible(Kind::Service, name)?
                    .ok_or(UserError::NotFound)?
                    .id
            }
        };
        self.access_of(user, id)?.ok_or(UserError::NotFound)
    }

    /// Roles and permissions of `user` in `service`; `None` when the service does not exist.
    pub(crate) fn access_of(
        &self,
        user: User,
        service: i64,
    ) -> anyhow::Result<Option<PersonAccess>> {
        let a = &self.access;
        let Some(service) = a.get_entry(Kind::Service, service)? else {
            return Ok(None);
        };
        let roles = a.person_roles(user.id, service.id)?;
        let permissions = a.effective_permissions(user.id, service.id)?;
        Ok(Some(PersonAccess {
            user,
            service,
            roles,
            permissions,
        }))
    }

    /// The people holding `role` in `service`, in id order.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for an unknown service or role.
    pub fn role_people(
        &self,
        actor: &Principal,
        service: i64,
        role: i64,
    ) -> Result<Vec<User>, UserError> {
        authorize(actor, Action::ReadModel)?;
        let a = &self.access;
        if a.get_entry(Kind::Service, service)?.is_none()
            || a.get_entry(Kind::Role, role)?.is_none()
        {
            return Err(UserError::NotFound);
        }
        let mut people = a.role_people(service, role)?;
        if !actor.is_admin() {
            people.retain(|u| u.tenant_id == actor.tenant_id);
        }
        Ok(people)
    }
}

/// Tenants are read by global admins only; the rest of the model by every admin.
fn read_action(kind: Kind) -> Action {
    match kind {
        Kind::Tenant => Action::ManageModel,
        _ => Action::ReadModel,
    }
}

/// The page size asked for, checked against 1..=500.
pub(crate) fn checked_limit(limit: Option<u32>) -> Result<u32, UserError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        let mut f = FieldErrors::new();
        f.add("limit", "out_of_range");
        Err(f.into())
    }
}

/// Cuts `items` (fetched with one extra) to `limit` and says where the next page starts.
pub(crate) fn page<T>(items: &mut Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Page<T> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_after = if more { items.last().map(&id) } else { None };
    Page {
        items: std::mem::take(items),
        next_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::Credential;

    fn principal(id: i64, roles: &[&str]) -> Principal {
        Principal {
            user_id: UserId(id),
            username: format!("u{id}"),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            session_id: None,
            scope: String::new(),
            expires_at: None,
            tenant_id: None,
            credential: Credential::AccessToken,
            client_id: "tessera".into(),
            issued_at: None,
            context: crate::audit::RequestContext::default(),
        }
    }

    fn in_tenant(mut p: Principal, t: i64) -> Principal {
        p.tenant_id = Some(TenantId(t));
        p
    }

    fn target(id: i64, tenant: Option<i64>) -> Target {
        Target {
            id: UserId(id),
            tenant: tenant.map(TenantId),
        }
    }

    #[test]
    fn authorization_matrix() {
        use UserError::{Forbidden, NotFound};
        let admin = principal(1, &["admin", "user"]);
        let user = principal(2, &["user"]);
        let tenant_admin = in_tenant(principal(3, &["admin", "user"]), 7);
        let tenant_user = in_tenant(principal(4, &["user"]), 7);
        let me = |p: &Principal| target(p.user_id.0, p.tenant_id.map(|t| t.0));
        let outcome = |p: &Principal, a: Action| match authorize(p, a) {
            Ok(()) => "ok",
            Err(Forbidden(_)) => "403",
            Err(NotFound) => "404",
            Err(_) => "other",
        };
        let cases = [
            // action, global admin, global user, tenant admin, tenant user
            (Action::ManageModel, ["ok", "403", "403", "403"]),
            (Action::ReadModel, ["ok", "403", "ok", "403"]),
            (Action::ManageKeys, ["ok", "403", "403", "403"]),
            (Action::Read(target(9, None)), ["ok", "403", "404", "404"]),
            (
                Action::Administer(target(9, None)),
                ["ok", "403", "404", "404"],
            ),
            (Action::Read(target(9, Some(7))), ["ok", "404", "ok", "403"]),
            (
                Action::Administer(target(9, Some(7))),
                ["ok", "404", "ok", "403"],
            ),
            (
                Action::Read(target(9, Some(8))),
                ["ok", "404", "404", "404"],
            ),
            (
                Action::Administer(target(9, Some(8))),
                ["ok", "404", "404", "404"],
            ),
        ];
        let actors = [&admin, &user, &tenant_admin, &tenant_user];
        for (action, expected) in cases {
            for (actor, want) in actors.iter().zip(expected) {
                assert_eq!(outcome(actor, action), want, "{action:?} by {actor:?}");
            }
        }
        for actor in actors {
            assert_eq!(outcome(actor, Action::Read(me(actor))), "ok");
        }
        assert_eq!(outcome(&user, Action::Administer(me(&user))), "403");
    }

    #[test]
    fn name_accepts_the_documented_set() {
        for ok in [
            "billing",
            "orders:read",
            "a",
            "App.v2/admin-x_y",
            "Service A",
            "UI Store",
            "a b c:d",
            &"x".repeat(64),
        ] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn name_rejects_each_rule() {
        assert_eq!(Name::parse(""), Err(vec!["empty"]));
        assert_eq!(Name::parse(&"x".repeat(65)), Err(vec!["too_long"]));
        assert_eq!(Name::parse("two\twords"), Err(vec!["invalid_characters"]));
        assert_eq!(Name::parse("A "), Err(vec!["invalid_spaces"]));
        assert_eq!(Name::parse("A  B"), Err(vec!["invalid_spaces"]));
        assert_eq!(
            Name::parse(" A"),
            Err(vec!["must_start_with_letter_or_digit"])
        );
        assert_eq!(
            Name::parse(" "),
            Err(vec!["must_start_with_letter_or_digit", "invalid_spaces"])
        );
        assert_eq!(
            Name::parse("~hidden"),
            Err(vec![
                "invalid_characters",
                "must_start_with_letter_or_digit"
            ])
        );
        assert_eq!(
            Name::parse(":x"),
            Err(vec!["must_start_with_letter_or_digit"])
        );
    }

    #[test]
    fn description_rules() {
        assert_eq!(
            Description::parse("  two\nlines ").unwrap().as_str(),
            "two\nlines"
        );
        assert_eq!(Description::parse(&"x".repeat(501)), Err(vec!["too_long"]));
        assert_eq!(
            Description::parse("bell\u{7}"),
            Err(vec!["invalid_characters"])
        );
    }

    #[test]
    fn active_is_only_for_services() {
        let req = EntryRequest {
            name: "editor".into(),
            description: None,
            active: Some(false),
        };
        assert!(AccessModel::validate_entry(Kind::Service, &req).is_ok());
        assert!(matches!(
            AccessModel::validate_entry(Kind::Role, &req),
            Err(UserError::Validation(_))
        ));
    }

    #[test]
    fn pages_say_where_the_next_starts() {
        let mut items = vec![1, 2, 3];
        let p = page(&mut items, 2, |i| *i);
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(p.next_after, Some(2));
        let mut items = vec![1, 2];
        assert_eq!(page(&mut items, 2, |i| *i).next_after, None);
        assert!(checked_limit(Some(0)).is_err());
        assert!(checked_limit(Some(501)).is_err());
        assert_eq!(checked_limit(None).unwrap(), 50);
    }
}
