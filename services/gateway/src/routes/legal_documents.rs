//! Legal documents (catalogue service).

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cchc_platform::grpc::request;
use cchc_proto::catalogue::v1::{
    CreateLegalDocumentRequest, GetLegalDocumentRequest, LegalDocument,
    SearchLegalDocumentsRequest, SearchLegalDocumentsResponse,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::page_limit;
use crate::extract::{Authenticated, MaybeCaller};
use crate::extract::{Json, Query};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, search))
        .routes(routes!(read))
}

#[utoipa::path(post, path = "/v1/legal-documents", tag = "legal-documents", summary = "Record a legal document (office)", request_body = CreateLegalDocumentRequest, responses((status = 201, description = "Success", body = LegalDocument), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<CreateLegalDocumentRequest>,
) -> Result<(StatusCode, Reply<LegalDocument>), Problem> {
    let r = s
        .clients
        .catalogue
        .clone()
        .create_legal_document(request(body, Some(&caller)))
        .await;
    // A procedure's legal basis (or its status) may have changed.
    s.published.drop_all();
    Ok((StatusCode::CREATED, Reply(r?.into_inner())))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    status: Option<String>,
    r#type: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/legal-documents", tag = "legal-documents", summary = "Search legal documents", params(SearchQuery), responses((status = 200, description = "Success", body = SearchLegalDocumentsResponse), crate::problem::Problems), security((), ("api_key" = [])))]
pub(crate) async fn search(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<SearchQuery>,
) -> Result<Reply<SearchLegalDocumentsResponse>, Problem> {
    let req = SearchLegalDocumentsRequest {
        q: q.q.unwrap_or_default(),
        status: q.status.unwrap_or_default(),
        r#type: q.r#type.unwrap_or_default(),
        limit: page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .catalogue
        .clone()
        .search_legal_documents(request(req, caller.as_ref()))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(get, path = "/v1/legal-documents/{id}", tag = "legal-documents", summary = "A legal document, what it amends or repeals and the procedures it bases", params(("id" = String, Path, description = "Document id")), responses((status = 200, description = "Success", body = LegalDocument), crate::problem::Problems), security((), ("api_key" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> Result<Reply<LegalDocument>, Problem> {
    let r = s
        .clients
        .catalogue
        .clone()
        .get_legal_document(request(GetLegalDocumentRequest { id }, caller.as_ref()))
        .await?;
    Ok(Reply(r.into_inner()))
}
