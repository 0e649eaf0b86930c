//! A consumer running as its service's least-privilege NATS user (deploy/nats/auth.conf)
//! applies genuine events, and refuses an event whose envelope claims another producer
//! than the subject's owner, even one a privileged client managed to publish: it is
//! dead-lettered with the reason and never applied.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use cchc_platform::consumer::{self, ConsumerSpec, HandleError, Handler};
use cchc_platform::events::{self, Event};
use cchc_proto::events::v1::{Envelope, UnitCreated};
use cchc_testkit::{NatsServer, fresh_database};
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

struct Recorder;

impl Handler for Recorder {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let u: UnitCreated = events::payload(env)
            .ok_or_else(|| HandleError::Permanent(anyhow::anyhow!("unexpected type")))?
            .map_err(|e| HandleError::Permanent(e.into()))?;
        sqlx::query("INSERT INTO effects (event_id, unit_id) VALUES ($1, $2)")
            .bind(env.id.parse::<uuid::Uuid>().unwrap())
            .bind(&u.unit_id)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

async fn publish(js: &jetstream::Context, env: &Envelope) {
    js.publish(UnitCreated::TYPE, env.encode_to_vec().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

async fn effects(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT unit_id FROM effects ORDER BY unit_id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_event_claiming_another_producer_is_dead_lettered_not_applied() {
    let nats = NatsServer::start_secured().await;
    let url = fresh_database("forged").await;
    let pool = cchc_platform::db::connect_and_migrate(&url, &MIGRATOR)
        .await
        .unwrap();
    let gateway = jetstream::new(nats.connect_as("gateway").await.unwrap());
    events::ensure_stream(&gateway, "gateway").await.unwrap();
    let admin = jetstream::new(nats.connect().await);

    // reporting's consumer of the gateway's stream, as reporting's own user.
    let reporting = jetstream::new(nats.connect_as("reporting").await.unwrap());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        ConsumerSpec::new("reporting-gateway", "gateway"),
        reporting,
        pool.clone(),
        Arc::new(Recorder),
        shutdown.clone(),
    ));

    let unit = |id: &str| UnitCreated {
        unit_id: id.into(),
        name: "Trường THPT Chu Văn An".into(),
        ..Default::default()
    };
    let mut forged = events::envelope("gateway", &cchc_platform::Actor::System, &unit("forged"));
    forged.producer = "catalogue".into();
    publish(&admin, &forged).await;
    publish(
        &gateway,
        &events::envelope("gateway", &cchc_platform::Actor::System, &unit("genuine")),
    )
    .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while effects(&pool).await.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The genuine event after it was applied, so the forged one was settled first.
    assert_eq!(effects(&pool).await, ["genuine"]);

    // The operators' view (the reporting user serves it) names the reason.
    let operators = jetstream::new(nats.connect_as("reporting").await.unwrap());
    let mut dl = operators
        .get_stream(events::DEAD_LETTER_STREAM)
        .await
        .unwrap();
    let mut letters = 0;
    for _ in 0..100 {
        letters = dl.info().await.unwrap().state.messages;
        if letters > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(letters, 1);
    let letter = dl.get_raw_message(1).await.unwrap();
    let reason = letter
        .headers
        .get("Cchc-Error")
        .unwrap()
        .as_str()
        .to_owned();
    assert!(
        reason.contains("forged event") && reason.contains("\"catalogue\""),
        "{reason}"
    );
    assert_eq!(
        letter.headers.get("Cchc-Consumer").unwrap().as_str(),
        "reporting-gateway"
    );
    shutdown.cancel();
    task.await.unwrap();
}
