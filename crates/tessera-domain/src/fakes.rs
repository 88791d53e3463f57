//! In-memory fake ports for the service's unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::access::{Entry, Kind, Link, NewEntry};
use crate::audit::{AuditEntry, AuditQuery, AuditRecord, Event, Outcome};
use crate::claims::AccessClaims;
use crate::credentials::{ApiKey, NewApiKey};
use crate::error::{TokenError, UserError};
use crate::lockout::{Failure, LockoutKey, LockoutPolicy};
use crate::password::{Password, PasswordHash, PasswordPolicy, Verification};
use crate::ports::*;
use crate::service::{Ports, Service, TokenSettings};
use crate::time::UnixTime;
use crate::token::{HashedToken, PlainToken, SessionId};
use crate::user::{LoginName, NewUser, TenantId, User, UserChanges, UserId, UserQuery};

#[derive(Default)]
pub struct FakeClock(pub AtomicI64);
impl Clock for FakeClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}
impl FakeClock {
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

/// "Hashes" as `plain:<password>`; `old:<password>` verifies but asks for a rehash.
#[derive(Default)]
pub struct FakeHasher {
    pub dummies: AtomicUsize,
}
impl PasswordHasher for FakeHasher {
    fn hash(&self, p: &Password) -> anyhow::Result<PasswordHash> {
        Ok(PasswordHash::new(format!("plain:{}", p.expose())))
    }
    fn verify(&self, p: &Password, h: &PasswordHash) -> anyhow::Result<Verification> {
        let s = h.as_str();
        Ok(if s == format!("plain:{}", p.expose()) {
            Verification::Match {
                needs_rehash: false,
            }
        } else if s == format!("old:{}", p.expose()) {
            Verification::Match { needs_rehash: true }
        } else {
            Verification::Mismatch
        })
    }
    fn recognizes(&self, h: &PasswordHash) -> bool {
        h.as_str().starts_with("plain:") || h.as_str().starts_with("old:")
    }
    fn verify_dummy(&self, _: &Password) {
        self.dummies.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
pub struct FakeSecrets(AtomicUsize);
impl SecretTokens for FakeSecrets {
    fn new_refresh_token(&self) -> PlainToken {
        PlainToken::new(format!("tsr_{}", self.0.fetch_add(1, Ordering::SeqCst)))
    }
    fn successor(&self, parent: &PlainToken) -> (PlainToken, String) {
        (
            PlainToken::new(format!("{}'", parent.expose())),
            format!("jti-{}", parent.expose()),
        )
    }
    fn digest(&self, t: &PlainToken) -> HashedToken {
        HashedToken::from_hex(format!("h({})", t.expose()))
    }
    fn new_jwt_id(&self) -> String {
        format!("jti{}", self.0.fetch_add(1, Ordering::SeqCst))
    }
    fn keyed_digest(&self, t: &PlainToken) -> HashedToken {
        HashedToken::from_hex(format!("k({})", t.expose()))
    }
    fn csrf_token(&self, t: &PlainToken) -> String {
        format!("csrf({})", t.expose())
    }
    fn new_secret(&self, prefix: &'static str) -> PlainToken {
        PlainToken::new(format!("{prefix}{}", self.0.fetch_add(1, Ordering::SeqCst)))
    }
    fn new_password(&self) -> Password {
        Password::new("generated-password-123".into())
    }
}

/// Tokens are keys into a table of the claims they were signed with.
#[derive(Default)]
pub struct FakeCodec(Mutex<Vec<AccessClaims>>);
impl AccessTokenCodec for FakeCodec {
    fn sign(&self, c: &AccessClaims) -> anyhow::Result<String> {
        let mut v = self.0.lock().unwrap();
        v.push(c.clone());
        Ok(format!("tok{}", v.len() - 1))
    }
    fn decode(&self, t: &str) -> Result<AccessClaims, TokenError> {
        let i: usize = t
            .strip_prefix("tok")
            .and_then(|n| n.parse().ok())
            .ok_or(TokenError::Invalid)?;
        self.0
            .lock()
            .unwrap()
            .get(i)
            .cloned()
            .ok_or(TokenError::Invalid)
    }
}

#[derive(Default)]
struct Db {
    users: Vec<(User, PasswordHash)>,
    sessions: Vec<(SessionId, UserId, bool)>,
    refresh: Vec<(
        i64,
        HashedToken,
        SessionId,
        UnixTime,
        Option<UnixTime>,
        UnixTime,
    )>,
    revocations: Vec<(SessionId, UnixTime)>,
}

#[derive(Default)]
pub struct FakeStore(Mutex<Db>);

impl Db {
    fn revoke(&mut self, user: UserId, scope: RevokeSessions, now: UnixTime) -> Vec<SessionId> {
        let mut out = vec![];
        for (sid, uid, revoked) in &mut self.sessions {
            let keep = scope == RevokeSessions::None || scope == RevokeSessions::AllExcept(*sid);
            if *uid == user && !*revoked && !keep {
                *revoked = true;
                out.push(*sid);
            }
        }
        for s in &out {
            self.revocations.push((*s, now));
        }
        out
    }
}

impl UserRepository for FakeStore {
    fn create_user(&self, n: &NewUser, h: &PasswordHash, now: UnixTime) -> Result<User, UserError> {
        let mut db = self.0.lock().unwrap();
        if db
            .users
            .iter()
            .any(|(u, _)| u.username.normalized() == n.username.normalized())
        {
            return Err(UserError::Duplicate { field: "username" });
        }
        let user = User {
            id: UserId(db.users.len() as i64 + 1),
            username: n.username.clone(),
            email: n.email.clone(),
            display_name: n.display_name.clone(),
            roles: n.roles.clone(),
            active: n.active,
            tenant_id: n.tenant_id,
            created_at: now,
            updated_at: now,
        };
        db.users.push((user.clone(), h.clone()));
        Ok(user)
    }
    fn create_users(
        &self,
        users: &[(NewUser, PasswordHash)],
        now: UnixTime,
    ) -> Result<Vec<User>, UserError> {
        users
            .iter()
            .map(|(n, h)| self.create_user(n, h, now))
            .collect()
    }
    fn get_user(&self, id: UserId) -> anyhow::Result<Option<User>> {
        Ok(self.user_credentials(id)?.map(|(u, _)| u))
    }
    fn find_credentials(
        &self,
        t: Option<TenantId>,
        l: &LoginName,
    ) -> anyhow::Result<Option<(User, PasswordHash)>> {
        let db = self.0.lock().unwrap();
        Ok(db
            .users
            .iter()
            .filter(|(u, _)| u.tenant_id == t)
            .find(|(u, _)| match l {
                LoginName::Username(n) => &u.username.normalized() == n,
                LoginName::Email(e) => u.email.as_ref().map(|m| m.normalized()).as_ref() == Some(e),
            })
            .cloned())
    }
    fn user_credentials(&self, id: UserId) -> anyhow::Result<Option<(User, PasswordHash)>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .users
            .iter()
            .find(|(u, _)| u.id == id)
            .cloned())
    }
    fn update_user(
        &self,
        id: UserId,
        c: &UserChanges,
        r: RevokeSessions,
        now: UnixTime,
    ) -> Result<(User, Vec<SessionId>), UserError> {
        let mut db = self.0.lock().unwrap();
        let (u, _) = db
            .users
            .iter_mut()
            .find(|(u, _)| u.id == id)
            .ok_or(UserError::NotFound)?;
        if let Some(e) = &c.email {
            u.email = e.clone();
        }
        if let Some(d) = &c.display_name {
            u.display_name = d.clone();
        }
        if let Some(roles) = &c.roles {
            u.roles = roles.clone();
        }
        if let Some(a) = c.active {
            u.active = a;
        }
        let user = u.clone();
        Ok((user, db.revoke(id, r, now)))
    }
    fn set_password_hash(
        &self,
        id: UserId,
        h: &PasswordHash,
        r: RevokeSessions,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        let mut db = self.0.lock().unwrap();
        let Some(entry) = db.users.iter_mut().find(|(u, _)| u.id == id) else {
            return Ok(None);
        };
        entry.1 = h.clone();
        Ok(Some(db.revoke(id, r, now)))
    }
    fn delete_user(&self, id: UserId, now: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>> {
        let mut db = self.0.lock().unwrap();
        let before = db.users.len();
        db.users.retain(|(u, _)| u.id != id);
        if db.users.len() == before {
            return Ok(None);
        }
        Ok(Some(db.revoke(id, RevokeSessions::All, now)))
    }
    fn list_users(&self, q: &UserQuery) -> anyhow::Result<Vec<User>> {
        let db = self.0.lock().unwrap();
        Ok(db
            .users
            .iter()
            .map(|(u, _)| u.clone())
            .filter(|u| q.after.is_none_or(|a| u.id > a))
            .filter(|u| q.tenant.is_none_or(|t| u.tenant_id == t))
            .take(q.limit as usize)
            .collect())
    }
    fn count_users(&self) -> anyhow::Result<u64> {
        Ok(self.0.lock().unwrap().users.len() as u64)
    }
    fn count_active_admins(&self) -> anyhow::Result<u64> {
        let db = self.0.lock().unwrap();
        Ok(db
            .users
            .iter()
            .filter(|(u, _)| u.active && u.is_admin())
            .count() as u64)
    }
}

impl SessionRepository for FakeStore {
    fn create_session(&self, n: &NewSession, r: &HashedToken) -> anyhow::Result<SessionId> {
        let mut db = self.0.lock().unwrap();
        let sid = SessionId(db.sessions.len() as i64 + 1);
        db.sessions.push((sid, n.user_id, false));
        let id = db.refresh.len() as i64 + 1;
        db.refresh
            .push((id, r.clone(), sid, n.expires_at, None, n.created_at));
        Ok(sid)
    }
    fn find_refresh(&self, d: &HashedToken) -> anyhow::Result<Option<RefreshRecord>> {
        let db = self.0.lock().unwrap();
        Ok(db.refresh.iter().find(|r| &r.1 == d).map(|r| {
            let s = db.sessions.iter().find(|s| s.0 == r.2).unwrap();
            RefreshRecord {
                token_id: r.0,
                session_id: r.2,
                user_id: s.1,
                session_revoked: s.2,
                session_created_at: db
                    .refresh
                    .iter()
                    .filter(|x| x.2 == r.2)
                    .map(|x| x.5)
                    .min()
                    .unwrap(),
                session_last_used_at: r.5,
                expires_at: r.3,
                rotated_at: r.4,
            }
        }))
    }
    fn rotate_refresh(
        &self,
        id: i64,
        succ: &HashedToken,
        now: UnixTime,
        exp: UnixTime,
    ) -> anyhow::Result<Rotation> {
        let mut db = self.0.lock().unwrap();
        let r = db.refresh.iter_mut().find(|r| r.0 == id).unwrap();
        if let Some(at) = r.4 {
            return Ok(Rotation::AlreadyRotated { at });
        }
        r.4 = Some(now);
        let sid = r.2;
        let nid = db.refresh.len() as i64 + 1;
        db.refresh.push((nid, succ.clone(), sid, exp, None, now));
        Ok(Rotation::Rotated)
    }
    fn revoke_session(&self, id: SessionId, _: &str, now: UnixTime) -> anyhow::Result<bool> {
        let mut db = self.0.lock().unwrap();
        let s = db.sessions.iter_mut().find(|s| s.0 == id).unwrap();
        let was = !s.2;
        s.2 = true;
        db.revocations.push((id, now));
        Ok(was)
    }
    fn touch_session(&self, _: SessionId, _: UnixTime) -> anyhow::Result<()> {
        Ok(())
    }
    fn revocations_since(&self, since: UnixTime) -> anyhow::Result<Vec<(SessionId, UnixTime)>> {
        let db = self.0.lock().unwrap();
        Ok(db
            .revocations
            .iter()
            .filter(|r| r.1 >= since)
            .cloned()
            .collect())
    }
}

pub struct Harness {
    pub audit: Arc<FakeAudit>,
    pub service: Service,
    pub clock: Arc<FakeClock>,
    pub hasher: Arc<FakeHasher>,
    pub store: Arc<FakeStore>,
}

pub fn harness() -> Harness {
    let clock = Arc::new(FakeClock(AtomicI64::new(1_000_000)));
    let hasher = Arc::new(FakeHasher::default());
    let store = Arc::new(FakeStore::default());
    let audit = Arc::new(FakeAudit::default());
    let ports = Ports {
        users: store.clone(),
        sessions: store.clone(),
        hasher: hasher.clone(),
        secrets: Arc::new(FakeSecrets::default()),
        codec: Arc::new(FakeCodec::default()),
        clock: clock.clone(),
        access: Arc::new(Unused),
        credentials: Arc::new(Unused),
        lockout: Arc::new(FakeLockout::default()),
        audit: audit.clone(),
        recovery: Arc::new(Unused),
        otp: Arc::new(Unused),
        mfa: Arc::new(NoMfa),
        directory: Arc::new(Unused),
        readiness: Arc::new(Unused),
        observer: Arc::new(Unused),
    };
    let settings = TokenSettings {
        issuer: "http://issuer".into(),
        audiences: vec!["tessera".into()],
        access_ttl: 900,
        refresh_ttl: 3600,
        reuse_grace: 10,
        leeway: 5,
        client_id: "tessera".into(),
        scope: "openid".into(),
        mfa_ttl: 300,
    };
    Harness {
        audit,
        service: Service::new(ports, settings, PasswordPolicy::default()),
        clock,
        hasher,
        store,
    }
}

/// The model and credential ports, which the service's unit tests do not reach: the HTTP suite
/// exercises them against the real store. Every call fails loudly.
pub struct Unused;

fn unused<T>() -> anyhow::Result<T> {
    Err(anyhow::anyhow!("this port is not part of the unit tests"))
}

impl AccessRepository for Unused {
    fn create_entry(&self, _: Kind, _: &NewEntry, _: UnixTime) -> Result<Entry, UserError> {
        Ok(unused()?)
    }
    fn get_entry(&self, _: Kind, _: i64) -> anyhow::Result<Option<Entry>> {
        unused()
    }
    fn find_entry(&self, _: Kind, _: &str) -> anyhow::Result<Option<Entry>> {
        unused()
    }
    fn update_entry(&self, _: Kind, _: i64, _: &NewEntry, _: UnixTime) -> Result<Entry, UserError> {
        Ok(unused()?)
    }
    fn delete_entry(&self, _: Kind, _: i64) -> Result<bool, UserError> {
        Ok(unused()?)
    }
    fn list_entries(&self, _: Kind, _: Option<i64>, _: u32) -> anyhow::Result<Vec<Entry>> {
        unused()
    }
    fn link(&self, _: Link, _: i64, _: i64) -> Result<(), UserError> {
        Ok(unused()?)
    }
    fn unlink(&self, _: Link, _: i64, _: i64) -> anyhow::Result<bool> {
        unused()
    }
    fn linked(&self, _: Link, _: i64) -> anyhow::Result<Option<Vec<Entry>>> {
        unused()
    }
    fn grant_role(&self, _: UserId, _: i64, _: i64) -> Result<(), UserError> {
        Ok(unused()?)
    }
    fn revoke_role(&self, _: UserId, _: i64, _: i64) -> anyhow::Result<bool> {
        unused()
    }
    fn grant_permission(&self, _: UserId, _: i64, _: i64, _: UnixTime) -> Result<(), UserError> {
        Ok(unused()?)
    }
    fn person_services(&self, _: UserId) -> anyhow::Result<Vec<Entry>> {
        unused()
    }
    fn person_roles(&self, _: UserId, _: i64) -> anyhow::Result<Vec<Entry>> {
        unused()
    }
    fn effective_permissions(&self, _: UserId, _: i64) -> anyhow::Result<Vec<String>> {
        unused()
    }
    fn role_people(&self, _: i64, _: i64) -> anyhow::Result<Vec<User>> {
        unused()
    }
    fn set_service_secret(
        &self,
        _: i64,
        _: Option<&HashedToken>,
        _: UnixTime,
    ) -> anyhow::Result<bool> {
        unused()
    }
    fn service_by_secret(&self, _: &HashedToken) -> anyhow::Result<Option<Entry>> {
        unused()
    }
}

impl CredentialRepository for Unused {
    fn create_api_key(&self, _: &NewApiKey, _: &HashedToken) -> Result<ApiKey, UserError> {
        Ok(unused()?)
    }
    fn get_api_key(&self, _: i64) -> anyhow::Result<Option<ApiKey>> {
        unused()
    }
    fn list_api_keys(&self, _: UserId) -> anyhow::Result<Vec<ApiKey>> {
        unused()
    }
    fn delete_api_key(&self, _: i64, _: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>> {
        unused()
    }
    fn find_api_key(&self, _: &HashedToken) -> anyhow::Result<Option<(ApiKey, User)>> {
        unused()
    }
    fn record_api_key_use(&self, _: &[(i64, UnixTime)]) -> anyhow::Result<()> {
        unused()
    }
    fn create_key_session(&self, _: &NewSession, _: i64) -> anyhow::Result<SessionId> {
        unused()
    }
    fn create_opaque_session(
        &self,
        _: &NewSession,
        _: &HashedToken,
        _: i64,
    ) -> anyhow::Result<SessionId> {
        unused()
    }
    fn find_opaque(&self, _: &HashedToken) -> anyhow::Result<Option<OpaqueRecord>> {
        unused()
    }
    fn extend_opaque(
        &self,
        _: i64,
        _: UnixTime,
        _: UnixTime,
        _: UnixTime,
    ) -> anyhow::Result<Extension> {
        unused()
    }
    fn prune_expired(&self, _: UnixTime, _: UnixTime, _: u32) -> anyhow::Result<u64> {
        unused()
    }
}

/// Failure counts in a map, with the same rules as the store.
#[derive(Default)]
pub struct FakeLockout(Mutex<std::collections::HashMap<String, (u32, Option<UnixTime>)>>);

impl LockoutRepository for FakeLockout {
    fn locked_until(&self, key: &LockoutKey, now: UnixTime) -> anyhow::Result<Option<UnixTime>> {
        let map = self.0.lock().unwrap();
        Ok(map
            .get(key.as_str())
            .and_then(|(_, until)| *until)
            .filter(|u| *u > now))
    }
    fn record_failure(
        &self,
        key: &LockoutKey,
        now: UnixTime,
        policy: &LockoutPolicy,
    ) -> anyhow::Result<Failure> {
        let mut map = self.0.lock().unwrap();
        let entry = map.entry(key.as_str().to_owned()).or_insert((0, None));
        if let Some(until) = entry.1.filter(|u| *u > now) {
            return Ok(Failure::AlreadyLocked { until });
        }
        entry.0 += 1;
        if entry.0 >= policy.max_failures {
            let until = now.plus(policy.duration_seconds);
            *entry = (0, Some(until));
            return Ok(Failure::Locked { until });
        }
        entry.1 = None;
        Ok(Failure::Counted(entry.0))
    }
    fn clear(&self, key: &LockoutKey) -> anyhow::Result<()> {
        self.0.lock().unwrap().remove(key.as_str());
        Ok(())
    }
}

/// Audit entries in a list.
#[derive(Default)]
pub struct FakeAudit(pub Mutex<Vec<AuditEntry>>);

impl FakeAudit {
    pub fn events(&self) -> Vec<(Event, Outcome)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| (e.event, e.outcome))
            .collect()
    }
}

impl AuditLog for FakeAudit {
    fn append(&self, entry: &AuditEntry) -> anyhow::Result<()> {
        self.0.lock().unwrap().push(entry.clone());
        Ok(())
    }
    fn query(&self, _: &AuditQuery) -> anyhow::Result<Vec<AuditRecord>> {
        unused()
    }
    fn prune(&self, _: UnixTime, _: u32) -> anyhow::Result<u64> {
        unused()
    }
}

impl RecoveryRepository for Unused {
    fn create_reset(
        &self,
        _: UserId,
        _: &HashedToken,
        _: UnixTime,
        _: UnixTime,
    ) -> anyhow::Result<()> {
        unused()
    }
    fn reset_user(&self, _: &HashedToken, _: UnixTime) -> anyhow::Result<Option<UserId>> {
        unused()
    }
    fn consume_reset(
        &self,
        _: &HashedToken,
        _: &PasswordHash,
        _: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>> {
        unused()
    }
}

impl OneTimeCodes for Unused {
    fn new_totp_secret(&self) -> String {
        String::new()
    }
    fn enrolment(&self, _: &str, _: &str, _: &str) -> anyhow::Result<(String, String)> {
        unused()
    }
    fn totp_step(&self, _: &str, _: &str, _: UnixTime) -> Option<i64> {
        None
    }
    fn new_backup_code(&self) -> String {
        String::new()
    }
}

/// No user has a second factor: the HTTP suite tests MFA against the real store and TOTP.
pub struct NoMfa;

impl MfaRepository for NoMfa {
    fn begin_enrolment(&self, _: UserId, _: &str, _: UnixTime) -> anyhow::Result<bool> {
        unused()
    }
    fn mfa_state(&self, _: UserId) -> anyhow::Result<Option<MfaState>> {
        Ok(None)
    }
    fn enable(&self, _: UserId, _: i64, _: &[HashedToken], _: UnixTime) -> anyhow::Result<bool> {
        unused()
    }
    fn accept_step(&self, _: UserId, _: i64) -> anyhow::Result<bool> {
        unused()
    }
    fn use_backup_code(&self, _: UserId, _: &HashedToken, _: UnixTime) -> anyhow::Result<bool> {
        unused()
    }
    fn remaining_backup_codes(&self, _: UserId) -> anyhow::Result<u32> {
        unused()
    }
    fn replace_backup_codes(&self, _: UserId, _: &[HashedToken]) -> anyhow::Result<()> {
        unused()
    }
    fn disable(&self, _: UserId, _: RevokeSessions, _: UnixTime) -> anyhow::Result<Vec<SessionId>> {
        unused()
    }
    fn create_challenge(&self, _: UserId, _: &HashedToken, _: UnixTime) -> anyhow::Result<()> {
        unused()
    }
    fn challenge_user(&self, _: &HashedToken, _: UnixTime) -> anyhow::Result<Option<UserId>> {
        unused()
    }
    fn consume_challenge(&self, _: &HashedToken, _: UnixTime) -> anyhow::Result<bool> {
        unused()
    }
}

impl SessionDirectory for Unused {
    fn count_live(&self, _: UnixTime) -> anyhow::Result<u64> {
        unused()
    }
    fn live_sessions(&self, _: UserId, _: UnixTime) -> anyhow::Result<Vec<SessionInfo>> {
        unused()
    }
    fn session(&self, _: SessionId) -> anyhow::Result<Option<SessionInfo>> {
        unused()
    }
    fn revoke_sessions_of(
        &self,
        _: UserId,
        _: RevokeSessions,
        _: &str,
        _: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>> {
        unused()
    }
}

impl Readiness for Unused {
    fn check(&self) -> anyhow::Result<()> {
        unused()
    }
}

/// The unit tests do not look at metrics.
impl Observer for Unused {
    fn event(&self, _: Event, _: Outcome) {}
    fn token_issued(&self, _: &'static str) {}
}
