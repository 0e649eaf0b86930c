//! The catalogue's HTTP paths through the gateway: public search and history, draft
//! edits that conflict, legal documents, and postings that go stale.

use cchc_e2e::{System, complete_procedure, publication};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn catalogue_over_http() {
    let sys = System::start("catalogue").await;
    let office = sys.office_key.clone();
    let (unit_id, unit_key) = sys
        .unit_with_key("Trường THPT Nguyễn Trãi", "high_school", "unit")
        .await;

    let code = "1.012753.H19";
    let (s, _) = sys
        .post(
            "/v1/procedures",
            Some(&office),
            &complete_procedure(code, "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = sys
        .post(
            &format!("/v1/procedures/{code}/publish"),
            Some(&office),
            &publication("2020-02-01"),
        )
        .await;
    assert_eq!(s, 200);

    // Anyone searches, without a key, ignoring diacritics.
    let (s, r) = sys
        .get("/v1/procedures?q=cap%20ban%20sao%20van%20bang", None)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["procedures"][0]["code"], code);
    assert_eq!(r["total"], 1);
    let (s, p) = sys.get("/v1/procedures?level=county", None).await;
    assert_eq!(s, 400);
    assert_eq!(p["errors"][0]["field"], "level");

    // Two office users edit the same draft: the second, stale save gets 409.
    let (s, draft) = sys
        .get(&format!("/v1/procedures/{code}/draft"), Some(&office))
        .await;
    assert_eq!(s, 200);
    let rev = draft["draft_revision"].as_u64().unwrap();
    let mut content = draft["content"].clone();
    // A time limit is working days, half a day included, in steps of a thousandth
    // (one working hour is 0.125); finer, negative or missing is refused.
    for (days, rule) in [(json!(0.0004), "decimals"), (json!(-1), "not_negative")] {
        content["processing_days"] = days;
        let (s, p) = save_draft(
            &sys,
            &office,
            code,
            &json!({"revision": rev, "content": content}),
        )
        .await;
        assert_eq!(s, 400, "{p}");
        assert_eq!(p["errors"][0]["field"], "content.processing_days", "{p}");
        assert_eq!(p["errors"][0]["code"], rule, "{p}");
    }
    content["processing_days"] = json!(0.5);
    let edit = json!({"revision": rev, "content": content});
    let (s, _) = save_draft(&sys, &office, code, &edit).await;
    assert_eq!(s, 200);
    let (s, p) = save_draft(&sys, &office, code, &edit).await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["status"], 409);

    // Reads carry validators: asked again with its tag, the same answer is 304 and
    // empty; any cache may keep it but must ask first; a key's answer is private.
    let http = reqwest::Client::new();
    let url = format!("{}/v1/procedures/{code}", sys.gateway);
    let first = http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "public, no-cache");
    let tag = first.headers()["etag"].clone();
    // The same read, naming the tag a cache holds.
    let revalidate = || http.get(&url).header("if-none-match", &tag).send();
    let again = revalidate().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], tag);
    assert!(again.bytes().await.unwrap().is_empty());
    let keyed = http.get(&url).bearer_auth(&office).send().await.unwrap();
    assert_eq!(keyed.headers()["cache-control"], "private, no-cache");

    // A unit posts version 1; an amendment makes its posting stale.
    let posting = json!({"code": code, "version": 1, "location": "Bảng tin tầng 1", "posted_on": "2020-02-05"});
    let (s, p) = sys.post("/v1/postings", Some(&unit_key), &posting).await;
    assert_eq!(s, 201, "{p}");
    assert_eq!(p["unit_id"], unit_id.as_str());
    let mut amend = publication("2020-06-01");
    amend["change_type"] = json!("amended");
    let (s, v) = sys
        .post(
            &format!("/v1/procedures/{code}/publish"),
            Some(&office),
            &amend,
        )
        .await;
    assert_eq!((s, v["version"].as_u64()), (200, Some(2)));
    // The old tag no longer matches: the new version comes whole.
    let fresh = revalidate().await.unwrap();
    assert_eq!(fresh.status(), 200);
    assert_ne!(fresh.headers()["etag"], tag);
    let (_, stale) = sys.get("/v1/postings?stale=true", Some(&office)).await;
    assert_eq!(stale["postings"].as_array().unwrap().len(), 1);
    assert_eq!(stale["postings"][0]["current_version"], 2);
    let (s, p) = sys.post("/v1/postings", Some(&unit_key), &posting).await;
    assert_eq!(s, 422, "confirming a version that is not current: {p}");
    assert!(p["detail"].as_str().unwrap().contains("not current"));

    // History is public; version 1 is still readable.
    let (_, h) = sys
        .get(&format!("/v1/procedures/{code}/versions"), None)
        .await;
    assert_eq!(h["versions"].as_array().unwrap().len(), 2);
    let (_, v1) = sys
        .get(&format!("/v1/procedures/{code}?version=1"), None)
        .await;
    assert_eq!(v1["content"]["processing_days"], 5);
    let (_, v2) = sys.get(&format!("/v1/procedures/{code}"), None).await;
    assert_eq!(v2["content"]["processing_days"], 0.5);
    // The current version is answered from the gateway's copy once kept (the
    // revalidations above, this read): no call to the catalogue.
    let metrics = sys.metrics().await;
    assert!(
        metrics.contains("cchc_gateway_published_live 1"),
        "{metrics}"
    );
    let hits: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cchc_gateway_published_hits_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert!(hits >= 2, "{metrics}");
    // A draft saved names a new last change, read back at once by whoever saved it.
    let (_, draft) = sys
        .get(&format!("/v1/procedures/{code}/draft"), Some(&office))
        .await;
    let mut edit = json!({"revision": draft["draft_revision"], "content": draft["content"]});
    edit["content"]["name"] = json!("Cấp bản sao (dự thảo sửa đổi)");
    let (s, _) = save_draft(&sys, &office, code, &edit).await;
    assert_eq!(s, 200);
    let (_, after) = sys.get(&format!("/v1/procedures/{code}"), None).await;
    assert_ne!(after["updated_at"], v2["updated_at"], "{after}");
    assert_eq!(
        after["content"], v2["content"],
        "the current version is unchanged"
    );

    // Legal documents, linked both ways.
    let doc = json!({"number_symbol": "23/2015/NĐ-CP", "type": "decree", "summary": "Về cấp bản sao từ sổ gốc",
                     "issuer": "Chính phủ", "signed_date": "2015-02-16", "effective_date": "2015-04-10", "procedure_codes": [code]});
    let (s, d) = sys.post("/v1/legal-documents", Some(&office), &doc).await;
    assert_eq!(s, 201, "{d}");
    let (_, found) = sys.get("/v1/legal-documents?q=cap%20ban%20sao", None).await;
    assert_eq!(found["documents"][0]["number_symbol"], "23/2015/NĐ-CP");
    let (_, p) = sys.get(&format!("/v1/procedures/{code}"), None).await;
    assert_eq!(p["legal_documents"][0]["id"], d["id"]);
    let (s, _) = sys.post("/v1/legal-documents", Some(&unit_key), &doc).await;
    assert_eq!(s, 403);
    sys.stop().await;
}

/// Saves the draft of `code` with the office's key.
async fn save_draft(sys: &System, office: &str, code: &str, edit: &Value) -> (u16, Value) {
    let path = format!("/v1/procedures/{code}/draft");
    sys.call(Method::PUT, &path, Some(office), Some(edit)).await
}
