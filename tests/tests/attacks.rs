//! The gateway holds against what an attacker or a careless office key tries: ended
//! units that still act, an office key locking everyone out, control characters in
//! texts, free guessing of keys, replays that outlive a key or keep a secret, slow
//! connections, and a service dying mid-request.

use std::time::{Duration, Instant};

use cchc_e2e::System;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn department_id(sys: &System) -> String {
    let (s, units) = sys.get("/v1/units?limit=500", Some(&sys.office_key)).await;
    assert_eq!(s, 200, "{units}");
    units["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "department")
        .expect("the Department's unit")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn ended_units_lockouts_texts_and_replays() {
    let mut sys = System::start("attacks").await;
    let office = sys.office_key.clone();
    let operator = sys.operator_key.clone();
    let close = json!({"effective_date": "2020-07-01"});

    // A closed unit's key stops working, and no new key can be issued for it.
    let (unit_id, unit_key) = sys
        .unit_with_key("Trường THPT Tô Hiệu", "high_school", "unit")
        .await;
    let (s, _) = sys.get("/v1/notifications", Some(&unit_key)).await;
    assert_eq!(s, 200);
    let (s, closed) = sys
        .post(&format!("/v1/units/{unit_id}/close"), Some(&office), &close)
        .await;
    assert_eq!(s, 200, "{closed}");
    let (s, _) = sys.get("/v1/notifications", Some(&unit_key)).await;
    assert_eq!(s, 401);
    for role in ["unit", "office"] {
        let (s, refused) = sys
            .post(
                &format!("/v1/units/{unit_id}/api-keys"),
                Some(&office),
                &json!({"role": role}),
            )
            .await;
        assert_eq!(s, 422, "a key for a closed unit: {refused}");
    }
    // A key that somehow outlived its unit's end (issued in an earlier version) is
    // refused too: the unit is checked on every request, not only the key.
    let (merged_id, _) = sys
        .unit_with_key("Trường THPT Cũ", "high_school", "unit")
        .await;
    let (into_id, _) = sys
        .unit_with_key("Trường THPT Mới", "high_school", "unit")
        .await;
    let (s, office_of_merged) = sys
        .post(
            &format!("/v1/units/{merged_id}/api-keys"),
            Some(&office),
            &json!({"role": "office"}),
        )
        .await;
    assert_eq!(s, 201);
    let office_of_merged = office_of_merged["key"].as_str().unwrap().to_owned();
    let (s, _) = sys
        .post(
            &format!("/v1/units/{merged_id}/merge"),
            Some(&office),
            &json!({"into_unit_id": into_id, "effective_date": "2020-07-01"}),
        )
        .await;
    assert_eq!(s, 200);
    let db = sqlx::PgPool::connect(&sys.database_url("gateway").unwrap())
        .await
        .unwrap();
    sqlx::query("UPDATE api_keys SET revoked_at = NULL WHERE unit_id = $1::uuid")
        .bind(&merged_id)
        .execute(&db)
        .await
        .unwrap();
    let (s, _) = sys
        .post(
            "/v1/units",
            Some(&office_of_merged),
            &json!({"name": "Đơn vị giả", "kind": "other"}),
        )
        .await;
    assert_eq!(s, 401, "an office key of a merged unit creates nothing");

    // The Department's own unit can be neither closed nor merged.
    let department = department_id(&sys).await;
    let (s, refused) = sys
        .post(
            &format!("/v1/units/{department}/close"),
            Some(&office),
            &close,
        )
        .await;
    assert_eq!(s, 422, "{refused}");
    let (s, _) = sys
        .post(
            &format!("/v1/units/{department}/merge"),
            Some(&office),
            &json!({"into_unit_id": into_id, "effective_date": "2020-07-01"}),
        )
        .await;
    assert_eq!(s, 422);
    let (s, _) = sys.get("/v1/units", Some(&office)).await;
    assert_eq!(s, 200, "the office still works");

    // The office may not revoke the operators' keys; the configured keys come back at
    // start even when an operator revoked them.
    let operator_key_id = "00000000-0000-0000-0000-000000000002";
    let office_key_id = "00000000-0000-0000-0000-000000000001";
    let (s, _) = sys
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{operator_key_id}"),
            Some(&office),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = sys.get("/v1/admin/dead-letters", Some(&operator)).await;
    assert_eq!(s, 200, "the operator key still works");
    let (s, _) = sys
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{office_key_id}"),
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = sys.get("/v1/units", Some(&office)).await;
    assert_eq!(s, 401);
    sys.restart("gateway").await;
    let (s, _) = sys.get("/v1/units", Some(&office)).await;
    assert_eq!(s, 200, "the configured office key is restored at start");

    // Control characters: 400 naming the field, never 500; anonymous reads too.
    let (s, p) = sys
        .post(
            "/v1/units",
            Some(&office),
            &json!({"name": "Trường\u{0}THPT", "kind": "high_school"}),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    assert_eq!(p["errors"][0]["field"], "name", "{p}");
    let (s, p) = sys.get("/v1/procedures/x%00y", None).await;
    assert_eq!(s, 400, "{p}");
    let (s, p) = sys.get("/v1/procedures?q=c%E1%BA%A5p%00", None).await;
    assert_eq!(s, 400, "{p}");
    assert_eq!(p["errors"][0]["field"], "q", "{p}");
    let (_, writer) = sys
        .unit_with_key("Trường THPT Thái Phiên", "high_school", "unit")
        .await;
    let (s, p) = sys
        .post(
            "/v1/activities",
            Some(&writer),
            &json!({"kind": "news_post", "date": "2020-03-10", "title": "Tin\u{0}CCHC"}),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    assert_eq!(p["errors"][0]["field"], "title", "{p}");
    // In a batch, the bad item is refused on its own and the good one is recorded.
    let (s, batch) = sys
        .post(
            "/v1/activities:batch",
            Some(&writer),
            &json!({"items": [
                {"kind": "news_post", "date": "2020-03-11", "title": "Đăng tin\u{0}"},
                {"kind": "news_post", "date": "2020-03-12", "title": "Đăng tin CCHC"}
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{batch}");
    assert_eq!(
        (batch["accepted"].as_u64(), batch["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{batch}"
    );
    assert!(
        batch["results"][0]["errors"].to_string().contains("title"),
        "{batch}"
    );

    // Many bad items are one clear 400 (the first errors), not a broken answer.
    let lines: Vec<Value> = (0..300)
        .map(|i| {
            json!({"item": format!("Tờ rơi {i}"), "funding_source": "Ngân sách nhà nước",
                        "planned_vnd": 1_000_000_000_000_000i64, "spent_vnd": 0})
        })
        .collect();
    let (s, p) = sys
        .call(
            Method::PUT,
            "/v1/budget-lines/2020",
            Some(&writer),
            Some(&json!({"lines": lines})),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    assert_eq!(p["errors"].as_array().map(Vec::len), Some(50), "{p}");

    // A replayed key issuance never shows the key again, and the key is not kept.
    let issue = |idem: &'static str| {
        sys.http
            .post(format!("{}/v1/units/{into_id}/api-keys", sys.gateway))
            .bearer_auth(&office)
            .header("Idempotency-Key", idem)
            .json(&json!({"role": "leader"}))
            .send()
    };
    let first: Value = issue("key-once").await.unwrap().json().await.unwrap();
    let key = first["key"]
        .as_str()
        .expect("shown the first time")
        .to_owned();
    let again = issue("key-once").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"], "the same key's record");
    assert!(again.get("key").is_none(), "{again}");
    let kept: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT body FROM idempotency_keys WHERE body IS NOT NULL")
            .fetch_all(&db)
            .await
            .unwrap();
    assert!(
        kept.iter()
            .all(|b| !String::from_utf8_lossy(b).contains(&key[5..])),
        "no issued key is kept in clear"
    );

    // A revoked key cannot replay its earlier answers.
    let (s, k) = sys
        .post(
            &format!("/v1/units/{department}/api-keys"),
            Some(&office),
            &json!({"role": "office"}),
        )
        .await;
    assert_eq!(s, 201);
    let (temp, temp_id) = (
        k["key"].as_str().unwrap().to_owned(),
        k["id"].as_str().unwrap().to_owned(),
    );
    let create = || {
        sys.http
            .post(format!("{}/v1/units", sys.gateway))
            .bearer_auth(&temp)
            .header("Idempotency-Key", "create-once")
            .json(&json!({"name": "Phòng GD&ĐT Kiến An", "kind": "district_office"}))
            .send()
    };
    assert_eq!(create().await.unwrap().status(), 201);
    let (s, _) = sys
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{temp_id}"),
            Some(&office),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let replay = create().await.unwrap();
    assert_eq!(replay.status(), 401);
    assert!(replay.headers().get("idempotent-replayed").is_none());
    sys.stop().await;
}

#[tokio::test]
async fn guessing_keys_is_throttled_and_padding_does_not_dodge_the_limit() {
    let sys = System::start_with(
        "throttle",
        &[
            ("gateway", "CCHC_AUTH_FAILURE_BURST", "10"),
            ("gateway", "CCHC_AUTH_FAILURES_PER_MINUTE", "6"),
            ("gateway", "CCHC_RATE_LIMIT_BURST", "20"),
            ("gateway", "CCHC_RATE_LIMIT_PER_MINUTE", "6"),
        ],
    )
    .await;
    // The per-key limit reads the credential as authentication does: extra spaces do
    // not make a fresh bucket.
    let mut limited = 0;
    for i in 0..30 {
        let padding = " ".repeat(i % 5);
        let res = sys
            .http
            .get(format!("{}/v1/units", sys.gateway))
            .header(
                "Authorization",
                format!("Bearer {padding}{}{padding}", sys.office_key),
            )
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            200 => {}
            429 => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(limited >= 9, "only {limited} of 30 limited");

    // Wrong keys from one address: after the failure budget, 429 with Retry-After,
    // before any lookup.
    let mut statuses = Vec::new();
    let started = Instant::now();
    for i in 0..40 {
        let res = sys
            .http
            .get(format!("{}/v1/notifications", sys.gateway))
            .bearer_auth(format!("cchc_{i:064x}"))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            assert!(res.headers().contains_key("retry-after"));
        }
        statuses.push(res.status().as_u16());
    }
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        statuses[..10].iter().all(|&s| s == 401),
        "the first failures are answered: {statuses:?}"
    );
    assert!(
        statuses[12..].iter().all(|&s| s == 429),
        "then the address is throttled: {statuses:?}"
    );
    sys.stop().await;
}

/// Opens a connection from `source` and sends the start of a request, never its end.
async fn slow_client(source: &str, port: u16) -> Option<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind(format!("{source}:0").parse().unwrap()).ok()?;
    let mut stream = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .ok()?;
    stream
        .write_all(b"GET /v1/procedures HTTP/1.1\r\nHost: cchc\r\nX-Slow: ")
        .await
        .ok()?;
    Some(stream)
}

/// How many of `streams` the server has closed (a read ends or fails at once).
async fn closed_by_server(streams: &mut [tokio::net::TcpStream]) -> usize {
    let reads = streams.iter_mut().map(|s| async move {
        let mut buf = [0u8; 256];
        matches!(
            tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count()
}

#[tokio::test]
async fn slow_connections_do_not_take_the_gateway_down() {
    let sys = System::start_with(
        "slowloris",
        &[
            ("gateway", "CCHC_HEADER_READ_TIMEOUT_SECONDS", "3"),
            ("gateway", "CCHC_MAX_CONNECTIONS_PER_ADDRESS", "50"),
        ],
    )
    .await;
    let port: u16 = sys.gateway.rsplit(':').next().unwrap().parse().unwrap();
    let mut slow = Vec::new();
    for _ in 0..300 {
        if let Some(s) = slow_client("127.0.0.1", port).await {
            slow.push(s);
        }
    }
    let refused = closed_by_server(&mut slow).await;
    assert!(
        // The test's own kept-alive connections from this address count too.
        (240..=255).contains(&refused),
        "connections over the per-address cap (50) are closed at once, the others wait: \
         {refused} of {} closed",
        slow.len()
    );

    // Another client is served at once meanwhile.
    let other = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let res = other
        .get(format!("{}/v1/procedures", sys.gateway))
        .send()
        .await
        .expect("served while slow clients hold connections");
    assert_eq!(res.status(), 200);

    // And the slow ones are let go once the header-read time is over.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let closed = closed_by_server(&mut slow).await;
    assert_eq!(
        closed,
        slow.len(),
        "slow connections outlived the header-read timeout"
    );
    let (s, _) = sys.get("/v1/procedures", None).await;
    assert_eq!(s, 200);
    sys.stop().await;
}

#[tokio::test]
async fn a_service_dying_mid_request_is_a_503_to_retry() {
    let mut sys = System::start("service-dies").await;
    let (_, unit) = sys
        .unit_with_key("Trường THPT Ngô Quyền", "high_school", "unit")
        .await;
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (http, g, unit) = (sys.http.clone(), sys.gateway.clone(), unit.clone());
        writers.spawn(async move {
            let mut seen = Vec::new();
            for i in 0..60 {
                let res = http
                    .post(format!("{g}/v1/activities"))
                    .bearer_auth(&unit)
                    .json(&json!({"kind": "news_post", "date": "2020-05-01",
                                  "title": format!("Tin {w}-{i}"), "head_count": 1}))
                    .send()
                    .await
                    .expect("the gateway answers");
                let retry_after = res.headers().contains_key("retry-after");
                seen.push((res.status().as_u16(), retry_after));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    sys.kill("activity").await;
    let mut seen = Vec::new();
    while let Some(r) = writers.join_next().await {
        seen.extend(r.unwrap());
    }
    assert!(
        seen.iter().all(|(s, _)| *s != 500),
        "no 500 when a service dies: {seen:?}"
    );
    let unavailable: Vec<_> = seen.iter().filter(|(s, _)| *s == 503).collect();
    assert!(!unavailable.is_empty(), "the dead service is noticed");
    assert!(
        unavailable.iter().all(|(_, r)| *r),
        "503 says when to retry"
    );
    sys.restart("activity").await;
    sys.stop().await;
}
