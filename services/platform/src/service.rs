//! Starting a backend service the same way everywhere: database, NATS, streams, outbox
//! relay, health, then the gRPC server; stopping it gracefully.

use std::net::SocketAddr;

use async_nats::jetstream;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::ServiceSettings;
use crate::health::Readiness;
use crate::outbox::{Outbox, Relay};

/// What a started service has at hand.
pub struct Runtime {
    pub settings: ServiceSettings,
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub outbox: Outbox,
    pub shutdown: CancellationToken,
    pub tasks: JoinSet<()>,
    grpc_listener: tokio::net::TcpListener,
    http_listener: tokio::net::TcpListener,
}

impl Runtime {
    /// Binds the listeners, connects to PostgreSQL (creating and migrating the
    /// database) and NATS (checking its version), provisions this service's stream and
    /// starts the outbox relay.
    pub async fn start(
        settings: ServiceSettings,
        migrator: &sqlx::migrate::Migrator,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let grpc_listener = crate::grpc::bind(settings.grpc_addr).await?;
        let http_listener = crate::grpc::bind(settings.http_addr).await?;
        let pool = crate::db::connect_and_migrate(&settings.database_url, migrator).await?;
        let nats = crate::nats::connect(&settings.nats_url, settings.name, &shutdown).await?;
        let js = jetstream::new(nats.clone());
        crate::events::ensure_stream(&js, settings.name).await?;
        crate::events::ensure_dead_letter_stream(&js).await?;
        let outbox = Outbox::new(settings.name);
        let mut tasks = JoinSet::new();
        tasks.spawn(Relay::new(pool.clone(), js.clone(), outbox.clone()).run(shutdown.clone()));
        Ok(Self {
            settings,
            pool,
            nats,
            js,
            outbox,
            shutdown,
            tasks,
            grpc_listener,
            http_listener,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_listener.local_addr().expect("bound listener")
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_listener.local_addr().expect("bound listener")
    }

    /// Serves gRPC and the health endpoints until shutdown, then waits for the
    /// background tasks (relay, consumers) to stop.
    pub async fn serve(mut self, routes: tonic::service::Routes) -> anyhow::Result<()> {
        let readiness = Readiness::default()
            .postgres(self.pool.clone())
            .nats(self.nats.clone());
        let (reporter, health) = tonic_health::server::health_reporter();
        crate::health::track_grpc(readiness.clone(), reporter, self.shutdown.clone());
        tracing::info!(
            service = self.settings.name,
            grpc = %self.grpc_addr(),
            http = %self.http_addr(),
            "serving"
        );
        let http = axum::serve(self.http_listener, crate::health::router(readiness))
            .with_graceful_shutdown(self.shutdown.clone().cancelled_owned());
        let grpc = crate::grpc::serve(self.grpc_listener, routes, health, self.shutdown.clone());
        let (g, h) = tokio::join!(grpc, async { http.await.map_err(anyhow::Error::from) });
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        // Let the last acks and publishes leave the connection.
        let _ = self.nats.flush().await;
        self.pool.close().await;
        g.and(h)
    }
}

/// The body of every service's `main`: telemetry, configuration, run, flush.
pub async fn main<F, Fut>(name: &'static str, default_grpc_port: u16, run: F) -> anyhow::Result<()>
where
    F: FnOnce(ServiceSettings, crate::Config, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let telemetry = crate::telemetry::init(name)?;
    let result = async {
        let config = crate::Config::from_env()?;
        let settings = ServiceSettings::load(&config, name, default_grpc_port)?;
        run(settings, config, crate::shutdown::on_signal()).await
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "{name} stopped with an error");
    }
    telemetry.shutdown();
    result
}
