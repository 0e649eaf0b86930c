//! Postings (niêm yết) of procedures at units (catalogue service).

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cchc_platform::grpc::request;
use cchc_platform::{Actor, Caller, Role, Signed};
use cchc_proto::catalogue::v1::{
    ConfirmPostingRequest, Decision, GetProcedureRequest, ListPostingsRequest,
    ListPostingsResponse, Posting,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::page_limit;
use crate::extract::{Json, Query};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(confirm, list))
        .routes(routes!(sheet))
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
    /// `true`: every confirmation ever made, each version a unit posted.
    history: Option<bool>,
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
        history: q.history.unwrap_or(false),
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

/// One line of a unit's posting sheet: the current version of a procedure it posts.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct SheetLine {
    code: String,
    name: String,
    /// The current published version, which the sheet shows.
    version: u32,
    /// The decision that announced that version, and from when it applies.
    decision: Option<Decision>,
    effective_date: String,
    /// The version the unit last confirmed having posted.
    posted_version: u32,
    stale: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Sheet {
    unit_id: String,
    unit_name: String,
    procedures: Vec<SheetLine>,
}

/// A unit that still acts, and a caller that reads as the unit itself would, by the
/// system: for what a unit makes public (its posting sheet, its results), its own
/// records and nothing else.
pub(crate) async fn public_reader(
    s: &AppState,
    unit_id: &str,
) -> Result<(crate::store::Unit, Signed), Problem> {
    let unit = match unit_id.parse() {
        Ok(id) => s.store.unit(id).await?,
        Err(_) => None,
    }
    .filter(|u| u.acts())
    .ok_or_else(|| Problem::not_found("no such unit"))?;
    let reader = Signed::new(
        Caller::new(unit.id, Role::Unit, Actor::System),
        s.caller_key.clone(),
    );
    Ok((unit, reader))
}

/// What a unit must have on its notice board, for anyone to print (the postings
/// themselves are public: they hang in the unit's office). The current version of each
/// procedure the unit posts, with its decision, whatever version the unit last
/// confirmed.
#[utoipa::path(get, path = "/v1/units/{unit_id}/posting-sheet", tag = "postings", summary = "A unit's posting sheet (niêm yết): the current version of each procedure it posts (public)", params(("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = Sheet), crate::problem::Problems), security(()))]
pub(crate) async fn sheet(
    State(s): State<AppState>,
    Path(unit_id): Path<String>,
) -> Result<Reply<Sheet>, Problem> {
    let (unit, reader) = public_reader(&s, &unit_id).await?;
    let mut postings = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = s
            .clients
            .catalogue
            .clone()
            .list_postings(request(
                ListPostingsRequest {
                    limit: 200,
                    page_token,
                    ..Default::default()
                },
                Some(&reader),
            ))
            .await?
            .into_inner();
        postings.extend(page.postings);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut procedures = Vec::with_capacity(postings.len());
    for p in postings {
        let current = s
            .clients
            .catalogue
            .clone()
            .get_procedure(request(
                GetProcedureRequest {
                    code: p.code.clone(),
                    version: 0,
                },
                None,
            ))
            .await;
        // An abolished procedure is no longer posted.
        let Ok(current) = current.map(|c| c.into_inner()) else {
            continue;
        };
        if current.status != "published" {
            continue;
        }
        procedures.push(SheetLine {
            code: current.code,
            name: current.content.map(|c| c.name).unwrap_or(p.procedure_name),
            version: current.version,
            decision: current.decision,
            effective_date: current.effective_date,
            posted_version: p.version,
            stale: p.stale,
        });
    }
    procedures.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Reply(Sheet {
        unit_id: unit.id.to_string(),
        unit_name: unit.name,
        procedures,
    }))
}
