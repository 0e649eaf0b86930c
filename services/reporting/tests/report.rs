//! A fixture year through the read models into reports: four units (one silent, one
//! below target), activities with a correction, one-stop results with a resubmission
//! and by quarters, satisfaction surveys, budget lines, a procedure amendment that makes
//! a posting stale, an abolition and a legal document. Every figure is asserted; two
//! generations give the same bytes in every format; the XLSX and DOCX are read back.

mod common;

use std::io::{Cursor, Read};

use cchc_platform::Role;
use cchc_platform::events::Event;
use cchc_proto::events::v1::{
    ActivityRecorded, BudgetLineFigures, BudgetSubmitted, LegalDocumentIssued,
    OneStopResultSubmitted, PostingConfirmed, PostingStale, ProcedurePublished, ReportGenerated,
    SatisfactionCriterion, SatisfactionSubmitted, UnitCreated, UnitRenamed,
};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{
    ActivityTarget, CreatePlanRequest, ExportReportRequest, GetReportRequest, Plan, PlanPeriod,
    PlanRecipient, Report, StartReportRequest,
};
use cchc_reporting::report::Snapshot;
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use uuid::Uuid;

/// Feeds events with envelope times one minute apart, from 1 June 2020.
struct Feed<'a> {
    svc: &'a Service,
    n: i64,
}

impl Feed<'_> {
    fn next_time(&mut self) -> DateTime<Utc> {
        self.n += 1;
        Utc.with_ymd_and_hms(2020, 6, 1, 0, 0, 0).unwrap() + Duration::minutes(self.n)
    }

    async fn send<E: Event>(&mut self, producer: &str, e: &E) -> DateTime<Utc> {
        let at = self.next_time();
        self.svc.apply(&envelope_at(producer, e, at)).await;
        at
    }

    async fn send_at<E: Event>(&mut self, producer: &str, e: &E, at: DateTime<Utc>) {
        self.svc.apply(&envelope_at(producer, e, at)).await;
    }
}

fn activity(id: Uuid, unit: Uuid, kind: &str, date: &str, heads: i64) -> ActivityRecorded {
    ActivityRecorded {
        activity_id: id.to_string(),
        unit_id: unit.to_string(),
        kind: kind.into(),
        date: date.into(),
        title: format!("{kind} {date}"),
        head_count: heads,
        recorded_at: "2020-06-01T00:00:00Z".into(),
        ..Default::default()
    }
}

fn procedure(code: &str, version: u32, change: &str, effective: &str) -> ProcedurePublished {
    ProcedurePublished {
        code: code.into(),
        version,
        name: format!("Thủ tục {code}"),
        field: "Giáo dục trung học".into(),
        level: "province".into(),
        agency: "Sở Giáo dục và Đào tạo".into(),
        change_type: change.into(),
        decision_number: format!("{version}/QĐ-UBND"),
        effective_date: effective.into(),
    }
}

fn posting(unit: Uuid, code: &str, version: u32, on: &str) -> PostingConfirmed {
    PostingConfirmed {
        unit_id: unit.to_string(),
        code: code.into(),
        version,
        posted_on: on.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn one_stop(
    unit: Uuid,
    period: &str,
    (start, end): (&str, &str),
    revision: u32,
    received: [i64; 3],
    resolved: [i64; 3],
    pending: [i64; 2],
    returned: i64,
) -> OneStopResultSubmitted {
    OneStopResultSubmitted {
        submission_id: Uuid::new_v4().to_string(),
        unit_id: unit.to_string(),
        period: period.into(),
        period_start: start.into(),
        period_end: end.into(),
        revision,
        received_online: received[0],
        received_in_person_or_post: received[1],
        received_carried_over: received[2],
        resolved_early: resolved[0],
        resolved_on_time: resolved[1],
        resolved_late: resolved[2],
        pending_within_time: pending[0],
        pending_overdue: pending[1],
        returned_withdrawn: returned,
        submitted_at: "2020-06-30T00:00:00Z".into(),
        ..Default::default()
    }
}

fn survey(
    unit: Uuid,
    revision: u32,
    responses: i64,
    criteria: &[(&str, i64, i64, i64)],
) -> SatisfactionSubmitted {
    SatisfactionSubmitted {
        submission_id: Uuid::new_v4().to_string(),
        unit_id: unit.to_string(),
        period: "2020-H1".into(),
        period_start: "2020-01-01".into(),
        period_end: "2020-06-30".into(),
        revision,
        responses,
        criteria: criteria
            .iter()
            .map(|(name, v, s, d)| SatisfactionCriterion {
                name: (*name).into(),
                very_satisfied: *v,
                satisfied: *s,
                dissatisfied: *d,
            })
            .collect(),
        ..Default::default()
    }
}

fn budget(unit: Uuid, year: i32, revision: u32, lines: &[(&str, i64, i64)]) -> BudgetSubmitted {
    BudgetSubmitted {
        submission_id: Uuid::new_v4().to_string(),
        unit_id: unit.to_string(),
        year,
        revision,
        lines: lines
            .iter()
            .map(|(item, p, s)| BudgetLineFigures {
                item: (*item).into(),
                funding_source: "Ngân sách CCHC".into(),
                planned_vnd: *p,
                spent_vnd: *s,
            })
            .collect(),
        planned_total_vnd: lines.iter().map(|l| l.1).sum(),
        spent_total_vnd: lines.iter().map(|l| l.2).sum(),
        ..Default::default()
    }
}

struct Units {
    a: Uuid,
    b: Uuid,
    c: Uuid,
    d: Uuid,
}

const H1: (&str, &str) = ("2020-01-01", "2020-06-30");

/// The fixture year. Returns the units and the time of the newest event the first
/// half-year reflects.
async fn fixture(svc: &Service) -> (Units, DateTime<Utc>) {
    let mut f = Feed { svc, n: 0 };
    let u = Units {
        a: Uuid::from_u128(0xA),
        b: Uuid::from_u128(0xB),
        c: Uuid::from_u128(0xC),
        d: Uuid::from_u128(0xD),
    };
    for (id, name, kind) in [
        (u.a, "Trường THPT Chu Văn An", "high_school"),
        (u.b, "Phòng GD&ĐT quận Ba Đình", "district_office"),
        (u.c, "Trường THPT Ngô Quyền", "high_school"),
        (u.d, "Trường THPT Đồ Sơn", "high_school"),
    ] {
        f.send(
            "gateway",
            &UnitCreated {
                unit_id: id.to_string(),
                name: name.into(),
                kind: kind.into(),
                parent_id: String::new(),
            },
        )
        .await;
    }

    // The catalogue: two procedures new in January, one amended in March, one (new in
    // 2019) abolished in May, and a legal document in force from February.
    f.send("catalogue", &procedure("1.000001", 1, "new", "2020-01-10"))
        .await;
    f.send("catalogue", &procedure("1.000002", 1, "new", "2020-01-10"))
        .await;
    f.send("catalogue", &procedure("1.000003", 1, "new", "2019-12-01"))
        .await;
    for (unit, on) in [(u.a, "2020-01-15"), (u.b, "2020-01-20")] {
        f.send("catalogue", &posting(unit, "1.000001", 1, on)).await;
        f.send("catalogue", &posting(unit, "1.000002", 1, on)).await;
    }
    f.send("catalogue", &posting(u.b, "1.000003", 1, "2020-01-20"))
        .await;
    f.send(
        "catalogue",
        &procedure("1.000001", 2, "amended", "2020-03-01"),
    )
    .await;
    for unit in [u.a, u.b] {
        f.send(
            "catalogue",
            &PostingStale {
                unit_id: unit.to_string(),
                code: "1.000001".into(),
                posted_version: 1,
                current_version: 2,
                procedure_name: "Thủ tục 1.000001".into(),
            },
        )
        .await;
    }
    // A re-posts the amended version; B does not.
    f.send("catalogue", &posting(u.a, "1.000001", 2, "2020-03-05"))
        .await;
    f.send(
        "catalogue",
        &procedure("1.000003", 2, "abolished", "2020-05-01"),
    )
    .await;
    f.send(
        "catalogue",
        &LegalDocumentIssued {
            id: Uuid::from_u128(0x1e6a1).to_string(),
            number_symbol: "12/2020/TT-BGDĐT".into(),
            r#type: "Thông tư".into(),
            summary: "Quy định về công tác văn thư".into(),
            issuer: "Bộ Giáo dục và Đào tạo".into(),
            status: "in_force".into(),
            effective_date: "2020-02-01".into(),
            procedure_codes: vec!["1.000001".into()],
        },
    )
    .await;

    // Activities. A: 3 news posts, a briefing (40 people) in H1, a training in H2.
    for date in ["2020-02-10", "2020-03-05", "2020-05-20"] {
        f.send(
            "activity",
            &activity(Uuid::new_v4(), u.a, "news_post", date, 0),
        )
        .await;
    }
    f.send(
        "activity",
        &activity(Uuid::new_v4(), u.a, "briefing", "2020-03-15", 40),
    )
    .await;
    // B: a news post, a briefing of 25, and a news post first dated in July that a
    // correction moved into June.
    f.send(
        "activity",
        &activity(Uuid::new_v4(), u.b, "news_post", "2020-04-01", 0),
    )
    .await;
    f.send(
        "activity",
        &activity(Uuid::new_v4(), u.b, "briefing", "2020-01-20", 25),
    )
    .await;
    let wrong = Uuid::new_v4();
    f.send(
        "activity",
        &activity(wrong, u.b, "news_post", "2020-07-02", 0),
    )
    .await;
    let mut correction = activity(Uuid::new_v4(), u.b, "news_post", "2020-06-20", 0);
    correction.supersedes = wrong.to_string();
    correction.correction_reason = "Sai ngày đăng".into();
    f.send("activity", &correction).await;
    // D: one news post only.
    f.send(
        "activity",
        &activity(Uuid::new_v4(), u.d, "news_post", "2020-03-03", 0),
    )
    .await;

    // One-stop results: A submits H1 and resubmits it; B submits by quarters.
    f.send(
        "activity",
        &one_stop(u.a, "2020-H1", H1, 1, [10, 20, 5], [5, 20, 5], [3, 2], 0),
    )
    .await;
    f.send(
        "activity",
        &one_stop(u.a, "2020-H1", H1, 2, [12, 20, 5], [6, 22, 4], [3, 2], 0),
    )
    .await;
    f.send(
        "activity",
        &one_stop(
            u.b,
            "2020-Q1",
            ("2020-01-01", "2020-03-31"),
            1,
            [2, 8, 4],
            [1, 8, 1],
            [2, 2],
            0,
        ),
    )
    .await;
    f.send(
        "activity",
        &one_stop(
            u.b,
            "2020-Q2",
            ("2020-04-01", "2020-06-30"),
            1,
            [3, 7, 4],
            [2, 9, 0],
            [1, 1],
            1,
        ),
    )
    .await;

    // Satisfaction: A resubmits; B once.
    f.send(
        "activity",
        &survey(
            u.a,
            1,
            50,
            &[
                ("Thái độ phục vụ", 20, 25, 5),
                ("Thời gian giải quyết", 15, 30, 5),
            ],
        ),
    )
    .await;
    f.send(
        "activity",
        &survey(
            u.a,
            2,
            60,
            &[
                ("Thái độ phục vụ", 25, 30, 5),
                ("Thời gian giải quyết", 20, 35, 5),
            ],
        ),
    )
    .await;
    f.send(
        "activity",
        &survey(u.b, 1, 10, &[("Thái độ phục vụ", 5, 4, 1)]),
    )
    .await;

    // Budget: A for 2019 (another year), then 2020 twice; B for 2020.
    f.send(
        "activity",
        &budget(u.a, 2019, 1, &[("Tuyên truyền", 1_000_000, 1_000_000)]),
    )
    .await;
    f.send(
        "activity",
        &budget(u.a, 2020, 1, &[("In tài liệu", 10_000_000, 2_000_000)]),
    )
    .await;
    f.send(
        "activity",
        &budget(
            u.a,
            2020,
            2,
            &[
                ("In tài liệu", 8_000_000, 3_000_000),
                ("Pa nô, áp phích", 4_000_000, 1_000_000),
            ],
        ),
    )
    .await;
    let last_h1 = f
        .send(
            "activity",
            &budget(u.b, 2020, 1, &[("Tuyên truyền", 5_000_000, 5_000_000)]),
        )
        .await;

    // After the half-year: C renamed from August, A's training in September.
    f.send_at(
        "gateway",
        &UnitRenamed {
            unit_id: u.c.to_string(),
            old_name: String::new(),
            new_name: "Trường THPT Ngô Quyền - Hải Phòng".into(),
            effective_date: "2020-08-01".into(),
        },
        Utc.with_ymd_and_hms(2020, 8, 1, 0, 0, 0).unwrap(),
    )
    .await;
    f.send_at(
        "activity",
        &activity(Uuid::new_v4(), u.a, "training", "2020-08-10", 30),
        Utc.with_ymd_and_hms(2020, 9, 1, 0, 0, 0).unwrap(),
    )
    .await;
    (u, last_h1)
}

fn plan(u: &Units, recipient: Uuid) -> Plan {
    let target = |kind: &str, min: i64| ActivityTarget {
        kind: kind.into(),
        min_per_unit: min,
        per: "half_year".into(),
        note: String::new(),
    };
    Plan {
        number_symbol: "109/KH-SGDĐT-VP".into(),
        year: 2020,
        title: "Tuyên truyền về công tác Cải cách hành chính năm 2020".into(),
        issuing_body: "Sở Giáo dục và Đào tạo".into(),
        governing_body: "UBND thành phố Hải Phòng".into(),
        place: "Hải Phòng".into(),
        issued_on: "2020-01-15".into(),
        required_activities: vec![
            target("news_post", 2),
            target("briefing", 1),
            target("posting", 1),
            ActivityTarget {
                per: "year".into(),
                ..target("training", 1)
            },
        ],
        unit_ids: [u.a, u.b, u.c, u.d].iter().map(Uuid::to_string).collect(),
        periods: vec![
            PlanPeriod {
                key: "2020-H1".into(),
                due_date: "2020-06-15".into(),
                ..Default::default()
            },
            PlanPeriod {
                key: "2020".into(),
                due_date: "2020-12-15".into(),
                ..Default::default()
            },
        ],
        recipients: vec![
            PlanRecipient {
                name: "Ban Giám đốc".into(),
                recipient_id: recipient.to_string(),
            },
            PlanRecipient {
                name: "Website Sở".into(),
                recipient_id: String::new(),
            },
            PlanRecipient {
                name: "Lưu: VT, VP".into(),
                recipient_id: String::new(),
            },
        ],
        signer_title: "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC".into(),
        signer_name: "Nguyễn Văn An".into(),
        ..Default::default()
    }
}

async fn start(svc: &Service, plan_id: &str, period: &str) -> Report {
    svc.api
        .start_report(as_office(StartReportRequest {
            plan_id: plan_id.into(),
            period: period.into(),
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

async fn export(svc: &Service, id: &str, format: &str) -> Vec<u8> {
    svc.api
        .export_report(as_office(ExportReportRequest {
            report_id: id.into(),
            format: format.into(),
        }))
        .await
        .unwrap_or_else(|e| panic!("{format}: {e:?}"))
        .into_inner()
        .content
}

/// The fixture's sign-offs of 2020-H1 (due 15 June): A and B on time, D late, C none.
/// Written as the store keeps them, so that they can be on time in 2020.
async fn submissions(svc: &Service, plan_id: &str, u: &Units) {
    for (unit, at, late) in [
        (u.a, "2020-06-10T03:00:00Z", false),
        (u.b, "2020-06-12T03:00:00Z", false),
        (u.d, "2020-06-20T03:00:00Z", true),
    ] {
        sqlx::query(
            "INSERT INTO period_submissions (plan_id, period_key, unit_id, submitted_at, submitted_by, late)
             VALUES ($1::uuid, '2020-H1', $2, $3::timestamptz, $4, $5)",
        )
        .bind(plan_id)
        .bind(unit)
        .bind(at)
        .bind(format!("user:{PERSON}"))
        .bind(late)
        .execute(&svc.pool)
        .await
        .unwrap();
    }
}

async fn generate(svc: &Service, plan_id: &str, period: &str) -> (Report, Snapshot) {
    let r = start(svc, plan_id, period).await;
    assert_eq!(r.state, "queued");
    assert_eq!(r.percent, 0);
    svc.work_reports().await;
    let r = get(svc, &r.id).await;
    assert_eq!(r.state, "completed", "{r:?}");
    assert_eq!(r.percent, 100);
    let json = export(svc, &r.id, "json").await;
    (
        r,
        serde_json::from_slice(&json).expect("the JSON export is the snapshot"),
    )
}

fn docx_text(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .expect("the document part")
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// The paragraphs' texts, in order: the runs of each `<w:p>` joined.
fn paragraphs(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    for p in xml.split("<w:p ").skip(1) {
        let p = p.split("</w:p>").next().unwrap_or("");
        let mut text = String::new();
        for t in p.split("<w:t").skip(1) {
            if let Some((_, rest)) = t.split_once('>')
                && let Some((content, _)) = rest.split_once("</w:t>")
            {
                text.push_str(content);
            }
        }
        if !text.is_empty() {
            out.push(
                text.replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\""),
            );
        }
    }
    out
}

#[tokio::test]
async fn the_fixture_year_in_figures() {
    let svc = service().await;
    let (u, last_h1) = fixture(&svc).await;
    let recipient = Uuid::new_v4();
    let p = svc
        .api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(plan(&u, recipient)),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    submissions(&svc, &p.id, &u).await;

    let (r, s) = generate(&svc, &p.id, "2020-H1").await;
    // The "as of" time is the newest event the half-year reflects, not the later ones.
    assert_eq!(s.as_of, "2020-06-01T00:38:00.000000Z");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(&s.as_of).unwrap(),
        last_h1
    );
    assert_eq!(r.as_of, s.as_of);

    // Units, in Vietnamese order; C with the name it had at the end of June.
    let names: Vec<&str> = s.units.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Phòng GD&ĐT quận Ba Đình",
            "Trường THPT Chu Văn An",
            "Trường THPT Đồ Sơn",
            "Trường THPT Ngô Quyền"
        ]
    );
    let unit = |id: Uuid| {
        s.units
            .iter()
            .find(|x| x.unit_id == id.to_string())
            .unwrap()
    };
    let count = |id: Uuid, kind: &str| {
        unit(id)
            .activities
            .iter()
            .find(|k| k.kind == kind)
            .unwrap()
            .count
    };

    // Activities by kind and unit; the correction counts, the record it replaced not.
    let o = &s.overall;
    assert_eq!(o.units_covered, 4);
    assert_eq!(o.units_reported, 3);
    assert_eq!(o.units_silent, 1);
    assert_eq!(o.silent_units[0].name, "Trường THPT Ngô Quyền");
    assert_eq!(o.units_late, 1);
    assert!(unit(u.d).submitted_late && !unit(u.a).submitted_late);
    assert_eq!(unit(u.a).submitted_at, "2020-06-10T03:00:00.000000Z");
    assert_eq!(o.activities_total, 8);
    assert_eq!(o.head_count_total, 65);
    assert_eq!(o.corrections, 1);
    let kind = |k: &str| o.by_kind.iter().find(|x| x.kind == k).unwrap().count;
    assert_eq!(kind("news_post"), 6);
    assert_eq!(kind("briefing"), 2);
    assert_eq!(kind("training"), 0, "the training was in August");
    assert_eq!(count(u.a, "news_post"), 3);
    assert_eq!(count(u.a, "briefing"), 1);
    assert_eq!(unit(u.a).head_count, 40);
    assert_eq!(count(u.b, "news_post"), 2);
    assert_eq!(count(u.b, "briefing"), 1);
    assert_eq!(unit(u.b).activities_total, 3);
    assert_eq!(count(u.d, "news_post"), 1);
    assert_eq!(unit(u.c).activities_total, 0);
    assert!(!unit(u.c).reported);

    // Targets: at least 2 news posts, 1 briefing and 1 posting per unit per half-year,
    // 1 training a year.
    assert_eq!(s.targets.len(), 4);
    assert_eq!(s.targets[0].kind, "news_post");
    assert_eq!(s.targets[0].required, 2);
    assert_eq!(s.targets[0].units_meeting, 2);
    assert_eq!(s.targets[0].units_below, 2);
    assert_eq!(s.targets[1].kind, "briefing");
    assert_eq!(s.targets[1].units_meeting, 2);
    assert_eq!(s.targets[1].units_below, 2);
    assert_eq!(o.units_below_target, 2);
    // Posting is met by confirming postings: A and B posted in January, with no
    // activity of that kind; C and D did not post.
    let posting = &s.targets[2];
    assert_eq!(
        (
            posting.kind.as_str(),
            posting.required,
            posting.units_meeting,
            posting.units_below
        ),
        ("posting", 1, 2, 2)
    );
    // A yearly target at mid-year is progress toward the year, not missed: A's
    // training is in August.
    let training = &s.targets[3];
    assert!(training.progress);
    assert_eq!(
        (
            training.required,
            training.units_meeting,
            training.units_below,
            training.units_in_progress
        ),
        (1, 0, 0, 4)
    );
    let below: Vec<&str> = o
        .below_target_units
        .iter()
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(below, ["Trường THPT Đồ Sơn", "Trường THPT Ngô Quyền"]);
    assert_eq!(unit(u.d).below_target, ["news_post", "briefing", "posting"]);
    assert!(unit(u.a).below_target.is_empty());

    // Catalogue currency at the end of June.
    let c = &s.catalogue;
    assert_eq!(c.procedures_new, 2);
    assert_eq!(c.procedures_amended, 1);
    assert_eq!(c.procedures_replaced, 0);
    assert_eq!(c.procedures_abolished, 1);
    assert_eq!(c.changes.len(), 4);
    assert_eq!(c.changes[2].code, "1.000001");
    assert_eq!(c.changes[2].change_type, "amended");
    assert_eq!(c.changes[2].effective_date, "2020-03-01");
    assert_eq!(c.procedures_in_force, 2);
    assert_eq!(c.legal_documents.len(), 1);
    assert_eq!(c.legal_documents[0].number_symbol, "12/2020/TT-BGDĐT");
    assert_eq!(unit(u.a).postings_current, 2);
    assert_eq!(unit(u.a).postings_stale, 0);
    assert_eq!(unit(u.b).postings_current, 1);
    assert_eq!(unit(u.b).postings_stale, 1, "B still shows version 1");
    assert_eq!(c.postings_current, 3);
    assert_eq!(c.postings_stale, 1);
    assert_eq!(c.units_with_stale, 1);
    assert_eq!(c.stale_postings.len(), 1);
    assert_eq!(c.stale_postings[0].unit_name, "Phòng GD&ĐT quận Ba Đình");
    assert_eq!(c.stale_postings[0].code, "1.000001");
    assert_eq!(c.stale_postings[0].posted_version, 1);
    assert_eq!(c.stale_postings[0].current_version, 2);

    // One-stop: A's resubmission replaces its first; B's quarters make its half-year.
    let a = unit(u.a).one_stop.as_ref().unwrap();
    assert_eq!(a.periods, ["2020-H1"]);
    assert_eq!(a.received_total, 37);
    assert_eq!(a.resolved_total, 32);
    assert_eq!(a.on_time_rate, Some(87.5));
    let b = unit(u.b).one_stop.as_ref().unwrap();
    assert_eq!(b.periods, ["2020-Q1", "2020-Q2"]);
    assert_eq!(b.received_online, 5);
    assert_eq!(b.received_in_person_or_post, 15);
    assert_eq!(
        b.received_carried_over, 4,
        "carried over into the first quarter"
    );
    assert_eq!(b.resolved_early, 3);
    assert_eq!(b.resolved_on_time, 17);
    assert_eq!(b.resolved_late, 1);
    assert_eq!(
        b.pending_within_time, 1,
        "pending at the end of the second quarter"
    );
    assert_eq!(b.pending_overdue, 1);
    assert_eq!(b.returned_withdrawn, 1);
    assert_eq!(b.on_time_rate, Some(95.2));
    let t = &s.one_stop.figures;
    assert_eq!(s.one_stop.units_submitted, 2);
    assert_eq!(t.received_total, 61);
    assert_eq!(t.resolved_early, 9);
    assert_eq!(t.resolved_on_time, 39);
    assert_eq!(t.resolved_late, 5);
    assert_eq!(t.resolved_total, 53);
    assert_eq!(t.pending_total, 7);
    assert_eq!(t.pending_overdue, 3);
    assert_eq!(t.on_time_rate, Some(90.6));

    // Satisfaction: only A's second survey counts.
    let sa = unit(u.a).satisfaction.as_ref().unwrap();
    assert_eq!(sa.responses, 60);
    assert_eq!(sa.rate, Some(91.7));
    let st = &s.satisfaction;
    assert_eq!(st.units_submitted, 2);
    assert_eq!(st.figures.responses, 70);
    assert_eq!(st.figures.very_satisfied, 50);
    assert_eq!(st.figures.satisfied, 69);
    assert_eq!(st.figures.dissatisfied, 11);
    assert_eq!(st.figures.rate, Some(91.5));
    assert_eq!(st.criteria.len(), 2);
    assert_eq!(st.criteria[0].name, "Thái độ phục vụ");
    assert_eq!(st.criteria[0].rate, Some(91.4));
    assert_eq!(st.criteria[1].name, "Thời gian giải quyết");
    assert_eq!(st.criteria[1].rate, Some(91.7));

    // Budget for 2020: A's second submission and B's; 2019 does not count.
    assert_eq!(s.budget.year, 2020);
    assert_eq!(s.budget.units_submitted, 2);
    assert_eq!(s.budget.figures.planned_vnd, 17_000_000);
    assert_eq!(s.budget.figures.spent_vnd, 9_000_000);
    assert_eq!(s.budget.figures.execution_rate, Some(52.9));
    assert_eq!(unit(u.a).budget.as_ref().unwrap().planned_vnd, 12_000_000);

    // The narrative says it in the office's words.
    assert_eq!(
        s.narrative[0],
        "Trong 6 tháng đầu năm 2020, 3/4 đơn vị đã báo cáo kết quả thực hiện Kế hoạch số 109/KH-SGDĐT-VP (trong đó 1 đơn vị nộp sau hạn ngày 15 tháng 6 năm 2020); 1 đơn vị chưa báo cáo (Trường THPT Ngô Quyền)."
    );
    assert_eq!(
        s.narrative[1],
        "Các đơn vị đã tổ chức tổng số 8 hoạt động tuyên truyền về cải cách hành chính với 65 lượt người tham dự, gồm: 2 buổi quán triệt, phổ biến; 6 tin bài trên trang thông tin điện tử. Trong đó 1 hoạt động đã được đơn vị điều chỉnh, số liệu tính theo bản điều chỉnh."
    );
    let text = s.narrative.join("\n");
    assert!(text.contains("2 thủ tục công bố mới, 1 thủ tục sửa đổi, bổ sung, 1 thủ tục bãi bỏ"));
    assert!(text.contains(
        "3 lượt niêm yết đúng phiên bản hiện hành và 1 lượt niêm yết chưa cập nhật tại 1 đơn vị"
    ));
    assert!(text.contains("tiếp nhận 61 hồ sơ"));
    assert!(
        text.contains("mỗi năm đối với mỗi đơn vị (tính đến hết kỳ): 0/4 đơn vị đã đạt, 4 đơn vị đang thực hiện."),
        "{text}"
    );
    assert!(text.contains("tỷ lệ giải quyết đúng hạn đạt 90,6%"));
    assert!(text.contains("tỷ lệ hài lòng và rất hài lòng đạt 91,5%"));
    assert!(text.contains("dự toán 17.000.000 đồng, đã chi 9.000.000 đồng (52,9% dự toán)"));
    assert!(
        text.contains("Các đơn vị chưa đạt chỉ tiêu: Trường THPT Đồ Sơn, Trường THPT Ngô Quyền.")
    );
    assert_eq!(r.summary, s.narrative.join("\n\n"));
    let h = r.headline.unwrap();
    assert_eq!(h.units_reported, 3);

    // A unit counts as having reported by its submission, whatever it sent: with D's
    // reopened, D is silent although its figures are all there.
    svc.api
        .reopen_period(as_office(cchc_proto::reporting::v1::ReopenPeriodRequest {
            plan_id: p.id.clone(),
            period: "2020-H1".into(),
            unit_id: u.d.to_string(),
            reason: "Số liệu ngân sách chưa khớp".into(),
        }))
        .await
        .unwrap();
    let (_, reopened) = generate(&svc, &p.id, "2020-H1").await;
    let o = &reopened.overall;
    assert_eq!((o.units_reported, o.units_silent, o.units_late), (2, 2, 0));
    let silent: Vec<&str> = o.silent_units.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(silent, ["Trường THPT Đồ Sơn", "Trường THPT Ngô Quyền"]);
    let d = reopened
        .units
        .iter()
        .find(|x| x.unit_id == u.d.to_string())
        .unwrap();
    assert!(!d.reported && d.activities_total > 0, "{d:?}");
    assert_eq!(h.on_time_rate, Some(90.6));

    // The document header and signature: dated the period's last day by default (the
    // data's last entry was on 1 June), signed by the plan's signer.
    assert_eq!(s.document.number_symbol, "     /BC-SGDĐT-VP");
    assert_eq!(
        s.document.place_and_date,
        "Hải Phòng, ngày 30 tháng 6 năm 2020"
    );
    assert_eq!(s.document.signer_name, "Nguyễn Văn An");
    // What the request says wins: number, date, title and signer.
    let asked = svc
        .api
        .start_report(as_office(StartReportRequest {
            plan_id: p.id.clone(),
            period: "2020-H1".into(),
            number_symbol: "125/BC-SGDĐT-VP".into(),
            report_date: "2020-07-05".into(),
            title: "Kết quả tuyên truyền CCHC 6 tháng đầu năm 2020".into(),
            signer_title: "GIÁM ĐỐC".into(),
            signer_name: "Trần Thị Hoa".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    svc.work_reports().await;
    let asked: Snapshot = serde_json::from_slice(&export(&svc, &asked.id, "json").await).unwrap();
    let d = &asked.document;
    assert_eq!(
        (
            d.number_symbol.as_str(),
            d.place_and_date.as_str(),
            d.title.as_str(),
            d.signer_title.as_str(),
            d.signer_name.as_str()
        ),
        (
            "125/BC-SGDĐT-VP",
            "Hải Phòng, ngày 05 tháng 7 năm 2020",
            "Kết quả tuyên truyền CCHC 6 tháng đầu năm 2020",
            "GIÁM ĐỐC",
            "Trần Thị Hoa"
        )
    );
    assert_eq!(
        s.document.title,
        "Kết quả thực hiện Kế hoạch số 109/KH-SGDĐT-VP 6 tháng đầu năm 2020"
    );
    assert_eq!(s.recipients, ["Ban Giám đốc", "Website Sở", "Lưu: VT, VP"]);

    // The year: C now carries its new name; targets double; A's training counts.
    let (_, y) = generate(&svc, &p.id, "2020").await;
    assert_eq!(y.as_of, "2020-09-01T00:00:00.000000Z");
    assert_eq!(y.targets[0].required, 4);
    assert_eq!(y.overall.activities_total, 9);
    assert!(
        y.units
            .iter()
            .any(|x| x.name == "Trường THPT Ngô Quyền - Hải Phòng")
    );
    assert_eq!(y.overall.units_below_target, 4);

    // The event names where to fetch it, for whom, and as of when.
    let events: Vec<ReportGenerated> = svc.payloads().await;
    // The half-year, as asked, with D reopened, the year.
    assert_eq!(events.len(), 4);
    let e = &events[0];
    assert_eq!(e.report_id, r.id);
    assert_eq!(e.plan_id, p.id);
    assert_eq!(e.plan_number_symbol, "109/KH-SGDĐT-VP");
    assert_eq!(e.period, "2020-H1");
    assert_eq!(e.title, s.document.title);
    assert_eq!(e.recipient_ids, [recipient.to_string()]);
    assert_eq!(e.as_of, s.as_of);
    assert_eq!(
        e.export_paths,
        ["json", "csv", "xlsx", "docx"].map(|f| format!("/v1/reports/{}/export?format={f}", r.id))
    );
    assert_eq!(r.export_paths, e.export_paths);
}

#[tokio::test]
async fn exports_are_reproducible_and_read_back() {
    let svc = service().await;
    let (u, last) = fixture(&svc).await;
    let stamp = last.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let p = svc
        .api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(plan(&u, Uuid::new_v4())),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    submissions(&svc, &p.id, &u).await;
    let (first, _) = generate(&svc, &p.id, "2020-H1").await;
    // Time passes between the two generations: no clock may show in the bytes.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (second, _) = generate(&svc, &p.id, "2020-H1").await;
    assert_ne!(first.id, second.id);
    for format in ["json", "csv", "xlsx", "docx"] {
        let a = export(&svc, &first.id, format).await;
        let b = export(&svc, &second.id, format).await;
        assert!(!a.is_empty());
        assert!(a == b, "{format} differs between two generations");
    }

    // The stored JSON is the whole snapshot: rendering it again, any number of times,
    // gives the stored bytes of every format; zip entries carry no clock time.
    let snapshot: Snapshot =
        serde_json::from_slice(&export(&svc, &first.id, "json").await).unwrap();
    for format in ["json", "csv", "xlsx", "docx"] {
        let stored = export(&svc, &first.id, format).await;
        for _ in 0..3 {
            let again = cchc_reporting::report::export::render(&snapshot, format).unwrap();
            assert!(again.content == stored, "{format} renders differently");
        }
        if format == "xlsx" || format == "docx" {
            let mut zip = zip::ZipArchive::new(Cursor::new(stored)).unwrap();
            for i in 0..zip.len() {
                let entry = zip.by_index(i).unwrap();
                let t = entry.last_modified().unwrap_or_default();
                assert_eq!(
                    (t.year(), t.month(), t.day()),
                    (1980, 1, 1),
                    "{format}: {} carries a time",
                    entry.name()
                );
            }
        }
    }

    // CSV: a row per unit and the total.
    let csv = String::from_utf8(export(&svc, &first.id, "csv").await).unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("a byte-order mark");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 5, "a row per unit, no total row");
    assert!(rows[0].starts_with(
        "unit_id,unit_name,unit_kind,reported,submitted_at,submitted_late,activities_total"
    ));
    assert!(rows[2].contains("Trường THPT Chu Văn An"));
    assert!(rows[2].contains(",87.5,"), "{}", rows[2]);

    // XLSX: a sheet per section, read back cell by cell.
    use calamine::{Data, Reader, Xlsx};
    let bytes = export(&svc, &first.id, "xlsx").await;
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "Tổng hợp",
            "Hoạt động",
            "Chỉ tiêu",
            "Chưa báo cáo",
            "Thủ tục hành chính",
            "Văn bản QPPL",
            "Niêm yết",
            "Niêm yết chưa cập nhật",
            "Một cửa",
            "Hài lòng",
            "Tiêu chí hài lòng",
            "Kinh phí"
        ]
    );
    let cell = |r: &calamine::Range<Data>, row: u32, col: u32| -> Data {
        r.get_value((row, col)).cloned().unwrap_or(Data::Empty)
    };
    // Every sheet says what it is above its table: issuing body, report, plan and
    // period, and as of when (Vietnam's time); the table starts below a blank row.
    const TOP: u32 = 5;
    let summary = wb.worksheet_range("Tổng hợp").unwrap();
    assert_eq!(
        cell(&summary, 0, 0),
        Data::String("SỞ GIÁO DỤC VÀ ĐÀO TẠO".into())
    );
    assert!(
        matches!(cell(&summary, 1, 0), Data::String(s) if s.starts_with("Báo cáo: Kết quả thực hiện"))
    );
    assert_eq!(
        cell(&summary, 2, 0),
        Data::String("Kế hoạch số 109/KH-SGDĐT-VP, kỳ báo cáo 6 tháng đầu năm 2020".into())
    );
    assert_eq!(
        cell(&summary, 3, 0),
        Data::String("Số liệu tính đến 01/06/2020 07:38 (giờ Việt Nam)".into())
    );
    assert_eq!(cell(&summary, TOP, 0), Data::String("Nội dung".into()));
    assert_eq!(
        cell(&summary, TOP + 4, 0),
        Data::String("Số đơn vị đã báo cáo".into())
    );
    assert_eq!(cell(&summary, TOP + 4, 1), Data::Float(3.0));
    assert_eq!(
        cell(&summary, TOP + 5, 0),
        Data::String("Trong đó nộp sau hạn".into())
    );
    assert_eq!(cell(&summary, TOP + 5, 1), Data::Float(1.0));
    assert_eq!(
        cell(&summary, TOP + 18, 0),
        Data::String("Tỷ lệ giải quyết đúng hạn".into())
    );
    assert_eq!(cell(&summary, TOP + 18, 1), Data::Float(0.906));
    assert!(matches!(cell(&summary, TOP + 23, 0), Data::String(s) if s == "Tóm tắt"));
    assert!(
        matches!(cell(&summary, TOP + 24, 0), Data::String(s) if s.starts_with("Trong 6 tháng đầu năm 2020, 3/4 đơn vị"))
    );
    let acts = wb.worksheet_range("Hoạt động").unwrap();
    assert_eq!(cell(&acts, TOP, 1), Data::String("Đơn vị".into()));
    assert_eq!(
        cell(&acts, TOP, 3),
        Data::String("Tin bài đăng trên trang thông tin điện tử".into())
    );
    assert_eq!(
        cell(&acts, TOP + 2, 1),
        Data::String("Trường THPT Chu Văn An".into())
    );
    assert_eq!(cell(&acts, TOP + 2, 3), Data::Float(3.0));
    assert_eq!(cell(&acts, TOP + 5, 1), Data::String("TỔNG CỘNG".into()));
    assert_eq!(cell(&acts, TOP + 5, 3), Data::Float(6.0));
    assert_eq!(cell(&acts, TOP + 5, 11), Data::Float(8.0));
    let one_stop = wb.worksheet_range("Một cửa").unwrap();
    assert_eq!(
        cell(&one_stop, TOP + 3, 0),
        Data::String("TỔNG CỘNG".into())
    );
    assert_eq!(cell(&one_stop, TOP + 3, 4), Data::Float(61.0));
    assert_eq!(cell(&one_stop, TOP + 3, 12), Data::Float(0.906));
    let stale = wb.worksheet_range("Niêm yết chưa cập nhật").unwrap();
    assert_eq!(cell(&stale, TOP + 1, 1), Data::String("1.000001".into()));
    let money = wb.worksheet_range("Kinh phí").unwrap();
    assert_eq!(cell(&money, TOP + 3, 1), Data::Float(17_000_000.0));
    // Header rows are frozen and figures carry number formats (checked in the XML,
    // which calamine does not expose).
    let mut zip = zip::ZipArchive::new(Cursor::new(export(&svc, &first.id, "xlsx").await)).unwrap();
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet2.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert!(
        sheet.contains(
            r#"<pane ySplit="6" topLeftCell="A7" activePane="bottomLeft" state="frozen"/>"#
        ),
        "{sheet}"
    );
    // Printed: the header row on every page, the plan at the top, "Trang x/y" below,
    // wide sheets in landscape, a wrapped header row given its height.
    assert!(
        sheet.contains(r#"<oddFooter>&amp;CTrang &amp;P/&amp;N</oddFooter>"#),
        "{sheet}"
    );
    assert!(sheet.contains("Kế hoạch số 109/KH-SGDĐT-VP · 6 tháng đầu năm 2020</oddHeader>"));
    assert!(sheet.contains(r#"orientation="landscape""#));
    assert!(sheet.contains(r#"<row r="6" spans="1:14" ht="#), "{sheet}");
    let mut book = String::new();
    zip.by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut book)
        .unwrap();
    assert!(book.contains("_xlnm.Print_Titles"), "{book}");
    let mut styles = String::new();
    zip.by_name("xl/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    assert!(styles.contains(r##"formatCode="#,##0""##));
    assert!(styles.contains(r#"formatCode="0.0%""#));
    assert!(styles.contains("Times New Roman"));
    let mut core = String::new();
    zip.by_name("docProps/core.xml")
        .unwrap()
        .read_to_string(&mut core)
        .unwrap();
    assert!(core.contains(&stamp), "{core}");

    // DOCX: the Decree 30 layout, paragraph by paragraph.
    let docx = export(&svc, &first.id, "docx").await;
    let xml = docx_text(&docx);
    let ps = paragraphs(&xml);
    // The procedures table names the decision that announced each change.
    let at = ps
        .iter()
        .position(|p| p == "Quyết định công bố")
        .expect("the procedures table's decision column");
    assert!(
        ps[at..].iter().any(|p| p == "2/QĐ-UBND"),
        "{:?}",
        &ps[at..at + 12]
    );
    assert_eq!(
        ps[..8],
        [
            "UBND THÀNH PHỐ HẢI PHÒNG",
            "SỞ GIÁO DỤC VÀ ĐÀO TẠO",
            "________",
            "Số:      /BC-SGDĐT-VP",
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "Độc lập - Tự do - Hạnh phúc",
            "______________________",
            "Hải Phòng, ngày 30 tháng 6 năm 2020",
        ]
    );
    assert_eq!(ps[8], "BÁO CÁO");
    assert_eq!(
        ps[9],
        "Kết quả thực hiện Kế hoạch số 109/KH-SGDĐT-VP 6 tháng đầu năm 2020"
    );
    let at = |s: &str| {
        ps.iter()
            .position(|p| p == s)
            .unwrap_or_else(|| panic!("no paragraph {s:?} in {ps:#?}"))
    };
    assert!(at("I. KẾT QUẢ CHUNG") < at("II. HOẠT ĐỘNG TUYÊN TRUYỀN CẢI CÁCH HÀNH CHÍNH"));
    assert!(
        ps.iter()
            .any(|p| p.starts_with("Trong 6 tháng đầu năm 2020, 3/4 đơn vị"))
    );
    assert!(at("VI. ĐƠN VỊ CHƯA BÁO CÁO") < at("1. Trường THPT Ngô Quyền"));
    // Tables carry the figures.
    let row = at("Tin bài đăng trên trang thông tin điện tử");
    assert_eq!(ps[row + 1], "6");
    let total = at("Tổng số hồ sơ tiếp nhận");
    assert_eq!(ps[total + 1], "61");
    let rate = at("Tỷ lệ giải quyết đúng hạn");
    assert_eq!(ps[rate + 1], "90,6%");
    // Recipients at the end, then the signature.
    let n = at("Nơi nhận:");
    assert_eq!(
        ps[n + 1..n + 4],
        ["- Ban Giám đốc;", "- Website Sở;", "- Lưu: VT, VP."]
    );
    assert_eq!(
        ps[n + 4..],
        ["KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC", "Nguyễn Văn An"]
    );
    assert!(
        xml.contains("w:w=\"11906\"") && xml.contains("w:h=\"16838\""),
        "A4"
    );
    let mut zip = zip::ZipArchive::new(Cursor::new(docx.clone())).unwrap();
    let mut styles = String::new();
    zip.by_name("word/styles.xml")
        .unwrap()
        .read_to_string(&mut styles)
        .unwrap();
    assert!(styles.contains("Times New Roman"));
    let mut core = String::new();
    zip.by_name("docProps/core.xml")
        .unwrap()
        .read_to_string(&mut core)
        .unwrap();
    assert!(core.contains(&stamp), "{core}");

    // What docx-rs cannot say, said on the package: every part compressed, each
    // bordered table's header row repeated on every page, the issuing body as author.
    for i in 0..zip.len() {
        let part = zip.by_index(i).unwrap();
        if !part.is_dir() {
            assert_eq!(
                part.compression(),
                zip::CompressionMethod::Deflated,
                "{}",
                part.name()
            );
        }
    }
    assert!(
        core.contains("<dc:creator>Sở Giáo dục và Đào tạo</dc:creator>"),
        "{core}"
    );
    assert!(core.contains("<dc:title>Báo cáo kết quả thực hiện Kế hoạch số 109/KH-SGDĐT-VP 6 tháng đầu năm 2020</dc:title>"), "{core}");
    assert!(
        xml.matches("<w:tblHeader />").count() >= 5,
        "header rows repeat"
    );
    assert!(
        xml.contains("<w:titlePg />"),
        "no page number on the first page"
    );

    // LibreOffice (installed by `.ci/run`) opens both documents and converts them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.docx"), &docx).unwrap();
    let xlsx = export(&svc, &first.id, "xlsx").await;
    std::fs::write(dir.path().join("r.xlsx"), &xlsx).unwrap();
    // The workbook printed as well, under a name of its own (its PDF beside the DOCX's).
    std::fs::write(dir.path().join("bang.xlsx"), &xlsx).unwrap();
    // 76 is UTF-8 in LibreOffice's CSV filter options.
    for (file, to) in [
        ("r.docx", "pdf"),
        ("r.xlsx", "csv:Text - txt - csv (StarCalc):44,34,76"),
        ("bang.xlsx", "pdf"),
    ] {
        let out = std::process::Command::new("soffice")
            .args(["--headless", "--convert-to", to, "--outdir"])
            .arg(dir.path())
            .arg(dir.path().join(file))
            .env("HOME", dir.path())
            .output()
            .expect("LibreOffice (soffice) is installed");
        assert!(out.status.success(), "{out:?}");
    }
    let csv = std::fs::read_to_string(dir.path().join("r.csv")).unwrap();
    assert!(csv.contains("Số đơn vị đã báo cáo"), "{csv}");
    // The DOCX as printed: more than one page, no number on the first, the number at
    // the top of each later one.
    let pdf = dir.path().join("r.pdf");
    let pages = pdf_page_texts(&pdf);
    assert!(pages.len() >= 2, "{} pages", pages.len());
    assert!(pages[0].contains("BÁO CÁO"), "{}", pages[0]);
    assert!(!pages[0].trim_start().starts_with('1'), "{}", pages[0]);
    assert!(
        pages.iter().all(|p| !has_iso_date(p)),
        "dates in the DOCX are dd/mm/yyyy: {pages:#?}"
    );
    for (i, page) in pages.iter().enumerate().skip(1) {
        assert_eq!(
            page.split_whitespace().next(),
            Some((i + 1).to_string().as_str()),
            "page {} begins with its number: {page}",
            i + 1
        );
    }
    // The workbook as printed: each of its twelve sheets on A4, fitted to the page's
    // width — one page each for a province of four units, but the summary, whose
    // narrative runs to a second page that repeats its header row. Every page is headed
    // by the issuing body and the plan and numbered at the foot (LibreOffice counts
    // the pages of the whole workbook); each sheet's first page identifies it.
    let pages = pdf_page_texts(&dir.path().join("bang.pdf"));
    assert_eq!(pages.len(), 13, "{pages:#?}");
    for (i, page) in pages.iter().enumerate() {
        for wanted in [
            "Sở Giáo dục và Đào tạo",
            "Kế hoạch số 109/KH-SGDĐT-VP · 6 tháng đầu năm 2020",
            &format!("Trang {}/13", i + 1),
        ] {
            assert!(
                page.contains(wanted),
                "page {}: no {wanted:?}\n{page}",
                i + 1
            );
        }
        let first_of_its_sheet = i != 1;
        assert_eq!(
            page.contains("Số liệu tính đến 01/06/2020"),
            first_of_its_sheet,
            "page {}: {page}",
            i + 1
        );
        // Dates as people write them, statuses in words: no ISO date, no code.
        assert!(
            !has_iso_date(page) && !page.contains("in_force"),
            "page {}: {page}",
            i + 1
        );
    }
    assert!(
        pages[1].contains("Nội dung") && pages[1].contains("Số liệu"),
        "{}",
        pages[1]
    );
    assert!(pages[4].contains("Trường THPT Ngô Quyền"), "{}", pages[4]);
    assert!(pages[5].contains("10/01/2020"), "{}", pages[5]);
    assert!(pages[6].contains("Còn hiệu lực"), "{}", pages[6]);

    // Keep the rendered files and the first pages as images, when asked to.
    if let Some(keep) = std::env::var_os("CCHC_KEEP_REPORT_FILES") {
        let keep = std::path::Path::new(&keep);
        for f in ["r.docx", "r.xlsx", "r.pdf", "bang.pdf"] {
            std::fs::copy(dir.path().join(f), keep.join(f)).unwrap();
        }
        // The DOCX's first two pages, and the workbook's first and its catalogue sheet.
        for (from, first, last, to) in [
            (&pdf, "1", "2", "bao-cao-docx"),
            (&dir.path().join("bang.pdf"), "1", "1", "bao-cao-xlsx-1"),
            (&dir.path().join("bang.pdf"), "6", "6", "bao-cao-xlsx-6"),
        ] {
            let mut cmd = std::process::Command::new("pdftoppm");
            cmd.args(["-png", "-r", "50", "-f", first, "-l", last]);
            if first == last {
                cmd.arg("-singlefile");
            }
            let status = cmd
                .arg(from)
                .arg(keep.join(to))
                .status()
                .expect("pdftoppm (poppler-utils) is installed");
            assert!(status.success());
        }
    }
}

/// Whether a text holds a date written YYYY-MM-DD (the API's form, not the reader's).
fn has_iso_date(text: &str) -> bool {
    text.as_bytes().windows(10).any(|w| {
        w.iter().enumerate().all(|(k, b)| match k {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
    })
}

/// Each page's text of a PDF, by poppler's `pdftotext` (installed by `.ci/run`).
fn pdf_page_texts(pdf: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

#[tokio::test]
async fn jobs_survive_a_crash_and_refuse_what_they_cannot_do() {
    let svc = service().await;
    let (u, _) = fixture(&svc).await;
    let p = svc
        .api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(plan(&u, Uuid::new_v4())),
            idempotency_key: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let (done, _) = generate(&svc, &p.id, "2020-H1").await;

    // A job a crashed worker left running (its lock went with its connection) is taken
    // up again and gives the same document.
    let r = start(&svc, &p.id, "2020-H1").await;
    sqlx::query("UPDATE reports SET state = 'running', percent = 40, step = 'catalogue', attempts = 1 WHERE id = $1")
        .bind(r.id.parse::<Uuid>().unwrap())
        .execute(&svc.pool)
        .await
        .unwrap();
    assert_eq!(get(&svc, &r.id).await.percent, 40);
    svc.work_reports().await;
    let resumed = get(&svc, &r.id).await;
    assert_eq!(resumed.state, "completed");
    assert_eq!(
        export(&svc, &r.id, "docx").await,
        export(&svc, &done.id, "docx").await
    );

    // A job another worker holds is left alone.
    let held = start(&svc, &p.id, "2020").await;
    let mut lock = svc.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(7261002, hashtext($1))")
        .bind(&held.id)
        .execute(&mut *lock)
        .await
        .unwrap();
    assert!(!svc.worker.run_once().await.unwrap());
    assert_eq!(get(&svc, &held.id).await.state, "queued");
    sqlx::query("SELECT pg_advisory_unlock(7261002, hashtext($1))")
        .bind(&held.id)
        .execute(&mut *lock)
        .await
        .unwrap();
    svc.work_reports().await;
    assert_eq!(get(&svc, &held.id).await.state, "completed");

    // A retried request with the same key is the same job; another body with it is refused.
    let keyed = |period: &str| {
        as_office(StartReportRequest {
            plan_id: p.id.clone(),
            period: period.into(),
            idempotency_key: "bc-2020-h1".into(),
            ..Default::default()
        })
    };
    let once = svc
        .api
        .start_report(keyed("2020-H1"))
        .await
        .unwrap()
        .into_inner();
    let twice = svc
        .api
        .start_report(keyed("2020-h1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(once.id, twice.id);
    let e = svc.api.start_report(keyed("2020")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists);
    svc.work_reports().await;
    let later = svc
        .api
        .start_report(keyed("2020-H1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((later.id, later.state.as_str()), (once.id, "completed"));

    // Bad requests are answered, not queued.
    let bad = |plan_id: &str, period: &str| {
        as_office(StartReportRequest {
            plan_id: plan_id.into(),
            period: period.into(),
            ..Default::default()
        })
    };
    let e = svc
        .api
        .start_report(bad(&p.id, "2020-Q3"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(fields(&e), ["period"]);
    let e = svc.api.start_report(bad("x", "")).await.unwrap_err();
    assert_eq!(fields(&e), ["plan_id", "period"]);
    let e = svc
        .api
        .start_report(bad(&Uuid::new_v4().to_string(), "2020"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = svc
        .api
        .start_report(as_role(
            Role::Leader,
            StartReportRequest {
                plan_id: p.id.clone(),
                period: "2020".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let e = svc
        .api
        .export_report(as_office(ExportReportRequest {
            report_id: done.id.clone(),
            format: "pdf".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["format"]);
    let e = svc
        .api
        .get_report(as_role(
            Role::Unit,
            GetReportRequest {
                report_id: done.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    // Exports exist only once the job is done.
    let queued = start(&svc, &p.id, "2020").await;
    let e = svc
        .api
        .export_report(as_office(ExportReportRequest {
            report_id: queued.id.clone(),
            format: "docx".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn events_applied_twice_or_out_of_order_change_nothing() {
    let svc = service().await;
    fixture(&svc).await;
    let before = svc.dump_read_models().await;
    // Events again, with the same ids and times: nothing changes.
    let unit = Uuid::from_u128(0xA);
    let at = Utc.with_ymd_and_hms(2020, 6, 1, 0, 1, 0).unwrap();
    let env = envelope_at(
        "gateway",
        &UnitCreated {
            unit_id: unit.to_string(),
            name: "Trường THPT Chu Văn An".into(),
            kind: "high_school".into(),
            parent_id: String::new(),
        },
        at,
    );
    svc.apply(&env).await;
    svc.apply(&env).await;
    let repost = envelope_at(
        "catalogue",
        &posting(unit, "1.000001", 2, "2020-03-05"),
        Utc.with_ymd_and_hms(2020, 6, 1, 0, 16, 0).unwrap(),
    );
    svc.apply(&repost).await;
    // An older procedure version arriving late does not move the current one back.
    svc.apply(&envelope_at(
        "catalogue",
        &procedure("1.000001", 1, "new", "2020-01-10"),
        Utc.with_ymd_and_hms(2020, 6, 1, 0, 5, 0).unwrap(),
    ))
    .await;
    assert_eq!(svc.dump_read_models().await, before);
    let (version, status): (i32, String) =
        sqlx::query_as("SELECT version, status FROM rm_procedures WHERE code = '1.000001'")
            .fetch_one(&svc.pool)
            .await
            .unwrap();
    assert_eq!((version, status.as_str()), (2, "published"));
    // A malformed event is refused as permanent, not applied half-way.
    let mut tx = svc.pool.begin().await.unwrap();
    let bad = envelope_at(
        "activity",
        &activity(Uuid::new_v4(), unit, "news_post", "2020-02-30", 0),
        at,
    );
    let e = cchc_platform::consumer::Handler::handle(
        &cchc_reporting::events::ReadModels,
        &mut tx,
        &bad,
    )
    .await
    .unwrap_err();
    assert!(matches!(
        e,
        cchc_platform::consumer::HandleError::Permanent(_)
    ));
}
