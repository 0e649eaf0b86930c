//! One report job never stops reporting: figures that do not fit fail their job with a
//! reason the office can act on, a job that panics, hangs or brings the process down at
//! every start is failed after its attempts, later jobs run meanwhile, and readiness
//! names a stuck worker.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cchc_platform::Role;
use cchc_platform::outbox::Outbox;
use cchc_proto::events::v1::{ActivityRecorded, BudgetLineFigures, BudgetSubmitted, UnitCreated};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetReportRequest, Plan, PlanPeriod, Report, StartReportRequest,
};
use cchc_reporting::jobs::{Limits, Worker};
use cchc_reporting::report::Snapshot;
use cchc_reporting::store::Store;
use chrono::{TimeZone, Utc};
use common::*;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// 10^15 VND: what one budget line said in the report that stopped reporting.
const HUGE_LINE: i64 = 1_000_000_000_000_000;

async fn unit(svc: &Service, n: u32) -> Uuid {
    let id = Uuid::from_u128(0x00B0_D6E7_0000 + u128::from(n));
    let at = Utc.with_ymd_and_hms(2020, 1, 2, 0, 0, 0).unwrap();
    svc.apply(&envelope_at(
        "gateway",
        &UnitCreated {
            unit_id: id.to_string(),
            name: format!("Trường THPT số {n}"),
            kind: "high_school".into(),
            parent_id: String::new(),
        },
        at,
    ))
    .await;
    id
}

/// A year of `lines` budget lines of `each` VND planned and spent; the totals are the
/// event's as the activity service computes them (saturating here: the read model
/// holds whatever an event carries).
async fn budget(svc: &Service, unit: Uuid, lines: usize, each: i64) {
    let total = each.saturating_mul(lines as i64);
    let at = Utc.with_ymd_and_hms(2020, 3, 1, 0, 0, 0).unwrap();
    svc.apply(&envelope_at(
        "activity",
        &BudgetSubmitted {
            submission_id: Uuid::new_v4().to_string(),
            unit_id: unit.to_string(),
            year: 2020,
            revision: 1,
            lines: (0..lines)
                .map(|i| BudgetLineFigures {
                    item: format!("Hạng mục {i}"),
                    funding_source: "Ngân sách CCHC".into(),
                    planned_vnd: each,
                    spent_vnd: each,
                })
                .collect(),
            planned_total_vnd: total,
            spent_total_vnd: total,
            ..Default::default()
        },
        at,
    ))
    .await;
}

async fn plan(svc: &Service, symbol: &str, units: &[Uuid]) -> Plan {
    svc.api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(Plan {
                number_symbol: symbol.into(),
                year: 2020,
                title: "Tuyên truyền về công tác Cải cách hành chính năm 2020".into(),
                issuing_body: "Sở Giáo dục và Đào tạo".into(),
                governing_body: "UBND thành phố Hải Phòng".into(),
                place: "Hải Phòng".into(),
                unit_ids: units.iter().map(Uuid::to_string).collect(),
                periods: vec![PlanPeriod {
                    key: "2020".into(),
                    due_date: "2020-12-15".into(),
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

async fn start(svc: &Service, plan: &Plan) -> Report {
    svc.api
        .start_report(as_office(StartReportRequest {
            plan_id: plan.id.clone(),
            period: "2020".into(),
            ..Default::default()
        }))
        .await
        .expect("report started")
        .into_inner()
}

async fn get(svc: &Service, id: &str) -> Report {
    svc.api
        .get_report(as_role(
            Role::Leader,
            GetReportRequest {
                report_id: id.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn snapshot(svc: &Service, id: &str) -> Snapshot {
    let file = svc
        .api
        .export_report(as_office(cchc_proto::reporting::v1::ExportReportRequest {
            report_id: id.into(),
            format: "json".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    serde_json::from_slice(&file.content).unwrap()
}

/// Makes every job waiting to retry due now, as if its backoff had passed.
async fn time_passes(svc: &Service) {
    sqlx::query("UPDATE reports SET not_before = now() WHERE state = 'queued'")
        .execute(&svc.pool)
        .await
        .unwrap();
}

/// A second worker on the same database, with its own limits.
fn worker(svc: &Service, limits: Limits) -> Arc<Worker> {
    Worker::with_limits(
        Store::new(svc.pool.clone(), Outbox::new("reporting")),
        limits,
    )
}

async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn budgets_too_large_to_add_fail_their_job_with_the_reason_and_reporting_goes_on() {
    let svc = service().await;
    // 48 units, each with 200 lines of 10^15 VND: 2 × 10^17 a unit, 9.6 × 10^18 in
    // all, past the 9.22 × 10^18 a 64-bit total can hold.
    let mut units = Vec::new();
    for n in 1..=48 {
        let u = unit(&svc, n).await;
        budget(&svc, u, 200, HUGE_LINE).await;
        units.push(u);
    }
    let normal = unit(&svc, 49).await;
    budget(&svc, normal, 2, 2_500_000).await;
    let huge = plan(&svc, "110/KH-SGDĐT-VP", &units).await;
    let small = plan(&svc, "111/KH-SGDĐT-VP", &[normal]).await;

    let bad = start(&svc, &huge).await;
    let good = start(&svc, &small).await;
    svc.work_reports().await;

    // Retrying the same figures cannot help: failed at the first attempt, saying which
    // figure and where, in Vietnamese first.
    let bad = get(&svc, &bad.id).await;
    assert_eq!(
        (bad.state.as_str(), bad.step.as_str()),
        ("failed", "failed")
    );
    assert!(
        bad.error
            .starts_with("Không lập được báo cáo: tổng kinh phí dự kiến vượt quá"),
        "{}",
        bad.error
    );
    assert!(bad.error.contains("Trường THPT số"), "{}", bad.error);
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM reports WHERE id = $1")
        .bind(bad.id.parse::<Uuid>().unwrap())
        .fetch_one(&svc.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 1);

    // The job requested after it completed, with its figures right.
    let good = get(&svc, &good.id).await;
    assert_eq!(good.state, "completed", "{good:?}");
    let s = snapshot(&svc, &good.id).await;
    assert_eq!(s.budget.figures.planned_vnd, 5_000_000);

    // The largest sum that still fits is added exactly: i64::MAX spread over the units.
    let share = i64::MAX / 48;
    for (i, u) in units.iter().enumerate() {
        let v = if i == 47 {
            i64::MAX - 47 * share
        } else {
            share
        };
        sqlx::query(
            "UPDATE rm_budget SET planned_total_vnd = $2, spent_total_vnd = $2 WHERE unit_id = $1",
        )
        .bind(u)
        .bind(v)
        .execute(&svc.pool)
        .await
        .unwrap();
    }
    let fits = start(&svc, &huge).await;
    svc.work_reports().await;
    let fits = get(&svc, &fits.id).await;
    assert_eq!(fits.state, "completed", "{fits:?}");
    assert_eq!(fits.headline.unwrap().budget_planned_vnd, i64::MAX);
}

#[tokio::test]
async fn counts_too_large_to_add_in_the_database_fail_their_job_with_the_reason() {
    let svc = service().await;
    let u = unit(&svc, 1).await;
    // Two activities whose head counts PostgreSQL cannot add into a bigint.
    for day in ["2020-02-01", "2020-02-02"] {
        svc.apply(&envelope_at(
            "activity",
            &ActivityRecorded {
                activity_id: Uuid::new_v4().to_string(),
                unit_id: u.to_string(),
                kind: "briefing".into(),
                date: day.into(),
                title: "Quán triệt CCHC".into(),
                head_count: i64::MAX / 2 + 1,
                recorded_at: "2020-02-03T00:00:00Z".into(),
                ..Default::default()
            },
            Utc.with_ymd_and_hms(2020, 2, 3, 0, 0, 0).unwrap(),
        ))
        .await;
    }
    let p = plan(&svc, "112/KH-SGDĐT-VP", &[u]).await;
    let r = start(&svc, &p).await;
    svc.work_reports().await;
    let r = get(&svc, &r.id).await;
    assert_eq!(r.state, "failed", "{r:?}");
    assert!(
        r.error
            .starts_with("Không lập được báo cáo: số lượt người tham dự vượt quá"),
        "{}",
        r.error
    );
    assert!(r.error.contains("«Trường THPT số 1»"), "{}", r.error);
}

#[tokio::test]
async fn a_job_that_panics_is_failed_after_its_attempts_and_does_not_block_the_next() {
    let svc = service().await;
    let u = unit(&svc, 1).await;
    budget(&svc, u, 1, 1_000_000).await;
    let p = plan(&svc, "113/KH-SGDĐT-VP", &[u]).await;
    let doomed: Arc<Mutex<Option<Uuid>>> = Arc::default();
    let worker = Worker::with_before_job(
        Store::new(svc.pool.clone(), Outbox::new("reporting")),
        Limits {
            max_attempts: 2,
            ..Limits::default()
        },
        {
            let doomed = doomed.clone();
            Arc::new(move |id| {
                if *doomed.lock().unwrap() == Some(id) {
                    panic!("attempt to add with overflow");
                }
            })
        },
    );
    let first = start(&svc, &p).await;
    *doomed.lock().unwrap() = Some(first.id.parse().unwrap());
    let second = start(&svc, &p).await;

    // The first attempt panics: the job waits to retry, the next one runs.
    assert!(worker.run_once().await.unwrap());
    let r = get(&svc, &first.id).await;
    assert_eq!(
        (r.state.as_str(), r.step.as_str()),
        ("queued", "waiting to retry")
    );
    assert!(r.error.contains("lần thử 1/2"), "{}", r.error);
    assert!(worker.run_once().await.unwrap());
    assert_eq!(get(&svc, &second.id).await.state, "completed");

    // The second attempt panics too: failed, with the reason.
    time_passes(&svc).await;
    assert!(worker.run_once().await.unwrap());
    let r = get(&svc, &first.id).await;
    assert_eq!(r.state, "failed", "{r:?}");
    assert!(
        r.error
            .starts_with("Không lập được báo cáo (lần thử 2/2): lỗi nội bộ"),
        "{}",
        r.error
    );
    assert!(
        r.error.contains("attempt to add with overflow"),
        "{}",
        r.error
    );
    assert!(!worker.run_once().await.unwrap(), "nothing left to do");

    // The worker is whole: the next job completes.
    let third = start(&svc, &p).await;
    assert!(worker.run_once().await.unwrap());
    assert_eq!(get(&svc, &third.id).await.state, "completed");
}

#[tokio::test]
async fn a_job_that_stops_the_process_at_every_start_is_failed_after_its_attempts() {
    let svc = service().await;
    let u = unit(&svc, 1).await;
    budget(&svc, u, 1, 1_000_000).await;
    let p = plan(&svc, "114/KH-SGDĐT-VP", &[u]).await;
    let killer = start(&svc, &p).await;
    let next = start(&svc, &p).await;
    // What three starts that each brought the process down leave behind: each start
    // counted its attempt before the job ran, and the job is still `running` with no
    // worker holding it.
    sqlx::query(
        "UPDATE reports SET state = 'running', percent = 80, step = 'budget', attempts = 3
         WHERE id = $1",
    )
    .bind(killer.id.parse::<Uuid>().unwrap())
    .execute(&svc.pool)
    .await
    .unwrap();
    svc.work_reports().await;
    let r = get(&svc, &killer.id).await;
    assert_eq!(r.state, "failed", "not started a fourth time: {r:?}");
    assert!(
        r.error.starts_with("Không lập được báo cáo: đã thử 3 lần"),
        "{}",
        r.error
    );
    assert!(r.error.contains("«budget», 80 %"), "{}", r.error);
    assert_eq!(get(&svc, &next.id).await.state, "completed");
}

#[tokio::test]
async fn readiness_names_a_stuck_job_until_it_times_out_and_the_queue_goes_on() {
    let svc = service().await;
    let u = unit(&svc, 1).await;
    budget(&svc, u, 1, 1_000_000).await;
    let p = plan(&svc, "115/KH-SGDĐT-VP", &[u]).await;
    let worker = worker(
        &svc,
        Limits {
            max_attempts: 1,
            job_timeout: Duration::from_secs(4),
            stuck_after: Duration::from_secs(1),
        },
    );
    // What /readyz runs.
    let readiness = cchc_platform::health::Readiness::default().check("report_worker", {
        let worker = worker.clone();
        move || std::future::ready(worker.ready())
    });
    assert_eq!(
        worker.ready().unwrap_err(),
        "the report worker is not running"
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.clone().run(stop.clone()));
    eventually(10, "the worker ready", || async { worker.ready().ok() }).await;

    // The budget query waits behind a lock nobody releases: the job hangs at 80 %.
    let mut blocker = svc.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE rm_budget IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .unwrap();
    let stuck = start(&svc, &p).await;
    worker.wake();
    let (ok, checks) = eventually(10, "readiness to report the stuck job", || async {
        let (ok, checks) = readiness.evaluate().await;
        (!ok).then_some((ok, checks))
    })
    .await;
    assert!(!ok);
    let why = checks["report_worker"].as_str().unwrap();
    assert!(
        why.starts_with(&format!("report job {} is stuck", stuck.id)) && why.contains("budget"),
        "{why}"
    );
    // Past its time the attempt is abandoned; it was the last one, so the job fails.
    let r = eventually(15, "the stuck job to fail", || async {
        let r = get(&svc, &stuck.id).await;
        (r.state == "failed").then_some(r)
    })
    .await;
    assert!(
        r.error
            .starts_with("Không lập được báo cáo (lần thử 1/1): quá thời gian cho phép 4 giây"),
        "{}",
        r.error
    );
    eventually(5, "the worker ready again", || async {
        readiness.evaluate().await.0.then_some(())
    })
    .await;

    // With the lock gone the next job completes.
    blocker.rollback().await.unwrap();
    let next = start(&svc, &p).await;
    worker.wake();
    eventually(20, "the next job to complete", || async {
        (get(&svc, &next.id).await.state == "completed").then_some(())
    })
    .await;

    // A worker that stopped is not ready.
    stop.cancel();
    running.await.unwrap();
    assert_eq!(
        worker.ready().unwrap_err(),
        "the report worker is not running"
    );
}
