//! A half-year through the gateway and the real services into a report: units post a
//! procedure that an amendment then makes stale, log activities (one corrected), submit
//! one-stop results twice and a budget; the office enters the plan and generates the
//! report, which the leadership exports; the event announcing it is on the stream; two
//! generations give the same bytes; an operator's replay (the `cchc` command) rebuilds
//! the read models and the report comes out the same again.

use std::process::Command;

use cchc_e2e::{System, bin_dir, complete_procedure, publication};
use cchc_proto::Message;
use cchc_proto::events::v1::{Envelope, PlanSaved, ReportGenerated};
use serde_json::{Value, json};

async fn put(sys: &System, path: &str, key: &str, body: &Value) -> (u16, Value) {
    sys.call(reqwest::Method::PUT, path, Some(key), Some(body))
        .await
}

async fn bytes(sys: &System, path: &str, key: &str) -> (u16, String, Vec<u8>) {
    let res = sys
        .http
        .get(format!("{}{path}", sys.gateway))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, res.bytes().await.unwrap().to_vec())
}

/// Generates the H1 report and waits for it; returns its id.
async fn generate(sys: &System, plan_id: &str) -> String {
    let (s, r) = sys
        .post(
            "/v1/reports",
            Some(&sys.office_key),
            &json!({"plan_id": plan_id, "period": "2020-H1"}),
        )
        .await;
    assert_eq!(s, 202, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    assert!(matches!(r["state"].as_str(), Some("queued" | "running")));
    let done = sys
        .eventually(60, "the report job completes", || async {
            let (_, r) = sys
                .get(&format!("/v1/reports/{id}"), Some(&sys.office_key))
                .await;
            (r["state"] == "completed").then_some(r)
        })
        .await;
    assert_eq!(done["percent"], 100);
    id
}

/// The events of `stream`, decoded.
async fn envelopes(sys: &System, stream: &str) -> Vec<Envelope> {
    let nats = sys.nats.connect().await;
    let js = async_nats::jetstream::new(nats);
    let mut s = js.get_stream(stream).await.unwrap();
    let last = s.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let m = s.get_raw_message(seq).await.unwrap();
        out.push(Envelope::decode(m.payload.as_ref()).unwrap());
    }
    out
}

#[tokio::test]
async fn a_half_year_reported_exported_and_replayed() {
    let sys = System::start("report").await;
    let office = sys.office_key.clone();
    let (a, a_key) = sys
        .unit_with_key("Trường THPT Chu Văn An", "high_school", "unit")
        .await;
    let (b, b_key) = sys
        .unit_with_key("Phòng GD&ĐT quận Ba Đình", "district_office", "unit")
        .await;
    let (c, _) = sys
        .unit_with_key("Trường THPT Ngô Quyền", "high_school", "unit")
        .await;
    let (_, leader) = sys
        .unit_with_key("Ban Giám đốc Sở", "department", "leader")
        .await;
    let operator = sys.operator_key.clone();

    // A procedure both units post; an amendment in March, which only A posts again.
    let code = "1.008950.H19";
    let (s, _) = sys
        .post(
            "/v1/procedures",
            Some(&office),
            &complete_procedure(code, "Chuyển trường đối với học sinh trung học phổ thông"),
        )
        .await;
    assert_eq!(s, 201);
    let (s, p) = sys
        .post(
            &format!("/v1/procedures/{code}/publish"),
            Some(&office),
            &publication("2020-01-20"),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    for key in [&a_key, &b_key] {
        let (s, p) = sys
            .post(
                "/v1/postings",
                Some(key),
                &json!({"code": code, "version": 1, "location": "Bảng tin", "posted_on": "2020-01-22"}),
            )
            .await;
        assert_eq!(s, 201, "{p}");
    }
    let mut amend = publication("2020-03-01");
    amend["change_type"] = json!("amended");
    let (s, _) = sys
        .post(
            &format!("/v1/procedures/{code}/publish"),
            Some(&office),
            &amend,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = sys
        .post(
            "/v1/postings",
            Some(&a_key),
            &json!({"code": code, "version": 2, "location": "Bảng tin", "posted_on": "2020-03-05"}),
        )
        .await;
    assert_eq!(s, 201);

    // Activities: A two news posts and a briefing of 40; B a news post and a briefing
    // that a correction turns into a news post.
    for (key, kind, date, heads) in [
        (&a_key, "news_post", "2020-02-10", 0),
        (&a_key, "news_post", "2020-04-10", 0),
        (&a_key, "briefing", "2020-03-15", 40),
        (&b_key, "news_post", "2020-03-01", 0),
    ] {
        let (s, r) = sys
            .post(
                "/v1/activities",
                Some(key),
                &json!({"kind": kind, "date": date, "title": "Tuyên truyền CCHC", "head_count": heads}),
            )
            .await;
        assert_eq!(s, 201, "{r}");
    }
    let (_, wrong) = sys
        .post(
            "/v1/activities",
            Some(&b_key),
            &json!({"kind": "briefing", "date": "2020-02-02", "title": "Đăng tin CCHC", "head_count": 0}),
        )
        .await;
    let (s, r) = sys
        .post(
            &format!(
                "/v1/activities/{}/corrections",
                wrong["id"].as_str().unwrap()
            ),
            Some(&b_key),
            &json!({"kind": "news_post", "date": "2020-02-02", "title": "Đăng tin CCHC",
                    "head_count": 0, "reason": "nhầm hình thức"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");

    // One-stop results: A submits, then resubmits the half-year.
    for (online, early) in [(40, 20), (50, 30)] {
        let (s, r) = put(
            &sys,
            "/v1/one-stop-results/2020-H1",
            &a_key,
            &json!({
                "received": {"online": online, "in_person_or_post": 60, "carried_over": 10},
                "resolved": {"early": early, "on_time": 60, "late": 10},
                "pending": {"within_time": 12, "overdue": 3},
                "returned_withdrawn": online - early - 15
            }),
        )
        .await;
        assert_eq!(s, 200, "{r}");
    }
    let (s, r) = put(
        &sys,
        "/v1/budget-lines/2020",
        &a_key,
        &json!({"lines": [{"item": "In tờ rơi", "funding_source": "Ngân sách CCHC",
                           "planned_vnd": 5000000, "spent_vnd": 4200000}]}),
    )
    .await;
    assert_eq!(s, 200, "{r}");

    // The read models have it all: the dashboard counts postings and the correction.
    let dashboard = sys
        .eventually(60, "the read models catch up", || async {
            let (s, d) = sys.get("/v1/dashboard?year=2020", Some(&leader)).await;
            (s == 200
                && d["activities_total"] == 5
                && d["postings_stale"] == 1
                && d["postings_current"] == 1
                && d["units_with_one_stop_results"] == 1
                && d["procedures_published"] == 1)
                .then_some(d)
        })
        .await;
    assert_eq!(dashboard["units_with_stale_postings"], 1);
    assert_eq!(
        dashboard["activities_by_kind"],
        json!([{"kind": "briefing", "count": 1}, {"kind": "news_post", "count": 4}])
    );
    // By month (the correction counts once, in its own month and kind) and by unit.
    assert_eq!(
        dashboard["activities_by_month"],
        json!([{"month": 2, "kind": "news_post", "count": 2},
               {"month": 3, "kind": "briefing", "count": 1},
               {"month": 3, "kind": "news_post", "count": 1},
               {"month": 4, "kind": "news_post", "count": 1}])
    );
    let unit = |id: &str| {
        dashboard["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["unit_id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("unit {id} on the dashboard: {dashboard}"))
    };
    let (ua, ub, uc) = (unit(&a), unit(&b), unit(&c));
    assert_eq!(
        (
            &ua["activities"],
            &ua["postings_current"],
            &ua["postings_stale"]
        ),
        (&json!(3), &json!(1), &json!(0)),
        "{ua}"
    );
    // A's resubmitted half-year: early 30 and on time 60 of 100 resolved.
    assert_eq!(ua["one_stop_period"], "2020-H1", "{ua}");
    assert_eq!(ua["on_time_percent"], 90.0, "{ua}");
    assert_eq!(
        (
            &ub["activities"],
            &ub["postings_stale"],
            &ub["on_time_percent"]
        ),
        (&json!(2), &json!(1), &json!(null)),
        "{ub}"
    );
    assert_eq!(uc["activities"], 0, "{uc}");

    // The office enters the plan; units may read it but not write it.
    let plan = json!({
        "number_symbol": "109/KH-SGDĐT-VP",
        "year": 2020,
        "title": "Tuyên truyền về công tác Cải cách hành chính năm 2020",
        "issuing_body": "Sở Giáo dục và Đào tạo",
        "governing_body": "UBND thành phố Hải Phòng",
        "place": "Hải Phòng",
        "issued_on": "2020-01-15",
        "objectives": "Tuyên truyền sâu rộng đến toàn thể cán bộ, công chức, viên chức và học sinh.",
        "required_activities": [{"kind": "news_post", "min_per_unit": 2, "per": "half_year"}],
        "unit_ids": [a, b, c],
        "periods": [{"key": "2020-H1", "due_date": "2020-06-15"}, {"key": "2020", "due_date": "2020-12-15"}],
        "recipients": [{"name": "Ban Giám đốc"}, {"name": "Website Sở"}, {"name": "Lưu: VT"}],
        "signer_title": "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC",
        "signer_name": "Nguyễn Văn An"
    });
    let (s, _) = sys.post("/v1/plans", Some(&a_key), &plan).await;
    assert_eq!(s, 403);
    let (s, p) = sys
        .post(
            "/v1/plans",
            Some(&office),
            &json!({"number_symbol": "", "year": 2020}),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    assert!(p["errors"].as_array().unwrap().len() >= 4, "{p}");
    let (s, saved) = sys.post("/v1/plans", Some(&office), &plan).await;
    assert_eq!(s, 201, "{saved}");
    let plan_id = saved["id"].as_str().unwrap().to_owned();
    assert_eq!(saved["periods"][0]["title"], "6 tháng đầu năm 2020");
    let (s, read) = sys.get(&format!("/v1/plans/{plan_id}"), Some(&a_key)).await;
    assert_eq!(s, 200);
    assert_eq!(read, saved);
    let (s, list) = sys.get("/v1/plans?year=2020", Some(&leader)).await;
    assert_eq!(s, 200);
    assert_eq!(list["plans"].as_array().unwrap().len(), 1);

    // A and B report by submitting the half-year (long after its due date: late); C
    // submits nothing. A second submission is refused, not counted twice.
    for key in [&a_key, &b_key] {
        let path = format!("/v1/plans/{plan_id}/periods/2020-H1/submissions");
        let (s, p) = sys.post(&path, Some(key), &json!({})).await;
        assert_eq!(
            (s, p["status"].as_str(), p["late"].as_bool()),
            (201, Some("submitted"), Some(true)),
            "{p}"
        );
        assert_eq!(sys.post(&path, Some(key), &json!({})).await.0, 409);
    }
    let (s, list) = sys
        .get(
            &format!("/v1/plans/{plan_id}/periods/2020-H1/submissions"),
            Some(&leader),
        )
        .await;
    assert_eq!(
        (s, &list["submitted"], &list["overdue"]),
        (200, &json!(2), &json!(1)),
        "{list}"
    );

    // A unit sees its own line only, and cannot reopen anyone's.
    let (_, own) = sys
        .get(
            &format!("/v1/plans/{plan_id}/periods/2020-H1/submissions"),
            Some(&a_key),
        )
        .await;
    let own = own["submissions"].as_array().unwrap();
    assert_eq!(
        (own.len(), own[0]["unit_id"].as_str()),
        (1, Some(a.as_str()))
    );
    let reopen = format!("/v1/plans/{plan_id}/periods/2020-H1/submissions/{b}/reopen");
    assert_eq!(
        sys.post(&reopen, Some(&a_key), &json!({"reason": "x"}))
            .await
            .0,
        403
    );

    // The report: started by the office (202 and where to follow it), not by others.
    let (s, _) = sys
        .post(
            "/v1/reports",
            Some(&leader),
            &json!({"plan_id": plan_id, "period": "2020-H1"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, p) = sys
        .post(
            "/v1/reports",
            Some(&office),
            &json!({"plan_id": plan_id, "period": "2020-Q3"}),
        )
        .await;
    assert_eq!((s, p["errors"][0]["field"].as_str()), (400, Some("period")));
    let first = generate(&sys, &plan_id).await;
    let (s, r) = sys
        .get(&format!("/v1/reports/{first}"), Some(&leader))
        .await;
    assert_eq!(s, 200);
    assert!(
        r["summary"]
            .as_str()
            .unwrap()
            .starts_with("Trong 6 tháng đầu năm 2020, 2/3 đơn vị đã báo cáo kết quả thực hiện Kế hoạch số 109/KH-SGDĐT-VP (trong đó 2 đơn vị nộp sau hạn"),
        "{r}"
    );
    assert_eq!(r["headline"]["postings_stale"], 1);
    assert_eq!(r["export_paths"].as_array().unwrap().len(), 4);
    let (s, _) = sys.get(&format!("/v1/reports/{first}"), Some(&a_key)).await;
    assert_eq!(s, 403, "units do not read reports");

    // The figures, through the JSON export.
    let (s, kind, json_bytes) = bytes(
        &sys,
        &format!("/v1/reports/{first}/export?format=json"),
        &leader,
    )
    .await;
    assert_eq!((s, kind.as_str()), (200, "application/json"));
    let snap: Value = serde_json::from_slice(&json_bytes).unwrap();
    assert_eq!(snap["overall"]["units_covered"], 3);
    assert_eq!(snap["overall"]["units_reported"], 2);
    assert_eq!(
        snap["overall"]["silent_units"][0]["name"],
        "Trường THPT Ngô Quyền"
    );
    assert_eq!(snap["overall"]["activities_total"], 5);
    assert_eq!(snap["overall"]["head_count_total"], 40);
    assert_eq!(snap["overall"]["corrections"], 1);
    assert_eq!(snap["targets"][0]["units_meeting"], 2);
    assert_eq!(snap["targets"][0]["units_below"], 1);
    assert_eq!(snap["catalogue"]["procedures_new"], 1);
    assert_eq!(snap["catalogue"]["procedures_amended"], 1);
    assert_eq!(snap["catalogue"]["postings_current"], 1);
    assert_eq!(snap["catalogue"]["postings_stale"], 1);
    assert_eq!(
        snap["catalogue"]["stale_postings"][0]["unit_name"],
        "Phòng GD&ĐT quận Ba Đình"
    );
    let one_stop = &snap["one_stop"]["figures"];
    assert_eq!(one_stop["received_online"], 50, "the resubmission counts");
    assert_eq!(one_stop["resolved_total"], 100);
    assert_eq!(one_stop["on_time_rate"], 90.0);
    assert_eq!(snap["budget"]["figures"]["planned_vnd"], 5_000_000);
    assert_eq!(
        snap["document"]["place_and_date"]
            .as_str()
            .unwrap()
            .split(',')
            .next(),
        Some("Hải Phòng")
    );

    // The documents: types and names; the DOCX and XLSX are what they claim to be.
    for (format, expected) in [
        ("csv", "text/csv; charset=utf-8"),
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ] {
        let res = sys
            .http
            .get(format!(
                "{}/v1/reports/{first}/export?format={format}",
                sys.gateway
            ))
            .bearer_auth(&office)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], expected);
        assert_eq!(
            res.headers()["content-disposition"],
            format!("attachment; filename=\"bao-cao-109-kh-sgddt-vp-2020-h1.{format}\"").as_str()
        );
        let body = res.bytes().await.unwrap();
        if format != "csv" {
            assert_eq!(&body[..2], b"PK", "{format} is a zip package");
        }
    }
    let (s, _, _) = bytes(
        &sys,
        &format!("/v1/reports/{first}/export?format=pdf"),
        &office,
    )
    .await;
    assert_eq!(s, 400);

    // The event tells the notification service where to fetch it.
    let events = envelopes(&sys, "CCHC_REPORTING").await;
    let plan_saved: Vec<PlanSaved> = events
        .iter()
        .filter(|e| e.r#type == "cchc.reporting.plan_saved.v1")
        .map(|e| PlanSaved::decode(e.payload.as_slice()).unwrap())
        .collect();
    assert_eq!(plan_saved.len(), 1);
    assert_eq!(plan_saved[0].plan_id, plan_id);
    assert_eq!(plan_saved[0].periods[0].due_date, "2020-06-15");
    let generated: Vec<ReportGenerated> = events
        .iter()
        .filter(|e| e.r#type == "cchc.reporting.report_generated.v1")
        .map(|e| ReportGenerated::decode(e.payload.as_slice()).unwrap())
        .collect();
    assert_eq!(generated.len(), 1);
    let g = &generated[0];
    assert_eq!(g.report_id, first);
    assert_eq!(g.plan_id, plan_id);
    assert_eq!(g.plan_number_symbol, "109/KH-SGDĐT-VP");
    assert_eq!(g.period, "2020-H1");
    assert_eq!(
        g.title,
        "Kết quả thực hiện Kế hoạch số 109/KH-SGDĐT-VP 6 tháng đầu năm 2020"
    );
    assert_eq!(g.as_of, snap["as_of"].as_str().unwrap());
    assert!(
        g.export_paths
            .contains(&format!("/v1/reports/{first}/export?format=docx"))
    );

    // Generated again from the same data: the same bytes.
    let second = generate(&sys, &plan_id).await;
    let mut documents = Vec::new();
    for format in ["json", "csv", "xlsx", "docx"] {
        let (_, _, x) = bytes(
            &sys,
            &format!("/v1/reports/{first}/export?format={format}"),
            &office,
        )
        .await;
        let (_, _, y) = bytes(
            &sys,
            &format!("/v1/reports/{second}/export?format={format}"),
            &office,
        )
        .await;
        assert!(x == y, "{format} differs between two generations");
        documents.push(x);
    }

    // The operator rebuilds the read models with the cchc command; the dashboard and
    // the report come out the same.
    let (_, dashboard) = sys.get("/v1/dashboard?year=2020", Some(&leader)).await;
    let (s, _) = sys
        .post("/v1/admin/replay", Some(&office), &json!({}))
        .await;
    assert_eq!(s, 403, "replays are the operator's");
    let out = Command::new(bin_dir().join("cchc"))
        .arg("replay-read-models")
        .env("CCHC_URL", &sys.gateway)
        .env("CCHC_KEY", &operator)
        .output()
        .expect("the cchc binary is built (cargo build --bins)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("read models rebuilt from"), "{text}");
    let (s, latest) = sys.get("/v1/admin/replay", Some(&operator)).await;
    assert_eq!(s, 200);
    assert_eq!(latest["state"], "completed");
    assert_eq!(latest["percent"], 100);
    let (_, after) = sys.get("/v1/dashboard?year=2020", Some(&leader)).await;
    assert_eq!(after, dashboard);
    let third = generate(&sys, &plan_id).await;
    for (i, format) in ["json", "csv", "xlsx", "docx"].iter().enumerate() {
        let (_, _, z) = bytes(
            &sys,
            &format!("/v1/reports/{third}/export?format={format}"),
            &office,
        )
        .await;
        assert!(z == documents[i], "{format} differs after the replay");
    }

    // The office generates it with the cchc command too, and gets the same document.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bao-cao.docx");
    let out = Command::new(bin_dir().join("cchc"))
        .args([
            "report", "--plan", &plan_id, "--period", "2020-H1", "--format", "docx", "-o",
        ])
        .arg(&file)
        .env("CCHC_URL", &sys.gateway)
        .env("CCHC_KEY", &office)
        .output()
        .expect("the cchc binary is built (cargo build --bins)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read(&file).unwrap() == documents[3],
        "the command's DOCX is the report's"
    );

    for (name, code) in sys.stop().await {
        assert_eq!(code, Some(0), "{name} did not exit cleanly");
    }
}
