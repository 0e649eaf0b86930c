//! Period strings (`2020-H1`, `2020-Q3`, `2020-07`, ...) from request paths.
#![no_main]

use cchc_activity::domain::period::Period;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = s.parse::<Period>() {
            // A period that parses names a real range, and prints back to itself.
            let again: Period = p.to_string().parse().expect("a printed period parses");
            assert_eq!(p, again);
        }
    }
});
