//! The short chaos run inside `make test` (`make chaos` runs the full one): nothing
//! acknowledged is lost, nothing is applied twice.

use std::time::Duration;

use cchc_e2e::System;
use cchc_e2e::chaos::{
    dashboard_total, nats_killed, people_through_faults, poison_message,
    relay_outlasts_duplicate_window, service_killed,
};

#[tokio::test]
async fn faults_lose_nothing_and_apply_nothing_twice() {
    let mut sys = System::start_with("chaos", &[("*", "CCHC_DUPLICATE_WINDOW_SECONDS", "1")]).await;
    let (_, key) = sys
        .unit_with_key("Trường THPT Thử lỗi", "high_school", "unit")
        .await;
    let mut written = 0;
    let mut tallies = Vec::new();
    tallies.push(nats_killed(&mut sys, &key, 60).await);
    for service in ["activity", "reporting"] {
        tallies.push(service_killed(&mut sys, &key, service, 40).await);
    }
    tallies.push(relay_outlasts_duplicate_window(&mut sys, &key, 30, Duration::from_secs(1)).await);
    let (t, letters) = poison_message(&mut sys, &key).await;
    tallies.push(t);
    for t in &tallies {
        println!("{t}");
        written += t.acknowledged;
    }
    for t in &tallies {
        assert!(t.clean(), "{t}");
    }
    assert_eq!(
        dashboard_total(&sys).await,
        written as i64,
        "every write counted once"
    );
    let dead = &letters["dead_letters"].as_array().unwrap()[0];
    assert!(
        dead["error"].as_str().unwrap().contains("undecodable"),
        "{letters}"
    );
    sys.stop().await;
}

/// People through faults: sessions outlive a killed gateway and name their person;
/// invitations sent while nats-server and notification die arrive once, and work.
#[tokio::test]
async fn people_and_their_links_survive_faults() {
    for t in people_through_faults(40, 15).await {
        println!("{t}");
        assert!(t.clean(), "{t}");
    }
}

/// Forged events (no credentials, another service's credentials, envelopes that claim
/// another producer than their subject's) are neither stored nor applied.
#[tokio::test]
async fn forged_events_are_refused_and_dead_lettered() {
    let mut sys = System::start("chaos-forged").await;
    let (_, key) = sys
        .unit_with_key("Trường THPT Thử giả mạo", "high_school", "unit")
        .await;
    let (t, forgery) = cchc_e2e::chaos::forged_events(&mut sys, &key).await;
    println!("{t}\n{forgery}");
    assert!(t.clean(), "{t}");
    assert!(forgery.clean(), "{forgery}");
    assert_eq!(forgery.stored, 0, "{forgery}");
    assert_eq!(forgery.applied, 0, "{forgery}");
    // The services themselves were refused nothing they need.
    let refused = sys.nats_refusals();
    assert!(refused.is_empty(), "{refused:#?}");
    sys.stop().await;
}

/// One report job cannot stop reporting: sums too large fail their job with the reason,
/// a job that hangs is named by `/readyz`, one that brings reporting down at every start
/// is failed after its attempts, and the reports after them complete.
#[tokio::test]
async fn a_stuck_report_job_does_not_stop_reporting() {
    let mut sys = System::start_with("chaos-stuck-job", cchc_e2e::chaos::STUCK_JOB_ENV).await;
    let jobs = cchc_e2e::chaos::stuck_job(&mut sys).await;
    println!("{jobs}");
    assert!(jobs.clean(), "{jobs}");
    sys.stop().await;
}
