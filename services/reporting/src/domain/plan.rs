//! What a valid plan (kế hoạch) is. [`check`] names every violation and returns the
//! plan normalised: text trimmed, periods with their first and last day and a title.

use std::collections::HashSet;

use cchc_platform::validation::{Errors, Rule, parse_date};
use cchc_platform::vocabulary::activity_kind;
use cchc_proto::reporting::v1::{Plan, PlanPeriod};
use uuid::Uuid;

use super::TARGET_PERS;
use super::period::Period;

const MAX_SHORT: usize = 300;
const MAX_TITLE: usize = 1_000;
const MAX_TEXT: usize = 100_000;
const MAX_SECTIONS: usize = 50;
const MAX_UNITS: usize = 5_000;
const MAX_PERIODS: usize = 24;
const MAX_RECIPIENTS: usize = 200;

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn text(e: &mut Errors, field: &str, value: &str, max: usize, required: bool) -> String {
    let v = value.trim();
    if required && v.is_empty() {
        e.add(field, Rule::Required);
    } else if chars(v) > max {
        e.add(field, Rule::TooLong { max });
    }
    v.to_owned()
}

/// A checked plan: every field passed every rule. Ids, revision and times are the
/// service's and are not read from the input.
#[derive(Debug, Clone)]
pub struct CheckedPlan {
    pub plan: Plan,
    pub unit_ids: Vec<Uuid>,
}

pub fn check(p: &Plan) -> Result<CheckedPlan, Errors> {
    let mut e = Errors::new();
    let mut out = Plan {
        number_symbol: text(&mut e, "number_symbol", &p.number_symbol, 100, true),
        year: p.year,
        title: text(&mut e, "title", &p.title, MAX_TITLE, true),
        issuing_body: text(&mut e, "issuing_body", &p.issuing_body, MAX_SHORT, true),
        governing_body: text(
            &mut e,
            "governing_body",
            &p.governing_body,
            MAX_SHORT,
            false,
        ),
        place: text(&mut e, "place", &p.place, 100, false),
        issued_on: p.issued_on.trim().to_owned(),
        basis: text(&mut e, "basis", &p.basis, MAX_TEXT, false),
        objectives: text(&mut e, "objectives", &p.objectives, MAX_TEXT, false),
        requirements: text(&mut e, "requirements", &p.requirements, MAX_TEXT, false),
        signer_title: text(&mut e, "signer_title", &p.signer_title, MAX_SHORT, false),
        signer_name: text(&mut e, "signer_name", &p.signer_name, MAX_SHORT, false),
        ..Default::default()
    };
    if !(super::period::YEARS).contains(&p.year) {
        e.add(
            "year",
            Rule::Year {
                min: 2000,
                max: 2200,
            },
        );
    }
    if !out.issued_on.is_empty() {
        parse_date(&mut e, "issued_on", &out.issued_on);
    }

    if p.sections.len() > MAX_SECTIONS {
        e.add(
            "sections",
            Rule::AtMost {
                max: MAX_SECTIONS as i64,
                of: "",
            },
        );
    }
    for (i, s) in p.sections.iter().enumerate() {
        let heading = text(
            &mut e,
            &format!("sections[{i}].heading"),
            &s.heading,
            MAX_TITLE,
            true,
        );
        let body = text(
            &mut e,
            &format!("sections[{i}].text"),
            &s.text,
            MAX_TEXT,
            false,
        );
        out.sections.push(cchc_proto::reporting::v1::PlanSection {
            heading,
            text: body,
        });
    }

    let mut kinds = HashSet::new();
    for (i, t) in p.required_activities.iter().enumerate() {
        let f = |name: &str| format!("required_activities[{i}].{name}");
        if !activity_kind::ALL.contains(&t.kind.as_str()) {
            e.add(
                f("kind"),
                Rule::OneOf {
                    values: activity_kind::ALL.join(", "),
                },
            );
        } else if !kinds.insert(t.kind.clone()) {
            e.add(f("kind"), Rule::twice());
        }
        if !(1..=10_000).contains(&t.min_per_unit) {
            e.add(
                f("min_per_unit"),
                Rule::Between {
                    min: 1,
                    max: 10_000,
                    of: "",
                },
            );
        }
        if !TARGET_PERS.contains(&t.per.as_str()) {
            e.add(
                f("per"),
                Rule::OneOf {
                    values: TARGET_PERS.join(", "),
                },
            );
        }
        let note = text(&mut e, &f("note"), &t.note, MAX_SHORT, false);
        out.required_activities
            .push(cchc_proto::reporting::v1::ActivityTarget {
                kind: t.kind.clone(),
                min_per_unit: t.min_per_unit,
                per: t.per.clone(),
                note,
            });
    }

    let mut unit_ids = Vec::new();
    if p.unit_ids.is_empty() {
        e.add("unit_ids", Rule::AtLeastOne { of: "unit" });
    } else if p.unit_ids.len() > MAX_UNITS {
        e.add(
            "unit_ids",
            Rule::AtMost {
                max: MAX_UNITS as i64,
                of: "",
            },
        );
    }
    let mut seen = HashSet::new();
    for (i, u) in p.unit_ids.iter().enumerate() {
        match u.trim().parse::<Uuid>() {
            Ok(id) if seen.insert(id) => unit_ids.push(id),
            Ok(_) => e.add(format!("unit_ids[{i}]"), Rule::twice()),
            Err(_) => e.add(format!("unit_ids[{i}]"), Rule::Id { of: "unit" }),
        }
    }
    out.unit_ids = unit_ids.iter().map(Uuid::to_string).collect();

    if p.periods.is_empty() {
        e.add("periods", Rule::AtLeastOne { of: "period" });
    } else if p.periods.len() > MAX_PERIODS {
        e.add(
            "periods",
            Rule::AtMost {
                max: MAX_PERIODS as i64,
                of: "",
            },
        );
    }
    let mut keys = HashSet::new();
    for (i, pp) in p.periods.iter().enumerate() {
        let f = |name: &str| format!("periods[{i}].{name}");
        let period = match pp.key.parse::<Period>() {
            Ok(k) if k.calendar_year() != p.year => {
                e.add(f("key"), Rule::OutsidePlanYear);
                None
            }
            Ok(k) if !keys.insert(k) => {
                e.add(f("key"), Rule::twice());
                None
            }
            Ok(k) => Some(k),
            Err(_) => {
                e.add(f("key"), Rule::Period);
                None
            }
        };
        let due = parse_date(&mut e, &f("due_date"), pp.due_date.trim());
        if let (Some(k), Some(d)) = (period, due)
            && d < k.start()
        {
            e.add(f("due_date"), Rule::BeforePeriod);
        }
        let title = text(&mut e, &f("title"), &pp.title, MAX_SHORT, false);
        if let Some(k) = period {
            out.periods.push(PlanPeriod {
                key: k.to_string(),
                title: if title.is_empty() {
                    k.title_vi()
                } else {
                    title
                },
                due_date: pp.due_date.trim().to_owned(),
                start: k.start().to_string(),
                end: k.end().to_string(),
            });
        }
    }

    if p.recipients.len() > MAX_RECIPIENTS {
        e.add(
            "recipients",
            Rule::AtMost {
                max: MAX_RECIPIENTS as i64,
                of: "",
            },
        );
    }
    for (i, r) in p.recipients.iter().enumerate() {
        let name = text(
            &mut e,
            &format!("recipients[{i}].name"),
            &r.name,
            MAX_SHORT,
            true,
        );
        let id = r.recipient_id.trim();
        if !id.is_empty() && id.parse::<Uuid>().is_err() {
            e.add(
                format!("recipients[{i}].recipient_id"),
                Rule::Id { of: "recipient" },
            );
        }
        out.recipients
            .push(cchc_proto::reporting::v1::PlanRecipient {
                name,
                recipient_id: id.to_owned(),
            });
    }

    if e.is_empty() {
        Ok(CheckedPlan {
            plan: out,
            unit_ids,
        })
    } else {
        Err(e)
    }
}

/// The plan's recipients that name a recipient of the notification service (the
/// others are names written under "Nơi nhận" only).
pub fn recipient_ids(plan: &Plan) -> Vec<String> {
    plan.recipients
        .iter()
        .filter(|r| !r.recipient_id.is_empty())
        .map(|r| r.recipient_id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cchc_proto::reporting::v1::{ActivityTarget, PlanRecipient};

    fn valid() -> Plan {
        Plan {
            number_symbol: " 109/KH-SGDĐT-VP ".into(),
            year: 2020,
            title: "Tuyên truyền về công tác Cải cách hành chính năm 2020".into(),
            issuing_body: "Sở Giáo dục và Đào tạo Hải Phòng".into(),
            required_activities: vec![ActivityTarget {
                kind: activity_kind::NEWS_POST.into(),
                min_per_unit: 2,
                per: "half_year".into(),
                note: String::new(),
            }],
            unit_ids: vec![Uuid::new_v4().to_string()],
            periods: vec![PlanPeriod {
                key: "2020-h1".into(),
                due_date: "2020-06-15".into(),
                ..Default::default()
            }],
            recipients: vec![PlanRecipient {
                name: "Sở Nội vụ".into(),
                recipient_id: String::new(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_plan_is_normalised() {
        let c = check(&valid()).unwrap();
        assert_eq!(c.plan.number_symbol, "109/KH-SGDĐT-VP");
        assert_eq!(c.plan.periods[0].key, "2020-H1");
        assert_eq!(c.plan.periods[0].title, "6 tháng đầu năm 2020");
        assert_eq!(c.plan.periods[0].start, "2020-01-01");
        assert_eq!(c.plan.periods[0].end, "2020-06-30");
        assert_eq!(c.unit_ids.len(), 1);
    }

    #[test]
    fn every_violation_is_named() {
        let mut p = valid();
        p.number_symbol = " ".into();
        p.year = 1999;
        p.required_activities.push(ActivityTarget {
            kind: "party".into(),
            min_per_unit: 0,
            per: "week".into(),
            note: String::new(),
        });
        p.unit_ids.push("not-a-uuid".into());
        p.periods.push(PlanPeriod {
            key: "2021".into(),
            due_date: "2020-02-30".into(),
            ..Default::default()
        });
        p.recipients.push(PlanRecipient {
            name: String::new(),
            recipient_id: "x".into(),
        });
        let fields: Vec<String> = check(&p)
            .unwrap_err()
            .into_vec()
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            fields,
            [
                "number_symbol",
                "year",
                "required_activities[1].kind",
                "required_activities[1].min_per_unit",
                "required_activities[1].per",
                "unit_ids[1]",
                "periods[0].key",
                "periods[1].key",
                "periods[1].due_date",
                "recipients[1].name",
                "recipients[1].recipient_id",
            ]
        );
    }
}
