//! Crash the notification service (SIGKILL) in the middle of a burst of events; after a
//! restart every expected inbox message exists exactly once.

use std::collections::HashSet;

use cchc_e2e::{System, complete_procedure, publication};

const PROCEDURES: usize = 40;

#[tokio::test]
async fn notification_killed_mid_burst_delivers_each_message_once() {
    let mut sys = System::start("crash").await;
    let office = sys.office_key.clone();
    let mut keys = Vec::new();
    for i in 0..3 {
        keys.push(
            sys.unit_with_key(&format!("Trường THPT số {i}"), "high_school", "unit")
                .await
                .1,
        );
    }

    for i in 0..PROCEDURES {
        let code = format!("1.{:06}.H19", 100 + i);
        let (s, b) = sys
            .post(
                "/v1/procedures",
                Some(&office),
                &complete_procedure(&code, &format!("Thủ tục số {i}")),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let (s, b) = sys
            .post(
                &format!("/v1/procedures/{code}/publish"),
                Some(&office),
                &publication("2020-02-01"),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        if i == PROCEDURES / 2 {
            // Mid-burst: the consumer is busy with the first half.
            sys.kill("notification").await;
        }
    }
    sys.restart("notification").await;

    for key in &keys {
        let msgs = sys
            .eventually(60, "every inbox message", || async {
                let (_, b) = sys.get("/v1/notifications?limit=500", Some(key)).await;
                let m = b["messages"].as_array().cloned().unwrap_or_default();
                (m.len() >= PROCEDURES).then_some(m)
            })
            .await;
        assert_eq!(msgs.len(), PROCEDURES, "exactly one message per procedure");
        let events: HashSet<&str> = msgs
            .iter()
            .map(|m| m["event_id"].as_str().unwrap())
            .collect();
        assert_eq!(events.len(), PROCEDURES, "no event produced two messages");
        let subjects: HashSet<&str> = msgs
            .iter()
            .map(|m| m["subject"].as_str().unwrap())
            .collect();
        assert_eq!(subjects.len(), PROCEDURES);
    }
    // Redelivery after the restart added nothing either.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let (_, b) = sys.get("/v1/notifications?limit=500", Some(&keys[0])).await;
    assert_eq!(b["messages"].as_array().unwrap().len(), PROCEDURES);
    sys.stop().await;
}
