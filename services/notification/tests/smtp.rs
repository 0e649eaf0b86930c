//! The service's own SMTP connections (delivery/smtp.rs), against a real SMTP server:
//! e-mails one after another on the connections kept, and a URL that requires TLS
//! never falls back to plain text.

use std::collections::HashSet;
use std::time::Duration;

use cchc_notification::delivery::email::{Email, Mailer};
use cchc_notification::domain::delivery::Outcome;
use cchc_testkit::SmtpSink;
use uuid::Uuid;

const FROM: &str = "Sở Giáo dục và Đào tạo <thongbao@sgddt.example.vn>";

async fn send(mailer: &Mailer, n: usize) -> Vec<Outcome> {
    let to = vec!["vanthu@truong.example.vn".to_owned()];
    let mut outcomes = Vec::new();
    for i in 0..n {
        let email = Email {
            message_id: Uuid::new_v4(),
            to: &to,
            subject: &format!("Thủ tục hành chính công bố mới số {i}"),
            text: "Đề nghị đơn vị niêm yết công khai.",
            html: "<p>Đề nghị đơn vị niêm yết công khai.</p>",
        };
        outcomes.push(mailer.send(&email).await);
    }
    outcomes
}

#[tokio::test]
async fn twenty_e_mails_in_a_row_arrive_once_each() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&sink.url(), FROM, Duration::from_secs(5), 2).unwrap();
    let outcomes = send(&mailer, 20).await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Delivered)),
        "{outcomes:?}"
    );
    let mails = sink.wait_for(20, 30).await;
    let ids: HashSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!((mails.len(), ids.len()), (20, 20));
    assert!(
        mails
            .iter()
            .all(|m| m.subject.starts_with("Thủ tục hành chính"))
    );
}

#[tokio::test]
async fn tls_required_is_never_sent_in_plain_text() {
    // aiosmtpd as started here offers no STARTTLS.
    let sink = SmtpSink::start().await;
    let required = format!("{}?tls=required", sink.url());
    let mailer = Mailer::new(&required, FROM, Duration::from_secs(5), 1).unwrap();
    let outcomes = send(&mailer, 1).await;
    match &outcomes[0] {
        Outcome::Temporary(reason) => assert!(reason.contains("STARTTLS"), "{reason}"),
        other => panic!("sent without TLS: {other:?}"),
    }
    // Opportunistic TLS takes plain text when the server offers nothing better.
    let opportunistic = format!("{}?tls=opportunistic", sink.url());
    let mailer = Mailer::new(&opportunistic, FROM, Duration::from_secs(5), 1).unwrap();
    assert!(matches!(send(&mailer, 1).await[0], Outcome::Delivered));
    let mails = sink.wait_for(1, 30).await;
    assert_eq!(mails.len(), 1, "only the opportunistic one arrived");
}
