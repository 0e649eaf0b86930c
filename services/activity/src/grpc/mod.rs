//! The activity service's gRPC API, where every request enters: [`Activities`]
//! implements the service and hands each RPC to its group's file. The unit of a write
//! is the caller's, never the message's, and a closed or merged unit writes nothing;
//! reads by a unit are limited to its own records. Store failures become statuses
//! here, and only here.

mod activities;
mod submissions;

use cchc_platform::validation::{Errors, Rule};
use cchc_platform::{Caller, Role};
use cchc_proto::activity::v1::activity_service_server::ActivityService;
use cchc_proto::activity::v1::{
    Activity, BudgetLines, CorrectActivityRequest, GetActivityRequest, ListActivitiesRequest,
    ListActivitiesResponse, ListBudgetLinesResponse, ListOneStopResultsResponse,
    ListSatisfactionResponse, ListSubmissionsRequest, OneStopResult, RecordActivitiesRequest,
    RecordActivitiesResponse, RecordActivityRequest, SatisfactionSurvey, SubmitBudgetLinesRequest,
    SubmitOneStopResultRequest, SubmitSatisfactionRequest,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::store::{self, Store};

/// The activity service.
#[derive(Clone)]
pub struct Activities {
    store: Store,
}

impl Activities {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl ActivityService for Activities {
    async fn record_activity(
        &self,
        req: Request<RecordActivityRequest>,
    ) -> Result<Response<Activity>, Status> {
        activities::record(&self.store, req).await
    }

    async fn record_activities(
        &self,
        req: Request<RecordActivitiesRequest>,
    ) -> Result<Response<RecordActivitiesResponse>, Status> {
        activities::record_many(&self.store, req).await
    }

    async fn correct_activity(
        &self,
        req: Request<CorrectActivityRequest>,
    ) -> Result<Response<Activity>, Status> {
        activities::correct(&self.store, req).await
    }

    async fn list_activities(
        &self,
        req: Request<ListActivitiesRequest>,
    ) -> Result<Response<ListActivitiesResponse>, Status> {
        activities::list(&self.store, req).await
    }

    async fn get_activity(
        &self,
        req: Request<GetActivityRequest>,
    ) -> Result<Response<Activity>, Status> {
        activities::get(&self.store, req).await
    }

    async fn submit_one_stop_result(
        &self,
        req: Request<SubmitOneStopResultRequest>,
    ) -> Result<Response<OneStopResult>, Status> {
        submissions::submit_one_stop(&self.store, req).await
    }

    async fn list_one_stop_results(
        &self,
        req: Request<ListSubmissionsRequest>,
    ) -> Result<Response<ListOneStopResultsResponse>, Status> {
        submissions::list_one_stop(&self.store, req).await
    }

    async fn submit_satisfaction(
        &self,
        req: Request<SubmitSatisfactionRequest>,
    ) -> Result<Response<SatisfactionSurvey>, Status> {
        submissions::submit_satisfaction(&self.store, req).await
    }

    async fn list_satisfaction(
        &self,
        req: Request<ListSubmissionsRequest>,
    ) -> Result<Response<ListSatisfactionResponse>, Status> {
        submissions::list_satisfaction(&self.store, req).await
    }

    async fn submit_budget_lines(
        &self,
        req: Request<SubmitBudgetLinesRequest>,
    ) -> Result<Response<BudgetLines>, Status> {
        submissions::submit_budget(&self.store, req).await
    }

    async fn list_budget_lines(
        &self,
        req: Request<ListSubmissionsRequest>,
    ) -> Result<Response<ListBudgetLinesResponse>, Status> {
        submissions::list_budgets(&self.store, req).await
    }
}

/// The unit making a write, for its own records only: a unit's caller, or the
/// Department Office's staff for the Office's own unit (which reports like any other,
/// without a second key of role unit); a unit neither closed nor merged.
async fn writer<T>(store: &Store, req: &Request<T>) -> Result<Caller, Status> {
    let caller = Caller::require(req, WRITERS)?;
    store.ensure_active(caller.unit_id).await?;
    Ok(caller)
}

/// Roles that record.
const WRITERS: &[Role] = &[Role::Unit, Role::Office];

/// Roles that read the lists.
const READERS: &[Role] = &[Role::Unit, Role::Office, Role::Leader, Role::Operator];

/// The unit whose records the caller may read: a unit its own, whatever it asked for;
/// the office and leadership the one they name, or all.
fn visible_unit(caller: &Caller, asked: &str, e: &mut Errors) -> Option<Uuid> {
    if caller.role == Role::Unit {
        Some(caller.unit_id)
    } else if asked.is_empty() {
        None
    } else {
        asked
            .parse()
            .map_err(|_| e.add("unit_id", Rule::Id { of: "unit" }))
            .ok()
    }
}

/// A client key, when one was given.
fn key(k: &str) -> Option<&str> {
    (!k.is_empty()).then_some(k)
}

/// What a store failure tells the caller: an absent record, a conflict with what is
/// stored, or (logged with its chain) an opaque internal error.
impl From<store::Error> for Status {
    fn from(e: store::Error) -> Self {
        use store::Error;
        match e {
            Error::NotFound => Status::not_found(e.to_string()),
            Error::UnitEnded(m) => Status::permission_denied(m),
            Error::AlreadyCorrected { .. } | Error::KeyReused => {
                Status::already_exists(e.to_string())
            }
            Error::Db(e) => cchc_platform::validation::internal(e),
        }
    }
}
