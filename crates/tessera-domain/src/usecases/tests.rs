//! Use-case tests over the in-memory fake ports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::Ordering;

use crate::audit::{Event, Outcome, RequestContext};
use crate::auth::LoginRequest;
use crate::error::{AuthError, TokenError, UserError};
use crate::fakes::{harness, Harness};
use crate::issuer::{Issued, IssuedTokens, SessionKind};
use crate::password::{Password, PasswordHash};
use crate::ports::UserRepository;
use crate::principal::Principal;
use crate::user::UserId;
use crate::users::{CreateUser, UpdateUser};

const ADMIN_PW: &str = "correct horse battery staple";

fn setup() -> (Harness, Principal) {
    let h = harness();
    h.core
        .accounts
        .bootstrap_admin(Some(Password::new(ADMIN_PW.into())))
        .unwrap()
        .unwrap();
    let admin = login(&h, "admin", ADMIN_PW).unwrap();
    let p = h.core.gate.authenticate_jwt(&admin.access_token).unwrap();
    (h, p)
}

fn login(h: &Harness, user: &str, pw: &str) -> Result<IssuedTokens, AuthError> {
    let issued = h.core.authentication.login(
        LoginRequest {
            login: user.into(),
            password: Password::new(pw.into()),
            tenant: None,
            context: RequestContext::default(),
        },
        SessionKind::Jwt,
    )?;
    match issued {
        Issued::Tokens(t) => Ok(t),
        Issued::Access(_) => panic!("a JWT login gave an opaque token"),
    }
}

fn create(h: &Harness, admin: &Principal, name: &str) -> UserId {
    h.core
        .accounts
        .create_user(
            admin,
            CreateUser {
                username: name.into(),
                password: Password::new("a fine long password".into()),
                email: Some(format!("{name}@example.com")),
                display_name: None,
                roles: None,
                active: None,
                tenant_id: None,
                attributes: None,
            },
        )
        .unwrap()
        .id
}

#[test]
fn unknown_user_and_wrong_password_give_the_same_error_and_both_spend_a_hash() {
    let (h, _) = setup();
    assert!(matches!(
        login(&h, "nobody", "whatever pw"),
        Err(AuthError::InvalidCredentials)
    ));
    assert_eq!(h.hasher.dummies.load(Ordering::SeqCst), 1);
    assert!(matches!(
        login(&h, "admin", "wrong password"),
        Err(AuthError::InvalidCredentials)
    ));
}

#[test]
fn login_by_email_works() {
    let (h, admin) = setup();
    create(&h, &admin, "carol");
    assert!(login(&h, "CAROL@example.com", "a fine long password").is_ok());
}

#[test]
fn disabled_users_cannot_log_in() {
    let (h, admin) = setup();
    let id = create(&h, &admin, "dave");
    h.core
        .accounts
        .update_user(
            &admin,
            id,
            UpdateUser {
                active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(matches!(
        login(&h, "dave", "a fine long password"),
        Err(AuthError::AccountDisabled)
    ));
}

#[test]
fn old_hashes_are_upgraded_at_login() {
    let (h, admin) = setup();
    let id = create(&h, &admin, "erin");
    h.store
        .set_password_hash(
            id,
            &PasswordHash::new("old:legacy password".into()),
            crate::ports::RevokeSessions::None,
            crate::ports::ApiKeys::Keep,
            crate::time::UnixTime(0),
        )
        .unwrap();
    login(&h, "erin", "legacy password").unwrap();
    let (_, hash) = h.store.user_credentials(id).unwrap().unwrap();
    assert_eq!(hash.as_str(), "plain:legacy password");
}

#[test]
fn refresh_rotates_and_the_old_token_is_reuse_after_the_grace_window() {
    let (h, _) = setup();
    let first = login(&h, "admin", ADMIN_PW).unwrap();
    let second = h
        .core
        .authentication
        .refresh(&first.refresh_token, &RequestContext::default())
        .unwrap();
    assert_ne!(second.refresh_token.expose(), first.refresh_token.expose());

    // Inside the grace window the same pair comes back.
    h.clock.advance(5);
    let again = h
        .core
        .authentication
        .refresh(&first.refresh_token, &RequestContext::default())
        .unwrap();
    assert_eq!(again.refresh_token.expose(), second.refresh_token.expose());

    // After it, the session dies.
    h.clock.advance(10);
    assert!(matches!(
        h.core
            .authentication
            .refresh(&first.refresh_token, &RequestContext::default()),
        Err(AuthError::RefreshReused)
    ));
    assert!(matches!(
        h.core
            .authentication
            .refresh(&second.refresh_token, &RequestContext::default()),
        Err(AuthError::InvalidGrant)
    ));
    assert_eq!(
        h.core.gate.authenticate_jwt(&second.access_token),
        Err(TokenError::Revoked)
    );
}

#[test]
fn grace_pair_carries_the_same_claims() {
    let (h, _) = setup();
    let first = login(&h, "admin", ADMIN_PW).unwrap();
    let second = h
        .core
        .authentication
        .refresh(&first.refresh_token, &RequestContext::default())
        .unwrap();
    h.clock.advance(3);
    let again = h
        .core
        .authentication
        .refresh(&first.refresh_token, &RequestContext::default())
        .unwrap();
    let a = h.core.gate.authenticate_jwt(&second.access_token).unwrap();
    let b = h.core.gate.authenticate_jwt(&again.access_token).unwrap();
    assert_eq!(a, b);
}

#[test]
fn expired_refresh_tokens_are_refused() {
    let (h, _) = setup();
    let first = login(&h, "admin", ADMIN_PW).unwrap();
    h.clock.advance(3601);
    assert!(matches!(
        h.core
            .authentication
            .refresh(&first.refresh_token, &RequestContext::default()),
        Err(AuthError::InvalidGrant)
    ));
}

#[test]
fn logout_revokes_access_and_refresh() {
    let (h, _) = setup();
    let t = login(&h, "admin", ADMIN_PW).unwrap();
    let p = h.core.gate.authenticate_jwt(&t.access_token).unwrap();
    h.core.authentication.logout(&p).unwrap();
    assert_eq!(
        h.core.gate.authenticate_jwt(&t.access_token),
        Err(TokenError::Revoked)
    );
    assert!(matches!(
        h.core
            .authentication
            .refresh(&t.refresh_token, &RequestContext::default()),
        Err(AuthError::InvalidGrant)
    ));
}

#[test]
fn expired_access_tokens_are_refused() {
    let (h, _) = setup();
    let t = login(&h, "admin", ADMIN_PW).unwrap();
    h.clock.advance(900 + 5);
    assert_eq!(
        h.core.gate.authenticate_jwt(&t.access_token),
        Err(TokenError::Expired)
    );
}

#[test]
fn revocations_survive_a_restart_through_the_store() {
    let (h, admin) = setup();
    h.core.authentication.logout(&admin).unwrap();
    let fresh = crate::usecases::UseCases::new(h.ports.clone(), h.settings.clone());
    assert_eq!(fresh.revocations.load().unwrap(), 1);
    assert!(fresh.revocations.contains(admin.session_id.unwrap()));
}

#[test]
fn plain_users_cannot_manage_others() {
    let (h, admin) = setup();
    let a = create(&h, &admin, "alice");
    let b = create(&h, &admin, "bobby");
    let t = login(&h, "alice", "a fine long password").unwrap();
    let alice = h.core.gate.authenticate_jwt(&t.access_token).unwrap();
    assert!(h.core.accounts.get_user(&alice, a).is_ok());
    assert!(matches!(
        h.core.accounts.get_user(&alice, b),
        Err(UserError::Forbidden(_))
    ));
    assert!(matches!(
        h.core.accounts.list_users(&alice, None, None, None),
        Err(UserError::Forbidden(_))
    ));
    assert!(matches!(
        h.core.accounts.update_user(
            &alice,
            a,
            UpdateUser {
                roles: Some(vec!["admin".into()]),
                ..Default::default()
            }
        ),
        Err(UserError::Forbidden(_))
    ));
    assert!(matches!(
        h.core.accounts.delete_user(&alice, b),
        Err(UserError::Forbidden(_))
    ));
}

#[test]
fn the_last_admin_cannot_be_removed() {
    let (h, admin) = setup();
    assert!(matches!(
        h.core.accounts.delete_user(&admin, admin.user_id),
        Err(UserError::LastAdmin)
    ));
    assert!(matches!(
        h.core.accounts.update_user(
            &admin,
            admin.user_id,
            UpdateUser {
                roles: Some(vec!["user".into()]),
                ..Default::default()
            }
        ),
        Err(UserError::LastAdmin)
    ));
}

#[test]
fn creation_reports_every_broken_rule() {
    let (h, admin) = setup();
    let err = h
        .core
        .accounts
        .create_user(
            &admin,
            CreateUser {
                username: "x".into(),
                password: Password::new("short".into()),
                email: Some("nope".into()),
                display_name: None,
                roles: Some(vec!["BAD".into()]),
                active: None,
                tenant_id: None,
                attributes: None,
            },
        )
        .unwrap_err();
    let UserError::Validation(fields) = err else {
        panic!("{err:?}")
    };
    let names: Vec<_> = fields.iter().map(|(f, _)| f.to_owned()).collect();
    assert_eq!(names, ["email", "password", "roles", "username"]);
    assert_eq!(h.store.count_users().unwrap(), 1, "nothing was written");
}

#[test]
fn password_change_needs_the_current_one_and_ends_other_sessions() {
    let (h, admin) = setup();
    let id = create(&h, &admin, "frank");
    let one = login(&h, "frank", "a fine long password").unwrap();
    let two = login(&h, "frank", "a fine long password").unwrap();
    let me = h.core.gate.authenticate_jwt(&one.access_token).unwrap();
    assert!(matches!(
        h.core.accounts.change_password(
            &me,
            id,
            Some(Password::new("wrong one entirely".into())),
            Password::new("another long password".into()),
            false,
        ),
        Err(UserError::WrongCurrentPassword)
    ));
    h.core
        .accounts
        .change_password(
            &me,
            id,
            Some(Password::new("a fine long password".into())),
            Password::new("another long password".into()),
            false,
        )
        .unwrap();
    assert!(h.core.gate.authenticate_jwt(&one.access_token).is_ok());
    assert_eq!(
        h.core.gate.authenticate_jwt(&two.access_token),
        Err(TokenError::Revoked)
    );
    assert!(login(&h, "frank", "another long password").is_ok());
}

#[test]
fn deleting_a_user_revokes_their_tokens() {
    let (h, admin) = setup();
    let id = create(&h, &admin, "gina");
    let t = login(&h, "gina", "a fine long password").unwrap();
    h.core.accounts.delete_user(&admin, id).unwrap();
    assert_eq!(
        h.core.gate.authenticate_jwt(&t.access_token),
        Err(TokenError::Revoked)
    );
}

#[test]
fn paging_reports_the_next_cursor() {
    let (h, admin) = setup();
    for n in ["u001", "u002", "u003"] {
        create(&h, &admin, n);
    }
    let page = h
        .core
        .accounts
        .list_users(&admin, Some(2), None, None)
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let next = page.next_after.unwrap();
    let rest = h
        .core
        .accounts
        .list_users(&admin, Some(2), Some(next), None)
        .unwrap();
    assert_eq!(rest.items.len(), 2);
    assert_eq!(rest.next_after, None);
    assert!(matches!(
        h.core.accounts.list_users(&admin, Some(0), None, None),
        Err(UserError::Validation(_))
    ));
    assert!(matches!(
        h.core.accounts.list_users(&admin, Some(501), None, None),
        Err(UserError::Validation(_))
    ));
}

#[test]
fn bootstrap_runs_once_and_checks_the_policy() {
    let h = harness();
    assert!(matches!(
        h.core
            .accounts
            .bootstrap_admin(Some(Password::new("short".into()))),
        Err(UserError::Validation(_))
    ));
    let made = h.core.accounts.bootstrap_admin(None).unwrap().unwrap();
    assert!(made.generated_password.is_some());
    assert!(h.core.accounts.bootstrap_admin(None).unwrap().is_none());
}

#[test]
fn five_failures_lock_even_the_right_password_until_the_lock_ends() {
    let (h, _) = setup();
    for _ in 0..4 {
        assert!(matches!(
            login(&h, "admin", "wrong password"),
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        login(&h, "admin", "wrong password"),
        Err(AuthError::Locked { retry_after: 900 })
    ));
    assert!(matches!(
        login(&h, "admin", ADMIN_PW),
        Err(AuthError::Locked { .. })
    ));
    h.clock.advance(900);
    assert!(login(&h, "admin", ADMIN_PW).is_ok());
}

#[test]
fn a_success_resets_the_count_and_unknown_names_lock_alike() {
    let (h, _) = setup();
    for _ in 0..4 {
        let _ = login(&h, "admin", "wrong password");
    }
    assert!(login(&h, "admin", ADMIN_PW).is_ok());
    for _ in 0..4 {
        assert!(matches!(
            login(&h, "admin", "wrong password"),
            Err(AuthError::InvalidCredentials)
        ));
    }
    for _ in 0..4 {
        assert!(matches!(
            login(&h, "nobody", "whatever"),
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(matches!(
        login(&h, "nobody", "whatever"),
        Err(AuthError::Locked { .. })
    ));
    // Locked answers cost no hashing.
    let dummies = h.hasher.dummies.load(Ordering::SeqCst);
    assert!(matches!(
        login(&h, "NOBODY", "whatever"),
        Err(AuthError::Locked { .. })
    ));
    assert_eq!(h.hasher.dummies.load(Ordering::SeqCst), dummies);
}

#[test]
fn logins_lockouts_and_changes_are_audited_without_secrets() {
    let (h, admin) = setup();
    for _ in 0..5 {
        let _ = login(&h, "admin", "wrong password");
    }
    let _ = login(&h, "ghost", "whatever");
    let events = h.audit_events();
    assert_eq!(events[0], (Event::Login, Outcome::Success));
    assert_eq!(
        events[1..6]
            .iter()
            .filter(|e| **e == (Event::LoginFailed, Outcome::Failure))
            .count(),
        4
    );
    assert!(events.contains(&(Event::Lockout, Outcome::Success)));
    assert!(events.contains(&(Event::LoginLocked, Outcome::Failure)));
    let entries = h.audit_entries();
    let ghost = entries.last().unwrap();
    assert_eq!(ghost.subject, None);
    assert!(ghost.details.contains(&("login".into(), "ghost".into())));
    assert!(!format!("{entries:?}").contains("wrong password"));
    assert!(!format!("{entries:?}").contains("whatever"));
    h.core.authentication.logout(&admin).unwrap();
    assert_eq!(
        h.audit_events().last(),
        Some(&(Event::Logout, Outcome::Success))
    );
}

mod access;
mod accounts;
mod audit;
mod credentials;
mod keys;
mod mfa;
mod model_import;
mod oauth;
mod opaque;
mod properties;
mod recovery;
mod revocations;
mod service_tokens;
mod sessions;
mod support;
mod tenants;
