//! Plans (reporting service): the office creates and revises them, every key reads them.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use cchc_platform::grpc::request;
use cchc_platform::validation::Rule;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetPlanRequest, ListPeriodSubmissionsRequest, ListPeriodSubmissionsResponse,
    ListPlansRequest, ListPlansResponse, PeriodSubmission, Plan, ReopenPeriodRequest,
    SubmitPeriodRequest, UpdatePlanRequest,
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
        .routes(routes!(submit_period, period_submissions))
        .routes(routes!(reopen_period))
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

/// What a unit writes with its submission (`{}` for nothing).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Submission {
    /// A note to the Department Office (optional).
    note: String,
}

/// The caller's unit signs off its figures for the period (a unit's staff, or the
/// office for its own unit); once, until the office reopens it.
#[utoipa::path(post, path = "/v1/plans/{plan_id}/periods/{period}/submissions", tag = "reports", summary = "Submit the caller's unit's report for a period of a plan (unit; the office for its own unit); late after the due date; 409 when submitted already", request_body = Submission, params(("plan_id" = String, Path, description = "Plan id"), ("period" = String, Path, description = "One of the plan's periods, e.g. 2020-H1")), responses((status = 201, description = "Success", body = PeriodSubmission), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn submit_period(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((plan_id, period)): Path<(String, String)>,
    Json(body): Json<Submission>,
) -> Result<(StatusCode, Reply<PeriodSubmission>), Problem> {
    let req = SubmitPeriodRequest {
        plan_id,
        period,
        note: body.note,
    };
    let r = s
        .clients
        .reporting
        .clone()
        .submit_period(request(req, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(r.into_inner())))
}

#[utoipa::path(get, path = "/v1/plans/{plan_id}/periods/{period}/submissions", tag = "reports", summary = "Who submitted a period of a plan, who submitted late, who is late to report (every covered unit; a unit sees its own line)", params(("plan_id" = String, Path, description = "Plan id"), ("period" = String, Path, description = "One of the plan's periods, e.g. 2020-H1")), responses((status = 200, description = "Success", body = ListPeriodSubmissionsResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn period_submissions(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((plan_id, period)): Path<(String, String)>,
) -> Result<Reply<ListPeriodSubmissionsResponse>, Problem> {
    let req = ListPeriodSubmissionsRequest { plan_id, period };
    let r = s
        .clients
        .reporting
        .clone()
        .list_period_submissions(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

/// Why the office reopens a submission; the unit is told.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reopening {
    reason: String,
}

#[utoipa::path(post, path = "/v1/plans/{plan_id}/periods/{period}/submissions/{unit_id}/reopen", tag = "reports", summary = "Reopen a unit's submission so that it submits again, saying why (office)", request_body = Reopening, params(("plan_id" = String, Path, description = "Plan id"), ("period" = String, Path, description = "One of the plan's periods"), ("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = PeriodSubmission), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn reopen_period(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((plan_id, period, unit_id)): Path<(String, String, String)>,
    Json(body): Json<Reopening>,
) -> Result<Reply<PeriodSubmission>, Problem> {
    let req = ReopenPeriodRequest {
        plan_id,
        period,
        unit_id,
        reason: body.reason,
    };
    let r = s
        .clients
        .reporting
        .clone()
        .reopen_period(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
