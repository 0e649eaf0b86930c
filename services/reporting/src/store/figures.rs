//! The read-model queries a report is computed from, one per section. Each is one
//! set-based query (GROUP BY in PostgreSQL) over the covered units, and all of them run
//! in one repeatable-read, read-only transaction ([`Store::figures`]) so the sections
//! agree with each other.
//!
//! The read models hold whatever the events carried, so a sum may not fit a bigint:
//! such sums come back as `None` (see `bigint`) and the report names the figure
//! that overflowed instead of PostgreSQL stopping the whole query.

use cchc_platform::vocabulary::change_type;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Error, Store};

/// What a report covers: its units and the days of its period.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub units: &'a [Uuid],
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The name and kind a unit carried at a given time.
#[derive(sqlx::FromRow, Debug)]
pub struct UnitName {
    pub unit_id: Uuid,
    /// `None`: the read models do not know the unit.
    pub name: Option<String>,
    pub kind: Option<String>,
    pub event_at: Option<DateTime<Utc>>,
}

/// A unit's current activities of one kind in the period.
#[derive(sqlx::FromRow, Debug)]
pub struct ActivityCount {
    pub unit_id: Uuid,
    pub kind: String,
    pub count: i64,
    pub head_count: Option<i64>,
    /// Of `count`, the records that corrected an earlier one.
    pub corrections: i64,
    pub event_at: Option<DateTime<Utc>>,
}

/// A version of a procedure that took effect in the period.
#[derive(sqlx::FromRow, Debug)]
pub struct ProcedureChange {
    pub code: String,
    pub version: i32,
    pub name: String,
    pub field: String,
    pub change_type: String,
    pub effective_date: NaiveDate,
    pub decision_number: String,
    pub event_at: DateTime<Utc>,
}

/// How many procedures are in force at the end of the period.
#[derive(sqlx::FromRow, Debug)]
pub struct InForce {
    pub in_force: i64,
    pub event_at: Option<DateTime<Utc>>,
}

/// A legal document that took effect in the period.
#[derive(sqlx::FromRow, Debug)]
pub struct LegalDocument {
    pub number_symbol: String,
    pub doc_type: String,
    pub summary: String,
    pub issuer: String,
    pub status: String,
    pub effective_date: NaiveDate,
    pub event_at: DateTime<Utc>,
}

/// A unit's postings at the end of the period: of the version then in force, or older.
#[derive(sqlx::FromRow, Debug)]
pub struct UnitPostings {
    pub unit_id: Uuid,
    pub current: i64,
    pub stale: i64,
    pub event_at: Option<DateTime<Utc>>,
}

/// A unit's posting of an older version than the one in force.
#[derive(sqlx::FromRow, Debug)]
pub struct StalePosting {
    pub unit_id: Uuid,
    pub code: String,
    pub name: String,
    pub posted_version: i32,
    pub current_version: i32,
}

/// A unit's one-stop results (kết quả một cửa) over the submissions chosen for the
/// period; flows are sums, stocks come from the first or last submission.
#[derive(sqlx::FromRow, Debug)]
pub struct OneStop {
    pub unit_id: Uuid,
    pub periods: Vec<String>,
    pub received_online: Option<i64>,
    pub received_in_person_or_post: Option<i64>,
    pub received_carried_over: i64,
    pub resolved_early: Option<i64>,
    pub resolved_on_time: Option<i64>,
    pub resolved_late: Option<i64>,
    pub pending_within_time: i64,
    pub pending_overdue: i64,
    pub returned_withdrawn: Option<i64>,
    pub event_at: Option<DateTime<Utc>>,
}

/// A unit's satisfaction survey answers over the submissions chosen for the period.
#[derive(sqlx::FromRow, Debug)]
pub struct Satisfaction {
    pub unit_id: Uuid,
    pub periods: Vec<String>,
    pub responses: Option<i64>,
    pub very_satisfied: Option<i64>,
    pub satisfied: Option<i64>,
    pub dissatisfied: Option<i64>,
    pub event_at: Option<DateTime<Utc>>,
}

/// One survey criterion's answers over every covered unit.
#[derive(sqlx::FromRow, Debug)]
pub struct Criterion {
    pub name: String,
    pub very_satisfied: Option<i64>,
    pub satisfied: Option<i64>,
    pub dissatisfied: Option<i64>,
}

/// A unit's budget for the year, as last revised.
#[derive(sqlx::FromRow, Debug)]
pub struct Budget {
    pub unit_id: Uuid,
    pub planned_total_vnd: i64,
    pub spent_total_vnd: i64,
    pub event_at: DateTime<Utc>,
}

/// `sum` (a numeric expression) as a bigint, or NULL when it does not fit one.
fn bigint(sum: &str) -> String {
    format!(
        "(CASE WHEN ({sum}) BETWEEN {} AND {} THEN ({sum})::bigint END)",
        i64::MIN,
        i64::MAX
    )
}

/// Each procedure's version in force at `$2` and the units' newest postings of it by
/// then; `$1` the units.
const POSTINGS: &str = "WITH cur AS (
       SELECT DISTINCT ON (code) code, version, change_type, name FROM rm_procedure_changes
       WHERE effective_date <= $2 ORDER BY code, version DESC
     ), posted AS (
       SELECT unit_id, code, max(version) AS version, max(event_at) AS event_at FROM rm_postings
       WHERE unit_id = ANY($1) AND posted_on <= $2 GROUP BY unit_id, code
     )";

/// Per unit, the submission for the period itself, or else those of its largest parts
/// (halves, then quarters, then months), each at its latest revision; `$1` the units,
/// `$2` and `$3` the period.
fn chosen(table: &str) -> String {
    format!(
        "WITH cur AS (
           SELECT DISTINCT ON (unit_id, period) *,
             CASE WHEN period !~ '-' THEN 4 WHEN period ~* '-h' THEN 3 WHEN period ~* '-q' THEN 2 ELSE 1 END AS grain
           FROM {table} WHERE unit_id = ANY($1) AND period_start >= $2 AND period_end <= $3
           ORDER BY unit_id, period, revision DESC
         ), ranked AS (
           SELECT *, max(grain) OVER (PARTITION BY unit_id) AS top FROM cur
         ), chosen AS (SELECT * FROM ranked WHERE grain = top)"
    )
}

/// Binds a [`Scope`] as parameters `$1` (the units), `$2` and `$3` (the period).
trait BindScope<'q> {
    fn bind_scope(self, s: Scope<'q>) -> Self;
}

impl<'q, O> BindScope<'q> for QueryAs<'q, Postgres, O, PgArguments> {
    fn bind_scope(self, s: Scope<'q>) -> Self {
        self.bind(s.units).bind(s.start).bind(s.end)
    }
}

/// The read models as of one moment, for the sections of one report.
pub struct Figures {
    tx: Transaction<'static, Postgres>,
}

impl Store {
    /// Opens the consistent view a report's sections are read from.
    pub async fn figures(&self) -> Result<Figures, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        Ok(Figures { tx })
    }
}

impl Figures {
    /// Every unit of `units`, with the name it carried at `at` (or else its first).
    pub async fn units(
        &mut self,
        units: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<Vec<UnitName>, Error> {
        Ok(sqlx::query_as(
            "SELECT c.unit_id, n.name, n.kind, n.event_at
             FROM unnest($1::uuid[]) AS c(unit_id)
             LEFT JOIN LATERAL (
               SELECT name, kind, event_at FROM rm_unit_names x WHERE x.unit_id = c.unit_id
               ORDER BY (x.event_at < $2) DESC, CASE WHEN x.event_at < $2 THEN x.event_at END DESC, x.event_at, x.name
               LIMIT 1
             ) n ON true",
        )
        .bind(units)
        .bind(at)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Current records only: one that a correction superseded no longer counts.
    ///
    /// `s.supersedes IS NOT NULL` is implied by the join, but said it lets the planner
    /// count the corrections from the column's statistics (few) rather than take the
    /// whole table: over 5,000,000 activities it had sized the anti-join's hash for
    /// every row, in 64 batches, and the query took 1.5 s instead of 0.84 s. The
    /// dashboard's queries say it for the same reason.
    pub async fn activities(&mut self, s: Scope<'_>) -> Result<Vec<ActivityCount>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT a.unit_id, a.kind, count(*) AS count, {} AS head_count,
                count(*) FILTER (WHERE a.supersedes IS NOT NULL) AS corrections,
                max(a.event_at) AS event_at
             FROM rm_activities a
             WHERE a.unit_id = ANY($1) AND a.date BETWEEN $2 AND $3
               AND NOT EXISTS (SELECT 1 FROM rm_activities s WHERE s.supersedes = a.activity_id AND s.supersedes IS NOT NULL)
             GROUP BY a.unit_id, a.kind",
            bigint("coalesce(sum(a.head_count), 0)")
        )))
        .bind_scope(s)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    pub async fn procedure_changes(&mut self, s: Scope<'_>) -> Result<Vec<ProcedureChange>, Error> {
        Ok(sqlx::query_as(
            "SELECT code, version, name, field, change_type, effective_date, decision_number, event_at
             FROM rm_procedure_changes WHERE effective_date BETWEEN $1 AND $2
             ORDER BY effective_date, code, version",
        )
        .bind(s.start)
        .bind(s.end)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Procedures whose newest version by the period's end does not abolish them.
    pub async fn procedures_in_force(&mut self, s: Scope<'_>) -> Result<InForce, Error> {
        Ok(sqlx::query_as(
            "SELECT count(*) FILTER (WHERE change_type <> $2) AS in_force, max(event_at) AS event_at FROM (
               SELECT DISTINCT ON (code) change_type, event_at FROM rm_procedure_changes
               WHERE effective_date <= $1 ORDER BY code, version DESC) c",
        )
        .bind(s.end)
        .bind(change_type::ABOLISHED)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    pub async fn legal_documents(&mut self, s: Scope<'_>) -> Result<Vec<LegalDocument>, Error> {
        Ok(sqlx::query_as(
            "SELECT number_symbol, type AS doc_type, summary, issuer, status, effective_date, event_at
             FROM rm_legal_documents WHERE effective_date BETWEEN $1 AND $2
             ORDER BY effective_date, number_symbol, id",
        )
        .bind(s.start)
        .bind(s.end)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Per unit, its posting confirmations dated in the period (each version of each
    /// procedure posted counts once), and the newest one's event time.
    pub async fn postings_made(
        &mut self,
        s: Scope<'_>,
    ) -> Result<Vec<(Uuid, i64, Option<DateTime<Utc>>)>, Error> {
        Ok(sqlx::query_as(
            "SELECT unit_id, count(DISTINCT (code, version))::bigint, max(event_at) FROM rm_postings
             WHERE unit_id = ANY($1) AND posted_on BETWEEN $2 AND $3 GROUP BY unit_id",
        )
        .bind(s.units)
        .bind(s.start)
        .bind(s.end)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// A posting is current when the unit had posted (by the period's end) the version
    /// then in force; postings of abolished procedures no longer count.
    pub async fn postings(&mut self, s: Scope<'_>) -> Result<Vec<UnitPostings>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{POSTINGS}
             SELECT p.unit_id, count(*) FILTER (WHERE p.version >= c.version) AS current,
                    count(*) FILTER (WHERE p.version < c.version) AS stale, max(p.event_at) AS event_at
             FROM posted p JOIN cur c USING (code) WHERE c.change_type <> $3
             GROUP BY p.unit_id"
        )))
        .bind(s.units)
        .bind(s.end)
        .bind(change_type::ABOLISHED)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    pub async fn stale_postings(&mut self, s: Scope<'_>) -> Result<Vec<StalePosting>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{POSTINGS}
             SELECT p.unit_id, p.code, c.name, p.version AS posted_version, c.version AS current_version
             FROM posted p JOIN cur c USING (code)
             WHERE c.change_type <> $3 AND p.version < c.version"
        )))
        .bind(s.units)
        .bind(s.end)
        .bind(change_type::ABOLISHED)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Flows are added up; what was pending is taken from the last part and what was
    /// carried over from the first.
    pub async fn one_stop(&mut self, s: Scope<'_>) -> Result<Vec<OneStop>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{}
             SELECT unit_id, array_agg(period ORDER BY period_start) AS periods,
               {} AS received_online, {} AS received_in_person_or_post,
               (array_agg(received_carried_over ORDER BY period_start))[1] AS received_carried_over,
               {} AS resolved_early, {} AS resolved_on_time, {} AS resolved_late,
               (array_agg(pending_within_time ORDER BY period_start DESC))[1] AS pending_within_time,
               (array_agg(pending_overdue ORDER BY period_start DESC))[1] AS pending_overdue,
               {} AS returned_withdrawn, max(event_at) AS event_at
             FROM chosen GROUP BY unit_id",
            chosen("rm_one_stop"),
            bigint("sum(received_online)"),
            bigint("sum(received_in_person_or_post)"),
            bigint("sum(resolved_early)"),
            bigint("sum(resolved_on_time)"),
            bigint("sum(resolved_late)"),
            bigint("sum(returned_withdrawn)"),
        )))
        .bind_scope(s)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    pub async fn satisfaction(&mut self, s: Scope<'_>) -> Result<Vec<Satisfaction>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{}
             SELECT s.unit_id, array_agg(s.period ORDER BY s.period_start) AS periods,
               {} AS responses, {} AS very_satisfied, {} AS satisfied, {} AS dissatisfied,
               max(s.event_at) AS event_at
             FROM chosen s LEFT JOIN LATERAL (
               SELECT sum(very_satisfied) AS v, sum(satisfied) AS s, sum(dissatisfied) AS d
               FROM rm_satisfaction_criteria WHERE submission_id = s.submission_id
             ) k ON true
             GROUP BY s.unit_id",
            chosen("rm_satisfaction"),
            bigint("sum(s.responses)"),
            bigint("coalesce(sum(k.v), 0)"),
            bigint("coalesce(sum(k.s), 0)"),
            bigint("coalesce(sum(k.d), 0)"),
        )))
        .bind_scope(s)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// The survey's criteria, by name, over the same submissions as [`Figures::satisfaction`].
    pub async fn criteria(&mut self, s: Scope<'_>) -> Result<Vec<Criterion>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{}
             SELECT k.name, {} AS very_satisfied, {} AS satisfied, {} AS dissatisfied
             FROM chosen s JOIN rm_satisfaction_criteria k USING (submission_id)
             GROUP BY k.name ORDER BY k.name",
            chosen("rm_satisfaction"),
            bigint("sum(k.very_satisfied)"),
            bigint("sum(k.satisfied)"),
            bigint("sum(k.dissatisfied)"),
        )))
        .bind_scope(s)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Each unit's budget for the calendar `year`.
    pub async fn budget(&mut self, units: &[Uuid], year: i32) -> Result<Vec<Budget>, Error> {
        Ok(sqlx::query_as(
            "SELECT DISTINCT ON (unit_id) unit_id, planned_total_vnd, spent_total_vnd, event_at
             FROM rm_budget WHERE unit_id = ANY($1) AND year = $2 ORDER BY unit_id, revision DESC",
        )
        .bind(units)
        .bind(year)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Ends the view.
    /// The covered units' standing submissions of period `key` of plan `plan_id`:
    /// when each was made and whether after the due date.
    pub async fn submissions(
        &mut self,
        plan_id: Uuid,
        key: &str,
    ) -> Result<Vec<(Uuid, DateTime<Utc>, bool)>, Error> {
        Ok(sqlx::query_as(
            "SELECT unit_id, submitted_at, late FROM period_submissions
             WHERE plan_id = $1 AND period_key = $2 AND reopened_at IS NULL",
        )
        .bind(plan_id)
        .bind(key)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    pub async fn close(self) -> Result<(), Error> {
        Ok(self.tx.commit().await?)
    }
}
