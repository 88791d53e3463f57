//! The `tessera` binary itself: zero-configuration start, the admin password, bad configuration, SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

#[test]
fn a_bad_configuration_key_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .current_dir(dir.path())
        .env("TESSERA_SERVER__BINDD", "127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bindd"));
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("TESSERA_TOKENS__ACCESS_TTL_SECONDS", "-5")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokens.access_ttl_seconds"));
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created before the configuration is valid"
    );
}

#[test]
fn zero_configuration_start_prints_the_admin_password_once_outside_the_log_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env("TESSERA_SERVER__BIND", "127.0.0.1:0")
        .env_remove("TESSERA_BOOTSTRAP_ADMIN_PASSWORD")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut log = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        log.push_str(&line);
        if line.contains("\"listening\"") {
            break;
        }
    }
    let listening: serde_json::Value =
        serde_json::from_str(log.lines().last().unwrap()).expect("JSON log lines");
    let port = listening["port"].as_u64().expect("port in the log");
    assert!(dir.path().join("data/tessera.db").exists());
    assert!(
        std::fs::read_dir(dir.path().join("data/keys"))
            .unwrap()
            .count()
            >= 2
    );

    // Wait until it serves, so the signal handlers are in place.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !health_ok(port) {
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    log.push_str(&rest);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();

    let password = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("the admin password on standard error");
    assert!(password.len() >= 20);
    assert!(
        !log.contains(password),
        "the password never reaches the log"
    );
    assert!(log.contains("\"stopped\""));
    assert!(port > 0);
}

fn health_ok(port: u64) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", u16::try_from(port).unwrap()))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200")
}

/// Runs `tessera ARGS` in `dir`, with `stdin` on standard input; returns (success, stdout, stderr).
fn tessera(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    tessera_on(dir, None, args, stdin)
}

/// Runs a command, on the database `url` when given (else the default SQLite file under `dir`).
fn tessera_on(
    dir: &std::path::Path,
    url: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> (bool, String, String) {
    use std::io::Write as _;
    let mut command = Command::new(BIN);
    if let Some(url) = url {
        command.env("TESSERA_DATABASE__URL", url);
    }
    let mut child = command
        .args(args)
        .current_dir(dir)
        .env_remove("TESSERA_BOOTSTRAP_ADMIN_PASSWORD")
        .env_remove("RUST_LOG")
        .env("TESSERA_PASSWORD_HASHING__MEMORY_KIB", "1024")
        .env("TESSERA_PASSWORD_HASHING__ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_admin_commands_manage_users_and_list_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // On PostgreSQL when the suite runs there: the commands work against either backend.
    let db = tessera_testkit::on_postgres().then(tessera_store::scratch::ScratchDatabase::from_env);
    let url = db.as_ref().map(|db| db.url.as_str());
    let (ok, out, err) = tessera_on(d, url, &["init"], None);
    assert!(ok, "{out}{err}");
    assert!(out.contains("created the first admin"), "{out}");
    let admin_password = err
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("the admin password on standard error");
    assert!(!out.contains(admin_password));
    let (ok, out, err) = tessera_on(d, url, &["init"], None);
    assert!(ok && out.contains("no admin was created"), "{out}{err}");

    let (ok, out, err) = tessera_on(
        d,
        url,
        &[
            "user",
            "create",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ],
        Some("a perfectly fine passphrase\n"),
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("created user bob"), "{out}");
    let (ok, _, err) = tessera_on(
        d,
        url,
        &["user", "create", "BOB", "--password-stdin"],
        Some("a perfectly fine passphrase\n"),
    );
    assert!(!ok);
    assert!(err.contains("username is already taken"), "{err}");
    let (ok, _, err) = tessera_on(
        d,
        url,
        &["user", "create", "carol", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!ok);
    assert!(err.contains("min_length"), "{err}");
    let (ok, _, err) = tessera_on(
        d,
        url,
        &["user", "create", "dave", "--role", "auditor"],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("password: "),
        "a generated password is shown: {err}"
    );

    let (ok, out, _) = tessera_on(d, url, &["user", "list"], None);
    assert!(ok);
    for name in ["admin", "bob", "dave"] {
        assert!(out.contains(name), "{out}");
    }
    assert!(!out.contains("carol"));
    assert!(
        out.contains("auditor,user") || out.contains("auditor"),
        "{out}"
    );

    let (ok, out, err) = tessera_on(
        d,
        url,
        &[
            "user",
            "set-password",
            "bob@example.com",
            "--password-stdin",
        ],
        Some("another fine passphrase\n"),
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = tessera_on(d, url, &["user", "disable", "bob"], None);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = tessera_on(d, url, &["user", "list"], None);
    assert!(ok);
    let bob_line = out.lines().find(|l| l.contains("bob")).unwrap();
    assert!(bob_line.contains("false"), "{bob_line}");
    let (ok, _, err) = tessera_on(d, url, &["user", "disable", "nobody"], None);
    assert!(!ok);
    assert!(err.contains("no such user"), "{err}");
    let (ok, _, err) = tessera_on(d, url, &["user", "disable", "admin"], None);
    assert!(!ok);
    assert!(err.contains("last active admin"), "{err}");

    let (ok, out, err) = tessera_on(d, url, &["keys", "list"], None);
    assert!(ok, "{err}");
    let line = out.lines().nth(1).expect("one key");
    assert!(line.contains("RS256") && line.contains("signing"), "{out}");
    let mut rotate = Command::new(BIN);
    let out = rotate
        .args(["keys", "rotate"])
        .current_dir(d)
        .env("TESSERA_KEYS__ALGORITHM", "ES256")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (ok, out, _) = tessera_on(d, url, &["keys", "list"], None);
    assert!(ok);
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("RS256") && lines[0].contains("verify"),
        "{out}"
    );
    assert!(
        lines[1].contains("ES256") && lines[1].contains("signing"),
        "{out}"
    );
}

#[test]
fn the_binary_starts_with_the_shipped_configuration_and_probes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/tessera.toml");
    let mut child = Command::new(BIN)
        .args(["--config", config])
        .current_dir(dir.path())
        // The shipped file's paths and ports are for a real host; this test moves them aside.
        .env("TESSERA_SERVER__BIND", "127.0.0.1:0")
        .env("TESSERA_METRICS__BIND", "127.0.0.1:0")
        .env(
            "TESSERA_DATABASE__URL",
            format!("sqlite://{}/t.db", dir.path().display()),
        )
        .env("TESSERA_KEYS__DIR", dir.path().join("keys"))
        .env(
            "TESSERA_BOOTSTRAP_ADMIN_PASSWORD",
            "correct horse battery staple",
        )
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Panics unless the server starts with the shipped configuration.
    let port = crate::listening_port(&mut child);
    let url = format!("http://127.0.0.1:{port}/ready");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let (ok, out, _) = tessera(dir.path(), &["probe", &url], None);
        if ok || Instant::now() > deadline {
            break (ok, out);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(ready.0, "{}", ready.1);
    let (ok, _, err) = tessera(
        dir.path(),
        &["probe", &format!("http://127.0.0.1:{port}/nope")],
        None,
    );
    assert!(!ok && err.contains("404"), "{err}");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let (ok, _, err) = tessera(dir.path(), &["probe", &url], None);
    assert!(!ok && err.contains("nothing answers"), "{err}");
}

#[test]
fn an_unusable_database_url_stops_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        (
            "sqlite:///proc/tessera/t.db",
            "cannot create the database folder",
        ),
        (
            "mysql://localhost/tessera",
            "database.url must start with sqlite:// or postgres://",
        ),
        (
            "postgres://tessera:hunter2@127.0.0.1:1/tessera",
            "cannot open the database postgres://tessera:***@127.0.0.1:1/tessera",
        ),
    ] {
        let out = Command::new(BIN)
            .arg("init")
            .current_dir(dir.path())
            .env("TESSERA_DATABASE__URL", url)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{url}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!err.contains("hunter2"), "no password in messages: {err}");
    }
}

/// Starts the server binary in `dir` on a free port, with a known admin password, cheap hashing
/// and `env`, and waits until it answers; returns it and its port (its log is drained).
fn serve(dir: &std::path::Path, env: &[(&str, &str)]) -> (std::process::Child, u16) {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("TESSERA_SERVER__BIND", "127.0.0.1:0")
        .env(
            "TESSERA_BOOTSTRAP_ADMIN_PASSWORD",
            "purple monkey dishwasher 42",
        )
        .env("TESSERA_PASSWORD_HASHING__MEMORY_KIB", "1024")
        .env("TESSERA_PASSWORD_HASHING__ITERATIONS", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let port = crate::listening_port(&mut child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !health_ok(port) {
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, u16::try_from(port).unwrap())
}

/// Sends `signal` while a request is half sent, then the rest of it: a graceful stop answers it.
fn stop_with_a_request_in_flight(signal: &str) -> (String, std::process::ExitStatus) {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve(dir.path(), &[]);
    let body = br#"{"username":"admin","password":"wrong password"}"#;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    std::thread::sleep(Duration::from_millis(300));
    let _ = stream.write_all(&body[10..]);
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (answer, exit)
}

#[test]
fn sigint_and_sigterm_both_let_a_request_in_flight_finish() {
    for signal in ["-INT", "-TERM"] {
        let (answer, exit) = stop_with_a_request_in_flight(signal);
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "{signal}: the half-sent login was answered: {answer:?}"
        );
        assert!(exit.success(), "{signal}: {exit:?}");
    }
}

#[test]
fn a_bootstrap_password_the_policy_refuses_is_named_with_the_rule_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env("TESSERA_SERVER__BIND", "127.0.0.1:0")
        .env("TESSERA_BOOTSTRAP_ADMIN_PASSWORD", "short")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bootstrap.admin_password"), "{err}");
    assert!(err.contains("at least 12 characters"), "{err}");
    assert!(
        !err.contains("short"),
        "the password is never echoed: {err}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created for a start that cannot succeed"
    );
}

#[test]
fn tessera_user_unlock_and_set_password_lift_a_lockout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = tessera_testkit::on_postgres().then(tessera_store::scratch::ScratchDatabase::from_env);
    let url = db.as_ref().map(|db| db.url.as_str());
    let mut settings = tessera::Settings::default();
    settings.database.url = url.map_or_else(
        || format!("sqlite://{}/data/tessera.db", d.display()),
        str::to_owned,
    );
    settings.keys.dir = d.join("data/keys");
    settings.password_hashing.memory_kib = 1024;
    settings.password_hashing.iterations = 1;
    let locked = |settings: &tessera::Settings| {
        let t = tessera::Tessera::open(settings).unwrap();
        for _ in 0..5 {
            let _ = t.authenticate_password("carol", "not her password");
        }
        matches!(
            t.authenticate_password("carol", "purple monkey dishwasher 42"),
            Err(tessera::domain::error::AuthError::Locked { .. })
        )
    };
    {
        let t = tessera::Tessera::open(&settings).unwrap();
        t.create_user("carol", "purple monkey dishwasher 42", None)
            .unwrap();
    }
    assert!(locked(&settings));
    let (ok, out, err) = tessera_on(d, url, &["user", "unlock", "carol"], None);
    assert!(ok, "{out}{err}");
    let t = tessera::Tessera::open(&settings).unwrap();
    assert!(t
        .authenticate_password("carol", "purple monkey dishwasher 42")
        .is_ok());
    drop(t);

    assert!(locked(&settings));
    let (ok, out, err) = tessera_on(
        d,
        url,
        &["user", "set-password", "carol", "--password-stdin"],
        Some("a brand new long passphrase\n"),
    );
    assert!(ok, "{out}{err}");
    let t = tessera::Tessera::open(&settings).unwrap();
    assert!(t
        .authenticate_password("carol", "a brand new long passphrase")
        .is_ok());
    let (ok, _, err) = tessera_on(d, url, &["user", "unlock", "nobody"], None);
    assert!(!ok && err.contains("nobody"), "{err}");
}

#[test]
fn garbage_from_a_client_is_not_an_error_in_the_log() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env("TESSERA_SERVER__BIND", "127.0.0.1:0")
        .env(
            "TESSERA_BOOTSTRAP_ADMIN_PASSWORD",
            "purple monkey dishwasher 42",
        )
        .env("TESSERA_PASSWORD_HASHING__MEMORY_KIB", "1024")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server stopped"
        );
        if line.contains("\"listening\"") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            break v["port"].as_u64().unwrap();
        }
    };
    let port = u16::try_from(port).unwrap();
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    for garbage in [
        "GARBAGE\r\n\r\n".to_owned(),
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n".to_owned(),
        huge_header,
    ] {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let _ = stream.write_all(garbage.as_bytes());
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 4"),
            "refused as the client's fault: {answer:?}"
        );
    }
    assert!(health_ok(u64::from(port)), "the server goes on");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut log = String::new();
    stdout.read_to_string(&mut log).unwrap();
    let _ = child.wait();
    assert!(
        !log.contains("\"level\":\"ERROR\""),
        "no error lines: {log}"
    );
}

#[test]
fn no_acknowledged_write_is_lost_to_kill_9() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use tessera_domain::ports::UserRepository as _;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve(dir.path(), &[("TESSERA_RATE_LIMIT__ENABLED", "false")]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::new();
    let login: serde_json::Value = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": "purple monkey dishwasher 42"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();

    // Four writers create users as fast as they can; every 201 is remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, acknowledged) = (Arc::clone(&stop), Arc::clone(&acknowledged));
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) && i < 10_000 {
                    let name = format!("writer{w}n{i}");
                    i += 1;
                    let sent = client
                        .post(format!("{base}/users"))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"username": name, "password": "purple monkey dishwasher 42"}))
                        .timeout(Duration::from_secs(5))
                        .send();
                    match sent {
                        Ok(res) if res.status().as_u16() == 201 => {
                            acknowledged.lock().unwrap().push(name)
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL: no clean-up of any kind
    let _ = child.wait();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 20,
        "the load ran: {}",
        acknowledged.len()
    );

    // Every write that was acknowledged is there after the crash.
    let store = tessera_store::Store::open(&tessera_store::StoreConfig {
        url: format!("sqlite://{}/data/tessera.db", dir.path().display()),
        max_connections: 2,
        busy_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|name| {
            let login = tessera_domain::user::LoginName::parse(name).unwrap();
            store.find_credentials(None, &login).unwrap().is_none()
        })
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged users lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
}

#[test]
fn a_second_signal_stops_at_once() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve(
        dir.path(),
        &[
            ("TESSERA_SERVER__SHUTDOWN_TIMEOUT_SECONDS", "60"),
            ("TESSERA_SERVER__REQUEST_BODY_TIMEOUT_SECONDS", "60"),
        ],
    );
    // A request that never finishes keeps a graceful stop waiting (for up to a minute).
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    for _ in 0..2 {
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
        std::thread::sleep(Duration::from_millis(300));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the second signal did not stop the server at once"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!exit.success(), "a forced stop says so: {exit:?}");
    drop(stream);
}

#[test]
fn the_client_commands_register_list_and_delete_openid_connect_clients() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // On PostgreSQL when the suite runs there, as the user commands.
    let db = tessera_testkit::on_postgres().then(tessera_store::scratch::ScratchDatabase::from_env);
    let url = db.as_ref().map(|db| db.url.as_str());
    let (ok, out, err) = tessera_on(d, url, &["init"], None);
    assert!(ok, "{out}{err}");
    let client_id_in = |out: &str| -> String {
        out.split_whitespace()
            .find(|w| w.starts_with("tc_"))
            .expect("the client_id on standard output")
            .to_owned()
    };

    let (ok, out, err) = tessera_on(
        d,
        url,
        &[
            "client",
            "create",
            "--name",
            "Wiki",
            "--redirect-uri",
            "https://wiki.example/cb",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--post-logout-redirect-uri",
            "https://wiki.example/signed-out",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid",
            "--scope",
            "profile offline_access",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let wiki = client_id_in(&out);
    let secret = err
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .expect("the secret on standard error")
        .to_owned();
    assert!(secret.starts_with("tsc_"), "{err}");
    assert!(!out.contains(&secret));

    let (ok, out, err) = tessera_on(
        d,
        url,
        &[
            "client",
            "create",
            "--name",
            "Desktop",
            "--redirect-uri",
            "http://127.0.0.1:7/cb",
            "--public",
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(
        !err.contains("client_secret"),
        "a public client has none: {err}"
    );
    let desktop = client_id_in(&out);

    let (ok, _, err) = tessera_on(
        d,
        url,
        &[
            "client",
            "create",
            "--name",
            "Plain",
            "--redirect-uri",
            "http://wiki.example/cb",
            "--post-logout-redirect-uri",
            "https://wiki.example/bye#fragment",
        ],
        None,
    );
    assert!(!ok);
    assert!(err.contains("redirect_uris[0]: insecure"), "{err}");
    assert!(
        err.contains("post_logout_redirect_uris[0]: fragment"),
        "{err}"
    );

    let (ok, out, err) = tessera_on(d, url, &["client", "list"], None);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains(&wiki))
        .unwrap_or_else(|| panic!("{wiki} in {out}"));
    for part in ["Wiki", "client_secret_basic", "https://wiki.example/cb"] {
        assert!(line.contains(part), "{part} in {line}");
    }
    let line = out
        .lines()
        .find(|l| l.contains(&desktop))
        .unwrap_or_else(|| panic!("{desktop} in {out}"));
    assert!(line.contains("none"), "{line}");
    assert!(!out.contains("Plain") && !out.contains(&secret), "{out}");

    let (ok, out, err) = tessera_on(d, url, &["client", "delete", &wiki], None);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = tessera_on(d, url, &["client", "list"], None);
    assert!(ok);
    assert!(!out.contains(&wiki) && out.contains(&desktop), "{out}");
    let (ok, _, err) = tessera_on(d, url, &["client", "delete", &wiki], None);
    assert!(!ok);
    assert!(err.contains("no such client"), "{err}");
}
