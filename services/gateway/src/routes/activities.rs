//! Communication activities (activity service): record one or a batch, correct, list.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cchc_platform::grpc::request;
use cchc_proto::activity::v1::{
    Activity, CorrectActivityRequest, GetActivityRequest, ListActivitiesRequest,
    ListActivitiesResponse, RecordActivitiesRequest, RecordActivitiesResponse,
    RecordActivityRequest,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::{BatchJson, Json, Query};
use crate::extract::{idempotency_key, page_limit};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record, list))
        .routes(routes!(record_batch))
        // The same, for clients whose tools cannot send a colon in a path.
        .route("/v1/activities/batch", post(record_batch))
        .routes(routes!(correct))
        .routes(routes!(get_one))
}

#[utoipa::path(post, path = "/v1/activities", tag = "activities", summary = "Record an activity of the caller's unit (unit); Idempotency-Key honoured", request_body = RecordActivityRequest, responses((status = 201, description = "Success", body = Activity), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn record(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(mut body): Json<RecordActivityRequest>,
) -> Result<(StatusCode, Reply<Activity>), Problem> {
    if let Some(key) = idempotency_key(&headers)? {
        body.idempotency_key = key;
    }
    let a = s
        .clients
        .activity
        .clone()
        .record_activity(request(body, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(a.into_inner())))
}

/// `{items: [...]}`: each item is accepted or rejected on its own; the reply lists
/// every item's outcome by index. With `Idempotency-Key`, a retried batch lands once.
#[utoipa::path(post, path = "/v1/activities:batch", tag = "activities", summary = "Record many activities; each accepted or rejected on its own (unit)", request_body = RecordActivitiesRequest, responses((status = 200, description = "Success", body = RecordActivitiesResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn record_batch(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    BatchJson(mut body): BatchJson<RecordActivitiesRequest>,
) -> Result<Reply<RecordActivitiesResponse>, Problem> {
    if let Some(key) = idempotency_key(&headers)? {
        body.idempotency_key = key;
    }
    let r = s
        .clients
        .activity
        .clone()
        .record_activities(request(body, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

/// The corrected activity, complete, with an optional `reason`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CorrectionBody {
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    activity: RecordActivityRequest,
}

#[utoipa::path(post, path = "/v1/activities/{id}/corrections", tag = "activities", summary = "Correct one of the caller's activities; the correction supersedes it (unit)", request_body = CorrectionBody, params(("id" = String, Path, description = "Activity id")), responses((status = 201, description = "Success", body = Activity), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn correct(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<CorrectionBody>,
) -> Result<(StatusCode, Reply<Activity>), Problem> {
    if let Some(key) = idempotency_key(&headers)? {
        body.activity.idempotency_key = key;
    }
    let req = CorrectActivityRequest {
        activity_id: id,
        reason: body.reason,
        activity: Some(body.activity),
    };
    let a = s
        .clients
        .activity
        .clone()
        .correct_activity(request(req, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(a.into_inner())))
}

#[utoipa::path(get, path = "/v1/activities/{id}", tag = "activities", summary = "One activity, current or superseded, with who recorded and corrected it; units see their own", params(("id" = String, Path, description = "Activity id")), responses((status = 200, description = "Success", body = Activity), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn get_one(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Reply<Activity>, Problem> {
    let a = s
        .clients
        .activity
        .clone()
        .get_activity(request(
            GetActivityRequest { activity_id: id },
            Some(&caller),
        ))
        .await?;
    Ok(Reply(a.into_inner()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    unit_id: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    period: Option<String>,
    history: Option<bool>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/activities", tag = "activities", summary = "Activities; units see their own", params(ListQuery), responses((status = 200, description = "Success", body = ListActivitiesResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListActivitiesResponse>, Problem> {
    let req = ListActivitiesRequest {
        unit_id: q.unit_id.unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        period: q.period.unwrap_or_default(),
        history: q.history.unwrap_or(false),
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .activity
        .clone()
        .list_activities(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
