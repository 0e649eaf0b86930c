//! Plans (reporting service): the office creates and revises them, every key reads them.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use cchc_platform::grpc::request;
use cchc_platform::validation::Rule;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetPlanRequest, ListPlansRequest, ListPlansResponse, Plan, UpdatePlanRequest,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::{Json, Query};
use crate::extract::{idempotency_key, page_limit};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, update))
}

#[utoipa::path(post, path = "/v1/plans", tag = "reports", summary = "Create a plan: periods with due dates, targets, covered units, recipients (office)", request_body = Plan, responses((status = 201, description = "Success", body = Plan), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn create(
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
#[utoipa::path(put, path = "/v1/plans/{plan_id}", tag = "reports", summary = "Change a plan; 409 when it changed since it was read (office)", request_body = Plan, params(("plan_id" = String, Path, description = "Plan id")), responses((status = 200, description = "Success", body = Plan), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn update(
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
            .ok_or_else(|| Problem::field("If-Match", Rule::Revision))?,
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

#[utoipa::path(get, path = "/v1/plans/{plan_id}", tag = "reports", summary = "A plan", params(("plan_id" = String, Path, description = "Plan id")), responses((status = 200, description = "Success", body = Plan), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn read(
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    year: Option<i32>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/plans", tag = "reports", summary = "Plans", params(ListQuery), responses((status = 200, description = "Success", body = ListPlansResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list(
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
