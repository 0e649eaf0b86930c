//! What every handler can reach: the gateway's store and the services' clients.

use std::sync::Arc;

use cchc_platform::health::Readiness;
use cchc_proto::activity::v1::activity_service_client::ActivityServiceClient;
use cchc_proto::catalogue::v1::catalogue_service_client::CatalogueServiceClient;
use cchc_proto::notification::v1::notification_service_client::NotificationServiceClient;
use cchc_proto::operations::v1::operations_client::OperationsClient;
use cchc_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use tonic::transport::Channel;

use crate::middleware::metrics::Metrics;
use crate::middleware::rate_limit::SignInThrottle;
use crate::people::People;
use crate::published::Published;
use crate::store::Store;

/// gRPC clients of the services (cheap to clone; channels connect lazily).
#[derive(Clone)]
pub struct Clients {
    pub catalogue: CatalogueServiceClient<Channel>,
    pub activity: ActivityServiceClient<Channel>,
    pub notification: NotificationServiceClient<Channel>,
    pub reporting: ReportingServiceClient<Channel>,
    /// The operators' view, served by the reporting service.
    pub operations: OperationsClient<Channel>,
}

/// What every handler can reach. axum clones the state for every request and for every
/// layer that reads it; as one shared allocation that is a reference count, where
/// cloning each client and store had been a fifth of the gateway's time on a kept read
/// (`perf`: its clones and drops, and the allocator under them).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub store: Store,
    pub people: People,
    /// Failed sign-ins per address and per account.
    pub throttle: SignInThrottle,
    pub pool: sqlx::PgPool,
    pub metrics: Metrics,
    /// The public catalogue's answers, kept fresh by its events.
    pub published: Published,
    pub clients: Clients,
    pub readiness: Readiness,
    /// Signs the calls the gateway makes on its own account (public views).
    pub caller_key: cchc_platform::CallerKey,
}
