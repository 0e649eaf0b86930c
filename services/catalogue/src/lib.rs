//! The catalogue service: administrative procedures and their versions.
//!
//! A request enters in [`grpc`], is checked by [`domain`], and is stored by [`store`]
//! together with its event (outbox) in one transaction. Units the gateway closed or
//! merged (its events, kept by [`cchc_platform::ended_units`]) write nothing.

pub mod domain;
pub mod export;
pub mod grpc;
pub mod store;

use std::sync::Arc;

use cchc_platform::config::ServiceSettings;
use cchc_platform::service::Runtime;
use cchc_platform::{consumer, ended_units};
use cchc_proto::catalogue::v1::catalogue_service_server::CatalogueServiceServer;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn run(
    settings: ServiceSettings,
    _config: cchc_platform::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut rt = Runtime::start(settings, &MIGRATOR, shutdown).await?;
    // Closures and merges announced by the gateway, so a closed unit's writes are
    // refused here too.
    let ended = consumer::run(
        ended_units::consumer("catalogue"),
        rt.js.clone(),
        rt.pool.clone(),
        Arc::new(ended_units::EndedUnits),
        rt.shutdown.clone(),
    );
    rt.tasks.spawn(ended);
    let store = store::Store::new(rt.pool.clone(), rt.outbox.clone());
    let scheduler = store.clone().promote_scheduled_loop(rt.shutdown.clone());
    rt.tasks.spawn(scheduler);
    let routes =
        tonic::service::Routes::new(CatalogueServiceServer::new(grpc::Catalogue::new(store)));
    rt.serve(routes).await
}
