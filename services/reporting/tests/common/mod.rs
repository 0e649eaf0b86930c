//! Runs the reporting service in process against a fresh PostgreSQL database and a real
//! nats-server, with callers set in the request metadata as the gateway does. Events
//! are fed to the read models through the service's own handler, inside a transaction,
//! with the envelope times the test chooses.

#![allow(dead_code)]

use std::sync::Arc;

use cchc_platform::consumer::Handler;
use cchc_platform::events::{Event, envelope};
use cchc_platform::outbox::Outbox;
use cchc_platform::{Actor, Caller, Role};
use cchc_proto::Message;
use cchc_proto::events::v1::Envelope;
use cchc_reporting::events::ReadModels;
use cchc_reporting::grpc::Reporting;
use cchc_reporting::jobs::Worker;
use cchc_reporting::replay::{Consumers, Replays};
use cchc_reporting::store::Store;
use cchc_testkit::NatsServer;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Service {
    pub api: Reporting,
    pub pool: PgPool,
    pub worker: Arc<Worker>,
    pub replays: Arc<Replays>,
    pub consumers: Arc<Consumers>,
    pub js: async_nats::jetstream::Context,
    pub nats: NatsServer,
    pub shutdown: CancellationToken,
}

pub async fn service() -> Service {
    let nats = NatsServer::start().await;
    let url = cchc_testkit::fresh_database("reporting").await;
    let pool = cchc_platform::db::connect_and_migrate(&url, &cchc_reporting::MIGRATOR)
        .await
        .expect("migrated database");
    let client = async_nats::connect(nats.url()).await.expect("nats");
    let js = async_nats::jetstream::new(client);
    let shutdown = CancellationToken::new();
    let consumers = Consumers::start(js.clone(), pool.clone(), shutdown.clone());
    let store = Store::new(pool.clone(), Outbox::new("reporting"));
    let replays = Replays::new(store.clone(), consumers.clone(), shutdown.clone());
    let worker = Worker::new(store.clone());
    Service {
        api: Reporting::new(store, worker.clone(), replays.clone()),
        pool,
        worker,
        replays,
        consumers,
        js,
        nats,
        shutdown,
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The person the tests' requests come from unless one is named.
pub const PERSON: Uuid = Uuid::from_u128(0x9e_7507);

/// A request from `unit` acting in `role`, signed in as [`PERSON`].
pub fn from<T>(unit: Uuid, role: Role, message: T) -> tonic::Request<T> {
    from_actor(unit, role, Actor::User(PERSON), message)
}

/// A request from `unit` acting in `role`, its writes attributed to `actor`.
pub fn from_actor<T>(unit: Uuid, role: Role, actor: Actor, message: T) -> tonic::Request<T> {
    Caller::new(unit, role, actor).verified(tonic::Request::new(message))
}

pub const OFFICE: Uuid = Uuid::from_u128(0x0ff1ce);

pub fn as_office<T>(message: T) -> tonic::Request<T> {
    from(OFFICE, Role::Office, message)
}

pub fn as_role<T>(role: Role, message: T) -> tonic::Request<T> {
    from(Uuid::from_u128(7), role, message)
}

pub fn fields(s: &tonic::Status) -> Vec<String> {
    cchc_platform::validation::field_errors(s)
        .into_iter()
        .map(|f| f.field)
        .collect()
}

/// An envelope of `producer` carrying `e`, stamped `at`, attributed to the system.
pub fn envelope_at<E: Event>(producer: &str, e: &E, at: DateTime<Utc>) -> Envelope {
    envelope_by(producer, &Actor::System, e, at)
}

/// An envelope of `producer` carrying `e`, stamped `at`, attributed to `actor`.
pub fn envelope_by<E: Event>(producer: &str, actor: &Actor, e: &E, at: DateTime<Utc>) -> Envelope {
    let mut env = envelope(producer, actor, e);
    env.occurred_at = Some(cchc_proto::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    });
    env
}

impl Service {
    /// Applies one envelope to the read models, as the consumer would.
    pub async fn apply(&self, env: &Envelope) {
        let mut tx = self.pool.begin().await.unwrap();
        ReadModels
            .handle(&mut tx, env)
            .await
            .expect("event applied");
        tx.commit().await.unwrap();
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Every row of every read model, as text, sorted: equal dumps mean equal state.
    pub async fn dump_read_models(&self) -> Vec<String> {
        let mut out = Vec::new();
        for table in cchc_reporting::events::TABLES {
            let mut rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT to_jsonb(t)::text FROM {table} t"
            )))
            .fetch_all(&self.pool)
            .await
            .unwrap();
            rows.sort();
            out.extend(rows.into_iter().map(|r| format!("{table} {r}")));
        }
        out
    }

    /// Payloads of the outbox events of type `E`, oldest first.
    pub async fn payloads<E: Event>(&self) -> Vec<E> {
        self.events::<E>()
            .await
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// The outbox events of type `E`, oldest first, each with whom its envelope
    /// attributes it to (the envelope's text, empty when none).
    pub async fn events<E: Event>(&self) -> Vec<(String, E)> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT subject, body FROM cchc_outbox ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        rows.into_iter()
            .filter(|(s, _)| s == E::TYPE)
            .map(|(_, b)| {
                let env = Envelope::decode(b.as_slice()).unwrap();
                (env.actor, E::decode(env.payload.as_slice()).unwrap())
            })
            .collect()
    }

    /// Runs report jobs until none is waiting.
    pub async fn work_reports(&self) {
        while self.worker.run_once().await.expect("worker ran") {}
    }
}
