//! The transactional outbox. A service writes its state change and the event row in one
//! transaction ([`Outbox::enqueue`]); the [`Relay`] publishes unpublished rows to
//! JetStream with `Nats-Msg-Id` = event id, awaits each publish ack, and marks the rows
//! published. If NATS is away the rows wait; nothing is lost, and a row published twice
//! is dropped by JetStream (within the duplicate window) or by the consumers' records.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::events::{Event, envelope};

/// Writes events beside state changes. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    producer: &'static str,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(producer: &'static str) -> Self {
        Self {
            producer,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn producer(&self) -> &'static str {
        self.producer
    }

    /// Adds `event`, attributed to `actor`, to the outbox inside the caller's
    /// transaction and returns its id. The current trace context is stored with it so
    /// the trace continues in consumers.
    pub async fn enqueue<E: Event>(
        &self,
        tx: &mut PgConnection,
        actor: &crate::Actor,
        event: &E,
    ) -> Result<uuid::Uuid, sqlx::Error> {
        let row = self.prepare(actor, event);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {INSERT} VALUES ($1, $2, $3, $4)"
        )))
        .bind(row.id)
        .bind(row.subject)
        .bind(row.body)
        .bind(trace())
        .execute(tx)
        .await?;
        Ok(row.id)
    }

    /// The outbox row of `event`, for a caller that writes it in the same statement
    /// as its state change (`INSERT INTO {INSERT} …` with [`trace`]), saving the
    /// round trips of a transaction on its hottest path.
    pub fn prepare<E: Event>(&self, actor: &crate::Actor, event: &E) -> Prepared {
        let env = envelope(self.producer, actor, event);
        Prepared {
            id: env.id.parse().expect("envelope ids are UUIDs"),
            subject: E::TYPE,
            body: env.encode_to_vec(),
        }
    }

    /// Tells the relay there is something to publish; call after commit.
    pub fn notify(&self) {
        self.wake.notify_one();
    }
}

/// The outbox table with the columns a writer fills, in the order of [`Prepared`]
/// and then [`trace`].
pub const INSERT: &str = "cchc_outbox (id, subject, body, trace)";

/// An event ready to be written to the outbox.
pub struct Prepared {
    pub id: uuid::Uuid,
    pub subject: &'static str,
    pub body: Vec<u8>,
}

/// The current trace context, stored with the rows written now so the trace continues
/// in consumers.
pub fn trace() -> serde_json::Value {
    serde_json::to_value(crate::telemetry::current_context_headers()).unwrap_or_default()
}

/// Publishes outbox rows to JetStream.
pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    outbox: Outbox,
    batch: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: uuid::Uuid,
    subject: String,
    body: Vec<u8>,
    trace: serde_json::Value,
}

const POLL: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

impl Relay {
    pub fn new(pool: PgPool, js: jetstream::Context, outbox: Outbox) -> Self {
        Self {
            pool,
            js,
            outbox,
            batch: 256,
        }
    }

    /// Relays until `shutdown`, backing off (with jitter) while NATS or PostgreSQL fail.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let wait = match self.relay_once().await {
                Ok(n) if n as i64 == self.batch => Duration::ZERO,
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    POLL
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), producer = self.outbox.producer, "outbox relay failed; retrying");
                    let jitter = rand::random_range(0..=backoff.as_millis() as u64 / 2);
                    let wait = backoff + Duration::from_millis(jitter);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            };
            if wait.is_zero() {
                if shutdown.is_cancelled() {
                    return;
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.outbox.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Publishes one batch of unpublished rows in order; returns how many were
    /// published. Several relays may run (one per replica of the service): one at a
    /// time holds the outbox's lock and publishes, the others wait for it, then see
    /// what it left. Skipping locked rows instead would let a second relay publish
    /// later rows before the first's, out of order.
    pub async fn relay_once(&self) -> anyhow::Result<usize> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('cchc.outbox', 0))")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT seq, id, subject, body, trace FROM cchc_outbox
             WHERE published_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(self.batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        // Send the whole batch, then await the acks: one round trip per batch, and the
        // single connection keeps the stream order equal to the outbox order.
        let mut pending = Vec::with_capacity(rows.len());
        let mut failure = None;
        for row in &rows {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_MESSAGE_ID,
                row.id.to_string().as_str(),
            );
            if let Ok(trace) = serde_json::from_value::<HashMap<String, String>>(row.trace.clone())
            {
                for (k, v) in trace {
                    headers.insert(k.as_str(), v.as_str());
                }
            }
            match self
                .js
                .publish_with_headers(row.subject.clone(), headers, row.body.clone().into())
                .await
            {
                Ok(ack) => pending.push((row.seq, ack)),
                Err(e) => {
                    failure = Some(anyhow::anyhow!("publishing {}: {e}", row.subject));
                    break;
                }
            }
        }
        let mut published = Vec::with_capacity(pending.len());
        for (seq, ack) in pending {
            match ack.await {
                Ok(_) => published.push(seq),
                Err(e) => {
                    failure.get_or_insert_with(|| anyhow::anyhow!("awaiting publish ack: {e}"));
                    break;
                }
            }
        }
        // Only a prefix counts as published so order survives a partial failure.
        let done = published.len();
        sqlx::query("UPDATE cchc_outbox SET published_at = now(), attempts = attempts + 1 WHERE seq = ANY($1)")
            .bind(&published)
            .execute(&mut *tx)
            .await?;
        if let (Some(e), Some(row)) = (&failure, rows.get(done)) {
            sqlx::query(
                "UPDATE cchc_outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1",
            )
            .bind(row.seq)
            .bind(format!("{e:#}"))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        match failure {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }
}

/// How many rows still wait for the relay (for readiness and benchmarks).
pub async fn backlog(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM cchc_outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
}
