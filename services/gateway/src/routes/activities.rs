//! Communication activities (activity service).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json as Reply, Router};
use cchc_platform::grpc::request;
use cchc_proto::activity::v1::{
    Activity, ListActivitiesRequest, ListActivitiesResponse, RecordActivityRequest,
};
use serde::Deserialize;

use super::page_limit;
use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{Json, Problem, Query};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/activities", post(record).get(list))
}

async fn record(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(mut body): Json<RecordActivityRequest>,
) -> Result<(StatusCode, Reply<Activity>), Problem> {
    if let Some(key) = headers.get("idempotency-key") {
        body.idempotency_key = key
            .to_str()
            .map_err(|_| Problem::field("Idempotency-Key", "must be visible ASCII"))?
            .to_owned();
    }
    let a = s
        .clients
        .activity
        .clone()
        .record_activity(request(body, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(a.into_inner())))
}

#[derive(Deserialize)]
struct ListQuery {
    unit_id: Option<String>,
    kind: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

async fn list(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListActivitiesResponse>, Problem> {
    let req = ListActivitiesRequest {
        unit_id: q.unit_id.unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
        ..Default::default()
    };
    let r = s
        .clients
        .activity
        .clone()
        .list_activities(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
