//! The reporting service: read models built from the other services' events
//! ([`events`], rebuilt on demand by [`replay`]), plans and report jobs ([`store`],
//! worked by [`jobs`]), reports computed and rendered from the read models
//! ([`report`]), and the gRPC API over all of it ([`grpc`]).

pub mod domain;
pub mod events;
pub mod grpc;
pub mod jobs;
pub mod replay;
pub mod report;
pub mod store;

use cchc_platform::config::ServiceSettings;
use cchc_platform::service::Runtime;
use cchc_proto::reporting::v1::reporting_service_server::ReportingServiceServer;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn run(
    settings: ServiceSettings,
    config: cchc_platform::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let limits = jobs::Limits::from_config(&config)?;
    let mut rt = Runtime::start(settings, &MIGRATOR, shutdown).await?;
    let consumers = replay::Consumers::start(rt.js.clone(), rt.pool.clone(), rt.shutdown.clone());
    let store = store::Store::new(rt.pool.clone(), rt.outbox.clone());
    let replays = replay::Replays::new(store.clone(), consumers.clone(), rt.shutdown.clone());
    replays.resume().await?;
    let worker = jobs::Worker::with_limits(store.clone(), limits);
    let shutdown = rt.shutdown.clone();
    rt.tasks.spawn(worker.clone().run(shutdown.clone()));
    // The consumers stop with the runtime's shutdown; wait for them with the other tasks.
    rt.tasks.spawn(async move {
        shutdown.cancelled().await;
        consumers.join().await;
    });
    // A stuck or stopped report worker makes the service not ready, naming the job.
    let readiness = rt.readiness().check("report_worker", {
        let worker = worker.clone();
        move || std::future::ready(worker.ready())
    });
    let routes = tonic::service::Routes::new(ReportingServiceServer::new(grpc::Reporting::new(
        store, worker, replays,
    )))
    // The operators' view of dead letters, which the gateway asks this service for.
    .add_service(cchc_platform::operations::server(rt.js.clone()));
    rt.serve_with(routes, readiness).await
}
