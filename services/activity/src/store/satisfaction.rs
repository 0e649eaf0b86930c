//! Satisfaction surveys, one revision per submission of (unit, period).

use cchc_platform::time::stamp;
use cchc_proto::activity::v1::SatisfactionSurvey;
use cchc_proto::events::v1::{SatisfactionCriterion, SatisfactionSubmitted};
use sqlx::types::Json;
use uuid::Uuid;

use super::submissions::{Attribution, Insert, Stored, Submission};
use crate::domain::satisfaction::{Criterion, SatisfactionFigures, overall_rate};

/// The kind's own columns.
#[derive(sqlx::FromRow)]
pub struct Fields {
    period_start: chrono::NaiveDate,
    period_end: chrono::NaiveDate,
    responses: i64,
    criteria: Json<Vec<Criterion>>,
}

impl Submission for SatisfactionFigures {
    const TABLE: &'static str = "satisfaction_surveys";
    const FIELDS: &'static [&'static str] =
        &["period_start", "period_end", "responses", "criteria"];
    type Fields = Fields;
    type Answer = SatisfactionSurvey;
    type Event = SatisfactionSubmitted;

    fn period(&self) -> String {
        SatisfactionFigures::period(self).to_string()
    }

    fn holds(&self, stored: &Fields) -> bool {
        stored.responses == self.responses() && stored.criteria.0 == self.criteria()
    }

    fn bind<'q>(&'q self, q: Insert<'q, Fields>) -> Insert<'q, Fields> {
        let p = SatisfactionFigures::period(self);
        q.bind(p.start())
            .bind(p.end())
            .bind(self.responses())
            .bind(Json(self.criteria()))
    }

    fn event(
        Stored { rev, fields: row }: &Stored<Fields>,
        supersedes: Option<Uuid>,
    ) -> SatisfactionSubmitted {
        SatisfactionSubmitted {
            submission_id: rev.id.to_string(),
            unit_id: rev.unit_id.to_string(),
            period: rev.period.clone(),
            period_start: row.period_start.to_string(),
            period_end: row.period_end.to_string(),
            revision: rev.number as u32,
            supersedes: supersedes.map(|s| s.to_string()).unwrap_or_default(),
            responses: row.responses,
            criteria: row
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
            submitted_at: stamp(&rev.submitted_at),
        }
    }
}

impl From<Stored<Fields>> for SatisfactionSurvey {
    fn from(Stored { rev, fields: r }: Stored<Fields>) -> Self {
        let Attribution {
            created_at,
            created_by,
            updated_at,
            updated_by,
        } = rev.attribution();
        SatisfactionSurvey {
            id: rev.id.to_string(),
            unit_id: rev.unit_id.to_string(),
            period: rev.period,
            period_start: r.period_start.to_string(),
            period_end: r.period_end.to_string(),
            responses: r.responses,
            criteria: r
                .criteria
                .0
                .iter()
                .map(|c| c.to_proto(r.responses))
                .collect(),
            satisfied_rate: overall_rate(&r.criteria.0),
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
