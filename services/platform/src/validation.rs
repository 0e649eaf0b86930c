//! Field-level validation errors, carried from a service to the gateway inside the gRPC
//! status details (JSON), where they become the problem+json `errors` list.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Collects every problem with an input before answering, so the caller sees them all.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Adds an error when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }

    /// Refuses a control character `value` may not hold as a text of `lines`
    /// ([`stray_control`]), naming where it is.
    pub fn characters(&mut self, field: &str, value: &str, lines: Lines) {
        if let Some(found) = stray_control(value, lines) {
            self.add(field, found.message(lines));
        }
    }

    /// Refuses a control character in a one-line text: a title, name, code or key.
    pub fn single_line(&mut self, field: &str, value: &str) {
        self.characters(field, value, Lines::One);
    }

    /// Refuses a control character other than tab and line breaks in a text that may
    /// run over several lines: a description, a note, a step.
    pub fn multi_line(&mut self, field: &str, value: &str) {
        self.characters(field, value, Lines::Many);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors collected, in the order they were added.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok` when nothing was added; otherwise a status of `code` listing every error.
    pub fn finish(self, code: tonic::Code, message: &str) -> Result<(), tonic::Status> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(status(code, message, self.0))
        }
    }
}

/// The most money one entered figure may state: 10^13 VND (10 trillion dong). A
/// provincial Department of Education's whole yearly budget is of that order, and what
/// a unit spends on communication is a small part of it, so no true figure comes near;
/// yet a million such figures still add up far below `i64::MAX` (about 9.2 × 10^18),
/// so sums over every unit and line of a report cannot overflow.
pub const MAX_VND: i64 = 10_000_000_000_000;

/// The most one entered count may state (dossiers, responses, people): 10^9, above
/// any province's population, and summed over a million entries still far below
/// `i64::MAX`.
pub const MAX_COUNT: i64 = 1_000_000_000;

/// Whether a text is written on one line or may run over several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// A control character where a text may not hold one, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrayControl {
    pub character: char,
    /// 1-based, counted in characters.
    pub position: usize,
}

impl StrayControl {
    fn message(self, lines: Lines) -> String {
        let allowed = match lines {
            Lines::One => "",
            Lines::Many => " other than tab and line breaks",
        };
        format!(
            "must not contain control characters{allowed} (U+{:04X} at character {})",
            u32::from(self.character),
            self.position
        )
    }
}

/// The one rule for characters in entered text, for every service: no control
/// characters (C0, DEL, C1), except that a text of several lines may hold tab, line
/// feed and carriage return. PostgreSQL refuses NUL in text and JSON outright, so a NUL
/// that got through would fail the whole write as an internal error; the other
/// controls are invisible in a document or a report and only ever arrive by mistake or
/// malice.
pub fn stray_control(value: &str, lines: Lines) -> Option<StrayControl> {
    let line_break_or_tab = |c: char| matches!(c, '\t' | '\n' | '\r');
    value
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && !(lines == Lines::Many && line_break_or_tab(c)))
        .map(|(i, character)| StrayControl {
            character,
            position: i + 1,
        })
}

/// A status carrying field errors.
pub fn status(code: tonic::Code, message: &str, mut errors: Vec<FieldError>) -> tonic::Status {
    // The details travel in one HTTP/2 header, which a peer refuses past 16 KiB (the
    // whole answer then fails as a protocol error): the first errors tell the client
    // enough to fix its request.
    let total = errors.len();
    errors.truncate(MAX_FIELD_ERRORS);
    let message = if total > MAX_FIELD_ERRORS {
        format!("{message} (the first {MAX_FIELD_ERRORS} of {total} errors)")
    } else {
        message.to_owned()
    };
    let details = serde_json::to_vec(&errors).unwrap_or_default();
    tonic::Status::with_details(code, message, details.into())
}

/// Field errors carried by one status at most.
pub const MAX_FIELD_ERRORS: usize = 50;

/// The field errors a status carries (empty when none).
pub fn field_errors(status: &tonic::Status) -> Vec<FieldError> {
    serde_json::from_slice(status.details()).unwrap_or_default()
}

/// Logs an internal failure with its chain and answers opaquely.
pub fn internal(e: impl Into<anyhow::Error>) -> tonic::Status {
    let e = e.into();
    tracing::error!(error = %format!("{e:#}"), "internal error");
    tonic::Status::internal("internal error")
}

/// Parses a `YYYY-MM-DD` date, naming the field when it is not a real date.
pub fn parse_date(errors: &mut Errors, field: &str, value: &str) -> Option<chrono::NaiveDate> {
    match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) if value.len() == 10 => Some(d),
        _ => {
            errors.add(field, "must be a real date written YYYY-MM-DD");
            None
        }
    }
}

/// A plausible absolute http(s) URL.
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && s.len() <= 2000
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && s.parse::<http::Uri>().is_ok()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_carries_at_most_its_share_of_field_errors() {
        let errors = (0..200)
            .map(|i| FieldError {
                field: format!("lines[{i}].planned_vnd"),
                message: format!("must be at most {MAX_VND}"),
            })
            .collect();
        let s = status(
            tonic::Code::InvalidArgument,
            "the budget is not valid",
            errors,
        );
        assert_eq!(field_errors(&s).len(), MAX_FIELD_ERRORS);
        assert!(s.details().len() < 8 * 1024, "{} bytes", s.details().len());
        assert_eq!(
            s.message(),
            "the budget is not valid (the first 50 of 200 errors)"
        );
    }

    #[test]
    fn errors_travel_in_status_details() {
        let mut e = Errors::new();
        e.add("title", "is required");
        e.check(false, "date", "bad");
        let s = e
            .finish(tonic::Code::InvalidArgument, "invalid")
            .unwrap_err();
        assert_eq!(field_errors(&s).len(), 2);
        assert_eq!(field_errors(&s)[0].field, "title");
    }

    #[test]
    fn control_characters_are_refused_by_shape() {
        assert_eq!(stray_control("Tuyên truyền CCHC", Lines::One), None);
        assert_eq!(
            stray_control("a\u{0}b", Lines::One),
            Some(StrayControl {
                character: '\0',
                position: 2
            })
        );
        // Tab and line breaks belong in a text of several lines, not in a title.
        let multi = "Bước 1:\tnộp hồ sơ\r\nBước 2: nhận kết quả\n";
        assert_eq!(stray_control(multi, Lines::Many), None);
        assert!(stray_control(multi, Lines::One).is_some());
        for c in ['\0', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
            let s = format!("x{c}");
            assert!(stray_control(&s, Lines::Many).is_some(), "{c:?}");
        }
        let mut e = Errors::new();
        e.single_line("title", "Hội\u{0}nghị");
        e.multi_line("description", "dòng 1\ndòng 2");
        e.multi_line("note", "ghi\u{7}chú");
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "note"]);
        assert_eq!(
            e.0[0].message,
            "must not contain control characters (U+0000 at character 4)"
        );
        assert_eq!(
            e.0[1].message,
            "must not contain control characters other than tab and line breaks (U+0007 at character 4)"
        );
    }

    #[test]
    fn dates_and_urls() {
        let mut e = Errors::new();
        assert!(parse_date(&mut e, "d", "2020-02-29").is_some());
        assert!(parse_date(&mut e, "d", "2021-02-29").is_none());
        assert!(parse_date(&mut e, "d", "2021-2-3").is_none());
        assert_eq!(e.0.len(), 2);
        assert!(is_http_url("https://sgddt.example.vn/tin-tuc/1?a=b"));
        assert!(!is_http_url("javascript:alert(1)"));
        assert!(!is_http_url("https:// spaced"));
        assert!(!is_http_url("https://"));
    }
}
