//! The OpenID Connect endpoints of the route table: registering, listing, changing and deleting
//! clients, the authorization endpoint, and the caller's consents. (The token endpoint's
//! authorization-code grant is in `credentials`; the sign-in page the authorization endpoint sends
//! browsers to, the consent form's answer, and the logout endpoint, which browsers alone visit,
//! are in `crate::pages`.)

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use tessera_domain::credentials::OPAQUE_TOKEN_PREFIX;
use tessera_domain::error::{AuthorizeError, TokenError};
use tessera_domain::oauth::{AuthorizationRequest, AuthorizeOutcome, SsoSession};

use crate::dto::{ClientBody, ClientResponse, ConsentResponse, PageQuery, PageResponse};
use crate::error::{ApiError, RegistrationError};
use crate::extract::{media_type, request_context, Caller, JsonBody};
use crate::pages;
use crate::routes::credentials::no_store;
use crate::AppState;

/// `POST /oauth/clients`: registers a client; a confidential client's secret is in this answer only.
pub async fn create_client(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    body: Result<JsonBody<ClientBody>, ApiError>,
) -> Result<HttpResponse, RegistrationError> {
    let req = body?.0.into_domain();
    let (client, secret) = state
        .run(move |c| c.oauth.create_client(&caller, &req))
        .await?;
    Ok(no_store(HttpResponse::Created()).json(ClientResponse::new(
        &client,
        secret.as_ref().map(|s| s.expose()),
    )))
}

/// `GET /oauth/clients`: a page of the clients the caller administers, never with a secret.
pub async fn list_clients(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let PageQuery { limit, after } = query.into_inner();
    let page = state
        .run(move |c| c.oauth.list_clients(&caller, limit, after))
        .await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page
            .items
            .iter()
            .map(|client| ClientResponse::new(client, None))
            .collect(),
        next_after: page.next_after,
    }))
}

/// `GET /oauth/clients/{client_id}`: one client, without its secret.
pub async fn get_client(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    client_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client_id = client_id.into_inner();
    let client = state
        .run(move |c| c.oauth.get_client(&caller, &client_id))
        .await?;
    Ok(HttpResponse::Ok().json(ClientResponse::new(&client, None)))
}

/// `PUT /oauth/clients/{client_id}`: replaces the registration (RFC 7592 §2.2); refusals as at
/// registration (RFC 7591 §3.2.2).
pub async fn put_client(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    client_id: web::Path<String>,
    body: Result<JsonBody<ClientBody>, ApiError>,
) -> Result<HttpResponse, RegistrationError> {
    let req = body?.0.into_domain();
    let client_id = client_id.into_inner();
    let client = state
        .run(move |c| c.oauth.update_client(&caller, &client_id, &req))
        .await?;
    Ok(HttpResponse::Ok().json(ClientResponse::new(&client, None)))
}

/// `DELETE /oauth/clients/{client_id}`: the client goes, and every session opened for it ends.
pub async fn delete_client(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    client_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client_id = client_id.into_inner();
    state
        .run(move |c| c.oauth.delete_client(&caller, &client_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /oauth/clients/{client_id}/secret`: a new secret for a confidential client, in this
/// answer only; the old one stops working.
pub async fn rotate_client_secret(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    client_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client_id = client_id.into_inner();
    let (client, secret) = state
        .run(move |c| c.oauth.rotate_secret(&caller, &client_id))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(ClientResponse::new(&client, Some(secret.expose()))))
}

/// `GET /oauth/authorize`: back to the client with a code (or an error it may see), to the sign-in
/// page first, the consent page, or, when the client or its redirect URI cannot be trusted, an
/// error page.
pub async fn authorize(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let request =
        AuthorizationRequest::from_params(form_urlencoded::parse(req.query_string().as_bytes()));
    authorization(&req, &state, request, Came::Link).await
}

/// `POST /oauth/authorize` (OIDC Core §3.1.2.1 asks providers to take both methods): the same
/// request as `GET`, its parameters form-encoded in the body (a query is not read), with the same
/// answers, except that the way back to the client is a 303 (the browser follows with a GET and
/// never posts again). A body of another type is a 415 page, one that is not UTF-8 a 400 page.
pub async fn authorize_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> HttpResponse {
    // Before the body is read, the pages speak the browser's language.
    let plain = pages::Ui::of(&req, &state.pages, None, None);
    if media_type(&req) != FORM_MEDIA_TYPE {
        return pages::failure(plain, ApiError::UnsupportedMediaType);
    }
    let fields =
        match pages::fields::Fields::of_body(&req, payload, "the authorization request").await {
            Ok(fields) => fields,
            Err(e) => return pages::failure(plain, e),
        };
    let request = AuthorizationRequest::from_params(fields.pairs());
    authorization(&req, &state, request, Came::Form).await
}

/// The media type of the body `POST /oauth/authorize` takes.
const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// The authorization endpoint, whichever way the request came: reads the browser's session and
/// answers the use case's outcome (`answer`), its pages in the language the application asked
/// for when they can speak it.
async fn authorization(
    req: &HttpRequest,
    state: &AppState,
    request: AuthorizationRequest,
    came: Came,
) -> HttpResponse {
    let ui = pages::Ui::of(req, &state.pages, None, request.ui_locales.as_deref());
    let sso = match sso_session(req, state).await {
        Ok(sso) => sso,
        Err(e) => return pages::failure(ui, e),
    };
    let context = request_context(req);
    match state
        .blocking(move |c| c.oauth.authorize(&request, sso.as_ref(), &context))
        .await
    {
        Ok(outcome) => answer(req, state, ui, outcome, came),
        Err(e) => pages::failure(ui, e.into()),
    }
}

/// How the browser reached the authorization's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Came {
    /// By a link to `GET /oauth/authorize`: it goes back to the client with a 302, as RFC 6749
    /// §4.1.2 shows.
    Link,
    /// By posting a form (the consent form, or the request to `POST /oauth/authorize`): it goes
    /// back with a 303, which tells it to follow with a GET and never to post the form again
    /// (OAuth 2.0 Security BCP §4.12).
    Form,
}

/// The answer to an authorization's outcome, the same for the authorization endpoint and the
/// consent form: back to the client's redirect URI with a code or an error it may see, to the
/// sign-in page, the consent page, or an error page (the client or its redirect URI cannot be
/// trusted, or the server failed).
pub(crate) fn answer(
    req: &HttpRequest,
    state: &AppState,
    ui: pages::Ui<'_>,
    outcome: Result<AuthorizeOutcome, AuthorizeError>,
    came: Came,
) -> HttpResponse {
    let issuer = state.core.token_settings().issuer.as_str();
    let back = |location: &str| match came {
        Came::Link => found(location),
        Came::Form => see_other(location),
    };
    match outcome {
        Ok(AuthorizeOutcome::Code {
            redirect_uri,
            code,
            state: client_state,
        }) => back(&with_params(
            &redirect_uri,
            &[
                ("code", Some(code.expose())),
                ("state", client_state.as_deref()),
                ("iss", Some(issuer)),
            ],
        )),
        Ok(AuthorizeOutcome::Login {
            resume,
            login_hint,
            tenant,
        }) => {
            let return_to = authorize_path(&resume);
            see_other(&pages::login::login_url(
                Some(&return_to),
                tenant.as_deref(),
                login_hint.as_deref(),
            ))
        }
        Ok(AuthorizeOutcome::Consent {
            request,
            client_name,
            scopes,
            username,
            session,
        }) => pages::consent::form(
            req,
            state,
            ui,
            &request,
            &pages::consent::Asked {
                client_name: &client_name,
                scopes: &scopes,
                username: &username,
                session,
            },
        ),
        Err(AuthorizeError::NoRedirect { error, description }) => pages::error_page(
            ui,
            StatusCode::BAD_REQUEST,
            ui.t.bad_link_title,
            &(ui.t.app_mistake)(description, error),
            None,
        ),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            error,
            description,
            state: client_state,
        }) => back(&with_params(
            &redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(description.as_str())),
                ("state", client_state.as_deref()),
                ("iss", Some(issuer)),
            ],
        )),
        Err(AuthorizeError::Unknown(cause)) => pages::failure(ui, ApiError::from_cause(cause)),
    }
}

/// The token the browser's session cookie holds, when it holds one of the right shape (live or
/// not).
pub(crate) fn session_token(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(&state.cookies.name)
        .map(|c| c.value().to_owned())
        .filter(|t| t.starts_with(OPAQUE_TOKEN_PREFIX))
}

/// The browser's single sign-on session, when its cookie holds a live one.
///
/// # Errors
/// `Unavailable` when the store cannot say.
pub(crate) async fn sso_session(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<SsoSession>, ApiError> {
    let Some(token) = session_token(req, state) else {
        return Ok(None);
    };
    match state.read_raw(move |c| c.gate.sso_session(&token)).await? {
        Ok(sso) => Ok(Some(sso)),
        Err(TokenError::Unavailable) => Err(ApiError::Unavailable),
        Err(_) => Ok(None),
    }
}

/// `GET /auth/consents`: the caller's consents to OpenID Connect clients, a page at a time.
pub async fn list_consents(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let PageQuery { limit, after } = query.into_inner();
    let page = state
        .run(move |c| c.oauth.list_consents(&caller, limit, after))
        .await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page.items.iter().map(ConsentResponse::from).collect(),
        next_after: page.next_after,
    }))
}

/// `DELETE /auth/consents/{client_id}`: withdraws the caller's consent to a client and ends the
/// sessions the client holds for them.
pub async fn revoke_consent(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    client_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client_id = client_id.into_inner();
    state
        .run(move |c| c.oauth.revoke_consent(&caller, &client_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The authorization endpoint's path with `request`'s parameters: where the sign-in page returns.
/// Its query is `AuthorizationRequest::query`, which the domain bounds (`MAX_RESUME_QUERY_LEN`)
/// for the sign-in page to take it.
fn authorize_path(request: &AuthorizationRequest) -> String {
    format!("{}{}", pages::login::RETURN_PREFIX, request.query())
}

/// `uri` with `params` added to its query; a query the client registered stays (RFC 6749 §3.1.2).
pub(crate) fn with_params(uri: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", query.finish())
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_join_a_registered_query_and_are_encoded() {
        assert_eq!(
            with_params(
                "https://app.example/cb",
                &[("code", Some("c 1")), ("state", None)]
            ),
            "https://app.example/cb?code=c+1"
        );
        assert_eq!(
            with_params("https://app.example/cb?tenant=a", &[("state", Some("x&y"))]),
            "https://app.example/cb?tenant=a&state=x%26y"
        );
    }

    #[test]
    fn the_sign_in_page_returns_to_the_same_request() {
        let request = AuthorizationRequest::from_params([
            ("client_id", "tc_1"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
        ]);
        let path = authorize_path(&request);
        assert_eq!(
            path,
            "/oauth/authorize?client_id=tc_1&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb"
        );
        let back = AuthorizationRequest::from_params(form_urlencoded::parse(
            path.trim_start_matches("/oauth/authorize?").as_bytes(),
        ));
        assert_eq!(back, request);
    }
}
