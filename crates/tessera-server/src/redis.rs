//! Optional Redis (`[redis] url`): rate-limit budgets shared by every node, and revocations
//! announced to every node at once. PostgreSQL alone carries every guarantee; Redis only makes
//! limits cluster-wide and revocations faster. While it is unreachable, each node limits on its
//! own and revocations arrive by the database sync.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::future::BoxFuture;
use futures_util::StreamExt as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tessera_domain::audit::{Event, Outcome};
use tessera_domain::ports::Observer;
use tessera_domain::token::SessionId;
use tessera_domain::usecases::UseCases;
use tokio::sync::mpsc;

/// A lazily connected link to Redis, reconnecting by itself.
#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    budget_failures: Arc<Quiet>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// Checks the URL; connects at first use (a node starts while Redis is down).
    ///
    /// # Errors
    /// When the URL is not a Redis URL.
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("invalid redis.url")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .context("cannot set up the Redis connection")?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            budget_failures: Arc::default(),
        })
    }

    fn channel(&self) -> String {
        format!("{}:revocations", self.prefix)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Fixed one-minute windows: `INCR` of `<prefix>:rate:<key>:<minute>`, which expires after the
/// window. Every node spends from the same counter.
impl tessera_http::rate_limit::SharedBudgets for Redis {
    fn spend(&self, key: String, per_minute: u32) -> BoxFuture<'_, anyhow::Result<Option<u64>>> {
        Box::pin(async move {
            let now = unix_now();
            let window = now / 60;
            let name = format!("{}:rate:{key}:{window}", self.prefix);
            let mut conn = self.conn.clone();
            let (count, _): (u64, bool) = redis::pipe()
                .atomic()
                .incr(&name, 1)
                .expire(&name, 120)
                .query_async(&mut conn)
                .await
                .inspect_err(|e| {
                    self.budget_failures.warn(
                        "shared rate limits unreachable; limiting per node meanwhile",
                        e,
                    );
                })
                .context("cannot spend a shared rate-limit budget")?;
            Ok((count > u64::from(per_minute)).then(|| (60 - now % 60).max(1)))
        })
    }
}

/// Passes every observation on, and sends the sessions this node revokes to `announce`.
pub struct Announcing {
    pub inner: Arc<dyn Observer>,
    pub revoked: mpsc::UnboundedSender<Vec<SessionId>>,
}

impl std::fmt::Debug for Announcing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcing").finish_non_exhaustive()
    }
}

impl Observer for Announcing {
    fn event(&self, event: Event, outcome: Outcome) {
        self.inner.event(event, outcome);
    }

    fn token_issued(&self, kind: &'static str) {
        self.inner.token_issued(kind);
    }

    fn sessions_revoked(&self, sessions: &[SessionId]) {
        self.inner.sessions_revoked(sessions);
        // The receiver lives as long as the server; a closed channel only means it stopped.
        let _ = self.revoked.send(sessions.to_vec());
    }
}

/// Logs a Redis failure at most once a minute.
#[derive(Default)]
struct Quiet(AtomicU64);

impl Quiet {
    fn warn(&self, what: &str, e: &dyn std::fmt::Display) {
        let now = unix_now();
        let last = self.0.load(Ordering::Relaxed);
        if now >= last + 60 {
            self.0.store(now, Ordering::Relaxed);
            tracing::warn!(error = %e, "{what}");
        }
    }
}

/// Publishes the sessions this node revokes, as comma-separated ids.
pub async fn announce(redis: Redis, mut revoked: mpsc::UnboundedReceiver<Vec<SessionId>>) {
    let quiet = Quiet::default();
    let channel = redis.channel();
    let mut conn = redis.conn.clone();
    while let Some(sessions) = revoked.recv().await {
        let payload = sessions
            .iter()
            .map(|s| s.0.to_string())
            .collect::<Vec<_>>()
            .join(",");
        if let Err(e) = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async::<i64>(&mut conn)
            .await
        {
            quiet.warn("cannot announce revocations through Redis", &e);
        }
    }
}

/// Adds the sessions other nodes announce to this node's revocation view; reconnects forever.
pub async fn listen(redis: Redis, core: UseCases) {
    let quiet = Quiet::default();
    let channel = redis.channel();
    loop {
        match redis.client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(payload) = message.get_payload::<String>() else {
                            continue;
                        };
                        let sessions: Vec<SessionId> = payload
                            .split(',')
                            .filter_map(|id| id.parse().ok())
                            .map(SessionId)
                            .collect();
                        core.revocations.note_ended_elsewhere(&sessions);
                    }
                }
                Err(e) => quiet.warn("cannot subscribe to revocations in Redis", &e),
            },
            Err(e) => quiet.warn("cannot reach Redis for revocations", &e),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
