//! Whom each write is attributed to: the read models keep the actor of the event that
//! made each record, and plans and report jobs name who created them and who changed
//! them last, in their rows, their gRPC messages and their events' envelopes.

mod common;

use cchc_platform::{Actor, Role};
use cchc_proto::events::v1::{
    ActivityRecorded, OneStopResultSubmitted, PlanSaved, ReportGenerated, UnitCreated,
};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetPlanRequest, GetReportRequest, ListPlansRequest, ListReportsRequest,
    Plan, PlanPeriod, StartReportRequest, UpdatePlanRequest,
};
use chrono::{TimeZone, Utc};
use common::*;
use uuid::Uuid;

async fn unit(svc: &Service) -> Uuid {
    let id = Uuid::new_v4();
    svc.apply(&envelope_at(
        "gateway",
        &UnitCreated {
            unit_id: id.to_string(),
            name: "Trường THPT Lê Quý Đôn".into(),
            kind: "high_school".into(),
            parent_id: String::new(),
        },
        Utc.with_ymd_and_hms(2020, 1, 2, 8, 0, 0).unwrap(),
    ))
    .await;
    id
}

fn activity(unit: Uuid) -> ActivityRecorded {
    ActivityRecorded {
        activity_id: Uuid::new_v4().to_string(),
        unit_id: unit.to_string(),
        kind: "news_post".into(),
        date: "2020-03-02".into(),
        title: "Tin bài về CCHC".into(),
        head_count: 0,
        ..Default::default()
    }
}

async fn recorded_by(svc: &Service, table: &str, key: &str, id: &str) -> Option<String> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT recorded_by FROM {table} WHERE {key} = $1::uuid"
    )))
    .bind(id)
    .fetch_one(&svc.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn activities_keep_whom_their_event_is_attributed_to() {
    let svc = service().await;
    let unit = unit(&svc).await;
    let at = Utc.with_ymd_and_hms(2020, 3, 2, 9, 0, 0).unwrap();
    let clerk = Uuid::new_v4();

    let by_person = activity(unit);
    svc.apply(&envelope_by(
        "activity",
        &Actor::User(clerk),
        &by_person,
        at,
    ))
    .await;
    assert_eq!(
        recorded_by(&svc, "rm_activities", "activity_id", &by_person.activity_id).await,
        Some(format!("user:{clerk}"))
    );

    // A redelivery changes nothing, whatever its envelope says.
    svc.apply(&envelope_by("activity", &Actor::System, &by_person, at))
        .await;
    assert_eq!(
        recorded_by(&svc, "rm_activities", "activity_id", &by_person.activity_id).await,
        Some(format!("user:{clerk}"))
    );

    // A program's key, and an envelope from before actors were carried: none named.
    let key = Uuid::new_v4();
    let by_key = activity(unit);
    svc.apply(&envelope_by("activity", &Actor::Key(key), &by_key, at))
        .await;
    assert_eq!(
        recorded_by(&svc, "rm_activities", "activity_id", &by_key.activity_id).await,
        Some(format!("key:{key}"))
    );
    let unattributed = activity(unit);
    let mut env = envelope_at("activity", &unattributed, at);
    env.actor = String::new();
    svc.apply(&env).await;
    assert_eq!(
        recorded_by(
            &svc,
            "rm_activities",
            "activity_id",
            &unattributed.activity_id
        )
        .await,
        None
    );

    // The unit's other submissions keep theirs too.
    let one_stop = OneStopResultSubmitted {
        submission_id: Uuid::new_v4().to_string(),
        unit_id: unit.to_string(),
        period: "2020-Q1".into(),
        period_start: "2020-01-01".into(),
        period_end: "2020-03-31".into(),
        revision: 1,
        received_online: 3,
        resolved_on_time: 3,
        ..Default::default()
    };
    svc.apply(&envelope_by("activity", &Actor::User(clerk), &one_stop, at))
        .await;
    assert_eq!(
        recorded_by(
            &svc,
            "rm_one_stop",
            "submission_id",
            &one_stop.submission_id
        )
        .await,
        Some(format!("user:{clerk}"))
    );
}

fn plan(unit: Uuid) -> Plan {
    Plan {
        number_symbol: "15/KH-SGDĐT".into(),
        year: 2020,
        title: "Tuyên truyền về công tác Cải cách hành chính năm 2020".into(),
        issuing_body: "Sở Giáo dục và Đào tạo".into(),
        unit_ids: vec![unit.to_string()],
        periods: vec![PlanPeriod {
            key: "2020".into(),
            due_date: "2020-12-15".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn plans_and_reports_name_who_made_and_changed_them() {
    let svc = service().await;
    let unit = unit(&svc).await;
    let (a, b) = (Actor::User(Uuid::new_v4()), Actor::User(Uuid::new_v4()));
    let as_a = |m| from_actor(OFFICE, Role::Office, a, m);

    let created = svc
        .api
        .create_plan(as_a(CreatePlanRequest {
            plan: Some(plan(unit)),
            idempotency_key: "plan-15".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.created_by, a.to_string());
    assert_eq!(created.updated_by, a.to_string());

    // A retry by the same unit's key returns the plan, still A's.
    let again = svc
        .api
        .create_plan(as_a(CreatePlanRequest {
            plan: Some(plan(unit)),
            idempotency_key: "plan-15".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, created);

    // What a client sends in these fields is not taken.
    let mut changed = created.clone();
    changed.title = "Tuyên truyền CCHC năm 2020 (sửa đổi)".into();
    changed.created_by = "system".into();
    changed.updated_by = "system".into();
    let updated = svc
        .api
        .update_plan(from_actor(
            OFFICE,
            Role::Office,
            b,
            UpdatePlanRequest {
                plan: Some(changed),
                expected_revision: 1,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.revision, 2);
    assert_eq!(
        (updated.created_by.as_str(), updated.updated_by.as_str()),
        (a.to_string().as_str(), b.to_string().as_str())
    );

    let read = svc
        .api
        .get_plan(as_role(
            Role::Leader,
            GetPlanRequest {
                plan_id: created.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, updated);
    let listed = svc
        .api
        .list_plans(as_role(Role::Unit, ListPlansRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.plans, vec![updated.clone()]);

    // Each save's event is attributed to whoever saved.
    let saved: Vec<(String, u32)> = svc
        .events::<PlanSaved>()
        .await
        .into_iter()
        .map(|(actor, p)| (actor, p.revision))
        .collect();
    assert_eq!(saved, vec![(a.to_string(), 1), (b.to_string(), 2)]);

    // A report is B's from its request to its completion, and so is its event.
    let report = svc
        .api
        .start_report(from_actor(
            OFFICE,
            Role::Office,
            b,
            StartReportRequest {
                plan_id: created.id.clone(),
                period: "2020".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(report.created_by, b.to_string());
    assert_eq!(report.updated_by, b.to_string());
    svc.work_reports().await;
    let done = svc
        .api
        .get_report(as_office(GetReportRequest {
            report_id: report.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.state, "completed");
    assert_eq!(
        (done.created_by.as_str(), done.updated_by.as_str()),
        (b.to_string().as_str(), b.to_string().as_str())
    );
    let generated = svc.events::<ReportGenerated>().await;
    assert_eq!(generated.len(), 1);
    assert_eq!(generated[0].0, b.to_string());
    assert_eq!(generated[0].1.report_id, report.id);
    let listed = svc
        .api
        .list_reports(as_office(ListReportsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.reports, vec![done]);
}

#[tokio::test]
async fn a_job_started_before_attribution_reports_as_the_system() {
    let svc = service().await;
    let unit = unit(&svc).await;
    let plan = svc
        .api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(plan(unit)),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let report = svc
        .api
        .start_report(as_office(StartReportRequest {
            plan_id: plan.id.clone(),
            period: "2020".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    // As a row written before the columns existed reads.
    sqlx::query("UPDATE reports SET created_by = NULL, updated_by = NULL WHERE id = $1::uuid")
        .bind(&report.id)
        .execute(&svc.pool)
        .await
        .unwrap();
    svc.work_reports().await;
    let generated = svc.events::<ReportGenerated>().await;
    assert_eq!(generated.len(), 1);
    assert_eq!(generated[0].0, "system");
    let done = svc
        .api
        .get_report(as_office(GetReportRequest {
            report_id: report.id,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (done.created_by, done.updated_by),
        (String::new(), String::new())
    );
}
