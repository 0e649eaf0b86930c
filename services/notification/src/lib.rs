//! The notification service: tells recipients what happened. Events enter in
//! [`events`]; the inbox is read through [`grpc`].

pub mod events;
pub mod grpc;

use std::sync::Arc;

use cchc_platform::config::ServiceSettings;
use cchc_platform::consumer::{self, ConsumerSpec};
use cchc_platform::service::Runtime;
use cchc_proto::notification::v1::notification_service_server::NotificationServiceServer;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn run(
    settings: ServiceSettings,
    _config: cchc_platform::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut rt = Runtime::start(settings, &MIGRATOR, shutdown).await?;
    let handler = Arc::new(events::Notifier);
    for (durable, producer) in [
        ("notification-gateway", "gateway"),
        ("notification-catalogue", "catalogue"),
    ] {
        let task = consumer::run(
            ConsumerSpec::new(durable, producer),
            rt.js.clone(),
            rt.pool.clone(),
            handler.clone(),
            rt.shutdown.clone(),
        );
        rt.tasks.spawn(task);
    }
    let routes = tonic::service::Routes::new(NotificationServiceServer::new(grpc::Inbox::new(
        rt.pool.clone(),
    )));
    rt.serve(routes).await
}
