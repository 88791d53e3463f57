//! The access model: grants of roles and of single permissions, effective permissions, revoking,
//! and what deleting a service, role or permission takes with it.

use super::setup;
use super::support::{
    audited, billing, caller, create_with, entry, fields, grant_both, Billing, USER_PW,
};
use crate::access::{EntryRequest, Kind, Link, PermissionRef, ServiceRef};
use crate::audit::{Event, Outcome};
use crate::error::UserError;
use crate::fakes::Harness;
use crate::principal::Principal;
use crate::user::UserId;

fn names(entries: &[crate::access::Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.name.as_str()).collect()
}

/// A person's visible roles and effective permissions in a service, as an admin reads them.
fn access_of(
    h: &Harness,
    admin: &Principal,
    person: UserId,
    service: i64,
) -> (Vec<String>, Vec<String>) {
    let a = h.core.access.person_access(admin, person, service).unwrap();
    (a.roles.into_iter().map(|r| r.name).collect(), a.permissions)
}

#[test]
fn permissions_come_through_roles_and_direct_grants() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    assert_eq!(access_of(&h, &admin, alice, b.service), (vec![], vec![]));
    h.core
        .access
        .grant_role(&admin, alice, b.service, b.viewer)
        .unwrap();
    // Granting twice is not an error, and changes nothing.
    h.core
        .access
        .grant_role(&admin, alice, b.service, b.viewer)
        .unwrap();
    assert_eq!(
        access_of(&h, &admin, alice, b.service),
        (vec!["viewer".into()], vec!["invoices:read".into()])
    );

    // A direct grant goes through a hidden role that is never shown.
    h.core
        .access
        .grant_permission(
            &admin,
            alice,
            b.service,
            PermissionRef::Name("invoices:write".into()),
        )
        .unwrap();
    h.core
        .access
        .grant_permission(&admin, alice, b.service, PermissionRef::Id(b.read))
        .unwrap();
    assert_eq!(
        access_of(&h, &admin, alice, b.service),
        (
            vec!["viewer".into()],
            vec!["invoices:read".into(), "invoices:write".into()]
        )
    );
    let roles = h
        .core
        .access
        .list_entries(&admin, Kind::Role, None, None)
        .unwrap();
    assert_eq!(names(&roles.items), ["viewer"]);
    let offered = h
        .core
        .access
        .linked(&admin, Link::ServiceRole, b.service)
        .unwrap();
    assert_eq!(names(&offered), ["viewer"]);
    assert_eq!(
        h.ports
            .access
            .effective_permissions(alice, b.service)
            .unwrap(),
        ["invoices:read", "invoices:write"]
    );
    assert_eq!(
        names(&h.core.access.person_services(&admin, alice).unwrap()),
        ["billing"]
    );
    assert_eq!(audited(&h, Event::GrantAdded, Outcome::Success), 4);

    // Grants in one service do not leak into another.
    let shop = entry(&h, &admin, Kind::Service, "shop").id;
    assert_eq!(access_of(&h, &admin, alice, shop), (vec![], vec![]));
    h.core
        .access
        .grant_permission(&admin, alice, shop, PermissionRef::Id(b.write))
        .unwrap();
    assert_eq!(
        access_of(&h, &admin, alice, shop),
        (vec![], vec!["invoices:write".into()])
    );
    assert_eq!(
        names(&h.core.access.person_services(&admin, alice).unwrap()),
        ["billing", "shop"]
    );
    // Nor into another person.
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    assert_eq!(access_of(&h, &admin, bob, b.service), (vec![], vec![]));
    assert!(h
        .core
        .access
        .person_services(&admin, bob)
        .unwrap()
        .is_empty());
}

#[test]
fn a_role_grant_follows_the_roles_permissions() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    h.core
        .access
        .grant_role(&admin, alice, b.service, b.viewer)
        .unwrap();
    h.core
        .access
        .link(&admin, Link::RolePermission, b.viewer, b.write)
        .unwrap();
    assert_eq!(
        access_of(&h, &admin, alice, b.service).1,
        ["invoices:read", "invoices:write"]
    );
    h.core
        .access
        .unlink(&admin, Link::RolePermission, b.viewer, b.read)
        .unwrap();
    assert_eq!(
        access_of(&h, &admin, alice, b.service).1,
        ["invoices:write"]
    );
    assert!(matches!(
        h.core
            .access
            .unlink(&admin, Link::RolePermission, b.viewer, b.read),
        Err(UserError::NotFound)
    ));
}

#[test]
fn bad_grants_name_the_field_and_write_nothing() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let other = entry(&h, &admin, Kind::Role, "other").id;
    let a = &h.core.access;
    let check = |r: Result<(), UserError>, field: &str, rule: &str| {
        let err = r.unwrap_err();
        assert_eq!(fields(&err), [(field.to_owned(), vec![rule])], "{err:?}");
    };
    check(
        a.grant_role(&admin, alice, b.service, other),
        "role",
        "not_offered_by_service",
    );
    check(
        a.grant_role(&admin, UserId(9999), b.service, b.viewer),
        "person",
        "not_found",
    );
    check(
        a.grant_role(&admin, alice, 9999, b.viewer),
        "service",
        "not_found",
    );
    check(
        a.grant_role(&admin, alice, b.service, 9999),
        "role",
        "not_found",
    );
    for name in ["nope", "~1/1", ""] {
        check(
            a.grant_permission(&admin, alice, b.service, PermissionRef::Name(name.into())),
            "permission",
            "not_found",
        );
    }
    check(
        a.grant_permission(&admin, alice, b.service, PermissionRef::Id(9999)),
        "permission",
        "not_found",
    );
    check(
        a.grant_permission(&admin, alice, 9999, PermissionRef::Id(b.read)),
        "service",
        "not_found",
    );
    assert!(a.person_services(&admin, alice).unwrap().is_empty());
    assert_eq!(access_of(&h, &admin, alice, b.service), (vec![], vec![]));
    assert_eq!(audited(&h, Event::GrantAdded, Outcome::Success), 0);
}

#[test]
fn revoking_a_role_removes_what_it_gave() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    grant_both(&h, &admin, &b, alice);
    let me = caller(&h, "alice", USER_PW);
    assert!(matches!(
        h.core.access.revoke_role(&me, alice, b.service, b.viewer),
        Err(UserError::Forbidden(_))
    ));
    h.core
        .access
        .revoke_role(&admin, alice, b.service, b.viewer)
        .unwrap();
    // The direct grant stays.
    assert_eq!(
        access_of(&h, &admin, alice, b.service),
        (vec![], vec!["invoices:write".into()])
    );
    assert!(matches!(
        h.core
            .access
            .revoke_role(&admin, alice, b.service, b.viewer),
        Err(UserError::NotFound)
    ));
    assert_eq!(audited(&h, Event::GrantRemoved, Outcome::Success), 1);
}

#[test]
fn deleting_a_service_removes_its_grants_and_hidden_roles() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    grant_both(&h, &admin, &b, alice);
    let shop = entry(&h, &admin, Kind::Service, "shop").id;
    h.core
        .access
        .link(&admin, Link::ServiceRole, shop, b.viewer)
        .unwrap();
    h.core
        .access
        .grant_role(&admin, alice, shop, b.viewer)
        .unwrap();

    h.core
        .access
        .delete_entry(&admin, Kind::Service, b.service)
        .unwrap();
    assert!(h
        .ports
        .access
        .effective_permissions(alice, b.service)
        .unwrap()
        .is_empty());
    assert!(h
        .ports
        .access
        .person_roles(alice, b.service)
        .unwrap()
        .is_empty());
    assert!(matches!(
        h.core.access.person_access(&admin, alice, b.service),
        Err(UserError::NotFound)
    ));
    assert_eq!(
        names(&h.core.access.person_services(&admin, alice).unwrap()),
        ["shop"]
    );
    // The role and its grant in the other service stay.
    assert_eq!(
        access_of(&h, &admin, alice, shop),
        (vec!["viewer".into()], vec!["invoices:read".into()])
    );
    // A new service of the same name starts empty.
    let again = entry(&h, &admin, Kind::Service, "billing").id;
    assert_ne!(again, b.service);
    assert_eq!(access_of(&h, &admin, alice, again), (vec![], vec![]));
    assert!(matches!(
        h.core.access.delete_entry(&admin, Kind::Service, b.service),
        Err(UserError::NotFound)
    ));
}

#[test]
fn deleting_a_role_or_a_permission_removes_it_from_every_grant() {
    let (h, admin) = setup();
    let Billing {
        service,
        viewer,
        write,
        ..
    } = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    h.core
        .access
        .grant_role(&admin, alice, service, viewer)
        .unwrap();
    h.core
        .access
        .grant_permission(&admin, alice, service, PermissionRef::Id(write))
        .unwrap();
    h.core
        .access
        .delete_entry(&admin, Kind::Permission, write)
        .unwrap();
    assert_eq!(
        access_of(&h, &admin, alice, service),
        (vec!["viewer".into()], vec!["invoices:read".into()])
    );
    h.core
        .access
        .delete_entry(&admin, Kind::Role, viewer)
        .unwrap();
    assert_eq!(access_of(&h, &admin, alice, service), (vec![], vec![]));
    assert!(h
        .core
        .access
        .linked(&admin, Link::ServiceRole, service)
        .unwrap()
        .is_empty());
    assert!(h.core.access.role_people(&admin, service, viewer).is_err());
}

#[test]
fn deleting_a_person_removes_their_grants() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    grant_both(&h, &admin, &b, alice);
    h.core
        .access
        .grant_role(&admin, bob, b.service, b.viewer)
        .unwrap();
    let people = |h: &Harness| {
        h.core
            .access
            .role_people(&admin, b.service, b.viewer)
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(people(&h), [alice, bob]);
    h.core.accounts.delete_user(&admin, alice).unwrap();
    assert_eq!(people(&h), [bob]);
    assert!(h
        .ports
        .access
        .effective_permissions(alice, b.service)
        .unwrap()
        .is_empty());
}

#[test]
fn people_read_their_own_access_and_only_admins_change_the_model() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    grant_both(&h, &admin, &b, alice);
    let me = caller(&h, "alice", USER_PW);
    let a = h.core.access.person_access(&me, alice, b.service).unwrap();
    assert_eq!(a.permissions.len(), 2);
    assert_eq!(h.core.access.person_services(&me, alice).unwrap().len(), 1);
    let forbidden = |r: Result<(), UserError>| {
        assert!(matches!(r, Err(UserError::Forbidden(_))), "{r:?}");
    };
    forbidden(h.core.access.person_access(&me, bob, b.service).map(|_| ()));
    forbidden(h.core.access.person_services(&me, bob).map(|_| ()));
    forbidden(h.core.access.grant_role(&me, alice, b.service, b.viewer));
    forbidden(
        h.core
            .access
            .grant_permission(&me, alice, b.service, PermissionRef::Id(b.read)),
    );
    forbidden(
        h.core
            .access
            .create_entry(
                &me,
                Kind::Service,
                &EntryRequest {
                    name: "mine".into(),
                    ..Default::default()
                },
            )
            .map(|_| ()),
    );
    forbidden(h.core.access.delete_entry(&me, Kind::Service, b.service));
    forbidden(
        h.core
            .access
            .list_entries(&me, Kind::Service, None, None)
            .map(|_| ()),
    );
    forbidden(
        h.core
            .access
            .get_entry(&me, Kind::Permission, b.read)
            .map(|_| ()),
    );
    forbidden(
        h.core
            .access
            .role_people(&me, b.service, b.viewer)
            .map(|_| ()),
    );
    forbidden(
        h.core
            .access
            .link(&me, Link::ServiceRole, b.service, b.viewer),
    );
}

#[test]
fn a_disabled_service_stays_disabled_when_renamed_without_active() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let update = |name: &str, active: Option<bool>| {
        h.core
            .access
            .update_entry(
                &admin,
                Kind::Service,
                b.service,
                &EntryRequest {
                    name: name.into(),
                    description: None,
                    active,
                },
            )
            .unwrap()
    };
    assert!(!update("billing", Some(false)).active);
    let renamed = update("invoicing", None);
    assert_eq!(renamed.name, "invoicing");
    assert!(!renamed.active);
    assert!(update("invoicing", Some(true)).active);
    assert!(update("billing", None).active);
    assert!(matches!(
        h.core.access.create_entry(
            &admin,
            Kind::Service,
            &EntryRequest {
                name: "billing".into(),
                ..Default::default()
            }
        ),
        Err(UserError::Duplicate { field: "name" })
    ));
}

#[test]
fn entries_are_found_by_name_and_a_person_reads_their_access_by_the_services_name() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let found = h
        .core
        .access
        .entry_named(&admin, Kind::Permission, "invoices:write")
        .unwrap();
    assert_eq!(found.id, b.write);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    grant_both(&h, &admin, &b, alice);
    // A hidden role's name (`~person/service`) is no name: it is never found.
    let hidden = format!("~{}/{}", alice.0, b.service);
    for missing in ["nothing", "", "trailing ", hidden.as_str()] {
        assert!(
            matches!(
                h.core.access.entry_named(&admin, Kind::Role, missing),
                Err(UserError::NotFound)
            ),
            "{missing:?}"
        );
    }
    let me = caller(&h, "alice", USER_PW);
    // Reading the model by name is for admins, as reading it by id.
    assert!(matches!(
        h.core.access.entry_named(&me, Kind::Service, "billing"),
        Err(UserError::Forbidden(_))
    ));
    let by_name = h
        .core
        .access
        .person_access_in(&me, alice, &ServiceRef::Name("billing".into()))
        .unwrap();
    let by_id = h
        .core
        .access
        .person_access_in(&me, alice, &ServiceRef::Id(b.service))
        .unwrap();
    assert_eq!(by_name.service.id, b.service);
    assert_eq!(by_name.permissions, by_id.permissions);
    assert_eq!(by_name.roles, by_id.roles);
    assert!(matches!(
        h.core
            .access
            .person_access_in(&me, alice, &ServiceRef::Name("crm".into())),
        Err(UserError::NotFound)
    ));
    assert!(matches!(
        h.core
            .access
            .person_access_in(&me, bob, &ServiceRef::Name("billing".into())),
        Err(UserError::Forbidden(_))
    ));
}
