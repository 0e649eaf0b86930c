//! The report worker: takes queued jobs (and jobs left `running` by a crash), computes
//! the snapshot, renders every export and completes the job with its event, all in one
//! final transaction. While it works a job it holds a session advisory lock on it, so
//! two workers never run the same job and a crashed worker's job is free at once.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cchc_proto::events::v1::ReportGenerated;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::report::compute::{Input, Progress, compute};
use crate::report::export::{FORMATS, render};
use crate::store::{ReportRow, Store, export_paths};

/// Attempts before a job is marked failed.
const MAX_ATTEMPTS: i32 = 3;
/// Advisory lock namespace of report jobs.
const LOCK_SPACE: i32 = 7_261_002;
const POLL: Duration = Duration::from_secs(2);

pub struct Worker {
    store: Store,
    wake: Notify,
}

impl Worker {
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Self {
            store,
            wake: Notify::new(),
        })
    }

    /// Tells the worker a job is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let wait = match self.run_once().await {
                Ok(true) => Duration::ZERO,
                Ok(false) => POLL,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "report worker failed; retrying");
                    POLL
                }
            };
            if shutdown.is_cancelled() {
                return;
            }
            if !wait.is_zero() {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    /// Works one waiting job, if there is one a worker may take; says whether it did.
    pub async fn run_once(&self) -> anyhow::Result<bool> {
        // Figures taken while the read models are being rebuilt would be partial.
        let replaying: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM replays WHERE state = 'running')")
                .fetch_one(&self.store.pool)
                .await?;
        if replaying {
            return Ok(false);
        }
        let candidates: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM reports WHERE state IN ('queued', 'running') AND not_before <= now()
             ORDER BY requested_at, id LIMIT 16",
        )
        .fetch_all(&self.store.pool)
        .await?;
        for id in candidates {
            // The lock lives as long as this connection, which is never returned to the pool.
            let mut lock: PgConnection = self.store.pool.acquire().await?.detach();
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
                .bind(LOCK_SPACE)
                .bind(id.to_string())
                .fetch_one(&mut lock)
                .await?;
            if !locked {
                let _ = lock.close().await;
                continue;
            }
            // Under the lock, check again: another worker may have just finished it.
            let row = self.store.report(id).await?;
            let result = match row {
                Some(row) if row.state == "queued" || row.state == "running" => {
                    self.work(row).await;
                    Ok(true)
                }
                _ => Ok(false),
            };
            let _ = lock.close().await;
            if matches!(result, Ok(true)) {
                return result;
            }
        }
        Ok(false)
    }

    async fn work(&self, row: ReportRow) {
        let started = sqlx::query(
            "UPDATE reports SET state = 'running', percent = 0, step = 'starting', error = '',
               attempts = attempts + 1, started_at = now() WHERE id = $1",
        )
        .bind(row.id)
        .execute(&self.store.pool)
        .await;
        if let Err(e) = started {
            tracing::warn!(error = %e, report = %row.id, "could not start the report job");
            return;
        }
        let attempts = row.attempts + 1;
        if let Err(e) = self.generate(&row).await {
            let message = format!("{e:#}");
            tracing::error!(error = %message, report = %row.id, attempts, "report generation failed");
            let (state, step) = if attempts >= MAX_ATTEMPTS {
                ("failed", "failed")
            } else {
                ("queued", "waiting to retry")
            };
            let r = sqlx::query(
                "UPDATE reports SET state = $2, step = $3, error = $4,
                   not_before = now() + make_interval(secs => $5) WHERE id = $1",
            )
            .bind(row.id)
            .bind(state)
            .bind(step)
            .bind(message)
            .bind(f64::from(5 * attempts))
            .execute(&self.store.pool)
            .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not record the report failure");
            }
        }
    }

    async fn generate(&self, row: &ReportRow) -> anyhow::Result<()> {
        let pool = &self.store.pool;
        let progress = Progress::job(pool.clone(), row.id);
        progress.step(5, "plan").await;
        let (plan, saved_at) = self
            .store
            .plan(row.plan_id)
            .await?
            .context("the plan no longer exists")?;
        let period = plan
            .periods
            .iter()
            .find(|p| p.key == row.period)
            .cloned()
            .with_context(|| format!("the plan no longer has the period {}", row.period))?;
        let input = Input {
            plan: plan.clone(),
            period,
            number_symbol: row.number_symbol.clone(),
            report_date: row.report_date,
            title: row.requested_title.clone(),
            plan_saved_at: saved_at,
        };
        let snapshot = compute(pool, &input, &progress).await?;
        progress.step(90, "documents").await;
        let rendered = {
            let s = snapshot.clone();
            tokio::task::spawn_blocking(move || {
                FORMATS
                    .iter()
                    .map(|f| render(&s, f))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await??
        };
        let as_of = chrono::DateTime::parse_from_rfc3339(&snapshot.as_of)?.to_utc();
        let mut tx = pool.begin().await?;
        sqlx::query("DELETE FROM report_files WHERE report_id = $1")
            .bind(row.id)
            .execute(&mut *tx)
            .await?;
        for r in &rendered {
            sqlx::query(
                "INSERT INTO report_files (report_id, format, content_type, file_name, content, sha256)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(row.id)
            .bind(r.format)
            .bind(r.content_type)
            .bind(&r.file_name)
            .bind(&r.content)
            .bind(hex::encode(Sha256::digest(&r.content)))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE reports SET state = 'completed', percent = 100, step = 'done', error = '', as_of = $2,
               summary = $3, headline = $4, title = $5, plan_revision = $6, completed_at = now() WHERE id = $1",
        )
        .bind(row.id)
        .bind(as_of)
        .bind(snapshot.narrative.join("\n\n"))
        .bind(sqlx::types::Json(snapshot.headline()))
        .bind(&snapshot.document.title)
        .bind(plan.revision as i32)
        .execute(&mut *tx)
        .await?;
        self.store
            .outbox
            .enqueue(
                &mut tx,
                &ReportGenerated {
                    report_id: row.id.to_string(),
                    plan_id: plan.id.clone(),
                    plan_number_symbol: plan.number_symbol.clone(),
                    period: row.period.clone(),
                    title: snapshot.document.title.clone(),
                    export_paths: export_paths(row.id),
                    recipient_ids: plan
                        .recipients
                        .iter()
                        .filter(|r| !r.recipient_id.is_empty())
                        .map(|r| r.recipient_id.clone())
                        .collect(),
                    as_of: snapshot.as_of.clone(),
                },
            )
            .await?;
        tx.commit().await?;
        self.store.outbox.notify();
        tracing::info!(report = %row.id, period = %row.period, "report generated");
        Ok(())
    }
}
