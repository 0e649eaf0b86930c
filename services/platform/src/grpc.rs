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
        Err(many) if !many.is_empty() => Ok(balanced(many)),
        Err(_) => anyhow::bail!("no gRPC address in {url:?}"),
    }
}

/// How often the replicas behind a balanced channel are looked at.
const REPLICA_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// A channel over several replicas: each call goes to one of those that accept
/// connections (the less loaded of two picked at random). A replica that stops
/// accepting is taken out within [`REPLICA_CHECK`] and put back once it accepts again:
/// the balancer alone would keep sending every other call to a dead replica.
fn balanced(endpoints: Vec<tonic::transport::Endpoint>) -> tonic::transport::Channel {
    use tonic::transport::channel::Change;
    let (channel, changes) = tonic::transport::Channel::balance_channel(endpoints.len());
    tokio::spawn(async move {
        let mut up = vec![false; endpoints.len()];
        loop {
            for (i, e) in endpoints.iter().enumerate() {
                let accepts = accepts(e.uri()).await;
                let change = match (up[i], accepts) {
                    (false, true) => Change::Insert(i, e.clone()),
                    (true, false) => Change::Remove(i),
                    _ => continue,
                };
                up[i] = accepts;
                if changes.send(change).await.is_err() {
                    return; // every clone of the channel is gone
                }
            }
            tokio::time::sleep(REPLICA_CHECK).await;
        }
    });
    channel
}

/// Whether something accepts TCP connections at `uri`'s host and port.
async fn accepts(uri: &http::Uri) -> bool {
    let Some(authority) = uri.authority() else {
        return false;
    };
    let port = authority.port_u16().unwrap_or(80);
    let connect = tokio::net::TcpStream::connect((authority.host(), port));
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(1), connect).await,
        Ok(Ok(_))
    )
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
    // Without TCP_NODELAY an answer written in several frames (headers, data, trailers)
    // waits for the client's delayed ACK after the first: 40 ms on every sequential
    // call whose answer is not one small write.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
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
