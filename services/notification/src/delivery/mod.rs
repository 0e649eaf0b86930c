//! The delivery worker: claims due messages (`FOR UPDATE SKIP LOCKED`, so several
//! workers can run), sends each on its channel, records every attempt, retries
//! temporary failures with backoff and jitter, and dead-letters a message after a
//! permanent failure or its last attempt.
//!
//! Sends run concurrently, at most `per_endpoint` to one webhook endpoint (its origin),
//! `smtp_concurrency` to the SMTP relay and `in_flight` in all; endpoints at their limit
//! are left out of the next claim, and every send has a timeout, so one slow or failing
//! endpoint never holds up the others.
//!
//! Each of those sending slots takes a run of up to `batch` messages to its endpoint in
//! one claim and sends them one after another, recording each outcome as it comes: one
//! claim (a committed transaction, made by the one loop that hands out the slots) no
//! longer stands before every message. A run stops before a send that could outlast
//! the lease its claim took, and on shutdown; the messages it did not begin are given
//! back, due again at once, their attempt undone.
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
pub mod smtp;
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
use crate::domain::delivery::{EMAIL_ENDPOINT, Outcome, backoff};
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
                settings.smtp_concurrency,
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
                    Ok(runs) => {
                        failures = 0;
                        claimed_any = !runs.is_empty();
                        for run in runs {
                            *busy.entry(run.endpoint.clone()).or_default() += 1;
                            tasks.spawn(worker.clone().deliver(run, shutdown.clone()));
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

    /// Takes runs for up to `room` free sending slots, skipping endpoints already at
    /// their limit, and records an attempt `sending` for each message before anything
    /// is sent.
    async fn claim(&self, busy: &HashMap<String, usize>, room: usize) -> store::Result<Vec<Run>> {
        let full: Vec<&str> = busy
            .iter()
            .filter(|(e, n)| **n >= self.limit(e))
            .map(|(e, _)| e.as_str())
            .collect();
        let free = |endpoint: &str| {
            self.limit(endpoint)
                .saturating_sub(busy.get(endpoint).copied().unwrap_or(0))
        };
        let choose = |due: &[Due]| {
            let mut taken: HashMap<&str, usize> = HashMap::new();
            let mut slots = 0;
            let mut ids = Vec::new();
            for d in due {
                let n = taken.entry(&d.endpoint).or_default();
                let free = free(&d.endpoint);
                if *n >= free * self.batch(&d.endpoint) {
                    continue;
                }
                // An endpoint's first `free` messages each open a slot; the rest join them.
                if *n < free {
                    if slots == room {
                        continue;
                    }
                    slots += 1;
                }
                *n += 1;
                ids.push(d.id);
            }
            ids
        };
        let candidates = (room * self.settings.batch).clamp(50, 1000) as i64;
        let claimed = self
            .store
            .claim(&full, candidates, self.settings.lease, choose)
            .await?;
        Ok(runs(claimed, free))
    }

    /// Sends in flight to `endpoint` at most.
    fn limit(&self, endpoint: &str) -> usize {
        if endpoint == EMAIL_ENDPOINT {
            self.settings.smtp_concurrency
        } else {
            self.settings.per_endpoint
        }
    }

    /// Messages one run to `endpoint` may take: one alone when a lease leaves no time
    /// for a second send.
    fn batch(&self, endpoint: &str) -> usize {
        if self.settings.lease > self.send_bound(endpoint) + RUN_MARGIN {
            self.settings.batch
        } else {
            1
        }
    }

    /// The longest one send to `endpoint` may take (its timeouts).
    fn send_bound(&self, endpoint: &str) -> Duration {
        if endpoint == EMAIL_ENDPOINT {
            self.settings.smtp_timeout * 2
        } else {
            self.settings.webhook_timeout
        }
    }

    /// A run: each attempt in turn, sent, then its outcome recorded. The attempts it does
    /// not begin (the lease could end before the next send does, or the service stops)
    /// are given back. Returns the endpoint, to release its slot.
    async fn deliver(self: Arc<Self>, run: Run, shutdown: CancellationToken) -> String {
        let started = Instant::now();
        let bound = self.send_bound(&run.endpoint) + RUN_MARGIN;
        let ids: Vec<Uuid> = run.messages.iter().map(|c| c.id).collect();
        // One read for the run; a message it missed is read (or its error met) alone.
        let mut contents = self.store.contents(&ids).await.unwrap_or_default();
        let mut messages = run.messages.into_iter();
        let mut sent = 0;
        while let Some(c) = messages.next() {
            let late = started.elapsed() + bound >= self.settings.lease;
            if sent > 0 && (late || shutdown.is_cancelled()) {
                let rest: Vec<Claimed> = std::iter::once(c).chain(messages).collect();
                if let Err(e) = self.store.give_back(&rest).await {
                    // Not given back, they are taken again when their lease ends.
                    tracing::warn!(messages = rest.len(), error = %e, "giving back unsent attempts failed");
                }
                break;
            }
            sent += 1;
            let outcome = match self.send(&c, contents.remove(&c.id)).await {
                Ok(o) => o,
                Err(e) => Outcome::Temporary(format!("{e:#}")),
            };
            self.record_with_retries(&c, &outcome).await;
        }
        run.endpoint
    }

    async fn record_with_retries(&self, c: &Claimed, outcome: &Outcome) {
        let mut wait = Duration::from_millis(200);
        for _ in 0..5 {
            match self.record(c, outcome).await {
                Ok(()) => return,
                Err(e) => {
                    // Unrecorded, the attempt is taken again when its lease ends.
                    tracing::warn!(message = %c.id, error = %e, "recording a delivery failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }

    async fn send(&self, c: &Claimed, content: Option<Content>) -> anyhow::Result<Outcome> {
        let m = match content {
            Some(m) => m,
            None => self
                .store
                .contents(&[c.id])
                .await?
                .remove(&c.id)
                .ok_or_else(|| anyhow::anyhow!("message {} is gone", c.id))?,
        };
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

/// Time a run keeps, besides a send's own bound, for recording it and for the claim's
/// clock (the database's) having started before the run's.
const RUN_MARGIN: Duration = Duration::from_secs(1);

/// Messages to one endpoint that one sending slot takes in turn.
struct Run {
    endpoint: String,
    messages: Vec<Claimed>,
}

/// Deals the claimed messages (in the order due) to runs: each endpoint's among at most
/// its `free` slots, in turn, so each run starts with the oldest it has.
fn runs(claimed: Vec<Claimed>, free: impl Fn(&str) -> usize) -> Vec<Run> {
    let mut by_endpoint: Vec<(String, Vec<Claimed>)> = Vec::new();
    for c in claimed {
        match by_endpoint.iter_mut().find(|(e, _)| *e == c.endpoint) {
            Some((_, list)) => list.push(c),
            None => by_endpoint.push((c.endpoint.clone(), vec![c])),
        }
    }
    let mut runs = Vec::new();
    for (endpoint, list) in by_endpoint {
        let slots = free(&endpoint).clamp(1, list.len());
        let mut dealt: Vec<Vec<Claimed>> = (0..slots).map(|_| Vec::new()).collect();
        for (i, c) in list.into_iter().enumerate() {
            dealt[i % slots].push(c);
        }
        runs.extend(dealt.into_iter().map(|messages| Run {
            endpoint: endpoint.clone(),
            messages,
        }));
    }
    runs
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
