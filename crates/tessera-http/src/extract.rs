//! Extractors: bodies with a size limit and precise errors, the authenticated caller, the client's address.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage as _, HttpRequest};
use futures_util::StreamExt as _;
use serde::de::DeserializeOwned;
use tessera_domain::audit::RequestContext;
use tessera_domain::credentials::OPAQUE_TOKEN_PREFIX;
use tessera_domain::error::TokenError;
use tessera_domain::gate::Gate;
use tessera_domain::principal::Principal;
use tessera_domain::token::PlainToken;

use crate::error::ApiError;
use crate::middleware::{RequestId, RequestUser};
use crate::AppState;

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// Reads a body of at most `MAX_BODY` bytes within the body deadline.
///
/// # Errors
/// 413 for a larger body, 408 for one that does not arrive in time, 400 for one that breaks off.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: Payload,
) -> Result<web::BytesMut, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > MAX_BODY {
            return Err(ApiError::PayloadTooLarge(MAX_BODY));
        }
    }
    // A body trickled in a byte at a time would hold a connection for ever: it has a deadline.
    let deadline = req
        .app_data::<web::Data<AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT, |s| s.body_timeout);
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::MalformedBody(format!("cannot read the body: {e}")))?;
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ApiError::PayloadTooLarge(MAX_BODY));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    actix_web::rt::time::timeout(deadline, read)
        .await
        .map_err(|_| ApiError::RequestTimeout)?
}

/// The body deadline when the application state does not say.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The media type of the request's body, lowercase, without parameters; empty when none is given.
pub(crate) fn media_type(req: &HttpRequest) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

fn is_json(media: &str) -> bool {
    media.is_empty() || media == "application/json" || media.ends_with("+json")
}

/// Turns a deserialization failure into 400 (not JSON at all) or 422 (a field is missing or of the
/// wrong type), naming the field but never echoing its value.
fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let text = inner.to_string();
            let (field, problem) = if let Some(rest) = text.strip_prefix("missing field `") {
                let name = rest.split('`').next().unwrap_or_default();
                let field = if path == "." {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
                (field, "required")
            } else {
                (path, "invalid_type")
            };
            let message = if problem == "required" {
                format!("the field {field} is required")
            } else {
                format!("the field {field} has the wrong type")
            };
            ApiError::field(&field, problem, message)
        }
        _ => ApiError::MalformedBody(format!(
            "the body is not valid JSON (line {}, column {})",
            inner.line(),
            inner.column()
        )),
    }
}

/// Parses a JSON object into `T` with precise errors.
///
/// # Errors
/// 400 for text that is not JSON, 422 for JSON that is not an object (serde would otherwise read
/// an array as a struct's fields in order) or for a missing or ill-typed field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let starts_an_object = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !starts_an_object && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(ApiError::field(
            "body",
            "invalid_type",
            "the body must be a JSON object".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(json_error)?;
    // One JSON value and nothing after it but whitespace.
    de.end().map_err(|e| {
        ApiError::MalformedBody(format!(
            "the body is not valid JSON: unexpected data after the object (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    Ok(value)
}

type BodyFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Reads the body (within `MAX_BODY`) and hands it, with its media type, to `parse`.
fn with_body<T: 'static>(
    req: &HttpRequest,
    payload: &mut Payload,
    parse: fn(&str, &[u8]) -> Result<T, ApiError>,
) -> BodyFuture<T> {
    let req = req.clone();
    let payload = payload.take();
    Box::pin(async move {
        let media = media_type(&req);
        if !is_json(&media) && media != "application/x-www-form-urlencoded" {
            return Err(ApiError::UnsupportedMediaType);
        }
        let body = read_body(&req, payload).await?;
        parse(&media, &body)
    })
}

/// A JSON request body of at most `MAX_BODY` bytes.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |media, body| {
            if !is_json(media) {
                return Err(ApiError::UnsupportedMediaType);
            }
            parse_json(body).map(JsonBody)
        })
    }
}

/// A body sent either form-encoded (as OAuth endpoints are) or as JSON.
#[derive(Debug)]
pub struct FormOrJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for FormOrJson<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |media, body| {
            if is_json(media) {
                return parse_json(body).map(FormOrJson);
            }
            let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
            serde_path_to_error::deserialize(de)
                .map(FormOrJson)
                .map_err(|e| {
                    let path = e.path().to_string();
                    ApiError::field(&path, "invalid", format!("invalid form field {path}"))
                })
        })
    }
}

/// The bearer credential of a request: `Authorization: Bearer <token>`, the header `token: <token>`,
/// or an API key in `X-API-Key: tsk_…`.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    if let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim())
            .filter(|t| !t.is_empty());
    }
    ["token", "x-api-key"].iter().find_map(|name| {
        req.headers()
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
    })
}

/// Authenticates the bearer credential of `req`. A JWT costs one signature verification and a
/// memory lookup and is checked right here; an opaque token or API key needs the store, so it is
/// checked on the blocking pool. With `renew`, an opaque token near its expiry is extended.
///
/// # Errors
/// 401 for a missing or refused credential.
pub async fn authenticate(req: &HttpRequest, renew: bool) -> Result<Principal, ApiError> {
    authenticate_as(req, renew, false).await
}

/// As `authenticate`, where an access token may also be one whose only audience is the OAuth
/// client it was issued to: what the UserInfo endpoint takes (`Gate::authenticate_jwt_for_client`).
///
/// # Errors
/// 401 for a missing or refused credential.
pub async fn authenticate_for_client(req: &HttpRequest) -> Result<Principal, ApiError> {
    authenticate_as(req, true, true).await
}

async fn authenticate_as(
    req: &HttpRequest,
    renew: bool,
    for_client: bool,
) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")))?
        .clone();
    let token = match bearer_token(req) {
        Some(t) => t.to_owned(),
        None => browser_session(req, &state)?,
    };
    let principal = if Gate::needs_store(&token) {
        // From memory when the store has the key or token cached, else on the blocking pool.
        state
            .read(move |c| c.gate.authenticate_credential(&token, renew))
            .await?
    } else if for_client {
        state.core.gate.authenticate_jwt_for_client(&token)?
    } else {
        state.core.gate.authenticate_jwt(&token)?
    };
    if let Some(user) = req.extensions().get::<RequestUser>() {
        user.set(principal.user_id.0);
    }
    let mut principal = principal;
    principal.context = request_context(req);
    Ok(principal)
}

/// The opaque token in the browser-session cookie. A request that can change something must
/// also send the session's CSRF token in `X-CSRF-Token`.
///
/// # Errors
/// 401 without a cookie; 403 `csrf_failed` for an unsafe request without the right CSRF token.
fn browser_session(req: &HttpRequest, state: &AppState) -> Result<String, ApiError> {
    let cookie = req
        .cookie(&state.cookies.name)
        .ok_or_else(ApiError::missing_token)?;
    let token = cookie.value().to_owned();
    if !token.starts_with(OPAQUE_TOKEN_PREFIX) {
        return Err(TokenError::Invalid.into());
    }
    if !req.method().is_safe() {
        let presented = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !state
            .core
            .gate
            .csrf_matches(&PlainToken::new(token.clone()), presented)
        {
            return Err(ApiError::Forbidden {
                code: "csrf_failed",
                message: "send the session's CSRF token in the X-CSRF-Token header".into(),
            });
        }
    }
    Ok(token)
}

/// The authenticated caller of Tessera's API: any bearer credential (JWT, opaque token or API
/// key) but an access token issued to a registered OAuth client, which only `/auth/userinfo`
/// takes (403 `insufficient_scope`).
#[derive(Debug)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = authenticate(&req, true).await?;
            if principal.issued_to_oauth_client() {
                return Err(ApiError::Forbidden {
                    code: "insufficient_scope",
                    message: "this access token was issued to an OAuth client; of Tessera's API, only /auth/userinfo takes it".into(),
                });
            }
            Ok(Caller(principal))
        })
    }
}

/// A JSON body that may be absent: an empty body gives `None`.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = BodyFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        with_body(req, payload, |media, body| {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(None));
            }
            if !is_json(media) {
                return Err(ApiError::UnsupportedMediaType);
            }
            parse_json(body).map(|v| OptionalJson(Some(v)))
        })
    }
}

/// The client id and secret of an `Authorization: Basic` header (RFC 6749 §2.3.1: each part
/// form-urlencoded before the two are joined), or `None` when the header is absent or not Basic.
pub fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine as _;
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// Where a request comes from: the client's address, user agent and the request id.
pub fn request_context(req: &HttpRequest) -> RequestContext {
    let ip = crate::rate_limit::client_ip(req);
    RequestContext {
        ip: ip.map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    }
}

/// The request's context, for requests without a caller (logins, refreshes).
#[derive(Debug)]
pub struct ClientInfo(pub RequestContext);

impl FromRequest for ClientInfo {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self(request_context(req))))
    }
}
