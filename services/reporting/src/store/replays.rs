//! Replays of the streams into the read models, one at a time: what was asked, how
//! far it got, how it ended.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Error, Store};

/// A replay as stored.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ReplayRow {
    pub id: Uuid,
    pub state: String,
    pub percent: i32,
    pub applied: i64,
    pub total: i64,
    pub error: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, state, percent, applied, total, error, requested_at, finished_at";

/// How far a running replay is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayProgress {
    pub caught_up: bool,
    pub percent: i32,
    pub applied: i64,
    pub total: i64,
}

impl Store {
    /// A new replay; `None` when one is already running (the table allows one).
    pub async fn new_replay(&self, caller: Uuid) -> Result<Option<ReplayRow>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO replays (id, requested_by) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(caller)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The replay running now (there is at most one).
    pub async fn running_replay(&self) -> Result<ReplayRow, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM replays WHERE state = 'running'"
        )))
        .fetch_one(&self.pool)
        .await?)
    }

    /// The replays marked running: after a crash, the ones to run again.
    pub async fn running_replays(&self) -> Result<Vec<Uuid>, Error> {
        Ok(
            sqlx::query_scalar("SELECT id FROM replays WHERE state = 'running'")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The replay `id`, or with none the latest.
    pub async fn replay(&self, id: Option<Uuid>) -> Result<Option<ReplayRow>, Error> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM replays WHERE ($1::uuid IS NULL OR id = $1)
             ORDER BY requested_at DESC, id DESC LIMIT 1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn fail_replay(&self, id: Uuid, error: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE replays SET state = 'failed', error = $2, finished_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records how far the replay is; caught up, it is completed.
    pub async fn replay_progress(&self, id: Uuid, p: ReplayProgress) -> Result<(), Error> {
        let state = if p.caught_up { "completed" } else { "running" };
        sqlx::query(
            "UPDATE replays SET state = $2, percent = $3, applied = $4, total = $5,
               finished_at = CASE WHEN $2 = 'completed' THEN now() END WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(p.percent)
        .bind(p.applied)
        .bind(p.total)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
