//! Satisfaction surveys (khảo sát sự hài lòng của người dân, tổ chức): per criterion,
//! how many of the responses were very satisfied, satisfied or dissatisfied.

use std::collections::HashMap;

use cchc_platform::validation::{Errors, Rule};
use cchc_proto::activity::v1::{CriterionCounts, SubmitSatisfactionRequest};
use serde::{Deserialize, Serialize};

use super::{MAX_COUNT, Period, Rejection, rate};

const MAX_CRITERIA: usize = 50;
const MAX_NAME: usize = 200;

/// One criterion's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub name: String,
    pub very_satisfied: i64,
    pub satisfied: i64,
    pub dissatisfied: i64,
}

impl Criterion {
    pub fn satisfied_total(&self) -> i64 {
        self.very_satisfied + self.satisfied
    }

    pub fn answered(&self) -> i64 {
        self.very_satisfied + self.satisfied + self.dissatisfied
    }

    /// The criterion with its computed figures, out of `responses`: its rate is over
    /// the ratings given, as in every report.
    pub fn to_proto(&self, responses: i64) -> CriterionCounts {
        CriterionCounts {
            name: self.name.clone(),
            very_satisfied: self.very_satisfied,
            satisfied: self.satisfied,
            dissatisfied: self.dissatisfied,
            satisfied_rate: rate(self.satisfied_total(), self.answered()),
            no_answer: responses - self.answered(),
        }
    }
}

/// A checked survey. Only [`check`] builds one.
#[derive(Debug, Clone, PartialEq)]
pub struct SatisfactionFigures {
    period: Period,
    responses: i64,
    criteria: Vec<Criterion>,
}

impl SatisfactionFigures {
    pub fn period(&self) -> Period {
        self.period
    }

    pub fn responses(&self) -> i64 {
        self.responses
    }

    pub fn criteria(&self) -> &[Criterion] {
        &self.criteria
    }
}

/// Satisfied answers over all answers possible (responses × criteria); `None` with no
/// responses.
/// "Very satisfied" and "satisfied" over every rating given, all criteria together.
pub fn overall_rate(criteria: &[Criterion]) -> Option<f64> {
    rate(
        criteria.iter().map(Criterion::satisfied_total).sum(),
        criteria.iter().map(Criterion::answered).sum(),
    )
}

/// Checks a survey: malformed fields first (400), then that no criterion counts more
/// answers than there were responses (422).
pub fn check(
    r: &SubmitSatisfactionRequest,
    today: chrono::NaiveDate,
) -> Result<SatisfactionFigures, Rejection> {
    let mut e = Errors::new();
    let period = super::period::check(&mut e, "period", &r.period, today);
    let count = |e: &mut Errors, field: String, n: i64| {
        e.check(n >= 0, &field, Rule::NotNegative);
        e.check(
            n <= MAX_COUNT,
            &field,
            Rule::AtMost {
                max: MAX_COUNT,
                of: "",
            },
        );
    };
    count(&mut e, "responses".into(), r.responses);
    e.check(
        !r.criteria.is_empty(),
        "criteria",
        Rule::AtLeastOne { of: "criterion" },
    );
    e.check(
        r.criteria.len() <= MAX_CRITERIA,
        "criteria",
        Rule::AtMost {
            max: MAX_CRITERIA as i64,
            of: "criteria",
        },
    );
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut criteria = Vec::with_capacity(r.criteria.len());
    for (i, c) in r.criteria.iter().enumerate() {
        let name = c.name.trim();
        let field = |f: &str| format!("criteria[{i}].{f}");
        e.check(!name.is_empty(), &field("name"), Rule::Required);
        e.check(
            name.chars().count() <= MAX_NAME,
            &field("name"),
            Rule::TooLong { max: MAX_NAME },
        );
        e.single_line(&field("name"), name);
        if !name.is_empty()
            && let Some(first) = seen.insert(name.to_lowercase(), i)
        {
            e.add(
                field("name"),
                Rule::Duplicate {
                    first: format!("criteria[{first}]"),
                },
            );
        }
        count(&mut e, field("very_satisfied"), c.very_satisfied);
        count(&mut e, field("satisfied"), c.satisfied);
        count(&mut e, field("dissatisfied"), c.dissatisfied);
        criteria.push(Criterion {
            name: name.to_owned(),
            very_satisfied: c.very_satisfied,
            satisfied: c.satisfied,
            dissatisfied: c.dissatisfied,
        });
    }
    super::check_idempotency_key(&mut e, &r.idempotency_key);
    let Some(period) = period.filter(|_| e.is_empty()) else {
        return Err(Rejection::invalid(
            "the satisfaction survey is not valid",
            e,
        ));
    };
    let mut e = Errors::new();
    for (i, c) in criteria.iter().enumerate() {
        if c.answered() > r.responses {
            e.add(
                format!("criteria[{i}]"),
                Rule::MoreThanResponses {
                    very_satisfied: c.very_satisfied,
                    satisfied: c.satisfied,
                    dissatisfied: c.dissatisfied,
                    responses: r.responses,
                },
            );
        }
    }
    if !e.is_empty() {
        return Err(Rejection::rule(
            "a criterion counts more answers than there were responses",
            e,
        ));
    }
    Ok(SatisfactionFigures {
        period,
        responses: r.responses,
        criteria,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        "2021-01-15".parse().unwrap()
    }

    fn crit(name: &str, vs: i64, s: i64, d: i64) -> CriterionCounts {
        CriterionCounts {
            name: name.into(),
            very_satisfied: vs,
            satisfied: s,
            dissatisfied: d,
            ..Default::default()
        }
    }

    fn good() -> SubmitSatisfactionRequest {
        SubmitSatisfactionRequest {
            period: "2020".into(),
            responses: 200,
            criteria: vec![
                crit("Tiếp cận dịch vụ", 100, 80, 20),
                crit("Thủ tục hành chính", 60, 90, 40),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn rates_per_criterion_and_overall() {
        let f = check(&good(), today()).unwrap();
        // Over the ratings given: 180 of 200, 150 of 190 (10 forms left it blank).
        assert_eq!(
            f.criteria[0].to_proto(f.responses).satisfied_rate,
            Some(90.0)
        );
        assert_eq!(
            f.criteria[1].to_proto(f.responses).satisfied_rate,
            Some(78.9)
        );
        assert_eq!(f.criteria[1].to_proto(f.responses).no_answer, 10);
        assert_eq!(overall_rate(&f.criteria), Some(84.6));
        assert_eq!(overall_rate(&[]), None);
    }

    #[test]
    fn counts_may_not_exceed_responses() {
        let mut r = good();
        r.criteria[1].dissatisfied = 51;
        let e = check(&r, today()).unwrap_err();
        assert_eq!(e.code, tonic::Code::FailedPrecondition);
        assert_eq!(e.errors.len(), 1);
        assert_eq!(e.errors[0].field, "criteria[1]");
        assert!(
            e.errors[0]
                .message
                .contains("= 201 exceeds the 200 responses")
        );
    }

    #[test]
    fn malformed_criteria_are_named() {
        let mut r = good();
        r.criteria.push(crit(" tiếp cận dịch vụ ", -1, 0, 0));
        r.criteria.push(crit("", 0, 0, 0));
        r.responses = -5;
        let e = check(&r, today()).unwrap_err();
        assert_eq!(e.code, tonic::Code::InvalidArgument);
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "responses",
                "criteria[2].name",
                "criteria[2].very_satisfied",
                "criteria[3].name"
            ]
        );
        r.criteria.clear();
        r.responses = 1;
        let e = check(&r, today()).unwrap_err();
        assert_eq!(e.errors[0].field, "criteria");
    }
}
