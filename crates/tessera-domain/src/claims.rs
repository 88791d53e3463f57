//! The claims of an access token (RFC 9068) and the rules a verifier applies to them, and the
//! claims of an OpenID Connect ID token.

use crate::error::TokenError;
use crate::time::UnixTime;
use crate::token::SessionId;
use crate::user::UserId;

/// The claims Tessera puts in every access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub issuer: String,
    pub subject: UserId,
    pub audience: Vec<String>,
    pub expires_at: UnixTime,
    pub issued_at: UnixTime,
    pub not_before: UnixTime,
    pub jwt_id: String,
    pub client_id: String,
    pub session_id: SessionId,
    /// Space-separated scope values.
    pub scope: String,
    pub roles: Vec<String>,
    pub tenant_id: Option<String>,
    pub preferred_username: String,
}

/// The claims of an OpenID Connect ID token (OIDC Core §2), issued to one client. It tells the
/// client who signed in and how; it is never a credential for an API (`typ: JWT`, not `at+jwt`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdClaims {
    pub issuer: String,
    pub subject: UserId,
    /// The client's `client_id`: the token's `aud` and `azp`.
    pub audience: String,
    pub expires_at: UnixTime,
    pub issued_at: UnixTime,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The `nonce` of the authorization request, when it had one.
    pub nonce: Option<String>,
    /// The single sign-on (browser) session the user was signed in with: `sid`.
    pub session_id: Option<SessionId>,
    /// RFC 8176 authentication methods: `pwd`, and `otp` after a second factor.
    pub amr: Vec<String>,
    /// With the `profile` scope.
    pub preferred_username: Option<String>,
    /// With the `profile` scope, when the user has a display name.
    pub name: Option<String>,
    /// With the `email` scope, when the user has an e-mail address.
    pub email: Option<String>,
}

/// What an ID token tells when it comes back as an `id_token_hint` (OpenID Connect RP-Initiated
/// Logout 1.0 §2): who issued it, to which client, about whom, and for which sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdHint {
    pub issuer: String,
    /// The client it was issued to: its `aud`.
    pub audience: String,
    pub subject: UserId,
    /// The single sign-on (browser) session it was issued for: its `sid`, when it has one.
    pub session_id: Option<SessionId>,
}

/// What a verifier trusts: one issuer, a set of audiences, and a small clock leeway.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Seconds of clock difference tolerated on `exp` and `nbf`.
    pub leeway: i64,
}

impl ClaimRules {
    /// Checks time, issuer and audience of claims whose signature has already been verified.
    pub fn check(&self, claims: &AccessClaims, now: UnixTime) -> Result<(), TokenError> {
        self.check_time_and_issuer(claims, now)?;
        if !claims.audience.iter().any(|a| self.audiences.contains(a)) {
            return Err(TokenError::WrongAudience);
        }
        Ok(())
    }

    /// As `check`, where the token may also be for the registered OAuth client it was issued to
    /// (its `aud` names its own `client_id`): what the UserInfo endpoint takes (OIDC Core §5.3).
    pub fn check_for_client(&self, claims: &AccessClaims, now: UnixTime) -> Result<(), TokenError> {
        self.check_time_and_issuer(claims, now)?;
        let own_client = crate::oauth::is_client_id(&claims.client_id)
            && claims.audience.contains(&claims.client_id);
        if !own_client && !claims.audience.iter().any(|a| self.audiences.contains(a)) {
            return Err(TokenError::WrongAudience);
        }
        Ok(())
    }

    fn check_time_and_issuer(
        &self,
        claims: &AccessClaims,
        now: UnixTime,
    ) -> Result<(), TokenError> {
        if now.seconds() >= claims.expires_at.seconds().saturating_add(self.leeway) {
            return Err(TokenError::Expired);
        }
        if now.seconds().saturating_add(self.leeway) < claims.not_before.seconds() {
            return Err(TokenError::NotYetValid);
        }
        if claims.issuer != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            issuer: "https://id.example".into(),
            subject: UserId(7),
            audience: vec!["api".into()],
            expires_at: UnixTime(1_000),
            issued_at: UnixTime(100),
            not_before: UnixTime(100),
            jwt_id: "j".into(),
            client_id: "c".into(),
            session_id: SessionId(1),
            scope: "openid".into(),
            roles: vec![],
            tenant_id: None,
            preferred_username: "bob".into(),
        }
    }

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: "https://id.example".into(),
            audiences: vec!["other".into(), "api".into()],
            leeway: 5,
        }
    }

    #[test]
    fn accepts_a_token_inside_its_lifetime() {
        assert_eq!(rules().check(&claims(), UnixTime(500)), Ok(()));
        assert_eq!(rules().check(&claims(), UnixTime(96)), Ok(()));
        assert_eq!(rules().check(&claims(), UnixTime(1_004)), Ok(()));
    }

    #[test]
    fn rejects_each_broken_rule() {
        assert_eq!(
            rules().check(&claims(), UnixTime(1_005)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            rules().check(&claims(), UnixTime(94)),
            Err(TokenError::NotYetValid)
        );
        let mut c = claims();
        c.issuer = "https://evil.example".into();
        assert_eq!(
            rules().check(&c, UnixTime(500)),
            Err(TokenError::WrongIssuer)
        );
        let mut c = claims();
        c.audience = vec!["nope".into()];
        assert_eq!(
            rules().check(&c, UnixTime(500)),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn a_client_token_is_for_its_own_client_only_where_the_client_is_allowed() {
        let mut c = claims();
        c.client_id = "tc_wiki".into();
        c.audience = vec!["tc_wiki".into()];
        assert_eq!(
            rules().check(&c, UnixTime(500)),
            Err(TokenError::WrongAudience)
        );
        assert_eq!(rules().check_for_client(&c, UnixTime(500)), Ok(()));
        // Another client's audience, or a client id that is not a registered client's, is not it.
        c.audience = vec!["tc_other".into()];
        assert_eq!(
            rules().check_for_client(&c, UnixTime(500)),
            Err(TokenError::WrongAudience)
        );
        let mut own = claims();
        own.audience = vec!["c".into()];
        assert_eq!(
            rules().check_for_client(&own, UnixTime(500)),
            Err(TokenError::WrongAudience)
        );
        // Time and issuer still count.
        c.audience = vec!["tc_wiki".into()];
        assert_eq!(
            rules().check_for_client(&c, UnixTime(1_005)),
            Err(TokenError::Expired)
        );
    }
}
