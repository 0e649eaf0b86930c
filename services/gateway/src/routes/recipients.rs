//! Who is told what, by which channel: recipients, subscriptions and templates
//! (notification service; the office manages them).

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cchc_platform::grpc::request;
use cchc_proto::notification::v1::{
    ListRecipientsRequest, ListRecipientsResponse, ListSubscriptionsRequest,
    ListSubscriptionsResponse, ListTemplatesRequest, ListTemplatesResponse, Recipient,
    RecipientInput, Subscription, SubscriptionInput, Template, TemplateInput, TemplatePreview,
    UpdateRecipientRequest,
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
    OpenApiRouter::new()
        .routes(routes!(create_recipient, list_recipients))
        .routes(routes!(update_recipient))
        .routes(routes!(create_subscription, list_subscriptions))
        .routes(routes!(save_template, list_templates))
        .routes(routes!(preview_template))
}

#[utoipa::path(post, path = "/v1/recipients", tag = "notifications", summary = "Add a recipient with its contacts (office)", request_body = RecipientInput, responses((status = 201, description = "Success", body = Recipient), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn create_recipient(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<RecipientInput>,
) -> Result<(StatusCode, Reply<Recipient>), Problem> {
    let r = s
        .clients
        .notification
        .clone()
        .create_recipient(request(body, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(r.into_inner())))
}

#[utoipa::path(put, path = "/v1/recipients/{id}", tag = "notifications", summary = "Change a recipient and its contacts (office)", request_body = RecipientInput, params(("id" = String, Path, description = "Recipient id")), responses((status = 200, description = "Success", body = Recipient), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn update_recipient(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    Json(body): Json<RecipientInput>,
) -> Result<Reply<Recipient>, Problem> {
    let req = UpdateRecipientRequest {
        id,
        recipient: Some(body),
    };
    let r = s
        .clients
        .notification
        .clone()
        .update_recipient(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RecipientsQuery {
    kind: Option<String>,
    group: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/recipients", tag = "notifications", summary = "Recipients (office)", params(RecipientsQuery), responses((status = 200, description = "Success", body = ListRecipientsResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list_recipients(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<RecipientsQuery>,
) -> Result<Reply<ListRecipientsResponse>, Problem> {
    let req = ListRecipientsRequest {
        kind: q.kind.unwrap_or_default(),
        group: q.group.unwrap_or_default(),
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .notification
        .clone()
        .list_recipients(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(post, path = "/v1/subscriptions", tag = "notifications", summary = "Who is told what, by which channels (office)", request_body = SubscriptionInput, responses((status = 201, description = "Success", body = Subscription), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn create_subscription(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<SubscriptionInput>,
) -> Result<(StatusCode, Reply<Subscription>), Problem> {
    let r = s
        .clients
        .notification
        .clone()
        .create_subscription(request(body, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(r.into_inner())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SubscriptionsQuery {
    event_type: Option<String>,
}

#[utoipa::path(get, path = "/v1/subscriptions", tag = "notifications", summary = "Subscriptions (office)", params(SubscriptionsQuery), responses((status = 200, description = "Success", body = ListSubscriptionsResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list_subscriptions(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<SubscriptionsQuery>,
) -> Result<Reply<ListSubscriptionsResponse>, Problem> {
    let req = ListSubscriptionsRequest {
        event_type: q.event_type.unwrap_or_default(),
    };
    let r = s
        .clients
        .notification
        .clone()
        .list_subscriptions(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(post, path = "/v1/templates", tag = "notifications", summary = "Save a new version of a message template; unknown placeholders are refused (office)", request_body = TemplateInput, responses((status = 201, description = "Success", body = Template), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn save_template(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<TemplateInput>,
) -> Result<(StatusCode, Reply<Template>), Problem> {
    let r = s
        .clients
        .notification
        .clone()
        .save_template(request(body, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(r.into_inner())))
}

#[utoipa::path(post, path = "/v1/templates/preview", tag = "notifications", summary = "A template rendered with example values, checked as a save is; nothing is saved (office)", request_body = TemplateInput, responses((status = 200, description = "Success", body = TemplatePreview), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn preview_template(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<TemplateInput>,
) -> Result<Reply<TemplatePreview>, Problem> {
    let r = s
        .clients
        .notification
        .clone()
        .preview_template(request(body, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TemplatesQuery {
    key: Option<String>,
}

#[utoipa::path(get, path = "/v1/templates", tag = "notifications", summary = "Templates and their versions (office)", params(TemplatesQuery), responses((status = 200, description = "Success", body = ListTemplatesResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list_templates(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<TemplatesQuery>,
) -> Result<Reply<ListTemplatesResponse>, Problem> {
    let req = ListTemplatesRequest {
        key: q.key.unwrap_or_default(),
    };
    let r = s
        .clients
        .notification
        .clone()
        .list_templates(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
