//! Time as the Department keeps it: dates are Vietnam's (UTC+7, no daylight saving),
//! instants are UTC and written as RFC 3339 to the microsecond, as PostgreSQL keeps them.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// Vietnam's offset from UTC (ICT, UTC+7).
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

/// Today's date in Vietnam.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&vietnam()).date_naive()
}

/// An instant in Vietnam's time.
pub fn in_vietnam(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.with_timezone(&vietnam())
}

/// An instant as RFC 3339 in UTC to the microsecond (`2020-06-15T01:30:01.123456Z`).
pub fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_is_seven_hours_ahead() {
        let t = DateTime::parse_from_rfc3339("2020-06-30T17:30:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            in_vietnam(t).date_naive(),
            NaiveDate::from_ymd_opt(2020, 7, 1).unwrap()
        );
        assert_eq!(stamp(&t), "2020-06-30T17:30:00.000000Z");
    }
}
