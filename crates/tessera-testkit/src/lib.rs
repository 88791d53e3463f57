#![doc = include_str!("../README.md")]
// Test support only (a dev-dependency): a broken fixture must stop the test that uses it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Once};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_server::{Application, Settings};
use tessera_store::scratch::ScratchDatabase;
use tessera_store::{Store, StoreConfig};

/// Password of the first admin in every test app.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// The issuer of every test app, fixed so tokens stay valid across a restart on another port.
pub const ISSUER: &str = "http://tessera.test";
/// Password given to users made by `create_user`.
pub const USER_PASSWORD: &str = "a perfectly fine passphrase";

static TRACING: Once = Once::new();

/// A running server on a real socket, with its own database and keys.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The metrics listener's port, when metrics have their own.
    pub metrics_port: Option<u16>,
    /// The Eqeqo door's port, when `[eqeqo] bind` opens it (`spawn_app_with_eqeqo`).
    pub eqeqo_port: Option<u16>,
    pub client: reqwest::Client,
    /// A second handle on the same database, for arranging and checking state.
    pub store: Store,
    pub keys_dir: PathBuf,
    pub database_url: String,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database of this test, when the suite runs on PostgreSQL; dropped last.
    pub scratch: Option<Arc<ScratchDatabase>>,
    /// Stops the server; the task ends once it has.
    server: actix_web::dev::ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Whether the suite runs on PostgreSQL: `TESSERA_TEST_POSTGRES_URL` names a server, and every
/// app gets a fresh database there instead of a SQLite file.
pub fn on_postgres() -> bool {
    std::env::var_os(tessera_store::scratch::ENV).is_some()
}

/// An HTTP answer: status, headers and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The `error` code of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// Starts a server with test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server with test settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary directory");
    let scratch = on_postgres().then(|| Arc::new(ScratchDatabase::from_env()));
    spawn_in(dir, scratch, adjust).await
}

/// Starts a server with the Eqeqo door open on a port of its own (`TestApp::eqeqo_url`), with
/// test settings adjusted by `adjust`.
pub async fn spawn_app_with_eqeqo(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.eqeqo.bind = "127.0.0.1:0".into();
        adjust(s);
    })
    .await
}

/// Test settings whose data lives under `dir`.
pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.server.shutdown_timeout_seconds = 1;
    s.database.url = format!("sqlite://{}/tessera.db", dir.display());
    s.keys.dir = dir.join("keys");
    s.tokens.issuer = Some(ISSUER.to_owned());
    // Cheap hashing keeps the suite fast; the default parameters are tested in tessera-crypto.
    s.password_hashing.memory_kib = 1024;
    s.password_hashing.iterations = 1;
    s.password_hashing.threads = 2;
    s.bootstrap.admin_password = Some(ADMIN_PASSWORD.to_owned().into());
    // Every test logs in from 127.0.0.1 many times; the rate-limit tests turn the limits back on.
    s.rate_limit.enabled = false;
    s
}

async fn spawn_in(
    dir: tempfile::TempDir,
    scratch: Option<Arc<ScratchDatabase>>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
        }
    });
    let mut settings = test_settings(dir.path());
    if let Some(db) = &scratch {
        settings.database.url.clone_from(&db.url);
    }
    adjust(&mut settings);
    let database_url = settings.database.url.clone();
    let keys_dir = settings.keys.dir.clone();
    let app = Application::build(settings).expect("the application builds");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let eqeqo_port = app.eqeqo_port();
    let server = app.server_handle();
    let task = tokio::spawn(app.run_until_stopped());
    let store = Store::open(&StoreConfig {
        url: database_url.clone(),
        max_connections: 2,
        busy_timeout: std::time::Duration::from_secs(5),
        acquire_timeout: std::time::Duration::from_secs(5),
    })
    .expect("second store handle");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_port,
        eqeqo_port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        store,
        keys_dir,
        database_url,
        dir,
        scratch,
        server,
        task,
    }
}

impl TestApp {
    /// Stops the server and starts a new one on the same database and keys, as a restart does.
    pub async fn restart_on_same_data(self) -> TestApp {
        let (dir, scratch) = self.stop().await;
        spawn_in(dir, scratch, |_| {}).await
    }

    /// Stops the server and waits until it has let go of its database; hands back what the
    /// test may still need (its folder and its PostgreSQL database).
    pub async fn stop(self) -> (tempfile::TempDir, Option<Arc<ScratchDatabase>>) {
        let TestApp {
            dir,
            scratch,
            server,
            task,
            ..
        } = self;
        server.stop(true).await;
        let _ = task.await;
        (dir, scratch)
    }

    async fn answer(res: reqwest::Response) -> Answer {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("response body");
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The URL of `path` on the Eqeqo door.
    ///
    /// # Panics
    /// When the door is closed.
    pub fn eqeqo_url(&self, path: &str) -> String {
        let port = self.eqeqo_port.expect("the Eqeqo door is open");
        format!("http://127.0.0.1:{port}{path}")
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::answer(req.send().await.expect("request sent")).await
    }

    /// Sends a request built by the test and reads its answer.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        Self::answer(req.send().await.expect("request sent")).await
    }

    /// Sends `method path` to the Eqeqo door, with an optional `token` header (Eqeqo's user
    /// token) and JSON body.
    pub async fn eqeqo(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.eqeqo_url(path));
        if let Some(t) = token {
            req = req.header("token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    /// Sends a raw body with a content type.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let res = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        Self::answer(res).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.call(reqwest::Method::DELETE, path, token, body).await
    }

    /// Sends a form-encoded POST, with an optional `Authorization` header value.
    pub async fn post_form(
        &self,
        path: &str,
        authorization: Option<&str>,
        form: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.client.post(self.url(path)).form(form);
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        Self::answer(req.send().await.expect("request sent")).await
    }

    /// Creates a service, role or permission (`kind` is the path: `/services`, …) and returns its id.
    pub async fn create_entry(&self, admin_token: &str, kind: &str, name: &str) -> i64 {
        let a = self
            .post(kind, Some(admin_token), json!({ "name": name }))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.body["id"].as_i64().expect("id")
    }

    pub async fn post_login(&self, username: &str, password: &str) -> Answer {
        self.post(
            "/auth/login",
            None,
            json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Logs in and returns (access token, refresh token), panicking on failure.
    pub async fn login(&self, username: &str, password: &str) -> (String, String) {
        let a = self.post_login(username, password).await;
        assert_eq!(
            a.status,
            StatusCode::OK,
            "login of {username} failed: {:?}",
            a.body
        );
        (
            a.body["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            a.body["refresh_token"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        )
    }

    /// Logs the admin in through a proxy that forwards for `ip`, returning the access token.
    pub async fn admin_token_from(&self, ip: &str) -> String {
        let res = self
            .client
            .post(self.url("/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
            .await
            .expect("request sent");
        let a = Self::answer(res).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        a.body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await.0
    }

    /// Creates a plain user (role `user`) with `USER_PASSWORD` and returns its id.
    pub async fn create_user(&self, admin_token: &str, username: &str) -> i64 {
        let a = self
            .post(
                "/users",
                Some(admin_token),
                json!({ "username": username, "password": USER_PASSWORD, "email": format!("{username}@example.com") }),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
        a.body["id"].as_i64().expect("id")
    }

    /// The raw PEM of the current signing key, for forging tokens in tests.
    pub fn signing_key_pem(&self) -> Vec<u8> {
        let files = tessera_crypto::keys::signing_key_files(&self.keys_dir).expect("keys dir");
        std::fs::read(files.last().expect("a signing key")).expect("key file")
    }
}
