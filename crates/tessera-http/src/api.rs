//! The route table: every path, method and handler of the REST API and the OAuth endpoints,
//! once, with what the OpenAPI document says of each. `openapi::ActixRoutes` registers it with
//! actix and `openapi::OpenApiRoutes` turns it into the document, so a route is served if and only
//! if it is documented.

use crate::{openapi, routes};

/// The route table: every path, method, handler and what the OpenAPI document says of it.
pub(crate) fn api(r: &mut impl openapi::Routes, metrics: bool) {
    use crate::dto::*;
    use openapi::{op, Method::*};
    use routes::access::{self as a, Permissions, Roles, Services, Tenants};
    use routes::{audit, auth, credentials as c, keys, meta, mfa, oauth, sessions, users};

    if metrics {
        r.add(Get, "/metrics", meta::metrics, op("meta", "Prometheus metrics")
            .describe("OpenMetrics text: requests by route and status, latency, logins by outcome, tokens issued, lockouts, rate limiting, hashing queue and time, live sessions.")
            .empty(200, "The metrics, as text/plain in the OpenMetrics format"));
    }
    r.add(
        Get,
        "/health",
        meta::health,
        op("meta", "Liveness: the process answers").ok_object(200, "`{\"status\": \"ok\"}`"),
    );
    r.add(
        Get,
        "/ready",
        meta::ready,
        op(
            "meta",
            "Readiness: the database answers with an up-to-date schema and a signing key is loaded",
        )
        .ok_object(200, "`{\"status\": \"ready\"}`")
        .errors(&[503]),
    );
    r.add(
        Get,
        "/auth/jwks.json",
        meta::jwks,
        op(
            "meta",
            "The JSON Web Key Set of every key whose tokens may still be alive",
        )
        .content_type("application/jwk-set+json")
        .ok_object(200, "RFC 7517 key set, newest key first"),
    );
    r.add(
        Get,
        "/.well-known/jwks.json",
        meta::jwks,
        op("meta", "The JSON Web Key Set (alias)")
            .content_type("application/jwk-set+json")
            .ok_object(200, "RFC 7517 key set, newest key first"),
    );
    r.add(
        Get,
        "/.well-known/openid-configuration",
        meta::discovery,
        op("meta", "OpenID Connect discovery").ok_object(
            200,
            "OpenID Provider metadata: issuer, endpoints, grant types, algorithms, claims",
        ),
    );
    r.add(
        Get,
        "/.well-known/oauth-authorization-server",
        meta::discovery,
        op("meta", "RFC 8414 authorization server metadata")
            .ok_object(200, "The same metadata as the OpenID discovery document"),
    );

    r.add(Post, "/auth/login", auth::login, op("auth", "Log in with a username or e-mail and a password")
        .describe("With `token_format: opaque` the answer has an opaque access token and no refresh token; with `session: cookie` a browser session cookie is set instead. A user with MFA gets 401 `mfa_required` with an `mfa_token`.")
        .json::<LoginBody>()
        .ok::<TokenResponse>(200, "Tokens (RFC 6749 §5.1)")
        .errors(&[401, 403, 423, 429, 503]));
    r.add(
        Post,
        "/auth/login/mfa",
        mfa::login,
        op("auth", "Finish a login with a TOTP or backup code")
            .json::<MfaLoginBody>()
            .ok::<TokenResponse>(200, "Tokens (RFC 6749 §5.1)")
            .errors(&[401, 423, 429, 503]),
    );
    r.add(Post, "/auth/refresh", auth::refresh, op("auth", "Trade a refresh token for new tokens")
        .describe("The refresh token rotates; presenting a rotated one again after the grace window ends the session (401 `refresh_token_reused`).")
        .json::<RefreshBody>()
        .ok::<TokenResponse>(200, "New tokens")
        .errors(&[401, 429, 503]));
    r.add(
        Post,
        "/auth/logout",
        auth::logout,
        op("auth", "End the caller's session")
            .bearer_or_cookie()
            .empty(204, "Ended; its tokens are refused from now on"),
    );
    r.add(
        Post,
        "/auth/token/revoke",
        auth::revoke,
        op("auth", "RFC 7009 token revocation")
            .form::<RevokeBody>()
            .empty(200, "Revoked, or unknown (which RFC 7009 also answers 200)")
            .errors(&[429]),
    );
    r.add(
        Get,
        "/auth/userinfo",
        auth::userinfo,
        op("auth", "OpenID Connect UserInfo of the caller")
            .bearer_or_cookie()
            .ok::<UserInfoResponse>(200, "The caller's claims"),
    );
    r.add(
        Get,
        "/auth/profile",
        c::profile,
        op("auth", "The caller and how they authenticated")
            .bearer_or_cookie()
            .ok::<ProfileResponse>(200, "The caller"),
    );
    r.add(
        Post,
        "/auth/register",
        users::register,
        op("auth", "Self-registration, when enabled")
            .json::<RegisterBody>()
            .ok::<UserResponse>(201, "The new user")
            .errors(&[403, 409, 429]),
    );
    r.add(
        Post,
        "/auth/password-reset",
        users::reset,
        op("auth", "Set a new password with a single-use reset token")
            .json::<ResetBody>()
            .empty(204, "Done; every session of the user ended")
            .errors(&[401, 429]),
    );

    r.add(
        Post,
        "/mfa/setup",
        mfa::setup,
        op("mfa", "Start a TOTP enrolment")
            .bearer()
            .ok::<EnrolmentResponse>(
                200,
                "The secret, shown here only, with its otpauth URI and QR code",
            )
            .errors(&[409]),
    );
    r.add(
        Post,
        "/mfa/verify",
        mfa::verify,
        op("mfa", "Confirm the enrolment with a first code")
            .describe("A well-formed but wrong code is 422 (`code`: `invalid`).")
            .bearer()
            .json::<CodeBody>()
            .ok::<BackupCodesResponse>(200, "MFA is on; ten backup codes, shown once")
            .errors(&[409]),
    );
    r.add(
        Post,
        "/mfa/disable",
        mfa::disable,
        op("mfa", "Turn MFA off with the password and a code")
            .describe("A wrong password is 403 `invalid_current_password`; a well-formed but wrong code is 422 (`code`: `invalid`).")
            .bearer()
            .json::<DisableMfaBody>()
            .empty(204, "MFA is off")
            .errors(&[409]),
    );
    r.add(
        Get,
        "/mfa/backup-codes",
        mfa::backup_codes_left,
        op("mfa", "How many backup codes are left")
            .bearer()
            .ok_object(200, "`{\"remaining\": n}`")
            .errors(&[409]),
    );
    r.add(
        Post,
        "/mfa/backup-codes",
        mfa::regenerate_backup_codes,
        op(
            "mfa",
            "A fresh set of backup codes; the old ones stop working",
        )
        .bearer()
        .ok::<BackupCodesResponse>(200, "Ten codes, shown once")
        .errors(&[409]),
    );
    r.add(
        Delete,
        "/users/{id}/mfa",
        mfa::reset,
        op("mfa", "An admin turns a user's MFA off")
            .bearer()
            .empty(204, "MFA off; every session of the user ended")
            .errors(&[404]),
    );

    r.add(
        Get,
        "/sessions",
        sessions::mine,
        op("sessions", "The caller's live sessions")
            .bearer_or_cookie()
            .items::<SessionResponse>("Oldest first; `current` marks the caller's"),
    );
    r.add(
        Delete,
        "/sessions",
        sessions::end_mine,
        op(
            "sessions",
            "End every session of the caller but the current one",
        )
        .bearer_or_cookie()
        .empty(204, "Ended"),
    );
    r.add(
        Delete,
        "/sessions/{id}",
        sessions::end_one,
        op(
            "sessions",
            "End one session of the caller (or, for an admin, of their user)",
        )
        .bearer_or_cookie()
        .empty(204, "Ended")
        .errors(&[404]),
    );
    r.add(
        Get,
        "/users/{id}/sessions",
        sessions::of_user,
        op("sessions", "A user's live sessions")
            .bearer()
            .items::<SessionResponse>("Oldest first")
            .errors(&[404]),
    );
    r.add(
        Delete,
        "/users/{id}/sessions",
        sessions::end_of_user,
        op("sessions", "End every session of a user")
            .bearer()
            .empty(204, "Ended")
            .errors(&[404]),
    );

    r.add(
        Get,
        "/users",
        users::list,
        op("users", "List users, by id")
            .bearer()
            .query::<ListQuery>()
            .page::<UserResponse>("A page of users"),
    );
    r.add(
        Post,
        "/users",
        users::create,
        op("users", "Create a user")
            .describe("Beyond the schema: the password must not contain the username nor be a common password (422 on `password`), and `tenant_id` must name a tenant (422 `not_found`).")
            .bearer()
            .json::<CreateUserBody>()
            .ok::<UserResponse>(201, "The user, with `Location`")
            .errors(&[409]),
    );
    r.add(
        Get,
        "/users/{id}",
        users::get,
        op("users", "One user")
            .bearer()
            .ok::<UserResponse>(200, "The user")
            .errors(&[404]),
    );
    r.add(
        Put,
        "/users/{id}",
        users::put,
        op(
            "users",
            "Replace a user's e-mail and display name (username, roles and active when present)",
        )
        .bearer()
        .json::<UpdateUserBody>()
        .ok::<UserResponse>(200, "The user")
        .errors(&[404, 409]),
    );
    r.add(
        Patch,
        "/users/{id}",
        users::patch,
        op("users", "Change the fields present (null clears)")
            .bearer()
            .json::<UpdateUserBody>()
            .ok::<UserResponse>(200, "The user")
            .errors(&[404, 409]),
    );
    r.add(
        Delete,
        "/users/{id}",
        users::delete,
        op("users", "Delete a user and end their sessions")
            .bearer()
            .empty(204, "Deleted; the id is never reused")
            .errors(&[404, 409]),
    );
    r.add(
        Post,
        "/users/{id}/password",
        users::change_password,
        op("users", "Change a password")
            .describe(
                "The user gives `current_password` (422 `required` without it); an admin setting someone else's leaves it out. The new password must not contain the username nor be a common password (422).",
            )
            .bearer()
            .json::<PasswordBody>()
            .empty(
                204,
                "Changed; the user's other sessions ended (all of them when an admin set it)",
            )
            .errors(&[404]),
    );
    r.add(
        Post,
        "/users/{id}/unlock",
        users::unlock,
        op("users", "Lift a lockout")
            .bearer()
            .empty(204, "Unlocked")
            .errors(&[404]),
    );
    r.add(
        Post,
        "/users/{id}/password-reset",
        users::issue_reset,
        op("users", "Issue a single-use password-reset token")
            .bearer()
            .ok::<ResetTokenResponse>(201, "The token, shown once")
            .errors(&[404]),
    );

    r.add(
        Get,
        "/users/{id}/api-keys",
        c::list_api_keys,
        op(
            "credentials",
            "A user's API keys (never the keys themselves)",
        )
        .bearer()
        .items::<ApiKeyResponse>("The keys' metadata")
        .errors(&[404]),
    );
    r.add(
        Post,
        "/users/{id}/api-keys",
        c::create_api_key,
        op("credentials", "Create an API key")
            .describe("Beyond the schema: every scope must be a role the user holds (422 `not_held_by_user`) and `expires_at` must be in the future (422 `in_the_past`).")
            .bearer()
            .json::<ApiKeyBody>()
            .ok::<ApiKeyResponse>(201, "The key's metadata and, this once, `key`")
            .errors(&[404]),
    );
    r.add(
        Delete,
        "/api-keys/{id}",
        c::delete_api_key,
        op(
            "credentials",
            "Delete an API key and end the sessions it opened",
        )
        .bearer()
        .empty(204, "Deleted")
        .errors(&[404]),
    );
    r.add(Post, "/check-token", c::check_token, op("credentials", "For resource services: check the caller's credential")
        .describe("Optionally that it belongs to `user_id`, and with the caller's permissions in `service_id`. A refused credential is 401 with `\"valid\": false`.")
        .bearer()
        .optional_json::<CheckTokenBody>()
        .ok::<CheckTokenResponse>(200, "Valid"));
    r.add(
        Post,
        "/oauth/introspect",
        c::introspect,
        op("credentials", "RFC 7662 token introspection, for services")
            .describe("The service authenticates one way only: HTTP Basic (its id or name and its secret), its secret as a bearer token (with the form's `client_id`, if any), or `client_id` and `client_secret` in the form. A form `client_secret` together with an `Authorization` header is refused (400 `invalid_request`), which the schema cannot state since it ties a header to a body field.")
            .service_credentials()
            .form::<IntrospectBody>()
            .ok::<IntrospectResponse>(200, "`active` and, when active, the token's claims"),
    );
    r.add(Post, "/oauth/token", c::oauth_token, op("credentials", "RFC 6749 token endpoint")
        .describe("Grants: `authorization_code` (OpenID Connect, with `code`, `redirect_uri` and the PKCE `code_verifier`; the answer adds `id_token`, and `refresh_token` only when `offline_access` was granted), `password` (with `username`, `password`, optional `tenant`), `refresh_token`, and `client_credentials` (the API key's id as `client_id` and the key as `client_secret`, in the form or in HTTP Basic). What the schema cannot state: the client authenticates one way only (HTTP Basic with a form `client_secret` is 400 `invalid_request`); with client credentials in HTTP Basic the form needs neither `client_id` nor `client_secret`; a registered client authenticates as it registered (`client_secret_basic`, `client_secret_post`, or `none`: `client_id` in the form and no secret), else 401 `invalid_client`; and `scope` may name only scopes the client may have (the configured ones for the password and refresh-token grants, the API key's roles for client credentials), else 400 `invalid_scope`. A code is good once, for a minute; presented again, it is 400 `invalid_grant` and the session its first use opened ends.")
        .form::<OAuthTokenBody>()
        .ok::<TokenResponse>(200, "Tokens; the client-credentials grant has no refresh token")
        .errors(&[401, 423, 429, 503]));
    r.add(Get, "/oauth/authorize", oauth::authorize, op("oauth", "OpenID Connect authorization endpoint: the code flow with PKCE")
        .describe("For browsers. A registered client sends the user here with `response_type=code`, its `client_id`, one of its `redirect_uris`, a `scope` with `openid`, and a PKCE `code_challenge` with `code_challenge_method=S256` (required of every client). A user not signed in (or signed in longer ago than `max_age`, or to another tenant than the client's, or when `prompt=login`) goes to the sign-in page first, which brings them back. A client that is not first party gets the consent page when the user has not yet consented to every scope it would be granted, or when it asks with `prompt=consent`; the page posts the user's answer to `/oauth/consent`, which goes back to the client with a code, or with `access_denied`. A client or redirect URI that cannot be trusted gets an HTML error page; every other error goes back to the redirect URI (RFC 6749 §4.1.2.1), `login_required` for `prompt=none` when a sign-in is needed, `consent_required` for `prompt=none` when the user would be asked for consent.")
        .params::<AuthorizeParams>()
        .redirect(302, "Back to the client's redirect URI with `code`, `state` and `iss` (RFC 9207), or with `error`, `error_description`, `state` and `iss`")
        .redirect(303, "To the sign-in page, `/login?return_to=…`, which comes back here once the user has signed in")
        .html(200, "An HTML page: the consent page, naming the client, who is signed in and what the client would get, with Allow and Deny")
        .html(400, "An HTML page: the client or its redirect URI is missing, unknown or not registered, so the browser is sent nowhere")
        .html(500, "An HTML page: a fault of the server, logged and never described")
        .html(503, "An HTML page: the database cannot be reached; try again (`Retry-After`)"));
    r.add(Post, "/oauth/authorize", oauth::authorize_form, op("oauth", "OpenID Connect authorization endpoint, the request posted as a form")
        .describe("For browsers (OIDC Core §3.1.2.1: the authorization endpoint takes GET and POST). The same request and answers as `GET /oauth/authorize`, its parameters form-encoded in the body (a query is not read), except that the way back to the client is a 303, so that the browser follows with a GET and never posts again. A browser posting from the application's site sends no `SameSite=Lax` cookie with the form, so its sign-in is not seen here: the user goes to the sign-in page, which comes back with a GET (and `prompt=none` gets `login_required`); a GET sees the sign-in.")
        .browser_form::<AuthorizeParams>()
        .redirect(303, "Back to the client's redirect URI with `code`, `state` and `iss` (RFC 9207), or with `error`, `error_description`, `state` and `iss`; or to the sign-in page, `/login?return_to=…`, which comes back to `GET /oauth/authorize` once the user has signed in")
        .html(200, "An HTML page: the consent page, naming the client, who is signed in and what the client would get, with Allow and Deny")
        .html(400, "An HTML page: the client or its redirect URI is missing, unknown or not registered, so the browser is sent nowhere; or the body is not UTF-8")
        .html(413, "An HTML page: the body exceeds 64 KiB")
        .html(415, "An HTML page: the body is not `application/x-www-form-urlencoded`")
        .html(500, "An HTML page: a fault of the server, logged and never described")
        .html(503, "An HTML page: the database cannot be reached; try again (`Retry-After`)"));
    r.add(Post, "/oauth/clients", oauth::create_client, op("oauth", "Register an OpenID Connect client")
        .describe("RFC 7591 fields, with Tessera's `first_party` and `tenant_id`; global admins, and tenant admins for their own tenant (404 for another). A refused value is 400 `invalid_redirect_uri` (about `redirect_uris`) or `invalid_client_metadata`, with `fields`. `client_id_issued_at` is seconds since the epoch, as RFC 7591 says.")
        .bearer_or_cookie()
        .json::<ClientBody>()
        .ok::<ClientResponse>(201, "The client; `client_secret` in this answer only, for a confidential client")
        .errors(&[404]));
    r.add(Get, "/oauth/clients", oauth::list_clients, op("oauth", "List OpenID Connect clients, in the order they were registered")
        .describe("Global admins see every client, tenant admins their tenant's. No secret is ever listed. `next_after` is where the next page starts (the order of registration), not a `client_id`.")
        .bearer_or_cookie()
        .query::<PageQuery>()
        .page::<ClientResponse>("A page of clients, without secrets"));
    r.add(
        Get,
        "/oauth/clients/{client_id}",
        oauth::get_client,
        op("oauth", "One OpenID Connect client")
            .describe("Without its secret. Another tenant's client is 404 for a tenant admin.")
            .bearer_or_cookie()
            .ok::<ClientResponse>(200, "The client")
            .errors(&[404]),
    );
    r.add(Put, "/oauth/clients/{client_id}", oauth::put_client, op("oauth", "Replace a client's registration (RFC 7592 §2.2)")
        .describe("The whole registration, as `POST /oauth/clients` takes it: fields left out take their defaults. The `client_id`, the secret, `tenant_id` and `token_endpoint_auth_method` stay: left out, the last two are the client's own; another value is 400 `invalid_client_metadata` (`immutable`). Other refusals as at registration. Tokens already issued keep what they were granted.")
        .bearer_or_cookie()
        .json::<ClientBody>()
        .ok::<ClientResponse>(200, "The client as now registered, without its secret")
        .errors(&[404]));
    r.add(Delete, "/oauth/clients/{client_id}", oauth::delete_client, op("oauth", "Delete a client, end every session opened for it and drop its unused codes")
        .bearer_or_cookie()
        .empty(204, "Deleted; its access and refresh tokens are refused from now on, and its `client_id` is never given out again")
        .errors(&[404]));
    r.add(Post, "/oauth/clients/{client_id}/secret", oauth::rotate_client_secret, op("oauth", "Give a confidential client a new secret")
        .describe("The old secret stops working at once; tokens already issued stay good. A public client has no secret: 409 `public_client`.")
        .bearer_or_cookie()
        .ok::<ClientResponse>(200, "The client with its new `client_secret`, in this answer only")
        .errors(&[404, 409]));
    r.add(Get, "/auth/consents", oauth::list_consents, op("oauth", "The caller's consents to OpenID Connect clients")
        .describe("What the caller let each client that is not first party have, in the order the clients were registered: `scope` holds every scope the caller consented to give it. `next_after` is where the next page starts, not a `client_id`.")
        .bearer_or_cookie()
        .query::<PageQuery>()
        .page::<ConsentResponse>("A page of consents"));
    r.add(Delete, "/auth/consents/{client_id}", oauth::revoke_consent, op("oauth", "Withdraw the caller's consent to a client")
        .describe("Every session the client holds for the caller ends, on every node: its access and refresh tokens are refused from then on, and its next authorization asks for consent again. A client the caller has not consented to (or an unknown one) is 404.")
        .bearer_or_cookie()
        .empty(204, "Withdrawn; the client's sessions for the caller ended")
        .errors(&[404]));
    r.add(
        Get,
        "/audit",
        audit::list,
        op("audit", "The audit log, newest first")
            .bearer()
            .query::<AuditQueryParams>()
            .page::<AuditResponse>("A page of entries"),
    );
    r.add(Get, "/keys", keys::list, op("meta", "The signing keys, newest first (global admins)")
        .describe("Every signing key the answering node knows: the one that `signs` new tokens, those still `published` in the JWKS because tokens they signed may be alive, and retired ones whose files go at the next clean-up.")
        .bearer()
        .items::<KeyResponse>("The keys, newest first"));
    r.add(Post, "/keys/rotate", keys::rotate, op("meta", "Make a new signing key, which signs from now on (global admins)")
        .describe("A new key of `keys.algorithm`: the answering node signs with it and publishes it in the JWKS at once, other nodes sharing the key folder within `cluster.sync_interval_milliseconds`. The key that signed until now stays published until its last token has expired. Audited as `keys_rotated`.")
        .bearer()
        .ok::<RotatedKeyResponse>(201, "The new key's `kid` and algorithm"));

    // `$body`: what the document says the body is. Every kind deserializes `EntryBody`, but only
    // services take `active`, so the others are described as `NamedEntryBody`.
    macro_rules! entries {
        ($kind:ty, $body:ty, $tag:literal, $list:literal, $item:literal) => {
            r.add(
                Get,
                $list,
                a::list::<$kind>,
                op("access", concat!("List ", $tag))
                    .bearer()
                    .query::<PageQuery>()
                    .page::<EntryResponse>("A page"),
            );
            r.add(
                Post,
                $list,
                a::create::<$kind>,
                op("access", concat!("Create one of the ", $tag))
                    .bearer()
                    .json::<$body>()
                    .ok::<EntryResponse>(201, "Created, with `Location`")
                    .errors(&[409]),
            );
            r.add(
                Get,
                $item,
                a::get::<$kind>,
                op("access", concat!("One of the ", $tag))
                    .bearer()
                    .ok::<EntryResponse>(200, "Found")
                    .errors(&[404]),
            );
            r.add(
                Put,
                $item,
                a::put::<$kind>,
                op(
                    "access",
                    concat!("Replace the name and description of one of the ", $tag),
                )
                .bearer()
                .json::<$body>()
                .ok::<EntryResponse>(200, "Replaced")
                .errors(&[404, 409]),
            );
            r.add(
                Delete,
                $item,
                a::delete::<$kind>,
                op(
                    "access",
                    concat!(
                        "Delete one of the ",
                        $tag,
                        " and every link and grant naming it"
                    ),
                )
                .bearer()
                .empty(204, "Deleted")
                .errors(&[404, 409]),
            );
        };
    }
    entries!(
        Tenants,
        NamedEntryBody,
        "tenants",
        "/tenants",
        "/tenants/{id}"
    );
    entries!(
        Services,
        EntryBody,
        "services",
        "/services",
        "/services/{id}"
    );
    entries!(Roles, NamedEntryBody, "roles", "/roles", "/roles/{id}");
    entries!(
        Permissions,
        NamedEntryBody,
        "permissions",
        "/permissions",
        "/permissions/{id}"
    );
    r.add(
        Get,
        "/services/{id}/roles",
        a::service_roles,
        op("access", "The roles a service offers")
            .bearer()
            .items::<EntryResponse>("Sorted by name")
            .errors(&[404]),
    );
    r.add(
        Post,
        "/services/{id}/token",
        c::issue_service_secret,
        op("credentials", "Issue a service's secret (replacing any)")
            .bearer()
            .ok::<ServiceSecretResponse>(201, "The secret, shown once")
            .errors(&[404]),
    );
    r.add(
        Delete,
        "/services/{id}/token",
        c::revoke_service_secret,
        op("credentials", "Revoke a service's secret")
            .bearer()
            .empty(204, "Revoked")
            .errors(&[404]),
    );
    r.add(
        Get,
        "/services/{service_id}/roles/{role_id}/people",
        a::role_people,
        op("access", "Who holds a role in a service")
            .bearer()
            .items::<UserResponse>("The people")
            .errors(&[404]),
    );
    r.add(
        Get,
        "/roles/{id}/permissions",
        a::role_permissions,
        op("access", "A role's permissions")
            .bearer()
            .items::<EntryResponse>("Sorted by name")
            .errors(&[404]),
    );
    r.add(
        Post,
        "/role-permissions",
        a::link::<RolePermissionBody>,
        op("access", "Give a role a permission")
            .describe("An id that names nothing is 422 `not_found` on its field.")
            .bearer()
            .json::<RolePermissionBody>()
            .ok::<RolePermissionBody>(201, "The link")
            .errors(&[404]),
    );
    r.add(
        Delete,
        "/role-permissions",
        a::link::<RolePermissionBody>,
        op("access", "Take a permission from a role")
            .bearer()
            .json::<RolePermissionBody>()
            .empty(204, "Removed")
            .errors(&[404]),
    );
    r.add(
        Post,
        "/service-roles",
        a::link::<ServiceRoleBody>,
        op("access", "Let a service offer a role")
            .describe("An id that names nothing is 422 `not_found` on its field.")
            .bearer()
            .json::<ServiceRoleBody>()
            .ok::<ServiceRoleBody>(201, "The link")
            .errors(&[404]),
    );
    r.add(
        Delete,
        "/service-roles",
        a::link::<ServiceRoleBody>,
        op("access", "Stop a service offering a role")
            .bearer()
            .json::<ServiceRoleBody>()
            .empty(204, "Removed")
            .errors(&[404]),
    );
    r.add(
        Post,
        "/person-service-roles",
        a::role_grant,
        op("access", "Grant a person a role in a service")
            .describe("An id that names nothing is 422 `not_found` on its field; a role the service does not offer is 422 `not_offered_by_service` on `role_id`.")
            .bearer()
            .json::<GrantBody>()
            .ok::<GrantBody>(201, "The grant")
            .errors(&[404]),
    );
    r.add(
        Delete,
        "/person-service-roles",
        a::role_grant,
        op("access", "Take a role in a service from a person")
            .bearer()
            .json::<GrantBody>()
            .empty(204, "Revoked")
            .errors(&[404]),
    );
    r.add(
        Post,
        "/person-service-permissions",
        a::grant_permission,
        op(
            "access",
            "Grant a person a permission directly in a service",
        )
        .describe("An id or permission name that names nothing is 422 `not_found` on its field.")
        .bearer()
        .json::<PermissionGrantBody>()
        .ok::<PermissionGrantBody>(201, "The grant")
        .errors(&[404]),
    );
    r.add(
        Get,
        "/people/{person_id}/services",
        a::person_services,
        op("access", "The services where a person holds anything")
            .bearer()
            .items::<EntryResponse>("The services")
            .errors(&[404]),
    );
    r.add(
        Get,
        "/people/{person_id}/services/{service_id}",
        a::person_access,
        op("access", "A person's roles and permissions in a service")
            .bearer()
            .ok::<PersonAccessResponse>(200, "Sorted, possibly empty")
            .errors(&[404]),
    );
    r.add(
        Get,
        "/people/{person_id}/services/{service_id}/roles",
        a::person_roles,
        op("access", "A person's roles in a service")
            .bearer()
            .items::<EntryResponse>("The roles")
            .errors(&[404]),
    );
}
