//! Fuzzes how a request's credential is read from its headers: `bearer_token` and
//! `basic_credentials` (tessera-http's extract.rs) on arbitrary `Authorization`, `token` and
//! `X-API-Key` values, and what the gate does next with a token (`Gate::needs_store`, and the
//! SHA-256 digest of `TokenSecrets` that opaque tokens and API keys are looked up by).
//!
//! It proves that no header value panics either function; that a bearer credential is always the
//! trimmed, non-empty rest of a `Bearer` header (or of an alias header, which `Authorization`
//! overrides); that no header reads as both Bearer and Basic; that `Bearer <token>` reads back as
//! the token; that a Basic header written the RFC 6749 §2.3.1 way (each part form-urlencoded,
//! joined by `:`, base64) reads back as exactly the client id and secret written; and that every
//! token's lookup digest is 64 lower-case hex digits.
#![no_main]

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::test::TestRequest;
use actix_web::HttpRequest;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use tessera_crypto::TokenSecrets;
use tessera_domain::credentials::{API_KEY_PREFIX, OPAQUE_TOKEN_PREFIX};
use tessera_domain::gate::Gate;
use tessera_domain::ports::SecretTokens as _;
use tessera_domain::token::PlainToken;
use tessera_http::extract::{basic_credentials, bearer_token};

fn request(name: HeaderName, value: HeaderValue) -> HttpRequest {
    TestRequest::default()
        .insert_header((name, value))
        .to_http_request()
}

/// What the gate does with a presented token before asking the store.
fn check_token(token: &str) {
    let needs_store = token.starts_with(API_KEY_PREFIX) || token.starts_with(OPAQUE_TOKEN_PREFIX);
    assert_eq!(Gate::needs_store(token), needs_store);
    let digest = TokenSecrets::new(vec![7; 32]).digest(&PlainToken::new(token.to_owned()));
    let hex = digest.as_str();
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "a token digest is not 64 lower-case hex digits: {hex:?}"
    );
}

/// The input as the value of each header that can carry a credential.
fn headers(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let text = value.to_str().ok();
    let scheme = text.and_then(|t| t.split_once(' ')).map(|(s, _)| s);

    let req = request(header::AUTHORIZATION, value.clone());
    let bearer = bearer_token(&req);
    let basic = basic_credentials(&req);
    if let Some(token) = bearer {
        let rest = text.and_then(|t| t.split_once(' ')).map(|(_, r)| r.trim());
        assert!(scheme.is_some_and(|s| s.eq_ignore_ascii_case("bearer")));
        assert_eq!(Some(token), rest);
        assert!(!token.is_empty());
        check_token(token);
    }
    if basic.is_some() {
        assert!(scheme.is_some_and(|s| s.eq_ignore_ascii_case("basic")));
    }
    assert!(
        bearer.is_none() || basic.is_none(),
        "one header read as both Bearer and Basic"
    );

    let trimmed = text.map(str::trim).filter(|t| !t.is_empty());
    // The headers besides `Authorization` that may carry a bearer credential.
    for alias in [
        HeaderName::from_static("token"),
        HeaderName::from_static("x-api-key"),
    ] {
        let req = request(alias.clone(), value.clone());
        assert_eq!(bearer_token(&req), trimmed);
        assert_eq!(basic_credentials(&req), None);
        // A readable `Authorization` header wins over the alias, whatever it holds.
        if text.is_some() {
            let both = TestRequest::default()
                .insert_header((header::AUTHORIZATION, value.clone()))
                .insert_header((alias, HeaderValue::from_static("tsk_alias")))
                .to_http_request();
            assert_eq!(bearer_token(&both), bearer);
        }
    }
}

/// Headers written from the input the way clients write them, read back.
fn round_trips(text: &str) {
    // A header value the server reads as text is visible ASCII (and tabs); other bytes make the
    // header unreadable, which `headers` covers.
    let bearer = HeaderValue::from_str(&format!("Bearer {text}")).ok();
    if let Some(value) = bearer.filter(|_| text.is_ascii()) {
        let req = request(header::AUTHORIZATION, value);
        let token = text.trim();
        assert_eq!(bearer_token(&req), (!token.is_empty()).then_some(token));
        assert_eq!(basic_credentials(&req), None);
    }

    // Client id and secret: the input split at its first line break.
    let (id, secret) = text.split_once('\n').unwrap_or((text, ""));
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(id),
        encode(secret)
    ));
    let Ok(value) = HeaderValue::from_str(&format!("Basic {pair}")) else {
        unreachable!("base64 is always a valid header value");
    };
    let req = request(header::AUTHORIZATION, value);
    assert_eq!(
        basic_credentials(&req),
        Some((id.to_owned(), secret.to_owned()))
    );
    assert_eq!(bearer_token(&req), None);
}

fuzz_target!(|data: &[u8]| {
    headers(data);
    if let Ok(text) = std::str::from_utf8(data) {
        round_trips(text);
    }
});
