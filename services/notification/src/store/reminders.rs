//! What the reminders need: the plans and their periods, the units' period
//! submissions, stale postings — kept from events, in the consumer's transaction — and
//! the reminders fired, one row each, written with their messages so that each fires
//! once.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Result, Store, fanout};
use crate::domain::Kind;
use crate::domain::notice::Notice;

/// A plan as its latest revision has it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub plan_id: Uuid,
    pub number_symbol: String,
    pub year: i32,
    pub title: String,
    pub revision: i32,
    pub unit_ids: Vec<Uuid>,
    pub recipient_ids: Vec<Uuid>,
    pub periods: Vec<PlanPeriod>,
}

/// A reporting period of a plan.
#[derive(Debug, Clone)]
pub struct PlanPeriod {
    pub key: String,
    pub title: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub due: NaiveDate,
}

/// A unit's posting that fell behind the procedure's current version.
#[derive(Debug, Clone)]
pub struct StalePosting {
    pub unit_id: Uuid,
    pub code: String,
    pub procedure_name: String,
    pub posted_version: i32,
    pub current_version: i32,
    pub stale_on: NaiveDate,
}

/// Keeps the newest revision of a plan and its periods.
pub async fn save_plan(tx: &mut PgConnection, p: &Plan) -> Result<()> {
    let newer = sqlx::query(
        "INSERT INTO plans (plan_id, number_symbol, year, title, revision, unit_ids, recipient_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (plan_id) DO UPDATE SET number_symbol = EXCLUDED.number_symbol, year = EXCLUDED.year,
             title = EXCLUDED.title, revision = EXCLUDED.revision, unit_ids = EXCLUDED.unit_ids,
             recipient_ids = EXCLUDED.recipient_ids, updated_at = now()
         WHERE plans.revision <= EXCLUDED.revision",
    )
    .bind(p.plan_id)
    .bind(&p.number_symbol)
    .bind(p.year)
    .bind(&p.title)
    .bind(p.revision)
    .bind(&p.unit_ids)
    .bind(&p.recipient_ids)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !newer {
        return Ok(());
    }
    sqlx::query("DELETE FROM plan_periods WHERE plan_id = $1")
        .bind(p.plan_id)
        .execute(&mut *tx)
        .await?;
    for period in &p.periods {
        sqlx::query(
            "INSERT INTO plan_periods (plan_id, key, title, start_date, end_date, due_date)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (plan_id, key) DO NOTHING",
        )
        .bind(p.plan_id)
        .bind(&period.key)
        .bind(&period.title)
        .bind(period.start)
        .bind(period.end)
        .bind(period.due)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A unit's submission of a period of a plan, or the office's reopening of it, as an
/// event says it: the event's time and id order it against the others of that unit and
/// period.
#[derive(Debug, Clone)]
pub struct Submission {
    pub plan_id: Uuid,
    pub period_key: String,
    pub unit_id: Uuid,
    pub event_id: Uuid,
    pub event_at: DateTime<Utc>,
}

/// The unit submitted the period. `false` when a later event (a reopening, or a newer
/// submission) is kept already: the state stays the later one's.
pub async fn period_submitted(
    tx: &mut PgConnection,
    s: &Submission,
    late: bool,
    submitted_at: DateTime<Utc>,
) -> Result<bool> {
    let applied = sqlx::query(
        "INSERT INTO unit_period_submissions AS s (plan_id, period_key, unit_id, submitted, late,
             submitted_at, event_at, event_id)
         VALUES ($1, $2, $3, true, $4, $5, $6, $7)
         ON CONFLICT (plan_id, period_key, unit_id) DO UPDATE SET submitted = true,
             late = EXCLUDED.late, submitted_at = EXCLUDED.submitted_at, reopen_reason = NULL,
             event_at = EXCLUDED.event_at, event_id = EXCLUDED.event_id, updated_at = now()
         WHERE (s.event_at, s.event_id) < (EXCLUDED.event_at, EXCLUDED.event_id)",
    )
    .bind(s.plan_id)
    .bind(&s.period_key)
    .bind(s.unit_id)
    .bind(late)
    .bind(submitted_at)
    .bind(s.event_at)
    .bind(s.event_id)
    .execute(tx)
    .await?
    .rows_affected()
        == 1;
    Ok(applied)
}

/// The office reopened the unit's submission: it has not reported until it submits
/// again. `false` when a later event is kept already (the unit submitted again since).
pub async fn period_reopened(tx: &mut PgConnection, s: &Submission, reason: &str) -> Result<bool> {
    let applied = sqlx::query(
        "INSERT INTO unit_period_submissions AS s (plan_id, period_key, unit_id, submitted,
             reopen_reason, event_at, event_id)
         VALUES ($1, $2, $3, false, $4, $5, $6)
         ON CONFLICT (plan_id, period_key, unit_id) DO UPDATE SET submitted = false,
             reopen_reason = EXCLUDED.reopen_reason, event_at = EXCLUDED.event_at,
             event_id = EXCLUDED.event_id, updated_at = now()
         WHERE (s.event_at, s.event_id) < (EXCLUDED.event_at, EXCLUDED.event_id)",
    )
    .bind(s.plan_id)
    .bind(&s.period_key)
    .bind(s.unit_id)
    .bind(reason)
    .bind(s.event_at)
    .bind(s.event_id)
    .execute(tx)
    .await?
    .rows_affected()
        == 1;
    Ok(applied)
}

/// A period of a plan as the latest revision of the plan has it; `None` when the plan
/// or the period is unknown.
pub async fn period(tx: &mut PgConnection, plan_id: Uuid, key: &str) -> Result<Option<Period>> {
    let period = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PERIOD_COLUMNS} FROM plan_periods pp JOIN plans p USING (plan_id)
         WHERE pp.plan_id = $1 AND pp.key = $2"
    )))
    .bind(plan_id)
    .bind(key)
    .fetch_optional(tx)
    .await?;
    Ok(period)
}

/// Units' activities, each `(activity, unit, date, the one it corrects)`, in one
/// statement. Kept, but no longer read: what a unit sent does not make it reported
/// ([`REPORTED`]).
pub async fn activities_recorded(
    tx: &mut PgConnection,
    activities: &[(Uuid, Uuid, NaiveDate, Option<Uuid>)],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO unit_activities (activity_id, unit_id, date, supersedes)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::uuid[])
         ON CONFLICT DO NOTHING",
    )
    .bind(activities.iter().map(|a| a.0).collect::<Vec<_>>())
    .bind(activities.iter().map(|a| a.1).collect::<Vec<_>>())
    .bind(activities.iter().map(|a| a.2).collect::<Vec<_>>())
    .bind(activities.iter().map(|a| a.3).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// A unit's one-stop result for a period. Kept, but no longer read, as activities.
pub async fn one_stop_submitted(
    tx: &mut PgConnection,
    unit_id: Uuid,
    period: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO unit_one_stop (unit_id, period, start_date, end_date) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(unit_id)
    .bind(period)
    .bind(start)
    .bind(end)
    .execute(tx)
    .await?;
    Ok(())
}

/// A posting went stale. A newer version starts a new wait; a redelivered or older
/// event changes nothing.
pub async fn posting_stale(tx: &mut PgConnection, s: &StalePosting) -> Result<()> {
    sqlx::query(
        "INSERT INTO stale_postings (unit_id, code, procedure_name, posted_version, current_version, stale_on)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (unit_id, code) DO UPDATE SET procedure_name = EXCLUDED.procedure_name,
             posted_version = EXCLUDED.posted_version, current_version = EXCLUDED.current_version,
             stale_on = EXCLUDED.stale_on, resolved_at = NULL, reminder_id = NULL, reminded_on = NULL
         WHERE stale_postings.current_version < EXCLUDED.current_version",
    )
    .bind(s.unit_id)
    .bind(&s.code)
    .bind(&s.procedure_name)
    .bind(s.posted_version)
    .bind(s.current_version)
    .bind(s.stale_on)
    .execute(tx)
    .await?;
    Ok(())
}

/// A unit confirmed it posts `version` (or later) of `code`: no reminder is due.
pub async fn posting_confirmed(
    tx: &mut PgConnection,
    unit_id: Uuid,
    code: &str,
    version: i32,
) -> Result<()> {
    sqlx::query(
        "UPDATE stale_postings SET resolved_at = now()
         WHERE unit_id = $1 AND code = $2 AND current_version <= $3 AND resolved_at IS NULL",
    )
    .bind(unit_id)
    .bind(code)
    .bind(version)
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether unit `u.unit_id` reported for period `pp`: it submitted the period and the
/// submission is not reopened. Activities and one-stop results sent do not count.
const REPORTED: &str = "EXISTS (SELECT 1 FROM unit_period_submissions s
    WHERE s.plan_id = pp.plan_id AND s.period_key = pp.key AND s.unit_id = u.unit_id
      AND s.submitted)";

const PERIOD_COLUMNS: &str =
    "pp.plan_id, p.number_symbol, p.title AS plan_title, p.year, pp.key, pp.title,
     pp.start_date, pp.end_date, pp.due_date";

/// A period of a plan, with what the reminders say of the plan.
#[derive(Debug, sqlx::FromRow)]
pub struct Period {
    pub plan_id: Uuid,
    pub number_symbol: String,
    pub plan_title: String,
    pub year: i32,
    pub key: String,
    pub title: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub due_date: NaiveDate,
}

/// A covered unit that has not reported for a period yet.
#[derive(Debug, sqlx::FromRow)]
pub struct DueUnit {
    #[sqlx(flatten)]
    pub period: Period,
    pub unit_id: Uuid,
}

/// A covered unit that did not report, by its name when the service knows it.
#[derive(Debug, sqlx::FromRow)]
pub struct LateUnit {
    pub unit_id: Uuid,
    pub name: Option<String>,
}

/// A stale posting waiting for its reminder.
#[derive(Debug, sqlx::FromRow)]
pub struct Stale {
    pub unit_id: Uuid,
    pub code: String,
    pub procedure_name: String,
    pub posted_version: i32,
    pub current_version: i32,
    pub stale_on: NaiveDate,
}

/// Which reminder fires: the row that makes it once.
#[derive(Debug, Clone, Copy)]
pub enum Reminder<'a> {
    /// A due date approaching, for one unit.
    Due { period: &'a Period, unit_id: Uuid },
    /// A due date passed, for the whole period, with how many units were late.
    Overdue { period: &'a Period, late: usize },
    /// A stale posting, for its current version.
    Stale(&'a Stale),
}

impl Store {
    /// Covered units yet to report for a period due within `days_before` days of
    /// `today` (the due day included), not reminded yet.
    pub async fn due_units(&self, today: NaiveDate, days_before: u32) -> Result<Vec<DueUnit>> {
        let units = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PERIOD_COLUMNS}, u.unit_id
             FROM plan_periods pp JOIN plans p USING (plan_id)
                  CROSS JOIN LATERAL unnest(p.unit_ids) AS u(unit_id)
             WHERE pp.due_date - $2::int <= $1 AND $1 <= pp.due_date
               AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.plan_id = pp.plan_id
                     AND r.period_key = pp.key AND r.unit_id = u.unit_id AND r.kind = $3)
               AND NOT {REPORTED}
             ORDER BY pp.due_date, pp.plan_id, pp.key, u.unit_id"
        )))
        .bind(today)
        .bind(days_before as i32)
        .bind(Kind::ReportDue.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(units)
    }

    /// Periods due before `today`, by at most `grace_days`, not escalated yet.
    pub async fn overdue_periods(&self, today: NaiveDate, grace_days: u32) -> Result<Vec<Period>> {
        let periods = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PERIOD_COLUMNS} FROM plan_periods pp JOIN plans p USING (plan_id)
             WHERE pp.due_date < $1 AND $1 <= pp.due_date + $2::int
               AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.plan_id = pp.plan_id
                     AND r.period_key = pp.key AND r.kind = $3)
             ORDER BY pp.due_date, pp.plan_id, pp.key"
        )))
        .bind(today)
        .bind(grace_days as i32)
        .bind(Kind::ReportOverdue.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(periods)
    }

    /// The covered units that did not report for `period`, by name.
    pub async fn late_units(&self, period: &Period) -> Result<Vec<LateUnit>> {
        let late = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT u.unit_id, r.name FROM plan_periods pp JOIN plans p USING (plan_id)
                  CROSS JOIN LATERAL unnest(p.unit_ids) AS u(unit_id)
                  LEFT JOIN recipients r ON r.id = u.unit_id
             WHERE pp.plan_id = $1 AND pp.key = $2 AND NOT {REPORTED}
             ORDER BY r.name, u.unit_id"
        )))
        .bind(period.plan_id)
        .bind(&period.key)
        .fetch_all(&self.pool)
        .await?;
        Ok(late)
    }

    /// Postings stale for `days` by `today`, neither confirmed since nor reminded.
    pub async fn stale_postings(&self, today: NaiveDate, days: u32) -> Result<Vec<Stale>> {
        let stale = sqlx::query_as(
            "SELECT unit_id, code, procedure_name, posted_version, current_version, stale_on
             FROM stale_postings
             WHERE resolved_at IS NULL AND reminder_id IS NULL AND stale_on + $2::int <= $1
             ORDER BY stale_on, unit_id, code",
        )
        .bind(today)
        .bind(days as i32)
        .fetch_all(&self.pool)
        .await?;
        Ok(stale)
    }

    /// Fires `reminder` as `id` on `today`, with its notice (if it tells anyone), in
    /// one transaction; `false` when it had fired already.
    pub async fn remind(
        &self,
        id: Uuid,
        today: NaiveDate,
        reminder: Reminder<'_>,
        notice: Option<&Notice>,
        max_attempts: u32,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !claim(&mut tx, id, today, reminder).await? {
            return Ok(false);
        }
        if let Some(notice) = notice {
            fanout::fan_out(&mut tx, notice, max_attempts).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Writes the row that says `reminder` fired; `false` when one was there already.
async fn claim(
    tx: &mut PgConnection,
    id: Uuid,
    today: NaiveDate,
    reminder: Reminder<'_>,
) -> Result<bool> {
    let claimed =
        match reminder {
            Reminder::Due { period, unit_id } => {
                sqlx::query(
                    "INSERT INTO reminders (id, plan_id, period_key, unit_id, kind, fired_on)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(period.plan_id)
                .bind(&period.key)
                .bind(unit_id)
                .bind(Kind::ReportDue.as_str())
                .bind(today)
                .execute(tx)
                .await?
            }
            // One per period: the nil unit stands for all of them.
            Reminder::Overdue { period, late } => sqlx::query(
                "INSERT INTO reminders (id, plan_id, period_key, unit_id, kind, fired_on, units)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(period.plan_id)
            .bind(&period.key)
            .bind(Uuid::nil())
            .bind(Kind::ReportOverdue.as_str())
            .bind(today)
            .bind(late as i32)
            .execute(tx)
            .await?,
            Reminder::Stale(s) => {
                sqlx::query(
                    "UPDATE stale_postings SET reminder_id = $4, reminded_on = $5
             WHERE unit_id = $1 AND code = $2 AND current_version = $3
               AND reminder_id IS NULL AND resolved_at IS NULL",
                )
                .bind(s.unit_id)
                .bind(&s.code)
                .bind(s.current_version)
                .bind(id)
                .bind(today)
                .execute(tx)
                .await?
            }
        };
    Ok(claimed.rows_affected() == 1)
}
