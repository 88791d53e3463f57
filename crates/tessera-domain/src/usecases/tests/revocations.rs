//! The revocation view of several nodes over one store: what one node ends, another learns by
//! sync, by being told, or at start-up; and what no live token can need is forgotten.

use super::support::principal;
use super::{login, setup, ADMIN_PW};
use crate::error::TokenError;
use crate::usecases::UseCases;

#[test]
fn another_node_learns_of_an_ended_session_by_sync_or_by_being_told() {
    let (h, _) = setup();
    let other = UseCases::new(h.ports.clone(), h.settings.clone());
    let one = login(&h, "admin", ADMIN_PW).unwrap();
    let two = login(&h, "admin", ADMIN_PW).unwrap();
    assert!(other.gate.authenticate_jwt(&one.access_token).is_ok());

    let t0 = super::support::now(&h);
    h.core
        .authentication
        .logout(&principal(&h, &one.access_token))
        .unwrap();
    assert_eq!(
        h.core.gate.authenticate_jwt(&one.access_token),
        Err(TokenError::Revoked)
    );
    assert_eq!(
        h.observer.revoked_sessions(),
        [one.session_id],
        "the observer is told, to tell other nodes"
    );
    // The other node checks JWTs without the store: it does not know yet.
    assert!(other.gate.authenticate_jwt(&one.access_token).is_ok());
    assert_eq!(other.revocations.sync(t0).unwrap(), 1);
    assert_eq!(
        other.gate.authenticate_jwt(&one.access_token),
        Err(TokenError::Revoked)
    );

    // Told directly, it counts at once.
    other.revocations.note_ended_elsewhere(&[two.session_id]);
    assert_eq!(
        other.gate.authenticate_jwt(&two.access_token),
        Err(TokenError::Revoked)
    );
}

#[test]
fn revocations_are_forgotten_once_no_access_token_of_theirs_can_live() {
    let (h, admin) = setup();
    let t = login(&h, "admin", ADMIN_PW).unwrap();
    h.core.authentication.logout(&admin).unwrap();
    assert_eq!(h.core.revocations.len(), 1);
    // access_ttl 900 + leeway 5 + 1.
    h.clock.advance(906);
    h.core.revocations.prune();
    assert_eq!(h.core.revocations.len(), 1);
    let fresh = UseCases::new(h.ports.clone(), h.settings.clone());
    assert_eq!(fresh.revocations.load().unwrap(), 1);
    h.clock.advance(1);
    h.core.revocations.prune();
    assert!(h.core.revocations.is_empty());
    let fresh = UseCases::new(h.ports.clone(), h.settings.clone());
    assert_eq!(fresh.revocations.load().unwrap(), 0);
    // The tokens of that session have expired by now anyway.
    assert!(h.core.gate.authenticate_jwt(&t.access_token).is_err());
}
