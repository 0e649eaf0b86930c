//! The activity service's PostgreSQL store. Every write and its event (outbox) share
//! one transaction; nothing is updated in place or deleted.

mod activities;
mod budget;
mod one_stop;
mod satisfaction;

pub use activities::Filter;

use cchc_platform::outbox::Outbox;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }

    /// Refuses a unit that was closed or merged into another.
    pub async fn ensure_active(&self, unit_id: Uuid) -> Result<(), tonic::Status> {
        cchc_platform::ended_units::ensure_active(&self.pool, unit_id).await
    }
}

/// What a write can run into besides bad input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Absent, or another unit's: the two are not told apart.
    #[error("no such activity")]
    NotFound,
    #[error(
        "activity {original} was already corrected{}; only the current record can be corrected",
        .by.map(|b| format!(" by {b}")).unwrap_or_default()
    )]
    AlreadyCorrected { original: Uuid, by: Option<Uuid> },
    #[error("this idempotency key was already used for a different request")]
    KeyReused,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound => tonic::Status::not_found(e.to_string()),
            Error::AlreadyCorrected { .. } | Error::KeyReused => {
                tonic::Status::already_exists(e.to_string())
            }
            Error::Db(e) => cchc_platform::validation::internal(e),
        }
    }
}

/// Whether `e` broke the unique constraint or index `name`.
fn violates(e: &sqlx::Error, name: &str) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.code().as_deref() == Some("23505") && d.constraint() == Some(name))
}

/// Filters for submission lists; `unit_id` is already restricted to the caller's own
/// for units.
#[derive(Debug, Default)]
pub struct SubmissionFilter {
    pub unit_id: Option<Uuid>,
    pub period: Option<String>,
    pub history: bool,
    pub limit: i64,
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
}

/// The slot a submission fills: one unit's figures for one period of one table.
struct Slot<'a> {
    table: &'static str,
    columns: &'static str,
    unit_id: Uuid,
    period: &'a str,
}

/// Where a new submission stands among the earlier ones of its slot.
enum Prior<R> {
    /// The idempotency key was seen: the request is a retry of this submission.
    Retry(R),
    /// The current submission of the slot, if any.
    Current(Option<R>),
}

impl Slot<'_> {
    /// Locks the slot for this transaction, so resubmissions are numbered one by one,
    /// then finds a retry by key or the current submission.
    async fn prior<R>(&self, tx: &mut PgConnection, key: Option<&str>) -> Result<Prior<R>, Error>
    where
        R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("{}/{}/{}", self.table, self.unit_id, self.period))
            .execute(&mut *tx)
            .await?;
        if let Some(key) = key {
            let seen: Option<R> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {} FROM {} t WHERE unit_id = $1 AND idempotency_key = $2",
                self.columns, self.table
            )))
            .bind(self.unit_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(r) = seen {
                return Ok(Prior::Retry(r));
            }
        }
        let current: Option<R> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {} t WHERE unit_id = $1 AND period = $2 ORDER BY revision DESC LIMIT 1",
            self.columns, self.table
        )))
        .bind(self.unit_id)
        .bind(self.period)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(Prior::Current(current))
    }
}

/// Lists `table`'s submissions matching `f`, newest first, after the cursor. `t` is
/// the table's alias in `columns`.
async fn list_submissions<R>(
    pool: &PgPool,
    table: &str,
    columns: &str,
    f: &SubmissionFilter,
) -> Result<Vec<R>, sqlx::Error>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let (after_at, after_id) = f.after.unzip();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {columns} FROM {table} t
         WHERE ($1::uuid IS NULL OR t.unit_id = $1)
           AND ($2::text IS NULL OR t.period = $2)
           AND ($3 OR NOT EXISTS (SELECT 1 FROM {table} n
                                  WHERE n.unit_id = t.unit_id AND n.period = t.period AND n.revision > t.revision))
           AND ($4::timestamptz IS NULL OR (t.submitted_at, t.id) < ($4, $5))
         ORDER BY t.submitted_at DESC, t.id DESC LIMIT $6"
    )))
    .bind(f.unit_id)
    .bind(&f.period)
    .bind(f.history)
    .bind(after_at)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(pool)
    .await
}

/// RFC 3339 with microseconds, as PostgreSQL keeps time; list cursors rely on it.
fn timestamp(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
