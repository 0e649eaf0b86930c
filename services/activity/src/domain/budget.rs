//! Budget lines (dự toán kinh phí tuyên truyền CCHC): a unit's planned and spent
//! communication cost for a year, in integer VND.

use std::collections::HashMap;

use cchc_platform::validation::{Errors, Rule};
use cchc_proto::activity::v1::{BudgetLine, SubmitBudgetLinesRequest};
use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::{MAX_VND, Rejection};

const MAX_LINES: usize = 200;
const MAX_ITEM: usize = 500;
const MAX_SOURCE: usize = 200;

/// One budget line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub item: String,
    pub funding_source: String,
    pub planned_vnd: i64,
    pub spent_vnd: i64,
}

impl From<&Line> for BudgetLine {
    fn from(l: &Line) -> Self {
        BudgetLine {
            item: l.item.clone(),
            funding_source: l.funding_source.clone(),
            planned_vnd: l.planned_vnd,
            spent_vnd: l.spent_vnd,
        }
    }
}

/// A checked year of budget lines. Only [`check`] builds one.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetFigures {
    year: i32,
    lines: Vec<Line>,
}

impl BudgetFigures {
    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    pub fn planned_total(&self) -> i64 {
        self.lines.iter().map(|l| l.planned_vnd).sum()
    }

    pub fn spent_total(&self) -> i64 {
        self.lines.iter().map(|l| l.spent_vnd).sum()
    }
}

/// Checks a year's lines, naming every fault. The year may be the next one: budgets
/// are planned ahead.
pub fn check(
    r: &SubmitBudgetLinesRequest,
    today: chrono::NaiveDate,
) -> Result<BudgetFigures, Rejection> {
    let mut e = Errors::new();
    let last = today.year() + 1;
    e.check(
        (2000..=last).contains(&r.year),
        "year",
        Rule::Year {
            min: 2000,
            max: last,
        },
    );
    e.check(
        r.lines.len() <= MAX_LINES,
        "lines",
        Rule::AtMost {
            max: MAX_LINES as i64,
            of: "lines",
        },
    );
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut lines = Vec::with_capacity(r.lines.len());
    for (i, l) in r.lines.iter().enumerate() {
        let field = |f: &str| format!("lines[{i}].{f}");
        let item = l.item.trim();
        let source = l.funding_source.trim();
        e.check(!item.is_empty(), &field("item"), Rule::Required);
        e.check(
            item.chars().count() <= MAX_ITEM,
            &field("item"),
            Rule::TooLong { max: MAX_ITEM },
        );
        e.check(
            source.chars().count() <= MAX_SOURCE,
            &field("funding_source"),
            Rule::TooLong { max: MAX_SOURCE },
        );
        e.single_line(&field("item"), item);
        e.single_line(&field("funding_source"), source);
        for (name, n) in [("planned_vnd", l.planned_vnd), ("spent_vnd", l.spent_vnd)] {
            e.check(n >= 0, &field(name), Rule::NotNegative);
            e.check(
                n <= MAX_VND,
                &field(name),
                Rule::AtMost {
                    max: MAX_VND,
                    of: "VND",
                },
            );
        }
        if !item.is_empty()
            && let Some(first) = seen.insert((item.to_lowercase(), source.to_lowercase()), i)
        {
            e.add(
                field("item"),
                Rule::Duplicate {
                    first: format!("lines[{first}]"),
                },
            );
        }
        lines.push(Line {
            item: item.to_owned(),
            funding_source: source.to_owned(),
            planned_vnd: l.planned_vnd,
            spent_vnd: l.spent_vnd,
        });
    }
    // A unit's year is bounded like one line, so the totals of every unit together
    // stay far from overflow too. Each line is at most MAX_VND and there are at most
    // MAX_LINES of them, so these sums cannot overflow themselves.
    if e.is_empty() {
        for (field, total) in [
            (
                "planned_total_vnd",
                lines.iter().map(|l| l.planned_vnd).sum::<i64>(),
            ),
            (
                "spent_total_vnd",
                lines.iter().map(|l| l.spent_vnd).sum::<i64>(),
            ),
        ] {
            e.check(
                total <= MAX_VND,
                field,
                Rule::TotalTooLarge {
                    total,
                    max: MAX_VND,
                },
            );
        }
    }
    super::check_idempotency_key(&mut e, &r.idempotency_key);
    if !e.is_empty() {
        return Err(Rejection::invalid("the budget lines are not valid", e));
    }
    Ok(BudgetFigures {
        year: r.year,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        "2020-06-15".parse().unwrap()
    }

    fn line(item: &str, source: &str, planned: i64, spent: i64) -> BudgetLine {
        BudgetLine {
            item: item.into(),
            funding_source: source.into(),
            planned_vnd: planned,
            spent_vnd: spent,
        }
    }

    #[test]
    fn totals_are_computed() {
        let r = SubmitBudgetLinesRequest {
            year: 2020,
            lines: vec![
                line("In tờ rơi", "ngân sách nhà nước", 5_000_000, 4_200_000),
                line("Hội nghị tập huấn", "ngân sách nhà nước", 12_000_000, 0),
            ],
            ..Default::default()
        };
        let b = check(&r, today()).unwrap();
        assert_eq!(b.planned_total(), 17_000_000);
        assert_eq!(b.spent_total(), 4_200_000);
        // Next year may be planned; the one after may not.
        assert!(
            check(
                &SubmitBudgetLinesRequest {
                    year: 2021,
                    ..r.clone()
                },
                today()
            )
            .is_ok()
        );
        let e = check(&SubmitBudgetLinesRequest { year: 2022, ..r }, today()).unwrap_err();
        assert_eq!(e.errors[0].field, "year");
    }

    #[test]
    fn every_fault_is_named() {
        let r = SubmitBudgetLinesRequest {
            year: 1999,
            lines: vec![
                line(" ", "", -1, 0),
                line("In tờ rơi", "NSNN", 1, -2),
                line("in tờ rơi ", "nsnn", 1, 1),
            ],
            ..Default::default()
        };
        let e = check(&r, today()).unwrap_err();
        assert_eq!(e.code, tonic::Code::InvalidArgument);
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "year",
                "lines[0].item",
                "lines[0].planned_vnd",
                "lines[1].spent_vnd",
                "lines[2].item"
            ]
        );
    }
}
