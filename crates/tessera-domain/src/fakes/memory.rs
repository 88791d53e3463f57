//! Working in-memory implementations of every port in `crate::ports`, for the domain's unit tests.
//!
//! `MemoryStore` keeps all of its tables in one `State` behind one mutex, so every port sees the
//! same data and every call is atomic: each one holds the lock from start to end. It follows the
//! Diesel adapter (`tessera-store`) rule for rule: ids count up from 1 and are never reused,
//! usernames and e-mails are unique per tenant, deletes cascade as the foreign keys do, direct
//! permission grants live in hidden `~person/service` roles, tokens and codes are single use, and
//! every ended session goes on the revocation list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Tests adopt these fakes a port at a time; helpers no test calls yet are not worth a warning.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use anyhow::{anyhow, bail, ensure};

use crate::access::{Entry, Kind, Link, NewEntry};
use crate::audit::{AuditEntry, AuditQuery, AuditRecord, Event, Outcome};
use crate::credentials::{ApiKey, NewApiKey};
use crate::error::{FieldErrors, UserError};
use crate::lockout::{Failure, Limit, LockoutKey};
use crate::model_import::CheckedModel;
use crate::oauth::{merged_scope, Consent, NewClient, OAuthClient};
use crate::password::PasswordHash;
use crate::ports::{
    AccessRepository, ApiKeys, AuditLog, AuthorizationCodes, ClientRepository, CodeRecord,
    ConsentRepository, CredentialRepository, Extension, LockoutRepository, MfaRepository, MfaState,
    ModelImporter, NewCode, NewSession, Observer, OneTimeCodes, OpaqueRecord, Readiness,
    RecoveryRepository, Redeemed, RefreshRecord, RevokeSessions, Rotation, SessionDirectory,
    SessionInfo, SessionRepository, UserRepository,
};
use crate::time::UnixTime;
use crate::token::{HashedToken, SessionId};
use crate::user::{LoginName, NewUser, Role, TenantId, User, UserChanges, UserId, UserQuery};

/// Locks `mutex`, carrying on after a test thread panicked while holding it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Tables and rows
// ---------------------------------------------------------------------------------------------

/// Rows by id. Ids count up from 1 and are never given out again, as with `AUTOINCREMENT`.
#[derive(Debug, Clone)]
struct Table<T> {
    last_id: i64,
    rows: BTreeMap<i64, T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            last_id: 0,
            rows: BTreeMap::new(),
        }
    }
}

impl<T> Table<T> {
    /// The id the next `insert` assigns.
    fn next_id(&self) -> i64 {
        self.last_id + 1
    }

    fn insert(&mut self, row: T) -> i64 {
        self.last_id += 1;
        self.rows.insert(self.last_id, row);
        self.last_id
    }

    /// Inserts under an id of the caller's, which must be free; later ids count on from the
    /// highest given, as with an explicit id under `AUTOINCREMENT`.
    fn insert_at(&mut self, id: i64, row: T) -> anyhow::Result<()> {
        ensure!(
            id > 0 && !self.rows.contains_key(&id),
            "primary key: id {id} is taken"
        );
        self.rows.insert(id, row);
        self.last_id = self.last_id.max(id);
        Ok(())
    }

    fn get(&self, id: i64) -> Option<&T> {
        self.rows.get(&id)
    }

    fn get_mut(&mut self, id: i64) -> Option<&mut T> {
        self.rows.get_mut(&id)
    }

    /// Rows in id order.
    fn iter(&self) -> impl Iterator<Item = (i64, &T)> {
        self.rows.iter().map(|(id, row)| (*id, row))
    }

    /// The first row, in id order, that `pred` accepts.
    fn find(&self, pred: impl Fn(&T) -> bool) -> Option<(i64, &T)> {
        self.iter().find(|&(_, row)| pred(row))
    }

    fn find_mut(&mut self, pred: impl Fn(&T) -> bool) -> Option<&mut T> {
        self.rows.values_mut().find(|row| pred(&**row))
    }

    /// The ids of the first `limit` rows, in id order, that `pred` accepts.
    fn first_ids(&self, limit: usize, pred: impl Fn(&T) -> bool) -> Vec<i64> {
        self.iter()
            .filter(|&(_, row)| pred(row))
            .map(|(id, _)| id)
            .take(limit)
            .collect()
    }

    fn delete(&mut self, id: i64) -> bool {
        self.rows.remove(&id).is_some()
    }

    /// Deletes the rows `doomed` picks; returns how many went.
    fn delete_where(&mut self, mut doomed: impl FnMut(i64, &T) -> bool) -> usize {
        let before = self.rows.len();
        self.rows.retain(|id, row| !doomed(*id, &*row));
        before - self.rows.len()
    }

    fn len(&self) -> usize {
        self.rows.len()
    }
}

#[derive(Debug, Clone)]
struct UserRow {
    user: User,
    hash: PasswordHash,
}

impl UserRow {
    fn credentials(&self) -> (User, PasswordHash) {
        (self.user.clone(), self.hash.clone())
    }
}

#[derive(Debug)]
struct SessionRow {
    user: UserId,
    created_at: UnixTime,
    last_used_at: UnixTime,
    expires_at: UnixTime,
    ip: Option<String>,
    user_agent: Option<String>,
    revoked_at: Option<UnixTime>,
    revoked_reason: Option<String>,
    /// The API key whose client-credentials grant opened it. No foreign key: it outlives the key.
    api_key: Option<i64>,
    scope: Option<String>,
    amr: Option<String>,
    client_id: Option<String>,
    /// The browser session whose sign-in it lives and dies with. No foreign key, as in the store.
    sso_session: Option<SessionId>,
}

impl SessionRow {
    fn is_live(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    fn info(&self, id: i64) -> SessionInfo {
        SessionInfo {
            id: SessionId(id),
            user_id: self.user,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            expires_at: self.expires_at,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            api_key: self.api_key.is_some(),
            client_id: self.client_id.clone(),
        }
    }
}

#[derive(Debug)]
struct RefreshRow {
    session: SessionId,
    hash: HashedToken,
    created_at: UnixTime,
    expires_at: UnixTime,
    rotated_at: Option<UnixTime>,
}

#[derive(Debug)]
struct OpaqueRow {
    session: SessionId,
    hash: HashedToken,
    created_at: UnixTime,
    expires_at: UnixTime,
    ttl: i64,
}

/// One line of the append-only revocation list; it outlives the session and its user.
#[derive(Debug)]
struct Revocation {
    session: SessionId,
    at: UnixTime,
}

/// A service, role, permission or tenant. The columns only some kinds have are `None` elsewhere.
#[derive(Debug, Clone)]
struct EntryRow {
    name: String,
    description: Option<String>,
    active: bool,
    created_at: UnixTime,
    updated_at: UnixTime,
    /// Services: the digest of the current secret.
    secret: Option<HashedToken>,
    secret_created_at: Option<UnixTime>,
    /// Hidden roles: the person and service they hold direct permission grants for.
    scope: Option<(UserId, i64)>,
}

impl EntryRow {
    fn new(new: &NewEntry, now: UnixTime) -> Self {
        Self {
            name: new.name.as_str().to_owned(),
            description: new.description.as_ref().map(|d| d.as_str().to_owned()),
            active: new.active,
            created_at: now,
            updated_at: now,
            secret: None,
            secret_created_at: None,
            scope: None,
        }
    }

    /// Hidden roles are marked by a name starting with `~`, which visible names cannot.
    fn is_hidden(&self) -> bool {
        self.name.starts_with('~')
    }

    fn entry(&self, kind: Kind, id: i64) -> Entry {
        Entry {
            kind,
            id,
            name: self.name.clone(),
            description: self.description.clone(),
            active: self.active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A service token: its digest, for one service (`ON DELETE CASCADE`).
#[derive(Debug)]
struct ServiceTokenRow {
    service: i64,
    hash: HashedToken,
    created_at: UnixTime,
    expires_at: UnixTime,
}

#[derive(Debug)]
struct KeyRow {
    key: ApiKey,
    hash: HashedToken,
}

#[derive(Debug)]
struct LockRow {
    failures: i64,
    locked_until: Option<UnixTime>,
    updated_at: UnixTime,
}

#[derive(Debug)]
struct ResetRow {
    user: UserId,
    hash: HashedToken,
    created_at: UnixTime,
    expires_at: UnixTime,
    used_at: Option<UnixTime>,
}

impl ResetRow {
    fn usable(&self, digest: &HashedToken, now: UnixTime) -> bool {
        self.hash == *digest && self.used_at.is_none() && self.expires_at > now
    }
}

#[derive(Debug)]
struct MfaRow {
    secret: String,
    enabled: bool,
    last_step: Option<i64>,
    created_at: UnixTime,
    enabled_at: Option<UnixTime>,
}

#[derive(Debug)]
struct BackupRow {
    user: UserId,
    hash: HashedToken,
    used_at: Option<UnixTime>,
}

#[derive(Debug)]
struct ChallengeRow {
    user: UserId,
    hash: HashedToken,
    expires_at: UnixTime,
    used_at: Option<UnixTime>,
}

impl ChallengeRow {
    fn usable(&self, digest: &HashedToken, now: UnixTime) -> bool {
        self.hash == *digest && self.used_at.is_none() && self.expires_at > now
    }
}

#[derive(Debug)]
struct ClientRow {
    client: OAuthClient,
}

#[derive(Debug)]
struct CodeRow {
    hash: HashedToken,
    code: NewCode,
    used_at: Option<UnixTime>,
    issued_session: Option<SessionId>,
    replayed_at: Option<UnixTime>,
}

impl CodeRow {
    fn record(&self, id: i64) -> CodeRecord {
        let c = &self.code;
        CodeRecord {
            id,
            client_pk: c.client_pk,
            user_id: c.user_id,
            sso_session_id: c.sso_session_id,
            redirect_uri: c.redirect_uri.clone(),
            scope: c.scope.clone(),
            nonce: c.nonce.clone(),
            code_challenge: c.code_challenge.clone(),
            auth_time: c.auth_time,
            amr: c.amr.clone(),
            created_at: c.created_at,
            expires_at: c.expires_at,
        }
    }
}

/// A user's consent to a client, keyed by (user, client row id).
#[derive(Debug)]
struct ConsentRow {
    scope: String,
    created_at: UnixTime,
    updated_at: UnixTime,
}

/// Every table of the store.
#[derive(Debug, Default)]
struct State {
    users: Table<UserRow>,
    sessions: Table<SessionRow>,
    refresh_tokens: Table<RefreshRow>,
    opaque_tokens: Table<OpaqueRow>,
    revocations: Table<Revocation>,
    services: Table<EntryRow>,
    /// Visible roles and the hidden ones, in one id sequence.
    roles: Table<EntryRow>,
    permissions: Table<EntryRow>,
    tenants: Table<EntryRow>,
    /// (role, permission)
    role_permissions: BTreeSet<(i64, i64)>,
    /// (service, role)
    service_roles: BTreeSet<(i64, i64)>,
    /// (person, service, role)
    grants: BTreeSet<(UserId, i64, i64)>,
    api_keys: Table<KeyRow>,
    service_tokens: Table<ServiceTokenRow>,
    login_failures: HashMap<String, LockRow>,
    audit_log: Table<AuditEntry>,
    password_resets: Table<ResetRow>,
    user_mfa: BTreeMap<UserId, MfaRow>,
    backup_codes: Table<BackupRow>,
    mfa_challenges: Table<ChallengeRow>,
    clients: Table<ClientRow>,
    authorization_codes: Table<CodeRow>,
    /// (user, client row id): the primary key.
    consents: BTreeMap<(UserId, i64), ConsentRow>,
    /// Why `Readiness::check` fails, when a test says it should.
    unready: Option<String>,
}

fn field_error(field: &str, rule: &'static str) -> UserError {
    let mut f = FieldErrors::new();
    f.add(field, rule);
    UserError::Validation(f)
}

/// The request field that names an entry of `kind`.
/// Roles as the store returns them: sorted, without duplicates.
fn sorted_roles(roles: &[Role]) -> Vec<Role> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    roles
}

impl State {
    /// Deletes an API key and ends the live sessions opened with it; `None` for an unknown key.
    fn delete_key(&mut self, id: i64, now: UnixTime) -> Option<Vec<SessionId>> {
        if !self.api_keys.delete(id) {
            return None;
        }
        let opened: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.api_key == Some(id) && s.revoked_at.is_none())
            .map(|(sid, _)| SessionId(sid))
            .collect();
        for session in &opened {
            self.end_session(*session, "api_key_deleted", now);
        }
        Some(opened)
    }

    /// Deletes an OAuth client with its codes and consents (`ON DELETE CASCADE`) and ends the
    /// live sessions opened for it; `None` for an unknown client.
    fn delete_client(&mut self, client_pk: i64, now: UnixTime) -> Option<Vec<SessionId>> {
        let client_id = self.clients.get(client_pk)?.client.client_id.clone();
        self.clients.delete(client_pk);
        self.authorization_codes
            .delete_where(|_, c| c.code.client_pk == client_pk);
        self.consents.retain(|&(_, client), _| client != client_pk);
        let opened: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.client_id.as_deref() == Some(client_id.as_str()) && s.revoked_at.is_none()
            })
            .map(|(sid, _)| SessionId(sid))
            .collect();
        for session in &opened {
            self.end_session(*session, "client_deleted", now);
        }
        Some(opened)
    }

    // --- users ---------------------------------------------------------------------------------

    /// Users sharing a uniqueness space with `tenant` (`None`: the global users), but `except`.
    fn peers(
        &self,
        tenant: Option<TenantId>,
        except: Option<UserId>,
    ) -> impl Iterator<Item = &User> {
        self.users
            .iter()
            .map(|(_, row)| &row.user)
            .filter(move |u| u.tenant_id == tenant && Some(u.id) != except)
    }

    /// The unique indexes on (tenant, normalized username) and (tenant, normalized e-mail).
    fn check_unique(
        &self,
        tenant: Option<TenantId>,
        username: Option<&str>,
        email: Option<&str>,
        except: Option<UserId>,
    ) -> Result<(), UserError> {
        if let Some(name) = username {
            if self
                .peers(tenant, except)
                .any(|u| u.username.normalized() == name)
            {
                return Err(UserError::Duplicate { field: "username" });
            }
        }
        if let Some(email) = email {
            if self
                .peers(tenant, except)
                .any(|u| u.email.as_ref().is_some_and(|e| e.normalized() == email))
            {
                return Err(UserError::Duplicate { field: "email" });
            }
        }
        Ok(())
    }

    fn insert_user(
        &mut self,
        new: &NewUser,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> Result<User, UserError> {
        let email = new.email.as_ref().map(|e| e.normalized());
        self.check_unique(
            new.tenant_id,
            Some(new.username.normalized().as_str()),
            email.as_deref(),
            None,
        )?;
        if let Some(tenant) = new.tenant_id {
            if self.tenants.get(tenant.0).is_none() {
                return Err(UserError::Unknown(anyhow!(
                    "foreign key: tenant {} does not exist",
                    tenant.0
                )));
            }
        }
        let user = User {
            id: UserId(self.users.next_id()),
            username: new.username.clone(),
            email: new.email.clone(),
            display_name: new.display_name.clone(),
            roles: sorted_roles(&new.roles),
            active: new.active,
            tenant_id: new.tenant_id,
            attributes: new.attributes.clone(),
            created_at: now,
            updated_at: now,
        };
        self.users.insert(UserRow {
            user: user.clone(),
            hash: hash.clone(),
        });
        Ok(user)
    }

    /// `insert_user` under an id of the caller's, which must be free.
    fn insert_user_at(
        &mut self,
        id: UserId,
        new: &NewUser,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> Result<User, UserError> {
        if id.0 < 1 || self.users.get(id.0).is_some() {
            return Err(UserError::Unknown(anyhow!(
                "primary key: user {} is taken",
                id.0
            )));
        }
        // `insert_user` gives the next id: make it this one, then count on from the highest.
        let last = self.users.last_id;
        self.users.last_id = id.0 - 1;
        let made = self.insert_user(new, hash, now);
        self.users.last_id = match &made {
            Ok(_) => last.max(id.0),
            Err(_) => last,
        };
        made
    }

    /// What a foreign key to `users` refuses.
    fn require_user(&self, user: UserId) -> anyhow::Result<()> {
        ensure!(
            self.users.get(user.0).is_some(),
            "foreign key: user {} does not exist",
            user.0
        );
        Ok(())
    }

    /// Deletes a user with everything that references them (`ON DELETE CASCADE`). The revocation
    /// list and the audit log keep their lines.
    fn delete_user(&mut self, id: UserId) {
        self.users.delete(id.0);
        let sessions: Vec<i64> = self.sessions.first_ids(usize::MAX, |s| s.user == id);
        self.delete_sessions(&sessions);
        self.grants.retain(|&(person, _, _)| person != id);
        let hidden = self.roles.first_ids(usize::MAX, |r| {
            r.scope.is_some_and(|(person, _)| person == id)
        });
        for role in hidden {
            self.delete_role(role);
        }
        self.api_keys.delete_where(|_, k| k.key.user_id == id);
        self.password_resets.delete_where(|_, r| r.user == id);
        self.user_mfa.remove(&id);
        self.backup_codes.delete_where(|_, c| c.user == id);
        self.mfa_challenges.delete_where(|_, c| c.user == id);
        self.authorization_codes
            .delete_where(|_, c| c.code.user_id == id);
        self.consents.retain(|&(user, _), _| user != id);
    }

    // --- sessions ------------------------------------------------------------------------------

    fn insert_session(
        &mut self,
        new: &NewSession,
        api_key: Option<i64>,
    ) -> anyhow::Result<SessionId> {
        self.require_user(new.user_id)?;
        let id = self.sessions.insert(SessionRow {
            user: new.user_id,
            created_at: new.created_at,
            last_used_at: new.created_at,
            expires_at: new.expires_at,
            ip: new.ip.clone(),
            user_agent: new.user_agent.clone(),
            revoked_at: None,
            revoked_reason: None,
            api_key,
            scope: new.scope.clone(),
            amr: new.amr.clone(),
            client_id: new.client_id.clone(),
            sso_session: new.sso_session_id,
        });
        Ok(SessionId(id))
    }

    /// Marks one session revoked and records it; false if it had already ended (or is unknown).
    fn end_session(&mut self, id: SessionId, reason: &str, now: UnixTime) -> bool {
        let Some(session) = self
            .sessions
            .get_mut(id.0)
            .filter(|s| s.revoked_at.is_none())
        else {
            return false;
        };
        session.revoked_at = Some(now);
        session.revoked_reason = Some(reason.to_owned());
        self.revocations.insert(Revocation {
            session: id,
            at: now,
        });
        true
    }

    /// Ends the live (not revoked) sessions of `user` that `scope` names, in id order.
    fn revoke_user_sessions(
        &mut self,
        user: UserId,
        scope: RevokeSessions,
        reason: &str,
        now: UnixTime,
    ) -> Vec<SessionId> {
        let except = match scope {
            RevokeSessions::None => return Vec::new(),
            RevokeSessions::All => None,
            RevokeSessions::AllExcept(keep) => Some(keep),
        };
        let ids: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(id, s)| {
                s.user == user && s.revoked_at.is_none() && Some(SessionId(*id)) != except
            })
            .map(|(id, _)| SessionId(id))
            .collect();
        for id in &ids {
            self.end_session(*id, reason, now);
        }
        ids
    }

    /// Deletes sessions with their refresh and opaque tokens; returns how many sessions went.
    fn delete_sessions(&mut self, ids: &[i64]) -> usize {
        let gone = self.sessions.delete_where(|id, _| ids.contains(&id));
        self.refresh_tokens
            .delete_where(|_, t| ids.contains(&t.session.0));
        self.opaque_tokens
            .delete_where(|_, t| ids.contains(&t.session.0));
        gone
    }

    // --- the access model ----------------------------------------------------------------------

    fn entries(&self, kind: Kind) -> &Table<EntryRow> {
        match kind {
            Kind::Service => &self.services,
            Kind::Role => &self.roles,
            Kind::Permission => &self.permissions,
            Kind::Tenant => &self.tenants,
        }
    }

    fn entries_mut(&mut self, kind: Kind) -> &mut Table<EntryRow> {
        match kind {
            Kind::Service => &mut self.services,
            Kind::Role => &mut self.roles,
            Kind::Permission => &mut self.permissions,
            Kind::Tenant => &mut self.tenants,
        }
    }

    /// (left, right) pairs of a link.
    fn links(&self, link: Link) -> &BTreeSet<(i64, i64)> {
        match link {
            Link::RolePermission => &self.role_permissions,
            Link::ServiceRole => &self.service_roles,
        }
    }

    fn links_mut(&mut self, link: Link) -> &mut BTreeSet<(i64, i64)> {
        match link {
            Link::RolePermission => &mut self.role_permissions,
            Link::ServiceRole => &mut self.service_roles,
        }
    }

    fn visible(&self, kind: Kind, id: i64) -> Option<Entry> {
        self.entries(kind)
            .get(id)
            .filter(|row| !row.is_hidden())
            .map(|row| row.entry(kind, id))
    }

    /// Fails with `not_found` against the field of `kind` unless the visible entry exists.
    fn require(&self, kind: Kind, id: i64) -> Result<(), UserError> {
        match self.visible(kind, id) {
            Some(_) => Ok(()),
            None => Err(field_error(kind.as_str(), "not_found")),
        }
    }

    fn require_person(&self, person: UserId) -> Result<(), UserError> {
        match self.users.get(person.0) {
            Some(_) => Ok(()),
            None => Err(field_error("person", "not_found")),
        }
    }

    /// The visible entries of `kind` with these ids, sorted by name.
    fn by_name(&self, kind: Kind, ids: BTreeSet<i64>) -> Vec<Entry> {
        let mut entries: Vec<Entry> = ids
            .into_iter()
            .filter_map(|id| self.visible(kind, id))
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries
    }

    /// Deletes a role with its links and grants.
    /// Grants `permission` to `person` in `service` through their hidden role there, made on
    /// first use; the ends are the caller's to check.
    fn grant_directly(&mut self, person: UserId, service: i64, permission: i64, now: UnixTime) {
        let name = format!("~{}/{service}", person.0);
        let existing = self.roles.find(|r| r.name == name).map(|(id, _)| id);
        let role = match existing {
            Some(id) => id,
            None => self.roles.insert(EntryRow {
                name,
                description: None,
                active: true,
                created_at: now,
                updated_at: now,
                secret: None,
                secret_created_at: None,
                scope: Some((person, service)),
            }),
        };
        self.service_roles.insert((service, role));
        self.grants.insert((person, service, role));
        self.role_permissions.insert((role, permission));
    }

    fn delete_role(&mut self, id: i64) {
        self.roles.delete(id);
        self.role_permissions.retain(|&(role, _)| role != id);
        self.service_roles.retain(|&(_, role)| role != id);
        self.grants.retain(|&(_, _, role)| role != id);
    }

    // --- second factors ------------------------------------------------------------------------

    /// Replaces every backup code of `user`.
    fn set_backup_codes(&mut self, user: UserId, codes: &[HashedToken]) {
        self.backup_codes.delete_where(|_, c| c.user == user);
        for code in codes {
            self.backup_codes.insert(BackupRow {
                user,
                hash: code.clone(),
                used_at: None,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

/// Every repository port on one shared in-memory state.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<State>);

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.0)
    }

    /// How many session rows exist, live or not (pruned and cascaded ones are gone).
    pub fn session_count(&self) -> usize {
        self.state().sessions.len()
    }

    /// Whether the session has ended: its row says so, or it is on the revocation list.
    pub fn revoked(&self, id: SessionId) -> bool {
        let st = self.state();
        st.sessions
            .get(id.0)
            .is_some_and(|s| s.revoked_at.is_some())
            || st.revocations.iter().any(|(_, r)| r.session == id)
    }

    /// Why the session was ended, while its row exists.
    pub fn revoked_reason(&self, id: SessionId) -> Option<String> {
        self.state()
            .sessions
            .get(id.0)
            .and_then(|s| s.revoked_reason.clone())
    }

    /// How many refresh and opaque tokens the session has.
    pub fn tokens_of(&self, id: SessionId) -> (usize, usize) {
        let st = self.state();
        let refresh = st.refresh_tokens.iter().filter(|(_, t)| t.session == id);
        let opaque = st.opaque_tokens.iter().filter(|(_, t)| t.session == id);
        (refresh.count(), opaque.count())
    }

    /// The stored audit events, oldest first.
    pub fn audit_events(&self) -> Vec<(Event, Outcome)> {
        self.state()
            .audit_log
            .iter()
            .map(|(_, e)| (e.event, e.outcome))
            .collect()
    }

    /// Makes `Readiness::check` fail with `reason`, or (with `None`) pass again.
    pub fn set_unready(&self, reason: Option<&str>) {
        self.state().unready = reason.map(str::to_owned);
    }
}

impl UserRepository for MemoryStore {
    fn create_user(
        &self,
        new: &NewUser,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> Result<User, UserError> {
        self.state().insert_user(new, hash, now)
    }

    fn create_users(
        &self,
        users: &[(NewUser, PasswordHash)],
        now: UnixTime,
    ) -> Result<Vec<User>, UserError> {
        let mut st = self.state();
        // All or none: on a failure the table goes back as it was, id sequence included.
        let before = st.users.clone();
        let created: Result<Vec<User>, UserError> = users
            .iter()
            .map(|(new, hash)| st.insert_user(new, hash, now))
            .collect();
        if created.is_err() {
            st.users = before;
        }
        created
    }

    fn get_user(&self, id: UserId) -> anyhow::Result<Option<User>> {
        Ok(self.state().users.get(id.0).map(|row| row.user.clone()))
    }

    fn find_credentials(
        &self,
        tenant: Option<TenantId>,
        login: &LoginName,
    ) -> anyhow::Result<Option<(User, PasswordHash)>> {
        let st = self.state();
        let found = st.users.find(|row| {
            row.user.tenant_id == tenant
                && match login {
                    LoginName::Username(name) => row.user.username.normalized() == *name,
                    LoginName::Email(email) => row
                        .user
                        .email
                        .as_ref()
                        .is_some_and(|e| e.normalized() == *email),
                }
        });
        Ok(found.map(|(_, row)| row.credentials()))
    }

    fn user_credentials(&self, id: UserId) -> anyhow::Result<Option<(User, PasswordHash)>> {
        Ok(self.state().users.get(id.0).map(UserRow::credentials))
    }

    fn update_user(
        &self,
        id: UserId,
        changes: &UserChanges,
        revoke: RevokeSessions,
        now: UnixTime,
    ) -> Result<(User, Vec<SessionId>), UserError> {
        let mut guard = self.state();
        let st = &mut *guard;
        let tenant = st
            .users
            .get(id.0)
            .ok_or(UserError::NotFound)?
            .user
            .tenant_id;
        // As the store's unique indexes do: another user of the tenant, ignoring case.
        let username = changes.username.as_ref().map(|u| u.normalized());
        let email = match &changes.email {
            Some(Some(email)) => Some(email.normalized()),
            _ => None,
        };
        st.check_unique(tenant, username.as_deref(), email.as_deref(), Some(id))?;
        let row = st.users.get_mut(id.0).ok_or(UserError::NotFound)?;
        // As the store does: merged under the same lock as the write, and a merge that breaks a
        // rule writes nothing.
        let attributes = match &changes.attributes {
            None => None,
            Some(change) => match row.user.attributes.merged(change) {
                Ok(merged) => Some(merged),
                Err(problems) => {
                    let mut fields = crate::error::FieldErrors::new();
                    fields.extend("attributes", problems);
                    return Err(UserError::Validation(fields));
                }
            },
        };
        let user = &mut row.user;
        if let Some(username) = &changes.username {
            user.username.clone_from(username);
        }
        if let Some(email) = &changes.email {
            user.email.clone_from(email);
        }
        if let Some(display_name) = &changes.display_name {
            user.display_name.clone_from(display_name);
        }
        if let Some(roles) = &changes.roles {
            user.roles = sorted_roles(roles);
        }
        if let Some(active) = changes.active {
            user.active = active;
        }
        if let Some(attributes) = attributes {
            user.attributes = attributes;
        }
        user.updated_at = now;
        let user = user.clone();
        let revoked = st.revoke_user_sessions(id, revoke, "user_changed", now);
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
        let mut st = self.state();
        let Some(row) = st.users.get_mut(id.0) else {
            return Ok(None);
        };
        row.hash = hash.clone();
        row.user.updated_at = now;
        let mut ended = st.revoke_user_sessions(id, revoke, "password_changed", now);
        if api_keys == ApiKeys::Delete {
            let keys: Vec<i64> = st
                .api_keys
                .iter()
                .filter(|(_, k)| k.key.user_id == id)
                .map(|(kid, _)| kid)
                .collect();
            for key in keys {
                ended.extend(st.delete_key(key, now).unwrap_or_default());
            }
        }
        Ok(Some(ended))
    }

    fn delete_user(&self, id: UserId, now: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>> {
        let mut st = self.state();
        if st.users.get(id.0).is_none() {
            return Ok(None);
        }
        let revoked = st.revoke_user_sessions(id, RevokeSessions::All, "user_deleted", now);
        st.delete_user(id);
        Ok(Some(revoked))
    }

    fn list_users(&self, query: &UserQuery) -> anyhow::Result<Vec<User>> {
        let st = self.state();
        let matches_prefix = |u: &User| {
            query.prefix.as_deref().is_none_or(|p| {
                u.username.normalized().starts_with(p)
                    || u.email
                        .as_ref()
                        .is_some_and(|e| e.normalized().starts_with(p))
            })
        };
        Ok(st
            .users
            .iter()
            .map(|(_, row)| &row.user)
            .filter(|u| query.after.is_none_or(|after| u.id > after))
            .filter(|u| query.tenant.is_none_or(|tenant| u.tenant_id == tenant))
            .filter(|u| matches_prefix(u))
            .take(query.limit as usize)
            .cloned()
            .collect())
    }

    fn count_users(&self) -> anyhow::Result<u64> {
        Ok(self.state().users.len() as u64)
    }

    fn count_active_admins(&self) -> anyhow::Result<u64> {
        let st = self.state();
        let admins = st
            .users
            .iter()
            .filter(|(_, row)| {
                row.user.active && row.user.tenant_id.is_none() && row.user.is_admin()
            })
            .count();
        Ok(admins as u64)
    }
}

impl SessionRepository for MemoryStore {
    fn create_session(&self, new: &NewSession, refresh: &HashedToken) -> anyhow::Result<SessionId> {
        let mut guard = self.state();
        let st = &mut *guard;
        ensure!(
            st.refresh_tokens.find(|t| t.hash == *refresh).is_none(),
            "unique: a refresh token with this digest exists"
        );
        let id = st.insert_session(new, None)?;
        st.refresh_tokens.insert(RefreshRow {
            session: id,
            hash: refresh.clone(),
            created_at: new.created_at,
            expires_at: new.expires_at,
            rotated_at: None,
        });
        Ok(id)
    }

    fn find_refresh(&self, digest: &HashedToken) -> anyhow::Result<Option<RefreshRecord>> {
        let st = self.state();
        let Some((token_id, token)) = st.refresh_tokens.find(|t| t.hash == *digest) else {
            return Ok(None);
        };
        Ok(st.sessions.get(token.session.0).map(|s| RefreshRecord {
            token_id,
            session_id: token.session,
            user_id: s.user,
            session_revoked: s.revoked_at.is_some(),
            session_created_at: s.created_at,
            session_last_used_at: s.last_used_at,
            expires_at: token.expires_at,
            rotated_at: token.rotated_at,
            scope: s.scope.clone(),
            client_id: s.client_id.clone(),
        }))
    }

    fn rotate_refresh(
        &self,
        token_id: i64,
        successor: &HashedToken,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> anyhow::Result<Rotation> {
        let mut guard = self.state();
        let st = &mut *guard;
        let Some(token) = st.refresh_tokens.get(token_id) else {
            bail!("no refresh token {token_id}");
        };
        if let Some(at) = token.rotated_at {
            return Ok(Rotation::AlreadyRotated { at });
        }
        let session = token.session;
        ensure!(
            st.refresh_tokens.find(|t| t.hash == *successor).is_none(),
            "unique: a refresh token with this digest exists"
        );
        if let Some(token) = st.refresh_tokens.get_mut(token_id) {
            token.rotated_at = Some(now);
        }
        st.refresh_tokens.insert(RefreshRow {
            session,
            hash: successor.clone(),
            created_at: now,
            expires_at,
            rotated_at: None,
        });
        if let Some(s) = st.sessions.get_mut(session.0) {
            s.last_used_at = now;
            s.expires_at = expires_at;
        }
        Ok(Rotation::Rotated)
    }

    fn revoke_session(&self, id: SessionId, reason: &str, now: UnixTime) -> anyhow::Result<bool> {
        Ok(self.state().end_session(id, reason, now))
    }

    fn end_sign_in(
        &self,
        sso: SessionId,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>> {
        let mut st = self.state();
        let mut ended = Vec::new();
        if st.end_session(sso, reason, now) {
            ended.push(sso);
        }
        let bound: Vec<i64> = st.sessions.first_ids(usize::MAX, |s| {
            s.sso_session == Some(sso) && s.revoked_at.is_none()
        });
        for id in bound {
            if st.end_session(SessionId(id), reason, now) {
                ended.push(SessionId(id));
            }
        }
        Ok(ended)
    }

    fn touch_session(&self, id: SessionId, now: UnixTime) -> anyhow::Result<()> {
        if let Some(s) = self.state().sessions.get_mut(id.0) {
            s.last_used_at = now;
        }
        Ok(())
    }

    fn revocations_since(&self, since: UnixTime) -> anyhow::Result<Vec<(SessionId, UnixTime)>> {
        let st = self.state();
        Ok(st
            .revocations
            .iter()
            .filter(|(_, r)| r.at >= since)
            .map(|(_, r)| (r.session, r.at))
            .collect())
    }
}

impl AccessRepository for MemoryStore {
    fn create_entry(&self, kind: Kind, new: &NewEntry, now: UnixTime) -> Result<Entry, UserError> {
        let mut st = self.state();
        let table = st.entries_mut(kind);
        if table.find(|row| row.name == new.name.as_str()).is_some() {
            return Err(UserError::Duplicate { field: "name" });
        }
        let row = EntryRow::new(new, now);
        let id = table.insert(row.clone());
        Ok(row.entry(kind, id))
    }

    fn get_entry(&self, kind: Kind, id: i64) -> anyhow::Result<Option<Entry>> {
        Ok(self.state().visible(kind, id))
    }

    fn find_entry(&self, kind: Kind, name: &str) -> anyhow::Result<Option<Entry>> {
        let st = self.state();
        Ok(st
            .entries(kind)
            .find(|row| row.name == name && !row.is_hidden())
            .map(|(id, row)| row.entry(kind, id)))
    }

    fn update_entry(
        &self,
        kind: Kind,
        id: i64,
        new: &NewEntry,
        now: UnixTime,
    ) -> Result<Entry, UserError> {
        let mut st = self.state();
        let table = st.entries_mut(kind);
        if table.get(id).is_none_or(|row| row.is_hidden()) {
            return Err(UserError::NotFound);
        }
        if table
            .iter()
            .any(|(other, row)| other != id && row.name == new.name.as_str())
        {
            return Err(UserError::Duplicate { field: "name" });
        }
        let row = table.get_mut(id).ok_or(UserError::NotFound)?;
        row.name = new.name.as_str().to_owned();
        row.description = new.description.as_ref().map(|d| d.as_str().to_owned());
        row.active = new.active;
        row.updated_at = now;
        Ok(row.entry(kind, id))
    }

    fn delete_entry(&self, kind: Kind, id: i64) -> Result<bool, UserError> {
        let mut guard = self.state();
        let st = &mut *guard;
        if st.visible(kind, id).is_none() {
            return Ok(false);
        }
        match kind {
            Kind::Tenant => {
                // `users.tenant_id` and `oauth_clients.tenant_id` have no cascade: the foreign
                // keys refuse the delete.
                let tenant = Some(TenantId(id));
                if st.users.iter().any(|(_, row)| row.user.tenant_id == tenant)
                    || st.clients.iter().any(|(_, c)| c.client.tenant_id == tenant)
                {
                    return Err(UserError::InUse(
                        "this tenant still has users or OAuth clients; delete or move them first",
                    ));
                }
                st.tenants.delete(id);
            }
            Kind::Service => {
                st.services.delete(id);
                st.service_tokens.delete_where(|_, t| t.service == id);
                st.service_roles.retain(|&(service, _)| service != id);
                st.grants.retain(|&(_, service, _)| service != id);
                let hidden = st.roles.first_ids(usize::MAX, |r| {
                    r.scope.is_some_and(|(_, service)| service == id)
                });
                for role in hidden {
                    st.delete_role(role);
                }
            }
            Kind::Role => st.delete_role(id),
            Kind::Permission => {
                st.permissions.delete(id);
                st.role_permissions
                    .retain(|&(_, permission)| permission != id);
            }
        }
        Ok(true)
    }

    fn list_entries(
        &self,
        kind: Kind,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<Entry>> {
        let st = self.state();
        let after = after.unwrap_or(0);
        Ok(st
            .entries(kind)
            .iter()
            .filter(|(id, row)| *id > after && !row.is_hidden())
            .take(limit as usize)
            .map(|(id, row)| row.entry(kind, id))
            .collect())
    }

    fn link(&self, link: Link, left: i64, right: i64) -> Result<(), UserError> {
        let mut st = self.state();
        let (left_kind, right_kind) = link.kinds();
        st.require(left_kind, left)?;
        st.require(right_kind, right)?;
        st.links_mut(link).insert((left, right));
        Ok(())
    }

    fn unlink(&self, link: Link, left: i64, right: i64) -> anyhow::Result<bool> {
        let mut st = self.state();
        Ok(st.links_mut(link).remove(&(left, right)))
    }

    fn linked(&self, link: Link, left: i64) -> anyhow::Result<Option<Vec<Entry>>> {
        let st = self.state();
        let (left_kind, right_kind) = link.kinds();
        if st.visible(left_kind, left).is_none() {
            return Ok(None);
        }
        let rights: BTreeSet<i64> = st
            .links(link)
            .iter()
            .filter(|&&(l, _)| l == left)
            .map(|&(_, r)| r)
            .collect();
        Ok(Some(st.by_name(right_kind, rights)))
    }

    fn grant_role(&self, person: UserId, service: i64, role: i64) -> Result<(), UserError> {
        let mut st = self.state();
        st.require_person(person)?;
        st.require(Kind::Service, service)?;
        st.require(Kind::Role, role)?;
        if !st.service_roles.contains(&(service, role)) {
            return Err(field_error("role", "not_offered_by_service"));
        }
        st.grants.insert((person, service, role));
        Ok(())
    }

    fn revoke_role(&self, person: UserId, service: i64, role: i64) -> anyhow::Result<bool> {
        let mut st = self.state();
        Ok(st.grants.remove(&(person, service, role)))
    }

    fn grant_permission(
        &self,
        person: UserId,
        service: i64,
        permission: i64,
        now: UnixTime,
    ) -> Result<(), UserError> {
        let mut guard = self.state();
        let st = &mut *guard;
        st.require_person(person)?;
        st.require(Kind::Service, service)?;
        st.require(Kind::Permission, permission)?;
        st.grant_directly(person, service, permission, now);
        Ok(())
    }

    fn person_services(&self, person: UserId) -> anyhow::Result<Vec<Entry>> {
        let st = self.state();
        let services: BTreeSet<i64> = st
            .grants
            .iter()
            .filter(|&&(p, _, _)| p == person)
            .map(|&(_, s, _)| s)
            .collect();
        Ok(st.by_name(Kind::Service, services))
    }

    fn person_roles(&self, person: UserId, service: i64) -> anyhow::Result<Vec<Entry>> {
        let st = self.state();
        let roles: BTreeSet<i64> = st
            .grants
            .iter()
            .filter(|&&(p, s, _)| p == person && s == service)
            .map(|&(_, _, r)| r)
            .collect();
        // `by_name` keeps only visible entries, so the hidden roles stay out.
        Ok(st.by_name(Kind::Role, roles))
    }

    fn effective_permissions(&self, person: UserId, service: i64) -> anyhow::Result<Vec<String>> {
        let st = self.state();
        let held: BTreeSet<i64> = st
            .grants
            .iter()
            .filter(|&&(p, s, _)| p == person && s == service)
            .map(|&(_, _, r)| r)
            .collect();
        let names: BTreeSet<String> = st
            .role_permissions
            .iter()
            .filter(|(role, _)| held.contains(role))
            .filter_map(|&(_, permission)| st.permissions.get(permission))
            .map(|row| row.name.clone())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn role_people(&self, service: i64, role: i64) -> anyhow::Result<Vec<User>> {
        let st = self.state();
        let people: BTreeSet<UserId> = st
            .grants
            .iter()
            .filter(|&&(_, s, r)| s == service && r == role)
            .map(|&(p, _, _)| p)
            .collect();
        Ok(st
            .users
            .iter()
            .filter(|(id, _)| people.contains(&UserId(*id)))
            .map(|(_, row)| row.user.clone())
            .collect())
    }

    fn set_service_secret(
        &self,
        service: i64,
        secret: Option<&HashedToken>,
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let mut st = self.state();
        if st.services.get(service).is_none() {
            return Ok(false);
        }
        if let Some(digest) = secret {
            ensure!(
                !st.services
                    .iter()
                    .any(|(id, row)| id != service && row.secret.as_ref() == Some(digest)),
                "unique: another service has a secret with this digest"
            );
        }
        if let Some(row) = st.services.get_mut(service) {
            row.secret = secret.cloned();
            row.secret_created_at = secret.map(|_| now);
            row.updated_at = now;
        }
        Ok(true)
    }

    fn service_by_secret(&self, digest: &HashedToken) -> anyhow::Result<Option<Entry>> {
        let st = self.state();
        Ok(st
            .services
            .find(|row| row.secret.as_ref() == Some(digest))
            .map(|(id, row)| row.entry(Kind::Service, id)))
    }
}

/// The ids of a model's services, roles or permissions.
fn entry_ids(rows: &[(i64, NewEntry)]) -> BTreeSet<i64> {
    rows.iter().map(|(id, _)| *id).collect()
}

impl ModelImporter for MemoryStore {
    fn import_model(
        &self,
        model: &CheckedModel,
        replace: bool,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let mut guard = self.state();
        let st = &mut *guard;
        let holds = !(st.users.rows.is_empty()
            && st.services.rows.is_empty()
            && st.roles.rows.is_empty()
            && st.permissions.rows.is_empty());
        if holds && !replace {
            return Ok(None);
        }
        // All or none: what could fail halfway (an id or a username given twice, a link to
        // nothing) is checked before anything changes.
        let users: BTreeSet<i64> = model.users.iter().map(|(id, _, _)| id.0).collect();
        let names: BTreeSet<String> = model
            .users
            .iter()
            .map(|(_, u, _)| u.username.normalized())
            .collect();
        ensure!(
            users.len() == model.users.len() && names.len() == model.users.len(),
            "unique: an id or a username is given twice"
        );
        let services = entry_ids(&model.services);
        let roles = entry_ids(&model.roles);
        let permissions = entry_ids(&model.permissions);
        let linked = model
            .role_permissions
            .iter()
            .all(|(r, p)| roles.contains(r) && permissions.contains(p))
            && model
                .service_roles
                .iter()
                .all(|(s, r)| services.contains(s) && roles.contains(r));
        let granted = model.grants.iter().all(|(person, service, role)| {
            users.contains(&person.0) && services.contains(service) && roles.contains(role)
        }) && model.direct_grants.iter().all(|(person, service, what)| {
            users.contains(&person.0) && services.contains(service) && permissions.contains(what)
        });
        ensure!(
            linked && granted,
            "foreign key: a link or grant names a row the model does not hold"
        );

        let mut ended = Vec::new();
        if replace {
            for id in st
                .sessions
                .first_ids(usize::MAX, |s| s.revoked_at.is_none())
            {
                if st.end_session(SessionId(id), "model_replaced", now) {
                    ended.push(SessionId(id));
                }
            }
            for id in st.users.first_ids(usize::MAX, |_| true) {
                st.delete_user(UserId(id));
            }
            for id in st.roles.first_ids(usize::MAX, |_| true) {
                st.delete_role(id);
            }
            // A service's tokens go with it (`ON DELETE CASCADE`).
            st.service_tokens.delete_where(|_, _| true);
            st.services.delete_where(|_, _| true);
            st.permissions.delete_where(|_, _| true);
            st.service_roles.clear();
            st.role_permissions.clear();
            st.grants.clear();
        }
        for (id, new, hash) in &model.users {
            st.insert_user_at(*id, new, hash, now)?;
        }
        st.users.last_id = st.users.last_id.max(model.user_ids_through);
        for (table, rows) in [
            (&mut st.services, &model.services),
            (&mut st.roles, &model.roles),
            (&mut st.permissions, &model.permissions),
        ] {
            for (id, new) in rows {
                table.insert_at(*id, EntryRow::new(new, now))?;
            }
        }
        st.role_permissions
            .extend(model.role_permissions.iter().copied());
        st.service_roles.extend(model.service_roles.iter().copied());
        st.grants.extend(model.grants.iter().copied());
        for (person, service, permission) in &model.direct_grants {
            st.grant_directly(*person, *service, *permission, now);
        }
        Ok(Some(ended))
    }
}

impl CredentialRepository for MemoryStore {
    fn create_api_key(&self, new: &NewApiKey, digest: &HashedToken) -> Result<ApiKey, UserError> {
        let mut st = self.state();
        if st.users.get(new.user_id.0).is_none() {
            return Err(UserError::NotFound);
        }
        if st.api_keys.find(|k| k.hash == *digest).is_some() {
            return Err(UserError::Unknown(anyhow!(
                "unique: an API key with this digest exists"
            )));
        }
        let key = ApiKey {
            id: st.api_keys.next_id(),
            user_id: new.user_id,
            name: new.name.clone(),
            prefix: new.prefix.clone(),
            scopes: new.scopes.clone(),
            created_at: new.created_at,
            expires_at: new.expires_at,
            last_used_at: None,
        };
        st.api_keys.insert(KeyRow {
            key: key.clone(),
            hash: digest.clone(),
        });
        Ok(key)
    }

    fn get_api_key(&self, id: i64) -> anyhow::Result<Option<ApiKey>> {
        Ok(self.state().api_keys.get(id).map(|k| k.key.clone()))
    }

    fn list_api_keys(&self, user: UserId) -> anyhow::Result<Vec<ApiKey>> {
        let st = self.state();
        Ok(st
            .api_keys
            .iter()
            .filter(|(_, k)| k.key.user_id == user)
            .map(|(_, k)| k.key.clone())
            .collect())
    }

    fn delete_api_key(&self, id: i64, now: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>> {
        Ok(self.state().delete_key(id, now))
    }

    fn find_api_key(&self, digest: &HashedToken) -> anyhow::Result<Option<(ApiKey, User)>> {
        let st = self.state();
        let Some((_, row)) = st.api_keys.find(|k| k.hash == *digest) else {
            return Ok(None);
        };
        Ok(st
            .users
            .get(row.key.user_id.0)
            .map(|u| (row.key.clone(), u.user.clone())))
    }

    fn record_api_key_use(&self, uses: &[(i64, UnixTime)]) -> anyhow::Result<()> {
        let mut st = self.state();
        for &(id, at) in uses {
            if let Some(row) = st.api_keys.get_mut(id) {
                // Only ever forward: a late batch does not move the time back.
                if row.key.last_used_at.is_none_or(|last| last < at) {
                    row.key.last_used_at = Some(at);
                }
            }
        }
        Ok(())
    }

    fn create_key_session(&self, new: &NewSession, api_key: i64) -> anyhow::Result<SessionId> {
        self.state().insert_session(new, Some(api_key))
    }

    fn create_opaque_session(
        &self,
        new: &NewSession,
        token: &HashedToken,
        ttl: i64,
    ) -> anyhow::Result<SessionId> {
        let mut guard = self.state();
        let st = &mut *guard;
        ensure!(
            st.opaque_tokens.find(|t| t.hash == *token).is_none(),
            "unique: an opaque token with this digest exists"
        );
        let id = st.insert_session(new, None)?;
        st.opaque_tokens.insert(OpaqueRow {
            session: id,
            hash: token.clone(),
            created_at: new.created_at,
            expires_at: new.created_at.plus(ttl).min(new.expires_at),
            ttl,
        });
        Ok(id)
    }

    fn find_opaque(&self, digest: &HashedToken) -> anyhow::Result<Option<OpaqueRecord>> {
        let st = self.state();
        let Some((token_id, token)) = st.opaque_tokens.find(|t| t.hash == *digest) else {
            return Ok(None);
        };
        Ok(st.sessions.get(token.session.0).map(|s| OpaqueRecord {
            token_id,
            session_id: token.session,
            user_id: s.user,
            session_revoked: s.revoked_at.is_some(),
            session_created_at: s.created_at,
            session_last_used_at: s.last_used_at,
            session_expires_at: s.expires_at,
            expires_at: token.expires_at,
            ttl: token.ttl,
            amr: s.amr.clone(),
        }))
    }

    fn extend_opaque(
        &self,
        id: i64,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> anyhow::Result<Extension> {
        let mut guard = self.state();
        let st = &mut *guard;
        let Some(token) = st.opaque_tokens.get_mut(id) else {
            return Ok(Extension::Gone);
        };
        if token.expires_at != from {
            return Ok(Extension::AlreadyAt(token.expires_at));
        }
        token.expires_at = to;
        let session = token.session;
        // A renewal is a use of the session, for its idle timeout.
        if let Some(s) = st.sessions.get_mut(session.0) {
            s.last_used_at = now;
        }
        Ok(Extension::Extended)
    }

    fn create_service_token(
        &self,
        service: i64,
        digest: &HashedToken,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), UserError> {
        let mut st = self.state();
        if st.services.get(service).is_none() {
            return Err(UserError::NotFound);
        }
        if st.service_tokens.find(|t| t.hash == *digest).is_some() {
            return Err(UserError::Unknown(anyhow!(
                "unique: a service token with this digest exists"
            )));
        }
        st.service_tokens.insert(ServiceTokenRow {
            service,
            hash: digest.clone(),
            created_at,
            expires_at,
        });
        Ok(())
    }

    fn find_service_token(
        &self,
        digest: &HashedToken,
    ) -> anyhow::Result<Option<(UnixTime, Entry)>> {
        let st = self.state();
        let Some((_, token)) = st.service_tokens.find(|t| t.hash == *digest) else {
            return Ok(None);
        };
        let service = st
            .services
            .get(token.service)
            .map(|row| row.entry(Kind::Service, token.service));
        Ok(service.map(|s| (token.expires_at, s)))
    }

    fn prune_expired(
        &self,
        now: UnixTime,
        ended_before: UnixTime,
        batch: u32,
    ) -> anyhow::Result<u64> {
        let mut guard = self.state();
        let st = &mut *guard;
        let limit = batch as usize;

        let ids = st.opaque_tokens.first_ids(limit, |t| t.expires_at < now);
        let tokens = st.opaque_tokens.delete_where(|id, _| ids.contains(&id));

        let ids = st.service_tokens.first_ids(limit, |t| t.expires_at < now);
        let service_tokens = st.service_tokens.delete_where(|id, _| ids.contains(&id));

        // Their refresh and opaque tokens go with the sessions, uncounted (as by ON DELETE CASCADE).
        let ids = st.sessions.first_ids(limit, |s| {
            s.expires_at < ended_before || s.revoked_at.is_some_and(|at| at < ended_before)
        });
        let sessions = st.delete_sessions(&ids);

        let ids = st.revocations.first_ids(limit, |r| r.at < ended_before);
        let revocations = st.revocations.delete_where(|id, _| ids.contains(&id));

        let ids = st.password_resets.first_ids(limit, |r| r.expires_at < now);
        let resets = st.password_resets.delete_where(|id, _| ids.contains(&id));

        let ids = st.mfa_challenges.first_ids(limit, |c| c.expires_at < now);
        let challenges = st.mfa_challenges.delete_where(|id, _| ids.contains(&id));

        let ids = st
            .authorization_codes
            .first_ids(limit, |c| c.code.expires_at < ended_before);
        let codes = st
            .authorization_codes
            .delete_where(|id, _| ids.contains(&id));

        let rows = tokens + service_tokens + sessions + revocations + resets + challenges + codes;
        Ok(rows as u64)
    }
}

impl LockoutRepository for MemoryStore {
    fn locked_until(&self, key: &LockoutKey, now: UnixTime) -> anyhow::Result<Option<UnixTime>> {
        let st = self.state();
        Ok(st
            .login_failures
            .get(key.as_str())
            .and_then(|row| row.locked_until)
            .filter(|until| *until > now))
    }

    fn record_failure(
        &self,
        key: &LockoutKey,
        now: UnixTime,
        limit: &Limit,
    ) -> anyhow::Result<Failure> {
        let mut st = self.state();
        let row = st
            .login_failures
            .entry(key.as_str().to_owned())
            .or_insert(LockRow {
                failures: 0,
                locked_until: None,
                updated_at: now,
            });
        if let Some(until) = row.locked_until.filter(|until| *until > now) {
            return Ok(Failure::AlreadyLocked { until });
        }
        let quiet_since = row
            .updated_at
            .max(row.locked_until.unwrap_or(row.updated_at));
        let failures = if now.seconds() - quiet_since.seconds() > limit.forget_after_seconds {
            1
        } else {
            u32::try_from(row.failures)
                .unwrap_or(u32::MAX)
                .saturating_add(1)
        };
        let locked_until = limit.lock_for(failures).map(|s| now.plus(s));
        *row = LockRow {
            failures: i64::from(failures),
            locked_until,
            updated_at: now,
        };
        Ok(match locked_until {
            Some(until) => Failure::Locked { until },
            None => Failure::Counted(failures),
        })
    }

    fn clear(&self, key: &LockoutKey) -> anyhow::Result<()> {
        self.state().login_failures.remove(key.as_str());
        Ok(())
    }

    fn clear_all(&self, key: &LockoutKey) -> anyhow::Result<()> {
        let prefix = format!("{}@", key.as_str());
        self.state()
            .login_failures
            .retain(|k, _| k != key.as_str() && !k.starts_with(&prefix));
        Ok(())
    }
}

/// Whether a stored audit entry passes every filter of `query` (all but `after` and `limit`).
fn audit_matches(query: &AuditQuery, e: &AuditEntry) -> bool {
    query
        .user_id
        .is_none_or(|u| e.actor == Some(u) || e.subject == Some(u))
        && query.subject.is_none_or(|u| e.subject == Some(u))
        && query.event.is_none_or(|event| e.event == event)
        && (query.events.is_empty() || query.events.contains(&e.event))
        && query.outcome.is_none_or(|outcome| e.outcome == outcome)
        && query.since.is_none_or(|since| e.at >= since)
        && query.until.is_none_or(|until| e.at < until)
}

impl AuditLog for MemoryStore {
    fn append(&self, entry: &AuditEntry) -> anyhow::Result<()> {
        self.state().audit_log.insert(entry.clone());
        Ok(())
    }

    fn query(&self, query: &AuditQuery) -> anyhow::Result<Vec<AuditRecord>> {
        let st = self.state();
        let past = |id: i64| match (query.after, query.newest_first) {
            (None, _) => true,
            (Some(after), false) => id > after,
            (Some(after), true) => id < after,
        };
        let mut rows: Vec<(i64, &AuditEntry)> = st.audit_log.iter().collect();
        if query.newest_first {
            rows.reverse();
        }
        Ok(rows
            .into_iter()
            .filter(|&(id, e)| past(id) && audit_matches(query, e))
            .take(query.limit as usize)
            .map(|(id, e)| AuditRecord {
                id,
                entry: e.clone(),
            })
            .collect())
    }

    fn prune(&self, before: UnixTime, batch: u32) -> anyhow::Result<u64> {
        let mut st = self.state();
        let ids = st.audit_log.first_ids(batch as usize, |e| e.at < before);
        Ok(st.audit_log.delete_where(|id, _| ids.contains(&id)) as u64)
    }
}

impl RecoveryRepository for MemoryStore {
    fn create_reset(
        &self,
        user: UserId,
        digest: &HashedToken,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> anyhow::Result<()> {
        let mut st = self.state();
        st.require_user(user)?;
        ensure!(
            st.password_resets
                .find(|r| r.hash == *digest && r.user != user)
                .is_none(),
            "unique: a reset token with this digest exists"
        );
        st.password_resets.delete_where(|_, r| r.user == user);
        st.password_resets.insert(ResetRow {
            user,
            hash: digest.clone(),
            created_at: now,
            expires_at,
            used_at: None,
        });
        Ok(())
    }

    fn reset_user(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<Option<UserId>> {
        let st = self.state();
        Ok(st
            .password_resets
            .find(|r| r.usable(digest, now))
            .map(|(_, r)| r.user))
    }

    fn consume_reset(
        &self,
        digest: &HashedToken,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let mut st = self.state();
        let Some(reset) = st.password_resets.find_mut(|r| r.usable(digest, now)) else {
            return Ok(None);
        };
        reset.used_at = Some(now);
        let user = reset.user;
        if let Some(row) = st.users.get_mut(user.0) {
            row.hash = hash.clone();
            row.user.updated_at = now;
        }
        Ok(Some(st.revoke_user_sessions(
            user,
            RevokeSessions::All,
            "password_reset",
            now,
        )))
    }
}

impl MfaRepository for MemoryStore {
    fn begin_enrolment(&self, user: UserId, secret: &str, now: UnixTime) -> anyhow::Result<bool> {
        let mut st = self.state();
        match st.user_mfa.get(&user) {
            Some(row) if row.enabled => return Ok(false),
            Some(_) => {}
            None => st.require_user(user)?,
        }
        st.user_mfa.insert(
            user,
            MfaRow {
                secret: secret.to_owned(),
                enabled: false,
                last_step: None,
                created_at: now,
                enabled_at: None,
            },
        );
        Ok(true)
    }

    fn mfa_state(&self, user: UserId) -> anyhow::Result<Option<MfaState>> {
        Ok(self.state().user_mfa.get(&user).map(|row| MfaState {
            secret: row.secret.clone(),
            enabled: row.enabled,
            last_step: row.last_step,
        }))
    }

    fn enable(
        &self,
        user: UserId,
        step: i64,
        backup: &[HashedToken],
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let mut st = self.state();
        let Some(row) = st.user_mfa.get_mut(&user).filter(|row| !row.enabled) else {
            return Ok(false);
        };
        row.enabled = true;
        row.last_step = Some(step);
        row.enabled_at = Some(now);
        st.set_backup_codes(user, backup);
        Ok(true)
    }

    fn accept_step(&self, user: UserId, step: i64) -> anyhow::Result<bool> {
        let mut st = self.state();
        let Some(row) = st.user_mfa.get_mut(&user) else {
            return Ok(false);
        };
        if !row.enabled || row.last_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        row.last_step = Some(step);
        Ok(true)
    }

    fn use_backup_code(
        &self,
        user: UserId,
        digest: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let mut st = self.state();
        let Some(code) = st
            .backup_codes
            .find_mut(|c| c.user == user && c.hash == *digest && c.used_at.is_none())
        else {
            return Ok(false);
        };
        code.used_at = Some(now);
        Ok(true)
    }

    fn remaining_backup_codes(&self, user: UserId) -> anyhow::Result<u32> {
        let st = self.state();
        let n = st
            .backup_codes
            .iter()
            .filter(|(_, c)| c.user == user && c.used_at.is_none())
            .count();
        Ok(u32::try_from(n).unwrap_or(0))
    }

    fn replace_backup_codes(&self, user: UserId, backup: &[HashedToken]) -> anyhow::Result<()> {
        let mut st = self.state();
        if !backup.is_empty() {
            st.require_user(user)?;
        }
        st.set_backup_codes(user, backup);
        Ok(())
    }

    fn disable(
        &self,
        user: UserId,
        revoke: RevokeSessions,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>> {
        let mut st = self.state();
        st.user_mfa.remove(&user);
        st.backup_codes.delete_where(|_, c| c.user == user);
        st.mfa_challenges.delete_where(|_, c| c.user == user);
        Ok(st.revoke_user_sessions(user, revoke, "mfa_reset", now))
    }

    fn create_challenge(
        &self,
        user: UserId,
        digest: &HashedToken,
        expires_at: UnixTime,
    ) -> anyhow::Result<()> {
        let mut st = self.state();
        st.require_user(user)?;
        ensure!(
            st.mfa_challenges.find(|c| c.hash == *digest).is_none(),
            "unique: a pending MFA login with this digest exists"
        );
        st.mfa_challenges.insert(ChallengeRow {
            user,
            hash: digest.clone(),
            expires_at,
            used_at: None,
        });
        Ok(())
    }

    fn challenge_user(
        &self,
        digest: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<Option<UserId>> {
        let st = self.state();
        Ok(st
            .mfa_challenges
            .find(|c| c.usable(digest, now))
            .map(|(_, c)| c.user))
    }

    fn consume_challenge(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<bool> {
        let mut st = self.state();
        let Some(challenge) = st.mfa_challenges.find_mut(|c| c.usable(digest, now)) else {
            return Ok(false);
        };
        challenge.used_at = Some(now);
        Ok(true)
    }
}

impl ClientRepository for MemoryStore {
    fn create_client(
        &self,
        new: &NewClient,
        client_id: &str,
        secret: Option<&HashedToken>,
        now: UnixTime,
    ) -> Result<OAuthClient, UserError> {
        let mut st = self.state();
        if let Some(tenant) = new.tenant_id {
            if st.tenants.get(tenant.0).is_none() {
                return Err(UserError::Unknown(anyhow!(
                    "foreign key: tenant {} does not exist",
                    tenant.0
                )));
            }
        }
        if st
            .clients
            .find(|c| {
                c.client.client_id == client_id
                    || (secret.is_some() && c.client.secret.as_ref() == secret)
            })
            .is_some()
        {
            return Err(UserError::Unknown(anyhow!(
                "unique: a client with this id or secret exists"
            )));
        }
        let client = OAuthClient {
            id: st.clients.next_id(),
            client_id: client_id.to_owned(),
            tenant_id: new.tenant_id,
            client_name: new.client_name.as_str().to_owned(),
            auth_method: new.auth_method,
            secret: secret.cloned(),
            redirect_uris: new.redirect_uris.clone(),
            post_logout_redirect_uris: new.post_logout_redirect_uris.clone(),
            grant_types: new.grant_types.clone(),
            response_types: new.response_types.clone(),
            scope: new.scope.clone(),
            first_party: new.first_party,
            created_at: now,
            updated_at: now,
        };
        st.clients.insert(ClientRow {
            client: client.clone(),
        });
        Ok(client)
    }

    fn find_client(&self, client_id: &str) -> anyhow::Result<Option<OAuthClient>> {
        Ok(self
            .state()
            .clients
            .find(|c| c.client.client_id == client_id)
            .map(|(_, c)| c.client.clone()))
    }

    fn list_clients(
        &self,
        tenant: Option<TenantId>,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<OAuthClient>> {
        let st = self.state();
        Ok(st
            .clients
            .iter()
            .filter(|&(id, row)| {
                after.is_none_or(|a| id > a)
                    && tenant.is_none_or(|t| row.client.tenant_id == Some(t))
            })
            .take(limit as usize)
            .map(|(_, row)| row.client.clone())
            .collect())
    }

    fn update_client(
        &self,
        client_pk: i64,
        new: &NewClient,
        now: UnixTime,
    ) -> Result<OAuthClient, UserError> {
        let mut st = self.state();
        let row = st.clients.get_mut(client_pk).ok_or(UserError::NotFound)?;
        let c = &mut row.client;
        c.client_name = new.client_name.as_str().to_owned();
        c.redirect_uris = new.redirect_uris.clone();
        c.post_logout_redirect_uris = new.post_logout_redirect_uris.clone();
        c.grant_types = new.grant_types.clone();
        c.response_types = new.response_types.clone();
        c.scope = new.scope.clone();
        c.first_party = new.first_party;
        c.updated_at = now;
        Ok(c.clone())
    }

    fn set_client_secret(
        &self,
        client_pk: i64,
        secret: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<bool> {
        let mut st = self.state();
        ensure!(
            st.clients
                .find(|c| c.client.secret.as_ref() == Some(secret))
                .is_none(),
            "unique: a client with this secret exists"
        );
        let Some(row) = st.clients.get_mut(client_pk) else {
            return Ok(false);
        };
        row.client.secret = Some(secret.clone());
        row.client.updated_at = now;
        Ok(true)
    }

    fn delete_client(
        &self,
        client_pk: i64,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        Ok(self.state().delete_client(client_pk, now))
    }
}

impl AuthorizationCodes for MemoryStore {
    fn create_code(&self, new: &NewCode) -> anyhow::Result<()> {
        let mut st = self.state();
        ensure!(
            st.clients.get(new.client_pk).is_some(),
            "foreign key: client {} does not exist",
            new.client_pk
        );
        st.require_user(new.user_id)?;
        ensure!(
            st.authorization_codes
                .find(|c| c.hash == new.code_hash)
                .is_none(),
            "unique: a code with this digest exists"
        );
        st.authorization_codes.insert(CodeRow {
            hash: new.code_hash.clone(),
            code: new.clone(),
            used_at: None,
            issued_session: None,
            replayed_at: None,
        });
        Ok(())
    }

    fn redeem_code(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<Redeemed> {
        let mut st = self.state();
        let Some(id) = st
            .authorization_codes
            .find(|c| c.hash == *digest)
            .map(|(id, _)| id)
        else {
            return Ok(Redeemed::Unknown);
        };
        let Some(row) = st.authorization_codes.get_mut(id) else {
            return Ok(Redeemed::Unknown);
        };
        if row.used_at.is_some() {
            return Ok(Redeemed::Replayed {
                code_id: id,
                client_pk: row.code.client_pk,
            });
        }
        row.used_at = Some(now);
        Ok(Redeemed::Fresh(row.record(id)))
    }

    fn attach_session(&self, code_id: i64, session: SessionId) -> anyhow::Result<bool> {
        Ok(match self.state().authorization_codes.get_mut(code_id) {
            Some(row) => {
                row.issued_session = Some(session);
                row.replayed_at.is_some()
            }
            None => false,
        })
    }

    fn mark_replayed(&self, code_id: i64, now: UnixTime) -> anyhow::Result<Option<SessionId>> {
        Ok(match self.state().authorization_codes.get_mut(code_id) {
            Some(row) => {
                row.replayed_at = Some(now);
                row.issued_session
            }
            None => None,
        })
    }
}

impl State {
    /// The consent of `user` to client `client_pk`, as the store returns it (joined with the
    /// client's id and name).
    fn consent(&self, user: UserId, client_pk: i64) -> Option<Consent> {
        let row = self.consents.get(&(user, client_pk))?;
        let client = &self.clients.get(client_pk)?.client;
        Some(Consent {
            client_pk,
            client_id: client.client_id.clone(),
            client_name: client.client_name.clone(),
            scope: row.scope.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl ConsentRepository for MemoryStore {
    fn find_consent(&self, user: UserId, client_pk: i64) -> anyhow::Result<Option<Consent>> {
        Ok(self.state().consent(user, client_pk))
    }

    fn save_consent(
        &self,
        user: UserId,
        client_pk: i64,
        scope: &str,
        now: UnixTime,
    ) -> anyhow::Result<()> {
        let mut st = self.state();
        st.require_user(user)?;
        ensure!(
            st.clients.get(client_pk).is_some(),
            "foreign key: client {client_pk} does not exist"
        );
        st.consents
            .entry((user, client_pk))
            .and_modify(|row| {
                row.scope = merged_scope(&row.scope, scope);
                row.updated_at = now;
            })
            .or_insert_with(|| ConsentRow {
                scope: merged_scope("", scope),
                created_at: now,
                updated_at: now,
            });
        Ok(())
    }

    fn list_consents(
        &self,
        user: UserId,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<Consent>> {
        let st = self.state();
        Ok(st
            .consents
            .keys()
            .filter(|&&(u, client)| u == user && after.is_none_or(|a| client > a))
            .take(limit as usize)
            .filter_map(|&(u, client)| st.consent(u, client))
            .collect())
    }

    fn revoke_consent(
        &self,
        user: UserId,
        client_pk: i64,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let mut st = self.state();
        if st.consents.remove(&(user, client_pk)).is_none() {
            return Ok(None);
        }
        let Some(client_id) = st
            .clients
            .get(client_pk)
            .map(|c| c.client.client_id.clone())
        else {
            return Ok(Some(Vec::new()));
        };
        st.authorization_codes.delete_where(|_, c| {
            c.code.user_id == user && c.code.client_pk == client_pk && c.used_at.is_none()
        });
        let opened: Vec<SessionId> = st
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.user == user
                    && s.client_id.as_deref() == Some(client_id.as_str())
                    && s.revoked_at.is_none()
            })
            .map(|(sid, _)| SessionId(sid))
            .collect();
        for session in &opened {
            st.end_session(*session, "consent_revoked", now);
        }
        Ok(Some(opened))
    }
}

impl SessionDirectory for MemoryStore {
    fn live_sessions(&self, user: UserId, now: UnixTime) -> anyhow::Result<Vec<SessionInfo>> {
        let st = self.state();
        Ok(st
            .sessions
            .iter()
            .filter(|(_, s)| s.user == user && s.is_live(now))
            .map(|(id, s)| s.info(id))
            .collect())
    }

    fn count_live(&self, now: UnixTime) -> anyhow::Result<u64> {
        let st = self.state();
        Ok(st.sessions.iter().filter(|(_, s)| s.is_live(now)).count() as u64)
    }

    fn session(&self, id: SessionId) -> anyhow::Result<Option<SessionInfo>> {
        Ok(self.state().sessions.get(id.0).map(|s| s.info(id.0)))
    }

    fn revoke_sessions_of(
        &self,
        user: UserId,
        scope: RevokeSessions,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>> {
        Ok(self.state().revoke_user_sessions(user, scope, reason, now))
    }
}

impl Readiness for MemoryStore {
    fn check(&self) -> anyhow::Result<()> {
        let st = self.state();
        match &st.unready {
            Some(reason) => Err(anyhow::Error::msg(reason.clone())),
            None => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One-time codes
// ---------------------------------------------------------------------------------------------

/// Seconds per TOTP time step.
pub const TOTP_PERIOD: i64 = 30;

/// The code `FakeOtp` accepts for `secret` in time step `step`: six digits from an FNV-1a hash.
pub fn fake_totp(secret: &str, step: i64) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in secret.bytes().chain(step.to_be_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:06}", hash % 1_000_000)
}

/// The code `FakeOtp` accepts for `secret` at `now`, in the current step.
pub fn fake_totp_at(secret: &str, now: UnixTime) -> String {
    fake_totp(secret, now.seconds().div_euclid(TOTP_PERIOD))
}

/// Deterministic TOTP: secrets `SECRET1`, `SECRET2`, …; codes from `fake_totp`, accepted within one
/// step of now; backup codes `aaaaa-00001`, `aaaaa-00002`, ….
#[derive(Debug, Default)]
pub struct FakeOtp {
    secrets: AtomicU64,
    backup_codes: AtomicU64,
}

impl OneTimeCodes for FakeOtp {
    fn new_totp_secret(&self) -> String {
        format!("SECRET{}", self.secrets.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn enrolment(
        &self,
        secret: &str,
        account: &str,
        issuer: &str,
    ) -> anyhow::Result<(String, String)> {
        Ok((
            format!("otpauth://totp/{issuer}:{account}?secret={secret}"),
            "<svg/>".to_owned(),
        ))
    }

    fn totp_step(&self, secret: &str, code: &str, now: UnixTime) -> Option<i64> {
        let current = now.seconds().div_euclid(TOTP_PERIOD);
        (current - 1..=current + 1).find(|step| fake_totp(secret, *step) == code)
    }

    fn new_backup_code(&self) -> String {
        let n = self.backup_codes.fetch_add(1, Ordering::SeqCst) + 1;
        format!("aaaaa-{n:05}")
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// Records everything it is told, for tests to read back.
#[derive(Debug, Default)]
pub struct CountingObserver {
    events: Mutex<Vec<(Event, Outcome)>>,
    tokens: Mutex<Vec<&'static str>>,
    revoked: Mutex<Vec<SessionId>>,
}

impl CountingObserver {
    pub fn events(&self) -> Vec<(Event, Outcome)> {
        lock(&self.events).clone()
    }

    /// How many times `event` was observed with `outcome`.
    pub fn count(&self, event: Event, outcome: Outcome) -> usize {
        lock(&self.events)
            .iter()
            .filter(|&&seen| seen == (event, outcome))
            .count()
    }

    /// The kinds of the tokens issued, in order.
    pub fn tokens_issued(&self) -> Vec<&'static str> {
        lock(&self.tokens).clone()
    }

    /// How many tokens of `kind` were issued.
    pub fn token_count(&self, kind: &str) -> usize {
        lock(&self.tokens).iter().filter(|&&k| k == kind).count()
    }

    /// Every session reported revoked, in order.
    pub fn revoked_sessions(&self) -> Vec<SessionId> {
        lock(&self.revoked).clone()
    }
}

impl Observer for CountingObserver {
    fn event(&self, event: Event, outcome: Outcome) {
        lock(&self.events).push((event, outcome));
    }

    fn token_issued(&self, kind: &'static str) {
        lock(&self.tokens).push(kind);
    }

    fn sessions_revoked(&self, sessions: &[SessionId]) {
        lock(&self.revoked).extend_from_slice(sessions);
    }
}
