//! Importing a whole access model from another system, every row with the id it had there: people
//! with their password hashes and attributes, services, roles, permissions, the links between
//! them, grants and direct grants.
//!
//! The model is checked whole against Tessera's rules before anything is written, and written in
//! one transaction (`ModelImporter`): a row that breaks a rule is named by its `source` label and
//! nothing is imported. Kept ids let the other system's clients go on using the ids they stored.
//! Imported password hashes (bcrypt) are kept as they are and upgraded to the configured Argon2id
//! at each person's first login. Everyone imported gets the global role `user`; the people named
//! admins get `admin` too; nobody gains any other right.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use crate::access::{authorize, AccessModel, Action, EntryRequest, Kind, NewEntry};
use crate::audit::{Audit, Event, Outcome};
use crate::error::{FieldErrors, UserError};
use crate::password::PasswordHash;
use crate::principal::Principal;
use crate::user::{Attributes, DisplayName, NewUser, Role, UserId, Username};
use crate::users::Accounts;

/// A person of the source.
#[derive(Debug, Clone)]
pub struct ImportedPerson {
    /// Kept as the user's id.
    pub id: i64,
    /// Names the row in messages as the source knows it, such as `person id 7 (username "x")`.
    pub source: String,
    pub username: String,
    /// A bcrypt hash, kept as it is.
    pub password_hash: PasswordHash,
    pub display_name: Option<String>,
    /// Checked as `Attributes::parse` checks them.
    pub attributes: BTreeMap<String, String>,
    /// Removed in the source: neither the person nor their grants are imported (they are counted
    /// as skipped), but no new user ever gets their id.
    pub removed: bool,
}

/// A service, role or permission of the source.
#[derive(Debug, Clone)]
pub struct ImportedEntry {
    /// Kept as the entry's id.
    pub id: i64,
    pub source: String,
    pub name: String,
    pub description: Option<String>,
    /// Only services can be inactive.
    pub active: bool,
}

/// A link of the source: a role and a permission it holds, or a service and a role it offers.
#[derive(Debug, Clone)]
pub struct ImportedLink {
    pub source: String,
    /// The role (role permissions) or the service (service roles).
    pub left: i64,
    /// The permission (role permissions) or the role (service roles).
    pub right: i64,
}

/// A role granted to a person in a service.
#[derive(Debug, Clone)]
pub struct ImportedGrant {
    pub source: String,
    pub person: i64,
    pub service: i64,
    pub role: i64,
}

/// A permission granted to a person in a service without a role; Tessera keeps it as a direct
/// grant (`AccessModel::grant_permission`).
#[derive(Debug, Clone)]
pub struct ImportedDirectGrant {
    pub source: String,
    pub person: i64,
    pub service: i64,
    pub permission: i64,
}

/// A whole access model as read from another system, every row with its id and a label naming
/// it there.
#[derive(Debug, Clone, Default)]
pub struct ModelImport {
    pub people: Vec<ImportedPerson>,
    pub services: Vec<ImportedEntry>,
    pub roles: Vec<ImportedEntry>,
    pub permissions: Vec<ImportedEntry>,
    pub role_permissions: Vec<ImportedLink>,
    pub service_roles: Vec<ImportedLink>,
    pub grants: Vec<ImportedGrant>,
    pub direct_grants: Vec<ImportedDirectGrant>,
}

/// A model that keeps every rule, ready to write (`ModelImporter::import_model`). Links and grants
/// name only rows of the model, and hold no duplicates.
#[derive(Debug, Clone, Default)]
pub struct CheckedModel {
    pub users: Vec<(UserId, NewUser, PasswordHash)>,
    pub services: Vec<(i64, NewEntry)>,
    pub roles: Vec<(i64, NewEntry)>,
    pub permissions: Vec<(i64, NewEntry)>,
    /// (role, permission)
    pub role_permissions: Vec<(i64, i64)>,
    /// (service, role)
    pub service_roles: Vec<(i64, i64)>,
    /// (person, service, role)
    pub grants: Vec<(UserId, i64, i64)>,
    /// (person, service, permission)
    pub direct_grants: Vec<(UserId, i64, i64)>,
    /// No user made after the import gets an id at or below this one: the highest id of the
    /// source's people, the removed ones included.
    pub user_ids_through: i64,
}

/// What an import wrote, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelImported {
    pub people: usize,
    /// Removed people, not imported.
    pub skipped_people: usize,
    /// Grants and direct grants of removed people, not imported.
    pub skipped_grants: usize,
    pub services: usize,
    pub roles: usize,
    pub permissions: usize,
    pub role_permissions: usize,
    pub service_roles: usize,
    pub grants: usize,
    pub direct_grants: usize,
    /// People given the global role `admin`.
    pub admins: usize,
    /// Whether what the store held was deleted first.
    pub replaced: bool,
}

/// A row that breaks a rule: its label and what it breaks.
#[derive(Debug)]
pub struct RowError {
    pub source: String,
    pub problem: UserError,
    /// The row it clashes with, for a duplicate.
    pub clashes_with: Option<String>,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            UserError::Validation(fields) => write!(f, "{}: {fields}", self.source)?,
            other => write!(f, "{}: {other}", self.source)?,
        }
        if let Some(other) = &self.clashes_with {
            write!(f, " (the same as {other})")?;
        }
        Ok(())
    }
}

/// Why a model import wrote nothing.
#[derive(Debug)]
pub enum ModelImportError {
    /// A row breaks a rule of Tessera's.
    Row(RowError),
    /// A name given as an admin is no person of the import (unknown, or removed).
    UnknownAdmin(String),
    /// The store holds users, services, roles or permissions, and replacing them was not asked.
    NotEmpty,
    /// Replacing would delete every admin, and the import names none.
    NoAdmin,
    /// The caller may not import, or the store failed.
    Failed(UserError),
}

impl fmt::Display for ModelImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Row(row) => write!(f, "{row}"),
            Self::UnknownAdmin(name) => write!(
                f,
                "{name:?} is to be an admin, but no person of the import has that username \
                 (or the person was removed)"
            ),
            Self::NotEmpty => write!(
                f,
                "the target already holds users, services, roles or permissions"
            ),
            Self::NoAdmin => write!(
                f,
                "replacing would delete every admin, and no imported person is to be one"
            ),
            Self::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ModelImportError {}

impl From<UserError> for ModelImportError {
    fn from(e: UserError) -> Self {
        Self::Failed(e)
    }
}

impl From<anyhow::Error> for ModelImportError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(UserError::Unknown(e))
    }
}

fn row(source: &str, field: &str, rule: &'static str) -> ModelImportError {
    let mut f = FieldErrors::new();
    f.add(field, rule);
    rows(source, f)
}

fn rows(source: &str, fields: FieldErrors) -> ModelImportError {
    ModelImportError::Row(RowError {
        source: source.to_owned(),
        problem: UserError::Validation(fields),
        clashes_with: None,
    })
}

fn duplicate(source: &str, field: &str, other: &str) -> ModelImportError {
    let mut f = FieldErrors::new();
    f.add(field, "duplicate");
    ModelImportError::Row(RowError {
        source: source.to_owned(),
        problem: UserError::Validation(f),
        clashes_with: Some(other.to_owned()),
    })
}

/// Ids seen so far of one kind, with the label of the row that had each.
#[derive(Default)]
struct Ids(HashMap<i64, String>);

impl Ids {
    /// Records `id` for the row `source`; an id below 1 or seen before breaks a rule.
    fn add(&mut self, id: i64, source: &str) -> Result<(), ModelImportError> {
        if id < 1 {
            return Err(row(source, "id", "out_of_range"));
        }
        if let Some(other) = self.0.get(&id) {
            return Err(duplicate(source, "id", other));
        }
        self.0.insert(id, source.to_owned());
        Ok(())
    }

    fn has(&self, id: i64) -> bool {
        self.0.contains_key(&id)
    }
}

impl Accounts {
    /// Imports a whole access model with the ids it came with, all or nothing, as a global admin
    /// (the operator, `Principal::system`). `admins` are usernames (ignoring case) of imported
    /// people who get the global role `admin`; everyone imported gets `user`. A store that holds
    /// any user, service, role or permission is refused unless `replace`, which deletes its users
    /// (ending their sessions), services, roles, permissions and grants in the same transaction.
    /// Audited as `model_imported`.
    ///
    /// # Errors
    /// `Row` for the first row that breaks a rule (nothing is written then), `UnknownAdmin`,
    /// `NotEmpty`, `NoAdmin` (replacing every admin with none), `Failed` for a caller who is not a
    /// global admin or a store that fails.
    pub fn import_model(
        &self,
        actor: &Principal,
        model: ModelImport,
        admins: &[String],
        replace: bool,
    ) -> Result<ModelImported, ModelImportError> {
        authorize(actor, Action::ManageModel)?;
        let (checked, mut report) = self.check_model(model, admins)?;
        if !replace && self.holds_model()? {
            return Err(ModelImportError::NotEmpty);
        }
        if replace && report.admins == 0 && self.users.count_active_admins()? > 0 {
            return Err(ModelImportError::NoAdmin);
        }
        let revoked = self
            .importer
            .import_model(&checked, replace, self.clock.now())?
            .ok_or(ModelImportError::NotEmpty)?;
        self.revocations.remember(&revoked);
        report.replaced = replace;
        let mut audit = Audit::new(Event::ModelImported, Outcome::Success)
            .by(actor)
            .detail("people", report.people)
            .detail("skipped_people", report.skipped_people)
            .detail("services", report.services)
            .detail("roles", report.roles)
            .detail("permissions", report.permissions)
            .detail("role_permissions", report.role_permissions)
            .detail("service_roles", report.service_roles)
            .detail("grants", report.grants)
            .detail("direct_grants", report.direct_grants)
            .detail("replaced", replace);
        for (_, user, _) in &checked.users {
            if user.roles.contains(&Role::admin()) {
                audit = audit.detail("admins", user.username.as_str());
            }
        }
        if replace {
            audit = audit.detail("sessions_revoked", revoked.len());
        }
        self.audit.record(audit);
        Ok(report)
    }

    /// Whether the store holds any user, service, role or permission.
    fn holds_model(&self) -> anyhow::Result<bool> {
        if self.users.count_users()? > 0 {
            return Ok(true);
        }
        for kind in [Kind::Service, Kind::Role, Kind::Permission] {
            if !self.access.list_entries(kind, None, 1)?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Checks every row against Tessera's rules, in the order of `ModelImport`'s fields, and
    /// returns the model to write with what it holds, by kind.
    fn check_model(
        &self,
        model: ModelImport,
        admins: &[String],
    ) -> Result<(CheckedModel, ModelImported), ModelImportError> {
        let mut out = CheckedModel::default();
        let mut report = ModelImported::default();

        // People.
        let mut person_ids = Ids::default();
        let mut removed: HashSet<i64> = HashSet::new();
        let mut usernames: HashMap<String, String> = HashMap::new();
        for p in model.people {
            person_ids.add(p.id, &p.source)?;
            out.user_ids_through = out.user_ids_through.max(p.id);
            if p.removed {
                removed.insert(p.id);
                report.skipped_people += 1;
                continue;
            }
            let (new, hash) = self.check_person(&p)?;
            if let Some(other) = usernames.get(&new.username.normalized()) {
                return Err(duplicate(&p.source, "username", other));
            }
            usernames.insert(new.username.normalized(), p.source.clone());
            out.users.push((UserId(p.id), new, hash));
        }

        // Admins: imported people, by username ignoring case.
        let mut made_admin: HashSet<i64> = HashSet::new();
        for name in admins {
            let wanted = name.trim().to_ascii_lowercase();
            let found = out
                .users
                .iter_mut()
                .find(|(_, u, _)| u.username.normalized() == wanted);
            match found {
                Some((id, user, _)) => {
                    user.roles = vec![Role::admin(), Role::user()];
                    made_admin.insert(id.0);
                }
                None => return Err(ModelImportError::UnknownAdmin(name.clone())),
            }
        }
        report.admins = made_admin.len();

        // Services, roles, permissions.
        let services = check_entries(Kind::Service, model.services, &mut out.services)?;
        let roles = check_entries(Kind::Role, model.roles, &mut out.roles)?;
        let permissions = check_entries(Kind::Permission, model.permissions, &mut out.permissions)?;

        // Links.
        out.role_permissions = check_links(
            model.role_permissions,
            ("role", &roles),
            ("permission", &permissions),
        )?;
        out.service_roles = check_links(
            model.service_roles,
            ("service", &services),
            ("role", &roles),
        )?;
        let offered: HashSet<(i64, i64)> = out.service_roles.iter().copied().collect();

        // Grants: a removed person's are skipped; the others name existing rows, and a role the
        // service offers, as `AccessModel::grant_role` asks.
        let person = |id: i64, f: &mut FieldErrors| {
            if !person_ids.has(id) {
                f.add("person", "not_found");
            }
        };
        let mut granted = HashSet::new();
        for g in model.grants {
            if removed.contains(&g.person) {
                report.skipped_grants += 1;
                continue;
            }
            let mut f = FieldErrors::new();
            person(g.person, &mut f);
            if !services.has(g.service) {
                f.add("service", "not_found");
            }
            if !roles.has(g.role) {
                f.add("role", "not_found");
            }
            if f.is_empty() && !offered.contains(&(g.service, g.role)) {
                f.add("role", "not_offered_by_service");
            }
            if !f.is_empty() {
                return Err(rows(&g.source, f));
            }
            if granted.insert((g.person, g.service, g.role)) {
                out.grants.push((UserId(g.person), g.service, g.role));
            }
        }
        let mut direct = HashSet::new();
        for g in model.direct_grants {
            if removed.contains(&g.person) {
                report.skipped_grants += 1;
                continue;
            }
            let mut f = FieldErrors::new();
            person(g.person, &mut f);
            if !services.has(g.service) {
                f.add("service", "not_found");
            }
            if !permissions.has(g.permission) {
                f.add("permission", "not_found");
            }
            if !f.is_empty() {
                return Err(rows(&g.source, f));
            }
            if direct.insert((g.person, g.service, g.permission)) {
                out.direct_grants
                    .push((UserId(g.person), g.service, g.permission));
            }
        }

        report.people = out.users.len();
        report.services = out.services.len();
        report.roles = out.roles.len();
        report.permissions = out.permissions.len();
        report.role_permissions = out.role_permissions.len();
        report.service_roles = out.service_roles.len();
        report.grants = out.grants.len();
        report.direct_grants = out.direct_grants.len();
        Ok((out, report))
    }

    /// One person as a new user with the global role `user`, naming every rule the row breaks.
    fn check_person(
        &self,
        p: &ImportedPerson,
    ) -> Result<(NewUser, PasswordHash), ModelImportError> {
        let mut f = FieldErrors::new();
        let username = match Username::parse(&p.username) {
            Ok(u) => Some(u),
            Err(problems) => {
                f.extend("username", problems);
                None
            }
        };
        let display_name = match p.display_name.as_deref().map(DisplayName::parse) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(problems)) => {
                f.extend("display_name", problems);
                None
            }
        };
        let attributes = match Attributes::parse(p.attributes.clone()) {
            Ok(a) => a,
            Err(problems) => {
                f.extend("attributes", problems);
                Attributes::empty()
            }
        };
        if !p.password_hash.is_bcrypt() {
            f.add("password_hash", "not_bcrypt");
        } else if !self.hasher.recognizes(&p.password_hash) {
            f.add("password_hash", "unknown_format");
        }
        let Some(username) = username.filter(|_| f.is_empty()) else {
            return Err(rows(&p.source, f));
        };
        let new = NewUser {
            username,
            email: None,
            display_name,
            roles: vec![Role::user()],
            active: true,
            tenant_id: None,
            attributes,
        };
        Ok((new, p.password_hash.clone()))
    }
}

/// Checks the entries of one kind (names, descriptions, ids, and names unique within the kind)
/// into `out`; returns their ids.
/// Links whose two ends must be rows of the import (`left` and `right` name each end's kind and
/// its ids), each kept once, in the order given.
fn check_links(
    links: Vec<ImportedLink>,
    left: (&'static str, &Ids),
    right: (&'static str, &Ids),
) -> Result<Vec<(i64, i64)>, ModelImportError> {
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(links.len());
    for l in links {
        let mut f = FieldErrors::new();
        if !left.1.has(l.left) {
            f.add(left.0, "not_found");
        }
        if !right.1.has(l.right) {
            f.add(right.0, "not_found");
        }
        if !f.is_empty() {
            return Err(rows(&l.source, f));
        }
        if seen.insert((l.left, l.right)) {
            kept.push((l.left, l.right));
        }
    }
    Ok(kept)
}

fn check_entries(
    kind: Kind,
    entries: Vec<ImportedEntry>,
    out: &mut Vec<(i64, NewEntry)>,
) -> Result<Ids, ModelImportError> {
    let mut ids = Ids::default();
    let mut names: HashMap<String, String> = HashMap::new();
    for e in entries {
        ids.add(e.id, &e.source)?;
        let request = EntryRequest {
            name: e.name.clone(),
            description: e.description.clone(),
            // A disabled role or permission breaks a rule: only services can be disabled.
            active: (kind == Kind::Service || !e.active).then_some(e.active),
        };
        let new = match AccessModel::validate_entry(kind, &request) {
            Ok(new) => new,
            Err(UserError::Validation(f)) => return Err(rows(&e.source, f)),
            Err(other) => return Err(other.into()),
        };
        if let Some(other) = names.get(new.name.as_str()) {
            return Err(duplicate(&e.source, "name", other));
        }
        names.insert(new.name.as_str().to_owned(), e.source.clone());
        out.push((e.id, new));
    }
    Ok(ids)
}
