//! The caller's inbox, and the delivery record of any message (notification service).

use axum::Json as Reply;
use axum::extract::{Path, State};
use cchc_platform::grpc::request;
use cchc_proto::notification::v1::{
    DeliveryReport, InboxMessage, ListDeadLettersRequest, ListDeadLettersResponse,
    ListInboxRequest, ListInboxResponse, MessageRef,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::Query;
use crate::extract::page_limit;
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(inbox))
        .routes(routes!(dead_letters))
        .routes(routes!(mark_read))
        .routes(routes!(deliveries))
        .routes(routes!(retry))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", summary = "The caller's inbox", params(PageQuery), responses((status = 200, description = "Success", body = ListInboxResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn inbox(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<PageQuery>,
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

#[utoipa::path(post, path = "/v1/notifications/{id}/read", tag = "notifications", summary = "Mark one of the caller's messages read", params(("id" = String, Path, description = "Message id")), responses((status = 200, description = "Success", body = InboxMessage), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn mark_read(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Reply<InboxMessage>, Problem> {
    let r = s
        .clients
        .notification
        .clone()
        .mark_read(request(MessageRef { id }, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(get, path = "/v1/notifications/{id}/deliveries", tag = "notifications", summary = "Every delivery attempt of a message (office, operator)", params(("id" = String, Path, description = "Message id")), responses((status = 200, description = "Success", body = DeliveryReport), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn deliveries(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Reply<DeliveryReport>, Problem> {
    let r = s
        .clients
        .notification
        .clone()
        .list_deliveries(request(MessageRef { id }, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(post, path = "/v1/notifications/{id}/retry", tag = "notifications", summary = "Send a dead-lettered message again (operator)", params(("id" = String, Path, description = "Message id")), responses((status = 200, description = "Success", body = DeliveryReport), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn retry(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Reply<DeliveryReport>, Problem> {
    let r = s
        .clients
        .notification
        .clone()
        .retry_message(request(MessageRef { id }, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(get, path = "/v1/notifications/dead-letters", tag = "notifications", summary = "Messages that gave up, for the operator", params(PageQuery), responses((status = 200, description = "Success", body = ListDeadLettersResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn dead_letters(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<PageQuery>,
) -> Result<Reply<ListDeadLettersResponse>, Problem> {
    let req = ListDeadLettersRequest {
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .notification
        .clone()
        .list_dead_letters(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
