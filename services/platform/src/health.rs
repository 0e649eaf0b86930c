//! Health: `/healthz` (the process answers), `/readyz` (every dependency answers), and
//! the gRPC health service kept in step with readiness.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

type CheckFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Named readiness checks, all of which must pass.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(String, CheckFn)>,
}

impl Readiness {
    pub fn check<F, Fut>(mut self, name: &str, f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks
            .push((name.to_owned(), Arc::new(move || Box::pin(f()))));
        self
    }

    /// PostgreSQL answers a trivial query.
    pub fn postgres(self, pool: sqlx::PgPool) -> Self {
        self.check("postgres", move || {
            let pool = pool.clone();
            async move {
                sqlx::query("SELECT 1")
                    .execute(&pool)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    }

    /// The NATS connection is up.
    pub fn nats(self, client: async_nats::Client) -> Self {
        self.check("nats", move || {
            let state = client.connection_state();
            async move {
                match state {
                    async_nats::connection::State::Connected => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
    }

    /// Runs every check (each bounded to two seconds).
    pub async fn evaluate(&self) -> (bool, serde_json::Value) {
        let mut ok = true;
        let mut report = serde_json::Map::new();
        for (name, f) in &self.checks {
            let r = tokio::time::timeout(Duration::from_secs(2), f())
                .await
                .unwrap_or_else(|_| Err("timed out".into()));
            ok &= r.is_ok();
            report.insert(
                name.clone(),
                match r {
                    Ok(()) => "ok".into(),
                    Err(e) => e.into(),
                },
            );
        }
        (ok, serde_json::Value::Object(report))
    }
}

/// `/healthz` and `/readyz` routes.
pub fn router(readiness: Readiness) -> axum::Router {
    axum::Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .with_state(Arc::new(readiness))
}

async fn readyz(State(r): State<Arc<Readiness>>) -> (StatusCode, Json<serde_json::Value>) {
    let (ok, checks) = r.evaluate().await;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({"status": if ok {"ready"} else {"not ready"}, "checks": checks})),
    )
}

/// Keeps the gRPC health status of the whole server ("") in step with readiness.
pub fn track_grpc(
    readiness: Readiness,
    reporter: tonic_health::server::HealthReporter,
    shutdown: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            let (ok, _) = readiness.evaluate().await;
            let status = if ok {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            tokio::select! {
                _ = shutdown.cancelled() => {
                    reporter.set_service_status("", tonic_health::ServingStatus::NotServing).await;
                    return;
                }
                _ = tokio::time::sleep(Duration::from_secs(if ok { 5 } else { 1 })) => {}
            }
        }
    });
}
