//! One-stop results, one revision per submission of (unit, period).

use cchc_proto::activity::v1::OneStopResult;
use cchc_proto::events::v1::OneStopResultSubmitted;
use uuid::Uuid;

use super::{Error, Prior, Slot, Store, SubmissionFilter, list_submissions, timestamp};
use crate::domain::one_stop::{Counters, OneStopFigures};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    unit_id: Uuid,
    period: String,
    period_start: chrono::NaiveDate,
    period_end: chrono::NaiveDate,
    revision: i32,
    received_online: i64,
    received_in_person_or_post: i64,
    received_carried_over: i64,
    resolved_early: i64,
    resolved_on_time: i64,
    resolved_late: i64,
    pending_within_time: i64,
    pending_overdue: i64,
    returned_withdrawn: i64,
    note: String,
    submitted_at: chrono::DateTime<chrono::Utc>,
    current: bool,
}

const TABLE: &str = "one_stop_results";
const COLUMNS: &str = "t.id, t.unit_id, t.period, t.period_start, t.period_end, t.revision,
    t.received_online, t.received_in_person_or_post, t.received_carried_over,
    t.resolved_early, t.resolved_on_time, t.resolved_late, t.pending_within_time, t.pending_overdue,
    t.returned_withdrawn, t.note, t.submitted_at,
    NOT EXISTS (SELECT 1 FROM one_stop_results n
                WHERE n.unit_id = t.unit_id AND n.period = t.period AND n.revision > t.revision) AS current";

impl Row {
    fn counters(&self) -> Counters {
        Counters {
            received_online: self.received_online,
            received_in_person_or_post: self.received_in_person_or_post,
            received_carried_over: self.received_carried_over,
            resolved_early: self.resolved_early,
            resolved_on_time: self.resolved_on_time,
            resolved_late: self.resolved_late,
            pending_within_time: self.pending_within_time,
            pending_overdue: self.pending_overdue,
            returned_withdrawn: self.returned_withdrawn,
        }
    }

    fn is(&self, f: &OneStopFigures) -> bool {
        self.period == f.period().to_string()
            && self.counters() == *f.counters()
            && self.note == f.note()
    }

    fn event(&self, supersedes: Option<Uuid>) -> OneStopResultSubmitted {
        OneStopResultSubmitted {
            submission_id: self.id.to_string(),
            unit_id: self.unit_id.to_string(),
            period: self.period.clone(),
            period_start: self.period_start.to_string(),
            period_end: self.period_end.to_string(),
            revision: self.revision as u32,
            supersedes: supersedes.map(|s| s.to_string()).unwrap_or_default(),
            received_online: self.received_online,
            received_in_person_or_post: self.received_in_person_or_post,
            received_carried_over: self.received_carried_over,
            resolved_early: self.resolved_early,
            resolved_on_time: self.resolved_on_time,
            resolved_late: self.resolved_late,
            pending_within_time: self.pending_within_time,
            pending_overdue: self.pending_overdue,
            returned_withdrawn: self.returned_withdrawn,
            submitted_at: timestamp(&self.submitted_at),
        }
    }
}

impl From<Row> for OneStopResult {
    fn from(r: Row) -> Self {
        let c = r.counters();
        OneStopResult {
            id: r.id.to_string(),
            unit_id: r.unit_id.to_string(),
            period: r.period,
            period_start: r.period_start.to_string(),
            period_end: r.period_end.to_string(),
            received: Some(c.received()),
            resolved: Some(c.resolved()),
            pending: Some(c.pending()),
            returned_withdrawn: c.returned_withdrawn,
            on_time_rate: c.on_time_rate(),
            note: r.note,
            revision: r.revision as u32,
            current: r.current,
            submitted_at: timestamp(&r.submitted_at),
        }
    }
}

impl Store {
    /// Makes `f` the current one-stop result of (unit, period), keeping the previous
    /// one as history, with its event. Figures equal to the current ones, or a retry
    /// with a known key, change nothing and return what is stored.
    pub async fn submit_one_stop(
        &self,
        unit_id: Uuid,
        f: &OneStopFigures,
        idempotency_key: Option<&str>,
    ) -> Result<OneStopResult, Error> {
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
        let c = f.counters();
        let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {TABLE} AS t (id, unit_id, period, period_start, period_end, revision,
                 received_online, received_in_person_or_post, received_carried_over,
                 resolved_early, resolved_on_time, resolved_late, pending_within_time, pending_overdue,
                 returned_withdrawn, note, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(unit_id)
        .bind(&period)
        .bind(f.period().start())
        .bind(f.period().end())
        .bind(current.as_ref().map_or(1, |c| c.revision + 1))
        .bind(c.received_online)
        .bind(c.received_in_person_or_post)
        .bind(c.received_carried_over)
        .bind(c.resolved_early)
        .bind(c.resolved_on_time)
        .bind(c.resolved_late)
        .bind(c.pending_within_time)
        .bind(c.pending_overdue)
        .bind(c.returned_withdrawn)
        .bind(f.note())
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

    pub async fn list_one_stop(&self, f: &SubmissionFilter) -> Result<Vec<OneStopResult>, Error> {
        let rows: Vec<Row> = list_submissions(&self.pool, TABLE, COLUMNS, f).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
