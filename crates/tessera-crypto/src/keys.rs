//! Key files: the RSA signing keys of access tokens and the HMAC key of refresh-token rotation.
//!
//! Layout of the keys directory (created with mode 0700, every file 0600):
//! - `signing-<unix time>-rs256.pem`: PKCS#8 private keys; the newest signs, all are published.
//! - `refresh-hmac.key`: 32 random bytes, base64url.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use josekit::jwk::KeyPair as _;

pub const HMAC_KEY_FILE: &str = "refresh-hmac.key";
const SIGNING_PREFIX: &str = "signing-";
const SIGNING_SUFFIX: &str = "-rs256.pem";

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
pub fn ensure_keys(dir: &Path, now_unix: i64) -> anyhow::Result<KeyReport> {
    create_private_dir(dir)?;
    let mut report = KeyReport::default();
    if signing_key_files(dir)?.is_empty() {
        report.created_signing_key = Some(generate_signing_key(dir, now_unix)?);
    }
    let hmac = dir.join(HMAC_KEY_FILE);
    if !hmac.exists() {
        write_private(&hmac, crate::b64(&crate::random_bytes::<32>()).as_bytes())?;
        report.created_hmac_key = true;
    }
    Ok(report)
}

/// Writes a new RS256 signing key (2048-bit RSA) and returns its path.
///
/// # Errors
/// When key generation or the write fails.
pub fn generate_signing_key(dir: &Path, now_unix: i64) -> anyhow::Result<PathBuf> {
    create_private_dir(dir)?;
    let pair = josekit::jws::RS256
        .generate_key_pair(2048)
        .context("cannot generate an RSA key")?;
    let mut path = dir.join(format!("{SIGNING_PREFIX}{now_unix}{SIGNING_SUFFIX}"));
    let mut n = 1;
    while path.exists() {
        path = dir.join(format!("{SIGNING_PREFIX}{now_unix}.{n}{SIGNING_SUFFIX}"));
        n += 1;
    }
    write_private(&path, &pair.to_pem_private_key())?;
    Ok(path)
}

/// The signing key files in `dir`, oldest first.
///
/// # Errors
/// When the directory cannot be read.
pub fn signing_key_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("cannot read the keys directory {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SIGNING_PREFIX) && n.ends_with(SIGNING_SUFFIX))
        })
        .collect();
    files.sort_by_key(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let stamp = &name[SIGNING_PREFIX.len()..name.len() - SIGNING_SUFFIX.len()];
        let (secs, seq) = stamp.split_once('.').unwrap_or((stamp, "0"));
        (
            secs.parse::<i64>().unwrap_or(0),
            seq.parse::<u32>().unwrap_or(0),
        )
    });
    Ok(files)
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
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
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
        let first = ensure_keys(&keys, 100).unwrap();
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

        let second = ensure_keys(&keys, 200).unwrap();
        assert!(second.created_signing_key.is_none() && !second.created_hmac_key);
        assert_eq!(read_hmac_key(&keys).unwrap().len(), 32);
    }

    #[test]
    fn signing_keys_sort_by_creation_time() {
        let dir = tempfile::tempdir().unwrap();
        let a = generate_signing_key(dir.path(), 900).unwrap();
        let b = generate_signing_key(dir.path(), 1000).unwrap();
        let c = generate_signing_key(dir.path(), 1000).unwrap();
        assert_eq!(signing_key_files(dir.path()).unwrap(), vec![a, b, c]);
    }
}
