//! Whom each write is attributed to: the records name who created them and who last
//! corrected or resubmitted them, and every event's envelope names who made it.

mod common;

use cchc_platform::vocabulary::activity_kind::{BRIEFING, TRAINING};
use cchc_platform::{Actor, Role};
use cchc_proto::activity::v1::activity_service_server::ActivityService;
use cchc_proto::activity::v1::{
    BudgetLine, CorrectActivityRequest, CriterionCounts, ListActivitiesRequest,
    ListSubmissionsRequest, OneStopPending, OneStopReceived, OneStopResolved,
    RecordActivitiesRequest, RecordActivityRequest, SubmitBudgetLinesRequest,
    SubmitOneStopResultRequest, SubmitSatisfactionRequest,
};
use common::{Service, by, service};
use uuid::Uuid;

fn person() -> Actor {
    Actor::User(Uuid::new_v4())
}

fn unit<T>(actor: Actor, unit: Uuid, message: T) -> tonic::Request<T> {
    by(actor, unit, Role::Unit, message)
}

fn activity(kind: &str, title: &str) -> RecordActivityRequest {
    RecordActivityRequest {
        kind: kind.into(),
        date: "2020-03-10".into(),
        title: title.into(),
        head_count: 40,
        ..Default::default()
    }
}

fn correction(id: &str, r: RecordActivityRequest) -> CorrectActivityRequest {
    CorrectActivityRequest {
        activity_id: id.into(),
        reason: "sai số người".into(),
        activity: Some(r),
    }
}

/// The actors of the outbox's events, oldest first.
async fn event_actors(s: &Service) -> Vec<String> {
    s.events().await.into_iter().map(|(_, e)| e.actor).collect()
}

#[tokio::test]
async fn an_activity_names_its_creator_and_its_latest_corrector() {
    let s = service().await;
    let u = Uuid::new_v4();
    let (a, b) = (person(), person());
    let c = Actor::Key(Uuid::new_v4());

    let original = s
        .api
        .record_activity(unit(a, u, activity(BRIEFING, "Hội nghị")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(original.created_by, a.to_string());
    assert_eq!(
        original.updated_by,
        a.to_string(),
        "its creation is its latest change"
    );
    assert_eq!(original.created_at, original.recorded_at);
    assert_eq!(original.updated_at, original.recorded_at);
    assert_eq!(event_actors(&s).await, [a.to_string()]);

    let body = RecordActivityRequest {
        head_count: 120,
        idempotency_key: "fix-1".into(),
        ..activity(TRAINING, "Hội nghị tập huấn")
    };
    let fixed = s
        .api
        .correct_activity(unit(b, u, correction(&original.id, body.clone())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fixed.created_by, a.to_string(), "the chain's creator");
    assert_eq!(fixed.updated_by, b.to_string(), "the corrector");
    assert_eq!(fixed.created_at, original.created_at);
    assert_eq!(fixed.updated_at, fixed.recorded_at);
    assert_ne!(fixed.updated_at, fixed.created_at);
    assert_eq!(event_actors(&s).await, [a.to_string(), b.to_string()]);

    // A retry by someone else answers with the correction as it was made.
    let again = s
        .api
        .correct_activity(unit(person(), u, correction(&original.id, body)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, fixed);

    // A program corrects the correction: still the person's activity, changed by the key.
    let twice = s
        .api
        .correct_activity(unit(
            c,
            u,
            correction(&fixed.id, activity(TRAINING, "Lần hai")),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (twice.created_by.as_str(), twice.updated_by.as_str()),
        (a.to_string().as_str(), c.to_string().as_str())
    );
    assert_eq!(twice.created_at, original.created_at);

    // The list shows the current record so; the history keeps each as it was written.
    let list = |history| {
        s.api.list_activities(by(
            person(),
            Uuid::new_v4(),
            Role::Office,
            ListActivitiesRequest {
                unit_id: u.to_string(),
                history,
                ..Default::default()
            },
        ))
    };
    let current = list(false).await.unwrap().into_inner().activities;
    assert_eq!(current, std::slice::from_ref(&twice));
    let history = list(true).await.unwrap().into_inner().activities;
    let who: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|r| (r.id.as_str(), r.created_by.as_str(), r.updated_by.as_str()))
        .collect();
    let (a, b, c) = (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        who,
        [
            (twice.id.as_str(), a.as_str(), c.as_str()),
            (fixed.id.as_str(), a.as_str(), b.as_str()),
            (original.id.as_str(), a.as_str(), a.as_str()),
        ]
    );
    assert_eq!(event_actors(&s).await, [a, b, c]);
}

#[tokio::test]
async fn a_batch_is_attributed_to_its_caller_and_unknown_creators_stay_unknown() {
    let s = service().await;
    let u = Uuid::new_v4();
    let key = Actor::Key(Uuid::new_v4());
    let r = s
        .api
        .record_activities(unit(
            key,
            u,
            RecordActivitiesRequest {
                items: vec![activity(BRIEFING, "Một"), activity(BRIEFING, "Hai")],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.accepted, 2);
    for item in &r.results {
        let a = item.activity.as_ref().unwrap();
        assert_eq!(
            (a.created_by.as_str(), a.updated_by.as_str()),
            (key.to_string().as_str(), key.to_string().as_str())
        );
    }
    assert_eq!(event_actors(&s).await, [key.to_string(), key.to_string()]);

    // A record from before writes were attributed shows no one; its correction names
    // the corrector without crediting them with the creation.
    let old = &r.results[0].activity.as_ref().unwrap().id;
    sqlx::query("UPDATE activities SET created_by = NULL, updated_by = NULL WHERE id = $1::uuid")
        .bind(old)
        .execute(&s.pool)
        .await
        .unwrap();
    let b = person();
    let fixed = s
        .api
        .correct_activity(unit(b, u, correction(old, activity(TRAINING, "Một, sửa"))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fixed.created_by, "");
    assert_eq!(fixed.updated_by, b.to_string());
}

fn one_stop(late: i64) -> SubmitOneStopResultRequest {
    SubmitOneStopResultRequest {
        period: "2020-H1".into(),
        received: Some(OneStopReceived {
            online: 50,
            in_person_or_post: 60,
            carried_over: 10,
            total: 0,
        }),
        resolved: Some(OneStopResolved {
            early: 30,
            on_time: 60,
            late,
            total: 0,
        }),
        pending: Some(OneStopPending {
            within_time: 22 - late,
            overdue: 3,
            total: 0,
        }),
        returned_withdrawn: 5,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_resubmission_names_the_first_submitter_and_the_latest() {
    let s = service().await;
    let u = Uuid::new_v4();
    let (a, b) = (person(), person());

    let first = s
        .api
        .submit_one_stop_result(unit(a, u, one_stop(10)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.revision, 1);
    assert_eq!(
        (first.created_by.as_str(), first.updated_by.as_str()),
        (a.to_string().as_str(), a.to_string().as_str())
    );
    assert_eq!(first.created_at, first.submitted_at);
    assert_eq!(first.updated_at, first.submitted_at);

    let second = s
        .api
        .submit_one_stop_result(unit(b, u, one_stop(5)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.revision, 2);
    assert_eq!(second.created_by, a.to_string(), "who submitted revision 1");
    assert_eq!(second.updated_by, b.to_string(), "who submitted this one");
    assert_eq!(second.created_at, first.created_at);
    assert_eq!(second.updated_at, second.submitted_at);
    assert_eq!(event_actors(&s).await, [a.to_string(), b.to_string()]);

    // The same figures again change nothing, whoever sends them.
    let same = s
        .api
        .submit_one_stop_result(unit(person(), u, one_stop(5)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same, second);
    assert_eq!(s.count("cchc_outbox").await, 2);

    let history = s
        .api
        .list_one_stop_results(unit(
            a,
            u,
            ListSubmissionsRequest {
                history: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    // Revision 1 is kept as submitted, only no longer current.
    let replaced = cchc_proto::activity::v1::OneStopResult {
        current: false,
        ..first
    };
    assert_eq!(history, [second, replaced]);
}

#[tokio::test]
async fn surveys_and_budgets_are_attributed_alike() {
    let s = service().await;
    let u = Uuid::new_v4();
    let (a, b) = (person(), person());
    let survey = |satisfied| SubmitSatisfactionRequest {
        period: "2020".into(),
        responses: 10,
        criteria: vec![CriterionCounts {
            name: "Tiếp cận dịch vụ".into(),
            satisfied,
            ..Default::default()
        }],
        ..Default::default()
    };
    let budget = |planned_vnd| SubmitBudgetLinesRequest {
        year: 2020,
        lines: vec![BudgetLine {
            item: "In tờ rơi".into(),
            funding_source: "ngân sách nhà nước".into(),
            planned_vnd,
            spent_vnd: 0,
        }],
        ..Default::default()
    };
    let s1 = s
        .api
        .submit_satisfaction(unit(a, u, survey(5)))
        .await
        .unwrap()
        .into_inner();
    let b1 = s
        .api
        .submit_budget_lines(unit(a, u, budget(1_000)))
        .await
        .unwrap()
        .into_inner();
    let s2 = s
        .api
        .submit_satisfaction(unit(b, u, survey(6)))
        .await
        .unwrap()
        .into_inner();
    let b2 = s
        .api
        .submit_budget_lines(unit(b, u, budget(2_000)))
        .await
        .unwrap()
        .into_inner();
    let (a, b) = (a.to_string(), b.to_string());
    assert_eq!(
        (s1.created_by.as_str(), s1.updated_by.as_str()),
        (a.as_str(), a.as_str())
    );
    assert_eq!(
        (b1.created_by.as_str(), b1.updated_by.as_str()),
        (a.as_str(), a.as_str())
    );
    assert_eq!(
        (s2.revision, s2.created_by.as_str(), s2.updated_by.as_str()),
        (2, a.as_str(), b.as_str())
    );
    assert_eq!(
        (b2.revision, b2.created_by.as_str(), b2.updated_by.as_str()),
        (2, a.as_str(), b.as_str())
    );
    assert_eq!(
        (s2.created_at.as_str(), s2.updated_at.as_str()),
        (s1.submitted_at.as_str(), s2.submitted_at.as_str())
    );
    assert_eq!(
        (b2.created_at.as_str(), b2.updated_at.as_str()),
        (b1.submitted_at.as_str(), b2.submitted_at.as_str())
    );
    assert_eq!(event_actors(&s).await, [&a, &a, &b, &b].map(String::as_str));
}
