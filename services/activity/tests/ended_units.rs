//! A unit the gateway closed or merged writes nothing more, even with a signed call
//! that got past the gateway: the whole service runs against a real nats-server and
//! PostgreSQL, hears the gateway's `unit_closed` and `unit_merged` events on the
//! gateway's stream, and refuses that unit's writes while other units go on.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use cchc_platform::config::ServiceSettings;
use cchc_platform::events;
use cchc_platform::vocabulary::activity_kind::NEWS_POST;
use cchc_platform::{CallerKey, Config, Role};
use cchc_proto::Message;
use cchc_proto::activity::v1::activity_service_client::ActivityServiceClient;
use cchc_proto::activity::v1::*;
use cchc_proto::events::v1::{UnitClosed, UnitMerged};
use cchc_testkit::{NatsServer, free_port, fresh_database};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

struct Running {
    _nats: NatsServer,
    js: jetstream::Context,
    pool: PgPool,
    client: ActivityServiceClient<Channel>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// The secret the gateway signs callers with, in this test.
const INTERNAL_TOKEN: &str = "internal-token-of-the-ended-units-test";

/// The activity service as `main` runs it, with callers signed as the gateway signs them.
async fn start() -> Running {
    let nats = NatsServer::start().await;
    // Events are published as the gateway publishes them, and the service signs in as
    // its own NATS user, with only the permissions it is given in production.
    let js = jetstream::new(nats.connect_as("gateway").await.unwrap());
    events::ensure_stream(&js, "gateway").await.unwrap();
    let database_url = fresh_database("activity").await;
    let (grpc, http) = (free_port(), free_port());
    let config = Config::from_pairs([
        ("CCHC_ACTIVITY_DATABASE_URL", database_url.clone()),
        ("NATS_URL", nats.url_for("activity")),
        ("CCHC_GRPC_ADDR", format!("127.0.0.1:{grpc}")),
        ("CCHC_HTTP_ADDR", format!("127.0.0.1:{http}")),
        ("CCHC_INTERNAL_TOKEN", INTERNAL_TOKEN.to_owned()),
    ]);
    let settings = ServiceSettings::load(&config, "activity", 0).unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(cchc_activity::run(settings, config, shutdown.clone()));
    let channel = cchc_platform::grpc::channel(&format!("http://127.0.0.1:{grpc}")).unwrap();
    let mut client = ActivityServiceClient::new(channel);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = client
            .list_activities(office(ListActivitiesRequest::default()))
            .await;
        if listed.is_ok() {
            break;
        }
        assert!(!task.is_finished(), "the service stopped");
        assert!(Instant::now() < deadline, "the service did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Running {
        _nats: nats,
        js,
        pool: PgPool::connect_lazy(&database_url).unwrap(),
        client,
        shutdown,
        task,
    }
}

fn from<T>(unit: Uuid, role: Role, message: T) -> tonic::Request<T> {
    CallerKey::new(INTERNAL_TOKEN).request(unit, role, message)
}

fn unit<T>(unit: Uuid, message: T) -> tonic::Request<T> {
    from(unit, Role::Unit, message)
}

fn office<T>(message: T) -> tonic::Request<T> {
    from(Uuid::new_v4(), Role::Office, message)
}

fn activity(title: &str) -> RecordActivityRequest {
    RecordActivityRequest {
        kind: NEWS_POST.into(),
        date: "2025-03-10".into(),
        title: title.into(),
        head_count: 30,
        ..Default::default()
    }
}

fn one_stop() -> SubmitOneStopResultRequest {
    SubmitOneStopResultRequest {
        period: "2025-H1".into(),
        received: Some(OneStopReceived {
            online: 10,
            ..Default::default()
        }),
        resolved: Some(OneStopResolved {
            on_time: 10,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn satisfaction() -> SubmitSatisfactionRequest {
    SubmitSatisfactionRequest {
        period: "2025-H1".into(),
        responses: 10,
        criteria: vec![CriterionCounts {
            name: "Thái độ phục vụ".into(),
            very_satisfied: 4,
            satisfied: 5,
            dissatisfied: 1,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn budget() -> SubmitBudgetLinesRequest {
    SubmitBudgetLinesRequest {
        year: 2025,
        lines: vec![BudgetLine {
            item: "In tờ rơi".into(),
            funding_source: "ngân sách nhà nước".into(),
            planned_vnd: 5_000_000,
            spent_vnd: 4_000_000,
        }],
        ..Default::default()
    }
}

impl Running {
    /// Publishes `event` as the gateway's relay does: `Nats-Msg-Id` = event id, ack awaited.
    async fn publish_from_gateway<E: events::Event>(&self, event: &E) {
        let env = events::envelope("gateway", &cchc_platform::Actor::System, event);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, env.id.as_str());
        self.js
            .publish_with_headers(env.r#type.clone(), headers, env.encode_to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Waits until the service has heard of `n` ended units.
    async fn ended_units_known(&self, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count("ended_units").await < n {
            assert!(
                Instant::now() < deadline,
                "the gateway's events were not consumed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Asserts that a write was refused because the unit no longer acts.
fn refused<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, says: &str) {
    let e = r.expect_err("a closed or merged unit's write is refused");
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains(says), "{:?}", e.message());
}

#[tokio::test]
async fn a_closed_or_merged_unit_records_nothing_and_other_units_go_on() {
    let mut s = start().await;
    let (closed, merged, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());

    // Before its closure the unit records as any other.
    let earlier = s
        .client
        .record_activity(unit(closed, activity("Đăng tin CCHC tháng 3")))
        .await
        .unwrap()
        .into_inner();

    s.publish_from_gateway(&UnitClosed {
        unit_id: closed.to_string(),
        effective_date: "2025-07-01".into(),
    })
    .await;
    s.publish_from_gateway(&UnitMerged {
        unit_id: merged.to_string(),
        into_unit_id: other.to_string(),
        effective_date: "2025-07-01".into(),
    })
    .await;
    s.ended_units_known(2).await;

    let c = &mut s.client;
    let says = "was closed on 2025-07-01 and can no longer make changes";
    refused(
        c.record_activity(unit(closed, activity("Sau khi giải thể")))
            .await,
        says,
    );
    refused(
        c.record_activities(unit(
            closed,
            RecordActivitiesRequest {
                items: vec![activity("Một"), activity("Hai")],
                idempotency_key: String::new(),
            },
        ))
        .await,
        says,
    );
    refused(
        c.correct_activity(unit(
            closed,
            CorrectActivityRequest {
                activity_id: earlier.id.clone(),
                reason: "sửa sau khi giải thể".into(),
                activity: Some(activity("Đăng tin CCHC tháng 3 (sửa)")),
            },
        ))
        .await,
        says,
    );
    refused(
        c.submit_one_stop_result(unit(closed, one_stop())).await,
        says,
    );
    refused(
        c.submit_satisfaction(unit(closed, satisfaction())).await,
        says,
    );
    refused(c.submit_budget_lines(unit(closed, budget())).await, says);
    refused(
        c.record_activity(unit(merged, activity("Sau khi sáp nhập")))
            .await,
        &format!("was merged into unit {other} on 2025-07-01"),
    );

    // The unit it was merged into, like every other unit, goes on.
    c.record_activity(unit(other, activity("Tuyên truyền sau sáp nhập")))
        .await
        .unwrap();
    c.submit_one_stop_result(unit(other, one_stop()))
        .await
        .unwrap();
    c.submit_budget_lines(unit(other, budget())).await.unwrap();

    // Nothing of the refused writes was kept, and no event went out for them.
    assert_eq!(s.count("activities").await, 2);
    assert_eq!(s.count("one_stop_results").await, 1);
    assert_eq!(s.count("satisfaction_surveys").await, 0);
    assert_eq!(s.count("budget_submissions").await, 1);
    assert_eq!(s.count("cchc_outbox").await, 4);
    let closed_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM activities WHERE unit_id = $1 OR unit_id = $2")
            .bind(closed)
            .bind(merged)
            .fetch_one(&s.pool)
            .await
            .unwrap();
    assert_eq!(closed_rows, 1, "only the record made before the closure");

    s.shutdown.cancel();
    s.task.await.unwrap().unwrap();
}
