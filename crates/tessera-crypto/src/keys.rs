//! Key files: the signing keys of access tokens and the HMAC key of refresh-token rotation.
//!
//! Layout of the keys directory (created with mode 0700, every file 0600):
//! - `signing-<unix time>-<alg>.pem` (`rs256`, `es256` or `eddsa`): PKCS#8 private keys; the
//!   newest signs, older ones stay published until the tokens they signed have expired.
//! - `refresh-hmac.key`: 32 random bytes, base64url.
//! - `.lock`: held (flock) by whoever adds or removes a key, so that nodes sharing the folder
//!   never make two keys where one was wanted. Files are written under a temporary name and
//!   renamed, so a reader never sees half a key.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use josekit::jwk::KeyPair as _;

pub const HMAC_KEY_FILE: &str = "refresh-hmac.key";
const SIGNING_PREFIX: &str = "signing-";

/// The algorithms access tokens can be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl SigningAlg {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            "EdDSA" => Some(Self::EdDsa),
            _ => None,
        }
    }

    /// The JOSE name: `RS256`, `ES256`, `EdDSA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    fn file_suffix(self) -> &'static str {
        match self {
            Self::Rs256 => "-rs256.pem",
            Self::Es256 => "-es256.pem",
            Self::EdDsa => "-eddsa.pem",
        }
    }

    const ALL: [Self; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];
}

/// A signing key file: where it is, when it was made, and for which algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    pub path: PathBuf,
    /// Unix seconds, from the file name.
    pub created: i64,
    pub alg: SigningAlg,
}

/// Parses `signing-<secs>[.<n>]-<alg>.pem`.
fn key_file(path: PathBuf) -> Option<(KeyFile, u32)> {
    let name = path.file_name()?.to_str()?.to_owned();
    let rest = name.strip_prefix(SIGNING_PREFIX)?;
    let alg = SigningAlg::ALL
        .into_iter()
        .find(|a| rest.ends_with(a.file_suffix()))?;
    let stamp = rest.strip_suffix(alg.file_suffix())?;
    let (secs, seq) = stamp.split_once('.').unwrap_or((stamp, "0"));
    Some((
        KeyFile {
            path,
            created: secs.parse().ok()?,
            alg,
        },
        seq.parse().ok()?,
    ))
}

/// What `ensure_keys` found or made.
#[derive(Debug, Default)]
pub struct KeyReport {
    pub created_signing_key: Option<PathBuf>,
    pub created_hmac_key: bool,
}

/// Creates the directory and any missing key, leaving existing keys alone.
///
/// # Errors
/// When the directory or a file cannot be created or written.
pub fn ensure_keys(dir: &Path, now_unix: i64, alg: SigningAlg) -> anyhow::Result<KeyReport> {
    // Every key present: nothing to write, so a read-only folder (a mounted secret) works.
    if dir.join(HMAC_KEY_FILE).exists() && dir.is_dir() && !signing_key_files(dir)?.is_empty() {
        return Ok(KeyReport::default());
    }
    create_private_dir(dir)?;
    with_lock(dir, || {
        let mut report = KeyReport::default();
        if signing_key_files(dir)?.is_empty() {
            report.created_signing_key = Some(new_signing_key(dir, now_unix, alg)?);
        }
        let hmac = dir.join(HMAC_KEY_FILE);
        if !hmac.exists() {
            write_private(&hmac, crate::b64(&crate::random_bytes::<32>()).as_bytes())?;
            report.created_hmac_key = true;
        }
        Ok(report)
    })
}

/// Runs `f` holding the folder's lock file, waiting for another process that holds it.
fn with_lock<T>(dir: &Path, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    // Closing the file releases the lock, whatever `f` does.
    let result = f();
    drop(file);
    result
}

/// Writes a new signing key for `alg` and returns its path.
///
/// # Errors
/// When key generation or the write fails.
pub fn generate_signing_key(dir: &Path, now_unix: i64, alg: SigningAlg) -> anyhow::Result<PathBuf> {
    create_private_dir(dir)?;
    with_lock(dir, || new_signing_key(dir, now_unix, alg))
}

/// Writes a new signing key for `alg` that is the newest of the folder, so that it signs from the
/// next load: made at `now_unix`, or at the newest key's time when that one is later (made by a
/// node whose clock runs ahead), where it takes the next sequence number. Returns the new key.
///
/// # Errors
/// When key generation or the write fails.
pub fn rotate_signing_key(dir: &Path, now_unix: i64, alg: SigningAlg) -> anyhow::Result<KeyFile> {
    create_private_dir(dir)?;
    // Under the lock, the newest key is read after any other node's rotation.
    with_lock(dir, || {
        let created = signing_keys(dir)?
            .last()
            .map_or(now_unix, |newest| newest.created.max(now_unix));
        let path = new_signing_key(dir, created, alg)?;
        Ok(KeyFile { path, created, alg })
    })
}

fn new_signing_key(dir: &Path, now_unix: i64, alg: SigningAlg) -> anyhow::Result<PathBuf> {
    let pem = match alg {
        SigningAlg::Rs256 => josekit::jws::RS256
            .generate_key_pair(2048)
            .context("cannot generate an RSA key")?
            .to_pem_private_key(),
        SigningAlg::Es256 => josekit::jws::ES256
            .generate_key_pair()
            .context("cannot generate a P-256 key")?
            .to_pem_private_key(),
        SigningAlg::EdDsa => josekit::jws::EdDSA
            .generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519)
            .context("cannot generate an Ed25519 key")?
            .to_pem_private_key(),
    };
    let suffix = alg.file_suffix();
    // A key made in the same second as another, of any algorithm, takes the next sequence number,
    // so the order of keys (and so which one signs) is never ambiguous.
    let taken: Vec<u32> = fs::read_dir(dir)
        .with_context(|| format!("cannot read the keys directory {}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| key_file(e.path()))
        .filter(|(k, _)| k.created == now_unix)
        .map(|(_, seq)| seq)
        .collect();
    let path = match taken.iter().max() {
        None => dir.join(format!("{SIGNING_PREFIX}{now_unix}{suffix}")),
        Some(last) => dir.join(format!("{SIGNING_PREFIX}{now_unix}.{}{suffix}", last + 1)),
    };
    write_private(&path, &pem)?;
    Ok(path)
}

/// The signing keys in `dir`, oldest first.
///
/// # Errors
/// When the directory cannot be read.
pub fn signing_keys(dir: &Path) -> anyhow::Result<Vec<KeyFile>> {
    let mut keys: Vec<(KeyFile, u32)> = fs::read_dir(dir)
        .with_context(|| format!("cannot read the keys directory {}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| key_file(e.path()))
        .collect();
    keys.sort_by_key(|(k, seq)| (k.created, *seq));
    Ok(keys.into_iter().map(|(k, _)| k).collect())
}

/// What a signing key is for at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// The newest key: it signs.
    Signing,
    /// Retired by a newer key, but tokens it signed may still be alive: it stays published.
    Verifying,
    /// Retired longer ago than any token lives: it leaves the JWKS and its file can go.
    Retired,
}

/// The signing keys in `dir`, oldest first, each with its state at `now`. A key retires when a
/// newer one is made, and is done with `retire_after` seconds later.
///
/// # Errors
/// When the directory cannot be read.
pub fn key_states(
    dir: &Path,
    now_unix: i64,
    retire_after: i64,
) -> anyhow::Result<Vec<(KeyFile, KeyState)>> {
    let keys = signing_keys(dir)?;
    let created: Vec<i64> = keys.iter().map(|k| k.created).collect();
    Ok(keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let state = match created.get(i + 1) {
                None => KeyState::Signing,
                Some(next) if now_unix < next.saturating_add(retire_after) => KeyState::Verifying,
                Some(_) => KeyState::Retired,
            };
            (k, state)
        })
        .collect())
}

/// What `maintain` did.
#[derive(Debug, Default)]
pub struct Maintenance {
    pub created: Option<PathBuf>,
    pub dropped: Vec<PathBuf>,
}

/// Periodic key upkeep: with `rotate_every`, makes a new `alg` key when the newest is that old;
/// then deletes the files of retired keys.
///
/// # Errors
/// When the directory cannot be read or written.
pub fn maintain(
    dir: &Path,
    now_unix: i64,
    alg: SigningAlg,
    retire_after: i64,
    rotate_every: Option<i64>,
) -> anyhow::Result<Maintenance> {
    let due = |dir: &Path| -> anyhow::Result<bool> {
        let newest = signing_keys(dir)?.last().map(|k| k.created);
        Ok(rotate_every
            .is_some_and(|every| newest.is_none_or(|c| now_unix >= c.saturating_add(every))))
    };
    let retired = |dir: &Path| -> anyhow::Result<bool> {
        Ok(key_states(dir, now_unix, retire_after)?
            .iter()
            .any(|(_, state)| *state == KeyState::Retired))
    };
    // Nothing to do: no lock and no write, so a read-only folder (a mounted secret) works.
    if !due(dir)? && !retired(dir)? {
        return Ok(Maintenance::default());
    }
    // Under the lock, the age of the newest key is read after any other node's rotation.
    with_lock(dir, || {
        let mut done = Maintenance::default();
        if due(dir)? {
            done.created = Some(new_signing_key(dir, now_unix, alg)?);
        }
        done.dropped = remove_retired(dir, now_unix, retire_after)?;
        Ok(done)
    })
}

/// Deletes the files of retired keys (see `key_states`); returns those deleted. The newest key is
/// never deleted.
///
/// # Errors
/// When the directory cannot be read or a file cannot be removed.
pub fn prune_retired(dir: &Path, now_unix: i64, retire_after: i64) -> anyhow::Result<Vec<PathBuf>> {
    with_lock(dir, || remove_retired(dir, now_unix, retire_after))
}

fn remove_retired(dir: &Path, now_unix: i64, retire_after: i64) -> anyhow::Result<Vec<PathBuf>> {
    let mut gone = Vec::new();
    for (key, state) in key_states(dir, now_unix, retire_after)? {
        if state == KeyState::Retired {
            fs::remove_file(&key.path)
                .with_context(|| format!("cannot remove {}", key.path.display()))?;
            gone.push(key.path);
        }
    }
    Ok(gone)
}

/// The signing key files in `dir`, oldest first.
///
/// # Errors
/// When the directory cannot be read.
pub fn signing_key_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    Ok(signing_keys(dir)?.into_iter().map(|k| k.path).collect())
}

/// Reads the HMAC key.
///
/// # Errors
/// When the file is missing or not 32 bytes of base64url.
pub fn read_hmac_key(dir: &Path) -> anyhow::Result<Vec<u8>> {
    use base64::Engine as _;
    let path = dir.join(HMAC_KEY_FILE);
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .with_context(|| format!("{} is not base64url", path.display()))?;
    anyhow::ensure!(
        key.len() >= 32,
        "{} holds fewer than 32 bytes",
        path.display()
    );
    Ok(key)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the keys directory {}", dir.display()))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(!path.exists(), "{} exists already", path.display());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    let _ = fs::remove_file(&temporary);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| fs::rename(&temporary, path))
        .with_context(|| format!("cannot write {}", path.display()))?;
    // The umask cannot widen 0600, but an existing policy might have; make sure.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let first = ensure_keys(&keys, 100, SigningAlg::Rs256).unwrap();
        let signing = first.created_signing_key.unwrap();
        assert!(first.created_hmac_key);
        let mode = fs::metadata(&signing).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = fs::metadata(keys.join(HMAC_KEY_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);

        let second = ensure_keys(&keys, 200, SigningAlg::Rs256).unwrap();
        assert!(second.created_signing_key.is_none() && !second.created_hmac_key);
        assert_eq!(read_hmac_key(&keys).unwrap().len(), 32);
    }

    #[test]
    fn maintain_rotates_when_the_newest_key_is_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        generate_signing_key(dir.path(), 1_000, SigningAlg::Rs256).unwrap();
        let done = maintain(dir.path(), 1_099, SigningAlg::EdDsa, 50, Some(100)).unwrap();
        assert!(done.created.is_none() && done.dropped.is_empty());
        let done = maintain(dir.path(), 1_100, SigningAlg::EdDsa, 50, Some(100)).unwrap();
        assert!(done.created.is_some());
        let states: Vec<KeyState> = key_states(dir.path(), 1_100, 50)
            .unwrap()
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(states, [KeyState::Verifying, KeyState::Signing]);
        let done = maintain(dir.path(), 1_150, SigningAlg::EdDsa, 50, None).unwrap();
        assert_eq!(done.dropped.len(), 1);
        assert_eq!(signing_keys(dir.path()).unwrap()[0].alg, SigningAlg::EdDsa);
    }

    #[test]
    fn a_rotation_makes_the_newest_key_even_after_one_from_a_clock_ahead() {
        let dir = tempfile::tempdir().unwrap();
        generate_signing_key(dir.path(), 1_000, SigningAlg::Rs256).unwrap();
        let same_second = rotate_signing_key(dir.path(), 1_000, SigningAlg::EdDsa).unwrap();
        assert_eq!(same_second.created, 1_000);
        assert_eq!(signing_keys(dir.path()).unwrap().last(), Some(&same_second));
        generate_signing_key(dir.path(), 2_000, SigningAlg::Rs256).unwrap();
        let behind = rotate_signing_key(dir.path(), 1_500, SigningAlg::Es256).unwrap();
        assert_eq!(behind.created, 2_000);
        assert_eq!(behind.alg, SigningAlg::Es256);
        let keys = signing_keys(dir.path()).unwrap();
        assert_eq!(keys.len(), 4);
        assert_eq!(keys.last(), Some(&behind));
        let states = key_states(dir.path(), 2_000, 60).unwrap();
        assert_eq!(
            states.last().map(|(k, s)| (k, *s)),
            Some((&behind, KeyState::Signing))
        );
    }

    #[test]
    fn signing_keys_sort_by_creation_time() {
        let dir = tempfile::tempdir().unwrap();
        let a = generate_signing_key(dir.path(), 900, SigningAlg::Rs256).unwrap();
        let b = generate_signing_key(dir.path(), 1000, SigningAlg::Es256).unwrap();
        let c = generate_signing_key(dir.path(), 1000, SigningAlg::EdDsa).unwrap();
        assert_eq!(
            signing_key_files(dir.path()).unwrap(),
            vec![a.clone(), b.clone(), c.clone()]
        );
        let algs: Vec<_> = signing_keys(dir.path())
            .unwrap()
            .iter()
            .map(|k| k.alg)
            .collect();
        assert_eq!(
            algs,
            [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa]
        );
        // The key made at 900 retired at 1000; gone once 1000 + 60 has passed. The newest stays.
        assert!(prune_retired(dir.path(), 1059, 60).unwrap().is_empty());
        assert_eq!(prune_retired(dir.path(), 1060, 60).unwrap(), vec![a, b]);
        assert_eq!(signing_key_files(dir.path()).unwrap(), vec![c]);
    }
}
