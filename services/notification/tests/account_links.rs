//! One-time account links, as the gateway announces them (`AccountLinkIssued`, the link
//! sealed with the services' key), against a real SMTP server: one e-mail to the
//! person, in Vietnamese, with the link — once, however often the event comes — and
//! afterwards no trace of the link in any table, answer or log line. An expired link
//! sends nothing; one that does not open is dead-lettered; one not delivered in time,
//! given up or replaced by a newer link is dropped from the database.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cchc_notification::events::Notifier;
use cchc_platform::consumer::{HandleError, Handler};
use cchc_platform::events::{self, Event};
use cchc_platform::{Actor, CallerKey};
use cchc_proto::events::v1::{AccountLinkIssued, Envelope};
use cchc_proto::notification::v1 as pb;
use cchc_testkit::SmtpSink;
use chrono::{DateTime, Utc};
use common::{Harness, INTERNAL_TOKEN, office, operator};
use tonic::Code;
use uuid::Uuid;

const LINK_SENT: &str = "[liên kết đã gửi]";
const LINK_DROPPED: &str = "[liên kết đã bị hủy]";

/// Every log line the service writes in this test process, at every level.
fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .init();
        logs
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> String {
    String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned()
}

/// A one-time link as the gateway makes them, and the token that makes it unique.
fn new_link() -> (String, String) {
    let token = format!("cchl_{}", Uuid::new_v4().simple());
    (
        format!("https://cchc.example.vn/account/password?token={token}&lang=vi"),
        token,
    )
}

fn key() -> CallerKey {
    CallerKey::new(common::INTERNAL_TOKEN)
}

fn issued(
    purpose: &str,
    link: &str,
    expires_at: DateTime<Utc>,
    sealed_with: &CallerKey,
) -> AccountLinkIssued {
    AccountLinkIssued {
        link_id: Uuid::now_v7().to_string(),
        user_id: Uuid::new_v4().to_string(),
        email: "nguyen.thi.hoa@thpt-chuvanan.edu.vn".into(),
        name: "Nguyễn Thị Hoa".into(),
        purpose: purpose.into(),
        unit_name: "Văn phòng Sở Giáo dục và Đào tạo".into(),
        role: "office".into(),
        expires_at: expires_at.to_rfc3339(),
        sealed_link: sealed_with.seal("account-link", link.as_bytes()),
        issued_by_name: if purpose == "invitation" {
            "Trần Văn Bình".into()
        } else {
            String::new()
        },
    }
}

fn in_vietnam(t: DateTime<Utc>) -> String {
    cchc_platform::time::in_vietnam(t)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// The tables (in the service's schema) with a row whose text holds `needle`.
async fn tables_holding(h: &Harness, needle: &str) -> Vec<String> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    assert!(tables.iter().any(|t| t == "messages"), "{tables:?}");
    let mut holding = Vec::new();
    for t in tables {
        // Bound, not written into the statement: statements are logged.
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{t}\" x WHERE position($1 in x::text) > 0"
        )))
        .bind(needle)
        .fetch_one(&h.pool)
        .await
        .unwrap();
        if n > 0 {
            holding.push(t);
        }
    }
    holding
}

/// What the row of message `id` keeps: its text, its HTML, and whether it still holds
/// the sealed link.
async fn stored(h: &Harness, id: Uuid) -> (String, String, bool) {
    sqlx::query_as("SELECT body, html, sealed_link IS NOT NULL FROM messages WHERE id = $1")
        .bind(id)
        .fetch_one(&h.pool)
        .await
        .unwrap()
}

async fn only_message(h: &Harness, env: &Envelope) -> Uuid {
    h.eventually(20, "the account e-mail is queued", || async {
        let m = h.messages_of(&env.id).await;
        (m.len() == 1).then(|| m[0].0)
    })
    .await
}

#[tokio::test]
async fn an_invitation_is_mailed_once_and_its_link_leaves_no_trace() {
    captured_logs();
    let smtp = SmtpSink::start().await;
    let h = Harness::start(&[("CCHC_SMTP_URL", &smtp.url())]).await;
    let (link, token) = new_link();
    let expires_at = Utc::now() + chrono::Duration::days(7);
    let event = issued("invitation", &link, expires_at, &key());
    let inviter = Actor::User(Uuid::new_v4());
    let env = h.publish_as("gateway", &inviter, &event).await;

    let mails = smtp.wait_for(1, 30).await;
    let m = &mails[0];
    assert_eq!(
        m.subject,
        "Mời tham gia hệ thống CCHC – Sở Giáo dục và Đào tạo"
    );
    assert_eq!(m.to, vec!["nguyen.thi.hoa@thpt-chuvanan.edu.vn"]);
    for want in [
        "Kính gửi Nguyễn Thị Hoa",
        "Trần Văn Bình mời anh/chị",
        "vai trò Văn phòng Sở của Văn phòng Sở Giáo dục và Đào tạo",
        &link,
        &format!("hết hạn lúc {} (giờ Việt Nam)", in_vietnam(expires_at)),
        "chỉ dùng được một lần",
    ] {
        assert!(m.text.contains(want), "{want:?} not in {}", m.text);
    }
    assert!(
        m.html.contains(&link.replace('&', "&amp;")),
        "the HTML carries the link, escaped: {}",
        m.html
    );

    let id = only_message(&h, &env).await;
    let report = h.wait_status(id, "delivered", 10).await;
    assert_eq!(report.kind, "account_invitation");
    assert_eq!(
        (report.template.as_str(), report.template_version),
        ("account_invitation", 1)
    );
    assert_eq!(report.recipient_id, event.user_id);
    assert_eq!(report.recipient_name, "Nguyễn Thị Hoa");
    assert_eq!(report.destination, "nguyen.thi.hoa@thpt-chuvanan.edu.vn");
    assert_eq!(report.attempts.len(), 1);
    assert!(!format!("{report:?}").contains(&token));
    assert_eq!(m.message_id, format!("<{id}@sgddt.example.vn>"));

    // Delivered, the link is gone from the database: no table holds it, and the row
    // says it was sent where it stood.
    assert_eq!(tables_holding(&h, &token).await, Vec::<String>::new());
    let (body, html, sealed) = stored(&h, id).await;
    assert!(!sealed);
    assert!(
        body.contains(LINK_SENT) && html.contains(LINK_SENT),
        "{body}"
    );

    // The same event again, past JetStream's duplicate window, and again with the
    // consumer's record of it gone: the link's id holds.
    h.publish_envelope(&env, &Uuid::new_v4().to_string()).await;
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.messages().await.len(), 1, "one e-mail");
    assert_eq!(h.count("SELECT count(*) FROM messages").await, 1);
    assert_eq!(tables_holding(&h, &token).await, Vec::<String>::new());

    // Whatever was logged on the way, the link was not.
    let logs = logs();
    assert!(logs.contains("serving"), "the logs are captured");
    assert!(!logs.contains(&token), "the link was logged");
}

#[tokio::test]
async fn a_password_reset_says_how_long_its_link_works_and_its_template_is_editable() {
    captured_logs();
    let smtp = SmtpSink::start().await;
    let h = Harness::start(&[("CCHC_SMTP_URL", &smtp.url())]).await;
    let mut c = h.client().await;

    // Both kinds start with their Vietnamese default, listed with their placeholders.
    let listed = c
        .list_templates(office(pb::ListTemplatesRequest {
            key: "password_reset".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.templates.len(), 1);
    assert!(
        listed.templates[0]
            .placeholders
            .contains(&"link".to_owned())
    );

    let (link, token) = new_link();
    let expires_at = Utc::now() + chrono::Duration::hours(1);
    let env = h
        .publish(
            "gateway",
            &issued("password_reset", &link, expires_at, &key()),
        )
        .await;
    let mails = smtp.wait_for(1, 30).await;
    let m = &mails[0];
    assert_eq!(
        m.subject,
        "Đặt lại mật khẩu – Hệ thống CCHC Sở Giáo dục và Đào tạo"
    );
    for want in [
        "Kính gửi Nguyễn Thị Hoa",
        &link,
        "có hiệu lực trong 1 giờ",
        &format!("đến {} (giờ Việt Nam)", in_vietnam(expires_at)),
        "Nếu không phải bạn yêu cầu, hãy bỏ qua thư này",
    ] {
        assert!(m.text.contains(want), "{want:?} not in {}", m.text);
    }
    let id = only_message(&h, &env).await;
    h.wait_status(id, "delivered", 10).await;
    assert_eq!(tables_holding(&h, &token).await, Vec::<String>::new());

    // The office edits it like any other: the next reset uses the new version; a
    // version without the link, or with it in the subject, is refused.
    let e = c
        .save_template(office(pb::TemplateInput {
            key: "password_reset".into(),
            subject: "Đặt lại mật khẩu: {{link}}".into(),
            text: "Không có liên kết".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let fields: Vec<String> = cchc_platform::validation::field_errors(&e)
        .into_iter()
        .map(|f| f.field)
        .collect();
    assert_eq!(fields, vec!["subject", "text"]);
    let saved = c
        .save_template(office(pb::TemplateInput {
            key: "password_reset".into(),
            subject: "Mật khẩu mới cho {{email}}".into(),
            text: "Chào {{name}}, mở {{link}} trước {{expires_at}}.".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.version, 2);
    let (link2, token2) = new_link();
    let env2 = h
        .publish(
            "gateway",
            &issued("password_reset", &link2, expires_at, &key()),
        )
        .await;
    let mails = smtp.wait_for(2, 30).await;
    assert_eq!(
        mails[1].subject,
        "Mật khẩu mới cho nguyen.thi.hoa@thpt-chuvanan.edu.vn"
    );
    assert_eq!(
        mails[1].text.trim(),
        format!(
            "Chào Nguyễn Thị Hoa, mở {link2} trước {}.",
            in_vietnam(expires_at)
        )
    );
    let id2 = only_message(&h, &env2).await;
    let r = h.wait_status(id2, "delivered", 10).await;
    assert_eq!(r.template_version, 2);
    assert_eq!(tables_holding(&h, &token2).await, Vec::<String>::new());
    assert!(!logs().contains(&token) && !logs().contains(&token2));

    // Nobody subscribes to account e-mails: they go to their person alone.
    let e = c
        .create_subscription(office(pb::SubscriptionInput {
            event_type: "password_reset".into(),
            group: "leadership".into(),
            channels: vec!["email".into()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_expired_link_sends_nothing_and_one_that_does_not_open_is_dead_lettered() {
    captured_logs();
    let smtp = SmtpSink::start().await;
    let h = Harness::start(&[("CCHC_SMTP_URL", &smtp.url())]).await;
    let later = Utc::now() + chrono::Duration::hours(1);

    // Replayed after the link stopped working.
    let (expired_link, expired_token) = new_link();
    let expired = h
        .publish(
            "gateway",
            &issued(
                "password_reset",
                &expired_link,
                Utc::now() - chrono::Duration::minutes(1),
                &key(),
            ),
        )
        .await;
    // Sealed under another key, and altered.
    let (foreign_link, foreign_token) = new_link();
    let foreign_event = issued(
        "invitation",
        &foreign_link,
        later,
        &CallerKey::new("a-key-the-services-do-not-share"),
    );
    let foreign = h.publish("gateway", &foreign_event).await;
    let mut altered_event = issued("invitation", &new_link().0, later, &key());
    *altered_event.sealed_link.last_mut().unwrap() ^= 1;
    let altered = h.publish("gateway", &altered_event).await;
    // Then a good one: the consumer went past the others.
    let (link, _) = new_link();
    let good = h
        .publish("gateway", &issued("password_reset", &link, later, &key()))
        .await;

    let mails = smtp.wait_for(1, 30).await;
    assert!(mails[0].text.contains(&link));
    only_message(&h, &good).await;
    h.eventually(20, "the expired event is processed", || async {
        let n = h
            .count(&format!(
                "SELECT count(*) FROM cchc_processed_events WHERE event_id = '{}'",
                expired.id
            ))
            .await;
        (n == 1).then_some(())
    })
    .await;
    assert!(h.messages_of(&expired.id).await.is_empty());
    assert!(h.messages_of(&foreign.id).await.is_empty());
    assert!(h.messages_of(&altered.id).await.is_empty());

    // The two that do not open are in the dead letters, with a reason that shows
    // nothing of what they carried.
    let dl = h.js.get_stream(events::DEAD_LETTER_STREAM).await.unwrap();
    let letters = h
        .eventually(20, "two dead letters", || {
            let mut dl = dl.clone();
            async move {
                let n = dl.info().await.unwrap().state.messages;
                (n == 2).then_some(n)
            }
        })
        .await;
    for seq in 1..=letters {
        let letter = dl.get_raw_message(seq).await.unwrap();
        assert_eq!(
            letter.headers.get("Cchc-Consumer").unwrap().as_str(),
            "notification-gateway"
        );
        let reason = letter
            .headers
            .get("Cchc-Error")
            .unwrap()
            .as_str()
            .to_owned();
        assert!(reason.starts_with("permanent"), "{reason}");
        assert!(reason.contains("does not open"), "{reason}");
        let env: Envelope = cchc_proto::Message::decode(letter.payload.as_ref()).unwrap();
        let sealed = match env.id.as_str() {
            id if id == foreign.id => &foreign_event.sealed_link,
            id if id == altered.id => &altered_event.sealed_link,
            other => panic!("an unexpected dead letter {other}"),
        };
        assert!(!reason.contains(&hex::encode(sealed)), "{reason}");
        assert!(!reason.contains(&format!("{sealed:?}")), "{reason}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().await.len(), 1);
    let logs = logs();
    assert!(!logs.contains(&expired_token) && !logs.contains(&foreign_token));
    assert!(!logs.contains(&hex::encode(&foreign_event.sealed_link)));
}

/// An SMTP server that accepts connections and never answers: every attempt times out.
async fn silent_smtp() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[tokio::test]
async fn a_link_not_delivered_in_time_or_given_up_is_dropped() {
    captured_logs();
    let (url, _smtp) = silent_smtp().await;
    // Each attempt waits out its timeout, within the lease.
    let h = Harness::start(&[
        ("CCHC_SMTP_URL", &url),
        ("CCHC_DELIVERY_MAX_ATTEMPTS", "3"),
        ("CCHC_DELIVERY_LEASE_SECS", "10"),
    ])
    .await;

    // One that expires while its attempts time out, one whose attempts run out first.
    let (soon_link, soon_token) = new_link();
    let soon = h
        .publish(
            "gateway",
            &issued(
                "password_reset",
                &soon_link,
                Utc::now() + chrono::Duration::seconds(3),
                &key(),
            ),
        )
        .await;
    let (link, token) = new_link();
    let later = h
        .publish(
            "gateway",
            &issued(
                "invitation",
                &link,
                Utc::now() + chrono::Duration::days(7),
                &key(),
            ),
        )
        .await;
    let soon_id = only_message(&h, &soon).await;
    let later_id = only_message(&h, &later).await;

    let r = h.wait_status(soon_id, "dead_lettered", 30).await;
    assert!(r.last_error.contains("expired"), "{}", r.last_error);
    let r = h.wait_status(later_id, "dead_lettered", 40).await;
    assert!(
        r.last_error.starts_with("gave up after 3 attempts"),
        "{}",
        r.last_error
    );
    for id in [soon_id, later_id] {
        let (body, html, sealed) = stored(&h, id).await;
        assert!(!sealed, "the sealed link is dropped");
        assert!(
            body.contains(LINK_DROPPED) && html.contains(LINK_DROPPED),
            "{body}"
        );
        assert!(!body.contains("[[") && !html.contains("[["), "{body}");
    }

    // Sent again it would carry no link: the operator cannot retry it.
    let mut c = h.client().await;
    let e = c
        .retry_message(operator(pb::MessageRef {
            id: later_id.to_string(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("new link"), "{}", e.message());
    let dead = c
        .list_dead_letters(operator(pb::ListDeadLettersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dead.messages.len(), 2);
    let shown = format!("{dead:?}");
    assert!(!shown.contains(&token) && !shown.contains(&soon_token));
    assert!(!logs().contains(&token) && !logs().contains(&soon_token));
}

/// An envelope of the gateway carrying `e`, stamped `at`.
fn envelope_at(e: &AccountLinkIssued, at: DateTime<Utc>) -> Envelope {
    let mut env = events::envelope("gateway", &Actor::System, e);
    env.occurred_at = Some(cchc_proto::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    });
    env
}

#[tokio::test]
async fn a_newer_link_replaces_one_not_yet_sent() {
    captured_logs();
    // No SMTP: nothing leaves, which leaves the handler's effects to look at.
    let h = Harness::start(&[]).await;
    let notifier = Notifier::new(Arc::new(h.settings()), CallerKey::new(INTERNAL_TOKEN));
    let later = Utc::now() + chrono::Duration::hours(1);
    let now = Utc::now();
    let mut first = issued("password_reset", &new_link().0, later, &key());
    first.user_id = Uuid::new_v4().to_string();
    let mut second = issued("password_reset", &new_link().0, later, &key());
    second.user_id = first.user_id.clone();
    let mut older = issued("password_reset", &new_link().0, later, &key());
    older.user_id = first.user_id.clone();
    let (e1, e2, e0) = (
        envelope_at(&first, now - chrono::Duration::seconds(10)),
        envelope_at(&second, now),
        envelope_at(&older, now - chrono::Duration::seconds(20)),
    );

    // Handled in one transaction, as the consumer handles a batch: the first is
    // queued, then replaced before anything took it; one older than the newest seen
    // (a replay out of order) is not queued at all.
    let mut tx = h.pool.begin().await.unwrap();
    for env in [&e1, &e2, &e0] {
        notifier.handle(&mut tx, env).await.unwrap();
    }
    tx.commit().await.unwrap();
    let rows: Vec<(Uuid, String, Option<String>, bool)> = sqlx::query_as(
        "SELECT event_id, status, last_error, sealed_link IS NOT NULL FROM messages
         WHERE recipient_id = $1::uuid ORDER BY link_issued_at",
    )
    .bind(&first.user_id)
    .fetch_all(&h.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0.to_string(), e1.id);
    assert_eq!(rows[0].1, "dead_lettered");
    assert!(rows[0].2.as_deref().unwrap().contains("newer"), "{rows:?}");
    assert!(!rows[0].3);
    assert_eq!(rows[1].0.to_string(), e2.id);

    // A link that does not open is refused for good, naming the link, not its bytes.
    let foreign = issued(
        "invitation",
        &new_link().0,
        later,
        &CallerKey::new("a-key-the-services-do-not-share"),
    );
    let mut tx = h.pool.begin().await.unwrap();
    let e = notifier
        .handle(&mut tx, &envelope_at(&foreign, now))
        .await
        .unwrap_err();
    let HandleError::Permanent(reason) = e else {
        panic!("a sealed link that does not open is permanent: {e:?}");
    };
    let reason = format!("{reason:#}");
    assert!(reason.contains(&foreign.link_id), "{reason}");
    assert!(
        !reason.contains(&hex::encode(&foreign.sealed_link)),
        "{reason}"
    );
    assert_eq!(
        AccountLinkIssued::TYPE,
        "cchc.gateway.account_link_issued.v1"
    );
}
