//! Admission of requests that hash a password (logins, password changes, user creation).
//!
//! A password hash takes tens of milliseconds of one core and 19 MiB of memory, so the hashing pool
//! has a thread per core and no more. Requests that need it take a turn here first: at most
//! `concurrent` of them are on the blocking pool at once, the rest wait as futures (no thread, no
//! memory but their request), at most `max_waiting` of them. A request that finds the line full
//! waits up to `place_wait` for a place to free up and is then refused with 503 and
//! `Retry-After`: a flood of clients that ignore `Retry-After` is answered at the pace places
//! free up, not as fast as they can send, so refusing them does not take the CPU that token
//! checks need. A client that goes away while waiting drops its future, and with it its place
//! in the line, so its password is never hashed. Everything else (token checks, the store)
//! never waits behind logins: logins hold a bounded number of blocking threads and connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// The line of requests waiting to hash a password.
#[derive(Debug)]
pub struct PasswordWork {
    /// Turns to hash.
    permits: Arc<Semaphore>,
    /// Places in the line.
    places: Semaphore,
    max_waiting: usize,
    place_wait: Duration,
    refused: AtomicUsize,
}

/// A request's turn to hash; the next one in line goes when it is dropped.
#[derive(Debug)]
pub struct Turn {
    _permit: OwnedSemaphorePermit,
}

impl PasswordWork {
    /// `concurrent` requests hash at once (at least one); `max_waiting` more may wait; one that
    /// finds the line full waits `place_wait` for a place before it is refused.
    pub fn new(concurrent: usize, max_waiting: usize, place_wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrent.max(1))),
            places: Semaphore::new(max_waiting),
            max_waiting,
            place_wait,
            refused: AtomicUsize::new(0),
        }
    }

    /// Waits for a turn, in arrival order.
    ///
    /// # Errors
    /// 503 `unavailable` with `Retry-After` when the line stayed full for `place_wait`.
    pub async fn enter(&self) -> Result<Turn, ApiError> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(Turn { _permit: permit });
        }
        let place = match self.places.try_acquire() {
            Ok(place) => place,
            Err(_) => match tokio::time::timeout(self.place_wait, self.places.acquire()).await {
                Ok(Ok(place)) => place,
                _ => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    return Err(ApiError::Busy);
                }
            },
        };
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Unavailable)?;
        drop(place);
        Ok(Turn { _permit: permit })
    }

    /// Requests waiting in the line now.
    pub fn waiting(&self) -> usize {
        self.max_waiting
            .saturating_sub(self.places.available_permits())
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
        let work = Arc::new(PasswordWork::new(1, 1, Duration::from_millis(50)));
        let first = work.enter().await.unwrap();
        // The second waits; the third finds the line full.
        let w = Arc::clone(&work);
        let second = tokio::spawn(async move { w.enter().await.map(|_| ()) });
        while work.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // The third finds the line full, waits for a place that does not free up, and is refused.
        let started = std::time::Instant::now();
        assert!(matches!(work.enter().await, Err(ApiError::Busy)));
        assert!(started.elapsed() >= Duration::from_millis(50));
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
