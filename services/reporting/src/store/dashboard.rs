//! The dashboard's live counters, read straight from the read models.

use cchc_platform::vocabulary::procedure_status;
use chrono::{DateTime, Utc};

use super::{Error, Store};

/// A count of rows sharing one value (a status, a kind).
#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub value: String,
    pub count: i64,
}

#[derive(sqlx::FromRow, Debug, Clone, Copy, PartialEq, Eq)]
struct Postings {
    current: i64,
    stale: i64,
    units_with_stale: i64,
}

/// Activities of one kind in one month.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct MonthCount {
    pub month: i32,
    pub kind: String,
    pub count: i64,
}

/// One unit's figures: activities, postings, and its latest one-stop and satisfaction
/// periods with what their rates are made of.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct UnitRow {
    pub unit_id: uuid::Uuid,
    pub name: String,
    pub kind: String,
    pub activities: i64,
    pub postings_current: i64,
    pub postings_stale: i64,
    pub one_stop_period: Option<String>,
    pub in_time: Option<i64>,
    pub resolved: Option<i64>,
    pub satisfaction_period: Option<String>,
    pub content: Option<i64>,
    pub answered: Option<i64>,
}

/// The dashboard's figures, for one calendar year or for all time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardFigures {
    pub procedures_by_status: Vec<Count>,
    /// Current activities only: a corrected record counts once, as its correction.
    pub activities_by_kind: Vec<Count>,
    pub units_reporting: i64,
    /// Of published procedures, units' postings of the current version and of older ones.
    pub postings_current: i64,
    pub postings_stale: i64,
    pub units_with_stale_postings: i64,
    pub units_total: i64,
    pub units_with_one_stop_results: i64,
    /// The newest event the read models hold.
    pub as_of: Option<DateTime<Utc>>,
    pub activities_by_month: Vec<MonthCount>,
    pub units: Vec<UnitRow>,
}

impl Store {
    pub async fn dashboard(&self, year: Option<i32>) -> Result<DashboardFigures, Error> {
        let mut conn = self.pool.acquire().await?;
        let procedures_by_status: Vec<Count> = sqlx::query_as(
            "SELECT status AS value, count(*) FROM rm_procedures GROUP BY status ORDER BY status",
        )
        .fetch_all(&mut *conn)
        .await?;
        let activities_by_kind: Vec<Count> = sqlx::query_as(
            "SELECT kind AS value, count(*) FROM rm_activities a
             WHERE ($1::int IS NULL OR extract(year FROM date)::int = $1)
               AND NOT EXISTS (SELECT 1 FROM rm_activities s WHERE s.supersedes = a.activity_id AND s.supersedes IS NOT NULL)
             GROUP BY kind ORDER BY kind",
        )
        .bind(year)
        .fetch_all(&mut *conn)
        .await?;
        let units_reporting: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT unit_id) FROM rm_activities WHERE ($1::int IS NULL OR extract(year FROM date)::int = $1)",
        )
        .bind(year)
        .fetch_one(&mut *conn)
        .await?;
        // A unit's posting of a published procedure is current when it is of the
        // procedure's current version.
        let postings: Postings = sqlx::query_as(
            "WITH posted AS (SELECT unit_id, code, max(version) AS version FROM rm_postings GROUP BY unit_id, code)
             SELECT count(*) FILTER (WHERE p.version >= r.version) AS current,
                    count(*) FILTER (WHERE p.version < r.version) AS stale,
                    count(DISTINCT p.unit_id) FILTER (WHERE p.version < r.version) AS units_with_stale
             FROM posted p JOIN rm_procedures r USING (code) WHERE r.status = $1",
        )
        .bind(procedure_status::PUBLISHED)
        .fetch_one(&mut *conn)
        .await?;
        let units_total: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_units")
            .fetch_one(&mut *conn)
            .await?;
        let units_with_one_stop_results: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT unit_id) FROM rm_one_stop WHERE ($1::int IS NULL OR extract(year FROM period_start)::int = $1)",
        )
        .bind(year)
        .fetch_one(&mut *conn)
        .await?;
        let activities_by_month: Vec<MonthCount> = match year {
            None => Vec::new(),
            Some(y) => {
                sqlx::query_as(
                    "SELECT extract(month FROM date)::int AS month, kind, count(*) FROM rm_activities a
                     WHERE extract(year FROM date)::int = $1
                       AND NOT EXISTS (SELECT 1 FROM rm_activities s WHERE s.supersedes = a.activity_id AND s.supersedes IS NOT NULL)
                     GROUP BY 1, 2 ORDER BY 1, 2",
                )
                .bind(y)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        // A unit's rates come from its most recent period of the year (periods of
        // different lengths overlap, so they are not added up).
        let units: Vec<UnitRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "WITH os AS (SELECT DISTINCT ON (unit_id, period) * FROM rm_one_stop
                    WHERE $1::int IS NULL OR extract(year FROM period_start)::int = $1
                    ORDER BY unit_id, period, revision DESC),
             os_latest AS (SELECT DISTINCT ON (unit_id) unit_id, period,
                                  resolved_early + resolved_on_time AS in_time,
                                  resolved_early + resolved_on_time + resolved_late AS resolved
                           FROM os ORDER BY unit_id, period_end DESC, period_start),
             sat AS (SELECT DISTINCT ON (unit_id, period) * FROM rm_satisfaction
                     WHERE $1::int IS NULL OR extract(year FROM period_start)::int = $1
                     ORDER BY unit_id, period, revision DESC),
             sat_latest AS (SELECT DISTINCT ON (unit_id) unit_id, period, submission_id FROM sat
                            ORDER BY unit_id, period_end DESC, period_start),
             sat_rate AS (SELECT l.unit_id, l.period,
                                 sum(c.very_satisfied + c.satisfied)::bigint AS content,
                                 sum(c.very_satisfied + c.satisfied + c.dissatisfied)::bigint AS answered
                          FROM sat_latest l JOIN rm_satisfaction_criteria c USING (submission_id)
                          GROUP BY l.unit_id, l.period),
             acts AS (SELECT unit_id, count(*) AS n FROM rm_activities a
                      WHERE ($1::int IS NULL OR extract(year FROM date)::int = $1)
                        AND NOT EXISTS (SELECT 1 FROM rm_activities s WHERE s.supersedes = a.activity_id AND s.supersedes IS NOT NULL)
                      GROUP BY unit_id),
             posted AS (SELECT p.unit_id,
                               count(*) FILTER (WHERE p.version >= r.version) AS current,
                               count(*) FILTER (WHERE p.version < r.version) AS stale
                        FROM (SELECT unit_id, code, max(version) AS version FROM rm_postings GROUP BY 1, 2) p
                        JOIN rm_procedures r USING (code) WHERE r.status = $2
                        GROUP BY p.unit_id)
             SELECT u.unit_id, u.name, u.kind, coalesce(a.n, 0) AS activities,
                    coalesce(p.current, 0) AS postings_current, coalesce(p.stale, 0) AS postings_stale,
                    o.period AS one_stop_period, o.in_time, o.resolved,
                    s.period AS satisfaction_period, s.content, s.answered
             FROM rm_units u
             LEFT JOIN acts a USING (unit_id) LEFT JOIN posted p USING (unit_id)
             LEFT JOIN os_latest o USING (unit_id) LEFT JOIN sat_rate s USING (unit_id)
             ORDER BY {}, u.name, u.unit_id",
            cchc_platform::vocabulary::unit_kind::rank_sql("u.kind")
        )))
        .bind(year)
        .bind(procedure_status::PUBLISHED)
        .fetch_all(&mut *conn)
        .await?;
        let as_of: Option<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT max(t) FROM (
               SELECT max(event_at) t FROM rm_units UNION ALL SELECT max(event_at) FROM rm_procedures
               UNION ALL SELECT max(event_at) FROM rm_activities UNION ALL SELECT max(event_at) FROM rm_postings
               UNION ALL SELECT max(event_at) FROM rm_posting_stale UNION ALL SELECT max(event_at) FROM rm_legal_documents
               UNION ALL SELECT max(event_at) FROM rm_one_stop UNION ALL SELECT max(event_at) FROM rm_satisfaction
               UNION ALL SELECT max(event_at) FROM rm_budget) x",
        )
        .fetch_one(&mut *conn)
        .await?;
        Ok(DashboardFigures {
            procedures_by_status,
            activities_by_kind,
            units_reporting,
            postings_current: postings.current,
            postings_stale: postings.stale,
            units_with_stale_postings: postings.units_with_stale,
            units_total,
            units_with_one_stop_results,
            activities_by_month,
            units,
            as_of,
        })
    }

    /// The periods of `year`'s plans by due date, each with its covered units'
    /// submissions and, as of `today`, the units late to report.
    pub async fn period_standings(
        &self,
        year: i32,
        today: chrono::NaiveDate,
    ) -> Result<Vec<PeriodStanding>, Error> {
        let rank = cchc_platform::vocabulary::unit_kind::rank_sql("n.kind");
        let rows: Vec<PeriodRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT p.id AS plan_id, p.number_symbol, pp.key, pp.title, pp.due_date,
                    coalesce(cardinality(c.units), 0)::bigint AS covered,
                    count(s.unit_id) FILTER (WHERE s.unit_id = ANY (c.units))::bigint AS submitted,
                    count(s.unit_id) FILTER (WHERE s.late AND s.unit_id = ANY (c.units))::bigint AS submitted_late,
                    coalesce((SELECT array_agg(u.unit_id ORDER BY {rank}, n.name, u.unit_id)
                      FROM unnest(c.units) AS u(unit_id) LEFT JOIN rm_units n USING (unit_id)
                      WHERE NOT EXISTS (SELECT 1 FROM period_submissions x
                              WHERE x.plan_id = p.id AND x.period_key = pp.key
                                AND x.unit_id = u.unit_id AND x.reopened_at IS NULL)), '{{}}') AS missing,
                    coalesce((SELECT array_agg(coalesce(n.name, '') ORDER BY {rank}, n.name, u.unit_id)
                      FROM unnest(c.units) AS u(unit_id) LEFT JOIN rm_units n USING (unit_id)
                      WHERE NOT EXISTS (SELECT 1 FROM period_submissions x
                              WHERE x.plan_id = p.id AND x.period_key = pp.key
                                AND x.unit_id = u.unit_id AND x.reopened_at IS NULL)), '{{}}') AS missing_names
             FROM plans p
             CROSS JOIN LATERAL (SELECT array_agg(v::uuid) AS units
                                 FROM jsonb_array_elements_text(p.document -> 'unit_ids') v) c
             CROSS JOIN LATERAL jsonb_to_recordset(p.document -> 'periods')
                  AS pp(key text, title text, due_date date)
             LEFT JOIN period_submissions s
               ON s.plan_id = p.id AND s.period_key = pp.key AND s.reopened_at IS NULL
             WHERE p.year = $1
             GROUP BY p.id, p.number_symbol, pp.key, pp.title, pp.due_date, c.units
             ORDER BY pp.due_date, p.number_symbol, pp.key"
        )))
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| PeriodStanding {
                late_units: if today > r.due_date {
                    r.missing.into_iter().zip(r.missing_names).collect()
                } else {
                    Vec::new()
                },
                plan_id: r.plan_id,
                number_symbol: r.number_symbol,
                key: r.key,
                title: r.title,
                due_date: r.due_date,
                covered: r.covered,
                submitted: r.submitted,
                submitted_late: r.submitted_late,
            })
            .collect())
    }
}

#[derive(sqlx::FromRow)]
struct PeriodRow {
    plan_id: uuid::Uuid,
    number_symbol: String,
    key: String,
    title: String,
    due_date: chrono::NaiveDate,
    covered: i64,
    submitted: i64,
    submitted_late: i64,
    missing: Vec<uuid::Uuid>,
    missing_names: Vec<String>,
}

/// A period of a plan and its units' submissions (see `Store::period_standings`).
pub struct PeriodStanding {
    pub plan_id: uuid::Uuid,
    pub number_symbol: String,
    pub key: String,
    pub title: String,
    pub due_date: chrono::NaiveDate,
    pub covered: i64,
    pub submitted: i64,
    pub submitted_late: i64,
    /// The covered units late to report: no standing submission past the due date.
    pub late_units: Vec<(uuid::Uuid, String)>,
}
