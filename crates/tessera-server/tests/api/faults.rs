//! The database going away while the server runs: `/ready` and requests answer 503, and both
//! recover when it is back, without a restart. PostgreSQL is reached through a proxy the test
//! can cut, so the server shared with the other tests keeps running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tessera_store::scratch::ScratchDatabase;
use tessera_testkit::{spawn_app_with, TestApp, ADMIN_PASSWORD};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy to the PostgreSQL server that can drop every connection and refuse new ones.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn to(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (up, links) = (Arc::clone(&up), Arc::clone(&links));
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused at once
                    }
                    let upstream = upstream.clone();
                    links.lock().unwrap().push(tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    }));
                }
            }
        });
        Self {
            port,
            up,
            links,
            accept,
        }
    }

    /// The database stops: open connections break, new ones are refused.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// The connections open now break in the middle of whatever they carry; new ones get through.
    fn break_links(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `host:port` and the URL with them replaced by the proxy's.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (host, format!("{scheme}://{user}127.0.0.1:{port}{path}"))
}

async fn status_until(app: &TestApp, path: &str, want: StatusCode, within: Duration) -> StatusCode {
    let start = Instant::now();
    loop {
        let status = app.client.get(app.url(path)).send().await.unwrap().status();
        if status == want || start.elapsed() > within {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Several threads: the server connects (through the proxy) while the test's task waits on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
async fn a_database_outage_answers_503_and_recovers_without_a_restart() {
    let db = ScratchDatabase::from_env();
    let (upstream, _) = through_proxy(&db.url, 0);
    let proxy = Proxy::to(upstream).await;
    let (_, proxied) = through_proxy(&db.url, proxy.port);
    let app = spawn_app_with(|s| {
        s.database.url = proxied;
        s.database.acquire_timeout_ms = 500;
    })
    .await;
    let admin = app.admin_token().await;
    assert_eq!(
        status_until(&app, "/ready", StatusCode::OK, Duration::ZERO).await,
        StatusCode::OK
    );

    proxy.cut();
    assert_eq!(
        status_until(
            &app,
            "/ready",
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(10)
        )
        .await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let res = app.post_login("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        res.body
    );
    assert_eq!(res.error(), "unavailable");
    assert_eq!(res.headers["retry-after"], "1");
    let res = app.get("/users", &admin).await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        res.body
    );
    // Liveness does not depend on the database: the process is fine, only not ready.
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    proxy.restore();
    assert_eq!(
        status_until(&app, "/ready", StatusCode::OK, Duration::from_secs(10)).await,
        StatusCode::OK
    );
    let res = app.post_login("admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert_eq!(app.get("/users", &admin).await.status, StatusCode::OK);
}

// Several threads: requests run while the test breaks their database connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
async fn connections_lost_mid_query_answer_503_never_500() {
    let db = ScratchDatabase::from_env();
    let (upstream, _) = through_proxy(&db.url, 0);
    let proxy = Arc::new(Proxy::to(upstream).await);
    let (_, proxied) = through_proxy(&db.url, proxy.port);
    let app = Arc::new(
        spawn_app_with(|s| {
            s.database.url = proxied;
            s.database.acquire_timeout_ms = 500;
        })
        .await,
    );
    let admin = Arc::new(app.admin_token().await);
    let until = Instant::now() + Duration::from_secs(3);
    let cutter = tokio::spawn({
        let proxy = Arc::clone(&proxy);
        async move {
            let mut breaks = 0;
            while Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(40)).await;
                proxy.break_links();
                breaks += 1;
            }
            breaks
        }
    });
    let mut load = Vec::new();
    for _ in 0..6 {
        let (app, admin) = (Arc::clone(&app), Arc::clone(&admin));
        load.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            while Instant::now() < until {
                statuses.push(app.get("/users?limit=50", &admin).await.status);
                statuses.push(app.get("/sessions", &admin).await.status);
            }
            statuses
        }));
    }
    let breaks = cutter.await.unwrap();
    let mut statuses = Vec::new();
    for task in load {
        statuses.extend(task.await.unwrap());
    }
    let count = |s: StatusCode| statuses.iter().filter(|x| **x == s).count();
    assert!(breaks > 10, "the connections were broken {breaks} times");
    assert!(count(StatusCode::OK) > 0, "the load ran");
    assert_eq!(
        count(StatusCode::INTERNAL_SERVER_ERROR),
        0,
        "{} answers: {} ok, {} unavailable, {} internal errors",
        statuses.len(),
        count(StatusCode::OK),
        count(StatusCode::SERVICE_UNAVAILABLE),
        count(StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE));
}
