//! The `SigningKeys` port over the key folder: the signing keys as this node holds them, and a
//! rotation after which this node signs with the new key at once.
//!
//! A rotation writes the key as `tessera keys rotate` does (under the folder's lock, so nodes
//! sharing the folder never make two where one was wanted) and then reloads this node's
//! `JwtCodec`, so the next token is signed with it and the JWKS publishes it. Other nodes pick it
//! up as they pick up any new key: at their next sync, or at once when a token names it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tessera_domain::keys::KeyInfo;
use tessera_domain::ports::SigningKeys;
use tessera_domain::time::UnixTime;

use crate::keys::{self, KeyFile, SigningAlg};
use crate::JwtCodec;

/// The key folder of this node, and the codec that signs with its newest key.
pub struct KeyFolder {
    codec: Arc<JwtCodec>,
    dir: PathBuf,
    /// The algorithm of new keys (`keys.algorithm`).
    alg: SigningAlg,
    /// How long after the next key was made an older key stays published.
    retire_after: i64,
}

impl std::fmt::Debug for KeyFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFolder")
            .field("dir", &self.dir)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl KeyFolder {
    /// The folder `dir`, whose keys `codec` was loaded from (`JwtCodec::from_dir_at` with the same
    /// `dir` and `retire_after`); new keys are of `alg`.
    pub fn new(codec: Arc<JwtCodec>, dir: PathBuf, alg: SigningAlg, retire_after: i64) -> Self {
        Self {
            codec,
            dir,
            alg,
            retire_after,
        }
    }

    /// What this node holds of the key in `file`: `None` when the file went meanwhile (a retired
    /// key that another node removed).
    fn info(&self, file: &KeyFile) -> anyhow::Result<Option<KeyInfo>> {
        let Some(kid) = kid_of(&file.path)? else {
            return Ok(None);
        };
        Ok(Some(KeyInfo {
            signs: self.codec.signing_kid() == kid,
            published: self.codec.public_jwk(&kid).is_some(),
            kid,
            alg: file.alg.as_str().to_owned(),
            created: UnixTime(file.created),
        }))
    }
}

/// The `kid` of the key in `path` (its thumbprint, as the codec names it), or `None` when the
/// file is gone.
fn kid_of(path: &Path) -> anyhow::Result<Option<String>> {
    let pem = match std::fs::read(path) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let codec = JwtCodec::from_pems(&[pem])
        .with_context(|| format!("unreadable signing key {}", path.display()))?;
    Ok(Some(codec.signing_kid()))
}

impl SigningKeys for KeyFolder {
    fn list(&self) -> anyhow::Result<Vec<KeyInfo>> {
        tessera_domain::memory_only::may_block()?;
        // A key another node (or `tessera keys rotate`) added is shown as this node uses it.
        self.codec.reload_if_changed()?;
        let mut listed = Vec::new();
        for file in keys::signing_keys(&self.dir)? {
            listed.extend(self.info(&file)?);
        }
        listed.reverse();
        Ok(listed)
    }

    fn rotate(&self, now: UnixTime) -> anyhow::Result<KeyInfo> {
        tessera_domain::memory_only::may_block()?;
        let file = keys::rotate_signing_key(&self.dir, now.seconds(), self.alg)?;
        tracing::info!(path = %file.path.display(), "rotated the signing key");
        // This node signs with it from now on, and its JWKS publishes it.
        self.codec
            .reload(&self.dir, now.seconds(), self.retire_after)
            .context("the new signing key was written but cannot be loaded")?;
        self.info(&file)?
            .with_context(|| format!("{} went as soon as it was made", file.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_signs_at_once_and_the_old_key_stays_published() {
        // Real times: listing reads the folder again at the time of the clock.
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        keys::generate_signing_key(dir.path(), now - 10, SigningAlg::Rs256).unwrap();
        let codec = Arc::new(JwtCodec::from_dir_at(dir.path(), now - 10, 900).unwrap());
        let old = codec.signing_kid();
        let folder = KeyFolder::new(
            Arc::clone(&codec),
            dir.path().to_owned(),
            SigningAlg::EdDsa,
            900,
        );

        let new = folder.rotate(UnixTime(now)).unwrap();
        assert_eq!(new.alg, "EdDSA");
        assert_eq!(new.created, UnixTime(now));
        assert!(new.signs && new.published);
        assert_eq!(codec.signing_kid(), new.kid);
        assert_eq!(codec.signing_alg(), "EdDSA");
        assert!(codec.public_jwk(&old).is_some());

        let listed = folder.list().unwrap();
        let kids: Vec<(&str, bool, bool)> = listed
            .iter()
            .map(|k| (k.kid.as_str(), k.signs, k.published))
            .collect();
        assert_eq!(
            kids,
            [(new.kid.as_str(), true, true), (old.as_str(), false, true)]
        );
    }
}
