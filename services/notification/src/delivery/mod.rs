//! The delivery worker: claims due messages (`FOR UPDATE SKIP LOCKED`, so several
//! workers can run), sends each on its channel, records every attempt, retries
//! temporary failures with backoff and jitter, and dead-letters a message after a
//! permanent failure or its last attempt.
//!
//! Sends run concurrently, at most `per_endpoint` to one endpoint (a webhook's origin,
//! or the SMTP relay) and `in_flight` in all; endpoints at their limit are left out of
//! the next claim, and every send has a timeout, so one slow or failing endpoint never
//! holds up the others.
//!
//! Never twice. A message is one row per (cause, recipient, channel), so a redelivered
//! event adds none. Each attempt is recorded as `sending` (with a lease) and committed
//! *before* anything is sent, and its outcome recorded after; a delivered message is
//! never claimed again. If the process dies between sending and recording, the message
//! stays `sending` until its lease ends; then it is claimed again and sent again — the
//! interrupted attempt is recorded as such. The copy carries the same identity as the
//! first: e-mail the same `Message-ID` (derived from the message id), webhooks the same
//! `Webhook-Id` (the message id), so receivers recognise and drop it. That window
//! (after the receiver accepted, before our commit) is the only way a receiver can see
//! a message twice, and it sees the same id both times.

pub mod email;
pub mod webhook;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cchc_platform::CallerKey;
use cchc_platform::time::stamp;
use sqlx::postgres::PgListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::config::DeliverySettings;
use crate::domain::Channel;
use crate::domain::account;
use crate::domain::delivery::{Outcome, backoff};
use crate::store::deliveries::{Claimed, Content, Due};
use crate::store::{self, Store};

pub struct Worker {
    store: Store,
    settings: DeliverySettings,
    mailer: Option<email::Mailer>,
    webhooks: webhook::WebhookSender,
    /// Opens the account links messages carry, as they are sent.
    key: CallerKey,
}

impl Worker {
    /// A worker sending webhooks to the addresses `lookup` gives for their host names,
    /// and opening account links with `key`.
    pub fn new(
        store: Store,
        settings: DeliverySettings,
        lookup: Arc<dyn webhook::Lookup>,
        key: CallerKey,
    ) -> anyhow::Result<Self> {
        let mailer = match &settings.smtp_url {
            Some(url) => Some(email::Mailer::new(
                url,
                &settings.mail_from,
                settings.smtp_timeout,
            )?),
            None => None,
        };
        let webhooks = webhook::WebhookSender::new(
            settings.webhook_timeout,
            settings.webhook_addresses.clone(),
            lookup,
        )?;
        Ok(Self {
            store,
            settings,
            mailer,
            webhooks,
            key,
        })
    }

    /// Delivers until `shutdown`, then lets the sends in flight finish and record
    /// their outcome (each is bounded by its timeout).
    pub async fn run(self, shutdown: CancellationToken) {
        let worker = Arc::new(self);
        let mut listener = worker.store.listen().await;
        let mut tasks: JoinSet<String> = JoinSet::new();
        let mut busy: HashMap<String, usize> = HashMap::new();
        let mut failures = 0u32;
        let mut swept: Option<Instant> = None;
        loop {
            // Expired account links leave the database; once per poll is enough.
            if swept.is_none_or(|t| t.elapsed() >= worker.settings.poll) {
                swept = Some(Instant::now());
                match worker.store.drop_expired_links().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(links = n, "expired account links dropped"),
                    Err(e) => tracing::warn!(error = %e, "dropping expired account links failed"),
                }
            }
            let room = worker.settings.in_flight.saturating_sub(tasks.len());
            let mut claimed_any = false;
            if room > 0 && !shutdown.is_cancelled() {
                match worker.claim(&busy, room).await {
                    Ok(claimed) => {
                        failures = 0;
                        claimed_any = !claimed.is_empty();
                        for c in claimed {
                            *busy.entry(c.endpoint.clone()).or_default() += 1;
                            tasks.spawn(worker.clone().deliver(c));
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(error = %format!("{e:#}"), "claiming deliveries failed");
                    }
                }
            }
            // More may be due right away (endpoints that were full are left out).
            if claimed_any && tasks.len() < worker.settings.in_flight {
                continue;
            }
            let pause = worker.settings.poll * (1 << failures.min(4));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    release(&mut busy, done);
                }
                _ = wake(&mut listener) => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        while let Some(done) = tasks.join_next().await {
            release(&mut busy, done);
        }
    }

    /// Takes up to `room` due messages, skipping endpoints already at their limit, and
    /// records an attempt `sending` for each before anything is sent.
    async fn claim(
        &self,
        busy: &HashMap<String, usize>,
        room: usize,
    ) -> store::Result<Vec<Claimed>> {
        let per = self.settings.per_endpoint;
        let full: Vec<&str> = busy
            .iter()
            .filter(|(_, n)| **n >= per)
            .map(|(e, _)| e.as_str())
            .collect();
        let choose = |due: &[Due]| {
            let mut taken: HashMap<&str, usize> = HashMap::new();
            let mut ids = Vec::new();
            for d in due {
                if ids.len() == room {
                    break;
                }
                let n = taken.entry(&d.endpoint).or_default();
                if busy.get(&d.endpoint).copied().unwrap_or(0) + *n >= per {
                    continue;
                }
                *n += 1;
                ids.push(d.id);
            }
            ids
        };
        let candidates = (room * 4).max(50) as i64;
        self.store
            .claim(&full, candidates, self.settings.lease, choose)
            .await
    }

    /// One attempt: send, then record the outcome. Returns the endpoint, to release.
    async fn deliver(self: Arc<Self>, c: Claimed) -> String {
        let outcome = match self.send(&c).await {
            Ok(o) => o,
            Err(e) => Outcome::Temporary(format!("{e:#}")),
        };
        let mut wait = Duration::from_millis(200);
        for _ in 0..5 {
            match self.record(&c, &outcome).await {
                Ok(()) => return c.endpoint,
                Err(e) => {
                    // Unrecorded, the attempt is taken again when its lease ends.
                    tracing::warn!(message = %c.id, error = %e, "recording a delivery failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        c.endpoint
    }

    async fn send(&self, c: &Claimed) -> anyhow::Result<Outcome> {
        let m = self.store.content(c.id).await?;
        let outcome = match Channel::parse(&m.channel) {
            Some(Channel::Email) => {
                let to = match &m.address {
                    Some(address) => vec![address.clone()],
                    None => m.emails.clone().unwrap_or_default(),
                };
                match (&self.mailer, self.body(&m)) {
                    _ if to.is_empty() => {
                        Outcome::Permanent("the recipient has no e-mail address any more".into())
                    }
                    (None, _) => Outcome::Permanent(
                        "e-mail is not configured: set CCHC_SMTP_URL (and CCHC_MAIL_FROM)".into(),
                    ),
                    (_, Err(reason)) => Outcome::Permanent(reason.into()),
                    (Some(mailer), Ok((text, html))) => {
                        let email = email::Email {
                            message_id: c.id,
                            to: &to,
                            subject: &m.subject,
                            text: &text,
                            html: &html,
                        };
                        // lettre's own timeout covers each command; this bounds the whole.
                        let limit = self.settings.smtp_timeout * 2;
                        match tokio::time::timeout(limit, mailer.send(&email)).await {
                            Ok(o) => o,
                            Err(_) => Outcome::Temporary(format!(
                                "SMTP: no answer within {} s",
                                limit.as_secs()
                            )),
                        }
                    }
                }
            }
            Some(Channel::Webhook) => match (&m.webhook_url, &m.webhook_secret) {
                (Some(url), Some(secret)) => {
                    let body = webhook_body(c.id, &m);
                    self.webhooks
                        .send(url, secret, &c.id.to_string(), body)
                        .await
                }
                _ => Outcome::Permanent("the recipient has no webhook endpoint any more".into()),
            },
            // Inbox messages are delivered when written and never claimed.
            _ => Outcome::Delivered,
        };
        Ok(outcome)
    }

    /// The text and HTML an e-mail is sent with: as stored, or with the account link
    /// it carries opened and put in its place. The reason why not says nothing of the
    /// link.
    fn body<'m>(&self, m: &'m Content) -> Result<(Cow<'m, str>, Cow<'m, str>), &'static str> {
        if m.link_id.is_none() {
            return Ok((Cow::Borrowed(&m.body), Cow::Borrowed(&m.html)));
        }
        let Some(sealed) = &m.sealed_link else {
            return Err("the account link was dropped (expired, replaced or given up)");
        };
        if m.link_expires_at.is_none_or(|t| t <= chrono::Utc::now()) {
            return Err("the account link expired before the e-mail could be delivered");
        }
        let link = account::open(&self.key, sealed)
            .ok_or("the account link does not open with this service's key")?;
        let (text, html) = account::with_link(&m.body, &m.html, &link);
        Ok((Cow::Owned(text), Cow::Owned(html)))
    }

    async fn record(&self, c: &Claimed, outcome: &Outcome) -> store::Result<()> {
        let retry_in = backoff(
            c.attempts.max(1) as u32,
            self.settings.backoff_base,
            self.settings.backoff_max,
            rand::random::<f64>(),
        );
        let now = self.store.record(c, outcome, retry_in).await?;
        match (now.as_deref(), outcome.reason()) {
            (Some("dead_lettered"), Some(r)) => {
                tracing::warn!(message = %c.id, attempt = c.attempts, reason = r, "message dead-lettered")
            }
            (Some("temporary_failure"), Some(r)) => {
                tracing::info!(message = %c.id, attempt = c.attempts, reason = r, ?retry_in, "delivery failed; will retry")
            }
            _ => {}
        }
        Ok(())
    }
}

/// An error with its causes (lettre's and reqwest's Display leave them out).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn release(busy: &mut HashMap<String, usize>, done: Result<String, tokio::task::JoinError>) {
    if let Ok(endpoint) = done
        && let Some(n) = busy.get_mut(&endpoint)
    {
        *n = n.saturating_sub(1);
        if *n == 0 {
            busy.remove(&endpoint);
        }
    }
}

/// Resolves when a committed transaction announces new messages; never, when there
/// is no listener (polling covers it).
async fn wake(listener: &mut Option<PgListener>) {
    match listener {
        Some(l) => {
            if l.recv().await.is_err() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        None => std::future::pending().await,
    }
}

/// The JSON a webhook receives; the same bytes on every attempt.
fn webhook_body(id: Uuid, m: &Content) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": id.to_string(),
        "type": m.kind,
        "event_id": m.event_id.to_string(),
        "event_type": m.event_type,
        "created_at": stamp(&m.created_at),
        "recipient": {
            "id": m.recipient_id.to_string(),
            "name": m.recipient_name.clone().unwrap_or_default(),
        },
        "subject": m.subject,
        "text": m.body,
        "data": m.data,
    }))
    .expect("JSON values serialise")
}
