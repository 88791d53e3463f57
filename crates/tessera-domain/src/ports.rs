//! The traits adapters implement. They are synchronous: the HTTP adapter calls the domain from a
//! bounded blocking pool, and a runtime-free domain is easier to reuse.

use crate::access::{Entry, Kind, Link, NewEntry};
use crate::audit::{AuditEntry, AuditQuery, AuditRecord};
use crate::claims::{AccessClaims, IdClaims, IdHint};
use crate::credentials::{ApiKey, NewApiKey};
use crate::error::{TokenError, UserError};
use crate::keys::KeyInfo;
use crate::lockout::{Failure, Limit, LockoutKey};
use crate::model_import::CheckedModel;
use crate::oauth::{Consent, NewClient, OAuthClient};
use crate::password::{Password, PasswordHash, Verification};
use crate::time::UnixTime;
use crate::token::{HashedToken, PlainToken, SessionId};
use crate::user::{LoginName, NewUser, TenantId, User, UserChanges, UserId, UserQuery};

/// The current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> UnixTime;
}

/// Password hashing (Argon2id, and verification of imported bcrypt hashes).
pub trait PasswordHasher: Send + Sync {
    /// Hashes `password` with the configured algorithm and parameters.
    ///
    /// # Errors
    /// Only when the hashing library itself fails.
    fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash>;

    /// Checks `password` against `hash`.
    ///
    /// # Errors
    /// MUST return `Ok(Verification::Mismatch)`, not an error, for a wrong password;
    /// an error only for a hash it cannot read.
    fn verify(&self, password: &Password, hash: &PasswordHash) -> anyhow::Result<Verification>;

    /// Whether `hash` is in a format `verify` can read (an imported hash is checked with this).
    fn recognizes(&self, hash: &PasswordHash) -> bool;

    /// Spends as long as `verify` on a real hash with the configured parameters, and tells nothing:
    /// used when the user is unknown, so the answer's timing does not reveal it.
    fn verify_dummy(&self, password: &Password);
}

/// Generation and digesting of opaque secret tokens.
pub trait SecretTokens: Send + Sync {
    /// A new refresh token: `REFRESH_TOKEN_PREFIX` and at least 256 random bits.
    fn new_refresh_token(&self) -> PlainToken;

    /// The successor of a refresh token at rotation, and the `jti` of the access token issued with it.
    /// MUST be a pure function of `parent` under a server secret, so a concurrent
    /// refresh of the same parent within the grace window gets the same pair back.
    fn successor(&self, parent: &PlainToken) -> (PlainToken, String);

    /// The digest under which a token is stored.
    fn digest(&self, token: &PlainToken) -> HashedToken;

    /// A fresh random `jti`.
    fn new_jwt_id(&self) -> String;

    /// A digest under a server key (HMAC-SHA-256), for short secrets such as backup codes, which a
    /// copy of the database alone must not let anyone guess offline.
    fn keyed_digest(&self, token: &PlainToken) -> HashedToken;

    /// The CSRF token that goes with a browser session's token: a MAC of it under a server key,
    /// so it needs no storage and cannot be made without the key.
    fn csrf_token(&self, session_token: &PlainToken) -> String;

    /// A new random secret: `prefix` and at least 256 random bits.
    fn new_secret(&self, prefix: &'static str) -> PlainToken;

    /// A random password for the first admin, when none was configured.
    fn new_password(&self) -> Password;

    /// The PKCE `S256` challenge of a code verifier (RFC 7636 §4.2):
    /// BASE64URL-ENCODE(SHA256(ASCII(verifier))), without padding.
    fn s256(&self, verifier: &str) -> String;
}

/// Signing and decoding of access tokens.
pub trait AccessTokenCodec: Send + Sync {
    /// Signs `claims` with the current key as an `at+jwt`.
    ///
    /// # Errors
    /// Only when the signing library fails.
    fn sign(&self, claims: &AccessClaims) -> anyhow::Result<String>;

    /// Verifies the signature, algorithm, `typ` and key id, and reads the claims.
    /// Time, issuer and audience are checked by the caller with `ClaimRules`.
    ///
    /// # Errors
    /// MUST return `TokenError::Invalid` for anything that is not a well-formed token signed by
    /// one of its keys with that key's algorithm.
    fn decode(&self, token: &str) -> Result<AccessClaims, TokenError>;

    /// Signs an OpenID Connect ID token with the current key, header `typ: JWT` (so `decode` never
    /// takes one for an access token), with `at_hash` computed from `access_token` (OIDC Core
    /// §3.1.3.6: the left half of its hash, SHA-256 for RS256 and ES256, SHA-512 for EdDSA).
    ///
    /// # Errors
    /// Only when the signing library fails.
    fn sign_id_token(&self, claims: &IdClaims, access_token: &str) -> anyhow::Result<String>;

    /// Reads an ID token this codec's keys signed, as an `id_token_hint` (OpenID Connect
    /// RP-Initiated Logout 1.0 §2): verifies the signature, algorithm, key id and `typ: JWT` (an
    /// access token is no hint), and reads who it was issued to and for which sign-in. Time is
    /// NOT checked: an expired ID token is still a good hint. The issuer is checked by the caller.
    ///
    /// # Errors
    /// MUST return `TokenError::Invalid` for anything that is not a well-formed ID token signed by
    /// one of its keys with that key's algorithm.
    fn decode_id_token(&self, token: &str) -> Result<IdHint, TokenError>;
}

/// The signing keys of access and ID tokens: the key folder, which nodes may share. The newest
/// key signs; an older one stays published until the tokens it signed have expired.
pub trait SigningKeys: Send + Sync {
    /// Every signing key this node knows, newest first, after reading the folder again if another
    /// node (or the command line) changed it.
    ///
    /// # Errors
    /// When the keys cannot be read.
    fn list(&self) -> anyhow::Result<Vec<KeyInfo>>;

    /// Makes a new signing key, the newest of the folder, made at `now`. This node signs with it
    /// from the moment this returns; other nodes sharing the folder pick it up as they pick up any
    /// new key. Returns the new key.
    ///
    /// # Errors
    /// When the key cannot be made or written, or the folder cannot be read back (the key, once
    /// written, then signs from the node's next reload).
    fn rotate(&self, now: UnixTime) -> anyhow::Result<KeyInfo>;
}

/// Which of a user's sessions a change revokes, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeSessions {
    None,
    All,
    AllExcept(SessionId),
}

/// Whether a password change leaves the user's API keys working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeys {
    Keep,
    Delete,
}

/// Users and their credentials.
pub trait UserRepository: Send + Sync {
    /// # Errors
    /// MUST return `UserError::Duplicate { field: "username" }` (or `"email"`) when the normalized
    /// username (or e-mail) is taken; nothing is written then.
    fn create_user(
        &self,
        new: &NewUser,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> Result<User, UserError>;

    /// Creates several users in one transaction: all of them, or none.
    ///
    /// # Errors
    /// As `create_user`, for the first that fails; nothing is written then.
    fn create_users(
        &self,
        users: &[(NewUser, PasswordHash)],
        now: UnixTime,
    ) -> Result<Vec<User>, UserError>;

    fn get_user(&self, id: UserId) -> anyhow::Result<Option<User>>;

    /// The user a login names (normalized username or e-mail) in `tenant` (`None`: among the global
    /// users), and their password hash.
    fn find_credentials(
        &self,
        tenant: Option<TenantId>,
        login: &LoginName,
    ) -> anyhow::Result<Option<(User, PasswordHash)>>;

    fn user_credentials(&self, id: UserId) -> anyhow::Result<Option<(User, PasswordHash)>>;

    /// Applies `changes` and revokes the sessions `revoke` names, in one transaction.
    /// `changes.attributes` is merged (`Attributes::merged`) into the attributes the transaction
    /// reads, so that concurrent merges each keep their change.
    /// Returns the updated user and the sessions revoked.
    ///
    /// # Errors
    /// MUST return `UserError::NotFound` for an unknown id, `UserError::Duplicate` for a taken
    /// e-mail, and `UserError::Validation` naming `attributes` when the merged attributes break a
    /// rule; nothing is written then.
    fn update_user(
        &self,
        id: UserId,
        changes: &UserChanges,
        revoke: RevokeSessions,
        now: UnixTime,
    ) -> Result<(User, Vec<SessionId>), UserError>;

    /// Replaces the password hash and revokes the sessions `revoke` names, and with
    /// `ApiKeys::Delete` deletes the user's API keys and ends the sessions opened with them, all in
    /// one transaction. Returns `None` for an unknown id, else the sessions revoked.
    fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        revoke: RevokeSessions,
        api_keys: ApiKeys,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>>;

    /// Deletes the user and revokes all their sessions, in one transaction.
    /// Returns `None` for an unknown id, else the sessions revoked. The id is never reused.
    fn delete_user(&self, id: UserId, now: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>>;

    /// Users with ids after `query.after`, in id order, at most `query.limit`.
    fn list_users(&self, query: &UserQuery) -> anyhow::Result<Vec<User>>;

    fn count_users(&self) -> anyhow::Result<u64>;

    /// Active global (tenant-less) users with the `admin` role.
    fn count_active_admins(&self) -> anyhow::Result<u64>;
}

/// A new login session with its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    /// The scope granted, when narrower than the configured one.
    pub scope: Option<String>,
    /// How the user authenticated, as space-separated RFC 8176 values (`pwd`, `pwd otp`); `None`
    /// for a session no person signed in to (an API key's).
    pub amr: Option<String>,
    /// The OAuth client whose code exchange opened the session; `None`: Tessera's own public
    /// client (`tokens.client_id`).
    pub client_id: Option<String>,
    /// The browser (single sign-on) session whose sign-in this session lives and dies with: signing
    /// out of that browser session ends this one too (`SessionRepository::end_sign_in`). Set for
    /// the sessions a code exchange opens without `offline_access`; `None` for every other, an
    /// offline session included (OIDC Core §11: offline access is for when the user is not
    /// signed in, so it outlives the sign-in and ends by revocation).
    pub sso_session_id: Option<SessionId>,
}

/// A stored refresh token with the state of its session.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub token_id: i64,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub session_revoked: bool,
    pub session_created_at: UnixTime,
    pub session_last_used_at: UnixTime,
    pub expires_at: UnixTime,
    pub rotated_at: Option<UnixTime>,
    /// The scope the session was granted; `None`: the configured scope.
    pub scope: Option<String>,
    /// The OAuth client the session was opened for; `None`: Tessera's own public client.
    pub client_id: Option<String>,
}

/// The outcome of trying to rotate a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Rotated,
    /// Another request rotated it first, at that time.
    AlreadyRotated {
        at: UnixTime,
    },
}

/// Sessions, refresh tokens, and the list of revocations.
pub trait SessionRepository: Send + Sync {
    /// Creates a session and stores its first refresh token's digest.
    fn create_session(&self, new: &NewSession, refresh: &HashedToken) -> anyhow::Result<SessionId>;

    fn find_refresh(&self, digest: &HashedToken) -> anyhow::Result<Option<RefreshRecord>>;

    /// Marks token `token_id` rotated at `now` and stores `successor` (expiring at `expires_at`)
    /// in the same session, extending it, all in one transaction.
    ///
    /// # Errors
    /// MUST do this atomically and only if the token is not rotated yet; if it is, it MUST write
    /// nothing and return `Rotation::AlreadyRotated` with the time of that rotation.
    fn rotate_refresh(
        &self,
        token_id: i64,
        successor: &HashedToken,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> anyhow::Result<Rotation>;

    /// Ends a session and appends it to the revocation list. Returns false if it had already ended.
    fn revoke_session(&self, id: SessionId, reason: &str, now: UnixTime) -> anyhow::Result<bool>;

    /// A sign-out: ends the browser session `sso` and every live session bound to it
    /// (`NewSession::sso_session_id`), appending each to the revocation list, in one transaction.
    /// Returns the sessions it ended, `sso` first when it was still live; ended ones are left as
    /// they are (and not returned).
    fn end_sign_in(
        &self,
        sso: SessionId,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>>;

    /// Marks `id` used at `now`.
    fn touch_session(&self, id: SessionId, now: UnixTime) -> anyhow::Result<()>;

    /// Revocations made at or after `since`, oldest first.
    fn revocations_since(&self, since: UnixTime) -> anyhow::Result<Vec<(SessionId, UnixTime)>>;
}

/// The authorization model: services, roles, permissions, links and grants.
///
/// Every method that writes does so in one transaction: on any failure nothing is written.
pub trait AccessRepository: Send + Sync {
    /// # Errors
    /// MUST return `UserError::Duplicate { field: "name" }` when the kind already has that name.
    fn create_entry(&self, kind: Kind, new: &NewEntry, now: UnixTime) -> Result<Entry, UserError>;

    /// A visible entry by id; `None` for hidden roles and unknown ids.
    fn get_entry(&self, kind: Kind, id: i64) -> anyhow::Result<Option<Entry>>;

    /// A visible entry by its exact name.
    fn find_entry(&self, kind: Kind, name: &str) -> anyhow::Result<Option<Entry>>;

    /// Replaces name, description and (for services) `active`.
    ///
    /// # Errors
    /// MUST return `UserError::NotFound` for an unknown or hidden id, `Duplicate { field: "name" }`
    /// for a taken name.
    fn update_entry(
        &self,
        kind: Kind,
        id: i64,
        new: &NewEntry,
        now: UnixTime,
    ) -> Result<Entry, UserError>;

    /// Deletes the entry with every link and grant naming it; false for an unknown id.
    /// Deleting a service also deletes the hidden roles scoped to it.
    ///
    /// # Errors
    /// MUST return `UserError::InUse` for a tenant that still has users or OAuth clients,
    /// deleting nothing.
    fn delete_entry(&self, kind: Kind, id: i64) -> Result<bool, UserError>;

    /// Visible entries with ids after `after`, in id order, at most `limit`.
    fn list_entries(
        &self,
        kind: Kind,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<Entry>>;

    /// Adds a link; an existing one is left as it is.
    ///
    /// # Errors
    /// MUST return `UserError::Validation` with `not_found` against `role`, `permission` or
    /// `service` when that end does not exist (or is hidden).
    fn link(&self, link: Link, left: i64, right: i64) -> Result<(), UserError>;

    /// Removes a link; false when there was none.
    fn unlink(&self, link: Link, left: i64, right: i64) -> anyhow::Result<bool>;

    /// The right ends linked to `left`, sorted by name; `None` when `left` does not exist.
    fn linked(&self, link: Link, left: i64) -> anyhow::Result<Option<Vec<Entry>>>;

    /// Grants a role to a person in a service; an existing grant is left as it is.
    ///
    /// # Errors
    /// MUST return `UserError::Validation` with `not_found` against `person`, `service` or
    /// `role` for an unknown id, and `not_offered_by_service` against `role` when the service
    /// is not linked to the role.
    fn grant_role(&self, person: UserId, service: i64, role: i64) -> Result<(), UserError>;

    /// Removes a grant; false when there was none.
    fn revoke_role(&self, person: UserId, service: i64, role: i64) -> anyhow::Result<bool>;

    /// Grants one permission through the hidden role scoped to the person and service, creating
    /// that role (linked to the service and granted to the person) when it does not exist yet.
    ///
    /// # Errors
    /// As `grant_role`, with `permission` for an unknown permission.
    fn grant_permission(
        &self,
        person: UserId,
        service: i64,
        permission: i64,
        now: UnixTime,
    ) -> Result<(), UserError>;

    /// The services in which `person` holds any grant, sorted by name.
    fn person_services(&self, person: UserId) -> anyhow::Result<Vec<Entry>>;

    /// The visible roles `person` holds in `service`, sorted by name.
    fn person_roles(&self, person: UserId, service: i64) -> anyhow::Result<Vec<Entry>>;

    /// The names of the permissions `person` holds in `service` through any role, sorted, unique.
    fn effective_permissions(&self, person: UserId, service: i64) -> anyhow::Result<Vec<String>>;

    /// The people holding `role` in `service`, in id order.
    fn role_people(&self, service: i64, role: i64) -> anyhow::Result<Vec<User>>;

    /// Replaces (or with `None` removes) a service's secret; false for an unknown service.
    fn set_service_secret(
        &self,
        service: i64,
        secret: Option<&HashedToken>,
        now: UnixTime,
    ) -> anyhow::Result<bool>;

    /// The service whose current secret has this digest.
    fn service_by_secret(&self, digest: &HashedToken) -> anyhow::Result<Option<Entry>>;
}

/// Writes a whole access model brought from another system, keeping the ids it came with
/// (`Accounts::import_model`).
pub trait ModelImporter: Send + Sync {
    /// In one transaction: when `replace`, first ends every live session (appending them to the
    /// revocation list) and deletes every user, service, role and permission with their links and
    /// grants; then writes `model`'s users (with their global roles), services, roles and
    /// permissions under their own ids, the links and grants, and each direct grant through the
    /// hidden role of its person and service (as `AccessRepository::grant_permission` does); and
    /// makes sure no user, service, role or permission made later gets an id taken by a row
    /// written here, nor a user one at or below `model.user_ids_through`.
    /// Returns the sessions ended, or `None` when the store holds any user, service, role or
    /// permission and `replace` is false: nothing is written then.
    ///
    /// # Errors
    /// When the store fails; nothing is written then.
    fn import_model(
        &self,
        model: &CheckedModel,
        replace: bool,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>>;
}

/// A stored opaque access token with the state of its session.
#[derive(Debug, Clone)]
pub struct OpaqueRecord {
    pub token_id: i64,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub session_revoked: bool,
    pub session_created_at: UnixTime,
    pub session_last_used_at: UnixTime,
    pub session_expires_at: UnixTime,
    pub expires_at: UnixTime,
    /// How far each renewal moves the expiry.
    pub ttl: i64,
    /// How the session's user authenticated (`NewSession::amr`).
    pub amr: Option<String>,
}

/// The outcome of trying to extend an opaque token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    Extended,
    /// Another request moved the expiry first, to this time.
    AlreadyAt(UnixTime),
    /// The token no longer exists.
    Gone,
}

/// API keys, opaque access tokens, service tokens, and the clean-up of expired credentials.
pub trait CredentialRepository: Send + Sync {
    /// # Errors
    /// MUST return `UserError::NotFound` when the user does not exist.
    fn create_api_key(&self, new: &NewApiKey, digest: &HashedToken) -> Result<ApiKey, UserError>;

    fn get_api_key(&self, id: i64) -> anyhow::Result<Option<ApiKey>>;

    /// A user's keys, in id order.
    fn list_api_keys(&self, user: UserId) -> anyhow::Result<Vec<ApiKey>>;

    /// Deletes a key and revokes the sessions opened with it, in one transaction.
    /// Returns `None` for an unknown id, else the sessions revoked.
    fn delete_api_key(&self, id: i64, now: UnixTime) -> anyhow::Result<Option<Vec<SessionId>>>;

    /// The key with this digest and its user.
    fn find_api_key(&self, digest: &HashedToken) -> anyhow::Result<Option<(ApiKey, User)>>;

    /// Records when keys were last used; unknown ids are skipped.
    fn record_api_key_use(&self, uses: &[(i64, UnixTime)]) -> anyhow::Result<()>;

    /// Opens a session for an API key's client-credentials grant (no refresh token).
    fn create_key_session(&self, new: &NewSession, api_key: i64) -> anyhow::Result<SessionId>;

    /// Opens a session with its first opaque access token, which renews by `ttl`, in one transaction.
    /// The token first expires `ttl` after the session's creation, or at the session's end if sooner.
    fn create_opaque_session(
        &self,
        new: &NewSession,
        token: &HashedToken,
        ttl: i64,
    ) -> anyhow::Result<SessionId>;

    fn find_opaque(&self, digest: &HashedToken) -> anyhow::Result<Option<OpaqueRecord>>;

    /// Moves the expiry of token `id` from `from` to `to`, only if it is still `from`.
    ///
    /// # Errors
    /// MUST be atomic: of two concurrent calls with the same `from`, exactly one returns
    /// `Extension::Extended`; the other gets the expiry the first one set.
    /// A successful extension also marks the token's session used at `now`.
    fn extend_opaque(
        &self,
        id: i64,
        from: UnixTime,
        to: UnixTime,
        now: UnixTime,
    ) -> anyhow::Result<Extension>;

    /// Stores the digest of a service token naming `service`, good until `expires_at`; the
    /// service's other tokens stay as they are. Deleting the service deletes its tokens.
    ///
    /// # Errors
    /// MUST return `UserError::NotFound` for an unknown service; nothing is written then.
    fn create_service_token(
        &self,
        service: i64,
        digest: &HashedToken,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<(), UserError>;

    /// When the service token with this digest expires, and the service it names as it is now
    /// (active or not); `None` for an unknown token.
    fn find_service_token(&self, digest: &HashedToken)
        -> anyhow::Result<Option<(UnixTime, Entry)>>;

    /// Deletes at most `batch` opaque tokens expired before `now`, at most `batch` service tokens
    /// expired before `now`, at most `batch` sessions (with their refresh and opaque tokens) that
    /// ended or expired before `ended_before`, and at most `batch` authorization codes that
    /// expired before `ended_before` (kept that long so that a replay can still revoke what the
    /// code's first use opened). Returns how many rows went.
    fn prune_expired(
        &self,
        now: UnixTime,
        ended_before: UnixTime,
        batch: u32,
    ) -> anyhow::Result<u64>;
}

/// Registered OAuth 2.0 / OpenID Connect clients.
pub trait ClientRepository: Send + Sync {
    /// Stores a client under `client_id`, with the digest of its secret when it is confidential.
    ///
    /// # Errors
    /// `UserError::Unknown` when the store fails, an unknown tenant included (the use case checks
    /// the tenant first); nothing is written then.
    fn create_client(
        &self,
        new: &NewClient,
        client_id: &str,
        secret: Option<&HashedToken>,
        now: UnixTime,
    ) -> Result<OAuthClient, UserError>;

    /// The client with this `client_id`.
    fn find_client(&self, client_id: &str) -> anyhow::Result<Option<OAuthClient>>;

    /// Clients with row ids (`OAuthClient::id`) after `after`, in id order, at most `limit`: those
    /// of `tenant` when given, else every client.
    fn list_clients(
        &self,
        tenant: Option<TenantId>,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<OAuthClient>>;

    /// Replaces what a registration says of client `client_pk`: its name, URIs, grant and response
    /// types, scope and `first_party`, and sets `updated_at`. Its `client_id`, tenant,
    /// authentication method and secret stay as they are (`new`'s are not read).
    ///
    /// # Errors
    /// MUST return `UserError::NotFound` for an unknown id; nothing is written then.
    fn update_client(
        &self,
        client_pk: i64,
        new: &NewClient,
        now: UnixTime,
    ) -> Result<OAuthClient, UserError>;

    /// Replaces the digest of a confidential client's secret and sets `updated_at`; false for an
    /// unknown id.
    fn set_client_secret(
        &self,
        client_pk: i64,
        secret: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<bool>;

    /// Deletes the client with its authorization codes and its users' consents, and ends every
    /// live session opened for it (`NewSession::client_id`), appending them to the revocation
    /// list, in one transaction. Returns `None` for an unknown id, else the sessions revoked. The
    /// `client_id` is never given out again.
    fn delete_client(
        &self,
        client_pk: i64,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>>;
}

/// What users consented to give OpenID Connect clients, one consent per user and client.
pub trait ConsentRepository: Send + Sync {
    /// What `user` consented to give client `client_pk`, with the client's id and name.
    fn find_consent(&self, user: UserId, client_pk: i64) -> anyhow::Result<Option<Consent>>;

    /// Records that `user` consented to give client `client_pk` the scopes of `scope`: a new
    /// consent made at `now`, or the one there with its scope now `oauth::merged_scope(held,
    /// scope)` and `updated_at` set, in one transaction.
    ///
    /// # Errors
    /// MUST be atomic: of concurrent calls for one user and client, none loses another's scopes.
    fn save_consent(
        &self,
        user: UserId,
        client_pk: i64,
        scope: &str,
        now: UnixTime,
    ) -> anyhow::Result<()>;

    /// `user`'s consents to clients with row ids (`Consent::client_pk`) after `after`, in that
    /// order, at most `limit`.
    fn list_consents(
        &self,
        user: UserId,
        after: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<Consent>>;

    /// Deletes `user`'s consent to client `client_pk`, ends every live session of `user` opened
    /// for that client (`NewSession::client_id`), appending them to the revocation list, and
    /// deletes `user`'s unused authorization codes of the client, in one transaction. Returns
    /// `None` when there was no such consent (nothing is written then), else the sessions revoked.
    fn revoke_consent(
        &self,
        user: UserId,
        client_pk: i64,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>>;
}

/// An authorization code to store: what its redemption may issue, and to whom.
#[derive(Debug, Clone)]
pub struct NewCode {
    pub code_hash: HashedToken,
    /// The client's row id (`OAuthClient::id`).
    pub client_pk: i64,
    pub user_id: UserId,
    /// The browser session the user was signed in with.
    pub sso_session_id: Option<SessionId>,
    pub redirect_uri: String,
    /// The scope granted, space-separated.
    pub scope: String,
    pub nonce: Option<String>,
    /// The PKCE `S256` challenge.
    pub code_challenge: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// Space-separated RFC 8176 methods.
    pub amr: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// A stored authorization code, just redeemed.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub id: i64,
    pub client_pk: i64,
    pub user_id: UserId,
    pub sso_session_id: Option<SessionId>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: UnixTime,
    pub amr: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// The outcome of redeeming an authorization code.
#[derive(Debug, Clone)]
pub enum Redeemed {
    /// First use: it is marked used now. Its expiry is for the caller to check.
    Fresh(CodeRecord),
    /// It had been used already. `client_pk` is the code's own client: only it may have what
    /// the code opened revoked (`AuthorizationCodes::mark_replayed`).
    Replayed { code_id: i64, client_pk: i64 },
    /// No such code (or it was pruned).
    Unknown,
}

/// Single-use authorization codes.
pub trait AuthorizationCodes: Send + Sync {
    fn create_code(&self, new: &NewCode) -> anyhow::Result<()>;

    /// Marks the code with this digest used at `now` and returns it.
    ///
    /// # Errors
    /// MUST be atomic: of concurrent redemptions of one code, exactly one gets `Fresh`; the others
    /// get `Replayed`.
    fn redeem_code(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<Redeemed>;

    /// Records the session the redemption of code `code_id` opened, for revoking it on a replay,
    /// and says whether the code was replayed (`mark_replayed`) while the session was being
    /// opened: then the caller revokes it itself.
    ///
    /// # Errors
    /// MUST be atomic with `mark_replayed`: of the two, the later one sees what the earlier did.
    fn attach_session(&self, code_id: i64, session: SessionId) -> anyhow::Result<bool>;

    /// Marks code `code_id` replayed at `now` and returns the session its
    /// first redemption opened, if it was attached yet.
    fn mark_replayed(&self, code_id: i64, now: UnixTime) -> anyhow::Result<Option<SessionId>>;
}

/// Consecutive failed logins, per `LockoutKey`.
pub trait LockoutRepository: Send + Sync {
    /// When the key is locked until, if it is locked at `now`.
    fn locked_until(&self, key: &LockoutKey, now: UnixTime) -> anyhow::Result<Option<UnixTime>>;

    /// Counts a failure: a key whose last failure (or the end of whose last lock) is older than
    /// `limit.forget_after_seconds` starts again from one; when `limit.lock_for(count)` says so, the key is locked for that
    /// long (and keeps its count, so that the next lock lasts longer).
    ///
    /// # Errors
    /// MUST be atomic: of concurrent failures, exactly one returns `Failure::Locked`; those that
    /// find the key already locked return `Failure::AlreadyLocked` and count nothing.
    fn record_failure(
        &self,
        key: &LockoutKey,
        now: UnixTime,
        limit: &Limit,
    ) -> anyhow::Result<Failure>;

    /// Forgets the key's failures and lock (a successful login).
    fn clear(&self, key: &LockoutKey) -> anyhow::Result<()>;

    /// Forgets the key's failures and locks, and those of the same key from every address
    /// (`<key>@<address>`): an admin's unlock.
    fn clear_all(&self, key: &LockoutKey) -> anyhow::Result<()>;
}

/// The stored audit log.
pub trait AuditLog: Send + Sync {
    fn append(&self, entry: &AuditEntry) -> anyhow::Result<()>;

    /// Entries matching `query`, in id order, at most `query.limit`.
    fn query(&self, query: &AuditQuery) -> anyhow::Result<Vec<AuditRecord>>;

    /// Deletes at most `batch` entries older than `before`; returns how many went.
    fn prune(&self, before: UnixTime, batch: u32) -> anyhow::Result<u64>;
}

/// Password-reset tokens.
pub trait RecoveryRepository: Send + Sync {
    /// Stores a reset token for `user`, deleting the user's earlier ones.
    fn create_reset(
        &self,
        user: UserId,
        digest: &HashedToken,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> anyhow::Result<()>;

    /// The user of an unused, unexpired token.
    fn reset_user(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<Option<UserId>>;

    /// Marks the token used, sets the user's password hash and revokes all their sessions, in one
    /// transaction. Returns the sessions revoked, or `None` when the token is unknown, used or expired.
    ///
    /// # Errors
    /// MUST be atomic: of concurrent calls with one token, exactly one returns `Some`.
    fn consume_reset(
        &self,
        digest: &HashedToken,
        hash: &PasswordHash,
        now: UnixTime,
    ) -> anyhow::Result<Option<Vec<SessionId>>>;
}

/// Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s) and backup codes.
pub trait OneTimeCodes: Send + Sync {
    /// A new shared secret of 160 random bits, base32 without padding.
    fn new_totp_secret(&self) -> String;

    /// The `otpauth://totp/…` URI an authenticator app reads, and that URI as an SVG QR code.
    ///
    /// # Errors
    /// When the account name cannot go in a URI.
    fn enrolment(
        &self,
        secret: &str,
        account: &str,
        issuer: &str,
    ) -> anyhow::Result<(String, String)>;

    /// The time step of `code` for `secret` within one step of `now`, if it matches one.
    fn totp_step(&self, secret: &str, code: &str, now: UnixTime) -> Option<i64>;

    /// A new backup code: ten characters from an unambiguous alphabet, as `xxxxx-xxxxx`.
    fn new_backup_code(&self) -> String;
}

/// A user's second factor as stored.
#[derive(Debug, Clone)]
pub struct MfaState {
    pub secret: String,
    pub enabled: bool,
    /// The last TOTP time step accepted; codes of it or earlier are refused.
    pub last_step: Option<i64>,
}

/// Second factors, backup codes and pending MFA logins.
pub trait MfaRepository: Send + Sync {
    /// Starts (or restarts) an enrolment with a new, not yet enabled secret.
    /// Returns false when MFA is already enabled; nothing is written then.
    fn begin_enrolment(&self, user: UserId, secret: &str, now: UnixTime) -> anyhow::Result<bool>;

    fn mfa_state(&self, user: UserId) -> anyhow::Result<Option<MfaState>>;

    /// Enables a pending enrolment whose code of time step `step` was right, and stores the
    /// backup codes' digests, in one transaction. False when there is no pending enrolment.
    fn enable(
        &self,
        user: UserId,
        step: i64,
        backup: &[HashedToken],
        now: UnixTime,
    ) -> anyhow::Result<bool>;

    /// Accepts TOTP time step `step` for `user` once.
    ///
    /// # Errors
    /// MUST be atomic: of concurrent calls with one step, exactly one returns true, and no call
    /// with a step at or before the last accepted one returns true.
    fn accept_step(&self, user: UserId, step: i64) -> anyhow::Result<bool>;

    /// Uses one backup code. MUST be atomic: of concurrent uses of one code, exactly one returns true.
    fn use_backup_code(
        &self,
        user: UserId,
        digest: &HashedToken,
        now: UnixTime,
    ) -> anyhow::Result<bool>;

    fn remaining_backup_codes(&self, user: UserId) -> anyhow::Result<u32>;

    /// Replaces every backup code of the user.
    fn replace_backup_codes(&self, user: UserId, backup: &[HashedToken]) -> anyhow::Result<()>;

    /// Removes the second factor and backup codes; with `revoke`, also ends the user's sessions,
    /// in the same transaction. Returns the sessions ended.
    fn disable(
        &self,
        user: UserId,
        revoke: RevokeSessions,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>>;

    /// Stores a pending MFA login for `user`.
    fn create_challenge(
        &self,
        user: UserId,
        digest: &HashedToken,
        expires_at: UnixTime,
    ) -> anyhow::Result<()>;

    /// The user of an unused, unexpired pending login.
    fn challenge_user(&self, digest: &HashedToken, now: UnixTime)
        -> anyhow::Result<Option<UserId>>;

    /// Marks a pending login used. MUST be atomic: of concurrent calls, exactly one returns true.
    fn consume_challenge(&self, digest: &HashedToken, now: UnixTime) -> anyhow::Result<bool>;
}

/// A live session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: UnixTime,
    pub last_used_at: UnixTime,
    pub expires_at: UnixTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Opened by an API key's client-credentials grant.
    pub api_key: bool,
    /// The OpenID Connect client whose code exchange opened it; `None`: Tessera's own (a login
    /// to the API or the sign-in pages, or an API key's grant).
    pub client_id: Option<String>,
}

/// Listing and ending a user's sessions.
pub trait SessionDirectory: Send + Sync {
    /// The user's sessions that have not ended or expired at `now`, oldest first.
    fn live_sessions(&self, user: UserId, now: UnixTime) -> anyhow::Result<Vec<SessionInfo>>;

    /// How many sessions of anyone have not ended or expired at `now`.
    fn count_live(&self, now: UnixTime) -> anyhow::Result<u64>;

    /// One session, live or not; `None` for an unknown id.
    fn session(&self, id: SessionId) -> anyhow::Result<Option<SessionInfo>>;

    /// Ends the user's live sessions that `scope` names, in one transaction; returns them.
    fn revoke_sessions_of(
        &self,
        user: UserId,
        scope: RevokeSessions,
        reason: &str,
        now: UnixTime,
    ) -> anyhow::Result<Vec<SessionId>>;
}

/// Whether the store can serve: it answers, and its schema is up to date.
pub trait Readiness: Send + Sync {
    /// # Errors
    /// Saying what is wrong, without secrets (no URL with a password in it).
    fn check(&self) -> anyhow::Result<()>;
}

/// Counts what happens, for metrics. Called on the hot path: it must not block.
pub trait Observer: Send + Sync {
    /// An audited event and its outcome.
    fn event(&self, event: crate::audit::Event, outcome: crate::audit::Outcome);

    /// A token was issued: `access_jwt`, `access_opaque`, `browser_session`, `refresh`,
    /// `client_credentials` or `id_token`.
    fn token_issued(&self, kind: &'static str);

    /// Sessions this node just revoked (already in the store), for whoever tells other nodes
    /// sooner than they would read it from the store.
    fn sessions_revoked(&self, _sessions: &[crate::token::SessionId]) {}
}
