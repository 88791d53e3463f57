//! Password hashing: Argon2id on a bounded pool of its own threads, and bcrypt verification for imported hashes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::Context as _;
use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::Deserialize;
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
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            threads: 0,
        }
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed set of threads that run hashing jobs one at a time each, so a flood of logins queues here
/// and leaves every other thread free.
struct Pool {
    sender: Mutex<mpsc::Sender<Job>>,
    queued: Arc<AtomicUsize>,
    /// Told how long each job took from submission to result.
    timer: Option<Arc<dyn Fn(std::time::Duration) + Send + Sync>>,
}

impl Pool {
    fn new(threads: usize) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new()
                .name(format!("tessera-hash-{i}"))
                .spawn(move || loop {
                    let job = {
                        let Ok(rx) = receiver.lock() else { return };
                        rx.recv()
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .context("cannot start a password hashing thread")?;
        }
        Ok(Self {
            sender: Mutex::new(sender),
            queued: Arc::new(AtomicUsize::new(0)),
            timer: None,
        })
    }

    /// Runs `f` on the pool and waits for its result.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let started = std::time::Instant::now();
        let (tx, rx) = mpsc::sync_channel(1);
        let queued = Arc::clone(&self.queued);
        queued.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move || {
            queued.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(f());
        });
        self.sender
            .lock()
            .map_err(|_| anyhow::anyhow!("hashing pool lock poisoned"))?
            .send(job)
            .map_err(|_| anyhow::anyhow!("hashing pool stopped"))?;
        let result = rx.recv().context("hashing job was lost");
        if let Some(timer) = &self.timer {
            timer(started.elapsed());
        }
        result
    }
}

/// Argon2id hasher implementing the domain's `PasswordHasher` port.
pub struct Argon2Hasher {
    params: Params,
    pool: Pool,
    /// A hash of a random password with the configured parameters, verified against when the user is unknown.
    dummy: Arc<String>,
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
        let dummy_password = crate::b64(&crate::random_bytes::<16>());
        let dummy = argon2(params.clone())
            .hash_password(dummy_password.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot hash: {e}"))?
            .to_string();
        Ok(Self {
            params,
            pool: Pool::new(threads)?,
            dummy: Arc::new(dummy),
        })
    }

    /// Hashing jobs waiting for a thread, for the metrics.
    /// Reports the time of every hash and verification, queueing included, to `timer`.
    #[must_use]
    pub fn with_timer(mut self, timer: Arc<dyn Fn(std::time::Duration) + Send + Sync>) -> Self {
        self.pool.timer = Some(timer);
        self
    }

    pub fn queue_len(&self) -> usize {
        self.pool.queued.load(Ordering::Relaxed)
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
        let encoded = self.pool.run(move || {
            argon2(params)
                .hash_password(&pw)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
        })??;
        Ok(PasswordHash::new(encoded))
    }

    fn verify(&self, password: &Password, hash: &PasswordHash) -> anyhow::Result<Verification> {
        let stored = hash.as_str().to_owned();
        let pw = zeroize::Zeroizing::new(password.expose().as_bytes().to_vec());
        if is_bcrypt(&stored) {
            let ok = self
                .pool
                .run(move || bcrypt::verify(&*pw, &stored))?
                .context("unreadable bcrypt hash")?;
            return Ok(if ok {
                Verification::Match { needs_rehash: true }
            } else {
                Verification::Mismatch
            });
        }
        let parsed = Phc::new(&stored).context("unreadable password hash")?;
        let weaker = self.weaker_than_configured(&parsed);
        let ok = self.pool.run(move || {
            // The hash's own parameters are used, whatever the instance's are.
            argon2(Params::default())
                .verify_password(&pw, stored.as_str())
                .is_ok()
        })?;
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
        let _ = self.pool.run(move || {
            let _ = argon2(Params::default()).verify_password(&pw, dummy.as_str());
        });
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
    fn weaker_argon2_hashes_ask_for_a_rehash() {
        let weak = cheap().hash(&pw("pw")).unwrap();
        let strong = Argon2Hasher::new(&HashingConfig {
            memory_kib: 2048,
            iterations: 1,
            parallelism: 1,
            threads: 1,
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
