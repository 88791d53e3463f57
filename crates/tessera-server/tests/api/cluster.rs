//! Several nodes on one PostgreSQL database: two real server processes sharing the database and
//! the key folder, as two replicas behind a load balancer would.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_store::scratch::ScratchDatabase;
use tessera_testkit::{ADMIN_PASSWORD, ISSUER};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");
const PASSWORD: &str = "a perfectly fine passphrase";
/// The documented bound on how long a revocation takes to reach the other nodes.
const PROPAGATION: Duration = Duration::from_secs(1);

/// One `tessera` process.
struct Node {
    child: Child,
    base: String,
    client: reqwest::Client,
}

/// Starts a node (without waiting for it): its database and key folder are the shared ones.
fn launch(database_url: &str, keys_dir: &std::path::Path, dir: &std::path::Path) -> Child {
    launch_with(database_url, keys_dir, dir, &[])
}

fn launch_with(
    database_url: &str,
    keys_dir: &std::path::Path,
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> Child {
    Command::new(BIN)
        .current_dir(dir)
        .env("TESSERA_SERVER__BIND", "127.0.0.1:0")
        .env("TESSERA_DATABASE__URL", database_url)
        .env("TESSERA_KEYS__DIR", keys_dir)
        .env("TESSERA_TOKENS__ISSUER", ISSUER)
        .env("TESSERA_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("TESSERA_PASSWORD_HASHING__MEMORY_KIB", "1024")
        .env("TESSERA_PASSWORD_HASHING__ITERATIONS", "1")
        .env("TESSERA_RATE_LIMIT__ENABLED", "false")
        .env("TESSERA_LOCKOUT__MAX_FAILURES", "3")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tessera binary starts")
}

impl Node {
    /// Waits for the node's "listening" log line and reads its port from it.
    fn ready(mut child: Child) -> Self {
        let port = crate::listening_port(&mut child);
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = req.send().await.expect("the node answers");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, username: &str, password: &str) -> (StatusCode, Value) {
        self.send(
            self.client
                .post(format!("{}/auth/login", self.base))
                .json(&json!({"username": username, "password": password})),
        )
        .await
    }

    async fn token(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn logout(&self, token: &str) -> StatusCode {
        self.send(
            self.client
                .post(format!("{}/auth/logout", self.base))
                .bearer_auth(token),
        )
        .await
        .0
    }

    async fn userinfo(&self, token: &str) -> StatusCode {
        self.send(
            self.client
                .get(format!("{}/auth/userinfo", self.base))
                .bearer_auth(token),
        )
        .await
        .0
    }

    async fn jwks_kids(&self) -> Vec<String> {
        let (_, body) = self
            .send(self.client.get(format!("{}/auth/jwks.json", self.base)))
            .await;
        body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `node` refuses `token`, at most `PROPAGATION`; returns how long it took.
async fn refused_within_bound(node: &Node, token: &str, what: &str) -> Duration {
    let start = Instant::now();
    loop {
        if node.userinfo(token).await == StatusCode::UNAUTHORIZED {
            let took = start.elapsed();
            eprintln!("{what} reached the other node in {took:?}");
            return took;
        }
        assert!(
            start.elapsed() <= PROPAGATION,
            "{what} on one node did not reach the other within {PROPAGATION:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two nodes started at the same moment on an empty database: one migrates and makes the admin.
fn two_nodes() -> (Node, Node, ScratchDatabase, tempfile::TempDir) {
    let db = ScratchDatabase::from_env();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (a, b) = (
        launch(&db.url, &keys, dir.path()),
        launch(&db.url, &keys, dir.path()),
    );
    (Node::ready(a), Node::ready(b), db, dir)
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
async fn tokens_and_revocations_cross_nodes_within_the_bound() {
    let (a, b, _db, _dir) = two_nodes();
    let admin = a.token("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        b.userinfo(&admin).await,
        StatusCode::OK,
        "issued on A, used on B"
    );

    // Logout on A.
    assert_eq!(a.logout(&admin).await, StatusCode::NO_CONTENT);
    refused_within_bound(&b, &admin, "a logout").await;

    // A password change on B ends the sessions the user has on A.
    let admin = b.token("admin", ADMIN_PASSWORD).await;
    let (status, body) = b
        .send(
            b.client
                .post(format!("{}/users", b.base))
                .bearer_auth(&admin)
                .json(&json!({"username": "carol", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let carol_id = body["id"].as_i64().unwrap();
    let carol_on_a = a.token("carol", PASSWORD).await;
    let carol_on_b = b.token("carol", PASSWORD).await;
    let (status, body) = b
        .send(
            b.client
                .post(format!("{}/users/{carol_id}/password", b.base))
                .bearer_auth(&carol_on_b)
                .json(&json!({"current_password": PASSWORD, "new_password": "another fine passphrase"})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    refused_within_bound(&a, &carol_on_a, "a password change").await;

    // Deleting the user on A ends what is left of her sessions on B.
    let carol = b.token("carol", "another fine passphrase").await;
    let (status, _) = a
        .send(
            a.client
                .delete(format!("{}/users/{carol_id}", a.base))
                .bearer_auth(a.token("admin", ADMIN_PASSWORD).await),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    refused_within_bound(&b, &carol, "a user deletion").await;
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
async fn failed_logins_add_up_across_nodes() {
    let (a, b, _db, _dir) = two_nodes();
    for node in [&a, &b] {
        let (status, body) = node.login("admin", "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // The third failure reaches the limit of three, whichever node counted the others; from then
    // on both nodes refuse even the right password.
    let (status, _) = a.login("admin", "not the password").await;
    assert_eq!(status, StatusCode::from_u16(423).unwrap());
    for node in [&b, &a] {
        let (status, body) = node.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::from_u16(423).unwrap(), "{body}");
        assert_eq!(body["error"], "account_locked");
    }
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
async fn a_key_rotated_from_one_node_is_served_by_both() {
    let (a, b, db, dir) = two_nodes();
    let before = a.jwks_kids().await;
    assert_eq!(before, b.jwks_kids().await);
    let out = Command::new(BIN)
        .args(["keys", "rotate"])
        .current_dir(dir.path())
        .env("TESSERA_DATABASE__URL", &db.url)
        .env("TESSERA_KEYS__DIR", dir.path().join("keys"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let start = Instant::now();
    loop {
        let (ka, kb) = (a.jwks_kids().await, b.jwks_kids().await);
        if ka.len() == 2 && ka == kb {
            break;
        }
        assert!(start.elapsed() <= PROPAGATION, "{ka:?} / {kb:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Both sign with the new key, and each accepts the other's tokens.
    let (ta, tb) = (
        a.token("admin", ADMIN_PASSWORD).await,
        b.token("admin", ADMIN_PASSWORD).await,
    );
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_eq!(kid(&ta), kid(&tb));
    assert!(!before.contains(&kid(&ta)));
    assert_eq!(b.userinfo(&ta).await, StatusCode::OK);
    assert_eq!(a.userinfo(&tb).await, StatusCode::OK);
}

/// Two nodes sharing a Redis as well, under a key prefix of their own; database sync slowed to a
/// minute, so that what arrives sooner came through Redis.
fn two_nodes_with_redis(
    extra: &[(&str, &str)],
) -> (Node, Node, ScratchDatabase, tempfile::TempDir) {
    let redis = std::env::var("TESSERA_TEST_REDIS_URL")
        .expect("TESSERA_TEST_REDIS_URL must name a Redis server for this test");
    let db = ScratchDatabase::from_env();
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let prefix = format!(
        "tessera-test-{}",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let mut env = vec![
        ("TESSERA_REDIS__URL", redis.as_str()),
        ("TESSERA_REDIS__KEY_PREFIX", prefix.as_str()),
        ("TESSERA_CLUSTER__SYNC_INTERVAL_MILLISECONDS", "60000"),
    ];
    env.extend_from_slice(extra);
    let a = Node::ready(launch_with(&db.url, &keys, dir.path(), &env));
    let b = Node::ready(launch_with(&db.url, &keys, dir.path(), &env));
    (a, b, db, dir)
}

#[tokio::test]
#[ignore = "needs TESSERA_TEST_POSTGRES_URL and TESSERA_TEST_REDIS_URL"]
async fn with_redis_a_logout_reaches_the_other_node_without_waiting_for_the_database_sync() {
    let (a, b, _db, _dir) = two_nodes_with_redis(&[]);
    let admin = a.token("admin", ADMIN_PASSWORD).await;
    assert_eq!(b.userinfo(&admin).await, StatusCode::OK);
    assert_eq!(a.logout(&admin).await, StatusCode::NO_CONTENT);
    // The database sync runs once a minute here; only the announcement can be this quick.
    refused_within_bound(&b, &admin, "a logout announced through Redis").await;
}

#[tokio::test]
#[ignore = "needs TESSERA_TEST_POSTGRES_URL and TESSERA_TEST_REDIS_URL"]
async fn with_redis_rate_limit_budgets_are_shared_by_the_nodes() {
    let (a, b, _db, _dir) = two_nodes_with_redis(&[
        ("TESSERA_RATE_LIMIT__ENABLED", "true"),
        ("TESSERA_RATE_LIMIT__PER_IP_PER_MINUTE", "4"),
        ("TESSERA_RATE_LIMIT__PER_USERNAME_PER_MINUTE", "100"),
    ]);
    // Four attempts in all, whichever node gets them, spend 127.0.0.1's budget of four. The
    // budgets are per minute: a run that crosses a minute starts afresh and is tried again.
    let minute = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 60
    };
    for attempt in 0.. {
        assert!(attempt < 3, "every run crossed a minute");
        let before = minute();
        let mut statuses = Vec::new();
        for (i, node) in [&a, &b, &a, &b, &a, &b].into_iter().enumerate() {
            // Other names each time, so that the account lockout does not answer first.
            let name = format!("nobody{attempt}-{i}");
            statuses.push(node.login(&name, "not the password").await.0);
        }
        if minute() != before {
            continue;
        }
        let unauthorized = StatusCode::UNAUTHORIZED;
        let limited = StatusCode::TOO_MANY_REQUESTS;
        if attempt == 0 {
            assert_eq!(
                statuses,
                [
                    unauthorized,
                    unauthorized,
                    unauthorized,
                    unauthorized,
                    limited,
                    limited
                ]
            );
        } else {
            // Earlier attempts of this minute's window may have spent the budget already.
            assert_eq!(statuses[5], limited, "{statuses:?}");
        }
        break;
    }
}

/// Polls `check` on the other node until it holds, at most `PROPAGATION`.
async fn holds_within_bound<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            eprintln!("{what} reached the other node in {:?}", start.elapsed());
            return;
        }
        assert!(
            start.elapsed() <= PROPAGATION,
            "{what} on one node did not reach the other within {PROPAGATION:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
async fn changes_reach_the_other_nodes_cached_reads_within_the_bound() {
    let (a, b, _db, _dir) = two_nodes();
    let admin = a.token("admin", ADMIN_PASSWORD).await;
    let post = |node: &Node, path: &str, body: Value| {
        node.client
            .post(format!("{}{path}", node.base))
            .bearer_auth(&admin)
            .json(&body)
    };
    let (status, body) = a
        .send(post(
            &a,
            "/users",
            json!({"username": "dave", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let dave = body["id"].as_i64().unwrap();
    let mut ids = Vec::new();
    for (path, name) in [
        ("/services", "billing"),
        ("/roles", "clerk"),
        ("/permissions", "invoice:read"),
    ] {
        let (status, body) = a.send(post(&a, path, json!({"name": name}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    let (service, role, permission) = (ids[0], ids[1], ids[2]);
    let grant = json!({"person_id": dave, "service_id": service, "role_id": role});
    for (path, body) in [
        (
            "/role-permissions",
            json!({"role_id": role, "permission_id": permission}),
        ),
        (
            "/service-roles",
            json!({"service_id": service, "role_id": role}),
        ),
        ("/person-service-roles", grant.clone()),
    ] {
        let (status, body) = a.send(post(&a, path, body)).await;
        assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
    }
    let mut keys = Vec::new();
    for name in ["one", "two"] {
        let (status, body) = a
            .send(post(
                &a,
                &format!("/users/{dave}/api-keys"),
                json!({"name": name}),
            ))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        keys.push((
            body["id"].as_i64().unwrap(),
            body["key"].as_str().unwrap().to_owned(),
        ));
    }
    let dave_jwt = b.token("dave", PASSWORD).await;
    let permissions_on_b = || async {
        let (status, body) = b
            .send(
                b.client
                    .post(format!("{}/check-token", b.base))
                    .bearer_auth(&dave_jwt)
                    .json(&json!({"service_id": service})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["permissions"].clone()
    };
    // B reads everything once, so the answers are in its memory.
    for _ in 0..2 {
        assert_eq!(permissions_on_b().await, json!(["invoice:read"]));
        for (_, key) in &keys {
            assert_eq!(b.userinfo(key).await, StatusCode::OK);
        }
    }

    // A grant removed on A.
    let (status, _) = a
        .send(
            a.client
                .delete(format!("{}/person-service-roles", a.base))
                .bearer_auth(&admin)
                .json(&grant),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    holds_within_bound("a removed grant", || async {
        permissions_on_b().await == json!([])
    })
    .await;

    // An API key deleted on A.
    let (status, _) = a
        .send(
            a.client
                .delete(format!("{}/api-keys/{}", a.base, keys[0].0))
                .bearer_auth(&admin),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    holds_within_bound("a deleted API key", || async {
        b.userinfo(&keys[0].1).await == StatusCode::UNAUTHORIZED
    })
    .await;

    // The user disabled on A: the other key stops working on B.
    let (status, body) = a
        .send(
            a.client
                .patch(format!("{}/users/{dave}", a.base))
                .bearer_auth(&admin)
                .json(&json!({"active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    holds_within_bound("a disabled user", || async {
        b.userinfo(&keys[1].1).await == StatusCode::UNAUTHORIZED
    })
    .await;
}
