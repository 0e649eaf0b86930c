//! Delivery against a real SMTP server (aiosmtpd) and a real webhook receiver that
//! checks signatures: both channels, Vietnamese subjects, retries with backoff, dead
//! letters and the operator's retry, a slow endpoint beside a fast one, and no second
//! message or send when an event is redelivered or the service is killed.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use cchc_platform::vocabulary::unit_kind;
use cchc_proto::notification::v1 as pb;
use cchc_testkit::{SmtpSink, WebhookReceiver};
use common::{Harness, SECRET, email, office, operator, procedure, webhook};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use uuid::Uuid;

/// An outside body with an e-mail address and a webhook, subscribed to procedure changes.
async fn outside_body(h: &Harness, hook: &WebhookReceiver, language: &str) -> pb::Recipient {
    let r = h
        .recipient(pb::RecipientInput {
            kind: "body".into(),
            name: "Ủy ban nhân dân thành phố".into(),
            contacts: vec![
                email("vanthu@ubnd.example.vn"),
                webhook(&hook.url(), SECRET),
            ],
            language: language.into(),
            ..Default::default()
        })
        .await;
    h.subscribe(pb::SubscriptionInput {
        event_type: "procedure_changed".into(),
        recipient_id: r.id.clone(),
        channels: vec!["email".into(), "webhook".into()],
        ..Default::default()
    })
    .await;
    r
}

#[tokio::test]
async fn email_and_signed_webhook_arrive_with_the_vietnamese_subject_intact() {
    let smtp = SmtpSink::start().await;
    let hook = WebhookReceiver::start(SECRET).await;
    let h = Harness::start(&[("CCHC_SMTP_URL", &smtp.url())]).await;
    let body = outside_body(&h, &hook, "").await;
    let unit = h
        .unit("Trường THPT Chu Văn An", unit_kind::HIGH_SCHOOL)
        .await;

    let env = h
        .publish(
            "catalogue",
            &procedure(
                "1.012753.H19",
                "Cấp bản sao văn bằng, chứng chỉ",
                "Văn bằng, chứng chỉ",
            ),
        )
        .await;
    let subject = "Thủ tục hành chính công bố mới: Cấp bản sao văn bằng, chứng chỉ";

    let mails = smtp.wait_for(1, 30).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m.subject, subject);
    assert!(
        m.raw_subject.is_ascii() && m.raw_subject.contains("=?utf-8?"),
        "the header travels RFC 2047-encoded: {}",
        m.raw_subject
    );
    assert_eq!(m.from, "Sở GD&ĐT <no-reply@sgddt.example.vn>");
    assert_eq!(m.to, vec!["vanthu@ubnd.example.vn"]);
    assert_eq!(m.content_type, "multipart/alternative");
    assert!(
        m.text.contains("mã 1.012753.H19") && m.text.contains("01/02/2020"),
        "{}",
        m.text
    );
    assert!(
        m.html.contains("<p>") && m.html.contains("Cấp bản sao văn bằng"),
        "{}",
        m.html
    );

    let hooks = hook.wait_for_accepted(1, 30).await;
    assert_eq!(hooks.len(), 1);
    let w = &hooks[0];
    assert!(w.signature_valid);
    assert_eq!(w.body["type"], "procedure_changed");
    assert_eq!(w.body["subject"], subject);
    assert_eq!(w.body["event_id"], env.id.as_str());
    assert_eq!(w.body["recipient"]["id"], body.id.as_str());
    assert_eq!(w.body["data"]["code"], "1.012753.H19");
    assert_eq!(w.body["id"], w.id.as_str());

    // The unit's inbox has it too (the default subscription), and e-mail and webhook
    // each went once.
    let msgs = h.messages_of(&env.id).await;
    let channels: Vec<&str> = msgs.iter().map(|(_, c, _)| c.as_str()).collect();
    assert_eq!(channels, vec!["email", "inbox", "webhook"]);
    let mut c = h.client().await;
    let inbox = c
        .list_inbox(common::from(
            unit,
            cchc_platform::Role::Unit,
            pb::ListInboxRequest::default(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(inbox.messages.len(), 1);
    assert_eq!(inbox.messages[0].subject, subject);

    // The record: one delivered attempt each, from template version 1.
    for (id, channel, _) in msgs {
        let r = h.wait_status(id, "delivered", 10).await;
        assert_eq!(r.attempts.len(), 1, "{channel}: {r:?}");
        assert_eq!(r.attempts[0].status, "delivered");
        assert_eq!(
            (r.template.as_str(), r.template_version),
            ("procedure_changed", 1)
        );
    }
    // The e-mail's Message-ID is the message's, so a receiver can drop a copy.
    let email_id = h
        .messages_of(&env.id)
        .await
        .into_iter()
        .find(|(_, c, _)| c == "email")
        .unwrap()
        .0;
    assert_eq!(m.message_id, format!("<{email_id}@sgddt.example.vn>"));
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_message_on_the_third_attempt() {
    let hook = WebhookReceiver::start(SECRET).await;
    hook.fail_next(2, 503);
    let h = Harness::start(&[]).await;
    outside_body(&h, &hook, "").await;
    let env = h
        .publish(
            "catalogue",
            &procedure("1.000001.H19", "Thủ tục A", "Giáo dục"),
        )
        .await;
    hook.wait_for_accepted(1, 30).await;
    let (id, _, _) = h
        .messages_of(&env.id)
        .await
        .into_iter()
        .find(|(_, c, _)| c == "webhook")
        .unwrap();
    let r = h.wait_status(id, "delivered", 10).await;
    let statuses: Vec<&str> = r.attempts.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(
        statuses,
        vec!["temporary_failure", "temporary_failure", "delivered"]
    );
    assert_eq!(r.attempts[0].reason, "the receiver answered 503");
    // The same message id on every attempt.
    let got = hook.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.id == id.to_string()));
    // Backoff: the attempts were spread out, not back to back.
    let started: Vec<chrono::DateTime<chrono::Utc>> = r
        .attempts
        .iter()
        .map(|a| a.started_at.parse().unwrap())
        .collect();
    assert!(started[1] - started[0] >= chrono::TimeDelta::milliseconds(50));
    assert!(started[2] - started[1] >= chrono::TimeDelta::milliseconds(100));
    // An e-mail without SMTP configured fails for good, saying why.
    let (mail_id, _, _) = h
        .messages_of(&env.id)
        .await
        .into_iter()
        .find(|(_, c, _)| c == "email")
        .unwrap();
    let r = h.wait_status(mail_id, "dead_lettered", 10).await;
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].status, "permanent_failure");
    assert!(r.last_error.contains("CCHC_SMTP_URL"), "{}", r.last_error);
}

#[tokio::test]
async fn dead_lettered_after_the_limit_then_retried_by_the_operator() {
    let hook = WebhookReceiver::start(SECRET).await;
    hook.fail_next(1000, 500);
    let h = Harness::start(&[("CCHC_DELIVERY_MAX_ATTEMPTS", "3")]).await;
    outside_body(&h, &hook, "").await;
    let env = h
        .publish(
            "catalogue",
            &procedure("1.000002.H19", "Thủ tục B", "Giáo dục"),
        )
        .await;
    let (id, _, _) = h
        .eventually(20, "the webhook message", || async {
            h.messages_of(&env.id)
                .await
                .into_iter()
                .find(|(_, c, _)| c == "webhook")
        })
        .await;
    let r = h.wait_status(id, "dead_lettered", 30).await;
    assert_eq!(r.attempts.len(), 3);
    assert!(
        r.last_error.starts_with("gave up after 3 attempts"),
        "{}",
        r.last_error
    );
    assert_eq!(hook.received().len(), 3, "no attempt past the limit");

    let mut c = h.client().await;
    let dead = c
        .list_dead_letters(operator(pb::ListDeadLettersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(dead.messages.iter().any(|m| m.message_id == id.to_string()));

    // Only operators retry, and only dead letters.
    let e = c
        .retry_message(office(pb::MessageRef { id: id.to_string() }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    hook.fail_next(0, 500);
    let r = c
        .retry_message(operator(pb::MessageRef { id: id.to_string() }))
        .await
        .unwrap()
        .into_inner();
    // The worker may already have taken it by the time the answer is read.
    assert!(
        ["created", "sending", "delivered"].contains(&r.status.as_str()),
        "{}",
        r.status
    );
    let r = h.wait_status(id, "delivered", 20).await;
    assert_eq!(r.attempts.len(), 4);
    assert_eq!(r.attempts[3].status, "delivered");
    let e = c
        .retry_message(operator(pb::MessageRef { id: id.to_string() }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = c
        .retry_message(operator(pb::MessageRef {
            id: Uuid::new_v4().to_string(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // A 4xx answer is final at once.
    hook.fail_next(1, 410);
    let env = h
        .publish(
            "catalogue",
            &procedure("1.000003.H19", "Thủ tục C", "Giáo dục"),
        )
        .await;
    let (id, _, _) = h
        .eventually(20, "the webhook message", || async {
            h.messages_of(&env.id)
                .await
                .into_iter()
                .find(|(_, c, _)| c == "webhook")
        })
        .await;
    let r = h.wait_status(id, "dead_lettered", 20).await;
    assert_eq!(r.attempts.len(), 1);
    assert_eq!(r.attempts[0].status, "permanent_failure");
}

#[tokio::test]
async fn a_redelivered_event_or_a_restart_sends_nothing_twice() {
    let smtp = SmtpSink::start().await;
    let hook = WebhookReceiver::start(SECRET).await;
    let mut h = Harness::start(&[("CCHC_SMTP_URL", &smtp.url())]).await;
    outside_body(&h, &hook, "").await;
    h.unit("Trường THPT số 1", unit_kind::HIGH_SCHOOL).await;
    let env = h
        .publish(
            "catalogue",
            &procedure("1.000004.H19", "Thủ tục D", "Giáo dục"),
        )
        .await;
    smtp.wait_for(1, 30).await;
    hook.wait_for_accepted(1, 30).await;
    let before = h.messages_of(&env.id).await;
    assert_eq!(before.len(), 3);

    // The same event again, past JetStream's duplicate window.
    h.publish_envelope(&env, &Uuid::new_v4().to_string()).await;
    // And again with the consumer's record of it gone: the message key holds.
    sqlx::query("DELETE FROM cchc_processed_events WHERE event_id = $1::uuid")
        .bind(&env.id)
        .execute(&h.pool)
        .await
        .unwrap();
    h.publish_envelope(&env, &Uuid::new_v4().to_string()).await;
    h.eventually(20, "the redelivery is processed", || async {
        let n = h
            .count(&format!(
                "SELECT count(*) FROM cchc_processed_events WHERE event_id = '{}'",
                env.id
            ))
            .await;
        (n == 1).then_some(())
    })
    .await;

    // A crash and a restart.
    h.kill().await;
    h.start_service().await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    assert_eq!(
        h.messages_of(&env.id).await,
        before
            .iter()
            .map(|(i, c, _)| (*i, c.clone(), "delivered".to_owned()))
            .collect::<Vec<_>>()
    );
    assert_eq!(smtp.messages().await.len(), 1, "one e-mail");
    assert_eq!(hook.received().len(), 1, "one webhook");
}

#[tokio::test]
async fn killed_between_sending_and_recording_sends_again_only_that_message_with_its_id() {
    let hook = WebhookReceiver::start(SECRET).await;
    let mut h = Harness::start(&[]).await;
    outside_body(&h, &hook, "").await;
    let first = h
        .publish(
            "catalogue",
            &procedure("1.000005.H19", "Thủ tục E", "Giáo dục"),
        )
        .await;
    hook.wait_for_accepted(1, 30).await;

    // The receiver now takes its time: the request is in, the answer not yet out.
    hook.delay(Duration::from_millis(800));
    let second = h
        .publish(
            "catalogue",
            &procedure("1.000006.H19", "Thủ tục F", "Giáo dục"),
        )
        .await;
    h.eventually(20, "the second webhook reaches the receiver", || async {
        (hook.received().len() == 2).then_some(())
    })
    .await;
    h.kill().await;
    let (id, _, status) = h
        .messages_of(&second.id)
        .await
        .into_iter()
        .find(|(_, c, _)| c == "webhook")
        .unwrap();
    assert_eq!(status, "sending", "the outcome was not recorded");

    hook.delay(Duration::ZERO);
    h.start_service().await;
    let r = h.wait_status(id, "delivered", 30).await;
    let statuses: Vec<&str> = r.attempts.iter().map(|a| a.status.as_str()).collect();
    assert_eq!(statuses, vec!["temporary_failure", "delivered"]);
    assert!(
        r.attempts[0].reason.starts_with("interrupted"),
        "{:?}",
        r.attempts[0]
    );

    // The receiver saw the interrupted message twice under one id (and can drop the
    // copy); the message delivered before the crash was not sent again.
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for g in hook.received() {
        *per_id.entry(g.id).or_default() += 1;
    }
    let (first_id, _, _) = h
        .messages_of(&first.id)
        .await
        .into_iter()
        .find(|(_, c, _)| c == "webhook")
        .unwrap();
    assert_eq!(per_id[&first_id.to_string()], 1);
    assert_eq!(per_id[&id.to_string()], 2);
    assert_eq!(per_id.len(), 2);
    assert_eq!(
        h.messages_of(&second.id).await.len(),
        2,
        "still one row per channel"
    );
}

// A slot takes a run of messages to its endpoint in one claim. Sent one after another to
// a slow receiver, a run of twelve would outlast its lease, and the other replica would
// take the rest as interrupted and send them again; instead the run stops in time and
// gives back what it did not begin, attempt and all.
#[tokio::test]
async fn a_run_gives_back_what_its_lease_would_not_cover() {
    let slow = WebhookReceiver::start(SECRET).await;
    slow.delay(Duration::from_millis(400));
    let settings = [
        ("CCHC_DELIVERY_ENDPOINT_CONCURRENCY", "1"),
        ("CCHC_DELIVERY_BATCH", "16"),
    ];
    let h = Harness::start(&settings).await;
    let second = CancellationToken::new();
    let replica = h.replica(second.clone());
    h.webhook_subscriber("Cổng thông tin chậm", &slow.url())
        .await;
    for i in 0..12 {
        h.publish(
            "catalogue",
            &procedure(
                &format!("1.1100{i:02}.H19"),
                &format!("Thủ tục {i}"),
                "Giáo dục",
            ),
        )
        .await;
    }
    let posts = slow.wait_for_accepted(12, 60).await;
    h.eventually(30, "every message delivered", || async {
        (h.count("SELECT count(*) FROM messages WHERE status = 'delivered'")
            .await
            == 12)
            .then_some(())
    })
    .await;
    let ids: std::collections::HashSet<&str> = posts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!((posts.len(), ids.len()), (12, 12), "each message sent once");
    assert_eq!(
        h.count("SELECT count(*) FROM messages WHERE attempts <> 1")
            .await,
        0,
        "a message given back keeps no attempt it never made"
    );
    assert_eq!(
        h.count("SELECT count(*) FROM delivery_attempts WHERE status <> 'delivered'")
            .await,
        0,
        "no attempt was interrupted or failed"
    );
    assert!(slow.max_in_flight() <= 2, "one at a time per replica");
    second.cancel();
    replica.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_slow_endpoint_does_not_hold_up_a_fast_one() {
    let slow = WebhookReceiver::start(SECRET).await;
    slow.delay(Duration::from_secs(30));
    let fast = WebhookReceiver::start(SECRET).await;
    let h = Harness::start(&[
        ("CCHC_DELIVERY_ENDPOINT_CONCURRENCY", "2"),
        ("CCHC_WEBHOOK_TIMEOUT_SECS", "3"),
        ("CCHC_DELIVERY_LEASE_SECS", "10"),
    ])
    .await;
    for (name, hook) in [("Chậm", &slow), ("Nhanh", &fast)] {
        h.webhook_subscriber(name, &hook.url()).await;
    }
    let start = std::time::Instant::now();
    for i in 0..10 {
        h.publish(
            "catalogue",
            &procedure(
                &format!("1.1000{i:02}.H19"),
                &format!("Thủ tục {i}"),
                "Giáo dục",
            ),
        )
        .await;
    }
    fast.wait_for_accepted(10, 30).await;
    let took = start.elapsed();
    // The slow endpoint times out (3 s) two at a time; had it held up the queue, ten
    // of its messages would have taken fifteen seconds before the fast ones.
    assert!(
        took < Duration::from_secs(8),
        "the fast endpoint waited {took:?}"
    );
    assert!(!slow.received().is_empty());
    assert!(
        slow.max_in_flight() <= 2,
        "at most two in flight to one endpoint"
    );
}
