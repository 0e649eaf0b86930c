//! What every request goes through: tracing, metrics, a time limit, per-key rate
//! limits, and `Idempotency-Key` replay for writes.

pub mod idempotency;
pub mod metrics;
pub mod rate_limit;

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::problem::Problem;

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
