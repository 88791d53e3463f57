//! The signing keys: a global admin lists and rotates them, audited; nobody else may.

use std::sync::atomic::Ordering;

use super::setup;
use super::support::{audited, caller, create_with, entry, jwt_login, principal, USER_PW};
use crate::access::Kind;
use crate::audit::{Event, Outcome};
use crate::error::UserError;

#[test]
fn a_global_admin_rotates_the_keys_and_the_rotation_is_audited() {
    let (h, admin) = setup();
    let before = h.core.keys.list_keys(&admin).unwrap();
    assert_eq!(before.len(), 1);
    assert!(before[0].signs && before[0].published);

    h.clock.advance(60);
    let key = h.core.keys.rotate(&admin).unwrap();
    assert!(key.signs && key.published);
    assert_eq!(key.created, super::support::now(&h));
    assert_eq!(h.keys.signing_kid(), key.kid);

    // Newest first: the new key signs, the old one is still published for its tokens.
    let after = h.core.keys.list_keys(&admin).unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].kid, key.kid);
    assert!(after[0].signs);
    assert_eq!(after[1].kid, before[0].kid);
    assert!(!after[1].signs && after[1].published);

    assert_eq!(audited(&h, Event::KeysRotated, Outcome::Success), 1);
    let entry = h
        .audit_entries()
        .into_iter()
        .find(|e| e.event == Event::KeysRotated)
        .unwrap();
    assert_eq!(entry.actor, Some(admin.user_id));
    assert_eq!(entry.target, Some(format!("key:{}", key.kid)));
    assert!(entry.details.contains(&("kid".into(), key.kid.clone())));
    assert!(entry.details.contains(&("alg".into(), "RS256".into())));
}

#[test]
fn a_tenant_admin_and_a_user_may_neither_rotate_nor_list_the_keys() {
    let (h, admin) = setup();
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    create_with(&h, &admin, "ann", &["admin", "user"], Some(acme));
    create_with(&h, &admin, "bob", &["user"], None);
    let ann = principal(
        &h,
        &jwt_login(&h, "ann", USER_PW, Some("acme")).access_token,
    );
    assert!(ann.is_tenant_admin());
    let bob = caller(&h, "bob", USER_PW);
    for who in [&ann, &bob] {
        let rotated = h.core.keys.rotate(who);
        assert!(
            matches!(rotated, Err(UserError::Forbidden(_))),
            "{rotated:?}"
        );
        let listed = h.core.keys.list_keys(who);
        assert!(matches!(listed, Err(UserError::Forbidden(_))), "{listed:?}");
    }
    assert_eq!(h.keys.signing_kid(), "kid0", "no key was made");
    assert_eq!(audited(&h, Event::KeysRotated, Outcome::Success), 0);
}

#[test]
fn a_rotation_the_key_folder_refuses_is_audited_as_a_failure() {
    let (h, admin) = setup();
    h.keys.fail.store(true, Ordering::SeqCst);
    assert!(matches!(
        h.core.keys.rotate(&admin),
        Err(UserError::Unknown(_))
    ));
    assert_eq!(h.keys.signing_kid(), "kid0");
    assert_eq!(audited(&h, Event::KeysRotated, Outcome::Failure), 1);
    assert_eq!(audited(&h, Event::KeysRotated, Outcome::Success), 0);
}
