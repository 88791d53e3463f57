//! The audit trail: listing with filters and pages, pruning, and who may read it.

use super::support::{caller, create_with, fields, USER_PW};
use super::{login, setup, ADMIN_PW};
use crate::audit::{AuditQuery, Event, Outcome, RequestContext};
use crate::error::UserError;
use crate::password::Password;
use crate::users::UpdateUser;

#[test]
fn admins_list_the_audit_log_by_filters_and_pages() {
    let (h, admin) = setup();
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let _ = login(&h, "alice", "wrong password");
    let _ = login(&h, "alice", USER_PW);
    let trail = &h.core.audit;
    let all = trail
        .list_audit(&admin, AuditQuery::default(), Some(500))
        .unwrap();
    assert_eq!(all.items.len(), h.audit_entries().len());
    assert_eq!(all.next_after, None);

    let failed = trail
        .list_audit(
            &admin,
            AuditQuery {
                outcome: Some(Outcome::Failure),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(failed.items.len(), 1);
    assert_eq!(failed.items[0].entry.event, Event::LoginFailed);
    assert_eq!(failed.items[0].entry.subject, Some(alice));

    let about_alice = trail
        .list_audit(
            &admin,
            AuditQuery {
                user_id: Some(alice),
                event: Some(Event::Login),
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(about_alice.items.len(), 1);

    let first = trail
        .list_audit(&admin, AuditQuery::default(), Some(1))
        .unwrap();
    assert_eq!(first.items.len(), 1);
    let next = trail
        .list_audit(
            &admin,
            AuditQuery {
                after: first.next_after,
                ..Default::default()
            },
            Some(1),
        )
        .unwrap();
    assert!(next.items[0].id > first.items[0].id);
    assert!(matches!(
        trail.list_audit(&admin, AuditQuery::default(), Some(0)),
        Err(UserError::Validation(_))
    ));

    let me = caller(&h, "alice", USER_PW);
    assert!(matches!(
        trail.list_audit(&me, AuditQuery::default(), None),
        Err(UserError::Forbidden(_))
    ));
}

#[test]
fn pruning_deletes_entries_older_than_the_retention_only() {
    let (h, _) = setup();
    let old = h.audit_entries().len();
    h.clock.advance(10 * 86_400);
    login(&h, "admin", ADMIN_PW).unwrap();
    let total = h.audit_entries().len();
    assert_eq!(h.core.audit.prune_audit(30, 100, 10).unwrap(), 0);
    // Batches of one, as many as needed.
    assert_eq!(h.core.audit.prune_audit(5, 1, 100).unwrap(), old as u64);
    assert_eq!(h.audit_entries().len(), total - old);
    // At most `max_batches` batches at a time.
    h.clock.advance(10 * 86_400);
    login(&h, "admin", ADMIN_PW).unwrap();
    login(&h, "admin", ADMIN_PW).unwrap();
    let pruned = h.core.audit.prune_audit(5, 1, 1).unwrap();
    assert_eq!(pruned, 1);
}

#[test]
fn a_user_reads_their_own_account_activity_newest_first_and_nobody_else_s() {
    let (h, mut admin) = setup();
    admin.context = RequestContext {
        ip: Some("10.9.8.7".into()),
        user_agent: Some("admin's browser".into()),
        request_id: Some("r-1".into()),
    };
    let alice = create_with(&h, &admin, "alice", &["user"], None);
    let bob = create_with(&h, &admin, "bob", &["user"], None);
    let _ = login(&h, "alice", "wrong password");
    let mut me = caller(&h, "alice", USER_PW);
    me.context.ip = Some("192.0.2.1".into());
    let _ = login(&h, "bob", USER_PW);
    // The admin changes alice's profile: about her, done by someone else.
    h.core
        .accounts
        .update_user(
            &admin,
            alice,
            UpdateUser {
                display_name: Some(Some("Alice".into())),
                ..UpdateUser::default()
            },
        )
        .unwrap();
    h.core
        .accounts
        .change_password(
            &me,
            alice,
            Some(Password::new(USER_PW.into())),
            Password::new("another fine long password".into()),
            false,
        )
        .unwrap();

    let trail = &h.core.audit;
    let mine = trail.own_activity(&me, None, None).unwrap();
    let events: Vec<Event> = mine.items.iter().map(|r| r.entry.event).collect();
    assert_eq!(
        events,
        [
            Event::PasswordChanged,
            Event::UserUpdated,
            Event::Login,
            Event::LoginFailed
        ],
        "newest first, her own only (not user_created, not bob's)"
    );
    assert!(mine.items.windows(2).all(|w| w[0].id > w[1].id));
    assert!(mine.items.iter().all(|r| r.entry.subject == Some(alice)));
    assert_eq!(mine.next_after, None);
    // Her own change keeps where it came from; the admin's does not show the admin's.
    assert_eq!(mine.items[0].entry.context.ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(mine.items[1].entry.actor, Some(admin.user_id));
    assert_eq!(mine.items[1].entry.context, RequestContext::default());
    assert_eq!(mine.items[3].entry.outcome, Outcome::Failure);

    // A page at a time, going back in time.
    let first = trail.own_activity(&me, None, Some(3)).unwrap();
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.next_after, Some(first.items[2].id));
    let rest = trail.own_activity(&me, first.next_after, Some(3)).unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].entry.event, Event::LoginFailed);
    assert_eq!(rest.next_after, None);
    let err = trail.own_activity(&me, None, Some(0)).unwrap_err();
    assert_eq!(fields(&err), [("limit".to_owned(), vec!["out_of_range"])]);

    // The admin acted on alice and bob, but their own activity holds only what is about them.
    let admins = trail.own_activity(&admin, None, Some(500)).unwrap();
    assert!(admins
        .items
        .iter()
        .all(|r| r.entry.subject == Some(admin.user_id)));
    assert!(!admins.items.is_empty(), "the admin's own logins");
    let bobs = trail
        .own_activity(&caller(&h, "bob", USER_PW), None, None)
        .unwrap();
    assert!(bobs.items.iter().all(|r| r.entry.subject == Some(bob)));
    assert_eq!(
        bobs.items
            .iter()
            .filter(|r| r.entry.event == Event::Login)
            .count(),
        2
    );
}
