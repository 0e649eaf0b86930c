//! The inbox over gRPC: a caller reads only its own unit's messages.

use cchc_platform::validation::internal;
use cchc_platform::{Caller, Role};
use cchc_proto::notification::v1::notification_service_server::NotificationService;
use cchc_proto::notification::v1::{InboxMessage, ListInboxRequest, ListInboxResponse};
use sqlx::PgPool;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub struct Inbox {
    pool: PgPool,
}

impl Inbox {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    subject: String,
    body: String,
    event_id: Uuid,
    event_type: String,
    created_at: chrono::DateTime<chrono::Utc>,
    read_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[tonic::async_trait]
impl NotificationService for Inbox {
    async fn list_inbox(
        &self,
        req: Request<ListInboxRequest>,
    ) -> Result<Response<ListInboxResponse>, Status> {
        let caller = Caller::require(
            &req,
            &[Role::Unit, Role::Office, Role::Leader, Role::Operator],
        )?;
        let r = req.into_inner();
        let limit = if r.limit == 0 { 50 } else { r.limit.min(500) } as i64;
        let after = if r.page_token.is_empty() {
            None
        } else {
            Some(
                cchc_platform::validation::parse_cursor(&r.page_token).ok_or_else(|| {
                    Status::invalid_argument("page_token is not a token this service issued")
                })?,
            )
        };
        let (after_at, after_id) = after.unzip();
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, subject, body, event_id, event_type, created_at, read_at FROM messages
             WHERE unit_id = $1 AND channel = 'inbox'
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(caller.unit_id)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let messages: Vec<InboxMessage> = rows
            .into_iter()
            .map(|m| InboxMessage {
                id: m.id.to_string(),
                subject: m.subject,
                body: m.body,
                event_id: m.event_id.to_string(),
                event_type: m.event_type,
                created_at: m
                    .created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                read: m.read_at.is_some(),
            })
            .collect();
        let next_page_token = if messages.len() as i64 == limit {
            messages
                .last()
                .map(|m| cchc_platform::validation::cursor(&m.created_at, &m.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListInboxResponse {
            messages,
            next_page_token,
        }))
    }
}
