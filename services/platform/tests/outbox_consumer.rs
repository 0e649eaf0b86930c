//! The outbox relay and the idempotent consumer against a real nats-server and a real
//! PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use cchc_platform::consumer::{self, ConsumerSpec, HandleError, Handler};
use cchc_platform::events::{self, Event};
use cchc_platform::outbox::{self, Outbox, Relay};
use cchc_proto::events::v1::{Envelope, UnitCreated};
use cchc_testkit::{NatsServer, fresh_database};
use futures::StreamExt;
use prost::Message;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

async fn setup(prefix: &str) -> (NatsServer, PgPool, jetstream::Context) {
    let nats = NatsServer::start().await;
    let url = fresh_database(prefix).await;
    let pool = cchc_platform::db::connect_and_migrate(&url, &MIGRATOR)
        .await
        .unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = jetstream::new(client);
    events::ensure_stream(&js, "gateway").await.unwrap();
    (nats, pool, js)
}

fn unit(n: usize) -> UnitCreated {
    UnitCreated {
        unit_id: format!("unit-{n}"),
        name: format!("Trường {n}"),
        ..Default::default()
    }
}

async fn enqueue(pool: &PgPool, outbox: &Outbox, n: usize) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut tx = pool.begin().await.unwrap();
        ids.push(
            outbox
                .enqueue(&mut tx, &cchc_platform::Actor::System, &unit(i))
                .await
                .unwrap(),
        );
        tx.commit().await.unwrap();
    }
    ids
}

async fn stream_messages(js: &jetstream::Context, n: usize) -> Vec<jetstream::Message> {
    let stream = js.get_stream(events::stream_name("gateway")).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            // Unacknowledged, a fetch stops at the server's 1,000 pending.
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(n + 10)
        .expires(Duration::from_secs(1))
        .messages()
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(Ok(m)) = batch.next().await {
        out.push(m);
    }
    out
}

/// The outbox's backlog once it is empty, or after 30 s.
async fn drained(pool: &PgPool) -> i64 {
    for _ in 0..300 {
        if outbox::backlog(pool).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outbox::backlog(pool).await.unwrap()
}

#[tokio::test]
async fn relay_publishes_in_order_with_event_id_as_message_id() {
    let (_nats, pool, js) = setup("relay").await;
    let outbox = Outbox::new("gateway");
    let ids = enqueue(&pool, &outbox, 20).await;
    let relay = Relay::new(pool.clone(), js.clone(), outbox.clone());
    assert_eq!(relay.relay_once().await.unwrap(), 20);
    assert_eq!(relay.relay_once().await.unwrap(), 0);
    assert_eq!(outbox::backlog(&pool).await.unwrap(), 0);

    let msgs = stream_messages(&js, 20).await;
    assert_eq!(msgs.len(), 20);
    for (m, id) in msgs.iter().zip(&ids) {
        let h = m.headers.as_ref().unwrap();
        assert_eq!(
            h.get(async_nats::header::NATS_MESSAGE_ID).unwrap().as_str(),
            id.to_string()
        );
        assert_eq!(m.subject.as_str(), UnitCreated::TYPE);
        let env = Envelope::decode(m.payload.as_ref()).unwrap();
        assert_eq!(env.id, id.to_string());
        assert_eq!(env.producer, "gateway");
    }

    // Publishing the same rows again (a crash before marking them) is dropped by
    // JetStream's duplicate window.
    sqlx::query("UPDATE cchc_outbox SET published_at = NULL")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(relay.relay_once().await.unwrap(), 20);
    assert_eq!(stream_messages(&js, 40).await.len(), 20);
}

#[tokio::test]
async fn relay_keeps_events_while_nats_is_down_and_delivers_them_after() {
    let (mut nats, pool, js) = setup("relaydown").await;
    let outbox = Outbox::new("gateway");
    nats.kill().await;
    let ids = enqueue(&pool, &outbox, 5).await;
    let shutdown = CancellationToken::new();
    let task =
        tokio::spawn(Relay::new(pool.clone(), js.clone(), outbox.clone()).run(shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        outbox::backlog(&pool).await.unwrap(),
        5,
        "nothing is marked sent while NATS is down"
    );

    nats.restart().await;
    assert_eq!(drained(&pool).await, 0);
    shutdown.cancel();
    task.await.unwrap();
    let got: Vec<String> = stream_messages(&js, 5)
        .await
        .iter()
        .map(|m| Envelope::decode(m.payload.as_ref()).unwrap().id)
        .collect();
    assert_eq!(got, ids.iter().map(|i| i.to_string()).collect::<Vec<_>>());
}

/// Two replicas of a service share its outbox: while a writer commits, both relay (each
/// woken by its own process's commits or its poll), and every row reaches the stream
/// once and in the outbox's order.
#[tokio::test]
async fn two_relays_publish_every_row_once_in_order() {
    let (_nats, pool, js) = setup("relaytwo").await;
    // One `Outbox` per replica: each wakes only its own relay.
    let (mine, theirs) = (Outbox::new("gateway"), Outbox::new("gateway"));
    let shutdown = CancellationToken::new();
    let relays: Vec<_> = [&mine, &theirs]
        .map(|o| {
            tokio::spawn(Relay::new(pool.clone(), js.clone(), o.clone()).run(shutdown.clone()))
        })
        .into_iter()
        .collect();
    const ROWS: usize = 1_500;
    let mut ids = Vec::with_capacity(ROWS);
    for chunk in 0..ROWS / 50 {
        // Writers of both replicas, each commit telling its own relay.
        let o = if chunk % 2 == 0 { &mine } else { &theirs };
        for i in 0..50 {
            let mut tx = pool.begin().await.unwrap();
            let unit = unit(chunk * 50 + i);
            ids.push(
                o.enqueue(&mut tx, &cchc_platform::Actor::System, &unit)
                    .await
                    .unwrap(),
            );
            tx.commit().await.unwrap();
            o.notify();
        }
    }
    assert_eq!(drained(&pool).await, 0);
    shutdown.cancel();
    for r in relays {
        r.await.unwrap();
    }
    let got: Vec<String> = stream_messages(&js, ROWS)
        .await
        .iter()
        .map(|m| Envelope::decode(m.payload.as_ref()).unwrap().id)
        .collect();
    assert_eq!(got.len(), ROWS, "each row once");
    let want: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let first_out_of_order = got.iter().zip(&want).position(|(g, w)| g != w);
    assert_eq!(
        first_out_of_order, None,
        "the stream keeps the outbox's order"
    );
}

/// Two replicas of a service (two relays on one outbox) and two of its reader (one
/// durable consumer shared) against a three-node NATS cluster whose streams keep three
/// copies: a node SIGKILLed mid-burst loses nothing and doubles nothing.
#[tokio::test]
async fn a_nats_node_killed_mid_burst_loses_and_doubles_nothing() {
    let mut nats = NatsServer::start_cluster(3).await;
    let url = fresh_database("cluster").await;
    let pool = cchc_platform::db::connect_and_migrate(&url, &MIGRATOR)
        .await
        .unwrap();
    let connect = || async {
        jetstream::new(
            cchc_platform::nats::connect_once(&nats.url())
                .await
                .unwrap(),
        )
    };
    let js = connect().await;
    events::ensure_stream_replicated(&js, "gateway", 3)
        .await
        .unwrap();
    events::ensure_dead_letter_stream_replicated(&js, 3)
        .await
        .unwrap();
    let info = js
        .get_stream(events::stream_name("gateway"))
        .await
        .unwrap()
        .get_info()
        .await
        .unwrap();
    assert_eq!(info.config.num_replicas, 3);

    let shutdown = CancellationToken::new();
    let (mine, theirs) = (Outbox::new("gateway"), Outbox::new("gateway"));
    let mut tasks = Vec::new();
    for o in [&mine, &theirs] {
        // Each replica with its own connection, as its own process has.
        let relay = Relay::new(pool.clone(), connect().await, o.clone());
        tasks.push(tokio::spawn(relay.run(shutdown.clone())));
        tasks.push(tokio::spawn(consumer::run(
            ConsumerSpec::new("recorder", "gateway"),
            connect().await,
            pool.clone(),
            Arc::new(Recorder),
            shutdown.clone(),
        )));
    }
    const ROWS: usize = 900;
    for i in 0..ROWS {
        if i == ROWS / 3 {
            nats.kill_node(0).await;
        }
        let o = if i % 2 == 0 { &mine } else { &theirs };
        let mut tx = pool.begin().await.unwrap();
        o.enqueue(&mut tx, &cchc_platform::Actor::System, &unit(i))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        o.notify();
    }
    let sql = "SELECT count(*) FROM effects";
    let mut applied = 0;
    // A new leader for the stream and its consumer, clients moving to another node,
    // the consumer's backoff: well within two minutes.
    for _ in 0..8 {
        applied = wait_for(&pool, sql, ROWS as i64).await;
        if applied == ROWS as i64 {
            break;
        }
    }
    assert_eq!(applied, ROWS as i64, "every row applied");
    assert_eq!(outbox::backlog(&pool).await.unwrap(), 0);
    let distinct: i64 = sqlx::query_scalar("SELECT count(DISTINCT unit_id) FROM effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(distinct, ROWS as i64, "none twice");
    shutdown.cancel();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Records each unit once; refuses "poison" units.
struct Recorder;

impl Handler for Recorder {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let u: UnitCreated = events::payload(env)
            .ok_or_else(|| HandleError::Permanent(anyhow::anyhow!("unexpected type")))?
            .map_err(|e| HandleError::Permanent(e.into()))?;
        if u.unit_id == "poison" {
            return Err(HandleError::Transient(anyhow::anyhow!(
                "this unit always fails"
            )));
        }
        sqlx::query("INSERT INTO effects (event_id, unit_id) VALUES ($1, $2)")
            .bind(env.id.parse::<uuid::Uuid>().unwrap())
            .bind(&u.unit_id)
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

async fn publish_raw(js: &jetstream::Context, env: &Envelope, msg_id: &str) {
    let mut h = async_nats::HeaderMap::new();
    h.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
    js.publish_with_headers(env.r#type.clone(), h, env.encode_to_vec().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// The dead-letter stream's messages, once there are `want` (or after 20 s).
async fn dead_letters(js: &jetstream::Context, want: u64) -> u64 {
    let dl = js.get_stream(events::DEAD_LETTER_STREAM).await.unwrap();
    let mut dead = 0;
    for _ in 0..200 {
        dead = dl.get_info().await.unwrap().state.messages;
        if dead == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dead
}

async fn wait_for(pool: &PgPool, sql: &str, want: i64) -> i64 {
    let mut got = -1;
    for _ in 0..300 {
        got = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(pool)
            .await
            .unwrap();
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got
}

#[tokio::test]
async fn consumer_applies_redelivered_events_once_and_dead_letters_poison() {
    let (_nats, pool, js) = setup("consumer").await;
    let shutdown = CancellationToken::new();
    let spec = ConsumerSpec::new("recorder", "gateway").max_attempts(3);
    let task = tokio::spawn(consumer::run(
        spec,
        js.clone(),
        pool.clone(),
        Arc::new(Recorder),
        shutdown.clone(),
    ));

    // Each event published twice under different message ids, so JetStream's duplicate
    // window does not hide the second copy: only the consumer's record can.
    let envs: Vec<Envelope> = (0..10)
        .map(|i| events::envelope("gateway", &cchc_platform::Actor::System, &unit(i)))
        .collect();
    for e in &envs {
        publish_raw(&js, e, &format!("{}-a", e.id)).await;
    }
    let poison = events::envelope(
        "gateway",
        &cchc_platform::Actor::System,
        &UnitCreated {
            unit_id: "poison".into(),
            ..Default::default()
        },
    );
    publish_raw(&js, &poison, &poison.id).await;
    js.publish("cchc.gateway.unit_created.v1", "not protobuf at all".into())
        .await
        .unwrap()
        .await
        .unwrap();
    for e in &envs {
        publish_raw(&js, e, &format!("{}-b", e.id)).await;
    }

    assert_eq!(
        wait_for(&pool, "SELECT count(*) FROM effects", 10).await,
        10
    );
    assert_eq!(
        wait_for(&pool, "SELECT count(DISTINCT event_id) FROM effects", 10).await,
        10
    );

    // The poison message and the undecodable one end in the dead-letter stream with the
    // reason, and the consumer kept going past them.
    assert_eq!(dead_letters(&js, 2).await, 2);
    let dl = js.get_stream(events::DEAD_LETTER_STREAM).await.unwrap();
    let first = dl.get_raw_message(1).await.unwrap();
    let h = first.headers;
    assert_eq!(h.get("Cchc-Consumer").unwrap().as_str(), "recorder");
    assert!(h.get("Cchc-Error").is_some());

    shutdown.cancel();
    task.await.unwrap();
    // Restarting from scratch (a new process) redelivers nothing new.
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(consumer::run(
        ConsumerSpec::new("recorder", "gateway"),
        js.clone(),
        pool.clone(),
        Arc::new(Recorder),
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(
        wait_for(&pool, "SELECT count(*) FROM effects", 10).await,
        10
    );
}

/// Events already in the stream when the consumer starts arrive in one batch: each
/// twice (two message ids), applied once. With a poison message among them the batch is
/// applied message by message instead: the others still once each, the poison alone
/// dead-lettered.
#[tokio::test]
async fn a_batch_holding_events_twice_applies_each_once_with_or_without_poison() {
    for poisoned in [false, true] {
        let (_nats, pool, js) = setup("consumer_batch").await;
        let envs: Vec<Envelope> = (0..20)
            .map(|i| events::envelope("gateway", &cchc_platform::Actor::System, &unit(i)))
            .collect();
        for copy in ["a", "b"] {
            for (i, e) in envs.iter().enumerate() {
                publish_raw(&js, e, &format!("{}-{copy}", e.id)).await;
                if poisoned && copy == "a" && i == 10 {
                    let poison = UnitCreated {
                        unit_id: "poison".into(),
                        ..Default::default()
                    };
                    let poison =
                        events::envelope("gateway", &cchc_platform::Actor::System, &poison);
                    publish_raw(&js, &poison, &poison.id).await;
                }
            }
        }
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(consumer::run(
            ConsumerSpec::new("recorder", "gateway").max_attempts(2),
            js.clone(),
            pool.clone(),
            Arc::new(Recorder),
            shutdown.clone(),
        ));
        let processed = "SELECT count(*) FROM cchc_processed_events WHERE consumer = 'recorder'";
        assert_eq!(
            wait_for(&pool, processed, 20).await,
            20,
            "poisoned: {poisoned}"
        );
        if poisoned {
            assert_eq!(dead_letters(&js, 1).await, 1, "the poison dead-lettered");
        }
        // Past every message, the effects stand: each event once.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (all, distinct): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT event_id) FROM effects")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!((all, distinct), (20, 20), "poisoned: {poisoned}");
        shutdown.cancel();
        task.await.unwrap();
    }
}
