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
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a connection may take to send a request's headers, or wait idle.
    pub header_read_timeout: Duration,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one address (0: no limit per address).
    pub max_per_address: usize,
    /// Reverse proxies in front of the gateway: their connections carry many clients, so
    /// they are not capped per address, and the client is read from `X-Forwarded-For`.
    pub trusted_proxies: Vec<Network>,
}

/// An IP network, `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s} is not an IP address or network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s} has no valid prefix length"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), 32),
                None => (u128::from(v6), 128),
            },
        };
        let ((net, width), (ip, ip_width)) = (bits(self.addr), bits(ip));
        if width != ip_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (ip >> shift)
    }
}

/// The client a request comes from: the peer, or, when the peer is a trusted proxy,
/// the nearest address in `X-Forwarded-For` that is not one of the trusted proxies.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

fn client_ip(peer: IpAddr, headers: &http::HeaderMap, trusted: &[Network]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
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
        let per_address = self.limits.max_per_address > 0
            && !self.limits.trusted_proxies.iter().any(|n| n.contains(ip));
        let mut c = self.counts.lock().expect("connection counts lock");
        let here = c.by_address.get(&ip).copied().unwrap_or(0);
        if c.total >= self.limits.max_connections
            || (per_address && here >= self.limits.max_per_address)
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
        limits: limits.clone(),
    };
    let trusted: Arc<[Network]> = limits.trusted_proxies.clone().into();
    let header_read_timeout = limits.header_read_timeout;
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
            header_read_timeout,
            trusted.clone(),
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
    header_read_timeout: Duration,
    trusted: Arc<[Network]>,
    shutdown: CancellationToken,
    _admitted: Admitted,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // Handlers read the peer's address like axum's own server gives it, and the
        // client's (the same, unless the peer is a trusted proxy).
        req.extensions_mut().insert(ConnectInfo(addr));
        let client = ClientIp(client_ip(addr.ip(), req.headers(), &trusted));
        req.extensions_mut().insert(client);
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
        .header_read_timeout(header_read_timeout)
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
                max_connections: 4,
                max_per_address: 2,
                trusted_proxies: vec!["192.0.2.9".parse().unwrap()],
            },
        };
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        let first = a.admit(one).expect("first");
        let _second = a.admit(one).expect("second");
        assert!(a.admit(one).is_none(), "per-address cap");
        let _third = a.admit(two).expect("another address");
        let proxy: IpAddr = "192.0.2.9".parse().unwrap();
        let _fourth = a.admit(proxy).expect("a trusted proxy");
        assert!(a.admit("192.0.2.3".parse().unwrap()).is_none(), "total cap");
        drop(first);
        assert!(
            a.admit(one).is_some(),
            "a closed connection gives its place back"
        );
    }
}

#[cfg(test)]
mod proxy_tests {
    use super::*;

    #[test]
    fn networks_and_forwarded_clients() {
        let lan: Network = "10.1.0.0/16".parse().unwrap();
        assert!(lan.contains("10.1.200.3".parse().unwrap()));
        assert!(!lan.contains("10.2.0.1".parse().unwrap()));
        assert!(lan.contains("::ffff:10.1.0.1".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.7".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("proxy".parse::<Network>().is_err());

        let trusted = vec!["172.18.0.0/16".parse().unwrap()];
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.5, 172.18.0.4".parse().unwrap(),
        );
        let proxy: IpAddr = "172.18.0.2".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &h, &trusted),
            "203.0.113.5".parse::<IpAddr>().unwrap(),
            "the nearest untrusted hop; what the client wrote itself is not believed"
        );
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            client_ip(stranger, &h, &trusted),
            stranger,
            "only proxies are believed"
        );
    }
}
