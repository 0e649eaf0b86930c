//! Messages as their readers and operators see them: the inbox, the delivery record of
//! one message, the dead letters, and an operator's retry.

use cchc_proto::notification::v1 as pb;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Position, next_page, rfc3339, rfc3339_opt};

type Time = chrono::DateTime<chrono::Utc>;

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
}

impl From<InboxRow> for pb::InboxMessage {
    fn from(m: InboxRow) -> Self {
        pb::InboxMessage {
            id: m.id.to_string(),
            subject: m.subject,
            body: m.body,
            event_id: m.event_id.to_string(),
            event_type: m.event_type,
            created_at: rfc3339(m.created_at),
            read: m.read_at.is_some(),
            kind: m.kind,
        }
    }
}

/// A unit's inbox, newest first.
pub async fn inbox(
    pool: &PgPool,
    unit_id: Uuid,
    limit: i64,
    after: Option<Position>,
) -> sqlx::Result<(Vec<pb::InboxMessage>, String)> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<InboxRow> = sqlx::query_as(
        "SELECT id, subject, body, event_id, event_type, kind, created_at, read_at FROM messages
         WHERE unit_id = $1 AND channel = 'inbox'
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(unit_id)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let next = next_page(rows.len(), limit, rows.last().map(|m| (m.created_at, m.id)));
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// Marks one of `unit_id`'s inbox messages read; `None` when it has no such message.
pub async fn mark_read(
    pool: &PgPool,
    unit_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<pb::InboxMessage>> {
    let row: Option<InboxRow> = sqlx::query_as(
        "UPDATE messages SET read_at = COALESCE(read_at, now())
         WHERE id = $1 AND unit_id = $2 AND channel = 'inbox'
         RETURNING id, subject, body, event_id, event_type, kind, created_at, read_at",
    )
    .bind(id)
    .bind(unit_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Into::into))
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
    "SELECT m.id, m.recipient_id, r.name AS recipient_name, m.channel, m.status, m.kind,
        m.event_id, m.template, m.template_version, m.language, m.subject, m.created_at,
        m.delivered_at, m.next_attempt_at, m.last_error, m.destination
     FROM messages m LEFT JOIN recipients r ON r.id = m.recipient_id";

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
            created_at: rfc3339(m.created_at),
            delivered_at: rfc3339_opt(m.delivered_at),
            next_attempt_at: if waiting {
                rfc3339_opt(m.next_attempt_at)
            } else {
                String::new()
            },
            last_error: m.last_error.unwrap_or_default(),
            destination: m.destination,
            attempts: Vec::new(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    attempt: i32,
    status: String,
    reason: Option<String>,
    started_at: Time,
    finished_at: Option<Time>,
}

/// One message and every attempt made to deliver it.
pub async fn report(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<pb::DeliveryReport>> {
    let row: Option<ReportRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{REPORT} WHERE m.id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let attempts: Vec<AttemptRow> = sqlx::query_as(
        "SELECT attempt, status, reason, started_at, finished_at FROM delivery_attempts
         WHERE message_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut report: pb::DeliveryReport = row.into();
    report.attempts = attempts
        .into_iter()
        .map(|a| pb::DeliveryAttempt {
            attempt: a.attempt as u32,
            status: a.status,
            reason: a.reason.unwrap_or_default(),
            started_at: rfc3339(a.started_at),
            finished_at: rfc3339_opt(a.finished_at),
        })
        .collect();
    Ok(Some(report))
}

/// Dead-lettered messages, newest first.
pub async fn dead_letters(
    pool: &PgPool,
    limit: i64,
    after: Option<Position>,
) -> sqlx::Result<(Vec<pb::DeliveryReport>, String)> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<ReportRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REPORT} WHERE m.status = 'dead_lettered'
           AND ($1::timestamptz IS NULL OR (m.created_at, m.id) < ($1, $2))
         ORDER BY m.created_at DESC, m.id DESC LIMIT $3"
    )))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let next = next_page(rows.len(), limit, rows.last().map(|m| (m.created_at, m.id)));
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

/// What an operator's retry found.
pub enum Retry {
    Queued,
    NotFound,
    /// Only dead-lettered messages are retried; this one is in another state.
    NotDead(String),
}

/// Queues a dead-lettered message again with a fresh budget of `tries` attempts.
pub async fn retry(pool: &PgPool, id: Uuid, tries: u32) -> sqlx::Result<Retry> {
    let mut tx = pool.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM messages WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    match status.as_deref() {
        None => return Ok(Retry::NotFound),
        Some("dead_lettered") => {}
        Some(other) => return Ok(Retry::NotDead(other.to_owned())),
    }
    sqlx::query(
        "UPDATE messages SET status = 'created', tries_left = $2, next_attempt_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(tries as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(super::fanout::WAKE_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Retry::Queued)
}
