//! Notifications through the gateway and the real binaries: the office sets up a
//! recipient, a subscription and a template; a procedure published reaches the unit's
//! inbox, a real SMTP server and a webhook receiver; a failing webhook is dead-lettered
//! and retried by an operator; a restart of the notification service sends nothing again.

use cchc_e2e::{System, complete_procedure, publication};
use cchc_testkit::{SmtpSink, WebhookReceiver};
use serde_json::{Value, json};

const SECRET: &str = "whsec-0123456789abcdef";

#[tokio::test]
async fn recipients_subscriptions_templates_delivery_dead_letter_and_retry() {
    let smtp = SmtpSink::start().await;
    let hook = WebhookReceiver::start(SECRET).await;
    let smtp_url = smtp.url();
    let n = "notification";
    let mut sys = System::start_with(
        "notification",
        &[
            (n, "CCHC_SMTP_URL", &smtp_url),
            (n, "CCHC_DELIVERY_MAX_ATTEMPTS", "3"),
            (n, "CCHC_DELIVERY_BACKOFF_MS", "100"),
            (n, "CCHC_DELIVERY_BACKOFF_MAX_MS", "300"),
            (n, "CCHC_WEBHOOK_TIMEOUT_SECS", "1"),
            (n, "CCHC_DELIVERY_LEASE_SECS", "3"),
        ],
    )
    .await;
    let office = sys.office_key.clone();
    let (_, unit_key) = sys
        .unit_with_key("Trường THPT Chu Văn An", "high_school", "unit")
        .await;
    let operator_key = sys.operator_key.clone();

    // Recipients: bad input names each field; a good one is created.
    let (s, p) = sys
        .post(
            "/v1/recipients",
            Some(&office),
            &json!({"kind": "body", "name": "", "contacts": [{"channel": "email", "address": "x"}]}),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "contacts[0].address"]);
    let (s, body) = sys
        .post(
            "/v1/recipients",
            Some(&office),
            &json!({"kind": "body", "name": "Ủy ban nhân dân thành phố", "groups": ["outside"],
                    "contacts": [{"channel": "email", "address": "vanthu@ubnd.example.vn"},
                                 {"channel": "webhook", "url": hook.url(), "secret": SECRET}]}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["contacts"][1]["secret"], "", "secrets are not shown");
    let (s, list) = sys.get("/v1/recipients?group=outside", Some(&office)).await;
    assert_eq!(s, 200);
    assert_eq!(list["recipients"].as_array().unwrap().len(), 1);
    let (s, _) = sys.get("/v1/recipients", Some(&unit_key)).await;
    assert_eq!(s, 403);

    let (s, sub) = sys
        .post(
            "/v1/subscriptions",
            Some(&office),
            &json!({"event_type": "procedure_changed", "recipient_id": body["id"],
                    "channels": ["email", "webhook"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let (s, p) = sys
        .post(
            "/v1/subscriptions",
            Some(&office),
            &json!({"event_type": "procedure_changed", "group": "outside", "channels": ["fax"]}),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    assert_eq!(p["errors"][0]["field"], "channels[0]");

    // Templates: an unknown placeholder is refused, naming it.
    let (s, p) = sys
        .post(
            "/v1/templates",
            Some(&office),
            &json!({"key": "procedure_changed", "subject": "{{name}}", "text": "Ngày {{ngay_hieu_luc}}"}),
        )
        .await;
    assert_eq!(s, 400, "{p}");
    assert_eq!(p["errors"][0]["field"], "text");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown placeholder {{ngay_hieu_luc}}"),
        "{p}"
    );
    assert_eq!(p["errors"][0]["code"], "unknown_placeholder", "{p}");
    assert_eq!(p["errors"][0]["params"]["name"], "ngay_hieu_luc", "{p}");
    let (s, t) = sys
        .post(
            "/v1/templates",
            Some(&office),
            &json!({"key": "procedure_changed", "subject": "Thông báo: {{name}} ({{change}})",
                    "text": "Kính gửi {{recipient_name}}, thủ tục mã {{code}} có hiệu lực từ {{effective_date}}."}),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["version"], 2);

    // The webhook receiver is down for now.
    hook.fail_next(1000, 503);
    let code = "1.012753.H19";
    let (s, b) = sys
        .post(
            "/v1/procedures",
            Some(&office),
            &complete_procedure(code, "Cấp bản sao văn bằng, chứng chỉ"),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = sys
        .post(
            &format!("/v1/procedures/{code}/publish"),
            Some(&office),
            &publication("2020-02-01"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let subject = "Thông báo: Cấp bản sao văn bằng, chứng chỉ (công bố mới)";

    // The unit's inbox, rendered from the new template version; marked read.
    let msgs = sys
        .eventually(30, "the inbox message", || async {
            let (_, b) = sys.get("/v1/notifications", Some(&unit_key)).await;
            let m = b["messages"].as_array().cloned().unwrap_or_default();
            (!m.is_empty()).then_some(m)
        })
        .await;
    assert_eq!(msgs[0]["subject"], subject);
    let inbox_id = msgs[0]["id"].as_str().unwrap().to_owned();
    let (s, m) = sys
        .post(
            &format!("/v1/notifications/{inbox_id}/read"),
            Some(&unit_key),
            &json!({}),
        )
        .await;
    assert_eq!((s, &m["read"]), (200, &json!(true)), "{m}");
    let (s, _) = sys
        .post(
            &format!("/v1/notifications/{inbox_id}/read"),
            Some(&operator_key),
            &json!({}),
        )
        .await;
    assert_eq!(s, 404, "another unit's message is not found");

    // The e-mail arrived, subject intact.
    let mails = smtp.wait_for(1, 30).await;
    assert_eq!(mails[0].subject, subject);
    assert!(mails[0].text.contains("Kính gửi Ủy ban nhân dân thành phố"));

    // The webhook gave up after three attempts; the operator sees it and retries.
    let received = sys
        .eventually(30, "three webhook attempts", || async {
            let r = hook.received();
            (r.len() >= 3).then_some(r)
        })
        .await;
    let hook_id = received[0].id.clone();
    let dead = sys
        .eventually(30, "the dead letter", || async {
            let (_, b) = sys
                .get("/v1/notifications/dead-letters", Some(&operator_key))
                .await;
            let d: Vec<Value> = b["messages"].as_array().cloned().unwrap_or_default();
            d.into_iter().find(|m| m["message_id"] == hook_id.as_str())
        })
        .await;
    assert_eq!(dead["status"], "dead_lettered");
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap()
            .starts_with("gave up after 3 attempts"),
        "{dead}"
    );
    let path = format!("/v1/notifications/{hook_id}/deliveries");
    let (s, d) = sys.get(&path, Some(&office)).await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(d["template_version"], 2);
    let (s, _) = sys.get(&path, Some(&unit_key)).await;
    assert_eq!(s, 403);
    let retry = format!("/v1/notifications/{hook_id}/retry");
    let (s, _) = sys.post(&retry, Some(&office), &json!({})).await;
    assert_eq!(s, 403, "only operators retry");
    hook.fail_next(0, 503);
    let (s, r) = sys.post(&retry, Some(&operator_key), &json!({})).await;
    assert_eq!(s, 200, "{r}");
    sys.eventually(30, "the retried webhook is delivered", || async {
        let (_, d) = sys.get(&path, Some(&operator_key)).await;
        (d["status"] == "delivered").then_some(())
    })
    .await;
    let (s, p) = sys.post(&retry, Some(&operator_key), &json!({})).await;
    assert_eq!(s, 422, "a delivered message is not retried: {p}");
    assert_eq!(hook.accepted().len(), 1);

    // A crash and restart of the notification service sends nothing again.
    sys.kill("notification").await;
    sys.restart("notification").await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(smtp.messages().await.len(), 1);
    assert_eq!(hook.accepted().len(), 1);
    let (_, b) = sys.get("/v1/notifications", Some(&unit_key)).await;
    assert_eq!(b["messages"].as_array().unwrap().len(), 1);
    sys.stop().await;
}

#[tokio::test]
async fn webhooks_to_internal_addresses_or_with_credentials_are_refused() {
    // As deployed: no network allowed beyond public addresses.
    let sys = System::start_with(
        "notification-addresses",
        &[("notification", "CCHC_WEBHOOK_ALLOW_NETWORKS", "")],
    )
    .await;
    let office = sys.office_key.clone();
    let (_, leader) = sys
        .unit_with_key("Ban Giám đốc Sở", "department", "leader")
        .await;
    let recipient = |url: &str| {
        json!({"kind": "body", "name": "Ủy ban nhân dân thành phố",
               "contacts": [{"channel": "webhook", "url": url, "secret": SECRET}]})
    };
    for url in [
        "http://2130706433:4222/",
        "http://0x7f000001:5432/",
        "http://[::ffff:127.0.0.1]:50053/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "https://vanthu:mat-khau@ubnd.example.vn/hooks/cchc",
    ] {
        let (s, p) = sys
            .post("/v1/recipients", Some(&office), &recipient(url))
            .await;
        assert_eq!(s, 400, "{url}: {p}");
        assert_eq!(p["errors"][0]["field"], "contacts[0].url", "{url}: {p}");
    }

    // The leadership sees where notices go, not the path (often a token) or the secret.
    let url = "https://hooks.ubnd.example.vn/services/T0/B0/zT9q";
    let (s, created) = sys
        .post("/v1/recipients", Some(&office), &recipient(url))
        .await;
    assert_eq!(s, 201, "{created}");
    for (key, shown) in [(&leader, "https://hooks.ubnd.example.vn"), (&office, url)] {
        let (s, list) = sys.get("/v1/recipients", Some(key)).await;
        assert_eq!(s, 200, "{list}");
        let r = list["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == created["id"])
            .unwrap();
        assert_eq!(r["contacts"][0]["url"], shown, "{r}");
        assert_eq!(r["contacts"][0]["secret"], "", "{r}");
    }
}
