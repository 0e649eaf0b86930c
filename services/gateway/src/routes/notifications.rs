//! The caller's inbox (notification service).

use axum::extract::State;
use axum::routing::get;
use axum::{Json as Reply, Router};
use cchc_platform::grpc::request;
use cchc_proto::notification::v1::{ListInboxRequest, ListInboxResponse};
use serde::Deserialize;

use super::page_limit;
use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{Problem, Query};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/notifications", get(inbox))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct InboxQuery {
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", summary = "The caller's inbox", params(InboxQuery), responses((status = 200, description = "Success", body = ListInboxResponse), (status = "4XX", description = "Problem details (RFC 9457)", body = crate::problem::Problem, content_type = "application/problem+json")), security(("api_key" = [])))]
pub(crate) async fn inbox(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<InboxQuery>,
) -> Result<Reply<ListInboxResponse>, Problem> {
    let req = ListInboxRequest {
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .notification
        .clone()
        .list_inbox(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
