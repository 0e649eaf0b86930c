//! Reminders that come from the calendar rather than from an event: a period's due
//! date approaching (to each covered unit that has not reported), a due date passed
//! (to leadership, listing the late units), a posting stale for some days (to its
//! unit). Its state is in the database: each reminder is a row, unique per (plan,
//! period, unit, kind) or per stale posting, written in the same transaction as its
//! messages — so it fires once, however often the loop runs or the service restarts,
//! and however many instances run.

use std::sync::Arc;

use chrono::NaiveDate;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::Kind;
use crate::domain::template::Values;
use crate::store::fanout::{Affected, Notice, fan_out};

pub struct Scheduler {
    pool: PgPool,
    settings: Arc<Settings>,
}

/// What one pass sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    pub due: usize,
    pub overdue: usize,
    pub stale: usize,
}

/// Whether unit `u.unit_id` reported for period `pp`: an activity dated within it
/// (and not corrected away), or a one-stop result for it.
const REPORTED: &str = "(EXISTS (SELECT 1 FROM unit_activities a
        WHERE a.unit_id = u.unit_id AND a.date BETWEEN pp.start_date AND pp.end_date
          AND NOT EXISTS (SELECT 1 FROM unit_activities c WHERE c.supersedes = a.activity_id))
    OR EXISTS (SELECT 1 FROM unit_one_stop o WHERE o.unit_id = u.unit_id
          AND (o.period = pp.key OR (o.start_date = pp.start_date AND o.end_date = pp.end_date))))";

#[derive(sqlx::FromRow)]
struct Period {
    plan_id: Uuid,
    number_symbol: String,
    plan_title: String,
    year: i32,
    key: String,
    title: String,
    start_date: NaiveDate,
    end_date: NaiveDate,
    due_date: NaiveDate,
}

#[derive(sqlx::FromRow)]
struct DueUnit {
    #[sqlx(flatten)]
    period: Period,
    unit_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct Stale {
    unit_id: Uuid,
    code: String,
    procedure_name: String,
    posted_version: i32,
    current_version: i32,
    stale_on: NaiveDate,
}

fn vn(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn period_values(p: &Period) -> Values {
    Values::from([
        ("plan_number", p.number_symbol.clone()),
        ("plan_title", p.plan_title.clone()),
        ("plan_year", p.year.to_string()),
        ("period", p.key.clone()),
        ("period_title", p.title.clone()),
        ("period_start", vn(p.start_date)),
        ("period_end", vn(p.end_date)),
        ("due_date", vn(p.due_date)),
    ])
}

const PERIOD_COLUMNS: &str =
    "pp.plan_id, p.number_symbol, p.title AS plan_title, p.year, pp.key, pp.title,
     pp.start_date, pp.end_date, pp.due_date";

impl Scheduler {
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        Self { pool, settings }
    }

    /// Runs a pass at start and then every interval, with today's date in Vietnam.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.tick(cchc_platform::validation::today()).await {
                Ok(f) if f != Fired::default() => tracing::info!(?f, "reminders sent"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "reminder pass failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.reminders.interval) => {}
            }
        }
    }

    /// One pass as of `today` (tests pass the day they need).
    pub async fn tick(&self, today: NaiveDate) -> anyhow::Result<Fired> {
        Ok(Fired {
            due: self.due(today).await?,
            overdue: self.overdue(today).await?,
            stale: self.stale(today).await?,
        })
    }

    /// Reminders from `days_before` days before a due date to the day itself.
    async fn due(&self, today: NaiveDate) -> anyhow::Result<usize> {
        let r = &self.settings.reminders;
        let units: Vec<DueUnit> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PERIOD_COLUMNS}, u.unit_id
             FROM plan_periods pp JOIN plans p USING (plan_id)
                  CROSS JOIN LATERAL unnest(p.unit_ids) AS u(unit_id)
             WHERE pp.due_date - $2::int <= $1 AND $1 <= pp.due_date
               AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.plan_id = pp.plan_id
                     AND r.period_key = pp.key AND r.unit_id = u.unit_id AND r.kind = 'report_due')
               AND NOT {REPORTED}
             ORDER BY pp.due_date, pp.plan_id, pp.key, u.unit_id"
        )))
        .bind(today)
        .bind(r.days_before as i32)
        .fetch_all(&self.pool)
        .await?;
        let mut fired = 0;
        for u in units {
            let p = &u.period;
            let mut tx = self.pool.begin().await?;
            let id: Option<Uuid> = sqlx::query_scalar(
                "INSERT INTO reminders (id, plan_id, period_key, unit_id, kind, fired_on)
                 VALUES ($1, $2, $3, $4, 'report_due', $5) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(Uuid::now_v7())
            .bind(p.plan_id)
            .bind(&p.key)
            .bind(u.unit_id)
            .bind(today)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else { continue };
            let mut values = period_values(p);
            values.insert("days_left", (p.due_date - today).num_days().to_string());
            let notice = Notice {
                kind: Kind::ReportDue,
                cause_id: id,
                event_type: "cchc.notification.report_due".into(),
                values,
                field: None,
                plan_id: Some(p.plan_id),
                affected: Affected::Units(vec![u.unit_id]),
            };
            fan_out(&mut tx, &notice, self.settings.delivery.max_attempts).await?;
            tx.commit().await?;
            fired += 1;
        }
        Ok(fired)
    }

    /// From the day after a due date (within the grace window): one escalation per
    /// period, listing the covered units that have not reported.
    async fn overdue(&self, today: NaiveDate) -> anyhow::Result<usize> {
        let r = &self.settings.reminders;
        let periods: Vec<Period> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PERIOD_COLUMNS} FROM plan_periods pp JOIN plans p USING (plan_id)
             WHERE pp.due_date < $1 AND $1 <= pp.due_date + $2::int
               AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.plan_id = pp.plan_id
                     AND r.period_key = pp.key AND r.kind = 'report_overdue')
             ORDER BY pp.due_date, pp.plan_id, pp.key"
        )))
        .bind(today)
        .bind(r.grace_days as i32)
        .fetch_all(&self.pool)
        .await?;
        let mut fired = 0;
        for p in periods {
            let mut tx = self.pool.begin().await?;
            let late: Vec<(Uuid, Option<String>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT u.unit_id, r.name FROM plan_periods pp JOIN plans p USING (plan_id)
                      CROSS JOIN LATERAL unnest(p.unit_ids) AS u(unit_id)
                      LEFT JOIN recipients r ON r.id = u.unit_id
                 WHERE pp.plan_id = $1 AND pp.key = $2 AND NOT {REPORTED}
                 ORDER BY r.name, u.unit_id"
            )))
            .bind(p.plan_id)
            .bind(&p.key)
            .fetch_all(&mut *tx)
            .await?;
            let id: Option<Uuid> = sqlx::query_scalar(
                "INSERT INTO reminders (id, plan_id, period_key, unit_id, kind, fired_on, units)
                 VALUES ($1, $2, $3, $4, 'report_overdue', $5, $6) ON CONFLICT DO NOTHING RETURNING id",
            )
            .bind(Uuid::now_v7())
            .bind(p.plan_id)
            .bind(&p.key)
            .bind(Uuid::nil())
            .bind(today)
            .bind(late.len() as i32)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(id) = id else { continue };
            if !late.is_empty() {
                let list: Vec<String> = late
                    .iter()
                    .map(|(id, name)| {
                        format!("- {}", name.clone().unwrap_or_else(|| id.to_string()))
                    })
                    .collect();
                let mut values = period_values(&p);
                values.insert("late_count", late.len().to_string());
                values.insert("late_units", list.join("\n"));
                let notice = Notice {
                    kind: Kind::ReportOverdue,
                    cause_id: id,
                    event_type: "cchc.notification.report_overdue".into(),
                    values,
                    field: None,
                    plan_id: Some(p.plan_id),
                    affected: Affected::Nobody,
                };
                fan_out(&mut tx, &notice, self.settings.delivery.max_attempts).await?;
                fired += 1;
            }
            tx.commit().await?;
        }
        Ok(fired)
    }

    /// Postings stale for `stale_posting_days` and not confirmed since: one reminder
    /// per stale version.
    async fn stale(&self, today: NaiveDate) -> anyhow::Result<usize> {
        let days = self.settings.reminders.stale_posting_days as i32;
        let stale: Vec<Stale> = sqlx::query_as(
            "SELECT unit_id, code, procedure_name, posted_version, current_version, stale_on
             FROM stale_postings
             WHERE resolved_at IS NULL AND reminder_id IS NULL AND stale_on + $2::int <= $1
             ORDER BY stale_on, unit_id, code",
        )
        .bind(today)
        .bind(days)
        .fetch_all(&self.pool)
        .await?;
        let mut fired = 0;
        for s in stale {
            let mut tx = self.pool.begin().await?;
            let id = Uuid::now_v7();
            let claimed = sqlx::query(
                "UPDATE stale_postings SET reminder_id = $4, reminded_on = $5
                 WHERE unit_id = $1 AND code = $2 AND current_version = $3
                   AND reminder_id IS NULL AND resolved_at IS NULL",
            )
            .bind(s.unit_id)
            .bind(&s.code)
            .bind(s.current_version)
            .bind(id)
            .bind(today)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !claimed {
                continue;
            }
            let values = Values::from([
                ("code", s.code.clone()),
                ("procedure_name", s.procedure_name.clone()),
                ("posted_version", s.posted_version.to_string()),
                ("current_version", s.current_version.to_string()),
                ("stale_since", vn(s.stale_on)),
                ("days_stale", (today - s.stale_on).num_days().to_string()),
            ]);
            let notice = Notice {
                kind: Kind::PostingStale,
                cause_id: id,
                event_type: "cchc.notification.posting_stale_reminder".into(),
                values,
                field: None,
                plan_id: None,
                affected: Affected::Units(vec![s.unit_id]),
            };
            fan_out(&mut tx, &notice, self.settings.delivery.max_attempts).await?;
            tx.commit().await?;
            fired += 1;
        }
        Ok(fired)
    }
}
