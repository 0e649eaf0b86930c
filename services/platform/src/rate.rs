//! One definition of a rate for every service and export: a percentage with one
//! decimal, rounded half up, computed on integers so every run gives the same digits.
//! The on-time rate is resolved early or on time over all resolved; the satisfaction
//! rate is "very satisfied" and "satisfied" over the ratings given (a form that left a
//! criterion blank does not count for it), per criterion and over all criteria.

/// `num / den` in percent with one decimal; `None` when `den` is 0.
pub fn percent(num: i64, den: i64) -> Option<f64> {
    if den <= 0 {
        return None;
    }
    let tenths = (num as i128 * 2000 + den as i128) / (2 * den as i128);
    Some(tenths as f64 / 10.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_percent_has_one_decimal_rounded_half_up() {
        assert_eq!(super::percent(29, 32), Some(90.6));
        assert_eq!(super::percent(1, 3), Some(33.3));
        assert_eq!(super::percent(2, 3), Some(66.7));
        assert_eq!(super::percent(1, 8), Some(12.5));
        assert_eq!(super::percent(0, 5), Some(0.0));
        assert_eq!(super::percent(5, 0), None);
    }
}
