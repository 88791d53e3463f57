//! API keys and their scopes, the client-credentials grant, key last-use times, service secrets,
//! introspection and check-token.

use super::support::{
    audited, billing, caller, create_with, ctx, fields, grant_both, jwt_login, now, principal,
    USER_PW,
};
use super::{setup, ADMIN_PW};
use crate::access::{EntryRequest, Kind};
use crate::audit::{Event, Outcome};
use crate::credentials::{CreateApiKey, IssuedApiKey};
use crate::error::{AuthError, TokenError, UserError};
use crate::fakes::Harness;
use crate::principal::{Credential, Principal};
use crate::time::UnixTime;
use crate::user::UserId;
use crate::users::UpdateUser;

fn key(
    h: &Harness,
    actor: &Principal,
    user: UserId,
    scopes: Option<&[&str]>,
    expires_at: Option<UnixTime>,
) -> Result<IssuedApiKey, UserError> {
    h.core.credentials.create_api_key(
        actor,
        user,
        CreateApiKey {
            name: "a key".into(),
            scopes: scopes.map(|s| s.iter().map(|r| (*r).to_owned()).collect()),
            expires_at,
        },
    )
}

fn set_roles(h: &Harness, admin: &Principal, user: UserId, roles: &[&str]) {
    h.core
        .accounts
        .update_user(
            admin,
            user,
            UpdateUser {
                roles: Some(roles.iter().map(|r| (*r).to_owned()).collect()),
                ..Default::default()
            },
        )
        .unwrap();
}

fn set_active(h: &Harness, admin: &Principal, user: UserId, active: bool) {
    h.core
        .accounts
        .update_user(
            admin,
            user,
            UpdateUser {
                active: Some(active),
                ..Default::default()
            },
        )
        .unwrap();
}

fn use_key(h: &Harness, k: &IssuedApiKey) -> Result<Principal, TokenError> {
    h.core.gate.authenticate_credential(k.secret.expose(), true)
}

fn grant(h: &Harness, k: &IssuedApiKey) -> Result<crate::issuer::IssuedAccess, AuthError> {
    h.core
        .authentication
        .client_credentials(&k.key.id.to_string(), k.secret.expose(), &ctx())
}

// --- API keys --------------------------------------------------------------------------------

#[test]
fn a_key_cannot_be_given_a_role_its_user_lacks() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    for actor in [&me, &admin] {
        let err = key(&h, actor, alice, Some(&["admin"]), None).unwrap_err();
        assert_eq!(
            fields(&err),
            [("scopes".to_owned(), vec!["not_held_by_user"])]
        );
    }
    let err = key(&h, &me, alice, Some(&["Not A Role"]), None).unwrap_err();
    assert_eq!(fields(&err)[0].0, "scopes");
    let err = key(&h, &me, alice, Some(&["user"]), Some(now(&h))).unwrap_err();
    assert_eq!(
        fields(&err),
        [("expires_at".to_owned(), vec!["in_the_past"])]
    );
    assert!(h.ports.credentials.list_api_keys(alice).unwrap().is_empty());
    // A role the user holds is fine.
    let k = key(&h, &me, alice, Some(&["user"]), None).unwrap();
    assert!(k.secret.expose().starts_with("tsk_"));
    assert_eq!(k.key.scopes.len(), 1);
    assert!(k.secret.expose().starts_with(&k.key.prefix));
}

#[test]
fn a_key_acts_with_its_scopes_and_loses_a_role_its_user_loses() {
    let (h, admin) = setup();
    let bob = create_with(&h, &admin, "bobby", &["editor", "user"], None);
    let scoped = key(&h, &admin, bob, Some(&["editor"]), None).unwrap();
    let full = key(&h, &admin, bob, None, None).unwrap();

    let p = use_key(&h, &scoped).unwrap();
    assert_eq!(p.roles, ["editor"]);
    assert_eq!(p.scope, "editor");
    assert_eq!(p.user_id, bob);
    assert_eq!(p.session_id, None);
    assert_eq!(p.credential, Credential::ApiKey { id: scoped.key.id });
    assert_eq!(use_key(&h, &full).unwrap().roles, ["editor", "user"]);
    let t = grant(&h, &scoped).unwrap();
    assert_eq!(principal(&h, t.access_token.expose()).roles, ["editor"]);

    set_roles(&h, &admin, bob, &["user"]);
    assert!(use_key(&h, &scoped).unwrap().roles.is_empty());
    assert_eq!(use_key(&h, &full).unwrap().roles, ["user"]);
    let t = grant(&h, &scoped).unwrap();
    assert!(principal(&h, t.access_token.expose()).roles.is_empty());
    assert_eq!(t.scope, "");

    // Getting the role back gives it back to the key, which never held more than its scopes.
    set_roles(&h, &admin, bob, &["admin", "editor", "user"]);
    assert_eq!(use_key(&h, &scoped).unwrap().roles, ["editor"]);
    assert_eq!(
        use_key(&h, &full).unwrap().roles,
        ["admin", "editor", "user"]
    );
}

#[test]
fn a_limited_admin_key_cannot_administer() {
    let (h, admin) = setup();
    let limited = key(&h, &admin, admin.user_id, Some(&["user"]), None).unwrap();
    let p = use_key(&h, &limited).unwrap();
    assert!(!p.is_admin());
    assert!(matches!(
        h.core.accounts.list_users(&p, None, None, None),
        Err(UserError::Forbidden(_))
    ));
}

#[test]
fn expired_keys_and_keys_of_disabled_users_are_refused() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let short = key(&h, &admin, alice, None, Some(now(&h).plus(60))).unwrap();
    let long = key(&h, &admin, alice, None, None).unwrap();
    let p = use_key(&h, &short).unwrap();
    assert_eq!(p.expires_at, Some(now(&h).plus(60)));
    h.clock.advance(59);
    assert!(use_key(&h, &short).is_ok());
    assert!(grant(&h, &short).is_ok());
    h.clock.advance(1);
    assert_eq!(use_key(&h, &short), Err(TokenError::Expired));
    assert!(matches!(grant(&h, &short), Err(AuthError::InvalidClient)));

    set_active(&h, &admin, alice, false);
    assert_eq!(use_key(&h, &long), Err(TokenError::AccountDisabled));
    set_active(&h, &admin, alice, true);
    assert!(use_key(&h, &long).is_ok());

    h.core.accounts.delete_user(&admin, alice).unwrap();
    assert_eq!(use_key(&h, &long), Err(TokenError::Invalid));
    assert_eq!(
        h.core.gate.authenticate_credential("tsk_unknown", true),
        Err(TokenError::Invalid)
    );
}

#[test]
fn keys_of_others_are_out_of_sight() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    let k = key(&h, &admin, alice, None, None).unwrap();
    let b = caller(&h, "bobby", USER_PW);
    assert!(matches!(
        key(&h, &b, alice, None, None),
        Err(UserError::Forbidden(_))
    ));
    assert!(matches!(
        h.core.credentials.list_api_keys(&b, alice),
        Err(UserError::Forbidden(_))
    ));
    assert!(matches!(
        h.core.credentials.delete_api_key(&b, k.key.id),
        Err(UserError::NotFound)
    ));
    assert!(use_key(&h, &k).is_ok());
    assert!(h
        .core
        .credentials
        .list_api_keys(&b, bob)
        .unwrap()
        .is_empty());
    let a = caller(&h, "alice", USER_PW);
    assert_eq!(
        h.core.credentials.list_api_keys(&a, alice).unwrap().len(),
        1
    );
    h.core.credentials.delete_api_key(&a, k.key.id).unwrap();
    assert_eq!(use_key(&h, &k), Err(TokenError::Invalid));
    assert!(matches!(
        h.core.credentials.delete_api_key(&a, k.key.id),
        Err(UserError::NotFound)
    ));
}

#[test]
fn deleting_a_key_ends_the_sessions_its_grants_opened_and_no_other() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let login = jwt_login(&h, "alice", USER_PW, None);
    let k = key(&h, &admin, alice, None, None).unwrap();
    let other = key(&h, &admin, alice, None, None).unwrap();
    let one = grant(&h, &k).unwrap();
    let two = grant(&h, &k).unwrap();
    let kept = grant(&h, &other).unwrap();
    let sessions: Vec<_> = [&one, &two]
        .iter()
        .map(|t| principal(&h, t.access_token.expose()).session_id.unwrap())
        .collect();

    h.core.credentials.delete_api_key(&admin, k.key.id).unwrap();
    for t in [&one, &two] {
        assert_eq!(
            h.core.gate.authenticate_jwt(t.access_token.expose()),
            Err(TokenError::Revoked)
        );
    }
    for s in sessions {
        assert!(h.store.revoked(s));
    }
    assert!(h
        .core
        .gate
        .authenticate_jwt(kept.access_token.expose())
        .is_ok());
    assert!(h.core.gate.authenticate_jwt(&login.access_token).is_ok());
    assert!(matches!(grant(&h, &k), Err(AuthError::InvalidClient)));
    assert_eq!(audited(&h, Event::ApiKeyDeleted, Outcome::Success), 1);
}

#[test]
fn key_use_is_kept_in_memory_and_written_by_the_flush() {
    let (h, admin) = setup();
    let k = key(&h, &admin, admin.user_id, None, None).unwrap();
    assert_eq!(h.core.credentials.flush_key_usage().unwrap(), 0);
    let t0 = now(&h);
    use_key(&h, &k).unwrap();
    // Listed at once, but not yet written.
    let listed = h
        .core
        .credentials
        .list_api_keys(&admin, admin.user_id)
        .unwrap();
    assert_eq!(listed[0].last_used_at, Some(t0));
    assert_eq!(
        h.ports
            .credentials
            .get_api_key(k.key.id)
            .unwrap()
            .unwrap()
            .last_used_at,
        None
    );
    assert_eq!(h.core.credentials.flush_key_usage().unwrap(), 1);
    assert_eq!(
        h.ports
            .credentials
            .get_api_key(k.key.id)
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0)
    );
    assert_eq!(h.core.credentials.flush_key_usage().unwrap(), 0);

    // A client-credentials grant is a use too; the latest time wins.
    h.clock.advance(10);
    use_key(&h, &k).unwrap();
    h.clock.advance(5);
    grant(&h, &k).unwrap();
    assert_eq!(h.core.credentials.flush_key_usage().unwrap(), 1);
    assert_eq!(
        h.ports
            .credentials
            .get_api_key(k.key.id)
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t0.plus(15))
    );
}

// --- client credentials ----------------------------------------------------------------------

#[test]
fn client_credentials_buy_a_token_with_the_keys_roles() {
    let (h, admin) = setup();
    let bob = create_with(&h, &admin, "bobby", &["editor", "user"], None);
    let k = key(&h, &admin, bob, Some(&["editor"]), None).unwrap();
    let t = grant(&h, &k).unwrap();
    assert_eq!(t.expires_in, h.settings.tokens.access_ttl);
    assert_eq!(t.scope, "editor");
    let p = principal(&h, t.access_token.expose());
    assert_eq!(p.user_id, bob);
    assert_eq!(p.roles, ["editor"]);
    assert_eq!(p.client_id, k.key.id.to_string());
    assert_eq!(p.credential, Credential::AccessToken);
    let session = p.session_id.unwrap();
    let info = h
        .core
        .sessions
        .list_sessions(&admin, bob)
        .unwrap()
        .into_iter()
        .find(|s| s.id == session)
        .unwrap();
    assert!(info.api_key);
    assert_eq!(info.expires_at, now(&h).plus(h.settings.tokens.access_ttl));
    assert_eq!(audited(&h, Event::ClientCredentials, Outcome::Success), 1);
    assert_eq!(h.observer.token_count("client_credentials"), 1);
    // It has no session to log out of but its own, and no refresh token.
    h.core.authentication.logout(&p).unwrap();
    assert_eq!(
        h.core.gate.authenticate_jwt(t.access_token.expose()),
        Err(TokenError::Revoked)
    );
    // An API key itself has no session to end.
    let kp = use_key(&h, &k).unwrap();
    assert!(matches!(
        h.core.authentication.logout(&kp),
        Err(AuthError::NoSession)
    ));
}

#[test]
fn bad_client_credentials_are_refused_alike_and_audited() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    let k = key(&h, &admin, alice, None, Some(now(&h).plus(100))).unwrap();
    let bobs = key(&h, &admin, bob, None, None).unwrap();
    let id = k.key.id.to_string();
    let cc = |id: &str, secret: &str| h.core.authentication.client_credentials(id, secret, &ctx());
    let mut failures = 0;
    let mut refused = |r: Result<crate::issuer::IssuedAccess, AuthError>| {
        assert!(matches!(r, Err(AuthError::InvalidClient)), "{r:?}");
        failures += 1;
        assert_eq!(
            audited(&h, Event::ClientCredentials, Outcome::Failure),
            failures
        );
    };
    refused(cc(&id, "tsk_wrong"));
    refused(cc(&id, "not even a key"));
    refused(cc(&id, bobs.secret.expose()));
    refused(cc(&bobs.key.id.to_string(), k.secret.expose()));
    refused(cc("9999", k.secret.expose()));
    refused(cc("", k.secret.expose()));
    set_active(&h, &admin, alice, false);
    refused(cc(&id, k.secret.expose()));
    set_active(&h, &admin, alice, true);
    assert!(cc(&id, k.secret.expose()).is_ok());
    h.clock.advance(100);
    refused(cc(&id, k.secret.expose()));
    let last = h.audit_entries().pop().unwrap();
    assert_eq!(last.event, Event::ClientCredentials);
    assert!(last.details.contains(&("client_id".into(), id.clone())));
    assert!(!format!("{:?}", h.audit_entries()).contains(k.secret.expose()));
    assert_eq!(audited(&h, Event::ClientCredentials, Outcome::Success), 1);
}

// --- service secrets and introspection -------------------------------------------------------

#[test]
fn introspection_needs_a_live_service_secret() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let token = jwt_login(&h, "alice", USER_PW, None).access_token;
    let me = caller(&h, "alice", USER_PW);
    assert!(matches!(
        h.core.credentials.issue_service_secret(&me, b.service),
        Err(UserError::Forbidden(_))
    ));
    assert!(matches!(
        h.core.credentials.issue_service_secret(&admin, 9999),
        Err(UserError::NotFound)
    ));
    let first = h
        .core
        .credentials
        .issue_service_secret(&admin, b.service)
        .unwrap()
        .secret;
    assert!(first.expose().starts_with("tss_"));
    let introspect = |secret: &str, token: &str| h.core.credentials.introspect(secret, token);

    let p = introspect(first.expose(), &token).unwrap().unwrap();
    assert_eq!(p.user_id, alice);
    for bad in ["garbage", "tso_unknown", "tsk_unknown"] {
        assert!(introspect(first.expose(), bad).unwrap().is_none());
    }
    for wrong in [token.as_str(), "tss_wrong", ""] {
        assert!(matches!(
            introspect(wrong, &token),
            Err(AuthError::InvalidClient)
        ));
    }

    // A new secret replaces the old one.
    let second = h
        .core
        .credentials
        .issue_service_secret(&admin, b.service)
        .unwrap()
        .secret;
    assert!(matches!(
        introspect(first.expose(), &token),
        Err(AuthError::InvalidClient)
    ));
    assert!(introspect(second.expose(), &token).unwrap().is_some());

    // A disabled service's secret does not work; enabled again, it does.
    let rename = |active| {
        h.core
            .access
            .update_entry(
                &admin,
                Kind::Service,
                b.service,
                &EntryRequest {
                    name: "billing".into(),
                    description: None,
                    active: Some(active),
                },
            )
            .unwrap()
    };
    rename(false);
    assert!(matches!(
        introspect(second.expose(), &token),
        Err(AuthError::InvalidClient)
    ));
    rename(true);
    assert!(introspect(second.expose(), &token).unwrap().is_some());

    h.core
        .credentials
        .revoke_service_secret(&admin, b.service)
        .unwrap();
    assert!(matches!(
        introspect(second.expose(), &token),
        Err(AuthError::InvalidClient)
    ));
    assert!(matches!(
        h.core.credentials.revoke_service_secret(&admin, 9999),
        Err(UserError::NotFound)
    ));

    // Deleting the service ends its secret.
    let third = h
        .core
        .credentials
        .issue_service_secret(&admin, b.service)
        .unwrap()
        .secret;
    h.core
        .access
        .delete_entry(&admin, Kind::Service, b.service)
        .unwrap();
    assert!(matches!(
        introspect(third.expose(), &token),
        Err(AuthError::InvalidClient)
    ));
}

#[test]
fn introspection_answers_none_for_ended_tokens() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let secret = h
        .core
        .credentials
        .issue_service_secret(&admin, b.service)
        .unwrap()
        .secret;
    let t = jwt_login(&h, "admin", ADMIN_PW, None);
    let p = principal(&h, &t.access_token);
    h.core.authentication.logout(&p).unwrap();
    assert!(h
        .core
        .credentials
        .introspect(secret.expose(), &t.access_token)
        .unwrap()
        .is_none());
}

// --- check-token -----------------------------------------------------------------------------

#[test]
fn check_token_without_a_service_names_the_holder_only() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    let c = h
        .core
        .credentials
        .check_token(me.clone(), None, None)
        .unwrap();
    assert_eq!(c.principal, me);
    assert_eq!(c.permissions, None);
    let c = h
        .core
        .credentials
        .check_token(me.clone(), Some(alice.0), None)
        .unwrap();
    assert_eq!(c.principal.user_id, alice);
    assert_eq!(
        h.core
            .credentials
            .check_token(me.clone(), Some(admin.user_id.0), None)
            .unwrap_err(),
        TokenError::Mismatch
    );
}

#[test]
fn check_token_with_a_service_lists_permissions_from_roles_and_direct_grants() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bobby", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    let check = |p: &Principal, user: Option<i64>, service: Option<i64>| {
        h.core.credentials.check_token(p.clone(), user, service)
    };

    // No grant yet: the service exists, with no permission in it.
    assert_eq!(
        check(&me, None, Some(b.service)).unwrap().permissions,
        Some(vec![])
    );
    h.core
        .access
        .grant_role(&admin, alice, b.service, b.viewer)
        .unwrap();
    assert_eq!(
        check(&me, Some(alice.0), Some(b.service))
            .unwrap()
            .permissions,
        Some(vec!["invoices:read".to_owned()])
    );
    grant_both(&h, &admin, &b, alice);
    let c = check(&me, Some(alice.0), Some(b.service)).unwrap();
    assert_eq!(
        c.permissions,
        Some(vec![
            "invoices:read".to_owned(),
            "invoices:write".to_owned()
        ])
    );
    assert_eq!(c.principal.user_id, alice);

    // The user is checked before the service.
    assert_eq!(
        check(&me, Some(bob.0), Some(b.service)).unwrap_err(),
        TokenError::Mismatch
    );
    assert_eq!(
        check(&me, Some(bob.0), Some(9999)).unwrap_err(),
        TokenError::Mismatch
    );
    assert_eq!(
        check(&me, None, Some(9999)).unwrap_err(),
        TokenError::UnknownService
    );
    assert_eq!(
        check(&me, Some(alice.0), Some(9999)).unwrap_err(),
        TokenError::UnknownService
    );

    // Bob holds nothing in billing.
    let bp = caller(&h, "bobby", USER_PW);
    assert_eq!(
        check(&bp, None, Some(b.service)).unwrap().permissions,
        Some(vec![])
    );
}

#[test]
fn check_token_refuses_a_disabled_or_deleted_service() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    grant_both(&h, &admin, &b, alice);
    let me = caller(&h, "alice", USER_PW);
    let set = |active| {
        h.core
            .access
            .update_entry(
                &admin,
                Kind::Service,
                b.service,
                &EntryRequest {
                    name: "billing".into(),
                    description: None,
                    active: Some(active),
                },
            )
            .unwrap();
    };
    set(false);
    assert_eq!(
        h.core
            .credentials
            .check_token(me.clone(), None, Some(b.service))
            .unwrap_err(),
        TokenError::UnknownService
    );
    // Without a service the token is still good.
    assert!(h
        .core
        .credentials
        .check_token(me.clone(), Some(alice.0), None)
        .is_ok());
    set(true);
    assert!(h
        .core
        .credentials
        .check_token(me.clone(), None, Some(b.service))
        .is_ok());
    h.core
        .access
        .delete_entry(&admin, Kind::Service, b.service)
        .unwrap();
    assert_eq!(
        h.core
            .credentials
            .check_token(me.clone(), None, Some(b.service))
            .unwrap_err(),
        TokenError::UnknownService
    );
}

#[test]
fn check_token_with_an_api_key_principal_uses_the_keys_user() {
    let (h, admin) = setup();
    let b = billing(&h, &admin);
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    grant_both(&h, &admin, &b, alice);
    let k = key(&h, &admin, alice, None, None).unwrap();
    let p = use_key(&h, &k).unwrap();
    let c = h
        .core
        .credentials
        .check_token(p, Some(alice.0), Some(b.service))
        .unwrap();
    assert_eq!(c.permissions.unwrap().len(), 2);
    // A deleted user's principal has nothing to check.
    let me = caller(&h, "alice", USER_PW);
    h.core.accounts.delete_user(&admin, alice).unwrap();
    assert_eq!(
        h.core
            .credentials
            .check_token(me, None, Some(b.service))
            .unwrap_err(),
        TokenError::Revoked
    );
}
