//! PostgreSQL: recipients, subscriptions, templates, messages and their attempts, and
//! what the reminders need (plans, reports made, stale postings).

pub mod fanout;
pub mod messages;
pub mod recipients;
pub mod subscriptions;
pub mod templates;

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::{Channel, Kind, template};

/// RFC 3339 with microseconds, as every list shows times.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub fn rfc3339_opt(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(rfc3339).unwrap_or_default()
}

/// A position in a list: the last row's time and id.
pub type Position = (chrono::DateTime<chrono::Utc>, Uuid);

/// Reads a page token; `None` for the first page.
pub fn page(token: &str) -> Result<Option<Position>, tonic::Status> {
    if token.is_empty() {
        return Ok(None);
    }
    cchc_platform::validation::parse_cursor(token)
        .map(Some)
        .ok_or_else(|| {
            tonic::Status::invalid_argument("page_token is not a token this service issued")
        })
}

/// The token of the page after one that ended at `last`; empty when the page was not
/// full, so there is nothing after it.
pub fn next_page(len: usize, limit: i64, last: Option<Position>) -> String {
    match last {
        Some((at, id)) if len as i64 == limit => {
            cchc_platform::validation::cursor(&rfc3339(at), &id.to_string())
        }
        _ => String::new(),
    }
}

/// The subscriptions every database starts with: each notice goes to the recipients it
/// concerns on every channel they have a contact for, and escalations to the group
/// "leadership". Their ids are fixed so that a restart adds nothing.
pub fn default_subscriptions() -> Vec<(Uuid, Kind, Option<&'static str>)> {
    vec![
        (Uuid::from_u128(1), Kind::ProcedureChanged, None),
        (Uuid::from_u128(2), Kind::PostingStale, None),
        (Uuid::from_u128(3), Kind::ReportDue, None),
        (Uuid::from_u128(4), Kind::ReportOverdue, Some("leadership")),
        (Uuid::from_u128(5), Kind::ReportGenerated, None),
    ]
}

/// Writes the default templates (version 1, Vietnamese) and subscriptions when absent.
pub async fn ensure_defaults(pool: &PgPool) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    for (kind, subject, text) in template::defaults() {
        sqlx::query(
            "INSERT INTO templates (key, language, version, subject, text) VALUES ($1, 'vi', 1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(kind.as_str())
        .bind(subject)
        .bind(text)
        .execute(&mut *tx)
        .await?;
    }
    let all: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    for (id, kind, group) in default_subscriptions() {
        sqlx::query(
            "INSERT INTO subscriptions (id, event_type, group_name, affected, channels, created_at)
             VALUES ($1, $2, $3, $4, $5, '2020-01-01T00:00:00Z') ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(kind.as_str())
        .bind(group)
        .bind(group.is_none())
        .bind(&all)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
