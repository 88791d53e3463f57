//! RFC 9068 access tokens signed with josekit, and the JWKS that publishes their keys.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context as _;
use josekit::jwk::{Jwk, KeyPair as _};
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use tessera_domain::claims::AccessClaims;
use tessera_domain::error::TokenError;
use tessera_domain::ports::AccessTokenCodec;
use tessera_domain::time::UnixTime;
use tessera_domain::token::SessionId;
use tessera_domain::user::UserId;

/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

struct VerifyingKey {
    verifier: RsassaJwsVerifier,
    public_jwk: Value,
}

/// Signs with the newest key, verifies with any published key.
pub struct JwtCodec {
    signer: RsassaJwsSigner,
    signing_kid: String,
    keys: HashMap<String, VerifyingKey>,
    /// Public keys in publication order, newest first.
    jwks: Value,
}

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCodec")
            .field("signing_kid", &self.signing_kid)
            .finish_non_exhaustive()
    }
}

/// The RFC 7638 thumbprint of an RSA public key: SHA-256 over `{"e","kty","n"}` in that order, base64url.
pub fn rsa_thumbprint(jwk: &Jwk) -> anyhow::Result<String> {
    let e = jwk
        .parameter("e")
        .and_then(Value::as_str)
        .context("RSA key without e")?;
    let n = jwk
        .parameter("n")
        .and_then(Value::as_str)
        .context("RSA key without n")?;
    // serde_json writes these members in this order with no white space, as RFC 7638 requires.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    Ok(crate::b64(&Sha256::digest(canonical.as_bytes())))
}

impl JwtCodec {
    /// Loads every signing key of `dir`; the newest signs.
    ///
    /// # Errors
    /// When there is no key or one cannot be read.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        let files = crate::keys::signing_key_files(dir)?;
        anyhow::ensure!(!files.is_empty(), "no signing key in {}", dir.display());
        let pems = files
            .iter()
            .map(|f| std::fs::read(f).with_context(|| format!("cannot read {}", f.display())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Self::from_pems(&pems)
    }

    /// Builds from PKCS#8 PEM private keys, oldest first; the last one signs.
    ///
    /// # Errors
    /// When a key cannot be parsed.
    pub fn from_pems(pems: &[Vec<u8>]) -> anyhow::Result<Self> {
        let mut keys = HashMap::new();
        let mut published = Vec::new();
        let mut signer = None;
        for pem in pems {
            let pair = RS256
                .key_pair_from_pem(pem)
                .context("unreadable RSA signing key")?;
            let mut public = pair.to_jwk_public_key();
            let kid = rsa_thumbprint(&public)?;
            public.set_key_id(kid.clone());
            public.set_algorithm("RS256");
            public.set_key_use("sig");
            let mut verifier = RS256
                .verifier_from_jwk(&public)
                .context("unusable RSA key")?;
            verifier.set_key_id(kid.clone());
            let public_jwk = Value::Object(public.as_ref().clone());
            published.push(public_jwk.clone());
            keys.insert(
                kid.clone(),
                VerifyingKey {
                    verifier,
                    public_jwk,
                },
            );
            signer = Some((RS256.signer_from_pem(pem).context("unusable RSA key")?, kid));
        }
        let (signer, signing_kid) = signer.context("no signing key")?;
        published.reverse();
        Ok(Self {
            signer,
            signing_kid,
            keys,
            jwks: json!({ "keys": published }),
        })
    }

    /// The JSON Web Key Set of every key whose tokens may still be alive.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// The public JWK of one key id.
    pub fn public_jwk(&self, kid: &str) -> Option<&Value> {
        self.keys.get(kid).map(|k| &k.public_jwk)
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

impl AccessTokenCodec for JwtCodec {
    fn sign(&self, c: &AccessClaims) -> anyhow::Result<String> {
        let mut header = JwsHeader::new();
        header.set_token_type(ACCESS_TOKEN_TYPE);
        header.set_key_id(self.signing_kid.clone());
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
        josekit::jwt::encode_with_signer(&payload, &header, &self.signer)
            .context("cannot sign an access token")
    }

    fn decode(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let kid = checked_header(token)?;
        let key = self.keys.get(&kid).ok_or(TokenError::Invalid)?;
        // josekit refuses a header whose `alg` differs from the verifier's (so `none` and HS256 fail).
        let (payload, _) = josekit::jwt::decode_with_verifier(token, &key.verifier)
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
        let keys = c.jwks()["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], c.signing_kid());
        assert_eq!(keys[0]["kty"], "RSA");
        assert_eq!(keys[0]["alg"], "RS256");
        assert!(keys[0].get("d").is_none(), "no private part is published");
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // The example key of RFC 7638 §3.1 and its published thumbprint.
        let jwk = Jwk::from_bytes(br#"{"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#).unwrap();
        assert_eq!(
            rsa_thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
