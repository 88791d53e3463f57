//! Answering from memory alone, without blocking.
//!
//! Most reads of a token check are answered from memory (the revocation view, the adapters'
//! caches), and a front door would rather not hop to a blocking thread for them. It runs the use
//! case inside [`attempt`]; an adapter about to block (a database query, a password hash) calls
//! [`may_block`] first and, when it says no, fails at once without doing anything, with a
//! [`WouldBlock`] error. The attempt then reports that it needs a blocking thread, and its result,
//! whatever it was, is thrown away: the front door runs the use case again where it may block.
//! A use case run this way must therefore have no effect before its first blocking call, which
//! holds for reads, and for writes since they go to the store.

use std::cell::Cell;

thread_local! {
    static MEMORY_ONLY: Cell<bool> = const { Cell::new(false) };
    static WANTED_TO_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// The error of an adapter that was asked not to block.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("this needs a blocking call, and the caller asked for memory only")]
pub struct WouldBlock;

/// Runs `f` on this thread with blocking calls refused: `Some` with its result when it needed
/// none, `None` when an adapter wanted to block (and `f` must be run again where it may).
pub fn attempt<T>(f: impl FnOnce() -> T) -> Option<T> {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            MEMORY_ONLY.with(|m| m.set(self.0));
        }
    }
    let outer = MEMORY_ONLY.with(|m| m.replace(true));
    let wanted_before = WANTED_TO_BLOCK.with(|w| w.replace(false));
    let reset = Reset(outer);
    let result = f();
    drop(reset);
    let wanted = WANTED_TO_BLOCK.with(|w| w.replace(wanted_before));
    (!wanted).then_some(result)
}

/// Whether the caller may block now. An adapter asks before any blocking call and, told no,
/// returns [`WouldBlock`] without side effects.
///
/// # Errors
/// `WouldBlock` inside [`attempt`].
pub fn may_block() -> Result<(), WouldBlock> {
    if MEMORY_ONLY.with(Cell::get) {
        WANTED_TO_BLOCK.with(|w| w.set(true));
        return Err(WouldBlock);
    }
    Ok(())
}

/// Whether `e` is, or was caused by, a refused blocking call (which is not a fault to log).
pub fn is_would_block(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<WouldBlock>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_that_blocks_is_reported_and_the_flag_is_reset() {
        assert_eq!(attempt(|| 7), Some(7));
        assert_eq!(attempt(|| may_block().is_ok()), None);
        assert!(may_block().is_ok(), "outside an attempt, blocking is fine");
        // Nested attempts keep their own outcome.
        let outer = attempt(|| {
            let inner = attempt(|| 1);
            (inner, may_block().is_err())
        });
        assert_eq!(outer, None);
        assert_eq!(attempt(|| attempt(may_block).is_none()), Some(true));
    }
}
