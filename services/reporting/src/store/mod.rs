//! The reporting service's SQL: its own tables (plans, report jobs and the queue the
//! worker takes them from, every change with its event in one transaction through the
//! outbox), the dashboard's counters and the queries reports are computed from
//! ([`figures`]); the read models as the events build them ([`read_models`]). Errors are
//! this module's own [`Error`]; the gRPC layer decides what a caller is told.

mod dashboard;
pub mod figures;
mod jobs;
mod plans;
pub mod read_models;
mod replays;
mod reports;
mod submissions;

use cchc_platform::outbox::Outbox;
use cchc_platform::page::Paging;
use cchc_platform::validation::FieldError;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{PgPool, Postgres};

pub use dashboard::{DashboardFigures, PeriodStanding};
pub use jobs::{Completion, JobLock, Setback};
pub use replays::{ReplayProgress, ReplayRow};
pub use reports::{NewReport, ReportFile, ReportRow, job_state};
pub use submissions::{Due, SubmissionRow, UnitSubmission};

/// The service's database, and the outbox its events leave through. Only this module
/// reads or writes it.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }
}

/// What a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    /// The request collides with what is stored (a stale revision, a duplicate plan).
    #[error("{0}")]
    Conflict(String),
    #[error("this idempotency key was already used for a different request")]
    KeyReused,
    /// The request is well formed but breaks a rule that depends on stored data.
    #[error("{message}")]
    Rule {
        message: String,
        errors: Vec<FieldError>,
    },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `e` is a violation of the unique constraint `name`.
fn violates(e: &sqlx::Error, name: &str) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.code().as_deref() == Some("23505") && d.constraint() == Some(name))
}

/// The end of a list query newest first by `column` then `id`, from a keyset cursor:
/// parameters `$first` and `$first + 1` are the cursor's time and id, `$first + 2` the
/// rows to fetch, bound in that order by [`BindPage`].
fn newest_first(column: &str, first: usize) -> String {
    let (at, id, limit) = (first, first + 1, first + 2);
    format!(
        "(${at}::timestamptz IS NULL OR ({column}, id) < (${at}, ${id}))
         ORDER BY {column} DESC, id DESC LIMIT ${limit}"
    )
}

/// Binds the parameters of [`newest_first`] from a list request's paging.
trait BindPage {
    fn bind_page(self, paging: &Paging) -> Self;
}

impl<O> BindPage for QueryAs<'_, Postgres, O, PgArguments> {
    fn bind_page(self, paging: &Paging) -> Self {
        let (at, id) = paging.after_parts();
        self.bind(at).bind(id).bind(paging.fetch())
    }
}
