//! Every error answer is `application/problem+json` (RFC 9457), with field-level
//! messages for validation.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cchc_platform::validation::{Errors, FieldError, Lines, Rule, field_errors, stray_control};
use serde::Serialize;

/// An error answer (RFC 9457, `application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds a client should wait before trying again (`Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// The error answers every operation may give, documented once for all of them.
#[derive(utoipa::IntoResponses)]
pub enum Problems {
    /// Problem details (RFC 9457): bad input, authentication, not found, conflict, too
    /// large, a domain rule broken, rate limited.
    #[response(status = "4XX", content_type = "application/problem+json")]
    Client(Problem),
    /// Problem details (RFC 9457): a service is unavailable (retry after `Retry-After`)
    /// or the request could not be completed.
    #[response(status = "5XX", content_type = "application/problem+json")]
    Server(Problem),
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://cchc.example.vn/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-input",
                "Invalid input",
                detail,
            )
        }
    }

    pub fn field(field: &str, rule: Rule) -> Self {
        let error = FieldError::new(field, rule);
        Self::bad_request(format!("{field} {}", error.message), vec![error])
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 429 with `Retry-After` for the wait, which `detail` is given in whole seconds.
    pub fn rate_limited(
        wait: std::time::Duration,
        title: &str,
        detail: impl FnOnce(u64) -> String,
    ) -> Self {
        let secs = wait.as_secs().max(1);
        Self {
            retry_after: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                title,
                detail(secs),
            )
        }
    }

    /// A transient failure: 503 with `Retry-After`, so clients retry.
    pub fn unavailable() -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "a service is unavailable; try again shortly",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request could not be completed",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(&self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<tonic::Status> for Problem {
    fn from(s: tonic::Status) -> Self {
        use tonic::Code;
        let msg = s.message().to_owned();
        match s.code() {
            Code::InvalidArgument => Problem::bad_request(msg, field_errors(&s)),
            Code::FailedPrecondition => Problem {
                errors: field_errors(&s),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rule-broken",
                    "Domain rule broken",
                    msg,
                )
            },
            Code::NotFound => Problem::not_found(msg),
            Code::AlreadyExists | Code::Aborted => Problem::conflict(msg),
            Code::PermissionDenied => Problem::forbidden(msg),
            Code::Unauthenticated => Problem::unauthorized(msg),
            Code::ResourceExhausted => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                msg,
            ),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                tracing::warn!(code = ?s.code(), message = %msg, "service unavailable");
                Problem::unavailable()
            }
            _ if lost_in_transport(&s) => {
                // The service went away mid-request (killed, restarting): worth a retry.
                tracing::warn!(code = ?s.code(), message = %msg, "service connection lost");
                Problem::unavailable()
            }
            _ => {
                tracing::error!(code = ?s.code(), message = %msg, "service failed");
                Problem::internal()
            }
        }
    }
}

/// Whether a status was made on this side of the connection, from a broken transport
/// (the service's answer never arrived), rather than sent by the service.
fn lost_in_transport(s: &tonic::Status) -> bool {
    use std::error::Error;
    if s.message().starts_with("h2 protocol error") {
        return true;
    }
    let mut source = s.source();
    while let Some(e) = source {
        if e.is::<tonic::transport::Error>() || e.is::<hyper::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

impl From<sqlx::Error> for Problem {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database failed");
        Problem::internal()
    }
}

/// Whether a text holds a control character no text may hold anywhere (the platform's
/// one rule for several-line texts; services refuse line breaks in one-line fields).
pub fn has_stray_control(text: &str) -> bool {
    stray_control(text, Lines::Many).is_some()
}

/// 400 naming `field`, with the platform's words for what is wrong in `text`.
pub fn stray_control_problem(field: &str, text: &str) -> Problem {
    let mut e = Errors::new();
    e.characters(field, text, Lines::Many);
    Problem::bad_request(
        format!("{field} must not contain control characters"),
        e.into_vec(),
    )
}
