//! Replay through a real nats-server: events of every kind reach the read models through
//! the durable consumers; an operator's replay empties them and rebuilds them from the
//! streams, and the rebuilt state equals the live one, row for row, and gives the same
//! report bytes.

mod common;

use std::time::{Duration, Instant};

use cchc_platform::Role;
use cchc_platform::events::{Event, ensure_stream};
use cchc_proto::Message;
use cchc_proto::events::v1::{
    ActivityRecorded, BudgetLineFigures, BudgetSubmitted, LegalDocumentChanged,
    LegalDocumentIssued, OneStopResultSubmitted, PostingConfirmed, PostingStale,
    ProcedurePublished, SatisfactionCriterion, SatisfactionSubmitted, UnitCreated,
};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, ExportReportRequest, GetReplayRequest, Plan, PlanPeriod, StartReplayRequest,
    StartReportRequest,
};
use chrono::{Duration as Minutes, TimeZone, Utc};
use common::*;
use uuid::Uuid;

struct Publisher<'a> {
    svc: &'a Service,
    n: i64,
}

impl Publisher<'_> {
    /// Publishes `e` to its producer's stream as the outbox relay would.
    async fn publish<E: Event>(&mut self, producer: &str, e: &E) {
        self.n += 1;
        let at = Utc.with_ymd_and_hms(2020, 6, 1, 0, 0, 0).unwrap() + Minutes::minutes(self.n);
        let env = envelope_at(producer, e, at);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, env.id.as_str());
        self.svc
            .js
            .publish_with_headers(E::TYPE, headers, env.encode_to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

async fn caught_up(svc: &Service, events: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = svc.consumers.progress().await.unwrap();
        if p.caught_up && p.applied == events {
            return;
        }
        assert!(Instant::now() < deadline, "consumers stuck at {p:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn report_bytes(svc: &Service, plan_id: &str) -> Vec<Vec<u8>> {
    let r = svc
        .api
        .start_report(as_office(StartReportRequest {
            plan_id: plan_id.into(),
            period: "2020-H1".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    svc.work_reports().await;
    let mut out = Vec::new();
    for format in ["json", "csv", "xlsx", "docx"] {
        out.push(
            svc.api
                .export_report(as_office(ExportReportRequest {
                    report_id: r.id.clone(),
                    format: format.into(),
                }))
                .await
                .unwrap()
                .into_inner()
                .content,
        );
    }
    out
}

#[tokio::test]
async fn replaying_the_streams_rebuilds_the_same_read_models() {
    let svc = service().await;
    for producer in ["gateway", "catalogue", "activity"] {
        ensure_stream(&svc.js, producer).await.unwrap();
    }
    let mut p = Publisher { svc: &svc, n: 0 };
    let units: Vec<Uuid> = (1..=3).map(|i| Uuid::from_u128(0x100 + i)).collect();
    for (i, u) in units.iter().enumerate() {
        p.publish(
            "gateway",
            &UnitCreated {
                unit_id: u.to_string(),
                name: format!("Trường THPT số {}", i + 1),
                kind: "high_school".into(),
                parent_id: String::new(),
            },
        )
        .await;
    }
    for (version, change, date) in [(1, "new", "2020-01-10"), (2, "amended", "2020-03-01")] {
        p.publish(
            "catalogue",
            &ProcedurePublished {
                code: "1.009999".into(),
                version,
                name: "Xét tuyển sinh vào lớp 10".into(),
                field: "Giáo dục trung học".into(),
                level: "province".into(),
                agency: "Sở Giáo dục và Đào tạo".into(),
                change_type: change.into(),
                decision_number: format!("{version}/QĐ-UBND"),
                effective_date: date.into(),
            },
        )
        .await;
        if version == 1 {
            for u in &units[..2] {
                p.publish(
                    "catalogue",
                    &PostingConfirmed {
                        unit_id: u.to_string(),
                        code: "1.009999".into(),
                        version: 1,
                        posted_on: "2020-01-12".into(),
                    },
                )
                .await;
            }
        }
    }
    p.publish(
        "catalogue",
        &PostingStale {
            unit_id: units[0].to_string(),
            code: "1.009999".into(),
            posted_version: 1,
            current_version: 2,
            procedure_name: "Xét tuyển sinh vào lớp 10".into(),
        },
    )
    .await;
    let doc = LegalDocumentIssued {
        id: Uuid::from_u128(0xd0c).to_string(),
        number_symbol: "05/2020/QĐ-UBND".into(),
        r#type: "Quyết định".into(),
        summary: "Quy định tuyển sinh".into(),
        issuer: "UBND thành phố".into(),
        status: "in_force".into(),
        effective_date: "2020-02-01".into(),
        procedure_codes: vec!["1.009999".into()],
    };
    p.publish("catalogue", &doc).await;
    p.publish(
        "catalogue",
        &LegalDocumentChanged {
            document: Some(LegalDocumentIssued {
                status: "amended".into(),
                ..doc
            }),
            changed_by: Uuid::from_u128(0xd0d).to_string(),
        },
    )
    .await;
    let first = Uuid::from_u128(0xac1);
    for (id, supersedes, date) in [
        (first, String::new(), "2020-02-02"),
        (Uuid::from_u128(0xac2), first.to_string(), "2020-02-03"),
        (Uuid::from_u128(0xac3), String::new(), "2020-04-04"),
    ] {
        p.publish(
            "activity",
            &ActivityRecorded {
                activity_id: id.to_string(),
                unit_id: units[1].to_string(),
                kind: "news_post".into(),
                date: date.into(),
                title: "Tin CCHC".into(),
                head_count: 0,
                supersedes,
                ..Default::default()
            },
        )
        .await;
    }
    for revision in [1, 2] {
        p.publish(
            "activity",
            &OneStopResultSubmitted {
                submission_id: Uuid::from_u128(0x05 + revision as u128).to_string(),
                unit_id: units[0].to_string(),
                period: "2020-H1".into(),
                period_start: "2020-01-01".into(),
                period_end: "2020-06-30".into(),
                revision,
                received_online: 10 * i64::from(revision),
                resolved_on_time: 8,
                resolved_late: 1,
                ..Default::default()
            },
        )
        .await;
    }
    p.publish(
        "activity",
        &SatisfactionSubmitted {
            submission_id: Uuid::from_u128(0x5a7).to_string(),
            unit_id: units[0].to_string(),
            period: "2020-H1".into(),
            period_start: "2020-01-01".into(),
            period_end: "2020-06-30".into(),
            revision: 1,
            responses: 20,
            criteria: vec![SatisfactionCriterion {
                name: "Thái độ phục vụ".into(),
                very_satisfied: 10,
                satisfied: 8,
                dissatisfied: 2,
            }],
            ..Default::default()
        },
    )
    .await;
    p.publish(
        "activity",
        &BudgetSubmitted {
            submission_id: Uuid::from_u128(0xb0d).to_string(),
            unit_id: units[2].to_string(),
            year: 2020,
            revision: 1,
            lines: vec![BudgetLineFigures {
                item: "In tờ rơi".into(),
                funding_source: "Ngân sách CCHC".into(),
                planned_vnd: 3_000_000,
                spent_vnd: 1_500_000,
            }],
            planned_total_vnd: 3_000_000,
            spent_total_vnd: 1_500_000,
            ..Default::default()
        },
    )
    .await;
    let events = p.n;
    caught_up(&svc, events).await;
    for table in cchc_reporting::events::TABLES {
        assert!(svc.count(table).await > 0, "{table} is empty");
    }
    let live = svc.dump_read_models().await;

    let plan = svc
        .api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(Plan {
                number_symbol: "7/KH-SGDĐT".into(),
                year: 2020,
                title: "Tuyên truyền CCHC năm 2020".into(),
                issuing_body: "Sở Giáo dục và Đào tạo".into(),
                unit_ids: units.iter().map(Uuid::to_string).collect(),
                periods: vec![PlanPeriod {
                    key: "2020-H1".into(),
                    due_date: "2020-06-15".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let before = report_bytes(&svc, &plan.id).await;

    // A row no event explains (drift, a bad hand edit) must not survive the rebuild.
    sqlx::query("INSERT INTO rm_units (unit_id, name, kind, event_at) VALUES ($1, 'Không có thật', 'other', now())")
        .bind(Uuid::new_v4())
        .execute(&svc.pool)
        .await
        .unwrap();
    assert_ne!(svc.dump_read_models().await, live);

    // Only operators replay.
    let e = svc
        .api
        .start_replay(as_office(StartReplayRequest {}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let started = svc
        .api
        .start_replay(as_role(Role::Operator, StartReplayRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(started.state, "running");
    // A second request while it runs returns the same replay.
    let again = svc
        .api
        .start_replay(as_role(Role::Operator, StartReplayRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.id, started.id);

    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let r = svc
            .api
            .get_replay(as_role(
                Role::Operator,
                GetReplayRequest {
                    replay_id: started.id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!((0..=100).contains(&r.percent));
        if r.state == "completed" {
            break r;
        }
        assert_eq!(r.state, "running", "{r:?}");
        assert!(Instant::now() < deadline, "replay stuck: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done.percent, 100);
    assert_eq!(done.total, events);
    assert_eq!(done.applied, events);
    assert!(!done.finished_at.is_empty());
    // Every event was applied again, once.
    let processed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cchc_processed_events WHERE consumer LIKE 'reporting-%'",
    )
    .fetch_one(&svc.pool)
    .await
    .unwrap();
    assert_eq!(processed, events);

    assert_eq!(svc.dump_read_models().await, live);
    assert!(
        report_bytes(&svc, &plan.id).await == before,
        "a report from the rebuilt read models differs"
    );
    // The latest replay is what an empty id asks for.
    let latest = svc
        .api
        .get_replay(as_role(Role::Operator, GetReplayRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(latest.id, started.id);
}

#[tokio::test]
async fn an_upgraded_database_is_rebuilt_when_the_service_starts() {
    // A database of the first version, which had consumed events before the read
    // models of this version existed.
    let url = cchc_testkit::fresh_database("reporting").await;
    let dir = tempfile::tempdir().unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    std::fs::copy(
        migrations.join("0001_read_models.sql"),
        dir.path().join("0001_read_models.sql"),
    )
    .unwrap();
    let first = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let pool = cchc_platform::db::connect_and_migrate(&url, &first)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO cchc_processed_events (consumer, event_id) VALUES ('reporting-activity', $1)",
    )
    .bind(Uuid::new_v4())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let pool = cchc_platform::db::connect_and_migrate(&url, &cchc_reporting::MIGRATOR)
        .await
        .unwrap();
    let pending: Vec<String> = sqlx::query_scalar("SELECT state FROM replays")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(pending, ["running"], "the upgrade asks for a rebuild");
    // Starting, the service runs it to the end.
    let nats = cchc_testkit::NatsServer::start().await;
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let consumers = cchc_reporting::replay::Consumers::start(js, pool.clone(), shutdown.clone());
    let store = cchc_reporting::store::Store::new(
        pool.clone(),
        cchc_platform::outbox::Outbox::new("reporting"),
    );
    let replays = cchc_reporting::replay::Replays::new(store, consumers, shutdown.clone());
    replays.resume().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = replays.get(None).await.unwrap().unwrap();
        if r.state == "completed" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rebuild did not finish: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let processed: i64 = sqlx::query_scalar("SELECT count(*) FROM cchc_processed_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(processed, 0, "the old records went with the rebuild");
    shutdown.cancel();

    // A fresh database asks for none.
    let svc = service().await;
    assert_eq!(svc.count("replays").await, 0);
}
