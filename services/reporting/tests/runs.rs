//! Events applied together (as the consumer applies a batch) leave the read models as
//! the same events applied one by one, and a bad event in a batch fails the batch.

mod common;

use cchc_platform::Actor;
use cchc_platform::consumer::{HandleError, Handler};
use cchc_proto::events::v1::{ActivityRecorded, Envelope, UnitCreated, UnitRenamed};
use cchc_reporting::events::ReadModels;
use chrono::{TimeZone, Utc};
use common::{envelope_at, envelope_by, service};
use uuid::Uuid;

fn activity(unit: Uuid, kind: &str, head_count: i64) -> ActivityRecorded {
    ActivityRecorded {
        activity_id: Uuid::new_v4().to_string(),
        unit_id: unit.to_string(),
        kind: kind.into(),
        date: "2020-04-06".into(),
        title: "Tuyên truyền CCHC".into(),
        head_count,
        ..Default::default()
    }
}

/// A unit's life in events: activities around its creation and renaming, a
/// correction, a redelivered activity, one from a key and one from nobody.
fn events() -> Vec<Envelope> {
    let unit = Uuid::new_v4();
    let at = |day| Utc.with_ymd_and_hms(2020, 4, day, 8, 0, 0).unwrap();
    let clerk = Actor::User(Uuid::new_v4());
    let first = activity(unit, "briefing", 40);
    let correction = ActivityRecorded {
        supersedes: first.activity_id.clone(),
        correction_reason: "sai số người".into(),
        ..activity(unit, "briefing", 45)
    };
    let mut unattributed = envelope_at("activity", &activity(unit, "news_post", 0), at(9));
    unattributed.actor = String::new();
    vec![
        envelope_by("activity", &clerk, &activity(unit, "training", 12), at(1)),
        envelope_at(
            "gateway",
            &UnitCreated {
                unit_id: unit.to_string(),
                name: "Trường THCS Nguyễn Du".into(),
                kind: "lower_secondary_school".into(),
                parent_id: String::new(),
            },
            at(2),
        ),
        envelope_by("activity", &clerk, &first, at(3)),
        envelope_by("activity", &clerk, &first, at(3)),
        envelope_by("activity", &Actor::Key(Uuid::new_v4()), &correction, at(4)),
        envelope_at(
            "gateway",
            &UnitRenamed {
                unit_id: unit.to_string(),
                old_name: "Trường THCS Nguyễn Du".into(),
                new_name: "Trường THCS Nguyễn Du (phường 2)".into(),
                effective_date: "2020-04-05".into(),
            },
            at(5),
        ),
        envelope_by("activity", &clerk, &activity(unit, "posting", 0), at(6)),
        unattributed,
    ]
}

#[tokio::test]
async fn a_batch_applied_together_is_the_same_events_one_by_one() {
    let events = events();
    let one_by_one = service().await;
    for env in &events {
        one_by_one.apply(env).await;
    }
    let together = service().await;
    let refs: Vec<&Envelope> = events.iter().collect();
    let mut tx = together.pool.begin().await.unwrap();
    ReadModels.handle_all(&mut tx, &refs).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(together.count("rm_activities").await, 5);
    assert_eq!(
        together.dump_read_models().await,
        one_by_one.dump_read_models().await
    );
}

#[tokio::test]
async fn a_bad_activity_in_a_batch_fails_the_batch() {
    let svc = service().await;
    let mut events = events();
    let bad = ActivityRecorded {
        date: "06/04/2020".into(),
        ..activity(Uuid::new_v4(), "briefing", 1)
    };
    events.insert(3, envelope_at("activity", &bad, Utc::now()));
    let refs: Vec<&Envelope> = events.iter().collect();
    let mut tx = svc.pool.begin().await.unwrap();
    let e = ReadModels.handle_all(&mut tx, &refs).await.unwrap_err();
    assert!(matches!(e, HandleError::Permanent(_)), "{e}");
}
