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

/// The connections every service (the gateway too) runs on: its database, NATS with its
/// stream provisioned, and its outbox with the relay running.
pub struct Backbone {
    pub pool: PgPool,
    pub nats: async_nats::Client,
    pub js: jetstream::Context,
    pub outbox: Outbox,
    pub shutdown: CancellationToken,
    pub tasks: JoinSet<()>,
}

/// Creates (or finds) `name`'s stream and the dead-letter stream, trying again while
/// JetStream cannot answer yet: a cluster still electing its leader, or every service of
/// a fresh cluster creating its replicated streams at once, times requests out.
async fn provision(
    js: &jetstream::Context,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut backoff = std::time::Duration::from_millis(200);
    loop {
        let tried = async {
            crate::events::ensure_stream(js, name).await?;
            crate::events::ensure_dead_letter_stream(js).await
        };
        match tried.await {
            Ok(()) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "provisioning streams; trying again")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => anyhow::bail!("shut down before the streams were provisioned"),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
    }
}

impl Backbone {
    /// Connects to PostgreSQL (creating and migrating the database) and NATS (checking
    /// its version), provisions the stream of `name`'s events and starts the relay.
    pub async fn start(
        name: &'static str,
        database_url: &str,
        nats_url: &str,
        migrator: &sqlx::migrate::Migrator,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let pool = crate::db::connect_and_migrate(database_url, migrator).await?;
        let nats = crate::nats::connect(nats_url, name, &shutdown).await?;
        let js = jetstream::new(nats.clone());
        provision(&js, name, &shutdown).await?;
        let outbox = Outbox::new(name);
        let mut tasks = JoinSet::new();
        tasks.spawn(Relay::new(pool.clone(), js.clone(), outbox.clone()).run(shutdown.clone()));
        Ok(Self {
            pool,
            nats,
            js,
            outbox,
            shutdown,
            tasks,
        })
    }

    /// Readiness of the database and NATS.
    pub fn readiness(&self) -> Readiness {
        Readiness::default()
            .postgres(self.pool.clone())
            .nats(self.nats.clone())
    }

    /// Waits for the background tasks after shutdown, then lets the last acks and
    /// publishes leave and closes the pool.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        // Bounded: with NATS already gone, a flush would wait for it forever.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.nats.flush()).await;
        self.pool.close().await;
    }
}

/// A backend service: the [`Backbone`] plus its gRPC and health listeners.
pub struct Runtime {
    pub settings: ServiceSettings,
    pub backbone: Backbone,
    grpc_listener: tokio::net::TcpListener,
    http_listener: tokio::net::TcpListener,
}

impl std::ops::Deref for Runtime {
    type Target = Backbone;
    fn deref(&self) -> &Backbone {
        &self.backbone
    }
}

impl std::ops::DerefMut for Runtime {
    fn deref_mut(&mut self) -> &mut Backbone {
        &mut self.backbone
    }
}

impl Runtime {
    /// Binds the listeners (so a bad address fails before anything else), then starts
    /// the [`Backbone`].
    pub async fn start(
        settings: ServiceSettings,
        migrator: &sqlx::migrate::Migrator,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let grpc_listener = crate::grpc::bind(settings.grpc_addr).await?;
        let http_listener = crate::grpc::bind(settings.http_addr).await?;
        let backbone = Backbone::start(
            settings.name,
            &settings.database_url,
            &settings.nats_url,
            migrator,
            shutdown,
        )
        .await?;
        Ok(Self {
            settings,
            backbone,
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
    pub async fn serve(self, routes: tonic::service::Routes) -> anyhow::Result<()> {
        let readiness = self.backbone.readiness();
        self.serve_with(routes, readiness).await
    }

    /// [`Runtime::serve`] with the service's own readiness: [`Backbone::readiness`]
    /// plus the checks of the service's background work.
    pub async fn serve_with(
        self,
        routes: tonic::service::Routes,
        readiness: Readiness,
    ) -> anyhow::Result<()> {
        let (reporter, health) = tonic_health::server::health_reporter();
        let shutdown = self.backbone.shutdown.clone();
        crate::health::track_grpc(readiness.clone(), reporter, shutdown.clone());
        tracing::info!(
            service = self.settings.name,
            grpc = %self.grpc_addr(),
            http = %self.http_addr(),
            "serving"
        );
        let http = axum::serve(self.http_listener, crate::health::router(readiness))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let grpc = crate::grpc::serve(
            self.grpc_listener,
            routes,
            health,
            self.settings.caller_key.clone(),
            shutdown,
        );
        let (g, h) = tokio::join!(grpc, async { http.await.map_err(anyhow::Error::from) });
        self.backbone.stop().await;
        g.and(h)
    }
}

/// The body of every backend service's `main`: [`main_with`] its [`ServiceSettings`].
pub async fn main<F, Fut>(name: &'static str, default_grpc_port: u16, run: F) -> anyhow::Result<()>
where
    F: FnOnce(ServiceSettings, crate::Config, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    main_with(name, |config, shutdown| async move {
        let settings = ServiceSettings::load(&config, name, default_grpc_port)?;
        run(settings, config, shutdown).await
    })
    .await
}

/// The body of every binary's `main` (the gateway's too): telemetry, configuration,
/// run until a signal, then flush; a failure is logged with its chain.
pub async fn main_with<F, Fut>(name: &'static str, run: F) -> anyhow::Result<()>
where
    F: FnOnce(crate::Config, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let telemetry = crate::telemetry::init(name)?;
    let result = async {
        let config = crate::Config::from_env()?;
        run(config, crate::shutdown::on_signal()).await
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "{name} stopped with an error");
    }
    telemetry.shutdown();
    result
}
