//! The authenticated caller of a use case, and what they authenticated with.

use crate::token::SessionId;
use crate::user::{Role, UserId};

/// What a caller authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A signed JWT access token.
    AccessToken,
    /// An opaque access token; `renewed` when this use extended its lifetime.
    Opaque { renewed: bool },
    /// An API key, by id.
    ApiKey { id: i64 },
    /// The operator at the command line, who holds the server's files.
    System,
}

/// The authenticated caller of a request, read from a verified access token, opaque token or API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub username: String,
    /// Global roles in force for this credential (an API key's are limited by its scopes).
    pub roles: Vec<String>,
    /// The login session; API keys have none.
    pub session_id: Option<SessionId>,
    pub scope: String,
    /// When the credential expires, if it does.
    pub expires_at: Option<crate::time::UnixTime>,
    pub tenant_id: Option<crate::user::TenantId>,
    pub credential: Credential,
    /// The OAuth client the credential was issued to.
    pub client_id: String,
    /// When the credential was issued, where that is known (JWTs).
    pub issued_at: Option<crate::time::UnixTime>,
    /// Where the request came from; the HTTP adapter fills it in.
    pub context: crate::audit::RequestContext,
}

impl Principal {
    /// The operator at the command line: a global admin with user id 0, which audit entries show
    /// as the actor.
    pub fn system() -> Self {
        Self {
            user_id: UserId(0),
            username: "system".into(),
            roles: vec![Role::ADMIN.to_owned()],
            session_id: None,
            scope: String::new(),
            expires_at: None,
            tenant_id: None,
            credential: Credential::System,
            client_id: "cli".into(),
            issued_at: None,
            context: crate::audit::RequestContext::default(),
        }
    }

    /// The sessions to end when this caller changes something of `user`'s that ends sessions:
    /// all but the caller's own when it is their own account, all of them otherwise.
    pub fn sessions_to_end(&self, user: UserId) -> crate::ports::RevokeSessions {
        match self.session_id {
            Some(current) if self.user_id == user => {
                crate::ports::RevokeSessions::AllExcept(current)
            }
            _ => crate::ports::RevokeSessions::All,
        }
    }

    /// An access token issued to a registered OAuth client (`oauth::is_client_id`): it tells that
    /// client who signed in, and Tessera's own API refuses it (the UserInfo endpoint takes it).
    pub fn issued_to_oauth_client(&self) -> bool {
        self.credential == Credential::AccessToken && crate::oauth::is_client_id(&self.client_id)
    }

    fn has_admin_role(&self) -> bool {
        self.roles.iter().any(|r| r == Role::ADMIN)
    }

    /// A global admin: the `admin` role and no tenant. Global admins may do everything.
    pub fn is_admin(&self) -> bool {
        self.has_admin_role() && self.tenant_id.is_none()
    }

    /// A tenant admin: the `admin` role within a tenant. They manage that tenant's users,
    /// grants and API keys, and nothing else.
    pub fn is_tenant_admin(&self) -> bool {
        self.has_admin_role() && self.tenant_id.is_some()
    }
}
