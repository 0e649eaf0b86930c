//! Reports (reporting service): the office starts a job for a plan and a period; the
//! office and the leadership follow its progress and fetch the documents.

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cchc_platform::grpc::request;
use cchc_proto::reporting::v1::{
    ExportReportRequest, GetReportRequest, ListReportsRequest, ListReportsResponse, Report,
    StartReportRequest,
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
        .routes(routes!(start, list))
        .routes(routes!(read))
        .routes(routes!(export))
}

/// 202 with the job: its id, state and progress; `Location` names it.
#[utoipa::path(post, path = "/v1/reports", tag = "reports", summary = "Generate the report of a plan for a period: a job with progress (office)", request_body = StartReportRequest, responses((status = 202, description = "Success", body = Report), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn start(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(mut body): Json<StartReportRequest>,
) -> Result<Response, Problem> {
    if let Some(key) = idempotency_key(&headers)? {
        body.idempotency_key = key;
    }
    let r = s
        .clients
        .reporting
        .clone()
        .start_report(request(body, Some(&caller)))
        .await?
        .into_inner();
    let mut res = (StatusCode::ACCEPTED, Reply(&r)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/reports/{}", r.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

#[utoipa::path(get, path = "/v1/reports/{report_id}", tag = "reports", summary = "A report job: state, percent, summary (office, leader)", params(("report_id" = String, Path, description = "Report id")), responses((status = 200, description = "Success", body = Report), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(report_id): Path<String>,
) -> Result<Reply<Report>, Problem> {
    let r = s
        .clients
        .reporting
        .clone()
        .get_report(request(GetReportRequest { report_id }, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    plan_id: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/reports", tag = "reports", summary = "Reports (office, leader)", params(ListQuery), responses((status = 200, description = "Success", body = ListReportsResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListReportsResponse>, Problem> {
    let req = ListReportsRequest {
        plan_id: q.plan_id.unwrap_or_default(),
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .reporting
        .clone()
        .list_reports(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    format: Option<String>,
}

/// The document itself, with its type, a file name and its SHA-256 as the `ETag`.
#[utoipa::path(get, path = "/v1/reports/{report_id}/export", tag = "reports", summary = "The report as JSON, CSV, XLSX or DOCX; the same bytes every time (office, leader)", params(("report_id" = String, Path, description = "Report id"), ExportQuery), responses((status = 200, description = "Success"), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn export(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(report_id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, Problem> {
    let req = ExportReportRequest {
        report_id,
        format: q.format.unwrap_or_else(|| "json".into()),
    };
    let f = s
        .clients
        .reporting
        .clone()
        .export_report(request(req, Some(&caller)))
        .await?
        .into_inner();
    let mut res = (StatusCode::OK, f.content).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&f.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // The file names are ASCII by construction.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", f.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", f.sha256)) {
        h.insert(header::ETAG, v);
    }
    Ok(res)
}
