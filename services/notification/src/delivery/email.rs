//! E-mail over SMTP (lettre): From, a UTF-8 Subject (encoded for the header as RFC 2047
//! requires, so Vietnamese arrives intact), plain-text and HTML alternatives, and a
//! Message-ID derived from the message id, stable across attempts, so that a receiver
//! can drop a copy sent again after a crash.

use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use uuid::Uuid;

use super::smtp::{Connections, Relay};
use crate::domain::delivery::Outcome;

/// One e-mail to send.
pub struct Email<'a> {
    pub message_id: Uuid,
    pub to: &'a [String],
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

pub struct Mailer {
    connections: Connections,
    from: Mailbox,
}

impl Mailer {
    /// `url` in lettre's form: `smtp://host:port`, `smtp://user:pass@host?tls=required`
    /// (STARTTLS), `smtps://host` (TLS from the start). `connections` is how many sends
    /// may be in flight; as many connections are kept open between them.
    pub fn new(
        url: &str,
        from: &str,
        timeout: Duration,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let relay = Relay::parse(url).map_err(|e| anyhow::anyhow!("CCHC_SMTP_URL: {e}"))?;
        Ok(Self {
            connections: Connections::new(relay, timeout, connections),
            from: from.parse()?,
        })
    }

    /// The Message-ID of a message: the same for every attempt.
    pub fn message_id_header(&self, id: Uuid) -> String {
        format!("<{id}@{}>", self.from.email.domain())
    }

    pub fn build(&self, e: &Email<'_>) -> Result<Message, String> {
        let mut b = Message::builder()
            .message_id(Some(self.message_id_header(e.message_id)))
            .from(self.from.clone())
            .subject(e.subject);
        for to in e.to {
            let mailbox: Mailbox = to
                .parse()
                .map_err(|err| format!("{to:?} is not an e-mail address: {err}"))?;
            b = b.to(mailbox);
        }
        b.multipart(MultiPart::alternative_plain_html(
            e.text.to_owned(),
            e.html.to_owned(),
        ))
        .map_err(|err| format!("the e-mail could not be built: {err}"))
    }

    pub async fn send(&self, e: &Email<'_>) -> Outcome {
        let message = match self.build(e) {
            Ok(m) => m,
            Err(reason) => return Outcome::Permanent(reason),
        };
        match self
            .connections
            .send(message.envelope(), &message.formatted())
            .await
        {
            Ok(()) => Outcome::Delivered,
            // 5xx: the server refused for good (no such mailbox, authentication failed).
            Err(err) if err.is_permanent() => Outcome::Permanent(format!("SMTP: {err}")),
            Err(err) => Outcome::Temporary(format!("SMTP: {}", super::error_chain(&err))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The transport's connection pool needs a runtime.
    #[tokio::test]
    async fn vietnamese_subject_is_encoded_and_message_id_is_stable() {
        let m = Mailer::new(
            "smtp://127.0.0.1:2525",
            crate::config::DEFAULT_MAIL_FROM,
            Duration::from_secs(1),
            1,
        )
        .unwrap();
        let id = Uuid::new_v4();
        let to = vec!["vanthu@ubnd.example.vn".to_owned()];
        let email = Email {
            message_id: id,
            to: &to,
            subject: "Thủ tục hành chính công bố mới: Cấp bản sao văn bằng",
            text: "Đề nghị đơn vị niêm yết",
            html: "<p>Đề nghị đơn vị niêm yết</p>",
        };
        let raw = String::from_utf8(m.build(&email).unwrap().formatted()).unwrap();
        assert!(
            raw.contains(&format!("Message-ID: <{id}@sgddt.example.vn>")),
            "{raw}"
        );
        let subject = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
        assert!(
            subject.is_ascii() && subject.contains("=?utf-8?"),
            "{subject}"
        );
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
        let bad = vec!["not an address".to_owned()];
        assert!(m.build(&Email { to: &bad, ..email }).is_err());
    }
}
