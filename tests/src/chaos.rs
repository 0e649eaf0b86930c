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

/// One write of a burst: where it goes, with which bearer, and its body.
pub struct Write {
    pub path: &'static str,
    pub bearer: String,
    pub idempotency_key: String,
    pub body: serde_json::Value,
}

/// How a [`drive`] went.
pub struct Driven {
    pub acknowledged: usize,
    /// From the fault's start: until it was over, and until every write was answered.
    pub fault_took: Duration,
    pub all: Duration,
    /// The longest one write waited for its acknowledgement, its tries included, and
    /// how many tries were refused or failed in all.
    pub slowest: Duration,
    pub retries: usize,
}

impl std::fmt::Display for Driven {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fault over in {:.1} s, every write acknowledged {:.1} s after it began; \
             slowest write {:.1} s, {} tries again",
            self.fault_took.as_secs_f64(),
            self.all.as_secs_f64(),
            self.slowest.as_secs_f64(),
            self.retries
        )
    }
}

/// Sends the writes `write(0..n)`, `writers` at a time. Each carries its own
/// Idempotency-Key and is retried until answered 201, as a careful client does when a
/// connection drops. `fault` runs once a third are acknowledged ([`Driven`] says how
/// it went).
///
/// Write `i` goes first to gateway `i` (round the list of `gateways`) and each retry to
/// the next, as a client behind a balancer sees replicas; `fault` is given `ctx`.
pub async fn drive<C, F>(
    ctx: &mut C,
    http: &reqwest::Client,
    gateways: &[String],
    n: usize,
    writers: usize,
    write: impl Fn(usize) -> Write + Send + Sync + 'static,
    fault: F,
) -> Driven
where
    F: AsyncFnOnce(&mut C),
{
    let write = Arc::new(write);
    let acked = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let gateways: Arc<[String]> = gateways.into();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers {
        let (http, gateways, write, acked, next, retries) = (
            http.clone(),
            gateways.clone(),
            write.clone(),
            acked.clone(),
            next.clone(),
            retries.clone(),
        );
        tasks.spawn(async move {
            let mut slowest = Duration::ZERO;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return slowest;
                }
                let w = write(i);
                let began = Instant::now();
                let deadline = began + Duration::from_secs(180);
                for attempt in 0.. {
                    let g = &gateways[(i + attempt) % gateways.len()];
                    let r = http
                        .post(format!("{g}{}", w.path))
                        .bearer_auth(&w.bearer)
                        .header("Idempotency-Key", &w.idempotency_key)
                        .json(&w.body)
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status().as_u16() == 201) {
                        acked.fetch_add(1, Ordering::Relaxed);
                        slowest = slowest.max(began.elapsed());
                        break;
                    }
                    retries.fetch_add(1, Ordering::Relaxed);
                    assert!(
                        Instant::now() < deadline,
                        "write {} to {} was never acknowledged",
                        w.idempotency_key,
                        w.path
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
    }
    while acked.load(Ordering::Relaxed) < n / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    fault(ctx).await;
    let fault_took = started.elapsed();
    let mut slowest = Duration::ZERO;
    while let Some(r) = tasks.join_next().await {
        slowest = slowest.max(r.expect("writer"));
    }
    Driven {
        acknowledged: acked.load(Ordering::Relaxed),
        fault_took,
        all: started.elapsed(),
        slowest,
        retries: retries.load(Ordering::Relaxed),
    }
}

/// Activity `i` titled `{tag} {i}`, submitted with `key`.
fn activity_write(key: &str, tag: &str) -> impl Fn(usize) -> Write + Send + Sync + 'static {
    let (key, tag) = (key.to_owned(), tag.to_owned());
    move |i| Write {
        path: "/v1/activities",
        bearer: key.clone(),
        idempotency_key: format!("{tag}-{i}"),
        body: json!({"kind": "news_post", "date": "2020-05-01", "title": format!("{tag} {i}"), "head_count": 1}),
    }
}

/// Submits `n` activities titled `{tag} {i}` with 8 concurrent writers (see [`drive`]).
pub async fn burst<F>(sys: &mut System, key: &str, tag: &str, n: usize, fault: F) -> usize
where
    F: AsyncFnOnce(&mut System),
{
    let (http, gateways) = (sys.http.clone(), [sys.gateway.clone()]);
    let driven = drive(sys, &http, &gateways, n, 8, activity_write(key, tag), fault).await;
    eprintln!("{tag}: {driven}");
    driven.acknowledged
}

/// Waits (up to two minutes) until reporting's read model reflects the `tag` writes,
/// then counts them in the activity service (the source) and in the read model.
pub async fn tally(sys: &System, scenario: &str, tag: &str, acknowledged: usize) -> Tally {
    let activity = sys.database_url("activity").expect("activity db");
    let reporting = sys.database_url("reporting").expect("reporting db");
    tally_in(&activity, &reporting, scenario, tag, acknowledged).await
}

/// [`tally`] in the activity and reporting databases at these addresses.
pub async fn tally_in(
    activity: &str,
    reporting: &str,
    scenario: &str,
    tag: &str,
    acknowledged: usize,
) -> Tally {
    let activity = sqlx::PgPool::connect(activity).await.expect("activity db");
    let reporting = sqlx::PgPool::connect(reporting)
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

/// The actors reporting's read model holds for the `tag` writes, each once: a burst made
/// with one person's session must show that person only.
pub async fn actors_of(sys: &System, tag: &str) -> Vec<Option<String>> {
    let activity = sqlx::PgPool::connect(&sys.database_url("activity").expect("activity db"))
        .await
        .expect("activity db");
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting").expect("reporting db"))
        .await
        .expect("reporting db");
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM activities WHERE title LIKE $1")
        .bind(format!("{tag} %"))
        .fetch_all(&activity)
        .await
        .expect("activity ids");
    sqlx::query_scalar(
        "SELECT DISTINCT recorded_by FROM rm_activities WHERE activity_id = ANY($1) ORDER BY 1",
    )
    .bind(&ids)
    .fetch_all(&reporting)
    .await
    .expect("actors in the read model")
}

/// Invites `n` people (4 at a time, each invitation retried with its Idempotency-Key
/// until acknowledged) while nats-server and then the notification service are killed
/// and started again; then every invited address must have exactly one e-mail, and its
/// link must set the password once. Needs a system whose notification service sends to
/// `smtp`.
pub async fn account_links_through_faults(
    sys: &mut System,
    smtp: &cchc_testkit::SmtpSink,
    n: usize,
) -> Tally {
    let (unit, _) = sys
        .unit_with_key("Phòng GD&ĐT Thử lời mời", "district_office", "unit")
        .await;
    let address = |i: usize| format!("nguoi-{i}@thcs-loi-moi.edu.vn");
    let key = sys.office_key.clone();
    let write = move |i| Write {
        path: "/v1/users",
        bearer: key.clone(),
        idempotency_key: format!("invite-{i}"),
        body: json!({"name": format!("Người thứ {i}"), "email": address(i), "unit_id": unit, "role": "unit"}),
    };
    let (http, gateways) = (sys.http.clone(), [sys.gateway.clone()]);
    let driven = drive(
        sys,
        &http,
        &gateways,
        n,
        4,
        write,
        async |sys: &mut System| {
            sys.nats.kill().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            sys.nats.restart().await;
            sys.kill("notification").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            sys.restart("notification").await;
        },
    )
    .await;
    let acknowledged = driven.acknowledged;
    let ours = |m: &cchc_testkit::ReceivedMail| {
        m.to.iter()
            .find(|t| t.contains("@thcs-loi-moi.edu.vn"))
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let ours_only = async || -> Vec<cchc_testkit::ReceivedMail> {
        smtp.messages()
            .await
            .into_iter()
            .filter(|m| ours(m).is_some())
            .collect()
    };
    while ours_only().await.len() < acknowledged && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A little longer, so a duplicate sent late is counted too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = ours_only().await;
    let mut addresses: Vec<String> = mails
        .iter()
        .filter_map(ours)
        .map(|a| a.to_lowercase())
        .collect();
    let total = addresses.len();
    addresses.sort();
    addresses.dedup();
    // Every link sets its password, once.
    let mut working = 0;
    for m in &mails {
        let Some(link) = m
            .text
            .split_whitespace()
            .find(|w| w.contains("token=cchl_"))
        else {
            continue;
        };
        let token = link.split("token=").nth(1).unwrap_or_default();
        let password = format!("lời mời {} vượt lỗi", uuid::Uuid::new_v4().simple());
        let (s, _) = sys
            .post(
                "/v1/account/password",
                None,
                &json!({"token": token, "password": password}),
            )
            .await;
        if s == 200 {
            working += 1;
        }
    }
    eprintln!(
        "invitations: {acknowledged} acknowledged, {total} e-mails to {} addresses, {working} links worked",
        addresses.len()
    );
    let found = addresses.len().min(working);
    Tally {
        scenario: "invitations while nats-server and notification are killed".into(),
        acknowledged,
        found,
        lost: acknowledged.saturating_sub(found),
        duplicated: total - addresses.len(),
    }
}

/// People through faults, on a system of their own with mail: a person's session
/// outlives a killed gateway and every one of its `writes` names that person in
/// reporting's read model (else the tally counts them lost); `invitations` made while
/// nats-server and the notification service die each arrive once, with a working link.
pub async fn people_through_faults(writes: usize, invitations: usize) -> Vec<Tally> {
    let smtp = cchc_testkit::SmtpSink::start().await;
    let mut sys = System::start_with(
        "chaos-people",
        &[
            ("notification", "CCHC_SMTP_URL", &smtp.url()),
            // A write in flight when the gateway dies holds its Idempotency-Key until
            // abandoned (this + 5 s); retries of that key wait so long.
            ("gateway", "CCHC_REQUEST_TIMEOUT_SECONDS", "5"),
        ],
    )
    .await;
    let (unit, _) = sys
        .unit_with_key("Trường THPT Thử phiên", "high_school", "unit")
        .await;
    let (user, session) = sys
        .person(
            &unit,
            "unit",
            "Văn thư thử lỗi",
            "van-thu@thpt-thu-phien.edu.vn",
        )
        .await;
    let mut t = service_killed(&mut sys, &session, "gateway", writes).await;
    t.scenario = "SIGKILL gateway mid-burst of a person's session".into();
    let actors = actors_of(&sys, "gateway-killed").await;
    if actors != [Some(format!("user:{user}"))] {
        eprintln!("the session's writes name {actors:?}, not user:{user}");
        t.lost = t.acknowledged;
        t.found = 0;
    }
    let links = account_links_through_faults(&mut sys, &smtp, invitations).await;
    sys.stop().await;
    vec![t, links]
}

/// The activities dashboard total, which must equal the writes made (no effect twice).
pub async fn dashboard_total(sys: &System) -> i64 {
    let (_, d) = sys.get("/v1/dashboard?year=0", Some(&sys.office_key)).await;
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
    let client = sys.nats.connect().await;
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
    let client = sys.nats.connect().await;
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

/// What the forged-event scenario found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgery {
    /// Publishes of `cchc.catalogue.procedure_published.v1` tried without the
    /// catalogue's credentials (none, or another service's).
    pub unauthorised_publishes: usize,
    /// Of those, stored in the catalogue's stream.
    pub stored: usize,
    /// Events published by a privileged client whose envelope claims another origin than
    /// their subject.
    pub mismatched: usize,
    /// Of those, applied by a consumer (a notice in an inbox, a row in a read model).
    pub applied: usize,
    /// Dead letters naming a forged event, one per consumer that refused one.
    pub dead_lettered: usize,
}

impl std::fmt::Display for Forgery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "chaos: forged events: {} unauthorised publishes, {} stored; {} mismatched envelopes, {} applied, {} dead letters",
            self.unauthorised_publishes,
            self.stored,
            self.mismatched,
            self.applied,
            self.dead_lettered
        )
    }
}

impl Forgery {
    pub fn clean(&self) -> bool {
        self.stored == 0 && self.applied == 0 && self.dead_lettered >= self.mismatched
    }
}

/// An attacker on the event bus: without credentials, and with a service's stolen
/// credentials, tries to publish a catalogue event (a phishing notice to every unit);
/// then a privileged client publishes events whose envelopes claim another producer than
/// their subject's (a procedure "from" activity, an activity with 9,999,999 attendees
/// "from" the catalogue). Nothing may be stored or applied; each refused
/// event is dead-lettered with the reason, and consumers go on.
pub async fn forged_events(sys: &mut System, key: &str) -> (Tally, Forgery) {
    use cchc_platform::events::{Event, envelope};
    use cchc_proto::Message as _;
    use cchc_proto::events::v1::{ActivityRecorded, ProcedurePublished};

    const SUBJECT: &str = ProcedurePublished::TYPE;
    let marker = format!("Thủ tục giả mạo {}", uuid::Uuid::new_v4().simple());
    let procedure = ProcedurePublished {
        code: format!("9.{}.H19", &marker[marker.len() - 6..]),
        version: 1,
        name: format!("{marker}: nộp lệ phí tại http://phishing.example"),
        field: "Văn bằng, chứng chỉ".into(),
        level: "province".into(),
        agency: "Sở Giáo dục và Đào tạo".into(),
        change_type: "new".into(),
        decision_number: "1/QĐ-UBND".into(),
        effective_date: "2020-01-01".into(),
    };
    let admin = async_nats::jetstream::new(sys.nats.connect().await);
    let stored_before = admin
        .get_stream("CCHC_CATALOGUE")
        .await
        .expect("the catalogue's stream")
        .info()
        .await
        .unwrap()
        .state
        .messages;

    // 1. No credentials: the connection itself is refused.
    let mut unauthorised = 1;
    if let Ok(outsider) = async_nats::connect(sys.nats.anonymous_url()).await {
        let js = async_nats::jetstream::new(outsider);
        let env = envelope("catalogue", &cchc_platform::Actor::System, &procedure);
        if let Ok(ack) = js.publish(SUBJECT, env.encode_to_vec().into()).await {
            let _ = tokio::time::timeout(Duration::from_secs(3), ack).await;
        }
    }
    // 2. Every other service's credentials: the publish is refused by the server.
    for user in ["gateway", "activity", "notification", "reporting"] {
        unauthorised += 1;
        let js = async_nats::jetstream::new(sys.nats.connect_as(user).await.expect("signs in"));
        let env = envelope("catalogue", &cchc_platform::Actor::System, &procedure);
        if let Ok(ack) = js.publish(SUBJECT, env.encode_to_vec().into()).await {
            let _ = tokio::time::timeout(Duration::from_secs(3), ack).await;
        }
    }
    let stored_after = admin
        .get_stream("CCHC_CATALOGUE")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;

    // 3. Past NATS (a privileged client): envelopes that do not match their subject.
    let mut wrong_producer = envelope("catalogue", &cchc_platform::Actor::System, &procedure);
    wrong_producer.producer = "activity".into();
    let activity_id = uuid::Uuid::new_v4().to_string();
    let inflated = ActivityRecorded {
        activity_id: activity_id.clone(),
        unit_id: uuid::Uuid::new_v4().to_string(),
        kind: "news_post".into(),
        date: "2020-05-01".into(),
        title: marker.clone(),
        head_count: 9_999_999,
        ..Default::default()
    };
    let mut wrong_owner = envelope("activity", &cchc_platform::Actor::System, &inflated);
    wrong_owner.producer = "catalogue".into();
    let forged = [
        (SUBJECT, wrong_producer),
        (ActivityRecorded::TYPE, wrong_owner),
    ];
    let total_before = dashboard_total(sys).await;
    for (subject, env) in &forged {
        admin
            .publish(*subject, env.encode_to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // Notification and reporting each read both streams: four refusals.
    let refusals = 4;
    let letters = sys
        .eventually(60, "the forged events' dead letters", || async {
            let (_, r) = sys
                .get("/v1/admin/dead-letters", Some(&sys.office_key))
                .await;
            let n = r["dead_letters"].as_array().map_or(0, |l| {
                l.iter()
                    .filter(|d| {
                        d["error"]
                            .as_str()
                            .is_some_and(|e| e.contains("forged event"))
                    })
                    .count()
            });
            (n >= refusals).then_some(n)
        })
        .await;

    // Consumers go on with genuine events, and nothing of the forgeries was applied.
    let acked = burst(sys, key, "after-forgery", 20, async |_: &mut System| {}).await;
    let t = tally(sys, "forged events", "after-forgery", acked).await;
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting").expect("reporting db"))
        .await
        .expect("reporting db");
    let in_read_models: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM rm_procedures WHERE name LIKE $1)
              + (SELECT count(*) FROM rm_activities WHERE activity_id = $2::uuid)",
    )
    .bind(format!("{marker}%"))
    .bind(&activity_id)
    .fetch_one(&reporting)
    .await
    .expect("searching the read models");
    let (_, inbox) = sys.get("/v1/notifications", Some(key)).await;
    let in_inbox = inbox.to_string().contains(&marker) as i64;
    let inflated_total = (dashboard_total(sys).await - total_before - acked as i64).max(0);
    (
        t,
        Forgery {
            unauthorised_publishes: unauthorised,
            stored: (stored_after - stored_before) as usize,
            mismatched: forged.len(),
            applied: (in_read_models + in_inbox + inflated_total.min(1)) as usize,
            dead_lettered: letters,
        },
    )
}

/// The environment the stuck-job scenario's system needs: reporting calls a job stuck
/// after 8 s without progress (the default two minutes would make the scenario slow).
pub const STUCK_JOB_ENV: &[(&str, &str, &str)] = &[("reporting", "CCHC_REPORT_STUCK_SECONDS", "8")];

/// What the stuck-job scenario found: how each report job ended, and whether
/// reporting's `/readyz` told the truth each time it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckJobs {
    /// How the budgets too large to add reached reporting.
    pub path: String,
    pub requested: usize,
    /// Jobs that ended as they must: failed with the reason, or completed with the
    /// right figures.
    pub as_expected: usize,
    /// Jobs still queued or running at the end: reporting had stopped.
    pub left_pending: usize,
    /// Answers of `/readyz` that were not the truth (ready with a stuck job, or not
    /// ready with none).
    pub readiness_wrong: usize,
    /// What went wrong, for the person reading the run.
    pub notes: Vec<String>,
}

impl std::fmt::Display for StuckJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "chaos: stuck report jobs ({}): {} requested, {} ended as they must, {} left pending, /readyz wrong {} times",
            self.path, self.requested, self.as_expected, self.left_pending, self.readiness_wrong
        )?;
        for n in &self.notes {
            write!(f, "\n  {n}")?;
        }
        Ok(())
    }
}

impl StuckJobs {
    pub fn clean(&self) -> bool {
        self.as_expected == self.requested && self.left_pending == 0 && self.readiness_wrong == 0
    }
}

/// One report must not stop reporting. A year of 2 × 10^17 VND (what 200 lines of
/// 10^15 add up to) for each of 48 units, together more than a 64-bit total holds, goes
/// in through the gateway, or, where the activity service refuses it at input, through
/// that service's outbox as 200 lines of 10^15, the path its events take to reporting. A report over them fails with its reason and the normal report
/// requested after it completes. Then a report hangs (its budget query waits behind a
/// lock) and `/readyz` names it; reporting is killed at every start of that job, as a
/// job that crashes the process would, and after its attempts the job is failed rather
/// than started again, and the next report completes. `/readyz` must be truthful
/// throughout. Needs a system started with [`STUCK_JOB_ENV`].
pub async fn stuck_job(sys: &mut System) -> StuckJobs {
    use serde_json::Value;

    const UNITS: usize = 48;
    const LINES: usize = 200;
    const HUGE: i64 = 1_000_000_000_000_000;
    let mut out = StuckJobs {
        path: String::new(),
        requested: 0,
        as_expected: 0,
        left_pending: 0,
        readiness_wrong: 0,
        notes: Vec::new(),
    };
    let put = |key: String, body: Value| {
        let (http, url) = (
            sys.http.clone(),
            format!("{}/v1/budget-lines/2020", sys.gateway),
        );
        async move {
            let r = http
                .put(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("gateway answers");
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
    };
    let mut units = Vec::new();
    let mut keys = Vec::new();
    for i in 1..=UNITS {
        let (id, key) = sys
            .unit_with_key(
                &format!("Trường THPT Kinh phí số {i}"),
                "high_school",
                "unit",
            )
            .await;
        units.push(id);
        keys.push(key);
    }
    let (normal, normal_key) = sys
        .unit_with_key("Trường THPT Kinh phí thường", "high_school", "unit")
        .await;
    let (s, r) = put(
        normal_key,
        json!({"lines": [{"item": "In tờ rơi", "funding_source": "Ngân sách CCHC",
                          "planned_vnd": 5_000_000, "spent_vnd": 4_200_000}]}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    // A unit's year as one line of 200 × 10^15 VND (a refusal of 200 lines would name
    // 400 fields).
    let lines = json!([{"item": "Tuyên truyền", "funding_source": "Ngân sách CCHC",
                        "planned_vnd": HUGE * LINES as i64, "spent_vnd": HUGE * LINES as i64}]);
    let (s, r) = put(keys[0].clone(), json!({"lines": lines})).await;
    if s == 200 {
        for key in &keys[1..] {
            let (s, r) = put(key.clone(), json!({"lines": lines})).await;
            assert_eq!(s, 200, "{r}");
        }
        out.path = "through the gateway".into();
    } else {
        assert_eq!(s, 400, "a year of 2 × 10^17 VND: {r}");
        let activity = sqlx::PgPool::connect(&sys.database_url("activity").expect("activity db"))
            .await
            .expect("activity db");
        let outbox = cchc_platform::outbox::Outbox::new("activity");
        let mut tx = activity.begin().await.expect("transaction");
        for unit in &units {
            let line = cchc_proto::events::v1::BudgetLineFigures {
                item: "Hạng mục".into(),
                funding_source: "Ngân sách CCHC".into(),
                planned_vnd: HUGE,
                spent_vnd: HUGE,
            };
            let event = cchc_proto::events::v1::BudgetSubmitted {
                submission_id: uuid::Uuid::new_v4().to_string(),
                unit_id: unit.clone(),
                year: 2020,
                revision: 1,
                lines: vec![line; LINES],
                planned_total_vnd: HUGE * LINES as i64,
                spent_total_vnd: HUGE * LINES as i64,
                ..Default::default()
            };
            outbox
                .enqueue(&mut tx, &cchc_platform::Actor::System, &event)
                .await
                .expect("outbox row");
        }
        tx.commit().await.expect("commit");
        out.path = "refused at input (400), sent through the activity service's outbox".into();
    }
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting").expect("reporting db"))
        .await
        .expect("reporting db");
    let mut budgeted = units.clone();
    budgeted.push(normal.clone());
    let budgeted: Vec<uuid::Uuid> = budgeted
        .iter()
        .map(|u| u.parse().expect("unit id"))
        .collect();
    sys.eventually(60, "reporting holds every budget", || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_budget WHERE unit_id = ANY($1)")
            .bind(&budgeted)
            .fetch_one(&reporting)
            .await
            .ok()?;
        (n as usize == UNITS + 1).then_some(())
    })
    .await;

    let office = sys.office_key.clone();
    let plan = |symbol: &str, units: Vec<String>| {
        json!({
            "number_symbol": symbol, "year": 2020,
            "title": "Tuyên truyền về công tác Cải cách hành chính năm 2020",
            "issuing_body": "Sở Giáo dục và Đào tạo", "governing_body": "UBND thành phố Hải Phòng",
            "place": "Hải Phòng",
            "required_activities": [{"kind": "news_post", "min_per_unit": 1, "per": "year"}],
            "unit_ids": units, "periods": [{"key": "2020", "due_date": "2020-12-15"}],
            "recipients": [{"name": "Lưu: VT"}]
        })
    };
    let (s, huge_plan) = sys
        .post(
            "/v1/plans",
            Some(&office),
            &plan("301/KH-SGDĐT-VP", units.clone()),
        )
        .await;
    assert_eq!(s, 201, "{huge_plan}");
    let (s, small_plan) = sys
        .post(
            "/v1/plans",
            Some(&office),
            &plan("302/KH-SGDĐT-VP", vec![normal.clone()]),
        )
        .await;
    assert_eq!(s, 201, "{small_plan}");
    let request = async |sys: &System, plan: &Value| -> String {
        let (s, r) = sys
            .post(
                "/v1/reports",
                Some(&sys.office_key),
                &json!({"plan_id": plan["id"], "period": "2020"}),
            )
            .await;
        assert_eq!(s, 202, "{r}");
        r["id"].as_str().expect("report id").to_owned()
    };
    let report = async |sys: &System, id: &str| -> Value {
        sys.get(&format!("/v1/reports/{id}"), Some(&sys.office_key))
            .await
            .1
    };
    let ended = async |sys: &System, id: &str| -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let r = report(sys, id).await;
            if r["state"] == "failed" || r["state"] == "completed" || Instant::now() > deadline {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    // (status, the report worker's check) of reporting's own /readyz.
    let ready_url = sys.ready_url("reporting").expect("reporting");
    let readyz = async |sys: &System| -> (u16, String) {
        match sys.http.get(&ready_url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (
                    status,
                    body["checks"]["report_worker"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                )
            }
            Err(e) => (0, e.to_string()),
        }
    };
    let judge = |out: &mut StuckJobs, ok: bool, what: String| {
        if ok {
            out.as_expected += 1;
        } else {
            if what.contains("\"queued\"") || what.contains("\"running\"") {
                out.left_pending += 1;
            }
            out.notes.push(what);
        }
    };

    // The sums do not fit: that report fails with the reason; the next one completes.
    let huge = request(sys, &huge_plan).await;
    let small = request(sys, &small_plan).await;
    out.requested += 2;
    let r = ended(sys, &huge).await;
    let reason = r["error"].as_str().unwrap_or("");
    judge(
        &mut out,
        r["state"] == "failed" && reason.contains("tổng kinh phí dự kiến vượt quá"),
        format!("the report over 48 × 2 × 10^17 VND: {r}"),
    );
    let r = ended(sys, &small).await;
    judge(
        &mut out,
        r["state"] == "completed" && r["headline"]["budget_planned_vnd"] == 5_000_000,
        format!("the normal report after it: {r}"),
    );
    let (s, why) = readyz(sys).await;
    if s != 200 {
        out.readiness_wrong += 1;
        out.notes
            .push(format!("/readyz with no job stuck: {s} {why}"));
    }

    // A report hangs: its budget query waits behind a lock that is not released.
    let mut blocker = reporting.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE rm_budget IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    let hung = request(sys, &small_plan).await;
    out.requested += 1;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, why) = readyz(sys).await;
        if s == 503 && why.contains(&hung) {
            break;
        }
        if Instant::now() > deadline {
            out.readiness_wrong += 1;
            out.notes
                .push(format!("/readyz with job {hung} stuck: {s} {why}"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Killed at each start of that job; the attempts are counted across the restarts.
    let attempts = async |id: &str| -> i32 {
        sqlx::query_scalar("SELECT attempts FROM reports WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&reporting)
            .await
            .unwrap_or(-1)
    };
    for start in 1..=3 {
        let deadline = Instant::now() + Duration::from_secs(30);
        while attempts(&hung).await < start && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sys.restart("reporting").await;
    }
    let r = ended(sys, &hung).await;
    let reason = r["error"].as_str().unwrap_or("");
    judge(
        &mut out,
        r["state"] == "failed" && reason.contains("đã thử 3 lần"),
        format!("the report whose job stopped the process at every start: {r}"),
    );
    let next = request(sys, &small_plan).await;
    out.requested += 1;
    blocker.rollback().await.expect("lock released");
    let r = ended(sys, &next).await;
    judge(
        &mut out,
        r["state"] == "completed",
        format!("the report after it: {r}"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, why) = readyz(sys).await;
        if s == 200 {
            break;
        }
        if Instant::now() > deadline {
            out.readiness_wrong += 1;
            out.notes
                .push(format!("/readyz once nothing is stuck: {s} {why}"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    out
}

/// `make cluster`: `n` activities through both gateways (each retried with its key on
/// the other gateway until acknowledged) while NATS node 0 and replica 1 of every
/// service — and with `gateway` gateway 1 too — are SIGKILLed a third of the way in.
pub async fn cluster_killed(
    cluster: &mut crate::make_run::Cluster,
    key: &str,
    n: usize,
    gateway: bool,
) -> Tally {
    let (tag, scenario) = if gateway {
        (
            "cluster-all",
            "cluster: SIGKILL a NATS node and a replica of every service and gateway mid-burst",
        )
    } else {
        (
            "cluster-services",
            "cluster: SIGKILL a NATS node and a replica of every service mid-burst",
        )
    };
    let (http, gateways) = (cluster.http.clone(), cluster.gateways.clone());
    let fault = async |c: &mut crate::make_run::Cluster| c.kill_one_of_each(gateway);
    let driven = drive(
        cluster,
        &http,
        &gateways,
        n,
        8,
        activity_write(key, tag),
        fault,
    )
    .await;
    eprintln!("{tag}: {driven}");
    tally_in(
        &cluster.database_url("activity"),
        &cluster.database_url("reporting"),
        scenario,
        tag,
        driven.acknowledged,
    )
    .await
}

/// `make cluster`: a version published through gateway 2 right after NATS node `node` is
/// SIGKILLed, read through gateway 1 until it shows: how long gateway 1's copy of the
/// public catalogue may answer the version before. The copy hears the catalogue's events
/// through a consumer on one of the nodes; when that node dies, the copy is stale until
/// its heartbeats are missed and it stops serving. Returns that time (from the
/// publication's answer to the first fresh read).
pub async fn publication_after_node_death(node: u16) -> Duration {
    use crate::make_run::Cluster;
    // Gateway 1 is read every 10 ms, more than a client's share of the rate limit.
    let cluster = Cluster::start_env(&[
        ("CCHC_RATE_LIMIT_BURST", "100000"),
        ("CCHC_RATE_LIMIT_PER_MINUTE", "1000000"),
    ])
    .await;
    let code = "1.000901.H19";
    let procedure = crate::complete_procedure(code, "Cấp bản sao văn bằng, chứng chỉ");
    cluster.office_post(1, "/v1/procedures", procedure).await;
    let mut publication = crate::publication("2020-02-01");
    let publish = format!("/v1/procedures/{code}/publish");
    cluster.office_post(1, &publish, publication.clone()).await;
    // Kept by gateway 1: the second read is answered from its copy.
    while cluster.version_at(0, code).await != Some(1) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.version_at(0, code).await;
    cluster.sigkill(&[cluster.nats_node(node)]);
    publication["change_type"] = json!("amended");
    cluster.office_post(1, &publish, publication).await;
    let published = Instant::now();
    while cluster.version_at(0, code).await != Some(2) {
        assert!(
            published.elapsed() < Duration::from_secs(30),
            "gateway 1 still answers version 1 after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stale = published.elapsed();
    cluster.stop().await;
    stale
}
