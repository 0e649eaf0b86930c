//! The public catalogue as the gateway last answered it: each procedure's current
//! version and list of versions, and each anonymous search, the bytes as sent (actors named) with their tag.
//! The catalogue is read far more than it is written, so a read answered from here
//! costs no call to the catalogue, no database and no naming of actors.
//!
//! It is kept fresh by the catalogue's own events, heard from JetStream by an ephemeral
//! push consumer of this gateway (each replica has its own: every replica must hear
//! every event). A version made current or a record changed (`procedure_published`,
//! `procedure_changed`) drops that procedure's answer and every search; a legal
//! document issued or changed, or an event this gateway does not know, drops
//! everything. A stale answer lasts no longer than the event's trip from the
//! catalogue's commit to here.
//!
//! Nothing is served from here unless that consumer is up: when it stops (NATS gone,
//! heartbeats missed) everything is dropped and reads go to the catalogue until a new
//! consumer is listening. An answer fetched while an event was on its way is not kept
//! (the epoch moved), so a read that started before a change cannot outlive it. Names
//! are as fresh as the gateway's names of people ([`crate::people::NAMES_FRESH_FOR`]):
//! an answer is kept no longer, and a person renamed here drops everything at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::push};
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cchc_platform::events::{payload, stream_name};
use cchc_proto::events::v1::{
    Envelope, Event as _, PostingConfirmed, PostingStale, ProcedureChanged, ProcedurePublished,
};
use futures::StreamExt as _;
use prost::Message as _;
use tokio_util::sync::CancellationToken;

use crate::middleware::attribution::{Named, named};
use crate::people::{NAMES_FRESH_FOR, People};

/// Answers kept per kind before the oldest are let go (all of them: a catalogue has a
/// few thousand procedures, and searches are the public's most frequent few).
const PROCEDURES_KEPT: usize = 20_000;
const SEARCHES_KEPT: usize = 2_000;

/// Without a message or heartbeat for twice this, the consumer is taken for gone. That
/// is as long as a copy may stay stale when its consumer dies unheard (the NATS node
/// holding it killed): measured 4.0 s with 2 s, so it is short; a heartbeat is a few
/// bytes.
const HEARTBEAT: Duration = Duration::from_millis(500);

/// What an answer is of.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// `GET /v1/procedures/{code}`, its current version.
    Current(String),
    /// `GET /v1/procedures/{code}/versions` with no caller (the office sees scheduled
    /// versions too).
    Versions(String),
    /// `GET /v1/procedures?…` with no caller, by its query string.
    Search(String),
}

struct Entry {
    body: Bytes,
    tag: HeaderValue,
    kept_at: Instant,
    names: u64,
}

#[derive(Default)]
struct Inner {
    procedures: RwLock<HashMap<Key, Arc<Entry>>>,
    searches: RwLock<HashMap<Key, Arc<Entry>>>,
    /// Moves with every drop, so an answer fetched across one is not kept.
    epoch: AtomicU64,
    /// Whether the consumer is listening; nothing is kept or served otherwise.
    live: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    drops: AtomicU64,
}

/// The gateway's copy of the public catalogue's answers (cheap to clone).
#[derive(Clone, Default)]
pub struct Published(Arc<Inner>);

/// Taken before fetching an answer; the answer is kept only if nothing was dropped
/// since.
pub struct Ticket(Option<u64>);

impl Published {
    fn map(&self, key: &Key) -> &RwLock<HashMap<Key, Arc<Entry>>> {
        match key {
            Key::Current(_) | Key::Versions(_) => &self.0.procedures,
            Key::Search(_) => &self.0.searches,
        }
    }

    /// The kept answer to `key`, as a response, if there is a fresh one: kept while
    /// the consumer listened, not long ago, and named as people are named now
    /// ([`People::names_epoch`]).
    pub fn get(&self, key: &Key, names: u64) -> Option<Response> {
        if !self.0.live.load(Ordering::Acquire) {
            return None;
        }
        let map = self.map(key);
        let entry = map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        match entry {
            Some(e) if e.kept_at.elapsed() < NAMES_FRESH_FOR && e.names == names => {
                self.0.hits.fetch_add(1, Ordering::Relaxed);
                Some(answer(e.body.clone(), e.tag.clone()))
            }
            _ => {
                self.0.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    pub fn ticket(&self) -> Ticket {
        let epoch = self.0.epoch.load(Ordering::Acquire);
        Ticket(self.0.live.load(Ordering::Acquire).then_some(epoch))
    }

    /// Answers `value` (a 200 JSON answer to `key`) with its actors named and its tag,
    /// and keeps it when `ticket` is still good.
    pub async fn answer<T: serde::Serialize>(
        &self,
        ticket: Ticket,
        key: Key,
        value: &T,
        people: &People,
    ) -> Response {
        let names = people.names_epoch();
        let bytes = match serde_json::to_vec(value) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                tracing::error!(error = %e, "an answer that does not serialize");
                return crate::problem::Problem::internal().into_response();
            }
        };
        let Some(body) = named(people, bytes.clone()).await else {
            // Answered with the actors' texts, as the naming layer does; not kept.
            return (
                [(header::CONTENT_TYPE, "application/json")],
                axum::Extension(Named),
                bytes,
            )
                .into_response();
        };
        let tag = self.keep(ticket, key, body.clone(), names);
        answer(body, tag)
    }

    /// Keeps `body` (the answer to `key`, actors named as of `names`) when `ticket` is
    /// still good; its tag either way.
    pub fn keep(&self, ticket: Ticket, key: Key, body: Bytes, names: u64) -> HeaderValue {
        let tag = crate::middleware::conditional::tag_of(&body);
        let tag = HeaderValue::from_str(&tag).expect("a hex tag is a header value");
        let mut map = self.map(&key).write().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock a drop takes too: a drop either came before (the epoch
        // moved) or clears this entry after.
        if ticket
            .0
            .is_some_and(|t| t == self.0.epoch.load(Ordering::Acquire))
        {
            let limit = match key {
                Key::Current(_) | Key::Versions(_) => PROCEDURES_KEPT,
                Key::Search(_) => SEARCHES_KEPT,
            };
            if map.len() >= limit {
                map.clear();
            }
            map.insert(
                key,
                Arc::new(Entry {
                    body,
                    tag: tag.clone(),
                    kept_at: Instant::now(),
                    names,
                }),
            );
        }
        tag
    }

    /// Whether the consumer listens (answers are kept and served).
    pub fn is_live(&self) -> bool {
        self.0.live.load(Ordering::Acquire)
    }

    /// Drops the answers of one procedure and every search (they may list it). The
    /// event does that on every replica; the replica that made the change does it at
    /// once too, so whoever changed a procedure reads the change back.
    pub fn drop_procedure(&self, code: &str) {
        let mut procedures = self.0.procedures.write().unwrap_or_else(|e| e.into_inner());
        let mut searches = self.0.searches.write().unwrap_or_else(|e| e.into_inner());
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
        procedures.remove(&Key::Current(code.to_owned()));
        procedures.remove(&Key::Versions(code.to_owned()));
        searches.clear();
        self.0.drops.fetch_add(1, Ordering::Relaxed);
    }

    pub fn drop_all(&self) {
        let mut procedures = self.0.procedures.write().unwrap_or_else(|e| e.into_inner());
        let mut searches = self.0.searches.write().unwrap_or_else(|e| e.into_inner());
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
        procedures.clear();
        searches.clear();
        self.0.drops.fetch_add(1, Ordering::Relaxed);
    }

    fn set_live(&self, live: bool) {
        self.drop_all();
        self.0.live.store(live, Ordering::Release);
        // Fetches begun before going live carry no epoch; those begun while not live
        // carry none either, so nothing fetched unheard is ever kept.
        self.0.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// What one catalogue event makes stale.
    fn apply(&self, env: &Envelope) {
        if let Some(Ok(p)) = payload::<ProcedurePublished>(env) {
            self.drop_procedure(&p.code);
        } else if let Some(Ok(c)) = payload::<ProcedureChanged>(env) {
            self.drop_procedure(&c.code);
        } else if env.r#type == PostingConfirmed::TYPE || env.r#type == PostingStale::TYPE {
            // A unit's posting changes no answer kept here.
        } else {
            // Legal documents (a procedure's legal basis and its status), and whatever
            // the catalogue tells that this gateway does not know yet.
            self.drop_all();
        }
    }

    /// Follows the catalogue's events until `shutdown`, listening again whenever the
    /// consumer stops; nothing is served while it is down.
    pub async fn follow(self, js: jetstream::Context, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        while !shutdown.is_cancelled() {
            match self.listen(&js, &shutdown).await {
                Ok(()) => break,
                Err(e) => {
                    self.set_live(false);
                    tracing::warn!(error = %format!("{e:#}"), "not hearing the catalogue's events; reads go to the catalogue");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        self.set_live(false);
    }

    async fn listen(
        &self,
        js: &jetstream::Context,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let stream = js
            .get_stream(stream_name("catalogue"))
            .await
            .map_err(|e| anyhow::anyhow!("the catalogue's stream: {e}"))?;
        let consumer = stream
            .create_consumer(push::Config {
                deliver_subject: js.client().new_inbox(),
                deliver_policy: jetstream::consumer::DeliverPolicy::New,
                ack_policy: jetstream::consumer::AckPolicy::None,
                idle_heartbeat: HEARTBEAT,
                // The server forgets a consumer whose gateway is gone.
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        self.set_live(true);
        tracing::info!("hearing the catalogue's events; public reads are kept");
        let mut last = 0;
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                next = messages.next() => next,
            };
            let m = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => anyhow::bail!("receiving: {e}"),
                None => anyhow::bail!("the consumer's subscription ended"),
            };
            match m.info().map(|i| i.consumer_sequence) {
                // Push deliveries without acks are not redelivered: one missed (a slow
                // reader) may have been a change, so everything goes.
                Ok(seq) if seq == last + 1 => last = seq,
                Ok(seq) => {
                    tracing::warn!(expected = last + 1, got = seq, "catalogue events missed");
                    self.drop_all();
                    last = seq;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a catalogue event without its sequence");
                    self.drop_all();
                }
            }
            match Envelope::decode(m.payload.as_ref()) {
                Ok(env) => {
                    let lag = chrono::Utc::now() - cchc_platform::events::occurred_at(&env);
                    tracing::debug!(event = %env.r#type, lag_ms = lag.num_milliseconds(), "catalogue event heard");
                    self.apply(&env);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a catalogue event that does not decode");
                    self.drop_all();
                }
            }
        }
    }

    /// The counters, in the Prometheus text format.
    pub fn render(&self) -> String {
        let i = &self.0;
        let mut out = String::new();
        for (name, help, n) in [
            (
                "cchc_gateway_published_hits_total",
                "Public catalogue reads answered from the gateway's copy.",
                i.hits.load(Ordering::Relaxed),
            ),
            (
                "cchc_gateway_published_misses_total",
                "Public catalogue reads that went to the catalogue.",
                i.misses.load(Ordering::Relaxed),
            ),
            (
                "cchc_gateway_published_drops_total",
                "Catalogue events (or consumer restarts) that dropped kept answers.",
                i.drops.load(Ordering::Relaxed),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {n}\n"
            ));
        }
        let live = u8::from(i.live.load(Ordering::Relaxed));
        out.push_str(&format!(
            "# HELP cchc_gateway_published_live Whether the gateway hears the catalogue's events (1) and keeps answers.\n# TYPE cchc_gateway_published_live gauge\ncchc_gateway_published_live {live}\n"
        ));
        out
    }
}

/// A kept answer as sent: its actors named already (the naming layer leaves it) and its
/// tag set (the validators' layer compares it without reading the body).
fn answer(body: Bytes, tag: HeaderValue) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::ETAG, tag);
    res.extensions_mut().insert(Named);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Arc<Entry> {
        Arc::new(Entry {
            body: Bytes::from_static(b"{}"),
            tag: HeaderValue::from_static("\"t\""),
            kept_at: Instant::now(),
            names: 0,
        })
    }

    fn env<E: cchc_proto::events::v1::Event + prost::Message>(e: &E) -> Envelope {
        Envelope {
            r#type: E::TYPE.into(),
            payload: e.encode_to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_ticket_taken_before_a_drop_keeps_nothing() {
        let p = Published::default();
        assert!(
            p.ticket().0.is_none(),
            "nothing is kept before the consumer listens"
        );
        p.set_live(true);
        let before = p.ticket();
        p.drop_procedure("1.000001.H19");
        let after = p.ticket();
        assert_ne!(before.0, after.0);
        let key = Key::Current("1.000001.H19".into());
        p.keep(before, key.clone(), Bytes::from_static(b"{}"), 0);
        assert!(p.get(&key, 0).is_none(), "fetched across a drop");
        p.keep(after, key.clone(), Bytes::from_static(b"{}"), 0);
        assert!(p.get(&key, 0).is_some());
        assert!(p.get(&key, 1).is_none(), "someone was renamed since");
        p.set_live(false);
        assert!(p.ticket().0.is_none());
        assert!(p.get(&key, 0).is_none());
    }

    #[test]
    fn events_drop_what_they_change() {
        let p = Published::default();
        p.set_live(true);
        let keep = |p: &Published| {
            for key in [
                Key::Current("A".into()),
                Key::Versions("A".into()),
                Key::Current("B".into()),
                Key::Search("q=a".into()),
            ] {
                p.map(&key).write().unwrap().insert(key, entry());
            }
        };
        let has = |p: &Published, key: Key| p.map(&key).read().unwrap().contains_key(&key);
        keep(&p);
        p.apply(&env(&ProcedurePublished {
            code: "A".into(),
            ..Default::default()
        }));
        assert!(!has(&p, Key::Current("A".into())));
        assert!(!has(&p, Key::Versions("A".into())));
        assert!(has(&p, Key::Current("B".into())));
        assert!(!has(&p, Key::Search("q=a".into())));

        keep(&p);
        p.apply(&env(&PostingConfirmed {
            code: "A".into(),
            ..Default::default()
        }));
        assert_eq!(
            p.0.procedures.read().unwrap().len(),
            3,
            "a posting changes nothing"
        );
        assert!(has(&p, Key::Search("q=a".into())));

        p.apply(&env(&cchc_proto::events::v1::LegalDocumentIssued::default()));
        assert!(p.0.procedures.read().unwrap().is_empty());
        assert!(p.0.searches.read().unwrap().is_empty());
    }
}
