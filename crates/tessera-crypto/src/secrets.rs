//! Opaque secret tokens: generation, SHA-256 digests, HMAC-derived refresh successors, and PKCE
//! challenges.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use tessera_domain::password::Password;
use tessera_domain::ports::SecretTokens;
use tessera_domain::token::{HashedToken, PlainToken, REFRESH_TOKEN_PREFIX};

/// Implements `SecretTokens` with the OS random source and a server HMAC key.
pub struct TokenSecrets {
    hmac_key: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for TokenSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecrets")
    }
}

impl TokenSecrets {
    pub fn new(hmac_key: Vec<u8>) -> Self {
        Self {
            hmac_key: zeroize::Zeroizing::new(hmac_key),
        }
    }

    fn mac(&self, label: &[u8], data: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.hmac_key).expect("HMAC takes any key length");
        mac.update(label);
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

impl SecretTokens for TokenSecrets {
    fn new_refresh_token(&self) -> PlainToken {
        self.new_secret(REFRESH_TOKEN_PREFIX)
    }

    fn successor(&self, parent: &PlainToken) -> (PlainToken, String) {
        let token = self.mac(b"refresh-successor", parent.expose().as_bytes());
        let jti = self.mac(b"refresh-successor-jti", parent.expose().as_bytes());
        (
            PlainToken::new(format!("{REFRESH_TOKEN_PREFIX}{}", crate::b64(&token))),
            crate::b64(&jti[..16]),
        )
    }

    fn digest(&self, token: &PlainToken) -> HashedToken {
        HashedToken::from_hex(sha256_hex(token.expose().as_bytes()))
    }

    fn new_jwt_id(&self) -> String {
        crate::b64(&crate::random_bytes::<16>())
    }

    fn keyed_digest(&self, token: &PlainToken) -> HashedToken {
        let mac = self.mac(b"keyed-digest", token.expose().as_bytes());
        HashedToken::from_hex(mac.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn csrf_token(&self, session_token: &PlainToken) -> String {
        crate::b64(&self.mac(b"csrf", session_token.expose().as_bytes()))
    }

    fn new_secret(&self, prefix: &'static str) -> PlainToken {
        PlainToken::new(format!(
            "{prefix}{}",
            crate::b64(&crate::random_bytes::<32>())
        ))
    }

    fn new_password(&self) -> Password {
        Password::new(crate::b64(&crate::random_bytes::<18>()))
    }

    fn s256(&self, verifier: &str) -> String {
        crate::b64(&Sha256::digest(verifier.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_carry_256_random_bits_behind_the_prefix() {
        let s = TokenSecrets::new(vec![7; 32]);
        let a = s.new_refresh_token();
        let b = s.new_refresh_token();
        assert!(a.expose().starts_with("tsr_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn secrets_carry_their_prefix_and_256_random_bits() {
        let s = TokenSecrets::new(vec![7; 32]);
        let a = s.new_secret("tsk_");
        assert!(a.expose().starts_with("tsk_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_ne!(a.expose(), s.new_secret("tsk_").expose());
    }

    #[test]
    fn successors_are_a_pure_function_of_parent_and_key() {
        let s = TokenSecrets::new(vec![7; 32]);
        let parent = PlainToken::new("tsr_parent".into());
        let (a, ja) = s.successor(&parent);
        let (b, jb) = s.successor(&parent);
        assert_eq!((a.expose(), ja.as_str()), (b.expose(), jb.as_str()));
        let other = TokenSecrets::new(vec![8; 32]);
        assert_ne!(other.successor(&parent).0.expose(), a.expose());
    }

    #[test]
    fn keyed_digests_depend_on_the_key_and_csrf_tokens_on_the_session() {
        let a = TokenSecrets::new(vec![1; 32]);
        let b = TokenSecrets::new(vec![2; 32]);
        let t = PlainToken::new("abcde-fghjk".into());
        assert_eq!(a.keyed_digest(&t).as_str().len(), 64);
        assert_ne!(a.keyed_digest(&t).as_str(), b.keyed_digest(&t).as_str());
        assert_ne!(a.keyed_digest(&t).as_str(), a.digest(&t).as_str());
        let other = PlainToken::new("tso_other".into());
        assert_ne!(a.csrf_token(&t), a.csrf_token(&other));
        assert_eq!(a.csrf_token(&t), a.csrf_token(&t));
    }

    #[test]
    fn s256_is_the_pkce_challenge_of_rfc_7636_appendix_b() {
        let s = TokenSecrets::new(vec![0; 32]);
        assert_eq!(
            s.s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn digest_is_sha256_hex() {
        let s = TokenSecrets::new(vec![0; 32]);
        assert_eq!(
            s.digest(&PlainToken::new("abc".into())).as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
