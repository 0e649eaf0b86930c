//! The notification service: tells recipients what happened, by inbox, e-mail and
//! signed webhook — once.
//!
//! Events enter in [`events`] (and the calendar in [`scheduler`]); [`store::fanout`]
//! turns each into one message per recipient and channel, and [`store::accounts`] an
//! account link into one e-mail to its person; the [`delivery`] worker sends them and
//! records every attempt. Recipients, subscriptions, templates, the inbox and
//! the delivery record are served by [`grpc`]. All SQL is in [`store`]; the rules, in
//! [`domain`].

pub mod config;
pub mod delivery;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod scheduler;
pub mod store;

use std::sync::Arc;

use cchc_platform::config::ServiceSettings;
use cchc_platform::consumer::{self, ConsumerSpec};
use cchc_platform::events::Event;
use cchc_platform::service::Runtime;
use cchc_proto::events::v1::{ActivityRecorded, OneStopResultSubmitted};
use cchc_proto::notification::v1::notification_service_server::NotificationServiceServer;
use tokio_util::sync::CancellationToken;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn run(
    service: ServiceSettings,
    config: cchc_platform::Config,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    run_with_lookup(
        service,
        config,
        shutdown,
        Arc::new(delivery::webhook::SystemLookup),
    )
    .await
}

/// [`run`], with webhook hosts resolved by `lookup` instead of the system's resolver
/// (tests use it to make a name resolve to an address of their choosing).
pub async fn run_with_lookup(
    service: ServiceSettings,
    config: cchc_platform::Config,
    shutdown: CancellationToken,
    lookup: Arc<dyn delivery::webhook::Lookup>,
) -> anyhow::Result<()> {
    let settings = Arc::new(config::Settings::load(&config)?);
    // The services' internal key also opens the account links the gateway seals.
    let key = service.caller_key.clone();
    let mut rt = Runtime::start(service, &MIGRATOR, shutdown).await?;
    let store = store::Store::new(rt.pool.clone());
    store.ensure_defaults().await?;
    let worker = delivery::Worker::new(
        store.clone(),
        settings.delivery.clone(),
        lookup,
        key.clone(),
    )?;
    let handler = Arc::new(events::Notifier::new(settings.clone(), key));
    let consumers = [
        ConsumerSpec::new("notification-gateway", "gateway"),
        ConsumerSpec::new("notification-catalogue", "catalogue"),
        ConsumerSpec::new("notification-reporting", "reporting"),
        ConsumerSpec::new("notification-activity", "activity")
            .subjects(&[ActivityRecorded::TYPE, OneStopResultSubmitted::TYPE]),
    ];
    for spec in consumers {
        let task = consumer::run(
            spec,
            rt.js.clone(),
            rt.pool.clone(),
            handler.clone(),
            rt.shutdown.clone(),
        );
        rt.tasks.spawn(task);
    }
    let shutdown = rt.shutdown.clone();
    rt.tasks.spawn(worker.run(shutdown.clone()));
    let scheduler = scheduler::Scheduler::new(store.clone(), settings.clone());
    rt.tasks.spawn(scheduler.run(shutdown));
    let api = grpc::Notifications::new(store, settings);
    let routes = tonic::service::Routes::new(NotificationServiceServer::new(api));
    rt.serve(routes).await
}
