//! The reporting service's gRPC API. Each RPC group lives in its own file; this one
//! routes the calls and says how the store's errors are answered.

mod dashboard;
mod plans;
mod replay;
mod reports;
mod submissions;

use std::sync::Arc;

use cchc_platform::page::Paging;
use cchc_platform::validation;
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::*;
use tonic::{Request, Response, Status};

use crate::jobs::Worker;
use crate::replay::Replays;
use crate::store::{self, Store};

pub struct Reporting {
    store: Store,
    worker: Arc<Worker>,
    replays: Arc<Replays>,
}

impl Reporting {
    pub fn new(store: Store, worker: Arc<Worker>, replays: Arc<Replays>) -> Self {
        Self {
            store,
            worker,
            replays,
        }
    }
}

/// What a caller is told when the store refuses or fails: refusals as their kind,
/// anything else opaquely (and logged).
fn refused(e: store::Error) -> Status {
    match e {
        store::Error::NotFound(m) => Status::not_found(m),
        store::Error::Conflict(m) => Status::aborted(m),
        store::Error::KeyReused => Status::already_exists(e.to_string()),
        store::Error::Rule { message, errors } => {
            validation::status(tonic::Code::FailedPrecondition, &message, errors)
        }
        store::Error::Db(e) => validation::internal(e),
    }
}

/// A list's paging, or the refusal naming `limit` or `page_token`.
fn paging(limit: u32, page_token: &str) -> Result<Paging, Status> {
    let mut e = validation::Errors::new();
    let paging = Paging::read(limit, page_token, &mut e);
    e.finish(
        tonic::Code::InvalidArgument,
        "the list request is not valid",
    )?;
    Ok(paging)
}

/// An id from a path: not found when it cannot name anything.
fn id(raw: &str, what: &str) -> Result<uuid::Uuid, Status> {
    raw.trim()
        .parse()
        .map_err(|_| Status::not_found(format!("no such {what}")))
}

#[tonic::async_trait]
impl ReportingService for Reporting {
    async fn get_dashboard(
        &self,
        req: Request<GetDashboardRequest>,
    ) -> Result<Response<Dashboard>, Status> {
        self.dashboard(req).await.map(Response::new)
    }

    async fn create_plan(&self, req: Request<CreatePlanRequest>) -> Result<Response<Plan>, Status> {
        self.create_plan(req).await.map(Response::new)
    }

    async fn update_plan(&self, req: Request<UpdatePlanRequest>) -> Result<Response<Plan>, Status> {
        self.update_plan(req).await.map(Response::new)
    }

    async fn list_plans(
        &self,
        req: Request<ListPlansRequest>,
    ) -> Result<Response<ListPlansResponse>, Status> {
        self.list_plans(req).await.map(Response::new)
    }

    async fn get_plan(&self, req: Request<GetPlanRequest>) -> Result<Response<Plan>, Status> {
        self.get_plan(req).await.map(Response::new)
    }

    async fn submit_period(
        &self,
        req: Request<SubmitPeriodRequest>,
    ) -> Result<Response<PeriodSubmission>, Status> {
        self.submit_period(req).await.map(Response::new)
    }

    async fn reopen_period(
        &self,
        req: Request<ReopenPeriodRequest>,
    ) -> Result<Response<PeriodSubmission>, Status> {
        self.reopen_period(req).await.map(Response::new)
    }

    async fn list_period_submissions(
        &self,
        req: Request<ListPeriodSubmissionsRequest>,
    ) -> Result<Response<ListPeriodSubmissionsResponse>, Status> {
        self.list_period_submissions(req).await.map(Response::new)
    }

    async fn start_report(
        &self,
        req: Request<StartReportRequest>,
    ) -> Result<Response<Report>, Status> {
        self.start_report(req).await.map(Response::new)
    }

    async fn get_report(&self, req: Request<GetReportRequest>) -> Result<Response<Report>, Status> {
        self.get_report(req).await.map(Response::new)
    }

    async fn list_reports(
        &self,
        req: Request<ListReportsRequest>,
    ) -> Result<Response<ListReportsResponse>, Status> {
        self.list_reports(req).await.map(Response::new)
    }

    async fn export_report(
        &self,
        req: Request<ExportReportRequest>,
    ) -> Result<Response<ReportFile>, Status> {
        self.export_report(req).await.map(Response::new)
    }

    async fn start_replay(
        &self,
        req: Request<StartReplayRequest>,
    ) -> Result<Response<Replay>, Status> {
        self.start_replay(req).await.map(Response::new)
    }

    async fn get_replay(&self, req: Request<GetReplayRequest>) -> Result<Response<Replay>, Status> {
        self.get_replay(req).await.map(Response::new)
    }
}
