//! Idempotent JetStream consumers. Each consumer is a durable pull consumer with explicit
//! acks. The handler's effect and the "processed event id" row commit in one
//! transaction, so a redelivered event has no second effect. A message whose handler
//! keeps failing (or that cannot be decoded) is copied to the dead-letter stream with
//! the reason, then acknowledged, so the consumer keeps going; so is an event whose
//! envelope claims another origin than its subject ([`check_origin`]).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use cchc_proto::events::v1::Envelope;
use futures::StreamExt;
use prost::Message as _;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::events::{DEAD_LETTER_PREFIX, ensure_dead_letter_stream, stream_name};

/// Why a handler could not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// Retrying cannot help (malformed payload, broken invariant): dead-letter now.
    #[error("permanent: {0:#}")]
    Permanent(anyhow::Error),
    /// May succeed later: redeliver, up to the consumer's attempt limit.
    #[error("transient: {0:#}")]
    Transient(anyhow::Error),
}

impl From<sqlx::Error> for HandleError {
    fn from(e: sqlx::Error) -> Self {
        HandleError::Transient(e.into())
    }
}

/// Applies events inside the consumer's transaction.
pub trait Handler: Send + Sync + 'static {
    /// Applies one event.
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a Envelope,
    ) -> impl Future<Output = Result<(), HandleError>> + Send + 'a;

    /// Applies several events, in their order, as if one by one: a handler may write
    /// runs of them together (one statement for many rows). An error fails them all;
    /// the consumer then applies them one by one to find the failing one.
    fn handle_all<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a Envelope],
    ) -> impl Future<Output = Result<(), HandleError>> + Send + 'a {
        async move {
            for e in events {
                self.handle(&mut *tx, e).await?;
            }
            Ok(())
        }
    }
}

/// A piece of a batch as [`runs`] splits it.
pub enum Run<'a, E> {
    /// Consecutive events of one type, decoded, to be written together.
    Of(Vec<(&'a Envelope, Result<E, prost::DecodeError>)>),
    /// Any other event, to be applied alone.
    One(&'a Envelope),
}

/// `events` split, in order, into runs of consecutive `E`s and every other event alone:
/// how a [`Handler::handle_all`] writes its most numerous events together without
/// reordering them around the others.
pub fn runs<'a, E: crate::events::Event>(events: &[&'a Envelope]) -> Vec<Run<'a, E>> {
    let mut out: Vec<Run<'a, E>> = Vec::new();
    for env in events {
        match crate::events::payload::<E>(env) {
            Some(decoded) => match out.last_mut() {
                Some(Run::Of(run)) => run.push((*env, decoded)),
                _ => out.push(Run::Of(vec![(*env, decoded)])),
            },
            None => out.push(Run::One(env)),
        }
    }
    out
}

/// What a consumer reads and how hard it tries.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable name, also the key of its processed-event records.
    pub durable: String,
    /// The service whose stream is read.
    pub producer: String,
    /// Subjects within that stream; empty means all.
    pub subjects: Vec<String>,
    /// Handler failures tolerated before the message is dead-lettered.
    pub max_attempts: u64,
    pub ack_wait: Duration,
}

impl ConsumerSpec {
    pub fn new(durable: impl Into<String>, producer: impl Into<String>) -> Self {
        Self {
            durable: durable.into(),
            producer: producer.into(),
            subjects: Vec::new(),
            max_attempts: 5,
            ack_wait: Duration::from_secs(30),
        }
    }

    pub fn subjects(mut self, subjects: &[&str]) -> Self {
        self.subjects = subjects.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    pub fn max_attempts(mut self, n: u64) -> Self {
        self.max_attempts = n;
        self
    }
}

/// Consumes until `shutdown`, re-establishing the consumer whenever NATS goes away.
pub async fn run<H: Handler>(
    spec: ConsumerSpec,
    js: jetstream::Context,
    pool: PgPool,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    while !shutdown.is_cancelled() {
        match consume(&spec, &js, &pool, handler.as_ref(), &shutdown).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(consumer = %spec.durable, error = %format!("{e:#}"), "consumer interrupted; restarting");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn consume<H: Handler>(
    spec: &ConsumerSpec,
    js: &jetstream::Context,
    pool: &PgPool,
    handler: &H,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    ensure_dead_letter_stream(js).await?;
    // The producer creates its own stream (no other service may): until it has, wait.
    let stream = js
        .get_stream(stream_name(&spec.producer))
        .await
        .map_err(|e| anyhow::anyhow!("stream of {} not available yet: {e}", spec.producer))?;
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(
            &spec.durable,
            pull::Config {
                durable_name: Some(spec.durable.clone()),
                filter_subjects: spec.subjects.clone(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: spec.ack_wait,
                // The attempt limit is ours (see `process`): the server must not give up
                // on a message while PostgreSQL is merely restarting.
                max_deliver: -1,
                ..Default::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?.ready_chunks(BATCH);
    loop {
        let next = tokio::select! {
            // The last acks go out before the service does (they were not waited for).
            _ = shutdown.cancelled() => return Ok(js.client().flush().await?),
            next = messages.next() => next,
        };
        let Some(chunk) = next else {
            anyhow::bail!("message stream ended");
        };
        let mut batch = Vec::with_capacity(chunk.len());
        let mut failure = None;
        for m in chunk {
            match m {
                Ok(m) => batch.push(m),
                Err(e) => failure = Some(e),
            }
        }
        process_batch(spec, js, pool, handler, batch).await;
        if let Some(e) = failure {
            anyhow::bail!("receiving: {e}");
        }
    }
}

/// Messages applied in one transaction: one commit (one disk flush) for many events.
const BATCH: usize = 64;

fn trace_headers(msg: &async_nats::Message) -> HashMap<String, String> {
    let mut out = HashMap::new();
    if let Some(h) = &msg.headers {
        for k in ["traceparent", "tracestate"] {
            if let Some(v) = h.get(k) {
                out.insert(k.to_owned(), v.as_str().to_owned());
            }
        }
    }
    out
}

enum Outcome {
    Applied,
    Duplicate,
    Failed(HandleError),
}

/// `Ok` when the envelope says what its subject says: its type is the subject, and its
/// producer owns it (`cchc.<producer>.<event>.v<N>`). NATS lets each service publish
/// only its own subjects; this refuses an envelope that claims another origin than the
/// subject it arrived on, whoever managed to publish it.
pub fn check_origin(subject: &str, env: &Envelope) -> Result<(), String> {
    let owner = subject
        .strip_prefix("cchc.")
        .and_then(|rest| rest.split_once('.'))
        .map(|(owner, _)| owner);
    if env.r#type != subject {
        return Err(format!(
            "envelope type {:?} arrived on subject {subject}",
            env.r#type
        ));
    }
    match owner {
        Some(owner) if owner == env.producer => Ok(()),
        _ => Err(format!(
            "producer {:?} does not own subject {subject}",
            env.producer
        )),
    }
}

/// The message's envelope and event id, or why it can never be applied.
fn open(msg: &jetstream::Message) -> Result<(Envelope, uuid::Uuid), HandleError> {
    let env = Envelope::decode(msg.payload.as_ref())
        .map_err(|e| HandleError::Permanent(anyhow::anyhow!("undecodable envelope: {e}")))?;
    check_origin(&msg.subject, &env)
        .map_err(|reason| HandleError::Permanent(anyhow::anyhow!("forged event: {reason}")))?;
    let id = env.id.parse::<uuid::Uuid>().map_err(|_| {
        HandleError::Permanent(anyhow::anyhow!("event id {:?} is not a UUID", env.id))
    })?;
    Ok((env, id))
}

fn consume_span(durable: &str, msg: &jetstream::Message) -> tracing::Span {
    let span = tracing::info_span!("consume", consumer = %durable, subject = %msg.subject);
    crate::telemetry::set_parent_from(&span, &trace_headers(msg));
    span
}

/// Applies the whole batch in `tx` with one processed-events insert and no savepoints:
/// the common case, where every event applies. `None` when one does not (or cannot be
/// opened) — `tx` may then hold part of the batch and must be rolled back, and the batch
/// applied message by message ([`apply_one`]) so the failing one is undone alone.
async fn apply_all<H: Handler>(
    durable: &str,
    tx: &mut PgConnection,
    handler: &H,
    msgs: &[jetstream::Message],
) -> Option<Vec<Outcome>> {
    let opened: Vec<(Envelope, uuid::Uuid)> =
        msgs.iter().map(open).collect::<Result<_, _>>().ok()?;
    let ids: Vec<uuid::Uuid> = opened.iter().map(|(_, id)| *id).collect();
    let mut fresh: std::collections::HashSet<uuid::Uuid> = sqlx::query_scalar(
        "INSERT INTO cchc_processed_events (consumer, event_id)
         SELECT $1, id FROM unnest($2::uuid[]) AS t(id)
         ON CONFLICT DO NOTHING RETURNING event_id",
    )
    .bind(durable)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await
    .ok()?
    .into_iter()
    .collect();
    let mut outcomes = Vec::with_capacity(msgs.len());
    let mut apply = Vec::with_capacity(msgs.len());
    // One span for the batch, linked to each event's own trace.
    let span = tracing::info_span!("consume", consumer = %durable, events = msgs.len());
    for (msg, (env, id)) in msgs.iter().zip(&opened) {
        // A redelivery in the same batch as its first delivery is applied once: the
        // first takes the id out of the fresh set.
        if fresh.remove(id) {
            span.follows_from(consume_span(durable, msg));
            apply.push(env);
            outcomes.push(Outcome::Applied);
        } else {
            outcomes.push(Outcome::Duplicate);
        }
    }
    handler
        .handle_all(&mut *tx, &apply)
        .instrument(span)
        .await
        .ok()?;
    Some(outcomes)
}

/// Applies one message inside a savepoint of the batch's transaction, so a failing
/// event is undone alone.
async fn apply_one<H: Handler>(
    durable: &str,
    tx: &mut PgConnection,
    handler: &H,
    msg: &jetstream::Message,
) -> Outcome {
    let (env, id) = match open(msg) {
        Ok(opened) => opened,
        Err(e) => return Outcome::Failed(e),
    };
    let mut savepoint = match sqlx::Connection::begin(&mut *tx).await {
        Ok(sp) => sp,
        Err(e) => return Outcome::Failed(e.into()),
    };
    let result: Result<bool, HandleError> = async {
        let fresh = sqlx::query(
            "INSERT INTO cchc_processed_events (consumer, event_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )
        .bind(durable)
        .bind(id)
        .execute(&mut *savepoint)
        .await?
        .rows_affected()
            == 1;
        if fresh {
            handler.handle(&mut savepoint, &env).await?;
        }
        Ok(fresh)
    }
    .await;
    match result {
        Ok(fresh) => match savepoint.commit().await {
            Ok(()) if fresh => Outcome::Applied,
            Ok(()) => Outcome::Duplicate,
            Err(e) => Outcome::Failed(e.into()),
        },
        Err(e) => {
            let _ = savepoint.rollback().await;
            Outcome::Failed(e)
        }
    }
}

/// Applies a batch in one transaction, then settles each message: ack what was applied
/// (or seen before), retry or dead-letter what failed.
async fn process_batch<H: Handler>(
    spec: &ConsumerSpec,
    js: &jetstream::Context,
    pool: &PgPool,
    handler: &H,
    msgs: Vec<jetstream::Message>,
) {
    let applied: Result<Vec<Outcome>, sqlx::Error> = async {
        let mut tx = pool.begin().await?;
        let outcomes = match apply_all(&spec.durable, &mut tx, handler, &msgs).await {
            Some(outcomes) => outcomes,
            None => {
                tx.rollback().await?;
                tx = pool.begin().await?;
                let mut outcomes = Vec::with_capacity(msgs.len());
                for msg in &msgs {
                    let span = consume_span(&spec.durable, msg);
                    outcomes.push(
                        apply_one(&spec.durable, &mut tx, handler, msg)
                            .instrument(span)
                            .await,
                    );
                }
                outcomes
            }
        };
        tx.commit().await?;
        Ok(outcomes)
    }
    .await;
    let outcomes = match applied {
        Ok(o) => o,
        // Nothing of the batch was committed: every message is retried.
        Err(e) => {
            let reason = e.to_string();
            msgs.iter()
                .map(|_| Outcome::Failed(HandleError::Transient(anyhow::anyhow!("{reason}"))))
                .collect()
        }
    };
    let mut acks = Vec::new();
    for (msg, outcome) in msgs.iter().zip(outcomes) {
        match outcome {
            Outcome::Applied | Outcome::Duplicate => acks.push(msg),
            Outcome::Failed(err) => settle_failure(spec, js, msg, err).await,
        }
    }
    // Acks of the whole batch travel together, unconfirmed (a confirmation would be
    // one more message per event): a lost one only causes a redelivery, which the
    // processed-event record recognises.
    for r in futures::future::join_all(acks.iter().map(|m| m.ack())).await {
        if let Err(e) = r {
            tracing::warn!(consumer = %spec.durable, error = %e, "ack failed after applying");
        }
    }
}

async fn settle_failure(
    spec: &ConsumerSpec,
    js: &jetstream::Context,
    msg: &jetstream::Message,
    err: HandleError,
) {
    let delivered = msg.info().map(|i| i.delivered).unwrap_or(1).max(1) as u64;
    let give_up = matches!(err, HandleError::Permanent(_)) || delivered >= spec.max_attempts;
    if give_up {
        tracing::error!(consumer = %spec.durable, subject = %msg.subject, error = %err, delivered, "dead-lettering event");
        match dead_letter(js, &spec.durable, msg, &err, delivered).await {
            Ok(()) => {
                let _ = msg.double_ack().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "dead-letter publish failed; will retry");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
            }
        }
    } else {
        let delay = Duration::from_millis(200 * (1 << delivered.min(6)));
        tracing::warn!(consumer = %spec.durable, subject = %msg.subject, error = %err, delivered, ?delay, "event failed; will retry");
        let _ = msg.ack_with(AckKind::Nak(Some(delay))).await;
    }
}

async fn dead_letter(
    js: &jetstream::Context,
    durable: &str,
    msg: &jetstream::Message,
    err: &HandleError,
    delivered: u64,
) -> anyhow::Result<()> {
    let mut headers = async_nats::HeaderMap::new();
    if let Some(h) = &msg.headers {
        for (k, vs) in h.iter() {
            if *k != async_nats::header::NATS_MESSAGE_ID {
                for v in vs {
                    headers.append(k.clone(), v.clone());
                }
            }
        }
    }
    let stream_seq = msg.info().map(|i| i.stream_sequence).unwrap_or_default();
    // One dead letter per (consumer, original message), however often this runs.
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("{durable}:{}:{stream_seq}", msg.subject).as_str(),
    );
    headers.insert("Cchc-Original-Subject", msg.subject.as_str());
    headers.insert("Cchc-Consumer", durable);
    headers.insert("Cchc-Deliveries", delivered.to_string().as_str());
    let reason: String = err
        .to_string()
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .take(1000)
        .collect();
    headers.insert("Cchc-Error", reason.as_str());
    js.publish_with_headers(
        format!("{DEAD_LETTER_PREFIX}.{durable}"),
        headers,
        msg.payload.clone(),
    )
    .await?
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, envelope};
    use cchc_proto::events::v1::{ActivityRecorded, ProcedurePublished};

    #[test]
    fn an_envelope_must_match_the_subject_it_arrived_on() {
        let genuine = envelope(
            "catalogue",
            &crate::Actor::System,
            &ProcedurePublished::default(),
        );
        assert_eq!(check_origin(ProcedurePublished::TYPE, &genuine), Ok(()));

        // Another service's name on the catalogue's subject.
        let mut claimed = genuine.clone();
        claimed.producer = "activity".into();
        let e = check_origin(ProcedurePublished::TYPE, &claimed).unwrap_err();
        assert!(e.contains("does not own"), "{e}");

        // A catalogue event carried on the activity's subject.
        let e = check_origin(ActivityRecorded::TYPE, &genuine).unwrap_err();
        assert!(e.contains("arrived on subject"), "{e}");

        // Type and producer both rewritten to the subject, but not its owner.
        let mut other = envelope(
            "activity",
            &crate::Actor::System,
            &ActivityRecorded::default(),
        );
        other.r#type = ProcedurePublished::TYPE.into();
        assert!(check_origin(ProcedurePublished::TYPE, &other).is_err());
    }

    #[test]
    fn runs_keep_the_order_and_gather_only_neighbours() {
        let activity = |title: &str| {
            envelope(
                "activity",
                &crate::Actor::System,
                &ActivityRecorded {
                    title: title.into(),
                    ..Default::default()
                },
            )
        };
        let other = envelope(
            "catalogue",
            &crate::Actor::System,
            &ProcedurePublished::default(),
        );
        let mut broken = activity("hỏng");
        broken.payload = vec![0xff, 0xff];
        let events = [
            activity("a"),
            activity("b"),
            other.clone(),
            activity("c"),
            broken,
            other.clone(),
            other,
        ];
        let refs: Vec<&Envelope> = events.iter().collect();
        let shape: Vec<String> = runs::<ActivityRecorded>(&refs)
            .into_iter()
            .map(|run| match run {
                Run::Of(run) => run
                    .iter()
                    .map(|(_, e)| e.as_ref().map_or("?".into(), |e| e.title.clone()))
                    .collect::<Vec<_>>()
                    .join(","),
                Run::One(env) => env.r#type.clone(),
            })
            .collect();
        let p = ProcedurePublished::TYPE;
        assert_eq!(shape, ["a,b", p, "c,?", p, p]);
    }
}
