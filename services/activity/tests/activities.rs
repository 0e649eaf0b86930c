//! Activities against a real PostgreSQL: validation, idempotency, batches, corrections
//! and their history, ownership, filters, and the outbox written with each record.

mod common;

use cchc_platform::Role;
use cchc_platform::vocabulary::activity_kind::{self, BRIEFING, NEWS_POST, POSTING, TRAINING};
use cchc_proto::activity::v1::activity_service_server::ActivityService;
use cchc_proto::activity::v1::{
    Activity, CorrectActivityRequest, ListActivitiesRequest, RecordActivitiesRequest,
    RecordActivityRequest,
};
use cchc_proto::events::v1::ActivityRecorded;
use common::{Service, as_office, as_unit, fields, from, service};
use tonic::Code;
use uuid::Uuid;

fn activity(kind: &str, date: &str, title: &str) -> RecordActivityRequest {
    RecordActivityRequest {
        kind: kind.into(),
        date: date.into(),
        title: title.into(),
        head_count: 40,
        evidence_links: vec!["https://thpt-cva.example.vn/tin/1".into()],
        ..Default::default()
    }
}

async fn record(s: &Service, unit: Uuid, r: RecordActivityRequest) -> Activity {
    s.api
        .record_activity(as_unit(unit, r))
        .await
        .expect("recorded")
        .into_inner()
}

/// A batch of `items` without a batch key, as `unit`.
async fn unkeyed_batch(
    s: &Service,
    unit: Uuid,
    items: Vec<RecordActivityRequest>,
) -> cchc_proto::activity::v1::RecordActivitiesResponse {
    s.api
        .record_activities(as_unit(
            unit,
            RecordActivitiesRequest {
                items,
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("batch answered")
        .into_inner()
}

async fn list(s: &Service, req: tonic::Request<ListActivitiesRequest>) -> Vec<Activity> {
    s.api
        .list_activities(req)
        .await
        .expect("listed")
        .into_inner()
        .activities
}

fn titles(v: &[Activity]) -> Vec<&str> {
    v.iter().map(|a| a.title.as_str()).collect()
}

#[tokio::test]
async fn every_rule_is_checked_and_each_violation_named() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let tomorrow = (cchc_platform::time::today() + chrono::Days::new(1)).to_string();
    let cases: Vec<(RecordActivityRequest, &[&str])> = vec![
        (activity("party", "2020-03-10", "x"), &["kind"]),
        (activity(BRIEFING, "2021-02-29", "x"), &["date"]),
        (activity(BRIEFING, "10/03/2020", "x"), &["date"]),
        (activity(BRIEFING, &tomorrow, "x"), &["date"]),
        (activity(BRIEFING, "1999-12-31", "x"), &["date"]),
        (activity(BRIEFING, "2020-03-10", "  "), &["title"]),
        (
            activity(BRIEFING, "2020-03-10", &"t".repeat(501)),
            &["title"],
        ),
        (
            RecordActivityRequest {
                description: "d".repeat(20_001),
                channel: "c".repeat(501),
                audience: "a".repeat(501),
                ..activity(BRIEFING, "2020-03-10", "x")
            },
            &["description", "channel", "audience"],
        ),
        (
            RecordActivityRequest {
                head_count: -1,
                ..activity(BRIEFING, "2020-03-10", "x")
            },
            &["head_count"],
        ),
        (
            RecordActivityRequest {
                evidence_links: vec![
                    "https://ok.example.vn/a".into(),
                    "ftp://example.vn/a".into(),
                    "javascript:alert(1)".into(),
                ],
                ..activity(BRIEFING, "2020-03-10", "x")
            },
            &["evidence_links[1]", "evidence_links[2]"],
        ),
        (
            RecordActivityRequest {
                evidence_links: vec!["https://ok.example.vn/a".into(); 51],
                ..activity(BRIEFING, "2020-03-10", "x")
            },
            &["evidence_links"],
        ),
        (
            RecordActivityRequest {
                procedure_codes: vec!["1.012753.H19".into(), " ".into()],
                ..activity(BRIEFING, "2020-03-10", "x")
            },
            &["procedure_codes[1]"],
        ),
        (
            RecordActivityRequest {
                idempotency_key: "k".repeat(201),
                ..activity(BRIEFING, "2020-03-10", "x")
            },
            &["idempotency_key"],
        ),
        (
            RecordActivityRequest {
                kind: String::new(),
                date: String::new(),
                title: String::new(),
                head_count: -5,
                ..Default::default()
            },
            &["kind", "date", "title", "head_count"],
        ),
    ];
    for (r, expected) in cases {
        let e = s
            .api
            .record_activity(as_unit(unit, r.clone()))
            .await
            .expect_err("refused");
        assert_eq!(e.code(), Code::InvalidArgument, "{r:?}");
        assert_eq!(fields(&e), *expected, "{r:?}");
    }
    // Today, zero people, and every kind are fine.
    for kind in activity_kind::ALL {
        let today = cchc_platform::time::today().to_string();
        let a = record(
            &s,
            unit,
            RecordActivityRequest {
                head_count: 0,
                ..activity(kind, &today, "Hợp lệ")
            },
        )
        .await;
        assert_eq!(a.kind, *kind);
    }
    assert_eq!(s.count("activities").await, 9);
    assert_eq!(s.count("cchc_outbox").await, 9, "one event per record");
}

#[tokio::test]
async fn only_units_record_and_the_unit_is_the_callers() {
    let s = service().await;
    // Leadership records nothing; the office records for its own unit only (below).
    let e = s
        .api
        .record_activity(from(
            Uuid::new_v4(),
            Role::Leader,
            activity(BRIEFING, "2020-03-10", "x"),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let office = Uuid::new_v4();
    let own = s
        .api
        .record_activity(from(
            office,
            Role::Office,
            activity(BRIEFING, "2020-03-10", "Văn phòng"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(own.unit_id, office.to_string());
    let e = s
        .api
        .record_activity(tonic::Request::new(activity(BRIEFING, "2020-03-10", "x")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let unit = Uuid::new_v4();
    let a = record(&s, unit, activity(BRIEFING, "2020-03-10", "x")).await;
    assert_eq!(a.unit_id, unit.to_string());
    assert_eq!(
        s.count("activities").await,
        2,
        "the office's own and the unit's"
    );
}

#[tokio::test]
async fn a_retried_submission_lands_once() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let r = RecordActivityRequest {
        idempotency_key: "nop-2020-03-10-1".into(),
        ..activity(NEWS_POST, "2020-03-10", "Đăng tin CCHC")
    };
    let first = record(&s, unit, r.clone()).await;
    let again = record(&s, unit, r.clone()).await;
    assert_eq!(first, again);
    assert_eq!(s.count("activities").await, 1);
    assert_eq!(s.count("cchc_outbox").await, 1, "no second event");

    // The same key for a different activity is a client error, not a silent no-op.
    let e = s
        .api
        .record_activity(as_unit(
            unit,
            RecordActivityRequest {
                head_count: 41,
                ..r.clone()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);

    // Keys belong to a unit: another unit's same key is its own record.
    let other = record(&s, Uuid::new_v4(), r).await;
    assert_ne!(other.id, first.id);
    assert_eq!(s.count("activities").await, 2);

    // Concurrent retries still land once.
    let r = RecordActivityRequest {
        idempotency_key: "race".into(),
        ..activity(TRAINING, "2020-04-01", "Tập huấn")
    };
    let (a, b) = tokio::join!(
        s.api.record_activity(as_unit(unit, r.clone())),
        s.api.record_activity(as_unit(unit, r.clone()))
    );
    assert_eq!(a.unwrap().into_inner().id, b.unwrap().into_inner().id);
    assert_eq!(s.count("activities").await, 3);
    assert_eq!(s.count("cchc_outbox").await, 3);
}

#[tokio::test]
async fn the_event_is_written_in_the_records_transaction() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let a = record(&s, unit, activity(BRIEFING, "2020-03-10", "Quán triệt")).await;
    let events = s.payloads::<ActivityRecorded>().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].activity_id, a.id);
    assert_eq!(events[0].unit_id, unit.to_string());
    assert_eq!(events[0].kind, BRIEFING);
    assert_eq!(events[0].date, "2020-03-10");
    assert_eq!(events[0].head_count, 40);
    assert_eq!(events[0].supersedes, "");

    // When the event cannot be written, the record is not kept either.
    sqlx::query("ALTER TABLE cchc_outbox RENAME TO cchc_outbox_away")
        .execute(&s.pool)
        .await
        .unwrap();
    let e = s
        .api
        .record_activity(as_unit(unit, activity(BRIEFING, "2020-03-11", "Mất")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal);
    let e = s
        .api
        .correct_activity(as_unit(
            unit,
            CorrectActivityRequest {
                activity_id: a.id.clone(),
                reason: "sai ngày".into(),
                activity: Some(activity(BRIEFING, "2020-03-09", "Quán triệt")),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Internal);
    sqlx::query("ALTER TABLE cchc_outbox_away RENAME TO cchc_outbox")
        .execute(&s.pool)
        .await
        .unwrap();
    assert_eq!(s.count("activities").await, 1);
    assert_eq!(s.count("cchc_outbox").await, 1);
}

#[tokio::test]
async fn a_batch_accepts_and_rejects_each_item_on_its_own() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let items = vec![
        activity(BRIEFING, "2020-01-06", "Quán triệt kế hoạch"),
        RecordActivityRequest {
            head_count: -2,
            evidence_links: vec!["not a link".into()],
            ..activity("party", "2020-01-07", "Sai")
        },
        activity(POSTING, "2020-01-08", "Niêm yết TTHC"),
    ];
    let batch = RecordActivitiesRequest {
        items: items.clone(),
        idempotency_key: "batch-2020-01".into(),
    };
    let r = s
        .api
        .record_activities(as_unit(unit, batch.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((r.accepted, r.rejected), (2, 1));
    let indexes: Vec<(u32, bool)> = r.results.iter().map(|x| (x.index, x.accepted)).collect();
    assert_eq!(indexes, [(0, true), (1, false), (2, true)]);
    let errors: Vec<&str> = r.results[1]
        .errors
        .iter()
        .map(|e| e.field.as_str())
        .collect();
    assert_eq!(errors, ["kind", "head_count", "evidence_links[0]"]);
    assert!(r.results[1].activity.is_none());
    assert_eq!(
        r.results[2].activity.as_ref().unwrap().title,
        "Niêm yết TTHC"
    );
    assert_eq!(s.count("activities").await, 2);
    assert_eq!(s.payloads::<ActivityRecorded>().await.len(), 2);

    // The whole batch retried with its key lands once.
    let again = s
        .api
        .record_activities(as_unit(unit, batch))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.results[0].activity, r.results[0].activity);
    assert_eq!(again.results[2].activity, r.results[2].activity);
    assert_eq!(s.count("activities").await, 2);
    assert_eq!(s.count("cchc_outbox").await, 2);

    // An item reusing a key for something else is rejected alone.
    let r = unkeyed_batch(
        &s,
        unit,
        vec![
            RecordActivityRequest {
                idempotency_key: "batch-2020-01/0".into(),
                ..activity(TRAINING, "2020-02-01", "Khác")
            },
            activity(TRAINING, "2020-02-02", "Tập huấn"),
        ],
    )
    .await;
    assert_eq!((r.accepted, r.rejected), (1, 1));
    assert_eq!(r.results[0].errors[0].field, "idempotency_key");
    assert_eq!(s.count("activities").await, 3);

    // Empty and oversized batches are refused whole.
    for n in [0, 1001] {
        let e = s
            .api
            .record_activities(as_unit(
                unit,
                RecordActivitiesRequest {
                    items: vec![activity(BRIEFING, "2020-01-06", "x"); n],
                    idempotency_key: String::new(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(fields(&e), ["items"]);
    }
    // A full batch of 1,000 lands.
    let r = unkeyed_batch(
        &s,
        unit,
        vec![activity(NEWS_POST, "2020-05-01", "Tin"); 1000],
    )
    .await;
    assert_eq!(r.accepted, 1000);
    assert_eq!(s.count("activities").await, 1003);
    assert_eq!(s.count("cchc_outbox").await, 1003);
}

#[tokio::test]
async fn a_key_repeated_in_one_batch_is_the_same_request_or_refused() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let keyed = |title: &str| RecordActivityRequest {
        idempotency_key: "tuan-12".into(),
        ..activity(BRIEFING, "2020-03-16", title)
    };
    let full = RecordActivityRequest {
        description: "Phát tờ rơi tại bộ phận một cửa".into(),
        channel: "trực tiếp".into(),
        audience: "phụ huynh".into(),
        evidence_links: vec![
            "https://thcs-a.example.vn/tin/7".into(),
            "https://thcs-a.example.vn/anh/7".into(),
        ],
        procedure_codes: vec!["1.005088".into(), " 2.001818 ".into()],
        ..activity(POSTING, "2020-03-17", "Niêm yết")
    };
    let r = unkeyed_batch(
        &s,
        unit,
        vec![
            keyed("Quán triệt"),
            full.clone(),
            keyed("Quán triệt"),
            keyed("Khác"),
        ],
    )
    .await;
    let accepted: Vec<bool> = r.results.iter().map(|x| x.accepted).collect();
    assert_eq!(accepted, [true, true, true, false]);
    assert_eq!(r.results[2].activity, r.results[0].activity);
    assert_eq!(r.results[3].errors[0].field, "idempotency_key");
    assert_eq!(s.count("activities").await, 2);

    // Every field is stored as given (codes trimmed), and the events say what the
    // rows say, to the microsecond.
    let stored = r.results[1].activity.clone().unwrap();
    assert_eq!(stored.description, full.description);
    assert_eq!(
        (stored.channel.as_str(), stored.audience.as_str()),
        ("trực tiếp", "phụ huynh")
    );
    assert_eq!(stored.evidence_links, full.evidence_links);
    assert_eq!(stored.procedure_codes, ["1.005088", "2.001818"]);
    assert_eq!(stored.created_at, stored.recorded_at);
    let single = record(&s, unit, activity(TRAINING, "2020-03-18", "Tập huấn")).await;
    let rows = [r.results[0].activity.clone().unwrap(), stored, single];
    let events = s.payloads::<ActivityRecorded>().await;
    assert_eq!(events.len(), 3);
    for a in &rows {
        let e = events.iter().find(|e| e.activity_id == a.id).unwrap();
        assert_eq!(e.recorded_at, a.recorded_at);
        assert_eq!(e.procedure_codes, a.procedure_codes);
        assert_eq!(
            (e.title.as_str(), e.kind.as_str()),
            (a.title.as_str(), a.kind.as_str())
        );
        assert_eq!(a, &get(&s, unit, &a.id).await);
    }

    // The batch again: nothing new, each item answered as before.
    let again = unkeyed_batch(&s, unit, vec![keyed("Quán triệt"), keyed("Khác")]).await;
    assert_eq!(again.results[0].activity, r.results[0].activity);
    assert!(!again.results[1].accepted);
    assert_eq!(s.count("activities").await, 3);
    assert_eq!(s.count("cchc_outbox").await, 3);
}

#[tokio::test]
async fn concurrent_submissions_written_together_are_each_answered_as_alone() {
    let s = service().await;
    let units: Vec<Uuid> = (0..4).map(|_| Uuid::new_v4()).collect();
    let closed = units[3];
    sqlx::query(
        "INSERT INTO ended_units (unit_id, status, merged_into, effective_date)
         VALUES ($1, 'closed', NULL, '2020-01-01')",
    )
    .bind(closed)
    .execute(&s.pool)
    .await
    .unwrap();
    // 200 submissions at once: each unit's items under a few keys, some repeated with
    // the same content (retries), some with other content (a reused key).
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..200usize {
        let api = s.api.clone();
        let unit = units[i % 4];
        let (key, title) = match i % 5 {
            0 => (format!("retry-{}", i % 20), "Lặp lại".to_owned()),
            1 => (format!("reuse-{}", i % 4), format!("Khác {i}")),
            _ => (String::new(), format!("Tin {i}")),
        };
        calls.spawn(async move {
            let r = api
                .record_activity(as_unit(
                    unit,
                    RecordActivityRequest {
                        idempotency_key: key.clone(),
                        ..activity(NEWS_POST, "2020-06-01", &title)
                    },
                ))
                .await;
            (unit, key, title, r.map(|a| a.into_inner()))
        });
    }
    let mut answered = std::collections::HashMap::<(Uuid, String), Vec<String>>::new();
    let (mut refused_closed, mut refused_reused) = (0, 0);
    while let Some(joined) = calls.join_next().await {
        let (unit, key, title, r) = joined.unwrap();
        match r {
            Ok(a) => {
                assert_eq!(
                    (a.unit_id.as_str(), a.title.as_str()),
                    (unit.to_string().as_str(), title.as_str())
                );
                if !key.is_empty() {
                    answered.entry((unit, key)).or_default().push(a.id);
                }
            }
            Err(e) if unit == closed => {
                assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
                refused_closed += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), Code::AlreadyExists, "{e:?}");
                assert!(key.starts_with("reuse-"), "{key}");
                refused_reused += 1;
            }
        }
    }
    assert_eq!(refused_closed, 50);
    // Each reused key of an open unit stands for the first of its 10 submissions.
    assert_eq!(refused_reused, 3 * 9);
    // Every retry of a key got the one record it stands for.
    for ids in answered.values() {
        assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    }
    // Each open unit: 30 records without a key, one for its retried key and one for
    // its reused key, each with its one event.
    assert_eq!(s.count("activities").await, 3 * 32);
    assert_eq!(s.payloads::<ActivityRecorded>().await.len(), 3 * 32);
}

async fn get(s: &Service, unit: Uuid, id: &str) -> Activity {
    s.api
        .get_activity(as_unit(
            unit,
            cchc_proto::activity::v1::GetActivityRequest {
                activity_id: id.into(),
            },
        ))
        .await
        .expect("found")
        .into_inner()
}

fn correction(id: &str, r: RecordActivityRequest, reason: &str) -> CorrectActivityRequest {
    CorrectActivityRequest {
        activity_id: id.into(),
        reason: reason.into(),
        activity: Some(r),
    }
}

#[tokio::test]
async fn corrections_supersede_and_the_history_keeps_both() {
    let s = service().await;
    let unit = Uuid::new_v4();
    let original = record(&s, unit, activity(BRIEFING, "2020-03-10", "Hội nghị")).await;
    let other = record(&s, unit, activity(POSTING, "2020-03-12", "Niêm yết")).await;

    let fixed_body = RecordActivityRequest {
        head_count: 120,
        idempotency_key: "fix-1".into(),
        ..activity(TRAINING, "2020-03-10", "Hội nghị tập huấn")
    };
    let fixed = s
        .api
        .correct_activity(as_unit(
            unit,
            correction(&original.id, fixed_body.clone(), "sai số người"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(fixed.id, original.id);
    assert_eq!(fixed.supersedes, original.id);
    assert_eq!(fixed.unit_id, unit.to_string());
    assert_eq!(fixed.correction_reason, "sai số người");
    assert_eq!(fixed.head_count, 120);
    assert!(!fixed.recorded_at.is_empty());

    // The current view shows the correction, not the original.
    let current = list(&s, as_unit(unit, ListActivitiesRequest::default())).await;
    assert_eq!(titles(&current), ["Hội nghị tập huấn", "Niêm yết"]);
    // The history shows both, each with who and when, linked both ways.
    let history = list(
        &s,
        as_unit(
            unit,
            ListActivitiesRequest {
                history: true,
                ..Default::default()
            },
        ),
    )
    .await;
    assert_eq!(history.len(), 3);
    let old = history.iter().find(|a| a.id == original.id).unwrap();
    assert_eq!(old.superseded_by, fixed.id);
    assert_eq!(old.head_count, 40, "the original is kept as it was");
    assert_eq!(old.recorded_at, original.recorded_at);
    assert!(history.iter().all(|a| a.unit_id == unit.to_string()));

    // A retried correction answers with the first; no second record or event.
    let again = s
        .api
        .correct_activity(as_unit(
            unit,
            correction(&original.id, fixed_body, "sai số người"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, fixed);

    // A superseded record cannot be corrected again: its correction is the one to fix.
    let e = s
        .api
        .correct_activity(as_unit(
            unit,
            correction(
                &original.id,
                activity(TRAINING, "2020-03-10", "Lần hai"),
                "",
            ),
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    assert!(e.message().contains(&fixed.id), "{}", e.message());
    let fixed_again = s
        .api
        .correct_activity(as_unit(
            unit,
            correction(&fixed.id, activity(TRAINING, "2020-03-11", "Lần hai"), ""),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fixed_again.supersedes, fixed.id);

    // A correction is checked like any record, the reason too.
    let e = s
        .api
        .correct_activity(as_unit(
            unit,
            CorrectActivityRequest {
                activity_id: other.id.clone(),
                reason: "r".repeat(2001),
                activity: Some(RecordActivityRequest {
                    head_count: -1,
                    ..activity(POSTING, "2020-03-12", "Niêm yết")
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["head_count", "reason"]);

    // Each correction's event names what it supersedes, so reports drop the old one.
    let events = s.payloads::<ActivityRecorded>().await;
    let supersedes: Vec<&str> = events.iter().map(|e| e.supersedes.as_str()).collect();
    assert_eq!(
        supersedes,
        ["", "", original.id.as_str(), fixed.id.as_str()]
    );
    assert_eq!(events[2].correction_reason, "sai số người");
    assert_eq!(events[2].kind, TRAINING);
    assert_eq!(s.count("activities").await, 4);
}

#[tokio::test]
async fn a_unit_cannot_correct_another_units_activity() {
    let s = service().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let theirs = record(&s, b, activity(BRIEFING, "2020-03-10", "Của B")).await;
    let body = activity(BRIEFING, "2020-03-10", "Sửa của B");
    // Checked inside the service: a forged request is answered as if nothing existed.
    let e = s
        .api
        .correct_activity(as_unit(a, correction(&theirs.id, body.clone(), "")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let absent = s
        .api
        .correct_activity(as_unit(
            a,
            correction(&Uuid::new_v4().to_string(), body.clone(), ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(absent.code(), Code::NotFound);
    assert_eq!(
        absent.message(),
        e.message(),
        "absent and foreign look alike"
    );
    let malformed = s
        .api
        .correct_activity(as_unit(a, correction("not-an-id", body.clone(), "")))
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::NotFound);
    // Leadership and operators write no records; the office writes only its own
    // unit's (below), never another's.
    let office = Uuid::new_v4();
    let e = s
        .api
        .correct_activity(from(
            office,
            Role::Office,
            correction(&theirs.id, body.clone(), ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::NotFound,
        "another unit's record, as to any unit"
    );
    for role in [Role::Leader, Role::Operator] {
        let e = s
            .api
            .correct_activity(from(b, role, correction(&theirs.id, body.clone(), "")))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
    }
    assert_eq!(s.count("activities").await, 1);
    assert_eq!(s.count("cchc_outbox").await, 1);
    let kept = list(&s, as_unit(b, ListActivitiesRequest::default())).await;
    assert_eq!(kept[0].superseded_by, "");
}

#[tokio::test]
async fn lists_filter_by_unit_kind_dates_and_period() {
    let s = service().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    record(&s, a, activity(BRIEFING, "2020-01-15", "A tháng 1")).await;
    record(&s, a, activity(NEWS_POST, "2020-06-30", "A tháng 6")).await;
    record(&s, a, activity(NEWS_POST, "2020-07-01", "A tháng 7")).await;
    record(&s, b, activity(NEWS_POST, "2020-03-01", "B tháng 3")).await;

    // A unit sees its own, whichever unit it names.
    let mine = list(
        &s,
        as_unit(
            b,
            ListActivitiesRequest {
                unit_id: a.to_string(),
                ..Default::default()
            },
        ),
    )
    .await;
    assert_eq!(titles(&mine), ["B tháng 3"]);

    // The office and leadership see all, and filter.
    let all = list(&s, as_office(ListActivitiesRequest::default())).await;
    assert_eq!(all.len(), 4);
    let leader = list(
        &s,
        from(
            Uuid::new_v4(),
            Role::Leader,
            ListActivitiesRequest::default(),
        ),
    )
    .await;
    assert_eq!(leader.len(), 4);
    let q = |unit: Option<Uuid>, kind: &str, from: &str, to: &str, period: &str| {
        as_office(ListActivitiesRequest {
            unit_id: unit.map(|u| u.to_string()).unwrap_or_default(),
            kind: kind.into(),
            from: from.into(),
            to: to.into(),
            period: period.into(),
            ..Default::default()
        })
    };
    assert_eq!(
        titles(&list(&s, q(Some(a), "", "", "", "")).await),
        ["A tháng 7", "A tháng 6", "A tháng 1"]
    );
    assert_eq!(
        titles(&list(&s, q(None, NEWS_POST, "", "", "")).await),
        ["B tháng 3", "A tháng 7", "A tháng 6"]
    );
    assert_eq!(
        titles(&list(&s, q(None, "", "2020-03-01", "2020-06-30", "")).await),
        ["B tháng 3", "A tháng 6"]
    );
    assert_eq!(
        titles(&list(&s, q(None, "", "", "", "2020-H1")).await),
        ["B tháng 3", "A tháng 6", "A tháng 1"]
    );
    assert_eq!(
        titles(&list(&s, q(Some(a), NEWS_POST, "", "", "2020-H1")).await),
        ["A tháng 6"]
    );
    assert_eq!(
        titles(&list(&s, q(None, "", "", "", "2020-Q3")).await),
        ["A tháng 7"]
    );
    // A period and dates narrow each other.
    assert_eq!(
        titles(&list(&s, q(None, "", "2020-02-01", "", "2020-H1")).await),
        ["B tháng 3", "A tháng 6"]
    );
    assert!(list(&s, q(None, "", "", "", "2020-02")).await.is_empty());

    let e = s
        .api
        .list_activities(q(None, "party", "2020-13-01", "", "2020-H3"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["kind", "from", "period"]);
    let e = s
        .api
        .list_activities(as_office(ListActivitiesRequest {
            unit_id: "someone".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["unit_id"]);

    // Pages follow one another without gaps or repeats.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let r = s
            .api
            .list_activities(as_office(ListActivitiesRequest {
                limit: 3,
                page_token: token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        seen.extend(r.activities.into_iter().map(|a| a.id));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    seen.dedup();
    assert_eq!(seen.len(), 4);
}

#[tokio::test]
async fn an_exactly_full_page_is_the_last_and_a_limit_over_500_is_refused() {
    let s = service().await;
    let unit = Uuid::new_v4();
    for title in ["Một", "Hai", "Ba", "Bốn"] {
        record(&s, unit, activity(BRIEFING, "2020-03-10", title)).await;
    }
    let page = |limit: u32, page_token: String| {
        s.api.list_activities(as_office(ListActivitiesRequest {
            limit,
            page_token,
            ..Default::default()
        }))
    };
    // Four records in pages of two: the second page is full and is the last.
    let first = page(2, String::new()).await.unwrap().into_inner();
    assert_eq!(titles(&first.activities), ["Bốn", "Ba"]);
    assert!(!first.next_page_token.is_empty());
    let second = page(2, first.next_page_token).await.unwrap().into_inner();
    assert_eq!(titles(&second.activities), ["Hai", "Một"]);
    assert_eq!(second.next_page_token, "", "no token to an empty page");
    let whole = page(4, String::new()).await.unwrap().into_inner();
    assert_eq!(
        (whole.activities.len(), whole.next_page_token.as_str()),
        (4, "")
    );

    // The largest page is 500; more is refused, as the gateway refuses it.
    assert_eq!(
        page(500, String::new())
            .await
            .unwrap()
            .into_inner()
            .activities
            .len(),
        4
    );
    let e = page(501, String::new()).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let errors = cchc_platform::validation::field_errors(&e);
    assert_eq!(fields(&e), ["limit"]);
    assert_eq!(errors[0].message, cchc_platform::page::LIMIT_RULE.message());
    let e = page(10, "not-a-token".into()).await.unwrap_err();
    assert_eq!(fields(&e), ["page_token"]);
}
