//! The activity service's PostgreSQL store: all of its SQL. Every write and its event
//! (outbox) share one transaction, or one statement; nothing is updated in place or deleted. Answers
//! are the API's messages; failures are this module's [`Error`], which the gRPC layer
//! turns into statuses.

mod activities;
mod budget;
mod one_stop;
mod satisfaction;
mod submissions;

pub use activities::Filter;
pub use submissions::{Insert, Revision, Stored, Submission};

use cchc_platform::outbox::Outbox;
use cchc_platform::page::{Cursor, Paging};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
    /// Single records, to the task that writes them together.
    writes: tokio::sync::mpsc::Sender<activities::Pending>,
}

impl Store {
    /// The store, with its writer of single records running (on the current runtime)
    /// until the last clone is dropped.
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        let (writes, queue) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(activities::combine(pool.clone(), outbox.clone(), queue));
        Self {
            pool,
            outbox,
            writes,
        }
    }

    /// Refuses a unit that was closed or merged into another.
    pub async fn ensure_active(&self, unit_id: Uuid) -> Result<(), Error> {
        ensure_active(&self.pool, unit_id).await
    }
}

/// Refuses a unit that was closed or merged into another, asking `db`.
async fn ensure_active(db: impl sqlx::PgExecutor<'_>, unit_id: Uuid) -> Result<(), Error> {
    cchc_platform::ended_units::ensure_active(db, unit_id)
        .await
        .map_err(|e| match e {
            cchc_platform::ended_units::Ended::Db(e) => Error::Db(e),
            ended => Error::UnitEnded(ended.to_string()),
        })
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
    /// The unit was closed or merged into another (the message says which, and when).
    #[error("{0}")]
    UnitEnded(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `e` broke the unique constraint or index `name`.
fn violates(e: &sqlx::Error, name: &str) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.code().as_deref() == Some("23505") && d.constraint() == Some(name))
}

/// One page of a list, and the token of the next page (empty on the last).
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: String,
}

impl<T> Page<T> {
    /// The page `paging` asked for out of `rows` (fetched with [`Paging::fetch`]),
    /// each row named by its `cursor`.
    fn of<R: Into<T>>(paging: &Paging, rows: Vec<R>, cursor: impl Fn(&R) -> Cursor) -> Self {
        let (rows, next_token) = paging.page(rows, cursor);
        Self {
            items: rows.into_iter().map(Into::into).collect(),
            next_token,
        }
    }
}

/// Filters for submission lists; `unit_id` is already restricted to the caller's own
/// for units.
#[derive(Debug)]
pub struct SubmissionFilter {
    pub unit_id: Option<Uuid>,
    /// As written, e.g. `2020-H1`, or a year for budget lines.
    pub period: Option<String>,
    /// Replaced submissions too.
    pub history: bool,
    pub paging: Paging,
}
