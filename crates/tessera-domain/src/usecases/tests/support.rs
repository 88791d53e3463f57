//! Helpers the use-case test modules share: logins of every kind, principals, users with roles
//! and tenants, and a small access model.

use crate::access::{Entry, EntryRequest, Kind, Link, PermissionRef};
use crate::audit::{Event, Outcome, RequestContext};
use crate::auth::LoginRequest;
use crate::error::{AuthError, UserError};
use crate::fakes::Harness;
use crate::issuer::{Issued, IssuedTokens, SessionKind};
use crate::password::Password;
use crate::principal::Principal;
use crate::time::UnixTime;
use crate::token::{HashedToken, PlainToken};
use crate::user::UserId;
use crate::users::CreateUser;

/// The password of every user `create` and `create_with` make.
pub(super) const USER_PW: &str = "a fine long password";

pub(super) fn ctx() -> RequestContext {
    RequestContext::default()
}

pub(super) fn now(h: &Harness) -> UnixTime {
    use crate::ports::Clock;
    h.clock.now()
}

/// A login of any kind, in `tenant` (by name) or among the global users.
pub(super) fn login_kind(
    h: &Harness,
    user: &str,
    pw: &str,
    tenant: Option<&str>,
    kind: SessionKind,
) -> Result<Issued, AuthError> {
    h.core.authentication.login(
        LoginRequest {
            login: user.into(),
            password: Password::new(pw.into()),
            tenant: tenant.map(str::to_owned),
            context: ctx(),
        },
        kind,
    )
}

pub(super) fn tokens(issued: Issued) -> IssuedTokens {
    match issued {
        Issued::Tokens(t) => t,
        Issued::Access(_) => panic!("expected a JWT and a refresh token"),
    }
}

pub(super) fn access(issued: Issued) -> PlainToken {
    match issued {
        Issued::Access(a) => a.access_token,
        Issued::Tokens(_) => panic!("expected an opaque token"),
    }
}

/// A JWT login of a user who has no second factor.
pub(super) fn jwt_login(h: &Harness, user: &str, pw: &str, tenant: Option<&str>) -> IssuedTokens {
    tokens(login_kind(h, user, pw, tenant, SessionKind::Jwt).unwrap())
}

/// An opaque-token login of a global user who has no second factor.
pub(super) fn opaque_login(h: &Harness, user: &str, pw: &str) -> PlainToken {
    access(login_kind(h, user, pw, None, SessionKind::Opaque).unwrap())
}

/// The caller a JWT access token stands for.
pub(super) fn principal(h: &Harness, access_token: &str) -> Principal {
    h.core.gate.authenticate_jwt(access_token).unwrap()
}

/// Logs a global user in with a JWT and returns the caller.
pub(super) fn caller(h: &Harness, user: &str, pw: &str) -> Principal {
    principal(h, &jwt_login(h, user, pw, None).access_token)
}

/// Creates a user with these roles in `tenant` (an id), with `USER_PW`.
pub(super) fn create_with(
    h: &Harness,
    actor: &Principal,
    name: &str,
    roles: &[&str],
    tenant: Option<i64>,
) -> UserId {
    h.core
        .accounts
        .create_user(
            actor,
            CreateUser {
                username: name.into(),
                password: Password::new(USER_PW.into()),
                email: Some(format!("{name}@example.com")),
                display_name: None,
                roles: Some(roles.iter().map(|r| (*r).to_owned()).collect()),
                active: None,
                tenant_id: tenant,
                attributes: None,
            },
        )
        .unwrap()
        .id
}

pub(super) fn entry(h: &Harness, admin: &Principal, kind: Kind, name: &str) -> Entry {
    h.core
        .access
        .create_entry(
            admin,
            kind,
            &EntryRequest {
                name: name.into(),
                description: None,
                active: None,
            },
        )
        .unwrap()
}

/// A service `billing` offering a role `viewer` with `invoices:read`; a permission
/// `invoices:write` exists but is in no role.
pub(super) struct Billing {
    pub service: i64,
    pub viewer: i64,
    pub read: i64,
    pub write: i64,
}

pub(super) fn billing(h: &Harness, admin: &Principal) -> Billing {
    let service = entry(h, admin, Kind::Service, "billing").id;
    let viewer = entry(h, admin, Kind::Role, "viewer").id;
    let read = entry(h, admin, Kind::Permission, "invoices:read").id;
    let write = entry(h, admin, Kind::Permission, "invoices:write").id;
    h.core
        .access
        .link(admin, Link::RolePermission, viewer, read)
        .unwrap();
    h.core
        .access
        .link(admin, Link::ServiceRole, service, viewer)
        .unwrap();
    Billing {
        service,
        viewer,
        read,
        write,
    }
}

/// Grants `viewer` in billing, and `invoices:write` directly.
pub(super) fn grant_both(h: &Harness, admin: &Principal, b: &Billing, person: UserId) {
    h.core
        .access
        .grant_role(admin, person, b.service, b.viewer)
        .unwrap();
    h.core
        .access
        .grant_permission(
            admin,
            person,
            b.service,
            PermissionRef::Name("invoices:write".into()),
        )
        .unwrap();
}

/// The digest the fake store keeps for a secret token.
pub(super) fn digest(h: &Harness, token: &PlainToken) -> HashedToken {
    h.ports.secrets.digest(token)
}

/// The names of the fields a validation error names.
pub(super) fn fields(err: &UserError) -> Vec<(String, Vec<&'static str>)> {
    match err {
        UserError::Validation(f) => f.iter().map(|(k, v)| (k.to_owned(), v.to_vec())).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// How many audit entries of this event and outcome there are.
pub(super) fn audited(h: &Harness, event: Event, outcome: Outcome) -> usize {
    h.audit_events()
        .iter()
        .filter(|e| **e == (event, outcome))
        .count()
}
