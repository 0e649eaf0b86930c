//! The HTTP API. One file per resource; each handler reads its input, names the caller
//! (the authentication middleware found it) and calls the owning service with the
//! caller signed into the gRPC metadata; the services check roles and ownership. Each
//! route is registered once, with its OpenAPI operation (`routes!`).

pub(crate) mod account;
pub(crate) mod activities;
pub(crate) mod admin;
pub(crate) mod audit;
pub(crate) mod dashboard;
pub(crate) mod legal_documents;
pub(crate) mod notifications;
mod openapi;
pub(crate) mod plans;
pub(crate) mod postings;
pub(crate) mod procedures;
pub(crate) mod recipients;
pub(crate) mod replay;
pub(crate) mod reports;
pub(crate) mod sessions;
pub(crate) mod submissions;
pub(crate) mod units;
pub(crate) mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::middleware;
use crate::middleware::idempotency::Idempotency;
use crate::middleware::metrics::Metrics;
use crate::middleware::rate_limit::RateLimiter;
use crate::problem::Problem;
use crate::published::Published;
use crate::settings::Settings;
use crate::state::AppState;

/// Every API route with its OpenAPI operation, each registered once.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(units::routes())
        .merge(procedures::routes())
        .merge(legal_documents::routes())
        .merge(postings::routes())
        .merge(activities::routes())
        .merge(submissions::routes())
        .merge(notifications::routes())
        .merge(recipients::routes())
        .merge(dashboard::routes())
        .merge(plans::routes())
        .merge(reports::routes())
        .merge(admin::routes())
        .merge(replay::routes())
        .merge(sessions::routes())
        .merge(users::routes())
        .merge(audit::routes())
}

pub fn router(state: AppState, settings: &Settings) -> Router {
    let limiter = RateLimiter::new(settings.rate_per_minute, settings.rate_burst);
    let idempotency = Idempotency {
        pool: state.pool.clone(),
        body_limit: settings.body_limit,
        // Past the time limit a request has been answered (503) or has died.
        abandoned_after: settings.request_timeout + std::time::Duration::from_secs(5),
    };
    let authenticator = crate::middleware::authenticate::Authenticator {
        store: state.store.clone(),
        people: state.people.clone(),
        key: settings.caller_key.clone(),
        // One budget per address for failed keys, sessions and sign-ins alike.
        failures: state.throttle.per_address.clone(),
    };
    let metrics = (state.metrics.clone(), state.published.clone());
    let timeout = settings.request_timeout;
    let (api, doc) = api().split_for_parts();
    let api = api
        .merge(account::pages())
        .fallback(|| async { Problem::not_found("no such resource") })
        .with_state(state.clone())
        // Outermost first: the rate limit, then texts, then who is calling, then the
        // read's validators (of the answer as sent), then actors named in the answer
        // (a replayed one too), then replay.
        .layer(from_fn_with_state(
            idempotency,
            middleware::idempotency::replay,
        ))
        .layer(from_fn_with_state(
            state.people.clone(),
            middleware::attribution::name_actors,
        ))
        .layer(from_fn(middleware::conditional::etag))
        .layer(from_fn_with_state(
            authenticator,
            crate::middleware::authenticate::authenticate,
        ))
        .layer(from_fn(middleware::refuse_control_characters))
        .layer(from_fn_with_state(limiter, middleware::rate_limit::limit));
    let mut router = Router::new()
        .merge(cchc_platform::health::router(state.readiness.clone()))
        .route("/metrics", get(render_metrics).with_state(metrics.clone()))
        .merge(openapi::routes(&doc))
        .merge(api)
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(from_fn(move |req, next| {
            middleware::timeout(timeout, req, next)
        }))
        .layer(from_fn_with_state(metrics.0, middleware::metrics::record))
        .layer(from_fn(middleware::trace));
    if let Some(cors) = cors(&settings.cors_origins) {
        router = router.layer(cors);
    }
    router
}

async fn render_metrics(State((m, p)): State<(Metrics, Published)>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        m.render() + &p.render(),
    )
}

/// CORS for the Department website's origins; none configured, no CORS headers.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static(crate::middleware::authenticate::CSRF_HEADER),
            ])
            .expose_headers([header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(3600)),
    )
}
