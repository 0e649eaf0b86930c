//! The reporting domain: periods, plans and how figures are written in Vietnamese.

pub mod period;
pub mod plan;

use cchc_platform::vocabulary::activity_kind;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// The instant `day` begins in Vietnam: a rename effective on a day holds from then,
/// and a period ends when the day after it begins.
pub fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    cchc_platform::time::vietnam()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("fixed offsets are unambiguous")
        .to_utc()
}

/// What a kind ([`activity_kind`]) is called in the Department's reports.
pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        activity_kind::BRIEFING => "Quán triệt, phổ biến tại cuộc họp",
        activity_kind::NEWS_POST => "Tin bài đăng trên trang thông tin điện tử",
        activity_kind::TRAINING => "Tập huấn, bồi dưỡng",
        activity_kind::POSTING => "Niêm yết công khai",
        activity_kind::COMMENDATION => "Biểu dương gương tốt",
        activity_kind::CRITICISM => "Phê phán hành vi tiêu cực",
        activity_kind::ONE_STOP_PUBLICATION => "Công khai kết quả một cửa",
        activity_kind::MEDIA_COORDINATION => "Phối hợp với cơ quan báo chí",
        activity_kind::OTHER => "Hình thức khác",
        _ => "Không xác định",
    }
}

/// The noun a count of `kind` is written with in a sentence ("120 tin bài").
pub fn kind_noun(kind: &str) -> &'static str {
    match kind {
        activity_kind::BRIEFING => "buổi quán triệt, phổ biến",
        activity_kind::NEWS_POST => "tin bài trên trang thông tin điện tử",
        activity_kind::TRAINING => "lớp tập huấn, bồi dưỡng",
        activity_kind::POSTING => "lượt niêm yết công khai",
        activity_kind::COMMENDATION => "lượt biểu dương gương tốt",
        activity_kind::CRITICISM => "lượt phê phán hành vi tiêu cực",
        activity_kind::ONE_STOP_PUBLICATION => "lượt công khai kết quả một cửa",
        activity_kind::MEDIA_COORDINATION => "lượt phối hợp với cơ quan báo chí",
        _ => "hoạt động khác",
    }
}

/// How often a target must be met.
pub const TARGET_PERS: &[&str] = &["month", "quarter", "half_year", "year"];

pub fn per_months(per: &str) -> u32 {
    match per {
        "month" => 1,
        "quarter" => 3,
        "half_year" => 6,
        _ => 12,
    }
}

pub fn per_label(per: &str) -> &'static str {
    match per {
        "month" => "tháng",
        "quarter" => "quý",
        "half_year" => "6 tháng",
        _ => "năm",
    }
}

/// What a target of `min` per `per` asks of a report period of `months` months: the
/// minimum scaled to the period's length, rounded up (2 per half-year is 4 in a year;
/// 3 per year is 2 in a half-year).
pub fn required_in(min: i64, per: &str, months: u32) -> i64 {
    let per = i64::from(per_months(per));
    let months = i64::from(months);
    (min * months + per - 1) / per
}

/// `num / den` in percent with one decimal: the one definition of a rate.
pub use cchc_platform::rate::percent as rate;

pub use cchc_text::number_vi;

/// 95.5 as "95,5%".
pub fn percent_vi(p: f64) -> String {
    let s = format!("{p:.1}").replace('.', ",");
    format!("{s}%")
}

/// A date as written under the motto (Decree 30/2020): days below 10 and the months
/// January and February take a leading zero, "ngày 05 tháng 02 năm 2020".
pub fn date_vi(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let month = if d.month() <= 2 {
        format!("{:02}", d.month())
    } else {
        d.month().to_string()
    };
    format!("ngày {:02} tháng {month} năm {}", d.day(), d.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_rates_and_dates_in_vietnamese() {
        assert_eq!(number_vi(0), "0");
        assert_eq!(number_vi(999), "999");
        assert_eq!(number_vi(12450), "12.450");
        assert_eq!(number_vi(120_000_000), "120.000.000");
        assert_eq!(number_vi(-1500), "-1.500");
        assert_eq!(rate(45, 50), Some(90.0));
        assert_eq!(rate(2, 3), Some(66.7));
        assert_eq!(rate(1, 8), Some(12.5));
        assert_eq!(rate(1, 0), None);
        assert_eq!(percent_vi(95.5), "95,5%");
        assert_eq!(percent_vi(100.0), "100,0%");
        let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
        assert_eq!(date_vi(d("2020-01-15")), "ngày 15 tháng 01 năm 2020");
        assert_eq!(date_vi(d("2020-06-05")), "ngày 05 tháng 6 năm 2020");
        assert_eq!(date_vi(d("2020-12-31")), "ngày 31 tháng 12 năm 2020");
    }

    #[test]
    fn a_day_begins_at_midnight_in_vietnam() {
        let d: chrono::NaiveDate = "2020-07-01".parse().unwrap();
        assert_eq!(
            cchc_platform::time::stamp(&start_of_day(d)),
            "2020-06-30T17:00:00.000000Z"
        );
    }

    #[test]
    fn targets_scale_to_the_period() {
        assert_eq!(required_in(2, "half_year", 6), 2);
        assert_eq!(required_in(2, "half_year", 12), 4);
        assert_eq!(required_in(3, "year", 6), 2);
        assert_eq!(required_in(1, "month", 6), 6);
        assert_eq!(required_in(1, "quarter", 12), 4);
    }
}
