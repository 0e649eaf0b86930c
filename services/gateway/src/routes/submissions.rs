//! Units' submissions per period or year (activity service): one-stop results,
//! satisfaction surveys and budget lines. `PUT` replaces the caller's submission for
//! that period; the previous one stays in the history (`?history=true`).

use axum::Json as Reply;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use cchc_platform::grpc::request;
use cchc_platform::validation::Rule;
use cchc_proto::activity::v1::{
    BudgetLine, BudgetLines, ListBudgetLinesResponse, ListOneStopResultsResponse,
    ListSatisfactionResponse, ListSubmissionsRequest, OneStopResult, SatisfactionSurvey,
    SubmitBudgetLinesRequest, SubmitOneStopResultRequest, SubmitSatisfactionRequest,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::{Json, Query};
use crate::extract::{idempotency_key, page_limit};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_one_stop))
        .routes(routes!(submit_one_stop))
        .routes(routes!(list_satisfaction))
        .routes(routes!(submit_satisfaction))
        .routes(routes!(list_budget_lines))
        .routes(routes!(published_results))
        .routes(routes!(submit_budget_lines))
}

/// The period comes from the path, whatever the body says.
#[utoipa::path(put, path = "/v1/one-stop-results/{period}", tag = "one-stop", summary = "Submit one-stop counters for a period (unit)", request_body = SubmitOneStopResultRequest, params(("period" = String, Path, description = "2020, 2020-H1, 2020-Q3 or 2020-07")), responses((status = 200, description = "Success", body = OneStopResult), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn submit_one_stop(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(period): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<SubmitOneStopResultRequest>,
) -> Result<Reply<OneStopResult>, Problem> {
    body.period = period;
    if let Some(key) = idempotency_key(&headers)? {
        body.idempotency_key = key;
    }
    let r = s
        .clients
        .activity
        .clone()
        .submit_one_stop_result(request(body, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(put, path = "/v1/satisfaction/{period}", tag = "satisfaction", summary = "Submit satisfaction survey counts for a period (unit)", request_body = SubmitSatisfactionRequest, params(("period" = String, Path, description = "2020, 2020-H1, 2020-Q3 or 2020-07")), responses((status = 200, description = "Success", body = SatisfactionSurvey), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn submit_satisfaction(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(period): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<SubmitSatisfactionRequest>,
) -> Result<Reply<SatisfactionSurvey>, Problem> {
    body.period = period;
    if let Some(key) = idempotency_key(&headers)? {
        body.idempotency_key = key;
    }
    let r = s
        .clients
        .activity
        .clone()
        .submit_satisfaction(request(body, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct BudgetBody {
    #[serde(default)]
    lines: Vec<BudgetLine>,
}

fn year(s: &str) -> Result<i32, Problem> {
    match s.parse::<i32>() {
        Ok(y) if s.len() == 4 => Ok(y),
        _ => Err(Problem::field(
            "year",
            Rule::Year {
                min: 2000,
                max: 2200,
            },
        )),
    }
}

#[utoipa::path(put, path = "/v1/budget-lines/{year}", tag = "budget", summary = "Submit a year's communication budget lines (unit)", request_body = BudgetBody, params(("year" = String, Path, description = "e.g. 2020")), responses((status = 200, description = "Success", body = BudgetLines), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn submit_budget_lines(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(y): Path<String>,
    headers: HeaderMap,
    Json(body): Json<BudgetBody>,
) -> Result<Reply<BudgetLines>, Problem> {
    let req = SubmitBudgetLinesRequest {
        year: year(&y)?,
        lines: body.lines,
        idempotency_key: idempotency_key(&headers)?.unwrap_or_default(),
    };
    let r = s
        .clients
        .activity
        .clone()
        .submit_budget_lines(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    unit_id: Option<String>,
    period: Option<String>,
    year: Option<String>,
    history: Option<bool>,
    limit: Option<u32>,
    page_token: Option<String>,
}

impl ListQuery {
    fn request(self) -> Result<ListSubmissionsRequest, Problem> {
        Ok(ListSubmissionsRequest {
            unit_id: self.unit_id.unwrap_or_default(),
            period: self.period.unwrap_or_default(),
            year: self.year.as_deref().map(year).transpose()?.unwrap_or(0),
            history: self.history.unwrap_or(false),
            limit: page_limit(self.limit)?,
            page_token: self.page_token.unwrap_or_default(),
        })
    }
}

/// What a unit publishes of its one-stop desk: each period's current figures.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct PublishedResults {
    unit_id: String,
    unit_name: String,
    /// Newest period first; who entered them and their notes are not published.
    one_stop: Vec<OneStopResult>,
    satisfaction: Vec<SatisfactionSurvey>,
}

/// The plan asks every unit to make public its one-stop results and how satisfied
/// people were: anyone may read a unit's current figures of each period.
#[utoipa::path(get, path = "/v1/units/{unit_id}/published-results", tag = "one-stop", summary = "A unit's one-stop results and satisfaction surveys, each period's current figures (public)", params(("unit_id" = String, Path, description = "Unit id")), responses((status = 200, description = "Success", body = PublishedResults), crate::problem::Problems), security(()))]
pub(crate) async fn published_results(
    State(s): State<AppState>,
    Path(unit_id): Path<String>,
) -> Result<Reply<PublishedResults>, Problem> {
    let (unit, reader) = super::postings::public_reader(&s, &unit_id).await?;
    let list = || ListSubmissionsRequest {
        limit: 500,
        ..Default::default()
    };
    let mut one_stop = s
        .clients
        .activity
        .clone()
        .list_one_stop_results(request(list(), Some(&reader)))
        .await?
        .into_inner()
        .results;
    let mut satisfaction = s
        .clients
        .activity
        .clone()
        .list_satisfaction(request(list(), Some(&reader)))
        .await?
        .into_inner()
        .surveys;
    for r in &mut one_stop {
        r.note.clear();
        r.created_by.clear();
        r.updated_by.clear();
    }
    for r in &mut satisfaction {
        r.created_by.clear();
        r.updated_by.clear();
    }
    Ok(Reply(PublishedResults {
        unit_id: unit.id.to_string(),
        unit_name: unit.name,
        one_stop,
        satisfaction,
    }))
}

#[utoipa::path(get, path = "/v1/one-stop-results", tag = "one-stop", summary = "One-stop results; units see their own", params(ListQuery), responses((status = 200, description = "Success", body = ListOneStopResultsResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list_one_stop(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListOneStopResultsResponse>, Problem> {
    let r = s
        .clients
        .activity
        .clone()
        .list_one_stop_results(request(q.request()?, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(get, path = "/v1/satisfaction", tag = "satisfaction", summary = "Satisfaction surveys; units see their own", params(ListQuery), responses((status = 200, description = "Success", body = ListSatisfactionResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list_satisfaction(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListSatisfactionResponse>, Problem> {
    let r = s
        .clients
        .activity
        .clone()
        .list_satisfaction(request(q.request()?, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}

#[utoipa::path(get, path = "/v1/budget-lines", tag = "budget", summary = "Budget lines; units see their own", params(ListQuery), responses((status = 200, description = "Success", body = ListBudgetLinesResponse), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list_budget_lines(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<ListBudgetLinesResponse>, Problem> {
    let r = s
        .clients
        .activity
        .clone()
        .list_budget_lines(request(q.request()?, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
