//! Budget lines, one revision per submission of (unit, year); a revision replaces all
//! of the year's lines. The year, written out, is the period of the slot.

use cchc_platform::time::stamp;
use cchc_proto::activity::v1::BudgetLines;
use cchc_proto::events::v1::{BudgetLineFigures, BudgetSubmitted};
use sqlx::types::Json;
use uuid::Uuid;

use super::submissions::{Attribution, Insert, Stored, Submission};
use crate::domain::budget::{BudgetFigures, Line};

/// The kind's own columns.
#[derive(sqlx::FromRow)]
pub struct Fields {
    year: i32,
    lines: Json<Vec<Line>>,
    planned_total_vnd: i64,
    spent_total_vnd: i64,
}

impl Submission for BudgetFigures {
    const TABLE: &'static str = "budget_submissions";
    const FIELDS: &'static [&'static str] =
        &["year", "lines", "planned_total_vnd", "spent_total_vnd"];
    type Fields = Fields;
    type Answer = BudgetLines;
    type Event = BudgetSubmitted;

    fn period(&self) -> String {
        self.year().to_string()
    }

    fn holds(&self, stored: &Fields) -> bool {
        stored.year == self.year() && stored.lines.0 == self.lines()
    }

    fn bind<'q>(&'q self, q: Insert<'q, Fields>) -> Insert<'q, Fields> {
        q.bind(self.year())
            .bind(Json(self.lines()))
            .bind(self.planned_total())
            .bind(self.spent_total())
    }

    fn event(
        Stored { rev, fields: row }: &Stored<Fields>,
        supersedes: Option<Uuid>,
    ) -> BudgetSubmitted {
        BudgetSubmitted {
            submission_id: rev.id.to_string(),
            unit_id: rev.unit_id.to_string(),
            year: row.year,
            revision: rev.number as u32,
            supersedes: supersedes.map(|s| s.to_string()).unwrap_or_default(),
            lines: row
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
            planned_total_vnd: row.planned_total_vnd,
            spent_total_vnd: row.spent_total_vnd,
            submitted_at: stamp(&rev.submitted_at),
        }
    }
}

impl From<Stored<Fields>> for BudgetLines {
    fn from(Stored { rev, fields: r }: Stored<Fields>) -> Self {
        let Attribution {
            created_at,
            created_by,
            updated_at,
            updated_by,
        } = rev.attribution();
        BudgetLines {
            id: rev.id.to_string(),
            unit_id: rev.unit_id.to_string(),
            year: r.year,
            lines: r.lines.0.iter().map(Into::into).collect(),
            planned_total_vnd: r.planned_total_vnd,
            spent_total_vnd: r.spent_total_vnd,
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
