//! Importing a whole access model with its ids: what is written, every rule a row can break
//! (named by its label, with nothing written), admins, and a store that already holds something.

use std::collections::BTreeMap;

use super::setup;
use super::support::{caller, create_with, entry, jwt_login, USER_PW};
use crate::access::Kind;
use crate::audit::Event;
use crate::error::{TokenError, UserError};
use crate::fakes::{fake_bcrypt, harness, Harness};
use crate::model_import::{
    ImportedDirectGrant, ImportedEntry, ImportedGrant, ImportedLink, ImportedPerson, ModelImport,
    ModelImportError, ModelImported,
};
use crate::password::PasswordHash;
use crate::ports::{AccessRepository, UserRepository};
use crate::principal::Principal;
use crate::user::{LoginName, UserId};
use crate::users::CreateUser;

fn person(id: i64, username: &str) -> ImportedPerson {
    let attributes: BTreeMap<String, String> = [
        ("person_type", "N".to_owned()),
        ("document_type", "DNI".to_owned()),
        ("document_number", format!("{id:08}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    ImportedPerson {
        id,
        source: format!("auth.person id {id} (username {username:?})"),
        username: username.into(),
        password_hash: fake_bcrypt(&format!("{username}-hash")),
        display_name: Some(format!("{username} Demo")),
        attributes,
        removed: false,
    }
}

fn entry_row(table: &str, id: i64, name: &str) -> ImportedEntry {
    ImportedEntry {
        id,
        source: format!("auth.{table} id {id} ({name:?})"),
        name: name.into(),
        description: None,
        active: true,
    }
}

fn link(table: &str, id: i64, left: i64, right: i64) -> ImportedLink {
    ImportedLink {
        source: format!("auth.{table} id {id}"),
        left,
        right,
    }
}

fn grant(id: i64, person: i64, service: i64, role: i64) -> ImportedGrant {
    ImportedGrant {
        source: format!("auth.person_service_role id {id}"),
        person,
        service,
        role,
    }
}

fn direct(id: i64, person: i64, service: i64, permission: i64) -> ImportedDirectGrant {
    ImportedDirectGrant {
        source: format!("auth.person_service_role id {id}"),
        person,
        service,
        permission,
    }
}

/// alice (5), bob (9) and carl (12, removed); billing (3) offering viewer (2: read) and editor
/// (4: read, write), crm (8, disabled); share (11) in no role. alice is a viewer in billing, bob
/// may share there directly; carl's editor grant and direct share are skipped with him.
fn model() -> ModelImport {
    let mut carl = person(12, "carl");
    carl.removed = true;
    let mut crm = entry_row("services", 8, "crm");
    crm.active = false;
    crm.description = Some("Customers".into());
    ModelImport {
        people: vec![person(5, "alice"), person(9, "bob"), carl],
        services: vec![entry_row("services", 3, "billing"), crm],
        roles: vec![
            entry_row("role", 2, "viewer"),
            entry_row("role", 4, "editor"),
        ],
        permissions: vec![
            entry_row("permission", 6, "read"),
            entry_row("permission", 7, "write"),
            entry_row("permission", 11, "share"),
        ],
        role_permissions: vec![
            link("role_permission", 1, 2, 6),
            link("role_permission", 2, 4, 6),
            link("role_permission", 3, 4, 7),
        ],
        service_roles: vec![
            link("service_roles", 1, 3, 2),
            link("service_roles", 2, 3, 4),
        ],
        grants: vec![grant(1, 5, 3, 2), grant(2, 12, 3, 4)],
        direct_grants: vec![direct(3, 9, 3, 11), direct(4, 12, 3, 11)],
    }
}

fn import(
    h: &Harness,
    model: ModelImport,
    admins: &[&str],
    replace: bool,
) -> Result<ModelImported, ModelImportError> {
    let admins: Vec<String> = admins.iter().map(|a| (*a).to_owned()).collect();
    h.core
        .accounts
        .import_model(&Principal::system(), model, &admins, replace)
}

/// Nothing of a model is in the store.
fn assert_untouched(h: &Harness) {
    assert_eq!(h.store.count_users().unwrap(), 0);
    for kind in [Kind::Service, Kind::Role, Kind::Permission] {
        assert!(h.store.list_entries(kind, None, 10).unwrap().is_empty());
    }
}

#[test]
fn a_model_keeps_its_ids_and_its_people_log_in_with_their_old_passwords() {
    let h = harness();
    let report = import(&h, model(), &["ALICE"], false).unwrap();
    assert_eq!(
        report,
        ModelImported {
            people: 2,
            skipped_people: 1,
            skipped_grants: 2,
            services: 2,
            roles: 2,
            permissions: 3,
            role_permissions: 3,
            service_roles: 2,
            grants: 1,
            direct_grants: 1,
            admins: 1,
            replaced: false,
        }
    );

    let alice = h.store.get_user(UserId(5)).unwrap().unwrap();
    assert_eq!(alice.username.as_str(), "alice");
    assert_eq!(
        alice.display_name.as_ref().map(|d| d.as_str()),
        Some("alice Demo")
    );
    let roles: Vec<&str> = alice.roles.iter().map(|r| r.as_str()).collect();
    assert_eq!(roles, ["admin", "user"]);
    assert_eq!(alice.attributes.get("document_number"), Some("00000005"));
    assert_eq!(alice.attributes.get("person_type"), Some("N"));
    assert_eq!(alice.attributes.len(), 3);
    let bob = h.store.get_user(UserId(9)).unwrap().unwrap();
    let roles: Vec<&str> = bob.roles.iter().map(|r| r.as_str()).collect();
    assert_eq!(roles, ["user"], "nobody else gains a right");
    assert!(h.store.get_user(UserId(12)).unwrap().is_none(), "removed");

    let ids = |kind| -> Vec<(i64, String, bool)> {
        h.store
            .list_entries(kind, None, 10)
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.name, e.active))
            .collect()
    };
    assert_eq!(
        ids(Kind::Service),
        [(3, "billing".into(), true), (8, "crm".into(), false)]
    );
    assert_eq!(
        ids(Kind::Role),
        [(2, "viewer".into(), true), (4, "editor".into(), true)]
    );
    assert_eq!(ids(Kind::Permission).len(), 3);
    assert_eq!(
        h.store
            .get_entry(Kind::Service, 8)
            .unwrap()
            .unwrap()
            .description,
        Some("Customers".into())
    );
    assert_eq!(
        h.store.effective_permissions(UserId(5), 3).unwrap(),
        ["read"]
    );
    // The direct grant: a permission, and no visible role.
    assert_eq!(
        h.store.effective_permissions(UserId(9), 3).unwrap(),
        ["share"]
    );
    assert!(h.store.person_roles(UserId(9), 3).unwrap().is_empty());

    // The old hash logs in once and is replaced by one of Tessera's own.
    let admin = caller(&h, "alice", "alice-hash");
    let (_, stored) = h.store.user_credentials(UserId(5)).unwrap().unwrap();
    assert_eq!(stored.as_str(), "plain:alice-hash");
    assert!(admin.is_admin());

    // Later rows get ids of their own: past the removed person's, past the hidden role's.
    let dave = create_with(&h, &admin, "dave", &["user"], None);
    assert!(dave.0 > 12, "{dave:?}");
    let role = entry(&h, &admin, Kind::Role, "auditor");
    assert!(role.id > 4);

    let audit = h
        .audit_entries()
        .into_iter()
        .find(|e| e.event == Event::ModelImported)
        .unwrap();
    assert!(audit.details.contains(&("people".into(), "2".into())));
    assert!(audit.details.contains(&("admins".into(), "alice".into())));
}

#[test]
fn a_row_that_breaks_a_rule_is_named_and_nothing_is_written() {
    let h = harness();
    let alice = r#"auth.person id 5 (username "alice")"#;
    let bob = r#"auth.person id 9 (username "bob")"#;
    let (crm, billing) = (
        r#"auth.services id 8 ("crm")"#,
        r#"auth.services id 3 ("billing")"#,
    );
    for case in 0..14 {
        let mut m = model();
        let message = match case {
            0 => {
                m.people[0].username = "x y".into();
                format!("{alice}: username: invalid_characters")
            }
            1 => {
                m.people[1].username = "ALICE".into();
                format!("{bob}: username: duplicate (the same as {alice})")
            }
            2 => {
                m.people[1].password_hash = PasswordHash::new("md5:0123".into());
                format!("{bob}: password_hash: not_bcrypt")
            }
            3 => {
                m.people[0].attributes.insert("Bad Name".into(), "v".into());
                format!("{alice}: attributes: invalid_name")
            }
            4 => {
                m.people[0].display_name = Some("\u{7}".into());
                format!("{alice}: display_name: invalid_characters")
            }
            5 => {
                m.people[1].id = 5;
                format!("{bob}: id: duplicate (the same as {alice})")
            }
            6 => {
                m.services[1].name = "billing".into();
                format!("{crm}: name: duplicate (the same as {billing})")
            }
            7 => {
                m.roles[0].name = "~hidden".into();
                let rules = "invalid_characters, must_start_with_letter_or_digit";
                format!(r#"auth.role id 2 ("viewer"): name: {rules}"#)
            }
            8 => {
                m.roles[0].active = false;
                r#"auth.role id 2 ("viewer"): active: only_for_services"#.to_owned()
            }
            9 => {
                m.role_permissions[0].right = 99;
                "auth.role_permission id 1: permission: not_found".to_owned()
            }
            10 => {
                m.service_roles[0].left = 99;
                "auth.service_roles id 1: service: not_found".to_owned()
            }
            11 => {
                m.grants[0].person = 99;
                "auth.person_service_role id 1: person: not_found".to_owned()
            }
            12 => {
                // billing no longer offers editor.
                m.service_roles.truncate(1);
                m.grants[0].role = 4;
                "auth.person_service_role id 1: role: not_offered_by_service".to_owned()
            }
            _ => {
                m.direct_grants[0].permission = 99;
                "auth.person_service_role id 3: permission: not_found".to_owned()
            }
        };
        let e = import(&h, m, &["alice"], false).unwrap_err();
        assert!(matches!(e, ModelImportError::Row(_)), "{case}: {e:?}");
        assert_eq!(e.to_string(), message, "{case}");
        assert_untouched(&h);
    }
    for admin in ["nobody", "carl"] {
        let e = import(&h, model(), &[admin], false).unwrap_err();
        assert!(
            matches!(&e, ModelImportError::UnknownAdmin(name) if name == admin),
            "{e:?}"
        );
        assert_untouched(&h);
    }
}

#[test]
fn a_store_that_holds_anything_is_refused_unless_replaced() {
    let (h, admin) = setup();
    let legacy = entry(&h, &admin, Kind::Service, "legacy").id;
    let token = jwt_login(&h, "admin", super::ADMIN_PW, None);
    let e = import(&h, model(), &["alice"], false).unwrap_err();
    assert!(matches!(e, ModelImportError::NotEmpty), "{e:?}");
    // Replacing every admin with none would leave Tessera without one.
    let e = import(&h, model(), &[], true).unwrap_err();
    assert!(matches!(e, ModelImportError::NoAdmin), "{e:?}");
    assert_eq!(h.store.count_users().unwrap(), 1);
    assert!(h.core.gate.authenticate_jwt(&token.access_token).is_ok());

    let report = import(&h, model(), &["alice"], true).unwrap();
    assert!(report.replaced);
    assert_eq!(report.people, 2);
    // What the store held is gone, and so are the sessions of its users.
    assert!(h
        .store
        .find_credentials(None, &LoginName::Username("admin".into()))
        .unwrap()
        .is_none());
    assert!(h.store.get_entry(Kind::Service, legacy).unwrap().is_none());
    assert_eq!(
        h.core.gate.authenticate_jwt(&token.access_token),
        Err(TokenError::Revoked)
    );
    assert_eq!(h.store.count_users().unwrap(), 2);
    assert!(caller(&h, "alice", "alice-hash").is_admin());
}

#[test]
fn only_global_admins_import() {
    let (h, admin) = setup();
    create_with(&h, &admin, "erin", &["user"], None);
    let erin = caller(&h, "erin", USER_PW);
    let e = h
        .core
        .accounts
        .import_model(&erin, model(), &[], true)
        .unwrap_err();
    assert!(
        matches!(e, ModelImportError::Failed(UserError::Forbidden(_))),
        "{e:?}"
    );
    // A user of a tenant with the admin role is no global admin either.
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    h.core
        .accounts
        .create_user(
            &admin,
            CreateUser {
                username: "tina".into(),
                password: crate::password::Password::new(USER_PW.into()),
                email: None,
                display_name: None,
                roles: Some(vec!["admin".into()]),
                active: None,
                tenant_id: Some(acme),
                attributes: None,
            },
        )
        .unwrap();
    let tina = super::support::principal(
        &h,
        &jwt_login(&h, "tina", USER_PW, Some("acme")).access_token,
    );
    assert!(matches!(
        h.core.accounts.import_model(&tina, model(), &[], true),
        Err(ModelImportError::Failed(UserError::Forbidden(_)))
    ));
    assert_eq!(h.store.count_users().unwrap(), 3, "nothing was written");
}
