//! Fuzzes the verification of access tokens, `JwtCodec::decode` (tessera-crypto's jwt.rs, the
//! `AccessTokenCodec` every JWT check of the server goes through), with one key of each algorithm
//! made by the crate's own key generation (`keys::generate_signing_key`).
//!
//! The first byte picks a mode (and, for modes 1 and 2, a key); the rest is that mode's input:
//! - 0: the rest, as text, is presented to every key. Property: nothing is accepted that the codec
//!   did not sign. A codec signs claims in one canonical form only, so an accepted token's header
//!   and payload must be exactly what signing its claims again gives.
//! - 1: a forgery aimed at a real key: a header with the key's `kid`, `typ: at+jwt` and an
//!   algorithm from a list (`none`, `HS256`, the other keys' algorithms…), then arbitrary payload
//!   and signature bytes. Property: always refused as `TokenError::Invalid`.
//! - 2: claims built from the rest are signed with the real signer (`AccessTokenCodec::sign`), then
//!   verified. Properties: signing fails only for a negative time (JOSE times are unsigned); the
//!   token verifies back to exactly the claims signed, unless it is over the 8 KiB limit and
//!   refused; and one character of its header or payload changed makes it `Invalid`.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use libfuzzer_sys::arbitrary::{self, Unstructured};
use libfuzzer_sys::fuzz_target;
use tessera_crypto::keys::{generate_signing_key, signing_keys, SigningAlg};
use tessera_crypto::JwtCodec;
use tessera_domain::claims::AccessClaims;
use tessera_domain::error::TokenError;
use tessera_domain::ports::AccessTokenCodec as _;
use tessera_domain::time::UnixTime;
use tessera_domain::token::SessionId;
use tessera_domain::user::UserId;

/// `MAX_TOKEN_LEN` of jwt.rs: a longer token is refused before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// One codec per algorithm (RS256, ES256, EdDSA), each holding one key written by
/// `generate_signing_key`, made once per fuzzing process. They are built from the keys' PEM, not
/// from the folder, so that a token naming an unknown `kid` never makes them read the disk.
static CODECS: LazyLock<Vec<JwtCodec>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (created, alg) in [
        (1, SigningAlg::Rs256),
        (2, SigningAlg::Es256),
        (3, SigningAlg::EdDsa),
    ] {
        generate_signing_key(dir.path(), created, alg).expect("a new signing key");
    }
    let codecs: Vec<JwtCodec> = signing_keys(dir.path())
        .expect("the signing keys")
        .iter()
        .map(|key| {
            let pem = std::fs::read(&key.path).expect("a key file");
            JwtCodec::from_pems(&[pem]).expect("a codec for the key")
        })
        .collect();
    assert_eq!(codecs.len(), 3);
    codecs
});

/// Algorithms a forger might name: the keys' own, `none`, HMAC (keyed with a public key, the
/// classic confusion), and some Tessera never uses.
const ALGS: [&str; 8] = [
    "RS256", "ES256", "EdDSA", "none", "HS256", "PS256", "ES384", "RS512",
];

/// The header and payload of a compact JWS: what its signature covers.
fn signed_part(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(signed, _)| signed)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Mode 0.
fn present(token: &str) {
    for codec in CODECS.iter() {
        if let Ok(claims) = codec.decode(token) {
            let again = codec
                .sign(&claims)
                .expect("claims that verified sign again");
            assert_eq!(
                signed_part(&again),
                signed_part(token),
                "a token this codec did not sign was accepted"
            );
        }
    }
}

/// Mode 1.
fn forge(codec: &JwtCodec, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let alg = *u.choose(&ALGS)?;
    let payload: &[u8] = u.arbitrary()?;
    let left = u.len();
    let signature = u.bytes(left)?;
    let header = serde_json::json!({ "alg": alg, "typ": "at+jwt", "kid": codec.signing_kid() });
    let token = format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload),
        b64(signature)
    );
    assert_eq!(
        codec.decode(&token),
        Err(TokenError::Invalid),
        "a forged token was accepted"
    );
    Ok(())
}

fn arbitrary_claims(u: &mut Unstructured<'_>) -> arbitrary::Result<AccessClaims> {
    Ok(AccessClaims {
        issuer: u.arbitrary()?,
        subject: UserId(u.arbitrary()?),
        audience: u.arbitrary()?,
        expires_at: UnixTime(u.arbitrary()?),
        issued_at: UnixTime(u.arbitrary()?),
        not_before: UnixTime(u.arbitrary()?),
        jwt_id: u.arbitrary()?,
        client_id: u.arbitrary()?,
        session_id: SessionId(u.arbitrary()?),
        scope: u.arbitrary()?,
        roles: u.arbitrary()?,
        tenant_id: u.arbitrary()?,
        preferred_username: u.arbitrary()?,
    })
}

/// Mode 2.
fn sign_and_verify(codec: &JwtCodec, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let position: usize = u.arbitrary()?;
    let claims = arbitrary_claims(u)?;
    let token = match codec.sign(&claims) {
        Ok(token) => token,
        Err(_) => {
            let times = [claims.expires_at, claims.issued_at, claims.not_before];
            assert!(
                times.iter().any(|t| t.seconds() < 0),
                "claims with no negative time could not be signed"
            );
            return Ok(());
        }
    };
    let expected = if token.len() > MAX_TOKEN_LEN {
        Err(TokenError::Invalid)
    } else {
        Ok(claims)
    };
    assert_eq!(
        codec.decode(&token),
        expected,
        "a signed token does not verify back to its claims"
    );

    // One character of the header or payload replaced by another base64url character.
    let signed = signed_part(&token).len();
    let at = position % signed.max(1);
    let original = token.as_bytes()[at];
    if original != b'.' {
        let mut tampered = token.clone();
        tampered.replace_range(at..=at, if original == b'A' { "B" } else { "A" });
        assert_eq!(
            codec.decode(&tampered),
            Err(TokenError::Invalid),
            "a tampered token was accepted"
        );
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let codec = &CODECS[usize::from(first / 3) % CODECS.len()];
    let mut u = Unstructured::new(rest);
    // Running out of input is not a finding: that input is simply done.
    let _ = match first % 3 {
        0 => {
            present(&String::from_utf8_lossy(rest));
            Ok(())
        }
        1 => forge(codec, &mut u),
        _ => sign_and_verify(codec, &mut u),
    };
});
