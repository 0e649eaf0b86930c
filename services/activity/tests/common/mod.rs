//! Runs the activity service's gRPC implementation in process against a fresh
//! PostgreSQL database, with callers set in the request metadata as the gateway does.

#![allow(dead_code)]

use cchc_activity::grpc::Activities;
use cchc_activity::store::Store;
use cchc_platform::outbox::Outbox;
use cchc_platform::validation::field_errors;
use cchc_platform::{Actor, Caller, Role};
use cchc_proto::Message;
use cchc_proto::events::v1::Envelope;
use sqlx::PgPool;
use uuid::Uuid;

pub struct Service {
    pub api: Activities,
    pub pool: PgPool,
}

pub async fn service() -> Service {
    let url = cchc_testkit::fresh_database("activity").await;
    let pool = cchc_platform::db::connect_and_migrate(&url, &cchc_activity::MIGRATOR)
        .await
        .expect("migrated database");
    let store = Store::new(pool.clone(), Outbox::new("activity"));
    Service {
        api: Activities::new(store),
        pool,
    }
}

/// The person signed in behind the requests of [`from`], [`as_unit`] and
/// [`as_office`].
pub const PERSON: Actor = Actor::User(Uuid::from_u128(7));

/// A request from `unit` acting in `role`, made by [`PERSON`].
pub fn from<T>(unit: Uuid, role: Role, message: T) -> tonic::Request<T> {
    by(PERSON, unit, role, message)
}

/// A request from `unit` acting in `role`, made by `actor`.
pub fn by<T>(actor: Actor, unit: Uuid, role: Role, message: T) -> tonic::Request<T> {
    Caller::new(unit, role, actor).verified(tonic::Request::new(message))
}

pub fn as_unit<T>(unit: Uuid, message: T) -> tonic::Request<T> {
    from(unit, Role::Unit, message)
}

pub fn as_office<T>(message: T) -> tonic::Request<T> {
    from(Uuid::new_v4(), Role::Office, message)
}

/// The fields a refusal names, in order.
pub fn fields(s: &tonic::Status) -> Vec<String> {
    field_errors(s).into_iter().map(|f| f.field).collect()
}

impl Service {
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Every event in the outbox, oldest first: its type and envelope.
    pub async fn events(&self) -> Vec<(String, Envelope)> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT subject, body FROM cchc_outbox ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        rows.into_iter()
            .map(|(s, b)| (s, Envelope::decode(b.as_slice()).unwrap()))
            .collect()
    }

    /// Payloads of the events of type `E`, oldest first.
    pub async fn payloads<E: cchc_platform::events::Event>(&self) -> Vec<E> {
        self.events()
            .await
            .iter()
            .filter_map(|(_, env)| cchc_platform::events::payload::<E>(env))
            .map(|p| p.unwrap())
            .collect()
    }
}
