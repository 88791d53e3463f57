//! Accounts beyond the basics in `tests.rs`: bulk import and export, attributes, renaming,
//! lifting a lockout, and finding a user by login name.

use super::support::{caller, create_with, entry, login_kind, USER_PW};
use super::{setup, ADMIN_PW};
use crate::access::Kind;
use crate::audit::Event;
use crate::error::{AuthError, UserError};
use crate::fakes::harness;
use crate::import::{ImportSecret, ImportUser};
use crate::issuer::SessionKind;
use crate::password::{Password, PasswordHash};
use crate::ports::UserRepository;
use crate::principal::Principal;
use crate::users::{CreateUser, UpdateUser};

fn person(name: &str, secret: ImportSecret) -> ImportUser {
    ImportUser {
        username: name.into(),
        email: Some(format!("{name}@example.com")),
        display_name: None,
        roles: None,
        active: None,
        tenant_id: None,
        attributes: None,
        secret,
    }
}

fn pw(p: &str) -> ImportSecret {
    ImportSecret::Password(Password::new(p.into()))
}

fn hash(h: &str) -> ImportSecret {
    ImportSecret::Hash(PasswordHash::new(h.into()))
}

#[test]
fn an_import_is_all_or_nothing_and_names_the_bad_line() {
    let (h, admin) = setup();
    let users = |h: &crate::fakes::Harness| h.store.count_users().unwrap();
    let before = users(&h);
    let fail = |batch: Vec<(usize, ImportUser)>| {
        h.core
            .accounts
            .import_users(&admin, batch)
            .map(|_| ())
            .unwrap_err()
    };
    let e = fail(vec![
        (2, person("ivan", pw(USER_PW))),
        (3, person("x", pw(USER_PW))),
        (4, person("judy", pw(USER_PW))),
    ]);
    assert_eq!(e.line, 3);
    assert!(matches!(e.error, UserError::Validation(_)));
    let e = fail(vec![
        (1, person("ivan", pw(USER_PW))),
        (2, person("IVAN", pw(USER_PW))),
    ]);
    assert_eq!(e.line, 2);
    assert!(matches!(
        e.error,
        UserError::Duplicate { field: "username" }
    ));
    let mut same_mail = person("judy", pw(USER_PW));
    same_mail.email = Some("IVAN@example.com".into());
    let e = fail(vec![(1, person("ivan", pw(USER_PW))), (2, same_mail)]);
    assert_eq!(e.line, 2);
    assert!(matches!(e.error, UserError::Duplicate { field: "email" }));
    let e = fail(vec![
        (1, person("ivan", pw(USER_PW))),
        (2, person("admin", pw(USER_PW))),
    ]);
    assert_eq!(e.line, 2);
    assert!(matches!(e.error, UserError::Duplicate { .. }));
    let e = fail(vec![(7, person("ivan", hash("$unknown$format")))]);
    assert_eq!(e.line, 7);
    assert_eq!(
        super::support::fields(&e.error),
        [("password_hash".to_owned(), vec!["unknown_format"])]
    );
    let e = fail(vec![(1, person("ivan", pw("short")))]);
    assert_eq!(super::support::fields(&e.error)[0].0, "password");
    let mut in_nowhere = person("ivan", pw(USER_PW));
    in_nowhere.tenant_id = Some(9999);
    assert_eq!(
        super::support::fields(&fail(vec![(1, in_nowhere)]).error),
        [("tenant_id".to_owned(), vec!["not_found"])]
    );
    assert_eq!(users(&h), before);
    assert!(login_kind(&h, "ivan", USER_PW, None, SessionKind::Jwt).is_err());
    // Only admins import.
    create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    let e = h
        .core
        .accounts
        .import_users(&me, vec![(1, person("ivan", pw(USER_PW)))])
        .unwrap_err();
    assert!(matches!(e.error, UserError::Forbidden(_)));
}

#[test]
fn imported_passwords_and_hashes_log_in_and_old_hashes_are_upgraded() {
    let (h, admin) = setup();
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    let mut in_acme = person("kate", pw(USER_PW));
    in_acme.tenant_id = Some(acme);
    in_acme.roles = Some(vec!["editor".into()]);
    let made = h
        .core
        .accounts
        .import_users(
            &admin,
            vec![
                (1, person("ivan", pw(USER_PW))),
                // A hash needs no policy check: its password was set elsewhere.
                (2, person("judy", hash("old:short"))),
                (3, in_acme),
            ],
        )
        .unwrap();
    assert_eq!(made.len(), 3);
    assert_eq!(made[2].tenant_id.map(|t| t.0), Some(acme));
    assert_eq!(made[2].roles[0].as_str(), "editor");
    assert!(login_kind(&h, "ivan", USER_PW, None, SessionKind::Jwt).is_ok());
    assert!(login_kind(&h, "kate", USER_PW, Some("acme"), SessionKind::Jwt).is_ok());
    assert!(login_kind(&h, "judy", "short", None, SessionKind::Jwt).is_ok());
    let (_, stored) = h.store.user_credentials(made[1].id).unwrap().unwrap();
    assert_eq!(stored.as_str(), "plain:short");
    let entry = h
        .audit_entries()
        .into_iter()
        .find(|e| e.event == Event::UsersImported)
        .unwrap();
    assert!(entry.details.contains(&("users".into(), "3".into())));
}

#[test]
fn an_export_imports_into_a_fresh_installation() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["editor", "user"], None);
    h.core
        .accounts
        .update_user(
            &admin,
            alice,
            set_attributes(&[("person_type", Some("natural"))]),
        )
        .unwrap();
    let exported = h.core.accounts.export_users(&admin).unwrap();
    assert_eq!(exported.len(), 2);
    assert!(exported
        .iter()
        .all(|e| e.hash.as_str().starts_with("plain:")));
    let me = caller(&h, "alice", USER_PW);
    assert!(matches!(
        h.core.accounts.export_users(&me),
        Err(UserError::Forbidden(_))
    ));

    let fresh = harness();
    let batch = exported
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            (
                i + 1,
                ImportUser {
                    username: e.user.username.as_str().into(),
                    email: e.user.email.map(|m| m.as_str().to_owned()),
                    display_name: e.user.display_name.map(|d| d.as_str().to_owned()),
                    roles: Some(e.user.roles.iter().map(|r| r.as_str().to_owned()).collect()),
                    active: Some(e.user.active),
                    tenant_id: None,
                    attributes: Some(e.user.attributes.into_map()),
                    secret: ImportSecret::Hash(e.hash),
                },
            )
        })
        .collect();
    fresh
        .core
        .accounts
        .import_users(&Principal::system(), batch)
        .unwrap();
    assert!(login_kind(&fresh, "admin", ADMIN_PW, None, SessionKind::Jwt).is_ok());
    let alice = caller(&fresh, "alice", USER_PW);
    assert_eq!(alice.roles, ["editor", "user"]);
    let (imported, _) = fresh
        .store
        .user_credentials(alice.user_id)
        .unwrap()
        .unwrap();
    assert_eq!(imported.attributes.get("person_type"), Some("natural"));
}

/// A merge into the attributes: a name with a value sets it, one without removes it.
fn set_attributes(entries: &[(&str, Option<&str>)]) -> UpdateUser {
    UpdateUser {
        attributes: Some(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                .collect(),
        ),
        ..UpdateUser::default()
    }
}

#[test]
fn admins_set_attributes_at_creation_and_merge_changes_into_them() {
    let (h, admin) = setup();
    let made = h
        .core
        .accounts
        .create_user(
            &admin,
            CreateUser {
                username: "ivan".into(),
                password: Password::new(USER_PW.into()),
                email: None,
                display_name: None,
                roles: None,
                active: None,
                tenant_id: None,
                attributes: Some(
                    [("person_type", "natural"), ("document_type", "dni")]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect(),
                ),
            },
        )
        .unwrap();
    assert_eq!(made.attributes.len(), 2);
    let changed = h
        .core
        .accounts
        .update_user(
            &admin,
            made.id,
            set_attributes(&[
                ("document_number", Some("12345678")),
                ("document_type", None),
            ]),
        )
        .unwrap();
    let now: Vec<(&str, &str)> = changed.attributes.iter().collect();
    assert_eq!(
        now,
        [("document_number", "12345678"), ("person_type", "natural")]
    );
    let read = h.core.accounts.get_user(&admin, made.id).unwrap();
    assert_eq!(read.attributes, changed.attributes);
    // The audit names what changed, never a value.
    let entry = h
        .audit_entries()
        .into_iter()
        .find(|e| e.event == Event::UserUpdated)
        .unwrap();
    assert!(entry
        .details
        .contains(&("attributes".into(), "document_number,document_type".into())));
    assert!(!entry.details.iter().any(|(_, v)| v.contains("12345678")));
}

#[test]
fn attributes_that_break_a_rule_are_named_and_nothing_is_written() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let many: Vec<(String, Option<&str>)> = (0..32).map(|i| (format!("a{i}"), Some("v"))).collect();
    let many: Vec<(&str, Option<&str>)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    h.core
        .accounts
        .update_user(&admin, alice, set_attributes(&many))
        .unwrap();
    let refused = |update: UpdateUser| {
        super::support::fields(
            &h.core
                .accounts
                .update_user(&admin, alice, update)
                .unwrap_err(),
        )
    };
    assert_eq!(
        refused(set_attributes(&[("one_more", Some("v"))])),
        [("attributes".to_owned(), vec!["too_many"])]
    );
    assert_eq!(
        refused(set_attributes(&[("Bad Name", Some("v"))])),
        [("attributes".to_owned(), vec!["invalid_name"])]
    );
    assert_eq!(
        refused(set_attributes(&[("a0", Some("line\nbreak"))])),
        [("attributes".to_owned(), vec!["invalid_characters"])]
    );
    // Making room first works.
    let swapped = h
        .core
        .accounts
        .update_user(
            &admin,
            alice,
            set_attributes(&[("a0", None), ("one_more", Some("v"))]),
        )
        .unwrap();
    assert_eq!(swapped.attributes.len(), 32);
    assert_eq!(swapped.attributes.get("a0"), None);
    assert_eq!(swapped.attributes.get("a1"), Some("v"));
}

#[test]
fn users_do_not_set_their_own_attributes() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    assert!(matches!(
        h.core
            .accounts
            .update_user(&me, alice, set_attributes(&[("person_type", Some("x"))])),
        Err(UserError::Forbidden(_))
    ));
    // Nor even clear one, but they read them.
    h.core
        .accounts
        .update_user(
            &admin,
            alice,
            set_attributes(&[("person_type", Some("natural"))]),
        )
        .unwrap();
    assert!(matches!(
        h.core
            .accounts
            .update_user(&me, alice, set_attributes(&[("person_type", None)])),
        Err(UserError::Forbidden(_))
    ));
    let mine = h.core.accounts.get_user(&me, alice).unwrap();
    assert_eq!(mine.attributes.get("person_type"), Some("natural"));
}

/// A change of the username alone.
fn rename(to: &str) -> UpdateUser {
    UpdateUser {
        username: Some(to.into()),
        ..UpdateUser::default()
    }
}

#[test]
fn admins_rename_users_who_then_log_in_by_the_new_name_only() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    create_with(&h, &admin, "bob", &["user"], None);
    let before = super::support::jwt_login(&h, "alice", USER_PW, None);
    let renamed = h
        .core
        .accounts
        .update_user(&admin, alice, rename("Alicia"))
        .unwrap();
    assert_eq!(renamed.username.as_str(), "Alicia");
    assert!(matches!(
        login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt),
        Err(AuthError::InvalidCredentials)
    ));
    let again = caller(&h, "ALICIA", USER_PW);
    assert_eq!((again.user_id, again.username.as_str()), (alice, "Alicia"));
    // The session she had stays: its token names her by id, and by the name it was issued with.
    let me = h.core.gate.authenticate_jwt(&before.access_token).unwrap();
    assert_eq!((me.user_id, me.username.as_str()), (alice, "alice"));
    let read = h.core.accounts.get_user(&me, alice).unwrap();
    assert_eq!(read.username.as_str(), "Alicia");
    let record = h
        .audit_entries()
        .into_iter()
        .find(|e| e.event == Event::UserUpdated)
        .unwrap();
    assert!(record
        .details
        .contains(&("changed".into(), "username".into())));

    // Another user's name, in any case, is taken; her own in another case is hers.
    assert!(matches!(
        h.core.accounts.update_user(&admin, alice, rename("BOB")),
        Err(UserError::Duplicate { field: "username" })
    ));
    let recased = h
        .core
        .accounts
        .update_user(&admin, alice, rename("alicia"))
        .unwrap();
    assert_eq!(recased.username.as_str(), "alicia");
    // Names are unique within a tenant: a tenant's user's name is free among the global users.
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    create_with(&h, &admin, "carol", &["user"], Some(acme));
    let moved = h
        .core
        .accounts
        .update_user(&admin, alice, rename("Carol"))
        .unwrap();
    assert_eq!(moved.username.as_str(), "Carol");

    // A name the rules refuse is named under `username`, and nothing changes.
    let refused = h
        .core
        .accounts
        .update_user(&admin, alice, rename("a b"))
        .unwrap_err();
    assert_eq!(
        super::support::fields(&refused),
        [("username".to_owned(), vec!["invalid_characters"])]
    );
    assert_eq!(
        h.core
            .accounts
            .get_user(&admin, alice)
            .unwrap()
            .username
            .as_str(),
        "Carol"
    );
}

#[test]
fn users_do_not_rename_themselves() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    for to in ["alicia", "alice"] {
        let mut update = rename(to);
        update.display_name = Some(Some("Alice".into()));
        assert!(matches!(
            h.core.accounts.update_user(&me, alice, update),
            Err(UserError::Forbidden(_))
        ));
    }
    let mine = h.core.accounts.get_user(&me, alice).unwrap();
    assert_eq!(mine.username.as_str(), "alice");
    assert_eq!(mine.display_name, None);
    assert!(login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt).is_ok());
}

#[test]
fn an_admin_lifts_a_lockout() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    for _ in 0..5 {
        let _ = login_kind(&h, "alice", "wrong password", None, SessionKind::Jwt);
    }
    assert!(matches!(
        login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt),
        Err(AuthError::Locked { .. })
    ));
    assert!(matches!(
        h.core.accounts.unlock_user(&me, alice),
        Err(UserError::Forbidden(_))
    ));
    h.core.accounts.unlock_user(&admin, alice).unwrap();
    assert!(login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt).is_ok());
    // The count starts again from nothing.
    for _ in 0..4 {
        assert!(matches!(
            login_kind(&h, "alice", "wrong password", None, SessionKind::Jwt),
            Err(AuthError::InvalidCredentials)
        ));
    }
}

#[test]
fn admins_find_a_user_by_login_name_in_their_tenant() {
    let (h, admin) = setup();
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let other = create_with(&h, &admin, "alice", &["user"], Some(acme));
    let a = &h.core.accounts;
    assert_eq!(a.user_named(&admin, "ALICE", None).unwrap().id, alice);
    assert_eq!(
        a.user_named(&admin, "alice@example.com", None).unwrap().id,
        alice
    );
    assert_eq!(
        a.user_named(&admin, "alice", Some("acme")).unwrap().id,
        other
    );
    assert!(matches!(
        a.user_named(&admin, "alice", Some("nowhere")),
        Err(UserError::NotFound)
    ));
    assert!(matches!(
        a.user_named(&admin, "nobody", None),
        Err(UserError::NotFound)
    ));
    let me = caller(&h, "alice", USER_PW);
    // Someone who may not administer users learns nothing of which names exist.
    for name in ["alice", "admin", "nobody"] {
        assert!(
            matches!(a.user_named(&me, name, None), Err(UserError::Forbidden(_))),
            "{name}"
        );
    }
}

#[test]
fn an_admins_password_reset_deletes_the_api_keys_and_a_users_own_change_keeps_them() {
    use crate::credentials::CreateApiKey;
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    let new_key = |h: &crate::fakes::Harness| {
        h.core
            .credentials
            .create_api_key(
                &me,
                alice,
                CreateApiKey {
                    name: "laptop".into(),
                    scopes: None,
                    expires_at: None,
                },
            )
            .unwrap()
            .secret
    };
    let works = |h: &crate::fakes::Harness, key: &crate::token::PlainToken| {
        h.core
            .gate
            .authenticate_credential(key.expose(), false)
            .is_ok()
    };
    let change = |actor: &Principal, current: Option<&str>, new: &str, end: bool| {
        h.core.accounts.change_password(
            actor,
            alice,
            current.map(|c| Password::new(c.into())),
            Password::new(new.into()),
            end,
        )
    };

    // The user's own change keeps the key, unless asked.
    let key = new_key(&h);
    change(&me, Some(USER_PW), "a second long password", false).unwrap();
    assert!(works(&h, &key));
    let me = caller(&h, "alice", "a second long password");
    change(
        &me,
        Some("a second long password"),
        "a third long password",
        true,
    )
    .unwrap();
    assert!(!works(&h, &key), "asked to, the change deletes the key");

    // An admin's reset deletes every key of the user.
    let (one, two) = (new_key(&h), new_key(&h));
    change(&admin, None, "an admin chose this one", false).unwrap();
    assert!(!works(&h, &one) && !works(&h, &two));
    assert!(h
        .core
        .credentials
        .list_api_keys(&admin, alice)
        .unwrap()
        .is_empty());
}
