//! The catalogue of procedures (catalogue service).

use axum::Json as Reply;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cchc_platform::grpc::request;
use cchc_platform::validation::Rule;
use cchc_platform::vocabulary::change_type;
use cchc_proto::catalogue::v1::*;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Authenticated, MaybeCaller};
use crate::extract::{Json, Query};
use crate::problem::Problem;
use crate::published::Key;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, search))
        .routes(routes!(import))
        .routes(routes!(export))
        .routes(routes!(read))
        .routes(routes!(draft, update_draft))
        .routes(routes!(versions))
        .routes(routes!(publish))
        .routes(routes!(abolish))
}

#[utoipa::path(post, path = "/v1/procedures", tag = "procedures", summary = "Create the draft of a procedure (office)", request_body = CreateProcedureRequest, responses((status = 201, description = "Success", body = ProcedureView), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<CreateProcedureRequest>,
) -> Result<(StatusCode, Reply<ProcedureView>), Problem> {
    let view = s
        .clients
        .catalogue
        .clone()
        .create_procedure(request(body, Some(&caller)))
        .await?;
    Ok((StatusCode::CREATED, Reply(view.into_inner())))
}

#[utoipa::path(post, path = "/v1/procedures/{code}/publish", tag = "procedures", summary = "Publish the draft as the next version (office)", request_body = PublishProcedureRequest, params(("code" = String, Path, description = "Procedure code")), responses((status = 200, description = "Success", body = ProcedureView), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn publish(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    Json(mut body): Json<PublishProcedureRequest>,
) -> Result<Reply<ProcedureView>, Problem> {
    body.code = code.clone();
    if body.change_type == change_type::ABOLISHED {
        return Err(Problem::field(
            "change_type",
            Rule::OneOf {
                values: "new, amended, replaced".into(),
            },
        ));
    }
    let view = s
        .clients
        .catalogue
        .clone()
        .publish_procedure(request(body, Some(&caller)))
        .await;
    // Whoever published reads the new version back at once (other replicas hear the
    // event); dropped whatever the answer, as a call that failed may have committed.
    s.published.drop_procedure(&code);
    Ok(Reply(view?.into_inner()))
}

#[utoipa::path(post, path = "/v1/procedures/{code}/abolish", tag = "procedures", summary = "Abolish the procedure with a decision (office)", request_body = PublishProcedureRequest, params(("code" = String, Path, description = "Procedure code")), responses((status = 200, description = "Success", body = ProcedureView), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn abolish(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    Json(mut body): Json<PublishProcedureRequest>,
) -> Result<Reply<ProcedureView>, Problem> {
    body.code = code.clone();
    body.change_type = change_type::ABOLISHED.into();
    let view = s
        .clients
        .catalogue
        .clone()
        .publish_procedure(request(body, Some(&caller)))
        .await;
    // As after a publication (see `publish`).
    s.published.drop_procedure(&code);
    Ok(Reply(view?.into_inner()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct VersionQuery {
    version: Option<u32>,
}

#[utoipa::path(get, path = "/v1/procedures/{code}", tag = "procedures", summary = "A procedure's current version, or ?version=N", params(("code" = String, Path, description = "National procedure code, e.g. 1.012753.H19"), VersionQuery), responses((status = 200, description = "Success", body = ProcedureView), crate::problem::Problems), security((), ("api_key" = [])))]
pub(crate) async fn read(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(code): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response, Problem> {
    // The current version is the same to everyone who may see it (a draft-only
    // procedure's answer, to the office, is never kept).
    let key = Key::Current(code.clone());
    let current = q.version.is_none();
    if current && let Some(kept) = s.published.get(&key, s.people.names_epoch()) {
        return Ok(kept);
    }
    let ticket = s.published.ticket();
    let req = GetProcedureRequest {
        code,
        version: q.version.unwrap_or(0),
    };
    let view = s
        .clients
        .catalogue
        .clone()
        .get_procedure(request(req, caller.as_ref()))
        .await?
        .into_inner();
    // Kept under the code as the catalogue spells it, which its events name.
    if current && view.version > 0 && Key::Current(view.code.clone()) == key {
        return Ok(s.published.answer(ticket, key, &view, &s.people).await);
    }
    Ok(Reply(view).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    q: Option<String>,
    field: Option<String>,
    level: Option<String>,
    status: Option<String>,
    agency: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/procedures", tag = "procedures", summary = "Search current procedures; q ignores diacritics and case", params(SearchQuery), responses((status = 200, description = "Success", body = SearchProceduresResponse), crate::problem::Problems), security((), ("api_key" = [])))]
pub(crate) async fn search(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    RawQuery(query): RawQuery,
    Query(q): Query<SearchQuery>,
) -> Result<Response, Problem> {
    // The public's searches are the same to every anonymous reader; a caller's may
    // show more (the office sees drafts).
    let key = caller
        .is_none()
        .then(|| Key::Search(query.unwrap_or_default()));
    if let Some(kept) = key
        .as_ref()
        .and_then(|k| s.published.get(k, s.people.names_epoch()))
    {
        return Ok(kept);
    }
    let ticket = s.published.ticket();
    let req = SearchProceduresRequest {
        q: q.q.unwrap_or_default(),
        field: q.field.unwrap_or_default(),
        level: q.level.unwrap_or_default(),
        status: q.status.unwrap_or_default(),
        agency: q.agency.unwrap_or_default(),
        limit: crate::extract::page_limit(q.limit)?,
        page_token: q.page_token.unwrap_or_default(),
    };
    let r = s
        .clients
        .catalogue
        .clone()
        .search_procedures(request(req, caller.as_ref()))
        .await?
        .into_inner();
    Ok(match key {
        Some(key) => s.published.answer(ticket, key, &r, &s.people).await,
        None => Reply(r).into_response(),
    })
}

#[utoipa::path(get, path = "/v1/procedures/{code}/draft", tag = "procedures", summary = "The draft of the next version (office)", params(("code" = String, Path, description = "Procedure code")), responses((status = 200, description = "Success", body = ProcedureView), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn draft(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
) -> Result<Reply<ProcedureView>, Problem> {
    let r = s
        .clients
        .catalogue
        .clone()
        .get_draft(request(GetDraftRequest { code }, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(put, path = "/v1/procedures/{code}/draft", tag = "procedures", summary = "Save the draft; 409 when another save came first (office)", request_body = UpdateDraftRequest, params(("code" = String, Path, description = "Procedure code")), responses((status = 200, description = "Success", body = ProcedureView), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn update_draft(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(code): Path<String>,
    Json(mut body): Json<UpdateDraftRequest>,
) -> Result<Reply<ProcedureView>, Problem> {
    body.code = code.clone();
    let r = s
        .clients
        .catalogue
        .clone()
        .update_draft(request(body, Some(&caller)))
        .await;
    s.published.drop_procedure(&code);
    Ok(Reply(r?.into_inner()))
}

#[utoipa::path(get, path = "/v1/procedures/{code}/versions", tag = "procedures", summary = "Every version, oldest first", params(("code" = String, Path, description = "Procedure code")), responses((status = 200, description = "Success", body = ListVersionsResponse), crate::problem::Problems), security((), ("api_key" = [])))]
pub(crate) async fn versions(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(code): Path<String>,
) -> Result<Response, Problem> {
    let key = caller.is_none().then(|| Key::Versions(code.clone()));
    if let Some(kept) = key
        .as_ref()
        .and_then(|k| s.published.get(k, s.people.names_epoch()))
    {
        return Ok(kept);
    }
    let ticket = s.published.ticket();
    let r = s
        .clients
        .catalogue
        .clone()
        .list_versions(request(ListVersionsRequest { code }, caller.as_ref()))
        .await?
        .into_inner();
    // Kept under the code as the catalogue spells it (its events name that one).
    let canonical = r.versions.first().map(|v| Key::Versions(v.code.clone()));
    Ok(match key {
        Some(key) if canonical.as_ref() == Some(&key) => {
            s.published.answer(ticket, key, &r, &s.people).await
        }
        _ => Reply(r).into_response(),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    format: Option<String>,
}

/// The published catalogue as one document (`json`, or `jsonld` for CPSV-AP).
#[utoipa::path(get, path = "/v1/catalogue/export", tag = "procedures", summary = "The published catalogue as JSON or CPSV-AP JSON-LD", params(ExportQuery), responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security((), ("api_key" = [])))]
pub(crate) async fn export(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<ExportQuery>,
) -> Result<axum::response::Response, Problem> {
    use axum::response::IntoResponse;
    let req = ExportCatalogueRequest {
        format: q.format.unwrap_or_default(),
    };
    let r = s
        .clients
        .catalogue
        .clone()
        .export_catalogue(request(req, caller.as_ref()))
        .await?
        .into_inner();
    Ok(([(axum::http::header::CONTENT_TYPE, r.content_type)], r.body).into_response())
}

#[utoipa::path(post, path = "/v1/procedures/import", tag = "procedures", summary = "Create or update drafts from rows; each row stands alone (office, operator)", request_body = ImportProceduresRequest, responses((status = 200, description = "Success", body = ImportProceduresResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn import(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<ImportProceduresRequest>,
) -> Result<Reply<ImportProceduresResponse>, Problem> {
    let r = s
        .clients
        .catalogue
        .clone()
        .import_procedures(request(body, Some(&caller)))
        .await;
    s.published.drop_all();
    Ok(Reply(r?.into_inner()))
}
