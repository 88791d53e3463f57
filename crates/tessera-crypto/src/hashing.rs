//! Password hashing: Argon2id on a bounded pool of its own threads, and bcrypt verification for imported hashes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};

use parking_lot::Mutex as TimedMutex;
use std::thread;
use std::time::Duration;

use anyhow::Context as _;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;
use tessera_domain::password::{Password, PasswordHash, Verification};
use tessera_domain::ports::PasswordHasher;

/// Argon2id parameters and the size of the hashing pool.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashingConfig {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Threads that hash; 0 means one per CPU core.
    pub threads: usize,
    /// Requests that may wait for the hashing pool; more are answered 503.
    pub max_waiting: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            threads: 0,
            max_waiting: 64,
        }
    }
}

/// How long a hashing thread keeps Argon2's memory once it has nothing to do.
const KEEP_MEMORY_WHILE_IDLE: Duration = Duration::from_secs(2);

/// Blocks reserved at least when Argon2's memory is allocated: 33 MiB. glibc serves allocations
/// above its largest mmap threshold (32 MiB) with their own mapping and unmaps them when they are
/// freed, so the memory goes back to the system when a thread idles; a smaller block, once freed,
/// raises the threshold and later ones stay in the heap for good. Only the blocks in use are ever
/// touched, so resident memory is what the parameters ask for.
const RESERVED_BLOCKS: usize = 33 * 1024;

/// Argon2's working memory, kept by a hashing thread from one hash to the next (allocating and
/// clearing 19 MiB per hash costs time and, freed by many threads, leaves memory behind).
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
    /// Blocks held by every thread of the pool, for the tests.
    held: Arc<AtomicUsize>,
}

impl Memory {
    fn blocks(&mut self, count: usize) -> anyhow::Result<&mut [Block]> {
        if self.blocks.len() < count {
            self.release();
            let mut blocks = Vec::new();
            blocks
                .try_reserve_exact(count.max(RESERVED_BLOCKS))
                .context("cannot allocate the memory to hash a password")?;
            blocks.resize(count, Block::default());
            self.held.fetch_add(blocks.len(), Ordering::Relaxed);
            self.blocks = blocks;
        }
        self.blocks
            .get_mut(..count)
            .context("password hashing memory is too small")
    }

    fn release(&mut self) {
        self.held.fetch_sub(self.blocks.len(), Ordering::Relaxed);
        self.blocks = Vec::new();
    }
}

type Job = Box<dyn FnOnce(&mut Memory) + Send + 'static>;

/// Hashing threads run at a lower scheduling priority (nice 10) than the HTTP workers: when the
/// cores are busy, token checks and other requests go first and logins take what is left, and
/// when they are not, logins have the cores to themselves. Where the system refuses, the
/// thread keeps the normal priority.
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    // The crate maps 0..=99 onto niceness 19..=-20: 22 is nice 10.
    if let Ok(value) = ThreadPriorityValue::try_from(22u8) {
        if let Err(e) =
            thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
        {
            tracing::debug!(error = ?e, "hashing threads keep the normal priority");
        }
    }
}

/// A fixed set of threads that run hashing jobs one at a time each, so a flood of logins queues here
/// and leaves every other thread free. Each thread keeps Argon2's memory while it is busy and
/// gives it back after `KEEP_MEMORY_WHILE_IDLE` without work.
struct Pool {
    sender: Mutex<mpsc::Sender<Job>>,
    queued: Arc<AtomicUsize>,
    threads: usize,
    /// Argon2 blocks the threads hold.
    held: Arc<AtomicUsize>,
    /// Told how long each job took from submission to result.
    timer: Option<Arc<dyn Fn(std::time::Duration) + Send + Sync>>,
}

impl Pool {
    fn new(threads: usize, keep_memory: Duration) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(TimedMutex::new(receiver));
        let held = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            let held = Arc::clone(&held);
            thread::Builder::new()
                .name(format!("tessera-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    let mut memory = Memory {
                        blocks: Vec::new(),
                        held,
                    };
                    loop {
                        // One thread at a time waits for the next job, the others for their
                        // turn to wait; either wait is bounded, so every thread that has had
                        // nothing to do for that long gives its memory back.
                        let job = match receiver.try_lock_for(keep_memory) {
                            Some(rx) => rx.recv_timeout(keep_memory),
                            None => Err(RecvTimeoutError::Timeout),
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(RecvTimeoutError::Timeout) => memory.release(),
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                })
                .context("cannot start a password hashing thread")?;
        }
        Ok(Self {
            sender: Mutex::new(sender),
            queued: Arc::new(AtomicUsize::new(0)),
            threads,
            held,
            timer: None,
        })
    }

    fn submit(&self, job: Job) -> anyhow::Result<()> {
        self.sender
            .lock()
            .map_err(|_| anyhow::anyhow!("hashing pool lock poisoned"))?
            .send(job)
            .map_err(|_| anyhow::anyhow!("hashing pool stopped"))
    }

    /// Runs `f` on the pool and waits for its result.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        tessera_domain::memory_only::may_block()?;
        let started = std::time::Instant::now();
        let (tx, rx) = mpsc::sync_channel(1);
        let queued = Arc::clone(&self.queued);
        queued.fetch_add(1, Ordering::Relaxed);
        self.submit(Box::new(move |memory| {
            queued.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(f(memory));
        }))?;
        let result = rx.recv().context("hashing job was lost");
        if let Some(timer) = &self.timer {
            timer(started.elapsed());
        }
        result
    }
}

/// Hashes `password` with Argon2id and a fresh salt into a PHC string, in `memory`.
fn hash_argon2(memory: &mut Memory, params: &Params, password: &[u8]) -> anyhow::Result<String> {
    let salt = crate::random_bytes::<16>();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2(params.clone())
        .hash_password_into_with_memory(
            password,
            &salt,
            &mut out,
            memory.blocks(params.block_count())?,
        )
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    let phc = Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` is the one `hash` was made from, computed with the hash's own algorithm,
/// version and parameters in `memory`, and compared in constant time. A hash that cannot be
/// recomputed matches nothing.
fn verify_argon2(memory: &mut Memory, password: &[u8], hash: &Phc) -> bool {
    let recompute = |memory: &mut Memory| -> Option<bool> {
        let params = Params::try_from(hash).ok()?;
        let algorithm = Algorithm::try_from(hash.algorithm.as_str()).ok()?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let (salt, expected) = (hash.salt.as_ref()?, hash.hash.as_ref()?);
        let mut buffer = [0u8; Output::MAX_LENGTH];
        let out = buffer.get_mut(..expected.len())?;
        let blocks = memory.blocks(params.block_count()).ok()?;
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password, salt.as_ref(), out, blocks)
            .ok()?;
        Some(out.ct_eq(expected.as_bytes()).into())
    };
    recompute(memory).unwrap_or(false)
}

/// Argon2id hasher implementing the domain's `PasswordHasher` port.
pub struct Argon2Hasher {
    params: Params,
    pool: Pool,
    /// Verified against when the user is unknown (see `dummy_hash`).
    dummy: Arc<Phc>,
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash with the configured parameters that no password matches: a random salt and a random
/// output. Verifying against it costs what verifying against a user's hash costs, and making it
/// costs nothing (no hash is computed at start-up).
fn dummy_hash(params: &Params) -> anyhow::Result<Phc> {
    let salt = crate::random_bytes::<16>();
    let output = crate::random_bytes::<{ Params::DEFAULT_OUTPUT_LEN }>();
    Ok(Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?),
        hash: Some(Output::new(&output).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    })
}

impl Argon2Hasher {
    /// # Errors
    /// When the parameters are out of Argon2's range (the message names them) or threads cannot start.
    pub fn new(config: &HashingConfig) -> anyhow::Result<Self> {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid password hashing parameters (memory_kib, iterations, parallelism): {e}"
            )
        })?;
        let threads = if config.threads == 0 {
            thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        } else {
            config.threads
        };
        Ok(Self {
            dummy: Arc::new(dummy_hash(&params)?),
            params,
            pool: Pool::new(threads, KEEP_MEMORY_WHILE_IDLE)?,
        })
    }

    /// Reports the time of every hash and verification, queueing included, to `timer`.
    #[must_use]
    pub fn with_timer(mut self, timer: Arc<dyn Fn(std::time::Duration) + Send + Sync>) -> Self {
        self.pool.timer = Some(timer);
        self
    }

    /// Hashing jobs waiting for a thread, for the metrics.
    pub fn queue_len(&self) -> usize {
        self.pool.queued.load(Ordering::Relaxed)
    }

    /// Threads of the hashing pool.
    pub fn threads(&self) -> usize {
        self.pool.threads
    }

    /// Bytes of Argon2 memory the hashing threads hold now (none once they have idled).
    pub fn memory_held(&self) -> usize {
        self.pool.held.load(Ordering::Relaxed) * Block::SIZE
    }

    fn weaker_than_configured(&self, hash: &Phc) -> bool {
        if hash.algorithm.as_str() != "argon2id" {
            return true;
        }
        match Params::try_from(hash) {
            Ok(p) => {
                p.m_cost() < self.params.m_cost()
                    || p.t_cost() < self.params.t_cost()
                    || p.p_cost() < self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash> {
        let params = self.params.clone();
        let pw = zeroize::Zeroizing::new(password.expose().as_bytes().to_vec());
        let encoded = self
            .pool
            .run(move |memory| hash_argon2(memory, &params, &pw))??;
        Ok(PasswordHash::new(encoded))
    }

    fn verify(&self, password: &Password, hash: &PasswordHash) -> anyhow::Result<Verification> {
        let stored = hash.as_str().to_owned();
        let pw = zeroize::Zeroizing::new(password.expose().as_bytes().to_vec());
        if is_bcrypt(&stored) {
            let ok = self
                .pool
                .run(move |_| bcrypt::verify(&*pw, &stored))?
                .context("unreadable bcrypt hash")?;
            return Ok(if ok {
                Verification::Match { needs_rehash: true }
            } else {
                Verification::Mismatch
            });
        }
        let parsed = Phc::new(&stored).context("unreadable password hash")?;
        let weaker = self.weaker_than_configured(&parsed);
        // The hash's own parameters are used, whatever the instance's are.
        let ok = self
            .pool
            .run(move |memory| verify_argon2(memory, &pw, &parsed))?;
        Ok(if ok {
            Verification::Match {
                needs_rehash: weaker,
            }
        } else {
            Verification::Mismatch
        })
    }

    fn recognizes(&self, hash: &PasswordHash) -> bool {
        let h = hash.as_str();
        if is_bcrypt(h) {
            // $2b$<cost>$<22 salt + 31 hash characters>
            return h.len() == 60
                && h.as_bytes()
                    .get(4..6)
                    .is_some_and(|cost| cost.iter().all(u8::is_ascii_digit));
        }
        Phc::new(h).is_ok_and(|p| p.algorithm.as_str().starts_with("argon2"))
    }

    fn verify_dummy(&self, password: &Password) {
        let dummy = Arc::clone(&self.dummy);
        let pw = zeroize::Zeroizing::new(password.expose().as_bytes().to_vec());
        let _ = self
            .pool
            .run(move |memory| verify_argon2(memory, &pw, &dummy));
    }
}

#[cfg(test)]
#[allow(clippy::string_slice)] // fixtures of known shape
mod tests {
    use super::*;

    #[test]
    fn recognizes_argon2_and_bcrypt_hashes_only() {
        let h = Argon2Hasher::new(&HashingConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            threads: 1,
            ..HashingConfig::default()
        })
        .unwrap();
        let argon = h
            .hash(&Password::new("a long enough passphrase".into()))
            .unwrap();
        assert!(h.recognizes(&argon));
        let bcrypt = PasswordHash::new(bcrypt::hash("pw", 4).unwrap());
        assert!(h.recognizes(&bcrypt));
        for bad in [
            "",
            "plain",
            "$2b$04$short",
            "$pbkdf2-sha256$i=1$c2FsdA$aGFzaA",
            "md5:abc",
        ] {
            assert!(!h.recognizes(&PasswordHash::new(bad.into())), "{bad}");
        }
        // 60 bytes with a two-byte character where the cost's digits go: refused, not a panic.
        let odd = format!("$2b$1é{}", "x".repeat(53));
        assert_eq!(odd.len(), 60);
        assert!(!h.recognizes(&PasswordHash::new(odd)));
    }

    fn cheap() -> Argon2Hasher {
        Argon2Hasher::new(&HashingConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            threads: 2,
            ..HashingConfig::default()
        })
        .unwrap()
    }

    fn pw(s: &str) -> Password {
        Password::new(s.into())
    }

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = cheap();
        let hash = h.hash(&pw("correct horse")).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify(&pw("correct horse"), &hash).unwrap(),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            h.verify(&pw("wrong"), &hash).unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn hashes_agree_with_the_argon2_crate_whatever_their_size() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let h = Argon2Hasher::new(&HashingConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            threads: 1,
            ..HashingConfig::default()
        })
        .unwrap();
        let ours = h.hash(&pw("correct horse")).unwrap();
        let reference = Argon2::default();
        assert!(reference
            .verify_password(b"correct horse", ours.as_str())
            .is_ok());
        assert!(reference.verify_password(b"wrong", ours.as_str()).is_err());
        // One thread verifies hashes of growing and shrinking memory in the same buffer.
        for (m, t, p) in [(2048, 1, 1), (1024, 2, 1), (4096, 1, 2), (1024, 1, 1)] {
            let theirs = argon2(Params::new(m, t, p, None).unwrap())
                .hash_password(b"their pw")
                .unwrap()
                .to_string();
            let theirs = PasswordHash::new(theirs);
            assert!(
                matches!(
                    h.verify(&pw("their pw"), &theirs).unwrap(),
                    Verification::Match { .. }
                ),
                "m={m} t={t} p={p}"
            );
            assert_eq!(
                h.verify(&pw("their pw!"), &theirs).unwrap(),
                Verification::Mismatch
            );
        }
        // Argon2i and Argon2d hashes verify too (and ask for a rehash).
        for alg in [Algorithm::Argon2i, Algorithm::Argon2d] {
            let other = Argon2::new(alg, Version::V0x13, Params::new(1024, 1, 1, None).unwrap())
                .hash_password(b"legacy")
                .unwrap()
                .to_string();
            assert_eq!(
                h.verify(&pw("legacy"), &PasswordHash::new(other)).unwrap(),
                Verification::Match { needs_rehash: true }
            );
        }
        // The dummy hash has the configured parameters, so it costs what a user's hash costs,
        // and matches no password.
        assert!(h
            .dummy
            .to_string()
            .starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        for guess in ["", "anything", "correct horse"] {
            assert!(!verify_argon2(
                &mut Memory::default(),
                guess.as_bytes(),
                &h.dummy
            ));
        }
        h.verify_dummy(&pw("anything"));
    }

    /// The nice value of the calling thread (Linux).
    fn niceness() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = stat.rsplit_once(')').unwrap().1;
        after_name
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn idle_threads_give_their_memory_back_and_hash_at_a_lower_priority() {
        let pool = Pool::new(2, Duration::from_millis(100)).unwrap();
        let params = Params::new(1024, 1, 1, None).unwrap();
        let nice = pool
            .run(move |m| {
                assert!(hash_argon2(m, &params, b"pw").is_ok());
                niceness()
            })
            .unwrap();
        assert_eq!(nice, niceness() + 10, "hashing threads are nicer");
        assert!(
            pool.held.load(Ordering::Relaxed) >= 1024,
            "kept after the hash"
        );
        let started = std::time::Instant::now();
        while pool.held.load(Ordering::Relaxed) > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "idle threads give their memory back"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn weaker_argon2_hashes_ask_for_a_rehash() {
        let weak = cheap().hash(&pw("pw")).unwrap();
        let strong = Argon2Hasher::new(&HashingConfig {
            memory_kib: 2048,
            iterations: 1,
            parallelism: 1,
            threads: 1,
            ..HashingConfig::default()
        })
        .unwrap();
        assert_eq!(
            strong.verify(&pw("pw"), &weak).unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    #[test]
    fn imported_bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let h = cheap();
        for prefix in ["$2a$", "$2b$", "$2y$"] {
            let b = bcrypt::hash("legacy pw", 4).unwrap();
            let b = format!("{prefix}{}", &b[4..]);
            let hash = PasswordHash::new(b);
            assert_eq!(
                h.verify(&pw("legacy pw"), &hash).unwrap(),
                Verification::Match { needs_rehash: true },
                "{prefix}"
            );
            assert_eq!(
                h.verify(&pw("nope"), &hash).unwrap(),
                Verification::Mismatch
            );
        }
    }

    #[test]
    fn garbage_hashes_are_errors_not_matches() {
        assert!(cheap()
            .verify(&pw("x"), &PasswordHash::new("garbage".into()))
            .is_err());
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = Argon2Hasher::new(&HashingConfig {
            memory_kib: 1,
            ..HashingConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("memory_kib"));
    }
}
