//! Domain events: their subjects, the envelope they travel in, and the JetStream streams
//! that hold them (one per producing service, plus one for dead letters).

use std::time::Duration;

use async_nats::jetstream;
use cchc_proto::events::v1 as pb;

/// A payload message with its subject; each event's name is written in its `.proto`.
pub use pb::Event;

/// The schema version carried in a type's `.vN` suffix.
pub fn schema_version(event_type: &str) -> u32 {
    event_type
        .rsplit_once(".v")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1)
}

/// Wraps a payload, attributed to `actor`, in a fresh envelope.
pub fn envelope<E: Event>(producer: &str, actor: &crate::Actor, payload: &E) -> pb::Envelope {
    let now = std::time::SystemTime::now();
    pb::Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: E::TYPE.to_owned(),
        occurred_at: Some(now.into()),
        producer: producer.to_owned(),
        schema_version: schema_version(E::TYPE),
        payload: payload.encode_to_vec(),
        actor: actor.to_string(),
    }
}

/// Whom the event is attributed to; `None` for an envelope without a (valid) actor.
pub fn actor(env: &pb::Envelope) -> Option<crate::Actor> {
    crate::Actor::parse(&env.actor)
}

/// Decodes the payload when the envelope carries an `E`.
pub fn payload<E: Event>(env: &pb::Envelope) -> Option<Result<E, prost::DecodeError>> {
    (env.r#type == E::TYPE).then(|| E::decode(env.payload.as_slice()))
}

/// The event's time as a UTC date-time (the envelope's `occurred_at`).
pub fn occurred_at(env: &pb::Envelope) -> chrono::DateTime<chrono::Utc> {
    env.occurred_at
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .unwrap_or_default()
}

pub const DEAD_LETTER_STREAM: &str = "CCHC_DEADLETTER";
pub const DEAD_LETTER_PREFIX: &str = "cchc.deadletter";

/// Name of the stream holding `producer`'s events.
pub fn stream_name(producer: &str) -> String {
    format!("CCHC_{}", producer.to_uppercase())
}

/// JetStream drops a message whose `Nats-Msg-Id` it saw within this window (two
/// minutes; `CCHC_DUPLICATE_WINDOW_SECONDS` changes it for new streams, which fault
/// tests use to outlast it quickly). Consumers never rely on it alone.
pub fn duplicate_window() -> Duration {
    std::env::var("CCHC_DUPLICATE_WINDOW_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs)
}

/// How many NATS nodes keep each stream (`CCHC_STREAM_REPLICAS`, default 1; 3 on a
/// three-node cluster, so a node lost loses nothing and the stream stays writable).
/// It applies to streams created from then on.
pub fn stream_replicas() -> usize {
    std::env::var("CCHC_STREAM_REPLICAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| (1..=5).contains(n))
        .unwrap_or(1)
}

fn stream_config(name: String, subjects: String) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name,
        subjects: vec![subjects],
        storage: jetstream::stream::StorageType::File,
        num_replicas: stream_replicas(),
        duplicate_window: duplicate_window(),
        // Kept without age limit: read models are rebuilt by replaying the streams.
        retention: jetstream::stream::RetentionPolicy::Limits,
        ..Default::default()
    }
}

/// Creates (or finds) the stream of `producer`'s events. Producers and consumers both
/// call it, so start order does not matter.
pub async fn ensure_stream(js: &jetstream::Context, producer: &str) -> anyhow::Result<()> {
    ensure_stream_replicated(js, producer, stream_replicas()).await
}

/// [`ensure_stream`] with `replicas` copies, whatever `CCHC_STREAM_REPLICAS` says.
pub async fn ensure_stream_replicated(
    js: &jetstream::Context,
    producer: &str,
    replicas: usize,
) -> anyhow::Result<()> {
    let mut config = stream_config(stream_name(producer), format!("cchc.{producer}.>"));
    config.num_replicas = replicas;
    js.get_or_create_stream(config)
        .await
        .map_err(|e| anyhow::anyhow!("provisioning stream for {producer}: {e}"))?;
    Ok(())
}

pub async fn ensure_dead_letter_stream(js: &jetstream::Context) -> anyhow::Result<()> {
    ensure_dead_letter_stream_replicated(js, stream_replicas()).await
}

pub async fn ensure_dead_letter_stream_replicated(
    js: &jetstream::Context,
    replicas: usize,
) -> anyhow::Result<()> {
    let mut config = stream_config(
        DEAD_LETTER_STREAM.to_owned(),
        format!("{DEAD_LETTER_PREFIX}.>"),
    );
    config.num_replicas = replicas;
    js.get_or_create_stream(config)
        .await
        .map_err(|e| anyhow::anyhow!("provisioning the dead-letter stream: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_is_named_from_its_proto() {
        assert_eq!(pb::UnitCreated::TYPE, "cchc.gateway.unit_created.v1");
        assert_eq!(
            pb::LegalDocumentIssued::TYPE,
            "cchc.catalogue.legal_document_issued.v1"
        );
        assert_eq!(
            pb::OneStopResultSubmitted::TYPE,
            "cchc.activity.one_stop_result_submitted.v1"
        );
        assert_eq!(
            pb::ReportGenerated::TYPE,
            "cchc.reporting.report_generated.v1"
        );
        assert_eq!(schema_version(pb::PlanSaved::TYPE), 1);
    }

    #[test]
    fn envelope_round_trip() {
        let p = pb::UnitCreated {
            unit_id: "u".into(),
            name: "Trường THPT Chu Văn An".into(),
            ..Default::default()
        };
        let env = envelope("gateway", &crate::Actor::System, &p);
        assert_eq!(env.r#type, "cchc.gateway.unit_created.v1");
        assert_eq!(env.schema_version, 1);
        let back: pb::UnitCreated = payload(&env).unwrap().unwrap();
        assert_eq!(back, p);
        assert!(payload::<pb::ActivityRecorded>(&env).is_none());
        assert!(occurred_at(&env).timestamp() > 0);
    }
}
