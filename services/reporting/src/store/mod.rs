//! Plans and report jobs in the reporting service's own tables. Every change and its
//! event (outbox) share one transaction.

use cchc_platform::outbox::Outbox;
use cchc_platform::validation::FieldError;
use cchc_proto::events::v1::{PlanSaved, ReportingPeriod};
use cchc_proto::reporting::v1::{Plan, Report, ReportHeadline};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::plan::CheckedPlan;
use crate::report::compute::rfc3339;

#[derive(Clone)]
pub struct Store {
    pub pool: PgPool,
    pub outbox: Outbox,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this idempotency key was already used for a different request")]
    KeyReused,
    #[error("{message}")]
    Rule {
        message: String,
        errors: Vec<FieldError>,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(m) => tonic::Status::not_found(m),
            Error::Conflict(m) => tonic::Status::aborted(m),
            Error::KeyReused => tonic::Status::already_exists(e.to_string()),
            Error::Rule { message, errors } => {
                cchc_platform::validation::status(tonic::Code::FailedPrecondition, &message, errors)
            }
            Error::Db(e) => cchc_platform::validation::internal(e),
        }
    }
}

fn violates(e: &sqlx::Error, name: &str) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.code().as_deref() == Some("23505") && d.constraint() == Some(name))
}

#[derive(sqlx::FromRow)]
struct PlanRow {
    id: Uuid,
    revision: i32,
    document: sqlx::types::Json<Plan>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PlanRow {
    fn into_plan(self) -> Plan {
        Plan {
            id: self.id.to_string(),
            revision: self.revision as u32,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            ..self.document.0
        }
    }
}

const PLAN_COLUMNS: &str = "id, revision, document, created_at, updated_at";

/// The stored document: the plan without what the service sets.
fn document(p: &Plan) -> Plan {
    Plan {
        id: String::new(),
        revision: 0,
        created_at: String::new(),
        updated_at: String::new(),
        ..p.clone()
    }
}

/// SHA-256 of a plan document's JSON (the fields serialise in a fixed order).
fn request_hash(doc: &Plan) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        serde_json::to_vec(doc).unwrap_or_default(),
    ))
}

fn plan_saved(p: &Plan) -> PlanSaved {
    PlanSaved {
        plan_id: p.id.clone(),
        number_symbol: p.number_symbol.clone(),
        year: p.year,
        title: p.title.clone(),
        periods: p
            .periods
            .iter()
            .map(|x| ReportingPeriod {
                key: x.key.clone(),
                start: x.start.clone(),
                end: x.end.clone(),
                due_date: x.due_date.clone(),
                title: x.title.clone(),
            })
            .collect(),
        unit_ids: p.unit_ids.clone(),
        recipient_ids: p
            .recipients
            .iter()
            .filter(|r| !r.recipient_id.is_empty())
            .map(|r| r.recipient_id.clone())
            .collect(),
        recipient_names: p.recipients.iter().map(|r| r.name.clone()).collect(),
        revision: p.revision,
    }
}

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
}

pub const REPORT_COLUMNS: &str = "id, plan_id, plan_revision, period, number_symbol, report_date, requested_title, title, state, percent, step, error,
    attempts, as_of, summary, headline, requested_at, completed_at";

/// Gateway paths of a report's exports.
pub fn export_paths(id: Uuid) -> Vec<String> {
    crate::report::export::FORMATS
        .iter()
        .map(|f| format!("/v1/reports/{id}/export?format={f}"))
        .collect()
}

impl From<ReportRow> for Report {
    fn from(r: ReportRow) -> Self {
        let done = r.state == "completed";
        Report {
            id: r.id.to_string(),
            plan_id: r.plan_id.to_string(),
            period: r.period,
            state: r.state,
            percent: r.percent,
            step: r.step,
            error: r.error,
            title: r.title,
            as_of: r.as_of.map(rfc3339).unwrap_or_default(),
            summary: r.summary,
            headline: r.headline.map(|h| h.0),
            export_paths: if done { export_paths(r.id) } else { Vec::new() },
            requested_at: rfc3339(r.requested_at),
            completed_at: r.completed_at.map(rfc3339).unwrap_or_default(),
            plan_revision: r.plan_revision as u32,
        }
    }
}

/// What a new report job asks for.
pub struct NewReport<'a> {
    pub plan_id: Uuid,
    pub period: &'a str,
    pub number_symbol: &'a str,
    pub report_date: Option<NaiveDate>,
    pub title: &'a str,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }

    /// Unit ids of `ids` that the read models do not know, as field errors.
    async fn unknown_units(
        &self,
        tx: &mut PgConnection,
        ids: &[Uuid],
    ) -> Result<Vec<FieldError>, sqlx::Error> {
        let unknown: Vec<i64> = sqlx::query_scalar(
            "SELECT n - 1 FROM unnest($1::uuid[]) WITH ORDINALITY AS c(unit_id, n)
             WHERE NOT EXISTS (SELECT 1 FROM rm_units u WHERE u.unit_id = c.unit_id) ORDER BY n",
        )
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        Ok(unknown
            .into_iter()
            .map(|i| FieldError {
                field: format!("unit_ids[{i}]"),
                message: "names no unit known to reporting".into(),
            })
            .collect())
    }

    pub async fn create_plan(
        &self,
        caller: Uuid,
        checked: &CheckedPlan,
        key: Option<&str>,
    ) -> Result<Plan, Error> {
        let mut tx = self.pool.begin().await?;
        let doc = document(&checked.plan);
        if let Some(key) = key {
            let seen: Option<(Uuid, String)> = sqlx::query_as(
                "SELECT id, request_hash FROM plans WHERE created_by = $1 AND idempotency_key = $2",
            )
            .bind(caller)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, hash)) = seen {
                // A retry returns the plan it made (as it is now), as long as it asks
                // for the same.
                if hash != request_hash(&doc) {
                    return Err(Error::KeyReused);
                }
                let row: PlanRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"
                )))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                return Ok(row.into_plan());
            }
        }
        let unknown = self.unknown_units(&mut tx, &checked.unit_ids).await?;
        if !unknown.is_empty() {
            return Err(Error::Rule {
                message: "the plan covers units reporting does not know".into(),
                errors: unknown,
            });
        }
        let inserted: Result<PlanRow, sqlx::Error> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO plans (id, revision, number_symbol, year, document, created_by, idempotency_key, request_hash)
             VALUES ($1, 1, $2, $3, $4, $5, $6, $7) RETURNING {PLAN_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(&doc.number_symbol)
        .bind(doc.year)
        .bind(sqlx::types::Json(&doc))
        .bind(caller)
        .bind(key)
        .bind(request_hash(&doc))
        .fetch_one(&mut *tx)
        .await;
        let plan = match inserted {
            Ok(row) => row.into_plan(),
            Err(e) if violates(&e, "plans_number_year") => {
                return Err(Error::Conflict(format!(
                    "a plan {} for {} already exists",
                    doc.number_symbol, doc.year
                )));
            }
            Err(e) => return Err(e.into()),
        };
        self.outbox.enqueue(&mut tx, &plan_saved(&plan)).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(plan)
    }

    pub async fn update_plan(
        &self,
        id: Uuid,
        expected_revision: u32,
        checked: &CheckedPlan,
    ) -> Result<Plan, Error> {
        let mut tx = self.pool.begin().await?;
        let current: Option<i32> =
            sqlx::query_scalar("SELECT revision FROM plans WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.ok_or_else(|| Error::NotFound("no such plan".into()))?;
        if current as u32 != expected_revision {
            return Err(Error::Conflict(format!(
                "the plan is at revision {current}, not {expected_revision}; read it again"
            )));
        }
        let unknown = self.unknown_units(&mut tx, &checked.unit_ids).await?;
        if !unknown.is_empty() {
            return Err(Error::Rule {
                message: "the plan covers units reporting does not know".into(),
                errors: unknown,
            });
        }
        let doc = document(&checked.plan);
        let updated: Result<PlanRow, sqlx::Error> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE plans SET revision = revision + 1, number_symbol = $2, year = $3, document = $4, updated_at = now()
             WHERE id = $1 RETURNING {PLAN_COLUMNS}"
        )))
        .bind(id)
        .bind(&doc.number_symbol)
        .bind(doc.year)
        .bind(sqlx::types::Json(&doc))
        .fetch_one(&mut *tx)
        .await;
        let plan = match updated {
            Ok(row) => row.into_plan(),
            Err(e) if violates(&e, "plans_number_year") => {
                return Err(Error::Conflict(format!(
                    "a plan {} for {} already exists",
                    doc.number_symbol, doc.year
                )));
            }
            Err(e) => return Err(e.into()),
        };
        self.outbox.enqueue(&mut tx, &plan_saved(&plan)).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(plan)
    }

    pub async fn plan(&self, id: Uuid) -> Result<Option<(Plan, DateTime<Utc>)>, sqlx::Error> {
        let row: Option<PlanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            let at = r.updated_at;
            (r.into_plan(), at)
        }))
    }

    /// Plans newest first, after the cursor.
    pub async fn plans(
        &self,
        year: Option<i32>,
        limit: i64,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<(Plan, DateTime<Utc>)>, sqlx::Error> {
        let (after_at, after_id) = after.unzip();
        let rows: Vec<PlanRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PLAN_COLUMNS} FROM plans
             WHERE ($1::int IS NULL OR year = $1)
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4"
        )))
        .bind(year)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let at = r.created_at;
                (r.into_plan(), at)
            })
            .collect())
    }

    /// Queues a report job; with a key seen before, returns that job.
    pub async fn start_report(
        &self,
        caller: Uuid,
        r: &NewReport<'_>,
        plan_revision: u32,
        key: Option<&str>,
    ) -> Result<ReportRow, Error> {
        let mut tx = self.pool.begin().await?;
        if let Some(key) = key {
            let seen: Option<ReportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {REPORT_COLUMNS} FROM reports WHERE requested_by = $1 AND idempotency_key = $2"
            )))
            .bind(caller)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = seen {
                let same = row.plan_id == r.plan_id
                    && row.period == r.period
                    && row.number_symbol == r.number_symbol
                    && row.report_date == r.report_date
                    && row.requested_title == r.title;
                return if same { Ok(row) } else { Err(Error::KeyReused) };
            }
        }
        let row: ReportRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO reports (id, plan_id, plan_revision, period, number_symbol, report_date, title, requested_title, requested_by, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) RETURNING {REPORT_COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(r.plan_id)
        .bind(plan_revision as i32)
        .bind(r.period)
        .bind(r.number_symbol)
        .bind(r.report_date)
        .bind(r.title)
        .bind(caller)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn report(&self, id: Uuid) -> Result<Option<ReportRow>, sqlx::Error> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn reports(
        &self,
        plan_id: Option<Uuid>,
        limit: i64,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<ReportRow>, sqlx::Error> {
        let (after_at, after_id) = after.unzip();
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {REPORT_COLUMNS} FROM reports
             WHERE ($1::uuid IS NULL OR plan_id = $1)
               AND ($2::timestamptz IS NULL OR (requested_at, id) < ($2, $3))
             ORDER BY requested_at DESC, id DESC LIMIT $4"
        )))
        .bind(plan_id)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// A rendered export: content type, file name, bytes, SHA-256.
    pub async fn report_file(
        &self,
        id: Uuid,
        format: &str,
    ) -> Result<Option<(String, String, Vec<u8>, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT content_type, file_name, content, sha256 FROM report_files WHERE report_id = $1 AND format = $2",
        )
        .bind(id)
        .bind(format)
        .fetch_optional(&self.pool)
        .await
    }
}
