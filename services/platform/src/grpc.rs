//! gRPC plumbing shared by servers and clients: trace context in metadata, the caller's
//! identity in metadata, and one way to serve.

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::caller::{CallerKey, Signed};
use crate::telemetry;

/// A request carrying the current trace context and, when known, the signed caller.
pub fn request<T>(message: T, caller: Option<&Signed>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    for (k, v) in telemetry::current_context_headers() {
        if let (Ok(k), Ok(v)) = (
            k.parse::<tonic::metadata::MetadataKey<tonic::metadata::Ascii>>(),
            v.parse(),
        ) {
            req.metadata_mut().insert(k, v);
        }
    }
    if let Some(c) = caller {
        c.insert_into(req.metadata_mut());
    }
    req
}

/// A lazily connecting channel to `url` ("http://host:port"), or to the replicas of a
/// service listed with commas ("http://a:50051,http://b:50051").
pub fn channel(url: &str) -> anyhow::Result<tonic::transport::Channel> {
    let endpoints = url
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            Ok(tonic::transport::Endpoint::from_shared(u.to_owned())?
                .connect_timeout(std::time::Duration::from_secs(3))
                .timeout(std::time::Duration::from_secs(30)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    match <[_; 1]>::try_from(endpoints) {
        Ok([one]) => Ok(one.connect_lazy()),
        // Replicas of a service: each call goes to one of them, the less loaded of two
        // picked at random.
        Err(many) if !many.is_empty() => {
            Ok(tonic::transport::Channel::balance_list(many.into_iter()))
        }
        Err(_) => anyhow::bail!("no gRPC address in {url:?}"),
    }
}

fn server_span(req: &http::Request<()>) -> tracing::Span {
    let headers: HashMap<String, String> = telemetry::headers_from_http(req.headers());
    let span = tracing::info_span!("grpc", rpc = %req.uri().path());
    telemetry::set_parent_from(&span, &headers);
    span
}

/// Serves `routes` plus the gRPC health service on `listener` until `shutdown`; every
/// request's caller is verified with `key` first (see [`crate::caller`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: tonic::service::Routes,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    key: CallerKey,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder()
        .trace_fn(server_span)
        .layer(crate::caller::verify_layer(key))
        .add_routes(routes)
        .add_service(health)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// Binds `addr` (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))
}
