//! One-stop results (kết quả giải quyết thủ tục hành chính theo cơ chế một cửa, một
//! cửa liên thông): a unit's dossier counters for a period, which must reconcile.

use cchc_platform::validation::{Errors, Rule};
use cchc_proto::activity::v1::{
    OneStopPending, OneStopReceived, OneStopResolved, SubmitOneStopResultRequest,
};

use super::{MAX_COUNT, Period, Rejection, rate};

const MAX_NOTE: usize = 2_000;

/// Dossier counters (hồ sơ) of one unit for one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub received_online: i64,
    /// In person or by post.
    pub received_in_person_or_post: i64,
    pub received_carried_over: i64,
    pub resolved_early: i64,
    pub resolved_on_time: i64,
    pub resolved_late: i64,
    pub pending_within_time: i64,
    pub pending_overdue: i64,
    pub returned_withdrawn: i64,
}

impl Counters {
    pub fn received_total(&self) -> i64 {
        self.received_online + self.received_in_person_or_post + self.received_carried_over
    }

    pub fn resolved_total(&self) -> i64 {
        self.resolved_early + self.resolved_on_time + self.resolved_late
    }

    pub fn pending_total(&self) -> i64 {
        self.pending_within_time + self.pending_overdue
    }

    /// (early + on time) / resolved; `None` when nothing was resolved.
    pub fn on_time_rate(&self) -> Option<f64> {
        rate(
            self.resolved_early + self.resolved_on_time,
            self.resolved_total(),
        )
    }

    pub fn received(&self) -> OneStopReceived {
        OneStopReceived {
            online: self.received_online,
            in_person_or_post: self.received_in_person_or_post,
            carried_over: self.received_carried_over,
            total: self.received_total(),
        }
    }

    pub fn resolved(&self) -> OneStopResolved {
        OneStopResolved {
            early: self.resolved_early,
            on_time: self.resolved_on_time,
            late: self.resolved_late,
            total: self.resolved_total(),
        }
    }

    pub fn pending(&self) -> OneStopPending {
        OneStopPending {
            within_time: self.pending_within_time,
            overdue: self.pending_overdue,
            total: self.pending_total(),
        }
    }

    /// Every received dossier is resolved, pending, or returned/withdrawn. Returns the
    /// sentence naming the difference when they do not add up.
    pub fn reconcile(&self) -> Result<(), Rule> {
        let received = self.received_total();
        let accounted = self.resolved_total() + self.pending_total() + self.returned_withdrawn;
        if received == accounted {
            Ok(())
        } else {
            Err(Rule::Unreconciled {
                received,
                resolved: self.resolved_total(),
                pending: self.pending_total(),
                returned: self.returned_withdrawn,
            })
        }
    }
}

/// A checked, reconciled one-stop result. Only [`check`] builds one.
#[derive(Debug, Clone, PartialEq)]
pub struct OneStopFigures {
    period: Period,
    counters: Counters,
    note: String,
}

impl OneStopFigures {
    pub fn period(&self) -> Period {
        self.period
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn note(&self) -> &str {
        &self.note
    }
}

/// Checks a submission: malformed fields first (400, every one named), then the
/// reconciliation (422, naming the difference).
pub fn check(
    r: &SubmitOneStopResultRequest,
    today: chrono::NaiveDate,
) -> Result<OneStopFigures, Rejection> {
    let mut e = Errors::new();
    let period = super::period::check(&mut e, "period", &r.period, today);
    let received = r.received.unwrap_or_default();
    let resolved = r.resolved.unwrap_or_default();
    let pending = r.pending.unwrap_or_default();
    let mut count = |field: &str, n: i64| {
        e.check(n >= 0, field, Rule::NotNegative);
        e.check(
            n <= MAX_COUNT,
            field,
            Rule::AtMost {
                max: MAX_COUNT,
                of: "",
            },
        );
        n.clamp(0, MAX_COUNT)
    };
    let c = Counters {
        received_online: count("received.online", received.online),
        received_in_person_or_post: count("received.in_person_or_post", received.in_person_or_post),
        received_carried_over: count("received.carried_over", received.carried_over),
        resolved_early: count("resolved.early", resolved.early),
        resolved_on_time: count("resolved.on_time", resolved.on_time),
        resolved_late: count("resolved.late", resolved.late),
        pending_within_time: count("pending.within_time", pending.within_time),
        pending_overdue: count("pending.overdue", pending.overdue),
        returned_withdrawn: count("returned_withdrawn", r.returned_withdrawn),
    };
    // Totals are computed; one sent anyway must at least agree with its parts.
    for (field, sent, parts) in [
        ("received.total", received.total, c.received_total()),
        ("resolved.total", resolved.total, c.resolved_total()),
        ("pending.total", pending.total, c.pending_total()),
    ] {
        e.check(sent == 0 || sent == parts, field, Rule::Computed { parts });
    }
    e.check(
        r.note.chars().count() <= MAX_NOTE,
        "note",
        Rule::TooLong { max: MAX_NOTE },
    );
    e.multi_line("note", &r.note);
    super::check_idempotency_key(&mut e, &r.idempotency_key);
    let Some(period) = period.filter(|_| e.is_empty()) else {
        return Err(Rejection::invalid("the one-stop result is not valid", e));
    };
    if let Err(difference) = c.reconcile() {
        let mut e = Errors::new();
        let message = format!(
            "the one-stop result does not reconcile: {}",
            difference.message()
        );
        e.add("received", difference);
        return Err(Rejection::rule(message, e));
    }
    Ok(OneStopFigures {
        period,
        counters: c,
        note: r.note.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        "2021-01-15".parse().unwrap()
    }

    fn good() -> SubmitOneStopResultRequest {
        SubmitOneStopResultRequest {
            period: "2020-H1".into(),
            received: Some(OneStopReceived {
                online: 50,
                in_person_or_post: 60,
                carried_over: 10,
                total: 0,
            }),
            resolved: Some(OneStopResolved {
                early: 30,
                on_time: 60,
                late: 10,
                total: 0,
            }),
            pending: Some(OneStopPending {
                within_time: 12,
                overdue: 3,
                total: 0,
            }),
            returned_withdrawn: 5,
            ..Default::default()
        }
    }

    #[test]
    fn reconciled_figures_pass_and_the_rate_is_computed() {
        let f = check(&good(), today()).unwrap();
        assert_eq!(f.period().to_string(), "2020-H1");
        assert_eq!(f.counters().received_total(), 120);
        assert_eq!(f.counters().on_time_rate(), Some(90.0));
    }

    #[test]
    fn no_rate_without_resolved_dossiers() {
        let c = Counters {
            received_online: 4,
            pending_within_time: 4,
            ..Default::default()
        };
        assert!(c.reconcile().is_ok());
        assert_eq!(c.on_time_rate(), None);
    }

    #[test]
    fn a_difference_is_named() {
        let mut r = good();
        r.returned_withdrawn = 3;
        let e = check(&r, today()).unwrap_err();
        assert_eq!(e.code, tonic::Code::FailedPrecondition);
        assert_eq!(
            e.errors[0].message,
            "received 120 ≠ resolved 100 + pending 15 + returned or withdrawn 3 (difference 2)"
        );
    }

    #[test]
    fn malformed_fields_come_before_reconciliation() {
        let mut r = good();
        r.period = "2020-H3".into();
        r.resolved.as_mut().unwrap().late = -1;
        r.pending.as_mut().unwrap().total = 99;
        let e = check(&r, today()).unwrap_err();
        assert_eq!(e.code, tonic::Code::InvalidArgument);
        let fields: Vec<_> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["period", "resolved.late", "pending.total"]);
    }

    #[test]
    fn a_period_not_begun_is_refused() {
        let mut r = good();
        r.period = "2021-H2".into();
        let e = check(&r, today()).unwrap_err();
        assert_eq!(e.errors[0].field, "period");
    }
}
