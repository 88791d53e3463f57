//! Self-registration and password reset by admin-issued, single-use tokens.

use super::setup;
use super::support::{
    audited, caller, create_with, ctx, fields, jwt_login, login_kind, now, opaque_login, USER_PW,
};
use crate::audit::{Event, Outcome};
use crate::error::{AuthError, TokenError, UserError};
use crate::fakes::{harness, harness_with, Harness};
use crate::issuer::SessionKind;
use crate::password::Password;
use crate::recovery::{RecoverySettings, Registration};
use crate::token::PlainToken;
use crate::user::UserId;

const NEW_PW: &str = "a brand new passphrase";

fn register(h: &Harness, name: &str) -> Result<crate::user::User, UserError> {
    h.core.recovery.register(
        Registration {
            username: name.into(),
            password: Password::new(USER_PW.into()),
            email: Some(format!("{name}@example.com")),
        },
        &ctx(),
    )
}

fn reset(h: &Harness, token: &PlainToken, pw: &str) -> Result<(), UserError> {
    h.core
        .recovery
        .reset_password(token, &Password::new(pw.into()), &ctx())
}

#[test]
fn registration_is_off_by_default() {
    let h = harness();
    assert!(!h.settings.recovery.registration_enabled);
    assert!(matches!(
        register(&h, "newbie"),
        Err(UserError::Forbidden(_))
    ));
    assert!(h.audit_events().is_empty());
    use crate::ports::UserRepository;
    assert_eq!(h.store.count_users().unwrap(), 0);
}

#[test]
fn registration_gives_the_configured_roles_and_never_admin() {
    let defaults = RecoverySettings::default();
    assert_eq!(defaults.registration_roles, ["user"]);
    assert!(defaults.validate().is_ok());
    let h = harness_with(|s| s.recovery.registration_enabled = true);
    let user = register(&h, "newbie").unwrap();
    assert_eq!(user.tenant_id, None);
    assert!(!user.is_admin());
    assert_eq!(
        user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        ["user"]
    );
    let p = caller(&h, "newbie", USER_PW);
    assert!(!p.is_admin());
    assert!(matches!(
        h.core.accounts.list_users(&p, None, None, None),
        Err(UserError::Forbidden(_))
    ));
    let entry = h.audit_entries().into_iter().next().unwrap();
    assert_eq!(
        (entry.event, entry.actor, entry.subject),
        (Event::UserRegistered, Some(user.id), Some(user.id))
    );
    // Taken names and broken rules are refused as for any new user.
    assert!(matches!(
        register(&h, "NEWBIE"),
        Err(UserError::Duplicate { field: "username" })
    ));
    let err = h
        .core
        .recovery
        .register(
            Registration {
                username: "x".into(),
                password: Password::new("short".into()),
                email: None,
            },
            &ctx(),
        )
        .unwrap_err();
    let names: Vec<_> = fields(&err).into_iter().map(|(f, _)| f).collect();
    assert_eq!(names, ["password", "username"]);

    // Other configured roles, still never admin; an admin role cannot be configured.
    let h = harness_with(|s| {
        s.recovery.registration_enabled = true;
        s.recovery.registration_roles = vec!["user".into(), "reader".into()];
    });
    let user = register(&h, "reader1").unwrap();
    assert_eq!(
        user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        ["reader", "user"]
    );
    let admin_roles = RecoverySettings {
        registration_enabled: true,
        registration_roles: vec!["admin".into()],
        ..RecoverySettings::default()
    };
    assert!(admin_roles.validate().is_err());
}

#[test]
fn a_reset_token_is_for_admins_to_issue_and_works_once() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let me = caller(&h, "alice", USER_PW);
    assert!(matches!(
        h.core.recovery.issue_password_reset(&me, alice),
        Err(UserError::Forbidden(_))
    ));
    assert!(matches!(
        h.core.recovery.issue_password_reset(&admin, UserId(9999)),
        Err(UserError::NotFound)
    ));
    let issued = h.core.recovery.issue_password_reset(&admin, alice).unwrap();
    assert!(issued.token.expose().starts_with("tsp_"));
    assert_eq!(issued.user_id, alice);
    assert_eq!(issued.expires_at, now(&h).plus(1800));

    // A password the policy refuses leaves the token usable.
    let err = reset(&h, &issued.token, "password").unwrap_err();
    assert_eq!(fields(&err)[0].0, "new_password");
    reset(&h, &issued.token, NEW_PW).unwrap();
    assert!(matches!(
        reset(&h, &issued.token, "yet another long password"),
        Err(UserError::InvalidResetToken)
    ));
    assert!(matches!(
        reset(&h, &PlainToken::new("tsp_unknown".into()), NEW_PW),
        Err(UserError::InvalidResetToken)
    ));
    assert!(matches!(
        login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(login_kind(&h, "alice", NEW_PW, None, SessionKind::Jwt).is_ok());
    assert_eq!(audited(&h, Event::PasswordReset, Outcome::Success), 1);
    assert_eq!(audited(&h, Event::PasswordReset, Outcome::Failure), 2);
    assert!(!format!("{:?}", h.audit_entries()).contains(issued.token.expose()));
}

#[test]
fn a_reset_ends_every_session_of_the_user() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let jwt = jwt_login(&h, "alice", USER_PW, None);
    let opaque = opaque_login(&h, "alice", USER_PW);
    let admins = jwt_login(&h, "admin", super::ADMIN_PW, None);
    let issued = h.core.recovery.issue_password_reset(&admin, alice).unwrap();
    reset(&h, &issued.token, NEW_PW).unwrap();
    assert_eq!(
        h.core.gate.authenticate_jwt(&jwt.access_token),
        Err(TokenError::Revoked)
    );
    assert_eq!(
        h.core.gate.authenticate_credential(opaque.expose(), true),
        Err(TokenError::Revoked)
    );
    assert!(matches!(
        h.core.authentication.refresh(&jwt.refresh_token, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    // Nobody else's.
    assert!(h.core.gate.authenticate_jwt(&admins.access_token).is_ok());
    let entry = h.audit_entries().pop().unwrap();
    assert_eq!(entry.event, Event::PasswordReset);
    assert!(entry
        .details
        .contains(&("sessions_ended".into(), "2".into())));
}

#[test]
fn reset_tokens_expire_and_a_new_one_replaces_the_old() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let first = h.core.recovery.issue_password_reset(&admin, alice).unwrap();
    let second = h.core.recovery.issue_password_reset(&admin, alice).unwrap();
    assert!(matches!(
        reset(&h, &first.token, NEW_PW),
        Err(UserError::InvalidResetToken)
    ));
    h.clock.advance(1800);
    assert!(matches!(
        reset(&h, &second.token, NEW_PW),
        Err(UserError::InvalidResetToken)
    ));
    assert!(login_kind(&h, "alice", USER_PW, None, SessionKind::Jwt).is_ok());
    let third = h.core.recovery.issue_password_reset(&admin, alice).unwrap();
    h.clock.advance(1799);
    reset(&h, &third.token, NEW_PW).unwrap();
    assert!(login_kind(&h, "alice", NEW_PW, None, SessionKind::Jwt).is_ok());
}

#[test]
fn a_reset_token_dies_with_its_user() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let issued = h.core.recovery.issue_password_reset(&admin, alice).unwrap();
    h.core.accounts.delete_user(&admin, alice).unwrap();
    assert!(matches!(
        reset(&h, &issued.token, NEW_PW),
        Err(UserError::InvalidResetToken)
    ));
}
