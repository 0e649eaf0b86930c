//! Input no real unit enters is refused with the field named, never failed as an
//! internal error: control characters (PostgreSQL refuses NUL in text) and figures
//! beyond what a Department counts or spends.

mod common;

use cchc_platform::vocabulary::activity_kind::BRIEFING;
use cchc_proto::activity::v1::activity_service_server::ActivityService;
use cchc_proto::activity::v1::*;
use common::{as_unit, fields, service};
use tonic::Code;
use uuid::Uuid;

/// 10^13 VND (10 trillion dong): more than a unit's communication ever costs.
const MAX_VND: i64 = 10_000_000_000_000;
/// 10^9: more dossiers, responses or people than a province has.
const MAX_COUNT: i64 = 1_000_000_000;

fn activity(title: &str) -> RecordActivityRequest {
    RecordActivityRequest {
        kind: BRIEFING.into(),
        date: "2020-03-10".into(),
        title: title.into(),
        head_count: 40,
        ..Default::default()
    }
}

fn one_stop(online: i64, on_time: i64) -> SubmitOneStopResultRequest {
    SubmitOneStopResultRequest {
        period: "2020-H1".into(),
        received: Some(OneStopReceived {
            online,
            ..Default::default()
        }),
        resolved: Some(OneStopResolved {
            on_time,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn survey(responses: i64, satisfied: i64, name: &str) -> SubmitSatisfactionRequest {
    SubmitSatisfactionRequest {
        period: "2020-H1".into(),
        responses,
        criteria: vec![CriterionCounts {
            name: name.into(),
            satisfied,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn line(item: &str, source: &str, planned: i64, spent: i64) -> BudgetLine {
    BudgetLine {
        item: item.into(),
        funding_source: source.into(),
        planned_vnd: planned,
        spent_vnd: spent,
    }
}

fn budget(lines: Vec<BudgetLine>) -> SubmitBudgetLinesRequest {
    SubmitBudgetLinesRequest {
        year: 2020,
        lines,
        ..Default::default()
    }
}

/// Asserts an InvalidArgument naming exactly `expected`.
fn invalid<T: std::fmt::Debug>(r: Result<tonic::Response<T>, tonic::Status>, expected: &[&str]) {
    let e = r.expect_err("refused");
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(fields(&e), expected, "{e:?}");
}

#[tokio::test]
async fn control_characters_are_refused_naming_the_field() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let cases: Vec<(RecordActivityRequest, &[&str])> = vec![
        (activity("Quán\0triệt"), &["title"]),
        (activity("Quán\ntriệt"), &["title"]),
        (
            RecordActivityRequest {
                description: "Nội dung\0".into(),
                channel: "\u{1b}[31mwebsite".into(),
                audience: "giáo\u{7f}viên".into(),
                ..activity("x")
            },
            &["description", "channel", "audience"],
        ),
        (
            RecordActivityRequest {
                procedure_codes: vec!["1.012753.H19".into(), "1.0\0".into()],
                ..activity("x")
            },
            &["procedure_codes[1]"],
        ),
        (
            RecordActivityRequest {
                idempotency_key: "k\0".into(),
                ..activity("x")
            },
            &["idempotency_key"],
        ),
    ];
    for (r, expected) in cases {
        invalid(s.api.record_activity(as_unit(unit, r)).await, expected);
    }
    // Tabs and line breaks belong in a description.
    let a = s
        .api
        .record_activity(as_unit(
            unit,
            RecordActivityRequest {
                description: "Dòng 1\r\n\tDòng 2\n".into(),
                ..activity("Quán triệt")
            },
        ))
        .await
        .unwrap()
        .into_inner();
    invalid(
        s.api
            .correct_activity(as_unit(
                unit,
                CorrectActivityRequest {
                    activity_id: a.id.clone(),
                    reason: "sai\0ngày".into(),
                    activity: Some(activity("Quán triệt")),
                },
            ))
            .await,
        &["reason"],
    );

    let mut note = one_stop(10, 10);
    note.note = "ghi chú\0".into();
    invalid(
        s.api.submit_one_stop_result(as_unit(unit, note)).await,
        &["note"],
    );
    invalid(
        s.api
            .submit_satisfaction(as_unit(unit, survey(10, 5, "Thái độ\0")))
            .await,
        &["criteria[0].name"],
    );
    invalid(
        s.api
            .submit_budget_lines(as_unit(
                unit,
                budget(vec![line("In\0tờ rơi", "ngân sách\u{0}", 1, 1)]),
            ))
            .await,
        &["lines[0].item", "lines[0].funding_source"],
    );
    assert_eq!(s.count("activities").await, 1);
    assert_eq!(s.count("cchc_outbox").await, 1);
}

#[tokio::test]
async fn a_nul_in_one_item_of_a_batch_rejects_that_item_only() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let r = s
        .api
        .record_activities(as_unit(
            unit,
            RecordActivitiesRequest {
                items: vec![
                    activity("Quán triệt kế hoạch"),
                    activity("Sai\0"),
                    activity("Niêm yết TTHC"),
                ],
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.accepted, r.rejected), (2, 1));
    let item = &r.results[1];
    assert!(!item.accepted);
    let errors: Vec<&str> = item.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(errors, ["title"]);
    assert_eq!(s.count("activities").await, 2);

    invalid(
        s.api
            .record_activities(as_unit(
                unit,
                RecordActivitiesRequest {
                    items: vec![activity("Một")],
                    idempotency_key: "lô\0".into(),
                },
            ))
            .await,
        &["idempotency_key"],
    );
}

#[tokio::test]
async fn money_is_bounded_to_what_a_department_can_spend() {
    let s = service().await;
    let unit = Uuid::new_v4();
    // The figure that overflowed the report sums, and anything just above the bound.
    for (planned, spent, field) in [
        (1_000_000_000_000_000, 0, "lines[0].planned_vnd"),
        (MAX_VND + 1, 0, "lines[0].planned_vnd"),
        (0, MAX_VND + 1, "lines[0].spent_vnd"),
    ] {
        invalid(
            s.api
                .submit_budget_lines(as_unit(
                    unit,
                    budget(vec![line("Hội nghị", "NSNN", planned, spent)]),
                ))
                .await,
            &[field],
        );
    }
    // Lines each within the bound may not add up beyond it either.
    let half = MAX_VND / 2 + 1;
    let e = s
        .api
        .submit_budget_lines(as_unit(
            unit,
            budget(vec![
                line("Hội nghị", "NSNN", half, half),
                line("In tờ rơi", "NSNN", half, 0),
            ]),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["planned_total_vnd"]);
    assert_eq!(s.count("budget_submissions").await, 0);

    // The bound itself is accepted.
    let b = s
        .api
        .submit_budget_lines(as_unit(
            unit,
            budget(vec![line("Hội nghị", "NSNN", MAX_VND, MAX_VND)]),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((b.planned_total_vnd, b.spent_total_vnd), (MAX_VND, MAX_VND));
}

#[tokio::test]
async fn counts_are_bounded() {
    let s = service().await;
    let unit = Uuid::new_v4();
    invalid(
        s.api
            .submit_one_stop_result(as_unit(unit, one_stop(MAX_COUNT + 1, MAX_COUNT + 1)))
            .await,
        &["received.online", "resolved.on_time"],
    );
    s.api
        .submit_one_stop_result(as_unit(unit, one_stop(MAX_COUNT, MAX_COUNT)))
        .await
        .unwrap();

    invalid(
        s.api
            .submit_satisfaction(as_unit(unit, survey(MAX_COUNT + 1, 1, "Thái độ")))
            .await,
        &["responses"],
    );
    invalid(
        s.api
            .submit_satisfaction(as_unit(unit, survey(10, MAX_COUNT + 1, "Thái độ")))
            .await,
        &["criteria[0].satisfied"],
    );
    s.api
        .submit_satisfaction(as_unit(unit, survey(MAX_COUNT, MAX_COUNT, "Thái độ")))
        .await
        .unwrap();

    // One activity reaches at most ten million people.
    invalid(
        s.api
            .record_activity(as_unit(
                unit,
                RecordActivityRequest {
                    head_count: 10_000_001,
                    ..activity("Hội nghị")
                },
            ))
            .await,
        &["head_count"],
    );
    s.api
        .record_activity(as_unit(
            unit,
            RecordActivityRequest {
                head_count: 10_000_000,
                ..activity("Hội nghị")
            },
        ))
        .await
        .unwrap();
    assert_eq!(s.count("cchc_outbox").await, 3);
}
