//! Submissions per period or year: one-stop results, satisfaction surveys, budget lines.
//! Every kind is submitted and listed alike; only its check and its messages differ.

use cchc_platform::page::Paging;
use cchc_platform::time::today;
use cchc_platform::validation::{Errors, Rule};
use cchc_platform::{Caller, Role};
use cchc_proto::activity::v1::{
    BudgetLines, ListBudgetLinesResponse, ListOneStopResultsResponse, ListSatisfactionResponse,
    ListSubmissionsRequest, OneStopResult, SatisfactionSurvey, SubmitBudgetLinesRequest,
    SubmitOneStopResultRequest, SubmitSatisfactionRequest,
};
use tonic::{Request, Response, Status};

use super::{key, visible_unit, writer};
use crate::domain::budget::BudgetFigures;
use crate::domain::one_stop::OneStopFigures;
use crate::domain::satisfaction::SatisfactionFigures;
use crate::domain::{Period, Rejection, budget, one_stop, satisfaction};
use crate::store::{Page, Store, Submission, SubmissionFilter};

/// Units read their own submissions; the office and leadership read everyone's.
const READERS: &[Role] = &[Role::Unit, Role::Office, Role::Leader];

/// A unit's submission `r`, checked by `check` against today's date, stored with the
/// client key `key` reads from it.
async fn submit<R, S: Submission>(
    store: &Store,
    req: Request<R>,
    check: impl FnOnce(&R, chrono::NaiveDate) -> Result<S, Rejection>,
    idempotency_key: impl FnOnce(&R) -> &str,
) -> Result<Response<S::Answer>, Status> {
    let caller = writer(store, &req).await?;
    let r = req.into_inner();
    let figures = check(&r, today())?;
    let stored = store
        .submit(
            &caller.actor,
            caller.unit_id,
            &figures,
            key(idempotency_key(&r)),
        )
        .await?;
    Ok(Response::new(stored))
}

pub async fn submit_one_stop(
    store: &Store,
    req: Request<SubmitOneStopResultRequest>,
) -> Result<Response<OneStopResult>, Status> {
    submit(store, req, one_stop::check, |r| &r.idempotency_key).await
}

pub async fn submit_satisfaction(
    store: &Store,
    req: Request<SubmitSatisfactionRequest>,
) -> Result<Response<SatisfactionSurvey>, Status> {
    submit(store, req, satisfaction::check, |r| &r.idempotency_key).await
}

pub async fn submit_budget(
    store: &Store,
    req: Request<SubmitBudgetLinesRequest>,
) -> Result<Response<BudgetLines>, Status> {
    submit(store, req, budget::check, |r| &r.idempotency_key).await
}

/// What a list asks for, checked. Periods are compared in their written form, so
/// `2020-h1` finds what was submitted as `2020-H1`.
fn filter(
    caller: &Caller,
    r: &ListSubmissionsRequest,
    by_year: bool,
) -> Result<SubmissionFilter, Status> {
    let mut e = Errors::new();
    let paging = Paging::read(r.limit, &r.page_token, &mut e);
    let unit_id = visible_unit(caller, &r.unit_id, &mut e);
    let period = if by_year {
        e.check(r.period.is_empty(), "period", Rule::YearOnly);
        match r.year {
            0 => None,
            y => Period::year(y)
                .map_err(|_| {
                    e.add(
                        "year",
                        Rule::Year {
                            min: 2000,
                            max: 2200,
                        },
                    )
                })
                .ok()
                .map(|p| p.to_string()),
        }
    } else if r.period.is_empty() {
        None
    } else {
        match r.period.parse::<Period>() {
            Ok(p) => Some(p.to_string()),
            Err(_) => {
                e.add("period", Rule::Period);
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
        paging,
    })
}

/// A page of `S`'s submissions the caller may read; budget lines (`by_year`) are
/// asked for by year, the others by period.
async fn list<S: Submission>(
    store: &Store,
    req: Request<ListSubmissionsRequest>,
    by_year: bool,
) -> Result<Page<S::Answer>, Status> {
    let caller = Caller::require(&req, READERS)?;
    let f = filter(&caller, req.get_ref(), by_year)?;
    Ok(store.submissions::<S>(&f).await?)
}

pub async fn list_one_stop(
    store: &Store,
    req: Request<ListSubmissionsRequest>,
) -> Result<Response<ListOneStopResultsResponse>, Status> {
    let page = list::<OneStopFigures>(store, req, false).await?;
    Ok(Response::new(ListOneStopResultsResponse {
        results: page.items,
        next_page_token: page.next_token,
    }))
}

pub async fn list_satisfaction(
    store: &Store,
    req: Request<ListSubmissionsRequest>,
) -> Result<Response<ListSatisfactionResponse>, Status> {
    let page = list::<SatisfactionFigures>(store, req, false).await?;
    Ok(Response::new(ListSatisfactionResponse {
        surveys: page.items,
        next_page_token: page.next_token,
    }))
}

pub async fn list_budgets(
    store: &Store,
    req: Request<ListSubmissionsRequest>,
) -> Result<Response<ListBudgetLinesResponse>, Status> {
    let page = list::<BudgetFigures>(store, req, true).await?;
    Ok(Response::new(ListBudgetLinesResponse {
        budgets: page.items,
        next_page_token: page.next_token,
    }))
}
