//! Signed webhooks: a JSON POST with `Webhook-Id` (the message id, the same on every
//! attempt, so a receiver can drop a copy sent again after a crash), `Webhook-Timestamp`
//! and `Webhook-Signature: v1=<hex HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
//!
//! Only to addresses the [`AddressPolicy`] permits, checked on the address actually
//! connected to: host names are resolved by a resolver that drops every refused
//! address (so a name that pointed at a public address when it was saved cannot later
//! be turned on the service's own network), IP literals are checked before sending, no
//! proxy stands between (it would resolve the name itself) and redirects are not
//! followed. A URL's user name and password are never sent.
//!
//! The delivery record tells the office only what it needs — delivered, an HTTP
//! status, a timeout, or that the connection failed — never why a connection failed:
//! "refused", "reset" or "not HTTP" would say what listens on a port. The log says why.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::address::{AddressPolicy, Refused};
use crate::domain::delivery::{Outcome, webhook_outcome, webhook_signature};

/// The delivery record's reason for every failure to connect or to get an answer,
/// whatever the cause.
pub const CONNECTION_FAILED: &str = "connection failed";

/// Looks up the addresses of a host name.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: String)
    -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
}

/// The system's resolver (`getaddrinfo`).
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(
        &self,
        host: String,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Fixed answers, as a DNS server gives them: for testing what happens when a
/// receiver's name resolves to an address of one's choosing.
#[derive(Debug, Clone, Default)]
pub struct FixedLookup(HashMap<String, Vec<IpAddr>>);

impl FixedLookup {
    pub fn new<'a>(answers: impl IntoIterator<Item = (&'a str, Vec<IpAddr>)>) -> Self {
        Self(
            answers
                .into_iter()
                .map(|(h, a)| (h.to_ascii_lowercase(), a))
                .collect(),
        )
    }
}

impl Lookup for FixedLookup {
    fn lookup(
        &self,
        host: String,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let found = self.0.get(&host.to_ascii_lowercase()).cloned();
        Box::pin(async move {
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
        })
    }
}

/// A host name all of whose addresses are refused.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to addresses webhooks may not go to ({refused})")]
struct NoPermittedAddress {
    host: String,
    refused: Refused,
}

/// The client's resolver: the lookup, keeping only the permitted addresses.
struct Guarded {
    lookup: Arc<dyn Lookup>,
    policy: AddressPolicy,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let lookup = self.lookup.lookup(host.clone());
        let policy = self.policy.clone();
        Box::pin(async move {
            let mut refused = None;
            let permitted: Vec<SocketAddr> = lookup
                .await?
                .into_iter()
                .filter(|ip| match policy.check(*ip) {
                    Ok(()) => true,
                    Err(r) => {
                        refused.get_or_insert(r);
                        false
                    }
                })
                // Port 0: the client puts in the URL's port.
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            match refused {
                Some(refused) if permitted.is_empty() => {
                    Err(Box::new(NoPermittedAddress { host, refused }) as _)
                }
                _ if permitted.is_empty() => {
                    Err(Box::new(io::Error::new(io::ErrorKind::NotFound, "no address")) as _)
                }
                _ => Ok(Box::new(permitted.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

pub struct WebhookSender {
    client: reqwest::Client,
    policy: AddressPolicy,
    timeout: Duration,
}

impl WebhookSender {
    pub fn new(
        timeout: Duration,
        policy: AddressPolicy,
        lookup: Arc<dyn Lookup>,
    ) -> anyhow::Result<Self> {
        let resolver = Guarded {
            lookup,
            policy: policy.clone(),
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect would carry the signed body somewhere the office did not name,
            // and past the address check.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the address check.
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .user_agent(concat!("cchc-notification/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    pub async fn send(&self, url: &str, secret: &str, id: &str, body: Vec<u8>) -> Outcome {
        let Ok(mut target) = reqwest::Url::parse(url) else {
            return Outcome::Permanent("the webhook URL is not valid".into());
        };
        // The client would send them as Basic credentials. URLs with them are refused
        // when saved; one saved earlier is sent without.
        let _ = target.set_username("");
        let _ = target.set_password(None);
        // An IP literal is connected to without resolving: check it here.
        if let Some(host) = target.host_str()
            && let Err(refused) = self.policy.check_host(host)
        {
            tracing::warn!(message = id, %refused, "webhook not sent: the address is not allowed (CCHC_WEBHOOK_ALLOW_NETWORKS)");
            return Outcome::Temporary(CONNECTION_FAILED.into());
        }
        let timestamp = chrono::Utc::now().timestamp();
        let signature = webhook_signature(secret, id, timestamp, &body);
        let result = self
            .client
            .post(target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Webhook-Id", id)
            .header("Webhook-Timestamp", timestamp.to_string())
            .header("Webhook-Signature", signature)
            .body(body)
            .send()
            .await;
        match result {
            Ok(res) => webhook_outcome(res.status().as_u16()),
            Err(e) if e.is_timeout() => {
                Outcome::Temporary(format!("no answer within {} s", self.timeout.as_secs_f64()))
            }
            Err(e) => {
                let detail = super::error_chain(&e);
                if refused(&e) {
                    tracing::warn!(message = id, error = %detail, "webhook not sent: the address is not allowed (CCHC_WEBHOOK_ALLOW_NETWORKS)");
                } else {
                    tracing::info!(message = id, error = %detail, "webhook connection failed");
                }
                Outcome::Temporary(CONNECTION_FAILED.into())
            }
        }
    }
}

/// Whether a send failed because every address of the host was refused.
fn refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.is::<NoPermittedAddress>() {
            return true;
        }
        cur = c.source();
    }
    false
}
