//! The reporting service's gRPC API. Each RPC group lives in its own file; this one
//! only routes the calls.

mod dashboard;
mod plans;
mod replay;
mod reports;

use std::sync::Arc;

use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::*;
use tonic::{Request, Response, Status};

use crate::jobs::Worker;
use crate::replay::Replays;
use crate::store::Store;

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

/// A page size: 50 by default, at most 500.
fn limit(n: u32) -> i64 {
    if n == 0 { 50 } else { i64::from(n.min(500)) }
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
