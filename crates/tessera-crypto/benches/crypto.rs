//! Costs that bound Tessera's throughput: a password hash (logins) and a token check (everything else).
//! Run with `cargo xtask bench`; the figures go to docs/BENCHMARKS.md.
// A benchmark whose set-up fails must stop.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::string_slice
)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tessera_crypto::{Argon2Hasher, HashingConfig, JwtCodec, TokenSecrets};
use tessera_domain::claims::AccessClaims;
use tessera_domain::password::Password;
use tessera_domain::ports::{AccessTokenCodec as _, PasswordHasher as _, SecretTokens as _};
use tessera_domain::time::UnixTime;
use tessera_domain::token::{PlainToken, SessionId};
use tessera_domain::user::UserId;

fn hashing(c: &mut Criterion) {
    let hasher = Argon2Hasher::new(&HashingConfig::default()).expect("default parameters");
    let password = Password::new("correct horse battery staple".into());
    let hash = hasher.hash(&password).expect("hash");
    let mut group = c.benchmark_group("argon2id_default");
    group.sample_size(20);
    group.bench_function("hash", |b| b.iter(|| hasher.hash(black_box(&password))));
    group.bench_function("verify", |b| {
        b.iter(|| hasher.verify(black_box(&password), &hash))
    });
    group.finish();
}

fn tokens(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    tessera_crypto::keys::ensure_keys(dir.path(), 1, tessera_crypto::keys::SigningAlg::Rs256)
        .expect("keys");
    let codec = JwtCodec::from_dir(dir.path()).expect("codec");
    let claims = AccessClaims {
        issuer: "http://127.0.0.1:8081".into(),
        subject: UserId(1),
        audience: vec!["tessera".into()],
        expires_at: UnixTime(4_000_000_000),
        issued_at: UnixTime(1_700_000_000),
        not_before: UnixTime(1_700_000_000),
        jwt_id: "jti".into(),
        client_id: "tessera".into(),
        session_id: SessionId(1),
        scope: "openid profile email".into(),
        roles: vec!["admin".into(), "user".into()],
        tenant_id: None,
        preferred_username: "admin".into(),
    };
    let token = codec.sign(&claims).expect("sign");
    c.bench_function("rs256_sign_access_token", |b| {
        b.iter(|| codec.sign(black_box(&claims)))
    });
    c.bench_function("rs256_decode_access_token", |b| {
        b.iter(|| codec.decode(black_box(&token)))
    });
    // The other signing algorithms, to choose `keys.algorithm` by.
    for (name, alg) in [
        ("es256", tessera_crypto::keys::SigningAlg::Es256),
        ("eddsa", tessera_crypto::keys::SigningAlg::EdDsa),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        tessera_crypto::keys::generate_signing_key(dir.path(), 1, alg).expect("key");
        let codec = JwtCodec::from_dir(dir.path()).expect("codec");
        let token = codec.sign(&claims).expect("sign");
        c.bench_function(&format!("{name}_sign_access_token"), |b| {
            b.iter(|| codec.sign(black_box(&claims)))
        });
        c.bench_function(&format!("{name}_decode_access_token"), |b| {
            b.iter(|| codec.decode(black_box(&token)))
        });
    }
    let secrets = TokenSecrets::new(vec![7; 32]);
    let refresh = PlainToken::new("tsr_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG".into());
    c.bench_function("refresh_token_digest", |b| {
        b.iter(|| secrets.digest(black_box(&refresh)))
    });
    c.bench_function("refresh_token_successor", |b| {
        b.iter(|| secrets.successor(black_box(&refresh)))
    });
}

criterion_group!(benches, hashing, tokens);
criterion_main!(benches);
