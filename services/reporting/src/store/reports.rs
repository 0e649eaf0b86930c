//! Report jobs (báo cáo) and their rendered exports.

use cchc_platform::Caller;
use cchc_platform::page::Paging;
use cchc_proto::reporting::v1::ReportHeadline;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{BindPage, Error, Store, newest_first};

/// A report job row.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ReportRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub plan_revision: i32,
    pub period: String,
    pub number_symbol: String,
    pub report_date: Option<NaiveDate>,
    /// The title asked for (empty: derived); `title` is the one the report carries.
    pub requested_title: String,
    /// The signer asked for (empty: the plan's).
    pub signer_title: String,
    pub signer_name: String,
    pub title: String,
    pub state: String,
    pub percent: i32,
    pub step: String,
    pub error: String,
    pub attempts: i32,
    pub as_of: Option<DateTime<Utc>>,
    pub summary: String,
    pub headline: Option<sqlx::types::Json<ReportHeadline>>,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Who started the job, and whom its latest change is attributed to (actor text).
    pub created_by: Option<String>,
    pub updated_by: Option<String>,
}

/// Where a report job stands (the SQL of this module spells the same words).
pub mod job_state {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
}

impl ReportRow {
    /// Its exports exist.
    pub fn completed(&self) -> bool {
        self.state == job_state::COMPLETED
    }

    /// A worker may still take it.
    pub fn pending(&self) -> bool {
        self.state == job_state::QUEUED || self.state == job_state::RUNNING
    }
}

const REPORT_COLUMNS: &str = "id, plan_id, plan_revision, period, number_symbol, report_date, requested_title, signer_title, signer_name, title, state, percent, step, error,
    attempts, as_of, summary, headline, requested_at, completed_at, created_by, updated_by";

/// What a new report job asks for.
pub struct NewReport<'a> {
    pub plan_id: Uuid,
    pub period: &'a str,
    pub number_symbol: &'a str,
    pub report_date: Option<NaiveDate>,
    pub title: &'a str,
    pub signer_title: &'a str,
    pub signer_name: &'a str,
}

/// A rendered export as stored.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ReportFile {
    pub content_type: String,
    pub file_name: String,
    pub content: Vec<u8>,
    pub sha256: String,
}

impl Store {
    /// Queues a report job for `caller` (its actor is whom the job works for); with a
    /// key seen before, returns that job.
    pub async fn start_report(
        &self,
        caller: &Caller,
        r: &NewReport<'_>,
        plan_revision: u32,
        key: Option<&str>,
    ) -> Result<ReportRow, Error> {
        let mut tx = self.pool.begin().await?;
        if let Some(key) = key {
            let seen: Option<ReportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {REPORT_COLUMNS} FROM reports WHERE requested_by = $1 AND idempotency_key = $2"
            )))
            .bind(caller.unit_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = seen {
                let same = row.plan_id == r.plan_id
                    && row.period == r.period
                    && row.number_symbol == r.number_symbol
                    && row.report_date == r.report_date
                    && row.requested_title == r.title
                    && row.signer_title == r.signer_title
                    && row.signer_name == r.signer_name;
                return if same { Ok(row) } else { Err(Error::KeyReused) };
            }
        }
        let row: ReportRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO reports (id, plan_id, plan_revision, period, number_symbol, report_date, title, requested_title, requested_by,
               idempotency_key, created_by, updated_by, signer_title, signer_name)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $10, $11, $12) RETURNING {REPORT_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(r.plan_id)
        .bind(plan_revision as i32)
        .bind(r.period)
        .bind(r.number_symbol)
        .bind(r.report_date)
        .bind(r.title)
        .bind(caller.unit_id)
        .bind(key)
        .bind(caller.actor.to_string())
        .bind(r.signer_title)
        .bind(r.signer_name)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn report(&self, id: Uuid) -> Result<Option<ReportRow>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Report jobs newest first, from where `paging` starts, one more than a page.
    pub async fn reports(
        &self,
        plan_id: Option<Uuid>,
        paging: &Paging,
    ) -> Result<Vec<ReportRow>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE ($1::uuid IS NULL OR plan_id = $1) AND {}",
            newest_first("requested_at", 2)
        )))
        .bind(plan_id)
        .bind_page(paging)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A completed report's export in `format`.
    pub async fn report_file(&self, id: Uuid, format: &str) -> Result<Option<ReportFile>, Error> {
        Ok(sqlx::query_as(
            "SELECT content_type, file_name, content, sha256 FROM report_files WHERE report_id = $1 AND format = $2",
        )
        .bind(id)
        .bind(format)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// How far a running job got.
    pub async fn record_progress(&self, id: Uuid, percent: i32, step: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE reports SET percent = $2, step = $3 WHERE id = $1 AND state = 'running'",
        )
        .bind(id)
        .bind(percent)
        .bind(step)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
