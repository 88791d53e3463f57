//! The signing keys of access and ID tokens: which key signs, which are still published, and a
//! rotation on demand.
//!
//! The keys themselves are the adapter's (`SigningKeys`: the key folder, where the newest key
//! signs and older ones stay published until the tokens they signed have expired). Who may see
//! and rotate them (global admins) and the audit of a rotation are decided here.

use std::sync::Arc;

use crate::access::{authorize, Action};
use crate::audit::{Audit, Auditor, Event, Outcome};
use crate::error::UserError;
use crate::ports::{Clock, SigningKeys};
use crate::principal::Principal;
use crate::time::UnixTime;

/// A signing key, as this node holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id: the `kid` of the tokens it signs and of its entry in the JWKS.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// When it was made.
    pub created: UnixTime,
    /// It signs this node's new tokens.
    pub signs: bool,
    /// It is in the JWKS: it signs, or tokens it signed may still be alive. A key that is neither
    /// is retired, and its file goes at the next clean-up.
    pub published: bool,
}

/// Listing and rotating the signing keys.
pub struct Keys {
    pub(crate) keys: Arc<dyn SigningKeys>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) audit: Arc<Auditor>,
}

impl Keys {
    /// Every signing key this node knows, newest first: the one that signs, those still
    /// published, and retired ones whose files have not gone yet. For global admins.
    ///
    /// # Errors
    /// `Forbidden`; `Unknown` when the keys cannot be read.
    pub fn list_keys(&self, actor: &Principal) -> Result<Vec<KeyInfo>, UserError> {
        authorize(actor, Action::ManageKeys)?;
        Ok(self.keys.list()?)
    }

    /// Makes a new signing key of the configured algorithm, which signs this node's tokens from
    /// the moment this returns (every other node's within its sync interval); the key that
    /// signed until now stays published until its last token has expired. For global admins;
    /// audited as `keys_rotated` with the new key's `kid`.
    ///
    /// # Errors
    /// `Forbidden`; `Unknown` when the key cannot be made (a read-only key folder, say), which is
    /// audited as a failure.
    pub fn rotate(&self, actor: &Principal) -> Result<KeyInfo, UserError> {
        authorize(actor, Action::ManageKeys)?;
        match self.keys.rotate(self.clock.now()) {
            Ok(key) => {
                self.audit.record(
                    Audit::new(Event::KeysRotated, Outcome::Success)
                        .by(actor)
                        .target(format!("key:{}", key.kid))
                        .detail("kid", &key.kid)
                        .detail("alg", &key.alg),
                );
                Ok(key)
            }
            Err(e) => {
                self.audit.record(
                    Audit::new(Event::KeysRotated, Outcome::Failure)
                        .by(actor)
                        .detail("reason", "cannot_write_key"),
                );
                Err(UserError::Unknown(e))
            }
        }
    }
}
