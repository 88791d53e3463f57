//! A login flood: logins beyond the hashing pool wait in a bounded line or are refused with 503,
//! a login whose client has gone is never hashed, and token checks, API keys and the store keep
//! being answered meanwhile.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{spawn_app_with, TestApp};
use tokio::io::AsyncWriteExt as _;

/// A costly hash (32 MiB, three passes: some 20 a second) on one hashing thread, so that a flood
/// lasts and a request that finds the line full does not get a place within the second it waits.
async fn slow_hashing_app(max_waiting: usize) -> TestApp {
    slow_hashing_app_with(max_waiting, 8).await
}

/// As `slow_hashing_app`, with `connections` database connections (and as many blocking threads
/// per HTTP worker, at least 4).
async fn slow_hashing_app_with(max_waiting: usize, connections: u32) -> TestApp {
    spawn_app_with(move |s| {
        s.password_hashing.memory_kib = 32 * 1024;
        s.password_hashing.iterations = 3;
        s.password_hashing.threads = 1;
        s.password_hashing.max_waiting = max_waiting;
        s.lockout.max_failures = 0;
        s.database.max_connections = connections;
    })
    .await
}

/// A metric's value from `/metrics`.
async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    crate::metrics::value(&text, &format!("{name} "))
}

#[tokio::test]
async fn during_a_login_flood_logins_are_shed_and_everything_else_is_answered() {
    flood_sheds_logins_and_answers_the_rest(slow_hashing_app(4).await).await;
}

/// With one database connection each HTTP worker runs at most four blocking tasks, two of which
/// can be logins waiting for their hash: the rest still gets a thread and is answered.
#[tokio::test]
async fn a_flood_is_survived_with_the_fewest_blocking_threads() {
    flood_sheds_logins_and_answers_the_rest(slow_hashing_app_with(4, 1).await).await;
}

async fn flood_sheds_logins_and_answers_the_rest(app: TestApp) {
    let app = Arc::new(app);
    let admin = app.admin_token().await;
    let user = app.create_user(&admin, "hank").await;
    let a = app
        .post(
            &format!("/users/{user}/api-keys"),
            Some(&admin),
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let key = a.body["key"].as_str().unwrap().to_owned();

    // 64 clients post wrong passwords back to back until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (shed, refused, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut flood = Vec::new();
    for i in 0..64 {
        let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
        let (shed, refused, other) = (Arc::clone(&shed), Arc::clone(&refused), Arc::clone(&other));
        flood.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let res = client
                    .post(app.url("/auth/login"))
                    .json(&json!({"username": format!("nobody{i}"), "password": "wrong password"}))
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                let retry_after = res.headers().get("retry-after").is_some();
                let body: serde_json::Value = res.json().await.unwrap_or_default();
                match status {
                    StatusCode::SERVICE_UNAVAILABLE => {
                        assert!(retry_after, "a 503 says when to come back");
                        assert_eq!(body["error"], "unavailable");
                        shed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    StatusCode::UNAUTHORIZED => {
                        assert_eq!(body["error"], "invalid_credentials");
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        eprintln!("unexpected {status}: {body}");
                        other.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    // The flood is on once the line is full and logins are being shed.
    tokio::time::timeout(Duration::from_secs(60), async {
        while shed.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("logins are shed once the line is full");

    // Token checks, an API key, an uncached read of the store and a login's refusal all answer.
    let checks = async {
        for _ in 0..20 {
            assert_eq!(
                app.get("/auth/userinfo", &admin).await.status,
                StatusCode::OK
            );
            let a = app.post("/check-token", Some(&admin), json!({})).await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
            assert_eq!(app.get("/auth/userinfo", &key).await.status, StatusCode::OK);
            let a = app.get("/users?limit=5", &admin).await;
            assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), checks)
        .await
        .expect("answered while logins queue");
    // ...while the flood was still queued behind the hashing pool.
    assert!(
        metric(&app, "tessera_password_hash_queue").await > 0.0,
        "the flood was still waiting"
    );
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
    assert_eq!(
        other.load(Ordering::Relaxed),
        0,
        "only 401 and 503 for a flood"
    );
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "some were hashed and refused"
    );
    // Once the flood is over, the right password gets in.
    let a = app.post_login("hank", tessera_testkit::USER_PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
}

#[tokio::test]
async fn a_login_whose_client_has_gone_is_not_hashed() {
    let app = slow_hashing_app(64).await;
    let before = metric(&app, "tessera_password_hash_duration_seconds_count").await;
    let body = r#"{"username":"nobody","password":"wrong password"}"#;
    let request = format!(
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // 40 clients send a login and hang up before any answer.
    let mut sockets = Vec::new();
    for _ in 0..40 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
            .await
            .unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        sockets.push(s);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(sockets);
    // Wait for the line to empty, then count the hashes made.
    let mut waited = Duration::ZERO;
    while metric(&app, "tessera_password_hash_queue").await > 0.0 {
        assert!(waited < Duration::from_secs(60), "the line empties");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hashed = metric(&app, "tessera_password_hash_duration_seconds_count").await - before;
    assert!(
        hashed < 20.0,
        "{hashed} of 40 logins were hashed although their clients had gone"
    );
}

#[tokio::test]
async fn a_login_whose_client_hangs_up_keeps_its_turn_until_its_hash_is_done() {
    // Two turns, no places in the line: a third login is refused once it has waited its second.
    let app = slow_hashing_app(0).await;
    let body = r#"{"username":"nobody","password":"wrong password"}"#;
    let request = format!(
        "POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // A sends a login and hangs up at once; its hash (tens of milliseconds) goes on.
    let mut a = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    a.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(10)).await;
    // B and C come while A's hash still runs: B takes the second turn, and C finds none, since
    // A's turn stays taken until its hash is done (were it given back when A hung up, C would be
    // hashed and answered 401).
    let (b, c) = tokio::join!(app.post_login("nobody", "wrong password"), async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        app.post_login("nobody", "wrong password").await
    });
    assert_eq!(b.status, StatusCode::UNAUTHORIZED, "{:?}", b.body);
    assert_eq!(c.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", c.body);
}
