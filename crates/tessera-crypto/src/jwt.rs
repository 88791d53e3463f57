//! RFC 9068 access tokens and OpenID Connect ID tokens signed with josekit, and the JWKS that
//! publishes their keys.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use josekit::jwk::{Jwk, KeyPair as _};
use josekit::jws::{EdDSA, JwsHeader, JwsSigner, JwsVerifier, ES256, RS256};
use josekit::jwt::JwtPayload;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256, Sha512};
use tessera_domain::claims::{AccessClaims, IdClaims, IdHint};
use tessera_domain::error::TokenError;
use tessera_domain::ports::AccessTokenCodec;
use tessera_domain::time::UnixTime;
use tessera_domain::token::SessionId;
use tessera_domain::user::UserId;

/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The `typ` header of ID tokens: plain `JWT`, which `decode` refuses, so an ID token is never
/// taken for an access token.
pub const ID_TOKEN_TYPE: &str = "JWT";
/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

struct VerifyingKey {
    verifier: Box<dyn JwsVerifier>,
    public_jwk: Value,
}

/// The keys in force: the newest signs, every published one verifies.
struct KeySet {
    signer: Box<dyn JwsSigner>,
    signing_kid: String,
    signing_alg: &'static str,
    keys: HashMap<String, VerifyingKey>,
    /// Public keys in publication order, newest first.
    jwks: Value,
}

/// Signs with the newest key, verifies with any published key; `reload` picks up a rotation.
pub struct JwtCodec {
    keys: RwLock<KeySet>,
    /// The folder the keys came from, when they came from one: another node (or `tessera keys
    /// rotate`) may add a key there, which this codec picks up.
    source: Option<Source>,
}

struct Source {
    dir: PathBuf,
    retire_after: i64,
    /// What the folder held at the last load, to tell when it changed.
    listing: Mutex<Listing>,
    /// When a token with an unknown `kid` last made the codec read the folder.
    last_unknown_kid_reload: Mutex<Option<Instant>>,
}

/// File names, sizes and modification times of a key folder.
type Listing = Vec<(std::ffi::OsString, u64, Option<SystemTime>)>;

/// An unknown `kid` makes the codec read its folder at most this often.
const UNKNOWN_KID_RELOAD_EVERY: Duration = Duration::from_secs(1);

fn listing(dir: &Path) -> Listing {
    let mut out: Listing = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let meta = e.metadata().ok()?;
                    Some((e.file_name(), meta.len(), meta.modified().ok()))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCodec")
            .field("signing_kid", &self.signing_kid())
            .finish_non_exhaustive()
    }
}

/// The RFC 7638 thumbprint of a public key: SHA-256 over its required members in lexicographic
/// order (RSA `e`, `kty`, `n`; EC `crv`, `kty`, `x`, `y`; OKP `crv`, `kty`, `x`), base64url.
pub fn thumbprint(jwk: &Jwk) -> anyhow::Result<String> {
    let members: &[&str] = match jwk.key_type() {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        other => anyhow::bail!("no thumbprint for key type {other}"),
    };
    let mut canonical = Map::new();
    for m in members {
        let v = jwk
            .parameter(m)
            .and_then(Value::as_str)
            .with_context(|| format!("key without {m}"))?;
        canonical.insert((*m).to_owned(), json!(v));
    }
    // serde_json writes a map's members in key order with no white space, as RFC 7638 requires.
    Ok(crate::b64(&Sha256::digest(
        Value::Object(canonical).to_string().as_bytes(),
    )))
}

/// A signer and a verifier for one PKCS#8 PEM private key, its algorithm told by trying each;
/// both carry the key's thumbprint as `kid`.
type PemKey = (
    Box<dyn JwsSigner>,
    Box<dyn JwsVerifier>,
    Jwk,
    String,
    &'static str,
);

macro_rules! try_alg {
    ($alg:expr, $name:literal, $pem:expr) => {
        if let Ok(pair) = $alg.key_pair_from_pem($pem) {
            let public = pair.to_jwk_public_key();
            let kid = thumbprint(&public)?;
            let mut signer = $alg.signer_from_pem($pem)?;
            signer.set_key_id(kid.clone());
            let mut verifier = $alg.verifier_from_jwk(&public)?;
            verifier.set_key_id(kid.clone());
            return Ok((Box::new(signer), Box::new(verifier), public, kid, $name));
        }
    };
}

fn key_from_pem(pem: &[u8]) -> anyhow::Result<PemKey> {
    try_alg!(RS256, "RS256", pem);
    try_alg!(ES256, "ES256", pem);
    try_alg!(EdDSA, "EdDSA", pem);
    anyhow::bail!("not an RS256, ES256 or Ed25519 private key")
}

fn key_set(pems: &[Vec<u8>]) -> anyhow::Result<KeySet> {
    let mut keys = HashMap::new();
    let mut published = Vec::new();
    let mut newest = None;
    for pem in pems {
        let (signer, verifier, mut public, kid, alg) =
            key_from_pem(pem).context("unreadable signing key")?;
        public.set_key_id(kid.clone());
        public.set_algorithm(alg);
        public.set_key_use("sig");
        let public_jwk = Value::Object(public.as_ref().clone());
        published.push(public_jwk.clone());
        keys.insert(
            kid.clone(),
            VerifyingKey {
                verifier,
                public_jwk,
            },
        );
        newest = Some((signer, kid, alg));
    }
    let (signer, signing_kid, signing_alg) = newest.context("no signing key")?;
    published.reverse();
    Ok(KeySet {
        signer,
        signing_kid,
        signing_alg,
        keys,
        jwks: json!({ "keys": published }),
    })
}

impl JwtCodec {
    /// Loads the signing keys of `dir` that may still have live tokens at `now`: the newest signs;
    /// an older key stays until `retire_after` seconds after the next one was made.
    ///
    /// # Errors
    /// When there is no key or one cannot be read.
    pub fn from_dir_at(dir: &Path, now: i64, retire_after: i64) -> anyhow::Result<Self> {
        let before = listing(dir);
        Ok(Self {
            keys: RwLock::new(Self::load(dir, now, retire_after)?),
            source: Some(Source {
                dir: dir.to_owned(),
                retire_after,
                listing: Mutex::new(before),
                last_unknown_kid_reload: Mutex::new(None),
            }),
        })
    }

    /// Loads every signing key of `dir`; the newest signs.
    ///
    /// # Errors
    /// When there is no key or one cannot be read.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        Self::from_dir_at(dir, i64::MIN, 0)
    }

    fn load(dir: &Path, now: i64, retire_after: i64) -> anyhow::Result<KeySet> {
        let pems = crate::keys::key_states(dir, now, retire_after)?
            .into_iter()
            .filter(|(_, state)| *state != crate::keys::KeyState::Retired)
            .map(|(k, _)| {
                std::fs::read(&k.path).with_context(|| format!("cannot read {}", k.path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!pems.is_empty(), "no signing key in {}", dir.display());
        key_set(&pems)
    }

    /// Reads the key folder again: a new key signs from now on, and retired keys leave the JWKS.
    /// Returns whether the signing key changed.
    ///
    /// # Errors
    /// When the folder cannot be read; the keys in force stay then.
    pub fn reload(&self, dir: &Path, now: i64, retire_after: i64) -> anyhow::Result<bool> {
        let before = listing(dir);
        let fresh = Self::load(dir, now, retire_after)?;
        if let Some(source) = self.source.as_ref().filter(|s| s.dir == dir) {
            *source
                .listing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = before;
        }
        let mut keys = self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = keys.signing_kid != fresh.signing_kid;
        *keys = fresh;
        Ok(changed)
    }

    /// Reads the key folder again if a file in it was added, removed or changed since the last
    /// load: cheap enough to call every second. Returns whether the signing key changed.
    ///
    /// # Errors
    /// When the folder cannot be read; the keys in force stay then.
    pub fn reload_if_changed(&self) -> anyhow::Result<bool> {
        let Some(source) = &self.source else {
            return Ok(false);
        };
        let now_listing = listing(&source.dir);
        let unchanged = *source
            .listing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            == now_listing;
        if unchanged {
            return Ok(false);
        }
        self.reload(&source.dir, unix_now(), source.retire_after)
    }

    /// A token names a key this codec does not hold: another node may have just rotated, so the
    /// folder is read again, at most once a second whatever the tokens say.
    fn reload_for_unknown_kid(&self) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        {
            let mut last = source
                .last_unknown_kid_reload
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.reload_if_changed() {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot read the signing keys again"
                );
                false
            }
        }
    }

    /// Builds from PKCS#8 PEM private keys (RS256, ES256 or Ed25519), oldest first; the last one signs.
    ///
    /// # Errors
    /// When a key cannot be parsed.
    pub fn from_pems(pems: &[Vec<u8>]) -> anyhow::Result<Self> {
        Ok(Self {
            keys: RwLock::new(key_set(pems)?),
            source: None,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The JSON Web Key Set of every key whose tokens may still be alive.
    pub fn jwks(&self) -> Value {
        self.read().jwks.clone()
    }

    pub fn signing_kid(&self) -> String {
        self.read().signing_kid.clone()
    }

    /// The algorithm of the signing key: `RS256`, `ES256` or `EdDSA`.
    pub fn signing_alg(&self) -> &'static str {
        self.read().signing_alg
    }

    /// The public JWK of one key id.
    pub fn public_jwk(&self, kid: &str) -> Option<Value> {
        self.read().keys.get(kid).map(|k| k.public_jwk.clone())
    }
}

fn str_claim<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a str, TokenError> {
    map.get(name)
        .and_then(Value::as_str)
        .ok_or(TokenError::Invalid)
}

fn int_claim(map: &Map<String, Value>, name: &str) -> Result<i64, TokenError> {
    map.get(name)
        .and_then(Value::as_i64)
        .ok_or(TokenError::Invalid)
}

pub(crate) fn claims_from(map: &Map<String, Value>) -> Result<AccessClaims, TokenError> {
    let audience = match map.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(TokenError::Invalid))
            .collect::<Result<_, _>>()?,
        _ => return Err(TokenError::Invalid),
    };
    let roles = match map.get("roles") {
        None => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(TokenError::Invalid))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(TokenError::Invalid),
    };
    Ok(AccessClaims {
        issuer: str_claim(map, "iss")?.to_owned(),
        subject: UserId(
            str_claim(map, "sub")?
                .parse()
                .map_err(|_| TokenError::Invalid)?,
        ),
        audience,
        expires_at: UnixTime(int_claim(map, "exp")?),
        issued_at: UnixTime(int_claim(map, "iat")?),
        not_before: UnixTime(map.get("nbf").and_then(Value::as_i64).unwrap_or(i64::MIN)),
        jwt_id: str_claim(map, "jti")?.to_owned(),
        client_id: str_claim(map, "client_id")?.to_owned(),
        session_id: SessionId(
            str_claim(map, "sid")?
                .parse()
                .map_err(|_| TokenError::Invalid)?,
        ),
        scope: map
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        roles,
        tenant_id: map
            .get("tenant_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        preferred_username: map
            .get("preferred_username")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

/// `at_hash` (OIDC Core §3.1.3.6): the base64url left half of the hash of `access_token`, with the
/// hash of the signing algorithm: SHA-256 for RS256 and ES256, SHA-512 for EdDSA (Ed25519, as
/// the OpenID Foundation's errata for EdDSA says).
pub fn at_hash(alg: &str, access_token: &str) -> String {
    let digest: Vec<u8> = if alg == "EdDSA" {
        Sha512::digest(access_token.as_bytes()).to_vec()
    } else {
        Sha256::digest(access_token.as_bytes()).to_vec()
    };
    let (left, _) = digest.split_at(digest.len() / 2);
    crate::b64(left)
}

/// The claims of an ID token, as JSON.
fn id_token_claims(c: &IdClaims, at_hash: String) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("iss".into(), json!(c.issuer));
    map.insert("sub".into(), json!(c.subject.0.to_string()));
    map.insert("aud".into(), json!(c.audience));
    map.insert("azp".into(), json!(c.audience));
    map.insert("exp".into(), json!(c.expires_at.seconds()));
    map.insert("iat".into(), json!(c.issued_at.seconds()));
    map.insert("auth_time".into(), json!(c.auth_time.seconds()));
    map.insert("amr".into(), json!(c.amr));
    map.insert("at_hash".into(), json!(at_hash));
    if let Some(nonce) = &c.nonce {
        map.insert("nonce".into(), json!(nonce));
    }
    if let Some(sid) = c.session_id {
        map.insert("sid".into(), json!(sid.0.to_string()));
    }
    let optional = [
        ("preferred_username", &c.preferred_username),
        ("name", &c.name),
        ("email", &c.email),
    ];
    for (name, value) in optional
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
    {
        map.insert(name.into(), json!(value));
    }
    map
}

/// Checks what can be checked before the signature (size, an `at+jwt` type) and returns the `kid`.
pub(crate) fn checked_header(token: &str) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Invalid);
    }
    let header = josekit::jwt::decode_header(token).map_err(|_| TokenError::Invalid)?;
    let typ = header
        .claim("typ")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
        && !typ.eq_ignore_ascii_case("application/at+jwt")
    {
        return Err(TokenError::Invalid);
    }
    header
        .claim("kid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TokenError::Invalid)
}

/// Checks what can be checked of an ID token before its signature (size, a `JWT` type) and
/// returns the `kid`: an access token (`at+jwt`) is not an ID token.
fn checked_id_header(token: &str) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Invalid);
    }
    let header = josekit::jwt::decode_header(token).map_err(|_| TokenError::Invalid)?;
    let typ = header
        .claim("typ")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !typ.eq_ignore_ascii_case(ID_TOKEN_TYPE) {
        return Err(TokenError::Invalid);
    }
    header
        .claim("kid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(TokenError::Invalid)
}

/// What an ID token's verified claims say as a hint: its issuer, its one audience, its subject
/// and its `sid`. Its times are not read.
fn id_hint_from(map: &Map<String, Value>) -> Result<IdHint, TokenError> {
    let audience = match map.get("aud") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.len() == 1 => items
            .first()
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(TokenError::Invalid)?,
        _ => return Err(TokenError::Invalid),
    };
    let session_id = match map.get("sid") {
        None => None,
        Some(sid) => Some(SessionId(
            sid.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or(TokenError::Invalid)?,
        )),
    };
    Ok(IdHint {
        issuer: str_claim(map, "iss")?.to_owned(),
        audience,
        subject: UserId(
            str_claim(map, "sub")?
                .parse()
                .map_err(|_| TokenError::Invalid)?,
        ),
        session_id,
    })
}

impl AccessTokenCodec for JwtCodec {
    fn sign(&self, c: &AccessClaims) -> anyhow::Result<String> {
        let keys = self.read();
        let mut header = JwsHeader::new();
        header.set_token_type(ACCESS_TOKEN_TYPE);
        header.set_key_id(keys.signing_kid.clone());
        let mut map = Map::new();
        map.insert("iss".into(), json!(c.issuer));
        map.insert("sub".into(), json!(c.subject.0.to_string()));
        map.insert(
            "aud".into(),
            if c.audience.len() == 1 {
                json!(c.audience[0])
            } else {
                json!(c.audience)
            },
        );
        map.insert("exp".into(), json!(c.expires_at.seconds()));
        map.insert("iat".into(), json!(c.issued_at.seconds()));
        map.insert("nbf".into(), json!(c.not_before.seconds()));
        map.insert("jti".into(), json!(c.jwt_id));
        map.insert("client_id".into(), json!(c.client_id));
        map.insert("sid".into(), json!(c.session_id.0.to_string()));
        map.insert("scope".into(), json!(c.scope));
        map.insert("roles".into(), json!(c.roles));
        if let Some(t) = &c.tenant_id {
            map.insert("tenant_id".into(), json!(t));
        }
        map.insert("preferred_username".into(), json!(c.preferred_username));
        let payload = JwtPayload::from_map(map).context("invalid claims")?;
        josekit::jwt::encode_with_signer(&payload, &header, keys.signer.as_ref())
            .context("cannot sign an access token")
    }

    fn sign_id_token(&self, claims: &IdClaims, access_token: &str) -> anyhow::Result<String> {
        let keys = self.read();
        let mut header = JwsHeader::new();
        header.set_token_type(ID_TOKEN_TYPE);
        header.set_key_id(keys.signing_kid.clone());
        let map = id_token_claims(claims, at_hash(keys.signing_alg, access_token));
        let payload = JwtPayload::from_map(map).context("invalid claims")?;
        josekit::jwt::encode_with_signer(&payload, &header, keys.signer.as_ref())
            .context("cannot sign an ID token")
    }

    fn decode_id_token(&self, token: &str) -> Result<IdHint, TokenError> {
        let kid = checked_id_header(token)?;
        if !self.read().keys.contains_key(&kid) && !self.reload_for_unknown_kid() {
            return Err(TokenError::Invalid);
        }
        let keys = self.read();
        let key = keys.keys.get(&kid).ok_or(TokenError::Invalid)?;
        // As `decode`: josekit refuses a header whose `alg` differs from the verifier's. It checks
        // no time claim, so an expired ID token reads as well as a fresh one.
        let (payload, _) = josekit::jwt::decode_with_verifier(token, key.verifier.as_ref())
            .map_err(|_| TokenError::Invalid)?;
        id_hint_from(payload.claims_set())
    }

    fn decode(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let kid = checked_header(token)?;
        if !self.read().keys.contains_key(&kid) && !self.reload_for_unknown_kid() {
            return Err(TokenError::Invalid);
        }
        let keys = self.read();
        let key = keys.keys.get(&kid).ok_or(TokenError::Invalid)?;
        // josekit refuses a header whose `alg` differs from the verifier's (so `none` and HS256 fail).
        let (payload, _) = josekit::jwt::decode_with_verifier(token, key.verifier.as_ref())
            .map_err(|_| TokenError::Invalid)?;
        claims_from(payload.claims_set())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> (JwtCodec, Vec<u8>) {
        let pair = RS256.generate_key_pair(2048).unwrap();
        let pem = pair.to_pem_private_key();
        (
            JwtCodec::from_pems(std::slice::from_ref(&pem)).unwrap(),
            pem,
        )
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            issuer: "http://127.0.0.1:8081".into(),
            subject: UserId(42),
            audience: vec!["tessera".into()],
            expires_at: UnixTime(2_000_000_000),
            issued_at: UnixTime(1_700_000_000),
            not_before: UnixTime(1_700_000_000),
            jwt_id: "abc".into(),
            client_id: "tessera".into(),
            session_id: SessionId(9),
            scope: "openid profile".into(),
            roles: vec!["admin".into(), "user".into()],
            tenant_id: Some("acme".into()),
            preferred_username: "root".into(),
        }
    }

    #[test]
    fn round_trips_every_claim() {
        let (c, _) = codec();
        let token = c.sign(&claims()).unwrap();
        assert_eq!(c.decode(&token).unwrap(), claims());
        let header = josekit::jwt::decode_header(&token).unwrap();
        assert_eq!(header.claim("typ").unwrap(), "at+jwt");
        assert_eq!(header.claim("alg").unwrap(), "RS256");
        assert_eq!(
            header.claim("kid").unwrap().as_str().unwrap(),
            c.signing_kid()
        );
    }

    #[test]
    fn rejects_tokens_of_another_key_none_and_hs256() {
        let (a, _) = codec();
        let (b, pem_b) = codec();
        let token = b.sign(&claims()).unwrap();
        assert_eq!(a.decode(&token), Err(TokenError::Invalid));

        // alg: none with the right kid.
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id(b.signing_kid());
        let payload = JwtPayload::from_map(
            serde_json::from_str::<Map<String, Value>>(r#"{"sub":"1"}"#).unwrap(),
        )
        .unwrap();
        let unsecured = josekit::jwt::encode_unsecured(&payload, &header).unwrap();
        assert_eq!(b.decode(&unsecured), Err(TokenError::Invalid));

        // HS256 keyed with the public key's PEM.
        let public_pem = RS256.key_pair_from_pem(&pem_b).unwrap().to_pem_public_key();
        let hs = josekit::jws::HS256.signer_from_bytes(&public_pem).unwrap();
        let forged = josekit::jwt::encode_with_signer(&payload, &header, &hs).unwrap();
        assert_eq!(b.decode(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn rejects_a_tampered_payload_and_garbage() {
        let (c, _) = codec();
        let token = c.sign(&claims()).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let evil = crate::b64(br#"{"sub":"1","roles":["admin"]}"#);
        parts[1] = &evil;
        assert_eq!(c.decode(&parts.join(".")), Err(TokenError::Invalid));
        assert_eq!(c.decode("not a token"), Err(TokenError::Invalid));
        assert_eq!(c.decode(&"a".repeat(9000)), Err(TokenError::Invalid));
    }

    #[test]
    fn jwks_lists_newest_first_with_thumbprint_kids() {
        let p1 = RS256.generate_key_pair(2048).unwrap().to_pem_private_key();
        let p2 = RS256.generate_key_pair(2048).unwrap().to_pem_private_key();
        let c = JwtCodec::from_pems(&[p1, p2]).unwrap();
        let jwks = c.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], c.signing_kid());
        assert_eq!(keys[0]["kty"], "RSA");
        assert_eq!(keys[0]["alg"], "RS256");
        assert!(keys[0].get("d").is_none(), "no private part is published");
    }

    #[test]
    fn es256_and_eddsa_keys_sign_and_verify_with_their_own_algorithm() {
        for (alg, pem) in [
            (
                "ES256",
                ES256.generate_key_pair().unwrap().to_pem_private_key(),
            ),
            (
                "EdDSA",
                EdDSA
                    .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
                    .unwrap()
                    .to_pem_private_key(),
            ),
        ] {
            let c = JwtCodec::from_pems(&[pem]).unwrap();
            assert_eq!(c.signing_alg(), alg);
            let token = c.sign(&claims()).unwrap();
            assert_eq!(c.decode(&token).unwrap(), claims());
            let header = josekit::jwt::decode_header(&token).unwrap();
            assert_eq!(header.claim("alg").unwrap(), alg);
            let jwk = &c.jwks()["keys"][0];
            assert_eq!(jwk["alg"], alg);
            assert_eq!(jwk["kid"], c.signing_kid());
            assert!(jwk.get("d").is_none());
        }
    }

    #[test]
    fn a_rotated_key_signs_after_reload_and_the_old_one_leaves_after_its_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path();
        crate::keys::generate_signing_key(keys, 1_000, crate::keys::SigningAlg::Rs256).unwrap();
        let c = JwtCodec::from_dir_at(keys, 1_500, 900).unwrap();
        let old = c.sign(&claims()).unwrap();
        let old_kid = c.signing_kid();
        crate::keys::generate_signing_key(keys, 2_000, crate::keys::SigningAlg::Es256).unwrap();
        assert!(c.reload(keys, 2_000, 900).unwrap());
        assert_ne!(c.signing_kid(), old_kid);
        assert_eq!(c.signing_alg(), "ES256");
        assert_eq!(c.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(c.decode(&old).is_ok(), "tokens of the old key still verify");
        assert!(!c.reload(keys, 2_899, 900).unwrap());
        assert!(c.decode(&old).is_ok());
        c.reload(keys, 2_900, 900).unwrap();
        assert_eq!(c.jwks()["keys"].as_array().unwrap().len(), 1);
        assert_eq!(c.decode(&old), Err(TokenError::Invalid));
    }

    #[test]
    fn a_key_added_by_another_node_is_picked_up_from_the_shared_folder() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path();
        let now = unix_now();
        crate::keys::generate_signing_key(keys, now - 10, crate::keys::SigningAlg::Rs256).unwrap();
        let (a, b) = (
            JwtCodec::from_dir_at(keys, now, 900).unwrap(),
            JwtCodec::from_dir_at(keys, now, 900).unwrap(),
        );
        assert!(!b.reload_if_changed().unwrap(), "nothing changed");
        // Node A rotates; its first token reaches node B before B's periodic check.
        crate::keys::generate_signing_key(keys, now, crate::keys::SigningAlg::EdDsa).unwrap();
        assert!(a.reload(keys, now, 900).unwrap());
        let token = a.sign(&claims()).unwrap();
        assert_eq!(b.decode(&token).unwrap().subject, UserId(42));
        assert_eq!(b.signing_kid(), a.signing_kid());
        // A second unknown kid within the second does not read the folder again.
        let (other, _) = codec();
        assert_eq!(
            b.decode(&other.sign(&claims()).unwrap()),
            Err(TokenError::Invalid)
        );
        assert!(!b.reload_if_changed().unwrap(), "already up to date");
    }

    fn id_claims() -> IdClaims {
        IdClaims {
            issuer: "http://127.0.0.1:8081".into(),
            subject: UserId(42),
            audience: "tc_wiki".into(),
            expires_at: UnixTime(2_000_000_000),
            issued_at: UnixTime(1_700_000_000),
            auth_time: UnixTime(1_699_999_000),
            nonce: Some("n-0S6_WzA2Mj".into()),
            session_id: Some(SessionId(7)),
            amr: vec!["pwd".into(), "otp".into()],
            preferred_username: Some("root".into()),
            name: None,
            email: Some("root@example.com".into()),
        }
    }

    #[test]
    fn id_tokens_carry_their_claims_and_at_hash_and_are_never_access_tokens() {
        for pem in [
            RS256.generate_key_pair(2048).unwrap().to_pem_private_key(),
            ES256.generate_key_pair().unwrap().to_pem_private_key(),
            EdDSA
                .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
                .unwrap()
                .to_pem_private_key(),
        ] {
            let c = JwtCodec::from_pems(&[pem]).unwrap();
            let access = c.sign(&claims()).unwrap();
            let token = c.sign_id_token(&id_claims(), &access).unwrap();
            let (kid, alg) = (c.signing_kid(), c.signing_alg());
            let header = josekit::jwt::decode_header(&token).unwrap();
            assert_eq!(header.claim("typ").unwrap(), "JWT");
            assert_eq!(header.claim("kid").unwrap().as_str().unwrap(), kid);
            let keys = c.read();
            let key = keys.keys.get(&kid).unwrap();
            let (payload, _) =
                josekit::jwt::decode_with_verifier(&token, key.verifier.as_ref()).unwrap();
            let map = payload.claims_set();
            assert_eq!(map["aud"], "tc_wiki");
            assert_eq!(map["azp"], "tc_wiki");
            assert_eq!(map["sub"], "42");
            assert_eq!(map["auth_time"], 1_699_999_000);
            assert_eq!(map["nonce"], "n-0S6_WzA2Mj");
            assert_eq!(map["sid"], "7");
            assert_eq!(map["amr"], json!(["pwd", "otp"]));
            assert_eq!(map["email"], "root@example.com");
            assert!(map.get("name").is_none());
            assert_eq!(map["at_hash"], json!(at_hash(alg, &access)));
            drop(keys);
            assert_eq!(c.decode(&token), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn an_expired_id_token_is_a_good_hint_and_one_of_another_key_or_an_access_token_is_none() {
        let (c, _) = codec();
        let access = c.sign(&claims()).unwrap();
        // Expired long ago: a hint all the same (RP-Initiated Logout 1.0 §2).
        let expired = IdClaims {
            expires_at: UnixTime(1_000),
            issued_at: UnixTime(100),
            auth_time: UnixTime(100),
            ..id_claims()
        };
        let token = c.sign_id_token(&expired, &access).unwrap();
        assert_eq!(
            c.decode_id_token(&token),
            Ok(IdHint {
                issuer: "http://127.0.0.1:8081".into(),
                audience: "tc_wiki".into(),
                subject: UserId(42),
                session_id: Some(SessionId(7)),
            })
        );
        // Without a sid.
        let no_sid = IdClaims {
            session_id: None,
            ..id_claims()
        };
        let token = c.sign_id_token(&no_sid, &access).unwrap();
        assert_eq!(c.decode_id_token(&token).unwrap().session_id, None);

        // Signed by another key: refused, as is a tampered payload.
        let (other, _) = codec();
        let foreign = other.sign_id_token(&id_claims(), &access).unwrap();
        assert_eq!(c.decode_id_token(&foreign), Err(TokenError::Invalid));
        let good = c.sign_id_token(&id_claims(), &access).unwrap();
        let mut parts: Vec<&str> = good.split('.').collect();
        let evil = crate::b64(br#"{"iss":"http://127.0.0.1:8081","aud":"tc_evil","sub":"1"}"#);
        parts[1] = &evil;
        assert_eq!(
            c.decode_id_token(&parts.join(".")),
            Err(TokenError::Invalid)
        );
        // An access token is no ID token, and garbage is nothing.
        assert_eq!(c.decode_id_token(&access), Err(TokenError::Invalid));
        assert_eq!(c.decode_id_token("not a token"), Err(TokenError::Invalid));
        assert_eq!(
            c.decode_id_token(&"a".repeat(9000)),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash() {
        // OIDC Core's example (Appendix A.3): the access token `jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y`
        // has the RS256 at_hash `77QmUPtjPfzWtF2AnpK9RQ`.
        assert_eq!(
            at_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(at_hash("ES256", "x").len(), 22);
        assert_eq!(at_hash("EdDSA", "x").len(), 43);
        assert_ne!(at_hash("EdDSA", "x"), at_hash("RS256", "x"));
    }

    #[test]
    fn thumbprints_of_ec_and_okp_keys_follow_rfc_7638() {
        // RFC 8037 §A.3: the thumbprint of its Ed25519 example key.
        let okp = Jwk::from_bytes(
            br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        )
        .unwrap();
        assert_eq!(
            thumbprint(&okp).unwrap(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // The example key of RFC 7638 §3.1 and its published thumbprint.
        let jwk = Jwk::from_bytes(br#"{"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#).unwrap();
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
