//! Reporting periods (kỳ báo cáo): a year, a half, a quarter or a month, written
//! `2020`, `2020-H1`, `2020-Q3`, `2020-07` — one reading for every service.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// The years a period may fall in.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2200;

/// What part of the year a [`Period`] covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Span {
    Year,
    /// 1 or 2.
    Half(u8),
    /// 1 to 4.
    Quarter(u8),
    /// 1 to 12.
    Month(u8),
}

/// A reporting period, written `2020`, `2020-H1`, `2020-Q3` or `2020-07`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    year: i32,
    span: Span,
}

/// Why a string is not a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be a year (2020), a half (2020-H1, 2020-H2), a quarter (2020-Q1 to 2020-Q4) or a month (2020-01 to 2020-12), in 2000 to 2200"
)]
pub struct BadPeriod;

impl Period {
    pub fn year(year: i32) -> Result<Self, BadPeriod> {
        Self::new(year, Span::Year)
    }

    pub fn new(year: i32, span: Span) -> Result<Self, BadPeriod> {
        let ok = YEARS.contains(&year)
            && match span {
                Span::Year => true,
                Span::Half(n) => (1..=2).contains(&n),
                Span::Quarter(n) => (1..=4).contains(&n),
                Span::Month(n) => (1..=12).contains(&n),
            };
        if ok {
            Ok(Self { year, span })
        } else {
            Err(BadPeriod)
        }
    }

    pub fn span(&self) -> Span {
        self.span
    }

    pub fn calendar_year(&self) -> i32 {
        self.year
    }

    /// First and last month (1-12) of the period.
    fn months(&self) -> (u32, u32) {
        match self.span {
            Span::Year => (1, 12),
            Span::Half(h) => (u32::from(h) * 6 - 5, u32::from(h) * 6),
            Span::Quarter(q) => (u32::from(q) * 3 - 2, u32::from(q) * 3),
            Span::Month(m) => (u32::from(m), u32::from(m)),
        }
    }

    /// The first day of the period.
    pub fn start(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.months().0, 1).expect("a valid period")
    }

    /// The last day of the period.
    pub fn end(&self) -> NaiveDate {
        let (_, last) = self.months();
        let next = if last == 12 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, last + 1, 1)
        };
        next.and_then(|d| d.pred_opt()).expect("a valid period")
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start() <= d && d <= self.end()
    }

    /// Whether the period's first day has come; figures for a later period cannot exist.
    pub fn has_started(&self, today: NaiveDate) -> bool {
        self.start() <= today
    }

    /// How many months the period spans.
    pub fn month_count(&self) -> u32 {
        let (first, last) = self.months();
        last - first + 1
    }

    /// The period as the Department writes it: "6 tháng đầu năm 2020", "năm 2020".
    pub fn title_vi(&self) -> String {
        let y = self.year;
        match self.span {
            Span::Year => format!("năm {y}"),
            Span::Half(1) => format!("6 tháng đầu năm {y}"),
            Span::Half(_) => format!("6 tháng cuối năm {y}"),
            Span::Quarter(q) => {
                let roman = ["I", "II", "III", "IV"][usize::from(q - 1)];
                format!("quý {roman} năm {y}")
            }
            Span::Month(m) => format!("tháng {m} năm {y}"),
        }
    }
}

impl FromStr for Period {
    type Err = BadPeriod;

    /// Reads `2020`, `2020-H1`, `2020-Q3`, `2020-07` (letters in either case).
    fn from_str(s: &str) -> Result<Self, BadPeriod> {
        let s = s.trim();
        let (year, rest) = match s.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (s, None),
        };
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadPeriod);
        }
        let year: i32 = year.parse().map_err(|_| BadPeriod)?;
        let number = |digits: &str, width: usize| -> Result<u8, BadPeriod> {
            if digits.len() == width && digits.bytes().all(|b| b.is_ascii_digit()) {
                digits.parse().map_err(|_| BadPeriod)
            } else {
                Err(BadPeriod)
            }
        };
        let span = match rest {
            None => Span::Year,
            Some(r) => match r.as_bytes().first() {
                Some(b'H' | b'h') => Span::Half(number(&r[1..], 1)?),
                Some(b'Q' | b'q') => Span::Quarter(number(&r[1..], 1)?),
                _ => Span::Month(number(r, 2)?),
            },
        };
        Self::new(year, span)
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.span {
            Span::Year => write!(f, "{}", self.year),
            Span::Half(h) => write!(f, "{}-H{h}", self.year),
            Span::Quarter(q) => write!(f, "{}-Q{q}", self.year),
            Span::Month(m) => write!(f, "{}-{m:02}", self.year),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn range(p: &str) -> (String, NaiveDate, NaiveDate) {
        let p: Period = p.parse().unwrap();
        (p.to_string(), p.start(), p.end())
    }

    #[test]
    fn every_form_reads_to_its_dates() {
        assert_eq!(
            range("2020"),
            ("2020".into(), d("2020-01-01"), d("2020-12-31"))
        );
        assert_eq!(
            range("2020-H1"),
            ("2020-H1".into(), d("2020-01-01"), d("2020-06-30"))
        );
        assert_eq!(
            range("2020-h2"),
            ("2020-H2".into(), d("2020-07-01"), d("2020-12-31"))
        );
        assert_eq!(
            range("2020-Q1"),
            ("2020-Q1".into(), d("2020-01-01"), d("2020-03-31"))
        );
        assert_eq!(
            range("2020-Q4"),
            ("2020-Q4".into(), d("2020-10-01"), d("2020-12-31"))
        );
        assert_eq!(
            range("2020-02"),
            ("2020-02".into(), d("2020-02-01"), d("2020-02-29"))
        );
        assert_eq!(
            range("2021-02"),
            ("2021-02".into(), d("2021-02-01"), d("2021-02-28"))
        );
        assert_eq!(
            range("2020-12"),
            ("2020-12".into(), d("2020-12-01"), d("2020-12-31"))
        );
        assert_eq!(
            range(" 2020-q3 "),
            ("2020-Q3".into(), d("2020-07-01"), d("2020-09-30"))
        );
    }

    #[test]
    fn bad_strings_are_refused() {
        for bad in [
            "", "20", "202O", "20200", "2020-", "2020-H", "2020-H0", "2020-H3", "2020-H12",
            "2020-Q0", "2020-Q5", "2020-Q", "2020-00", "2020-13", "2020-1", "2020-001", "2020-S1",
            "1999", "2201", "-2020", "2020-H1-", "2020/H1", "2020-Q1x", "H1-2020", "2020-+1",
            "2020-H+", "٢٠٢٠",
        ] {
            assert_eq!(bad.parse::<Period>(), Err(BadPeriod), "{bad:?}");
        }
    }

    #[test]
    fn contains_months_and_titles() {
        let p: Period = "2020-H1".parse().unwrap();
        assert!(p.contains(d("2020-01-01")));
        assert!(p.contains(d("2020-06-30")));
        assert!(!p.contains(d("2020-07-01")));
        assert!(!p.contains(d("2019-12-31")));
        assert!(p.has_started(d("2020-01-01")));
        assert!(!p.has_started(d("2019-12-31")));
        assert_eq!(p.month_count(), 6);
        assert_eq!(p.title_vi(), "6 tháng đầu năm 2020");
        assert_eq!("2020".parse::<Period>().unwrap().title_vi(), "năm 2020");
        assert_eq!(
            "2020-Q3".parse::<Period>().unwrap().title_vi(),
            "quý III năm 2020"
        );
    }
}
