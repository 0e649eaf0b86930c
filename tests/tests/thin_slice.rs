//! The thin slice through all five real services: the office creates a unit and its
//! key, publishes a procedure; the unit's inbox hears of it; the unit logs an activity;
//! the dashboard counts both. One trace runs from the HTTP request into the event.

use cchc_e2e::{System, complete_procedure, publication};
use serde_json::json;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test]
async fn office_unit_catalogue_inbox_activity_dashboard() {
    let sys = System::start("thin-slice").await;
    let office = sys.office_key.clone();

    // Without a key nothing but the published catalogue is readable.
    let (s, p) = sys.get("/v1/units", None).await;
    assert_eq!(s, 401);
    assert_eq!(p["status"], 401);

    let (unit_id, unit_key) = sys
        .unit_with_key("Trường THPT Chu Văn An", "high_school", "unit")
        .await;
    let (other_id, other_key) = sys
        .unit_with_key("Phòng GD&ĐT Ba Đình", "district_office", "unit")
        .await;

    // A unit may not manage the catalogue.
    let code = "1.012753.H19";
    let name = "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc";
    let (s, _) = sys
        .post(
            "/v1/procedures",
            Some(&unit_key),
            &complete_procedure(code, name),
        )
        .await;
    assert_eq!(s, 403);

    // An incomplete draft is saved, and refused at publication with every missing part.
    let (s, _) = sys
        .post(
            "/v1/procedures",
            Some(&office),
            &json!({"code": "1.000001.H19", "content": {"name": "Chưa đủ"}}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, p) = sys
        .post(
            "/v1/procedures/1.000001.H19/publish",
            Some(&office),
            &publication("2020-02-01"),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert!(p["errors"].as_array().unwrap().len() >= 8, "{p}");
    assert!(
        p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "content.legal_basis")
    );

    // Create and publish; the publication request carries a trace.
    let (s, draft) = sys
        .post(
            "/v1/procedures",
            Some(&office),
            &complete_procedure(code, name),
        )
        .await;
    assert_eq!(s, 201, "{draft}");
    assert_eq!(draft["status"], "draft");
    let (s, _) = sys.get(&format!("/v1/procedures/{code}"), None).await;
    assert_eq!(s, 404, "a draft is not public");
    let res = sys
        .http
        .post(format!("{}/v1/procedures/{code}/publish", sys.gateway))
        .bearer_auth(&office)
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&publication("2020-02-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Anyone reads the published version, through the catalogue over gRPC.
    let (s, v) = sys.get(&format!("/v1/procedures/{code}"), None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["status"], "published");
    assert_eq!(v["content"]["name"], name);
    assert_eq!(v["decision"]["number"], "1234/QĐ-UBND");

    // The event reached the notification service: each unit's inbox has one message.
    for key in [&unit_key, &other_key] {
        let msgs = sys
            .eventually(30, "the inbox message", || async {
                let (_, b) = sys.get("/v1/notifications", Some(key)).await;
                let m = b["messages"].as_array().cloned().unwrap_or_default();
                (!m.is_empty()).then_some(m)
            })
            .await;
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(msgs[0]["subject"].as_str().unwrap().contains(name));
        assert!(msgs[0]["body"].as_str().unwrap().contains(code));
    }

    // The unit logs an activity; a unit id in the body is not a field of the request
    // (the unit is the key's) and is refused by name.
    let news = json!({"kind": "news_post", "date": "2020-03-10", "title": "Đăng tin CCHC trên website trường",
                      "head_count": 45, "evidence_links": ["https://thpt-cva.example.vn/tin/12"]});
    let mut forged = news.clone();
    forged["unit_id"] = json!(other_id);
    let (s, p) = sys.post("/v1/activities", Some(&unit_key), &forged).await;
    assert_eq!(
        (s, &p["errors"][0]["field"]),
        (400, &json!("unit_id")),
        "{p}"
    );
    let (s, a) = sys.post("/v1/activities", Some(&unit_key), &news).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["unit_id"], unit_id.as_str());
    // Bad input names every field at fault.
    let (s, p) = sys
        .post(
            "/v1/activities",
            Some(&unit_key),
            &json!({"kind": "party", "date": "2020-02-30", "title": "", "head_count": -3}),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["kind", "date", "title", "head_count"]);
    // Units see only their own activities.
    let (_, mine) = sys.get("/v1/activities", Some(&other_key)).await;
    assert_eq!(mine["activities"].as_array().unwrap().len(), 0);

    // The reporting read model counts both events.
    let d = sys
        .eventually(30, "the dashboard counts", || async {
            let (s, d) = sys.get("/v1/dashboard?year=2020", Some(&office)).await;
            (s == 200 && d["procedures_published"] == 1 && d["activities_total"] == 1).then_some(d)
        })
        .await;
    assert_eq!(d["units_reporting"], 1);
    assert_eq!(
        d["activities_by_kind"],
        json!([{"kind": "news_post", "count": 1}])
    );
    // Without a year, this year's (the 2020 activity is not in it); 0 is all time.
    let this_year = chrono::Datelike::year(&cchc_platform::time::today());
    let (_, now) = sys.get("/v1/dashboard", Some(&office)).await;
    assert_eq!(
        (now["year"].as_i64(), now["activities_total"].as_i64()),
        (Some(this_year.into()), Some(0)),
        "{now}"
    );
    let (_, all) = sys.get("/v1/dashboard?year=0", Some(&office)).await;
    assert_eq!(all["activities_total"], 1, "{all}");
    let (s, _) = sys.get("/v1/dashboard", Some(&unit_key)).await;
    assert_eq!(s, 403, "the dashboard is for the office and leadership");

    // The trace that entered the gateway continued into the event's NATS headers.
    let nats = sys.nats.connect().await;
    let js = async_nats::jetstream::new(nats);
    let mut stream = js.get_stream("CCHC_CATALOGUE").await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let msg = stream.get_raw_message(last).await.unwrap();
    let traceparent = msg
        .headers
        .get("traceparent")
        .expect("traceparent header")
        .as_str()
        .to_owned();
    assert!(
        traceparent.starts_with(&format!("00-{TRACE_ID}-")),
        "{traceparent}"
    );

    // SIGTERM stops every process cleanly.
    for (name, code) in sys.stop().await {
        assert_eq!(code, Some(0), "{name} did not exit cleanly");
    }
}
