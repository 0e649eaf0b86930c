//! The reporting service: read models built from events ([`events`]) and what is read
//! from them ([`grpc`]).

pub mod events;
pub mod grpc;

use std::sync::Arc;

use cchc_platform::config::ServiceSettings;
use cchc_platform::consumer::{self, ConsumerSpec};
use cchc_platform::service::Runtime;
use cchc_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn run(
    settings: ServiceSettings,
    _config: cchc_platform::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut rt = Runtime::start(settings, &MIGRATOR, shutdown).await?;
    let handler = Arc::new(events::ReadModels);
    for producer in ["gateway", "catalogue", "activity"] {
        let task = consumer::run(
            ConsumerSpec::new(format!("reporting-{producer}"), producer),
            rt.js.clone(),
            rt.pool.clone(),
            handler.clone(),
            rt.shutdown.clone(),
        );
        rt.tasks.spawn(task);
    }
    let routes = tonic::service::Routes::new(ReportingServiceServer::new(grpc::Reporting::new(
        rt.pool.clone(),
    )));
    rt.serve(routes).await
}
