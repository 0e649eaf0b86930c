//! Connecting to NATS: retried until the server answers, and refused when the server is
//! older than 2.10 (older servers silently ignore consumer settings this system uses).

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

/// Connects to `url`, retrying every second until it answers or `shutdown` fires.
pub async fn connect(
    url: &str,
    name: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<async_nats::Client> {
    loop {
        let attempt = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(3))
            // After the first connection, reconnect forever: the outbox keeps events
            // while NATS is away.
            .max_reconnects(None)
            .connect(url)
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
    use super::check_version;

    #[test]
    fn versions() {
        assert!(check_version("2.9.10").is_err());
        assert!(check_version("2.10.0").is_ok());
        assert!(check_version("2.15.1").is_ok());
        assert!(check_version("3.0.0-beta").is_ok());
        assert!(check_version("v2.11.3-RC.1").is_ok());
    }
}
