//! What every request goes through: tracing, metrics, a time limit, per-key rate
//! limits, `Idempotency-Key` replay for writes, and validators (`ETag`) for reads.

pub mod attribution;
pub mod authenticate;
pub mod conditional;
pub mod idempotency;
pub mod metrics;
pub mod rate_limit;

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::problem::{Problem, has_stray_control, stray_control_problem};

/// An answer taken apart with its whole body, for a layer that reads it (the API's own
/// answers are whole in memory already). A body that cannot be read is logged with
/// `why` and answered empty, as the error it is.
pub async fn whole(
    res: Response,
    why: &str,
) -> Result<(axum::http::response::Parts, axum::body::Bytes), Response> {
    let (parts, body) = res.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Ok((parts, bytes)),
        Err(e) => {
            tracing::error!(error = %e, "reading an answer to {why}");
            Err(Response::from_parts(parts, axum::body::Body::empty()))
        }
    }
}

/// The route template of a request ("/v1/units/{unit_id}"), never its raw path, so
/// labels stay few.
pub fn route_of(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into())
}

/// Opens the request's span as a child of the caller's trace (W3C `traceparent`), so
/// the gRPC calls and the events that follow belong to the same trace.
pub async fn trace(req: Request, next: Next) -> Response {
    let span = tracing::info_span!("http", method = %req.method(), route = %route_of(&req), status = tracing::field::Empty);
    cchc_platform::telemetry::set_parent_from(
        &span,
        &cchc_platform::telemetry::headers_from_http(req.headers()),
    );
    let res = next.run(req).instrument(span.clone()).await;
    span.record("status", res.status().as_u16());
    res
}

/// Answers 503 (problem+json) when a request takes longer than `limit`.
pub async fn timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// Refuses a path or query that carries a percent-encoded control character (`%00`
/// reaches PostgreSQL as an error otherwise) with 400 naming the parameter.
pub async fn refuse_control_characters(req: Request, next: Next) -> Response {
    let uri = req.uri();
    if has_control(uri.path()) {
        return stray_control_problem("path", &decode(uri.path())).into_response();
    }
    if let Some(query) = uri.query() {
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if has_control(name) || has_control(value) {
                let name = decode(name);
                let field = if has_stray_control(&name) {
                    "query".to_owned()
                } else {
                    name
                };
                return stray_control_problem(&field, &decode(value)).into_response();
            }
        }
    }
    next.run(req).await
}

/// Percent-decoded (and `+` as space, as forms send it), lossily.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_control(s: &str) -> bool {
    s.contains('%') && has_stray_control(&decode(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_control_characters_are_seen() {
        assert!(has_control("/v1/procedures/x%00y"));
        assert!(has_control("q=a%1Bb"));
        assert!(!has_control("/v1/procedures/1.012753.H19"));
        assert!(!has_control("q=c%E1%BA%A5p+b%E1%BA%A3n%20sao"));
        assert!(!has_control("q=%0a"), "line feeds are texts' own");
        assert_eq!(decode("c%E1%BA%A5p+b"), "cấp b");
        assert_eq!(decode("50%"), "50%");
    }
}
