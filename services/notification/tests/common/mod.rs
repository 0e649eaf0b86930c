//! Runs the whole notification service in process — consumers, delivery worker,
//! scheduler and gRPC — against a real nats-server and a fresh PostgreSQL database.
//! Events are published to JetStream the way the producers' relays publish them, and
//! the service can be killed (its tasks dropped mid-way, as a crash would) and started
//! again on the same database and streams.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use cchc_notification::config::Settings;
use cchc_notification::delivery::webhook::{Lookup, SystemLookup};
use cchc_platform::config::ServiceSettings;
use cchc_platform::events::{self, Event};
use cchc_platform::{Actor, Caller, CallerKey, Config, Role};

/// The secret the gateway signs callers with, in these tests.
pub const INTERNAL_TOKEN: &str = "internal-token-of-the-notification-tests";
use cchc_proto::Message;
use cchc_proto::events::v1::{Envelope, UnitCreated};
use cchc_proto::notification::v1 as pb;
use cchc_proto::notification::v1::notification_service_client::NotificationServiceClient;
use cchc_testkit::{NatsServer, free_port, fresh_database};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use uuid::Uuid;

pub struct Harness {
    pub nats: NatsServer,
    pub js: jetstream::Context,
    pub database_url: String,
    /// For the test's own looks at the tables.
    pub pool: PgPool,
    pub config: Vec<(String, String)>,
    pub grpc_url: String,
    /// How the service resolves webhook hosts (the system's resolver unless a test
    /// gives fixed answers).
    pub lookup: Arc<dyn Lookup>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    shutdown: CancellationToken,
}

/// Fast retries, short timeouts and a short lease, so tests run in seconds.
pub const FAST: &[(&str, &str)] = &[
    ("CCHC_DELIVERY_BACKOFF_MS", "100"),
    ("CCHC_DELIVERY_BACKOFF_MAX_MS", "400"),
    ("CCHC_WEBHOOK_TIMEOUT_SECS", "1"),
    ("CCHC_SMTP_TIMEOUT_SECS", "2"),
    ("CCHC_DELIVERY_LEASE_SECS", "3"),
    ("CCHC_SCHEDULER_INTERVAL_SECS", "3600"),
    // The tests' webhook receivers listen on loopback, which is refused unless allowed.
    ("CCHC_WEBHOOK_ALLOW_NETWORKS", "127.0.0.1/32"),
];

impl Harness {
    /// Starts NATS, a database and the service with `FAST` and `extra` settings.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_with_lookup(extra, Arc::new(SystemLookup)).await
    }

    /// As [`Harness::start`], with webhook host names resolved by `lookup`.
    pub async fn start_with_lookup(extra: &[(&str, &str)], lookup: Arc<dyn Lookup>) -> Self {
        let nats = NatsServer::start().await;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let js = jetstream::new(client);
        for producer in ["gateway", "catalogue", "activity", "reporting"] {
            events::ensure_stream(&js, producer).await.unwrap();
        }
        let database_url = fresh_database("notification").await;
        let mut config: Vec<(String, String)> = FAST
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        config.push(("NATS_URL".into(), nats.url()));
        let mut h = Self {
            nats,
            js,
            pool: PgPool::connect_lazy(&database_url).unwrap(),
            database_url,
            config,
            grpc_url: String::new(),
            lookup,
            task: None,
            shutdown: CancellationToken::new(),
        };
        h.start_service().await;
        h
    }

    pub fn settings(&self) -> Settings {
        Settings::load(&Config::from_pairs(self.config.clone())).unwrap()
    }

    /// Starts the service (again) on fresh ports, and waits until it answers.
    pub async fn start_service(&mut self) {
        self.shutdown = CancellationToken::new();
        let (task, grpc_url) = self.spawn(self.shutdown.clone());
        self.task = Some(task);
        self.grpc_url = grpc_url;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answered = self
                .client()
                .await
                .list_templates(office(pb::ListTemplatesRequest::default()))
                .await
                .is_ok();
            if answered {
                return;
            }
            if let Some(t) = &self.task
                && t.is_finished()
            {
                let r = self.task.take().unwrap().await;
                panic!("the service stopped: {r:?}");
            }
            assert!(Instant::now() < deadline, "the service did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One more instance of the service, on fresh ports, the same database and NATS, as
    /// a second replica runs; it stops when `shutdown` is cancelled.
    pub fn replica(
        &self,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        self.spawn(shutdown).0
    }

    fn spawn(
        &self,
        shutdown: CancellationToken,
    ) -> (tokio::task::JoinHandle<anyhow::Result<()>>, String) {
        let (grpc, http) = (free_port(), free_port());
        let service = ServiceSettings {
            name: "notification",
            database_url: self.database_url.clone(),
            nats_url: self.nats.url(),
            grpc_addr: ([127, 0, 0, 1], grpc).into(),
            http_addr: ([127, 0, 0, 1], http).into(),
            caller_key: CallerKey::new(INTERNAL_TOKEN),
        };
        let config = Config::from_pairs(self.config.clone());
        let task = tokio::spawn(cchc_notification::run_with_lookup(
            service,
            config,
            shutdown,
            self.lookup.clone(),
        ));
        (task, format!("http://127.0.0.1:{grpc}"))
    }

    /// Drops every task of the service at once, wherever each is, as a crash would.
    pub async fn kill(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// Graceful stop, as on SIGTERM.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    pub async fn client(&self) -> NotificationServiceClient<Channel> {
        NotificationServiceClient::new(cchc_platform::grpc::channel(&self.grpc_url).unwrap())
    }

    /// Publishes `event` as `producer`'s relay would: `Nats-Msg-Id` = event id, ack
    /// awaited; attributed to the system.
    pub async fn publish<E: Event>(&self, producer: &str, event: &E) -> Envelope {
        self.publish_as(producer, &Actor::System, event).await
    }

    /// [`Harness::publish`], attributed to `actor`.
    pub async fn publish_as<E: Event>(&self, producer: &str, actor: &Actor, event: &E) -> Envelope {
        let env = events::envelope(producer, actor, event);
        self.publish_envelope(&env, &env.id).await;
        env
    }

    /// Publishes `env` with the message id `msg_id` (a different one than the event id
    /// gets past JetStream's duplicate window, as a redelivery from a replay would).
    pub async fn publish_envelope(&self, env: &Envelope, msg_id: &str) {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, msg_id);
        self.js
            .publish_with_headers(env.r#type.clone(), headers, env.encode_to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// A unit, announced by the gateway; returns once the service knows it.
    pub async fn unit(&self, name: &str, kind: &str) -> Uuid {
        let id = Uuid::new_v4();
        self.publish(
            "gateway",
            &UnitCreated {
                unit_id: id.to_string(),
                name: name.into(),
                kind: kind.into(),
                ..Default::default()
            },
        )
        .await;
        self.eventually(20, "the unit is known", || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM recipients WHERE id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await
                .unwrap();
            (n == 1).then_some(())
        })
        .await;
        id
    }

    /// Polls `f` until it returns `Some`, for at most `secs` seconds.
    pub async fn eventually<T, F, Fut>(&self, secs: u64, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not happen within {secs} s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The ids of the messages caused by `event_id`, with their channel and status.
    pub async fn messages_of(&self, event_id: &str) -> Vec<(Uuid, String, String)> {
        sqlx::query_as(
            "SELECT id, channel, status FROM messages WHERE event_id = $1::uuid ORDER BY channel, id",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Waits until message `id` reaches `status`; returns its delivery report.
    pub async fn wait_status(&self, id: Uuid, status: &str, secs: u64) -> pb::DeliveryReport {
        let mut client = self.client().await;
        self.eventually(secs, &format!("message {id} {status}"), || {
            let mut c = client.clone();
            async move {
                let r = c
                    .list_deliveries(office(pb::MessageRef { id: id.to_string() }))
                    .await
                    .unwrap()
                    .into_inner();
                (r.status == status).then_some(r)
            }
        })
        .await;
        client
            .list_deliveries(office(pb::MessageRef { id: id.to_string() }))
            .await
            .unwrap()
            .into_inner()
    }

    /// A recipient made by the office.
    pub async fn recipient(&self, input: pb::RecipientInput) -> pb::Recipient {
        self.client()
            .await
            .create_recipient(office(input))
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn subscribe(&self, input: pb::SubscriptionInput) -> pb::Subscription {
        self.client()
            .await
            .create_subscription(office(input))
            .await
            .unwrap()
            .into_inner()
    }

    /// A body named `name`, told of procedure changes by webhook to `url`.
    pub async fn webhook_subscriber(&self, name: &str, url: &str) -> pb::Recipient {
        let r = self
            .recipient(pb::RecipientInput {
                kind: "body".into(),
                name: name.into(),
                contacts: vec![webhook(url, SECRET)],
                ..Default::default()
            })
            .await;
        self.subscribe(pb::SubscriptionInput {
            event_type: "procedure_changed".into(),
            recipient_id: r.id.clone(),
            channels: vec!["webhook".into()],
            ..Default::default()
        })
        .await;
        r
    }
}

/// A request from a caller of `role` in `unit` (attributed to the system).
pub fn from<T>(unit: Uuid, role: Role, message: T) -> tonic::Request<T> {
    CallerKey::new(INTERNAL_TOKEN).request(unit, role, message)
}

/// A request from `actor`, a caller of `role` in `unit`, signed as the gateway signs it.
pub fn by<T>(actor: Actor, unit: Uuid, role: Role, message: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    CallerKey::new(INTERNAL_TOKEN).sign(&Caller::new(unit, role, actor), req.metadata_mut());
    req
}

pub fn office<T>(message: T) -> tonic::Request<T> {
    from(Uuid::nil(), Role::Office, message)
}

pub fn operator<T>(message: T) -> tonic::Request<T> {
    from(Uuid::nil(), Role::Operator, message)
}

pub fn leader<T>(message: T) -> tonic::Request<T> {
    from(Uuid::nil(), Role::Leader, message)
}

pub fn email(address: &str) -> pb::Contact {
    pb::Contact {
        channel: "email".into(),
        address: address.into(),
        ..Default::default()
    }
}

pub fn webhook(url: &str, secret: &str) -> pb::Contact {
    pb::Contact {
        channel: "webhook".into(),
        url: url.into(),
        secret: secret.into(),
        ..Default::default()
    }
}

pub const SECRET: &str = "whsec-0123456789abcdef";

/// A published procedure, as the catalogue announces it.
pub fn procedure(
    code: &str,
    name: &str,
    field: &str,
) -> cchc_proto::events::v1::ProcedurePublished {
    cchc_proto::events::v1::ProcedurePublished {
        code: code.into(),
        version: 1,
        name: name.into(),
        field: field.into(),
        level: "province".into(),
        agency: "Sở Giáo dục và Đào tạo".into(),
        change_type: cchc_platform::vocabulary::change_type::NEW.into(),
        decision_number: "1234/QĐ-UBND".into(),
        effective_date: "2020-02-01".into(),
    }
}
