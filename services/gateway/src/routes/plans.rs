//! Plans (reporting service): the office creates and revises them, every key reads them.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json as Reply, Router};
use cchc_platform::grpc::request;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetPlanRequest, ListPlansRequest, ListPlansResponse, Plan, UpdatePlanRequest,
};
use serde::Deserialize;

use super::{idempotency_key, page_limit};
use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{Json, Problem, Query};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/plans", post(create).get(list))
        .route("/v1/plans/{plan_id}", get(read).put(update))
}

async fn create(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(plan): Json<Plan>,
) -> Result<(StatusCode, Reply<Plan>), Problem> {
    let req = CreatePlanRequest {
        plan: Some(plan),
        idempotency_key: idempotency_key(&headers)?.unwrap_or_default(),
    };
    let p = s
        .clients
        .reporting
        .clone()
        .create_plan(request(req, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(p.into_inner())))
}

/// The whole plan as it should be, with `revision` the one it was read at (or the
/// `If-Match` header); a plan changed since is a conflict.
async fn update(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(plan_id): Path<String>,
    headers: HeaderMap,
    Json(mut plan): Json<Plan>,
) -> Result<Reply<Plan>, Problem> {
    let expected = match headers.get("if-match") {
        Some(v) => v
            .to_str()
            .ok()
            .map(|v| v.trim().trim_matches('"'))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| Problem::field("If-Match", "must be the plan's revision number"))?,
        None => plan.revision,
    };
    plan.id = plan_id;
    let req = UpdatePlanRequest {
        plan: Some(plan),
        expected_revision: expected,
    };
    let p = s
        .clients
        .reporting
        .clone()
        .update_plan(request(req, Some(&caller)))
        .await?;
    Ok(Reply(p.into_inner()))
}

async fn read(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(plan_id): Path<String>,
) -> Result<Reply<Plan>, Problem> {
    let p = s
        .clients
        .reporting
        .clone()
        .get_plan(request(GetPlanRequest { plan_id }, Some(&caller)))
        .await?;
    Ok(Reply(p.into_inner()))
}

#[derive(Deserialize)]
struct ListQuery {
    year: Option<i32>,
    limit: Option<u32>,
    page_token: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListPlansResponse>, Problem> {
    let req = ListPlansRequest {
        year: q.year.unwrap_or(0),
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .reporting
        .clone()
        .list_plans(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
