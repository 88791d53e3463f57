//! The admin commands: `init`, `user …`, `client …` and `keys list`. They run the same use cases as
//! the HTTP API, as the operator (`Principal::system`), against the configured database and keys.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::Path;

use anyhow::Context as _;
use tessera_domain::error::UserError;
use tessera_domain::oauth::ClientRequest;
use tessera_domain::password::Password;
use tessera_domain::principal::Principal;
use tessera_domain::users::{CreateUser, UpdateUser};

use crate::Settings;
use tessera::Tessera;

/// Where a new password comes from: one line of standard input, or a random one printed once.
fn password(from_stdin: bool, core: &Tessera) -> anyhow::Result<(Password, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let line = line.trim_end_matches(['\r', '\n']);
        anyhow::ensure!(!line.is_empty(), "no password on standard input");
        Ok((Password::new(line.to_owned()), false))
    } else {
        Ok((core.use_cases().accounts.random_password(), true))
    }
}

fn show_generated(password: &Password) {
    // Straight to the terminal, never through the log.
    eprintln!("password: {}\n(shown only this once)", password.expose());
}

fn open(settings: &Settings) -> anyhow::Result<Tessera> {
    Tessera::open(settings)
}

/// Opens Tessera and finds the user `name` (of `tenant`), as the operator.
fn open_with_user(
    settings: &Settings,
    name: &str,
    tenant: Option<&str>,
) -> anyhow::Result<(Tessera, Principal, tessera_domain::user::User)> {
    let core = open(settings)?;
    let system = Principal::system();
    let user = core
        .use_cases()
        .accounts
        .user_named(&system, name, tenant)
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    Ok((core, system, user))
}

/// `tessera init`: migrations, keys and the first admin; the admin's password is printed once.
///
/// # Errors
/// When any step fails.
pub fn init(settings: &Settings) -> anyhow::Result<()> {
    let core = open(settings)?;
    println!("database ready, keys in {}", settings.keys.dir.display());
    match core.generated_admin_password() {
        Some(p) => {
            println!("created the first admin, named admin");
            show_generated(p);
        }
        None => println!("users exist already; no admin was created"),
    }
    Ok(())
}

/// `tessera user create`.
///
/// # Errors
/// For a taken name, a password the policy refuses, or any other failure, saying which.
pub fn create_user(
    settings: &Settings,
    username: String,
    email: Option<String>,
    roles: Vec<String>,
    tenant_id: Option<i64>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let core = open(settings)?;
    let (password, generated) = password(password_stdin, &core)?;
    let shown = generated.then(|| Password::new(password.expose().to_owned()));
    let user = core
        .use_cases()
        .accounts
        .create_user(
            &Principal::system(),
            CreateUser {
                username,
                password,
                email,
                display_name: None,
                roles: (!roles.is_empty()).then_some(roles),
                active: None,
                tenant_id,
                attributes: None,
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot create the user: {e}"))?;
    println!(
        "created user {} with id {}",
        user.username.as_str(),
        user.id.0
    );
    if let Some(p) = shown {
        show_generated(&p);
    }
    Ok(())
}

/// `tessera user list`.
///
/// # Errors
/// When the store fails.
pub fn list_users(settings: &Settings, limit: u32) -> anyhow::Result<()> {
    let core = open(settings)?;
    let page = core
        .use_cases()
        .accounts
        .list_users(&Principal::system(), Some(limit), None, None)
        .map_err(|e| anyhow::anyhow!("cannot list users: {e}"))?;
    println!(
        "{:>6}  {:<24} {:<8} {:<8} roles",
        "id", "username", "active", "tenant"
    );
    for u in &page.items {
        let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
        println!(
            "{:>6}  {:<24} {:<8} {:<8} {}",
            u.id.0,
            u.username.as_str(),
            u.active,
            u.tenant_id
                .map_or_else(|| "-".to_owned(), |t| t.0.to_string()),
            roles.join(",")
        );
    }
    if page.next_after.is_some() {
        println!("(more users follow; raise --limit)");
    }
    Ok(())
}

/// `tessera user disable`.
///
/// # Errors
/// For an unknown user, or the last admin.
pub fn disable_user(settings: &Settings, name: &str, tenant: Option<&str>) -> anyhow::Result<()> {
    let (core, system, user) = open_with_user(settings, name, tenant)?;
    core.use_cases()
        .accounts
        .update_user(
            &system,
            user.id,
            UpdateUser {
                active: Some(false),
                ..UpdateUser::default()
            },
        )
        .map_err(|e| anyhow::anyhow!("cannot disable {name}: {e}"))?;
    println!("disabled {name}; their sessions have ended");
    Ok(())
}

/// `tessera user unlock`.
///
/// # Errors
/// For an unknown user.
pub fn unlock_user(settings: &Settings, name: &str, tenant: Option<&str>) -> anyhow::Result<()> {
    let (core, system, user) = open_with_user(settings, name, tenant)?;
    core.use_cases()
        .accounts
        .unlock_user(&system, user.id)
        .map_err(|e| anyhow::anyhow!("cannot unlock {name}: {e}"))?;
    println!("unlocked {name}; their failed logins are forgotten");
    Ok(())
}

/// `tessera user set-password`.
///
/// # Errors
/// For an unknown user or a password the policy refuses.
pub fn set_password(
    settings: &Settings,
    name: &str,
    tenant: Option<&str>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let (core, system, user) = open_with_user(settings, name, tenant)?;
    let (password, generated) = password(password_stdin, &core)?;
    let shown = generated.then(|| Password::new(password.expose().to_owned()));
    core.use_cases()
        .accounts
        .change_password(&system, user.id, None, password, true)
        .map_err(|e| anyhow::anyhow!("cannot set the password of {name}: {e}"))?;
    println!("set the password of {name}; their sessions have ended");
    if let Some(p) = shown {
        show_generated(&p);
    }
    Ok(())
}

/// What `tessera client create` registers.
#[derive(Debug, Default)]
pub struct ClientOptions {
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Where a logout may send the browser back to; none by default.
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (`token_endpoint_auth_method` `none`); else `client_secret_basic`.
    pub public: bool,
    pub first_party: bool,
    /// None: the default, `authorization_code`.
    pub grant_types: Vec<String>,
    /// Scopes, each of which may hold several separated by spaces; none: every supported one.
    pub scopes: Vec<String>,
    pub tenant_id: Option<i64>,
}

impl ClientOptions {
    fn into_request(self) -> ClientRequest {
        ClientRequest {
            client_name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: Some(self.post_logout_redirect_uris),
            token_endpoint_auth_method: self.public.then(|| "none".to_owned()),
            grant_types: (!self.grant_types.is_empty()).then_some(self.grant_types),
            scope: (!self.scopes.is_empty()).then(|| self.scopes.join(" ")),
            first_party: Some(self.first_party),
            tenant_id: self.tenant_id,
            ..ClientRequest::default()
        }
    }
}

/// `tessera client create`: prints the new `client_id`, and a confidential client's secret once,
/// on standard error as generated passwords are.
///
/// # Errors
/// For a registration the rules refuse (naming every broken rule) or any other failure.
pub fn create_client(settings: &Settings, options: ClientOptions) -> anyhow::Result<()> {
    let core = open(settings)?;
    let (client, secret) = core
        .use_cases()
        .oauth
        .create_client(&Principal::system(), &options.into_request())
        .map_err(|e| anyhow::anyhow!("cannot create the client: {e}"))?;
    println!(
        "created client {} with client_id {}",
        client.client_name, client.client_id
    );
    if let Some(secret) = secret {
        // Straight to the terminal, never through the log.
        eprintln!("client_secret: {}\n(shown only this once)", secret.expose());
    }
    Ok(())
}

/// `tessera client list`.
///
/// # Errors
/// For a limit above 500, or when the store fails.
pub fn list_clients(settings: &Settings, limit: u32) -> anyhow::Result<()> {
    let core = open(settings)?;
    let page = core
        .use_cases()
        .oauth
        .list_clients(&Principal::system(), Some(limit), None)
        .map_err(|e| anyhow::anyhow!("cannot list clients: {e}"))?;
    println!(
        "{:<25}  {:<19} {:<8} {:<24} redirect_uris",
        "client_id", "auth", "tenant", "name"
    );
    for c in &page.items {
        println!(
            "{:<25}  {:<19} {:<8} {:<24} {}",
            c.client_id,
            c.auth_method.as_str(),
            c.tenant_id
                .map_or_else(|| "-".to_owned(), |t| t.0.to_string()),
            c.client_name,
            c.redirect_uris.join(" ")
        );
    }
    if page.next_after.is_some() {
        println!("(more clients follow; raise --limit)");
    }
    Ok(())
}

/// `tessera client delete`: the client goes with its codes, and the sessions opened for it end
/// (running servers refuse their tokens within `cluster.sync_interval_milliseconds`).
///
/// # Errors
/// For an unknown client, or when the store fails.
pub fn delete_client(settings: &Settings, client_id: &str) -> anyhow::Result<()> {
    let core = open(settings)?;
    core.use_cases()
        .oauth
        .delete_client(&Principal::system(), client_id)
        .map_err(|e| match e {
            UserError::NotFound => anyhow::anyhow!("{client_id}: no such client"),
            e => anyhow::anyhow!("cannot delete {client_id}: {e}"),
        })?;
    println!("deleted client {client_id}; the sessions opened for it have ended");
    Ok(())
}

/// `tessera keys list`: every signing key, its `kid` and algorithm, and whether it signs, only
/// verifies (retired, with live tokens), or awaits removal.
///
/// # Errors
/// When the key folder cannot be read.
pub fn list_keys(settings: &Settings) -> anyhow::Result<()> {
    let dir = &settings.keys.dir;
    let now = crate::app::SystemClock.now_seconds();
    let keys = tessera_crypto::keys::key_states(dir, now, settings.key_retirement())?;
    anyhow::ensure!(!keys.is_empty(), "no signing key in {}", dir.display());
    println!(
        "{:<44} {:<6} {:<8} {:<12} file",
        "kid", "alg", "use", "created"
    );
    for (key, state) in keys {
        let pem = std::fs::read(&key.path)
            .with_context(|| format!("cannot read {}", key.path.display()))?;
        let codec = tessera_crypto::JwtCodec::from_pems(&[pem])?;
        let role = match state {
            tessera_crypto::keys::KeyState::Signing => "signing",
            tessera_crypto::keys::KeyState::Verifying => "verify",
            tessera_crypto::keys::KeyState::Retired => "retired",
        };
        println!(
            "{:<44} {:<6} {:<8} {:<12} {}",
            codec.signing_kid(),
            key.alg.as_str(),
            role,
            key.created,
            key.path.display()
        );
    }
    Ok(())
}

/// `tessera keys rotate`.
///
/// # Errors
/// When the key cannot be made.
pub fn rotate_keys(settings: &Settings) -> anyhow::Result<()> {
    let alg = settings.keys.signing_alg()?;
    let path = tessera_crypto::keys::generate_signing_key(
        &settings.keys.dir,
        crate::app::SystemClock.now_seconds(),
        alg,
    )?;
    println!(
        "created a new {} signing key {}; running servers sign with it within cluster.sync_interval_milliseconds",
        alg.as_str(),
        path.display()
    );
    Ok(())
}

/// `tessera probe URL`: one HTTP/1.1 GET over plain TCP, answered 200 or not.
///
/// # Errors
/// When the URL is not `http://host:port/path`, the server does not answer, or answers another status.
pub fn probe(url: &str) -> anyhow::Result<()> {
    use std::io::{Read as _, Write as _};
    use std::net::ToSocketAddrs as _;
    use std::time::Duration;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("probe takes an http:// URL, got {url:?}"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("cannot resolve {authority}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .with_context(|| format!("nothing answers at {authority}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.lines().next().unwrap_or_default();
    anyhow::ensure!(
        status.starts_with("HTTP/1.1 200"),
        "{url} answered {status:?}"
    );
    println!("{url}: {status}");
    Ok(())
}

/// One user as import and export files hold it.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct UserRecord {
    username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    /// JSON: a list; CSV: names separated by spaces or `;`.
    #[serde(default, deserialize_with = "roles_field")]
    roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<i64>,
    /// JSON: an object of strings; CSV: that object as JSON text.
    #[serde(
        default,
        deserialize_with = "attributes_field",
        skip_serializing_if = "Option::is_none"
    )]
    attributes: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing)]
    password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
}

fn roles_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Roles {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Option::<Roles>::deserialize(d)? {
        None => None,
        Some(Roles::List(v)) => Some(v),
        Some(Roles::Text(t)) if t.trim().is_empty() => None,
        Some(Roles::Text(t)) => Some(
            t.split([' ', ';'])
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
    })
}

fn attributes_field<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Attributes {
        Object(BTreeMap<String, String>),
        Text(String),
    }
    Ok(match Option::<Attributes>::deserialize(d)? {
        None => None,
        Some(Attributes::Object(map)) => Some(map),
        Some(Attributes::Text(t)) if t.trim().is_empty() => None,
        Some(Attributes::Text(t)) => Some(serde_json::from_str(&t).map_err(|_| {
            <D::Error as serde::de::Error>::custom("attributes must be a JSON object of strings")
        })?),
    })
}

use serde::Deserialize as _;

impl UserRecord {
    fn into_import(self, line: usize) -> anyhow::Result<tessera_domain::import::ImportUser> {
        use tessera_domain::import::{ImportSecret, ImportUser};
        let empty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let secret = match (empty(self.password), empty(self.password_hash)) {
            (Some(p), None) => ImportSecret::Password(Password::new(p)),
            (None, Some(h)) => ImportSecret::Hash(tessera_domain::password::PasswordHash::new(h)),
            _ => anyhow::bail!("line {line}: give exactly one of password and password_hash"),
        };
        Ok(ImportUser {
            username: self.username,
            email: empty(self.email),
            display_name: empty(self.display_name),
            roles: self.roles,
            active: self.active,
            tenant_id: self.tenant_id,
            attributes: self.attributes,
            secret,
        })
    }
}

/// Reads an import file: JSON Lines (one user object a line) or CSV with a header row.
fn read_import(path: &Path) -> anyhow::Result<Vec<(usize, UserRecord)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if csv {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut out = Vec::new();
        for record in reader.deserialize::<UserRecord>() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, csv::Position::line);
                anyhow::anyhow!("line {line}: {e}")
            })?;
            // The reader counts the header as line 1, so a record's line is its position.
            out.push((out.len() + 2, record));
        }
        return Ok(out);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<UserRecord>(l)
                .map(|r| (i + 1, r))
                .map_err(|e| anyhow::anyhow!("line {}: {e}", i + 1))
        })
        .collect()
}

/// `tessera import FILE`: all the file's users, or none.
///
/// # Errors
/// The first bad line, by number; nothing is written then.
pub fn import(settings: &Settings, path: &Path) -> anyhow::Result<()> {
    let records = read_import(path)?;
    let users = records
        .into_iter()
        .map(|(line, r)| r.into_import(line).map(|u| (line, u)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let core = open(settings)?;
    let created = core
        .use_cases()
        .accounts
        .import_users(&Principal::system(), users)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was imported"))?;
    println!("imported {} users", created.len());
    Ok(())
}

/// `tessera export`: every user as JSON Lines on standard output, password hashes included.
///
/// # Errors
/// When the store fails.
pub fn export(settings: &Settings) -> anyhow::Result<()> {
    let core = open(settings)?;
    let users = core
        .use_cases()
        .accounts
        .export_users(&Principal::system())
        .map_err(|e| anyhow::anyhow!("cannot export: {e}"))?;
    for e in users {
        let u = e.user;
        let record = UserRecord {
            username: u.username.as_str().to_owned(),
            email: u.email.map(|m| m.as_str().to_owned()),
            display_name: u.display_name.map(|d| d.as_str().to_owned()),
            roles: Some(u.roles.iter().map(|r| r.as_str().to_owned()).collect()),
            active: Some(u.active),
            tenant_id: u.tenant_id.map(|t| t.0),
            attributes: (!u.attributes.is_empty()).then(|| u.attributes.into_map()),
            password: None,
            password_hash: Some(e.hash.as_str().to_owned()),
        };
        println!("{}", serde_json::to_string(&record)?);
    }
    Ok(())
}

/// `tessera import-eqeqo`: an Eqeqo auth database, read whole and checked before one write; the
/// people named in `admins` (usernames) get the global role `admin`. Prints what was imported.
///
/// # Errors
/// When the source is not an Eqeqo database or cannot be read, a row breaks a rule of Tessera's
/// (naming the table and the row), an admin is no imported person, or the target holds users,
/// services, roles or permissions and `replace` is false; nothing is written then.
pub fn import_eqeqo(
    settings: &Settings,
    from: &str,
    admins: &[String],
    replace: bool,
) -> anyhow::Result<()> {
    use tessera_domain::model_import::ModelImportError;
    let model = tessera_store::eqeqo::read_eqeqo(from)
        .map_err(|e| anyhow::anyhow!("{e}; nothing was imported"))?;
    let admins: Vec<String> = admins
        .iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    // An empty target stays empty until the import: its admins are the imported ones.
    let options = tessera::Options {
        no_first_admin: true,
        ..tessera::Options::default()
    };
    let core = Tessera::open_with(settings, options)?;
    let report = core
        .use_cases()
        .accounts
        .import_model(&Principal::system(), model, &admins, replace)
        .map_err(|e| match e {
            ModelImportError::NotEmpty => anyhow::anyhow!(
                "{e}; pass --replace to delete them and import over them; nothing was imported"
            ),
            ModelImportError::NoAdmin => {
                anyhow::anyhow!("{e}: name one with --admins; nothing was imported")
            }
            e => anyhow::anyhow!("{e}; nothing was imported"),
        })?;
    println!("imported from {}", tessera_store::redact_url(from));
    for (what, n) in [
        ("people", report.people),
        ("skipped removed people", report.skipped_people),
        ("skipped grants of them", report.skipped_grants),
        ("services", report.services),
        ("roles", report.roles),
        ("permissions", report.permissions),
        ("role permissions", report.role_permissions),
        ("service roles", report.service_roles),
        ("grants", report.grants),
        ("direct grants", report.direct_grants),
        ("admins", report.admins),
    ] {
        println!("  {what:<24} {n:>6}");
    }
    if report.replaced {
        println!("what the target held was replaced; its sessions have ended");
    }
    if report.admins == 0 {
        println!(
            "no admin was named: make one with `tessera user create NAME --role admin --role user`"
        );
    }
    Ok(())
}

/// `tessera migrate-data`: copies every row of one database into another (SQLite to PostgreSQL,
/// or back), ids, password hashes, second factors and sessions included. The key folder is not in
/// the database: the new installation uses the same one.
///
/// # Errors
/// When either database cannot be opened, the target is not empty and `replace` is false, or the
/// copy fails (the target is then unchanged).
pub fn migrate_data(
    settings: &Settings,
    from: &str,
    to: &str,
    replace: bool,
) -> anyhow::Result<()> {
    let source = crate::app::open_store_at(settings, from)
        .with_context(|| format!("cannot open the source {}", tessera_store::redact_url(from)))?;
    let target = crate::app::open_store_at(settings, to)
        .with_context(|| format!("cannot open the target {}", tessera_store::redact_url(to)))?;
    anyhow::ensure!(
        source.backend() != target.backend(),
        "the source and the target are the same database"
    );
    let report = source.copy_into(&target, replace)?;
    for (table, rows) in &report.tables {
        println!("{table:<22} {rows:>9}");
    }
    println!(
        "copied {} rows from {} to {}",
        report.total(),
        source.backend().describe(),
        target.backend().describe()
    );
    Ok(())
}
