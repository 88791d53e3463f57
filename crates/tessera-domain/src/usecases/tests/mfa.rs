//! The second factor: enrolment, the second step of a login, single-use TOTP and backup codes,
//! lockout by wrong codes, an admin's reset and the user's own removal.

use super::setup;
use super::support::{
    audited, caller, create_with, ctx, fields, jwt_login, login_kind, now, tokens, USER_PW,
};
use crate::audit::{Event, Outcome};
use crate::error::{AuthError, TokenError, UserError};
use crate::fakes::fake_totp_at;
use crate::fakes::memory::{fake_totp, TOTP_PERIOD};
use crate::fakes::Harness;
use crate::issuer::{Issued, SessionKind};
use crate::password::Password;
use crate::principal::Principal;
use crate::user::UserId;
use crate::users::UpdateUser;

struct Enrolled {
    id: UserId,
    /// A JWT session of the user, opened before MFA was on, and its access token.
    me: Principal,
    token: String,
    secret: String,
    backup: Vec<String>,
    /// The time step of the code that confirmed the enrolment.
    step: i64,
}

fn step_now(h: &Harness) -> i64 {
    now(h).seconds().div_euclid(TOTP_PERIOD)
}

/// A six-digit code that no step near now accepts.
fn wrong_code(secret: &str, step: i64) -> String {
    (0..10)
        .map(|d| d.to_string().repeat(6))
        .find(|c| (step - 3..=step + 3).all(|s| fake_totp(secret, s) != *c))
        .unwrap()
}

fn enrol(h: &Harness, admin: &Principal, name: &str) -> Enrolled {
    let id = create_with(h, admin, name, &["user"], None);
    let token = jwt_login(h, name, USER_PW, None).access_token;
    let me = h.core.gate.authenticate_jwt(&token).unwrap();
    let e = h.core.second_factor.setup_mfa(&me).unwrap();
    let step = step_now(h);
    let backup = h
        .core
        .second_factor
        .verify_mfa(&me, &fake_totp_at(&e.secret, now(h)))
        .unwrap();
    Enrolled {
        id,
        me,
        token,
        secret: e.secret,
        backup,
        step,
    }
}

/// The pending login a right password gives a user with MFA.
fn pending(h: &Harness, name: &str) -> String {
    match login_kind(h, name, USER_PW, None, SessionKind::Jwt) {
        Err(AuthError::MfaRequired { mfa_token }) => mfa_token,
        other => panic!("expected MfaRequired, got {other:?}"),
    }
}

fn second(h: &Harness, mfa_token: &str, code: &str) -> Result<Issued, AuthError> {
    h.core
        .authentication
        .login_mfa(mfa_token, code, &ctx(), SessionKind::Jwt)
}

#[test]
fn enrolment_is_confirmed_by_a_code_and_then_logins_need_a_second_step() {
    let (h, admin) = setup();
    create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    let sf = &h.core.second_factor;
    assert!(matches!(
        sf.verify_mfa(&me, "123456"),
        Err(UserError::MfaNotEnabled)
    ));
    let e = sf.setup_mfa(&me).unwrap();
    assert!(e.otpauth_uri.contains(&e.secret));
    assert!(e.otpauth_uri.contains("alice"));
    // A pending enrolment changes nothing yet.
    assert!(login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt).is_ok());
    assert!(matches!(
        sf.backup_codes_left(&me),
        Err(UserError::MfaNotEnabled)
    ));
    let step = step_now(&h);
    let err = sf
        .verify_mfa(&me, &wrong_code(&e.secret, step))
        .unwrap_err();
    assert_eq!(fields(&err), [("code".to_owned(), vec!["invalid"])]);
    // A restarted enrolment has a new secret; the old one's codes no longer confirm it.
    let e2 = sf.setup_mfa(&me).unwrap();
    assert_ne!(e2.secret, e.secret);
    assert!(sf.verify_mfa(&me, &fake_totp(&e.secret, step)).is_err());
    let backup = sf.verify_mfa(&me, &fake_totp(&e2.secret, step)).unwrap();
    assert_eq!(backup.len(), 10);
    assert_eq!(sf.backup_codes_left(&me).unwrap(), 10);
    assert_eq!(audited(&h, Event::MfaEnabled, Outcome::Success), 1);
    assert!(matches!(
        sf.setup_mfa(&me),
        Err(UserError::MfaAlreadyEnabled)
    ));
    assert!(matches!(
        sf.verify_mfa(&me, &fake_totp(&e2.secret, step + 1)),
        Err(UserError::MfaAlreadyEnabled)
    ));

    // The password alone gives a pending login, no tokens.
    let token = pending(&h, "alice");
    assert!(token.starts_with("tsm_"));
    assert_eq!(audited(&h, Event::MfaRequired, Outcome::Success), 1);
    // The code that confirmed the enrolment is used up.
    assert!(matches!(
        second(&h, &token, &fake_totp(&e2.secret, step)),
        Err(AuthError::InvalidMfaCode)
    ));
    let t = tokens(second(&h, &token, &fake_totp(&e2.secret, step + 1)).unwrap());
    let p = h.core.gate.authenticate_jwt(&t.access_token).unwrap();
    assert_eq!(p.username, "alice");
    assert!(h
        .core
        .authentication
        .refresh(&t.refresh_token, &ctx())
        .is_ok());
    // The pending login is used up.
    assert!(matches!(
        second(&h, &token, &backup[0]),
        Err(AuthError::InvalidMfaToken)
    ));
    let last = h.audit_entries().pop().unwrap();
    assert_eq!(
        (last.event, last.outcome),
        (Event::Refresh, Outcome::Success)
    );
    let login = h
        .audit_entries()
        .into_iter()
        .rfind(|e| e.event == Event::Login)
        .unwrap();
    assert!(login.details.contains(&("mfa".into(), "true".into())));
}

#[test]
fn a_totp_code_is_accepted_once_and_only_near_now() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let code = fake_totp(&e.secret, e.step + 1);
    assert!(second(&h, &pending(&h, "alice"), &code).is_ok());
    // The same code again, and an older step's, are refused.
    assert!(matches!(
        second(&h, &pending(&h, "alice"), &code),
        Err(AuthError::InvalidMfaCode)
    ));
    assert!(matches!(
        second(&h, &pending(&h, "alice"), &fake_totp(&e.secret, e.step)),
        Err(AuthError::InvalidMfaCode)
    ));
    // Two steps ahead is too far.
    assert!(matches!(
        second(&h, &pending(&h, "alice"), &fake_totp(&e.secret, e.step + 2)),
        Err(AuthError::InvalidMfaCode)
    ));
    // A step later it is the next step's code.
    h.clock.advance(TOTP_PERIOD);
    assert!(second(&h, &pending(&h, "alice"), &fake_totp(&e.secret, e.step + 2)).is_ok());
    // Codes are trimmed.
    let spaced = format!(" {} ", fake_totp(&e.secret, e.step + 3));
    h.clock.advance(TOTP_PERIOD);
    assert!(second(&h, &pending(&h, "alice"), &spaced).is_ok());
}

#[test]
fn backup_codes_work_once_in_any_case_and_new_ones_replace_the_old() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let sf = &h.core.second_factor;
    let shouted = e.backup[0].to_uppercase().replace('-', "");
    assert!(second(&h, &pending(&h, "alice"), &shouted).is_ok());
    assert!(matches!(
        second(&h, &pending(&h, "alice"), &e.backup[0]),
        Err(AuthError::InvalidMfaCode)
    ));
    assert_eq!(sf.backup_codes_left(&e.me).unwrap(), 9);
    assert_eq!(audited(&h, Event::BackupCodeUsed, Outcome::Success), 1);
    let spaced = e.backup[1].replace('-', " ");
    assert!(second(&h, &pending(&h, "alice"), &spaced).is_ok());
    assert_eq!(sf.backup_codes_left(&e.me).unwrap(), 8);

    let fresh = sf.regenerate_backup_codes(&e.me).unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !e.backup.contains(c)));
    assert_eq!(sf.backup_codes_left(&e.me).unwrap(), 10);
    assert!(matches!(
        second(&h, &pending(&h, "alice"), &e.backup[2]),
        Err(AuthError::InvalidMfaCode)
    ));
    assert!(second(&h, &pending(&h, "alice"), &fresh[0]).is_ok());
    assert_eq!(sf.backup_codes_left(&e.me).unwrap(), 9);
    // Someone else's backup code is not yours.
    let bob = enrol(&h, &admin, "bobby");
    assert!(matches!(
        second(&h, &pending(&h, "alice"), &bob.backup[0]),
        Err(AuthError::InvalidMfaCode)
    ));
    // An overlong code is refused without a lookup.
    assert!(matches!(
        second(&h, &pending(&h, "alice"), &"x".repeat(100)),
        Err(AuthError::InvalidMfaCode)
    ));
}

#[test]
fn wrong_codes_count_towards_the_lockout() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let token = pending(&h, "alice");
    let wrong = wrong_code(&e.secret, step_now(&h));
    for _ in 0..4 {
        assert!(matches!(
            second(&h, &token, &wrong),
            Err(AuthError::InvalidMfaCode)
        ));
    }
    assert!(matches!(
        second(&h, &token, &wrong),
        Err(AuthError::Locked { retry_after: 900 })
    ));
    assert_eq!(audited(&h, Event::Lockout, Outcome::Success), 1);
    assert_eq!(audited(&h, Event::LoginFailed, Outcome::Failure), 5);
    // Locked: even a right code, and the password, are refused.
    assert!(matches!(
        second(&h, &token, &e.backup[0]),
        Err(AuthError::Locked { .. })
    ));
    assert!(matches!(
        login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt),
        Err(AuthError::Locked { .. })
    ));
    // The refused right code was not used up.
    assert_eq!(h.core.second_factor.backup_codes_left(&e.me).unwrap(), 10);

    // An admin lifts the lock; the pending login still works.
    let me = e.me.clone();
    assert!(matches!(
        h.core.accounts.unlock_user(&me, e.id),
        Err(UserError::Forbidden(_))
    ));
    h.core.accounts.unlock_user(&admin, e.id).unwrap();
    assert!(second(&h, &token, &e.backup[0]).is_ok());
}

#[test]
fn wrong_passwords_and_wrong_codes_share_one_count() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let token = pending(&h, "alice");
    for _ in 0..3 {
        assert!(matches!(
            login_kind(&h, "alice", "not the password", None, SessionKind::Jwt),
            Err(AuthError::InvalidCredentials)
        ));
    }
    let wrong = wrong_code(&e.secret, step_now(&h));
    assert!(matches!(
        second(&h, &token, &wrong),
        Err(AuthError::InvalidMfaCode)
    ));
    assert!(matches!(
        second(&h, &token, &wrong),
        Err(AuthError::Locked { .. })
    ));
    // The lock ends by itself (and the pending login with it: it lived 300 seconds).
    h.clock.advance(900);
    assert!(matches!(
        second(&h, &token, &e.backup[0]),
        Err(AuthError::InvalidMfaToken)
    ));
    assert!(second(&h, &pending(&h, "alice"), &e.backup[0]).is_ok());
}

#[test]
fn a_right_password_does_not_forgive_wrong_codes() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let wrong = wrong_code(&e.secret, step_now(&h));
    let token = pending(&h, "alice");
    for _ in 0..4 {
        assert!(matches!(
            second(&h, &token, &wrong),
            Err(AuthError::InvalidMfaCode)
        ));
    }
    // Someone who has the password but not the device logs in again for a new pending login.
    let token = pending(&h, "alice");
    assert!(matches!(
        second(&h, &token, &wrong),
        Err(AuthError::Locked { .. })
    ));
}

#[test]
fn the_password_step_alone_is_not_audited_as_a_login() {
    let (h, admin) = setup();
    enrol(&h, &admin, "alice");
    let before = audited(&h, Event::Login, Outcome::Success);
    let _ = pending(&h, "alice");
    assert_eq!(audited(&h, Event::MfaRequired, Outcome::Success), 1);
    assert_eq!(audited(&h, Event::Login, Outcome::Success), before);
}

#[test]
fn the_second_step_can_open_an_opaque_session() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let issued = h
        .core
        .authentication
        .login_mfa(
            &pending(&h, "alice"),
            &e.backup[0],
            &ctx(),
            SessionKind::Opaque,
        )
        .unwrap();
    let Issued::Access(a) = issued else {
        panic!("expected an opaque token")
    };
    assert!(a.access_token.expose().starts_with("tso_"));
    let p = h
        .core
        .gate
        .authenticate_credential(a.access_token.expose(), true)
        .unwrap();
    assert_eq!(p.user_id, e.id);
}

#[test]
fn pending_logins_expire_and_unknown_ones_are_refused() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let token = pending(&h, "alice");
    assert!(matches!(
        second(&h, "tsm_unknown", &e.backup[0]),
        Err(AuthError::InvalidMfaToken)
    ));
    h.clock.advance(h.settings.tokens.mfa_ttl);
    assert!(matches!(
        second(&h, &token, &e.backup[0]),
        Err(AuthError::InvalidMfaToken)
    ));
    assert_eq!(h.core.second_factor.backup_codes_left(&e.me).unwrap(), 10);
}

#[test]
fn a_user_disabled_during_the_second_step_gets_no_session() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let token = pending(&h, "alice");
    h.core
        .accounts
        .update_user(
            &admin,
            e.id,
            UpdateUser {
                active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(matches!(
        second(&h, &token, &e.backup[0]),
        Err(AuthError::AccountDisabled)
    ));
}

#[test]
fn an_admin_reset_removes_mfa_and_ends_every_session() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let jwt = tokens(second(&h, &pending(&h, "alice"), &e.backup[0]).unwrap());
    let opaque = match h.core.authentication.login_mfa(
        &pending(&h, "alice"),
        &e.backup[1],
        &ctx(),
        SessionKind::Opaque,
    ) {
        Ok(Issued::Access(a)) => a.access_token,
        other => panic!("{other:?}"),
    };
    let mine = h.core.gate.authenticate_jwt(&jwt.access_token).unwrap();
    assert!(matches!(
        h.core.second_factor.reset_mfa(&mine, e.id),
        Err(UserError::Forbidden(_))
    ));
    h.core.second_factor.reset_mfa(&admin, e.id).unwrap();
    for t in [jwt.access_token.as_str(), opaque.expose()] {
        assert_eq!(
            h.core.gate.authenticate_credential(t, true),
            Err(TokenError::Revoked)
        );
    }
    // The session opened before MFA was on ends too.
    assert_eq!(
        h.core.gate.authenticate_jwt(&e.token),
        Err(TokenError::Revoked)
    );
    assert!(matches!(
        h.core.authentication.refresh(&jwt.refresh_token, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    // The password alone is enough again.
    assert!(login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt).is_ok());
    let me = caller(&h, "alice", USER_PW);
    assert!(matches!(
        h.core.second_factor.backup_codes_left(&me),
        Err(UserError::MfaNotEnabled)
    ));
    let entry = h
        .audit_entries()
        .into_iter()
        .rfind(|e| e.event == Event::MfaDisabled)
        .unwrap();
    assert_eq!(entry.actor, Some(admin.user_id));
    assert!(entry
        .details
        .contains(&("reset_by_admin".into(), "true".into())));
    assert!(matches!(
        h.core.second_factor.reset_mfa(&admin, UserId(9999)),
        Err(UserError::NotFound)
    ));
}

#[test]
fn removing_ones_own_mfa_needs_the_password_and_a_code() {
    let (h, admin) = setup();
    let e = enrol(&h, &admin, "alice");
    let sf = &h.core.second_factor;
    let pw = |p: &str| Password::new(p.into());
    let code = fake_totp(&e.secret, e.step + 1);
    assert!(matches!(
        sf.disable_mfa(&e.me, &pw("not the password"), &code),
        Err(UserError::WrongCurrentPassword)
    ));
    let err = sf
        .disable_mfa(&e.me, &pw(USER_PW), &wrong_code(&e.secret, e.step))
        .unwrap_err();
    assert_eq!(fields(&err), [("code".to_owned(), vec!["invalid"])]);
    // The confirming code was used up.
    assert!(sf
        .disable_mfa(&e.me, &pw(USER_PW), &fake_totp(&e.secret, e.step))
        .is_err());
    // The wrong password did not use the code up.
    sf.disable_mfa(&e.me, &pw(USER_PW), &code).unwrap();
    assert_eq!(audited(&h, Event::MfaDisabled, Outcome::Success), 1);
    // The caller's own session goes on.
    assert!(h.core.gate.authenticate_jwt(&e.token).is_ok());
    assert!(login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt).is_ok());
    assert!(matches!(
        sf.disable_mfa(&e.me, &pw(USER_PW), &code),
        Err(UserError::MfaNotEnabled)
    ));
}
