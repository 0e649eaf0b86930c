//! The report queue as the worker works it: which jobs wait, the advisory lock that
//! keeps a job to one worker, each attempt's start and failure, and the completion
//! that stores the exports and the job's event in one transaction.

use std::time::Duration;

use cchc_platform::Actor;
use cchc_proto::events::v1::ReportGenerated;
use cchc_proto::reporting::v1::ReportHeadline;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{Error, Store};
use crate::report::export::Rendered;

/// Advisory lock namespace of report jobs.
const LOCK_SPACE: i32 = 7_261_002;

/// A job held by this worker: the lock lives as long as this connection, which is
/// never returned to the pool.
pub struct JobLock(PgConnection);

impl JobLock {
    pub async fn release(self) {
        // Closing the connection ends the session and with it the lock; a close that
        // fails has lost the session anyway.
        let _ = self.0.close().await;
    }
}

/// How an attempt that did not complete leaves its job: queued again after `backoff`,
/// or failed, with the reason the office reads.
pub struct Setback<'a> {
    pub state: &'a str,
    pub step: &'a str,
    pub reason: &'a str,
    pub backoff: Duration,
}

/// What a completed job records beside its exports.
pub struct Completion<'a> {
    pub as_of: DateTime<Utc>,
    pub summary: String,
    pub headline: ReportHeadline,
    pub title: &'a str,
    pub plan_revision: u32,
    pub files: &'a [Rendered],
    pub event: ReportGenerated,
}

impl Store {
    /// Whether the read models are being rebuilt.
    pub async fn replaying(&self) -> Result<bool, Error> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM replays WHERE state = 'running')")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Jobs a worker may take now, oldest first.
    pub async fn waiting_jobs(&self) -> Result<Vec<Uuid>, Error> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM reports WHERE state IN ('queued', 'running') AND not_before <= now()
             ORDER BY requested_at, id LIMIT 16",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Takes the job for this worker; `None` when another holds it.
    pub async fn lock_job(&self, id: Uuid) -> Result<Option<JobLock>, Error> {
        let mut conn: PgConnection = self.pool.acquire().await?.detach();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(LOCK_SPACE)
            .bind(id.to_string())
            .fetch_one(&mut conn)
            .await?;
        let lock = JobLock(conn);
        if locked {
            return Ok(Some(lock));
        }
        lock.release().await;
        Ok(None)
    }

    /// Counts an attempt before it runs, so one that never returns is counted too.
    pub async fn start_attempt(&self, id: Uuid) -> Result<(), Error> {
        sqlx::query(
            "UPDATE reports SET state = 'running', percent = 0, step = 'starting', error = '',
               attempts = attempts + 1, started_at = now() WHERE id = $1",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends an attempt that did not complete. Only a job still pending is touched: a
    /// completion that raced a timeout stands.
    pub async fn record_failure(&self, id: Uuid, s: &Setback<'_>) -> Result<(), Error> {
        sqlx::query(
            "UPDATE reports SET state = $2, step = $3, error = $4,
               not_before = now() + make_interval(secs => $5)
             WHERE id = $1 AND state IN ('queued', 'running')",
        )
        .bind(id)
        .bind(s.state)
        .bind(s.step)
        .bind(s.reason)
        .bind(s.backoff.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores the job's exports (replacing any of an earlier attempt), completes it and
    /// announces it, in one transaction.
    pub async fn complete_report(&self, id: Uuid, c: Completion<'_>) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM report_files WHERE report_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for r in c.files {
            sqlx::query(
                "INSERT INTO report_files (report_id, format, content_type, file_name, content, sha256)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(r.format)
            .bind(r.content_type)
            .bind(&r.file_name)
            .bind(&r.content)
            .bind(hex::encode(Sha256::digest(&r.content)))
            .execute(&mut *tx)
            .await?;
        }
        // The job works for whoever started it (its `updated_by` stays theirs), and so
        // does its event; a job started before attribution is the system's.
        let by: Option<String> = sqlx::query_scalar(
            "UPDATE reports SET state = 'completed', percent = 100, step = 'done', error = '', as_of = $2,
               summary = $3, headline = $4, title = $5, plan_revision = $6, completed_at = now() WHERE id = $1
             RETURNING created_by",
        )
        .bind(id)
        .bind(c.as_of)
        .bind(c.summary)
        .bind(sqlx::types::Json(c.headline))
        .bind(c.title)
        .bind(c.plan_revision as i32)
        .fetch_one(&mut *tx)
        .await?;
        let actor = by
            .as_deref()
            .and_then(Actor::parse)
            .unwrap_or(Actor::System);
        self.outbox.enqueue(&mut tx, &actor, &c.event).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(())
    }
}
