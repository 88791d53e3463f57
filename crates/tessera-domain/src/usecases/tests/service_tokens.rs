//! Service tokens: issued by admins for an active service, several at once, stored as digests,
//! and refused once expired, while their service is disabled, and after it is deleted.

use super::support::{
    audited, billing, caller, create_with, digest, entry, fields, jwt_login, now, USER_PW,
};
use super::{setup, ADMIN_PW};
use crate::access::{EntryRequest, Kind};
use crate::audit::{Event, Outcome};
use crate::credentials::{IssuedServiceToken, SERVICE_INACTIVE, SERVICE_TOKEN_PREFIX};
use crate::error::{TokenError, UserError};
use crate::fakes::Harness;
use crate::ports::CredentialRepository as _;
use crate::principal::Principal;

const TTL: i64 = 300;

fn issue(h: &Harness, admin: &Principal, service: i64) -> IssuedServiceToken {
    h.core
        .credentials
        .issue_service_token(admin, service, TTL)
        .unwrap()
}

/// The service a token names, by id.
fn service_of(h: &Harness, token: &IssuedServiceToken) -> Result<i64, TokenError> {
    h.core
        .credentials
        .service_of_token(token.token.expose())
        .map(|s| s.id)
}

fn set_billing_active(h: &Harness, admin: &Principal, service: i64, active: bool) {
    h.core
        .access
        .update_entry(
            admin,
            Kind::Service,
            service,
            &EntryRequest {
                name: "billing".into(),
                description: None,
                active: Some(active),
            },
        )
        .unwrap();
}

#[test]
fn an_admin_issues_a_token_that_names_its_service_and_is_stored_as_a_digest() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let issued = issue(&h, &admin, b.service);
    assert!(issued.token.expose().starts_with(SERVICE_TOKEN_PREFIX));
    assert_eq!(issued.expires_at, now(&h).plus(TTL));
    assert_eq!(issued.service.id, b.service);
    assert_eq!(issued.service.kind, Kind::Service);
    assert_eq!(issued.service.name, "billing");

    let service = h
        .core
        .credentials
        .service_of_token(issued.token.expose())
        .unwrap();
    assert_eq!(service.id, b.service);
    assert_eq!(service.name, "billing");
    assert!(service.active);

    // The store knows the token by its digest only.
    let (expires_at, stored) = h
        .store
        .find_service_token(&digest(&h, &issued.token))
        .unwrap()
        .unwrap();
    assert_eq!(expires_at, issued.expires_at);
    assert_eq!(stored.id, b.service);

    assert_eq!(audited(&h, Event::ServiceTokenIssued, Outcome::Success), 1);
    let entries = h.audit_entries();
    let audit = entries
        .iter()
        .find(|e| e.event == Event::ServiceTokenIssued)
        .unwrap();
    assert_eq!(audit.actor, Some(admin.user_id));
    assert_eq!(audit.target, Some(format!("service:{}", b.service)));
    assert!(!format!("{entries:?}").contains(issued.token.expose()));
}

#[test]
fn only_admins_issue_and_only_for_a_known_active_service() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    create_with(&h, &admin, "alice", &["user"], None);
    let alice = caller(&h, "alice", USER_PW);
    let issue_as = |actor: &Principal, service: i64, ttl: i64| {
        h.core.credentials.issue_service_token(actor, service, ttl)
    };

    assert!(matches!(
        issue_as(&alice, b.service, TTL),
        Err(UserError::Forbidden(why)) if why != SERVICE_INACTIVE
    ));
    assert!(matches!(
        issue_as(&admin, 9999, TTL),
        Err(UserError::NotFound)
    ));
    for ttl in [0, -1] {
        let err = issue_as(&admin, b.service, ttl).unwrap_err();
        assert_eq!(fields(&err), [("ttl".to_owned(), vec!["out_of_range"])]);
    }
    set_billing_active(&h, &admin, b.service, false);
    assert!(matches!(
        issue_as(&admin, b.service, TTL),
        Err(UserError::Forbidden(SERVICE_INACTIVE))
    ));
    // A non-admin is told they may not, whatever the state of the service.
    assert!(matches!(
        issue_as(&alice, b.service, TTL),
        Err(UserError::Forbidden(why)) if why != SERVICE_INACTIVE
    ));
    assert_eq!(audited(&h, Event::ServiceTokenIssued, Outcome::Success), 0);

    set_billing_active(&h, &admin, b.service, true);
    assert!(issue_as(&admin, b.service, TTL).is_ok());
}

#[test]
fn a_token_is_good_until_it_expires_and_then_is_pruned() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let issued = issue(&h, &admin, b.service);
    h.clock.advance(TTL - 1);
    assert_eq!(service_of(&h, &issued), Ok(b.service));
    h.clock.advance(1);
    assert_eq!(service_of(&h, &issued), Err(TokenError::Expired));

    // Expired, but not before this second: the clean-up leaves it until the next one.
    h.core.credentials.prune_expired(100, 10).unwrap();
    assert_eq!(service_of(&h, &issued), Err(TokenError::Expired));
    h.clock.advance(1);
    h.core.credentials.prune_expired(100, 10).unwrap();
    assert_eq!(service_of(&h, &issued), Err(TokenError::Invalid));
    assert!(h
        .store
        .find_service_token(&digest(&h, &issued.token))
        .unwrap()
        .is_none());
}

#[test]
fn a_disabled_services_tokens_are_refused_until_it_is_enabled_again() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let issued = issue(&h, &admin, b.service);
    set_billing_active(&h, &admin, b.service, false);
    assert_eq!(service_of(&h, &issued), Err(TokenError::UnknownService));
    set_billing_active(&h, &admin, b.service, true);
    assert_eq!(service_of(&h, &issued), Ok(b.service));
}

#[test]
fn deleting_a_service_deletes_its_tokens_and_no_others() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let crm = entry(&h, &admin, Kind::Service, "crm").id;
    let billing_token = issue(&h, &admin, b.service);
    let crm_token = issue(&h, &admin, crm);
    h.core
        .access
        .delete_entry(&admin, Kind::Service, crm)
        .unwrap();
    assert_eq!(service_of(&h, &crm_token), Err(TokenError::Invalid));
    assert!(h
        .store
        .find_service_token(&digest(&h, &crm_token.token))
        .unwrap()
        .is_none());
    assert_eq!(service_of(&h, &billing_token), Ok(b.service));
}

#[test]
fn several_tokens_of_one_service_are_good_at_once() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let crm = entry(&h, &admin, Kind::Service, "crm").id;
    let first = issue(&h, &admin, b.service);
    h.clock.advance(10);
    let second = issue(&h, &admin, b.service);
    let other = issue(&h, &admin, crm);
    assert_ne!(first.token.expose(), second.token.expose());
    assert_eq!(service_of(&h, &first), Ok(b.service));
    assert_eq!(service_of(&h, &second), Ok(b.service));
    assert_eq!(service_of(&h, &other), Ok(crm));

    // Each expires at its own time.
    h.clock.advance(TTL - 10);
    assert_eq!(service_of(&h, &first), Err(TokenError::Expired));
    assert_eq!(service_of(&h, &second), Ok(b.service));
    assert_eq!(audited(&h, Event::ServiceTokenIssued, Outcome::Success), 3);
}

#[test]
fn anything_but_a_known_service_token_is_invalid() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let secret = h
        .core
        .credentials
        .issue_service_secret(&admin, b.service)
        .unwrap()
        .secret;
    let access_token = jwt_login(&h, "admin", ADMIN_PW, None).access_token;
    for bad in [
        "",
        "garbage",
        "tst_",
        "tst_unknown",
        secret.expose(),
        access_token.as_str(),
    ] {
        assert_eq!(
            h.core.credentials.service_of_token(bad).map(|s| s.id),
            Err(TokenError::Invalid),
            "{bad}"
        );
    }
}
