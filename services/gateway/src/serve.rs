//! The gateway's HTTP server: hyper's HTTP/1 with the limits a public address needs.
//!
//! A client that opens connections and never finishes its request headers (slowloris)
//! would otherwise hold a file descriptor each until the process has none left. So a
//! connection must deliver its request headers within `header_read_timeout` (also the
//! longest a kept-alive connection may wait idle for its next request), and connections
//! are capped in all and per client address; one over a cap is closed at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a connection may take to send a request's headers, or wait idle.
    pub header_read_timeout: Duration,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one address (0: no limit per address, e.g. behind
    /// a reverse proxy that is the only client).
    pub max_per_address: usize,
}

/// Open connections, in all and by address.
#[derive(Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

#[derive(Clone)]
struct Admission {
    counts: Arc<Mutex<Counts>>,
    limits: Limits,
}

/// Held while a connection is open; gives its place back when dropped.
struct Admitted {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl Admission {
    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let mut c = self.counts.lock().expect("connection counts lock");
        let here = c.by_address.get(&ip).copied().unwrap_or(0);
        if c.total >= self.limits.max_connections
            || (self.limits.max_per_address > 0 && here >= self.limits.max_per_address)
        {
            return None;
        }
        c.total += 1;
        *c.by_address.entry(ip).or_insert(0) += 1;
        Some(Admitted {
            counts: self.counts.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut c = self.counts.lock().expect("connection counts lock");
        c.total -= 1;
        if let Some(n) = c.by_address.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.by_address.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown`, then lets requests in flight finish
/// (for at most `drain`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let admission = Admission {
        counts: Arc::default(),
        limits,
    };
    let mut connections = JoinSet::new();
    let mut refused: u64 = 0;
    loop {
        let (stream, addr) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, or the peer left before accept: wait a little
                    // rather than spin, and go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
        let Some(admitted) = admission.admit(addr.ip()) else {
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(client = %addr.ip(), refused, "connection refused: too many open connections");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            addr,
            router.clone(),
            limits,
            shutdown.clone(),
            admitted,
        ));
    }
    drop(listener);
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections still open after the drain time; closing them"
        );
        connections.abort_all();
    }
    Ok(())
}

async fn connection(
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
    _admitted: Admitted,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // Handlers read the client's address like axum's own server gives it.
        req.extensions_mut().insert(ConnectInfo(addr));
        let router = router.clone();
        async move {
            Ok::<_, Infallible>(
                router
                    .oneshot(req.map(axum::body::Body::new))
                    .await
                    .unwrap_or_else(|e| match e {}),
            )
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = shutdown.cancelled(), if !stopping => {
                // Finish the request in flight, then close.
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_all_and_per_address_and_gives_places_back() {
        let a = Admission {
            counts: Arc::default(),
            limits: Limits {
                header_read_timeout: Duration::from_secs(1),
                max_connections: 3,
                max_per_address: 2,
            },
        };
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        let first = a.admit(one).expect("first");
        let _second = a.admit(one).expect("second");
        assert!(a.admit(one).is_none(), "per-address cap");
        let _third = a.admit(two).expect("another address");
        assert!(a.admit("192.0.2.3".parse().unwrap()).is_none(), "total cap");
        drop(first);
        assert!(
            a.admit(one).is_some(),
            "a closed connection gives its place back"
        );
    }
}
