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

#[derive(Deserialize)]
struct InboxQuery {
    limit: Option<u32>,
    page_token: Option<String>,
}

async fn inbox(
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
