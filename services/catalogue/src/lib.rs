//! The catalogue service: administrative procedures and their versions, the legal
//! documents they rest on, and the units' postings of them.
//!
//! A request enters in [`grpc`], is read into a [`domain`] type, and is stored by
//! [`store`] together with its event (outbox) in one transaction; [`events`] hears the
//! gateway's closures and merges of units (kept by [`cchc_platform::ended_units`]), whose
//! writes are then refused.

pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use cchc_platform::config::ServiceSettings;
use cchc_platform::service::Runtime;
use cchc_proto::catalogue::v1::catalogue_service_server::CatalogueServiceServer;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Runs the service until `shutdown`. The configuration beyond `settings` is not
/// needed here; every service's `run` has this shape for the shared `main`.
pub async fn run(
    settings: ServiceSettings,
    _config: cchc_platform::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut rt = Runtime::start(settings, &MIGRATOR, shutdown).await?;
    events::consume(&mut rt);
    let store = store::Store::new(rt.pool.clone(), rt.outbox.clone());
    let scheduler = store.clone().promote_scheduled_loop(rt.shutdown.clone());
    rt.tasks.spawn(scheduler);
    let routes =
        tonic::service::Routes::new(CatalogueServiceServer::new(grpc::Catalogue::new(store)));
    rt.serve(routes).await
}
