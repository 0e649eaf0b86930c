//! Period submissions against PostgreSQL: a covered unit signs off a period once, late
//! when after the due date, never before the period begins; the office reopens it with
//! a reason and the unit submits again; each change leaves with its event; a unit sees
//! only its own line; the dashboard names the units late to report.

mod common;

use cchc_platform::{Actor, Role};
use cchc_proto::events::v1::{PeriodReopened, PeriodSubmitted, UnitCreated};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetDashboardRequest, ListPeriodSubmissionsRequest,
    ListPeriodSubmissionsResponse, PeriodSubmission, Plan, PlanPeriod, ReopenPeriodRequest,
    SubmitPeriodRequest,
};
use chrono::{Datelike, TimeZone, Utc};
use common::*;
use tonic::Code;
use uuid::Uuid;

async fn unit(svc: &Service, name: &str) -> Uuid {
    let id = Uuid::new_v4();
    svc.apply(&envelope_at(
        "gateway",
        &UnitCreated {
            unit_id: id.to_string(),
            name: name.into(),
            kind: "high_school".into(),
            parent_id: String::new(),
        },
        Utc.with_ymd_and_hms(2020, 1, 2, 8, 0, 0).unwrap(),
    ))
    .await;
    id
}

/// A plan of `year` with one period, covering `units`.
async fn plan(svc: &Service, year: i32, key: &str, due: &str, units: &[Uuid]) -> Plan {
    svc.api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(Plan {
                number_symbol: format!("{year}/KH-SGDĐT-VP"),
                year,
                title: "Tuyên truyền về công tác Cải cách hành chính".into(),
                issuing_body: "Sở Giáo dục và Đào tạo Hải Phòng".into(),
                unit_ids: units.iter().map(Uuid::to_string).collect(),
                periods: vec![PlanPeriod {
                    key: key.into(),
                    due_date: due.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            idempotency_key: String::new(),
        }))
        .await
        .expect("plan created")
        .into_inner()
}

async fn submit(
    svc: &Service,
    unit: Uuid,
    role: Role,
    plan: &Plan,
    period: &str,
    note: &str,
) -> Result<PeriodSubmission, tonic::Status> {
    svc.api
        .submit_period(from(
            unit,
            role,
            SubmitPeriodRequest {
                plan_id: plan.id.clone(),
                period: period.into(),
                note: note.into(),
            },
        ))
        .await
        .map(|r| r.into_inner())
}

async fn reopen(
    svc: &Service,
    plan: &Plan,
    period: &str,
    unit: Uuid,
    reason: &str,
) -> Result<PeriodSubmission, tonic::Status> {
    svc.api
        .reopen_period(as_office(ReopenPeriodRequest {
            plan_id: plan.id.clone(),
            period: period.into(),
            unit_id: unit.to_string(),
            reason: reason.into(),
        }))
        .await
        .map(|r| r.into_inner())
}

async fn list(
    svc: &Service,
    caller: Uuid,
    role: Role,
    plan: &Plan,
    period: &str,
) -> ListPeriodSubmissionsResponse {
    svc.api
        .list_period_submissions(from(
            caller,
            role,
            ListPeriodSubmissionsRequest {
                plan_id: plan.id.clone(),
                period: period.into(),
            },
        ))
        .await
        .expect("listed")
        .into_inner()
}

#[tokio::test]
async fn a_unit_submits_a_period_once_until_the_office_reopens_it() {
    let svc = service().await;
    let year = cchc_platform::time::today().year();
    let a = unit(&svc, "Trường THPT Ngô Quyền").await;
    let b = unit(&svc, "Trường THPT Lê Quý Đôn").await;
    let outside = unit(&svc, "Trường THPT Trần Phú").await;
    // The whole year, due in January of the next: begun, and not yet due.
    let key = year.to_string();
    let p = plan(&svc, year, &key, &format!("{}-01-15", year + 1), &[a, b]).await;

    let s = submit(&svc, a, Role::Unit, &p, &key, "Số liệu đã rà soát")
        .await
        .unwrap();
    assert_eq!(s.status, "submitted");
    assert_eq!(s.unit_id, a.to_string());
    assert_eq!(s.period, key);
    assert!(!s.late && !s.overdue);
    assert_eq!(s.note, "Số liệu đã rà soát");
    assert_eq!(s.submitted_by, Actor::User(PERSON).to_string());
    assert!(!s.submitted_at.is_empty());

    // Once: a second submission is a conflict, not a second record.
    let again = submit(&svc, a, Role::Unit, &p, &key, "").await.unwrap_err();
    assert_eq!(again.code(), Code::Aborted, "{again:?}");
    assert!(again.message().contains("submitted already"), "{again:?}");

    // Only a covered unit, only for a period of the plan, only a unit's or the office's
    // own staff.
    let refused = submit(&svc, outside, Role::Unit, &p, &key, "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Aborted);
    assert!(refused.message().contains("does not cover"), "{refused:?}");
    let refused = submit(&svc, b, Role::Unit, &p, "2020-H1", "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    let refused = submit(&svc, b, Role::Leader, &p, &key, "")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = submit(&svc, b, Role::Unit, &p, &key, &"x".repeat(2001))
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["note"]);

    // A unit sees its own line only; the office every covered unit.
    let own = list(&svc, b, Role::Unit, &p, &key).await;
    assert_eq!(own.submissions.len(), 1);
    assert_eq!(own.submissions[0].unit_id, b.to_string());
    assert_eq!(own.submissions[0].status, "not_submitted");
    let all = list(&svc, OFFICE, Role::Office, &p, &key).await;
    assert_eq!(
        (all.covered, all.submitted, all.late, all.overdue),
        (2, 1, 0, 0)
    );
    let names: Vec<&str> = all
        .submissions
        .iter()
        .map(|s| s.unit_name.as_str())
        .collect();
    assert_eq!(names, ["Trường THPT Lê Quý Đôn", "Trường THPT Ngô Quyền"]);

    // The office reopens it, saying why; only the office, only once until resubmitted.
    let refused = svc
        .api
        .reopen_period(from(
            a,
            Role::Unit,
            ReopenPeriodRequest {
                plan_id: p.id.clone(),
                period: key.clone(),
                unit_id: a.to_string(),
                reason: "Sửa số liệu".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(
        fields(&reopen(&svc, &p, &key, a, "  ").await.unwrap_err()),
        ["reason"]
    );
    let nothing = reopen(&svc, &p, &key, b, "Sửa").await.unwrap_err();
    assert_eq!(nothing.code(), Code::Aborted);
    let r = reopen(&svc, &p, &key, a, "Số liệu một cửa chưa khớp")
        .await
        .unwrap();
    assert_eq!(r.status, "reopened");
    assert_eq!(r.reopen_reason, "Số liệu một cửa chưa khớp");
    assert_eq!(r.reopened_by, Actor::User(PERSON).to_string());
    assert_eq!(
        reopen(&svc, &p, &key, a, "Lần nữa")
            .await
            .unwrap_err()
            .code(),
        Code::Aborted
    );
    let all = list(&svc, OFFICE, Role::Office, &p, &key).await;
    assert_eq!(all.submitted, 0);

    // Submitted again: standing, and the reopening is cleared.
    let s = submit(&svc, a, Role::Unit, &p, &key, "Đã sửa")
        .await
        .unwrap();
    assert_eq!(
        (s.status.as_str(), s.reopen_reason.as_str()),
        ("submitted", "")
    );
    assert_eq!(
        list(&svc, OFFICE, Role::Office, &p, &key).await.submitted,
        1
    );

    // Every change left with its event, attributed to whoever made it.
    let submitted = svc.events::<PeriodSubmitted>().await;
    assert_eq!(submitted.len(), 2);
    for (actor, e) in &submitted {
        assert_eq!(actor, &Actor::User(PERSON).to_string());
        assert_eq!(
            (e.plan_id.as_str(), e.period.as_str(), e.unit_id.as_str()),
            (p.id.as_str(), key.as_str(), a.to_string().as_str())
        );
        assert!(!e.late);
        assert_eq!(e.due_date, format!("{}-01-15", year + 1));
    }
    let reopened = svc.payloads::<PeriodReopened>().await;
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened[0].reason, "Số liệu một cửa chưa khớp");
    assert_eq!(reopened[0].unit_id, a.to_string());
}

#[tokio::test]
async fn late_submissions_are_marked_and_units_late_to_report_are_named() {
    let svc = service().await;
    let year = cchc_platform::time::today().year();
    let a = unit(&svc, "Trường THPT Ngô Quyền").await;
    let b = unit(&svc, "Trường THPT Lê Quý Đôn").await;
    let c = unit(&svc, "Phòng GD&ĐT quận Hồng Bàng").await;
    // Last year's first half, long past its due date.
    let key = format!("{}-H1", year - 1);
    let past = plan(
        &svc,
        year - 1,
        &key,
        &format!("{}-07-10", year - 1),
        &[a, b, c],
    )
    .await;
    let s = submit(&svc, a, Role::Unit, &past, &key, "").await.unwrap();
    assert!(s.late, "{s:?}");
    assert_eq!(s.due_date, format!("{}-07-10", year - 1));
    // The office's own unit, when covered, submits with the office's own people.
    let office = unit(&svc, "Văn phòng Sở").await;
    let with_office = plan(
        &svc,
        year - 2,
        &format!("{}", year - 2),
        &format!("{}-01-10", year - 1),
        &[office],
    )
    .await;
    let s = submit(
        &svc,
        office,
        Role::Office,
        &with_office,
        &format!("{}", year - 2),
        "",
    )
    .await
    .unwrap();
    assert_eq!(s.status, "submitted");

    let all = list(&svc, OFFICE, Role::Office, &past, &key).await;
    assert_eq!(
        (all.covered, all.submitted, all.late, all.overdue),
        (3, 1, 1, 2)
    );
    let overdue: Vec<&str> = all
        .submissions
        .iter()
        .filter(|s| s.overdue)
        .map(|s| s.unit_name.as_str())
        .collect();
    assert_eq!(
        overdue,
        ["Phòng GD&ĐT quận Hồng Bàng", "Trường THPT Lê Quý Đôn"]
    );

    // Not before the period has begun.
    let next = format!("{}-H1", year + 1);
    let future = plan(&svc, year + 1, &next, &format!("{}-07-10", year + 1), &[a]).await;
    let early = submit(&svc, a, Role::Unit, &future, &next, "")
        .await
        .unwrap_err();
    assert_eq!(early.code(), Code::FailedPrecondition);
    assert_eq!(fields(&early), ["period"]);
    assert!(svc.payloads::<PeriodSubmitted>().await.len() == 2);

    // The dashboard of that year: the period, who submitted, who is late to report.
    let d = svc
        .api
        .get_dashboard(as_role(
            Role::Leader,
            GetDashboardRequest { year: year - 1 },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(d.periods.len(), 1, "{:?}", d.periods);
    let p = &d.periods[0];
    assert_eq!(
        (p.period.as_str(), p.title.as_str()),
        (key.as_str(), &*format!("6 tháng đầu năm {}", year - 1))
    );
    assert_eq!(p.plan_number_symbol, format!("{}/KH-SGDĐT-VP", year - 1));
    assert_eq!((p.covered, p.submitted, p.submitted_late), (3, 1, 1));
    let late: Vec<(&str, &str)> = p
        .late_units
        .iter()
        .map(|u| (u.name.as_str(), u.unit_id.as_str()))
        .collect();
    assert_eq!(
        late,
        [
            ("Phòng GD&ĐT quận Hồng Bàng", c.to_string().as_str()),
            ("Trường THPT Lê Quý Đôn", b.to_string().as_str())
        ]
    );
    // A reopened submission is not standing: its unit is late to report again.
    reopen(&svc, &past, &key, a, "Thiếu số liệu ngân sách")
        .await
        .unwrap();
    let d = svc
        .api
        .get_dashboard(as_role(
            Role::Leader,
            GetDashboardRequest { year: year - 1 },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (d.periods[0].submitted, d.periods[0].late_units.len()),
        (0, 3)
    );
}
