//! Property tests: random sequences of refreshes, opaque-token uses and logins against a small
//! model of what the rules say must happen.

use std::cell::RefCell;
use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestRng, TestRunner};

use super::support::{ctx, digest, login_kind, opaque_login, principal, tokens};
use super::ADMIN_PW;
use crate::error::{AuthError, TokenError};
use crate::fakes::{harness_with, Harness};
use crate::issuer::SessionKind;
use crate::password::Password;
use crate::principal::Credential;
use crate::time::UnixTime;
use crate::token::PlainToken;
use crate::usecases::Settings;

fn boot(change: impl FnOnce(&mut Settings)) -> Harness {
    let h = harness_with(change);
    h.core
        .accounts
        .bootstrap_admin(Some(Password::new(ADMIN_PW.into())))
        .unwrap()
        .unwrap();
    h
}

fn now(h: &Harness) -> i64 {
    super::support::now(h).seconds()
}

// --- refresh rotation with reuse detection and grace -----------------------------------------

#[derive(Debug, Clone)]
enum Refresh {
    Advance(i64),
    /// Present the newest token.
    Newest,
    /// Present the token at this index (modulo the chain's length).
    Token(usize),
}

fn refresh_step() -> impl Strategy<Value = Refresh> {
    prop_oneof![
        3 => (0i64..=15).prop_map(Refresh::Advance),
        3 => Just(Refresh::Newest),
        2 => (0usize..12).prop_map(Refresh::Token),
    ]
}

fn refresh_case() -> impl Strategy<Value = (i64, Vec<Refresh>)> {
    (0i64..=12, prop::collection::vec(refresh_step(), 1..40))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Within the grace window a rotated token gets the same successor back; after it, the session
    /// is revoked and every later refresh fails.
    #[test]
    fn refresh_rotation_with_reuse_and_grace((grace, steps) in refresh_case()) {
        refresh_model(grace, steps, &Seen::default())?;
    }
}

/// The branches of a model a run went through, to show the generators reach them all.
type Seen = RefCell<BTreeSet<&'static str>>;

fn saw(seen: &Seen, branch: &'static str) {
    seen.borrow_mut().insert(branch);
}

fn refresh_model(grace: i64, steps: Vec<Refresh>, seen: &Seen) -> Result<(), TestCaseError> {
    let h = boot(|s| s.tokens.reuse_grace = grace);
    let first = tokens(login_kind(&h, "admin", ADMIN_PW, None, SessionKind::Jwt).unwrap());
    let session = first.session_id;
    // The chain of refresh tokens, and when each was rotated.
    let mut chain = vec![first.refresh_token.expose().to_owned()];
    let mut rotated: Vec<Option<i64>> = vec![None];
    let mut revoked = false;
    let mut last_access = first.access_token;

    for step in steps {
        let i = match step {
            Refresh::Advance(n) => {
                h.clock.advance(n);
                continue;
            }
            Refresh::Newest => chain.len() - 1,
            Refresh::Token(i) => i % chain.len(),
        };
        let t = now(&h);
        let presented = PlainToken::new(chain[i].clone());
        let got = h.core.authentication.refresh(&presented, &ctx());
        if revoked {
            saw(seen, "after revocation");
            prop_assert!(matches!(got, Err(AuthError::InvalidGrant)), "{:?}", got);
            continue;
        }
        match rotated[i] {
            Some(at) if t - at < grace => {
                saw(
                    seen,
                    if i + 2 < chain.len() {
                        "grace, old successor"
                    } else {
                        "grace"
                    },
                );
                let issued = got.unwrap();
                prop_assert_eq!(issued.refresh_token.expose(), chain[i + 1].as_str());
                prop_assert_eq!(issued.session_id, session);
                let p = principal(&h, &issued.access_token);
                prop_assert_eq!(p.issued_at, Some(UnixTime(at)));
                last_access = issued.access_token;
            }
            Some(_) => {
                saw(seen, "reuse");
                prop_assert!(matches!(got, Err(AuthError::RefreshReused)), "{:?}", got);
                revoked = true;
                prop_assert!(h.store.revoked(session));
                prop_assert_eq!(
                    h.core.gate.authenticate_jwt(&last_access),
                    Err(TokenError::Revoked)
                );
            }
            None => {
                saw(seen, "rotation");
                prop_assert_eq!(i, chain.len() - 1);
                let issued = got.unwrap();
                prop_assert_eq!(issued.session_id, session);
                let next = issued.refresh_token.expose().to_owned();
                prop_assert!(!chain.contains(&next));
                rotated[i] = Some(t);
                chain.push(next);
                rotated.push(None);
                let p = principal(&h, &issued.access_token);
                prop_assert_eq!(p.issued_at, Some(UnixTime(t)));
                last_access = issued.access_token;
            }
        }
        if !revoked {
            prop_assert!(h.core.gate.authenticate_jwt(&last_access).is_ok());
        }
    }
    // Once revoked, no token of the chain works any more.
    if revoked {
        for token in &chain {
            let got = h
                .core
                .authentication
                .refresh(&PlainToken::new(token.clone()), &ctx());
            prop_assert!(matches!(got, Err(AuthError::InvalidGrant)), "{:?}", got);
        }
    }
    Ok(())
}

// --- opaque renewal ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Opaque {
    Advance(i64),
    Use,
}

fn opaque_step() -> impl Strategy<Value = Opaque> {
    prop_oneof![(0i64..=80).prop_map(Opaque::Advance), Just(Opaque::Use),]
}

/// Lifetimes for an opaque token and its session: ttl, renew threshold (below ttl), the session's
/// end after its login (`refresh_ttl`, at least ttl), idle timeout, absolute lifetime.
fn opaque_lifetimes() -> impl Strategy<Value = (i64, i64, i64, i64, i64)> {
    (20i64..=120)
        .prop_flat_map(|ttl| (Just(ttl), 0..ttl, ttl..=ttl + 500, 20i64..=300, 50i64..=800))
}

type Lifetimes = (i64, i64, i64, i64, i64);

fn opaque_case() -> impl Strategy<Value = (Lifetimes, Vec<Opaque>)> {
    (
        opaque_lifetimes(),
        prop::collection::vec(opaque_step(), 1..40),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// An opaque token's expiry never decreases and never passes its session's end; a use is
    /// accepted exactly when it comes before the expiry in a live session, and renews the token
    /// exactly when it comes within the threshold and there is time left to extend to.
    #[test]
    fn opaque_renewal((lifetimes, steps) in opaque_case()) {
        opaque_model(lifetimes, steps, &Seen::default())?;
    }
}

fn opaque_model(
    (ttl, threshold, session_ttl, idle, absolute): Lifetimes,
    steps: Vec<Opaque>,
    seen: &Seen,
) -> Result<(), TestCaseError> {
    let h = boot(|s| {
        s.opaque.ttl = ttl;
        s.opaque.renew_threshold = threshold;
        s.tokens.refresh_ttl = session_ttl;
        s.sessions.idle_timeout_seconds = idle;
        s.sessions.absolute_lifetime_seconds = absolute;
    });
    let token = opaque_login(&h, "admin", ADMIN_PW);
    let created = now(&h);
    let end = created + session_ttl;
    let mut expiry = created + ttl;
    let mut last_used = created;
    let record = || {
        h.ports
            .credentials
            .find_opaque(&digest(&h, &token))
            .unwrap()
            .unwrap()
    };
    prop_assert_eq!(record().expires_at, UnixTime(expiry));
    prop_assert_eq!(record().session_expires_at, UnixTime(end));

    for step in steps {
        if let Opaque::Advance(n) = step {
            h.clock.advance(n);
            continue;
        }
        let t = now(&h);
        let before = record().expires_at;
        let alive = t < created + absolute && t < last_used + idle;
        let got = h.core.gate.authenticate_credential(token.expose(), true);
        if t < expiry && alive {
            let p = got.unwrap();
            let target = (t + ttl).min(end);
            let renews = expiry - t <= threshold && target > expiry;
            if renews {
                saw(
                    seen,
                    if target == end {
                        "renewed to the session end"
                    } else {
                        "renewed"
                    },
                );
                expiry = target;
                last_used = t;
            } else {
                saw(
                    seen,
                    if expiry - t <= threshold {
                        "at the session end"
                    } else {
                        "not renewed"
                    },
                );
            }
            prop_assert_eq!(p.credential, Credential::Opaque { renewed: renews });
            prop_assert_eq!(p.expires_at, Some(UnixTime(expiry)));
        } else {
            saw(
                seen,
                if t < expiry {
                    "session ended first"
                } else {
                    "expired"
                },
            );
            prop_assert_eq!(got, Err(TokenError::Expired));
        }
        let after = record();
        prop_assert!(after.expires_at >= before);
        prop_assert!(after.expires_at <= UnixTime(end));
        prop_assert_eq!(after.expires_at, UnixTime(expiry));
        prop_assert_eq!(after.session_last_used_at, UnixTime(last_used));
    }
    Ok(())
}

// --- lockout counting ----------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Attempt {
    Wrong,
    Right,
    Advance(i64),
}

fn attempt() -> impl Strategy<Value = Attempt> {
    prop_oneof![
        4 => Just(Attempt::Wrong),
        2 => Just(Attempt::Right),
        1 => (0i64..=250).prop_map(Attempt::Advance),
    ]
}

fn lockout_case() -> impl Strategy<Value = (u32, i64, Vec<Attempt>)> {
    (
        1u32..=6,
        10i64..=200,
        prop::collection::vec(attempt(), 1..50),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A key locks at every `max_failures`-th consecutive failure, each lock twice as long as the
    /// one before, a success resets the count, a locked key refuses even the right password, and
    /// a lock ends after its duration.
    #[test]
    fn lockout_counting((max_failures, duration, attempts) in lockout_case()) {
        lockout_model(max_failures, duration, attempts, &Seen::default())?;
    }
}

fn lockout_model(
    max_failures: u32,
    duration: i64,
    attempts: Vec<Attempt>,
    seen: &Seen,
) -> Result<(), TestCaseError> {
    let h = boot(|s| {
        s.lockout.max_failures = max_failures;
        s.lockout.duration_seconds = duration;
    });
    let mut failures = 0u32;
    let mut locked_until: Option<i64> = None;
    for a in attempts {
        let pw = match a {
            Attempt::Advance(n) => {
                h.clock.advance(n);
                continue;
            }
            Attempt::Wrong => "not the password",
            Attempt::Right => ADMIN_PW,
        };
        let t = now(&h);
        let got = login_kind(&h, "admin", pw, None, SessionKind::Jwt);
        match locked_until.filter(|until| t < *until) {
            Some(until) => {
                saw(seen, "refused while locked");
                prop_assert!(
                    matches!(got, Err(AuthError::Locked { retry_after }) if retry_after == until - t),
                    "{:?}",
                    got
                );
            }
            None if matches!(a, Attempt::Right) => {
                saw(
                    seen,
                    if failures > 0 {
                        "success resets the count"
                    } else {
                        "success"
                    },
                );
                prop_assert!(got.is_ok(), "{:?}", got);
                failures = 0;
            }
            None => {
                failures += 1;
                if locked_until.is_some() {
                    saw(seen, "failure after a lock ended");
                }
                if failures.is_multiple_of(max_failures) {
                    // Each further lock lasts twice as long, up to a day; the count goes on.
                    let locks = failures / max_failures;
                    let lasts = duration
                        .saturating_mul(1 << (locks - 1).min(30))
                        .min(86_400);
                    saw(
                        seen,
                        if locks == 1 {
                            "locked"
                        } else {
                            "a longer lock"
                        },
                    );
                    prop_assert!(
                        matches!(got, Err(AuthError::Locked { retry_after }) if retry_after == lasts),
                        "{:?}",
                        got
                    );
                    locked_until = Some(t + lasts);
                } else {
                    saw(seen, "counted");
                    prop_assert!(
                        matches!(got, Err(AuthError::InvalidCredentials)),
                        "{:?}",
                        got
                    );
                }
            }
        }
    }
    Ok(())
}

// --- the generators reach every branch of the models -------------------------------------------

fn branches<S: Strategy>(
    strategy: S,
    model: impl Fn(S::Value, &Seen) -> Result<(), TestCaseError>,
) -> BTreeSet<&'static str> {
    let seen = Seen::default();
    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::with_cases(64),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    runner.run(&strategy, |v| model(v, &seen)).unwrap();
    seen.into_inner()
}

#[test]
fn the_generated_sequences_reach_every_branch_of_the_models() {
    let refresh = branches(refresh_case(), |(g, s), seen| refresh_model(g, s, seen));
    for b in [
        "rotation",
        "grace",
        "grace, old successor",
        "reuse",
        "after revocation",
    ] {
        assert!(
            refresh.contains(b),
            "refresh never reached {b:?}: {refresh:?}"
        );
    }
    let opaque = branches(opaque_case(), |(l, s), seen| opaque_model(l, s, seen));
    for b in [
        "renewed",
        "renewed to the session end",
        "not renewed",
        "at the session end",
        "expired",
        "session ended first",
    ] {
        assert!(opaque.contains(b), "opaque never reached {b:?}: {opaque:?}");
    }
    let lockout = branches(lockout_case(), |(m, d, a), seen| {
        lockout_model(m, d, a, seen)
    });
    for b in [
        "counted",
        "locked",
        "a longer lock",
        "refused while locked",
        "failure after a lock ended",
        "success",
        "success resets the count",
    ] {
        assert!(
            lockout.contains(b),
            "lockout never reached {b:?}: {lockout:?}"
        );
    }
}
