//! User management: create, read, update, delete, list, change password, and the first admin.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::access::{authorize, checked_limit, page, target_user, Action, Kind, Target};
use crate::audit::{Audit, Auditor, Event, Outcome};
use crate::error::{FieldErrors, UserError};
use crate::lockout::LockoutKey;
use crate::password::{Password, PasswordPolicy, Verification};
use crate::ports::{
    AccessRepository, ApiKeys, Clock, LockoutRepository, ModelImporter, PasswordHasher,
    RevokeSessions, SecretTokens, UserRepository,
};
use crate::principal::Principal;
use crate::revocation::Revocations;
use crate::user::{
    parse_roles, AttributeChanges, Attributes, DisplayName, Email, LoginName, NewUser, Role,
    TenantId, User, UserChanges, UserId, UserQuery, Username,
};

/// The name of the admin created on an empty database.
pub const BOOTSTRAP_ADMIN: &str = "admin";
/// Default and largest page size of list endpoints.
pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// A request to create a user, as received: every field is validated by `Accounts::create_user`.
#[derive(Debug)]
pub struct CreateUser {
    pub username: String,
    pub password: Password,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    /// Global admins may name any tenant; a tenant admin's users go to their own tenant.
    pub tenant_id: Option<i64>,
    /// `None`: no attributes.
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A requested change, as received. `None`: leave alone; `Some(None)`: clear.
#[derive(Debug, Default)]
pub struct UpdateUser {
    /// A new login name: for those who administer the user. Sessions stay, as tokens name the
    /// user by id.
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub display_name: Option<Option<String>>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
    /// A merge into the user's attributes: a name with a value sets it, a name with `None`
    /// removes it, names not given stay (JSON merge patch, RFC 7396).
    pub attributes: Option<BTreeMap<String, Option<String>>>,
}

/// One page of a list.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next_after: Option<i64>,
}

/// The first admin, and the password generated for it when none was configured.
#[derive(Debug)]
pub struct Bootstrapped {
    pub admin: User,
    pub generated_password: Option<Password>,
}

fn parse_optional<T>(
    fields: &mut FieldErrors,
    name: &str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, Vec<&'static str>>,
) -> Option<T> {
    match raw.map(parse) {
        Some(Ok(v)) => Some(v),
        Some(Err(problems)) => {
            fields.extend(name, problems);
            None
        }
        None => None,
    }
}

/// Checks every field of a new user, and its password against `policy` when `check_password`
/// (an imported user's password arrives already hashed).
pub(crate) fn validate_new_user(
    policy: &PasswordPolicy,
    req: &CreateUser,
    check_password: bool,
) -> Result<NewUser, UserError> {
    let mut fields = FieldErrors::new();
    let username = match Username::parse(&req.username) {
        Ok(u) => Some(u),
        Err(p) => {
            fields.extend("username", p);
            None
        }
    };
    if check_password {
        fields.extend("password", policy.violations(&req.password, &req.username));
    }
    let email = parse_optional(&mut fields, "email", req.email.as_deref(), Email::parse);
    let display_name = parse_optional(
        &mut fields,
        "display_name",
        req.display_name.as_deref(),
        DisplayName::parse,
    );
    let roles = match req.roles.as_deref().map(parse_roles) {
        None => vec![Role::user()],
        Some(Ok(r)) => r,
        Some(Err(p)) => {
            fields.extend("roles", p);
            vec![]
        }
    };
    let attributes = match req.attributes.clone().map(Attributes::parse) {
        None => Attributes::empty(),
        Some(Ok(a)) => a,
        Some(Err(p)) => {
            fields.extend("attributes", p);
            Attributes::empty()
        }
    };
    fields.into_result()?;
    let Some(username) = username else {
        return Err(UserError::Unknown(anyhow::anyhow!(
            "username missing after validation"
        )));
    };
    Ok(NewUser {
        username,
        email,
        display_name,
        roles,
        active: req.active.unwrap_or(true),
        tenant_id: None,
        attributes,
    })
}

/// Users: create, read, update, delete, list, passwords, the first admin, import and export,
/// and lifting a lockout.
pub struct Accounts {
    pub(crate) users: Arc<dyn UserRepository>,
    pub(crate) access: Arc<dyn AccessRepository>,
    pub(crate) importer: Arc<dyn ModelImporter>,
    pub(crate) hasher: Arc<dyn PasswordHasher>,
    pub(crate) secrets: Arc<dyn SecretTokens>,
    pub(crate) lockout: Arc<dyn LockoutRepository>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<Auditor>,
    pub(crate) revocations: Arc<Revocations>,
    pub(crate) password_policy: PasswordPolicy,
}

impl Accounts {
    /// Lifts a user's lockout and forgets their failed logins. Admins (of the user's tenant) only.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`.
    pub fn unlock_user(
        &self,
        actor: &Principal,
        id: crate::user::UserId,
    ) -> Result<(), crate::error::UserError> {
        target_user(&*self.users, actor, id, crate::access::Action::Administer)?;
        self.lockout.clear_all(&LockoutKey::user(id))?;
        self.audit.record(
            Audit::new(Event::Unlock, Outcome::Success)
                .by(actor)
                .subject(id),
        );
        Ok(())
    }

    /// Creates a user. Only admins may.
    ///
    /// # Errors
    /// `Forbidden`, `Validation` naming every broken rule, or `Duplicate`.
    pub fn create_user(&self, actor: &Principal, req: CreateUser) -> Result<User, UserError> {
        let tenant = req.tenant_id.map(TenantId).or(actor.tenant_id);
        authorize(
            actor,
            Action::Administer(Target {
                id: UserId(0),
                tenant,
            }),
        )?;
        let mut new = validate_new_user(&self.password_policy, &req, true)?;
        if let Some(t) = tenant {
            if self.access.get_entry(Kind::Tenant, t.0)?.is_none() {
                let mut f = FieldErrors::new();
                f.add("tenant", "not_found");
                return Err(f.into());
            }
        }
        new.tenant_id = tenant;
        let hash = self.hasher.hash(&req.password)?;
        let user = self.users.create_user(&new, &hash, self.clock.now())?;
        self.audit.record(
            Audit::new(Event::UserCreated, Outcome::Success)
                .by(actor)
                .subject(user.id)
                .detail("username", user.username.as_str())
                .detail("roles", roles_text(&user)),
        );
        Ok(user)
    }

    /// Creates the first admin when there is no user at all; does nothing otherwise.
    ///
    /// # Errors
    /// `Validation` when the configured password breaks the policy.
    pub fn bootstrap_admin(
        &self,
        password: Option<Password>,
    ) -> Result<Option<Bootstrapped>, UserError> {
        if self.users.count_users()? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p, false),
            None => (self.secrets.new_password(), true),
        };
        let mut fields = FieldErrors::new();
        fields.extend(
            "bootstrap.admin_password",
            self.password_policy.violations(&password, BOOTSTRAP_ADMIN),
        );
        fields.into_result()?;
        let username = Username::parse(BOOTSTRAP_ADMIN)
            .map_err(|_| anyhow::anyhow!("the bootstrap admin name is not a valid username"))?;
        let new = NewUser {
            username,
            email: None,
            display_name: Some(
                DisplayName::parse("Administrator")
                    .map_err(|_| anyhow::anyhow!("invalid display name"))?,
            ),
            roles: vec![Role::admin(), Role::user()],
            active: true,
            tenant_id: None,
            attributes: Attributes::empty(),
        };
        let hash = self.hasher.hash(&password)?;
        let admin = match self.users.create_user(&new, &hash, self.clock.now()) {
            Ok(admin) => admin,
            // Another node starting at the same moment made the first admin.
            Err(UserError::Duplicate { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(Bootstrapped {
            admin,
            generated_password: generated.then_some(password),
        }))
    }

    /// A new random password of 144 bits, for a first admin or an operator's reset.
    pub fn random_password(&self) -> Password {
        self.secrets.new_password()
    }

    /// The user a login name (username or e-mail) names, in `tenant` (a tenant's name) or among
    /// the global users; for their admins.
    ///
    /// # Errors
    /// `NotFound`, `Forbidden`.
    pub fn user_named(
        &self,
        actor: &Principal,
        login: &str,
        tenant: Option<&str>,
    ) -> Result<User, UserError> {
        // Asked before anything is looked up, so that the answer tells someone who may not
        // administer users nothing about which names exist.
        if !actor.is_admin() && !actor.is_tenant_admin() {
            return Err(UserError::Forbidden(
                "only admins may look users up by name",
            ));
        }
        let tenant = match tenant {
            None => None,
            Some(name) => Some(TenantId(
                self.access
                    .find_entry(Kind::Tenant, name)?
                    .ok_or(UserError::NotFound)?
                    .id,
            )),
        };
        let name = LoginName::parse(login).ok_or(UserError::NotFound)?;
        let (user, _) = self
            .users
            .find_credentials(tenant, &name)?
            .ok_or(UserError::NotFound)?;
        authorize(actor, Action::Administer(Target::of(&user)))?;
        Ok(user)
    }

    /// A user, for an admin or the user themselves.
    ///
    /// # Errors
    /// `Forbidden` for someone else's id, `NotFound`.
    pub fn get_user(&self, actor: &Principal, id: UserId) -> Result<User, UserError> {
        target_user(&*self.users, actor, id, Action::Read)
    }

    /// Changes a user. Users change their own e-mail and display name; only admins change the
    /// username, roles, `active` and attributes. Taking a role away or disabling the user ends all
    /// their sessions, so no token keeps the old rights; a new username ends none, since tokens
    /// name the user by id.
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `NotFound`, `Duplicate` (a username or e-mail another user of
    /// the tenant has, ignoring case), `LastAdmin`.
    pub fn update_user(
        &self,
        actor: &Principal,
        id: UserId,
        req: UpdateUser,
    ) -> Result<User, UserError> {
        let current = target_user(&*self.users, actor, id, Action::Read)?;
        if (req.username.is_some()
            || req.roles.is_some()
            || req.active.is_some()
            || req.attributes.is_some())
            && authorize(actor, Action::Administer(Target::of(&current))).is_err()
        {
            return Err(UserError::Forbidden(
                "only admins may change the username, roles, active or attributes",
            ));
        }
        let mut fields = FieldErrors::new();
        let mut changes = UserChanges {
            // Unique ignoring case within the tenant: the store refuses a name another user has
            // (`Duplicate`), while the user's own, in any case, is theirs to keep or recase.
            username: parse_optional(
                &mut fields,
                "username",
                req.username.as_deref(),
                Username::parse,
            ),
            ..UserChanges::default()
        };
        if let Some(email) = &req.email {
            changes.email = Some(parse_optional(
                &mut fields,
                "email",
                email.as_deref(),
                Email::parse,
            ));
        }
        if let Some(name) = &req.display_name {
            changes.display_name = Some(parse_optional(
                &mut fields,
                "display_name",
                name.as_deref(),
                DisplayName::parse,
            ));
        }
        if let Some(roles) = &req.roles {
            match parse_roles(roles) {
                Ok(r) => changes.roles = Some(r),
                Err(p) => fields.extend("roles", p),
            }
        }
        changes.active = req.active;
        if let Some(raw) = req.attributes {
            // Checked here against the attributes as read, so that a broken rule is named with
            // the others; the store merges again in its transaction (`UserChanges::attributes`).
            match AttributeChanges::parse(raw) {
                Ok(a) => match current.attributes.merged(&a) {
                    Ok(_) => changes.attributes = Some(a),
                    Err(p) => fields.extend("attributes", p),
                },
                Err(p) => fields.extend("attributes", p),
            }
        }
        fields.into_result()?;

        // Only global admins count: the last of them must stay.
        let loses_admin = current.is_admin()
            && current.tenant_id.is_none()
            && current.active
            && (changes.active == Some(false)
                || changes
                    .roles
                    .as_ref()
                    .is_some_and(|r| !r.iter().any(Role::is_admin)));
        if loses_admin && self.users.count_active_admins()? <= 1 {
            return Err(UserError::LastAdmin);
        }
        let loses_rights = changes.active == Some(false)
            || changes
                .roles
                .as_ref()
                .is_some_and(|new| current.roles.iter().any(|r| !new.contains(r)));
        let revoke = if loses_rights {
            RevokeSessions::All
        } else {
            RevokeSessions::None
        };
        let (user, revoked) = self
            .users
            .update_user(id, &changes, revoke, self.clock.now())?;
        self.revocations.remember(&revoked);
        let mut audit = Audit::new(Event::UserUpdated, Outcome::Success)
            .by(actor)
            .subject(id);
        for (field, changed) in [
            ("username", changes.username.is_some()),
            ("email", changes.email.is_some()),
            ("display_name", changes.display_name.is_some()),
            ("roles", changes.roles.is_some()),
            ("active", changes.active.is_some()),
            ("attributes", changes.attributes.is_some()),
        ] {
            if changed {
                audit = audit.detail("changed", field);
            }
        }
        if changes.roles.is_some() {
            audit = audit.detail("roles", roles_text(&user));
        }
        if let Some(active) = changes.active {
            audit = audit.detail("active", active);
        }
        // The names only, of the attributes whose value changed: a value may be personal data
        // (a document number, say), and a name the patch removed that was never set changed
        // nothing.
        if let Some(attributes) = &changes.attributes {
            for (name, _) in attributes.iter() {
                if current.attributes.get(name) != user.attributes.get(name) {
                    audit = audit.detail("attributes", name);
                }
            }
        }
        self.audit.record(audit);
        Ok(user)
    }

    /// Deletes a user and ends all their sessions. Only admins may; the last active admin cannot go.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `LastAdmin`.
    pub fn delete_user(&self, actor: &Principal, id: UserId) -> Result<(), UserError> {
        let current = target_user(&*self.users, actor, id, Action::Administer)?;
        if current.is_admin()
            && current.tenant_id.is_none()
            && current.active
            && self.users.count_active_admins()? <= 1
        {
            return Err(UserError::LastAdmin);
        }
        let revoked = self
            .users
            .delete_user(id, self.clock.now())?
            .ok_or(UserError::NotFound)?;
        self.revocations.remember(&revoked);
        self.audit.record(
            Audit::new(Event::UserDeleted, Outcome::Success)
                .by(actor)
                .subject(id)
                .detail("username", current.username.as_str()),
        );
        Ok(())
    }

    /// A page of users for an admin, optionally filtered by a username or e-mail prefix.
    ///
    /// # Errors
    /// `Forbidden`, or `Validation` for a limit outside 1..=500.
    pub fn list_users(
        &self,
        actor: &Principal,
        limit: Option<u32>,
        after: Option<i64>,
        prefix: Option<&str>,
    ) -> Result<Page<User>, UserError> {
        // Global admins list everyone; a tenant admin lists their tenant.
        authorize(
            actor,
            Action::Administer(Target {
                id: UserId(0),
                tenant: actor.tenant_id,
            }),
        )?;
        let limit = checked_limit(limit)?;
        let prefix = prefix.map(str::trim).filter(|p| !p.is_empty());
        if prefix.is_some_and(|p| p.len() > Email::MAX_LEN) {
            let mut f = FieldErrors::new();
            f.add("q", "too_long");
            return Err(f.into());
        }
        // No name or address holds a control character, and PostgreSQL takes no NUL in a text
        // parameter: such a prefix matches nobody, and is said so.
        if prefix.is_some_and(|p| p.chars().any(char::is_control)) {
            let mut f = FieldErrors::new();
            f.add("q", "invalid_characters");
            return Err(f.into());
        }
        let mut items = self.users.list_users(&UserQuery {
            after: after.map(UserId),
            limit: limit + 1,
            prefix: prefix.map(str::to_lowercase),
            tenant: (!actor.is_admin()).then_some(actor.tenant_id),
        })?;
        Ok(page(&mut items, limit, |u| u.id.0))
    }

    /// Sets a new password. Users give their current password; admins changing someone else's do not.
    /// Ends the user's other sessions (all of them when an admin resets someone else's). An admin's
    /// reset also deletes the user's API keys and lifts their lockout; users changing their own
    /// keep their keys unless `end_api_keys`.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `WrongCurrentPassword`, `Validation`.
    pub fn change_password(
        &self,
        actor: &Principal,
        id: UserId,
        current: Option<Password>,
        new: Password,
        end_api_keys: bool,
    ) -> Result<(), UserError> {
        let own = actor.user_id == id;
        let action = if own {
            Action::Read
        } else {
            Action::Administer
        };
        target_user(&*self.users, actor, id, action)?;
        let p = self;
        let (user, hash) = p.users.user_credentials(id)?.ok_or(UserError::NotFound)?;
        if own {
            let Some(current) = current else {
                let mut f = FieldErrors::new();
                f.add("current_password", "required");
                return Err(f.into());
            };
            if current.expose().len() > self.password_policy.max_bytes
                || p.hasher.verify(&current, &hash)? == Verification::Mismatch
            {
                self.audit.record(
                    Audit::new(Event::PasswordChanged, Outcome::Failure)
                        .by(actor)
                        .subject(id)
                        .detail("reason", "invalid_current_password"),
                );
                return Err(UserError::WrongCurrentPassword);
            }
        }
        let mut fields = FieldErrors::new();
        fields.extend(
            "new_password",
            self.password_policy
                .violations(&new, user.username.as_str()),
        );
        fields.into_result()?;
        let new_hash = p.hasher.hash(&new)?;
        let revoke = actor.sessions_to_end(id);
        // Someone else setting the password is how a taken-over account is recovered: whatever
        // the intruder may have made goes too.
        let api_keys = if own && !end_api_keys {
            ApiKeys::Keep
        } else {
            ApiKeys::Delete
        };
        let revoked = p
            .users
            .set_password_hash(id, &new_hash, revoke, api_keys, p.clock.now())?
            .ok_or(UserError::NotFound)?;
        self.revocations.remember(&revoked);
        if !own {
            // An admin's reset gives the account back to its owner: the lockout goes too.
            self.lockout.clear_all(&LockoutKey::user(id))?;
        }
        self.audit.record(
            Audit::new(Event::PasswordChanged, Outcome::Success)
                .by(actor)
                .subject(id)
                .detail("sessions_ended", revoked.len())
                .detail("api_keys_deleted", api_keys == ApiKeys::Delete),
        );
        Ok(())
    }
}

/// A user's roles for an audit entry: `admin,user`.
fn roles_text(user: &User) -> String {
    user.roles
        .iter()
        .map(Role::as_str)
        .collect::<Vec<_>>()
        .join(",")
}
