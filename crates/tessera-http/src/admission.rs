//! Admission of requests that hash a password (logins, password changes, user creation).
//!
//! A password hash takes tens of milliseconds of one core and 19 MiB of memory, so the hashing pool
//! has a thread per core and no more. Requests that need it take a turn here first: at most
//! `concurrent` of them are on the blocking pool at once, the rest wait as futures (no thread, no
//! memory but their request), at most `max_waiting` of them; beyond that they are refused with 503
//! and `Retry-After`. A client that goes away while waiting drops its future, and with it its
//! place in the line, so its password is never hashed. Everything else (token checks, the store)
//! never waits behind logins: logins hold a bounded number of blocking threads and connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The line of requests waiting to hash a password.
#[derive(Debug)]
pub struct PasswordWork {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    refused: AtomicUsize,
}

/// A request's turn to hash; the next one in line goes when it is dropped.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

/// Takes a place in the line back when the waiting future ends, however it ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PasswordWork {
    /// `concurrent` requests hash at once (at least one); `max_waiting` more may wait.
    pub fn new(concurrent: usize, max_waiting: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
            refused: AtomicUsize::new(0),
        }
    }

    /// Waits for a turn, in arrival order.
    ///
    /// # Errors
    /// 503 `unavailable` with `Retry-After` when `max_waiting` requests are waiting already.
    pub async fn enter(&self) -> Result<Turn, ApiError> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(Turn { _permit: permit });
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ApiError::Busy);
        }
        let _waiting = Waiting(&self.waiting);
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Unavailable)?;
        Ok(Turn { _permit: permit })
    }

    /// Requests waiting for a turn now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Requests refused because the line was full, since start.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_line_requests_are_refused_and_a_dropped_waiter_leaves_it() {
        let work = Arc::new(PasswordWork::new(1, 1));
        let first = work.enter().await.unwrap();
        // The second waits; the third finds the line full.
        let w = Arc::clone(&work);
        let second = tokio::spawn(async move { w.enter().await.map(|_| ()) });
        while work.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(work.enter().await, Err(ApiError::Busy)));
        assert_eq!(work.refused(), 1);
        // A waiter that gives up frees its place without ever getting a turn.
        second.abort();
        let _ = second.await;
        assert_eq!(work.waiting(), 0);
        drop(first);
        let again = work.enter().await;
        assert!(again.is_ok());
    }
}
