//! Subscriptions: who is told what, by which channels.

use cchc_platform::Actor;
use cchc_platform::time::stamp;
use cchc_proto::notification::v1 as pb;
use uuid::Uuid;

use super::{Error, Result, Store};
use crate::domain::recipient::{Audience, Filters, NewSubscription};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    event_type: String,
    recipient_id: Option<Uuid>,
    group_name: Option<String>,
    affected: bool,
    filters: sqlx::types::Json<Filters>,
    channels: Vec<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: Option<String>,
}

impl From<Row> for pb::Subscription {
    fn from(r: Row) -> Self {
        pb::Subscription {
            id: r.id.to_string(),
            event_type: r.event_type,
            recipient_id: r.recipient_id.map(|u| u.to_string()).unwrap_or_default(),
            group: r.group_name.unwrap_or_default(),
            affected: r.affected,
            filters: Some(pb::SubscriptionFilters {
                field: r.filters.field.clone().unwrap_or_default(),
                plan_id: r.filters.plan_id.map(|p| p.to_string()).unwrap_or_default(),
            }),
            channels: r.channels,
            created_at: stamp(&r.created_at),
            created_by: r.created_by.unwrap_or_default(),
        }
    }
}

const COLUMNS: &str =
    "id, event_type, recipient_id, group_name, affected, filters, channels, created_at, created_by";

impl Store {
    /// A new subscription, made by `actor`. Refused with [`Error::UnknownRecipient`]
    /// when it names a recipient that does not exist.
    pub async fn create_subscription(
        &self,
        actor: &Actor,
        s: &NewSubscription,
    ) -> Result<pb::Subscription> {
        let (recipient, group) = match &s.audience {
            Audience::Recipient(id) => (Some(*id), None),
            Audience::Group(g) => (None, Some(g.as_str())),
            Audience::Affected => (None, None),
        };
        let channels: Vec<&str> = s.channels.iter().map(|c| c.as_str()).collect();
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO subscriptions (id, event_type, recipient_id, group_name, affected, filters, channels, created_by)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8
             WHERE $3::uuid IS NULL OR EXISTS (SELECT 1 FROM recipients WHERE id = $3)
             RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(s.kind.as_str())
        .bind(recipient)
        .bind(group)
        .bind(s.audience == Audience::Affected)
        .bind(sqlx::types::Json(&s.filters))
        .bind(&channels)
        .bind(actor.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Into::into).ok_or(Error::UnknownRecipient)
    }

    /// Every subscription, or those of one kind of notice.
    pub async fn list_subscriptions(
        &self,
        event_type: Option<&str>,
    ) -> Result<Vec<pb::Subscription>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE ($1::text IS NULL OR event_type = $1)
             ORDER BY event_type, created_at, id"
        )))
        .bind(event_type)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
