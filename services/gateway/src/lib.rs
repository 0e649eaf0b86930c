//! The gateway: the public HTTP API (described by its OpenAPI document, `/openapi.json`),
//! identity and access. It derives the caller's unit and role from the API key and calls
//! the services over gRPC with them signed into the metadata.
//!
//! A connection is accepted in [`serve`]; a request passes [`middleware`] (limits,
//! authentication, idempotent replay) and enters a handler in [`routes`], which reads
//! it through [`extract`] and reaches the services through [`state`]; [`problem`] shapes
//! every error; [`store`] keeps units and keys, [`api_key`] makes and hashes keys.
//! Modules import only downward: routes → extract, state, api_key → store.

pub mod api_key;
pub mod extract;
pub mod middleware;
pub mod problem;
pub mod routes;
pub mod serve;
pub mod state;
pub mod store;

use std::net::SocketAddr;

use cchc_platform::config::{Config, ConfigError, database_url};
use cchc_platform::service::Backbone;
use cchc_proto::activity::v1::activity_service_client::ActivityServiceClient;
use cchc_proto::catalogue::v1::catalogue_service_client::CatalogueServiceClient;
use cchc_proto::notification::v1::notification_service_client::NotificationServiceClient;
use cchc_proto::operations::v1::operations_client::OperationsClient;
use cchc_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub database_url: String,
    pub nats_url: String,
    pub catalogue_url: String,
    pub activity_url: String,
    pub notification_url: String,
    pub reporting_url: String,
    /// Signs each caller for the services (`CCHC_INTERNAL_TOKEN`).
    pub caller_key: cchc_platform::CallerKey,
    /// The first office key, from the operator's configuration.
    pub bootstrap_token: Option<String>,
    /// The first operator key (IT staff: health, keys, replays), also from configuration.
    pub operator_token: Option<String>,
    pub body_limit: usize,
    /// Requests a key may make per minute, and how many at once above that pace.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    pub request_timeout: std::time::Duration,
    /// Origins allowed by CORS (the Department website); empty, none.
    pub cors_origins: Vec<String>,
    /// Header-read timeout and connection caps.
    pub connections: serve::Limits,
    /// Failed authentications an address may make per minute, and at once above that.
    pub auth_failures_per_minute: u32,
    pub auth_failure_burst: u32,
}

impl Settings {
    pub fn load(c: &Config) -> Result<Self, ConfigError> {
        let port: u16 = c.parse_or("CCHC_GATEWAY_PORT", 8080)?;
        let svc = |name: &str, port: u16| {
            c.optional(&format!("CCHC_{}_URL", name.to_uppercase()))
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}"))
        };
        let bootstrap_token = cchc_platform::config::secret(c, "CCHC_BOOTSTRAP_TOKEN")?;
        let operator_token = cchc_platform::config::secret(c, "CCHC_OPERATOR_TOKEN")?;
        Ok(Self {
            addr: c.parse_or(
                "CCHC_GATEWAY_ADDR",
                SocketAddr::from(([127, 0, 0, 1], port)),
            )?,
            database_url: database_url(c, "gateway")?,
            nats_url: c
                .optional("NATS_URL")
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            catalogue_url: svc("catalogue", 50051),
            activity_url: svc("activity", 50052),
            notification_url: svc("notification", 50053),
            reporting_url: svc("reporting", 50054),
            caller_key: cchc_platform::CallerKey::new(&cchc_platform::config::internal_token(c)?),
            bootstrap_token,
            operator_token,
            body_limit: c.parse_or("CCHC_BODY_LIMIT_BYTES", 1 << 20)?,
            rate_per_minute: c.parse_or("CCHC_RATE_LIMIT_PER_MINUTE", 1200)?,
            rate_burst: c.parse_or("CCHC_RATE_LIMIT_BURST", 200)?,
            request_timeout: std::time::Duration::from_secs(
                c.parse_or("CCHC_REQUEST_TIMEOUT_SECONDS", 30)?,
            ),
            cors_origins: c
                .optional("CCHC_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            connections: serve::Limits {
                header_read_timeout: std::time::Duration::from_secs(
                    c.parse_or("CCHC_HEADER_READ_TIMEOUT_SECONDS", 10)?,
                ),
                max_connections: c.parse_or("CCHC_MAX_CONNECTIONS", 2048)?,
                max_per_address: c.parse_or("CCHC_MAX_CONNECTIONS_PER_ADDRESS", 256)?,
                trusted_proxies: match c.optional("CCHC_TRUSTED_PROXIES") {
                    None => Vec::new(),
                    Some(v) => v
                        .split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::parse)
                        .collect::<Result<_, String>>()
                        .map_err(|reason| ConfigError::Invalid {
                            name: "CCHC_TRUSTED_PROXIES".into(),
                            value: v.clone(),
                            reason,
                        })?,
                },
            },
            auth_failures_per_minute: c.parse_or("CCHC_AUTH_FAILURES_PER_MINUTE", 30)?,
            auth_failure_burst: c.parse_or("CCHC_AUTH_FAILURE_BURST", 20)?,
        })
    }
}

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
        let state = state::AppState {
            store,
            pool: backbone.pool.clone(),
            metrics: middleware::metrics::Metrics::default(),
            clients: state::Clients {
                catalogue: CatalogueServiceClient::new(catalogue),
                activity: ActivityServiceClient::new(activity),
                notification: NotificationServiceClient::new(notification),
                operations: OperationsClient::new(reporting.clone()),
                reporting: ReportingServiceClient::new(reporting),
            },
            readiness,
        };
        let router = routes::router(state, &settings);
        let mut backbone = backbone;
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
