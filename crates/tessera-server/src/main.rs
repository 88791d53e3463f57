//! `tessera`: the identity and access server.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tessera_server::{admin, app, telemetry, Application, Settings};

#[derive(Debug, Parser)]
#[command(name = "tessera", version, about = "Identity and access server")]
struct Cli {
    /// Configuration file (TOML); defaults to ./tessera.toml when it exists.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create any missing key, or with --new a new signing key, and exit.
    Keygen {
        /// Add a new signing key even when one exists; it signs from the next start.
        #[arg(long)]
        new: bool,
    },
    /// Load and check the configuration, then exit.
    CheckConfig,
    /// Prepare the database, the keys and the first admin (its password is printed once), then exit.
    Init,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Ask a running server: exit 0 when `URL` (plain http) answers 200, else 1. For container
    /// health checks, which have no curl.
    Probe {
        #[arg(default_value = "http://127.0.0.1:8081/ready")]
        url: String,
    },
    /// Import users from FILE: JSON Lines (one object a line) or CSV (by the .csv extension), with
    /// a password or an Argon2 / bcrypt password_hash each. All or nothing.
    Import { file: PathBuf },
    /// Export every user, password hashes included, as JSON Lines on standard output.
    Export,
    /// Import an Eqeqo auth database (its schema auth on PostgreSQL): people with their bcrypt
    /// hashes and attributes, services, roles, permissions, links, grants and direct grants, each
    /// with its Eqeqo id. All or nothing; the target must be empty unless --replace.
    ImportEqeqo {
        /// The Eqeqo database, such as postgres://eqeqo@db/api_auth.
        #[arg(long, value_name = "URL")]
        from: String,
        /// Usernames of imported people who get the global role admin, separated by commas.
        #[arg(long, value_name = "NAME,…", value_delimiter = ',')]
        admins: Vec<String>,
        /// Delete the target's users (ending their sessions), services, roles, permissions and
        /// grants first, in the same transaction.
        #[arg(long)]
        replace: bool,
    },
    /// Copy every row of one database into another, such as a SQLite file into a new PostgreSQL
    /// database when one machine is no longer enough. Both are migrated first; the target must be
    /// empty unless --replace.
    MigrateData {
        /// The database to copy from, such as sqlite://./data/tessera.db.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to copy into, such as postgres://tessera@db/tessera.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Delete whatever the target holds, then copy (in one transaction).
        #[arg(long)]
        replace: bool,
    },
    /// Signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage OpenID Connect clients.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client. Its client_id is printed, and a confidential client's secret once, on
    /// standard error.
    Create {
        /// The name users see.
        #[arg(long)]
        name: String,
        /// Where codes may be sent (exactly this URI); repeat for several.
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may send the browser back to (exactly this URI); repeat for
        /// several.
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (a browser or native app): no secret, PKCE alone.
        #[arg(long)]
        public: bool,
        /// Tessera's own application: its users are never asked for consent.
        #[arg(long)]
        first_party: bool,
        /// authorization_code (the default) or refresh_token; repeat for several.
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// A scope it may be granted; repeat for several (default: every supported one).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// The tenant whose users sign in to it.
        #[arg(long)]
        tenant_id: Option<i64>,
    },
    /// List clients.
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Delete a client and end every session opened for it.
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input with --password-stdin, else a
    /// random one is printed once.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// A global role; repeat for several (default: user).
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        tenant_id: Option<i64>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Disable a user (by username or e-mail) and end their sessions.
    Disable {
        name: String,
        /// The tenant's name, for a user of a tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Lift a user's lockout from every address and forget their failed logins.
    Unlock {
        name: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Set a user's password (from standard input with --password-stdin, else a random one printed
    /// once), end their sessions, delete their API keys and lift their lockout.
    SetPassword {
        name: String,
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List the signing keys and which one signs.
    List,
    /// Make a new signing key (of `keys.algorithm`); running servers sign with it within
    /// `cluster.sync_interval_milliseconds`, and keep the old key published until its tokens
    /// have expired.
    Rotate,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Probe { url }) = &cli.command {
        // A health check needs no configuration.
        return admin::probe(url);
    }
    let mut settings = Settings::load(cli.config.as_deref(), std::env::vars())?;
    if !matches!(cli.command, None | Some(Command::Serve)) {
        // A one-off command prints its own answer; only warnings and errors go to the log.
        settings.log.level = "warn".into();
    }
    // Only the server exports traces; a one-off command has none worth sending.
    let no_traces = tessera_server::settings::TraceSettings::default();
    let serving = matches!(cli.command, None | Some(Command::Serve));
    let telemetry = telemetry::init(
        &settings.log,
        if serving {
            &settings.traces
        } else {
            &no_traces
        },
    )?;
    let outcome = command(cli.command.unwrap_or(Command::Serve), settings);
    telemetry.shutdown();
    outcome
}

fn command(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let store = app::open_store(&settings)?;
            let applied = store.run_migrations()?;
            println!(
                "database is up to date ({} migrations applied now)",
                applied.len()
            );
            Ok(())
        }
        Command::Keygen { new } => {
            let now = app::SystemClock.now_seconds();
            let alg = settings.keys.signing_alg()?;
            let report = tessera_crypto::keys::ensure_keys(&settings.keys.dir, now, alg)?;
            let created = match (new, report.created_signing_key) {
                (_, Some(path)) => Some(path),
                (true, None) => Some(tessera_crypto::keys::generate_signing_key(
                    &settings.keys.dir,
                    now,
                    alg,
                )?),
                (false, None) => None,
            };
            match created {
                Some(path) => println!("created signing key {}", path.display()),
                None => println!("keys present in {}", settings.keys.dir.display()),
            }
            Ok(())
        }
        Command::CheckConfig => {
            // What the server reads at start-up beyond the settings: the logo file.
            app::page_config(&settings)?;
            println!("configuration is valid");
            Ok(())
        }
        Command::Init => admin::init(&settings),
        Command::Probe { url } => admin::probe(&url),
        Command::Import { file } => admin::import(&settings, &file),
        Command::Export => admin::export(&settings),
        Command::ImportEqeqo {
            from,
            admins,
            replace,
        } => admin::import_eqeqo(&settings, &from, &admins, replace),
        Command::MigrateData { from, to, replace } => {
            admin::migrate_data(&settings, &from, &to, replace)
        }
        Command::User { command } => match command {
            UserCommand::Create {
                username,
                email,
                roles,
                tenant_id,
                password_stdin,
            } => admin::create_user(&settings, username, email, roles, tenant_id, password_stdin),
            UserCommand::List { limit } => admin::list_users(&settings, limit),
            UserCommand::Disable { name, tenant } => {
                admin::disable_user(&settings, &name, tenant.as_deref())
            }
            UserCommand::Unlock { name, tenant } => {
                admin::unlock_user(&settings, &name, tenant.as_deref())
            }
            UserCommand::SetPassword {
                name,
                tenant,
                password_stdin,
            } => admin::set_password(&settings, &name, tenant.as_deref(), password_stdin),
        },
        Command::Client { command } => client_command(command, &settings),
        Command::Keys {
            command: KeysCommand::List,
        } => admin::list_keys(&settings),
        Command::Keys {
            command: KeysCommand::Rotate,
        } => admin::rotate_keys(&settings),
    }
}

fn client_command(command: ClientCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            first_party,
            grant_types,
            scopes,
            tenant_id,
        } => admin::create_client(
            settings,
            admin::ClientOptions {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                first_party,
                grant_types,
                scopes,
                tenant_id,
            },
        ),
        ClientCommand::List { limit } => admin::list_clients(settings, limit),
        ClientCommand::Delete { client_id } => admin::delete_client(settings, &client_id),
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let bind = settings.server.bind.clone();
        let app = Application::build(settings)?;
        if let Some(password) = &app.generated_admin_password {
            // Straight to the terminal, never through the log.
            eprintln!(
                "\n  Created the first admin.\n  username: admin\n  password: {}\n  It is shown only this once; change it after logging in.\n",
                password.expose()
            );
        }
        tracing::info!(address = %bind, port = app.port(), "listening");
        if let Some(port) = app.eqeqo_port() {
            tracing::info!(port, "the Eqeqo door is open");
        }
        app.run_until_stopped().await.context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}
