//! The activity service's PostgreSQL store.

use cchc_platform::outbox::Outbox;
use cchc_proto::activity::v1::Activity;
use cchc_proto::events::v1::ActivityRecorded;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::NewActivity;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    unit_id: Uuid,
    kind: String,
    date: chrono::NaiveDate,
    title: String,
    description: String,
    channel: String,
    audience: String,
    head_count: i64,
    evidence_links: Vec<String>,
    procedure_codes: Vec<String>,
    recorded_at: chrono::DateTime<chrono::Utc>,
}

impl From<Row> for Activity {
    fn from(r: Row) -> Self {
        Activity {
            id: r.id.to_string(),
            unit_id: r.unit_id.to_string(),
            kind: r.kind,
            date: r.date.to_string(),
            title: r.title,
            description: r.description,
            channel: r.channel,
            audience: r.audience,
            head_count: r.head_count,
            evidence_links: r.evidence_links,
            procedure_codes: r.procedure_codes,
            recorded_at: r
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        }
    }
}

const COLUMNS: &str = "id, unit_id, kind, date, title, description, channel, audience, head_count, evidence_links, procedure_codes, recorded_at";

/// Filters for listing; `unit_id` is already restricted to the caller's own for units.
#[derive(Default)]
pub struct Filter {
    pub unit_id: Option<Uuid>,
    pub kind: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub limit: i64,
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }

    /// Records an activity of `unit_id` with its event. With an idempotency key, a
    /// repeated submission returns the first record instead of adding another.
    pub async fn record(
        &self,
        unit_id: Uuid,
        a: NewActivity,
        idempotency_key: Option<&str>,
    ) -> Result<Activity, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let id = Uuid::now_v7();
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO activities (id, unit_id, kind, date, title, description, channel, audience, head_count, evidence_links, procedure_codes, idempotency_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (unit_id, idempotency_key) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(unit_id)
        .bind(&a.kind)
        .bind(a.date)
        .bind(&a.title)
        .bind(&a.description)
        .bind(&a.channel)
        .bind(&a.audience)
        .bind(a.head_count)
        .bind(&a.evidence_links)
        .bind(&a.procedure_codes)
        .bind(idempotency_key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            let first: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM activities WHERE unit_id = $1 AND idempotency_key = $2"
            )))
            .bind(unit_id)
            .bind(idempotency_key)
            .fetch_one(&self.pool)
            .await?;
            return Ok(first.into());
        };
        self.outbox
            .enqueue(
                &mut tx,
                &ActivityRecorded {
                    activity_id: row.id.to_string(),
                    unit_id: row.unit_id.to_string(),
                    kind: row.kind.clone(),
                    date: row.date.to_string(),
                    title: row.title.clone(),
                    head_count: row.head_count,
                    supersedes: String::new(),
                },
            )
            .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(row.into())
    }

    /// Current records (not superseded), newest first, after the cursor.
    pub async fn list(&self, f: &Filter) -> Result<Vec<Activity>, sqlx::Error> {
        let (after_at, after_id) = f.after.unzip();
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM activities a
             WHERE ($1::uuid IS NULL OR unit_id = $1)
               AND ($2::text IS NULL OR kind = $2)
               AND ($3::date IS NULL OR date >= $3)
               AND ($4::date IS NULL OR date <= $4)
               AND ($5::timestamptz IS NULL OR (recorded_at, id) < ($5, $6))
               AND NOT EXISTS (SELECT 1 FROM activities s WHERE s.supersedes = a.id)
             ORDER BY recorded_at DESC, id DESC LIMIT $7"
        )))
        .bind(f.unit_id)
        .bind(&f.kind)
        .bind(f.from)
        .bind(f.to)
        .bind(after_at)
        .bind(after_id)
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
