//! Recipients and their contacts. A unit's recipient has the unit's id, so the
//! gateway's unit events and the office's edits meet on the same row.
//!
//! Each row names whom its creation (`created_by`) and its latest change
//! (`updated_by`, at `updated_at`) are attributed to: the office's caller for its
//! writes, the system for what the unit events change.

use cchc_platform::Actor;
use cchc_platform::page::{Cursor, Paging};
use cchc_platform::time::stamp;
use cchc_proto::notification::v1 as pb;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Error, Keyed, Query, Result, Store, fetch_page};
use crate::domain::Channel;
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
    created_by: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
    updated_by: Option<String>,
}

impl Keyed for Row {
    fn key(&self) -> Cursor {
        Cursor {
            at: self.created_at,
            id: self.id,
        }
    }
}

const COLUMNS: &str = "id, kind, name, unit_id, unit_kind, groups, language, emails, webhook_url,
    created_at, created_by, updated_at, updated_by";

impl From<Row> for pb::Recipient {
    fn from(r: Row) -> Self {
        let mut contacts: Vec<pb::Contact> = r
            .emails
            .into_iter()
            .map(|a| pb::Contact {
                channel: Channel::Email.as_str().into(),
                address: a,
                ..Default::default()
            })
            .collect();
        if let Some(url) = r.webhook_url {
            // The secret is write-only; a user name and password (refused now, but a
            // URL saved earlier may hold them) are never shown.
            contacts.push(pb::Contact {
                channel: Channel::Webhook.as_str().into(),
                url: without_credentials(&url),
                ..Default::default()
            });
        }
        let mut groups = r.groups;
        if r.kind == RecipientKind::Unit.as_str() {
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
            created_at: stamp(&r.created_at),
            has_inbox: r.unit_id.is_some(),
            created_by: r.created_by.unwrap_or_default(),
            updated_at: stamp(&r.updated_at),
            updated_by: r.updated_by.unwrap_or_default(),
        }
    }
}

/// Binds recipient `id`'s fields as $1 to $9, in the order both writes name them, and
/// the writer as $10.
fn fields<'q>(q: Query<'q, Row>, actor: &Actor, id: Uuid, r: &'q NewRecipient) -> Query<'q, Row> {
    q.bind(id)
        .bind(r.kind.as_str())
        .bind(&r.name)
        .bind(r.unit_id)
        .bind(&r.groups)
        .bind(&r.language)
        .bind(&r.emails)
        .bind(r.webhook.as_ref().map(|w| &w.url))
        .bind(r.webhook.as_ref().map(|w| &w.secret))
        .bind(actor.to_string())
}

/// A list of recipients: of one kind, in one group, or all.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub kind: Option<&'a str>,
    pub group: Option<&'a str>,
}

impl Store {
    /// A new recipient, made by `actor` (its creation is its latest change).
    pub async fn create_recipient(&self, actor: &Actor, r: &NewRecipient) -> Result<pb::Recipient> {
        let id = match (r.kind, r.unit_id) {
            (RecipientKind::Unit, Some(unit_id)) => unit_id,
            _ => Uuid::now_v7(),
        };
        let insert = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO recipients (id, kind, name, unit_id, groups, language, emails, webhook_url,
                 webhook_secret, created_by, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        )));
        let row: Option<Row> = fields(insert, actor, id, r)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Into::into).ok_or(Error::UnitTaken { unit_id: id })
    }

    /// Recipient `id` as `actor` rewrites it.
    pub async fn update_recipient(
        &self,
        actor: &Actor,
        id: Uuid,
        r: &NewRecipient,
    ) -> Result<pb::Recipient> {
        let mut tx = self.pool.begin().await?;
        let kind: Option<String> =
            sqlx::query_scalar("SELECT kind FROM recipients WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let kind = kind.ok_or(Error::NoRecipient(id))?;
        let is_unit = kind == RecipientKind::Unit.as_str();
        if is_unit != (r.kind == RecipientKind::Unit) || (is_unit && r.unit_id != Some(id)) {
            return Err(Error::UnitFixed);
        }
        let update = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE recipients SET kind = $2, name = $3, unit_id = $4, groups = $5, language = $6,
                 emails = $7, webhook_url = $8, webhook_secret = $9, updated_at = now(), updated_by = $10
             WHERE id = $1 RETURNING {COLUMNS}"
        )));
        let row: Row = fields(update, actor, id, r).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row.into())
    }

    /// Recipients in the order they were made, a page at a time.
    pub async fn list_recipients(
        &self,
        filter: &Filter<'_>,
        paging: &Paging,
    ) -> Result<(Vec<pb::Recipient>, String)> {
        let list = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recipients
             WHERE ($1::text IS NULL OR kind = $1)
               AND ($2::text IS NULL OR $2 = ANY(groups) OR (kind = 'unit' AND ($2 = 'units' OR unit_kind = $2)))
               AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
             ORDER BY created_at, id LIMIT $5"
        )))
        .bind(filter.kind)
        .bind(filter.group);
        fetch_page(&self.pool, list, paging).await
    }
}

/// A unit as the gateway announced it: created, or renamed, keeping its contacts;
/// attributed to `actor`.
pub async fn upsert_unit(
    tx: &mut PgConnection,
    actor: &Actor,
    unit_id: Uuid,
    name: &str,
    unit_kind: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recipients (id, kind, name, unit_id, unit_kind, created_by, updated_by)
         VALUES ($1, 'unit', $2, $1, $3, $4, $4)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, unit_kind = EXCLUDED.unit_kind,
             updated_at = now(), updated_by = EXCLUDED.updated_by",
    )
    .bind(unit_id)
    .bind(name)
    .bind(unit_kind)
    .bind(actor.to_string())
    .execute(tx)
    .await?;
    Ok(())
}

/// A unit's new name, as the gateway announced it; attributed to `actor`.
pub async fn rename_unit(
    tx: &mut PgConnection,
    actor: &Actor,
    unit_id: Uuid,
    name: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE recipients SET name = $2, updated_at = now(), updated_by = $3
         WHERE id = $1 AND kind = 'unit'",
    )
    .bind(unit_id)
    .bind(name)
    .bind(actor.to_string())
    .execute(tx)
    .await?;
    Ok(())
}

/// A merged or closed unit is told nothing more; attributed to `actor`.
pub async fn deactivate_unit(tx: &mut PgConnection, actor: &Actor, unit_id: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE recipients SET active = false, updated_at = now(), updated_by = $2
         WHERE id = $1 AND kind = 'unit'",
    )
    .bind(unit_id)
    .bind(actor.to_string())
    .execute(tx)
    .await?;
    Ok(())
}
