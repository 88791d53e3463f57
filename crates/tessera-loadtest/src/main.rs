//! `tessera-loadtest`: Tessera's load benchmark (run it with `cargo xtask loadtest`).
//!
//! It measures the ceilings of this machine (a bare actix-web server, one Argon2id verification,
//! one RS256 signature), then starts Tessera on a temporary directory with 10,000 imported users
//! and drives each scenario with its own HTTP/1.1 load generator, everything on 127.0.0.1 and
//! bounded in time. The results are printed as Markdown on standard output; progress goes to
//! standard error. Every child process is killed when the run ends, however it ends.
//!
//! `tessera-loadtest ceiling --bind ADDR --public-key FILE` is the ceiling server itself, which
//! the run starts as a child process.

mod ceiling;
mod load;
mod scenarios;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command as Process;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use scenarios::{Options, Results, Row};

#[derive(Debug, Parser)]
#[command(
    name = "tessera-loadtest",
    about = "Load benchmark of Tessera against a bare actix-web ceiling",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the ceiling reference (started by the load test itself).
    Ceiling {
        /// Address to listen on.
        #[arg(long)]
        bind: SocketAddr,
        /// PEM file of the RS256 public key that `/verify` checks tokens with.
        #[arg(long, value_name = "FILE")]
        public_key: PathBuf,
        /// HTTP workers.
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Run Tessera on this PostgreSQL database (used as it is) instead of a new SQLite file.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Length of each scenario.
    #[arg(long, default_value_t = 8)]
    duration_secs: u64,
    /// Connections of each scenario (the login flood has its own).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Connections of the login flood.
    #[arg(long, default_value_t = 256)]
    flood_connections: usize,
    /// Users to import.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// The Tessera binary.
    #[arg(long, value_name = "PATH", default_value = "target/release/tessera")]
    server: PathBuf,
    /// Run only these scenarios (comma-separated); the ceilings always run.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    only: Vec<String>,
    /// Run everything this many times (a fresh server each time) and end with the medians: one
    /// short run on two shared cores moves a ratio by 10 to 15 points.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    repeat: u32,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera-loadtest: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Ceiling {
            bind,
            public_key,
            workers,
        }) => ceiling::serve(bind, &public_key, workers),
        None => bench(cli.run),
    }
}

fn bench(args: RunArgs) -> anyhow::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let opts = Options {
        connections: args.connections,
        duration: Duration::from_secs(args.duration_secs),
        users: args.users,
        server: args.server,
        postgres: args.postgres,
        only: args
            .only
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        threads,
        flood_connections: args.flood_connections,
    };
    opts.check()?;

    // The CPU ceilings first, on one thread of a quiet machine.
    eprintln!("timing 20 Argon2id verifications and 200 RS256 signatures");
    let (hash, argon2_verify) = scenarios::argon2_ceiling(scenarios::USER_PASSWORD, 20)?;
    let keys = ceiling::Keys::generate()?;
    let rs256_sign = keys.sign_time(200)?;
    let ceilings = scenarios::Ceilings {
        argon2_verify,
        rs256_sign,
        threads,
        ..scenarios::Ceilings::default()
    };

    // The load generator's runtime: two worker threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut runs = Vec::new();
    for run in 1..=args.repeat {
        if args.repeat > 1 {
            eprintln!("run {run} of {}", args.repeat);
        }
        let results =
            runtime.block_on(scenarios::run_all(&opts, &keys, &hash, ceilings.clone()))?;
        print!("{}", markdown(&opts, &results));
        runs.push(results);
    }
    if runs.len() > 1 {
        print!("{}", medians(&runs));
    }
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values.get(n / 2).copied().unwrap_or(0.0),
        n => {
            let (a, b) = (values.get(n / 2 - 1), values.get(n / 2));
            a.zip(b).map_or(0.0, |(a, b)| (a + b) / 2.0)
        }
    }
}

/// A row's share of its ceiling, when it has one.
fn share(row: &Row) -> Option<f64> {
    row.ceiling
        .as_ref()
        .filter(|c| c.per_second > 0.0)
        .map(|c| row.report.rate() / c.per_second)
}

/// The medians of every scenario over the runs, each run's share beside them.
fn medians(runs: &[Results]) -> String {
    let mut out = format!(
        "
Medians of {} runs:\n\n| scenario | req/s | p99 ms | peak RSS MB | share of ceiling | each run |\n|---|---|---|---|---|---|\n",
        runs.len()
    );
    let names = runs.first().map(|r| {
        r.rows
            .iter()
            .map(|row| row.name.clone())
            .collect::<Vec<_>>()
    });
    for name in names.unwrap_or_default() {
        let rows: Vec<&Row> = runs
            .iter()
            .filter_map(|r| r.rows.iter().find(|row| row.name == name))
            .collect();
        let shares: Vec<f64> = rows.iter().filter_map(|row| share(row)).collect();
        let each = shares
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(", ");
        let share = if shares.is_empty() {
            "—".to_owned()
        } else {
            format!("{:.2}", median(shares))
        };
        out.push_str(&format!(
            "| {name} | {} | {:.2} | {:.1} | {share} | {each} |\n",
            rate(median(rows.iter().map(|r| r.report.rate()).collect())),
            median(
                rows.iter()
                    .map(|r| r.report.latency.percentile_ms(0.99))
                    .collect()
            ),
            median(
                rows.iter()
                    .map(|r| r.peak_rss_kib as f64 / 1024.0)
                    .collect()
            ),
        ));
    }
    out
}

/// The first line of a command's output, if it runs and succeeds.
fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Process::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn commit() -> String {
    let Some(hash) = output_of("git", &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    let dirty = output_of("git", &["status", "--porcelain", "--untracked-files=no"]).is_some();
    if dirty {
        format!("{hash} (with uncommitted changes)")
    } else {
        hash
    }
}

fn rate(per_second: f64) -> String {
    if per_second >= 100.0 {
        format!("{per_second:.0}")
    } else {
        format!("{per_second:.1}")
    }
}

fn row_line(row: &Row) -> String {
    let r = &row.report;
    let (ratio, ceiling) = match &row.ceiling {
        Some(c) if c.per_second > 0.0 => (
            format!("{:.1} %", 100.0 * r.rate() / c.per_second),
            c.name.to_owned(),
        ),
        Some(c) => ("—".to_owned(), c.name.to_owned()),
        None => ("—".to_owned(), "—".to_owned()),
    };
    format!(
        "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {:.1} | {:.1} | {} | {} |\n",
        row.name,
        r.connections,
        r.ok,
        rate(r.rate()),
        r.latency.percentile_ms(0.5),
        r.latency.percentile_ms(0.99),
        r.latency.percentile_ms(0.999),
        r.errors,
        r.shed,
        row.peak_rss_kib as f64 / 1024.0,
        row.after_rss_kib as f64 / 1024.0,
        ratio,
        ceiling,
    )
}

fn markdown(opts: &Options, results: &Results) -> String {
    let c = &results.ceilings;
    let date =
        output_of("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown".into());
    let mut out = String::new();
    out.push_str(&format!(
        "\nLoad test: commit {}, {date}, {} CPUs (nproc), database {}, {} users, {} connections, {} s per scenario; the load generator runs on the same machine (2 tokio worker threads).\n\n",
        commit(),
        opts.threads,
        results.database,
        opts.users,
        opts.connections,
        opts.duration.as_secs(),
    ));
    out.push_str("| ceiling | per second | what |\n|---|---|---|\n");
    out.push_str(&format!(
        "| ceiling-hello | {} | bare actix-web 4, {} workers, `GET /hello` answering `{{\"ok\":true}}` |\n",
        rate(c.hello),
        opts.threads
    ));
    out.push_str(&format!(
        "| ceiling-rs256 | {} | the same server, `GET /verify`: an RS256 bearer JWT checked (josekit) on every request |\n",
        rate(c.rs256_verify)
    ));
    out.push_str(&format!(
        "| argon2id | {} | {} threads / {:.2} ms per Argon2id verification (m=19456 KiB, t=2, p=1; median of 20 on one thread) |\n",
        rate(c.argon2().per_second),
        c.threads,
        c.argon2_verify.as_secs_f64() * 1000.0
    ));
    out.push_str(&format!(
        "| rs256-sign | {} | {} threads / {:.3} ms per RS256 signature of an access token (median of 200 on one thread) |\n\n",
        rate(c.sign().per_second),
        c.threads,
        c.rs256_sign.as_secs_f64() * 1000.0
    ));
    out.push_str("| scenario | conns | requests | req/s | p50 ms | p99 ms | p99.9 ms | errors | shed | peak RSS MB | after RSS MB | vs ceiling | ceiling |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for row in &results.rows {
        out.push_str(&row_line(row));
    }
    out.push_str("\n| process | value |\n|---|---|\n");
    for (what, value) in &results.process {
        out.push_str(&format!("| {what} | {value} |\n"));
    }
    out.push('\n');
    for note in &results.notes {
        out.push_str(&format!("- {note}\n"));
    }
    out
}
