#![doc = include_str!("../README.md")]

pub mod hashing;
pub mod jwt;
pub mod keys;
pub mod secrets;
pub mod signing_keys;
pub mod totp;
pub mod verifier;

pub use hashing::{Argon2Hasher, HashingConfig};
pub use jwt::JwtCodec;
pub use secrets::TokenSecrets;
pub use signing_keys::KeyFolder;
pub use totp::TotpCodes;
pub use verifier::{TrustedIssuer, Verifier, VerifierConfig};

/// Unpadded base64url, the encoding of JOSE and of Tessera's opaque tokens.
pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Bytes from the operating system's secure random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS random source failing leaves no safe way to continue.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    buf
}
