//! The second factor over HTTP, with codes computed by an independent RFC 6238 implementation.

use hmac::{Hmac, KeyInit as _, Mac as _};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_testkit::{spawn_app, spawn_app_with, Answer, TestApp, USER_PASSWORD};

/// RFC 4648 base32, no padding.
fn base32_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {c}"),
        };
        bits = (bits << 5) | u64::from(v);
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// The 6-digit TOTP of `secret` at `time` (HMAC-SHA-1, 30 s steps), as RFC 6238 §4 and RFC 4226 §5.3 define it.
pub(crate) fn totp(secret: &str, time: u64) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&base32_decode(secret)).unwrap();
    mac.update(&(time / 30).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    format!("{:06}", bin % 1_000_000)
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn the_independent_totp_matches_rfc_6238() {
    // RFC 6238 Appendix B, SHA-1, secret "12345678901234567890", last six of the eight digits.
    let secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    assert_eq!(totp(secret, 59), "287082");
    assert_eq!(totp(secret, 1_111_111_109), "081804");
}

/// Enrols alice; returns her token, the secret, the backup codes and the time step used.
pub(crate) async fn enrol(app: &TestApp) -> (String, String, Vec<String>, u64) {
    let admin = app.admin_token().await;
    app.create_user(&admin, "alice").await;
    let (token, _) = app.login("alice", USER_PASSWORD).await;
    let a = app.post("/mfa/setup", Some(&token), json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let secret = a.body["secret"].as_str().unwrap().to_owned();
    assert!(a.body["otpauth_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Tessera:alice?"));
    assert!(a.body["qr_svg"].as_str().unwrap().contains("<svg"));
    // Not active before a code confirms it.
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );
    let a = app
        .post("/mfa/verify", Some(&token), json!({"code": "000000"}))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let t = now();
    let a = app
        .post(
            "/mfa/verify",
            Some(&token),
            json!({"code": totp(&secret, t)}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let codes: Vec<String> = a.body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (token, secret, codes, t)
}

pub(crate) async fn mfa_token(app: &TestApp) -> String {
    let a = app.post_login("alice", USER_PASSWORD).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "mfa_required"),
        "{:?}",
        a.body
    );
    assert!(a.body.get("access_token").is_none());
    a.body["mfa_token"].as_str().unwrap().to_owned()
}

pub(crate) async fn second_step(app: &TestApp, token: &str, code: &str) -> Answer {
    app.post(
        "/auth/login/mfa",
        None,
        json!({"mfa_token": token, "code": code}),
    )
    .await
}

#[tokio::test]
async fn a_login_with_mfa_needs_a_fresh_code_or_an_unused_backup_code() {
    let app = spawn_app().await;
    let (token, secret, backup, t) = enrol(&app).await;

    let pending = mfa_token(&app).await;
    let a = second_step(&app, &pending, "123456").await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_mfa_code")
    );
    // The enrolment's code is used up; the next time step's is accepted (one step of drift).
    let a = second_step(&app, &pending, &totp(&secret, t)).await;
    assert_eq!(a.error(), "invalid_mfa_code");
    let next = totp(&secret, t + 30);
    let a = second_step(&app, &pending, &next).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.body["refresh_token"].is_string());
    // The pending login is used up, and the code cannot be replayed.
    let a = second_step(&app, &pending, &next).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_mfa_token")
    );
    let a = second_step(&app, &mfa_token(&app).await, &next).await;
    assert_eq!(a.error(), "invalid_mfa_code");

    // A backup code works once, with or without its dash and in any case.
    let a = second_step(
        &app,
        &mfa_token(&app).await,
        &backup[0].to_uppercase().replace('-', ""),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = second_step(&app, &mfa_token(&app).await, &backup[0]).await;
    assert_eq!(a.error(), "invalid_mfa_code");
    let left = app.get("/mfa/backup-codes", &token).await;
    assert_eq!(left.body["remaining"], 9);

    // New backup codes replace the old ones.
    let a = app.post("/mfa/backup-codes", Some(&token), json!({})).await;
    let fresh = a.body["backup_codes"][0].as_str().unwrap().to_owned();
    let a = second_step(&app, &mfa_token(&app).await, &backup[1]).await;
    assert_eq!(a.error(), "invalid_mfa_code");
    let a = second_step(&app, &mfa_token(&app).await, &fresh).await;
    assert_eq!(a.status, StatusCode::OK);
    // An opaque token can be asked for at the second step.
    let a = app
        .post(
            "/auth/login/mfa",
            None,
            json!({"mfa_token": mfa_token(&app).await, "code": a_backup(&app, &token).await, "token_format": "opaque"}),
        )
        .await;
    assert!(
        a.body["access_token"].as_str().unwrap().starts_with("tso_"),
        "{:?}",
        a.body
    );

    let a = app.post("/mfa/setup", Some(&token), json!({})).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::CONFLICT, "mfa_already_enabled")
    );
    let a = app
        .post(
            "/mfa/disable",
            Some(&token),
            json!({"password": "wrong password!", "code": fresh}),
        )
        .await;
    assert_eq!(a.error(), "invalid_current_password");
    let code = a_backup(&app, &token).await;
    let a = app
        .post(
            "/mfa/disable",
            Some(&token),
            json!({"password": USER_PASSWORD, "code": code}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );
    let a = app.get("/mfa/backup-codes", &token).await;
    assert_eq!(a.error(), "mfa_not_enabled");
}

/// A fresh, unused backup code.
async fn a_backup(app: &TestApp, token: &str) -> String {
    let a = app.post("/mfa/backup-codes", Some(token), json!({})).await;
    a.body["backup_codes"][0].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn one_code_sent_twice_at_once_is_accepted_once() {
    let app = spawn_app().await;
    let (token, secret, backup, t) = enrol(&app).await;
    let (p1, p2) = (mfa_token(&app).await, mfa_token(&app).await);
    let code = totp(&secret, t + 30);
    let (x, y) = tokio::join!(second_step(&app, &p1, &code), second_step(&app, &p2, &code));
    let ok = [&x, &y]
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{:?} {:?}", x.body, y.body);

    let (p1, p2) = (mfa_token(&app).await, mfa_token(&app).await);
    let (x, y) = tokio::join!(
        second_step(&app, &p1, &backup[0]),
        second_step(&app, &p2, &backup[0])
    );
    let ok = [&x, &y]
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{:?} {:?}", x.body, y.body);
    assert_eq!(
        app.get("/mfa/backup-codes", &token).await.body["remaining"],
        9
    );

    // One pending login used twice at once with two good codes: one session.
    let pending = mfa_token(&app).await;
    let (x, y) = tokio::join!(
        second_step(&app, &pending, &backup[1]),
        second_step(&app, &pending, &backup[2])
    );
    let ok = [&x, &y]
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{:?} {:?}", x.body, y.body);
}

#[tokio::test]
async fn wrong_codes_count_towards_lockout_and_an_admin_can_reset_mfa() {
    let app = spawn_app().await;
    let (token, _, backup, _) = enrol(&app).await;
    let pending = mfa_token(&app).await;
    for _ in 0..4 {
        assert_eq!(
            second_step(&app, &pending, "000000").await.error(),
            "invalid_mfa_code"
        );
    }
    let a = second_step(&app, &pending, "000000").await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::LOCKED, "account_locked")
    );
    let a = second_step(&app, &pending, &backup[0]).await;
    assert_eq!(a.status, StatusCode::LOCKED);

    let admin = app.admin_token().await;
    let alice = app.get("/auth/userinfo", &token).await.body["sub"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    app.post(&format!("/users/{alice}/unlock"), Some(&admin), json!({}))
        .await;
    let a = app
        .delete(&format!("/users/{alice}/mfa"), Some(&token), None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app
        .delete(&format!("/users/{alice}/mfa"), Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app.get("/auth/userinfo", &token).await;
    assert_eq!(a.error(), "token_revoked");
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );
    let a: Answer = second_step(&app, "tsm_unknown", "123456").await;
    assert_eq!(a.error(), "invalid_mfa_token");
    let a = app
        .post("/auth/login/mfa", None, json!({"mfa_token": "x"}))
        .await;
    assert_eq!(a.body["fields"]["code"][0], Value::from("required"));
}

#[tokio::test]
async fn malformed_codes_and_expired_mfa_tokens_are_refused() {
    // Long enough for the four refusals below on a loaded machine, short enough to wait out.
    let app = spawn_app_with(|s| s.tokens.mfa_token_ttl_seconds = 4).await;
    let (token, secret, backup, t) = enrol(&app).await;
    let pending = mfa_token(&app).await;
    // Four, so that the lockout (five) does not step in.
    for bad in ["", "1234567", "abcdef", &"x".repeat(100)] {
        let a = second_step(&app, &pending, bad).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "invalid_mfa_code"),
            "{bad:?}"
        );
    }
    let a = app
        .post("/mfa/verify", Some(&token), json!({"code": "123456"}))
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::CONFLICT, "mfa_already_enabled")
    );
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    let a = second_step(&app, &pending, &totp(&secret, t + 30)).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_mfa_token")
    );
    let a = second_step(&app, &pending, &backup[0]).await;
    assert_eq!(a.error(), "invalid_mfa_token");
}
