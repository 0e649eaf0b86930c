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
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::{PRODUCERS, ReadModels, durable};
pub use crate::store::ReplayRow;
use crate::store::{self, ReplayProgress, Store, read_models};

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
            let durables: Vec<String> = PRODUCERS.iter().map(|p| durable(p)).collect();
            read_models::empty(&mut tx, &durables).await?;
            Ok::<_, store::Error>(tx.commit().await?)
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

/// Runs replays, one at a time.
pub struct Replays {
    store: Store,
    consumers: Arc<Consumers>,
    shutdown: CancellationToken,
}

impl Replays {
    pub fn new(store: Store, consumers: Arc<Consumers>, shutdown: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            store,
            consumers,
            shutdown,
        })
    }

    /// Starts a replay, or returns the one already running.
    pub async fn start(self: &Arc<Self>, caller: Uuid) -> Result<ReplayRow, store::Error> {
        match self.store.new_replay(caller).await? {
            Some(row) => {
                tokio::spawn(self.clone().drive(row.id));
                Ok(row)
            }
            None => self.store.running_replay().await,
        }
    }

    /// Runs again a replay a crash interrupted.
    pub async fn resume(self: &Arc<Self>) -> Result<(), store::Error> {
        for id in self.store.running_replays().await? {
            tracing::info!(replay = %id, "resuming an interrupted replay");
            tokio::spawn(self.clone().drive(id));
        }
        Ok(())
    }

    /// The replay `id`, or with none the latest.
    pub async fn get(&self, id: Option<Uuid>) -> Result<Option<ReplayRow>, store::Error> {
        self.store.replay(id).await
    }

    async fn drive(self: Arc<Self>, id: Uuid) {
        tracing::info!(replay = %id, "rebuilding the read models from the streams");
        if let Err(e) = self.consumers.rebuild().await {
            let error = format!("{e:#}");
            if let Err(e) = self.store.fail_replay(id, &error).await {
                tracing::warn!(error = %e, "recording the replay's failure failed");
            }
            tracing::error!(replay = %id, error = %error, "replay failed");
            return;
        }
        loop {
            let done = match self.consumers.progress().await {
                Ok(p) => {
                    let progress = ReplayProgress {
                        caught_up: p.caught_up,
                        percent: if p.caught_up {
                            100
                        } else {
                            p.percent().min(99)
                        },
                        applied: p.applied,
                        total: p.total,
                    };
                    if let Err(e) = self.store.replay_progress(id, progress).await {
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
