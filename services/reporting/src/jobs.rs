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
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::plan::recipient_ids;
use crate::report::Overflow;
use crate::report::compute::{Input, Progress, compute};
use crate::report::export::{FORMATS, export_paths, render};
use crate::store::{Completion, ReportRow, Setback, Store, job_state};

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
        if self.store.replaying().await? {
            return Ok(false);
        }
        for id in self.store.waiting_jobs().await? {
            let Some(lock) = self.store.lock_job(id).await? else {
                continue;
            };
            // Under the lock, check again: another worker may have just finished it.
            let worked = match self.store.report(id).await {
                Ok(Some(row)) if row.pending() => {
                    self.work(row).await;
                    Ok(true)
                }
                Ok(_) => Ok(false),
                Err(e) => Err(e),
            };
            lock.release().await;
            if worked? {
                return Ok(true);
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
            let failed = Setback {
                state: job_state::FAILED,
                step: "failed",
                reason: &reason,
                backoff: Duration::ZERO,
            };
            self.record_failure(row.id, &failed).await;
            return;
        }
        if let Err(e) = self.store.start_attempt(row.id).await {
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
                (job_state::FAILED, "failed")
            } else {
                (job_state::QUEUED, "waiting to retry")
            };
            let setback = Setback {
                state,
                step,
                reason: &f.reason,
                backoff: Duration::from_secs(5 * attempts.unsigned_abs() as u64),
            };
            self.record_failure(row.id, &setback).await;
        }
    }

    /// One attempt at the job, in its own task: its panic or its hanging is this
    /// attempt's failure, not the worker's.
    async fn attempt(&self, row: &ReportRow, attempt: i32) -> Result<(), Failure> {
        let tries = format!("lần thử {attempt}/{}", self.limits.max_attempts);
        let progress = Progress::job(self.store.clone(), row.id, self.heartbeat.clone());
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

    /// Records an attempt's failure; the job's row says what happened, so a failure to
    /// record it is only logged (the job is then taken again).
    async fn record_failure(&self, id: Uuid, setback: &Setback<'_>) {
        let r = self.store.record_failure(id, setback).await;
        if let Err(e) = r {
            tracing::warn!(error = %e, report = %id, "could not record the report failure");
        }
    }
}

/// Computes, renders and completes one job.
async fn generate(store: &Store, row: &ReportRow, progress: &Progress) -> anyhow::Result<()> {
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
        signer_title: row.signer_title.clone(),
        signer_name: row.signer_name.clone(),
        plan_saved_at: saved_at,
    };
    let snapshot = compute(store, &input, progress).await?;
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
    let event = ReportGenerated {
        report_id: row.id.to_string(),
        plan_id: plan.id.clone(),
        plan_number_symbol: plan.number_symbol.clone(),
        period: row.period.clone(),
        title: snapshot.document.title.clone(),
        export_paths: export_paths(row.id),
        recipient_ids: recipient_ids(&plan),
        as_of: snapshot.as_of.clone(),
    };
    store
        .complete_report(
            row.id,
            Completion {
                as_of,
                summary: snapshot.narrative.join("\n\n"),
                headline: snapshot.headline(),
                title: &snapshot.document.title,
                plan_revision: plan.revision,
                files: &rendered,
                event,
            },
        )
        .await?;
    tracing::info!(report = %row.id, period = %row.period, "report generated");
    Ok(())
}
