//! Offline validation of access tokens for resource servers: trust configured issuers, fetch and
//! cache their JWKS, and check signature, `typ`, time, issuer and audience with the domain's rules.
//!
//! A token check costs one signature verification and a map lookup. The JWKS is fetched on first use
//! and again when a token names an unknown `kid` (a rotated key), at most once per `refetch_floor`
//! per issuer, so a flood of tokens with made-up key ids cannot turn into a flood of fetches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use josekit::jwk::Jwk;
use josekit::jws::{EdDSA, JwsVerifier, ES256, RS256};
use serde_json::Value;
use tessera_domain::claims::{AccessClaims, ClaimRules};
use tessera_domain::error::TokenError;
use tessera_domain::time::UnixTime;

use crate::jwt::{checked_header, claims_from};

/// An issuer whose tokens a resource server accepts.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// Where its JSON Web Key Set is published.
    pub jwks_uri: String,
    /// A token must name at least one of these in `aud`.
    pub audiences: Vec<String>,
}

/// How a `Verifier` checks tokens.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    pub issuers: Vec<TrustedIssuer>,
    /// Seconds of clock difference tolerated on `exp` and `nbf`.
    pub leeway: i64,
    /// The shortest time between two fetches of one issuer's JWKS.
    pub refetch_floor: Duration,
    /// How long one JWKS fetch may take.
    pub fetch_timeout: Duration,
}

impl VerifierConfig {
    /// One issuer, with 5 s of leeway, a 30 s refetch floor and a 5 s fetch timeout.
    pub fn single(issuer: TrustedIssuer) -> Self {
        Self {
            issuers: vec![issuer],
            leeway: 5,
            refetch_floor: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

type Keys = HashMap<String, Arc<dyn JwsVerifier>>;

struct IssuerKeys {
    trusted: TrustedIssuer,
    keys: RwLock<Keys>,
    /// When the JWKS was last fetched; the lock also keeps two fetches of one issuer apart.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicUsize,
}

/// Verifies access tokens of trusted issuers without asking them, once their keys are known.
pub struct Verifier {
    http: reqwest::Client,
    issuers: Vec<IssuerKeys>,
    leeway: i64,
    floor: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|i| &i.trusted.issuer)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A verifier for one public JWK, chosen by its `alg` (or, without one, its key type and curve).
fn key_verifier(jwk: &Jwk) -> Option<Arc<dyn JwsVerifier>> {
    let alg =
        jwk.algorithm()
            .map(str::to_owned)
            .or_else(|| match (jwk.key_type(), jwk.curve()) {
                ("RSA", _) => Some("RS256".to_owned()),
                ("EC", Some("P-256")) => Some("ES256".to_owned()),
                ("OKP", Some("Ed25519")) => Some("EdDSA".to_owned()),
                _ => None,
            })?;
    let v: Arc<dyn JwsVerifier> = match alg.as_str() {
        "RS256" => Arc::new(RS256.verifier_from_jwk(jwk).ok()?),
        "ES256" => Arc::new(ES256.verifier_from_jwk(jwk).ok()?),
        "EdDSA" => Arc::new(EdDSA.verifier_from_jwk(jwk).ok()?),
        _ => return None,
    };
    Some(v)
}

/// The verifiers of a JWKS document by key id; keys without an id or of an unsupported kind are skipped.
fn parse_jwks(doc: &Value) -> Keys {
    let mut keys = Keys::new();
    for item in doc
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(map) = item.as_object() else {
            continue;
        };
        let Ok(jwk) = Jwk::from_map(map.clone()) else {
            continue;
        };
        if jwk.key_use().is_some_and(|u| u != "sig") {
            continue;
        }
        if let (Some(kid), Some(v)) = (jwk.key_id().map(str::to_owned), key_verifier(&jwk)) {
            keys.insert(kid, v);
        }
    }
    keys
}

/// The `iss` of a token, read before its signature is checked: it only picks whose keys to try.
fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_owned)
}

fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    )
}

impl Verifier {
    /// A verifier with no keys yet: each issuer's JWKS is fetched on first use.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: VerifierConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.fetch_timeout)
            .build()?;
        Ok(Self {
            http,
            issuers: config
                .issuers
                .into_iter()
                .map(|trusted| IssuerKeys {
                    trusted,
                    keys: RwLock::new(Keys::new()),
                    last_fetch: tokio::sync::Mutex::new(None),
                    fetches: AtomicUsize::new(0),
                })
                .collect(),
            leeway: config.leeway,
            floor: config.refetch_floor,
        })
    }

    /// How many times the JWKS of `issuer` has been fetched.
    pub fn fetch_count(&self, issuer: &str) -> usize {
        self.issuers
            .iter()
            .find(|i| i.trusted.issuer == issuer)
            .map_or(0, |i| i.fetches.load(Ordering::Relaxed))
    }

    /// Checks a token: size and `typ`, a trusted issuer, a known key (refetching the JWKS once for an
    /// unknown `kid`), the signature with that key's algorithm, then `exp`/`nbf` with leeway, `iss` and `aud`.
    ///
    /// # Errors
    /// The `TokenError` that says why it is refused.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let kid = checked_header(token)?;
        let issuer = unverified_issuer(token).ok_or(TokenError::Invalid)?;
        let keys = self
            .issuers
            .iter()
            .find(|i| i.trusted.issuer == issuer)
            .ok_or(TokenError::WrongIssuer)?;
        let verifier = match self.key(keys, &kid) {
            Some(v) => v,
            None => {
                self.refetch(keys).await;
                self.key(keys, &kid).ok_or(TokenError::Invalid)?
            }
        };
        // josekit refuses a header whose `alg` differs from the key's (so `none` and HS256 fail).
        let (payload, _) = josekit::jwt::decode_with_verifier(token, verifier.as_ref())
            .map_err(|_| TokenError::Invalid)?;
        let claims = claims_from(payload.claims_set())?;
        ClaimRules {
            issuer: keys.trusted.issuer.clone(),
            audiences: keys.trusted.audiences.clone(),
            leeway: self.leeway,
        }
        .check(&claims, now())?;
        Ok(claims)
    }

    fn key(&self, issuer: &IssuerKeys, kid: &str) -> Option<Arc<dyn JwsVerifier>> {
        issuer
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(kid)
            .cloned()
    }

    /// Fetches the issuer's JWKS unless it was fetched less than the floor ago; keeps the old keys
    /// when the fetch fails.
    async fn refetch(&self, issuer: &IssuerKeys) {
        let mut last = issuer.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.floor) {
            return;
        }
        *last = Some(Instant::now());
        issuer.fetches.fetch_add(1, Ordering::Relaxed);
        let uri = &issuer.trusted.jwks_uri;
        let fetched = async {
            self.http
                .get(uri)
                .send()
                .await?
                .error_for_status()?
                .json::<Value>()
                .await
        }
        .await;
        match fetched {
            Ok(doc) => {
                let keys = parse_jwks(&doc);
                tracing::debug!(jwks_uri = %uri, keys = keys.len(), "fetched a JWKS");
                *issuer
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
            }
            Err(e) => tracing::warn!(jwks_uri = %uri, error = %e, "cannot fetch a JWKS"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::KeyPair as _;

    #[test]
    fn jwks_parsing_keeps_signing_keys_with_ids() {
        let rsa = RS256.generate_key_pair(2048).unwrap();
        let mut with_id = rsa.to_jwk_public_key();
        with_id.set_key_id("a");
        let without_id = rsa.to_jwk_public_key();
        let mut enc = rsa.to_jwk_public_key();
        enc.set_key_id("b");
        enc.set_key_use("enc");
        let mut ec = ES256.generate_key_pair().unwrap().to_jwk_public_key();
        ec.set_key_id("c");
        let mut ed = EdDSA
            .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
            .unwrap()
            .to_jwk_public_key();
        ed.set_key_id("d");
        let doc = serde_json::json!({"keys": [
            Value::Object(with_id.as_ref().clone()),
            Value::Object(without_id.as_ref().clone()),
            Value::Object(enc.as_ref().clone()),
            Value::Object(ec.as_ref().clone()),
            Value::Object(ed.as_ref().clone()),
            "not a key",
        ]});
        let mut kids: Vec<_> = parse_jwks(&doc).into_keys().collect();
        kids.sort();
        assert_eq!(kids, ["a", "c", "d"]);
    }

    #[test]
    fn the_issuer_is_read_from_the_payload() {
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"iss":"https://id.example"}"#);
        assert_eq!(
            unverified_issuer(&format!("h.{payload}.s")).as_deref(),
            Some("https://id.example")
        );
        assert_eq!(unverified_issuer("garbage"), None);
    }
}
