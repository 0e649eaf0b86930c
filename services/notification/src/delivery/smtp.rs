//! Connections to the SMTP server, opened by the service itself and kept for the next
//! e-mail.
//!
//! lettre speaks SMTP on them, but its own transport opens sockets with Nagle's
//! algorithm on: it writes a message's body and then the five bytes that end it, and
//! Nagle holds those back until the server acknowledges the body, which a server's
//! delayed ACK puts off for 40 ms. That was 45 ms for every e-mail on one connection
//! (against 2 ms for the same exchange without the wait). Here every socket is opened
//! with `TCP_NODELAY`, and lettre is handed the stream.
//!
//! The URL is read as lettre reads it: `smtp://host[:25]` (plain), `?tls=required`
//! (STARTTLS, port 587 by default) or `?tls=opportunistic`, `smtps://host[:465]` (TLS
//! from the start), `user:password@` for AUTH, a path for the EHLO name.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

#[derive(Debug, Clone, PartialEq)]
enum Tls {
    None,
    /// STARTTLS when the server offers it.
    Opportunistic,
    /// STARTTLS, or no e-mail.
    Required,
    /// TLS from the first byte (SMTPS).
    Wrapper,
}

/// Where the SMTP server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Relay {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl Relay {
    pub fn parse(url: &str) -> Result<Self, String> {
        let u = url::Url::parse(url).map_err(|e| e.to_string())?;
        let host = u.host_str().ok_or("the URL names no host")?.to_owned();
        let tls_param = u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (tls, port) = match (u.scheme(), tls_param.as_deref()) {
            ("smtp", None) => (Tls::None, 25),
            ("smtp", Some("required")) => (Tls::Required, 587),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic, 587),
            ("smtps", _) => (Tls::Wrapper, 465),
            (scheme, tls) => {
                return Err(format!(
                    "unknown scheme {scheme:?} or tls parameter {tls:?}: use smtp://, smtp://…?tls=required, smtp://…?tls=opportunistic or smtps://"
                ));
            }
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|e| format!("the URL's user or password is not UTF-8: {e}"))
        };
        let credentials = match u.password() {
            Some(p) => Some(Credentials::new(decode(u.username())?, decode(p)?)),
            None => None,
        };
        let name = u.path().trim_matches('/');
        let hello = if name.is_empty() {
            ClientId::default()
        } else {
            ClientId::Domain(name.to_owned())
        };
        Ok(Self {
            port: u.port().unwrap_or(port),
            host,
            tls,
            credentials,
            hello,
        })
    }
}

/// Why a send did not reach the server's answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// What the server said, or how the session broke.
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
}

impl SendError {
    /// A 5xx answer: sending again will not help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Smtp(e) if e.is_permanent())
    }
}

/// A TLS stream lettre can speak over.
#[derive(Debug)]
struct Wrapped(TlsStream<TcpStream>);

impl AsyncTokioStream for Wrapped {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for Wrapped {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Wrapped {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// An idle connection is asked whether it still stands (NOOP) after this long unused;
/// servers close sessions that stay quiet, and a send on a closed one would fail.
const CHECK_AFTER: Duration = Duration::from_secs(10);

/// Open connections to the relay, at most `keep` kept idle between sends.
pub struct Connections {
    relay: Relay,
    timeout: Duration,
    keep: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    tls: Option<TlsConnector>,
}

impl Connections {
    pub fn new(relay: Relay, timeout: Duration, keep: usize) -> Self {
        let tls = (relay.tls == Tls::Wrapper).then(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                // A certificate the store cannot read is one fewer root, not a failure.
                let _ = roots.add(cert);
            }
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            TlsConnector::from(Arc::new(config))
        });
        Self {
            relay,
            timeout,
            keep,
            idle: Mutex::new(Vec::new()),
            tls,
        }
    }

    /// Sends one message on a kept connection, or a new one, and keeps the connection
    /// while it still stands: lettre closes the session on any answer it did not want,
    /// while a message it refused before speaking (its own checks) leaves it usable.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let mut conn = self.connection().await?;
        let sent = conn.send(envelope, message).await;
        if !conn.has_broken() {
            self.keep(conn);
        }
        sent.map(drop).map_err(SendError::from)
    }

    fn keep(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().expect("the pool's lock");
        if idle.len() < self.keep {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connection(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let taken = self.idle.lock().expect("the pool's lock").pop();
            let Some((mut conn, since)) = taken else {
                break;
            };
            if conn.has_broken() {
                continue;
            }
            if since.elapsed() < CHECK_AFTER || conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
        self.connect().await
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let r = &self.relay;
        let at = format!("{}:{}", r.host, r.port);
        let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time");
        let tcp = tokio::time::timeout(self.timeout, TcpStream::connect((r.host.as_str(), r.port)))
            .await
            .map_err(|_| SendError::Connect(at.clone(), timed_out()))?
            .map_err(|e| SendError::Connect(at.clone(), e))?;
        // The reason this module exists: see its comment.
        tcp.set_nodelay(true)
            .map_err(|e| SendError::Connect(at.clone(), e))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.tls {
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from(r.host.clone())
                    .map_err(|e| SendError::Connect(at.clone(), std::io::Error::other(e)))?;
                let tls = tokio::time::timeout(self.timeout, connector.connect(name, tcp))
                    .await
                    .map_err(|_| SendError::Connect(at.clone(), timed_out()))?
                    .map_err(|e| SendError::Connect(at.clone(), e))?;
                Box::new(Wrapped(tls))
            }
            None => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &r.hello).await?;
        let starttls = match r.tls {
            Tls::Required => true,
            Tls::Opportunistic => conn.can_starttls(),
            Tls::None | Tls::Wrapper => false,
        };
        if starttls {
            conn.starttls(TlsParameters::new(r.host.clone())?, &r.hello)
                .await?;
        }
        if let Some(credentials) = &r.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_read_as_lettre_reads_them() {
        let r = Relay::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.tls),
            ("127.0.0.1", 2525, Tls::None)
        );
        let r = Relay::parse("smtp://van%20thu:m%E1%BA%ADt@mail.example.vn?tls=required").unwrap();
        assert_eq!((r.port, r.tls), (587, Tls::Required));
        assert_eq!(
            r.credentials,
            Some(Credentials::new("van thu".into(), "mật".into()))
        );
        let r = Relay::parse("smtps://mail.example.vn/sgddt.example.vn").unwrap();
        assert_eq!((r.port, r.tls), (465, Tls::Wrapper));
        assert_eq!(r.hello, ClientId::Domain("sgddt.example.vn".into()));
        assert_eq!(
            Relay::parse("smtp://mail.example.vn?tls=opportunistic")
                .unwrap()
                .tls,
            Tls::Opportunistic
        );
        assert!(Relay::parse("http://mail.example.vn").is_err());
        assert!(Relay::parse("smtp://mail.example.vn?tls=sometimes").is_err());
        assert!(Relay::parse("not a url").is_err());
    }
}
