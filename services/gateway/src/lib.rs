//! The gateway: the public HTTP API (described by its OpenAPI document, `/openapi.json`),
//! identity and access. It derives the caller's unit and role from the API key and calls
//! the services over gRPC with them signed into the metadata.
//!
//! A connection is accepted in [`serve`]; a request passes [`middleware`] (limits,
//! authentication, idempotent replay) and enters a handler in [`routes`], which reads
//! it through [`extract`] and reaches the services through [`state`]; [`problem`] shapes
//! every error; [`store`] keeps units and keys, [`people`] accounts, sessions and the
//! audit log, [`password`] hashes and judges passwords, [`api_key`] makes and hashes
//! tokens; [`published`] keeps the public catalogue's answers, fresh by its events.
//! Modules import only downward: routes → extract, state → people, store → password,
//! api_key.

pub mod api_key;
pub mod extract;
pub mod middleware;
pub mod password;
pub mod people;
pub mod problem;
pub mod published;
pub mod routes;
pub mod serve;
pub mod settings;
pub mod state;
pub mod store;

use cchc_platform::service::Backbone;
use cchc_proto::activity::v1::activity_service_client::ActivityServiceClient;
use cchc_proto::catalogue::v1::catalogue_service_client::CatalogueServiceClient;
use cchc_proto::notification::v1::notification_service_client::NotificationServiceClient;
use cchc_proto::operations::v1::operations_client::OperationsClient;
use cchc_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub use settings::Settings;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub struct Application {
    listener: tokio::net::TcpListener,
    backbone: Backbone,
    router: axum::Router,
    connections: serve::Limits,
    request_timeout: std::time::Duration,
}

fn grpc_ready(
    name: &str,
    channel: Channel,
) -> impl Fn() -> futures_ready::Ready + Send + Sync + 'static {
    let name = name.to_owned();
    move || {
        let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
        let name = name.clone();
        Box::pin(async move {
            let status = client
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map_err(|e| format!("{name}: {}", e.message()))?
                .into_inner()
                .status;
            if status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
                Ok(())
            } else {
                Err(format!("{name} is not serving"))
            }
        })
    }
}

mod futures_ready {
    pub type Ready =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;
}

/// For a new installation's first person: an office account for `email` in the
/// Department, with the one-time link to set its password (also e-mailed, when mail is
/// configured, once the running gateway relays the event). An account already active
/// gets none (`None`); one still invited gets a new link, and its old one stops working.
pub async fn first_user(
    settings: &Settings,
    email: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let email = email.trim().to_lowercase();
    anyhow::ensure!(
        people::valid_email(&email),
        "{email:?} is not an e-mail address"
    );
    anyhow::ensure!(!name.trim().is_empty(), "the person's name is empty");
    let pool = cchc_platform::db::connect_and_migrate(&settings.database_url, &MIGRATOR).await?;
    let outbox = cchc_platform::outbox::Outbox::new("gateway");
    let store = store::Store::new(pool.clone(), outbox.clone());
    let (id, department) = store.department().await?;
    let people = people::People::new(
        pool,
        outbox,
        settings.caller_key.clone(),
        settings.people.clone(),
    );
    Ok(people
        .first_user(&email, name.trim(), (id, &department))
        .await?)
}

impl Application {
    /// Binds the listener (port 0 picks one), connects to everything and prepares the
    /// router; [`Application::port`] tells where it listens.
    pub async fn build(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let listener = cchc_platform::grpc::bind(settings.addr).await?;
        let backbone = Backbone::start(
            "gateway",
            &settings.database_url,
            &settings.nats_url,
            &MIGRATOR,
            shutdown,
        )
        .await?;
        let store = store::Store::new(backbone.pool.clone(), backbone.outbox.clone());
        match &settings.bootstrap_token {
            Some(token) => store.bootstrap(token, cchc_platform::Role::Office).await?,
            None => tracing::warn!("CCHC_BOOTSTRAP_TOKEN is not set: no office key is configured"),
        }
        if let Some(token) = &settings.operator_token {
            store
                .bootstrap(token, cchc_platform::Role::Operator)
                .await?;
        }
        let channels = [
            (
                "catalogue",
                cchc_platform::grpc::channel(&settings.catalogue_url)?,
            ),
            (
                "activity",
                cchc_platform::grpc::channel(&settings.activity_url)?,
            ),
            (
                "notification",
                cchc_platform::grpc::channel(&settings.notification_url)?,
            ),
            (
                "reporting",
                cchc_platform::grpc::channel(&settings.reporting_url)?,
            ),
        ];
        let mut readiness = backbone.readiness();
        for (name, ch) in &channels {
            readiness = readiness.check(name, grpc_ready(name, ch.clone()));
        }
        let [
            (_, catalogue),
            (_, activity),
            (_, notification),
            (_, reporting),
        ] = channels;
        let people = people::People::new(
            backbone.pool.clone(),
            backbone.outbox.clone(),
            settings.caller_key.clone(),
            settings.people.clone(),
        );
        let state = state::AppState::new(state::Shared {
            caller_key: settings.caller_key.clone(),
            store,
            people,
            throttle: middleware::rate_limit::SignInThrottle {
                per_address: middleware::rate_limit::RateLimiter::new(
                    settings.auth_failures_per_minute,
                    settings.auth_failure_burst,
                ),
                per_account: middleware::rate_limit::RateLimiter::new(
                    settings.sign_in_failures_per_account_per_minute,
                    settings.sign_in_failure_burst_per_account,
                ),
            },
            pool: backbone.pool.clone(),
            metrics: middleware::metrics::Metrics::default(),
            published: published::Published::default(),
            clients: state::Clients {
                catalogue: CatalogueServiceClient::new(catalogue),
                activity: ActivityServiceClient::new(activity),
                notification: NotificationServiceClient::new(notification),
                operations: OperationsClient::new(reporting.clone()),
                reporting: ReportingServiceClient::new(reporting),
            },
            readiness,
        });
        let mut backbone = backbone;
        backbone.tasks.spawn(
            state
                .published
                .clone()
                .follow(backbone.js.clone(), backbone.shutdown.clone()),
        );
        let router = routes::router(state, &settings);
        let (pool, shutdown) = (backbone.pool.clone(), backbone.shutdown.clone());
        backbone.tasks.spawn(async move {
            loop {
                if let Err(e) = sqlx::query(
                    "DELETE FROM idempotency_keys WHERE created_at < now() - interval '1 day'",
                )
                .execute(&pool)
                .await
                {
                    tracing::warn!(error = %e, "forgetting old idempotency keys failed");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
                }
            }
        });
        Ok(Self {
            listener,
            backbone,
            router,
            connections: settings.connections.clone(),
            request_timeout: settings.request_timeout,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().expect("bound listener").port()
    }

    /// Serves until shutdown, then stops the relay and closes connections.
    pub async fn run(self) -> anyhow::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "gateway serving");
        let shutdown = self.backbone.shutdown.clone();
        let served = serve::serve(
            self.listener,
            self.router,
            self.connections,
            shutdown,
            // Requests in flight are answered within their time limit.
            self.request_timeout + std::time::Duration::from_secs(1),
        )
        .await;
        self.backbone.stop().await;
        Ok(served?)
    }
}
