//! Signed webhooks: a JSON POST with `Webhook-Id` (the message id, the same on every
//! attempt, so a receiver can drop a copy sent again after a crash), `Webhook-Timestamp`
//! and `Webhook-Signature: v1=<hex HMAC-SHA256 of "{id}.{timestamp}.{body}">`.

use std::time::Duration;

use crate::domain::delivery::{Outcome, webhook_outcome, webhook_signature};

pub struct WebhookSender {
    client: reqwest::Client,
    timeout: Duration,
}

impl WebhookSender {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect would carry the signed body somewhere the office did not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cchc-notification/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, timeout })
    }

    pub async fn send(&self, url: &str, secret: &str, id: &str, body: Vec<u8>) -> Outcome {
        let timestamp = chrono::Utc::now().timestamp();
        let signature = webhook_signature(secret, id, timestamp, &body);
        let result = self
            .client
            .post(url)
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
            Err(e) if e.is_builder() => Outcome::Permanent(super::error_chain(&e)),
            Err(e) => Outcome::Temporary(super::error_chain(&e)),
        }
    }
}
