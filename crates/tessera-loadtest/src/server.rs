//! The processes under test: a guard that kills a child however the run ends, the Tessera server
//! on a temporary data directory (configured through the environment), its seeding (an import
//! file, then the authorization data through the API), and resident-memory sampling.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http::StatusCode;
use serde_json::json;

use crate::load::{batch, Call, Client, Connection};

/// The bootstrap admin's password (the admin is named `admin`).
pub const ADMIN_PASSWORD: &str = "Boot-Pa55word-q8v3z";

/// How long a server may take to answer its readiness route.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// A child process, killed (SIGKILL) and reaped when dropped, so no run leaves one behind.
#[derive(Debug)]
pub struct ChildGuard {
    name: &'static str,
    child: Child,
}

impl ChildGuard {
    /// Guards `child`, named `name` in messages.
    pub fn new(name: &'static str, child: Child) -> Self {
        Self { name, child }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process with SIGTERM (by `kill -TERM <pid>`), waiting up to `grace` for it to
    /// exit, then kills it.
    ///
    /// # Errors
    /// When `kill` cannot run.
    pub async fn terminate(&mut self, grace: Duration) -> anyhow::Result<Option<ExitStatus>> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(Some(status));
        }
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", pid.as_str()])
            .status()
            .context("cannot run kill")?;
        let began = Instant::now();
        while began.elapsed() < grace {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        eprintln!(
            "{} did not stop within {grace:?} of SIGTERM; killing it",
            self.name
        );
        self.child.kill()?;
        self.child.wait()?;
        Ok(None)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (bound, then released for the child to take).
///
/// # Errors
/// When no port can be bound.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a free port")?;
    Ok(listener.local_addr()?)
}

/// Waits until `GET path` answers 200 (polled every 5 ms), while the child keeps running.
///
/// # Errors
/// When the child exits first, or nothing answers 200 within a minute.
pub async fn wait_ready(
    addr: SocketAddr,
    path: &str,
    child: &mut ChildGuard,
) -> anyhow::Result<()> {
    let call = Call::get(path)?;
    let began = Instant::now();
    loop {
        if let Some(status) = child.child.try_wait()? {
            anyhow::bail!("{} exited ({status}) before it was ready", child.name);
        }
        if let Ok(mut conn) = Connection::open(addr).await {
            let answer = tokio::time::timeout(Duration::from_secs(2), conn.send(&call)).await;
            if matches!(answer, Ok(Ok(ref a)) if a.status == StatusCode::OK) {
                return Ok(());
            }
        }
        anyhow::ensure!(
            began.elapsed() < READY_LIMIT,
            "{} did not answer {path} with 200 within {READY_LIMIT:?}",
            child.name
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Resident memory of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Samples a process's resident memory every 100 ms until stopped, keeping the peak.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<u64>,
}

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut peak = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                if let Some(kib) = rss_kib(pid) {
                    peak = peak.max(kib);
                }
            }
            peak
        });
        Self { stop, task }
    }

    /// Stops sampling and returns the peak in KiB.
    pub async fn peak(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(0)
    }
}

/// The Tessera server on a temporary data directory, configured through `TESSERA_*` variables.
#[derive(Debug)]
pub struct Tessera {
    // Declared first, so it is dropped (killed) before the directory goes.
    child: Option<ChildGuard>,
    binary: PathBuf,
    env: Vec<(String, String)>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where its Eqeqo door listens.
    pub eqeqo_addr: SocketAddr,
    /// The database kind, for the report.
    pub database: &'static str,
    dir: tempfile::TempDir,
}

impl Tessera {
    /// Prepares (does not start) the server `binary` on a fresh temporary directory: SQLite in it,
    /// or the PostgreSQL database at `postgres` as it is.
    ///
    /// # Errors
    /// When the binary is missing or the directory cannot be made.
    pub fn new(binary: &Path, postgres: Option<&str>) -> anyhow::Result<Self> {
        let binary = std::fs::canonicalize(binary).with_context(|| {
            format!(
                "no server binary at {} (build it with cargo build --release -p tessera-server, or pass --server)",
                binary.display()
            )
        })?;
        let dir = tempfile::Builder::new()
            .prefix("tessera-loadtest-")
            .tempdir()
            .context("cannot make a temporary directory")?;
        let addr = free_addr()?;
        let eqeqo_addr = free_addr()?;
        let (url, database) = match postgres {
            Some(url) => (url.to_owned(), "PostgreSQL"),
            None => (
                format!("sqlite://{}", dir.path().join("tessera.db").display()),
                "SQLite",
            ),
        };
        let env = [
            ("TESSERA_SERVER__BIND", addr.to_string()),
            ("TESSERA_EQEQO__BIND", eqeqo_addr.to_string()),
            // As the access tokens below: Eqeqo tokens logged in at the start outlive the run.
            ("TESSERA_EQEQO__USER_TOKEN_TTL_SECONDS", "7200".to_owned()),
            ("TESSERA_DATABASE__URL", url),
            (
                "TESSERA_KEYS__DIR",
                dir.path().join("keys").display().to_string(),
            ),
            (
                "TESSERA_BOOTSTRAP_ADMIN_PASSWORD",
                ADMIN_PASSWORD.to_owned(),
            ),
            ("TESSERA_RATE_LIMIT__ENABLED", "false".to_owned()),
            // 0 turns every lockout limit off (the address and account limits too).
            ("TESSERA_LOCKOUT__MAX_FAILURES", "0".to_owned()),
            // Tokens logged in at the start must outlive every scenario, however long.
            ("TESSERA_TOKENS__ACCESS_TTL_SECONDS", "7200".to_owned()),
            ("TESSERA_LOG__LEVEL", "warn".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok(Self {
            child: None,
            binary,
            env,
            addr,
            eqeqo_addr,
            database,
            dir,
        })
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildGuard::id)
    }

    /// The binary with this server's configuration and nothing inherited that could change it:
    /// run in the temporary directory (no stray `./tessera.toml`), no other `TESSERA_*`
    /// variable, its output on our standard error (our standard output is the report).
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(self.dir.path());
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TESSERA_") {
                cmd.env_remove(key);
            }
        }
        // A developer's shell often sets these; with them every error value (a cache miss on a
        // worker is one) captures a stack trace, which no deployment of ours asks for.
        cmd.env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()));
        cmd
    }

    /// Runs `tessera import FILE` (which also migrates the database, makes the keys and creates
    /// the admin); the server must not be running. Returns how long it took.
    ///
    /// # Errors
    /// When the import fails.
    pub fn import(&self, file: &Path) -> anyhow::Result<Duration> {
        let began = Instant::now();
        let status = self
            .command()
            .arg("import")
            .arg(file)
            .status()
            .context("cannot run tessera import")?;
        anyhow::ensure!(status.success(), "tessera import failed ({status})");
        Ok(began.elapsed())
    }

    /// Starts the server and waits for `GET /ready` to answer 200; returns how long that took.
    ///
    /// # Errors
    /// When it is running already, exits, or is not ready within a minute.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        anyhow::ensure!(self.child.is_none(), "the server is running already");
        let began = Instant::now();
        let child = self.command().spawn().context("cannot start tessera")?;
        let mut guard = ChildGuard::new("tessera", child);
        wait_ready(self.addr, "/ready", &mut guard).await?;
        let took = began.elapsed();
        self.child = Some(guard);
        Ok(took)
    }

    /// Stops the server with SIGTERM (killing it after 40 s).
    ///
    /// # Errors
    /// When `kill` cannot run.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut guard) = self.child.take() {
            if let Some(status) = guard.terminate(Duration::from_secs(40)).await? {
                if !status.success() {
                    eprintln!("tessera exited with {status} after SIGTERM");
                }
            }
        }
        Ok(())
    }
}

/// Writes the JSON Lines import file: `count` users named `<prefix><number>`, role `user`, all
/// with the same password hash. Returns their names in file order.
///
/// # Errors
/// When the file cannot be written.
pub fn write_import(
    path: &Path,
    prefix: &str,
    count: usize,
    hash: &str,
) -> anyhow::Result<Vec<String>> {
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut names = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("{prefix}{i:05}");
        serde_json::to_writer(
            &mut out,
            &json!({ "username": name, "password_hash": hash, "roles": ["user"] }),
        )?;
        out.write_all(b"\n")?;
        names.push(name);
    }
    out.flush()?;
    Ok(names)
}

/// What the API seeding made.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The admin's access token.
    pub admin_token: String,
    /// The service whose role the first users hold.
    pub service_id: i64,
    /// The service's secret, for introspection.
    pub service_secret: String,
    /// How many users (the first ones) hold the role.
    pub granted: usize,
}

/// Logs in; returns the token answer's access token and refresh token (none for opaque tokens).
///
/// # Errors
/// When the login is not answered 200.
pub async fn login(
    client: &mut Client,
    username: &str,
    password: &str,
) -> anyhow::Result<(String, Option<String>)> {
    let answer = client
        .send(&login_call(username, password, None)?)
        .await?
        .ensure_status(StatusCode::OK, &format!("login of {username}"))?;
    let refresh = answer.field("refresh_token").ok();
    Ok((answer.field("access_token")?, refresh))
}

/// `POST /auth/login` for `username`, with `token_format` when given.
///
/// # Errors
/// Never in practice (the path is valid).
pub fn login_call(username: &str, password: &str, format: Option<&str>) -> anyhow::Result<Call> {
    let mut body = json!({ "username": username, "password": password });
    if let (Some(format), Some(map)) = (format, body.as_object_mut()) {
        map.insert("token_format".into(), json!(format));
    }
    Call::post_json("/auth/login", &body)
}

fn id_of(answer: &crate::load::Answer, what: &str) -> anyhow::Result<i64> {
    answer
        .json()?
        .get("id")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| anyhow::anyhow!("{what}: the answer has no id: {}", answer.text()))
}

/// Creates a service, role or permission named `name`; returns its id.
async fn create_entry(
    client: &mut Client,
    admin: &str,
    path: &str,
    name: String,
) -> anyhow::Result<i64> {
    let call = Call::post_json(path, &json!({ "name": name, "description": "load test" }))?
        .bearer(admin)?;
    let answer = client
        .send(&call)
        .await?
        .ensure_status(StatusCode::CREATED, &format!("POST {path}"))?;
    id_of(&answer, path)
}

/// Through the API, as the admin: a service, a role with two permissions offered by the
/// service, the role granted to the first `grant` of `users` (all named `<prefix>…`) in the
/// service, and a service secret for introspection.
///
/// # Errors
/// When any call is not answered as documented.
pub async fn seed_api(
    addr: SocketAddr,
    tag: &str,
    prefix: &str,
    users: &[String],
    grant: usize,
) -> anyhow::Result<Seeded> {
    let mut client = Client::new(addr);
    let (admin_token, _) = login(&mut client, "admin", ADMIN_PASSWORD)
        .await
        .context("the admin cannot log in (with --postgres, the database must be empty or hold only earlier load tests' data)")?;
    let admin = admin_token.as_str();
    let service_id =
        create_entry(&mut client, admin, "/services", format!("loadtest-{tag}")).await?;
    let role_id = create_entry(
        &mut client,
        admin,
        "/roles",
        format!("loadtest-reader-{tag}"),
    )
    .await?;
    let read_id = create_entry(
        &mut client,
        admin,
        "/permissions",
        format!("loadtest:read-{tag}"),
    )
    .await?;
    let write_id = create_entry(
        &mut client,
        admin,
        "/permissions",
        format!("loadtest:write-{tag}"),
    )
    .await?;
    let links = [
        (
            "/role-permissions",
            json!({ "role_id": role_id, "permission_id": read_id }),
        ),
        (
            "/role-permissions",
            json!({ "role_id": role_id, "permission_id": write_id }),
        ),
        (
            "/service-roles",
            json!({ "service_id": service_id, "role_id": role_id }),
        ),
    ];
    for (path, body) in links {
        client
            .send(&Call::post_json(path, &body)?.bearer(admin)?)
            .await?
            .ensure_status(StatusCode::CREATED, &format!("POST {path}"))?;
    }

    // The ids of the users to grant, listed by their common prefix, in pages of 500.
    let wanted: Vec<&String> = users.iter().take(grant).collect();
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(users.len());
    let mut after: Option<i64> = None;
    for _ in 0..=(users.len() / 500 + 1) {
        if wanted.iter().all(|u| ids.contains_key(u.as_str())) {
            break;
        }
        let path = match after {
            Some(a) => format!("/users?limit=500&q={prefix}&after={a}"),
            None => format!("/users?limit=500&q={prefix}"),
        };
        let page = client
            .send(&Call::get(&path)?.bearer(admin)?)
            .await?
            .ensure_status(StatusCode::OK, "GET /users")?
            .json()?;
        for item in page
            .get("items")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(name), Some(id)) = (
                item.get("username").and_then(serde_json::Value::as_str),
                item.get("id").and_then(serde_json::Value::as_i64),
            ) {
                ids.insert(name.to_owned(), id);
            }
        }
        after = page.get("next_after").and_then(serde_json::Value::as_i64);
        if after.is_none() {
            break;
        }
    }
    let grants = wanted
        .iter()
        .map(|name| {
            let person_id = ids
                .get(name.as_str())
                .ok_or_else(|| anyhow::anyhow!("user {name} is not in the user list"))?;
            Call::post_json(
                "/person-service-roles",
                &json!({ "person_id": person_id, "service_id": service_id, "role_id": role_id }),
            )?
            .bearer(admin)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for answer in batch(addr, grants, 4).await? {
        answer.ensure_status(StatusCode::CREATED, "POST /person-service-roles")?;
    }

    let service_secret = client
        .send(&Call::post_empty(&format!("/services/{service_id}/token"))?.bearer(admin)?)
        .await?
        .ensure_status(
            StatusCode::CREATED,
            &format!("POST /services/{service_id}/token"),
        )?
        .field("token")?;
    Ok(Seeded {
        admin_token,
        service_id,
        service_secret,
        granted: wanted.len(),
    })
}
