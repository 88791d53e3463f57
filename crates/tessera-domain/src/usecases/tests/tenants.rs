//! Tenants: usernames unique per tenant, logins that name their tenant, and tenant admins who
//! see and manage their own tenant's users and nothing else.

use super::setup;
use super::support::{
    billing, create_with, entry, jwt_login, login_kind, principal, Billing, USER_PW,
};
use crate::access::{EntryRequest, Kind, Link};
use crate::audit::AuditQuery;
use crate::credentials::CreateApiKey;
use crate::error::{AuthError, UserError};
use crate::fakes::Harness;
use crate::issuer::SessionKind;
use crate::password::Password;
use crate::principal::Principal;
use crate::user::{TenantId, UserId};
use crate::users::{CreateUser, UpdateUser};

struct World {
    h: Harness,
    admin: Principal,
    acme: i64,
    globex: i64,
    /// Acme's admin, logged in.
    ann: Principal,
    /// A user of acme.
    carl: UserId,
    /// A user of globex.
    gus: UserId,
    /// A global user.
    glen: UserId,
}

fn world() -> World {
    let (h, admin) = setup();
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    let globex = entry(&h, &admin, Kind::Tenant, "globex").id;
    create_with(&h, &admin, "ann", &["admin", "user"], Some(acme));
    let carl = create_with(&h, &admin, "carl", &["user"], Some(acme));
    let gus = create_with(&h, &admin, "gus", &["user"], Some(globex));
    let glen = create_with(&h, &admin, "glen", &["user"], None);
    let ann = principal(
        &h,
        &jwt_login(&h, "ann", USER_PW, Some("acme")).access_token,
    );
    World {
        h,
        admin,
        acme,
        globex,
        ann,
        carl,
        gus,
        glen,
    }
}

fn not_found<T: std::fmt::Debug>(r: Result<T, UserError>) {
    assert!(matches!(r, Err(UserError::NotFound)), "{r:?}");
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, UserError>) {
    assert!(matches!(r, Err(UserError::Forbidden(_))), "{r:?}");
}

#[test]
fn usernames_are_unique_per_tenant_and_a_login_names_its_tenant() {
    let w = world();
    let (h, admin) = (&w.h, &w.admin);
    let in_acme = create_with(h, admin, "sam", &["user"], Some(w.acme));
    let in_globex = create_with(h, admin, "sam", &["user"], Some(w.globex));
    let global = create_with(h, admin, "sam", &["user"], None);
    assert!(matches!(
        h.core.accounts.create_user(
            admin,
            CreateUser {
                username: "SAM".into(),
                password: Password::new(USER_PW.into()),
                email: None,
                display_name: None,
                roles: None,
                active: None,
                tenant_id: Some(w.acme),
                attributes: None,
            }
        ),
        Err(UserError::Duplicate { field: "username" })
    ));
    for (tenant, id) in [
        (Some("acme"), in_acme),
        (Some("globex"), in_globex),
        (None, global),
    ] {
        let p = principal(h, &jwt_login(h, "sam", USER_PW, tenant).access_token);
        assert_eq!(p.user_id, id);
    }
    let p = principal(h, &jwt_login(h, "sam", USER_PW, Some("acme")).access_token);
    assert_eq!(p.tenant_id, Some(TenantId(w.acme)));
    assert!(!p.is_admin() && !p.is_tenant_admin());
    assert!(w.ann.is_tenant_admin() && !w.ann.is_admin());
    // A tenant's user is not found among the global users, nor in an unknown tenant.
    assert!(matches!(
        login_kind(h, "carl", USER_PW, None, SessionKind::Jwt),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        login_kind(h, "carl", USER_PW, Some("nowhere"), SessionKind::Jwt),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        login_kind(h, "carl", USER_PW, Some("globex"), SessionKind::Jwt),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(login_kind(
        h,
        "carl@example.com",
        USER_PW,
        Some("acme"),
        SessionKind::Jwt
    )
    .is_ok());
}

#[test]
fn a_tenant_admin_lists_and_reads_their_tenant_only() {
    let w = world();
    let (h, ann) = (&w.h, &w.ann);
    let listed: Vec<_> = h
        .core
        .accounts
        .list_users(ann, None, None, None)
        .unwrap()
        .items
        .into_iter()
        .map(|u| u.username.as_str().to_owned())
        .collect();
    assert_eq!(listed, ["ann", "carl"]);
    assert_eq!(h.core.accounts.get_user(ann, w.carl).unwrap().id, w.carl);
    for other in [w.gus, w.glen, w.admin.user_id, UserId(9999)] {
        not_found(h.core.accounts.get_user(ann, other));
    }
    // A global admin sees everyone.
    assert_eq!(
        h.core
            .accounts
            .list_users(&w.admin, None, None, None)
            .unwrap()
            .items
            .len(),
        5
    );
}

#[test]
fn another_tenants_user_is_not_found_for_every_action() {
    let w = world();
    let (h, ann, gus) = (&w.h, &w.ann, w.gus);
    let pw = || Password::new("another long password".into());
    not_found(h.core.accounts.update_user(
        ann,
        gus,
        UpdateUser {
            display_name: Some(Some("Gus".into())),
            ..Default::default()
        },
    ));
    not_found(h.core.accounts.delete_user(ann, gus));
    not_found(h.core.accounts.change_password(ann, gus, None, pw(), false));
    not_found(h.core.accounts.unlock_user(ann, gus));
    not_found(h.core.accounts.user_named(ann, "gus", Some("globex")));
    not_found(h.core.accounts.user_named(ann, "glen", None));
    not_found(h.core.sessions.list_sessions(ann, gus));
    not_found(h.core.sessions.end_sessions(ann, gus));
    not_found(h.core.recovery.issue_password_reset(ann, gus));
    not_found(h.core.second_factor.reset_mfa(ann, gus));
    not_found(h.core.access.person_services(ann, gus));
    not_found(h.core.credentials.list_api_keys(ann, gus));
    not_found(h.core.credentials.create_api_key(
        ann,
        gus,
        CreateApiKey {
            name: "k".into(),
            scopes: None,
            expires_at: None,
        },
    ));
    // Their sessions and keys too.
    let gus_session = principal(
        h,
        &jwt_login(h, "gus", USER_PW, Some("globex")).access_token,
    )
    .session_id
    .unwrap();
    not_found(h.core.sessions.end_session(ann, gus_session));
    let key = h
        .core
        .credentials
        .create_api_key(
            &w.admin,
            gus,
            CreateApiKey {
                name: "k".into(),
                scopes: None,
                expires_at: None,
            },
        )
        .unwrap();
    not_found(h.core.credentials.delete_api_key(ann, key.key.id));
    // Nothing changed.
    assert!(h.core.accounts.get_user(&w.admin, gus).is_ok());
    assert!(h
        .core
        .gate
        .authenticate_credential(key.secret.expose(), true)
        .is_ok());
}

#[test]
fn a_tenant_admin_manages_their_tenants_users() {
    let w = world();
    let (h, ann, carl) = (&w.h, &w.ann, w.carl);
    h.core
        .accounts
        .update_user(
            ann,
            carl,
            UpdateUser {
                roles: Some(vec!["user".into(), "editor".into()]),
                ..Default::default()
            },
        )
        .unwrap();
    let changed = h
        .core
        .accounts
        .update_user(
            ann,
            carl,
            UpdateUser {
                attributes: Some(
                    [("person_type".to_owned(), Some("natural".to_owned()))]
                        .into_iter()
                        .collect(),
                ),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(changed.attributes.get("person_type"), Some("natural"));
    assert!(h.core.sessions.list_sessions(ann, carl).is_ok());
    assert!(h.core.recovery.issue_password_reset(ann, carl).is_ok());
    assert!(h.core.accounts.unlock_user(ann, carl).is_ok());
    assert_eq!(
        h.core
            .accounts
            .user_named(ann, "carl", Some("acme"))
            .unwrap()
            .id,
        carl
    );
    // New users land in the tenant; another tenant cannot be named.
    let made = h
        .core
        .accounts
        .create_user(
            ann,
            CreateUser {
                username: "dora".into(),
                password: Password::new(USER_PW.into()),
                email: None,
                display_name: None,
                roles: None,
                active: None,
                tenant_id: None,
                attributes: None,
            },
        )
        .unwrap();
    assert_eq!(made.tenant_id, Some(TenantId(w.acme)));
    assert!(login_kind(h, "dora", USER_PW, Some("acme"), SessionKind::Jwt).is_ok());
    not_found(h.core.accounts.create_user(
        ann,
        CreateUser {
            username: "eve".into(),
            password: Password::new(USER_PW.into()),
            email: None,
            display_name: None,
            roles: None,
            active: None,
            tenant_id: Some(w.globex),
            attributes: None,
        },
    ));
    h.core.accounts.delete_user(ann, carl).unwrap();
    not_found(h.core.accounts.get_user(&w.admin, carl));
}

#[test]
fn a_tenants_user_sees_themselves_only() {
    let w = world();
    let h = &w.h;
    let carl = principal(h, &jwt_login(h, "carl", USER_PW, Some("acme")).access_token);
    assert!(h.core.accounts.get_user(&carl, w.carl).is_ok());
    forbidden(h.core.accounts.get_user(&carl, w.ann.user_id));
    not_found(h.core.accounts.get_user(&carl, w.gus));
    not_found(h.core.accounts.get_user(&carl, w.glen));
    forbidden(h.core.accounts.list_users(&carl, None, None, None));
}

#[test]
fn tenant_admins_cannot_manage_the_model() {
    let w = world();
    let (h, ann) = (&w.h, &w.ann);
    let Billing {
        service, viewer, ..
    } = billing(h, &w.admin);
    let req = EntryRequest {
        name: "mine".into(),
        ..Default::default()
    };
    for kind in [Kind::Service, Kind::Role, Kind::Permission, Kind::Tenant] {
        forbidden(h.core.access.create_entry(ann, kind, &req));
    }
    forbidden(
        h.core
            .access
            .update_entry(ann, Kind::Service, service, &req),
    );
    forbidden(h.core.access.delete_entry(ann, Kind::Service, service));
    forbidden(h.core.access.delete_entry(ann, Kind::Tenant, w.acme));
    forbidden(h.core.access.link(ann, Link::ServiceRole, service, viewer));
    forbidden(
        h.core
            .access
            .unlink(ann, Link::ServiceRole, service, viewer),
    );
    forbidden(h.core.access.linked(ann, Link::ServiceRole, service));
    forbidden(h.core.access.list_entries(ann, Kind::Tenant, None, None));
    forbidden(h.core.access.get_entry(ann, Kind::Tenant, w.acme));
    forbidden(h.core.credentials.issue_service_secret(ann, service));
    forbidden(h.core.credentials.revoke_service_secret(ann, service));
    forbidden(h.core.audit.list_audit(ann, AuditQuery::default(), None));
    forbidden(h.core.accounts.export_users(ann));
    // They may read the model.
    assert_eq!(
        h.core
            .access
            .list_entries(ann, Kind::Service, None, None)
            .unwrap()
            .items
            .len(),
        1
    );
    assert!(h.core.access.get_entry(ann, Kind::Role, viewer).is_ok());
}

#[test]
fn tenant_admins_grant_to_their_tenants_users_only() {
    let w = world();
    let (h, ann) = (&w.h, &w.ann);
    let b = billing(h, &w.admin);
    h.core
        .access
        .grant_role(ann, w.carl, b.service, b.viewer)
        .unwrap();
    assert_eq!(
        h.core
            .access
            .person_access(ann, w.carl, b.service)
            .unwrap()
            .permissions,
        ["invoices:read"]
    );
    for other in [w.gus, w.glen] {
        let err = h
            .core
            .access
            .grant_role(ann, other, b.service, b.viewer)
            .unwrap_err();
        assert_eq!(
            super::support::fields(&err),
            [("person".to_owned(), vec!["not_found"])]
        );
    }
    h.core
        .access
        .grant_role(&w.admin, w.gus, b.service, b.viewer)
        .unwrap();
    not_found(h.core.access.revoke_role(ann, w.gus, b.service, b.viewer));
    // Each admin sees the holders they may see.
    let holders = |p: &Principal| {
        h.core
            .access
            .role_people(p, b.service, b.viewer)
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(holders(ann), [w.carl]);
    assert_eq!(holders(&w.admin), [w.carl, w.gus]);
    h.core
        .access
        .revoke_role(ann, w.carl, b.service, b.viewer)
        .unwrap();
    assert_eq!(holders(&w.admin), [w.gus]);
}

#[test]
fn a_tenant_with_users_cannot_be_deleted_and_tenant_admins_are_no_global_admins() {
    let w = world();
    let h = &w.h;
    assert!(matches!(
        h.core.access.delete_entry(&w.admin, Kind::Tenant, w.globex),
        Err(UserError::InUse(_))
    ));
    h.core.accounts.delete_user(&w.admin, w.gus).unwrap();
    h.core
        .access
        .delete_entry(&w.admin, Kind::Tenant, w.globex)
        .unwrap();
    // Ann holds `admin`, but only the global admin counts as the last one.
    assert!(matches!(
        h.core.accounts.delete_user(&w.admin, w.admin.user_id),
        Err(UserError::LastAdmin)
    ));
    // Tenant admins cannot make a user global or an admin of another tenant by editing them.
    not_found(h.core.accounts.update_user(
        &w.ann,
        w.glen,
        UpdateUser {
            roles: Some(vec!["admin".into()]),
            ..Default::default()
        },
    ));
}
