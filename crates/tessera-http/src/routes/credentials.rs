//! Credentials and token checks: API keys, service secrets, `check-token`, RFC 7662 introspection,
//! the RFC 6749 token endpoint (with OpenID Connect's authorization-code grant), and the profile
//! of an opaque-token holder.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use tessera_domain::credentials::CreateApiKey;
use tessera_domain::issuer::SessionKind;
use tessera_domain::oauth::{self, AuthMethod, CodeExchange, PresentedClient};
use tessera_domain::password::Password;
use tessera_domain::principal::Credential;
use tessera_domain::principal::Principal;
use tessera_domain::token::PlainToken;
use tessera_domain::usecases::UseCases;
use tessera_domain::user::UserId;

use crate::dto::{
    all_items, parse_rfc3339, rfc3339, AccessResponse, ApiKeyBody, ApiKeyResponse, CheckTokenBody,
    CheckTokenResponse, IntrospectBody, IntrospectResponse, OAuthTokenBody, OidcTokenResponse,
    ProfileResponse, ServiceSecretResponse, TokenResponse, UserResponse,
};
use crate::error::{ApiError, CheckTokenError, OAuthError};
use crate::extract::{
    authenticate, basic_credentials, bearer_token, Caller, ClientInfo, FormOrJson, JsonBody,
    OptionalJson,
};
use crate::routes::auth::login_response;
use crate::routes::no_content;
use crate::AppState;

/// A token answer: never cached (RFC 6749 §5.1).
pub(crate) fn no_store(mut res: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    res
}

/// `POST /users/{id}/api-keys`: the key is in this answer and never again.
pub async fn create_api_key(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    user: web::Path<i64>,
    JsonBody(body): JsonBody<ApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(raw) => Some(parse_rfc3339(raw).ok_or_else(|| {
            ApiError::field(
                "expires_at",
                "invalid_format",
                "expires_at must be an RFC 3339 time".into(),
            )
        })?),
    };
    let req = CreateApiKey {
        name: body.name,
        scopes: body.scopes,
        expires_at,
    };
    let user = UserId(user.into_inner());
    let issued = state
        .run(move |c| c.credentials.create_api_key(&caller, user, req))
        .await?;
    let mut res = ApiKeyResponse::from(&issued.key);
    res.key = Some(issued.secret.expose().to_owned());
    Ok(no_store(HttpResponse::Created())
        .insert_header(("Location", format!("/api-keys/{}", issued.key.id)))
        .json(res))
}

/// `GET /users/{id}/api-keys`: metadata only.
pub async fn list_api_keys(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    user: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user = UserId(user.into_inner());
    let keys = state
        .run(move |c| c.credentials.list_api_keys(&caller, user))
        .await?;
    Ok(HttpResponse::Ok().json(all_items(keys.iter().map(ApiKeyResponse::from).collect())))
}

/// `DELETE /api-keys/{id}`.
pub async fn delete_api_key(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    no_content(&state, caller, id, |c, p, id| {
        c.credentials.delete_api_key(p, id)
    })
    .await
}

/// `POST /services/{id}/token`: a new secret, replacing the old one, shown once.
pub async fn issue_service_secret(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let issued = state
        .run(move |c| c.credentials.issue_service_secret(&caller, id))
        .await?;
    Ok(
        no_store(HttpResponse::Created()).json(ServiceSecretResponse {
            service_id: issued.service_id,
            token: issued.secret.expose().to_owned(),
            created_at: rfc3339(issued.created_at),
        }),
    )
}

/// `DELETE /services/{id}/token`.
pub async fn revoke_service_secret(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let revoke = |c: &UseCases, actor: &Principal, service| {
        c.credentials.revoke_service_secret(actor, service)
    };
    no_content(&state, caller, id, revoke).await
}

/// `POST /check-token`: every refusal is a 401 whose body says `"valid": false`.
pub async fn check_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    OptionalJson(body): OptionalJson<CheckTokenBody>,
) -> Result<HttpResponse, CheckTokenError> {
    let principal = authenticate(&req, true).await?;
    let CheckTokenBody {
        user_id,
        service_id,
    } = body.unwrap_or_default();
    let checked = state
        .read_raw(move |c| {
            c.credentials
                .check_token(principal.clone(), user_id, service_id)
        })
        .await
        .map_err(ApiError::from)??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(CheckTokenResponse::from(checked)))
}

/// `POST /oauth/introspect` (RFC 7662): a service authenticates with its secret as a bearer token.
/// Errors take the RFC 6749 form.
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Result<FormOrJson<IntrospectBody>, ApiError>,
) -> Result<HttpResponse, OAuthError> {
    let body = body?.0;
    // The service authenticates with its secret: HTTP Basic (client_secret_basic, its id or name
    // and secret), the form (client_secret_post), or a bearer token (with the form's id, if any).
    let (client_id, secret) = match bearer_token(&req) {
        Some(secret) if body.client_secret.is_none() => (body.client_id, secret.to_owned()),
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "authenticate the client one way only".into(),
            ))
        }
        None => match presented_client(&req, body.client_id, body.client_secret)? {
            (id, Some(secret)) => (id, secret),
            _ => {
                return Err(OAuthError::invalid_client(
                    "authenticate with the service's id and secret (HTTP Basic or the form) \
                     or its secret as a bearer token"
                        .into(),
                ))
            }
        },
    };
    let Some(token) = body.token.filter(|t| !t.is_empty()) else {
        return Err(OAuthError::invalid_request(
            "the form field token is required".into(),
        ));
    };
    let found = state
        .read_raw(move |c| {
            c.credentials
                .introspect_as(client_id.as_deref(), &secret, &token)
        })
        .await??;
    let mut res = no_store(HttpResponse::Ok());
    Ok(match found {
        Some(p) => res.json(IntrospectResponse::from(p)),
        None => res.json(serde_json::json!({ "active": false })),
    })
}

/// `POST /oauth/token` (RFC 6749): `authorization_code`, `password`, `refresh_token` and
/// `client_credentials` grants, with errors in the RFC's form.
pub async fn oauth_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Result<FormOrJson<OAuthTokenBody>, ApiError>,
) -> Result<HttpResponse, OAuthError> {
    oauth_grant(&req, state, client, body.map(|b| b.0)).await
}

/// The client id and secret a request presents, by HTTP Basic or by the form, never both
/// (RFC 6749 §2.3); a Basic header that cannot be read is refused, not ignored.
///
/// # Errors
/// `invalid_client` for an unreadable Basic header, `invalid_request` for both ways at once.
fn presented_client(
    req: &HttpRequest,
    form_id: Option<String>,
    form_secret: Option<String>,
) -> Result<(Option<String>, Option<String>), OAuthError> {
    let basic_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    match (basic_credentials(req), basic_header) {
        (Some(_), _) if form_secret.is_some() => Err(OAuthError::invalid_request(
            "authenticate the client one way only".into(),
        )),
        (Some((id, secret)), _) => Ok((Some(id), Some(secret))),
        (None, true) => Err(OAuthError::invalid_client(
            "the Basic credentials cannot be read".into(),
        )),
        (None, false) => Ok((form_id, form_secret)),
    }
}

/// How a client presented a secret: HTTP Basic, the form, or not at all.
fn auth_method(req: &HttpRequest, secret: Option<&str>) -> AuthMethod {
    if basic_credentials(req).is_some() {
        AuthMethod::ClientSecretBasic
    } else if secret.is_some() {
        AuthMethod::ClientSecretPost
    } else {
        AuthMethod::None
    }
}

fn required(value: Option<String>, name: &str) -> Result<String, OAuthError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("the form field {name} is required")))
}

async fn oauth_grant(
    req: &HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    body: Result<OAuthTokenBody, ApiError>,
) -> Result<HttpResponse, OAuthError> {
    let body = body?;
    let grant = required(body.grant_type, "grant_type")?;
    let scope = body.scope.clone();
    // Client credentials, from HTTP Basic or the form: checked whenever they are presented.
    let (client_id, client_secret) =
        presented_client(req, body.client_id.clone(), body.client_secret.clone())?;
    // A registered OAuth client refreshes its own tokens, authenticating as it registered to.
    let registered = client_id.as_deref().is_some_and(oauth::is_client_id);
    if grant == "password" || (grant == "refresh_token" && !registered) {
        // These grants are the public client's: any other client, or any secret, is refused.
        let (id, secret, context) = (client_id.clone(), client_secret.clone(), client.0.clone());
        state
            .blocking(move |c| {
                c.authentication
                    .check_public_client(id.as_deref(), secret.as_deref(), &context)
            })
            .await??;
    }
    match grant.as_str() {
        "authorization_code" => {
            let presented = PresentedClient {
                method: auth_method(req, client_secret.as_deref()),
                client_id: required(client_id, "client_id")?,
                secret: client_secret.map(PlainToken::new),
            };
            let exchange = CodeExchange {
                code: PlainToken::new(required(body.code, "code")?),
                redirect_uri: required(body.redirect_uri, "redirect_uri")?,
                code_verifier: PlainToken::new(required(body.code_verifier, "code_verifier")?),
            };
            let context = client.0;
            let tokens = state
                .blocking(move |c| c.oauth.exchange_code(&presented, &exchange, &context))
                .await??;
            Ok(no_store(HttpResponse::Ok()).json(OidcTokenResponse::from(tokens)))
        }
        "password" => {
            let login = required(body.username, "username")?;
            state.limits.check_username(&login).await?;
            let request = tessera_domain::auth::LoginRequest {
                login,
                password: Password::new(required(body.password, "password")?),
                tenant: body.tenant,
                context: client.0,
            };
            let kind = SessionKind::Jwt;
            let issued = state
                .blocking_hashing(move |c| {
                    c.authentication
                        .login_scoped(request, kind, scope.as_deref())
                })
                .await??;
            Ok(login_response(&state, kind, issued))
        }
        "refresh_token" => {
            let presented = PlainToken::new(required(body.refresh_token, "refresh_token")?);
            let oauth_client = match client_id {
                Some(id) if registered => Some(PresentedClient {
                    method: auth_method(req, client_secret.as_deref()),
                    client_id: id,
                    secret: client_secret.map(PlainToken::new),
                }),
                _ => None,
            };
            let context = client.0;
            let issued = state
                .blocking(move |c| -> Result<_, OAuthError> {
                    let client = oauth_client
                        .map(|p| c.oauth.refresh_client(&p, &context))
                        .transpose()?;
                    Ok(c.authentication.refresh_for(
                        &presented,
                        &context,
                        scope.as_deref(),
                        client.as_deref(),
                    )?)
                })
                .await??;
            Ok(no_store(HttpResponse::Ok()).json(TokenResponse::from(issued)))
        }
        "client_credentials" => {
            let id = required(client_id, "client_id")?;
            let secret = required(client_secret, "client_secret")?;
            let context = client.0;
            let issued = state
                .blocking(move |c| {
                    c.authentication.client_credentials_scoped(
                        &id,
                        &secret,
                        &context,
                        scope.as_deref(),
                    )
                })
                .await??;
            Ok(no_store(HttpResponse::Ok()).json(AccessResponse::from(issued)))
        }
        _ => Err(OAuthError::Rfc {
            code: "unsupported_grant_type",
            message: "grant_type must be authorization_code, password, refresh_token or client_credentials".into(),
        }),
    }
}

/// `GET /auth/profile`: the holder of the credential, when it expires, and whether this use renewed it.
pub async fn profile(
    state: web::Data<AppState>,
    Caller(caller): Caller,
) -> Result<HttpResponse, ApiError> {
    let renewed = matches!(caller.credential, Credential::Opaque { renewed: true });
    let expires_at = caller.expires_at.map(rfc3339);
    let me = caller.user_id;
    let user = state
        .read(move |c| c.accounts.get_user(&caller, me))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ProfileResponse {
            user: UserResponse::from(&user),
            expires_at,
            renewed,
        }))
}
