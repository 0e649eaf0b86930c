//! Satisfaction surveys, one revision per submission of (unit, period).

use cchc_proto::activity::v1::SatisfactionSurvey;
use cchc_proto::events::v1::{SatisfactionCriterion, SatisfactionSubmitted};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Error, Prior, Slot, Store, SubmissionFilter, list_submissions, timestamp};
use crate::domain::satisfaction::{Criterion, SatisfactionFigures, overall_rate};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    unit_id: Uuid,
    period: String,
    period_start: chrono::NaiveDate,
    period_end: chrono::NaiveDate,
    revision: i32,
    responses: i64,
    criteria: Json<Vec<Criterion>>,
    submitted_at: chrono::DateTime<chrono::Utc>,
    current: bool,
}

const TABLE: &str = "satisfaction_surveys";
const COLUMNS: &str = "t.id, t.unit_id, t.period, t.period_start, t.period_end, t.revision,
    t.responses, t.criteria, t.submitted_at,
    NOT EXISTS (SELECT 1 FROM satisfaction_surveys n
                WHERE n.unit_id = t.unit_id AND n.period = t.period AND n.revision > t.revision) AS current";

impl Row {
    fn is(&self, f: &SatisfactionFigures) -> bool {
        self.period == f.period().to_string()
            && self.responses == f.responses()
            && self.criteria.0 == f.criteria()
    }

    fn event(&self, supersedes: Option<Uuid>) -> SatisfactionSubmitted {
        SatisfactionSubmitted {
            submission_id: self.id.to_string(),
            unit_id: self.unit_id.to_string(),
            period: self.period.clone(),
            period_start: self.period_start.to_string(),
            period_end: self.period_end.to_string(),
            revision: self.revision as u32,
            supersedes: supersedes.map(|s| s.to_string()).unwrap_or_default(),
            responses: self.responses,
            criteria: self
                .criteria
                .0
                .iter()
                .map(|c| SatisfactionCriterion {
                    name: c.name.clone(),
                    very_satisfied: c.very_satisfied,
                    satisfied: c.satisfied,
                    dissatisfied: c.dissatisfied,
                })
                .collect(),
            submitted_at: timestamp(&self.submitted_at),
        }
    }
}

impl From<Row> for SatisfactionSurvey {
    fn from(r: Row) -> Self {
        SatisfactionSurvey {
            id: r.id.to_string(),
            unit_id: r.unit_id.to_string(),
            period: r.period,
            period_start: r.period_start.to_string(),
            period_end: r.period_end.to_string(),
            responses: r.responses,
            criteria: r
                .criteria
                .0
                .iter()
                .map(|c| c.to_proto(r.responses))
                .collect(),
            satisfied_rate: overall_rate(r.responses, &r.criteria.0),
            revision: r.revision as u32,
            current: r.current,
            submitted_at: timestamp(&r.submitted_at),
        }
    }
}

impl Store {
    /// Makes `f` the current survey of (unit, period), keeping the previous one as
    /// history, with its event. Unchanged figures or a retry change nothing.
    pub async fn submit_satisfaction(
        &self,
        unit_id: Uuid,
        f: &SatisfactionFigures,
        idempotency_key: Option<&str>,
    ) -> Result<SatisfactionSurvey, Error> {
        let period = f.period().to_string();
        let slot = Slot {
            table: TABLE,
            columns: COLUMNS,
            unit_id,
            period: &period,
        };
        let mut tx = self.pool.begin().await?;
        let current = match slot.prior::<Row>(&mut tx, idempotency_key).await? {
            Prior::Retry(first) if first.is(f) => return Ok(first.into()),
            Prior::Retry(_) => return Err(Error::KeyReused),
            Prior::Current(Some(c)) if c.is(f) => return Ok(c.into()),
            Prior::Current(c) => c,
        };
        let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {TABLE} AS t (id, unit_id, period, period_start, period_end, revision,
                 responses, criteria, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(unit_id)
        .bind(&period)
        .bind(f.period().start())
        .bind(f.period().end())
        .bind(current.as_ref().map_or(1, |c| c.revision + 1))
        .bind(f.responses())
        .bind(Json(f.criteria()))
        .bind(idempotency_key)
        .fetch_one(&mut *tx)
        .await?;
        self.outbox
            .enqueue(&mut tx, &row.event(current.map(|c| c.id)))
            .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(row.into())
    }

    pub async fn list_satisfaction(
        &self,
        f: &SubmissionFilter,
    ) -> Result<Vec<SatisfactionSurvey>, Error> {
        let rows: Vec<Row> = list_submissions(&self.pool, TABLE, COLUMNS, f).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
