//! The HTTP API. One file per resource; each handler checks the caller's role, then
//! calls the owning service with the caller in gRPC metadata.

mod activities;
mod admin;
mod dashboard;
mod legal_documents;
mod notifications;
mod plans;
mod postings;
mod procedures;
mod reports;
mod submissions;
mod units;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;
use crate::problem::Problem;

pub fn router(state: AppState, body_limit: usize) -> Router {
    let api = Router::new()
        .merge(units::routes())
        .merge(procedures::routes())
        .merge(legal_documents::routes())
        .merge(postings::routes())
        .merge(activities::routes())
        .merge(submissions::routes())
        .merge(notifications::routes())
        .merge(dashboard::routes())
        .merge(plans::routes())
        .merge(reports::routes())
        .merge(admin::routes())
        .fallback(|| async { Problem::not_found("no such resource") })
        .with_state(state.clone());
    Router::new()
        .merge(cchc_platform::health::router(state.readiness.clone()))
        .merge(api)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(trace_request))
}

/// Opens the request's span as a child of the caller's trace (W3C `traceparent`), so
/// the gRPC calls and the events that follow belong to the same trace.
async fn trace_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!("http", method = %req.method(), route = %route, status = tracing::field::Empty);
    cchc_platform::telemetry::set_parent_from(
        &span,
        &cchc_platform::telemetry::headers_from_http(req.headers()),
    );
    let res = next.run(req).instrument(span.clone()).await;
    span.record("status", res.status().as_u16());
    res
}

/// Page size from `limit`, defaulting to 50, at most 500.
fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=500).contains(&n) => Ok(n),
        Some(_) => Err(Problem::field("limit", "must be between 1 and 500")),
    }
}

/// The `Idempotency-Key` header, when sent.
fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, Problem> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Problem::field("Idempotency-Key", "must be visible ASCII"))
        })
        .transpose()
}
