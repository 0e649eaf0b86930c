//! Reporting periods (kỳ báo cáo), read as every service reads them
//! ([`cchc_platform::period`]), and the rule for periods a unit submits figures for.

pub use cchc_platform::period::*;
use cchc_platform::validation::Rule;
use chrono::NaiveDate;

/// Reads a period a unit submits figures for: well formed and already begun.
pub fn check(
    e: &mut cchc_platform::validation::Errors,
    field: &str,
    value: &str,
    today: NaiveDate,
) -> Option<Period> {
    match value.parse::<Period>() {
        Ok(p) if p.has_started(today) => Some(p),
        Ok(_) => {
            e.add(field, Rule::PeriodNotBegun);
            None
        }
        Err(_) => {
            e.add(field, Rule::Period);
            None
        }
    }
}
