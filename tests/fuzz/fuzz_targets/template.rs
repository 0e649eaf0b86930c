//! Message templates as the office saves them: placeholder checks, then rendering.
#![no_main]

use cchc_notification::domain::Kind;
use cchc_notification::domain::template::{Values, check, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let kind = Kind::ProcedureChanged;
        if check(kind, text).is_ok() {
            let mut values = Values::new();
            for p in kind.placeholders() {
                values.insert(p, format!("<{p}> & \"giá trị\""));
            }
            let _ = render(text, &values, |s| s.replace('<', "&lt;"));
        }
    }
});
