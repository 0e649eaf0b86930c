//! The report worker: takes queued jobs (and jobs left `running` by a crash), computes
//! the snapshot, renders every export and completes the job with its event, all in one
//! final transaction. While it works a job it holds a session advisory lock on it, so
//! two workers never run the same job and a crashed worker's job is free at once.
//!
//! One job never stops the others: each attempt runs in its own task, bounded in time,
//! and a panic, an error or a timeout is a failed attempt. Attempts are counted in the
//! job's row before it runs, so a job that brings the whole process down at every start
//! is failed after its attempts too. A job that fails is retried later (the queue goes
//! on meanwhile) or, after its attempts or when retrying cannot help, marked failed
//! with its reason. [`Worker::ready`] tells readiness when the worker is stuck.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use cchc_platform::config::{Config, ConfigError};
use cchc_proto::events::v1::ReportGenerated;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::report::Overflow;
use crate::report::compute::{Input, Progress, compute};
use crate::report::export::{FORMATS, render};
use crate::store::{ReportRow, Store, export_paths};

/// Advisory lock namespace of report jobs.
const LOCK_SPACE: i32 = 7_261_002;
const POLL: Duration = Duration::from_secs(2);

/// How many times a job is started before it is failed, how long one attempt may take,
/// and how long a job may go without progress before readiness calls the worker stuck.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_attempts: i32,
    pub job_timeout: Duration,
    pub stuck_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            job_timeout: Duration::from_secs(600),
            stuck_after: Duration::from_secs(120),
        }
    }
}

impl Limits {
    /// `CCHC_REPORT_MAX_ATTEMPTS`, `CCHC_REPORT_JOB_TIMEOUT_SECONDS` and
    /// `CCHC_REPORT_STUCK_SECONDS`, each defaulting to [`Limits::default`].
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let d = Self::default();
        let secs = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(
                config.parse_or(name, default.as_secs())?.max(1),
            ))
        };
        Ok(Self {
            max_attempts: config
                .parse_or("CCHC_REPORT_MAX_ATTEMPTS", d.max_attempts)?
                .max(1),
            job_timeout: secs("CCHC_REPORT_JOB_TIMEOUT_SECONDS", d.job_timeout)?,
            stuck_after: secs("CCHC_REPORT_STUCK_SECONDS", d.stuck_after)?,
        })
    }
}

/// What the worker is doing, for readiness: whether its loop runs, and the job it
/// works with the time of that job's last progress.
#[derive(Default)]
pub struct Heartbeat {
    state: Mutex<Beat>,
}

#[derive(Default)]
struct Beat {
    running: bool,
    job: Option<CurrentJob>,
}

struct CurrentJob {
    id: Uuid,
    percent: i32,
    step: String,
    since: Instant,
}

impl Heartbeat {
    fn lock(&self) -> MutexGuard<'_, Beat> {
        // Only plain assignments happen under the lock: a poisoned one is still whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self, id: Uuid) {
        self.lock().job = Some(CurrentJob {
            id,
            percent: 0,
            step: "starting".into(),
            since: Instant::now(),
        });
    }

    /// The current job moved on.
    pub fn step(&self, percent: i32, step: &str) {
        if let Some(job) = self.lock().job.as_mut() {
            job.percent = percent;
            job.step = step.to_owned();
            job.since = Instant::now();
        }
    }

    fn end(&self) {
        self.lock().job = None;
    }
}

/// Marks the worker's loop as running for as long as it lives: dropped when the loop
/// returns or unwinds.
struct Alive(Arc<Heartbeat>);

impl Alive {
    fn new(heartbeat: Arc<Heartbeat>) -> Self {
        heartbeat.lock().running = true;
        Self(heartbeat)
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        let mut b = self.0.lock();
        b.running = false;
        b.job = None;
    }
}

/// Runs in a job's task before the job itself (tests make jobs panic with it).
pub type BeforeJob = Arc<dyn Fn(Uuid) + Send + Sync>;

pub struct Worker {
    store: Store,
    wake: Notify,
    limits: Limits,
    heartbeat: Arc<Heartbeat>,
    before_job: Option<BeforeJob>,
}

/// Why one attempt failed.
struct Failure {
    /// The reason the office reads.
    reason: String,
    /// Another attempt would fail the same way.
    permanent: bool,
}

impl Worker {
    pub fn new(store: Store) -> Arc<Self> {
        Self::with_limits(store, Limits::default())
    }

    pub fn with_limits(store: Store, limits: Limits) -> Arc<Self> {
        Self::build(store, limits, None)
    }

    /// A worker that runs `before_job` at the start of every attempt, in its task.
    pub fn with_before_job(store: Store, limits: Limits, before_job: BeforeJob) -> Arc<Self> {
        Self::build(store, limits, Some(before_job))
    }

    fn build(store: Store, limits: Limits, before_job: Option<BeforeJob>) -> Arc<Self> {
        Arc::new(Self {
            store,
            wake: Notify::new(),
            limits,
            heartbeat: Arc::default(),
            before_job,
        })
    }

    /// Tells the worker a job is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Readiness: the worker's loop runs and its current job, if any, made progress
    /// within [`Limits::stuck_after`]. The error says what is wrong.
    pub fn ready(&self) -> Result<(), String> {
        let b = self.heartbeat.lock();
        if !b.running {
            return Err("the report worker is not running".into());
        }
        if let Some(job) = &b.job {
            let idle = job.since.elapsed();
            if idle > self.limits.stuck_after {
                return Err(format!(
                    "report job {} is stuck: no progress for {} s (step {}, {} %)",
                    job.id,
                    idle.as_secs(),
                    job.step,
                    job.percent
                ));
            }
        }
        Ok(())
    }

    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let _alive = Alive::new(self.heartbeat.clone());
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
        let max = self.limits.max_attempts;
        if row.attempts >= max {
            // Every start so far was counted and none recorded an outcome: the process
            // stopped during the job each time. Another start could only do it again.
            let reason = format!(
                "Không lập được báo cáo: đã thử {} lần, lần nào cũng bị dừng giữa chừng \
                 (lần cuối ở bước «{}», {} %). \
                 (The job stopped before finishing at each of its {} attempts.)",
                row.attempts, row.step, row.percent, row.attempts
            );
            tracing::error!(report = %row.id, attempts = row.attempts, "report job failed: it never finished");
            self.record_failure(row.id, "failed", "failed", &reason, Duration::ZERO)
                .await;
            return;
        }
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
        self.heartbeat.begin(row.id);
        let outcome = self.attempt(&row, attempts).await;
        self.heartbeat.end();
        if let Err(f) = outcome {
            tracing::error!(error = %f.reason, report = %row.id, attempts, "report generation failed");
            let (state, step) = if f.permanent || attempts >= max {
                ("failed", "failed")
            } else {
                ("queued", "waiting to retry")
            };
            let backoff = Duration::from_secs(5 * attempts.unsigned_abs() as u64);
            self.record_failure(row.id, state, step, &f.reason, backoff)
                .await;
        }
    }

    /// One attempt at the job, in its own task: its panic or its hanging is this
    /// attempt's failure, not the worker's.
    async fn attempt(&self, row: &ReportRow, attempt: i32) -> Result<(), Failure> {
        let tries = format!("lần thử {attempt}/{}", self.limits.max_attempts);
        let progress = Progress::job(self.store.pool.clone(), row.id, self.heartbeat.clone());
        let (store, job, before) = (self.store.clone(), row.clone(), self.before_job.clone());
        let mut task = tokio::spawn(async move {
            if let Some(before) = before {
                before(job.id);
            }
            generate(&store, &job, &progress).await
        });
        let limit = self.limits.job_timeout;
        match tokio::time::timeout(limit, &mut task).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(match e.downcast_ref::<Overflow>() {
                // The same figures would overflow again.
                Some(o) => Failure {
                    reason: o.to_string(),
                    permanent: true,
                },
                None => Failure {
                    reason: format!("Không lập được báo cáo ({tries}): {e:#}"),
                    permanent: false,
                },
            }),
            Ok(Err(e)) => {
                let cause = if e.is_panic() {
                    let panic = e.into_panic();
                    panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into())
                } else {
                    "cancelled".into()
                };
                Err(Failure {
                    reason: format!(
                        "Không lập được báo cáo ({tries}): lỗi nội bộ khi lập báo cáo. \
                         (The job failed: {cause}.)"
                    ),
                    permanent: false,
                })
            }
            Err(_) => {
                task.abort();
                Err(Failure {
                    reason: format!(
                        "Không lập được báo cáo ({tries}): quá thời gian cho phép {} giây. \
                         (The job took longer than {} s.)",
                        limit.as_secs(),
                        limit.as_secs()
                    ),
                    permanent: false,
                })
            }
        }
    }

    /// Ends an attempt that did not complete: queued again after `backoff`, or failed.
    /// Only a job still pending is touched: a completion that raced a timeout stands.
    async fn record_failure(
        &self,
        id: Uuid,
        state: &str,
        step: &str,
        reason: &str,
        backoff: Duration,
    ) {
        let r = sqlx::query(
            "UPDATE reports SET state = $2, step = $3, error = $4,
               not_before = now() + make_interval(secs => $5)
             WHERE id = $1 AND state IN ('queued', 'running')",
        )
        .bind(id)
        .bind(state)
        .bind(step)
        .bind(reason)
        .bind(backoff.as_secs_f64())
        .execute(&self.store.pool)
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, report = %id, "could not record the report failure");
        }
    }
}

/// Computes, renders and completes one job.
async fn generate(store: &Store, row: &ReportRow, progress: &Progress) -> anyhow::Result<()> {
    let pool = &store.pool;
    progress.step(5, "plan").await;
    let (plan, saved_at) = store
        .plan(row.plan_id)
        .await?
        .context("kế hoạch không còn tồn tại (the plan no longer exists)")?;
    let period = plan
        .periods
        .iter()
        .find(|p| p.key == row.period)
        .cloned()
        .with_context(|| {
            format!(
                "kế hoạch không còn kỳ báo cáo {} (the plan no longer has the period {})",
                row.period, row.period
            )
        })?;
    let input = Input {
        plan: plan.clone(),
        period,
        number_symbol: row.number_symbol.clone(),
        report_date: row.report_date,
        title: row.requested_title.clone(),
        plan_saved_at: saved_at,
    };
    let snapshot = compute(pool, &input, progress).await?;
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
    store
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
    store.outbox.notify();
    tracing::info!(report = %row.id, period = %row.period, "report generated");
    Ok(())
}
