//! Fake ports for the use cases' unit tests: a clock to move, a cheap hasher, readable secrets
//! and tokens, and (in `memory`) working in-memory versions of every repository port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::audit::{AuditEntry, AuditQuery, Event, Outcome};
use crate::claims::{AccessClaims, IdClaims, IdHint};
use crate::error::TokenError;
use crate::keys::KeyInfo;
use crate::password::{Password, PasswordHash, Verification};
use crate::ports::*;
use crate::time::UnixTime;
use crate::token::{HashedToken, PlainToken};
use crate::usecases::{Ports, Settings, TokenSettings, UseCases};

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

/// "Hashes" as `plain:<password>`; `old:<password>` verifies but asks for a rehash, and so does
/// `fake_bcrypt(password)`, which has the shape of a bcrypt hash.
#[derive(Default)]
pub struct FakeHasher {
    pub dummies: AtomicUsize,
}

/// A stand-in for a bcrypt hash of `password` (no salt, no work): `$2b$04$` and the password's
/// characters, each outside bcrypt's alphabet as `.`, padded with `.` to 53. Passwords of up to
/// 53 characters that differ only where the alphabet lacks a character share one.
pub fn fake_bcrypt(password: &str) -> PasswordHash {
    let in_alphabet = |c: char| {
        if c.is_ascii_alphanumeric() || c == '/' {
            c
        } else {
            '.'
        }
    };
    let tail: String = password
        .chars()
        .map(in_alphabet)
        .chain(std::iter::repeat('.'))
        .take(53)
        .collect();
    PasswordHash::new(format!("$2b$04${tail}"))
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
        } else if s == format!("old:{}", p.expose()) || *h == fake_bcrypt(p.expose()) {
            Verification::Match { needs_rehash: true }
        } else {
            Verification::Mismatch
        })
    }
    fn recognizes(&self, h: &PasswordHash) -> bool {
        h.as_str().starts_with("plain:") || h.as_str().starts_with("old:") || h.is_bcrypt()
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
    /// Not SHA-256, but as the real one, 43 base64url characters that depend on the verifier.
    fn s256(&self, verifier: &str) -> String {
        use std::hash::{Hash as _, Hasher as _};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        verifier.hash(&mut h);
        format!("{:016x}", h.finish())
            .repeat(3)
            .chars()
            .take(43)
            .collect()
    }
}

/// Tokens are keys into a table of the claims they were signed with; ID tokens (`id<n>`) into
/// another, with the access token each was bound to.
#[derive(Default)]
pub struct FakeCodec {
    access: Mutex<Vec<AccessClaims>>,
    id: Mutex<Vec<(IdClaims, String)>>,
}
impl FakeCodec {
    /// The claims an ID token was signed with, and the access token it was bound to (`at_hash`).
    pub fn id_token(&self, token: &str) -> Option<(IdClaims, String)> {
        let i: usize = token.strip_prefix("id")?.parse().ok()?;
        self.id.lock().unwrap().get(i).cloned()
    }
}
impl AccessTokenCodec for FakeCodec {
    fn sign(&self, c: &AccessClaims) -> anyhow::Result<String> {
        let mut v = self.access.lock().unwrap();
        v.push(c.clone());
        Ok(format!("tok{}", v.len() - 1))
    }
    fn sign_id_token(&self, c: &IdClaims, access_token: &str) -> anyhow::Result<String> {
        let mut v = self.id.lock().unwrap();
        v.push((c.clone(), access_token.to_owned()));
        Ok(format!("id{}", v.len() - 1))
    }
    /// What `sign_id_token` signed, whatever its expiry; `Invalid` for anything else (an access
    /// token included).
    fn decode_id_token(&self, t: &str) -> Result<IdHint, TokenError> {
        let (c, _) = self.id_token(t).ok_or(TokenError::Invalid)?;
        Ok(IdHint {
            issuer: c.issuer,
            audience: c.audience,
            subject: c.subject,
            session_id: c.session_id,
        })
    }
    fn decode(&self, t: &str) -> Result<AccessClaims, TokenError> {
        let i: usize = t
            .strip_prefix("tok")
            .and_then(|n| n.parse().ok())
            .ok_or(TokenError::Invalid)?;
        self.access
            .lock()
            .unwrap()
            .get(i)
            .cloned()
            .ok_or(TokenError::Invalid)
    }
}

/// A key folder in memory: one key (`kid0`, made at 0) to start with; each rotation adds the
/// next, which signs from then on, while the older ones stay published. With `fail` set, a
/// rotation fails as a read-only folder would.
pub struct FakeKeys {
    keys: Mutex<Vec<KeyInfo>>,
    pub fail: std::sync::atomic::AtomicBool,
}
impl Default for FakeKeys {
    fn default() -> Self {
        Self {
            keys: Mutex::new(vec![KeyInfo {
                kid: "kid0".into(),
                alg: "RS256".into(),
                created: UnixTime(0),
                signs: true,
                published: true,
            }]),
            fail: std::sync::atomic::AtomicBool::new(false),
        }
    }
}
impl FakeKeys {
    /// The kid of the key that signs.
    pub fn signing_kid(&self) -> String {
        let keys = self.keys.lock().unwrap();
        keys.iter().find(|k| k.signs).unwrap().kid.clone()
    }
}
impl SigningKeys for FakeKeys {
    fn list(&self) -> anyhow::Result<Vec<KeyInfo>> {
        let mut keys = self.keys.lock().unwrap().clone();
        keys.reverse();
        Ok(keys)
    }
    fn rotate(&self, now: UnixTime) -> anyhow::Result<KeyInfo> {
        anyhow::ensure!(
            !self.fail.load(Ordering::SeqCst),
            "the key folder is read-only"
        );
        let mut keys = self.keys.lock().unwrap();
        for k in keys.iter_mut() {
            k.signs = false;
        }
        let key = KeyInfo {
            kid: format!("kid{}", keys.len()),
            alg: "RS256".into(),
            created: now,
            signs: true,
            published: true,
        };
        keys.push(key.clone());
        Ok(key)
    }
}

pub mod memory;

pub use memory::{fake_totp_at, CountingObserver, FakeOtp, MemoryStore};

pub struct Harness {
    pub core: UseCases,
    pub ports: Ports,
    pub settings: Settings,
    pub clock: Arc<FakeClock>,
    pub hasher: Arc<FakeHasher>,
    pub store: Arc<MemoryStore>,
    pub observer: Arc<CountingObserver>,
    pub codec: Arc<FakeCodec>,
    pub keys: Arc<FakeKeys>,
}

impl Harness {
    /// The audit log's entries, oldest first.
    pub fn audit_entries(&self) -> Vec<AuditEntry> {
        self.store
            .query(&AuditQuery {
                limit: 10_000,
                ..AuditQuery::default()
            })
            .unwrap()
            .into_iter()
            .map(|r| r.entry)
            .collect()
    }

    /// The audit log's events and outcomes, oldest first.
    pub fn audit_events(&self) -> Vec<(Event, Outcome)> {
        self.store.audit_events()
    }
}

pub fn token_settings() -> TokenSettings {
    TokenSettings {
        issuer: "http://issuer".into(),
        audiences: vec!["tessera".into()],
        access_ttl: 900,
        refresh_ttl: 3600,
        reuse_grace: 10,
        leeway: 5,
        client_id: "tessera".into(),
        scope: "openid".into(),
        mfa_ttl: 300,
    }
}

pub fn harness() -> Harness {
    harness_with(|_| {})
}

/// A harness whose settings `change` adjusts first.
pub fn harness_with(change: impl FnOnce(&mut Settings)) -> Harness {
    let clock = Arc::new(FakeClock(AtomicI64::new(1_000_000)));
    let hasher = Arc::new(FakeHasher::default());
    let store = Arc::new(MemoryStore::default());
    let observer = Arc::new(CountingObserver::default());
    let codec = Arc::new(FakeCodec::default());
    let keys = Arc::new(FakeKeys::default());
    let ports = Ports {
        users: store.clone(),
        sessions: store.clone(),
        hasher: hasher.clone(),
        secrets: Arc::new(FakeSecrets::default()),
        codec: codec.clone(),
        clock: clock.clone(),
        access: store.clone(),
        credentials: store.clone(),
        lockout: store.clone(),
        audit: store.clone(),
        recovery: store.clone(),
        otp: Arc::new(FakeOtp::default()),
        mfa: store.clone(),
        directory: store.clone(),
        readiness: store.clone(),
        observer: observer.clone(),
        clients: store.clone(),
        codes: store.clone(),
        consents: store.clone(),
        signing_keys: keys.clone(),
        importer: store.clone(),
    };
    let mut settings = Settings::new(token_settings());
    change(&mut settings);
    Harness {
        core: UseCases::new(ports.clone(), settings.clone()),
        ports,
        settings,
        clock,
        hasher,
        store,
        observer,
        codec,
        keys,
    }
}
