//! Bulk import and export of users, for moving an installation's people into Tessera.
//!
//! An import is checked whole before anything is written, and written in one transaction: a bad
//! line is reported by its number and nothing is imported. Imported password hashes (Argon2 or
//! bcrypt) are kept as they are and upgraded to the configured Argon2id at each user's first login.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use crate::access::{authorize, Action, Kind, Target};
use crate::audit::{Audit, Event, Outcome};
use crate::error::UserError;
use crate::password::{Password, PasswordHash};
use crate::principal::Principal;
use crate::user::{LoginName, TenantId, User, UserId};
use crate::users::CreateUser;
use crate::users::{validate_new_user, Accounts};

/// How an imported user proves who they are.
#[derive(Debug)]
pub enum ImportSecret {
    /// A password in clear, checked against the policy and hashed.
    Password(Password),
    /// A password hash from the old system: Argon2 (PHC string) or bcrypt (`$2a$`, `$2b$`, `$2y$`).
    Hash(PasswordHash),
}

/// One user of an import file.
#[derive(Debug)]
pub struct ImportUser {
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    pub tenant_id: Option<i64>,
    /// Checked as `CreateUser::attributes` is.
    pub attributes: Option<BTreeMap<String, String>>,
    pub secret: ImportSecret,
}

/// Why an import was refused: the line (1-based, as the file counts them) and the problem.
#[derive(Debug)]
pub struct LineError {
    pub line: usize,
    pub error: UserError,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.error)
    }
}

/// An exported user: everything an import needs, the password hash included.
#[derive(Debug)]
pub struct ExportedUser {
    pub user: User,
    pub hash: PasswordHash,
}

impl Accounts {
    /// Imports users, all or none. `users` pairs each with its line number.
    ///
    /// # Errors
    /// The first line that breaks a rule, names a taken username or e-mail (in the file or in the
    /// store), or carries an unreadable hash; nothing is written then.
    pub fn import_users(
        &self,
        actor: &Principal,
        users: Vec<(usize, ImportUser)>,
    ) -> Result<Vec<User>, LineError> {
        let fail = |line: usize| move |error: UserError| LineError { line, error };
        let mut batch = Vec::with_capacity(users.len());
        let mut seen: HashSet<(Option<i64>, String)> = HashSet::new();
        for (line, u) in users {
            let tenant = u.tenant_id.map(TenantId);
            authorize(
                actor,
                Action::Administer(Target {
                    id: UserId(0),
                    tenant,
                }),
            )
            .map_err(fail(line))?;
            if let Some(t) = tenant {
                if self
                    .access
                    .get_entry(Kind::Tenant, t.0)
                    .map_err(|e| fail(line)(e.into()))?
                    .is_none()
                {
                    return Err(fail(line)(field("tenant_id", "not_found")));
                }
            }
            let request = CreateUser {
                username: u.username,
                password: match &u.secret {
                    ImportSecret::Password(p) => Password::new(p.expose().to_owned()),
                    // A hash needs no policy check: the password behind it was set elsewhere.
                    ImportSecret::Hash(_) => Password::new(String::new()),
                },
                email: u.email,
                display_name: u.display_name,
                roles: u.roles,
                active: u.active,
                tenant_id: u.tenant_id,
                attributes: u.attributes,
            };
            let mut new = match &u.secret {
                ImportSecret::Password(_) => {
                    validate_new_user(&self.password_policy, &request, true)
                }
                ImportSecret::Hash(_) => validate_new_user(&self.password_policy, &request, false),
            }
            .map_err(fail(line))?;
            new.tenant_id = tenant;
            for key in std::iter::once(new.username.normalized())
                .chain(new.email.as_ref().map(|e| e.normalized()))
            {
                if !seen.insert((u.tenant_id, key.clone())) {
                    return Err(fail(line)(UserError::Duplicate {
                        field: if key.contains('@') {
                            "email"
                        } else {
                            "username"
                        },
                    }));
                }
                let name = if key.contains('@') {
                    LoginName::Email(key)
                } else {
                    LoginName::Username(key)
                };
                let exists = self
                    .users
                    .find_credentials(tenant, &name)
                    .map_err(|e| fail(line)(e.into()))?
                    .is_some();
                if exists {
                    return Err(fail(line)(UserError::Duplicate {
                        field: if matches!(name, LoginName::Email(_)) {
                            "email"
                        } else {
                            "username"
                        },
                    }));
                }
            }
            let hash = match u.secret {
                ImportSecret::Password(p) => {
                    self.hasher.hash(&p).map_err(|e| fail(line)(e.into()))?
                }
                ImportSecret::Hash(h) => {
                    if !self.hasher.recognizes(&h) {
                        return Err(fail(line)(field("password_hash", "unknown_format")));
                    }
                    h
                }
            };
            batch.push((new, hash));
        }
        let created = self
            .users
            .create_users(&batch, self.clock.now())
            .map_err(|error| LineError { line: 0, error })?;
        self.audit.record(
            Audit::new(Event::UsersImported, Outcome::Success)
                .by(actor)
                .detail("users", created.len()),
        );
        Ok(created)
    }

    /// Every user with their password hash, for an export. Global admins only.
    ///
    /// # Errors
    /// `Forbidden`, or when the store fails.
    pub fn export_users(&self, actor: &Principal) -> Result<Vec<ExportedUser>, UserError> {
        authorize(actor, Action::ManageModel)?;
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self.list_users(actor, Some(crate::users::MAX_PAGE), after, None)?;
            for user in page.items {
                if let Some((user, hash)) = self.users.user_credentials(user.id)? {
                    out.push(ExportedUser { user, hash });
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        self.audit.record(
            Audit::new(Event::UsersExported, Outcome::Success)
                .by(actor)
                .detail("users", out.len()),
        );
        Ok(out)
    }
}

fn field(name: &str, rule: &'static str) -> UserError {
    let mut f = crate::error::FieldErrors::new();
    f.add(name, rule);
    UserError::Validation(f)
}
