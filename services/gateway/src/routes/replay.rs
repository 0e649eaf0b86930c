//! Operator actions: rebuilding reporting's read models by replaying the streams.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cchc_platform::grpc::request;
use cchc_proto::reporting::v1::{GetReplayRequest, Replay, StartReplayRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start, latest))
        .routes(routes!(read))
}

/// 202 with the replay (or the one already running); follow it with `GET`.
#[utoipa::path(post, path = "/v1/admin/replay", tag = "operations", summary = "Rebuild the reporting read models by replaying the streams (operator)", responses((status = 202, description = "Success", body = Replay), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn start(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<(StatusCode, Reply<Replay>), Problem> {
    let r = s
        .clients
        .reporting
        .clone()
        .start_replay(request(StartReplayRequest {}, Some(&caller)))
        .await?;
    Ok((StatusCode::ACCEPTED, Reply(r.into_inner())))
}

#[utoipa::path(get, path = "/v1/admin/replay", tag = "operations", summary = "The latest replay and its progress (operator)", responses((status = 200, description = "Success", body = Replay), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn latest(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Reply<Replay>, Problem> {
    get_replay(&s, &caller, String::new()).await
}

#[utoipa::path(get, path = "/v1/admin/replay/{replay_id}", tag = "operations", summary = "A replay and its progress (operator)", params(("replay_id" = String, Path, description = "Replay id")), responses((status = 200, description = "Success", body = Replay), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(replay_id): Path<String>,
) -> Result<Reply<Replay>, Problem> {
    get_replay(&s, &caller, replay_id).await
}

async fn get_replay(
    s: &AppState,
    caller: &cchc_platform::Signed,
    replay_id: String,
) -> Result<Reply<Replay>, Problem> {
    let r = s
        .clients
        .reporting
        .clone()
        .get_replay(request(GetReplayRequest { replay_id }, Some(caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
