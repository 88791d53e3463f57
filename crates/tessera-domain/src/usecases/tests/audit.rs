//! The audit trail: listing with filters and pages, pruning, and who may read it.

use super::support::{caller, create_with, USER_PW};
use super::{login, setup, ADMIN_PW};
use crate::audit::{AuditQuery, Event, Outcome};
use crate::error::UserError;

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
