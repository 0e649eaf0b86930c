//! The activity service: units' communication activities (recorded, corrected by
//! superseding records), one-stop results, satisfaction surveys and budget lines.
//!
//! A request enters in [`grpc`], is checked by [`domain`], and is stored by [`store`]
//! together with its event (outbox) in one transaction.

pub mod domain;
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
    let rt = Runtime::start(settings, &MIGRATOR, shutdown).await?;
    let store = store::Store::new(rt.pool.clone(), rt.outbox.clone());
    let routes =
        tonic::service::Routes::new(ActivityServiceServer::new(grpc::Activities::new(store)));
    rt.serve(routes).await
}
