//! The report figures of `make bench`: a plan over many units with a million activities
//! in reporting's read model; time to generate the report and each export, beside a
//! plain SQL aggregate over the same rows; and the read models' replay rate.
//!
//! The activities are written straight into the read model: this measures reading and
//! rendering, not ingestion (the activity path of the bench measures that).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::System;

pub struct ReportBench {
    pub units: usize,
    pub activities: i64,
    pub load_seconds: f64,
    pub generation_seconds: f64,
    pub exports: Vec<(String, f64, usize)>,
    pub sql_aggregate_seconds: f64,
}

pub async fn run(units: usize, activities: usize) -> anyhow::Result<ReportBench> {
    let sys = System::start_with(
        "bench-report",
        &[
            ("gateway", "CCHC_RATE_LIMIT_BURST", "100000000"),
            ("gateway", "CCHC_RATE_LIMIT_PER_MINUTE", "100000000"),
        ],
    )
    .await;
    let mut ids = Vec::with_capacity(units);
    for chunk in (0..units).collect::<Vec<_>>().chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for i in chunk {
            let (http, g, key, i) = (
                sys.http.clone(),
                sys.gateway.clone(),
                sys.office_key.clone(),
                *i,
            );
            set.spawn(async move {
                let r = http
                    .post(format!("{g}/v1/units"))
                    .bearer_auth(&key)
                    .json(&json!({"name": format!("Trường THPT số {i}"), "kind": "high_school"}))
                    .send()
                    .await
                    .expect("creating a unit");
                r.json::<serde_json::Value>().await.expect("unit")["id"]
                    .as_str()
                    .expect("id")
                    .to_owned()
            });
        }
        while let Some(id) = set.join_next().await {
            ids.push(id?);
        }
    }
    let reporting = sqlx::PgPool::connect(&sys.database_url("reporting").expect("db")).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while sqlx::query_scalar::<_, i64>("SELECT count(*) FROM rm_units")
        .fetch_one(&reporting)
        .await?
        < units as i64
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the units never reached the read model"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let t = Instant::now();
    sqlx::query(
        "WITH u AS (SELECT unit_id, (row_number() OVER (ORDER BY unit_id)) - 1 AS k FROM rm_units),
              n AS (SELECT count(*) AS c FROM u)
         INSERT INTO rm_activities (activity_id, unit_id, kind, date, head_count, supersedes, event_at)
         SELECT gen_random_uuid(), u.unit_id,
                (ARRAY['briefing','news_post','training','posting','commendation','criticism',
                       'one_stop_publication','media_coordination','other'])[1 + (g % 9)],
                DATE '2020-01-01' + (g % 365)::int, g % 120, NULL, TIMESTAMPTZ '2020-12-31 10:00:00+07'
         FROM generate_series(0, $1 - 1) g, n JOIN u ON true
         WHERE u.k = g % n.c",
    )
    .bind(activities as i64)
    .execute(&reporting)
    .await?;
    sqlx::query("ANALYZE rm_activities")
        .execute(&reporting)
        .await?;
    let load_seconds = t.elapsed().as_secs_f64();
    let loaded: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_activities")
        .fetch_one(&reporting)
        .await?;

    let plan = json!({
        "number_symbol": "109/KH-SGDĐT-VP", "year": 2020,
        "title": "Tuyên truyền về công tác Cải cách hành chính năm 2020",
        "issuing_body": "Sở Giáo dục và Đào tạo", "governing_body": "UBND thành phố",
        "place": "Hải Phòng", "issued_on": "2020-01-15",
        "required_activities": [{"kind": "news_post", "min_per_unit": 2, "per": "half_year"}],
        "unit_ids": ids,
        "periods": [{"key": "2020-H1", "due_date": "2020-06-15"}, {"key": "2020", "due_date": "2020-12-15"}],
        "recipients": [{"name": "Ban Giám đốc"}, {"name": "Lưu: VT"}]
    });
    let (s, saved) = sys.post("/v1/plans", Some(&sys.office_key), &plan).await;
    anyhow::ensure!(s == 201, "saving the plan failed: {saved}");
    let t = Instant::now();
    let (s, job) = sys
        .post(
            "/v1/reports",
            Some(&sys.office_key),
            &json!({"plan_id": saved["id"], "period": "2020"}),
        )
        .await;
    anyhow::ensure!(s == 202, "starting the report failed: {job}");
    let id = job["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let (_, r) = sys
            .get(&format!("/v1/reports/{id}"), Some(&sys.office_key))
            .await;
        match r["state"].as_str() {
            Some("completed") => break,
            Some("failed") => anyhow::bail!("the report failed: {r}"),
            _ => {}
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "the report did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let generation_seconds = t.elapsed().as_secs_f64();
    let mut exports = Vec::new();
    for format in ["json", "csv", "xlsx", "docx"] {
        let t = Instant::now();
        let r = sys
            .http
            .get(format!(
                "{}/v1/reports/{id}/export?format={format}",
                sys.gateway
            ))
            .bearer_auth(&sys.office_key)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "exporting {format} failed: {}",
            r.status()
        );
        let bytes = r.bytes().await?.len();
        exports.push((format.to_owned(), t.elapsed().as_secs_f64(), bytes));
    }
    // Written as well as the report's own query (see its `IS NOT NULL`), so the ratio
    // compares the work around the query, not two ways of writing it.
    let t = Instant::now();
    let groups: Vec<(uuid::Uuid, String, i64)> = sqlx::query_as(
        "SELECT unit_id, kind, count(*) FROM rm_activities a
         WHERE date BETWEEN '2020-01-01' AND '2020-12-31'
           AND NOT EXISTS (SELECT 1 FROM rm_activities s WHERE s.supersedes = a.activity_id AND s.supersedes IS NOT NULL)
         GROUP BY unit_id, kind",
    )
    .fetch_all(&reporting)
    .await?;
    let sql_aggregate_seconds = t.elapsed().as_secs_f64();
    anyhow::ensure!(!groups.is_empty(), "the aggregate found nothing");
    sys.stop().await;
    Ok(ReportBench {
        units,
        activities: loaded,
        load_seconds,
        generation_seconds,
        exports,
        sql_aggregate_seconds,
    })
}

/// Rebuilds `sys`'s read models from its streams; events applied per second.
pub async fn replay_rate(sys: &System) -> anyhow::Result<(i64, f64)> {
    let t = Instant::now();
    let (s, r) = sys
        .post("/v1/admin/replay", Some(&sys.operator_key), &json!({}))
        .await;
    anyhow::ensure!(s == 202, "starting the replay failed: {r}");
    let id = r["id"].as_str().unwrap_or_default().to_owned();
    loop {
        let (_, r) = sys
            .get(&format!("/v1/admin/replay/{id}"), Some(&sys.operator_key))
            .await;
        match r["state"].as_str() {
            Some("completed") => {
                let applied = r["applied"].as_i64().unwrap_or(0);
                return Ok((applied, applied as f64 / t.elapsed().as_secs_f64()));
            }
            Some("failed") => anyhow::bail!("the replay failed: {r}"),
            _ => {}
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "the replay did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
