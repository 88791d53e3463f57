//! The Eqeqo door: Eqeqo's wire protocol on a listener of its own, over the same use cases as the
//! REST API, with Tessera's rules where they differ (docs/EQEQO.md). Data is arranged through the
//! REST API as the bootstrap admin; everything else goes through the door.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_testkit::{
    spawn_app, spawn_app_with_eqeqo, Answer, TestApp, ADMIN_PASSWORD, USER_PASSWORD,
};

const MISSING_TOKEN: &str = "header token ausente o vacío; envía token: <valor> en cada petición";
const INVALID_TOKEN: &str = "token inválido o revocado; realiza login para obtener uno nuevo";
const EXPIRED_TOKEN: &str = "token expirado; solicita un token nuevo iniciando sesión";
const MISSING_SERVICE_TOKEN: &str =
    "header service-token ausente o vacío; envía service-token: <valor> en cada petición";
const INVALID_SERVICE_TOKEN: &str = "token de servicio inválido o revocado; solicita uno nuevo";
const SERVICE_INACTIVE: &str = "servicio desactivado; contacta al administrador";
const INVALID_CREDENTIALS: &str = "usuario o contraseña incorrectos";

/// An id no row has.
const NOBODY: i64 = 999_999;

/// A table of cases, one a line (rustfmt leaves a macro in braces as it is written).
macro_rules! cases {
    ($($case:expr),* $(,)?) => {
        vec![$($case),*]
    };
}

/// A server with the Eqeqo door open, the admin's REST token (to arrange data) and the admin's
/// token on the door.
struct Door {
    app: TestApp,
    rest: String,
    admin: String,
}

impl Door {
    async fn open() -> Self {
        Self::open_with(|_| {}).await
    }

    async fn open_with(adjust: impl FnOnce(&mut tessera_server::Settings)) -> Self {
        let app = spawn_app_with_eqeqo(adjust).await;
        let rest = app.admin_token().await;
        let mut door = Self {
            app,
            rest,
            admin: String::new(),
        };
        door.admin = door.token("admin", ADMIN_PASSWORD).await;
        door
    }

    async fn login(&self, username: &str, password: &str) -> Answer {
        let body = json!({"username": username, "password": password});
        self.app
            .eqeqo(Method::POST, "/auth/login", None, Some(body))
            .await
    }

    /// Logs in through the door and returns the token.
    async fn token(&self, username: &str, password: &str) -> String {
        let a = self.login(username, password).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        a.body["token"].as_str().unwrap().to_owned()
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.app.eqeqo(Method::GET, path, Some(token), None).await
    }

    async fn send(&self, method: Method, path: &str, token: &str, body: Value) -> Answer {
        self.app.eqeqo(method, path, Some(token), Some(body)).await
    }

    /// Sends `body` as it is, whatever it holds.
    async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: &str) -> Answer {
        let mut req = self
            .app
            .client
            .request(method, self.app.eqeqo_url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.header("token", t);
        }
        self.app.send(req).await
    }

    /// `POST /check-token` with a user token, a service token and a body, each when given.
    async fn check(&self, token: Option<&str>, service: Option<&str>, body: &str) -> Answer {
        let mut req = self
            .app
            .client
            .post(self.app.eqeqo_url("/check-token"))
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.header("token", t);
        }
        if let Some(s) = service {
            req = req.header("service-token", s);
        }
        self.app.send(req).await
    }

    /// A service token for `service`, issued through the door by the admin.
    async fn service_token(&self, service: i64) -> String {
        let path = format!("/services/{service}/token");
        let a = self.send(Method::POST, &path, &self.admin, json!({})).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        a.body["token"].as_str().unwrap().to_owned()
    }
}

/// Asserts an error answer: its status and Eqeqo's key.
#[track_caller]
fn refused(a: &Answer, status: StatusCode, key: &str) {
    assert_eq!((a.status, a.error()), (status, key), "{:?}", a.body);
}

/// Asserts a 401 with Eqeqo's key and its Spanish detail.
#[track_caller]
fn unauthorized(a: &Answer, key: &str, detail: &str) {
    refused(a, StatusCode::UNAUTHORIZED, key);
    assert_eq!(a.body["detail"], detail);
}

#[track_caller]
fn success(a: &Answer, body: Value) {
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body, body);
}

fn ids(a: &Answer) -> Vec<i64> {
    a.body
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {:?}", a.body))
        .iter()
        .map(|row| row["id"].as_i64().unwrap())
        .collect()
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A small model made through the REST API: `billing` offers `viewer`, which holds
/// `invoices:read`; `auditor` is offered by no service; `refunds:create` is in no role; `alice`
/// and `bob` are plain users.
struct Model {
    billing: i64,
    viewer: i64,
    auditor: i64,
    read: i64,
    refunds: i64,
    alice: i64,
    bob: i64,
}

async fn model(door: &Door) -> Model {
    let (app, rest) = (&door.app, door.rest.as_str());
    let m = Model {
        billing: app.create_entry(rest, "/services", "billing").await,
        viewer: app.create_entry(rest, "/roles", "viewer").await,
        auditor: app.create_entry(rest, "/roles", "auditor").await,
        read: app
            .create_entry(rest, "/permissions", "invoices:read")
            .await,
        refunds: app
            .create_entry(rest, "/permissions", "refunds:create")
            .await,
        alice: app.create_user(rest, "alice").await,
        bob: app.create_user(rest, "bob").await,
    };
    for (path, body) in [
        (
            "/role-permissions",
            json!({"role_id": m.viewer, "permission_id": m.read}),
        ),
        (
            "/service-roles",
            json!({"service_id": m.billing, "role_id": m.viewer}),
        ),
    ] {
        let a = app.post(path, Some(rest), body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
    m
}

/// Grants alice `viewer` in billing through the REST API.
async fn grant_viewer(door: &Door, m: &Model) {
    let body = json!({"person_id": m.alice, "service_id": m.billing, "role_id": m.viewer});
    let a = door
        .app
        .post("/person-service-roles", Some(&door.rest), body)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
}

/// Every route that needs a token, with a body it takes.
fn routes_with_a_token() -> Vec<(Method, &'static str, Value)> {
    let grant = json!({"person_id": 1, "service_id": 1, "role_id": 1});
    vec![
        (Method::POST, "/auth/logout", json!({})),
        (Method::GET, "/auth/profile", Value::Null),
        (Method::POST, "/check-token", json!({})),
        (Method::GET, "/users", Value::Null),
        (Method::POST, "/users", json!({})),
        (Method::GET, "/users/1", Value::Null),
        (Method::PUT, "/users/1", json!({"name": "x"})),
        (Method::DELETE, "/users/1", Value::Null),
        (Method::GET, "/services", Value::Null),
        (Method::POST, "/services", json!({"name": "x"})),
        (Method::POST, "/services/1/token", Value::Null),
        (Method::PUT, "/services/1", json!({})),
        (Method::DELETE, "/services/1", Value::Null),
        (Method::GET, "/services/1/roles", Value::Null),
        (Method::GET, "/roles", Value::Null),
        (Method::POST, "/roles", json!({"name": "x"})),
        (Method::GET, "/roles/1", Value::Null),
        (Method::PUT, "/roles/1", json!({"name": "x"})),
        (Method::DELETE, "/roles/1", Value::Null),
        (Method::GET, "/roles/1/permissions", Value::Null),
        (Method::GET, "/permissions", Value::Null),
        (Method::POST, "/permissions", json!({"name": "x"})),
        (Method::PUT, "/permissions/1", json!({"name": "x"})),
        (Method::DELETE, "/permissions/1", Value::Null),
        (
            Method::POST,
            "/role-permissions",
            json!({"role_id": 1, "permission_id": 1}),
        ),
        (
            Method::DELETE,
            "/role-permissions",
            json!({"role_id": 1, "permission_id": 1}),
        ),
        (
            Method::POST,
            "/service-roles",
            json!({"service_id": 1, "role_id": 1}),
        ),
        (
            Method::DELETE,
            "/service-roles",
            json!({"service_id": 1, "role_id": 1}),
        ),
        (Method::POST, "/person-service-roles", grant.clone()),
        (Method::DELETE, "/person-service-roles", grant),
        (
            Method::POST,
            "/person-service-permissions",
            json!({"person_id": 1, "service_id": 1, "permission_id": 1}),
        ),
        (Method::GET, "/people/1/services/1/roles", Value::Null),
        (Method::GET, "/services/1/roles/1/people", Value::Null),
        (Method::GET, "/people/1/services", Value::Null),
        (Method::GET, "/people/1/services/1", Value::Null),
    ]
}

#[tokio::test]
async fn the_door_is_closed_unless_it_is_given_an_address() {
    let app = spawn_app().await;
    assert!(app.eqeqo_port.is_none());
}

#[tokio::test]
async fn the_framework_answers_as_eqeqos_did() {
    let door = Door::open().await;
    let client = &door.app.client;
    let res = client.get(door.app.eqeqo_url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/html");
    assert_eq!(
        res.text().await.unwrap(),
        "<h1>Welcome to the Auth API</h1>"
    );
    // Unknown paths, wrong methods on known paths, and paths Eqeqo did not have.
    for (method, path) in [
        (Method::GET, "/nowhere"),
        (Method::GET, "/auth/login"),
        (Method::POST, "/users/1"),
        (Method::PATCH, "/users/1"),
        (Method::GET, "/permissions/1"),
        (Method::GET, "/services/1"),
        (Method::POST, "/check-permission"),
    ] {
        let res = client
            .request(method.clone(), door.app.eqeqo_url(path))
            .header("token", &door.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "text/plain");
        assert_eq!(res.text().await.unwrap(), "404 Not Found");
    }
    // A browser's CORS preflight, as Eqeqo answered it.
    let res = client
        .request(Method::OPTIONS, door.app.eqeqo_url("/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("service-token"), "{allowed}");
    // Every JSON answer says so.
    let res = client
        .get(door.app.eqeqo_url("/auth/profile"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn every_route_takes_its_token_from_the_token_header_only() {
    let door = Door::open().await;
    for (method, path, body) in routes_with_a_token() {
        let body = (!body.is_null()).then_some(body);
        let a = door
            .app
            .eqeqo(method.clone(), path, None, body.clone())
            .await;
        unauthorized(&a, "missing_token_header", MISSING_TOKEN);
        let a = door
            .app
            .eqeqo(method.clone(), path, Some(" "), body.clone())
            .await;
        unauthorized(&a, "missing_token_header", MISSING_TOKEN);
        let a = door
            .app
            .eqeqo(method.clone(), path, Some("tso_unknown"), body.clone())
            .await;
        unauthorized(&a, "invalid_token", INVALID_TOKEN);
        // The REST API's JWT is not a token of this door.
        let a = door.app.eqeqo(method, path, Some(&door.rest), body).await;
        unauthorized(&a, "invalid_token", INVALID_TOKEN);
    }
    // A token in the query string is never read.
    let path = format!("/auth/profile?token={}", door.admin);
    let a = door.app.eqeqo(Method::GET, &path, None, None).await;
    unauthorized(&a, "missing_token_header", MISSING_TOKEN);
}

#[tokio::test]
async fn a_path_id_that_is_not_a_number_is_refused_after_the_token_and_before_the_body() {
    let door = Door::open().await;
    for (method, path, key) in [
        (Method::GET, "/users/abc", "invalid_user_id"),
        (Method::PUT, "/users/abc", "invalid_user_id"),
        (Method::DELETE, "/users/abc", "invalid_user_id"),
        (Method::PUT, "/services/abc", "invalid_service_id"),
        (Method::DELETE, "/services/abc", "invalid_service_id"),
        (Method::POST, "/services/abc/token", "invalid_service_id"),
        (Method::GET, "/roles/abc", "invalid_role_id"),
        (Method::PUT, "/roles/abc", "invalid_role_id"),
        (Method::DELETE, "/roles/abc", "invalid_role_id"),
        (Method::GET, "/roles/abc/permissions", "invalid_role_id"),
        (Method::PUT, "/permissions/abc", "invalid_permission_id"),
        (Method::DELETE, "/permissions/abc", "invalid_permission_id"),
        (Method::GET, "/people/alice/services", "invalid_person_id"),
        (Method::GET, "/services/%20/roles", "invalid_service_id"),
        (
            Method::GET,
            "/services/billing/roles/abc/people",
            "invalid_role_id",
        ),
    ] {
        let a = door
            .raw(method.clone(), path, Some(&door.admin), "not json")
            .await;
        refused(&a, StatusCode::BAD_REQUEST, key);
        let a = door.raw(method, path, None, "not json").await;
        refused(&a, StatusCode::UNAUTHORIZED, "missing_token_header");
    }
}

#[tokio::test]
async fn an_unknown_id_is_a_404_and_an_unknown_name_a_400_with_eqeqos_keys() {
    let door = Door::open().await;
    let m = model(&door).await;
    let (b, v, r, a) = (m.billing, m.viewer, m.read, m.alice);
    let cases: Vec<(Method, String, Value, StatusCode, &str)> = cases! {
        (Method::GET, format!("/users/{NOBODY}"), Value::Null, StatusCode::NOT_FOUND, "user_not_found"),
        (Method::PUT, format!("/users/{NOBODY}"), json!({"name": "x"}), StatusCode::NOT_FOUND, "user_not_found"),
        (Method::DELETE, format!("/users/{NOBODY}"), Value::Null, StatusCode::NOT_FOUND, "user_not_found"),
        (Method::PUT, format!("/services/{NOBODY}"), json!({}), StatusCode::NOT_FOUND, "service_not_found"),
        (Method::DELETE, format!("/services/{NOBODY}"), Value::Null, StatusCode::NOT_FOUND, "service_not_found"),
        (Method::POST, format!("/services/{NOBODY}/token"), Value::Null, StatusCode::NOT_FOUND, "service_not_found"),
        (Method::GET, format!("/services/{NOBODY}/roles"), Value::Null, StatusCode::NOT_FOUND, "service_not_found"),
        (Method::GET, "/services/nothing/roles".into(), Value::Null, StatusCode::BAD_REQUEST, "invalid_service_id"),
        (Method::GET, format!("/roles/{NOBODY}"), Value::Null, StatusCode::NOT_FOUND, "role_not_found"),
        (Method::PUT, format!("/roles/{NOBODY}"), json!({"name": "x"}), StatusCode::NOT_FOUND, "role_not_found"),
        (Method::DELETE, format!("/roles/{NOBODY}"), Value::Null, StatusCode::NOT_FOUND, "role_not_found"),
        (Method::GET, format!("/roles/{NOBODY}/permissions"), Value::Null, StatusCode::NOT_FOUND, "role_not_found"),
        (Method::PUT, format!("/permissions/{NOBODY}"), json!({"name": "x"}), StatusCode::NOT_FOUND, "permission_not_found"),
        (Method::DELETE, format!("/permissions/{NOBODY}"), Value::Null, StatusCode::NOT_FOUND, "permission_not_found"),
        (Method::POST, "/role-permissions".into(), json!({"role_id": NOBODY, "permission_id": r}), StatusCode::NOT_FOUND, "role_not_found"),
        (Method::POST, "/role-permissions".into(), json!({"role_id": v, "permission_id": NOBODY}), StatusCode::NOT_FOUND, "permission_not_found"),
        (Method::DELETE, "/role-permissions".into(), json!({"role_id": NOBODY, "permission_id": r}), StatusCode::NOT_FOUND, "role_not_found"),
        (Method::DELETE, "/role-permissions".into(), json!({"role_id": v, "permission_id": NOBODY}), StatusCode::NOT_FOUND, "permission_not_found"),
        (Method::POST, "/service-roles".into(), json!({"service_id": NOBODY, "role_id": v}), StatusCode::NOT_FOUND, "service_not_found"),
        (Method::POST, "/service-roles".into(), json!({"service_id": b, "role_id": NOBODY}), StatusCode::NOT_FOUND, "role_not_found"),
        (Method::DELETE, "/service-roles".into(), json!({"service_id": NOBODY, "role_id": v}), StatusCode::NOT_FOUND, "service_not_found"),
        (Method::DELETE, "/service-roles".into(), json!({"service_id": "nothing", "role_id": v}), StatusCode::BAD_REQUEST, "invalid_service_id"),
        (Method::POST, "/person-service-roles".into(), json!({"person_id": NOBODY, "service_id": b, "role_id": v}), StatusCode::NOT_FOUND, "person_not_found"),
        (Method::POST, "/person-service-roles".into(), json!({"person_id": a, "service_id": NOBODY, "role_id": v}), StatusCode::NOT_FOUND, "service_not_found"),
        (Method::POST, "/person-service-roles".into(), json!({"person_id": a, "service_id": b, "role_id": NOBODY}), StatusCode::NOT_FOUND, "role_not_found"),
        (Method::POST, "/person-service-roles".into(), json!({"person_id": "ghost_user", "service_id": b, "role_id": v}), StatusCode::BAD_REQUEST, "person_not_found"),
        (Method::POST, "/person-service-roles".into(), json!({"person_id": a, "service_id": "nothing", "role_id": v}), StatusCode::BAD_REQUEST, "invalid_service_id"),
        (Method::DELETE, "/person-service-roles".into(), json!({"person_id": NOBODY, "service_id": b, "role_id": v}), StatusCode::NOT_FOUND, "person_not_found"),
        (Method::DELETE, "/person-service-roles".into(), json!({"person_id": a, "service_id": b, "role_id": NOBODY}), StatusCode::NOT_FOUND, "role_not_found"),
        (Method::POST, "/person-service-permissions".into(), json!({"person_id": NOBODY, "service_id": b, "permission_id": r}), StatusCode::NOT_FOUND, "person_not_found"),
        (Method::POST, "/person-service-permissions".into(), json!({"person_id": a, "service_id": b, "permission_id": NOBODY}), StatusCode::NOT_FOUND, "permission_not_found"),
        (Method::POST, "/person-service-permissions".into(), json!({"person_id": a, "service_id": b, "permission_name": "nothing"}), StatusCode::BAD_REQUEST, "permission_not_found"),
        (Method::POST, "/person-service-permissions".into(), json!({"person_id": a, "service_id": b, "permission_name": ""}), StatusCode::BAD_REQUEST, "invalid_permission_id"),
        (Method::POST, "/person-service-permissions".into(), json!({"person_id": "", "service_id": b, "permission_id": r}), StatusCode::BAD_REQUEST, "invalid_person_id"),
        (Method::GET, format!("/people/{NOBODY}/services"), Value::Null, StatusCode::NOT_FOUND, "person_not_found"),
        (Method::GET, format!("/people/{NOBODY}/services/{b}"), Value::Null, StatusCode::NOT_FOUND, "person_not_found"),
        (Method::GET, format!("/people/{a}/services/{NOBODY}"), Value::Null, StatusCode::NOT_FOUND, "service_not_found"),
        (Method::GET, format!("/people/{a}/services/nothing"), Value::Null, StatusCode::BAD_REQUEST, "invalid_service_id"),
        (Method::GET, format!("/people/ghost_user/services/{b}"), Value::Null, StatusCode::BAD_REQUEST, "person_not_found"),
        (Method::GET, format!("/people/{NOBODY}/services/{b}/roles"), Value::Null, StatusCode::NOT_FOUND, "person_not_found"),
        (Method::GET, format!("/people/{a}/services/{NOBODY}/roles"), Value::Null, StatusCode::NOT_FOUND, "service_not_found"),
        (Method::GET, format!("/services/{NOBODY}/roles/{v}/people"), Value::Null, StatusCode::NOT_FOUND, "service_not_found"),
        (Method::GET, format!("/services/{b}/roles/{NOBODY}/people"), Value::Null, StatusCode::NOT_FOUND, "role_not_found"),
        // A service named here is made only for a role that exists: the first refusal leaves none.
        (Method::POST, "/service-roles".into(), json!({"service_id": "Brand New", "role_id": NOBODY}), StatusCode::NOT_FOUND, "role_not_found"),
        (Method::GET, "/services/Brand%20New/roles".into(), Value::Null, StatusCode::BAD_REQUEST, "invalid_service_id"),
    };
    for (method, path, body, status, key) in cases {
        let body = (!body.is_null()).then_some(body);
        let answer = door
            .app
            .eqeqo(method.clone(), &path, Some(&door.admin), body)
            .await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, key),
            "{method} {path}: {:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_body_eqeqo_could_not_read_is_400_invalid_request_body() {
    let door = Door::open().await;
    let m = model(&door).await;
    let cases: Vec<(Method, String, &str)> = cases! {
        (Method::POST, "/users".into(), r#"{"username": "juan"}"#),
        (Method::PUT, format!("/users/{}", m.alice), "not json"),
        (Method::PUT, format!("/users/{}", m.alice), r#"{"name": 5}"#),
        (Method::POST, "/services".into(), r#"{"description": "no name"}"#),
        (Method::PUT, format!("/services/{}", m.billing), r#"{"name": []}"#),
        (Method::POST, "/roles".into(), r#"{"nombre": "x"}"#),
        (Method::PUT, format!("/roles/{}", m.viewer), r#"{"name": null}"#),
        (Method::POST, "/permissions".into(), r#"{"name": "a", "code": "b"}"#),
        (Method::PUT, format!("/permissions/{}", m.read), "[]"),
        (Method::POST, "/role-permissions".into(), r#"{"role_id": "1", "permission_id": 1}"#),
        (Method::DELETE, "/role-permissions".into(), r#"{"role_id": 1}"#),
        (Method::POST, "/service-roles".into(), r#"{"service_id": 1.5, "role_id": 1}"#),
        (Method::DELETE, "/service-roles".into(), r#"{"service_id": true, "role_id": 1}"#),
        (Method::POST, "/person-service-roles".into(), r#"{"person_id": null, "service_id": 1, "role_id": 1}"#),
        (Method::DELETE, "/person-service-roles".into(), "{"),
        (Method::POST, "/person-service-permissions".into(), r#"{"person_id": 1, "service_id": 1}"#),
    };
    for (method, path, body) in cases {
        let a = door
            .raw(method.clone(), &path, Some(&door.admin), body)
            .await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::BAD_REQUEST, "invalid_request_body"),
            "{method} {path} {body}: {:?}",
            a.body
        );
        // Never the value sent back.
        assert!(!a.body.to_string().contains("juan"), "{:?}", a.body);
    }
    let a = door
        .raw(
            Method::POST,
            "/auth/login",
            None,
            r#"{"username": "admin"}"#,
        )
        .await;
    refused(&a, StatusCode::BAD_REQUEST, "invalid_request_body");
    assert_eq!(a.body["detail"], "password: required");
}

#[tokio::test]
async fn a_login_opens_a_token_with_the_doors_lifetime_that_logout_ends() {
    let door = Door::open().await;
    let before = now();
    let a = door.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.headers["content-type"], "application/json");
    let token = a.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tso_"), "{token}");
    let me = door.app.get("/auth/profile", &door.rest).await.body["user"]["id"].clone();
    let payload = json!({"name": "Administrator", "user_id": me, "username": "admin"});
    assert_eq!(a.body["payload"], payload);
    let expires_at = a.body["expires_at"].as_i64().unwrap();
    assert!(
        (before + 300..=now() + 300).contains(&expires_at),
        "{expires_at}"
    );

    let a = door.get("/auth/profile", &token).await;
    success(
        &a,
        json!({"expires_at": expires_at, "payload": payload, "renewed": false}),
    );
    let a = door
        .send(Method::POST, "/auth/logout", &token, json!({}))
        .await;
    success(&a, json!({"status": "logged_out"}));
    let a = door.get("/auth/profile", &token).await;
    unauthorized(&a, "invalid_token", INVALID_TOKEN);
    let a = door
        .send(Method::POST, "/auth/logout", &token, json!({}))
        .await;
    unauthorized(&a, "invalid_token", INVALID_TOKEN);
}

#[tokio::test]
async fn a_wrong_password_an_unknown_user_and_a_disabled_one_are_one_answer() {
    let door = Door::open().await;
    let m = model(&door).await;
    let a = door
        .app
        .call(
            Method::PATCH,
            &format!("/users/{}", m.bob),
            Some(&door.rest),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    for (username, password) in [
        ("alice", "not the password"),
        ("nobody", USER_PASSWORD),
        ("bob", USER_PASSWORD),
    ] {
        let a = door.login(username, password).await;
        unauthorized(&a, "invalid_credentials", INVALID_CREDENTIALS);
        assert!(a.body.get("token").is_none());
    }
}

#[tokio::test]
async fn logins_are_rate_limited_per_username() {
    let door = Door::open_with(|s| {
        s.rate_limit.enabled = true;
        s.rate_limit.per_username_per_minute = 2;
        s.rate_limit.per_ip_per_minute = 100;
        s.lockout.max_failures = 0;
    })
    .await;
    for _ in 0..2 {
        let a = door.login("carol", "not the password").await;
        refused(&a, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let a = door.login("Carol", "not the password").await;
    refused(&a, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
}

#[tokio::test]
async fn failed_logins_lock_the_account_as_on_the_rest_api() {
    let door = Door::open().await;
    model(&door).await;
    for _ in 0..4 {
        let a = door.login("alice", "not the password").await;
        refused(&a, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let a = door.login("alice", "not the password").await;
    refused(&a, StatusCode::LOCKED, "account_locked");
    assert!(a.headers.contains_key("retry-after"));
    let a = door.login("alice", USER_PASSWORD).await;
    refused(&a, StatusCode::LOCKED, "account_locked");
    // The REST API sees the same lock.
    let a = door.app.post_login("alice", USER_PASSWORD).await;
    assert_eq!(a.status, StatusCode::LOCKED);
}

#[tokio::test]
async fn a_user_with_a_second_factor_cannot_finish_a_login_here() {
    let door = Door::open().await;
    crate::mfa::enrol(&door.app).await;
    let a = door.login("alice", USER_PASSWORD).await;
    refused(&a, StatusCode::UNAUTHORIZED, "second_factor_required");
    assert!(a.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(a.body.get("token").is_none() && a.body.get("mfa_token").is_none());
    let a = door.login("alice", "not the password").await;
    refused(&a, StatusCode::UNAUTHORIZED, "invalid_credentials");
}

#[tokio::test]
async fn users_are_created_read_changed_and_listed_as_in_eqeqo() {
    let door = Door::open().await;
    let new_user = json!({
        "username": "juan",
        "password_hash": USER_PASSWORD,
        "name": "Juan Demo",
        "person_type": "N",
        "document_type": "DNI",
        "document_number": "00000007",
    });
    let a = door
        .send(Method::POST, "/users", &door.admin, new_user.clone())
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let juan = a.body["id"].as_i64().unwrap();
    assert_eq!(
        a.body,
        json!({"id": juan, "username": "juan", "name": "Juan Demo"})
    );
    // Eqeqo's person and document are attributes of the user.
    let rest = door.app.get(&format!("/users/{juan}"), &door.rest).await;
    assert_eq!(rest.body["display_name"], "Juan Demo");
    assert_eq!(
        rest.body["attributes"],
        json!({"document_number": "00000007", "document_type": "DNI", "person_type": "N"})
    );
    let a = door
        .send(Method::POST, "/users", &door.admin, new_user)
        .await;
    refused(&a, StatusCode::CONFLICT, "create_user_failed");
    for (field, value, detail) in [
        ("person_type", "X", "person_type: must be N or J"),
        (
            "document_type",
            "passport",
            "document_type: must be DNI, CE or RUC",
        ),
        ("name", "  ", "name: empty"),
    ] {
        let mut body = json!({
            "username": "maria",
            "password_hash": USER_PASSWORD,
            "name": "Maria",
            "person_type": "J",
            "document_type": "RUC",
            "document_number": "20123456789",
        });
        body[field] = json!(value);
        let a = door.send(Method::POST, "/users", &door.admin, body).await;
        refused(&a, StatusCode::BAD_REQUEST, "invalid_request_body");
        assert_eq!(a.body["detail"], detail);
    }
    let short = json!({
        "username": "maria",
        "password_hash": "maria-hash",
        "name": "Maria",
        "person_type": "J",
        "document_type": "RUC",
        "document_number": "20123456789",
    });
    let a = door.send(Method::POST, "/users", &door.admin, short).await;
    refused(&a, StatusCode::BAD_REQUEST, "invalid_request_body");
    let detail = a.body["detail"].as_str().unwrap();
    assert!(detail.contains("password_hash: min_length"), "{detail}");

    let a = door.get(&format!("/users/{juan}"), &door.admin).await;
    success(
        &a,
        json!({"id": juan, "username": "juan", "name": "Juan Demo"}),
    );
    let path = format!("/users/{juan}");
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"name": "Juan Nuevo"}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    assert_eq!(
        door.get(&path, &door.admin).await.body["name"],
        "Juan Nuevo"
    );
    // A new username renames the user: the old one no longer signs in, the new one does.
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"username": "juana"}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    success(
        &door.get(&path, &door.admin).await,
        json!({"id": juan, "username": "juana", "name": "Juan Nuevo"}),
    );
    refused(
        &door.login("juan", USER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    door.token("juana", USER_PASSWORD).await;
    // Sending the current one changes nothing; one another user has, ignoring case, is 409 with
    // a detail (Eqeqo: 500), and a refused one 400; neither changes anything, the name sent with
    // them included.
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"username": "juana"}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"username": "ADMIN", "name": "Juan Otro"}),
        )
        .await;
    refused(&a, StatusCode::CONFLICT, "update_user_failed");
    assert_eq!(a.body["detail"], "this username is already taken");
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"username": "j", "name": "Juan Otro"}),
        )
        .await;
    refused(&a, StatusCode::BAD_REQUEST, "invalid_request_body");
    assert_eq!(a.body["detail"], "username: too_short");
    success(
        &door.get(&path, &door.admin).await,
        json!({"id": juan, "username": "juana", "name": "Juan Nuevo"}),
    );
    // Back to the first one in two steps, the second changing only its case.
    for username in ["Juan", "juan"] {
        let a = door
            .send(
                Method::PUT,
                &path,
                &door.admin,
                json!({"username": username}),
            )
            .await;
        success(&a, json!({"status": "success"}));
    }
    // A new password, then a bad name and a bad password change nothing.
    let new_password = "another perfectly fine passphrase";
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"password_hash": new_password}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    refused(
        &door.login("juan", USER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    door.token("juan", new_password).await;
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"name": "Juan Otro", "password_hash": "short"}),
        )
        .await;
    refused(&a, StatusCode::BAD_REQUEST, "invalid_request_body");
    assert_eq!(
        door.get(&path, &door.admin).await.body["name"],
        "Juan Nuevo"
    );
    door.token("juan", new_password).await;

    let a = door.get("/users", &door.admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let admin = door.app.get("/auth/profile", &door.rest).await.body["user"]["id"].as_i64();
    assert_eq!(ids(&a), vec![admin.unwrap(), juan]);
    assert_eq!(
        a.body[1],
        json!({"id": juan, "username": "juan", "name": "Juan Nuevo"})
    );
}

#[tokio::test]
async fn deleting_a_user_ends_their_tokens_and_says_how_many() {
    let door = Door::open().await;
    let m = model(&door).await;
    let first = door.token("alice", USER_PASSWORD).await;
    let second = door.token("alice", USER_PASSWORD).await;
    let path = format!("/users/{}", m.alice);
    let a = door
        .app
        .eqeqo(Method::DELETE, &path, Some(&door.admin), None)
        .await;
    success(
        &a,
        json!({"revoked_tokens": 2, "status": "user_deleted", "user_id": m.alice}),
    );
    for token in [&first, &second] {
        unauthorized(
            &door.get("/auth/profile", token).await,
            "invalid_token",
            INVALID_TOKEN,
        );
    }
    refused(
        &door.get(&path, &door.admin).await,
        StatusCode::NOT_FOUND,
        "user_not_found",
    );
    refused(
        &door.login("alice", USER_PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn services_roles_and_permissions_are_managed_as_in_eqeqo() {
    let door = Door::open().await;
    let admin = door.admin.as_str();
    let a = door
        .send(
            Method::POST,
            "/services",
            admin,
            json!({"name": "stock", "description": "Inventory"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let stock = a.body["id"].as_i64().unwrap();
    assert_eq!(
        a.body,
        json!({"id": stock, "name": "stock", "description": "Inventory"})
    );
    // Creating it again answers it, with the description sent.
    let a = door
        .send(
            Method::POST,
            "/services",
            admin,
            json!({"name": "stock", "description": "Stock and inventory"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        a.body,
        json!({"id": stock, "name": "stock", "description": "Stock and inventory"})
    );
    let path = format!("/services/{stock}");
    let a = door
        .send(
            Method::PUT,
            &path,
            admin,
            json!({"description": "New desc"}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    let a = door.get("/services", admin).await;
    assert_eq!(
        a.body,
        json!([{"id": stock, "name": "stock", "description": "New desc"}])
    );

    let a = door
        .send(Method::POST, "/roles", admin, json!({"name": "editor"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let editor = a.body["id"].as_i64().unwrap();
    let a = door
        .send(Method::POST, "/roles", admin, json!({"name": "editor"}))
        .await;
    assert_eq!(
        (a.status, a.body.clone()),
        (StatusCode::CREATED, json!({"id": editor, "name": "editor"}))
    );
    let viewer = door
        .send(Method::POST, "/roles", admin, json!({"name": "viewer"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    let role = format!("/roles/{editor}");
    let a = door
        .send(Method::PUT, &role, admin, json!({"name": "writer"}))
        .await;
    success(&a, json!({"status": "success"}));
    success(
        &door.get(&role, admin).await,
        json!({"id": editor, "name": "writer"}),
    );
    let a = door
        .send(
            Method::PUT,
            &format!("/roles/{viewer}"),
            admin,
            json!({"name": "writer"}),
        )
        .await;
    refused(&a, StatusCode::CONFLICT, "update_role_failed");
    assert_eq!(ids(&door.get("/roles", admin).await), vec![editor, viewer]);

    let a = door
        .send(
            Method::POST,
            "/permissions",
            admin,
            json!({"code": "export"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let export = a.body["id"].as_i64().unwrap();
    let a = door
        .send(
            Method::PUT,
            &format!("/permissions/{export}"),
            admin,
            json!({"name": "export_csv"}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    success(
        &door.get("/permissions", admin).await,
        json!([{"id": export, "name": "export_csv"}]),
    );

    let link = json!({"role_id": editor, "permission_id": export});
    for _ in 0..2 {
        let a = door
            .send(Method::POST, "/role-permissions", admin, link.clone())
            .await;
        success(&a, json!({"status": "success"}));
    }
    success(
        &door
            .get(&format!("/roles/{editor}/permissions"), admin)
            .await,
        json!([{"id": export, "name": "export_csv"}]),
    );
    // A service by name; an unknown name makes the service, as Eqeqo did.
    for service in ["stock", "ui-store"] {
        let a = door
            .send(
                Method::POST,
                "/service-roles",
                admin,
                json!({"service_id": service, "role_id": editor}),
            )
            .await;
        success(&a, json!({"status": "success"}));
    }
    let writer = json!([{"id": editor, "name": "writer"}]);
    success(
        &door.get("/services/stock/roles", admin).await,
        writer.clone(),
    );
    success(
        &door.get(&format!("/services/{stock}/roles"), admin).await,
        writer,
    );
    let services = door.get("/services", admin).await;
    assert_eq!(services.body[1]["name"], "ui-store");
    assert_eq!(services.body[1]["description"], Value::Null);
    // A name with a space, percent-encoded in a path.
    let a = door
        .send(
            Method::POST,
            "/services",
            admin,
            json!({"name": "UI Store"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    success(
        &door.get("/services/UI%20Store/roles", admin).await,
        json!([]),
    );

    let removed = json!({"permission_id": export, "role_id": editor, "status": "permission_removed_from_role"});
    for _ in 0..2 {
        let a = door
            .send(Method::DELETE, "/role-permissions", admin, link.clone())
            .await;
        success(&a, removed.clone());
    }
    success(
        &door
            .get(&format!("/roles/{editor}/permissions"), admin)
            .await,
        json!([]),
    );
    let a = door
        .send(
            Method::DELETE,
            "/service-roles",
            admin,
            json!({"service_id": "ui-store", "role_id": editor}),
        )
        .await;
    success(&a, json!({"status": "role_removed_from_service"}));

    let a = door
        .app
        .eqeqo(Method::DELETE, &role, Some(admin), None)
        .await;
    success(&a, json!({"role_id": editor, "status": "role_deleted"}));
    refused(
        &door.get(&role, admin).await,
        StatusCode::NOT_FOUND,
        "role_not_found",
    );
    let a = door
        .app
        .eqeqo(
            Method::DELETE,
            &format!("/permissions/{export}"),
            Some(admin),
            None,
        )
        .await;
    success(
        &a,
        json!({"permission_id": export, "status": "permission_deleted"}),
    );
    success(&door.get("/permissions", admin).await, json!([]));

    // Deleting a service disables it, as Eqeqo's soft delete.
    let a = door
        .app
        .eqeqo(Method::DELETE, &path, Some(admin), None)
        .await;
    success(
        &a,
        json!({"service_id": stock, "status": "service_deleted"}),
    );
    let services = door.get("/services", admin).await;
    let names: Vec<&str> = services
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ui-store", "UI Store"]);
    let rest = door.app.get(&path, &door.rest).await;
    assert_eq!(rest.body["active"], false);
}

#[tokio::test]
async fn grants_and_what_a_person_may_do_in_a_service() {
    let door = Door::open().await;
    let m = model(&door).await;
    let admin = door.admin.as_str();
    // A person by username, a service by name.
    let a = door
        .send(
            Method::POST,
            "/person-service-roles",
            admin,
            json!({"person_id": "alice", "service_id": "billing", "role_id": m.viewer}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    // A person as `person-<id>`, a permission by name; the role that holds it is Tessera's own.
    let person = format!("person-{}", m.alice);
    let body =
        json!({"person_id": person, "service_id": m.billing, "permission_name": "refunds:create"});
    let a = door
        .send(Method::POST, "/person-service-permissions", admin, body)
        .await;
    success(
        &a,
        json!({
            "permission_id": m.refunds,
            "person_id": m.alice,
            "role_id": null,
            "service_id": m.billing,
            "status": "permission_granted",
        }),
    );
    let alice_row = json!({"id": m.alice, "username": "alice", "name": "alice"});
    let access = json!({
        "permissions": ["invoices:read", "refunds:create"],
        "roles": ["viewer"],
        "service_id": m.billing,
        "user": alice_row.clone(),
    });
    for path in [
        format!("/people/{}/services/{}", m.alice, m.billing),
        "/people/alice/services/billing".to_owned(),
    ] {
        success(&door.get(&path, admin).await, access.clone());
    }
    success(
        &door
            .get(&format!("/people/{}/services", m.alice), admin)
            .await,
        json!([{"id": m.billing, "name": "billing", "description": null}]),
    );
    success(
        &door
            .get(
                &format!("/people/alice/services/{}/roles", m.billing),
                admin,
            )
            .await,
        json!([{"id": m.viewer, "name": "viewer"}]),
    );
    success(
        &door
            .get(
                &format!("/services/billing/roles/{}/people", m.viewer),
                admin,
            )
            .await,
        json!([alice_row]),
    );
    // The hidden role of the direct grant shows in no list.
    assert_eq!(
        ids(&door.get("/roles", admin).await),
        vec![m.viewer, m.auditor]
    );
    // The service must offer the role: Tessera's rule.
    let a = door
        .send(
            Method::POST,
            "/person-service-roles",
            admin,
            json!({"person_id": m.alice, "service_id": m.billing, "role_id": m.auditor}),
        )
        .await;
    refused(&a, StatusCode::BAD_REQUEST, "invalid_request_body");
    assert_eq!(a.body["detail"], "role_id: not_offered_by_service");

    // People read their own access, by id or name; someone else's is for admins.
    let alice = door.token("alice", USER_PASSWORD).await;
    success(
        &door.get("/people/alice/services/billing", &alice).await,
        access.clone(),
    );
    let a = door
        .get(&format!("/people/{}/services/{}", m.bob, m.billing), &alice)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body, json!({"error": "forbidden_person_lookup"}));

    // Taking the role back twice: the second finds nothing to take, as in Eqeqo.
    let grant = json!({"person_id": m.alice, "service_id": m.billing, "role_id": m.viewer});
    for _ in 0..2 {
        let a = door
            .send(
                Method::DELETE,
                "/person-service-roles",
                admin,
                grant.clone(),
            )
            .await;
        success(&a, json!({"status": "role_removed_from_person"}));
    }
    let a = door
        .get(
            &format!("/people/{}/services/{}", m.alice, m.billing),
            admin,
        )
        .await;
    assert_eq!(a.body["roles"], json!([]));
    assert_eq!(a.body["permissions"], json!(["refunds:create"]));
}

#[tokio::test]
async fn only_admins_manage_and_people_read_themselves() {
    let door = Door::open().await;
    let m = model(&door).await;
    let alice = door.token("alice", USER_PASSWORD).await;
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/users".into(), None),
        (Method::GET, format!("/users/{}", m.bob), None),
        (Method::DELETE, format!("/users/{}", m.bob), None),
        (Method::POST, "/roles".into(), Some(json!({"name": "mine"}))),
        (
            Method::POST,
            "/services".into(),
            Some(json!({"name": "mine"})),
        ),
        (Method::GET, "/services".into(), None),
        (Method::POST, format!("/services/{}/token", m.billing), None),
        (
            Method::POST,
            "/person-service-roles".into(),
            Some(json!({"person_id": m.alice, "service_id": m.billing, "role_id": m.viewer})),
        ),
        // A user does not rename themselves.
        (
            Method::PUT,
            format!("/users/{}", m.alice),
            Some(json!({"username": "alicia", "name": "Alicia"})),
        ),
    ];
    for (method, path, body) in cases {
        let a = door
            .app
            .eqeqo(method.clone(), &path, Some(&alice), body)
            .await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {path}: {:?}",
            a.body
        );
        assert!(a.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    success(
        &door.get(&format!("/users/{}", m.alice), &alice).await,
        json!({"id": m.alice, "username": "alice", "name": "alice"}),
    );
    // Their own username sent back is no rename.
    let a = door
        .send(
            Method::PUT,
            &format!("/users/{}", m.alice),
            &alice,
            json!({"username": "alice", "name": "Alice A."}),
        )
        .await;
    success(&a, json!({"status": "success"}));
    success(
        &door.get(&format!("/users/{}", m.alice), &alice).await,
        json!({"id": m.alice, "username": "alice", "name": "Alice A."}),
    );
}

#[tokio::test]
async fn check_token_answers_what_the_holder_may_do_in_the_services_own_token() {
    let door = Door::open().await;
    let m = model(&door).await;
    grant_viewer(&door, &m).await;
    let before = now();
    let a = door
        .send(
            Method::POST,
            &format!("/services/{}/token", m.billing),
            &door.admin,
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["service_id"], m.billing);
    assert_eq!(a.body["service_name"], "billing");
    let expires = a.body["expires_at"].as_i64().unwrap();
    assert!(
        (before + 604_800..=now() + 604_800).contains(&expires),
        "{expires}"
    );
    let service = a.body["token"].as_str().unwrap().to_owned();

    let login = door.login("alice", USER_PASSWORD).await;
    let alice = login.body["token"].as_str().unwrap().to_owned();
    let user_expires = login.body["expires_at"].as_i64().unwrap();
    let expected = json!({
        "access": {
            "expires_at": user_expires,
            "permissions": ["invoices:read"],
            "roles": ["viewer"],
            "scopes": [],
            "service_id": m.billing,
            "user_id": m.alice,
        },
        "expires_at": user_expires,
        "payload": {"name": "alice", "user_id": m.alice, "username": "alice"},
        "renewed": false,
        "valid": true,
    });
    // The body is optional, and one that cannot be read is no body.
    let own = json!({ "user_id": m.alice }).to_string();
    let own_as_text = json!({ "user_id": m.alice.to_string() }).to_string();
    for body in [
        "",
        "{}",
        "not json",
        r#"{"user_id": "alice"}"#,
        own.as_str(),
        own_as_text.as_str(),
    ] {
        let a = door.check(Some(&alice), Some(&service), body).await;
        success(&a, expected.clone());
    }
    let a = door
        .check(Some(&alice), Some(&service), r#"{"user_id": 99999}"#)
        .await;
    unauthorized(&a, "invalid_token", INVALID_TOKEN);
    let a = door.check(Some(&alice), None, "").await;
    unauthorized(&a, "missing_service_token_header", MISSING_SERVICE_TOKEN);
    let a = door.check(None, Some(&service), "").await;
    unauthorized(&a, "missing_token_header", MISSING_TOKEN);
    let a = door.check(Some("invalid"), None, "").await;
    unauthorized(&a, "invalid_token", INVALID_TOKEN);
    for wrong in ["nonsense", alice.as_str()] {
        let a = door.check(Some(&alice), Some(wrong), "").await;
        unauthorized(&a, "invalid_service_token", INVALID_SERVICE_TOKEN);
    }
    // A service token is no user's token (Eqeqo took one as such for five minutes).
    let a = door.check(Some(&service), Some(&service), "").await;
    unauthorized(&a, "invalid_token", INVALID_TOKEN);
    unauthorized(
        &door.get("/auth/profile", &service).await,
        "invalid_token",
        INVALID_TOKEN,
    );
}

#[tokio::test]
async fn a_disabled_services_tokens_are_refused_and_it_gets_no_new_ones() {
    let door = Door::open().await;
    let m = model(&door).await;
    let service = door.service_token(m.billing).await;
    let alice = door.token("alice", USER_PASSWORD).await;
    assert_eq!(
        door.check(Some(&alice), Some(&service), "").await.status,
        StatusCode::OK
    );
    let path = format!("/services/{}", m.billing);
    let a = door
        .app
        .eqeqo(Method::DELETE, &path, Some(&door.admin), None)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = door.check(Some(&alice), Some(&service), "").await;
    unauthorized(&a, "service_inactive", SERVICE_INACTIVE);
    let a = door
        .send(
            Method::POST,
            &format!("{path}/token"),
            &door.admin,
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body, json!({"error": "service_inactive"}));
}

#[tokio::test]
async fn a_token_works_on_both_doors() {
    let door = Door::open().await;
    let m = model(&door).await;
    let service = door.service_token(m.billing).await;
    let alice = door.token("alice", USER_PASSWORD).await;
    // The door's token is a bearer token of the REST API.
    let a = door.app.get("/auth/profile", &alice).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["user"]["username"], "alice");
    // A role granted through the REST API shows on the door at once.
    let a = door.check(Some(&alice), Some(&service), "").await;
    assert_eq!(a.body["access"]["roles"], json!([]));
    grant_viewer(&door, &m).await;
    let a = door.check(Some(&alice), Some(&service), "").await;
    assert_eq!(a.body["access"]["roles"], json!(["viewer"]), "{:?}", a.body);
    // A logout on the REST API ends the token on the door.
    let a = door.app.post("/auth/logout", Some(&alice), json!({})).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    unauthorized(
        &door.get("/auth/profile", &alice).await,
        "invalid_token",
        INVALID_TOKEN,
    );
}

/// A door whose tokens live 4 seconds and renew in their last 2.
async fn short_lived() -> Door {
    Door::open_with(|s| {
        s.eqeqo.user_token_ttl_seconds = 4;
        s.eqeqo.renew_threshold_seconds = 2;
    })
    .await
}

/// Long enough after a login for its token to be in its renewal window, and not expired.
const INTO_THE_WINDOW: Duration = Duration::from_millis(2100);

#[tokio::test]
async fn a_token_is_renewed_when_used_near_its_expiry_and_expires_unused() {
    let door = short_lived().await;
    let unused = door.token("admin", ADMIN_PASSWORD).await;
    let login = door.login("admin", ADMIN_PASSWORD).await;
    let token = login.body["token"].as_str().unwrap().to_owned();
    let issued_until = login.body["expires_at"].as_i64().unwrap();
    let a = door.get("/auth/profile", &token).await;
    assert_eq!(
        (a.body["renewed"].clone(), a.body["expires_at"].clone()),
        (json!(false), json!(issued_until))
    );
    tokio::time::sleep(INTO_THE_WINDOW).await;
    let a = door.get("/auth/profile", &token).await;
    assert_eq!(a.body["renewed"], true, "{:?}", a.body);
    let renewed_until = a.body["expires_at"].as_i64().unwrap();
    assert!(
        renewed_until > issued_until,
        "{renewed_until} {issued_until}"
    );
    // Out of the window again: used, not renewed.
    let a = door.get("/auth/profile", &token).await;
    assert_eq!(
        (a.body["renewed"].clone(), a.body["expires_at"].clone()),
        (json!(false), json!(renewed_until))
    );
    // Past its expiry, a token that was not used is expired; the renewed one lives on.
    tokio::time::sleep(INTO_THE_WINDOW).await;
    unauthorized(
        &door.get("/auth/profile", &unused).await,
        "expired_token",
        EXPIRED_TOKEN,
    );
    assert_eq!(
        door.get("/auth/profile", &token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn two_uses_in_the_window_at_once_renew_the_token_once() {
    let door = short_lived().await;
    let login = door.login("admin", ADMIN_PASSWORD).await;
    let token = login.body["token"].as_str().unwrap().to_owned();
    let issued_until = login.body["expires_at"].as_i64().unwrap();
    tokio::time::sleep(INTO_THE_WINDOW).await;
    let (x, y) = tokio::join!(
        door.get("/auth/profile", &token),
        door.get("/auth/profile", &token)
    );
    assert_eq!((x.status, y.status), (StatusCode::OK, StatusCode::OK));
    let renewed = [&x, &y]
        .iter()
        .filter(|a| a.body["renewed"] == true)
        .count();
    assert_eq!(renewed, 1, "{:?} {:?}", x.body, y.body);
    assert_eq!(x.body["expires_at"], y.body["expires_at"]);
    assert!(x.body["expires_at"].as_i64().unwrap() > issued_until);
}

#[tokio::test]
async fn a_service_token_past_its_lifetime_is_expired_and_a_new_one_works() {
    // Times are whole seconds: a token of 2 s lives at least 1 s, and is gone 3 s after.
    let door = Door::open_with(|s| s.eqeqo.service_token_ttl_seconds = 2).await;
    let m = model(&door).await;
    let alice = door.token("alice", USER_PASSWORD).await;
    let service = door.service_token(m.billing).await;
    assert_eq!(
        door.check(Some(&alice), Some(&service), "").await.status,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let a = door.check(Some(&alice), Some(&service), "").await;
    unauthorized(&a, "expired_token", EXPIRED_TOKEN);
    // The user's token was checked first and is still good; a new service token works.
    let fresh = door.service_token(m.billing).await;
    assert_eq!(
        door.check(Some(&alice), Some(&fresh), "").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn ids_too_large_for_any_row_are_answered_not_failed() {
    let door = Door::open().await;
    let huge = "99999999999999999999999";
    let a = door.get(&format!("/users/{huge}"), &door.admin).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_user_id")),
        "{:?}",
        a.body
    );
    let a = door.get(&format!("/users/{}", i64::MAX), &door.admin).await;
    assert_eq!(
        (a.status, a.body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("user_not_found")),
        "{:?}",
        a.body
    );
    for body in [
        r#"{"role_id": 1e30, "permission_id": 1}"#,
        r#"{"role_id": 99999999999999999999999, "permission_id": 1}"#,
        r#"{"role_id": -1.5, "permission_id": 1}"#,
    ] {
        let a = door
            .raw(Method::POST, "/role-permissions", Some(&door.admin), body)
            .await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request_body")),
            "{body}: {:?}",
            a.body
        );
    }
}

#[tokio::test]
async fn a_rename_and_a_password_in_one_body_change_nothing_when_the_password_is_refused() {
    let door = Door::open().await;
    let m = model(&door).await;
    let path = format!("/users/{}", m.alice);
    // The new password holds the new username, which the policy refuses: nothing changes.
    let a = door
        .send(
            Method::PUT,
            &path,
            &door.admin,
            json!({"username": "juanperez", "password_hash": "Juanperez-2026-long!"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert_eq!(a.body["error"], "invalid_request_body");
    assert_eq!(door.get(&path, &door.admin).await.body["username"], "alice");
    // An admin's own password needs the current one: refused before the rename is written.
    let me = door.get("/auth/profile", &door.admin).await.body["payload"]["user_id"]
        .as_i64()
        .unwrap();
    let own = format!("/users/{me}");
    let a = door
        .send(
            Method::PUT,
            &own,
            &door.admin,
            json!({"username": "chief", "password_hash": "Another-long-Pa55word"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{:?}", a.body);
    assert!(
        a.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("current_password")),
        "{:?}",
        a.body
    );
    assert_eq!(door.get(&own, &door.admin).await.body["username"], "admin");
}
