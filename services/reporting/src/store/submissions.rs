//! Period submissions (nộp báo cáo): a covered unit signs off its figures for a period
//! of a plan, the office reopens one to have it submitted again. Each change leaves
//! with its event in the same transaction.

use cchc_platform::Actor;
use cchc_platform::time::stamp;
use cchc_platform::validation::{FieldError, Rule};
use cchc_proto::events::v1::{PeriodReopened, PeriodSubmitted};
use cchc_proto::reporting::v1::{Plan, PlanPeriod};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Error, Store};

/// A period of a plan as a submission needs it: its key, first day and due date.
#[derive(Debug, Clone)]
pub struct Due {
    pub key: String,
    pub start: NaiveDate,
    pub due: NaiveDate,
}

impl Due {
    fn of(p: &PlanPeriod) -> Option<Self> {
        Some(Self {
            key: p.key.clone(),
            start: p.start.parse().ok()?,
            due: p.due_date.parse().ok()?,
        })
    }
}

/// One stored submission.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SubmissionRow {
    pub unit_id: Uuid,
    pub submitted_at: DateTime<Utc>,
    pub submitted_by: String,
    pub late: bool,
    pub note: String,
    pub reopened_at: Option<DateTime<Utc>>,
    pub reopened_by: Option<String>,
    pub reopen_reason: String,
}

/// A covered unit and its submission, if it made one.
#[derive(Debug, Clone)]
pub struct UnitSubmission {
    pub unit_id: Uuid,
    pub name: String,
    pub row: Option<SubmissionRow>,
}

const COLUMNS: &str =
    "unit_id, submitted_at, submitted_by, late, note, reopened_at, reopened_by, reopen_reason";

/// The plan `plan_id` (held against a concurrent save until the transaction ends) and
/// its period `key`.
async fn plan_period(
    tx: &mut PgConnection,
    plan_id: Uuid,
    key: &str,
) -> Result<(Plan, Due), Error> {
    let plan: Option<sqlx::types::Json<Plan>> =
        sqlx::query_scalar("SELECT document FROM plans WHERE id = $1 FOR SHARE")
            .bind(plan_id)
            .fetch_optional(&mut *tx)
            .await?;
    let plan = plan
        .ok_or_else(|| Error::NotFound("no such plan".into()))?
        .0;
    let due = plan
        .periods
        .iter()
        .find(|p| p.key == key)
        .and_then(Due::of)
        .ok_or_else(|| Error::NotFound(format!("the plan has no period {key}")))?;
    Ok((plan, due))
}

async fn row(
    tx: &mut PgConnection,
    plan_id: Uuid,
    key: &str,
    unit_id: Uuid,
) -> Result<Option<SubmissionRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM period_submissions
         WHERE plan_id = $1 AND period_key = $2 AND unit_id = $3 FOR UPDATE"
    )))
    .bind(plan_id)
    .bind(key)
    .bind(unit_id)
    .fetch_optional(&mut *tx)
    .await?)
}

impl Store {
    /// Unit `unit_id` submits period `key` of plan `plan_id` on `today`, attributed to
    /// `actor`. Refused when the plan does not cover the unit, before the period has
    /// begun, and when it stands submitted already.
    pub async fn submit_period(
        &self,
        actor: &Actor,
        plan_id: Uuid,
        key: &str,
        unit_id: Uuid,
        note: &str,
        today: NaiveDate,
    ) -> Result<(Due, SubmissionRow), Error> {
        let mut tx = self.pool.begin().await?;
        let (plan, due) = plan_period(&mut tx, plan_id, key).await?;
        if !plan.unit_ids.iter().any(|u| u.parse() == Ok(unit_id)) {
            return Err(Error::Conflict(format!(
                "plan {} does not cover this unit",
                plan.number_symbol
            )));
        }
        if today < due.start {
            return Err(Error::Rule {
                message: format!(
                    "period {key} begins on {}; it cannot be submitted before",
                    due.start.format("%d/%m/%Y")
                ),
                errors: vec![FieldError::new("period", Rule::PeriodNotBegun)],
            });
        }
        if let Some(r) = row(&mut tx, plan_id, key, unit_id).await?
            && r.reopened_at.is_none()
        {
            return Err(Error::Conflict(format!(
                "period {key} was submitted already, at {}; the Department Office can reopen it",
                stamp(&r.submitted_at)
            )));
        }
        let late = today > due.due;
        let saved: SubmissionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO period_submissions
               (plan_id, period_key, unit_id, submitted_at, submitted_by, late, note)
             VALUES ($1, $2, $3, now(), $4, $5, $6)
             ON CONFLICT (plan_id, period_key, unit_id) DO UPDATE SET
               submitted_at = now(), submitted_by = $4, late = $5, note = $6,
               reopened_at = NULL, reopened_by = NULL, reopen_reason = ''
             RETURNING {COLUMNS}"
        )))
        .bind(plan_id)
        .bind(key)
        .bind(unit_id)
        .bind(actor.to_string())
        .bind(late)
        .bind(note)
        .fetch_one(&mut *tx)
        .await?;
        let event = PeriodSubmitted {
            plan_id: plan_id.to_string(),
            period: key.to_owned(),
            unit_id: unit_id.to_string(),
            submitted_at: stamp(&saved.submitted_at),
            late,
            due_date: due.due.to_string(),
        };
        self.outbox.enqueue(&mut tx, actor, &event).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok((due, saved))
    }

    /// The office reopens unit `unit_id`'s submission of period `key`: the unit has
    /// not reported for it until it submits again.
    pub async fn reopen_period(
        &self,
        actor: &Actor,
        plan_id: Uuid,
        key: &str,
        unit_id: Uuid,
        reason: &str,
    ) -> Result<(Due, SubmissionRow), Error> {
        let mut tx = self.pool.begin().await?;
        let (_, due) = plan_period(&mut tx, plan_id, key).await?;
        match row(&mut tx, plan_id, key, unit_id).await? {
            None => {
                return Err(Error::Conflict(format!(
                    "the unit has not submitted period {key}; there is nothing to reopen"
                )));
            }
            Some(r) if r.reopened_at.is_some() => {
                return Err(Error::Conflict(format!(
                    "period {key} is reopened already; the unit has not submitted it again"
                )));
            }
            Some(_) => {}
        }
        let saved: SubmissionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE period_submissions SET reopened_at = now(), reopened_by = $4, reopen_reason = $5
             WHERE plan_id = $1 AND period_key = $2 AND unit_id = $3 RETURNING {COLUMNS}"
        )))
        .bind(plan_id)
        .bind(key)
        .bind(unit_id)
        .bind(actor.to_string())
        .bind(reason)
        .fetch_one(&mut *tx)
        .await?;
        let event = PeriodReopened {
            plan_id: plan_id.to_string(),
            period: key.to_owned(),
            unit_id: unit_id.to_string(),
            reason: reason.to_owned(),
        };
        self.outbox.enqueue(&mut tx, actor, &event).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok((due, saved))
    }

    /// Every unit plan `plan_id` covers with its submission of period `key` (only
    /// `only`, when given), in the Department's order of units (by kind, then name).
    pub async fn period_submissions(
        &self,
        plan_id: Uuid,
        key: &str,
        only: Option<Uuid>,
    ) -> Result<(Due, Vec<UnitSubmission>), Error> {
        let mut tx = self.pool.begin().await?;
        let (plan, due) = plan_period(&mut tx, plan_id, key).await?;
        let covered: Vec<Uuid> = plan
            .unit_ids
            .iter()
            .filter_map(|u| u.parse().ok())
            .filter(|u| only.is_none_or(|o| o == *u))
            .collect();
        let names: Vec<(Uuid, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT c.unit_id, coalesce(u.name, '')
             FROM unnest($1::uuid[]) AS c(unit_id) LEFT JOIN rm_units u USING (unit_id)
             ORDER BY {}, u.name, c.unit_id",
            cchc_platform::vocabulary::unit_kind::rank_sql("u.kind")
        )))
        .bind(&covered)
        .fetch_all(&mut *tx)
        .await?;
        let rows: Vec<SubmissionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM period_submissions WHERE plan_id = $1 AND period_key = $2"
        )))
        .bind(plan_id)
        .bind(key)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut rows: std::collections::HashMap<Uuid, SubmissionRow> =
            rows.into_iter().map(|r| (r.unit_id, r)).collect();
        let units = names
            .into_iter()
            .map(|(unit_id, name)| UnitSubmission {
                unit_id,
                name,
                row: rows.remove(&unit_id),
            })
            .collect();
        Ok((due, units))
    }
}
