//! A unit's year through the gateway and the real services: activities one by one and
//! in a batch, a correction, a one-stop result, satisfaction and budget; the office's
//! dashboard counts the correction and not the record it superseded.

use cchc_e2e::System;
use serde_json::{Value, json};

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn activities_corrections_and_one_stop_results_reach_the_dashboard() {
    let sys = System::start("activity").await;
    let office = sys.office_key.clone();
    let (unit_id, unit) = sys
        .unit_with_key("Trường THPT Chu Văn An", "high_school", "unit")
        .await;
    let (_, other) = sys
        .unit_with_key("Phòng GD&ĐT Ba Đình", "district_office", "unit")
        .await;

    // One activity, sent twice with the same Idempotency-Key: it lands once.
    let news = json!({"kind": "news_post", "date": "2020-03-10", "title": "Đăng tin CCHC trên website",
                      "head_count": 0, "evidence_links": ["https://thpt-cva.example.vn/tin/12"]});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = sys
            .http
            .post(format!("{}/v1/activities", sys.gateway))
            .bearer_auth(&unit)
            .header("Idempotency-Key", "cva-2020-03-10-news")
            .json(&news)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let a: Value = res.json().await.unwrap();
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids[0], ids[1]);

    let (s, briefing) = sys
        .post(
            "/v1/activities",
            Some(&unit),
            &json!({"kind": "briefing", "date": "2020-04-02", "title": "Quán triệt kế hoạch CCHC", "head_count": 35}),
        )
        .await;
    assert_eq!(s, 201, "{briefing}");
    let briefing_id = briefing["id"].as_str().unwrap().to_owned();

    // A batch: each item stands or falls on its own.
    let (s, batch) = sys
        .post(
            "/v1/activities:batch",
            Some(&unit),
            &json!({"items": [
                {"kind": "posting", "date": "2020-05-04", "title": "Niêm yết TTHC tại bộ phận một cửa"},
                {"kind": "party", "date": "2020-02-30", "title": ""}
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{batch}");
    assert_eq!(
        (batch["accepted"].as_u64(), batch["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(batch["results"][1]["index"], 1);
    let item_fields: Vec<&str> = batch["results"][1]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(item_fields, ["kind", "date", "title"]);

    // Another unit cannot correct it: to them it does not exist.
    let fix = json!({"kind": "training", "date": "2020-04-02", "title": "Tập huấn CCHC cho giáo viên",
                     "head_count": 60, "reason": "ghi nhầm loại hoạt động"});
    let (s, p) = sys
        .post(
            &format!("/v1/activities/{briefing_id}/corrections"),
            Some(&other),
            &fix,
        )
        .await;
    assert_eq!(s, 404, "{p}");
    // The owner corrects it; the correction supersedes the original.
    let (s, corrected) = sys
        .post(
            &format!("/v1/activities/{briefing_id}/corrections"),
            Some(&unit),
            &fix,
        )
        .await;
    assert_eq!(s, 201, "{corrected}");
    assert_eq!(corrected["supersedes"], briefing_id.as_str());
    assert_eq!(corrected["unit_id"], unit_id.as_str());
    assert_eq!(corrected["correction_reason"], "ghi nhầm loại hoạt động");
    let (s, p) = sys
        .post(
            &format!("/v1/activities/{briefing_id}/corrections"),
            Some(&unit),
            &fix,
        )
        .await;
    assert_eq!(s, 409, "an already corrected record: {p}");

    // Lists show the current view, and the history on request.
    let (_, current) = sys.get("/v1/activities", Some(&unit)).await;
    assert_eq!(current["activities"].as_array().unwrap().len(), 3);
    let (_, history) = sys.get("/v1/activities?history=true", Some(&unit)).await;
    let history = history["activities"].as_array().unwrap().clone();
    assert_eq!(history.len(), 4);
    let original = history
        .iter()
        .find(|a| a["id"] == briefing_id.as_str())
        .unwrap();
    assert_eq!(original["superseded_by"], corrected["id"]);
    let (s, h1) = sys
        .get(
            &format!("/v1/activities?unit_id={unit_id}&period=2020-H1&kind=training"),
            Some(&office),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(h1["activities"].as_array().unwrap().len(), 1);
    let (s, p) = sys
        .get("/v1/activities?period=2020-H3", Some(&office))
        .await;
    assert_eq!((s, fields(&p)), (400, vec!["period".to_owned()]));

    // One-stop results: reconciled, the on-time rate computed.
    let one_stop = json!({
        "received": {"online": 50, "in_person_or_post": 60, "carried_over": 10},
        "resolved": {"early": 30, "on_time": 60, "late": 10},
        "pending": {"within_time": 12, "overdue": 3},
        "returned_withdrawn": 5
    });
    let (s, r) = sys
        .call(
            reqwest::Method::PUT,
            "/v1/one-stop-results/2020-H1",
            Some(&unit),
            Some(&one_stop),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["on_time_rate"], 90.0, "a percent, as in the reports");
    assert_eq!(r["received"]["total"], 120);
    assert_eq!(r["unit_id"], unit_id.as_str());
    let mut off = one_stop.clone();
    off["returned_withdrawn"] = json!(3);
    let (s, p) = sys
        .call(
            reqwest::Method::PUT,
            "/v1/one-stop-results/2020-H2",
            Some(&unit),
            Some(&off),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(fields(&p), ["received"]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("(difference 2)"),
        "{p}"
    );
    // The reason by code and parameters, for a client to say in its own language.
    assert_eq!(p["errors"][0]["code"], "unreconciled", "{p}");
    assert_eq!(p["errors"][0]["params"]["difference"], "2", "{p}");
    let (s, p) = sys
        .call(
            reqwest::Method::PUT,
            "/v1/one-stop-results/2020-H7",
            Some(&unit),
            Some(&one_stop),
        )
        .await;
    assert_eq!((s, fields(&p)), (400, vec!["period".to_owned()]));
    let (s, list) = sys
        .get("/v1/one-stop-results?period=2020-H1", Some(&office))
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["results"].as_array().unwrap().len(), 1);
    // The Department Office's own unit sends its figures with the office's own key, no
    // second key of role unit: they are its unit's.
    let (s, own) = sys
        .call(
            reqwest::Method::PUT,
            "/v1/one-stop-results/2020-H1",
            Some(&office),
            Some(&one_stop),
        )
        .await;
    assert_eq!(s, 200, "{own}");
    let (_, me) = sys.get("/v1/me", Some(&office)).await;
    assert_eq!(own["unit_id"], me["unit"]["id"], "{own}");
    let (_, theirs) = sys.get("/v1/one-stop-results", Some(&other)).await;
    assert_eq!(theirs["results"].as_array().unwrap().len(), 0);

    // Satisfaction and budget lines.
    let (s, sat) = sys
        .call(
            reqwest::Method::PUT,
            "/v1/satisfaction/2020-H1",
            Some(&unit),
            Some(&json!({"responses": 200, "criteria": [
                {"name": "Tiếp cận dịch vụ", "very_satisfied": 100, "satisfied": 80, "dissatisfied": 20}
            ]})),
        )
        .await;
    assert_eq!(s, 200, "{sat}");
    assert_eq!(sat["satisfied_rate"], 90.0);
    let (s, budget) = sys
        .call(
            reqwest::Method::PUT,
            "/v1/budget-lines/2020",
            Some(&unit),
            Some(&json!({"lines": [
                {"item": "In tờ rơi", "funding_source": "Ngân sách nhà nước", "planned_vnd": 5000000, "spent_vnd": 4200000}
            ]})),
        )
        .await;
    assert_eq!(s, 200, "{budget}");
    assert_eq!(budget["planned_total_vnd"], 5_000_000);
    let (s, p) = sys
        .call(
            reqwest::Method::PUT,
            "/v1/budget-lines/20x0",
            Some(&unit),
            Some(&json!({"lines": []})),
        )
        .await;
    assert_eq!((s, fields(&p)), (400, vec!["year".to_owned()]));

    // The dashboard counts the correction, not the record it superseded (before the
    // correction arrives it also shows three, one of them the briefing).
    let by_kind = json!([
        {"kind": "news_post", "count": 1},
        {"kind": "posting", "count": 1},
        {"kind": "training", "count": 1}
    ]);
    let d = sys
        .eventually(30, "the dashboard counts the correction", || async {
            let (s, d) = sys.get("/v1/dashboard?year=2020", Some(&office)).await;
            (s == 200 && d["activities_by_kind"] == by_kind).then_some(d)
        })
        .await;
    assert_eq!(d["activities_total"], 3);

    for (name, code) in sys.stop().await {
        assert_eq!(code, Some(0), "{name} did not exit cleanly");
    }
}
