//! The gateway's configuration, read once at start from the environment.

use std::net::SocketAddr;

use cchc_platform::config::{Config, ConfigError, database_url};

use crate::serve;

#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub database_url: String,
    pub nats_url: String,
    pub catalogue_url: String,
    pub activity_url: String,
    pub notification_url: String,
    pub reporting_url: String,
    /// Signs each caller for the services (`CCHC_INTERNAL_TOKEN`).
    pub caller_key: cchc_platform::CallerKey,
    /// The first office key, from the operator's configuration.
    pub bootstrap_token: Option<String>,
    /// The first operator key (IT staff: health, keys, replays), also from configuration.
    pub operator_token: Option<String>,
    pub body_limit: usize,
    /// Requests a key may make per minute, and how many at once above that pace.
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    pub request_timeout: std::time::Duration,
    /// Origins allowed by CORS (the Department website); empty, none.
    pub cors_origins: Vec<String>,
    /// Header-read timeout and connection caps.
    pub connections: serve::Limits,
    /// Failed authentications an address may make per minute, and at once above that.
    pub auth_failures_per_minute: u32,
    pub auth_failure_burst: u32,
    /// Failed sign-ins one account may take per minute, and at once above that: a
    /// guesser spread over many addresses is slowed per account too.
    pub sign_in_failures_per_account_per_minute: u32,
    pub sign_in_failure_burst_per_account: u32,
    /// Where people reach cchc (`CCHC_PUBLIC_URL`), and how long links and sessions live.
    pub people: crate::people::Lifetimes,
}

impl Settings {
    pub fn load(c: &Config) -> Result<Self, ConfigError> {
        let port: u16 = c.parse_or("CCHC_GATEWAY_PORT", 8080)?;
        let svc = |name: &str, port: u16| {
            c.optional(&format!("CCHC_{}_URL", name.to_uppercase()))
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}"))
        };
        let bootstrap_token = cchc_platform::config::secret(c, "CCHC_BOOTSTRAP_TOKEN")?;
        let operator_token = cchc_platform::config::secret(c, "CCHC_OPERATOR_TOKEN")?;
        let addr: SocketAddr = c.parse_or(
            "CCHC_GATEWAY_ADDR",
            SocketAddr::from(([127, 0, 0, 1], port)),
        )?;
        let mut settings = Self {
            addr,
            database_url: database_url(c, "gateway")?,
            nats_url: c
                .optional("NATS_URL")
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            catalogue_url: svc("catalogue", 50051),
            activity_url: svc("activity", 50052),
            notification_url: svc("notification", 50053),
            reporting_url: svc("reporting", 50054),
            caller_key: cchc_platform::CallerKey::new(&cchc_platform::config::internal_token(c)?),
            bootstrap_token,
            operator_token,
            body_limit: c.parse_or("CCHC_BODY_LIMIT_BYTES", 1 << 20)?,
            rate_per_minute: c.parse_or("CCHC_RATE_LIMIT_PER_MINUTE", 1200)?,
            rate_burst: c.parse_or("CCHC_RATE_LIMIT_BURST", 200)?,
            request_timeout: std::time::Duration::from_secs(
                c.parse_or("CCHC_REQUEST_TIMEOUT_SECONDS", 30)?,
            ),
            cors_origins: c
                .optional("CCHC_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            connections: serve::Limits {
                header_read_timeout: std::time::Duration::from_secs(
                    c.parse_or("CCHC_HEADER_READ_TIMEOUT_SECONDS", 10)?,
                ),
                max_connections: c.parse_or("CCHC_MAX_CONNECTIONS", 2048)?,
                max_per_address: c.parse_or("CCHC_MAX_CONNECTIONS_PER_ADDRESS", 256)?,
                trusted_proxies: match c.optional("CCHC_TRUSTED_PROXIES") {
                    None => Vec::new(),
                    Some(v) => v
                        .split(',')
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::parse)
                        .collect::<Result<_, String>>()
                        .map_err(|reason| ConfigError::Invalid {
                            name: "CCHC_TRUSTED_PROXIES".into(),
                            value: v.clone(),
                            reason,
                        })?,
                },
            },
            auth_failures_per_minute: c.parse_or("CCHC_AUTH_FAILURES_PER_MINUTE", 30)?,
            auth_failure_burst: c.parse_or("CCHC_AUTH_FAILURE_BURST", 20)?,
            sign_in_failures_per_account_per_minute: c
                .parse_or("CCHC_SIGN_IN_FAILURES_PER_ACCOUNT_PER_MINUTE", 2)?,
            sign_in_failure_burst_per_account: c
                .parse_or("CCHC_SIGN_IN_FAILURE_BURST_PER_ACCOUNT", 10)?,
            people: crate::people::Lifetimes {
                public_url: public_url(c, addr.port())?,
                sign_in_url: c
                    .optional("CCHC_CONSOLE_URL")
                    .map(|u| format!("{}/dang-nhap", u.trim_end_matches('/'))),
                invitation: hours(c.parse_or("CCHC_INVITATION_LIFETIME_HOURS", 72)?),
                reset: minutes(c.parse_or("CCHC_PASSWORD_RESET_LIFETIME_MINUTES", 60)?),
                session_idle: minutes(c.parse_or("CCHC_SESSION_IDLE_MINUTES", 120)?),
                session_lifetime: hours(c.parse_or("CCHC_SESSION_LIFETIME_HOURS", 12)?),
            },
        };
        settings.share_limits(c.parse_or("CCHC_GATEWAY_REPLICAS", 1)?);
        Ok(settings)
    }

    /// With `replicas` gateways behind one address, each keeps its share of every rate
    /// limit, so together they allow what one would (each limit is counted in its own
    /// process; a balancer spreading requests evenly makes the shares add up).
    fn share_limits(&mut self, replicas: u32) {
        let share = |n: &mut u32| *n = n.div_ceil(replicas.max(1)).max(1);
        for n in [
            &mut self.rate_per_minute,
            &mut self.rate_burst,
            &mut self.auth_failures_per_minute,
            &mut self.auth_failure_burst,
            &mut self.sign_in_failures_per_account_per_minute,
            &mut self.sign_in_failure_burst_per_account,
        ] {
            share(n);
        }
    }
}

fn minutes(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n * 60)
}

fn hours(n: u64) -> std::time::Duration {
    minutes(n * 60)
}

/// `CCHC_PUBLIC_URL`, an http(s) address without a trailing slash.
fn public_url(c: &Config, port: u16) -> Result<String, ConfigError> {
    let url = c
        .optional("CCHC_PUBLIC_URL")
        .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::Invalid {
            name: "CCHC_PUBLIC_URL".into(),
            value: url,
            reason: "must start with http:// or https://".into(),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Settings {
        let mut all = vec![
            ("CCHC_GATEWAY_DATABASE_URL", "postgres://localhost/cchc"),
            ("CCHC_INTERNAL_TOKEN", "internal-token-of-a-test"),
        ];
        all.extend_from_slice(pairs);
        Settings::load(&Config::from_pairs(all)).expect("settings")
    }

    #[test]
    fn replicas_share_every_rate_limit() {
        let one = load(&[("CCHC_RATE_LIMIT_PER_MINUTE", "1200")]);
        let two = load(&[
            ("CCHC_RATE_LIMIT_PER_MINUTE", "1200"),
            ("CCHC_GATEWAY_REPLICAS", "2"),
        ]);
        assert_eq!((one.rate_per_minute, two.rate_per_minute), (1200, 600));
        assert_eq!(two.rate_burst, one.rate_burst.div_ceil(2));
        assert_eq!(two.auth_failures_per_minute, 15);
        // Never below one: a limit of 2 per account is 1 on each of three.
        let three = load(&[("CCHC_GATEWAY_REPLICAS", "3")]);
        assert_eq!(three.sign_in_failures_per_account_per_minute, 1);
    }
}
