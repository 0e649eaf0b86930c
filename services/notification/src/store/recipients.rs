//! Recipients and their contacts. A unit's recipient has the unit's id, so the
//! gateway's unit events and the office's edits meet on the same row.

use cchc_proto::notification::v1 as pb;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Position, next_page, rfc3339};
use crate::domain::address::without_credentials;
use crate::domain::recipient::{NewRecipient, RecipientKind};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    kind: String,
    name: String,
    unit_id: Option<Uuid>,
    unit_kind: Option<String>,
    groups: Vec<String>,
    language: String,
    emails: Vec<String>,
    webhook_url: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str =
    "id, kind, name, unit_id, unit_kind, groups, language, emails, webhook_url, created_at";

impl From<Row> for pb::Recipient {
    fn from(r: Row) -> Self {
        let mut contacts: Vec<pb::Contact> = r
            .emails
            .into_iter()
            .map(|a| pb::Contact {
                channel: "email".into(),
                address: a,
                ..Default::default()
            })
            .collect();
        if let Some(url) = r.webhook_url {
            // The secret is write-only; a user name and password (refused now, but a
            // URL saved earlier may hold them) are never shown.
            contacts.push(pb::Contact {
                channel: "webhook".into(),
                url: without_credentials(&url),
                ..Default::default()
            });
        }
        let mut groups = r.groups;
        if r.kind == "unit" {
            // The groups every unit is in by being one.
            for g in ["units".to_owned()].into_iter().chain(r.unit_kind) {
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        pb::Recipient {
            id: r.id.to_string(),
            kind: r.kind,
            name: r.name,
            unit_id: r.unit_id.map(|u| u.to_string()).unwrap_or_default(),
            groups,
            contacts,
            language: r.language,
            created_at: rfc3339(r.created_at),
            has_inbox: r.unit_id.is_some(),
        }
    }
}

/// Why a recipient could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RecipientError {
    #[error(
        "unit {unit_id} already has recipient {unit_id}; change it with PUT /v1/recipients/{unit_id}"
    )]
    UnitTaken { unit_id: Uuid },
    #[error("no recipient {0}")]
    NotFound(Uuid),
    #[error("a unit's recipient stays a unit, of the same unit")]
    UnitFixed,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn create(pool: &PgPool, r: &NewRecipient) -> Result<pb::Recipient, RecipientError> {
    let id = match (r.kind, r.unit_id) {
        (RecipientKind::Unit, Some(unit_id)) => unit_id,
        _ => Uuid::now_v7(),
    };
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO recipients (id, kind, name, unit_id, groups, language, emails, webhook_url, webhook_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(r.kind.as_str())
    .bind(&r.name)
    .bind(r.unit_id)
    .bind(&r.groups)
    .bind(&r.language)
    .bind(&r.emails)
    .bind(r.webhook.as_ref().map(|w| &w.url))
    .bind(r.webhook.as_ref().map(|w| &w.secret))
    .fetch_optional(pool)
    .await?;
    row.map(Into::into)
        .ok_or(RecipientError::UnitTaken { unit_id: id })
}

pub async fn update(
    pool: &PgPool,
    id: Uuid,
    r: &NewRecipient,
) -> Result<pb::Recipient, RecipientError> {
    let mut tx = pool.begin().await?;
    let kind: Option<String> =
        sqlx::query_scalar("SELECT kind FROM recipients WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let kind = kind.ok_or(RecipientError::NotFound(id))?;
    let is_unit = kind == "unit";
    if is_unit != (r.kind == RecipientKind::Unit) || (is_unit && r.unit_id != Some(id)) {
        return Err(RecipientError::UnitFixed);
    }
    let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE recipients SET kind = $2, name = $3, unit_id = $4, groups = $5, language = $6,
             emails = $7, webhook_url = $8, webhook_secret = $9, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(r.kind.as_str())
    .bind(&r.name)
    .bind(r.unit_id)
    .bind(&r.groups)
    .bind(&r.language)
    .bind(&r.emails)
    .bind(r.webhook.as_ref().map(|w| &w.url))
    .bind(r.webhook.as_ref().map(|w| &w.secret))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.into())
}

/// A unit as the gateway announced it: created, or renamed, keeping its contacts.
pub async fn upsert_unit(
    tx: &mut PgConnection,
    unit_id: Uuid,
    name: &str,
    unit_kind: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO recipients (id, kind, name, unit_id, unit_kind) VALUES ($1, 'unit', $2, $1, $3)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, unit_kind = EXCLUDED.unit_kind, updated_at = now()",
    )
    .bind(unit_id)
    .bind(name)
    .bind(unit_kind)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn list(
    pool: &PgPool,
    kind: Option<&str>,
    group: Option<&str>,
    limit: i64,
    after: Option<Position>,
) -> sqlx::Result<(Vec<pb::Recipient>, String)> {
    let (after_at, after_id) = after.unzip();
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM recipients
         WHERE ($1::text IS NULL OR kind = $1)
           AND ($2::text IS NULL OR $2 = ANY(groups) OR (kind = 'unit' AND ($2 = 'units' OR unit_kind = $2)))
           AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
         ORDER BY created_at, id LIMIT $5"
    )))
    .bind(kind)
    .bind(group)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let next = next_page(rows.len(), limit, rows.last().map(|r| (r.created_at, r.id)));
    Ok((rows.into_iter().map(Into::into).collect(), next))
}
