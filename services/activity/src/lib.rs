//! The activity service: units' communication activities (recorded, corrected by
//! superseding records), one-stop results, satisfaction surveys and budget lines.
//!
//! A request enters in [`grpc`] ([`grpc::Activities`], one file per group of RPCs),
//! is checked into [`domain`] types, and is stored by [`store`] (all SQL) together with
//! its event (outbox) in one transaction. [`events`] consumes the gateway's closures
//! and merges: units it closed or merged write nothing.

pub mod domain;
pub mod events;
pub mod grpc;
pub mod store;

use cchc_platform::config::ServiceSettings;
use cchc_platform::service::Runtime;
use cchc_proto::activity::v1::activity_service_server::ActivityServiceServer;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn run(
    settings: ServiceSettings,
    _config: cchc_platform::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut rt = Runtime::start(settings, &MIGRATOR, shutdown).await?;
    events::consume(&mut rt);
    let store = store::Store::new(rt.pool.clone(), rt.outbox.clone());
    let routes =
        tonic::service::Routes::new(ActivityServiceServer::new(grpc::Activities::new(store)));
    rt.serve(routes).await
}
