//! `make bench`: figures for the paths that matter, each measured beside a baseline in
//! the same run on the same machine, so the ratios mean something even where the
//! absolute numbers vary between machines.
//!
//! Environment: `CCHC_BENCH_SECONDS` (per measurement, default 10),
//! `CCHC_BENCH_PROCEDURES` (catalogue size, default 2000), `CCHC_BENCH_WORKERS`
//! (closed-loop concurrency, default 32), `CCHC_BENCH_RATE` (open-loop requests/s,
//! default 400), `CCHC_BENCH_BATCHES` (batches of 1,000 activities, default 20),
//! `CCHC_BENCH_NATIONAL` (0 leaves out the 1,500 × 5,000,000 report), `CCHC_BENCH_ONLY`
//! (a comma-separated list of the parts to run — `http`, `cluster`, `fanout`, `report`
//! — to measure or profile one alone; all by default). The `cluster` part runs
//! `make cluster` with the release binaries and puts its figures beside `http`'s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cchc_e2e::load::{Stats, closed_loop, open_loop, rss_mib};
use cchc_e2e::make_run::Cluster;
use cchc_e2e::{System, bin_dir, complete_procedure, publication};
use serde_json::json;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const QUERIES: &[&str] = &[
    "cap ban sao van bang",
    "chuyen truong",
    "Đăng ký dự thi",
    "trung hoc pho thong",
    "giao duc",
    "tot nghiep",
];
const WORDS: &[&str] = &[
    "Cấp",
    "bản sao",
    "văn bằng",
    "chứng chỉ",
    "chuyển trường",
    "đăng ký",
    "dự thi",
    "tốt nghiệp",
    "trung học",
    "phổ thông",
    "công nhận",
    "giáo dục",
    "mầm non",
    "ngoại ngữ",
];

fn name(i: usize) -> String {
    format!(
        "{} {} {} số {i}",
        WORDS[i % WORDS.len()],
        WORDS[(i / 3) % WORDS.len()],
        WORDS[(i / 7) % WORDS.len()]
    )
}

fn code(i: usize) -> String {
    format!("1.{:06}.H19", 100_000 + i)
}

async fn hello_server() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    let app = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
    axum::serve(listener, app).await?;
    Ok(())
}

struct Row {
    path: String,
    mode: String,
    stats: Stats,
    baseline: Option<f64>,
}

fn print(rows: &[Row]) {
    println!(
        "\n| path | mode | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | ratio to baseline |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let ratio = r
            .baseline
            .map_or("—".into(), |b| format!("{:.2}", r.stats.rate() / b));
        let s = &r.stats;
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            r.path,
            r.mode,
            s.rate(),
            s.p50_ms,
            s.p90_ms,
            s.p99_ms,
            s.max_ms,
            s.errors,
            ratio
        );
    }
}

/// What a measurement needs of the system under it: the single node's [`System`] or
/// `make cluster`'s [`Cluster`] (whose requests go round its gateways).
trait Target {
    fn http(&self) -> reqwest::Client;
    fn gateways(&self) -> Vec<String>;
    fn office_key(&self) -> String;
    fn database_url(&self, service: &str) -> String;
    async fn unit_key(&self, name: &str) -> String;
}

impl Target for System {
    fn http(&self) -> reqwest::Client {
        self.http.clone()
    }
    fn gateways(&self) -> Vec<String> {
        vec![self.gateway.clone()]
    }
    fn office_key(&self) -> String {
        self.office_key.clone()
    }
    fn database_url(&self, service: &str) -> String {
        System::database_url(self, service).expect("a service of the system")
    }
    async fn unit_key(&self, name: &str) -> String {
        self.unit_with_key(name, "high_school", "unit").await.1
    }
}

impl Target for Cluster {
    fn http(&self) -> reqwest::Client {
        self.http.clone()
    }
    fn gateways(&self) -> Vec<String> {
        self.gateways.clone()
    }
    fn office_key(&self) -> String {
        cchc_e2e::make_run::OFFICE_KEY.to_owned()
    }
    fn database_url(&self, service: &str) -> String {
        Cluster::database_url(self, service)
    }
    async fn unit_key(&self, name: &str) -> String {
        Cluster::unit_key(self, name).await
    }
}

/// Whether `GET url` is answered 2xx.
async fn got(http: reqwest::Client, url: String) -> bool {
    http.get(url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// `POST {url}` with a bearer key and a JSON body.
async fn post(
    http: &reqwest::Client,
    url: String,
    key: &str,
    body: &serde_json::Value,
) -> reqwest::Result<reqwest::Response> {
    http.post(url).bearer_auth(key).json(body).send().await
}

async fn seed(sys: &impl Target, n: usize) -> anyhow::Result<()> {
    let t = Instant::now();
    let (http, g, office) = (sys.http(), sys.gateways()[0].clone(), sys.office_key());
    let rows: Vec<_> = (0..n)
        .map(|i| {
            let p = complete_procedure(&code(i), &name(i));
            json!({"row": i + 2, "code": p["code"], "content": p["content"]})
        })
        .collect();
    for chunk in rows.chunks(500) {
        let url = format!("{g}/v1/procedures/import");
        let r = post(&http, url, &office, &json!({"rows": chunk})).await?;
        anyhow::ensure!(r.status() == 200, "import failed: {}", r.text().await?);
    }
    // Publish every draft, 16 requests at a time.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (http, g, key, next) = (http.clone(), g.clone(), office.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return Ok(());
                }
                let url = format!("{g}/v1/procedures/{}/publish", code(i));
                let r = post(&http, url, &key, &publication("2020-02-01")).await?;
                anyhow::ensure!(
                    r.status().is_success(),
                    "publishing {} failed: {}",
                    code(i),
                    r.status()
                );
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    eprintln!(
        "seeded {n} published procedures in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn raw_jetstream(url: &str, n: usize) -> anyhow::Result<f64> {
    // As the NATS admin: the services' users may not make a stream of their own.
    let client = cchc_platform::nats::connect_once(url).await?;
    let js = async_nats::jetstream::new(client);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await?;
    let payload = bytes::Bytes::from(vec![b'x'; 200]);
    let t = Instant::now();
    // Async publish: keep up to 256 acks in flight, as the outbox relay does per batch.
    let mut inflight = std::collections::VecDeque::new();
    for i in 0..n {
        inflight.push_back(
            js.publish(format!("bench.{}", i % 16), payload.clone())
                .await?,
        );
        if inflight.len() >= 256 {
            inflight.pop_front().expect("non-empty").await?;
        }
    }
    for ack in inflight {
        ack.await?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// The raw publish rate of a nats-server that fsyncs every write (the deployment's
/// `sync_interval: always`), measured the same way as the default.
async fn raw_jetstream_sync_always(n: usize) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let port = cchc_testkit::free_port();
    let conf = dir.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\", sync_interval: always }}\n",
            dir.path().join("js").display()
        ),
    )?;
    let mut server = tokio::process::Command::new(cchc_testkit::nats_server_bin())
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    cchc_testkit::wait_for_port(port).await;
    let rate = raw_jetstream(&format!("nats://127.0.0.1:{port}"), n).await;
    let _ = server.kill().await;
    rate
}

async fn raw_postgres(url: &str, n: usize) -> anyhow::Result<f64> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_rows (id UUID PRIMARY KEY, unit_id UUID, kind TEXT, date DATE, title TEXT)")
        .execute(&pool)
        .await?;
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..16 {
        let pool = pool.clone();
        tasks.spawn(async move {
            for _ in (w..n).step_by(16) {
                sqlx::query(
                    "INSERT INTO bench_rows VALUES ($1, $2, 'news_post', '2020-03-01', 'Tin CCHC')",
                )
                .bind(uuid::Uuid::new_v4())
                .bind(uuid::Uuid::new_v4())
                .execute(&pool)
                .await
                .expect("insert");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Activities submitted through the gateway until the reporting read model has them:
/// submissions per second, projections per second, and submit → projection latency
/// (from the event's time to its processed record, both on the database server's clock).
async fn activity_end_to_end(
    sys: &impl Target,
    seconds: u64,
    workers: usize,
) -> anyhow::Result<(Stats, f64, Stats)> {
    let key = sys.unit_key("Trường THPT Đo tải").await;
    let (http, gateways) = (sys.http(), Arc::new(sys.gateways()));
    let t = Instant::now();
    let submit = closed_loop(workers, Duration::from_secs(seconds), move |i| {
        let (http, key) = (http.clone(), key.clone());
        let g = gateways[i % gateways.len()].clone();
        async move {
            http.post(format!("{g}/v1/activities"))
                .bearer_auth(&key)
                .json(&json!({"kind": "news_post", "date": "2020-03-01", "title": format!("Tin CCHC {i}"), "head_count": 10}))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 201)
        }
    })
    .await;
    let want = submit.requests as i64;
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting")).await?;
    let drained = loop {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_activities")
            .fetch_one(&reporting)
            .await?;
        if n >= want {
            break t.elapsed();
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(seconds + 300),
            "projection stalled at {n} of {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The outbox row (activity database) and the processed record (reporting database)
    // share the event id; both times come from the one PostgreSQL server's clock.
    let activity = sqlx::PgPool::connect(&sys.database_url("activity")).await?;
    let written: std::collections::HashMap<uuid::Uuid, chrono::DateTime<chrono::Utc>> =
        sqlx::query_as("SELECT id, created_at FROM cchc_outbox WHERE subject = 'cchc.activity.activity_recorded.v1'")
            .fetch_all(&activity)
            .await?
            .into_iter()
            .collect();
    let processed: Vec<(uuid::Uuid, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT event_id, processed_at FROM cchc_processed_events WHERE consumer = 'reporting-activity'")
            .fetch_all(&reporting)
            .await?;
    let lat_ms: Vec<f64> = processed
        .iter()
        .filter_map(|(id, at)| Some((*at - *written.get(id)?).num_microseconds()? as f64 / 1000.0))
        .collect();
    let micros: Vec<u64> = lat_ms
        .iter()
        .map(|ms| (ms.max(0.0) * 1000.0) as u64)
        .collect();
    let projection = Stats::from_micros(micros, 0, drained);
    Ok((submit, want as f64 / drained.as_secs_f64(), projection))
}

/// Batches of `size` activities through `POST /v1/activities:batch` (`workers` in
/// flight) until the reporting read model has every one: activities per second, end to
/// end.
async fn activity_batches(
    sys: &impl Target,
    batches: usize,
    size: usize,
    workers: usize,
) -> anyhow::Result<f64> {
    let key = sys.unit_key("Trường THPT Đo tải theo lô").await;
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting")).await?;
    let gateways = Arc::new(sys.gateways());
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM rm_activities")
            .fetch_one(&reporting)
            .await
    };
    let before = count().await?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (http, gateways, key, next) = (sys.http(), gateways.clone(), key.clone(), next.clone());
        tasks.spawn(async move {
            loop {
                let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if b >= batches {
                    return Ok::<(), anyhow::Error>(());
                }
                let g = &gateways[b % gateways.len()];
                let items: Vec<serde_json::Value> = (0..size)
                    .map(|i| json!({"kind": "news_post", "date": "2020-04-01", "title": format!("Tin CCHC lô {b} số {i}"), "head_count": 10}))
                    .collect();
                let url = format!("{g}/v1/activities:batch");
                let r = post(&http, url, &key, &json!({ "items": items })).await?;
                anyhow::ensure!(r.status().is_success(), "a batch was refused: {}", r.status());
                let body: serde_json::Value = r.json().await?;
                anyhow::ensure!(body["accepted"] == size, "a batch was not accepted whole: {body}");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let answered = t.elapsed();
    let want = before + (batches * size) as i64;
    loop {
        let n = count().await?;
        if n >= want {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(600),
            "projection stalled at {} of {}",
            n - before,
            want - before
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Where the time went: the writes (gateway, activity service, its database) or the
    // trip after them (relay, JetStream, reporting's consumer).
    eprintln!(
        "batches: every one answered after {:.1} s, all projected after {:.1} s",
        answered.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok((batches * size) as f64 / t.elapsed().as_secs_f64())
}

fn memory(sys: &System, label: &str) {
    let figures: Vec<String> = sys
        .names()
        .iter()
        .map(|n| format!("{n} {:.1}", sys.pid(n).and_then(rss_mib).unwrap_or(0.0)))
        .collect();
    println!("RSS MiB {label}: {}", figures.join(", "));
}

const UNKEPT_READ: &str = "GET /v1/procedures/{code}?version=1 (not kept: through the catalogue)";

/// How long a read through the gateway still shows the old version after a publication
/// it did not make itself (as another gateway replica's, or the catalogue's scheduler):
/// the event's trip from the catalogue's commit to the gateway's copy. Each of `n`
/// procedures, read (so kept), is amended straight at the catalogue, then read until
/// the new version shows.
async fn stale_window(sys: &System, procedures: usize, n: usize) -> anyhow::Result<(Stats, Stats)> {
    use cchc_proto::catalogue::v1::catalogue_service_client::CatalogueServiceClient;
    use cchc_proto::catalogue::v1::{Decision, PublishProcedureRequest};
    let channel = cchc_platform::grpc::channel(&sys.grpc_url("catalogue").expect("catalogue"))?;
    let mut catalogue = CatalogueServiceClient::new(channel);
    let key = cchc_platform::CallerKey::new(cchc_e2e::INTERNAL_TOKEN);
    let office = uuid::Uuid::new_v4();
    let http = reqwest::Client::new();
    let version_of = |code: String| {
        let http = http.clone();
        let url = sys.url(&format!("/v1/procedures/{code}"));
        async move {
            let r = http.get(url).send().await?;
            let v: serde_json::Value = r.json().await?;
            anyhow::Ok(v["version"].as_u64().unwrap_or_default())
        }
    };
    // The same events as a plain JetStream reader hears them: the trip's first part.
    let js = async_nats::jetstream::new(sys.nats.connect().await);
    let events = js
        .get_stream(cchc_platform::events::stream_name("catalogue"))
        .await?
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::New,
            filter_subject: "cchc.catalogue.procedure_published.v1".into(),
            ..Default::default()
        })
        .await?;
    let mut events = events.messages().await?;
    let mut heard = Vec::with_capacity(n);
    let mut waits = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n.min(procedures) {
        let code = code(i);
        let before = version_of(code.clone()).await?;
        version_of(code.clone()).await?;
        let publication = PublishProcedureRequest {
            code: code.clone(),
            decision: Some(Decision {
                number: format!("{}/QĐ-SGDĐT", 1000 + i),
                date: "2021-03-01".into(),
                signer: "Giám đốc".into(),
            }),
            change_type: "amended".into(),
            change_note: "Đo thời gian đến bản sao của gateway".into(),
            effective_date: "2021-03-01".into(),
        };
        catalogue
            .publish_procedure(key.request(office, cchc_platform::Role::Office, publication))
            .await?;
        let committed = Instant::now();
        {
            use futures::StreamExt as _;
            let m = tokio::time::timeout(Duration::from_secs(10), events.next())
                .await?
                .ok_or_else(|| anyhow::anyhow!("the catalogue's stream ended"))??;
            heard.push(committed.elapsed().as_micros() as u64);
            drop(m);
        }
        loop {
            if version_of(code.clone()).await? > before {
                break;
            }
            // A reader every millisecond rather than a spin that takes a core from the
            // relay and NATS bringing the event.
            tokio::time::sleep(Duration::from_millis(1)).await;
            anyhow::ensure!(
                committed.elapsed() < Duration::from_secs(10),
                "{code}: the gateway still shows version {before} after 10 s"
            );
        }
        waits.push(committed.elapsed().as_micros() as u64);
    }
    Ok((
        Stats::from_micros(heard, 0, started.elapsed()),
        Stats::from_micros(waits, 0, started.elapsed()),
    ))
}

const CONSOLE_PROCEDURE: &str = "console GET /thu-tuc/{code} (public page)";
const CONSOLE_SEARCH: &str = "console GET /?q= (public search page)";

/// Whether part `name` runs (`CCHC_BENCH_ONLY`).
fn part(name: &str) -> bool {
    std::env::var("CCHC_BENCH_ONLY")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .is_none_or(|v| v.split(',').any(|p| p.trim() == name))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--hello") {
        return hello_server().await;
    }
    let single = if part("http") {
        Some(http_and_activity().await?)
    } else {
        None
    };
    if part("cluster") {
        cluster(single.as_ref()).await?;
    }
    if part("fanout") {
        fanout().await?;
    }
    if part("report") {
        report().await?;
    }
    Ok(())
}

/// The single node's figures that the cluster's are put beside.
struct Figures {
    kept: f64,
    search: f64,
    submitted: f64,
    projected: f64,
    batched: f64,
    stale: Stats,
}

/// The catalogue's reads, the console's pages, the stale window and the activity path.
async fn http_and_activity() -> anyhow::Result<Figures> {
    let seconds: u64 = env_or("CCHC_BENCH_SECONDS", 10);
    let procedures: usize = env_or("CCHC_BENCH_PROCEDURES", 2000);
    let workers: usize = env_or("CCHC_BENCH_WORKERS", 32);
    let rate: f64 = env_or("CCHC_BENCH_RATE", 400.0);
    let d = Duration::from_secs(seconds);

    // Rate limits are set out of reach: this measures throughput, not the limiter.
    let mut sys = System::start_with(
        "bench",
        &[
            ("gateway", "CCHC_RATE_LIMIT_BURST", "100000000"),
            ("gateway", "CCHC_RATE_LIMIT_PER_MINUTE", "100000000"),
        ],
    )
    .await;
    memory(&sys, "idle");
    seed(&sys, procedures).await?;
    let console = sys.start_console().await;

    // The bare endpoint: the same stack (tokio, hyper, axum) in its own process.
    let mut hello = tokio::process::Command::new(bin_dir().join("cchc-bench"))
        .arg("--hello")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut line = String::new();
    {
        use tokio::io::AsyncBufReadExt;
        let mut out = tokio::io::BufReader::new(hello.stdout.take().expect("piped"));
        out.read_line(&mut line).await?;
    }
    let hello_url = format!("http://127.0.0.1:{}/hello", line.trim());

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let get = {
        let http = http.clone();
        move |url: String| got(http.clone(), url)
    };
    // Each path in each mode; the bare endpoint first, so it is every row's baseline.
    type UrlOf = Arc<dyn Fn(usize) -> String + Send + Sync>;
    let g = sys.gateway.clone();
    let targets: Vec<(&str, UrlOf)> = vec![
        (
            "bare HTTP hello (baseline)",
            Arc::new(move |_| hello_url.clone()),
        ),
        ("GET /v1/procedures/{code}", {
            let g = g.clone();
            Arc::new(move |i| format!("{g}/v1/procedures/{}", code(i % procedures)))
        }),
        ("GET /v1/procedures?q= (search)", {
            let g = g.clone();
            Arc::new(move |i| format!("{g}/v1/procedures?q={}", QUERIES[i % QUERIES.len()]))
        }),
        // The same version's answer asked by number, which the gateway does not keep:
        // what every read cost before it kept the current versions.
        (UNKEPT_READ, {
            let g = g.clone();
            Arc::new(move |i| format!("{g}/v1/procedures/{}?version=1", code(i % procedures)))
        }),
        // The console's public pages over the same data, through the same gateway.
        (CONSOLE_PROCEDURE, {
            let c = console.clone();
            Arc::new(move |i| format!("{c}/thu-tuc/{}", code(i % procedures)))
        }),
        (CONSOLE_SEARCH, {
            let c = console.clone();
            Arc::new(move |i| format!("{c}/?q={}", QUERIES[i % QUERIES.len()]))
        }),
    ];
    let mut rows = Vec::new();
    for open in [false, true] {
        let mut baseline = None;
        for (path, url) in &targets {
            let (get, url) = (get.clone(), url.clone());
            let op = move |i| get(url(i));
            let (mode, stats) = if open {
                (format!("open, {rate} req/s"), open_loop(rate, d, op).await)
            } else {
                (
                    format!("closed, {workers} workers"),
                    closed_loop(workers, d, op).await,
                )
            };
            let measured = stats.rate();
            rows.push(Row {
                path: (*path).to_owned(),
                mode,
                stats,
                baseline,
            });
            baseline.get_or_insert(measured);
        }
        if !open {
            memory(&sys, "under load (after the closed-loop catalogue run)");
        }
    }

    // A cache revalidating what it holds: the same reads naming their ETag, answered
    // 304 with no body, from the gateway's copy.
    let mut tags = Vec::with_capacity(procedures);
    for i in 0..procedures {
        let r = http
            .get(format!("{g}/v1/procedures/{}", code(i)))
            .send()
            .await?;
        tags.push(
            r.headers()
                .get("etag")
                .and_then(|t| t.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let tags = Arc::new(tags);
    let revalidate = {
        let (http, g) = (http.clone(), g.clone());
        move |i: usize| {
            let (http, tags) = (http.clone(), tags.clone());
            let url = format!("{g}/v1/procedures/{}", code(i % procedures));
            async move {
                http.get(url)
                    .header("if-none-match", &tags[i % procedures])
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == reqwest::StatusCode::NOT_MODIFIED)
            }
        }
    };
    rows.push(Row {
        path: "GET /v1/procedures/{code}, If-None-Match → 304".into(),
        mode: format!("closed, {workers} workers"),
        stats: closed_loop(workers, d, revalidate).await,
        baseline: rows.first().map(|r| r.stats.rate()),
    });

    // Searches with a key are not kept (a caller may see more than the public).
    let keyed_search = {
        let (http, g, key) = (http.clone(), g.clone(), sys.office_key.clone());
        move |i: usize| {
            let http = http.clone();
            let url = format!("{g}/v1/procedures?q={}", QUERIES[i % QUERIES.len()]);
            let key = key.clone();
            async move {
                http.get(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        }
    };
    rows.push(Row {
        path: "GET /v1/procedures?q= with a key (not kept: through the catalogue)".into(),
        mode: format!("closed, {workers} workers"),
        stats: closed_loop(workers, d, keyed_search).await,
        baseline: rows.first().map(|r| r.stats.rate()),
    });
    let (heard, stale) = stale_window(&sys, procedures, 200).await?;

    // The console's pages beside the API answers they are made of, mode by mode.
    println!("\n| console page / the API's own rate, same data | closed loop | open loop |");
    println!("|---|---:|---:|");
    for (page, api) in [
        (CONSOLE_PROCEDURE, "GET /v1/procedures/{code}"),
        (CONSOLE_SEARCH, "GET /v1/procedures?q= (search)"),
    ] {
        let ratio = |closed: bool| {
            let of = |path: &str| {
                rows.iter()
                    .find(|r| r.path == path && r.mode.starts_with("closed") == closed)
                    .map_or(0.0, |r| r.stats.rate())
            };
            of(page) / of(api).max(1e-9)
        };
        println!("| {page} | {:.2} | {:.2} |", ratio(true), ratio(false));
    }
    // Page weight: what a phone on a school's connection downloads (HTML, no other
    // requests but one small script on the one-stop page).
    let weigh = |url: String| async move {
        reqwest::get(url)
            .await
            .ok()?
            .bytes()
            .await
            .ok()
            .map(|b| b.len())
    };
    println!("\n| console page | bytes |");
    println!("|---|---:|");
    for (page, url) in [
        (CONSOLE_PROCEDURE, format!("{console}/thu-tuc/{}", code(0))),
        (CONSOLE_SEARCH, format!("{console}/?q={}", QUERIES[0])),
    ] {
        println!("| {page} | {} |", weigh(url).await.unwrap_or(0));
    }

    let js_rate = raw_jetstream(&sys.nats.url(), 50_000).await?;
    let pg_rate = raw_postgres(
        &sys.database_url("activity").expect("activity database"),
        20_000,
    )
    .await?;
    let (submit, projected, latency) = activity_end_to_end(&sys, seconds, 16).await?;
    let batches: usize = env_or("CCHC_BENCH_BATCHES", 20);
    let batched = activity_batches(&sys, batches, 1000, 4).await?;
    memory(&sys, "after activity load");
    print(&rows);
    println!("\n| a version published elsewhere (the catalogue, another replica) | figure |");
    println!("|---|---:|");
    println!(
        "| publish committed → its event heard by a JetStream reader ({} publications) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        heard.requests, heard.p50_ms, heard.p99_ms, heard.max_ms
    );
    println!(
        "| publish committed → first read of it through the gateway | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        stale.p50_ms, stale.p99_ms, stale.max_ms
    );
    println!("\n| activity path | figure |");
    println!("|---|---:|");
    println!(
        "| submissions through the gateway (closed, 16 workers) | {:.0}/s, p50 {:.2} ms, p99 {:.2} ms |",
        submit.rate(),
        submit.p50_ms,
        submit.p99_ms
    );
    println!("| submitted until reflected in reporting's read model | {projected:.0} events/s |");
    println!(
        "| submit → projection latency | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        latency.p50_ms, latency.p99_ms, latency.max_ms
    );
    println!("| raw JetStream async publish, file storage, 200 B | {js_rate:.0} msg/s |");
    println!("| raw PostgreSQL single-row inserts, 16 connections | {pg_rate:.0} rows/s |");
    println!(
        "| ratio: end-to-end / raw JetStream | {:.3} |",
        projected / js_rate
    );
    println!(
        "| ratio: end-to-end / raw PostgreSQL | {:.3} |",
        projected / pg_rate
    );
    println!(
        "| POST /v1/activities:batch, {batches} batches of 1,000 (4 in flight), until all projected | {batched:.0} activities/s |"
    );
    println!(
        "| ratio: batches end to end / raw JetStream | {:.3} |",
        batched / js_rate
    );
    let (replayed, replay_rate) = cchc_e2e::report_bench::replay_rate(&sys).await?;
    println!(
        "| read models rebuilt by replaying the streams | {replayed} events, {replay_rate:.0} events/s |"
    );
    let js_always = raw_jetstream_sync_always(50_000).await?;
    println!(
        "| raw JetStream async publish, sync_interval: always | {js_always:.0} msg/s ({:.2} of the default) |",
        js_always / js_rate
    );
    drop(hello);
    sys.stop().await;
    let closed = |path: &str| {
        rows.iter()
            .find(|r| r.path == path && r.mode.starts_with("closed"))
            .map_or(0.0, |r| r.stats.rate())
    };
    Ok(Figures {
        kept: closed("GET /v1/procedures/{code}"),
        search: closed("GET /v1/procedures?q= (search)"),
        submitted: submit.rate(),
        projected,
        batched,
        stale,
    })
}

/// The same paths on `make cluster` — two replicas of every service and gateway, three
/// NATS nodes, streams of three copies — with the requests going round both gateways,
/// beside this run's single-node figures (when the `http` part ran). The staleness row
/// here is the one a balancer makes: published through gateway 2, read through gateway 1.
async fn cluster(single: Option<&Figures>) -> anyhow::Result<()> {
    let seconds: u64 = env_or("CCHC_BENCH_SECONDS", 10);
    let procedures: usize = env_or("CCHC_BENCH_PROCEDURES", 2000);
    let workers: usize = env_or("CCHC_BENCH_WORKERS", 32);
    let batches: usize = env_or("CCHC_BENCH_BATCHES", 20);
    let d = Duration::from_secs(seconds);
    let c = Cluster::start_env(&[
        ("CCHC_RATE_LIMIT_BURST", "100000000"),
        ("CCHC_RATE_LIMIT_PER_MINUTE", "100000000"),
    ])
    .await;
    seed(&c, procedures).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let gateways = Arc::new(c.gateways.clone());
    let reads = |path: Arc<dyn Fn(usize) -> String + Send + Sync>| {
        let (http, gateways) = (http.clone(), gateways.clone());
        closed_loop(workers, d, move |i| {
            got(
                http.clone(),
                format!("{}{}", gateways[i % gateways.len()], path(i)),
            )
        })
    };
    let kept = reads(Arc::new(move |i| {
        format!("/v1/procedures/{}", code(i % procedures))
    }))
    .await;
    let search = reads(Arc::new(|i| {
        format!("/v1/procedures?q={}", QUERIES[i % QUERIES.len()])
    }))
    .await;
    let (submit, projected, _) = activity_end_to_end(&c, seconds, 16).await?;
    let batched = activity_batches(&c, batches, 1000, 4).await?;
    let stale = stale_across_gateways(&c, procedures, 200).await?;
    c.stop().await;

    println!(
        "\n| on `make cluster` (2 replicas of each, 3 NATS nodes), requests round both gateways | single node | cluster | cluster / single |"
    );
    println!("|---|---:|---:|---:|");
    let row = |what: &str, one: Option<f64>, two: f64, unit: &str| {
        let (one, ratio) = match one {
            Some(v) => (
                format!("{v:.0} {unit}"),
                format!("{:.2}", two / v.max(1e-9)),
            ),
            None => ("—".into(), "—".into()),
        };
        println!("| {what} | {one} | {two:.0} {unit} | {ratio} |");
    };
    row(
        &format!("GET /v1/procedures/{{code}} (kept), closed, {workers} workers"),
        single.map(|f| f.kept),
        kept.rate(),
        "req/s",
    );
    row(
        &format!("search, 6 queries (kept), closed, {workers} workers"),
        single.map(|f| f.search),
        search.rate(),
        "req/s",
    );
    row(
        "activity submissions through the gateway (closed, 16 workers)",
        single.map(|f| f.submitted),
        submit.rate(),
        "/s",
    );
    row(
        "activity submitted until in reporting's read model",
        single.map(|f| f.projected),
        projected,
        "events/s",
    );
    row(
        &format!("POST /v1/activities:batch, {batches} × 1,000, until all projected"),
        single.map(|f| f.batched),
        batched,
        "activities/s",
    );
    let single_stale = single.map_or("—".into(), |f| {
        format!("p50 {:.1} ms, p99 {:.1} ms", f.stale.p50_ms, f.stale.p99_ms)
    });
    println!(
        "| a version published elsewhere → first fresh read (single: at the catalogue; cluster: through gateway 2, read through gateway 1; {} publications) | {single_stale} | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms | |",
        stale.requests, stale.p50_ms, stale.p99_ms, stale.max_ms
    );
    Ok(())
}

/// Each of `n` procedures, read (so kept) through gateway 1, is amended through gateway
/// 2, then read through gateway 1 until the new version shows: from the publication's
/// answer to the first fresh read.
async fn stale_across_gateways(c: &Cluster, procedures: usize, n: usize) -> anyhow::Result<Stats> {
    let version_at_1 = async |code: &str| c.version_at(0, code).await.unwrap_or_default();
    let mut amended = publication("2020-02-01");
    amended["change_type"] = json!("amended");
    let mut waits = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n.min(procedures) {
        let code = code(i);
        let before = version_at_1(&code).await;
        version_at_1(&code).await;
        let publish = format!("/v1/procedures/{code}/publish");
        c.office_post(1, &publish, amended.clone()).await;
        let published = Instant::now();
        while version_at_1(&code).await <= before {
            tokio::time::sleep(Duration::from_millis(1)).await;
            anyhow::ensure!(
                published.elapsed() < Duration::from_secs(30),
                "{code}: gateway 1 still shows version {before} after 30 s"
            );
        }
        waits.push(published.elapsed().as_micros() as u64);
    }
    Ok(Stats::from_micros(waits, 0, started.elapsed()))
}

async fn fanout() -> anyhow::Result<()> {
    let recipients: usize = env_or("CCHC_BENCH_RECIPIENTS", 10_000);
    let f = cchc_e2e::fanout::run(recipients).await?;
    println!("\n| notification fan-out | figure |");
    println!("|---|---:|");
    println!(
        "| recipients (units) | {} ({} e-mails, {} webhooks, {} inbox messages) |",
        f.recipients, f.emails, f.webhooks, f.inbox
    );
    println!(
        "| one catalogue change until every message delivered | {:.1} s ({:.0} messages/s) |",
        f.seconds_to_delivered,
        (f.inbox as f64 + f.emails as f64 + f.webhooks as f64) / f.seconds_to_delivered
    );
    println!(
        "| … every message written (inbox ones delivered so) | {:.1} s |",
        f.seconds_to_written
    );
    println!(
        "| … the last e-mail, the last webhook delivered | {:.1} s, {:.1} s |",
        f.seconds_to_emails, f.seconds_to_webhooks
    );
    println!(
        "| duplicates (service, SMTP server, webhook receiver) | {} |",
        f.duplicates
    );
    println!(
        "| setting up the recipients through the API | {:.1} s |",
        f.setup_seconds
    );
    Ok(())
}

/// The report over a province's read model, then over a national-size one (1,500 units,
/// 5,000,000 activities; `CCHC_BENCH_NATIONAL=0` leaves it out).
async fn report() -> anyhow::Result<()> {
    let units: usize = env_or("CCHC_BENCH_UNITS", 500);
    let activities: usize = env_or("CCHC_BENCH_ACTIVITIES", 1_000_000);
    report_of(units, activities).await?;
    if env_or("CCHC_BENCH_NATIONAL", 1) != 0 {
        report_of(1_500, 5_000_000).await?;
    }
    Ok(())
}

async fn report_of(units: usize, activities: usize) -> anyhow::Result<()> {
    let r = cchc_e2e::report_bench::run(units, activities).await?;
    println!(
        "\n| report ({} units, {} activities) | seconds | size |",
        r.units, r.activities
    );
    println!("|---|---:|---:|");
    println!(
        "| generation (job: read models → snapshot → every format) | {:.2} | |",
        r.generation_seconds
    );
    for (format, secs, bytes) in &r.exports {
        println!("| export {format} (stored, served) | {secs:.3} | {bytes} B |");
    }
    println!(
        "| plain SQL aggregate over the same rows (units × kinds) | {:.2} | |",
        r.sql_aggregate_seconds
    );
    println!(
        "| ratio: generation / plain aggregate | {:.1} | |",
        r.generation_seconds / r.sql_aggregate_seconds
    );
    println!(
        "| loading the rows into the read model (for reference) | {:.1} | |",
        r.load_seconds
    );
    Ok(())
}
