//! The OpenID Connect provider: client registration, the authorization endpoint's two kinds of
//! error, signing in first, consent, PKCE, single-use codes that expire, replay, client
//! authentication, and RP-initiated logout.

use super::setup;
use super::support::{
    access, audited, create_with, ctx, entry, fields, jwt_login, login_kind, now, principal,
    USER_PW,
};
use crate::access::Kind;
use crate::audit::{Event, Outcome};
use crate::error::{
    AuthError, AuthorizeError, EndSessionError, OAuthGrantError, TokenError, UserError,
};
use crate::fakes::{fake_totp_at, Harness};
use crate::issuer::SessionKind;
use crate::oauth::{
    AuthMethod, AuthorizationRequest, AuthorizeOutcome, ClientRequest, CodeExchange,
    EndSessionOutcome, EndSessionRequest, OAuthClient, OidcTokens, PresentedClient, SsoSession,
    CODE_TTL, MAX_RESUME_QUERY_LEN, MAX_SCOPE_LEN, MAX_UI_LOCALES_LEN,
};
use crate::ports::ConsentRepository as _;
use crate::principal::Principal;
use crate::token::{PlainToken, SessionId};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more_0123";

/// A first-party client's registration, whose users are never asked for consent (the consent
/// tests register clients that are not: `third_party`).
fn registration(method: &str) -> ClientRequest {
    ClientRequest {
        client_name: "Wiki".into(),
        redirect_uris: vec![REDIRECT.into()],
        token_endpoint_auth_method: Some(method.into()),
        first_party: Some(true),
        ..ClientRequest::default()
    }
}

/// A public client that is not first party: its users are asked for consent.
fn third_party(h: &Harness, admin: &Principal, name: &str) -> OAuthClient {
    let req = ClientRequest {
        client_name: name.into(),
        first_party: Some(false),
        ..registration("none")
    };
    register(h, admin, &req).0
}

fn register(
    h: &Harness,
    admin: &Principal,
    req: &ClientRequest,
) -> (OAuthClient, Option<PlainToken>) {
    h.core.oauth.create_client(admin, req).unwrap()
}

fn public_client(h: &Harness, admin: &Principal) -> OAuthClient {
    register(h, admin, &registration("none")).0
}

/// A complete, valid authorization request of `client` with `VERIFIER`'s challenge.
fn request(h: &Harness, client: &OAuthClient) -> AuthorizationRequest {
    AuthorizationRequest::from_params([
        ("response_type", "code".to_owned()),
        ("client_id", client.client_id.clone()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("scope", "openid profile email".to_owned()),
        ("state", "st-1".to_owned()),
        ("nonce", "n-1".to_owned()),
        ("code_challenge", h.ports.secrets.s256(VERIFIER)),
        ("code_challenge_method", "S256".to_owned()),
    ])
}

/// The single sign-on session of a browser sign-in of `user`.
fn browser(h: &Harness, user: &str, pw: &str) -> SsoSession {
    let token = access(login_kind(h, user, pw, None, SessionKind::Browser).unwrap());
    h.core.gate.sso_session(token.expose()).unwrap()
}

fn authorize(
    h: &Harness,
    req: &AuthorizationRequest,
    sso: Option<&SsoSession>,
) -> Result<AuthorizeOutcome, AuthorizeError> {
    h.core.oauth.authorize(req, sso, &ctx())
}

fn code_for(h: &Harness, client: &OAuthClient, sso: &SsoSession) -> PlainToken {
    match authorize(h, &request(h, client), Some(sso)).unwrap() {
        AuthorizeOutcome::Code {
            redirect_uri,
            code,
            state,
        } => {
            assert_eq!(
                (redirect_uri.as_str(), state.as_deref()),
                (REDIRECT, Some("st-1"))
            );
            code
        }
        other => panic!("expected a code, got {other:?}"),
    }
}

fn public(client: &OAuthClient) -> PresentedClient {
    PresentedClient {
        client_id: client.client_id.clone(),
        secret: None,
        method: AuthMethod::None,
    }
}

fn exchange(
    h: &Harness,
    presented: &PresentedClient,
    code: &PlainToken,
    verifier: &str,
) -> Result<OidcTokens, OAuthGrantError> {
    h.core.oauth.exchange_code(
        presented,
        &CodeExchange {
            code: PlainToken::new(code.expose().to_owned()),
            redirect_uri: REDIRECT.into(),
            code_verifier: PlainToken::new(verifier.to_owned()),
        },
        &ctx(),
    )
}

/// An admin, a public client and the admin's browser session.
fn world() -> (Harness, Principal, OAuthClient, SsoSession) {
    let (h, admin) = setup();
    let client = public_client(&h, &admin);
    let sso = browser(&h, "admin", super::ADMIN_PW);
    (h, admin, client, sso)
}

fn invalid_grant<T: std::fmt::Debug>(r: Result<T, OAuthGrantError>) {
    assert!(matches!(r, Err(OAuthGrantError::InvalidGrant(_))), "{r:?}");
}

#[test]
fn a_registration_names_every_broken_rule_and_writes_nothing() {
    let (h, admin) = setup();
    let bad = ClientRequest {
        client_name: " ".into(),
        redirect_uris: vec![
            "http://app.example/cb".into(),
            "https://app.example/cb#x".into(),
        ],
        grant_types: Some(vec!["authorization_code".into(), "password".into()]),
        response_types: Some(vec!["token".into()]),
        token_endpoint_auth_method: Some("private_key_jwt".into()),
        scope: Some("profile offline_access".into()),
        ..ClientRequest::default()
    };
    let err = h.core.oauth.create_client(&admin, &bad).unwrap_err();
    let got = fields(&err);
    for (field, rule) in [
        ("client_name", "empty"),
        ("redirect_uris[0]", "insecure"),
        ("redirect_uris[1]", "fragment"),
        ("grant_types", "unsupported"),
        ("response_types", "unsupported"),
        ("token_endpoint_auth_method", "unsupported"),
        ("scope", "missing_openid"),
        ("scope", "offline_access_needs_refresh_token"),
    ] {
        assert!(
            got.iter()
                .any(|(f, rules)| f == field && rules.contains(&rule)),
            "{field} {rule} in {got:?}"
        );
    }
    let none = ClientRequest {
        redirect_uris: vec![],
        ..registration("none")
    };
    let err = h.core.oauth.create_client(&admin, &none).unwrap_err();
    assert_eq!(fields(&err), [("redirect_uris".to_owned(), vec!["empty"])]);
    let no_code = ClientRequest {
        grant_types: Some(vec!["refresh_token".into()]),
        ..registration("none")
    };
    let err = h.core.oauth.create_client(&admin, &no_code).unwrap_err();
    assert_eq!(
        fields(&err),
        [("grant_types".to_owned(), vec!["missing_authorization_code"])]
    );
    assert_eq!(audited(&h, Event::ClientCreated, Outcome::Success), 0);
}

#[test]
fn a_confidential_client_gets_its_secret_once_and_a_public_one_none() {
    let (h, admin) = setup();
    let (client, secret) = register(&h, &admin, &registration("client_secret_post"));
    let secret = secret.unwrap();
    assert!(secret.expose().starts_with("tsc_"));
    assert!(client.client_id.starts_with("tc_"));
    assert_eq!(client.secret, Some(h.ports.secrets.digest(&secret)));
    assert_eq!(client.auth_method, AuthMethod::ClientSecretPost);
    // The defaults: the authorization-code grant, `code`, every scope but offline_access.
    assert_eq!(client.grant_types, ["authorization_code"]);
    assert_eq!(client.response_types, ["code"]);
    assert_eq!(client.scope, "openid profile email");
    let (public, none) = register(&h, &admin, &registration("none"));
    assert!(none.is_none());
    assert_eq!(public.secret, None);
    assert_eq!(audited(&h, Event::ClientCreated, Outcome::Success), 2);
}

#[test]
fn only_admins_register_clients_and_tenant_admins_only_for_their_tenant() {
    let (h, admin) = setup();
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    let globex = entry(&h, &admin, Kind::Tenant, "globex").id;
    create_with(&h, &admin, "ann", &["admin", "user"], Some(acme));
    create_with(&h, &admin, "bob", &["user"], None);
    let ann = principal(
        &h,
        &jwt_login(&h, "ann", USER_PW, Some("acme")).access_token,
    );
    let bob = principal(&h, &jwt_login(&h, "bob", USER_PW, None).access_token);
    assert!(matches!(
        h.core.oauth.create_client(&bob, &registration("none")),
        Err(UserError::Forbidden(_))
    ));
    let elsewhere = ClientRequest {
        tenant_id: Some(globex),
        ..registration("none")
    };
    assert!(matches!(
        h.core.oauth.create_client(&ann, &elsewhere),
        Err(UserError::NotFound)
    ));
    let (own, _) = register(&h, &ann, &registration("none"));
    assert_eq!(own.tenant_id.map(|t| t.0), Some(acme));
    let nowhere = ClientRequest {
        tenant_id: Some(999),
        ..registration("none")
    };
    let err = h.core.oauth.create_client(&admin, &nowhere).unwrap_err();
    assert_eq!(fields(&err), [("tenant".to_owned(), vec!["not_found"])]);
}

#[test]
fn an_untrustworthy_client_or_redirect_uri_is_never_redirected_to() {
    let (h, _, client, sso) = world();
    let mut cases: Vec<(&str, AuthorizationRequest)> = Vec::new();
    let mut r = request(&h, &client);
    r.client_id = None;
    cases.push(("no client_id", r));
    let mut r = request(&h, &client);
    r.client_id = Some("tc_unknown".into());
    cases.push(("unknown client", r));
    let mut r = request(&h, &client);
    r.redirect_uri = None;
    cases.push(("no redirect_uri", r));
    let mut r = request(&h, &client);
    r.redirect_uri = Some("http://127.0.0.1:9/other".into());
    cases.push(("unregistered redirect_uri", r));
    let mut r = request(&h, &client);
    r.repeated = vec!["redirect_uri".into()];
    cases.push(("repeated redirect_uri", r));
    for (what, req) in cases {
        let outcome = authorize(&h, &req, Some(&sso));
        assert!(
            matches!(outcome, Err(AuthorizeError::NoRedirect { .. })),
            "{what}: {outcome:?}"
        );
    }
}

#[test]
fn other_errors_go_back_to_the_client_with_the_state() {
    let (h, _, client, sso) = world();
    type Change = fn(&mut AuthorizationRequest);
    let cases: [(&str, Change, &str); 9] = [
        (
            "no response_type",
            |r| r.response_type = None,
            "invalid_request",
        ),
        (
            "implicit",
            |r| r.response_type = Some("token".into()),
            "unsupported_response_type",
        ),
        (
            "no openid",
            |r| r.scope = Some("profile".into()),
            "invalid_scope",
        ),
        ("no PKCE", |r| r.code_challenge = None, "invalid_request"),
        (
            "plain PKCE",
            |r| r.code_challenge_method = Some("plain".into()),
            "invalid_request",
        ),
        (
            "no PKCE method",
            |r| r.code_challenge_method = None,
            "invalid_request",
        ),
        (
            "short challenge",
            |r| r.code_challenge = Some("abc".into()),
            "invalid_request",
        ),
        (
            "form_post",
            |r| r.response_mode = Some("form_post".into()),
            "invalid_request",
        ),
        (
            "repeated scope",
            |r| r.repeated = vec!["scope".into()],
            "invalid_request",
        ),
    ];
    for (what, change, code) in cases {
        let mut req = request(&h, &client);
        change(&mut req);
        match authorize(&h, &req, Some(&sso)) {
            Err(AuthorizeError::Redirect {
                redirect_uri,
                error,
                state,
                ..
            }) => {
                assert_eq!(
                    (redirect_uri.as_str(), error, state.as_deref()),
                    (REDIRECT, code, Some("st-1")),
                    "{what}"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // prompt=none when a sign-in would be needed.
    let mut req = request(&h, &client);
    req.prompt = Some("none".into());
    assert!(matches!(
        authorize(&h, &req, None),
        Err(AuthorizeError::Redirect {
            error: "login_required",
            ..
        })
    ));
    assert!(matches!(
        authorize(&h, &req, Some(&sso)),
        Ok(AuthorizeOutcome::Code { .. })
    ));
}

#[test]
fn without_a_session_the_user_signs_in_first_and_prompt_login_asks_once() {
    let (h, _, client, sso) = world();
    let req = request(&h, &client);
    match authorize(&h, &req, None).unwrap() {
        AuthorizeOutcome::Login { resume, tenant, .. } => {
            assert_eq!(*resume, req);
            assert_eq!(tenant, None);
        }
        other => panic!("{other:?}"),
    }
    let mut forced = request(&h, &client);
    forced.prompt = Some("login".into());
    let resume = match authorize(&h, &forced, Some(&sso)).unwrap() {
        AuthorizeOutcome::Login { resume, .. } => resume,
        other => panic!("prompt=login with a session: {other:?}"),
    };
    assert_eq!(resume.prompt, None);
    // After signing in, the resumed request goes through.
    let fresh = browser(&h, "admin", super::ADMIN_PW);
    assert!(matches!(
        authorize(&h, &resume, Some(&fresh)),
        Ok(AuthorizeOutcome::Code { .. })
    ));
}

#[test]
fn a_sign_in_older_than_max_age_or_of_another_tenant_is_not_enough() {
    let (h, admin, client, sso) = world();
    h.clock.advance(120);
    let mut req = request(&h, &client);
    req.max_age = Some("60".into());
    assert!(matches!(
        authorize(&h, &req, Some(&sso)),
        Ok(AuthorizeOutcome::Login { .. })
    ));
    req.max_age = Some("600".into());
    assert!(matches!(
        authorize(&h, &req, Some(&sso)),
        Ok(AuthorizeOutcome::Code { .. })
    ));
    req.max_age = Some("-1".into());
    assert!(matches!(
        authorize(&h, &req, Some(&sso)),
        Err(AuthorizeError::Redirect {
            error: "invalid_request",
            ..
        })
    ));
    // A client of a tenant wants that tenant's users, and says which tenant to sign in to.
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    let (acme_client, _) = register(
        &h,
        &admin,
        &ClientRequest {
            tenant_id: Some(acme),
            ..registration("none")
        },
    );
    match authorize(&h, &request(&h, &acme_client), Some(&sso)).unwrap() {
        AuthorizeOutcome::Login { tenant, .. } => assert_eq!(tenant.as_deref(), Some("acme")),
        other => panic!("{other:?}"),
    }
}

/// The error an outcome sends back to the client, with its description, and the request's state.
fn refused(outcome: Result<AuthorizeOutcome, AuthorizeError>) -> (&'static str, String) {
    match outcome {
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            description,
            state,
        }) => {
            assert_eq!(
                (redirect_uri.as_str(), state.as_deref()),
                (REDIRECT, Some("st-1"))
            );
            (error, description)
        }
        other => panic!("expected an error for the client, got {other:?}"),
    }
}

#[test]
fn a_request_too_long_to_come_back_to_after_signing_in_is_refused() {
    let (h, _, client, sso) = world();
    // `scope` and `ui_locales` are bounded, as `state` and `nonce` are.
    let mut wide = request(&h, &client);
    wide.scope = Some(format!("openid {}", "x".repeat(MAX_SCOPE_LEN)));
    assert_eq!(
        refused(authorize(&h, &wide, Some(&sso))),
        ("invalid_request", "scope is too long".to_owned())
    );
    let mut many = request(&h, &client);
    many.ui_locales = Some("en ".repeat(MAX_UI_LOCALES_LEN / 3 + 1));
    assert_eq!(
        refused(authorize(&h, &many, Some(&sso))),
        ("invalid_request", "ui_locales is too long".to_owned())
    );

    // The longest request whose way back fits: a login_hint (cut for the form, but sent back
    // whole) fills what the other parameters leave.
    let mut longest = request(&h, &client);
    longest.login_hint = Some(String::new());
    let room = MAX_RESUME_QUERY_LEN - longest.query().len();
    longest.login_hint = Some("a".repeat(room));
    assert_eq!(longest.query().len(), MAX_RESUME_QUERY_LEN);
    match authorize(&h, &longest, None).unwrap() {
        AuthorizeOutcome::Login { resume, .. } => assert_eq!(*resume, longest),
        other => panic!("{other:?}"),
    }
    code_of(authorize(&h, &longest, Some(&sso)));
    // What the sign-in strips is not part of the way back.
    let mut forced = longest.clone();
    forced.prompt = Some("login".into());
    match authorize(&h, &forced, Some(&sso)).unwrap() {
        AuthorizeOutcome::Login { resume, .. } => assert_eq!(*resume, longest),
        other => panic!("{other:?}"),
    }
    // One byte more: refused, signed in or not, with nothing issued.
    let mut over = longest.clone();
    over.login_hint = Some("a".repeat(room + 1));
    let too_long = (
        "invalid_request",
        "the authorization request is too long".to_owned(),
    );
    assert_eq!(refused(authorize(&h, &over, None)), too_long);
    assert_eq!(refused(authorize(&h, &over, Some(&sso))), too_long);
    // Bytes are counted as encoded: a character the query encodes takes three of them (or more).
    let mut encoded = longest.clone();
    encoded.login_hint = Some(format!("{}/", "a".repeat(room - 3)));
    assert_eq!(encoded.query().len(), MAX_RESUME_QUERY_LEN);
    code_of(authorize(&h, &encoded, Some(&sso)));
    encoded.login_hint = Some(format!("{}/", "a".repeat(room - 2)));
    assert_eq!(refused(authorize(&h, &encoded, Some(&sso))), too_long);
    assert_eq!(audited(&h, Event::CodeIssued, Outcome::Success), 2);
}

#[test]
fn a_code_buys_an_access_token_for_the_client_and_an_id_token_once() {
    let (h, _, client, sso) = world();
    let code = code_for(&h, &client, &sso);
    let tokens = exchange(&h, &public(&client), &code, VERIFIER).unwrap();
    assert_eq!(tokens.scope, "openid profile email");
    assert!(tokens.refresh_token.is_none(), "no offline_access asked");
    // For the client alone: not a token of Tessera's audience, and without the user's roles.
    assert_eq!(
        h.core.gate.authenticate_jwt(&tokens.access_token).err(),
        Some(TokenError::WrongAudience)
    );
    let caller = h
        .core
        .gate
        .authenticate_jwt_for_client(&tokens.access_token)
        .unwrap();
    assert!(caller.roles.is_empty(), "{:?}", caller.roles);
    assert_eq!(caller.client_id, client.client_id);
    assert_eq!(caller.user_id, sso.user_id);
    assert!(caller.issued_to_oauth_client());
    assert_ne!(
        caller.session_id,
        Some(sso.session_id),
        "a session of its own"
    );
    let (id, bound_to) = h.codec.id_token(&tokens.id_token).unwrap();
    assert_eq!(bound_to, tokens.access_token);
    assert_eq!(id.audience, client.client_id);
    assert_eq!(id.subject, sso.user_id);
    assert_eq!(id.nonce.as_deref(), Some("n-1"));
    assert_eq!(id.session_id, Some(sso.session_id));
    assert_eq!(id.auth_time, sso.auth_time);
    assert_eq!(id.amr, ["pwd"]);
    assert_eq!(id.preferred_username.as_deref(), Some("admin"));
    assert_eq!(h.observer.token_count("id_token"), 1);
    assert_eq!(audited(&h, Event::CodeExchanged, Outcome::Success), 1);
    // Once only.
    invalid_grant(exchange(&h, &public(&client), &code, VERIFIER));
}

#[test]
fn a_code_needs_the_verifier_of_its_challenge_and_is_spent_by_a_wrong_one() {
    let (h, _, client, sso) = world();
    let code = code_for(&h, &client, &sso);
    let wrong = "another-verifier-of-forty-three-characters-at-least";
    invalid_grant(exchange(&h, &public(&client), &code, wrong));
    invalid_grant(exchange(&h, &public(&client), &code, VERIFIER));
    let code = code_for(&h, &client, &sso);
    invalid_grant(exchange(&h, &public(&client), &code, "short"));
}

#[test]
fn a_code_expires_after_a_minute() {
    let (h, _, client, sso) = world();
    let early = code_for(&h, &client, &sso);
    h.clock.advance(CODE_TTL - 1);
    assert!(exchange(&h, &public(&client), &early, VERIFIER).is_ok());
    let late = code_for(&h, &client, &sso);
    h.clock.advance(CODE_TTL + 1);
    invalid_grant(exchange(&h, &public(&client), &late, VERIFIER));
}

#[test]
fn a_replayed_code_revokes_the_session_it_opened() {
    let (h, admin) = setup();
    let client = public_client(&h, &admin);
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();
    let code = code_for(&h, &client, &sso);
    let tokens = exchange(&h, &public(&client), &code, VERIFIER).unwrap();
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&tokens.access_token)
        .is_ok());
    // Another client holding the used code cannot end what it opened.
    let other = public_client(&h, &admin);
    invalid_grant(exchange(&h, &public(&other), &code, VERIFIER));
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&tokens.access_token)
        .is_ok());
    assert_eq!(audited(&h, Event::CodeReplayed, Outcome::Failure), 0);
    // Its own client replaying it does.
    invalid_grant(exchange(&h, &public(&client), &code, VERIFIER));
    assert_eq!(
        h.core
            .gate
            .authenticate_jwt_for_client(&tokens.access_token),
        Err(TokenError::Revoked)
    );
    assert_eq!(audited(&h, Event::CodeReplayed, Outcome::Failure), 1);
    // The browser session is not the code's: it goes on.
    assert!(h.core.gate.sso_session(&cookie).is_ok());
}

fn browser_token(h: &Harness) -> String {
    access(login_kind(h, "admin", super::ADMIN_PW, None, SessionKind::Browser).unwrap())
        .expose()
        .to_owned()
}

#[test]
fn a_code_is_for_its_client_and_its_redirect_uri() {
    let (h, admin, client, sso) = world();
    let other = public_client(&h, &admin);
    let code = code_for(&h, &client, &sso);
    invalid_grant(exchange(&h, &public(&other), &code, VERIFIER));
    let code = code_for(&h, &client, &sso);
    let moved = h.core.oauth.exchange_code(
        &public(&client),
        &CodeExchange {
            code,
            redirect_uri: "http://127.0.0.1:9/other".into(),
            code_verifier: PlainToken::new(VERIFIER.into()),
        },
        &ctx(),
    );
    invalid_grant(moved);
}

#[test]
fn a_confidential_client_authenticates_as_it_registered() {
    let (h, admin, _, sso) = world();
    let (client, secret) = register(&h, &admin, &registration("client_secret_basic"));
    let secret = secret.unwrap();
    let presented = |secret: &str, method| PresentedClient {
        client_id: client.client_id.clone(),
        secret: Some(PlainToken::new(secret.to_owned())),
        method,
    };
    let code = code_for(&h, &client, &sso);
    for wrong in [
        presented("tsc_wrong", AuthMethod::ClientSecretBasic),
        presented(secret.expose(), AuthMethod::ClientSecretPost),
        public(&client),
    ] {
        assert!(matches!(
            exchange(&h, &wrong, &code, VERIFIER),
            Err(OAuthGrantError::InvalidClient)
        ));
    }
    // The refusals did not spend the code.
    let right = presented(secret.expose(), AuthMethod::ClientSecretBasic);
    assert!(exchange(&h, &right, &code, VERIFIER).is_ok());
    assert!(audited(&h, Event::CodeExchanged, Outcome::Failure) >= 3);
}

#[test]
fn a_public_client_presenting_a_secret_is_refused() {
    let (h, _, client, sso) = world();
    let code = code_for(&h, &client, &sso);
    for method in [AuthMethod::ClientSecretPost, AuthMethod::ClientSecretBasic] {
        let presented = PresentedClient {
            client_id: client.client_id.clone(),
            secret: Some(PlainToken::new("anything".into())),
            method,
        };
        assert!(matches!(
            exchange(&h, &presented, &code, VERIFIER),
            Err(OAuthGrantError::InvalidClient)
        ));
    }
    assert!(exchange(&h, &public(&client), &code, VERIFIER).is_ok());
}

#[test]
fn offline_access_brings_a_refresh_token_that_only_its_client_can_use() {
    let (h, admin, _, sso) = world();
    let (client, _) = register(
        &h,
        &admin,
        &ClientRequest {
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            ..registration("none")
        },
    );
    assert!(client.scope.contains("offline_access"));
    let mut req = request(&h, &client);
    req.scope = Some("openid offline_access unknown_scope".into());
    let code = match authorize(&h, &req, Some(&sso)).unwrap() {
        AuthorizeOutcome::Code { code, .. } => code,
        other => panic!("{other:?}"),
    };
    let tokens = exchange(&h, &public(&client), &code, VERIFIER).unwrap();
    assert_eq!(tokens.scope, "openid offline_access");
    let refresh = tokens.refresh_token.unwrap();
    // Not through Tessera's own public client, nor by another registered client.
    assert!(matches!(
        h.core.authentication.refresh(&refresh, &ctx()),
        Err(AuthError::InvalidGrant)
    ));
    let other = public_client(&h, &admin);
    assert!(matches!(
        h.core
            .authentication
            .refresh_for(&refresh, &ctx(), None, Some(&other.client_id)),
        Err(AuthError::InvalidGrant)
    ));
    // A client registered without the refresh grant may not refresh at all; audited as a refresh.
    assert!(matches!(
        h.core.oauth.refresh_client(&public(&other), &ctx()),
        Err(OAuthGrantError::InvalidClient)
    ));
    assert_eq!(audited(&h, Event::Refresh, Outcome::Failure), 1);
    // Its own client: a rotated pair, the new access token for that client.
    let id = h
        .core
        .oauth
        .refresh_client(&public(&client), &ctx())
        .unwrap();
    assert_eq!(id, client.client_id);
    let refreshed = h
        .core
        .authentication
        .refresh_for(&refresh, &ctx(), None, Some(&id))
        .unwrap();
    assert_ne!(refreshed.refresh_token.expose(), refresh.expose());
    let caller = h
        .core
        .gate
        .authenticate_jwt_for_client(&refreshed.access_token)
        .unwrap();
    assert_eq!(caller.client_id, client.client_id);
    assert!(caller.issued_to_oauth_client());
}

#[test]
fn a_sign_in_with_a_second_factor_says_so_in_the_id_token() {
    let (h, admin) = setup();
    let client = public_client(&h, &admin);
    create_with(&h, &admin, "mia", &["user"], None);
    let me = principal(&h, &jwt_login(&h, "mia", USER_PW, None).access_token);
    let enrolment = h.core.second_factor.setup_mfa(&me).unwrap();
    let backup = h
        .core
        .second_factor
        .verify_mfa(&me, &fake_totp_at(&enrolment.secret, now(&h)))
        .unwrap();
    let mfa_token = match login_kind(&h, "mia", USER_PW, None, SessionKind::Browser) {
        Err(AuthError::MfaRequired { mfa_token }) => mfa_token,
        other => panic!("{other:?}"),
    };
    let cookie = access(
        h.core
            .authentication
            .login_mfa(&mfa_token, &backup[0], &ctx(), SessionKind::Browser)
            .unwrap(),
    );
    let sso = h.core.gate.sso_session(cookie.expose()).unwrap();
    assert_eq!(sso.amr, ["pwd", "otp"]);
    let code = code_for(&h, &client, &sso);
    let tokens = exchange(&h, &public(&client), &code, VERIFIER).unwrap();
    let (id, _) = h.codec.id_token(&tokens.id_token).unwrap();
    assert_eq!(id.amr, ["pwd", "otp"]);
    assert_eq!(id.email.as_deref(), Some("mia@example.com"));
}

fn basic(client: &OAuthClient, secret: &PlainToken) -> PresentedClient {
    PresentedClient {
        client_id: client.client_id.clone(),
        secret: Some(PlainToken::new(secret.expose().to_owned())),
        method: AuthMethod::ClientSecretBasic,
    }
}

#[test]
fn tenant_admins_see_only_their_tenants_clients_and_others_none() {
    let (h, admin) = setup();
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    create_with(&h, &admin, "ann", &["admin", "user"], Some(acme));
    create_with(&h, &admin, "bob", &["user"], None);
    let ann = principal(
        &h,
        &jwt_login(&h, "ann", USER_PW, Some("acme")).access_token,
    );
    let bob = principal(&h, &jwt_login(&h, "bob", USER_PW, None).access_token);
    let global = public_client(&h, &admin);
    let (own, _) = register(&h, &ann, &registration("client_secret_basic"));
    let oauth = &h.core.oauth;

    let ids = |p: &Principal| -> Vec<String> {
        let page = oauth.list_clients(p, None, None).unwrap();
        page.items.into_iter().map(|c| c.client_id).collect()
    };
    assert_eq!(
        ids(&admin),
        [global.client_id.clone(), own.client_id.clone()]
    );
    assert_eq!(ids(&ann), std::slice::from_ref(&own.client_id));
    assert_eq!(oauth.get_client(&ann, &own.client_id).unwrap(), own);

    // Another tenant's client is not there for a tenant admin, whatever they try.
    let other = global.client_id.as_str();
    let update = registration("none");
    for outcome in [
        oauth.get_client(&ann, other).map(|_| ()),
        oauth.update_client(&ann, other, &update).map(|_| ()),
        oauth.rotate_secret(&ann, other).map(|_| ()),
        oauth.delete_client(&ann, other),
        oauth.get_client(&ann, "tc_unknown").map(|_| ()),
        oauth.get_client(&admin, "tc_unknown").map(|_| ()),
        oauth.get_client(&admin, "not-a-client-id").map(|_| ()),
    ] {
        assert!(matches!(outcome, Err(UserError::NotFound)), "{outcome:?}");
    }
    assert!(oauth.get_client(&admin, other).is_ok());
    // Someone who administers no client is refused, known client or not.
    assert!(matches!(
        oauth.list_clients(&bob, None, None),
        Err(UserError::Forbidden(_))
    ));
    for id in [other, "tc_unknown"] {
        assert!(matches!(
            oauth.get_client(&bob, id),
            Err(UserError::Forbidden(_))
        ));
    }

    // Pages in the order of registration.
    let first = oauth.list_clients(&admin, Some(1), None).unwrap();
    assert_eq!(first.items, std::slice::from_ref(&global));
    let next = oauth
        .list_clients(&admin, Some(1), first.next_after)
        .unwrap();
    assert_eq!(next.items, [own]);
    assert_eq!(next.next_after, None);
    let err = oauth.list_clients(&admin, Some(0), None).unwrap_err();
    assert_eq!(fields(&err), [("limit".to_owned(), vec!["out_of_range"])]);
}

#[test]
fn an_update_replaces_the_registration_and_keeps_the_id_and_the_secret() {
    let (h, admin, _, sso) = world();
    let (client, secret) = register(&h, &admin, &registration("client_secret_basic"));
    let secret = secret.unwrap();
    let change = ClientRequest {
        client_name: "Wiki 2".into(),
        redirect_uris: vec![REDIRECT.into(), "https://wiki.example/cb".into()],
        scope: Some("openid profile".into()),
        first_party: Some(true),
        ..ClientRequest::default()
    };
    let updated = h
        .core
        .oauth
        .update_client(&admin, &client.client_id, &change)
        .unwrap();
    assert_eq!(updated.client_name, "Wiki 2");
    assert_eq!(updated.redirect_uris, [REDIRECT, "https://wiki.example/cb"]);
    assert_eq!(updated.scope, "openid profile");
    assert_eq!(
        (&updated.client_id, &updated.secret, updated.auth_method),
        (
            &client.client_id,
            &client.secret,
            AuthMethod::ClientSecretBasic
        )
    );
    assert_eq!(
        h.core.oauth.get_client(&admin, &client.client_id).unwrap(),
        updated
    );
    let audit = h.audit_entries();
    let last = audit.last().unwrap();
    assert_eq!(last.event, Event::ClientUpdated);
    assert!(last
        .details
        .contains(&("changed".into(), "client_name,redirect_uris,scope".into())));
    // The secret still authenticates the client.
    let code = code_for(&h, &updated, &sso);
    assert!(exchange(&h, &basic(&updated, &secret), &code, VERIFIER).is_ok());

    // The method and the tenant cannot change; a refused update changes nothing.
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    for (bad, field, rule) in [
        (
            ClientRequest {
                token_endpoint_auth_method: Some("none".into()),
                ..change.clone()
            },
            "token_endpoint_auth_method",
            "immutable",
        ),
        (
            ClientRequest {
                tenant_id: Some(acme),
                ..change.clone()
            },
            "tenant",
            "immutable",
        ),
        (
            ClientRequest {
                redirect_uris: vec!["http://wiki.example/cb".into()],
                ..change.clone()
            },
            "redirect_uris[0]",
            "insecure",
        ),
    ] {
        let err = h
            .core
            .oauth
            .update_client(&admin, &client.client_id, &bad)
            .unwrap_err();
        assert_eq!(fields(&err), [(field.to_owned(), vec![rule])]);
    }
    let unchanged = ClientRequest {
        token_endpoint_auth_method: Some("client_secret_basic".into()),
        ..change
    };
    assert!(h
        .core
        .oauth
        .update_client(&admin, &client.client_id, &unchanged)
        .is_ok());
    assert_eq!(
        h.core.oauth.get_client(&admin, &client.client_id).unwrap(),
        updated
    );
    assert_eq!(audited(&h, Event::ClientUpdated, Outcome::Success), 2);
}

#[test]
fn deleting_a_client_ends_the_sessions_it_opened_and_spends_its_codes() {
    let (h, admin) = setup();
    let client = public_client(&h, &admin);
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();
    let code = code_for(&h, &client, &sso);
    let tokens = exchange(&h, &public(&client), &code, VERIFIER).unwrap();
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&tokens.access_token)
        .is_ok());
    let waiting = code_for(&h, &client, &sso);

    h.core
        .oauth
        .delete_client(&admin, &client.client_id)
        .unwrap();
    assert_eq!(
        h.core
            .gate
            .authenticate_jwt_for_client(&tokens.access_token),
        Err(TokenError::Revoked)
    );
    assert!(matches!(
        exchange(&h, &public(&client), &waiting, VERIFIER),
        Err(OAuthGrantError::InvalidClient)
    ));
    assert!(matches!(
        h.core.oauth.get_client(&admin, &client.client_id),
        Err(UserError::NotFound)
    ));
    assert!(matches!(
        h.core.oauth.delete_client(&admin, &client.client_id),
        Err(UserError::NotFound)
    ));
    assert_eq!(audited(&h, Event::ClientDeleted, Outcome::Success), 1);
    // The browser session the user signed in with is not the client's: it goes on.
    assert!(h.core.gate.sso_session(&cookie).is_ok());
}

#[test]
fn a_new_secret_replaces_the_old_one_at_once() {
    let (h, admin, public_one, sso) = world();
    let (client, old) = register(&h, &admin, &registration("client_secret_basic"));
    let old = old.unwrap();
    let (rotated, new) = h
        .core
        .oauth
        .rotate_secret(&admin, &client.client_id)
        .unwrap();
    assert!(new.expose().starts_with("tsc_"));
    assert_ne!(new.expose(), old.expose());
    assert_eq!(rotated.secret, Some(h.ports.secrets.digest(&new)));
    assert_eq!(
        h.core.oauth.get_client(&admin, &client.client_id).unwrap(),
        rotated
    );
    let code = code_for(&h, &client, &sso);
    assert!(matches!(
        exchange(&h, &basic(&client, &old), &code, VERIFIER),
        Err(OAuthGrantError::InvalidClient)
    ));
    assert!(exchange(&h, &basic(&client, &new), &code, VERIFIER).is_ok());
    assert_eq!(audited(&h, Event::ClientSecretRotated, Outcome::Success), 1);
    // A public client has no secret to replace.
    assert!(matches!(
        h.core.oauth.rotate_secret(&admin, &public_one.client_id),
        Err(UserError::PublicClient)
    ));
}

/// What the consent page would show, from an outcome that must be one.
struct Asked {
    request: AuthorizationRequest,
    client_name: String,
    scopes: Vec<String>,
    username: String,
    session: SessionId,
}

fn asked(outcome: Result<AuthorizeOutcome, AuthorizeError>) -> Asked {
    match outcome {
        Ok(AuthorizeOutcome::Consent {
            request,
            client_name,
            scopes,
            username,
            session,
        }) => Asked {
            request: *request,
            client_name,
            scopes,
            username,
            session,
        },
        other => panic!("expected the consent page, got {other:?}"),
    }
}

/// The answer to a consent page shown for the browser session `sso` (when there is one).
fn decide(
    h: &Harness,
    req: &AuthorizationRequest,
    sso: Option<&SsoSession>,
    approve: bool,
) -> Result<AuthorizeOutcome, AuthorizeError> {
    let shown_to = sso.map(|s| s.session_id);
    h.core
        .oauth
        .decide_consent(req, sso, shown_to, approve, &ctx())
}

/// The code of an outcome that must be one, sent to `REDIRECT` with the request's state.
fn code_of(outcome: Result<AuthorizeOutcome, AuthorizeError>) -> PlainToken {
    match outcome {
        Ok(AuthorizeOutcome::Code {
            redirect_uri,
            code,
            state,
        }) => {
            assert_eq!(
                (redirect_uri.as_str(), state.as_deref()),
                (REDIRECT, Some("st-1"))
            );
            code
        }
        other => panic!("expected a code, got {other:?}"),
    }
}

/// The error an outcome sends back to the client, with the request's state.
fn sent_back(outcome: Result<AuthorizeOutcome, AuthorizeError>) -> &'static str {
    match outcome {
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            state,
            ..
        }) => {
            assert_eq!(
                (redirect_uri.as_str(), state.as_deref()),
                (REDIRECT, Some("st-1"))
            );
            error
        }
        other => panic!("expected an error for the client, got {other:?}"),
    }
}

#[test]
fn a_client_not_first_party_asks_once_and_the_consent_is_remembered() {
    let (h, admin) = setup();
    let client = third_party(&h, &admin, "Calendar");
    let sso = browser(&h, "admin", super::ADMIN_PW);
    let req = request(&h, &client);

    let page = asked(authorize(&h, &req, Some(&sso)));
    assert_eq!(page.request, req);
    assert_eq!(page.client_name, "Calendar");
    assert_eq!(page.scopes, ["openid", "profile", "email"]);
    assert_eq!(page.username, "admin");
    assert_eq!(audited(&h, Event::CodeIssued, Outcome::Success), 0);
    assert_eq!(h.store.find_consent(sso.user_id, client.id).unwrap(), None);

    // Allowed: a code, and the consent is kept with the scopes granted.
    let code = code_of(decide(&h, &page.request, Some(&sso), true));
    let tokens = exchange(&h, &public(&client), &code, VERIFIER).unwrap();
    assert_eq!(tokens.scope, "openid profile email");
    let kept = h
        .store
        .find_consent(sso.user_id, client.id)
        .unwrap()
        .unwrap();
    assert_eq!(kept.scope, "openid profile email");
    assert_eq!(kept.client_id, client.client_id);
    assert_eq!(audited(&h, Event::ConsentGranted, Outcome::Success), 1);

    // Asked once: the same request, or one for fewer scopes, goes straight back with a code.
    code_of(authorize(&h, &req, Some(&sso)));
    let mut fewer = request(&h, &client);
    fewer.scope = Some("openid profile".into());
    code_of(authorize(&h, &fewer, Some(&sso)));
    // Another user has consented to nothing.
    create_with(&h, &admin, "bob", &["user"], None);
    let bob = browser(&h, "bob", USER_PW);
    assert_eq!(asked(authorize(&h, &req, Some(&bob))).username, "bob");
}

#[test]
fn a_scope_not_consented_to_yet_asks_again_and_the_consent_grows() {
    let (h, admin) = setup();
    let client = third_party(&h, &admin, "Calendar");
    let sso = browser(&h, "admin", super::ADMIN_PW);
    let mut narrow = request(&h, &client);
    narrow.scope = Some("openid profile".into());
    let page = asked(authorize(&h, &narrow, Some(&sso)));
    assert_eq!(page.scopes, ["openid", "profile"]);
    code_of(decide(&h, &page.request, Some(&sso), true));

    // `email` is new: the page names every scope the client would get, and after it the
    // consent holds both.
    let wide = request(&h, &client);
    let page = asked(authorize(&h, &wide, Some(&sso)));
    assert_eq!(page.scopes, ["openid", "profile", "email"]);
    code_of(decide(&h, &page.request, Some(&sso), true));
    let kept = h
        .store
        .find_consent(sso.user_id, client.id)
        .unwrap()
        .unwrap();
    assert_eq!(kept.scope, "openid profile email");
    code_of(authorize(&h, &narrow, Some(&sso)));
    code_of(authorize(&h, &wide, Some(&sso)));
    // A scope the client did not register is left out, so it asks for nothing.
    let mut unknown = request(&h, &client);
    unknown.scope = Some("openid payroll".into());
    code_of(authorize(&h, &unknown, Some(&sso)));
}

#[test]
fn prompt_consent_asks_again_and_prompt_none_never_asks() {
    let (h, admin) = setup();
    let client = third_party(&h, &admin, "Calendar");
    let sso = browser(&h, "admin", super::ADMIN_PW);

    // Nothing consented to yet: prompt=none cannot ask, so the client hears consent_required.
    let mut silent = request(&h, &client);
    silent.prompt = Some("none".into());
    assert_eq!(
        sent_back(authorize(&h, &silent, Some(&sso))),
        "consent_required"
    );
    assert_eq!(audited(&h, Event::CodeIssued, Outcome::Success), 0);

    let page = asked(authorize(&h, &request(&h, &client), Some(&sso)));
    code_of(decide(&h, &page.request, Some(&sso), true));
    // Consented to: prompt=none goes through, and prompt=consent asks all the same.
    code_of(authorize(&h, &silent, Some(&sso)));
    let mut again = request(&h, &client);
    again.prompt = Some("consent".into());
    let page = asked(authorize(&h, &again, Some(&sso)));
    assert_eq!(page.request.prompt.as_deref(), Some("consent"));
    code_of(decide(&h, &page.request, Some(&sso), true));

    // With prompt=login too: the sign-in first, then the consent, which the sign-in does not
    // strip from the request it resumes.
    let mut both = request(&h, &client);
    both.prompt = Some("login consent".into());
    let resume = match authorize(&h, &both, Some(&sso)).unwrap() {
        AuthorizeOutcome::Login { resume, .. } => resume,
        other => panic!("prompt=login with a session: {other:?}"),
    };
    assert_eq!(resume.prompt.as_deref(), Some("consent"));
    let fresh = browser(&h, "admin", super::ADMIN_PW);
    asked(authorize(&h, &resume, Some(&fresh)));
}

#[test]
fn a_first_party_client_never_asks() {
    let (h, _, client, sso) = world();
    assert!(client.first_party);
    let mut forced = request(&h, &client);
    forced.prompt = Some("consent".into());
    code_of(authorize(&h, &forced, Some(&sso)));
    assert_eq!(h.store.find_consent(sso.user_id, client.id).unwrap(), None);
    assert_eq!(audited(&h, Event::ConsentGranted, Outcome::Success), 0);
}

#[test]
fn declining_sends_access_denied_to_the_client_and_remembers_nothing() {
    let (h, admin) = setup();
    let client = third_party(&h, &admin, "Calendar");
    let sso = browser(&h, "admin", super::ADMIN_PW);
    let page = asked(authorize(&h, &request(&h, &client), Some(&sso)));
    match decide(&h, &page.request, Some(&sso), false) {
        Err(AuthorizeError::Redirect {
            error, description, ..
        }) => assert_eq!(
            (error, description.as_str()),
            ("access_denied", "the user declined")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.store.find_consent(sso.user_id, client.id).unwrap(), None);
    assert_eq!(audited(&h, Event::ConsentDenied, Outcome::Success), 1);
    assert_eq!(audited(&h, Event::CodeIssued, Outcome::Success), 0);
    // The next authorization asks again.
    asked(authorize(&h, &request(&h, &client), Some(&sso)));
}

#[test]
fn a_consent_is_decided_only_for_a_valid_request_and_a_signed_in_user() {
    let (h, admin) = setup();
    let client = third_party(&h, &admin, "Calendar");
    let sso = browser(&h, "admin", super::ADMIN_PW);
    let req = request(&h, &client);

    // The request is checked again: a forged client or redirect URI goes nowhere, other
    // mistakes go back to the client.
    let mut forged = req.clone();
    forged.redirect_uri = Some("http://127.0.0.1:9/elsewhere".into());
    assert!(matches!(
        decide(&h, &forged, Some(&sso), true),
        Err(AuthorizeError::NoRedirect { .. })
    ));
    let mut unknown = req.clone();
    unknown.client_id = Some("tc_unknown".into());
    assert!(matches!(
        decide(&h, &unknown, Some(&sso), true),
        Err(AuthorizeError::NoRedirect { .. })
    ));
    let mut no_pkce = req.clone();
    no_pkce.code_challenge = None;
    assert_eq!(
        sent_back(decide(&h, &no_pkce, Some(&sso), true)),
        "invalid_request"
    );
    // Nobody signed in (the session ended, say): the sign-in page first, as for the request.
    match decide(&h, &req, None, true).unwrap() {
        AuthorizeOutcome::Login { resume, .. } => assert_eq!(*resume, req),
        other => panic!("{other:?}"),
    }
    // Signed in to another tenant than the client's: the same.
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    let acme_only = ClientRequest {
        tenant_id: Some(acme),
        first_party: Some(false),
        ..registration("none")
    };
    let (acme_client, _) = register(&h, &admin, &acme_only);
    assert!(matches!(
        decide(&h, &request(&h, &acme_client), Some(&sso), true),
        Ok(AuthorizeOutcome::Login { .. })
    ));
    // None of this consented to anything or issued a code.
    assert_eq!(h.store.find_consent(sso.user_id, client.id).unwrap(), None);
    assert_eq!(audited(&h, Event::ConsentGranted, Outcome::Success), 0);
    assert_eq!(audited(&h, Event::CodeIssued, Outcome::Success), 0);
}

#[test]
fn a_consent_page_answered_once_someone_else_signed_in_decides_nothing_and_asks_them() {
    let (h, admin) = setup();
    let client = third_party(&h, &admin, "Calendar");
    let admins = browser(&h, "admin", super::ADMIN_PW);
    let page = asked(authorize(&h, &request(&h, &client), Some(&admins)));
    assert_eq!(page.session, admins.session_id);
    // Before the admin answers, Bob signs in in another tab of the same browser, whose session
    // the answer then carries.
    create_with(&h, &admin, "bob", &["user"], None);
    let bob = browser(&h, "bob", USER_PW);
    let answer = |sso: &SsoSession, shown_to: Option<SessionId>, approve: bool| {
        h.core
            .oauth
            .decide_consent(&page.request, Some(sso), shown_to, approve, &ctx())
    };
    for approve in [true, false] {
        // Neither Allow nor Deny counts: the page is shown again, to Bob and for his session.
        let again = asked(answer(&bob, Some(page.session), approve));
        assert_eq!(again.request, page.request);
        assert_eq!(again.username, "bob");
        assert_eq!(again.session, bob.session_id);
        assert_eq!(again.scopes, page.scopes);
    }
    // A page that names no session, or a sign-in of the same user opened since, counts no more.
    asked(answer(&bob, None, true));
    let admin_again = browser(&h, "admin", super::ADMIN_PW);
    assert_eq!(
        asked(answer(&admin_again, Some(page.session), true)).session,
        admin_again.session_id
    );
    // Nothing was decided or remembered, for anyone.
    for user in [admins.user_id, bob.user_id] {
        assert_eq!(h.store.find_consent(user, client.id).unwrap(), None);
    }
    assert_eq!(audited(&h, Event::ConsentGranted, Outcome::Success), 0);
    assert_eq!(audited(&h, Event::ConsentDenied, Outcome::Success), 0);
    assert_eq!(audited(&h, Event::CodeIssued, Outcome::Success), 0);
    // The page shown to Bob takes his answer, for him alone.
    let bobs = asked(answer(&bob, Some(page.session), true));
    code_of(answer(&bob, Some(bobs.session), true));
    assert!(h
        .store
        .find_consent(bob.user_id, client.id)
        .unwrap()
        .is_some());
    assert_eq!(
        h.store.find_consent(admins.user_id, client.id).unwrap(),
        None
    );
}

#[test]
fn revoking_a_consent_ends_the_clients_sessions_and_the_next_authorization_asks_again() {
    let (h, admin) = setup();
    let calendar = third_party(&h, &admin, "Calendar");
    let mail = third_party(&h, &admin, "Mail");
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();
    let tokens_of = |client: &OAuthClient| {
        let page = asked(authorize(&h, &request(&h, client), Some(&sso)));
        let code = code_of(decide(&h, &page.request, Some(&sso), true));
        exchange(&h, &public(client), &code, VERIFIER).unwrap()
    };
    let for_calendar = tokens_of(&calendar);
    let for_mail = tokens_of(&mail);

    // The caller's consents, a page at a time in the order the clients were registered.
    let oauth = &h.core.oauth;
    let all = oauth.list_consents(&admin, None, None).unwrap();
    let ids: Vec<&str> = all.items.iter().map(|c| c.client_id.as_str()).collect();
    assert_eq!(ids, [calendar.client_id.as_str(), mail.client_id.as_str()]);
    assert_eq!(all.items[0].client_name, "Calendar");
    assert_eq!(all.items[0].scope, "openid profile email");
    assert_eq!(all.next_after, None);
    let first = oauth.list_consents(&admin, Some(1), None).unwrap();
    assert_eq!(first.items.len(), 1);
    let next = oauth
        .list_consents(&admin, Some(1), first.next_after)
        .unwrap();
    assert_eq!(next.items[0].client_id, mail.client_id);
    // Someone else's are not the caller's.
    create_with(&h, &admin, "bob", &["user"], None);
    let bob = principal(&h, &jwt_login(&h, "bob", USER_PW, None).access_token);
    assert!(oauth
        .list_consents(&bob, None, None)
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        oauth.revoke_consent(&bob, &calendar.client_id),
        Err(UserError::NotFound)
    ));

    oauth.revoke_consent(&admin, &calendar.client_id).unwrap();
    assert_eq!(
        h.core
            .gate
            .authenticate_jwt_for_client(&for_calendar.access_token),
        Err(TokenError::Revoked)
    );
    // The other client's tokens and the browser session go on.
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&for_mail.access_token)
        .is_ok());
    assert!(h.core.gate.sso_session(&cookie).is_ok());
    assert_eq!(audited(&h, Event::ConsentRevoked, Outcome::Success), 1);
    let audit = h.audit_entries();
    let revoked = audit
        .iter()
        .rev()
        .find(|e| e.event == Event::ConsentRevoked)
        .unwrap();
    assert!(revoked
        .details
        .contains(&("sessions_revoked".into(), "1".into())));
    assert_eq!(
        revoked.target.as_deref(),
        Some(format!("client:{}", calendar.client_id).as_str())
    );
    // Asked again next time.
    asked(authorize(&h, &request(&h, &calendar), Some(&sso)));
    // Gone: a second revocation, or of a client never consented to, finds nothing.
    for client_id in [calendar.client_id.as_str(), "tc_unknown", "not-a-client-id"] {
        assert!(matches!(
            oauth.revoke_consent(&admin, client_id),
            Err(UserError::NotFound)
        ));
    }
    assert_eq!(
        oauth.list_consents(&admin, None, None).unwrap().items.len(),
        1
    );
}

/// Where the logout clients send the browser once signed out.
const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out";

/// A public client with `SIGNED_OUT` registered for after logout, and the refresh grant (so it
/// may be granted `offline_access`).
fn logout_client(h: &Harness, admin: &Principal) -> OAuthClient {
    register(
        h,
        admin,
        &ClientRequest {
            post_logout_redirect_uris: Some(vec![SIGNED_OUT.into()]),
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            ..registration("none")
        },
    )
    .0
}

fn end_session(
    h: &Harness,
    req: &EndSessionRequest,
    sso: Option<&SsoSession>,
) -> Result<EndSessionOutcome, EndSessionError> {
    h.core.oauth.end_session(req, sso, &ctx())
}

/// The tokens of a code exchange of `client` for `sso`, with `scope`.
fn tokens_with_scope(
    h: &Harness,
    client: &OAuthClient,
    sso: &SsoSession,
    scope: &str,
) -> OidcTokens {
    let mut req = request(h, client);
    req.scope = Some(scope.into());
    let code = match authorize(h, &req, Some(sso)).unwrap() {
        AuthorizeOutcome::Code { code, .. } => code,
        other => panic!("{other:?}"),
    };
    exchange(h, &public(client), &code, VERIFIER).unwrap()
}

fn signed_out_to(outcome: EndSessionOutcome) -> (Option<String>, Option<String>) {
    match outcome {
        EndSessionOutcome::SignedOut {
            redirect_uri,
            state,
        } => (redirect_uri, state),
        other => panic!("expected to be signed out, got {other:?}"),
    }
}

#[test]
fn a_hint_of_this_sign_in_signs_out_at_once_with_the_bound_sessions_but_not_offline_ones() {
    let (h, admin) = setup();
    let client = logout_client(&h, &admin);
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();
    let online = tokens_with_scope(&h, &client, &sso, "openid profile");
    let offline = tokens_with_scope(&h, &client, &sso, "openid offline_access");
    let refresh = offline.refresh_token.unwrap();
    let waiting = code_for(&h, &client, &sso);

    let logout = EndSessionRequest::from_params([
        ("id_token_hint", online.id_token.as_str()),
        ("post_logout_redirect_uri", SIGNED_OUT),
        ("state", "bye"),
        ("ui_locales", "fr"),
    ]);
    let (to, state) = signed_out_to(end_session(&h, &logout, Some(&sso)).unwrap());
    assert_eq!(
        (to.as_deref(), state.as_deref()),
        (Some(SIGNED_OUT), Some("bye"))
    );
    // The sign-in and the session it opened for the client have ended, on this node at once.
    assert_eq!(h.core.gate.sso_session(&cookie), Err(TokenError::Revoked));
    assert_eq!(
        h.core
            .gate
            .authenticate_jwt_for_client(&online.access_token),
        Err(TokenError::Revoked)
    );
    // The offline session outlives the sign-in: its access token and refresh token still work.
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&offline.access_token)
        .is_ok());
    let id = h
        .core
        .oauth
        .refresh_client(&public(&client), &ctx())
        .unwrap();
    assert!(h
        .core
        .authentication
        .refresh_for(&refresh, &ctx(), None, Some(&id))
        .is_ok());
    // A code of the ended sign-in buys nothing.
    invalid_grant(exchange(&h, &public(&client), &waiting, VERIFIER));
    // Audited once, as a logout the client asked for.
    let entries: Vec<_> = h
        .audit_entries()
        .into_iter()
        .filter(|e| e.event == Event::Logout)
        .collect();
    assert_eq!(entries.len(), 1);
    let details = &entries[0].details;
    for detail in [
        ("reason", "rp_initiated".to_owned()),
        ("client_id", client.client_id.clone()),
        ("sessions_ended", "2".to_owned()),
    ] {
        assert!(
            details.contains(&(detail.0.to_owned(), detail.1.clone())),
            "{detail:?} in {details:?}"
        );
    }
    assert_eq!(entries[0].subject, Some(sso.user_id));
    // Again, from a browser signed out by now: nothing is left to end, the browser goes back.
    let (to, _) = signed_out_to(end_session(&h, &logout, None).unwrap());
    assert_eq!(to.as_deref(), Some(SIGNED_OUT));
    assert_eq!(audited(&h, Event::Logout, Outcome::Success), 1);
}

#[test]
fn a_hint_alone_even_expired_signs_out_the_sign_in_it_names() {
    let (h, admin) = setup();
    let client = logout_client(&h, &admin);
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();
    let tokens = tokens_with_scope(&h, &client, &sso, "openid");
    let bound = h
        .core
        .gate
        .authenticate_jwt_for_client(&tokens.access_token)
        .unwrap()
        .session_id
        .unwrap();
    // The ID token (and its access token) expired; the browser session lives on.
    h.clock.advance(1_000);
    assert!(h.core.gate.sso_session(&cookie).is_ok());
    // A POST from the application's site brings no SameSite=Lax cookie: no sign-in in sight.
    let logout = EndSessionRequest::from_params([
        ("id_token_hint", tokens.id_token.as_str()),
        ("client_id", client.client_id.as_str()),
    ]);
    let (to, state) = signed_out_to(end_session(&h, &logout, None).unwrap());
    assert_eq!((to, state), (None, None));
    assert_eq!(h.core.gate.sso_session(&cookie), Err(TokenError::Revoked));
    assert!(h.store.revoked(bound));
    assert_eq!(audited(&h, Event::Logout, Outcome::Success), 1);
}

#[test]
fn without_a_hint_of_this_sign_in_the_user_is_asked_first() {
    let (h, admin) = setup();
    let client = logout_client(&h, &admin);
    let earlier_cookie = browser_token(&h);
    let earlier = h.core.gate.sso_session(&earlier_cookie).unwrap();
    let earlier_tokens = tokens_with_scope(&h, &client, &earlier, "openid");
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();

    let bare = EndSessionRequest::from_params([
        ("client_id", client.client_id.as_str()),
        ("post_logout_redirect_uri", SIGNED_OUT),
        ("state", "s-1"),
    ]);
    match end_session(&h, &bare, Some(&sso)).unwrap() {
        EndSessionOutcome::Confirm {
            request,
            client_name,
        } => {
            assert_eq!(*request, bare);
            assert_eq!(client_name.as_deref(), Some("Wiki"));
        }
        other => panic!("expected a confirmation, got {other:?}"),
    }
    // A hint of another sign-in vouches for nothing in this browser.
    let elsewhere =
        EndSessionRequest::from_params([("id_token_hint", earlier_tokens.id_token.as_str())]);
    assert!(matches!(
        end_session(&h, &elsewhere, Some(&sso)),
        Ok(EndSessionOutcome::Confirm { .. })
    ));
    assert!(h.core.gate.sso_session(&cookie).is_ok());
    assert!(h.core.gate.sso_session(&earlier_cookie).is_ok());
    assert_eq!(audited(&h, Event::Logout, Outcome::Success), 0);

    // Confirmed: this browser's sign-in ends; the other one, which nobody confirmed, goes on.
    let confirmed = EndSessionRequest {
        confirmed: true,
        ..bare.clone()
    };
    let (to, state) = signed_out_to(end_session(&h, &confirmed, Some(&sso)).unwrap());
    assert_eq!(
        (to.as_deref(), state.as_deref()),
        (Some(SIGNED_OUT), Some("s-1"))
    );
    assert_eq!(h.core.gate.sso_session(&cookie), Err(TokenError::Revoked));
    assert!(h.core.gate.sso_session(&earlier_cookie).is_ok());
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&earlier_tokens.access_token)
        .is_ok());
    // Nobody signed in in this browser and no hint: nothing to ask about, nothing ends.
    let (to, _) = signed_out_to(end_session(&h, &bare, None).unwrap());
    assert_eq!(to.as_deref(), Some(SIGNED_OUT));
    // Without a post-logout redirect URI, Tessera's own page; a state alone goes nowhere.
    let (to, state) = signed_out_to(
        end_session(&h, &EndSessionRequest::from_params([("state", "x")]), None).unwrap(),
    );
    assert_eq!((to, state), (None, None));
    assert_eq!(audited(&h, Event::Logout, Outcome::Success), 1);
}

#[test]
fn a_logout_request_that_cannot_be_trusted_is_refused_and_ends_nothing() {
    let (h, admin) = setup();
    let client = logout_client(&h, &admin);
    let other = logout_client(&h, &admin);
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();
    let tokens = tokens_with_scope(&h, &client, &sso, "openid");
    let hint = tokens.id_token.as_str();
    // What is wrong, the request's parameters, and the error it gets.
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "an unregistered post_logout_redirect_uri",
            vec![
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", "http://127.0.0.1:9/elsewhere"),
            ],
            "invalid_request",
        ),
        (
            "a post_logout_redirect_uri of no client",
            vec![("post_logout_redirect_uri", SIGNED_OUT)],
            "invalid_request",
        ),
        (
            "a client_id other than the hint's",
            vec![
                ("id_token_hint", hint),
                ("client_id", other.client_id.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
            ],
            "invalid_request",
        ),
        (
            "an unknown client",
            vec![("client_id", "tc_unknown")],
            "invalid_client",
        ),
        (
            "a hint this server never issued",
            vec![("id_token_hint", "id999")],
            "invalid_request",
        ),
        (
            "an access token as the hint",
            vec![("id_token_hint", tokens.access_token.as_str())],
            "invalid_request",
        ),
        (
            "a repeated parameter",
            vec![("id_token_hint", hint), ("state", "a"), ("state", "b")],
            "invalid_request",
        ),
    ];
    for (what, params, code) in cases {
        let req = EndSessionRequest::from_params(params);
        match end_session(&h, &req, Some(&sso)) {
            Err(EndSessionError::Refused { error, .. }) => assert_eq!(error, code, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    assert!(h.core.gate.sso_session(&cookie).is_ok());
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&tokens.access_token)
        .is_ok());
    assert_eq!(audited(&h, Event::Logout, Outcome::Success), 0);
    // The hint with its own client_id and a URI that client registered is fine.
    let good = EndSessionRequest::from_params([
        ("id_token_hint", hint),
        ("client_id", client.client_id.as_str()),
        ("post_logout_redirect_uri", SIGNED_OUT),
    ]);
    let (to, _) = signed_out_to(end_session(&h, &good, Some(&sso)).unwrap());
    assert_eq!(to.as_deref(), Some(SIGNED_OUT));
}

#[test]
fn signing_out_through_the_api_takes_the_bound_sessions_too() {
    let (h, admin) = setup();
    let client = logout_client(&h, &admin);
    let cookie = browser_token(&h);
    let sso = h.core.gate.sso_session(&cookie).unwrap();
    let online = tokens_with_scope(&h, &client, &sso, "openid");
    let offline = tokens_with_scope(&h, &client, &sso, "openid offline_access");
    let browser = h.core.gate.authenticate_credential(&cookie, false).unwrap();
    h.core.authentication.logout(&browser).unwrap();
    assert_eq!(h.core.gate.sso_session(&cookie), Err(TokenError::Revoked));
    assert_eq!(
        h.core
            .gate
            .authenticate_jwt_for_client(&online.access_token),
        Err(TokenError::Revoked)
    );
    assert!(h
        .core
        .gate
        .authenticate_jwt_for_client(&offline.access_token)
        .is_ok());
}

#[test]
fn a_session_opened_for_a_client_says_which_and_its_name_is_told_to_its_tenant_only() {
    let (h, admin, client, sso) = world();
    let code = code_for(&h, &client, &sso);
    exchange(&h, &public(&client), &code, VERIFIER).unwrap();
    let sessions = h
        .core
        .sessions
        .list_sessions(&admin, admin.user_id)
        .unwrap();
    let clients: Vec<Option<&str>> = sessions.iter().map(|s| s.client_id.as_deref()).collect();
    assert!(
        clients.contains(&Some(client.client_id.as_str())),
        "{clients:?}"
    );
    assert!(
        clients.contains(&None),
        "the sign-ins to Tessera itself: {clients:?}"
    );

    let oauth = &h.core.oauth;
    let asked = [
        client.client_id.clone(),
        client.client_id.clone(),
        "tc_unknown".to_owned(),
        "not-a-client-id".to_owned(),
    ];
    assert_eq!(
        oauth.client_names(&admin, &asked).unwrap(),
        [(client.client_id.clone(), "Wiki".to_owned())]
    );
    // A user of a tenant is told nothing of the global clients.
    let acme = entry(&h, &admin, Kind::Tenant, "acme").id;
    create_with(&h, &admin, "ann", &["user"], Some(acme));
    let ann = principal(
        &h,
        &jwt_login(&h, "ann", USER_PW, Some("acme")).access_token,
    );
    assert!(oauth.client_names(&ann, &asked).unwrap().is_empty());
}
