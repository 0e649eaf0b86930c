//! Submissions per period or year: one-stop results, satisfaction surveys, budget lines.

use cchc_platform::validation::{Errors, today};
use cchc_platform::{Caller, Role};
use cchc_proto::activity::v1::{
    BudgetLines, ListBudgetLinesResponse, ListOneStopResultsResponse, ListSatisfactionResponse,
    ListSubmissionsRequest, OneStopResult, SatisfactionSurvey, SubmitBudgetLinesRequest,
    SubmitOneStopResultRequest, SubmitSatisfactionRequest,
};
use tonic::{Request, Response, Status};

use super::{key, next_token, page, visible_unit, writer};
use crate::domain::{Period, Rejection, budget, one_stop, satisfaction};
use crate::store::{Store, SubmissionFilter};

/// Units read their own submissions; the office and leadership read everyone's.
const READERS: &[Role] = &[Role::Unit, Role::Office, Role::Leader];

pub async fn submit_one_stop(
    store: &Store,
    req: Request<SubmitOneStopResultRequest>,
) -> Result<Response<OneStopResult>, Status> {
    let caller = writer(store, &req).await?;
    let r = req.into_inner();
    let f = one_stop::check(&r, today())?;
    let result = store
        .submit_one_stop(caller.unit_id, &f, key(&r.idempotency_key))
        .await?;
    Ok(Response::new(result))
}

pub async fn submit_satisfaction(
    store: &Store,
    req: Request<SubmitSatisfactionRequest>,
) -> Result<Response<SatisfactionSurvey>, Status> {
    let caller = writer(store, &req).await?;
    let r = req.into_inner();
    let f = satisfaction::check(&r, today())?;
    let survey = store
        .submit_satisfaction(caller.unit_id, &f, key(&r.idempotency_key))
        .await?;
    Ok(Response::new(survey))
}

pub async fn submit_budget(
    store: &Store,
    req: Request<SubmitBudgetLinesRequest>,
) -> Result<Response<BudgetLines>, Status> {
    let caller = writer(store, &req).await?;
    let r = req.into_inner();
    let f = budget::check(&r, today())?;
    let lines = store
        .submit_budget(caller.unit_id, &f, key(&r.idempotency_key))
        .await?;
    Ok(Response::new(lines))
}

/// What a list asks for, checked. Periods are compared in their written form, so
/// `2020-h1` finds what was submitted as `2020-H1`.
fn filter(
    caller: &Caller,
    r: &ListSubmissionsRequest,
    by_year: bool,
) -> Result<SubmissionFilter, Status> {
    let mut e = Errors::new();
    let (limit, after) = page(r.limit, &r.page_token, &mut e);
    let unit_id = visible_unit(caller, &r.unit_id, &mut e);
    let period = if by_year {
        e.check(
            r.period.is_empty(),
            "period",
            "budget lines are listed by year",
        );
        match r.year {
            0 => None,
            y => Period::year(y)
                .map_err(|_| e.add("year", "must be a year from 2000 to 2200"))
                .ok()
                .map(|p| p.to_string()),
        }
    } else if r.period.is_empty() {
        None
    } else {
        match r.period.parse::<Period>() {
            Ok(p) => Some(p.to_string()),
            Err(bad) => {
                e.add("period", bad.to_string());
                None
            }
        }
    };
    if !e.is_empty() {
        return Err(Rejection::invalid("the filter is not valid", e).into());
    }
    Ok(SubmissionFilter {
        unit_id,
        period,
        history: r.history,
        limit,
        after,
    })
}

pub async fn list_one_stop(
    store: &Store,
    req: Request<ListSubmissionsRequest>,
) -> Result<Response<ListOneStopResultsResponse>, Status> {
    let caller = Caller::require(&req, READERS)?;
    let f = filter(&caller, req.get_ref(), false)?;
    let results = store.list_one_stop(&f).await?;
    let next_page_token = next_token(
        results.len(),
        f.limit,
        results
            .last()
            .map(|r| (r.submitted_at.as_str(), r.id.as_str())),
    );
    Ok(Response::new(ListOneStopResultsResponse {
        results,
        next_page_token,
    }))
}

pub async fn list_satisfaction(
    store: &Store,
    req: Request<ListSubmissionsRequest>,
) -> Result<Response<ListSatisfactionResponse>, Status> {
    let caller = Caller::require(&req, READERS)?;
    let f = filter(&caller, req.get_ref(), false)?;
    let surveys = store.list_satisfaction(&f).await?;
    let next_page_token = next_token(
        surveys.len(),
        f.limit,
        surveys
            .last()
            .map(|s| (s.submitted_at.as_str(), s.id.as_str())),
    );
    Ok(Response::new(ListSatisfactionResponse {
        surveys,
        next_page_token,
    }))
}

pub async fn list_budgets(
    store: &Store,
    req: Request<ListSubmissionsRequest>,
) -> Result<Response<ListBudgetLinesResponse>, Status> {
    let caller = Caller::require(&req, READERS)?;
    let f = filter(&caller, req.get_ref(), true)?;
    let budgets = store.list_budgets(&f).await?;
    let next_page_token = next_token(
        budgets.len(),
        f.limit,
        budgets
            .last()
            .map(|b| (b.submitted_at.as_str(), b.id.as_str())),
    );
    Ok(Response::new(ListBudgetLinesResponse {
        budgets,
        next_page_token,
    }))
}
