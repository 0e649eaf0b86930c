//! The notification fan-out figure of `make bench`: one catalogue change told to every
//! unit (inbox), a tenth of them by e-mail to a real SMTP server and a tenth by signed
//! webhook to a real receiver; time until every message is delivered, and duplicates.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cchc_testkit::{SmtpSink, WebhookReceiver};
use serde_json::json;

use crate::{System, complete_procedure, publication};

const SECRET: &str = "bench-webhook-secret-0123456789";

pub struct FanOut {
    pub recipients: usize,
    pub inbox: i64,
    pub emails: usize,
    pub webhooks: usize,
    pub seconds_to_delivered: f64,
    /// From the publish until every message was written (inbox ones delivered so).
    pub seconds_to_written: f64,
    /// From the publish until the last e-mail, and the last webhook, was delivered.
    pub seconds_to_emails: f64,
    pub seconds_to_webhooks: f64,
    pub duplicates: i64,
    pub setup_seconds: f64,
}

async fn parallel<F, Fut>(n: usize, workers: usize, op: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (op, next) = (op.clone(), next.clone());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                op(i).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
}

pub async fn run(n: usize) -> anyhow::Result<FanOut> {
    let smtp = SmtpSink::start().await;
    let hook = WebhookReceiver::start(SECRET).await;
    let smtp_url = smtp.url();
    let sys = System::start_with(
        "bench-fanout",
        &[
            ("notification", "CCHC_SMTP_URL", &smtp_url),
            ("gateway", "CCHC_RATE_LIMIT_BURST", "100000000"),
            ("gateway", "CCHC_RATE_LIMIT_PER_MINUTE", "100000000"),
        ],
    )
    .await;
    let setup = Instant::now();
    let (http, g, office) = (
        sys.http.clone(),
        sys.gateway.clone(),
        sys.office_key.clone(),
    );
    let ids = Arc::new(std::sync::Mutex::new(vec![String::new(); n]));
    {
        let ids = ids.clone();
        parallel(n, 32, move |i| {
            let (http, g, office, ids) = (http.clone(), g.clone(), office.clone(), ids.clone());
            async move {
                let r = http
                    .post(format!("{g}/v1/units"))
                    .bearer_auth(&office)
                    .json(&json!({"name": format!("Trường số {i}"), "kind": "high_school"}))
                    .send()
                    .await
                    .expect("creating a unit");
                let u: serde_json::Value = r.json().await.expect("unit");
                ids.lock().unwrap()[i] = u["id"].as_str().expect("unit id").to_owned();
            }
        })
        .await;
    }
    let notification =
        sqlx::PgPool::connect(&sys.database_url("notification").expect("db")).await?;
    loop {
        let known: i64 = sqlx::query_scalar("SELECT count(*) FROM recipients WHERE kind = 'unit'")
            .fetch_one(&notification)
            .await?;
        if known as usize > n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A tenth of the units also by e-mail, another tenth by webhook.
    let ids: Vec<String> = ids.lock().unwrap().clone();
    let (http, g, office, hook_url) = (
        sys.http.clone(),
        sys.gateway.clone(),
        sys.office_key.clone(),
        hook.url(),
    );
    let with_contacts: Vec<(String, serde_json::Value)> = ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| match i % 10 {
            0 => Some((
                id.clone(),
                json!([{"channel": "email", "address": format!("vanthu{i}@truong.example.vn")}]),
            )),
            5 => Some((
                id.clone(),
                json!([{"channel": "webhook", "url": hook_url, "secret": SECRET}]),
            )),
            _ => None,
        })
        .collect();
    let (emails, webhooks) = (n.div_ceil(10), (n + 4) / 10);
    let with_contacts = Arc::new(with_contacts);
    {
        let list = with_contacts.clone();
        parallel(list.len(), 32, move |i| {
            let (http, g, office, list) = (http.clone(), g.clone(), office.clone(), list.clone());
            async move {
                let (id, contacts) = &list[i];
                let body = json!({"kind": "unit", "name": format!("Trường {id}"), "unit_id": id, "contacts": contacts});
                let r = http.put(format!("{g}/v1/recipients/{id}")).bearer_auth(&office).json(&body).send().await.expect("contacts");
                assert!(r.status().is_success(), "setting contacts: {}", r.status());
            }
        })
        .await;
    }
    let setup_seconds = setup.elapsed().as_secs_f64();

    let code = "1.099999.H19";
    let (s, _) = sys
        .post(
            "/v1/procedures",
            Some(&sys.office_key),
            &complete_procedure(code, "Thủ tục đo lan tỏa thông báo"),
        )
        .await;
    anyhow::ensure!(s == 201, "creating the procedure failed");
    let t = Instant::now();
    let published_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let (s, _) = sys
        .post(
            &format!("/v1/procedures/{code}/publish"),
            Some(&sys.office_key),
            &publication("2020-02-01"),
        )
        .await;
    anyhow::ensure!(s == 200, "publishing failed");
    let expected = (n + 1 + emails + webhooks) as i64;
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut seconds_to_written = None;
    loop {
        let (written, delivered): (i64, i64) = sqlx::query_as(
            "SELECT count(*), count(*) FILTER (WHERE status = 'delivered')
             FROM messages WHERE kind = 'procedure_changed'",
        )
        .fetch_one(&notification)
        .await?;
        if written >= expected && seconds_to_written.is_none() {
            seconds_to_written = Some(t.elapsed().as_secs_f64());
        }
        if delivered >= expected {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {delivered} of {expected} messages delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds_to_delivered = t.elapsed().as_secs_f64();
    // Each channel's last delivery, from the publish (the database runs on this
    // machine's clock).
    let (last_email, last_webhook): (Option<f64>, Option<f64>) = sqlx::query_as(
        "SELECT extract(epoch FROM max(delivered_at) FILTER (WHERE channel = 'email'))::float8,
             extract(epoch FROM max(delivered_at) FILTER (WHERE channel = 'webhook'))::float8
         FROM messages WHERE kind = 'procedure_changed'",
    )
    .fetch_one(&notification)
    .await?;
    let since = |at: Option<f64>| at.map_or(0.0, |at| at - published_at);
    // Nothing twice: one message per (recipient, channel) in the service, one e-mail
    // per Message-ID at the SMTP server, one accepted POST per Webhook-Id.
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) - count(DISTINCT (recipient_id, channel)) FROM messages WHERE kind = 'procedure_changed'",
    )
    .fetch_one(&notification)
    .await?;
    let inbox: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages WHERE kind = 'procedure_changed' AND channel = 'inbox'",
    )
    .fetch_one(&notification)
    .await?;
    let mails = smtp.wait_for(emails, 120).await;
    let mail_ids: HashSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    let posts = hook.wait_for_accepted(webhooks, 120).await;
    let post_ids: HashSet<&str> = posts.iter().map(|p| p.id.as_str()).collect();
    let duplicates =
        doubled + (mails.len() - mail_ids.len()) as i64 + (posts.len() - post_ids.len()) as i64;
    sys.stop().await;
    Ok(FanOut {
        recipients: n,
        inbox,
        emails: mails.len(),
        webhooks: posts.len(),
        seconds_to_delivered,
        seconds_to_written: seconds_to_written.unwrap_or(seconds_to_delivered),
        seconds_to_emails: since(last_email),
        seconds_to_webhooks: since(last_webhook),
        duplicates,
        setup_seconds,
    })
}
