//! Postings (niêm yết) of procedures at units (catalogue service).

use axum::Json as Reply;
use axum::extract::State;
use axum::http::StatusCode;
use cchc_platform::grpc::request;
use cchc_proto::catalogue::v1::{
    ConfirmPostingRequest, ListPostingsRequest, ListPostingsResponse, Posting,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::page_limit;
use crate::extract::{Json, Query};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(confirm, list))
}

#[utoipa::path(post, path = "/v1/postings", tag = "postings", summary = "Confirm the caller's unit posted the current version of a procedure (unit)", request_body = ConfirmPostingRequest, responses((status = 201, description = "Success", body = Posting), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn confirm(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<ConfirmPostingRequest>,
) -> Result<(StatusCode, Reply<Posting>), Problem> {
    let r = s
        .clients
        .catalogue
        .clone()
        .confirm_posting(request(body, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(r.into_inner())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    unit_id: Option<String>,
    code: Option<String>,
    stale: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/postings", tag = "postings", summary = "Postings; units see their own", params(ListQuery), responses((status = 200, description = "Success", body = ListPostingsResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListPostingsResponse>, Problem> {
    let req = ListPostingsRequest {
        unit_id: q.unit_id.unwrap_or_default(),
        code: q.code.unwrap_or_default(),
        stale: q.stale.unwrap_or_default(),
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .catalogue
        .clone()
        .list_postings(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
