//! Messages as their readers and operators see them: the inbox, the delivery record of
//! one message, the dead letters, and an operator's retry.
//!
//! The two writes of the API are attributed: a message records who first marked it
//! read (`read_by`), and each retry is a row of `message_retries` naming who made it.

use cchc_platform::Actor;
use cchc_platform::page::{Cursor, Paging};
use cchc_platform::time::stamp;
use cchc_proto::notification::v1 as pb;
use uuid::Uuid;

use super::{Error, Keyed, Result, Store, fetch_page, wake};

type Time = chrono::DateTime<chrono::Utc>;

/// An instant that may not have come yet; empty when not.
fn stamp_opt(t: Option<Time>) -> String {
    t.as_ref().map(stamp).unwrap_or_default()
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    id: Uuid,
    subject: String,
    body: String,
    event_id: Uuid,
    event_type: String,
    kind: String,
    created_at: Time,
    read_at: Option<Time>,
    read_by: Option<String>,
}

const INBOX: &str = "id, subject, body, event_id, event_type, kind, created_at, read_at, read_by";

impl Keyed for InboxRow {
    fn key(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

impl From<InboxRow> for pb::InboxMessage {
    fn from(m: InboxRow) -> Self {
        pb::InboxMessage {
            id: m.id.to_string(),
            subject: m.subject,
            body: m.body,
            event_id: m.event_id.to_string(),
            event_type: m.event_type,
            created_at: stamp(&m.created_at),
            read: m.read_at.is_some(),
            kind: m.kind,
            read_at: stamp_opt(m.read_at),
            updated_at: stamp_opt(m.read_at),
            updated_by: m.read_by.unwrap_or_default(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: Uuid,
    recipient_id: Uuid,
    recipient_name: Option<String>,
    channel: String,
    status: String,
    kind: String,
    event_id: Uuid,
    template: String,
    template_version: i32,
    language: String,
    subject: String,
    created_at: Time,
    delivered_at: Option<Time>,
    next_attempt_at: Option<Time>,
    last_error: Option<String>,
    destination: String,
}

const REPORT: &str =
    "SELECT m.id, m.recipient_id,
        -- A message to a person (an account e-mail) names them in its values.
        CASE WHEN m.address IS NULL THEN r.name ELSE m.data->>'name' END AS recipient_name,
        m.channel, m.status, m.kind, m.event_id, m.template, m.template_version, m.language, m.subject, m.created_at,
        m.delivered_at, m.next_attempt_at, m.last_error, m.destination
     FROM messages m LEFT JOIN recipients r ON r.id = m.recipient_id";

impl Keyed for ReportRow {
    fn key(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

impl From<ReportRow> for pb::DeliveryReport {
    fn from(m: ReportRow) -> Self {
        let waiting = matches!(m.status.as_str(), "created" | "temporary_failure");
        pb::DeliveryReport {
            message_id: m.id.to_string(),
            recipient_id: m.recipient_id.to_string(),
            recipient_name: m.recipient_name.unwrap_or_default(),
            channel: m.channel,
            status: m.status,
            kind: m.kind,
            event_id: m.event_id.to_string(),
            template: m.template,
            template_version: m.template_version as u32,
            language: m.language,
            subject: m.subject,
            created_at: stamp(&m.created_at),
            delivered_at: stamp_opt(m.delivered_at),
            next_attempt_at: if waiting {
                stamp_opt(m.next_attempt_at)
            } else {
                String::new()
            },
            last_error: m.last_error.unwrap_or_default(),
            destination: m.destination,
            attempts: Vec::new(),
            retries: Vec::new(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct RetryRow {
    retried_at: Time,
    retried_by: String,
    after_attempt: i32,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i32,
    status: String,
    reason: Option<String>,
    started_at: Time,
    finished_at: Option<Time>,
}

impl Store {
    /// A unit's inbox, newest first.
    pub async fn inbox(
        &self,
        unit_id: Uuid,
        paging: &Paging,
    ) -> Result<(Vec<pb::InboxMessage>, String)> {
        let list = sqlx::query_as::<_, InboxRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {INBOX} FROM messages
             WHERE unit_id = $1 AND channel = 'inbox'
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4"
        )))
        .bind(unit_id);
        fetch_page(&self.pool, list, paging).await
    }

    /// Marks one of `unit_id`'s inbox messages read by `actor`; one already read keeps
    /// its first reading (both sides of SET see the row as it was).
    pub async fn mark_read(
        &self,
        actor: &Actor,
        unit_id: Uuid,
        id: Uuid,
    ) -> Result<pb::InboxMessage> {
        let row: Option<InboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET read_at = COALESCE(read_at, now()),
                 read_by = CASE WHEN read_at IS NULL THEN $3 ELSE read_by END
             WHERE id = $1 AND unit_id = $2 AND channel = 'inbox'
             RETURNING {INBOX}"
        )))
        .bind(id)
        .bind(unit_id)
        .bind(actor.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Into::into).ok_or(Error::NoMessage(id))
    }

    /// One message, every attempt made to deliver it and every retry.
    pub async fn delivery_report(&self, id: Uuid) -> Result<pb::DeliveryReport> {
        let row: Option<ReportRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{REPORT} WHERE m.id = $1")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let row = row.ok_or(Error::NoMessage(id))?;
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT attempt, status, reason, started_at, finished_at FROM delivery_attempts
             WHERE message_id = $1 ORDER BY attempt",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let retries: Vec<RetryRow> = sqlx::query_as(
            "SELECT retried_at, retried_by, after_attempt FROM message_retries
             WHERE message_id = $1 ORDER BY retried_at",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut report: pb::DeliveryReport = row.into();
        report.retries = retries
            .into_iter()
            .map(|r| pb::DeliveryRetry {
                retried_at: stamp(&r.retried_at),
                actor: r.retried_by,
                after_attempt: r.after_attempt as u32,
            })
            .collect();
        report.attempts = attempts
            .into_iter()
            .map(|a| pb::DeliveryAttempt {
                attempt: a.attempt as u32,
                status: a.status,
                reason: a.reason.unwrap_or_default(),
                started_at: stamp(&a.started_at),
                finished_at: stamp_opt(a.finished_at),
            })
            .collect();
        Ok(report)
    }

    /// Dead-lettered messages, newest first.
    pub async fn dead_letters(&self, paging: &Paging) -> Result<(Vec<pb::DeliveryReport>, String)> {
        let list = sqlx::query_as::<_, ReportRow>(sqlx::AssertSqlSafe(format!(
            "{REPORT} WHERE m.status = 'dead_lettered'
               AND ($1::timestamptz IS NULL OR (m.created_at, m.id) < ($1, $2))
             ORDER BY m.created_at DESC, m.id DESC LIMIT $3"
        )));
        fetch_page(&self.pool, list, paging).await
    }

    /// Queues a dead-lettered message again with a fresh budget of `tries` attempts, as
    /// `actor` asked; the retry is recorded with the message's attempts so far.
    pub async fn retry(&self, actor: &Actor, id: Uuid, tries: u32) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, bool)> = sqlx::query_as(
            "SELECT status, link_id IS NOT NULL AND sealed_link IS NULL FROM messages
             WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            None => return Err(Error::NoMessage(id)),
            Some((status, _)) if status != "dead_lettered" => return Err(Error::NotDead(status)),
            Some((_, true)) => return Err(Error::LinkDropped(id)),
            Some(_) => {}
        }
        sqlx::query(
            "UPDATE messages SET status = 'created', tries_left = $2, next_attempt_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(tries as i32)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO message_retries (message_id, retried_by, after_attempt)
             SELECT id, $2, attempts FROM messages WHERE id = $1",
        )
        .bind(id)
        .bind(actor.to_string())
        .execute(&mut *tx)
        .await?;
        wake(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
