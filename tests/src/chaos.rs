//! Fault scenarios against a running [`System`]: each drives a known set of writes
//! through the gateway while something breaks, then checks from the final state that
//! every acknowledged write is reflected exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::System;

/// What a scenario found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub scenario: String,
    pub acknowledged: usize,
    pub found: usize,
    pub lost: usize,
    pub duplicated: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "chaos: {}: acknowledged {}, found {}, lost {}, duplicated {}",
            self.scenario, self.acknowledged, self.found, self.lost, self.duplicated
        )
    }
}

impl Tally {
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.found == self.acknowledged
    }
}

/// Submits `n` activities titled `{tag} {i}` with 8 concurrent writers. Each write
/// carries its own Idempotency-Key and is retried until acknowledged, as a careful
/// client does when a connection drops. `fault` runs once a third are acknowledged.
pub async fn burst<F>(sys: &mut System, key: &str, tag: &str, n: usize, fault: F) -> usize
where
    F: AsyncFnOnce(&mut System),
{
    let acked = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, g, key, tag, acked, next) = (
            sys.http.clone(),
            sys.gateway.clone(),
            key.to_owned(),
            tag.to_owned(),
            acked.clone(),
            next.clone(),
        );
        writers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let body = json!({"kind": "news_post", "date": "2020-05-01", "title": format!("{tag} {i}"), "head_count": 1});
                let deadline = Instant::now() + Duration::from_secs(180);
                loop {
                    let r = http
                        .post(format!("{g}/v1/activities"))
                        .bearer_auth(&key)
                        .header("Idempotency-Key", format!("{tag}-{i}"))
                        .json(&body)
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status().as_u16() == 201) {
                        acked.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    assert!(Instant::now() < deadline, "write {tag} {i} was never acknowledged");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
    }
    while acked.load(Ordering::Relaxed) < n / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    fault(sys).await;
    let fault_took = started.elapsed();
    while let Some(r) = writers.join_next().await {
        r.expect("writer");
    }
    eprintln!(
        "{tag}: fault over in {:.1} s, every write acknowledged {:.1} s after it began",
        fault_took.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    acked.load(Ordering::Relaxed)
}

/// Waits (up to two minutes) until reporting's read model reflects the `tag` writes,
/// then counts them in the activity service (the source) and in the read model.
pub async fn tally(sys: &System, scenario: &str, tag: &str, acknowledged: usize) -> Tally {
    let activity = sqlx::PgPool::connect(&sys.database_url("activity").expect("activity db"))
        .await
        .expect("activity db");
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting").expect("reporting db"))
        .await
        .expect("reporting db");
    let pattern = format!("{tag} %");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        // Source: one record per title; more would be a duplicated write.
        let (records, titles): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(DISTINCT title) FROM activities WHERE title LIKE $1",
        )
        .bind(&pattern)
        .fetch_one(&activity)
        .await
        .expect("counting activities");
        let ids: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM activities WHERE title LIKE $1")
                .bind(&pattern)
                .fetch_all(&activity)
                .await
                .expect("activity ids");
        let projected: i64 =
            sqlx::query_scalar("SELECT count(*) FROM rm_activities WHERE activity_id = ANY($1)")
                .bind(&ids)
                .fetch_one(&reporting)
                .await
                .expect("counting projections");
        let found = titles.min(projected) as usize;
        if found >= acknowledged || Instant::now() > deadline {
            eprintln!("{tag}: {records} records, {titles} titles, {projected} projected");
            return Tally {
                scenario: scenario.to_owned(),
                acknowledged,
                found,
                lost: acknowledged.saturating_sub(found),
                duplicated: (records - titles) as usize
                    + (projected as usize).saturating_sub(titles as usize),
            };
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The activities dashboard total, which must equal the writes made (no effect twice).
pub async fn dashboard_total(sys: &System) -> i64 {
    let (_, d) = sys.get("/v1/dashboard", Some(&sys.office_key)).await;
    d["activities_total"].as_i64().unwrap_or(-1)
}

/// SIGKILL nats-server in the middle of a burst, then start it again.
pub async fn nats_killed(sys: &mut System, key: &str, n: usize) -> Tally {
    let acked = burst(sys, key, "nats-killed", n, async |sys: &mut System| {
        sys.nats.kill().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        sys.nats.restart().await;
    })
    .await;
    tally(sys, "SIGKILL nats-server mid-burst", "nats-killed", acked).await
}

/// SIGKILL one service in the middle of a burst, then start it again.
pub async fn service_killed(sys: &mut System, key: &str, service: &'static str, n: usize) -> Tally {
    let tag = format!("{service}-killed");
    let acked = burst(sys, key, &tag, n, async move |sys: &mut System| {
        sys.kill(service).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        sys.restart(service).await;
    })
    .await;
    tally(sys, &format!("SIGKILL {service} mid-burst"), &tag, acked).await
}

/// Events published again after JetStream's duplicate window has passed (the relay was
/// down, with rows it had sent but not marked): consumers must still apply each once.
/// Needs a system started with a short `CCHC_DUPLICATE_WINDOW_SECONDS`.
pub async fn relay_outlasts_duplicate_window(
    sys: &mut System,
    key: &str,
    n: usize,
    window: Duration,
) -> Tally {
    let tag = "relay-late";
    let acked = burst(sys, key, tag, n, async |_: &mut System| {}).await;
    let first = tally(sys, "relay down past the duplicate window", tag, acked).await;
    if !first.clean() {
        return first;
    }
    let before = dashboard_total(sys).await;
    let activity = sqlx::PgPool::connect(&sys.database_url("activity").unwrap())
        .await
        .unwrap();
    let client = async_nats::connect(sys.nats.url()).await.unwrap();
    let mut stream = async_nats::jetstream::new(client)
        .get_stream("CCHC_ACTIVITY")
        .await
        .unwrap();
    let stored_before = stream.info().await.unwrap().state.messages;
    sys.kill("activity").await;
    sqlx::query("UPDATE cchc_outbox SET published_at = NULL WHERE subject = 'cchc.activity.activity_recorded.v1'")
        .execute(&activity)
        .await
        .unwrap();
    tokio::time::sleep(window + Duration::from_secs(1)).await;
    sys.restart("activity").await;
    // The relay sends everything again; past the window JetStream keeps the copies.
    let deadline = Instant::now() + Duration::from_secs(60);
    while stream.info().await.unwrap().state.messages < stored_before + acked as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let republished = stream.info().await.unwrap().state.messages - stored_before;
    assert!(
        republished >= acked as u64,
        "the relay republished {republished} of {acked}"
    );
    // Wait until reporting's consumer has acknowledged every copy.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer("reporting-activity").await.unwrap();
    while Instant::now() < deadline {
        let last = stream.info().await.unwrap().state.last_sequence;
        if consumer.info().await.unwrap().ack_floor.stream_sequence >= last {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = dashboard_total(sys).await;
    let mut t = tally(sys, "relay down past the duplicate window", tag, acked).await;
    t.duplicated += (after - before).max(0) as usize;
    t
}

/// A message no consumer can apply ends in the dead-letter stream, visible to the
/// operator, and the consumer goes on with the next ones.
pub async fn poison_message(sys: &mut System, key: &str) -> (Tally, serde_json::Value) {
    let client = async_nats::connect(sys.nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.publish(
        "cchc.activity.activity_recorded.v1",
        "not a protobuf envelope".into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let acked = burst(sys, key, "after-poison", 20, async |_: &mut System| {}).await;
    let t = tally(sys, "poison message", "after-poison", acked).await;
    let letters = sys
        .eventually(30, "the dead letter", || async {
            let (_, r) = sys
                .get("/v1/admin/dead-letters", Some(&sys.office_key))
                .await;
            let found = r["dead_letters"]
                .as_array()
                .is_some_and(|l| l.iter().any(|d| d["consumer"] == "reporting-activity"));
            found.then_some(r)
        })
        .await;
    (t, letters)
}
