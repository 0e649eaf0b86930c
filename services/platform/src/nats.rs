//! Connecting to NATS: retried until the server answers, and refused when the server is
//! older than 2.10 (older servers silently ignore consumer settings this system uses).
//!
//! Each service signs in as its own NATS user, given in its `NATS_URL`
//! (`nats://<user>:<password>@host:4222`; see `deploy/nats/auth.conf` for what each user
//! may do). The NATS client does not read credentials from a URL by itself, so they are
//! taken out here, and never logged.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub const MIN_VERSION: (u64, u64) = (2, 10);

/// `Ok` when `version` ("2.15.1") is at least [`MIN_VERSION`].
pub fn check_version(version: &str) -> Result<(), String> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u64 = parts
        .next()
        .and_then(|p| p.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or(0);
    if (major, minor) >= MIN_VERSION {
        Ok(())
    } else {
        Err(format!(
            "nats-server {version} is too old: cchc needs {}.{} or newer with JetStream",
            MIN_VERSION.0, MIN_VERSION.1
        ))
    }
}

/// A NATS URL split into the address to dial and the user to sign in as.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL without credentials: safe to log.
    pub url: String,
    pub user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Parses `nats://[user[:password]@]host[:port]` (or `host:port`), or several of
    /// them separated by commas (the nodes of a cluster; the client picks one and moves
    /// to another when it goes away). The user is the first URL's that names one.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let mut plain = Vec::new();
        let (mut user, mut password) = (None, None);
        for one in url.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let addr: async_nats::ServerAddr = one
                .parse()
                .map_err(|e| anyhow::anyhow!("NATS_URL is not a NATS URL: {e}"))?;
            if user.is_none() {
                user = addr.username().map(percent_decode);
                password = addr.password().map(percent_decode);
            }
            let mut bare = addr.into_inner();
            // Only fails for URLs that cannot carry credentials, which parsed ones can.
            let _ = bare.set_password(None);
            let _ = bare.set_username("");
            plain.push(bare.to_string());
        }
        anyhow::ensure!(!plain.is_empty(), "NATS_URL is empty");
        Ok(Self {
            url: plain.join(","),
            user,
            password,
        })
    }

    /// The servers to dial, one per node.
    pub fn servers(&self) -> Vec<&str> {
        self.url.split(',').collect()
    }

    /// Connection options signing in as this target's user. Its replies arrive under
    /// `_INBOX.<user>.`, the only inbox that user may read.
    pub fn options(&self) -> async_nats::ConnectOptions {
        match &self.user {
            Some(user) => async_nats::ConnectOptions::with_user_and_password(
                user.clone(),
                self.password.clone().unwrap_or_default(),
            )
            .custom_inbox_prefix(format!("_INBOX.{user}")),
            None => async_nats::ConnectOptions::new(),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Connects once to `url` as the user it names, without retrying: for tools and tests.
pub async fn connect_once(url: &str) -> anyhow::Result<async_nats::Client> {
    let target = Target::parse(url)?;
    Ok(target.options().connect(target.servers()).await?)
}

/// Connects to `url`, retrying every second until it answers or `shutdown` fires.
pub async fn connect(
    url: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<async_nats::Client> {
    let target = Target::parse(url)?;
    let url = target.url.as_str();
    let servers = target.servers();
    loop {
        let attempt = target
            .options()
            .name(name)
            .connection_timeout(Duration::from_secs(3))
            // After the first connection, reconnect forever: the outbox keeps events
            // while NATS is away.
            .max_reconnects(None)
            .event_callback(|event| async move {
                match &event {
                    // A refused request only times out on this side: say why, loudly.
                    async_nats::Event::ServerError(e)
                        if e.to_string().contains("Permissions Violation") =>
                    {
                        tracing::error!(error = %e, "NATS refused an operation: this service's user lacks a permission (deploy/nats/auth.conf)")
                    }
                    _ => tracing::info!("NATS: {event}"),
                }
            })
            .connect(servers.clone())
            .await;
        match attempt {
            Ok(client) => {
                let info = client.server_info();
                check_version(&info.version).map_err(anyhow::Error::msg)?;
                if !info.jetstream {
                    anyhow::bail!(
                        "nats-server at {url} runs without JetStream (start it with -js)"
                    );
                }
                return Ok(client);
            }
            Err(e) => {
                tracing::warn!(%url, error = %e, "NATS not reachable yet; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => anyhow::bail!("shut down before NATS was reachable"),
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Target, check_version};

    #[test]
    fn a_cluster_is_several_urls_with_one_user() {
        let t = Target::parse(
            "nats://gateway:pw@127.0.0.1:4222, nats://gateway:pw@127.0.0.1:4223,nats://127.0.0.1:4224",
        )
        .unwrap();
        assert_eq!(t.user.as_deref(), Some("gateway"));
        assert_eq!(
            t.servers(),
            [
                "nats://127.0.0.1:4222",
                "nats://127.0.0.1:4223",
                "nats://127.0.0.1:4224"
            ]
        );
        assert!(Target::parse(" , ").is_err());
    }

    #[test]
    fn credentials_are_taken_out_of_the_url() {
        let t = Target::parse("nats://catalogue:s3cr%2Ft@127.0.0.1:4222").unwrap();
        assert_eq!(t.url, "nats://127.0.0.1:4222");
        assert_eq!(t.user.as_deref(), Some("catalogue"));
        assert_eq!(t.password.as_deref(), Some("s3cr/t"));
        assert!(!format!("{t:?}").contains("s3cr"), "{t:?}");
        let plain = Target::parse("127.0.0.1:4222").unwrap();
        assert_eq!(plain.user, None);
        assert!(plain.url.contains("127.0.0.1:4222"), "{}", plain.url);
    }

    #[test]
    fn versions() {
        assert!(check_version("2.9.10").is_err());
        assert!(check_version("2.10.0").is_ok());
        assert!(check_version("2.15.1").is_ok());
        assert!(check_version("3.0.0-beta").is_ok());
        assert!(check_version("v2.11.3-RC.1").is_ok());
    }
}
