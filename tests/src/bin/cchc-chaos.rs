//! `make chaos`: the full fault suite. Each scenario drives writes while something
//! breaks and prints what it found; the run fails if anything acknowledged was lost or
//! applied twice. Restarting PostgreSQL needs the project's private cluster
//! (`deploy/local/postgres.sh`), which `make chaos` provides.
//!
//! People too: writes through a session while the gateway is killed, invitations while
//! nats-server and notification are. And replicas: on `make cluster`, a NATS node and
//! one replica of every service and gateway SIGKILLed mid-burst. `CCHC_CHAOS_WRITES`
//! sets the writes per scenario (default 300); `CCHC_CHAOS_ONLY=postgres` or `=cluster`
//! runs that scenario alone.

use std::time::Duration;

use cchc_e2e::System;
use cchc_e2e::chaos::{
    Tally, burst, dashboard_total, nats_killed, poison_message, relay_outlasts_duplicate_window,
    service_killed, tally,
};
use cchc_e2e::make_run::Cluster;
use cchc_testkit::workspace_root;

async fn postgres_restarted(sys: &mut System, key: &str, n: usize) -> Tally {
    let acked = burst(sys, key, "postgres-restarted", n, async |_: &mut System| {
        let status =
            tokio::process::Command::new(workspace_root().join("deploy/local/postgres.sh"))
                .arg("restart")
                .status()
                .await
                .expect("running postgres.sh");
        assert!(status.success(), "restarting PostgreSQL failed");
    })
    .await;
    tally(
        sys,
        "restart PostgreSQL during relaying and consumption",
        "postgres-restarted",
        acked,
    )
    .await
}

/// On `make cluster` (its own PostgreSQL, NATS nodes and processes): a NATS node and
/// one replica of every service and gateway SIGKILLed mid-burst; then, for each NATS
/// node in turn, a version published right after that node dies, timed until the other
/// gateway reads it. One fault per cluster: the killed stay dead, and three NATS nodes
/// keep a quorum with one lost.
async fn cluster(n: usize) -> Vec<Tally> {
    let mut cluster = Cluster::start().await;
    let key = cluster.unit_key("Trường THPT Thử lỗi cụm máy").await;
    let t = cchc_e2e::chaos::cluster_killed(&mut cluster, &key, n, true).await;
    println!("{t}");
    cluster.stop().await;
    // Which node holds a gateway's consumer is the cluster's choice: each in turn.
    for node in 0..3 {
        let stale = cchc_e2e::chaos::publication_after_node_death(node).await;
        println!(
            "chaos: cluster: published right after NATS node {node} was SIGKILLed, read fresh through the other gateway {:.2} s later",
            stale.as_secs_f64()
        );
    }
    vec![t]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("CCHC_CHAOS_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // CCHC_CHAOS_ONLY=postgres (or =cluster) runs that scenario alone.
    let only = std::env::var("CCHC_CHAOS_ONLY").unwrap_or_default();
    if only == "cluster" {
        let tallies = cluster(n).await;
        anyhow::ensure!(
            tallies.iter().all(Tally::clean),
            "lost or duplicated writes: {tallies:?}"
        );
        return Ok(());
    }
    let window = Duration::from_secs(2);
    let mut sys =
        System::start_with("chaos-full", &[("*", "CCHC_DUPLICATE_WINDOW_SECONDS", "2")]).await;
    let (_, key) = sys
        .unit_with_key("Trường THPT Thử lỗi", "high_school", "unit")
        .await;
    let mut tallies = Vec::new();
    if only.is_empty() {
        tallies.push(nats_killed(&mut sys, &key, n).await);
        println!("{}", tallies.last().unwrap());
        for service in [
            "gateway",
            "catalogue",
            "activity",
            "notification",
            "reporting",
        ] {
            tallies.push(service_killed(&mut sys, &key, service, n).await);
            println!("{}", tallies.last().unwrap());
        }
    }
    tallies.push(postgres_restarted(&mut sys, &key, n).await);
    println!("{}", tallies.last().unwrap());
    if !only.is_empty() {
        let clean = tallies.iter().all(Tally::clean);
        sys.stop().await;
        anyhow::ensure!(clean, "lost or duplicated writes: {tallies:?}");
        return Ok(());
    }
    tallies.push(relay_outlasts_duplicate_window(&mut sys, &key, n, window).await);
    println!("{}", tallies.last().unwrap());
    let (t, letters) = poison_message(&mut sys, &key).await;
    println!("{t}");
    println!("dead letters seen by the operator: {}", letters["total"]);
    tallies.push(t);
    let (t, forgery) = cchc_e2e::chaos::forged_events(&mut sys, &key).await;
    println!("{t}");
    println!("{forgery}");
    tallies.push(t);
    let written: usize = tallies.iter().map(|t| t.acknowledged).sum();
    let counted = dashboard_total(&sys).await;
    println!("dashboard counts {counted} activities for {written} acknowledged writes");
    sys.stop().await;
    // Its own system: reporting there calls a job stuck after a few seconds.
    let mut jobs_sys = System::start_with("chaos-stuck-job", cchc_e2e::chaos::STUCK_JOB_ENV).await;
    let jobs = cchc_e2e::chaos::stuck_job(&mut jobs_sys).await;
    println!("{jobs}");
    jobs_sys.stop().await;
    // People: sessions and one-time links, on a system of their own with mail.
    for t in cchc_e2e::chaos::people_through_faults(n, (n / 10).max(10)).await {
        println!("{t}");
        tallies.push(t);
    }
    tallies.extend(cluster(n).await);
    let failed: Vec<&Tally> = tallies.iter().filter(|t| !t.clean()).collect();
    anyhow::ensure!(
        failed.is_empty() && counted == written as i64,
        "lost or duplicated writes: {failed:?}"
    );
    anyhow::ensure!(forgery.clean(), "a forged event got through: {forgery}");
    anyhow::ensure!(jobs.clean(), "a report job stopped reporting: {jobs}");
    println!("chaos: all scenarios clean");
    Ok(())
}
