//! The read models' consumers, and rebuilding the read models from scratch by replaying
//! the streams: stop the consumers, delete their durable consumers in JetStream, empty
//! the `rm_*` tables and the consumers' processed-event records in one transaction,
//! then start the consumers again, which read every stream from its first event.
//!
//! Each step can be repeated, so a replay interrupted by a crash is simply run again
//! when the service starts. The replay is done when every consumer has caught up.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use cchc_platform::consumer::{self, ConsumerSpec};
use cchc_platform::events::stream_name;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::{PRODUCERS, ReadModels, TABLES, durable};

struct Running {
    token: CancellationToken,
    tasks: JoinSet<()>,
}

fn spawn(
    js: &jetstream::Context,
    pool: &PgPool,
    handler: &Arc<ReadModels>,
    shutdown: &CancellationToken,
) -> Running {
    let token = shutdown.child_token();
    let mut tasks = JoinSet::new();
    for producer in PRODUCERS {
        tasks.spawn(consumer::run(
            ConsumerSpec::new(durable(producer), *producer),
            js.clone(),
            pool.clone(),
            handler.clone(),
            token.clone(),
        ));
    }
    Running { token, tasks }
}

/// The running consumers that feed the read models.
pub struct Consumers {
    js: jetstream::Context,
    pool: PgPool,
    handler: Arc<ReadModels>,
    shutdown: CancellationToken,
    running: tokio::sync::Mutex<Running>,
}

/// How far the consumers are: events applied (or passed by) of those in the streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub applied: i64,
    pub total: i64,
    pub caught_up: bool,
}

impl Progress {
    pub fn percent(&self) -> i32 {
        if self.total == 0 {
            if self.caught_up { 100 } else { 0 }
        } else {
            ((self.applied * 100) / self.total) as i32
        }
    }
}

impl Consumers {
    /// Starts one consumer per producer; they stop with `shutdown`.
    pub fn start(js: jetstream::Context, pool: PgPool, shutdown: CancellationToken) -> Arc<Self> {
        let handler = Arc::new(ReadModels);
        let first = spawn(&js, &pool, &handler, &shutdown);
        Arc::new(Self {
            js,
            pool,
            handler,
            running: tokio::sync::Mutex::new(first),
            shutdown,
        })
    }

    fn spawn(&self) -> Running {
        spawn(&self.js, &self.pool, &self.handler, &self.shutdown)
    }

    /// Waits for the consumers to stop after shutdown.
    pub async fn join(&self) {
        let mut r = self.running.lock().await;
        r.token.cancel();
        while r.tasks.join_next().await.is_some() {}
    }

    /// Empties the read models and restarts the consumers from the start of each stream.
    pub async fn rebuild(&self) -> anyhow::Result<()> {
        let mut r = self.running.lock().await;
        r.token.cancel();
        while r.tasks.join_next().await.is_some() {}
        for producer in PRODUCERS {
            let stream = match self.js.get_stream(stream_name(producer)).await {
                Ok(s) => s,
                // No stream yet: nothing to replay from it.
                Err(_) => continue,
            };
            if let Err(e) = stream.delete_consumer(&durable(producer)).await {
                let missing = matches!(
                    e.kind(),
                    jetstream::stream::ConsumerErrorKind::JetStream(ref j)
                        if j.error_code() == jetstream::ErrorCode::CONSUMER_NOT_FOUND
                );
                if !missing {
                    // Start the consumers again before giving up, so live events still flow.
                    *r = self.spawn();
                    return Err(anyhow::anyhow!(
                        "deleting consumer {}: {e}",
                        durable(producer)
                    ));
                }
            }
        }
        let emptied = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "TRUNCATE {}",
                TABLES.join(", ")
            )))
            .execute(&mut *tx)
            .await?;
            let durables: Vec<String> = PRODUCERS.iter().map(|p| durable(p)).collect();
            sqlx::query("DELETE FROM cchc_processed_events WHERE consumer = ANY($1)")
                .bind(&durables)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await;
        *r = self.spawn();
        emptied?;
        Ok(())
    }

    /// How far the consumers are behind their streams.
    pub async fn progress(&self) -> anyhow::Result<Progress> {
        let mut p = Progress {
            applied: 0,
            total: 0,
            caught_up: true,
        };
        for producer in PRODUCERS {
            let mut stream = match self.js.get_stream(stream_name(producer)).await {
                Ok(s) => s,
                Err(_) => continue,
            };
            let total = stream.info().await?.state.messages as i64;
            p.total += total;
            let consumer: Result<jetstream::consumer::PullConsumer, _> =
                stream.get_consumer(&durable(producer)).await;
            match consumer {
                Ok(mut c) => {
                    let info = c.info().await?;
                    let remaining = (info.num_pending + info.num_ack_pending as u64) as i64;
                    p.applied += (total - remaining).max(0);
                    if remaining > 0 {
                        p.caught_up = false;
                    }
                }
                // Not created again yet.
                Err(_) => p.caught_up = false,
            }
        }
        Ok(p)
    }
}

/// A replay as stored.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ReplayRow {
    pub id: Uuid,
    pub state: String,
    pub percent: i32,
    pub applied: i64,
    pub total: i64,
    pub error: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, state, percent, applied, total, error, requested_at, finished_at";

/// Runs replays, one at a time.
pub struct Replays {
    pool: PgPool,
    consumers: Arc<Consumers>,
    shutdown: CancellationToken,
}

impl Replays {
    pub fn new(pool: PgPool, consumers: Arc<Consumers>, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            pool,
            consumers,
            shutdown,
        })
    }

    /// Starts a replay, or returns the one already running.
    pub async fn start(self: &Arc<Self>, caller: Uuid) -> Result<ReplayRow, sqlx::Error> {
        let inserted: Option<ReplayRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO replays (id, requested_by) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(caller)
        .fetch_optional(&self.pool)
        .await?;
        match inserted {
            Some(row) => {
                tokio::spawn(self.clone().drive(row.id));
                Ok(row)
            }
            None => {
                let running: ReplayRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM replays WHERE state = 'running'"
                )))
                .fetch_one(&self.pool)
                .await?;
                Ok(running)
            }
        }
    }

    /// Runs again a replay a crash interrupted.
    pub async fn resume(self: &Arc<Self>) -> Result<(), sqlx::Error> {
        let running: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM replays WHERE state = 'running'")
                .fetch_all(&self.pool)
                .await?;
        for id in running {
            tracing::info!(replay = %id, "resuming an interrupted replay");
            tokio::spawn(self.clone().drive(id));
        }
        Ok(())
    }

    pub async fn get(&self, id: Option<Uuid>) -> Result<Option<ReplayRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM replays WHERE ($1::uuid IS NULL OR id = $1)
             ORDER BY requested_at DESC, id DESC LIMIT 1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    async fn drive(self: Arc<Self>, id: Uuid) {
        tracing::info!(replay = %id, "rebuilding the read models from the streams");
        if let Err(e) = self.consumers.rebuild().await {
            let _ = sqlx::query(
                "UPDATE replays SET state = 'failed', error = $2, finished_at = now() WHERE id = $1",
            )
            .bind(id)
            .bind(format!("{e:#}"))
            .execute(&self.pool)
            .await;
            tracing::error!(replay = %id, error = %format!("{e:#}"), "replay failed");
            return;
        }
        loop {
            let done = match self.consumers.progress().await {
                Ok(p) => {
                    let state = if p.caught_up { "completed" } else { "running" };
                    let r = sqlx::query(
                        "UPDATE replays SET state = $2, percent = $3, applied = $4, total = $5,
                           finished_at = CASE WHEN $2 = 'completed' THEN now() END WHERE id = $1",
                    )
                    .bind(id)
                    .bind(state)
                    .bind(if p.caught_up {
                        100
                    } else {
                        p.percent().min(99)
                    })
                    .bind(p.applied)
                    .bind(p.total)
                    .execute(&self.pool)
                    .await;
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "recording replay progress failed");
                    }
                    p.caught_up
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "reading replay progress failed");
                    false
                }
            };
            if done {
                tracing::info!(replay = %id, "read models rebuilt");
                return;
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }
}
