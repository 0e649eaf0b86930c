//! One-stop results, satisfaction surveys and budget lines against a real PostgreSQL:
//! reconciliation, limits, replacement with history, who sees what, and the events.

mod common;

use cchc_platform::Role;
use cchc_proto::activity::v1::activity_service_server::ActivityService;
use cchc_proto::activity::v1::{
    BudgetLine, CriterionCounts, ListSubmissionsRequest, OneStopPending, OneStopReceived,
    OneStopResolved, OneStopResult, SubmitBudgetLinesRequest, SubmitOneStopResultRequest,
    SubmitSatisfactionRequest,
};
use cchc_proto::events::v1::{BudgetSubmitted, OneStopResultSubmitted, SatisfactionSubmitted};
use common::{Service, as_office, as_unit, fields, from, service};
use tonic::Code;
use uuid::Uuid;

/// Received 120 = resolved 100 + pending 15 + returned 5.
fn one_stop(period: &str) -> SubmitOneStopResultRequest {
    SubmitOneStopResultRequest {
        period: period.into(),
        received: Some(OneStopReceived {
            online: 50,
            in_person_or_post: 60,
            carried_over: 10,
            total: 0,
        }),
        resolved: Some(OneStopResolved {
            early: 30,
            on_time: 60,
            late: 10,
            total: 0,
        }),
        pending: Some(OneStopPending {
            within_time: 12,
            overdue: 3,
            total: 0,
        }),
        returned_withdrawn: 5,
        ..Default::default()
    }
}

async fn submit(s: &Service, unit: Uuid, r: SubmitOneStopResultRequest) -> OneStopResult {
    s.api
        .submit_one_stop_result(as_unit(unit, r))
        .await
        .expect("accepted")
        .into_inner()
}

async fn one_stop_list(
    s: &Service,
    req: tonic::Request<ListSubmissionsRequest>,
) -> Vec<OneStopResult> {
    s.api
        .list_one_stop_results(req)
        .await
        .expect("listed")
        .into_inner()
        .results
}

#[tokio::test]
async fn one_stop_results_reconcile_and_the_rate_is_computed() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let r = submit(&s, unit, one_stop("2020-h1")).await;
    assert_eq!(r.unit_id, unit.to_string());
    assert_eq!(r.period, "2020-H1");
    assert_eq!(
        (r.period_start.as_str(), r.period_end.as_str()),
        ("2020-01-01", "2020-06-30")
    );
    assert_eq!(r.received.unwrap().total, 120);
    assert_eq!(r.resolved.unwrap().total, 100);
    assert_eq!(r.pending.unwrap().total, 15);
    assert_eq!(r.on_time_rate, Some(90.0));
    assert_eq!((r.revision, r.current), (1, true));

    // Nothing resolved: no rate rather than a division by zero.
    let mut idle = SubmitOneStopResultRequest {
        period: "2020-Q1".into(),
        ..Default::default()
    };
    idle.received = Some(OneStopReceived {
        carried_over: 2,
        ..Default::default()
    });
    idle.pending = Some(OneStopPending {
        overdue: 2,
        ..Default::default()
    });
    let r = submit(&s, unit, idle).await;
    assert_eq!(r.on_time_rate, None);
    assert_eq!(s.count("one_stop_results").await, 2);

    // Figures that do not add up are refused with the difference named.
    let mut bad = one_stop("2020-H2");
    bad.returned_withdrawn = 3;
    let e = s
        .api
        .submit_one_stop_result(as_unit(unit, bad))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(fields(&e), ["received"]);
    assert!(
        e.message().contains(
            "received 120 ≠ resolved 100 + pending 15 + returned or withdrawn 3 (difference 2)"
        ),
        "{}",
        e.message()
    );
    let mut over = one_stop("2020-H2");
    over.returned_withdrawn = 8;
    let e = s
        .api
        .submit_one_stop_result(as_unit(unit, over))
        .await
        .unwrap_err();
    assert!(e.message().contains("(difference -3)"), "{}", e.message());

    // Malformed fields are all named, before any reconciliation.
    let mut bad = one_stop("2020-H3");
    bad.received.as_mut().unwrap().online = -1;
    bad.pending.as_mut().unwrap().overdue = -3;
    bad.returned_withdrawn = -5;
    let e = s
        .api
        .submit_one_stop_result(as_unit(unit, bad))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&e),
        [
            "period",
            "received.online",
            "pending.overdue",
            "returned_withdrawn"
        ]
    );
    for period in [
        "", "2020-H0", "2020-Q5", "2020-13", "20-H1", "H1/2020", "2020-S1",
    ] {
        let e = s
            .api
            .submit_one_stop_result(as_unit(unit, one_stop(period)))
            .await
            .unwrap_err();
        assert_eq!(fields(&e), ["period"], "{period:?}");
    }
    let e = s
        .api
        .submit_one_stop_result(as_unit(unit, one_stop("2999")))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["period"], "a period not begun has no figures");
    assert_eq!(s.count("one_stop_results").await, 2);
    assert_eq!(s.count("cchc_outbox").await, 2, "refusals write no event");

    // The Department Office submits its own unit's figures with its staff's accounts;
    // leadership submits none.
    let office = Uuid::new_v4();
    let r = s
        .api
        .submit_one_stop_result(from(office, Role::Office, one_stop("2020-H1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.unit_id, office.to_string());
    let e = s
        .api
        .submit_one_stop_result(from(office, Role::Leader, one_stop("2020-H1")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_resubmission_replaces_and_the_history_keeps_the_previous() {
    let s = service().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let first = submit(&s, a, one_stop("2020-H1")).await;
    // The same figures again change nothing.
    assert_eq!(submit(&s, a, one_stop("2020-H1")).await, first);

    let mut fixed = one_stop("2020-H1");
    fixed.resolved.as_mut().unwrap().late = 5;
    fixed.pending.as_mut().unwrap().within_time = 17;
    fixed.idempotency_key = "os-h1-fix".into();
    let second = submit(&s, a, fixed.clone()).await;
    assert_eq!((second.revision, second.current), (2, true));
    assert_ne!(second.id, first.id);
    // A retry with the key lands once, even after yet another submission.
    assert_eq!(submit(&s, a, fixed.clone()).await, second);
    let mut reused = fixed.clone();
    reused.note = "khác".into();
    let e = s
        .api
        .submit_one_stop_result(as_unit(a, reused))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);

    submit(&s, b, one_stop("2020-H1")).await;
    submit(&s, a, one_stop("2020-Q2")).await;

    // Current view: one per (unit, period).
    let current = one_stop_list(&s, as_unit(a, ListSubmissionsRequest::default())).await;
    let got: Vec<(&str, u32)> = current
        .iter()
        .map(|r| (r.period.as_str(), r.revision))
        .collect();
    assert_eq!(got, [("2020-Q2", 1), ("2020-H1", 2)]);
    // History: the replaced one too, marked so.
    let history = one_stop_list(
        &s,
        as_unit(
            a,
            ListSubmissionsRequest {
                period: "2020-H1".into(),
                history: true,
                ..Default::default()
            },
        ),
    )
    .await;
    let got: Vec<(u32, bool)> = history.iter().map(|r| (r.revision, r.current)).collect();
    assert_eq!(got, [(2, true), (1, false)]);
    assert_eq!(history[1].resolved.unwrap().late, 10, "kept as submitted");

    // Units see their own only; the office and leadership see all, by unit.
    let theirs = one_stop_list(
        &s,
        as_unit(
            b,
            ListSubmissionsRequest {
                unit_id: a.to_string(),
                history: true,
                ..Default::default()
            },
        ),
    )
    .await;
    assert!(theirs.iter().all(|r| r.unit_id == b.to_string()));
    assert_eq!(theirs.len(), 1);
    let all = one_stop_list(
        &s,
        as_office(ListSubmissionsRequest {
            period: "2020-H1".into(),
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(all.len(), 2);
    let by_unit = one_stop_list(
        &s,
        from(
            Uuid::new_v4(),
            Role::Leader,
            ListSubmissionsRequest {
                unit_id: a.to_string(),
                period: "2020-H1".into(),
                ..Default::default()
            },
        ),
    )
    .await;
    assert_eq!(by_unit.len(), 1);
    assert_eq!(by_unit[0].id, second.id);
    let e = s
        .api
        .list_one_stop_results(as_office(ListSubmissionsRequest {
            period: "2020-H9".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["period"]);
    let e = s
        .api
        .list_one_stop_results(from(a, Role::Operator, ListSubmissionsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);

    // Each accepted submission is an event carrying every counter.
    let events = s.payloads::<OneStopResultSubmitted>().await;
    assert_eq!(events.len(), 4);
    let e = &events[1];
    assert_eq!(e.submission_id, second.id);
    assert_eq!(e.unit_id, a.to_string());
    assert_eq!((e.period.as_str(), e.revision), ("2020-H1", 2));
    assert_eq!(e.supersedes, first.id);
    assert_eq!(
        (e.period_start.as_str(), e.period_end.as_str()),
        ("2020-01-01", "2020-06-30")
    );
    assert_eq!(
        [
            e.received_online,
            e.received_in_person_or_post,
            e.received_carried_over,
            e.resolved_early,
            e.resolved_on_time,
            e.resolved_late,
            e.pending_within_time,
            e.pending_overdue,
            e.returned_withdrawn
        ],
        [50, 60, 10, 30, 60, 5, 17, 3, 5]
    );
    assert_eq!(events[0].supersedes, "");
    assert_eq!(s.count("cchc_outbox").await, 4);
}

#[tokio::test]
async fn concurrent_resubmissions_are_numbered_one_by_one() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let mut r = one_stop("2020");
        r.note = format!("lần {i}");
        tasks.push(s.api.submit_one_stop_result(as_unit(unit, r)));
    }
    for r in futures::future::join_all(tasks).await {
        r.unwrap();
    }
    let history = one_stop_list(
        &s,
        as_unit(
            unit,
            ListSubmissionsRequest {
                history: true,
                ..Default::default()
            },
        ),
    )
    .await;
    let mut revisions: Vec<u32> = history.iter().map(|r| r.revision).collect();
    revisions.sort();
    assert_eq!(revisions, [1, 2, 3, 4, 5, 6]);
    assert_eq!(history.iter().filter(|r| r.current).count(), 1);
}

fn criterion(name: &str, vs: i64, s: i64, d: i64) -> CriterionCounts {
    CriterionCounts {
        name: name.into(),
        very_satisfied: vs,
        satisfied: s,
        dissatisfied: d,
        ..Default::default()
    }
}

#[tokio::test]
async fn satisfaction_counts_stay_within_responses_and_rates_are_computed() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let survey = SubmitSatisfactionRequest {
        period: "2020-H1".into(),
        responses: 200,
        criteria: vec![
            criterion("Tiếp cận dịch vụ", 100, 80, 20),
            criterion("Thủ tục hành chính", 60, 90, 40),
        ],
        ..Default::default()
    };
    let r = s
        .api
        .submit_satisfaction(as_unit(unit, survey.clone()))
        .await
        .unwrap()
        .into_inner();
    // In percent, over the ratings given (as every report computes it).
    assert_eq!(r.criteria[0].satisfied_rate, Some(90.0));
    assert_eq!(r.criteria[1].satisfied_rate, Some(78.9));
    assert_eq!(r.criteria[1].no_answer, 10);
    assert_eq!(r.satisfied_rate, Some(84.6));
    assert_eq!((r.revision, r.current), (1, true));

    // More answers than responses is refused, naming the criterion.
    let mut over = survey.clone();
    over.criteria[0].dissatisfied = 21;
    over.criteria[1].very_satisfied = 201;
    let e = s
        .api
        .submit_satisfaction(as_unit(unit, over))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert_eq!(fields(&e), ["criteria[0]", "criteria[1]"]);

    // Malformed input is named field by field.
    let e = s
        .api
        .submit_satisfaction(as_unit(
            unit,
            SubmitSatisfactionRequest {
                period: "2020-Q7".into(),
                responses: -1,
                criteria: vec![criterion("", -1, 0, 0)],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&e),
        [
            "period",
            "responses",
            "criteria[0].name",
            "criteria[0].very_satisfied"
        ]
    );

    // A resubmission replaces; the history keeps the first.
    let mut again = survey.clone();
    again.responses = 210;
    let second = s
        .api
        .submit_satisfaction(as_unit(unit, again))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.revision, 2);
    let list = |history| {
        s.api.list_satisfaction(as_office(ListSubmissionsRequest {
            unit_id: unit.to_string(),
            period: "2020-H1".into(),
            history,
            ..Default::default()
        }))
    };
    let current = list(false).await.unwrap().into_inner().surveys;
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].responses, 210);
    let history = list(true).await.unwrap().into_inner().surveys;
    assert_eq!(history.len(), 2);
    assert!(!history[1].current);

    let events = s.payloads::<SatisfactionSubmitted>().await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].supersedes, r.id);
    assert_eq!(events[1].responses, 210);
    assert_eq!(events[1].criteria.len(), 2);
    assert_eq!(events[1].criteria[1].name, "Thủ tục hành chính");
    assert_eq!(
        (
            events[1].criteria[1].very_satisfied,
            events[1].criteria[1].satisfied,
            events[1].criteria[1].dissatisfied
        ),
        (60, 90, 40)
    );
    assert_eq!(s.count("cchc_outbox").await, 2);
}

fn line(item: &str, source: &str, planned: i64, spent: i64) -> BudgetLine {
    BudgetLine {
        item: item.into(),
        funding_source: source.into(),
        planned_vnd: planned,
        spent_vnd: spent,
    }
}

#[tokio::test]
async fn budget_lines_replace_the_units_year() {
    let s = service().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let lines = vec![
        line(
            "In tờ rơi, áp phích",
            "Ngân sách nhà nước",
            5_000_000,
            4_200_000,
        ),
        line("Hội nghị tập huấn", "Nguồn thu sự nghiệp", 12_000_000, 0),
    ];
    let first = s
        .api
        .submit_budget_lines(as_unit(
            a,
            SubmitBudgetLinesRequest {
                year: 2020,
                lines: lines.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.planned_total_vnd, 17_000_000);
    assert_eq!(first.spent_total_vnd, 4_200_000);
    assert_eq!(first.unit_id, a.to_string());

    let replaced = s
        .api
        .submit_budget_lines(as_unit(
            a,
            SubmitBudgetLinesRequest {
                year: 2020,
                lines: vec![line("Tuyên truyền trên website", "", 3_000_000, 3_000_000)],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replaced.revision, 2);
    assert_eq!(
        replaced.lines.len(),
        1,
        "the year's lines are replaced as a whole"
    );
    s.api
        .submit_budget_lines(as_unit(
            b,
            SubmitBudgetLinesRequest {
                year: 2020,
                lines: lines.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();

    let e = s
        .api
        .submit_budget_lines(as_unit(
            a,
            SubmitBudgetLinesRequest {
                year: 2020,
                lines: vec![line(" ", "", -1, 2), line("Pano", "", 1, -1)],
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&e),
        [
            "lines[0].item",
            "lines[0].planned_vnd",
            "lines[1].spent_vnd"
        ]
    );
    let e = s
        .api
        .submit_budget_lines(as_unit(
            a,
            SubmitBudgetLinesRequest {
                year: 1990,
                lines: lines.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["year"]);

    let list = |req| s.api.list_budget_lines(req);
    let mine = list(as_unit(
        a,
        ListSubmissionsRequest {
            year: 2020,
            ..Default::default()
        },
    ))
    .await
    .unwrap()
    .into_inner()
    .budgets;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, replaced.id);
    let history = list(as_unit(
        a,
        ListSubmissionsRequest {
            history: true,
            ..Default::default()
        },
    ))
    .await
    .unwrap()
    .into_inner()
    .budgets;
    assert_eq!(history.len(), 2);
    let all = list(as_office(ListSubmissionsRequest {
        year: 2020,
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
    .budgets;
    assert_eq!(all.len(), 2);
    let e = list(as_office(ListSubmissionsRequest {
        year: 12,
        ..Default::default()
    }))
    .await
    .unwrap_err();
    assert_eq!(fields(&e), ["year"]);

    let events = s.payloads::<BudgetSubmitted>().await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[1].supersedes, first.id);
    assert_eq!(events[1].year, 2020);
    assert_eq!(events[1].lines[0].item, "Tuyên truyền trên website");
    assert_eq!(events[1].planned_total_vnd, 3_000_000);
    assert_eq!(s.count("cchc_outbox").await, 3);
}

#[tokio::test]
async fn submission_lists_page_like_every_list() {
    let s = service().await;
    let unit = Uuid::new_v4();
    for period in ["2020-Q1", "2020-Q2", "2020-Q3", "2020-Q4"] {
        submit(&s, unit, one_stop(period)).await;
    }
    let page = |limit: u32, page_token: String| {
        s.api
            .list_one_stop_results(as_office(ListSubmissionsRequest {
                limit,
                page_token,
                ..Default::default()
            }))
    };
    let periods = |r: &[OneStopResult]| r.iter().map(|r| r.period.clone()).collect::<Vec<_>>();
    // Four results in pages of two: the second page is full and is the last.
    let first = page(2, String::new()).await.unwrap().into_inner();
    assert_eq!(periods(&first.results), ["2020-Q4", "2020-Q3"]);
    let second = page(2, first.next_page_token).await.unwrap().into_inner();
    assert_eq!(periods(&second.results), ["2020-Q2", "2020-Q1"]);
    assert_eq!(second.next_page_token, "", "no token to an empty page");

    let e = page(501, String::new()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["limit"]);
    let e = s
        .api
        .list_budget_lines(as_office(ListSubmissionsRequest {
            limit: 501,
            page_token: "not-a-token".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["limit", "page_token"]);
}
