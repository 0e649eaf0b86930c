//! Reminders that come from the calendar rather than from an event: a period's due
//! date approaching (to each covered unit that has not reported: it has not
//! submitted the period, or its submission was reopened), a due date passed
//! (to leadership, listing the late units), a posting stale for some days (to its
//! unit). Its state is in the database: each reminder is a row, unique per (plan,
//! period, unit, kind) or per stale posting, written in the same transaction as its
//! messages — so it fires once, however often the loop runs or the service restarts,
//! and however many instances run.

use std::sync::Arc;

use chrono::NaiveDate;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::Settings;
use crate::domain::notice::{Affected, Notice};
use crate::domain::template::Values;
use crate::domain::{Kind, vietnamese_day};
use crate::store::Store;
use crate::store::reminders::{Period, Reminder};

pub struct Scheduler {
    store: Store,
    settings: Arc<Settings>,
}

/// What one pass sent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    pub due: usize,
    pub overdue: usize,
    pub stale: usize,
}

/// What a notice says of a plan's period (`report_due`, `report_overdue`,
/// `report_reopened`).
pub(crate) fn period_values(p: &Period) -> Values {
    Values::from([
        ("plan_number", p.number_symbol.clone()),
        ("plan_title", p.plan_title.clone()),
        ("plan_year", p.year.to_string()),
        ("period", p.key.clone()),
        ("period_title", p.title.clone()),
        ("period_start", vietnamese_day(p.start_date)),
        ("period_end", vietnamese_day(p.end_date)),
        ("due_date", vietnamese_day(p.due_date)),
    ])
}

impl Scheduler {
    pub fn new(store: Store, settings: Arc<Settings>) -> Self {
        Self { store, settings }
    }

    /// Runs a pass at start and then every interval, with today's date in Vietnam.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.tick(cchc_platform::time::today()).await {
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

    /// Fires `reminder` with its notice; whether it had not fired before.
    async fn fire(
        &self,
        id: Uuid,
        today: NaiveDate,
        reminder: Reminder<'_>,
        notice: Option<&Notice>,
    ) -> anyhow::Result<bool> {
        let max_attempts = self.settings.delivery.max_attempts;
        Ok(self
            .store
            .remind(id, today, reminder, notice, max_attempts)
            .await?)
    }

    /// Reminders from `days_before` days before a due date to the day itself.
    async fn due(&self, today: NaiveDate) -> anyhow::Result<usize> {
        let days_before = self.settings.reminders.days_before;
        let mut fired = 0;
        for u in self.store.due_units(today, days_before).await? {
            let p = &u.period;
            let id = Uuid::now_v7();
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
            let reminder = Reminder::Due {
                period: p,
                unit_id: u.unit_id,
            };
            if self.fire(id, today, reminder, Some(&notice)).await? {
                fired += 1;
            }
        }
        Ok(fired)
    }

    /// From the day after a due date (within the grace window): one escalation per
    /// period, listing the covered units that have not reported.
    async fn overdue(&self, today: NaiveDate) -> anyhow::Result<usize> {
        let grace_days = self.settings.reminders.grace_days;
        let mut fired = 0;
        for p in self.store.overdue_periods(today, grace_days).await? {
            let late = self.store.late_units(&p).await?;
            let id = Uuid::now_v7();
            // With nobody late the period is settled: recorded, and nobody is told.
            let notice = (!late.is_empty()).then(|| {
                let list: Vec<String> = late
                    .iter()
                    .map(|u| {
                        let name = u.name.clone();
                        format!("- {}", name.unwrap_or_else(|| u.unit_id.to_string()))
                    })
                    .collect();
                let mut values = period_values(&p);
                values.insert("late_count", late.len().to_string());
                values.insert("late_units", list.join("\n"));
                Notice {
                    kind: Kind::ReportOverdue,
                    cause_id: id,
                    event_type: "cchc.notification.report_overdue".into(),
                    values,
                    field: None,
                    plan_id: Some(p.plan_id),
                    affected: Affected::Nobody,
                }
            });
            let reminder = Reminder::Overdue {
                period: &p,
                late: late.len(),
            };
            if self.fire(id, today, reminder, notice.as_ref()).await? && notice.is_some() {
                fired += 1;
            }
        }
        Ok(fired)
    }

    /// Postings stale for `stale_posting_days` and not confirmed since: one reminder
    /// per stale version.
    async fn stale(&self, today: NaiveDate) -> anyhow::Result<usize> {
        let days = self.settings.reminders.stale_posting_days;
        let mut fired = 0;
        for s in self.store.stale_postings(today, days).await? {
            let id = Uuid::now_v7();
            let values = Values::from([
                ("code", s.code.clone()),
                ("procedure_name", s.procedure_name.clone()),
                ("posted_version", s.posted_version.to_string()),
                ("current_version", s.current_version.to_string()),
                ("stale_since", vietnamese_day(s.stale_on)),
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
            if self
                .fire(id, today, Reminder::Stale(&s), Some(&notice))
                .await?
            {
                fired += 1;
            }
        }
        Ok(fired)
    }
}
