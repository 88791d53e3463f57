//! Opaque access tokens: renewal by use near expiry, the race of two renewals, expiry, the end
//! of their session (logout, deletion, idle and absolute lifetimes), and the clean-up job.

use super::support::{
    access, caller, create_with, digest, entry, login_kind, now, opaque_login, USER_PW,
};
use super::ADMIN_PW;
use crate::access::Kind;
use crate::credentials::TokenFormat;
use crate::error::TokenError;
use crate::fakes::{harness_with, Harness};
use crate::issuer::{Issued, SessionKind};
use crate::ports::{Extension, OpaqueRecord};
use crate::principal::{Credential, Principal};
use crate::token::PlainToken;
use crate::users::UpdateUser;

fn record(h: &Harness, token: &PlainToken) -> Option<OpaqueRecord> {
    h.ports.credentials.find_opaque(&digest(h, token)).unwrap()
}

fn use_token(h: &Harness, token: &PlainToken) -> Result<Principal, TokenError> {
    h.core.gate.authenticate_credential(token.expose(), true)
}

/// A harness with an admin, and the admin's opaque token.
fn opaque_setup(change: impl FnOnce(&mut crate::usecases::Settings)) -> (Harness, PlainToken) {
    let h = harness_with(change);
    h.core
        .accounts
        .bootstrap_admin(Some(crate::password::Password::new(ADMIN_PW.into())))
        .unwrap()
        .unwrap();
    let token = opaque_login(&h, "admin", ADMIN_PW);
    (h, token)
}

#[test]
fn a_use_near_expiry_renews_the_token_and_an_earlier_use_does_not() {
    // Defaults: ttl 300, renew_threshold 30.
    let (h, token) = opaque_setup(|_| {});
    assert!(token.expose().starts_with("tso_"));
    let t0 = now(&h);
    let first = record(&h, &token).unwrap();
    assert_eq!(first.expires_at, t0.plus(300));
    assert_eq!(first.ttl, 300);

    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    assert_eq!(p.expires_at, Some(t0.plus(300)));
    assert_eq!(p.session_id, Some(first.session_id));
    assert_eq!(p.username, "admin");
    assert_eq!(p.roles, ["admin", "user"]);

    // 31 seconds left: one more than the threshold, so no renewal.
    h.clock.advance(269);
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    assert_eq!(p.expires_at, Some(t0.plus(300)));
    assert_eq!(record(&h, &token).unwrap().expires_at, t0.plus(300));

    // 30 seconds left: renewed, by ttl from now.
    h.clock.advance(1);
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: true });
    assert_eq!(p.expires_at, Some(t0.plus(570)));
    let after = record(&h, &token).unwrap();
    assert_eq!(after.token_id, first.token_id);
    assert_eq!(after.expires_at, t0.plus(570));
    // The renewal is a use of the session.
    assert_eq!(after.session_last_used_at, t0.plus(270));

    // The next use is far from the new expiry again.
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    assert_eq!(p.expires_at, Some(t0.plus(570)));

    // Past the first expiry it still works.
    h.clock.advance(100);
    assert!(use_token(&h, &token).is_ok());
}

#[test]
fn a_check_without_renewal_and_introspection_never_extend_the_token() {
    let (h, token) = opaque_setup(|_| {});
    let admin = caller(&h, "admin", ADMIN_PW);
    let service = entry(&h, &admin, Kind::Service, "billing").id;
    let secret = h
        .core
        .credentials
        .issue_service_secret(&admin, service)
        .unwrap()
        .secret;
    let t0 = now(&h);
    h.clock.advance(290);
    let p = h
        .core
        .gate
        .authenticate_credential(token.expose(), false)
        .unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    let p = h
        .core
        .credentials
        .introspect(secret.expose(), token.expose())
        .unwrap()
        .unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    assert_eq!(p.expires_at, Some(t0.plus(300)));
    assert_eq!(record(&h, &token).unwrap().expires_at, t0.plus(300));
}

#[test]
fn of_two_renewals_from_the_same_expiry_exactly_one_extends() {
    let (h, token) = opaque_setup(|_| {});
    let rec = record(&h, &token).unwrap();
    let t = now(&h).plus(280);
    let credentials = &h.ports.credentials;
    let first = credentials
        .extend_opaque(rec.token_id, rec.expires_at, t.plus(300), t)
        .unwrap();
    let second = credentials
        .extend_opaque(rec.token_id, rec.expires_at, t.plus(301), t)
        .unwrap();
    assert_eq!(first, Extension::Extended);
    assert_eq!(second, Extension::AlreadyAt(t.plus(300)));
    assert_eq!(record(&h, &token).unwrap().expires_at, t.plus(300));
    assert_eq!(
        credentials
            .extend_opaque(rec.token_id + 1000, rec.expires_at, t.plus(300), t)
            .unwrap(),
        Extension::Gone
    );

    // The domain answers with the expiry the winner set, without renewing again.
    h.clock.advance(280);
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    assert_eq!(p.expires_at, Some(t.plus(300)));
}

#[test]
fn an_expired_opaque_token_is_refused() {
    let (h, token) = opaque_setup(|_| {});
    let other = opaque_login(&h, "admin", ADMIN_PW);
    h.clock.advance(299);
    // Not renewed: checked without renewal.
    assert!(h
        .core
        .gate
        .authenticate_credential(other.expose(), false)
        .is_ok());
    h.clock.advance(1);
    assert_eq!(use_token(&h, &token), Err(TokenError::Expired));
    assert_eq!(use_token(&h, &other), Err(TokenError::Expired));
    assert_eq!(
        h.core.gate.authenticate_credential("tso_unknown", true),
        Err(TokenError::Invalid)
    );
}

#[test]
fn logout_ends_an_opaque_session() {
    let (h, token) = opaque_setup(|_| {});
    let other = opaque_login(&h, "admin", ADMIN_PW);
    let p = use_token(&h, &token).unwrap();
    h.core.authentication.logout(&p).unwrap();
    assert_eq!(use_token(&h, &token), Err(TokenError::Revoked));
    // Even after a restart, from the store alone.
    let fresh = crate::usecases::UseCases::new(h.ports.clone(), h.settings.clone());
    assert_eq!(
        fresh.gate.authenticate_credential(token.expose(), true),
        Err(TokenError::Revoked)
    );
    // Only that session.
    assert!(use_token(&h, &other).is_ok());
}

#[test]
fn deleting_or_disabling_the_user_ends_their_opaque_tokens() {
    let (h, _) = opaque_setup(|_| {});
    let admin = caller(&h, "admin", ADMIN_PW);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    let alice_token = opaque_login(&h, "alice", USER_PW);
    let bob_token = opaque_login(&h, "bobby", USER_PW);
    assert!(use_token(&h, &alice_token).is_ok());

    h.core.accounts.delete_user(&admin, alice).unwrap();
    assert!(matches!(
        use_token(&h, &alice_token),
        Err(TokenError::Invalid | TokenError::Revoked)
    ));

    h.core
        .accounts
        .update_user(
            &admin,
            bob,
            UpdateUser {
                active: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(use_token(&h, &bob_token).is_err());
    h.core
        .accounts
        .update_user(
            &admin,
            bob,
            UpdateUser {
                active: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    // Enabling the user again does not bring the ended session back.
    assert_eq!(use_token(&h, &bob_token), Err(TokenError::Revoked));
}

#[test]
fn an_idle_opaque_session_ends_although_its_token_has_time_left() {
    let (h, token) = opaque_setup(|s| {
        s.sessions.idle_timeout_seconds = 100;
        s.sessions.absolute_lifetime_seconds = 10_000;
    });
    // ttl 300: the token has 201 seconds left, too many to renew, so the session is not used.
    h.clock.advance(99);
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    h.clock.advance(1);
    assert_eq!(use_token(&h, &token), Err(TokenError::Expired));
}

#[test]
fn renewals_keep_a_session_alive_until_its_absolute_lifetime() {
    let (h, token) = opaque_setup(|s| {
        s.sessions.idle_timeout_seconds = 100;
        s.sessions.absolute_lifetime_seconds = 250;
        s.opaque.ttl = 60;
        s.opaque.renew_threshold = 59;
    });
    let t0 = now(&h);
    for _ in 0..4 {
        h.clock.advance(50);
        let p = use_token(&h, &token).unwrap();
        assert_eq!(p.credential, Credential::Opaque { renewed: true });
        assert_eq!(p.expires_at, Some(now(&h).plus(60)));
    }
    // Older than the idle timeout, but used: alive one second before its absolute lifetime.
    h.clock.advance(49);
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.expires_at, Some(t0.plus(309)));
    // The token has 59 seconds left, but the session is 250 seconds old.
    h.clock.advance(1);
    assert_eq!(now(&h), t0.plus(250));
    assert_eq!(use_token(&h, &token), Err(TokenError::Expired));
}

#[test]
fn a_renewal_never_passes_the_end_of_the_session() {
    // Opaque sessions last `refresh_ttl` from the login.
    let (h, token) = opaque_setup(|s| s.tokens.refresh_ttl = 400);
    let t0 = now(&h);
    let rec = record(&h, &token).unwrap();
    assert_eq!(rec.session_expires_at, t0.plus(400));
    h.clock.advance(280);
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: true });
    assert_eq!(p.expires_at, Some(t0.plus(400)));
    // Inside the threshold again, but there is nothing left to extend to.
    h.clock.advance(100);
    let p = use_token(&h, &token).unwrap();
    assert_eq!(p.credential, Credential::Opaque { renewed: false });
    assert_eq!(p.expires_at, Some(t0.plus(400)));
    h.clock.advance(20);
    assert_eq!(use_token(&h, &token), Err(TokenError::Expired));
}

#[test]
fn browser_sessions_use_their_own_lifetime() {
    let (h, _) = opaque_setup(|s| s.opaque.browser_ttl = 1_200);
    let issued = login_kind(&h, "admin", ADMIN_PW, None, SessionKind::Browser).unwrap();
    let Issued::Access(a) = issued else {
        panic!("a browser login gave a refresh token")
    };
    assert_eq!(a.expires_in, 1_200);
    let rec = record(&h, &a.access_token).unwrap();
    assert_eq!(rec.ttl, 1_200);
    assert_eq!(rec.expires_at, now(&h).plus(1_200));
    assert_eq!(h.observer.token_count("browser_session"), 1);
    // CSRF tokens belong to their session token only.
    let csrf = h.core.gate.csrf_token(&a.access_token);
    assert!(h.core.gate.csrf_matches(&a.access_token, &csrf));
    let other = login_kind(&h, "admin", ADMIN_PW, None, SessionKind::Browser).unwrap();
    assert!(!h.core.gate.csrf_matches(&access(other), &csrf));
}

#[test]
fn the_configured_format_is_the_default_of_a_login() {
    let h = harness_with(|_| {});
    assert_eq!(h.core.authentication.login_kind(None), SessionKind::Jwt);
    assert_eq!(
        h.core.authentication.login_kind(Some(TokenFormat::Opaque)),
        SessionKind::Opaque
    );
    let h = harness_with(|s| s.opaque.default_format = TokenFormat::Opaque);
    assert_eq!(h.core.authentication.login_kind(None), SessionKind::Opaque);
    assert_eq!(
        h.core.authentication.login_kind(Some(TokenFormat::Jwt)),
        SessionKind::Jwt
    );
}

#[test]
fn the_clean_up_job_deletes_expired_tokens_only() {
    let (h, old) = opaque_setup(|_| {});
    h.clock.advance(200);
    let young = opaque_login(&h, "admin", ADMIN_PW);
    h.clock.advance(150);
    assert_eq!(use_token(&h, &old), Err(TokenError::Expired));
    assert!(h.core.credentials.prune_expired(100, 10).unwrap() >= 1);
    assert!(record(&h, &old).is_none());
    assert!(record(&h, &young).is_some());
    assert!(use_token(&h, &young).is_ok());
    assert_eq!(use_token(&h, &old), Err(TokenError::Invalid));
}

#[test]
fn a_session_limit_counts_opaque_sessions_too() {
    let (h, first) = opaque_setup(|s| s.sessions.max_per_user = 1);
    let second = opaque_login(&h, "admin", ADMIN_PW);
    assert_eq!(use_token(&h, &first), Err(TokenError::Revoked));
    assert!(use_token(&h, &second).is_ok());
}

#[test]
fn a_first_token_never_outlives_its_session() {
    // Possible with a valid configuration: cookies.ttl_seconds 3600 > refresh_ttl_seconds 1800.
    let (h, _) = opaque_setup(|s| {
        s.tokens.refresh_ttl = 1_800;
        s.opaque.browser_ttl = 3_600;
    });
    let token = access(login_kind(&h, "admin", ADMIN_PW, None, SessionKind::Browser).unwrap());
    let rec = record(&h, &token).unwrap();
    assert_eq!(rec.session_expires_at, now(&h).plus(1_800));
    h.clock.advance(1_800);
    assert_eq!(use_token(&h, &token), Err(TokenError::Expired));
    assert!(rec.expires_at <= rec.session_expires_at);
}
