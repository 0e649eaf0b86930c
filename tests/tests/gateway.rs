//! The gateway behaves like a well-kept public API: keys shown once and refused once
//! revoked or expired, rate and body limits, idempotent writes, metrics, CORS, and
//! units that change as they really do.

use std::time::Duration;

use cchc_e2e::System;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn key_lifecycle_idempotency_and_unit_changes() {
    let sys = System::start("gateway").await;
    let office = sys.office_key.clone();
    let (unit_id, key) = sys
        .unit_with_key("Trường THPT Lê Quý Đôn", "high_school", "unit")
        .await;
    assert!(key.starts_with("cchc_") && key.len() > 40);

    // Listed without the key itself; only its hash is stored.
    let (s, keys) = sys
        .get(&format!("/v1/units/{unit_id}/api-keys"), Some(&office))
        .await;
    assert_eq!(s, 200);
    let listed = &keys["api_keys"][0];
    assert!(listed.get("key").is_none(), "{listed}");
    assert_eq!(listed["prefix"], &key[..12]);
    let db = sqlx::PgPool::connect(&sys.database_url("gateway").unwrap())
        .await
        .unwrap();
    let stored: Vec<(Vec<u8>, String)> = sqlx::query_as("SELECT hash, prefix FROM api_keys")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|(h, _)| h.len() == 32 && !String::from_utf8_lossy(h).contains(&key[5..]))
    );
    let (s, _) = sys.get("/v1/notifications", Some(&key)).await;
    assert_eq!(s, 200);
    let (_, keys) = sys
        .get(&format!("/v1/units/{unit_id}/api-keys"), Some(&office))
        .await;
    assert!(
        keys["api_keys"][0]["last_used_at"].is_string(),
        "use is recorded"
    );

    // Revoked: refused at once.
    let key_id = listed["id"].as_str().unwrap();
    let (s, _) = sys
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{key_id}"),
            Some(&office),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, p) = sys.get("/v1/notifications", Some(&key)).await;
    assert_eq!((s, p["status"].as_u64()), (401, Some(401)));

    // Expired: refused once its time has passed.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(5)).to_rfc3339();
    let (s, k) = sys
        .post(
            &format!("/v1/units/{unit_id}/api-keys"),
            Some(&office),
            &json!({"role": "unit", "expires_at": soon}),
        )
        .await;
    assert_eq!(s, 201, "{k}");
    let short = k["key"].as_str().unwrap().to_owned();
    assert_eq!(sys.get("/v1/notifications", Some(&short)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(5500)).await;
    assert_eq!(sys.get("/v1/notifications", Some(&short)).await.0, 401);
    let (s, _) = sys
        .post(
            &format!("/v1/units/{unit_id}/api-keys"),
            Some(&office),
            &json!({"role": "operator"}),
        )
        .await;
    assert_eq!(s, 403, "only an operator issues operator keys");
    let (s, k) = sys
        .post(
            &format!("/v1/units/{unit_id}/api-keys"),
            Some(&sys.operator_key),
            &json!({"role": "operator"}),
        )
        .await;
    assert_eq!(
        (s, k["role"].as_str()),
        (201, Some("operator")),
        "the configured operator key issues operator keys"
    );

    // The same write with the same Idempotency-Key lands once.
    let post = |body: serde_json::Value, idem: &'static str| {
        sys.http
            .post(format!("{}/v1/units", sys.gateway))
            .bearer_auth(&office)
            .header("Idempotency-Key", idem)
            .json(&body)
            .send()
    };
    let a = post(
        json!({"name": "Phòng GD&ĐT Hoàn Kiếm", "kind": "district_office"}),
        "unit-hk-1",
    )
    .await
    .unwrap();
    assert_eq!(a.status(), 201);
    let a: serde_json::Value = a.json().await.unwrap();
    let b = post(
        json!({"name": "Phòng GD&ĐT Hoàn Kiếm", "kind": "district_office"}),
        "unit-hk-1",
    )
    .await
    .unwrap();
    assert_eq!(b.status(), 201);
    assert_eq!(b.headers().get("idempotent-replayed").unwrap(), "true");
    let b: serde_json::Value = b.json().await.unwrap();
    assert_eq!(a["id"], b["id"]);
    let c = post(
        json!({"name": "Khác", "kind": "district_office"}),
        "unit-hk-1",
    )
    .await
    .unwrap();
    assert_eq!(c.status(), 422);
    let (_, units) = sys.get("/v1/units?limit=500", Some(&office)).await;
    let named = units["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["name"] == "Phòng GD&ĐT Hoàn Kiếm")
        .count();
    assert_eq!(named, 1);
    // The same name again, without the key: refused, naming the unit that has it (case
    // aside); under another parent the name is free; a rename cannot take it either.
    let (s, p) = sys
        .post(
            "/v1/units",
            Some(&office),
            &json!({"name": "phòng gd&đt hoàn kiếm", "kind": "district_office"}),
        )
        .await;
    assert_eq!(s, 409, "{p}");
    assert!(p["type"].as_str().unwrap().ends_with("/name-taken"), "{p}");
    assert_eq!(p["errors"][0]["field"], "name");
    assert_eq!(p["errors"][0]["code"], "duplicate");
    assert!(
        p["errors"][0]["params"]["first"]
            .as_str()
            .unwrap()
            .contains(a["id"].as_str().unwrap()),
        "{p}"
    );
    let (s, other) = sys
        .post(
            "/v1/units",
            Some(&office),
            &json!({"name": "Phòng GD&ĐT Hoàn Kiếm", "kind": "district_office", "parent_id": unit_id}),
        )
        .await;
    assert_eq!(s, 201, "{other}");
    let rename = |id: &str| format!("/v1/units/{id}/rename");
    let to_school = json!({"name": "Trường THPT Lê Quý Đôn", "effective_date": "2025-07-01"});
    let (s, p) = sys
        .post(
            &rename(a["id"].as_str().unwrap()),
            Some(&office),
            &to_school,
        )
        .await;
    assert_eq!(
        (s, p["errors"][0]["code"].as_str()),
        (409, Some("duplicate")),
        "{p}"
    );
    let (s, p) = sys
        .post(
            &rename(other["id"].as_str().unwrap()),
            Some(&office),
            &to_school,
        )
        .await;
    assert_eq!(
        s, 200,
        "the name of a unit under another parent is free: {p}"
    );

    // The 2025 reform: the district office is renamed, then merged; its keys stop working
    // but its history keeps both names.
    let hk = a["id"].as_str().unwrap();
    let (_, hk_key) = {
        let (s, k) = sys
            .post(
                &format!("/v1/units/{hk}/api-keys"),
                Some(&office),
                &json!({"role": "unit"}),
            )
            .await;
        assert_eq!(s, 201);
        (s, k["key"].as_str().unwrap().to_owned())
    };
    let (s, r) = sys.post(&format!("/v1/units/{hk}/rename"), Some(&office), &json!({"name": "Phòng Văn hóa - Xã hội phường Hoàn Kiếm", "effective_date": "2025-07-01"})).await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = sys
        .post(
            &format!("/v1/units/{hk}/merge"),
            Some(&office),
            &json!({"into_unit_id": unit_id, "effective_date": "2025-07-01"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "merged");
    let (_, u) = sys.get(&format!("/v1/units/{hk}"), Some(&office)).await;
    let names: Vec<&str> = u["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Phòng GD&ĐT Hoàn Kiếm",
            "Phòng Văn hóa - Xã hội phường Hoàn Kiếm"
        ]
    );
    assert_eq!(sys.get("/v1/notifications", Some(&hk_key)).await.0, 401);
    let (s, _) = sys
        .post(
            &format!("/v1/units/{hk}/close"),
            Some(&office),
            &json!({"effective_date": "2025-08-01"}),
        )
        .await;
    assert_eq!(s, 422, "a merged unit cannot change again");
    // The other services hear of it: the notification service stops writing to it.
    let notification = sqlx::PgPool::connect(&sys.database_url("notification").unwrap())
        .await
        .unwrap();
    let hk_id: uuid::Uuid = hk.parse().unwrap();
    sys.eventually(30, "the merged unit to be told nothing more", || async {
        let active: Option<bool> =
            sqlx::query_scalar("SELECT active FROM recipients WHERE id = $1")
                .bind(hk_id)
                .fetch_optional(&notification)
                .await
                .unwrap();
        (active == Some(false)).then_some(())
    })
    .await;

    // Metrics by route.
    let text = sys.metrics().await;
    assert!(
        text.contains(
            "cchc_http_requests_total{route=\"/v1/units\",method=\"POST\",status=\"201\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("cchc_http_request_duration_seconds_bucket{route=\"/v1/units/{unit_id}\""),
        "{text}"
    );
    sys.stop().await;
}

#[tokio::test]
async fn rate_body_limits_and_cors_behave_as_documented() {
    let sys = System::start_with(
        "limits",
        &[
            ("gateway", "CCHC_RATE_LIMIT_PER_MINUTE", "6"),
            ("gateway", "CCHC_RATE_LIMIT_BURST", "5"),
            ("gateway", "CCHC_BODY_LIMIT_BYTES", "2048"),
            ("gateway", "CCHC_CORS_ORIGINS", "https://sgddt.example.vn"),
        ],
    )
    .await;
    let office = sys.office_key.clone();
    let big = json!({"name": "x".repeat(4000), "kind": "other"});
    let r = sys
        .http
        .post(format!("{}/v1/units", sys.gateway))
        .bearer_auth(&office)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "application/problem+json");

    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = sys
            .http
            .get(format!("{}/v1/units", sys.gateway))
            .bearer_auth(&office)
            .send()
            .await
            .unwrap();
        statuses.push((
            r.status().as_u16(),
            r.headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
        ));
    }
    // Five tokens at first, one used above: four more pass, then 429.
    assert!(statuses[..4].iter().all(|(s, _)| *s == 200), "{statuses:?}");
    let (s, retry) = &statuses[5];
    assert_eq!(*s, 429);
    assert!(
        retry
            .as_deref()
            .is_some_and(|r| r.parse::<u64>().unwrap() >= 1),
        "{statuses:?}"
    );
    // Health is never rate-limited; another key has its own budget.
    for _ in 0..10 {
        assert_eq!(
            sys.http
                .get(format!("{}/healthz", sys.gateway))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }

    let r = sys
        .http
        .request(Method::OPTIONS, format!("{}/v1/procedures", sys.gateway))
        .header("Origin", "https://sgddt.example.vn")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://sgddt.example.vn"
    );
    let r = sys
        .http
        .get(format!("{}/healthz", sys.gateway))
        .header("Origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    sys.stop().await;
}
