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

/// A status carrying field errors.
pub fn status(code: tonic::Code, message: &str, errors: Vec<FieldError>) -> tonic::Status {
    let details = serde_json::to_vec(&errors).unwrap_or_default();
    tonic::Status::with_details(code, message, details.into())
}

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

/// Today in Vietnam (UTC+7), the calendar the Department's dates are in.
pub fn today() -> chrono::NaiveDate {
    let offset = chrono::FixedOffset::east_opt(7 * 3600).expect("valid offset");
    chrono::Utc::now().with_timezone(&offset).date_naive()
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

/// An opaque list cursor naming the last row seen: its time and id.
pub fn cursor(at: &str, id: &str) -> String {
    format!("{at}_{id}")
}

/// Reads a [`cursor`]; `None` when the token was not issued by [`cursor`].
pub fn parse_cursor(token: &str) -> Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)> {
    let (at, id) = token.split_once('_')?;
    Some((
        chrono::DateTime::parse_from_rfc3339(at).ok()?.to_utc(),
        id.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
