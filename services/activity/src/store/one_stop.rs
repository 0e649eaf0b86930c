//! One-stop results, one revision per submission of (unit, period).

use cchc_platform::time::stamp;
use cchc_proto::activity::v1::OneStopResult;
use cchc_proto::events::v1::OneStopResultSubmitted;
use uuid::Uuid;

use super::submissions::{Attribution, Insert, Stored, Submission};
use crate::domain::one_stop::{Counters, OneStopFigures};

/// The kind's own columns.
#[derive(sqlx::FromRow)]
pub struct Fields {
    period_start: chrono::NaiveDate,
    period_end: chrono::NaiveDate,
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
}

impl Fields {
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
}

impl Submission for OneStopFigures {
    const TABLE: &'static str = "one_stop_results";
    const FIELDS: &'static [&'static str] = &[
        "period_start",
        "period_end",
        "received_online",
        "received_in_person_or_post",
        "received_carried_over",
        "resolved_early",
        "resolved_on_time",
        "resolved_late",
        "pending_within_time",
        "pending_overdue",
        "returned_withdrawn",
        "note",
    ];
    type Fields = Fields;
    type Answer = OneStopResult;
    type Event = OneStopResultSubmitted;

    fn period(&self) -> String {
        OneStopFigures::period(self).to_string()
    }

    fn holds(&self, stored: &Fields) -> bool {
        stored.counters() == *self.counters() && stored.note == self.note()
    }

    fn bind<'q>(&'q self, q: Insert<'q, Fields>) -> Insert<'q, Fields> {
        let c = self.counters();
        let p = OneStopFigures::period(self);
        q.bind(p.start())
            .bind(p.end())
            .bind(c.received_online)
            .bind(c.received_in_person_or_post)
            .bind(c.received_carried_over)
            .bind(c.resolved_early)
            .bind(c.resolved_on_time)
            .bind(c.resolved_late)
            .bind(c.pending_within_time)
            .bind(c.pending_overdue)
            .bind(c.returned_withdrawn)
            .bind(self.note())
    }

    fn event(
        Stored { rev, fields: row }: &Stored<Fields>,
        supersedes: Option<Uuid>,
    ) -> OneStopResultSubmitted {
        OneStopResultSubmitted {
            submission_id: rev.id.to_string(),
            unit_id: rev.unit_id.to_string(),
            period: rev.period.clone(),
            period_start: row.period_start.to_string(),
            period_end: row.period_end.to_string(),
            revision: rev.number as u32,
            supersedes: supersedes.map(|s| s.to_string()).unwrap_or_default(),
            received_online: row.received_online,
            received_in_person_or_post: row.received_in_person_or_post,
            received_carried_over: row.received_carried_over,
            resolved_early: row.resolved_early,
            resolved_on_time: row.resolved_on_time,
            resolved_late: row.resolved_late,
            pending_within_time: row.pending_within_time,
            pending_overdue: row.pending_overdue,
            returned_withdrawn: row.returned_withdrawn,
            submitted_at: stamp(&rev.submitted_at),
        }
    }
}

impl From<Stored<Fields>> for OneStopResult {
    fn from(Stored { rev, fields: r }: Stored<Fields>) -> Self {
        let Attribution {
            created_at,
            created_by,
            updated_at,
            updated_by,
        } = rev.attribution();
        let c = r.counters();
        OneStopResult {
            id: rev.id.to_string(),
            unit_id: rev.unit_id.to_string(),
            period: rev.period,
            period_start: r.period_start.to_string(),
            period_end: r.period_end.to_string(),
            received: Some(c.received()),
            resolved: Some(c.resolved()),
            pending: Some(c.pending()),
            returned_withdrawn: c.returned_withdrawn,
            on_time_rate: c.on_time_rate(),
            note: r.note,
            revision: rev.number as u32,
            current: rev.current,
            submitted_at: stamp(&rev.submitted_at),
            created_at,
            created_by,
            updated_at,
            updated_by,
        }
    }
}
