//! Sessions: listing and ending one's own, ending all the others, an admin ending a user's,
//! the per-user limit, and idle and absolute lifetimes of refresh.

use super::support::{caller, create_with, ctx, jwt_login, principal, USER_PW};
use super::{setup, ADMIN_PW};
use crate::credentials::CreateApiKey;
use crate::error::{AuthError, TokenError, UserError};
use crate::fakes::{harness_with, Harness};
use crate::password::Password;
use crate::principal::Principal;
use crate::token::SessionId;
use crate::user::UserId;

fn ids(h: &Harness, actor: &Principal, user: UserId) -> Vec<SessionId> {
    h.core
        .sessions
        .list_sessions(actor, user)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

fn revoked(h: &Harness, access_token: &str) -> bool {
    h.core.gate.authenticate_jwt(access_token) == Err(TokenError::Revoked)
}

/// Whether the caller's session is still going, in the store and in the revocation view.
fn going(h: &Harness, p: &Principal) -> bool {
    let id = p.session_id.unwrap();
    !h.store.revoked(id) && !h.core.revocations.contains(id)
}

#[test]
fn users_list_and_end_their_own_sessions() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let phone = jwt_login(&h, "alice", USER_PW, None);
    let laptop = jwt_login(&h, "alice", USER_PW, None);
    let tablet = jwt_login(&h, "alice", USER_PW, None);
    let me = principal(&h, &laptop.access_token);
    assert_eq!(
        ids(&h, &me, alice),
        [phone.session_id, laptop.session_id, tablet.session_id]
    );
    assert!(h.core.sessions.list_sessions(&me, alice).unwrap()[0].user_id == alice);

    // Someone else's session is not there for bob.
    create_with(&h, &admin, "bobby", &["user"], None);
    let bob = caller(&h, "bobby", USER_PW);
    assert!(matches!(
        h.core.sessions.end_session(&bob, phone.session_id),
        Err(UserError::NotFound)
    ));
    assert!(matches!(
        h.core.sessions.list_sessions(&bob, alice),
        Err(UserError::Forbidden(_))
    ));
    assert!(!revoked(&h, &phone.access_token));

    h.core.sessions.end_session(&me, phone.session_id).unwrap();
    assert!(revoked(&h, &phone.access_token));
    assert!(matches!(
        h.core.authentication.refresh(&phone.refresh_token, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    assert!(matches!(
        h.core.sessions.end_session(&me, phone.session_id),
        Err(UserError::NotFound)
    ));
    assert!(matches!(
        h.core.sessions.end_session(&me, SessionId(9999)),
        Err(UserError::NotFound)
    ));
    assert_eq!(ids(&h, &me, alice), [laptop.session_id, tablet.session_id]);

    // All but the current one.
    let extra = jwt_login(&h, "alice", USER_PW, None);
    assert_eq!(h.core.sessions.end_sessions(&me, alice).unwrap(), 2);
    assert!(revoked(&h, &tablet.access_token));
    assert!(revoked(&h, &extra.access_token));
    assert!(!revoked(&h, &laptop.access_token));
    assert_eq!(ids(&h, &me, alice), [laptop.session_id]);
    assert_eq!(h.core.sessions.end_sessions(&me, alice).unwrap(), 0);
    // Bob cannot end alice's.
    assert!(matches!(
        h.core.sessions.end_sessions(&bob, alice),
        Err(UserError::Forbidden(_))
    ));
    assert!(!revoked(&h, &laptop.access_token));
}

#[test]
fn an_admin_lists_and_ends_a_users_sessions() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let one = jwt_login(&h, "alice", USER_PW, None);
    let two = jwt_login(&h, "alice", USER_PW, None);
    assert_eq!(ids(&h, &admin, alice), [one.session_id, two.session_id]);
    h.core.sessions.end_session(&admin, one.session_id).unwrap();
    assert!(revoked(&h, &one.access_token));
    let three = jwt_login(&h, "alice", USER_PW, None);
    // Someone else's: every one of them, and none of the admin's.
    assert_eq!(h.core.sessions.end_sessions(&admin, alice).unwrap(), 2);
    assert!(revoked(&h, &two.access_token));
    assert!(revoked(&h, &three.access_token));
    assert!(ids(&h, &admin, alice).is_empty());
    assert!(going(&h, &admin));
    assert!(matches!(
        h.core.sessions.list_sessions(&admin, UserId(9999)),
        Err(UserError::NotFound)
    ));
    assert!(matches!(
        h.core.sessions.end_sessions(&admin, UserId(9999)),
        Err(UserError::NotFound)
    ));
    // An admin ending their own keeps the current one.
    let other = jwt_login(&h, "admin", ADMIN_PW, None);
    assert_eq!(
        h.core.sessions.end_sessions(&admin, admin.user_id).unwrap(),
        1
    );
    assert!(revoked(&h, &other.access_token));
    assert_eq!(ids(&h, &admin, admin.user_id), [admin.session_id.unwrap()]);
}

#[test]
fn a_new_session_beyond_the_limit_ends_the_oldest() {
    let h = harness_with(|s| s.sessions.max_per_user = 2);
    h.core
        .accounts
        .bootstrap_admin(Some(Password::new(ADMIN_PW.into())))
        .unwrap()
        .unwrap();
    let admin = caller(&h, "admin", ADMIN_PW);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let first = jwt_login(&h, "alice", USER_PW, None);
    h.clock.advance(1);
    let second = jwt_login(&h, "alice", USER_PW, None);
    h.clock.advance(1);
    let third = jwt_login(&h, "alice", USER_PW, None);
    assert!(revoked(&h, &first.access_token));
    assert!(matches!(
        h.core.authentication.refresh(&first.refresh_token, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    assert!(!revoked(&h, &second.access_token));
    assert!(!revoked(&h, &third.access_token));
    assert_eq!(
        ids(&h, &admin, alice),
        [second.session_id, third.session_id]
    );
    assert_eq!(
        h.store.revoked_reason(first.session_id).as_deref(),
        Some("session_limit")
    );
    // A refresh is no new session.
    let renewed = h
        .core
        .authentication
        .refresh(&second.refresh_token, &ctx())
        .unwrap();
    assert_eq!(renewed.session_id, second.session_id);
    assert!(!revoked(&h, &third.access_token));

    // Sessions of API keys do not count, and are not ended by the limit.
    let key = h
        .core
        .credentials
        .create_api_key(
            &admin,
            alice,
            CreateApiKey {
                name: "k".into(),
                scopes: None,
                expires_at: None,
            },
        )
        .unwrap();
    let grant = |n: usize| {
        (0..n)
            .map(|_| {
                h.core
                    .authentication
                    .client_credentials(&key.key.id.to_string(), key.secret.expose(), &ctx())
                    .unwrap()
                    .access_token
            })
            .collect::<Vec<_>>()
    };
    let bought = grant(3);
    let fourth = jwt_login(&h, "alice", USER_PW, None);
    assert!(revoked(&h, &second.access_token));
    assert!(!revoked(&h, &third.access_token));
    assert!(!revoked(&h, &fourth.access_token));
    for t in &bought {
        assert!(!revoked(&h, t.expose()));
    }
    // Other users are not affected.
    assert!(going(&h, &admin));
}

#[test]
fn an_idle_session_cannot_be_refreshed() {
    let h = harness_with(|s| {
        s.sessions.idle_timeout_seconds = 100;
        s.sessions.absolute_lifetime_seconds = 10_000;
    });
    h.core
        .accounts
        .bootstrap_admin(Some(Password::new(ADMIN_PW.into())))
        .unwrap()
        .unwrap();
    let t = jwt_login(&h, "admin", ADMIN_PW, None);
    h.clock.advance(99);
    let t = h
        .core
        .authentication
        .refresh(&t.refresh_token, &ctx())
        .unwrap();
    // Each refresh is a use: another 99 seconds are fine.
    h.clock.advance(99);
    let t = h
        .core
        .authentication
        .refresh(&t.refresh_token, &ctx())
        .unwrap();
    let admin = principal(&h, &t.access_token);
    assert_eq!(ids(&h, &admin, admin.user_id), [t.session_id]);
    h.clock.advance(100);
    // Idle: listed no more, and refused.
    assert!(ids(&h, &Principal::system(), admin.user_id).is_empty());
    assert!(matches!(
        h.core.authentication.refresh(&t.refresh_token, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    assert!(h.store.revoked(t.session_id));
    assert_eq!(
        h.store.revoked_reason(t.session_id).as_deref(),
        Some("session_expired")
    );
    assert!(revoked(&h, &t.access_token));
}

#[test]
fn an_old_session_cannot_be_refreshed_however_much_it_is_used() {
    let h = harness_with(|s| {
        s.sessions.idle_timeout_seconds = 100;
        s.sessions.absolute_lifetime_seconds = 250;
    });
    h.core
        .accounts
        .bootstrap_admin(Some(Password::new(ADMIN_PW.into())))
        .unwrap()
        .unwrap();
    let mut t = jwt_login(&h, "admin", ADMIN_PW, None);
    for _ in 0..4 {
        h.clock.advance(62);
        t = h
            .core
            .authentication
            .refresh(&t.refresh_token, &ctx())
            .unwrap();
    }
    // 248 seconds old.
    h.clock.advance(2);
    assert!(matches!(
        h.core.authentication.refresh(&t.refresh_token, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    assert_eq!(
        h.store.revoked_reason(t.session_id).as_deref(),
        Some("session_expired")
    );
}

#[test]
fn revoking_a_refresh_token_ends_its_session_and_unknown_tokens_are_ignored() {
    let (h, _) = setup();
    let t = jwt_login(&h, "admin", ADMIN_PW, None);
    let other = jwt_login(&h, "admin", ADMIN_PW, None);
    h.core
        .authentication
        .revoke_refresh_token(&crate::token::PlainToken::new("tsr_unknown".into()), &ctx())
        .unwrap();
    h.core
        .authentication
        .revoke_refresh_token(&t.refresh_token, &ctx())
        .unwrap();
    assert!(revoked(&h, &t.access_token));
    assert!(matches!(
        h.core.authentication.refresh(&t.refresh_token, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    assert!(!revoked(&h, &other.access_token));
    assert_eq!(
        h.audit_events().last(),
        Some(&(
            crate::audit::Event::TokenRevoked,
            crate::audit::Outcome::Success
        ))
    );
}

#[test]
fn live_sessions_are_counted() {
    let (h, _) = setup();
    assert_eq!(h.core.sessions.count_live_sessions().unwrap(), 1);
    let t = jwt_login(&h, "admin", ADMIN_PW, None);
    assert_eq!(h.core.sessions.count_live_sessions().unwrap(), 2);
    h.core
        .authentication
        .logout(&principal(&h, &t.access_token))
        .unwrap();
    assert_eq!(h.core.sessions.count_live_sessions().unwrap(), 1);
}
