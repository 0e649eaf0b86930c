//! Budget lines, one revision per submission of (unit, year); a revision replaces all
//! of the year's lines.

use cchc_proto::activity::v1::BudgetLines;
use cchc_proto::events::v1::{BudgetLineFigures, BudgetSubmitted};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Error, Prior, Slot, Store, SubmissionFilter, list_submissions, timestamp};
use crate::domain::budget::{BudgetFigures, Line};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    unit_id: Uuid,
    year: i32,
    revision: i32,
    lines: Json<Vec<Line>>,
    planned_total_vnd: i64,
    spent_total_vnd: i64,
    submitted_at: chrono::DateTime<chrono::Utc>,
    current: bool,
}

const TABLE: &str = "budget_submissions";
const COLUMNS: &str = "t.id, t.unit_id, t.year, t.revision, t.lines, t.planned_total_vnd,
    t.spent_total_vnd, t.submitted_at,
    NOT EXISTS (SELECT 1 FROM budget_submissions n
                WHERE n.unit_id = t.unit_id AND n.period = t.period AND n.revision > t.revision) AS current";

impl Row {
    fn is(&self, f: &BudgetFigures) -> bool {
        self.year == f.year() && self.lines.0 == f.lines()
    }

    fn event(&self, supersedes: Option<Uuid>) -> BudgetSubmitted {
        BudgetSubmitted {
            submission_id: self.id.to_string(),
            unit_id: self.unit_id.to_string(),
            year: self.year,
            revision: self.revision as u32,
            supersedes: supersedes.map(|s| s.to_string()).unwrap_or_default(),
            lines: self
                .lines
                .0
                .iter()
                .map(|l| BudgetLineFigures {
                    item: l.item.clone(),
                    funding_source: l.funding_source.clone(),
                    planned_vnd: l.planned_vnd,
                    spent_vnd: l.spent_vnd,
                })
                .collect(),
            planned_total_vnd: self.planned_total_vnd,
            spent_total_vnd: self.spent_total_vnd,
            submitted_at: timestamp(&self.submitted_at),
        }
    }
}

impl From<Row> for BudgetLines {
    fn from(r: Row) -> Self {
        BudgetLines {
            id: r.id.to_string(),
            unit_id: r.unit_id.to_string(),
            year: r.year,
            lines: r.lines.0.iter().map(Into::into).collect(),
            planned_total_vnd: r.planned_total_vnd,
            spent_total_vnd: r.spent_total_vnd,
            revision: r.revision as u32,
            current: r.current,
            submitted_at: timestamp(&r.submitted_at),
        }
    }
}

impl Store {
    /// Makes `f` the current lines of (unit, year), keeping the previous ones as
    /// history, with its event. Unchanged lines or a retry change nothing.
    pub async fn submit_budget(
        &self,
        unit_id: Uuid,
        f: &BudgetFigures,
        idempotency_key: Option<&str>,
    ) -> Result<BudgetLines, Error> {
        let period = f.year().to_string();
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
            "INSERT INTO {TABLE} AS t (id, unit_id, period, year, revision, lines,
                 planned_total_vnd, spent_total_vnd, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(unit_id)
        .bind(&period)
        .bind(f.year())
        .bind(current.as_ref().map_or(1, |c| c.revision + 1))
        .bind(Json(f.lines()))
        .bind(f.planned_total())
        .bind(f.spent_total())
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

    pub async fn list_budgets(&self, f: &SubmissionFilter) -> Result<Vec<BudgetLines>, Error> {
        let rows: Vec<Row> = list_submissions(&self.pool, TABLE, COLUMNS, f).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
