//! Reporting periods (kỳ báo cáo), read as every service reads them
//! ([`cchc_platform::period`]), and the rule for periods a unit submits figures for.

pub use cchc_platform::period::*;
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
            e.add(
                field,
                "has not begun; figures can only be given for a period that has",
            );
            None
        }
        Err(bad) => {
            e.add(field, bad.to_string());
            None
        }
    }
}
